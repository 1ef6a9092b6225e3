//! The `spaces` table.

use super::query::{fetch_page, Where};
use super::{DbPool, DbResult};
use crate::domain::{Guid, Page};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SpaceRecord {
    pub guid: Guid,
    pub name: String,
    pub organization_guid: Guid,
    pub created_at: String,
    pub updated_at: Option<String>,
}

pub async fn insert(db: &DbPool, space: &SpaceRecord) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO spaces (guid, name, organization_guid, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&space.guid)
    .bind(&space.name)
    .bind(&space.organization_guid)
    .bind(&space.created_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn find(db: &DbPool, guid: &str) -> DbResult<Option<SpaceRecord>> {
    sqlx::query_as("SELECT * FROM spaces WHERE guid = $1")
        .bind(guid)
        .fetch_optional(db)
        .await
}

pub async fn list(db: &DbPool, filter: &Where, page: &Page) -> DbResult<(Vec<SpaceRecord>, u64)> {
    fetch_page(db, "spaces", filter, page).await
}

/// What deleting a space found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Yes,
    HasApps,
}

/// Deletes the space and the space roles in it, together, unless it still has apps. The
/// foreign key from apps catches an app created between the count and the delete.
pub async fn delete_if_empty(db: &DbPool, guid: &str) -> DbResult<Deleted> {
    let mut tx = db.begin().await?;
    let (apps,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM apps WHERE space_guid = $1")
        .bind(guid)
        .fetch_one(&mut *tx)
        .await?;
    if apps > 0 {
        return Ok(Deleted::HasApps);
    }
    sqlx::query("DELETE FROM roles WHERE space_guid = $1")
        .bind(guid)
        .execute(&mut *tx)
        .await?;
    let deleted = sqlx::query("DELETE FROM spaces WHERE guid = $1")
        .bind(guid)
        .execute(&mut *tx)
        .await;
    match deleted {
        Err(sqlx::Error::Database(err)) if err.is_foreign_key_violation() => Ok(Deleted::HasApps),
        Err(err) => Err(err),
        Ok(_) => {
            tx.commit().await?;
            Ok(Deleted::Yes)
        }
    }
}
