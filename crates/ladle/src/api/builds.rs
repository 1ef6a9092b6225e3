//! `/v3/builds` and `/v3/apps/:guid/builds`: today's way to stage a package.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::extract::{CfJson, CurrentUser};
use super::staging_logs::LogRequest;
use crate::actions::builds::{self as actions, BuildError, BuildPage};
use crate::actions::staging_logs;
use crate::messages::build_create::{BuildCreate, BuildUpdate};
use crate::messages::filters::BuildFilter;
use crate::messages::list::ListParams;
use crate::presenters::{build, pagination};
use crate::state::AppState;

impl From<BuildError> for ApiError {
    fn from(err: BuildError) -> Self {
        match err {
            BuildError::NotFound => ApiError::not_found("Build"),
            BuildError::AppNotFound => ApiError::not_found("App"),
            BuildError::NotAuthorized => ApiError::not_authorized(),
            BuildError::PackageUnusable
            | BuildError::InvalidLifecycle(_)
            | BuildError::AlreadyFinal(_) => ApiError::unprocessable(err.to_string()),
            BuildError::Limit(limit) => ApiError::unprocessable(limit.to_string()),
            BuildError::StagingInProgress => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                170017,
                "StagingInProgress",
                err.to_string(),
            ),
            BuildError::PackageNotReady => ApiError::bad_request(err),
            BuildError::BuildpackDisabled(_) => ApiError::new(
                StatusCode::BAD_REQUEST,
                290003,
                "BuildpackInvalid",
                format!("Buildpack is invalid: {err}"),
            ),
            BuildError::Db(err) => err.into(),
        }
    }
}

/// `POST /v3/builds`: 201 with the STAGING build; staging follows by itself.
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    CfJson(body): CfJson,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = BuildCreate::parse(&body)?;
    let created = actions::create(&state, &user, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(build::present(&created, &state.links)),
    ))
}

pub async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<Json<Value>> {
    let (found, _) = actions::find_readable(&state.db, &user, &guid).await?;
    Ok(Json(build::present(&found, &state.links)))
}

pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = ListParams::parse(query.as_deref(), BuildFilter::NAMES)?;
    let filter = BuildFilter::from_params(&params);
    let found = actions::list(&state.db, &user, &filter, &params.page(), None).await?;
    Ok(Json(present_page(&state, found, &params, "/v3/builds")))
}

pub async fn list_for_app(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(app_guid): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = ListParams::parse(query.as_deref(), BuildFilter::APP_NAMES)?;
    let filter = BuildFilter::from_params(&params);
    let page = params.page();
    let found = actions::list(&state.db, &user, &filter, &page, Some(&app_guid)).await?;
    let path = format!("/v3/apps/{app_guid}/builds");
    Ok(Json(present_page(&state, found, &params, &path)))
}

fn present_page(
    state: &AppState,
    (found, total): BuildPage,
    params: &ListParams,
    path: &str,
) -> Value {
    let resources = found
        .iter()
        .map(|b| build::present(b, &state.links))
        .collect();
    pagination::present(resources, total, params, path, &state.links)
}

/// `PATCH /v3/builds/:guid`: metadata, or `{state: "FAILED", error}` from the build-state updater.
pub async fn update(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
    CfJson(body): CfJson,
) -> ApiResult<Json<Value>> {
    let input = BuildUpdate::parse(&body)?;
    let may_update_state = user.is_admin() || user.scopes.update_build_state;
    let updated = actions::update(&state.db, &user, may_update_state, &guid, input).await?;
    Ok(Json(build::present(&updated, &state.links)))
}

/// `GET /v3/builds/:guid/logs`: the staging log of the build's droplet, as
/// `GET /v3/droplets/:guid/logs` gives it; events end with the build's state.
pub async fn logs(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let request = LogRequest::parse(&headers, query.as_deref())?;
    let log = staging_logs::build_log(&state, &user, &guid, request.cursor).await?;
    Ok(request.respond(log))
}
