//! The `processes` table: one row per (app, process type).

use std::collections::HashMap;

use sqlx::AnyConnection;

use super::query::{fetch_page, Where};
use super::{DbPool, DbResult};
use crate::domain::{Guid, Page};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProcessRecord {
    pub guid: Guid,
    pub app_guid: Guid,
    pub process_type: String,
    pub command: Option<String>,
    pub instances: i64,
    pub memory_in_mb: i64,
    pub disk_in_mb: i64,
    pub created_at: String,
    pub updated_at: Option<String>,
}

pub async fn insert(conn: &mut AnyConnection, process: &ProcessRecord) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO processes (guid, app_guid, process_type, command, instances, memory_in_mb, \
         disk_in_mb, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&process.guid)
    .bind(&process.app_guid)
    .bind(&process.process_type)
    .bind(process.command.clone())
    .bind(process.instances)
    .bind(process.memory_in_mb)
    .bind(process.disk_in_mb)
    .bind(&process.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find(db: &DbPool, guid: &str) -> DbResult<Option<ProcessRecord>> {
    sqlx::query_as("SELECT * FROM processes WHERE guid = $1")
        .bind(guid)
        .fetch_optional(db)
        .await
}

pub async fn find_by_type(
    db: &DbPool,
    app_guid: &str,
    process_type: &str,
) -> DbResult<Option<ProcessRecord>> {
    sqlx::query_as("SELECT * FROM processes WHERE app_guid = $1 AND process_type = $2")
        .bind(app_guid)
        .bind(process_type)
        .fetch_optional(db)
        .await
}

pub async fn for_app(conn: &mut AnyConnection, app_guid: &str) -> DbResult<Vec<ProcessRecord>> {
    sqlx::query_as("SELECT * FROM processes WHERE app_guid = $1 ORDER BY created_at, guid")
        .bind(app_guid)
        .fetch_all(conn)
        .await
}

pub async fn list(db: &DbPool, filter: &Where, page: &Page) -> DbResult<(Vec<ProcessRecord>, u64)> {
    fetch_page(db, "processes", filter, page).await
}

pub async fn set_command(
    conn: &mut AnyConnection,
    guid: &str,
    command: Option<&str>,
    updated_at: &str,
) -> DbResult<()> {
    sqlx::query("UPDATE processes SET command = $1, updated_at = $2 WHERE guid = $3")
        .bind(command.map(str::to_string))
        .bind(updated_at)
        .bind(guid)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete(conn: &mut AnyConnection, guid: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM processes WHERE guid = $1")
        .bind(guid)
        .execute(conn)
        .await?;
    Ok(())
}

/// Σ instances per app among `app_guids` (apps without processes are absent: 0).
pub async fn total_instances(db: &DbPool, app_guids: &[String]) -> DbResult<HashMap<String, i64>> {
    if app_guids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut filter = Where::new();
    filter.any_of("app_guid", app_guids);
    let sql = format!(
        "SELECT app_guid, CAST(SUM(instances) AS BIGINT) FROM processes{} GROUP BY app_guid",
        filter.sql()
    );
    let rows: Vec<(String, i64)> = filter.bind_all(sqlx::query_as(&sql)).fetch_all(db).await?;
    Ok(rows.into_iter().collect())
}
