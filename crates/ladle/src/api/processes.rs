//! `/v3/processes`, `/v3/processes/:guid`, `/v3/apps/:guid/processes[/:type]` (read side).

use axum::extract::{Path, RawQuery, State};
use axum::Json;

use super::error::{ApiError, ApiResult};
use super::extract::CurrentUser;
use crate::actions::processes::{self as actions, ProcessDetails, ProcessError};
use crate::messages::filters::ProcessFilter;
use crate::messages::list::ListParams;
use crate::presenters::pagination::{self, ListView};
use crate::presenters::process::{self, ProcessView};
use crate::state::AppState;

impl From<ProcessError> for ApiError {
    fn from(err: ProcessError) -> Self {
        match err {
            ProcessError::NotFound => ApiError::not_found("Process"),
            ProcessError::AppNotFound => ApiError::not_found("App"),
            ProcessError::Db(err) => err.into(),
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<Json<ProcessView>> {
    let details = actions::find_readable(&state.db, &user, &guid).await?;
    Ok(Json(view(&state, &details)))
}

pub async fn show_for_app(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((app_guid, process_type)): Path<(String, String)>,
) -> ApiResult<Json<ProcessView>> {
    let details = actions::find_by_type(&state.db, &user, &app_guid, &process_type).await?;
    Ok(Json(view(&state, &details)))
}

pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ListView<ProcessView>>> {
    let params = ListParams::parse(query.as_deref(), ProcessFilter::NAMES)?;
    let filter = ProcessFilter::from_params(&params);
    let found = actions::list(&state.db, &user, &filter, &params.page()).await?;
    Ok(Json(pagination::present_page(
        found,
        &params,
        "/v3/processes",
        &state.links,
        |details| view(&state, details),
    )))
}

pub async fn list_for_app(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(app_guid): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ListView<ProcessView>>> {
    let params = ListParams::parse(query.as_deref(), ProcessFilter::APP_NAMES)?;
    let filter = ProcessFilter::from_params(&params);
    let found = actions::list_for_app(&state.db, &user, &app_guid, &filter, &params.page()).await?;
    let path = format!("/v3/apps/{app_guid}/processes");
    Ok(Json(pagination::present_page(
        found,
        &params,
        &path,
        &state.links,
        |details| view(&state, details),
    )))
}

fn view(state: &AppState, details: &ProcessDetails) -> ProcessView {
    process::present(
        &details.process,
        &details.space_guid,
        details.show_command,
        &state.links,
    )
}
