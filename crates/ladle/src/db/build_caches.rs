//! The `app_build_caches` table: which apps have a build-artifacts cache in the blobstore.

use super::{DbPool, DbResult};

pub async fn find(db: &DbPool, app_guid: &str) -> DbResult<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT sha256 FROM app_build_caches WHERE app_guid = $1")
            .bind(app_guid)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(sha,)| sha))
}

/// Records the app's cache inside the caller's transaction (with its droplet's STAGED state).
pub async fn upsert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    app_guid: &str,
    sha256: &str,
) -> DbResult<()> {
    let now = super::now();
    sqlx::query(
        "INSERT INTO app_build_caches (app_guid, sha256, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (app_guid) DO UPDATE SET sha256 = $2, updated_at = $3",
    )
    .bind(app_guid)
    .bind(sha256)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete(db: &DbPool, app_guid: &str) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM app_build_caches WHERE app_guid = $1")
        .bind(app_guid)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}
