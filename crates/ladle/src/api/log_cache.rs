//! `GET /api/v1/read/:source_id`: log-cache's read, for the staging logs of the app whose guid
//! is the source id, so that Cloud Foundry clients show them as they show any app's logs.

use axum::extract::{Path, RawQuery, State};
use axum::Json;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::extract::CurrentUser;
use crate::actions::staging_logs::{self, AppLogError};
use crate::messages::log_cache_read::LogCacheRead;
use crate::presenters::log_cache;
use crate::state::AppState;

impl From<AppLogError> for ApiError {
    fn from(err: AppLogError) -> Self {
        match err {
            AppLogError::NotFound => ApiError::not_found("App"),
            AppLogError::Db(err) => err.into(),
        }
    }
}

pub async fn read(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(source_id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let read = LogCacheRead::parse(query.as_deref())?;
    let rows = staging_logs::app_log(&state.db, &user, &source_id, &read).await?;
    Ok(Json(log_cache::present(&source_id, &rows)))
}
