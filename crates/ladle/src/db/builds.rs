//! The `builds` table.

use serde::Serialize;
use sqlx::{Any, Transaction};

use super::query::{fetch_page, Where};
use super::{DbPool, DbResult};
use crate::domain::Page;
use crate::domain::{BuildState, Guid};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BuildRecord {
    pub guid: Guid,
    pub app_guid: Guid,
    pub package_guid: Guid,
    pub droplet_guid: Option<Guid>,
    pub state: BuildState,
    /// `"<ErrorId> - <message>"` once FAILED.
    pub error: Option<String>,
    /// JSON `{type, data:{buildpacks, stack}}`.
    pub lifecycle: String,
    pub staging_memory_in_mb: i64,
    pub staging_disk_in_mb: i64,
    /// JSON `{guid, name, email}`.
    pub created_by: String,
    pub metadata: String,
    pub created_at: String,
    pub updated_at: Option<String>,
}

/// A build's `lifecycle` column: `{"type":"buildpack","data":{"buildpacks":[…],"stack":"…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "lowercase")]
pub enum Lifecycle {
    Buildpack {
        buildpacks: Vec<String>,
        stack: String,
    },
}

/// A build's `created_by` column: who asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreatedBy {
    pub guid: String,
    pub name: Option<String>,
    pub email: Option<String>,
}

pub async fn insert(tx: &mut Transaction<'_, Any>, b: &BuildRecord) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO builds (guid, app_guid, package_guid, droplet_guid, state, lifecycle, staging_memory_in_mb, \
         staging_disk_in_mb, created_by, metadata, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&b.guid)
    .bind(&b.app_guid)
    .bind(&b.package_guid)
    .bind(b.droplet_guid.clone())
    .bind(b.state)
    .bind(&b.lifecycle)
    .bind(b.staging_memory_in_mb)
    .bind(b.staging_disk_in_mb)
    .bind(&b.created_by)
    .bind(&b.metadata)
    .bind(&b.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn find(db: &DbPool, guid: &str) -> DbResult<Option<BuildRecord>> {
    sqlx::query_as("SELECT * FROM builds WHERE guid = $1")
        .bind(guid)
        .fetch_optional(db)
        .await
}

pub async fn list(db: &DbPool, filter: &Where, page: &Page) -> DbResult<(Vec<BuildRecord>, u64)> {
    fetch_page(db, "builds", filter, page).await
}

/// True when the app has a build still STAGING (CC allows one at a time).
pub async fn app_has_staging_build(
    tx: &mut Transaction<'_, Any>,
    app_guid: &str,
) -> DbResult<bool> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM builds WHERE app_guid = $1 AND state = 'STAGING'")
            .bind(app_guid)
            .fetch_one(&mut **tx)
            .await?;
    Ok(n > 0)
}

/// The build that produces `droplet_guid`, if it was staged through `POST /v3/builds`.
pub async fn complete(
    tx: &mut Transaction<'_, Any>,
    droplet_guid: &str,
    state: BuildState,
    error: Option<&str>,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE builds SET state = $1, error = $2, updated_at = $3 WHERE droplet_guid = $4 AND state = 'STAGING'",
    )
    .bind(state.as_str())
    .bind(error)
    .bind(super::now())
    .bind(droplet_guid)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Replaces a build's metadata (JSON text).
pub async fn store_metadata(db: &DbPool, guid: &str, metadata: &str) -> DbResult<()> {
    sqlx::query("UPDATE builds SET metadata = $1, updated_at = $2 WHERE guid = $3")
        .bind(metadata)
        .bind(super::now())
        .bind(guid)
        .execute(db)
        .await?;
    Ok(())
}
