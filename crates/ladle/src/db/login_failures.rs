//! Wrong passwords per user name and the lock-outs they cause (`login_failures`,
//! `login_lockouts`). Times are milliseconds since the epoch.

use super::{DbPool, DbResult};

/// When `username` is locked out until, if it is at `now_ms`.
pub async fn locked_until(db: &DbPool, username: &str, now_ms: i64) -> DbResult<Option<i64>> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT locked_until FROM login_lockouts WHERE username = $1 AND locked_until > $2",
    )
    .bind(username)
    .bind(now_ms)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(until,)| until))
}

/// Records a wrong password at `now_ms`, forgets failures older than `window_ms` (everyone's),
/// and answers how many `username` has within the window, this one included.
pub async fn record(db: &DbPool, username: &str, now_ms: i64, window_ms: i64) -> DbResult<i64> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM login_failures WHERE failed_at <= $1")
        .bind(now_ms - window_ms)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO login_failures (username, failed_at) VALUES ($1, $2)")
        .bind(username)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM login_failures WHERE username = $1")
            .bind(username)
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(count)
}

/// Locks `username` out until `until_ms`; its counted failures start again from nothing.
pub async fn lock(db: &DbPool, username: &str, until_ms: i64) -> DbResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO login_lockouts (username, locked_until) VALUES ($1, $2) \
         ON CONFLICT (username) DO UPDATE SET locked_until = $2",
    )
    .bind(username)
    .bind(until_ms)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM login_failures WHERE username = $1")
        .bind(username)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM login_lockouts WHERE locked_until <= $1")
        .bind(until_ms - 24 * 3600 * 1000)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// After a right password: earlier failures no longer count.
pub async fn clear(db: &DbPool, username: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM login_failures WHERE username = $1")
        .bind(username)
        .execute(db)
        .await?;
    Ok(())
}
