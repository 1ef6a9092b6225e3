//! The periodic sweep every node runs, with or without staging slots: a staging nobody is
//! finishing fails with StagingTimeExpired, a package upload whose node stopped renewing its
//! heartbeat goes back to AWAITING_UPLOAD, and finished jobs (and staging scratch) past their
//! retention are deleted. All of it is idempotent, so nodes sharing a database may all sweep.
//!
//! A staging is "nobody's" when its attempt was claimed longer ago than the staging timeout plus
//! the lease and the grace period and is still not done, or its job is gone: the stager kills a staging at its
//! timeout and a dead node's lease ends long before, so only a staging whose job was lost, whose
//! nodes all died with no node left to claim it, or whose stager hangs gets here. A staging
//! still queued for a free slot is left to wait. No droplet or build stays PENDING or STAGING
//! forever while any node runs.

use std::time::Duration;

use ladle_stager::{FailureKind, StagingFailure};
use time::OffsetDateTime;

use crate::actions::staging_complete::{self, Outcome};
use crate::db::job_queue as queue;
use crate::db::{droplets, format_timestamp, packages, DbResult};
use crate::state::AppState;

/// Rows handled per query, so one sweep never holds the database long.
const BATCH: i64 = 100;
/// Batches per sweep at most.
const ROUNDS: usize = 100;

/// Sweeps now and then every `sweep_period`, for as long as the process runs.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let staging = &state.config.staging;
        let period = sweep_period(staging.staging_deadline(), staging.job_lease());
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(err) = sweep_stagings(&state).await {
                tracing::warn!(error = %err, "cannot sweep stalled stagings");
            }
            if let Err(err) = sweep_uploads(&state).await {
                tracing::warn!(error = %err, "cannot sweep stalled package uploads");
            }
            if let Err(err) = prune_jobs(&state).await {
                tracing::warn!(error = %err, "cannot prune finished jobs");
            }
            if let Err(err) = prune_scratch(&state).await {
                tracing::warn!(error = %err, "cannot prune staging scratch");
            }
        }
    })
}

/// A fifth of the staging deadline or the lease, whichever is shorter, between one second and a
/// minute: a stalled staging fails at most about a fifth late, and a stalled upload goes back to
/// its client within two leases of its node's death.
fn sweep_period(deadline: Duration, lease: Duration) -> Duration {
    (deadline / 5)
        .min(lease)
        .clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Puts every package whose upload heartbeat is older than the lease back to AWAITING_UPLOAD
/// (its node died while storing the bits); how many.
pub async fn sweep_uploads(state: &AppState) -> DbResult<usize> {
    let lease = state.config.staging.job_lease();
    let cutoff = format_timestamp(OffsetDateTime::now_utc() - lease);
    let mut reset = 0;
    for _ in 0..ROUNDS {
        let guids = packages::reset_stalled_uploads(&state.db, &cutoff, BATCH).await?;
        for package_guid in &guids {
            tracing::warn!(
                package_guid,
                "the node storing this package's bits stopped; the client may upload them again"
            );
        }
        reset += guids.len();
        if guids.len() < BATCH as usize {
            break;
        }
    }
    Ok(reset)
}

/// Fails every staging that has made no progress within the deadline; how many.
pub async fn sweep_stagings(state: &AppState) -> DbResult<usize> {
    let deadline = state.config.staging.staging_deadline();
    let cutoff = format_timestamp(OffsetDateTime::now_utc() - deadline);
    let message = format!(
        "the staging made no progress for {} seconds (staging timeout, lease and grace); its \
         node stopped or lost it",
        deadline.as_secs()
    );
    let mut failed = 0;
    // Bounded: a droplet that could not be failed (a row another node changed meanwhile) is
    // found again by the next sweep rather than looping here.
    for _ in 0..ROUNDS {
        let stalled = queue::stagings_idle_since(&state.db, &cutoff, BATCH).await?;
        if stalled.is_empty() {
            break;
        }
        for droplet_guid in &stalled {
            fail_stalled(state, droplet_guid, &message).await?;
        }
        failed += stalled.len();
    }
    Ok(failed)
}

async fn fail_stalled(state: &AppState, droplet_guid: &str, message: &str) -> DbResult<()> {
    if let Some(droplet) = droplets::find(&state.db, droplet_guid).await? {
        let failure = StagingFailure::new(FailureKind::StagingTimeExpired, message);
        staging_complete::record(state, &droplet, &Outcome::Failed(failure)).await?;
        tracing::warn!(droplet_guid, "failed a stalled staging");
    }
    let error = staging_complete::describe(FailureKind::StagingTimeExpired, message);
    for job_guid in queue::unfinished_staging_jobs(&state.db, droplet_guid).await? {
        queue::finish_abandoned(&state.db, &job_guid, &error).await?;
    }
    Ok(())
}

/// Deletes finished jobs older than `LADLE_JOB_RETENTION_DAYS`; how many.
pub async fn prune_jobs(state: &AppState) -> DbResult<u64> {
    let days = state.config.staging.job_retention_days;
    let cutoff = super::log_retention::cutoff(OffsetDateTime::now_utc(), days);
    let mut pruned = 0;
    loop {
        let deleted = queue::delete_finished_before(&state.db, &cutoff, BATCH).await?;
        pruned += deleted;
        if deleted < BATCH as u64 {
            if pruned > 0 {
                tracing::info!(jobs = pruned, retention_days = days, "pruned finished jobs");
            }
            return Ok(pruned);
        }
    }
}

/// Removes this node's staging input folders (`<data-dir>/staging-inputs/<droplet>`) untouched
/// for longer than the retention whose droplet is no longer in flight: an attempt removes its
/// own folder as it ends, so these are what an attempt that could not left behind.
pub async fn prune_scratch(state: &AppState) -> anyhow::Result<usize> {
    let root = state.config.data_dir.join("staging-inputs");
    let retention = Duration::from_secs(
        state
            .config
            .staging
            .job_retention_days
            .saturating_mul(86_400),
    );
    let old = tokio::task::spawn_blocking(move || folders_older_than(&root, retention)).await??;
    let mut removed = 0;
    for folder in old {
        let Some(droplet_guid) = folder.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        let in_flight = droplets::find(&state.db, droplet_guid)
            .await?
            .is_some_and(|droplet| droplet.state.is_in_flight());
        if !in_flight {
            tokio::task::spawn_blocking(move || std::fs::remove_dir_all(folder)).await??;
            removed += 1;
        }
    }
    Ok(removed)
}

fn folders_older_than(
    root: &std::path::Path,
    age: Duration,
) -> std::io::Result<Vec<std::path::PathBuf>> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut old = Vec::new();
    for entry in entries {
        let entry = entry?;
        let modified = entry.metadata()?.modified()?;
        if modified.elapsed().is_ok_and(|elapsed| elapsed > age) {
            old.push(entry.path());
        }
    }
    Ok(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_runs_a_fifth_of_the_deadline_or_a_lease_apart_within_a_second_and_a_minute() {
        let long_lease = Duration::from_secs(3600);
        assert_eq!(
            sweep_period(Duration::from_secs(930), long_lease),
            Duration::from_secs(60)
        );
        assert_eq!(
            sweep_period(Duration::from_secs(100), long_lease),
            Duration::from_secs(20)
        );
        assert_eq!(
            sweep_period(Duration::from_secs(2), long_lease),
            Duration::from_secs(1)
        );
        assert_eq!(
            sweep_period(Duration::from_secs(960), Duration::from_secs(30)),
            Duration::from_secs(30)
        );
        assert_eq!(
            sweep_period(Duration::from_secs(960), Duration::from_secs(2)),
            Duration::from_secs(2)
        );
    }
}
