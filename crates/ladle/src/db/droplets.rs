//! The `droplets` table.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::{Any, Transaction};

use super::query::{fetch_page, Where};
use super::{DbPool, DbResult};
use crate::domain::DropletState;
use crate::domain::Page;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DropletRecord {
    pub guid: String,
    pub app_guid: String,
    pub package_guid: Option<String>,
    pub build_guid: Option<String>,
    pub state: String,
    /// CC's error id (`NoAppDetectedError`, …) once FAILED.
    pub error_id: Option<String>,
    pub error_message: Option<String>,
    pub buildpack_guid: Option<String>,
    pub buildpack_git_url: Option<String>,
    /// JSON array of the buildpack names/URLs requested (empty: detect over admin buildpacks).
    pub requested_buildpacks: String,
    pub stack: Option<String>,
    pub memory_limit_mb: i64,
    pub disk_limit_mb: i64,
    /// JSON object: the staging environment shown to the client and given to the buildpacks.
    pub environment_variables: String,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub detected_start_command: Option<String>,
    /// JSON object type → command, once STAGED.
    pub process_types: Option<String>,
    /// JSON array of `{name, detect_output, buildpack_name, version}`, once STAGED.
    pub buildpacks_metadata: Option<String>,
    pub execution_metadata: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

impl DropletRecord {
    pub fn state(&self) -> DropletState {
        self.state.parse().unwrap_or(DropletState::Failed)
    }

    pub fn requested_buildpacks(&self) -> Vec<String> {
        serde_json::from_str(&self.requested_buildpacks).unwrap_or_default()
    }

    pub fn environment(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str(&self.environment_variables).unwrap_or_default()
    }

    pub fn process_types(&self) -> Option<BTreeMap<String, String>> {
        self.process_types
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
    }
}

pub async fn insert(tx: &mut Transaction<'_, Any>, d: &DropletRecord) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO droplets (guid, app_guid, package_guid, build_guid, state, buildpack_guid, buildpack_git_url, \
         requested_buildpacks, stack, memory_limit_mb, disk_limit_mb, environment_variables, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&d.guid)
    .bind(&d.app_guid)
    .bind(d.package_guid.clone())
    .bind(d.build_guid.clone())
    .bind(&d.state)
    .bind(d.buildpack_guid.clone())
    .bind(d.buildpack_git_url.clone())
    .bind(&d.requested_buildpacks)
    .bind(d.stack.clone())
    .bind(d.memory_limit_mb)
    .bind(d.disk_limit_mb)
    .bind(&d.environment_variables)
    .bind(&d.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A copy of STAGED droplet `source` for app `app_guid`, under `guid`: what it was staged from
/// and with, and what staging found (as CC's droplet copy; the build stays the source's own).
/// `false` when `source` is gone or no longer STAGED.
pub async fn insert_copy(
    db: &DbPool,
    source: &str,
    guid: &str,
    app_guid: &str,
    created_at: &str,
) -> DbResult<bool> {
    let inserted = sqlx::query(
        "INSERT INTO droplets (guid, app_guid, package_guid, state, buildpack_guid, \
         buildpack_git_url, requested_buildpacks, stack, memory_limit_mb, disk_limit_mb, \
         environment_variables, sha1, sha256, detected_start_command, process_types, \
         buildpacks_metadata, execution_metadata, created_at) \
         SELECT $1, $2, package_guid, state, buildpack_guid, buildpack_git_url, \
         requested_buildpacks, stack, memory_limit_mb, disk_limit_mb, environment_variables, \
         sha1, sha256, detected_start_command, process_types, buildpacks_metadata, \
         execution_metadata, $3 FROM droplets WHERE guid = $4 AND state = $5",
    )
    .bind(guid)
    .bind(app_guid)
    .bind(created_at)
    .bind(source)
    .bind(DropletState::Staged.as_str())
    .execute(db)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

pub async fn find(db: &DbPool, guid: &str) -> DbResult<Option<DropletRecord>> {
    sqlx::query_as("SELECT * FROM droplets WHERE guid = $1")
        .bind(guid)
        .fetch_optional(db)
        .await
}

pub async fn list(db: &DbPool, filter: &Where, page: &Page) -> DbResult<(Vec<DropletRecord>, u64)> {
    fetch_page(db, "droplets", filter, page).await
}

/// PENDING → STAGING; `false` when the droplet is not PENDING any more.
pub async fn mark_staging(db: &DbPool, guid: &str) -> DbResult<bool> {
    let done = sqlx::query("UPDATE droplets SET state = 'STAGING', updated_at = $1 WHERE guid = $2 AND state = 'PENDING'")
        .bind(super::now())
        .bind(guid)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// What a successful staging records on the droplet.
#[derive(Debug, Clone)]
pub struct StagedFields {
    pub sha1: String,
    pub sha256: String,
    pub detected_start_command: String,
    /// Process type → start command.
    pub process_types: BTreeMap<String, String>,
    pub buildpacks: Vec<StagedBuildpack>,
    pub execution_metadata: String,
    pub buildpack_guid: Option<String>,
}

/// One buildpack a staging ran, as the droplet's `buildpacks_metadata` column lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StagedBuildpack {
    /// The admin buildpack's name or the URL, as asked for or detected.
    pub name: String,
    /// What the buildpack's detect printed.
    pub detect_output: Option<String>,
    /// The name the buildpack reported about itself.
    pub buildpack_name: Option<String>,
    pub version: Option<String>,
}

/// In-flight → STAGED. Returns `false` when the droplet was already final (a second completion
/// of the same staging changes nothing).
pub async fn mark_staged(
    tx: &mut Transaction<'_, Any>,
    guid: &str,
    f: &StagedFields,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE droplets SET state = 'STAGED', sha1 = $1, sha256 = $2, detected_start_command = $3, \
         process_types = $4, buildpacks_metadata = $5, execution_metadata = $6, \
         buildpack_guid = COALESCE($7, buildpack_guid), updated_at = $8 \
         WHERE guid = $9 AND state IN ('PENDING', 'STAGING')",
    )
    .bind(&f.sha1)
    .bind(&f.sha256)
    .bind(&f.detected_start_command)
    .bind(super::json_text(&f.process_types))
    .bind(super::json_text(&f.buildpacks))
    .bind(&f.execution_metadata)
    .bind(f.buildpack_guid.clone())
    .bind(super::now())
    .bind(guid)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// In-flight → FAILED, its log ending with `message`; `false` when already final.
pub async fn mark_failed(
    tx: &mut Transaction<'_, Any>,
    guid: &str,
    error_id: &str,
    message: &str,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE droplets SET state = 'FAILED', error_id = $1, error_message = $2, updated_at = $3 \
         WHERE guid = $4 AND state IN ('PENDING', 'STAGING')",
    )
    .bind(error_id)
    .bind(message)
    .bind(super::now())
    .bind(guid)
    .execute(&mut **tx)
    .await?;
    let failed = done.rows_affected() == 1;
    if failed {
        super::staging_logs::append_failure_reason(tx, guid, message).await?;
    }
    Ok(failed)
}

pub async fn delete(tx: &mut Transaction<'_, Any>, guid: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM staging_logs WHERE droplet_guid = $1")
        .bind(guid)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM droplets WHERE guid = $1")
        .bind(guid)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes the droplet (and its staging log) unless an app has it as its current droplet, in
/// one guarded statement so that an assignment cannot slip in between a check and the delete.
/// `false` when nothing was deleted.
pub async fn delete_unless_current(tx: &mut Transaction<'_, Any>, guid: &str) -> DbResult<bool> {
    let done = sqlx::query(
        "DELETE FROM droplets WHERE guid = $1 \
         AND NOT EXISTS (SELECT 1 FROM apps WHERE current_droplet_guid = $1)",
    )
    .bind(guid)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM staging_logs WHERE droplet_guid = $1")
        .bind(guid)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}
