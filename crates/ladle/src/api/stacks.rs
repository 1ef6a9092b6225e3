//! `/v3/stacks`

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;

use super::error::{ApiError, ApiResult};
use super::extract::{CfJson, CurrentUser};
use crate::actions::stacks::{self as actions, StackError};
use crate::fetchers::stacks;
use crate::messages::filters::StackFilter;
use crate::messages::list::ListParams;
use crate::messages::stack_create::StackCreate;
use crate::presenters::pagination::{self, ListView};
use crate::presenters::stack::{self, StackView};
use crate::state::AppState;

impl From<StackError> for ApiError {
    fn from(err: StackError) -> Self {
        match err {
            StackError::NotFound => ApiError::not_found("Stack"),
            StackError::NotAuthorized => ApiError::not_authorized(),
            StackError::NameTaken | StackError::DefaultStack => {
                ApiError::unprocessable(err.to_string())
            }
            StackError::Db(err) => err.into(),
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    CfJson(body): CfJson,
) -> ApiResult<(StatusCode, Json<StackView>)> {
    let input = StackCreate::parse(&body)?;
    let created = actions::create(&state.db, &user, input).await?;
    let view = stack::present(&created, &state.config.default_stack, &state.links);
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn show(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<Json<StackView>> {
    let found = actions::find(&state.db, &guid).await?;
    Ok(Json(stack::present(
        &found,
        &state.config.default_stack,
        &state.links,
    )))
}

pub async fn list(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ListView<StackView>>> {
    let params = ListParams::parse(query.as_deref(), StackFilter::NAMES)?;
    let filter = StackFilter::from_params(&params);
    let found = stacks::list(&state.db, &filter, &params.page()).await?;
    let default_stack = &state.config.default_stack;
    Ok(Json(pagination::present_page(
        found,
        &params,
        "/v3/stacks",
        &state.links,
        |s| stack::present(s, default_stack, &state.links),
    )))
}

pub async fn delete(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<StatusCode> {
    actions::delete(&state.db, &user, &guid, &state.config.default_stack).await?;
    Ok(StatusCode::NO_CONTENT)
}
