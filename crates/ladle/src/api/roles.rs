//! `/v3/roles`

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::extract::{CfJson, CurrentUser};
use crate::actions::roles::{self as actions, RoleError};
use crate::auth::permissions;
use crate::fetchers::{included, roles};
use crate::messages::filters::RoleFilter;
use crate::messages::include::{self, Include};
use crate::messages::list::ListParams;
use crate::messages::role_create::RoleCreate;
use crate::presenters::{pagination, role};
use crate::state::AppState;

impl From<RoleError> for ApiError {
    fn from(err: RoleError) -> Self {
        match err {
            RoleError::NotFound => ApiError::not_found("Role"),
            RoleError::NotAuthorized => ApiError::not_authorized(),
            RoleError::InvalidOrganization
            | RoleError::InvalidSpace
            | RoleError::InvalidUser
            | RoleError::NotInOrganization
            | RoleError::Duplicate { .. } => ApiError::unprocessable(err.to_string()),
            RoleError::Db(err) => err.into(),
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    CfJson(body): CfJson,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = RoleCreate::parse(&body)?;
    let created = actions::create(&state.db, &user, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(role::present(&created, &state.links)),
    ))
}

pub async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let include = Include::from_show_query(query.as_deref(), include::ROLE)?;
    let found = actions::find_readable(&state.db, &user, &guid).await?;
    let included = included::for_roles(&state.db, &[&found], &include).await?;
    let mut body = role::present(&found, &state.links);
    super::add_included(&mut body, &included, &state.links);
    Ok(Json(body))
}

pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = ListParams::parse(query.as_deref(), RoleFilter::NAMES)?;
    let include = Include::from_list(&params, include::ROLE)?;
    let filter = RoleFilter::from_params(&params);
    let orgs = permissions::readable_orgs(&state.db, &user).await?;
    let spaces = permissions::readable_spaces(&state.db, &user).await?;
    let page = params.page();
    let (found, total) = roles::list(&state.db, &orgs, &spaces, &filter, &page).await?;
    let records: Vec<_> = found.iter().collect();
    let included = included::for_roles(&state.db, &records, &include).await?;
    let resources = found
        .iter()
        .map(|r| role::present(r, &state.links))
        .collect();
    let mut body = pagination::present(resources, total, &params, "/v3/roles", &state.links);
    super::add_included(&mut body, &included, &state.links);
    Ok(Json(body))
}

/// CC takes roles away in a background job (202); ours is one row, deleted on 204.
pub async fn delete(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<StatusCode> {
    actions::delete(&state.db, &user, &guid).await?;
    Ok(StatusCode::NO_CONTENT)
}
