//! The `staging_logs` table (written by `jobs::staging_log`).

use super::{DbPool, DbResult};

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
