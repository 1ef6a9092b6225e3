//! User-visible jobs (`/v3/jobs/:guid`): the record of an asynchronous operation such as an app
//! delete, readable by the user who started it and by those who read everything.

use serde::Serialize;
use serde_json::json;

use crate::auth::User;
use crate::db::jobs::{self, JobRecord};
use crate::db::{self, DbPool, DbResult};
use crate::domain::{unknown_error, JobState};

/// Kind of the jobs users may see; other kinds (the staging queue) are internal.
pub const KIND_USER: &str = "user";

/// One entry of a failed job's `errors`, in the shape of CC's error bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobFailure {
    pub code: u32,
    pub title: String,
    pub detail: String,
}

impl JobFailure {
    /// A failure whose cause is ours, not the caller's: logged in full, reported generically.
    pub fn unknown(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "job failed");
        JobFailure {
            code: unknown_error::CODE,
            title: unknown_error::NAME.to_string(),
            detail: unknown_error::DETAIL.to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Records the start of `operation` on `resource_guid` by `user`, in state PROCESSING.
pub async fn start(
    db: &DbPool,
    user: &User,
    operation: &str,
    resource_guid: &str,
) -> DbResult<JobRecord> {
    let job = JobRecord {
        guid: db::new_guid(),
        kind: KIND_USER.to_string(),
        operation: operation.to_string(),
        state: JobState::Processing,
        resource_guid: Some(resource_guid.into()),
        payload: json!({ "user_guid": user.guid }).to_string(),
        errors: "[]".to_string(),
        attempts: 0,
        lease_owner: None,
        lease_expires_at: None,
        created_at: db::now(),
        updated_at: None,
    };
    jobs::insert(db, &job).await?;
    Ok(job)
}

/// Ends a job started with `start`: COMPLETE, or FAILED with its errors.
pub async fn finish(
    db: &DbPool,
    job_guid: &str,
    outcome: Result<(), Vec<JobFailure>>,
) -> DbResult<()> {
    let (state, errors) = match outcome {
        Ok(()) => (JobState::Complete, Vec::new()),
        Err(failures) => (JobState::Failed, failures),
    };
    let errors = serde_json::to_string(&errors).unwrap_or_else(|_| "[]".to_string());
    jobs::finish(db, job_guid, state, &errors, &db::now()).await
}

/// The job, if it is a user job and the caller started it or reads everything.
pub async fn find_visible(db: &DbPool, user: &User, guid: &str) -> Result<JobRecord, JobError> {
    let job = jobs::find(db, guid).await?.ok_or(JobError::NotFound)?;
    if job.kind != KIND_USER {
        return Err(JobError::NotFound);
    }
    if user.scopes.reads_everything() || started_by(&job).as_deref() == Some(user.guid.as_str()) {
        Ok(job)
    } else {
        Err(JobError::NotFound)
    }
}

fn started_by(job: &JobRecord) -> Option<String> {
    let payload: serde_json::Value = serde_json::from_str(&job.payload).ok()?;
    payload.get("user_guid")?.as_str().map(str::to_string)
}
