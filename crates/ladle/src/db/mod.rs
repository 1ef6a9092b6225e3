//! Database access. One module per table; every query is written once in SQL that both SQLite
//! and PostgreSQL accept (`$1` placeholders, TEXT and BIGINT columns), run through sqlx's
//! `Any` driver so the same binary serves either.

pub mod apps;
pub mod build_caches;
pub mod buildpacks;
pub mod builds;
pub mod droplets;
pub mod job_queue;
pub mod jobs;
pub mod json_text;
pub mod login_failures;
pub mod login_users;
pub mod oauth_clients;
pub mod organizations;
pub mod packages;
pub mod processes;
pub mod query;
pub mod readers;
pub mod roles;
pub mod spaces;
pub mod stacks;
pub mod staging_logs;
pub mod users;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};
use time::OffsetDateTime;

pub use json_text::JsonText;

pub type DbPool = AnyPool;
pub type DbResult<T> = Result<T, sqlx::Error>;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    /// The backend a pool talks to.
    pub fn of_pool(pool: &DbPool) -> Option<Backend> {
        Backend::of_url(pool.connect_options().database_url.as_str())
    }
}

/// How long a query waits for a connection unless the node says otherwise: when the database
/// is down, this is how long a request waits before it is answered ServiceUnavailable.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the pool and brings the schema up to date.
pub async fn connect(url: &str) -> anyhow::Result<DbPool> {
    connect_waiting(url, DEFAULT_ACQUIRE_TIMEOUT).await
}

/// `connect`, with queries waiting at most `acquire_timeout` for a connection (a new one is
/// tried meanwhile, so the pool recovers by itself once the database is back).
pub async fn connect_waiting(url: &str, acquire_timeout: Duration) -> anyhow::Result<DbPool> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(url).ok_or_else(|| {
        anyhow::anyhow!("unsupported database URL {url:?}: use sqlite:// or postgres://")
    })?;
    let options = AnyConnectOptions::from_str(url)?.disable_statement_logging();
    let pool = AnyPoolOptions::new()
        // SQLite: each connection is a thread doing CPU work; more connections than cores only
        // adds switching (bench/api-get-app.sh: 4 connections ≈ 9.5k req/s, 16 ≈ 7.4k on 2 cores).
        .max_connections(match backend {
            Backend::Sqlite => 4,
            Backend::Postgres => 32,
        })
        .acquire_timeout(acquire_timeout)
        // A pooled SQLite connection is a file handle on its own thread: it cannot go stale
        // the way a PostgreSQL socket does, and a check before each use is one more round trip
        // to that thread per query. PostgreSQL's connections are checked, so that a restarted
        // server costs reconnects, not failed requests.
        .test_before_acquire(backend == Backend::Postgres)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets readers run beside the one writer; busy_timeout makes writers queue
                    // instead of failing with SQLITE_BUSY.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// Versions of this binary's migrations that the database has not applied (a node of a newer
/// version migrated it further: that is fine, the schema only grows).
pub async fn missing_migrations(pool: &DbPool) -> DbResult<Vec<i64>> {
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_all(pool)
            .await?;
    Ok(MIGRATOR
        .iter()
        .filter(|migration| !migration.migration_type.is_down_migration())
        .map(|migration| migration.version)
        .filter(|version| !applied.contains(version))
        .collect())
}

/// Current time as stored: RFC 3339, UTC, microseconds (sorts as text).
pub fn now() -> String {
    format_timestamp(OffsetDateTime::now_utc())
}

pub fn format_timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

/// The text of a JSON column.
pub fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("JSON columns hold plain data")
}

pub fn new_guid() -> crate::domain::Guid {
    crate::domain::Guid::random()
}

/// True when the error is a unique-constraint violation (a duplicate name, say).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() || db.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_sort_as_text() {
        let a = format_timestamp(time::macros::datetime!(2026-01-02 03:04:05.000001 UTC));
        let b = format_timestamp(time::macros::datetime!(2026-01-02 03:04:05.000010 UTC));
        assert!(a < b);
        assert_eq!(a, "2026-01-02T03:04:05.000001Z");
    }
}
