//! `/v3/users`

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;

use super::error::{ApiError, ApiResult};
use super::extract::{CfJson, CurrentUser};
use crate::actions::users::{self as actions, UserError};
use crate::auth::permissions;
use crate::fetchers::users;
use crate::messages::filters::UserFilter;
use crate::messages::list::ListParams;
use crate::messages::user_create::UserCreate;
use crate::presenters::pagination::{self, ListView};
use crate::presenters::user::{self, UserView};
use crate::state::AppState;

impl From<UserError> for ApiError {
    fn from(err: UserError) -> Self {
        match err {
            UserError::NotFound => ApiError::not_found("User"),
            UserError::NotAuthorized => ApiError::not_authorized(),
            UserError::AlreadyExists(_) => ApiError::unprocessable(err.to_string()),
            UserError::Db(err) => err.into(),
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    CfJson(body): CfJson,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let input = UserCreate::parse(&body)?;
    let created = actions::create(&state.db, &caller, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(user::present(&created, &state.links)),
    ))
}

pub async fn show(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<Json<UserView>> {
    let found = actions::find_readable(&state.db, &caller, &guid).await?;
    Ok(Json(user::present(&found, &state.links)))
}

pub async fn list(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ListView<UserView>>> {
    let params = ListParams::parse(query.as_deref(), UserFilter::NAMES)?;
    let filter = UserFilter::from_params(&params);
    let visible = permissions::visible_users(&state.db, &caller).await?;
    let found = users::list(&state.db, &visible, &filter, &params.page()).await?;
    Ok(Json(pagination::present_page(
        found,
        &params,
        "/v3/users",
        &state.links,
        |u| user::present(u, &state.links),
    )))
}

/// CC deletes users in a background job (202); ours is one transaction, done on 204.
pub async fn delete(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<StatusCode> {
    actions::delete(&state.db, &caller, &guid).await?;
    // Their next token is their first sight again: the row is recreated then.
    state.users_seen.forget(&guid);
    Ok(StatusCode::NO_CONTENT)
}
