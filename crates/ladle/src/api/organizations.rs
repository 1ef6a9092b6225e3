//! `/v3/organizations`

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;

use super::error::{ApiError, ApiResult};
use super::extract::{CfJson, CurrentUser};
use crate::actions::organizations::{self as actions, OrganizationError};
use crate::auth::permissions;
use crate::fetchers::organizations;
use crate::messages::filters::OrganizationFilter;
use crate::messages::list::ListParams;
use crate::messages::organization_create::OrganizationCreate;
use crate::presenters::organization::{self, OrganizationView};
use crate::presenters::pagination::{self, ListView};
use crate::state::AppState;

impl From<OrganizationError> for ApiError {
    fn from(err: OrganizationError) -> Self {
        match err {
            OrganizationError::NotFound => ApiError::not_found("Organization"),
            OrganizationError::NotAuthorized => ApiError::not_authorized(),
            OrganizationError::NameTaken(_) | OrganizationError::NotEmpty(_) => {
                ApiError::unprocessable(err.to_string())
            }
            OrganizationError::Db(err) => err.into(),
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    CfJson(body): CfJson,
) -> ApiResult<(StatusCode, Json<OrganizationView>)> {
    let input = OrganizationCreate::parse(&body)?;
    let org = actions::create(&state.db, &user, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(organization::present(&org, &state.links)),
    ))
}

pub async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<Json<OrganizationView>> {
    let org = actions::find_readable(&state.db, &user, &guid).await?;
    Ok(Json(organization::present(&org, &state.links)))
}

pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ListView<OrganizationView>>> {
    let params = ListParams::parse(query.as_deref(), OrganizationFilter::NAMES)?;
    let filter = OrganizationFilter::from_params(&params);
    let visible = permissions::readable_orgs(&state.db, &user).await?;
    let found = organizations::list(&state.db, &visible, &filter, &params.page()).await?;
    Ok(Json(pagination::present_page(
        found,
        &params,
        "/v3/organizations",
        &state.links,
        |o| organization::present(o, &state.links),
    )))
}

pub async fn delete(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<StatusCode> {
    actions::delete(&state.db, &user, &guid).await?;
    Ok(StatusCode::NO_CONTENT)
}
