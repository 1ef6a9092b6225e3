//! The `jobs` table as a durable queue (staging jobs): enqueue, claim (with a lease), renew,
//! release (for a retry), finish.
//!
//! A job is QUEUED, RUNNING under a lease, then COMPLETE or FAILED. An attempt that fails gives
//! its lease back at once: the job is QUEUED again, and its `lease_expires_at` becomes the end of
//! a short backoff before which nobody claims it; `errors` keeps the failed attempt's cause.
//! A node that shuts down hands its running jobs back: QUEUED, claimable at once, the
//! interrupted attempt not counted. Finished jobs are deleted after a retention period.
//!
//! The lease length and the attempt limit are the node's settings (`LADLE_JOB_LEASE_SECONDS`,
//! `LADLE_JOB_MAX_ATTEMPTS`); every node of a cluster should use the same ones.

use std::time::Duration;

use sqlx::{Any, Transaction};
use time::OffsetDateTime;

use crate::db::{self, format_timestamp, Backend, DbPool, DbResult};
use crate::domain::{Guid, JobState};

/// Kind of the internal staging queue's jobs.
pub const STAGING: &str = "staging";

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
    /// The job was RUNNING under another node's lease that had expired: that node died or
    /// stopped renewing, and this claim takes its staging over.
    #[sqlx(skip)]
    pub taken_over: bool,
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

/// Queued and past any retry backoff, or running under a lease that expired (its node died or
/// stopped renewing). `$1` is the kind, `$2` now.
const CLAIMABLE: &str = "kind = $1 AND (\
     (state = 'QUEUED' AND (lease_expires_at IS NULL OR lease_expires_at < $2)) \
     OR (state = 'RUNNING' AND lease_expires_at < $2))";

/// How many times a claim that lost a race to another node looks again at once before it
/// reports the queue empty (the next poll or wake-up looks again anyway).
const CLAIM_RACES: usize = 8;

/// Claims the oldest queued (or abandoned) job of `kind` for `owner`, under a lease of `lease`.
/// The conditional UPDATE is the lock: of two nodes racing for the same row, only one changes
/// it. On PostgreSQL the row is picked `FOR UPDATE SKIP LOCKED`, so racing claimers pick
/// different rows instead of queueing behind one another; on SQLite writers are serialised
/// anyway. A claim that still loses a race (the row changed between pick and update) tries
/// again at once while claimable jobs remain.
///
/// The claim also tells whether it took the job over from a node whose lease expired: the
/// state the row had when it was picked comes back with it (PostgreSQL returns the picked
/// row's columns beside the updated ones; SQLite, whose RETURNING sees only the updated row,
/// picks first and updates only a row still in the state it was picked in).
pub async fn claim(
    db: &DbPool,
    kind: &str,
    owner: &str,
    lease: Duration,
) -> DbResult<Option<ClaimedJob>> {
    let postgres = matches!(Backend::of_pool(db), Some(Backend::Postgres));
    for _ in 0..CLAIM_RACES {
        let claimed = if postgres {
            claim_picked_and_locked(db, kind, owner, lease).await?
        } else {
            claim_picked_then_guarded(db, kind, owner, lease).await?
        };
        if claimed.is_some() || !any_claimable(db, kind).await? {
            return Ok(claimed);
        }
    }
    Ok(None)
}

const CLAIM_SET: &str = "state = 'RUNNING', lease_owner = $3, lease_expires_at = $4, \
     attempts = attempts + 1, updated_at = $2";

const CLAIM_RETURNING: &str = "guid, kind, resource_guid, payload, attempts, errors";

#[derive(sqlx::FromRow)]
struct ClaimRow {
    #[sqlx(flatten)]
    job: ClaimedJob,
    previous_state: String,
}

impl ClaimRow {
    fn into_job(self) -> ClaimedJob {
        ClaimedJob {
            taken_over: self.previous_state == "RUNNING",
            ..self.job
        }
    }
}

async fn claim_picked_and_locked(
    db: &DbPool,
    kind: &str,
    owner: &str,
    lease: Duration,
) -> DbResult<Option<ClaimedJob>> {
    // The picked row's columns are renamed so the CLAIMABLE guard names only `jobs`.
    let sql = format!(
        "WITH picked AS (SELECT guid AS picked_guid, state AS previous_state FROM jobs \
                         WHERE {CLAIMABLE} ORDER BY created_at, guid LIMIT 1 \
                         FOR UPDATE SKIP LOCKED) \
         UPDATE jobs SET {CLAIM_SET} FROM picked \
         WHERE jobs.guid = picked.picked_guid AND {CLAIMABLE} \
         RETURNING {CLAIM_RETURNING}, picked.previous_state"
    );
    let now = OffsetDateTime::now_utc();
    let row: Option<ClaimRow> = sqlx::query_as(&sql)
        .bind(kind)
        .bind(format_timestamp(now))
        .bind(owner)
        .bind(format_timestamp(now + lease))
        .fetch_optional(db)
        .await?;
    Ok(row.map(ClaimRow::into_job))
}

async fn claim_picked_then_guarded(
    db: &DbPool,
    kind: &str,
    owner: &str,
    lease: Duration,
) -> DbResult<Option<ClaimedJob>> {
    let picked: Option<(String, String)> = sqlx::query_as(&format!(
        "SELECT guid, state FROM jobs WHERE {CLAIMABLE} ORDER BY created_at, guid LIMIT 1"
    ))
    .bind(kind)
    .bind(db::now())
    .fetch_optional(db)
    .await?;
    let Some((guid, previous_state)) = picked else {
        return Ok(None);
    };
    let now = OffsetDateTime::now_utc();
    let claimed: Option<ClaimedJob> = sqlx::query_as(&format!(
        "UPDATE jobs SET {CLAIM_SET} WHERE guid = $5 AND state = $6 AND {CLAIMABLE} \
         RETURNING {CLAIM_RETURNING}"
    ))
    .bind(kind)
    .bind(format_timestamp(now))
    .bind(owner)
    .bind(format_timestamp(now + lease))
    .bind(&guid)
    .bind(&previous_state)
    .fetch_optional(db)
    .await?;
    Ok(claimed.map(|job| ClaimedJob {
        taken_over: previous_state == "RUNNING",
        ..job
    }))
}

async fn any_claimable(db: &DbPool, kind: &str) -> DbResult<bool> {
    let found: Option<(String,)> =
        sqlx::query_as(&format!("SELECT guid FROM jobs WHERE {CLAIMABLE} LIMIT 1"))
            .bind(kind)
            .bind(db::now())
            .fetch_optional(db)
            .await?;
    Ok(found.is_some())
}

/// Extends the lease to `lease` from now; `false` when the job is no longer ours (it was taken
/// over, or finished by the sweep).
pub async fn renew(db: &DbPool, guid: &str, owner: &str, lease: Duration) -> DbResult<bool> {
    let now = OffsetDateTime::now_utc();
    let done = sqlx::query(
        "UPDATE jobs SET lease_expires_at = $1 WHERE guid = $2 AND lease_owner = $3 AND state = 'RUNNING'",
    )
    .bind(format_timestamp(now + lease))
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

/// Gives a job this node was running back when the node shuts down: QUEUED and claimable at
/// once by any node, the interrupted attempt not counted (a stopped node is not the job's
/// fault). `false` when the job is no longer ours.
pub async fn hand_back(db: &DbPool, guid: &str, owner: &str) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'QUEUED', lease_owner = NULL, lease_expires_at = NULL, \
         attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = $1 \
         WHERE guid = $2 AND lease_owner = $3 AND state = 'RUNNING'",
    )
    .bind(db::now())
    .bind(guid)
    .bind(owner)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How long a job waits after its `attempts`-th attempt failed: longer each time, never more
/// than a lease.
pub fn retry_backoff(attempts: i64, lease: Duration) -> Duration {
    (RETRY_BACKOFF * attempts.clamp(1, 30) as u32).min(lease)
}

/// Marks the job done (`COMPLETE` or `FAILED` with an error text), if `owner` still holds it:
/// a job the sweep failed or another node took over is left as it is.
pub async fn finish(db: &DbPool, guid: &str, owner: &str, error: Option<&str>) -> DbResult<()> {
    finish_where(db, guid, Some(owner), error).await
}

/// Marks an unfinished job done whoever holds it (the sweep, ending a staging nobody finishes).
pub async fn finish_abandoned(db: &DbPool, guid: &str, error: &str) -> DbResult<()> {
    finish_where(db, guid, None, Some(error)).await
}

async fn finish_where(
    db: &DbPool,
    guid: &str,
    owner: Option<&str>,
    error: Option<&str>,
) -> DbResult<()> {
    let (state, errors) = match error {
        None => (JobState::Complete, "[]".to_string()),
        Some(message) => (
            JobState::Failed,
            serde_json::json!([{ "detail": message }]).to_string(),
        ),
    };
    let sql =
        "UPDATE jobs SET state = $1, errors = $2, lease_owner = NULL, lease_expires_at = NULL, \
               updated_at = $3 WHERE guid = $4 AND state IN ('QUEUED', 'RUNNING')";
    let sql = match owner {
        Some(_) => format!("{sql} AND lease_owner = $5"),
        None => sql.to_string(),
    };
    let mut query = sqlx::query(&sql)
        .bind(state)
        .bind(errors)
        .bind(db::now())
        .bind(guid);
    if let Some(owner) = owner {
        query = query.bind(owner);
    }
    query.execute(db).await?;
    Ok(())
}

/// Droplets still in flight that nobody is staging or will stage: their last state change is
/// older than `cutoff` and their staging job is neither queued (waiting for a slot is not
/// stalling) nor running under a claim made since `cutoff` (a running attempt renews its lease,
/// but its job's `updated_at` stays the claim's). A droplet whose job was lost is found too.
pub async fn stagings_idle_since(db: &DbPool, cutoff: &str, limit: i64) -> DbResult<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT d.guid FROM droplets d \
         WHERE d.state IN ('PENDING', 'STAGING') \
           AND COALESCE(d.updated_at, d.created_at) < $1 \
           AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.kind = $2 AND j.resource_guid = d.guid \
                           AND (j.state = 'QUEUED' OR (j.state = 'RUNNING' \
                                AND COALESCE(j.updated_at, j.created_at) >= $1))) \
         ORDER BY d.created_at LIMIT $3",
    )
    .bind(cutoff)
    .bind(STAGING)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(guid,)| guid).collect())
}

/// The unfinished staging jobs of a droplet.
pub async fn unfinished_staging_jobs(db: &DbPool, droplet_guid: &str) -> DbResult<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT guid FROM jobs WHERE kind = $1 AND resource_guid = $2 AND state IN ('QUEUED', 'RUNNING')",
    )
    .bind(STAGING)
    .bind(droplet_guid)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(guid,)| guid).collect())
}

/// Deletes finished jobs (COMPLETE or FAILED) last changed before `cutoff`, at most `limit`;
/// how many went.
pub async fn delete_finished_before(db: &DbPool, cutoff: &str, limit: i64) -> DbResult<u64> {
    let done = sqlx::query(
        "DELETE FROM jobs WHERE guid IN (SELECT guid FROM jobs \
         WHERE state IN ('COMPLETE', 'FAILED') AND COALESCE(updated_at, created_at) < $1 LIMIT $2)",
    )
    .bind(cutoff)
    .bind(limit)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
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
