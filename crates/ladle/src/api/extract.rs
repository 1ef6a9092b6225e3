//! Our extractors. Every rejection is a CF error body; axum's plain-text rejections never reach
//! a client. Order matters and mirrors CC: `CurrentUser` (401, then the scope gate's 403) comes
//! before `CfJson` (400/422) in every handler's argument list.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, Method};
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::auth::User;
use crate::state::AppState;

/// Largest JSON body we read; larger ones get 422.
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// The verified caller, after the scope gate: GET/HEAD need a read scope, everything else a
/// write scope. Seeing a user for the first time records it.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = authenticate(parts, state).await?;
        let allowed = if parts.method == Method::GET || parts.method == Method::HEAD {
            user.scopes.may_read()
        } else {
            user.scopes.may_write()
        };
        if !allowed {
            return Err(ApiError::not_authorized());
        }
        Ok(CurrentUser(user))
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<User, ApiError> {
    let user = bearer_caller(parts, state).await.map_err(|err| match err {
        BearerError::Missing => ApiError::not_authenticated(),
        BearerError::Invalid => ApiError::invalid_auth_token(),
    })?;
    state.users_seen.record(&state.db, &user).await?;
    Ok(user)
}

/// Why a request has no verified caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// No `Authorization` header.
    Missing,
    /// Not a bearer token, or one that fails verification.
    Invalid,
}

/// The caller a request's bearer token names, verified by the one token check (`auth`). Both
/// the Cloud Controller API and the UAA-style routes read their caller here.
pub async fn bearer_caller(parts: &Parts, state: &AppState) -> Result<User, BearerError> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(BearerError::Missing)?;
    let header = header.to_str().map_err(|_| BearerError::Invalid)?;
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Err(BearerError::Invalid),
    };
    let claims = state
        .tokens
        .verify(token)
        .await
        .map_err(|_| BearerError::Invalid)?;
    User::from_claims(claims).map_err(|_| BearerError::Invalid)
}

/// A JSON object body, parsed whatever the Content-Type says (2015 clients label JSON as
/// `application/x-www-form-urlencoded`). Messages turn it into validated input.
#[derive(Debug, Clone)]
pub struct CfJson(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for CfJson {
    type Rejection = ApiError;

    async fn from_request(req: Request<Body>, _state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_JSON_BODY)
            .await
            .map_err(|_| ApiError::too_large("1 MiB"))?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(CfJson(map)),
            _ => Err(ApiError::message_parse_error()),
        }
    }
}
