//! `/v3/buildpacks`: admin buildpacks, readable by every caller with a read scope.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::Json;

use super::error::{ApiError, ApiResult};
use super::extract::{CfJson, CurrentUser};
use super::upload::{upload_dir, UploadForm};
use crate::actions::buildpack_upload::{self, ZIP_LIMITS};
use crate::actions::buildpacks::{self as actions, BuildpackError};
use crate::fetchers::buildpacks;
use crate::messages::buildpack_create::BuildpackCreate;
use crate::messages::buildpack_update::BuildpackUpdate;
use crate::messages::filters::BuildpackFilter;
use crate::messages::list::ListParams;
use crate::presenters::buildpack::{self, BuildpackView};
use crate::presenters::pagination::{self, ListView};
use crate::state::AppState;

impl From<BuildpackError> for ApiError {
    fn from(err: BuildpackError) -> Self {
        match err {
            BuildpackError::NotFound => ApiError::not_found("Buildpack"),
            BuildpackError::NotAuthorized => ApiError::not_authorized(),
            BuildpackError::NameTaken { .. }
            | BuildpackError::UnknownStack(_)
            | BuildpackError::StackChange
            | BuildpackError::Locked
            | BuildpackError::NoBinDir
            | BuildpackError::InvalidZip(_) => ApiError::unprocessable(err.to_string()),
            BuildpackError::Blob(err) => ApiError::internal(&err),
            BuildpackError::Db(err) => err.into(),
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    CfJson(body): CfJson,
) -> ApiResult<(StatusCode, Json<BuildpackView>)> {
    // Only admins may create; CC says so before looking at the body.
    if !user.is_admin() {
        return Err(ApiError::not_authorized());
    }
    let input = BuildpackCreate::parse(&body)?;
    let created = actions::create(&state.db, &user, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(buildpack::present(&created, &state.links)),
    ))
}

pub async fn show(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<Json<BuildpackView>> {
    let found = actions::find(&state.db, &guid).await?;
    Ok(Json(buildpack::present(&found, &state.links)))
}

pub async fn list(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ListView<BuildpackView>>> {
    let params = ListParams::parse(query.as_deref(), BuildpackFilter::NAMES)?;
    let filter = BuildpackFilter::from_params(&params);
    let found = buildpacks::list(&state.db, &filter, &params.page()).await?;
    Ok(Json(pagination::present_page(
        found,
        &params,
        "/v3/buildpacks",
        &state.links,
        |b| buildpack::present(b, &state.links),
    )))
}

pub async fn update(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
    CfJson(body): CfJson,
) -> ApiResult<Json<BuildpackView>> {
    let input = BuildpackUpdate::parse(&body)?;
    let updated = actions::update(&state.db, &user, &guid, input).await?;
    Ok(Json(buildpack::present(&updated, &state.links)))
}

/// 202 with the job in `Location`; the job is already finished.
pub async fn delete(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<(StatusCode, [(header::HeaderName, String); 1])> {
    let job_guid = actions::delete(&state.db, &state.blobs, &user, &guid).await?;
    let location = state.links.url(&format!("/v3/jobs/{job_guid}"));
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)]))
}

/// `POST /v3/buildpacks/:guid/upload`: multipart `bits`, a zip holding `bin/`.
pub async fn upload(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<Json<BuildpackView>> {
    let found = buildpack_upload::check_uploadable(&state.db, &user, &guid).await?;
    let max_bytes = ZIP_LIMITS.max_upload_bytes();
    let form = UploadForm::read(form, &upload_dir(&state), max_bytes, false).await?;
    let filename = form.filename.clone();
    let bits = form.bits_without_resources()?;
    let stored =
        buildpack_upload::store(&state.db, &state.blobs, &found, bits, filename.as_deref()).await?;
    Ok(Json(buildpack::present(&stored, &state.links)))
}
