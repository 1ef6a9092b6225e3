//! Staging slots: each slot claims one staging job at a time, keeps its lease alive while the
//! stager runs, and marks the job finished. Slots wake when a job is enqueued on this node and
//! poll once a second for jobs enqueued by other nodes.
//!
//! However an attempt ends, the slot carries on and the job moves on: a success finishes it; a
//! failure (an error or a panic) gives it back to the queue for a retry after a short backoff,
//! and the last allowed attempt fails the droplet and its build with StagerError and the cause.

use std::time::Duration;

use tokio::task::{JoinError, JoinHandle};
use tokio_util::task::AbortOnDropHandle;

use super::staging::{self, StagingContext};
use crate::cause_chain::CauseChain;
use crate::db::job_queue::{self as queue, ClaimedJob, LEASE, MAX_ATTEMPTS, STAGING};
use crate::db::{DbPool, DbResult};
use crate::telemetry;

const POLL: Duration = Duration::from_secs(1);

/// Starts `slots` staging slots; they run until the process ends.
pub fn spawn_slots(ctx: StagingContext, slots: usize) -> Vec<JoinHandle<()>> {
    let node = uuid::Uuid::new_v4().simple().to_string();
    (0..slots)
        .map(|slot| {
            let ctx = ctx.clone();
            let owner = format!("{node}/{slot}");
            tokio::spawn(async move { slot_loop(ctx, owner).await })
        })
        .collect()
}

async fn slot_loop(ctx: StagingContext, owner: String) {
    loop {
        match queue::claim(&ctx.state.db, STAGING, &owner).await {
            Ok(Some(job)) => {
                let busy = metrics::gauge!(telemetry::STAGING_SLOTS_BUSY);
                busy.increment(1.0);
                run_with_lease(&ctx, job, &owner).await;
                busy.decrement(1.0);
            }
            Ok(None) => {
                tokio::select! {
                    _ = ctx.state.staging_wakeup.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot claim staging jobs");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

async fn run_with_lease(ctx: &StagingContext, job: ClaimedJob, owner: &str) {
    let ended = if job.attempts > MAX_ATTEMPTS {
        // The last attempt crashed or lost its lease, or its failure could not be recorded.
        let last_cause = job.last_error();
        end_after_last_attempt(ctx, &job, owner, &unfinished(&job), last_cause.as_deref()).await
    } else {
        let attempt = {
            // Dropped however the attempt ends, so no lease is renewed for a job nobody runs.
            let _heartbeat = start_heartbeat(&ctx.state.db, &job.guid, owner, LEASE / 3);
            run_attempt(ctx, &job).await
        };
        match attempt {
            Ok(()) => queue::finish(&ctx.state.db, &job.guid, None).await,
            Err(cause) => after_failed_attempt(ctx, &job, owner, &cause).await,
        }
    };
    if let Err(err) = ended {
        tracing::warn!(job_guid = %job.guid, error = %err, "cannot update the staging job; its lease will expire");
    }
}

/// What a job claimed once too often fails with: the last recorded cause, if any.
fn unfinished(job: &ClaimedJob) -> String {
    match job.last_error() {
        Some(cause) => format!("staging did not finish in {MAX_ATTEMPTS} attempts: {cause}"),
        None => format!("staging was interrupted {MAX_ATTEMPTS} times"),
    }
}

/// One attempt, in a task of its own so that a panic ends the attempt (as a failure with a
/// cause) rather than the slot.
async fn run_attempt(ctx: &StagingContext, job: &ClaimedJob) -> Result<(), String> {
    let attempt = AbortOnDropHandle::new(tokio::spawn({
        let ctx = ctx.clone();
        let job = job.clone();
        async move { staging::run(&ctx, &job).await }
    }));
    match attempt.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(CauseChain(err.as_ref()).to_string()),
        Err(err) => Err(describe_join_error(err)),
    }
}

fn describe_join_error(err: JoinError) -> String {
    if !err.is_panic() {
        return "the staging was cancelled".to_string();
    }
    let payload = err.into_panic();
    let message = payload
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string());
    format!("the staging panicked: {message}")
}

/// Retries within the attempt limit; the last attempt fails the staging with the cause.
async fn after_failed_attempt(
    ctx: &StagingContext,
    job: &ClaimedJob,
    owner: &str,
    cause: &str,
) -> DbResult<()> {
    tracing::error!(job_guid = %job.guid, attempt = job.attempts, error = %cause, "staging attempt failed");
    if job.attempts < MAX_ATTEMPTS {
        return release(&ctx.state.db, job, owner, Some(cause)).await;
    }
    end_after_last_attempt(ctx, job, owner, cause, Some(cause)).await
}

/// Fails the staging with `failure` and the job with it. When even that cannot be recorded (the
/// database refuses), the job goes back to the queue, keeping `cause` (the attempt's own, if it
/// had one), so that a later claim records it.
async fn end_after_last_attempt(
    ctx: &StagingContext,
    job: &ClaimedJob,
    owner: &str,
    failure: &str,
    cause: Option<&str>,
) -> DbResult<()> {
    let db = &ctx.state.db;
    match staging::give_up(ctx, job, failure).await {
        Ok(()) => queue::finish(db, &job.guid, Some(failure)).await,
        Err(err) => {
            tracing::error!(job_guid = %job.guid, error = %CauseChain(err.as_ref()), "cannot record the staging's failure; it stays queued");
            release(db, job, owner, cause).await
        }
    }
}

async fn release(db: &DbPool, job: &ClaimedJob, owner: &str, cause: Option<&str>) -> DbResult<()> {
    let backoff = queue::retry_backoff(job.attempts);
    if !queue::release(db, &job.guid, owner, cause, backoff).await? {
        tracing::warn!(job_guid = %job.guid, "the staging job was taken over; leaving it to its new owner");
    }
    Ok(())
}

/// Renews the job's lease every `every` until the returned handle is dropped.
pub(super) fn start_heartbeat(
    db: &DbPool,
    job_guid: &str,
    owner: &str,
    every: Duration,
) -> AbortOnDropHandle<()> {
    AbortOnDropHandle::new(tokio::spawn(keep_lease(
        db.clone(),
        job_guid.to_string(),
        owner.to_string(),
        every,
    )))
}

async fn keep_lease(db: DbPool, job_guid: String, owner: String, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        match queue::renew(&db, &job_guid, &owner).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(job_guid, "lost the lease of a running staging job");
                return;
            }
            Err(err) => tracing::warn!(job_guid, error = %err, "cannot renew staging lease"),
        }
    }
}
