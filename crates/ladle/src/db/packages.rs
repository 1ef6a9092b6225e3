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

/// AWAITING_UPLOAD → PROCESSING_UPLOAD. False when the package was no longer awaiting bits
/// (another upload got there first).
pub async fn start_processing_upload(db: &DbPool, guid: &str) -> DbResult<bool> {
    transition(
        db,
        guid,
        PackageState::AwaitingUpload,
        PackageState::ProcessingUpload,
    )
    .await
}

/// PROCESSING_UPLOAD → READY with the zip's checksums; called once the blob is stored.
pub async fn finish_upload(db: &DbPool, guid: &str, sha1: &str, sha256: &str) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE packages SET state = $1, sha1 = $2, sha256 = $3, error = NULL, updated_at = $4 \
         WHERE guid = $5 AND state = $6",
    )
    .bind(PackageState::Ready)
    .bind(sha1)
    .bind(sha256)
    .bind(now())
    .bind(guid)
    .bind(PackageState::ProcessingUpload)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// PROCESSING_UPLOAD → FAILED with the reason shown to the client.
pub async fn fail_upload(db: &DbPool, guid: &str, error: &str) -> DbResult<()> {
    sqlx::query(
        "UPDATE packages SET state = $1, error = $2, updated_at = $3 WHERE guid = $4 AND state = $5",
    )
    .bind(PackageState::Failed)
    .bind(error)
    .bind(now())
    .bind(guid)
    .bind(PackageState::ProcessingUpload)
    .execute(db)
    .await?;
    Ok(())
}

async fn transition(
    db: &DbPool,
    guid: &str,
    from: PackageState,
    to: PackageState,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE packages SET state = $1, updated_at = $2 WHERE guid = $3 AND state = $4",
    )
    .bind(to)
    .bind(now())
    .bind(guid)
    .bind(from)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the row; false when it was already gone.
pub async fn delete(db: &DbPool, guid: &str) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM packages WHERE guid = $1")
        .bind(guid)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
