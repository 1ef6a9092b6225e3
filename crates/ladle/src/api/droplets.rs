//! `/v3/droplets`, and our spec page's `POST /v3/packages/:guid/droplets`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::extract::{CfJson, CurrentUser};
use crate::actions::droplets::{self as actions, DropletError};
use crate::actions::package_stage::{self, PackageStageError};
use crate::messages::droplet_create::DropletCreate;
use crate::presenters::droplet;
use crate::state::AppState;

impl From<PackageStageError> for ApiError {
    fn from(err: PackageStageError) -> Self {
        match err {
            PackageStageError::PackageNotFound => ApiError::not_found("Package"),
            PackageStageError::BuildpackNotFound => ApiError::not_found("Buildpack"),
            PackageStageError::NotAuthorized => ApiError::not_authorized(),
            PackageStageError::PackageNotStageable => ApiError::invalid_request(),
            PackageStageError::StackNotFound(_) => ApiError::stack_not_found(err),
            PackageStageError::Limit(limit) => ApiError::unable_to_perform("Staging request", limit),
            PackageStageError::Db(err) => err.into(),
        }
    }
}

impl From<DropletError> for ApiError {
    fn from(err: DropletError) -> Self {
        match err {
            DropletError::NotFound => ApiError::not_found("Droplet"),
            DropletError::Db(err) => err.into(),
        }
    }
}

/// `POST /v3/packages/:guid/droplets`: 201 with the PENDING droplet; staging follows by itself.
pub async fn stage_package(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(package_guid): Path<String>,
    CfJson(body): CfJson,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = DropletCreate::parse(&body, state.config.staging.allow_file_git_urls)?;
    let record = package_stage::run(&state, &user, &package_guid, input).await?;
    Ok((StatusCode::CREATED, Json(droplet::present(&record, &state.links, true))))
}

pub async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<Json<Value>> {
    let (record, access) = actions::find_readable(&state.db, &user, &guid).await?;
    Ok(Json(droplet::present(&record, &state.links, access.read_secrets)))
}
