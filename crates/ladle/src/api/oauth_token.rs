//! `POST /oauth/token`: UAA's token endpoint, for the CF CLI's client `cf` (password and
//! refresh grants) and for confidential clients (client_credentials).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

use super::uaa_error::UaaError;
use crate::actions::oauth_token::{self, ClientCredentials, GrantError, TokenSettings};
use crate::messages::oauth_token::{TokenRequest, TokenRequestError};
use crate::state::AppState;

/// Largest token request body read.
const MAX_FORM_BYTES: usize = 64 * 1024;

impl From<GrantError> for UaaError {
    fn from(err: GrantError) -> Self {
        let text = err.to_string();
        match err {
            GrantError::BadCredentials | GrantError::Locked => UaaError::unauthorized(text),
            GrantError::InvalidClient | GrantError::UnauthorizedGrantType(_) => {
                UaaError::new(StatusCode::UNAUTHORIZED, "invalid_client", text)
            }
            GrantError::InvalidToken(_) => {
                UaaError::new(StatusCode::UNAUTHORIZED, "invalid_token", text)
            }
            GrantError::InvalidScope(_) => {
                UaaError::new(StatusCode::BAD_REQUEST, "invalid_scope", text)
            }
            GrantError::Db(err) => UaaError::internal(&err),
            GrantError::Sign(err) => UaaError::internal(&err),
        }
    }
}

impl From<TokenRequestError> for UaaError {
    fn from(err: TokenRequestError) -> Self {
        let code = match err {
            TokenRequestError::InvalidRequest(_) => "invalid_request",
            TokenRequestError::UnsupportedGrantType(_) => "unsupported_grant_type",
        };
        UaaError::new(StatusCode::BAD_REQUEST, code, err.to_string())
    }
}

pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if !state.tokens.issues_tokens() {
        return super::root::not_found().await.into_response();
    }
    match grant(&state, &headers, &body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn grant(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response, UaaError> {
    if body.len() > MAX_FORM_BYTES {
        return Err(UaaError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request body is larger than 64 KiB",
        ));
    }
    let request = TokenRequest::parse(body)?;
    let client = client_credentials(headers, &request)?;
    let settings = TokenSettings {
        access_ttl_seconds: state.config.access_token_ttl_seconds,
        refresh_ttl_seconds: state.config.refresh_token_ttl_seconds,
        issuer: state.links.url("/oauth/token"),
    };
    let issued = oauth_token::grant(&state.db, &state.tokens, &settings, client, request).await?;
    let mut answer = json!({
        "access_token": issued.access_token,
        "token_type": "bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope.join(" "),
        "jti": issued.jti,
    });
    if let Some(refresh_token) = issued.refresh_token {
        answer["refresh_token"] = json!(refresh_token);
    }
    let mut response = Json(answer).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// The client from HTTP Basic (`cf:` for the CF CLI), else from the form's `client_id` and
/// `client_secret`.
fn client_credentials(
    headers: &HeaderMap,
    request: &TokenRequest,
) -> Result<ClientCredentials, UaaError> {
    let bad_client = || {
        UaaError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Bad client credentials",
        )
    };
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| bad_client())?;
        let encoded = match value.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("basic") => rest.trim(),
            _ => return Err(bad_client()),
        };
        let decoded = STANDARD.decode(encoded).map_err(|_| bad_client())?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad_client())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(bad_client)?;
        return Ok(ClientCredentials {
            id: id.to_string(),
            secret: secret.to_string(),
        });
    }
    match &request.client_id {
        Some(id) => Ok(ClientCredentials {
            id: id.clone(),
            secret: request.client_secret.clone().unwrap_or_default(),
        }),
        None => Err(bad_client()),
    }
}
