//! The `jobs` table as users see it (`/v3/jobs`). The staging queue's claiming and leasing of
//! the same table lives in `job_queue`.

use super::{DbPool, DbResult};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRecord {
    pub guid: String,
    pub kind: String,
    pub operation: String,
    pub state: String,
    pub resource_guid: Option<String>,
    /// JSON object text; user jobs keep `user_guid` here.
    pub payload: String,
    /// JSON array of `{code, title, detail}`.
    pub errors: String,
    pub attempts: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

/// Number of jobs of `kind` waiting to be claimed (queued, including those waiting out a
/// retry's backoff).
pub async fn queued_count(db: &DbPool, kind: &str) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = $1 AND state = 'QUEUED'")
        .bind(kind)
        .fetch_one(db)
        .await
}

pub async fn insert(db: &DbPool, job: &JobRecord) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO jobs (guid, kind, operation, state, resource_guid, payload, errors, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&job.guid)
    .bind(&job.kind)
    .bind(&job.operation)
    .bind(&job.state)
    .bind(job.resource_guid.clone())
    .bind(&job.payload)
    .bind(&job.errors)
    .bind(&job.created_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn find(db: &DbPool, guid: &str) -> DbResult<Option<JobRecord>> {
    sqlx::query_as("SELECT * FROM jobs WHERE guid = $1")
        .bind(guid)
        .fetch_optional(db)
        .await
}

pub async fn finish(
    db: &DbPool,
    guid: &str,
    state: &str,
    errors: &str,
    updated_at: &str,
) -> DbResult<()> {
    sqlx::query("UPDATE jobs SET state = $1, errors = $2, updated_at = $3 WHERE guid = $4")
        .bind(state)
        .bind(errors)
        .bind(updated_at)
        .bind(guid)
        .execute(db)
        .await?;
    Ok(())
}
