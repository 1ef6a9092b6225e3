//! The `staging_logs` table (written by `jobs::staging_log`, pruned by `jobs::log_retention`).

use sqlx::{Any, Transaction};

use super::{DbPool, DbResult};
use crate::domain::DropletState;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LogRow {
    pub seq: i64,
    pub phase: String,
    pub stream: String,
    pub line: String,
    pub created_at: String,
}

/// Up to `limit` lines with a sequence number above `after`, in order.
pub async fn after(
    db: &DbPool,
    droplet_guid: &str,
    after: i64,
    limit: i64,
) -> DbResult<Vec<LogRow>> {
    sqlx::query_as(
        "SELECT seq, phase, stream, line, created_at FROM staging_logs \
         WHERE droplet_guid = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(droplet_guid)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// An app's staging log lines (of all its droplets) stored at `from` or later and before
/// `until` (stored timestamps), oldest first or, `descending`, newest first; at most `limit`.
pub async fn of_app(
    db: &DbPool,
    app_guid: &str,
    (from, until): (&str, &str),
    limit: i64,
    descending: bool,
) -> DbResult<Vec<LogRow>> {
    let order = if descending { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT l.seq, l.phase, l.stream, l.line, l.created_at FROM staging_logs l \
         JOIN droplets d ON d.guid = l.droplet_guid \
         WHERE d.app_guid = $1 AND l.created_at >= $2 AND l.created_at < $3 \
         ORDER BY l.created_at {order}, l.droplet_guid {order}, l.seq {order} LIMIT $4"
    );
    sqlx::query_as(&sql)
        .bind(app_guid)
        .bind(from)
        .bind(until)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// Ends a failed staging's log with why it failed, in the transaction that marks it FAILED,
/// so that whoever follows the log reads the reason before the end. A line written at the same
/// moment by a stale attempt of the staging wins the sequence number; the reason is then
/// left out rather than failing the transaction.
pub async fn append_failure_reason(
    tx: &mut Transaction<'_, Any>,
    droplet_guid: &str,
    reason: &str,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO staging_logs (droplet_guid, seq, phase, stream, line, created_at) \
         SELECT $1, COALESCE(MAX(seq), -1) + 1, $2, 'stderr', $3, $4 FROM staging_logs \
         WHERE droplet_guid = $1 ON CONFLICT DO NOTHING",
    )
    .bind(droplet_guid)
    .bind(FAILURE_PHASE)
    .bind(format!("Staging failed: {reason}"))
    .bind(super::now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The phase the failure reason is tagged with: the host side's, which decides the outcome.
const FAILURE_PHASE: &str = "setup";

/// Droplets in a final state, created before `cutoff` (a stored timestamp), that still have
/// log lines; at most `limit` of them.
pub async fn final_droplets_with_logs_created_before(
    db: &DbPool,
    cutoff: &str,
    limit: i64,
) -> DbResult<Vec<String>> {
    let final_states: Vec<&str> = DropletState::ALL
        .iter()
        .filter(|state| state.is_final())
        .map(|state| state.as_str())
        .collect();
    let placeholders: Vec<String> = (0..final_states.len())
        .map(|i| format!("${}", i + 3))
        .collect();
    let sql = format!(
        "SELECT d.guid FROM droplets d WHERE d.created_at < $1 AND d.state IN ({}) \
         AND EXISTS (SELECT 1 FROM staging_logs l WHERE l.droplet_guid = d.guid) LIMIT $2",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as::<_, (String,)>(&sql)
        .bind(cutoff)
        .bind(limit);
    for state in final_states {
        query = query.bind(state);
    }
    Ok(query
        .fetch_all(db)
        .await?
        .into_iter()
        .map(|(guid,)| guid)
        .collect())
}

/// Removes a droplet's log; the number of lines removed.
pub async fn delete_of_droplet(db: &DbPool, droplet_guid: &str) -> DbResult<u64> {
    Ok(
        sqlx::query("DELETE FROM staging_logs WHERE droplet_guid = $1")
            .bind(droplet_guid)
            .execute(db)
            .await?
            .rows_affected(),
    )
}
