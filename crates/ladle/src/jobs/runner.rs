//! Staging slots: each slot claims one staging job at a time, keeps its lease alive while the
//! stager runs, and marks the job finished. Slots wake when a job is enqueued on this node and
//! poll once a second for jobs enqueued by other nodes.
//!
//! However an attempt ends, the slot carries on and the job moves on: a success finishes it; a
//! failure (an error or a panic) gives it back to the queue for a retry after a short backoff,
//! and the last allowed attempt fails the droplet and its build with StagerError and the cause.
//!
//! On shutdown the slots stop claiming; a staging still running when the grace period ends is
//! stopped and handed back, so that another node takes it at once rather than after the lease.

use std::time::Duration;

use tokio::task::JoinError;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::staging::{self, StagingContext};
use crate::cause_chain::CauseChain;
use crate::db::job_queue::{self as queue, ClaimedJob, STAGING};
use crate::db::{DbPool, DbResult};
use crate::telemetry;

const POLL: Duration = Duration::from_secs(1);

/// This node's staging slots; dropping them stops them at once (a crash, as far as the queue
/// can tell), `shut_down` stops them in order.
pub struct Slots {
    tasks: Vec<AbortOnDropHandle<()>>,
    /// Cancelled: no slot claims another job.
    stop_claiming: CancellationToken,
    /// Cancelled: running stagings stop and their jobs go back to the queue.
    hand_back: CancellationToken,
}

impl Slots {
    /// Slots whose task has not ended.
    pub fn running(&self) -> usize {
        self.tasks.iter().filter(|task| !task.is_finished()).count()
    }

    /// Stops claiming, lets running stagings finish for up to `grace`, then stops and hands
    /// back those still running. Returns once every slot has ended.
    pub async fn shut_down(mut self, grace: Duration) {
        self.stop_claiming.cancel();
        let all_ended = futures::future::join_all(self.tasks.iter_mut());
        tokio::pin!(all_ended);
        if tokio::time::timeout(grace, &mut all_ended).await.is_err() {
            tracing::warn!(
                grace_seconds = grace.as_secs(),
                "stagings still running after the shutdown grace period; handing them back"
            );
            self.hand_back.cancel();
            all_ended.await;
        }
    }
}

/// Starts `slots` staging slots; they run until shut down or dropped.
pub fn spawn_slots(ctx: StagingContext, slots: usize) -> Slots {
    let node = uuid::Uuid::new_v4().simple().to_string();
    let stop_claiming = CancellationToken::new();
    let hand_back = CancellationToken::new();
    let tasks = (0..slots)
        .map(|slot| {
            let slot = Slot {
                ctx: ctx.clone(),
                owner: format!("{node}/{slot}"),
                stop_claiming: stop_claiming.clone(),
                hand_back: hand_back.clone(),
            };
            AbortOnDropHandle::new(tokio::spawn(async move { slot.run().await }))
        })
        .collect();
    Slots {
        tasks,
        stop_claiming,
        hand_back,
    }
}

struct Slot {
    ctx: StagingContext,
    owner: String,
    stop_claiming: CancellationToken,
    hand_back: CancellationToken,
}

impl Slot {
    async fn run(self) {
        let lease = self.ctx.state.config.staging.job_lease();
        while !self.stop_claiming.is_cancelled() {
            let pause = match queue::claim(&self.ctx.state.db, STAGING, &self.owner, lease).await {
                Ok(Some(job)) => {
                    if job.taken_over {
                        metrics::counter!(telemetry::LEASE_TAKEOVERS).increment(1);
                    }
                    let busy = metrics::gauge!(telemetry::STAGING_SLOTS_BUSY);
                    busy.increment(1.0);
                    self.run_with_lease(job).await;
                    busy.decrement(1.0);
                    continue;
                }
                Ok(None) => POLL,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot claim staging jobs");
                    POLL
                }
            };
            tokio::select! {
                _ = self.stop_claiming.cancelled() => {}
                _ = self.ctx.state.staging_wakeup.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn run_with_lease(&self, job: ClaimedJob) {
        let (ctx, owner) = (&self.ctx, self.owner.as_str());
        let max_attempts = ctx.state.config.staging.job_max_attempts;
        let ended = if job.attempts > max_attempts {
            // The last attempt crashed or lost its lease, or its failure could not be recorded.
            let last_cause = job.last_error();
            let failure = unfinished(&job, max_attempts);
            end_after_last_attempt(ctx, &job, owner, &failure, last_cause.as_deref()).await
        } else {
            let attempt = {
                // Dropped however the attempt ends, so no lease is renewed for a job nobody runs.
                let lease = ctx.state.config.staging.job_lease();
                let _heartbeat = start_heartbeat(&ctx.state.db, &job.guid, owner, lease);
                run_attempt(ctx, &job, owner, &self.hand_back).await
            };
            match attempt {
                Attempt::Done(Ok(())) => queue::finish(&ctx.state.db, &job.guid, owner, None).await,
                Attempt::Done(Err(cause)) => after_failed_attempt(ctx, &job, owner, &cause).await,
                Attempt::HandedBack => hand_back(&ctx.state.db, &job, owner).await,
            }
        };
        if let Err(err) = ended {
            tracing::warn!(job_guid = %job.guid, error = %err, "cannot update the staging job; its lease will expire");
        }
    }
}

enum Attempt {
    Done(Result<(), String>),
    /// Stopped because the node shuts down.
    HandedBack,
}

/// What a job claimed once too often fails with: the last recorded cause, or else that the
/// nodes running it stopped (crashed, were killed, or lost the lease).
fn unfinished(job: &ClaimedJob, max_attempts: i64) -> String {
    let attempts = if max_attempts == 1 {
        "attempt"
    } else {
        "attempts"
    };
    let cause = job.last_error().unwrap_or_else(|| {
        "the node running it stopped or lost its lease before it finished".to_string()
    });
    format!("staging did not finish in {max_attempts} {attempts}: {cause}")
}

/// One attempt, in a task of its own so that a panic ends the attempt (as a failure with a
/// cause) rather than the slot. When `hand_back` is cancelled first, the attempt is stopped
/// (its containers and mounts removed as the staging is dropped) before this returns.
async fn run_attempt(
    ctx: &StagingContext,
    job: &ClaimedJob,
    owner: &str,
    hand_back: &CancellationToken,
) -> Attempt {
    let mut attempt = AbortOnDropHandle::new(tokio::spawn({
        let ctx = ctx.clone();
        let job = job.clone();
        let owner = owner.to_string();
        async move { staging::run(&ctx, &job, &owner).await }
    }));
    let ended = tokio::select! {
        ended = &mut attempt => ended,
        _ = hand_back.cancelled() => {
            attempt.abort();
            let _ = (&mut attempt).await;
            return Attempt::HandedBack;
        }
    };
    Attempt::Done(match ended {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(CauseChain(err.as_ref()).to_string()),
        Err(err) => Err(describe_join_error(err)),
    })
}

async fn hand_back(db: &DbPool, job: &ClaimedJob, owner: &str) -> DbResult<()> {
    if queue::hand_back(db, &job.guid, owner).await? {
        tracing::info!(job_guid = %job.guid, "handed the staging back for another node");
    }
    Ok(())
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
    if job.attempts < ctx.state.config.staging.job_max_attempts {
        return release(ctx, job, owner, Some(cause)).await;
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
        Ok(()) => queue::finish(db, &job.guid, owner, Some(failure)).await,
        Err(err) => {
            tracing::error!(job_guid = %job.guid, error = %CauseChain(err.as_ref()), "cannot record the staging's failure; it stays queued");
            release(ctx, job, owner, cause).await
        }
    }
}

async fn release(
    ctx: &StagingContext,
    job: &ClaimedJob,
    owner: &str,
    cause: Option<&str>,
) -> DbResult<()> {
    let db = &ctx.state.db;
    let backoff = queue::retry_backoff(job.attempts, ctx.state.config.staging.job_lease());
    if !queue::release(db, &job.guid, owner, cause, backoff).await? {
        tracing::warn!(job_guid = %job.guid, "the staging job was taken over; leaving it to its new owner");
    }
    Ok(())
}

/// Renews the job's lease (to `lease` from then) every third of `lease` until the returned
/// handle is dropped.
pub(super) fn start_heartbeat(
    db: &DbPool,
    job_guid: &str,
    owner: &str,
    lease: Duration,
) -> AbortOnDropHandle<()> {
    AbortOnDropHandle::new(tokio::spawn(keep_lease(
        db.clone(),
        job_guid.to_string(),
        owner.to_string(),
        lease,
    )))
}

async fn keep_lease(db: DbPool, job_guid: String, owner: String, lease: Duration) {
    loop {
        tokio::time::sleep(lease / 3).await;
        match queue::renew(&db, &job_guid, &owner, lease).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(job_guid, "lost the lease of a running staging job");
                return;
            }
            Err(err) => tracing::warn!(job_guid, error = %err, "cannot renew staging lease"),
        }
    }
}
