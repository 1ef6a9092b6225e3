//! `/v3/packages` and the 2015 `/v3/apps/:guid/packages`.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Json;

use super::error::{ApiError, ApiResult};
use super::extract::{CfJson, CurrentUser};
use super::upload::{upload_dir, UploadForm};
use crate::actions::packages::{self as actions, PackageError};
use crate::actions::{package_copy, package_upload};
use crate::messages::copy::CopyRequest;
use crate::messages::filters::PackageFilter;
use crate::messages::list::ListParams;
use crate::messages::package_create::PackageCreate;
use crate::presenters::package::{self, PackageView};
use crate::presenters::pagination::{self, ListView};
use crate::state::AppState;

impl From<PackageError> for ApiError {
    fn from(err: PackageError) -> Self {
        match err {
            PackageError::NotFound => ApiError::not_found("Package"),
            PackageError::AppNotFound => ApiError::not_found("App"),
            PackageError::NotAuthorized => ApiError::not_authorized(),
            PackageError::AlreadyUploaded => ApiError::new(
                StatusCode::BAD_REQUEST,
                150004,
                "PackageBitsAlreadyUploaded",
                err.to_string(),
            ),
            PackageError::UploadInterrupted => ApiError::unable_to_perform("Upload", &err),
            PackageError::AppInvalid
            | PackageError::NotBits
            | PackageError::NoBitsToDownload
            | PackageError::NoBitsToCopy(_)
            | PackageError::InvalidZip(_) => ApiError::unprocessable(err.to_string()),
            PackageError::Blob(_) => ApiError::internal(&err),
            PackageError::Db(err) => err.into(),
        }
    }
}

/// `POST /v3/packages`, or with `?source_guid=` a copy of that package for the app in the body.
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    RawQuery(query): RawQuery,
    CfJson(body): CfJson,
) -> ApiResult<(StatusCode, Json<PackageView>)> {
    let created = match CopyRequest::source_guid(query.as_deref()) {
        Some(source_guid) => {
            let request = CopyRequest::parse(source_guid, &body)?;
            package_copy::copy(&state.db, &state.blobs, &user, request).await?
        }
        None => actions::create(&state.db, &user, PackageCreate::parse(&body)?).await?,
    };
    Ok((
        StatusCode::CREATED,
        Json(package::present(&created, &state.links)),
    ))
}

/// 2015: `POST /v3/apps/:guid/packages {type, url?}`.
pub async fn create_for_app(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(app_guid): Path<String>,
    CfJson(body): CfJson,
) -> ApiResult<(StatusCode, Json<PackageView>)> {
    let input = PackageCreate::parse_2015(&body, &app_guid)?;
    let created = actions::create_for_app(&state.db, &user, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(package::present(&created, &state.links)),
    ))
}

pub async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<Json<PackageView>> {
    let (found, _) = actions::find_readable(&state.db, &user, &guid).await?;
    Ok(Json(package::present(&found, &state.links)))
}

pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ListView<PackageView>>> {
    let params = ListParams::parse(query.as_deref(), PackageFilter::NAMES)?;
    let filter = PackageFilter::from_params(&params);
    let found = actions::list(&state.db, &user, &filter, &params.page(), None).await?;
    Ok(Json(pagination::present_page(
        found,
        &params,
        "/v3/packages",
        &state.links,
        |p| package::present(p, &state.links),
    )))
}

pub async fn list_for_app(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(app_guid): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ListView<PackageView>>> {
    let params = ListParams::parse(query.as_deref(), PackageFilter::APP_NAMES)?;
    let filter = PackageFilter::from_params(&params);
    let page = params.page();
    let found = actions::list(&state.db, &user, &filter, &page, Some(&app_guid)).await?;
    let path = format!("/v3/apps/{app_guid}/packages");
    Ok(Json(pagination::present_page(
        found,
        &params,
        &path,
        &state.links,
        |p| package::present(p, &state.links),
    )))
}

/// 202 with the job in `Location`, as CC answers today; the job is already finished.
pub async fn delete(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<(StatusCode, [(header::HeaderName, String); 1])> {
    let job_guid = actions::delete(&state.db, &state.blobs, &user, &guid).await?;
    let location = state.links.url(&format!("/v3/jobs/{job_guid}"));
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)]))
}

/// `POST /v3/packages/:guid/upload`: multipart `bits` (a zip), optionally with an empty
/// `resources` list. Answers 200 with the package READY.
pub async fn upload(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<Json<PackageView>> {
    let found = package_upload::check_uploadable(&state.db, &user, &guid).await?;
    let limits = package_upload::zip_limits(state.config.max_package_size_bytes);
    let form = UploadForm::read(form, &upload_dir(&state), limits.max_upload_bytes(), true).await?;
    let bits = form.bits_without_resources()?;
    let stored = package_upload::store(
        &state.db,
        &state.blobs,
        limits,
        &found,
        bits,
        state.config.staging.job_lease(),
    )
    .await?;
    Ok(Json(package::present(&stored, &state.links)))
}

pub async fn download(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<Response> {
    let blob = actions::download(&state.db, &state.blobs, &user, &guid).await?;
    Ok(super::file_download(
        "application/zip",
        &format!("{guid}.zip"),
        blob,
    ))
}
