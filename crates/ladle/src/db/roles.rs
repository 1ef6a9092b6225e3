//! The `roles` table. Organization roles carry `organization_guid` and no space; space roles
//! carry `space_guid` and no organization (as CC shows them).

use super::query::{fetch_page, Where};
use super::{DbPool, DbResult};
use crate::domain::{Guid, Page};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoleRecord {
    pub guid: Guid,
    pub role_type: String,
    pub user_guid: Guid,
    pub organization_guid: Option<Guid>,
    pub space_guid: Option<Guid>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

/// The column a role's target lives in, for `Where::any_of`: the space for space roles, the
/// organization for organization roles. Guids never collide across the two.
pub const TARGET_COLUMN: &str = "COALESCE(space_guid, organization_guid)";

/// Inserts the role; a duplicate is a unique violation (see migration 0002).
pub async fn insert(db: &DbPool, role: &RoleRecord) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO roles (guid, role_type, user_guid, organization_guid, space_guid, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&role.guid)
    .bind(&role.role_type)
    .bind(&role.user_guid)
    .bind(role.organization_guid.clone())
    .bind(role.space_guid.clone())
    .bind(&role.created_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn find(db: &DbPool, guid: &str) -> DbResult<Option<RoleRecord>> {
    sqlx::query_as("SELECT * FROM roles WHERE guid = $1")
        .bind(guid)
        .fetch_optional(db)
        .await
}

pub async fn list(db: &DbPool, filter: &Where, page: &Page) -> DbResult<(Vec<RoleRecord>, u64)> {
    fetch_page(db, "roles", filter, page).await
}

/// True when the user holds any organization role in the organization.
pub async fn has_org_role(db: &DbPool, user_guid: &str, org_guid: &str) -> DbResult<bool> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM roles WHERE user_guid = $1 AND organization_guid = $2 \
         AND space_guid IS NULL",
    )
    .bind(user_guid)
    .bind(org_guid)
    .fetch_one(db)
    .await?;
    Ok(n > 0)
}

/// True when the user holds this space role in the space.
pub async fn has_space_role(
    db: &DbPool,
    user_guid: &str,
    space_guid: &str,
    role_type: &str,
) -> DbResult<bool> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM roles WHERE user_guid = $1 AND space_guid = $2 AND role_type = $3",
    )
    .bind(user_guid)
    .bind(space_guid)
    .bind(role_type)
    .fetch_one(db)
    .await?;
    Ok(n > 0)
}

pub async fn delete(db: &DbPool, guid: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM roles WHERE guid = $1")
        .bind(guid)
        .execute(db)
        .await?;
    Ok(())
}
