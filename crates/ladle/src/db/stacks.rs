//! The `stacks` table.

use super::query::{fetch_page, Where};
use super::{DbPool, DbResult};
use crate::domain::{Guid, Page};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StackRecord {
    pub guid: Guid,
    pub name: String,
    pub description: Option<String>,
    /// Directory on the staging hosts used as the container root; `None` for the default
    /// host-derived root.
    pub rootfs: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

pub async fn insert(db: &DbPool, stack: &StackRecord) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO stacks (guid, name, description, rootfs, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&stack.guid)
    .bind(&stack.name)
    .bind(stack.description.clone())
    .bind(stack.rootfs.clone())
    .bind(&stack.created_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn find(db: &DbPool, guid: &str) -> DbResult<Option<StackRecord>> {
    sqlx::query_as("SELECT * FROM stacks WHERE guid = $1")
        .bind(guid)
        .fetch_optional(db)
        .await
}

pub async fn find_by_name(db: &DbPool, name: &str) -> DbResult<Option<StackRecord>> {
    sqlx::query_as("SELECT * FROM stacks WHERE name = $1")
        .bind(name)
        .fetch_optional(db)
        .await
}

pub async fn list(db: &DbPool, filter: &Where, page: &Page) -> DbResult<(Vec<StackRecord>, u64)> {
    fetch_page(db, "stacks", filter, page).await
}

pub async fn delete(db: &DbPool, guid: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM stacks WHERE guid = $1")
        .bind(guid)
        .execute(db)
        .await?;
    Ok(())
}
