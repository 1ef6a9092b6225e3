//! The `jobs` table as users see it (`/v3/jobs`). The staging queue's claiming and leasing of
//! the same table lives in `job_queue`.

use super::{DbPool, DbResult};
use crate::domain::{Guid, JobState};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRecord {
    pub guid: Guid,
    pub kind: String,
    pub operation: String,
    pub state: JobState,
    pub resource_guid: Option<Guid>,
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
    .bind(job.state)
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
    state: JobState,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A state no code writes is a database error when the row is read, not some other state.
    #[tokio::test]
    async fn a_row_with_an_unknown_state_does_not_load() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = crate::db::connect(&url).await.unwrap();
        for (guid, state) in [("good", "COMPLETE"), ("bad", "DONE-ISH")] {
            sqlx::query(
                "INSERT INTO jobs (guid, kind, operation, state, created_at) \
                 VALUES ($1, 'user', 'app.delete', $2, $3)",
            )
            .bind(guid)
            .bind(state)
            .bind(crate::db::now())
            .execute(&db)
            .await
            .unwrap();
        }
        let good = find(&db, "good").await.unwrap().unwrap();
        assert_eq!(good.state, JobState::Complete);
        let err = find(&db, "bad").await.unwrap_err();
        assert!(
            matches!(err, sqlx::Error::ColumnDecode { .. }),
            "unexpected: {err}"
        );
        assert!(err.to_string().contains("DONE-ISH"), "{err}");
    }
}
