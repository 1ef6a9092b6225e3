//! `/v3/packages` and the 2015 `/v3/apps/:guid/packages`, plus the multipart upload form that
//! buildpack uploads share.

use std::path::{Path as FsPath, PathBuf};

use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Json;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::extract::{CfJson, CurrentUser};
use crate::actions::packages::{self as actions, PackageError, PackagePage};
use crate::actions::{package_copy, package_upload};
use crate::messages::copy::CopyRequest;
use crate::messages::filters::PackageFilter;
use crate::messages::list::ListParams;
use crate::messages::package_create::PackageCreate;
use crate::presenters::{package, pagination};
use crate::state::AppState;
use crate::upload_check::{self, ReceiveError, ReceivedFile};

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
) -> ApiResult<(StatusCode, Json<Value>)> {
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
) -> ApiResult<(StatusCode, Json<Value>)> {
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
) -> ApiResult<Json<Value>> {
    let (found, _) = actions::find_readable(&state.db, &user, &guid).await?;
    Ok(Json(package::present(&found, &state.links)))
}

pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = ListParams::parse(query.as_deref(), PackageFilter::NAMES)?;
    let filter = PackageFilter::from_params(&params);
    let found = actions::list(&state.db, &user, &filter, &params.page(), None).await?;
    Ok(Json(present_page(&state, found, &params, "/v3/packages")))
}

pub async fn list_for_app(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(app_guid): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = ListParams::parse(query.as_deref(), PackageFilter::APP_NAMES)?;
    let filter = PackageFilter::from_params(&params);
    let page = params.page();
    let found = actions::list(&state.db, &user, &filter, &page, Some(&app_guid)).await?;
    let path = format!("/v3/apps/{app_guid}/packages");
    Ok(Json(present_page(&state, found, &params, &path)))
}

fn present_page(
    state: &AppState,
    (found, total): PackagePage,
    params: &ListParams,
    path: &str,
) -> Value {
    let resources = found
        .iter()
        .map(|p| package::present(p, &state.links))
        .collect();
    pagination::present(resources, total, params, path, &state.links)
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
) -> ApiResult<Json<Value>> {
    let found = package_upload::check_uploadable(&state.db, &user, &guid).await?;
    let limits = package_upload::zip_limits(state.config.max_package_size_bytes);
    let form = UploadForm::read(form, &upload_dir(&state), limits.max_upload_bytes(), true).await?;
    let bits = form.bits_without_resources()?;
    let stored = package_upload::store(&state.db, &state.blobs, limits, &found, bits).await?;
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

/// Where uploads are received before they are inspected and kept.
pub(super) fn upload_dir(state: &AppState) -> PathBuf {
    state.config.data_dir.join("tmp")
}

/// Largest `resources` field we read.
const MAX_RESOURCES_FIELD: usize = 1024 * 1024;

/// A multipart upload: the `bits` file, already streamed to disk, and the `resources` list.
#[derive(Default)]
pub(super) struct UploadForm {
    pub bits: Option<ReceivedFile>,
    /// The client's name for the `bits` file.
    pub filename: Option<String>,
    resources: Option<Vec<Value>>,
}

impl UploadForm {
    /// Reads every field; `bits` goes to a file under `dir` as it arrives. Fields other than
    /// `bits` (and `resources` when `accepts_resources`) are refused.
    pub async fn read(
        form: Result<Multipart, MultipartRejection>,
        dir: &FsPath,
        max_bytes: u64,
        accepts_resources: bool,
    ) -> ApiResult<UploadForm> {
        let mut multipart = form.map_err(|_| no_zip())?;
        let mut read = UploadForm::default();
        while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
            match field.name().unwrap_or_default() {
                "bits" if read.bits.is_none() => {
                    read.filename = field.file_name().map(str::to_string);
                    let received =
                        upload_check::receive(std::pin::pin!(field), dir, max_bytes).await;
                    read.bits = Some(received.map_err(receive_error)?);
                }
                "resources" if accepts_resources && read.resources.is_none() => {
                    read.resources = Some(read_resources(field).await?);
                }
                other => {
                    return Err(ApiError::unprocessable(format!(
                        "Unknown or repeated field(s): '{other}'"
                    )))
                }
            }
        }
        Ok(read)
    }

    /// The zip, refusing what we cannot do: matching `resources` against bits already stored
    /// would need a resource cache, which we do not keep, so only an empty list is accepted.
    pub fn bits_without_resources(self) -> ApiResult<ReceivedFile> {
        if self.resources.as_ref().is_some_and(|r| !r.is_empty()) {
            return Err(ApiError::unprocessable(
                "Resource matching is not supported",
            ));
        }
        self.bits.ok_or_else(no_zip)
    }
}

async fn read_resources(mut field: Field<'_>) -> ApiResult<Vec<Value>> {
    let mut text = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
        if text.len() + chunk.len() > MAX_RESOURCES_FIELD {
            return Err(ApiError::too_large("1 MiB for resources"));
        }
        text.extend_from_slice(&chunk);
    }
    match serde_json::from_slice::<Value>(&text) {
        Ok(Value::Array(resources)) => Ok(resources),
        _ => Err(ApiError::unprocessable("Resources must be valid JSON.")),
    }
}

fn no_zip() -> ApiError {
    ApiError::unprocessable("An application zip file must be uploaded")
}

fn unreadable(err: MultipartError) -> ApiError {
    ApiError::bad_request(format_args!("multipart body: {}", err.body_text()))
}

fn receive_error(err: ReceiveError) -> ApiError {
    match &err {
        ReceiveError::TooLarge { limit } => {
            ApiError::too_large(&format!("{} MB", limit / (1024 * 1024)))
        }
        ReceiveError::Interrupted(cause) => {
            ApiError::bad_request(format_args!("the upload was interrupted: {cause}"))
        }
        ReceiveError::Io(_) => ApiError::internal(&err),
    }
}
