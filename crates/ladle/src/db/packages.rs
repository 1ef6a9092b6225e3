//! The `packages` table. A package's state only moves through the named transitions below,
//! each a conditional UPDATE, so that two racing requests cannot both move it.

use super::query::{fetch_page, Where};
use super::{now, DbPool, DbResult};
use crate::domain::{Guid, PackageState, PackageType, Page};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PackageRecord {
    pub guid: Guid,
    pub app_guid: Guid,
    pub package_type: PackageType,
    pub state: PackageState,
    /// Of the uploaded zip, hex; set when READY.
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub error: Option<String>,
    pub docker_image: Option<String>,
    pub docker_username: Option<String>,
    pub docker_password: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
    /// JSON `{"labels":{..},"annotations":{..}}`.
    pub metadata: String,
}

impl PackageRecord {
    pub fn is(&self, state: PackageState) -> bool {
        self.state == state
    }
}

pub async fn insert(db: &DbPool, package: &PackageRecord) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO packages (guid, app_guid, package_type, state, docker_image, \
         docker_username, docker_password, created_at, metadata) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&package.guid)
    .bind(&package.app_guid)
    .bind(package.package_type)
    .bind(package.state)
    .bind(package.docker_image.clone())
    .bind(package.docker_username.clone())
    .bind(package.docker_password.clone())
    .bind(&package.created_at)
    .bind(&package.metadata)
    .execute(db)
    .await?;
    Ok(())
}

/// A READY copy of package `source` for app `app_guid`, under `guid`: its type, bits' checksums
/// and image, with no labels of its own (as CC's package copy). `false` when `source` is gone.
pub async fn insert_copy(
    db: &DbPool,
    source: &str,
    guid: &str,
    app_guid: &str,
    created_at: &str,
) -> DbResult<bool> {
    let inserted = sqlx::query(
        "INSERT INTO packages (guid, app_guid, package_type, state, sha1, sha256, docker_image, \
         docker_username, docker_password, created_at) \
         SELECT $1, $2, package_type, $3, sha1, sha256, docker_image, docker_username, \
         docker_password, $4 FROM packages WHERE guid = $5",
    )
    .bind(guid)
    .bind(app_guid)
    .bind(PackageState::Ready.as_str())
    .bind(created_at)
    .bind(source)
    .execute(db)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

pub async fn find(db: &DbPool, guid: &str) -> DbResult<Option<PackageRecord>> {
    sqlx::query_as("SELECT * FROM packages WHERE guid = $1")
        .bind(guid)
        .fetch_optional(db)
        .await
}

pub async fn list(db: &DbPool, filter: &Where, page: &Page) -> DbResult<(Vec<PackageRecord>, u64)> {
    fetch_page(db, "packages", filter, page).await
}

/// AWAITING_UPLOAD → PROCESSING_UPLOAD, the package now `owner`'s (one upload's own id) with a
/// fresh heartbeat. False when the package was no longer awaiting bits (another upload got
/// there first).
pub async fn start_processing_upload(db: &DbPool, guid: &str, owner: &str) -> DbResult<bool> {
    let now = now();
    let done = sqlx::query(
        "UPDATE packages SET state = $1, upload_owner = $2, upload_heartbeat_at = $3, \
         updated_at = $3 WHERE guid = $4 AND state = $5",
    )
    .bind(PackageState::ProcessingUpload)
    .bind(owner)
    .bind(&now)
    .bind(guid)
    .bind(PackageState::AwaitingUpload)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Renews `owner`'s heartbeat on a package it is storing bits for; false when the upload is no
/// longer `owner`'s (the sweep gave the package back to the client, or it was deleted).
pub async fn renew_upload(db: &DbPool, guid: &str, owner: &str) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE packages SET upload_heartbeat_at = $1 \
         WHERE guid = $2 AND state = $3 AND upload_owner = $4",
    )
    .bind(now())
    .bind(guid)
    .bind(PackageState::ProcessingUpload)
    .bind(owner)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// PROCESSING_UPLOAD → READY with the zip's checksums; called once the blob is stored. False
/// when the upload is no longer `owner`'s.
pub async fn finish_upload(
    db: &DbPool,
    guid: &str,
    owner: &str,
    sha1: &str,
    sha256: &str,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE packages SET state = $1, sha1 = $2, sha256 = $3, error = NULL, updated_at = $4, \
         upload_owner = NULL, upload_heartbeat_at = NULL \
         WHERE guid = $5 AND state = $6 AND upload_owner = $7",
    )
    .bind(PackageState::Ready)
    .bind(sha1)
    .bind(sha256)
    .bind(now())
    .bind(guid)
    .bind(PackageState::ProcessingUpload)
    .bind(owner)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// PROCESSING_UPLOAD → FAILED with the reason shown to the client, if the upload is still
/// `owner`'s.
pub async fn fail_upload(db: &DbPool, guid: &str, owner: &str, error: &str) -> DbResult<()> {
    sqlx::query(
        "UPDATE packages SET state = $1, error = $2, updated_at = $3, upload_owner = NULL, \
         upload_heartbeat_at = NULL WHERE guid = $4 AND state = $5 AND upload_owner = $6",
    )
    .bind(PackageState::Failed)
    .bind(error)
    .bind(now())
    .bind(guid)
    .bind(PackageState::ProcessingUpload)
    .bind(owner)
    .execute(db)
    .await?;
    Ok(())
}

/// PROCESSING_UPLOAD → AWAITING_UPLOAD for up to `limit` packages whose upload heartbeat is
/// older than `cutoff`: the node storing their bits died. The client may then upload again; the
/// blob the dead upload may have left is unreachable (the package is not READY) and the next
/// upload overwrites it. The stale heartbeat is checked again as each row is updated, so a
/// heartbeat renewed meanwhile wins, and nodes sweeping at once reset each package once.
/// Rows without a heartbeat (made before it existed) count from their last change.
pub async fn reset_stalled_uploads(db: &DbPool, cutoff: &str, limit: i64) -> DbResult<Vec<String>> {
    const STALLED: &str =
        "state = $2 AND COALESCE(upload_heartbeat_at, updated_at, created_at) < $3";
    let reset: Vec<(String,)> = sqlx::query_as(&format!(
        "UPDATE packages SET state = $1, upload_owner = NULL, upload_heartbeat_at = NULL, \
         updated_at = $4 \
         WHERE guid IN (SELECT guid FROM packages WHERE {STALLED} LIMIT $5) AND {STALLED} \
         RETURNING guid"
    ))
    .bind(PackageState::AwaitingUpload)
    .bind(PackageState::ProcessingUpload)
    .bind(cutoff)
    .bind(now())
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(reset.into_iter().map(|(guid,)| guid).collect())
}

/// Deletes the row; false when it was already gone.
pub async fn delete(db: &DbPool, guid: &str) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM packages WHERE guid = $1")
        .bind(guid)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
