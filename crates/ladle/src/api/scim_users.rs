//! `/Users`: the subset of UAA's user management (SCIM) that admin tools use. Its callers are
//! verified by the same token check as every route; the scopes it needs are UAA's (`scim.read`,
//! `scim.write`, `uaa.admin`), and its errors are in UAA's body.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::extract::bearer_caller;
use super::uaa_error::UaaError;
use crate::actions::login_users::{self, LoginUserError};
use crate::auth::User;
use crate::messages::scim_user::{
    parse_username_filter, PasswordChange, ScimRequestError, ScimUserCreate,
};
use crate::presenters::scim_user;
use crate::state::AppState;

/// Largest page of `GET /Users`, UAA's default and limit.
const DEFAULT_COUNT: usize = 100;
const MAX_COUNT: usize = 500;

/// The verified caller of a `/Users` route; refused in UAA's words. With an external UAA the
/// routes are that UAA's, and answer 404 here.
pub struct ScimCaller(User);

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if !state.tokens.issues_tokens() {
            return Err(super::root::not_found().await.into_response());
        }
        match bearer_caller(parts, state).await {
            Ok(user) => Ok(ScimCaller(user)),
            Err(err) => Err(UaaError::from(err).scim().into_response()),
        }
    }
}

impl From<LoginUserError> for UaaError {
    fn from(err: LoginUserError) -> Self {
        let text = err.to_string();
        let error = match err {
            LoginUserError::NotAuthorized => UaaError::access_denied(),
            LoginUserError::OthersPassword => {
                UaaError::new(StatusCode::FORBIDDEN, "access_denied", text)
            }
            LoginUserError::NotFound(_) => {
                UaaError::new(StatusCode::NOT_FOUND, "scim_resource_not_found", text)
            }
            LoginUserError::UsernameTaken(_) => {
                UaaError::new(StatusCode::CONFLICT, "scim_resource_already_exists", text)
            }
            LoginUserError::OldPasswordIncorrect => UaaError::unauthorized(text),
            LoginUserError::Db(err) => UaaError::internal(&err),
        };
        error.scim()
    }
}

impl From<ScimRequestError> for UaaError {
    fn from(err: ScimRequestError) -> Self {
        let code = match err {
            ScimRequestError::InvalidResource(_) => "invalid_scim_resource",
            ScimRequestError::InvalidPassword(_) => "invalid_password",
            ScimRequestError::InvalidFilter(_) => "invalid_filter",
        };
        UaaError::new(StatusCode::BAD_REQUEST, code, err.to_string()).scim()
    }
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, UaaError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(UaaError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scim_resource",
            "The request body is not a JSON object",
        )
        .scim()),
    }
}

pub async fn create(
    State(state): State<AppState>,
    ScimCaller(caller): ScimCaller,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), UaaError> {
    let input = ScimUserCreate::parse(&json_object(&body)?)?;
    let created = login_users::create_as(&state.db, &caller, input).await?;
    Ok((StatusCode::CREATED, Json(scim_user::present(&created))))
}

pub async fn list(
    State(state): State<AppState>,
    ScimCaller(caller): ScimCaller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, UaaError> {
    let mut filter = None;
    let mut start_index = 1;
    let mut count = DEFAULT_COUNT;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        // UAA also takes attributes, sortBy and sortOrder, which change nothing of ours.
        match key.as_ref() {
            "filter" => filter = Some(value.into_owned()),
            "startIndex" => start_index = value.parse().unwrap_or(1).max(1),
            "count" => count = value.parse().unwrap_or(DEFAULT_COUNT).min(MAX_COUNT),
            _ => {}
        }
    }
    let username = parse_username_filter(filter.as_deref())?;
    let users = login_users::list(&state.db, &caller, username.as_deref()).await?;
    Ok(Json(scim_user::present_list(&users, start_index, count)))
}

pub async fn delete(
    State(state): State<AppState>,
    ScimCaller(caller): ScimCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, UaaError> {
    let deleted = login_users::delete(&state.db, &caller, &id).await?;
    state.users_seen.forget(&id);
    Ok(Json(scim_user::present(&deleted)))
}

pub async fn change_password(
    State(state): State<AppState>,
    ScimCaller(caller): ScimCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, UaaError> {
    let change = PasswordChange::parse(&json_object(&body)?)?;
    login_users::change_password(&state.db, &caller, &id, change).await?;
    Ok(Json(
        json!({ "status": "ok", "message": "password updated" }),
    ))
}
