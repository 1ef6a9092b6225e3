//! The `organizations` table.

use super::query::{fetch_page, Where};
use super::{DbPool, DbResult};
use crate::domain::{Guid, Page};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrganizationRecord {
    pub guid: Guid,
    pub name: String,
    /// 0 or 1.
    pub suspended: i64,
    pub created_at: String,
    pub updated_at: Option<String>,
}

pub async fn insert(db: &DbPool, org: &OrganizationRecord) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO organizations (guid, name, suspended, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&org.guid)
    .bind(&org.name)
    .bind(org.suspended)
    .bind(&org.created_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn find(db: &DbPool, guid: &str) -> DbResult<Option<OrganizationRecord>> {
    sqlx::query_as("SELECT * FROM organizations WHERE guid = $1")
        .bind(guid)
        .fetch_optional(db)
        .await
}

pub async fn list(
    db: &DbPool,
    filter: &Where,
    page: &Page,
) -> DbResult<(Vec<OrganizationRecord>, u64)> {
    fetch_page(db, "organizations", filter, page).await
}

pub async fn count_spaces(db: &DbPool, guid: &str) -> DbResult<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM spaces WHERE organization_guid = $1")
        .bind(guid)
        .fetch_one(db)
        .await?;
    Ok(n)
}

/// Deletes the organization and the org-level roles in it.
pub async fn delete(db: &DbPool, guid: &str) -> DbResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM roles WHERE organization_guid = $1")
        .bind(guid)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM organizations WHERE guid = $1")
        .bind(guid)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
