//! `/v3/droplets`, and our spec page's `POST /v3/packages/:guid/droplets`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;

use super::error::{ApiError, ApiResult};
use super::extract::{CfJson, CurrentUser};
use super::staging_logs::LogRequest;
use crate::actions::build_cache::{self, BuildCacheError};
use crate::actions::current_droplet::{self, CurrentDropletError};
use crate::actions::droplet_copy;
use crate::actions::droplets::{self as actions, DropletError};
use crate::actions::package_stage::{self, PackageStageError};
use crate::actions::staging_logs;
use crate::domain::Dialect;
use crate::messages::copy::CopyRequest;
use crate::messages::current_droplet::CurrentDropletChoice;
use crate::messages::droplet_create::DropletCreate;
use crate::messages::filters::DropletFilter;
use crate::messages::list::ListParams;
use crate::presenters::app::AppView;
use crate::presenters::droplet::{self, CurrentDropletRelationship, DropletView};
use crate::presenters::pagination::{self, ListView};
use crate::state::AppState;

impl From<PackageStageError> for ApiError {
    fn from(err: PackageStageError) -> Self {
        match err {
            PackageStageError::PackageNotFound => ApiError::not_found("Package"),
            PackageStageError::BuildpackNotFound => ApiError::not_found("Buildpack"),
            PackageStageError::NotAuthorized => ApiError::not_authorized(),
            PackageStageError::PackageNotStageable => ApiError::invalid_request(),
            PackageStageError::StackNotFound(_) => ApiError::stack_not_found(err),
            PackageStageError::Limit(limit) => {
                ApiError::unable_to_perform("Staging request", limit)
            }
            PackageStageError::Db(err) => err.into(),
        }
    }
}

impl From<DropletError> for ApiError {
    fn from(err: DropletError) -> Self {
        match err {
            DropletError::NotFound => ApiError::not_found("Droplet"),
            DropletError::AppNotFound => ApiError::not_found("App"),
            DropletError::PackageNotFound => ApiError::not_found("Package"),
            DropletError::CurrentlyUsed(_) => ApiError::unprocessable(err.to_string()),
            DropletError::NotAuthorized => ApiError::not_authorized(),
            DropletError::NotStaged | DropletError::SourceNotStaged => {
                ApiError::unprocessable(err.to_string())
            }
            DropletError::BlobMissing(_) => {
                tracing::error!(error = %err, "droplet download failed");
                blobstore_unavailable()
            }
            DropletError::Blob(err) => ApiError::internal(&err),
            DropletError::Db(err) => err.into(),
        }
    }
}

impl From<CurrentDropletError> for ApiError {
    fn from(err: CurrentDropletError) -> Self {
        match err {
            CurrentDropletError::AppNotFound => ApiError::not_found("App"),
            CurrentDropletError::DropletNotFound => ApiError::not_found("Droplet"),
            CurrentDropletError::NotAuthorized => ApiError::not_authorized(),
            CurrentDropletError::UnableToAssign => ApiError::unprocessable(err.to_string()),
            CurrentDropletError::Db(err) => err.into(),
        }
    }
}

impl From<BuildCacheError> for ApiError {
    fn from(err: BuildCacheError) -> Self {
        match err {
            BuildCacheError::AppNotFound => ApiError::not_found("App"),
            BuildCacheError::NotAuthorized => ApiError::not_authorized(),
            BuildCacheError::Db(err) => err.into(),
        }
    }
}

/// CC's answer when a blob its rows point at cannot be fetched.
fn blobstore_unavailable() -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        150006,
        "BlobstoreUnavailable",
        "Failed to perform operation due to blobstore unavailability.",
    )
}

/// `POST /v3/packages/:guid/droplets`: 201 with the PENDING droplet; staging follows by itself.
pub async fn stage_package(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(package_guid): Path<String>,
    CfJson(body): CfJson,
) -> ApiResult<(StatusCode, Json<DropletView>)> {
    let input = DropletCreate::parse(&body, state.config.staging.allow_file_git_urls)?;
    let record = package_stage::run(&state, &user, &package_guid, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(droplet::present(&record, &state.links, true)),
    ))
}

/// `POST /v3/droplets?source_guid=`: a copy of a staged droplet for the app in the body. A
/// droplet comes from staging or from a copy; uploading one is not served, so the query must
/// name the source.
pub async fn copy(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    RawQuery(query): RawQuery,
    CfJson(body): CfJson,
) -> ApiResult<(StatusCode, Json<DropletView>)> {
    let Some(source_guid) = CopyRequest::source_guid(query.as_deref()) else {
        return Err(ApiError::unprocessable(
            "Source guid must be given (POST /v3/droplets?source_guid=...): droplets are made \
             by staging a package or by copying a staged droplet; uploading one is not supported",
        ));
    };
    let request = CopyRequest::parse(source_guid, &body)?;
    let (copied, access) = droplet_copy::copy(&state.db, &state.blobs, &user, request).await?;
    Ok((
        StatusCode::CREATED,
        Json(droplet::present(&copied, &state.links, access.read_secrets)),
    ))
}

pub async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<Json<DropletView>> {
    let (record, access) = actions::find_readable(&state.db, &user, &guid).await?;
    Ok(Json(droplet::present(
        &record,
        &state.links,
        access.read_secrets,
    )))
}

/// `GET /v3/droplets/:guid/download`: the droplet's tgz, streamed from the blobstore or, when it
/// redirects, a 302 to a presigned URL.
pub async fn download(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<Response> {
    let blob = actions::download(&state.db, &state.blobs, &user, &guid).await?;
    Ok(super::file_download(
        "application/octet-stream",
        &format!("droplet_{guid}.tgz"),
        blob,
    ))
}

/// `GET /v3/droplets`
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ListView<DropletView>>> {
    let params = ListParams::parse(query.as_deref(), DropletFilter::NAMES)?;
    let filter = DropletFilter::from_params(&params)?;
    let found = actions::list(&state.db, &user, &filter, &params.page()).await?;
    Ok(Json(pagination::present_page(
        found,
        &params,
        "/v3/droplets",
        &state.links,
        |(record, show_secrets)| droplet::present(record, &state.links, *show_secrets),
    )))
}

/// `GET /v3/apps/:guid/droplets`
pub async fn list_for_app(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(app_guid): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ListView<DropletView>>> {
    let params = ListParams::parse(query.as_deref(), DropletFilter::APP_NAMES)?;
    let filter = DropletFilter::from_params(&params)?;
    let page = params.page();
    let found = actions::list_for_app(&state.db, &user, &app_guid, &filter, &page).await?;
    let path = format!("/v3/apps/{app_guid}/droplets");
    Ok(Json(pagination::present_page(
        found,
        &params,
        &path,
        &state.links,
        |(record, show_secrets)| droplet::present(record, &state.links, *show_secrets),
    )))
}

/// `GET /v3/packages/:guid/droplets`
pub async fn list_for_package(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(package_guid): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ListView<DropletView>>> {
    let params = ListParams::parse(query.as_deref(), DropletFilter::PACKAGE_NAMES)?;
    let filter = DropletFilter::from_params(&params)?;
    let page = params.page();
    let found = actions::list_for_package(&state.db, &user, &package_guid, &filter, &page).await?;
    let path = format!("/v3/packages/{package_guid}/droplets");
    Ok(Json(pagination::present_page(
        found,
        &params,
        &path,
        &state.links,
        |(record, show_secrets)| droplet::present(record, &state.links, *show_secrets),
    )))
}

/// `DELETE /v3/droplets/:guid`: 202 and the job's location.
pub async fn delete(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<(StatusCode, [(header::HeaderName, String); 1])> {
    let job_guid = actions::delete(&state.db, &state.blobs, &user, &guid).await?;
    Ok(accepted_job(&state, &job_guid))
}

/// 202 with `Location: /v3/jobs/<guid>`, CC's answer to asynchronous operations.
fn accepted_job(
    state: &AppState,
    job_guid: &str,
) -> (StatusCode, [(header::HeaderName, String); 1]) {
    let location = state.links.url(&format!("/v3/jobs/{job_guid}"));
    (StatusCode::ACCEPTED, [(header::LOCATION, location)])
}

/// `PATCH /v3/apps/:guid/relationships/current_droplet`
pub async fn assign_current(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(app_guid): Path<String>,
    CfJson(body): CfJson,
) -> ApiResult<Json<CurrentDropletRelationship>> {
    let choice = CurrentDropletChoice::parse_relationship(&body)?;
    let guid = choice.droplet_guid.as_deref();
    let app = current_droplet::assign(&state.db, &user, &app_guid, guid, Dialect::Current).await?;
    Ok(Json(droplet::present_current_relationship(
        &app.guid,
        app.current_droplet_guid.as_deref(),
        &state.links,
    )))
}

/// 2015's `PUT /v3/apps/:guid/current_droplet`: answers with the app.
pub async fn assign_current_2015(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(app_guid): Path<String>,
    CfJson(body): CfJson,
) -> ApiResult<Json<AppView>> {
    let choice = CurrentDropletChoice::parse_2015(&body)?;
    let guid = choice.droplet_guid.as_deref();
    current_droplet::assign(&state.db, &user, &app_guid, guid, Dialect::Experimental2015).await?;
    let details = crate::actions::apps::show(&state.readers, &user, &app_guid).await?;
    Ok(Json(super::apps::view(&state, &details)))
}

/// `GET /v3/apps/:guid/relationships/current_droplet`
pub async fn show_current_relationship(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(app_guid): Path<String>,
) -> ApiResult<Json<CurrentDropletRelationship>> {
    let (record, _) = current_droplet::current(&state.db, &user, &app_guid).await?;
    Ok(Json(droplet::present_current_relationship(
        &app_guid,
        Some(&record.guid),
        &state.links,
    )))
}

/// `GET /v3/apps/:guid/droplets/current`
pub async fn show_current(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(app_guid): Path<String>,
) -> ApiResult<Json<DropletView>> {
    let (record, access) = current_droplet::current(&state.db, &user, &app_guid).await?;
    Ok(Json(droplet::present(
        &record,
        &state.links,
        access.read_secrets,
    )))
}

/// `POST /v3/apps/:guid/actions/clear_buildpack_cache`: 202 and the job's location.
pub async fn clear_buildpack_cache(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(app_guid): Path<String>,
) -> ApiResult<(StatusCode, [(header::HeaderName, String); 1])> {
    let job_guid = build_cache::clear(&state.db, &state.blobs, &user, &app_guid).await?;
    Ok(accepted_job(&state, &job_guid))
}

/// `GET /v3/droplets/:guid/logs[?follow=true]`: the staging log as plain text, one line per
/// output line, tagged `[STG/<phase>] OUT|ERR`; with `follow` it streams until staging ends;
/// with `Accept: text/event-stream`, as server-sent events (`api/staging_logs.rs`).
pub async fn logs(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let request = LogRequest::parse(&headers, query.as_deref())?;
    let log = staging_logs::droplet_log(&state, &user, &guid, request.cursor).await?;
    Ok(request.respond(log))
}
