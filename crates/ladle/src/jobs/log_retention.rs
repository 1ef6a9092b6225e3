//! Staging logs are kept for `LADLE_LOG_RETENTION_DAYS` after their droplet was created. Every
//! node prunes older ones at start and then once an hour; deleting is idempotent, so nodes
//! sharing a database may all do it.

use std::time::Duration;

use time::OffsetDateTime;

use crate::db::{self, staging_logs, DbPool, DbResult};

const EVERY: Duration = Duration::from_secs(3600);
/// Droplets whose logs are removed per query, so one prune never holds the database long.
const DROPLETS_PER_ROUND: i64 = 100;

/// Prunes now and every hour, for as long as the process runs.
pub fn spawn(db: DbPool, retention_days: u64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let cutoff = cutoff(OffsetDateTime::now_utc(), retention_days);
            match prune(&db, &cutoff).await {
                Ok(0) => {}
                Ok(droplets) => tracing::info!(droplets, retention_days, "pruned staging logs"),
                Err(err) => tracing::warn!(error = %err, "cannot prune staging logs"),
            }
        }
    })
}

/// The stored timestamp `days` before `now`.
pub fn cutoff(now: OffsetDateTime, days: u64) -> String {
    let back = days.saturating_mul(86_400);
    let since_epoch = (now - OffsetDateTime::UNIX_EPOCH).whole_seconds().max(0) as u64;
    let at = if back >= since_epoch {
        OffsetDateTime::UNIX_EPOCH
    } else {
        now - time::Duration::seconds(back as i64)
    };
    db::format_timestamp(at)
}

/// Deletes the logs of final droplets created before `cutoff`; how many droplets had some.
pub async fn prune(db: &DbPool, cutoff: &str) -> DbResult<usize> {
    let mut pruned = 0;
    loop {
        let droplets =
            staging_logs::final_droplets_with_logs_created_before(db, cutoff, DROPLETS_PER_ROUND)
                .await?;
        if droplets.is_empty() {
            return Ok(pruned);
        }
        for droplet in &droplets {
            staging_logs::delete_of_droplet(db, droplet).await?;
        }
        pruned += droplets.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_whole_days_back_and_never_before_the_epoch() {
        let now = time::macros::datetime!(2026-03-31 12:00:00 UTC);
        assert_eq!(cutoff(now, 30), "2026-03-01T12:00:00.000000Z");
        assert_eq!(cutoff(now, 0), "2026-03-31T12:00:00.000000Z");
        assert_eq!(cutoff(now, u64::MAX), "1970-01-01T00:00:00.000000Z");
    }
}
