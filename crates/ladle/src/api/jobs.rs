//! `/v3/jobs/:guid`

use axum::extract::{Path, State};
use axum::Json;

use super::error::{ApiError, ApiResult};
use super::extract::CurrentUser;
use crate::actions::jobs::{self as actions, JobError};
use crate::presenters::job::{self, JobView};
use crate::state::AppState;

impl From<JobError> for ApiError {
    fn from(err: JobError) -> Self {
        match err {
            JobError::NotFound => ApiError::not_found("Job"),
            JobError::Db(err) => err.into(),
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<Json<JobView>> {
    let record = actions::find_visible(&state.db, &user, &guid).await?;
    Ok(Json(job::present(&record, &state.links)))
}
