//! Staging slots: each slot claims one staging job at a time, keeps its lease alive while the
//! stager runs, and marks the job finished. Slots wake when a job is enqueued on this node and
//! poll once a second for jobs enqueued by other nodes.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::queue::{self, ClaimedJob, LEASE, STAGING};
use super::staging::{self, StagingContext};

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
            Ok(Some(job)) => run_with_lease(&ctx, job, &owner).await,
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
    let heartbeat = tokio::spawn(keep_lease(
        ctx.state.db.clone(),
        job.guid.clone(),
        owner.to_string(),
    ));
    let outcome = staging::run(ctx, &job).await;
    heartbeat.abort();
    let error = outcome.as_ref().err().map(|err| format!("{err:#}"));
    if let Some(message) = &error {
        tracing::error!(job_guid = %job.guid, error = %message, "staging job failed");
    }
    if let Err(err) = queue::finish(&ctx.state.db, &job.guid, error.as_deref()).await {
        tracing::warn!(job_guid = %job.guid, error = %err, "cannot mark staging job finished; its lease will expire");
    }
}

async fn keep_lease(db: crate::db::DbPool, job_guid: String, owner: String) {
    loop {
        tokio::time::sleep(LEASE / 3).await;
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
