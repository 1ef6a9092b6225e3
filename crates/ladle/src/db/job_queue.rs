//! The `jobs` table as a durable queue (staging jobs): enqueue, claim (with a lease), renew,
//! release (for a retry), finish.
//!
//! A job is QUEUED, RUNNING under a lease, then COMPLETE or FAILED. An attempt that fails gives
//! its lease back at once: the job is QUEUED again, and its `lease_expires_at` becomes the end of
//! a short backoff before which nobody claims it; `errors` keeps the failed attempt's cause.

use std::time::Duration;

use sqlx::{Any, Transaction};
use time::OffsetDateTime;

use crate::db::{self, format_timestamp, DbPool, DbResult};
use crate::domain::{Guid, JobState};

/// Kind of the internal staging queue's jobs.
pub const STAGING: &str = "staging";

/// How long a claim holds without renewal. Runners renew every third of this.
pub const LEASE: Duration = Duration::from_secs(30);

/// A claimed job lets its runner give up after this many claims (each failed attempt, crash or
/// lost lease counts one), so a job that kills its node cannot take the cluster down in a loop.
pub const MAX_ATTEMPTS: i64 = 3;

/// The wait before a failed attempt's job may be claimed again, per attempt made so far.
pub const RETRY_BACKOFF: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedJob {
    pub guid: Guid,
    pub kind: String,
    pub resource_guid: Option<Guid>,
    pub payload: String,
    pub attempts: i64,
    /// JSON array of `{detail}`: the cause of the last failed attempt, if one was recorded.
    pub errors: String,
}

impl ClaimedJob {
    /// What a staging job asks for; a payload that cannot be read (a job of an older version)
    /// asks for nothing special.
    pub fn staging_payload(&self) -> StagingJobPayload {
        serde_json::from_str(&self.payload).unwrap_or_default()
    }

    /// Why the previous attempt failed, when it failed rather than crashed.
    pub fn last_error(&self) -> Option<String> {
        let errors: Vec<serde_json::Value> = serde_json::from_str(&self.errors).ok()?;
        errors.last()?.get("detail")?.as_str().map(str::to_string)
    }
}

/// Adds a job inside the caller's transaction, so it exists exactly when its rows do.
pub async fn enqueue(
    tx: &mut Transaction<'_, Any>,
    kind: &str,
    operation: &str,
    resource_guid: &str,
    payload: &serde_json::Value,
) -> DbResult<Guid> {
    let guid = db::new_guid();
    sqlx::query(
        "INSERT INTO jobs (guid, kind, operation, state, resource_guid, payload, created_at) \
         VALUES ($1, $2, $3, 'QUEUED', $4, $5, $6)",
    )
    .bind(&guid)
    .bind(kind)
    .bind(operation)
    .bind(resource_guid)
    .bind(payload.to_string())
    .bind(db::now())
    .execute(&mut **tx)
    .await?;
    Ok(guid)
}

fn lease_deadline(now: OffsetDateTime) -> String {
    format_timestamp(now + LEASE)
}

/// Claims the oldest queued (or abandoned) job of `kind` for `owner`. The conditional UPDATE is
/// the lock: of two nodes racing for the same row, only one changes it.
pub async fn claim(db: &DbPool, kind: &str, owner: &str) -> DbResult<Option<ClaimedJob>> {
    let now = OffsetDateTime::now_utc();
    let now_text = format_timestamp(now);
    // Queued and past any retry backoff, or running under a lease that expired.
    let claimable = "kind = $1 AND (\
         (state = 'QUEUED' AND (lease_expires_at IS NULL OR lease_expires_at < $2)) \
         OR (state = 'RUNNING' AND lease_expires_at < $2))";
    let sql = format!(
        "UPDATE jobs SET state = 'RUNNING', lease_owner = $3, lease_expires_at = $4, \
         attempts = attempts + 1, updated_at = $2 \
         WHERE guid = (SELECT guid FROM jobs WHERE {claimable} ORDER BY created_at, guid LIMIT 1) \
           AND {claimable} \
         RETURNING guid, kind, resource_guid, payload, attempts, errors"
    );
    sqlx::query_as(&sql)
        .bind(kind)
        .bind(&now_text)
        .bind(owner)
        .bind(lease_deadline(now))
        .fetch_optional(db)
        .await
}

/// Extends the lease; `false` when the job is no longer ours (it was taken over).
pub async fn renew(db: &DbPool, guid: &str, owner: &str) -> DbResult<bool> {
    let now = OffsetDateTime::now_utc();
    let done = sqlx::query(
        "UPDATE jobs SET lease_expires_at = $1 WHERE guid = $2 AND lease_owner = $3 AND state = 'RUNNING'",
    )
    .bind(lease_deadline(now))
    .bind(guid)
    .bind(owner)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a failed attempt's job back to the queue with its cause (none: the last one recorded
/// stays), claimable again once `backoff` has passed; `false` when the job is no longer ours (it
/// was taken over).
pub async fn release(
    db: &DbPool,
    guid: &str,
    owner: &str,
    cause: Option<&str>,
    backoff: Duration,
) -> DbResult<bool> {
    let now = OffsetDateTime::now_utc();
    let done = sqlx::query(
        "UPDATE jobs SET state = 'QUEUED', lease_owner = NULL, lease_expires_at = $1, \
         errors = COALESCE($2, errors), updated_at = $3 \
         WHERE guid = $4 AND lease_owner = $5 AND state = 'RUNNING'",
    )
    .bind(format_timestamp(now + backoff))
    .bind(cause.map(|cause| serde_json::json!([{ "detail": cause }]).to_string()))
    .bind(format_timestamp(now))
    .bind(guid)
    .bind(owner)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How long a job waits after its `attempts`-th attempt failed: longer each time, never more
/// than a lease.
pub fn retry_backoff(attempts: i64) -> Duration {
    (RETRY_BACKOFF * attempts.clamp(1, 30) as u32).min(LEASE)
}

/// Marks the job done (`COMPLETE` or `FAILED` with an error text).
pub async fn finish(db: &DbPool, guid: &str, error: Option<&str>) -> DbResult<()> {
    let (state, errors) = match error {
        None => (JobState::Complete, "[]".to_string()),
        Some(message) => (
            JobState::Failed,
            serde_json::json!([{ "detail": message }]).to_string(),
        ),
    };
    sqlx::query(
        "UPDATE jobs SET state = $1, errors = $2, lease_owner = NULL, lease_expires_at = NULL, updated_at = $3 \
         WHERE guid = $4",
    )
    .bind(state)
    .bind(errors)
    .bind(db::now())
    .bind(guid)
    .execute(db)
    .await?;
    Ok(())
}

/// Number of jobs of `kind` not yet finished (queued or running).
pub async fn pending(db: &DbPool, kind: &str) -> DbResult<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM jobs WHERE kind = $1 AND state IN ('QUEUED', 'RUNNING')",
    )
    .bind(kind)
    .fetch_one(db)
    .await?;
    Ok(n)
}

/// What a staging job carries besides its droplet's guid.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StagingJobPayload {
    /// The build's `staging_log_rate_limit_bytes_per_second` (-1: unlimited); absent, the
    /// node's `LADLE_STAGING_LOG_RATE_LIMIT_BYTES_PER_SECOND`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staging_log_rate_limit_bytes_per_second: Option<i64>,
}
