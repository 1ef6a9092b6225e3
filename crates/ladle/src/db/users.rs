//! The `users` table. Rows appear on a token's first request (`state::UsersSeen`) or through
//! `POST /v3/users`.

use super::query::{fetch_page, Where};
use super::{DbPool, DbResult};
use crate::domain::{Guid, Page};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub guid: Guid,
    pub username: Option<String>,
    pub email: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

impl UserRecord {
    /// The name CC shows for a user: the username when known, else the guid.
    pub fn presentation_name(&self) -> &str {
        self.username.as_deref().unwrap_or(&self.guid)
    }
}

pub async fn insert(db: &DbPool, user: &UserRecord) -> DbResult<()> {
    sqlx::query("INSERT INTO users (guid, username, email, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&user.guid)
        .bind(user.username.clone())
        .bind(user.email.clone())
        .bind(&user.created_at)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn find(db: &DbPool, guid: &str) -> DbResult<Option<UserRecord>> {
    sqlx::query_as("SELECT * FROM users WHERE guid = $1")
        .bind(guid)
        .fetch_optional(db)
        .await
}

pub async fn list(db: &DbPool, filter: &Where, page: &Page) -> DbResult<(Vec<UserRecord>, u64)> {
    fetch_page(db, "users", filter, page).await
}

/// Users who hold a role in an organization `user_guid` holds a role in (directly or through
/// one of its spaces), plus `user_guid` itself.
pub async fn sharing_an_org_with(db: &DbPool, user_guid: &str) -> DbResult<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "WITH role_orgs AS ( \
           SELECT r.user_guid, COALESCE(r.organization_guid, s.organization_guid) AS org_guid \
           FROM roles r LEFT JOIN spaces s ON s.guid = r.space_guid) \
         SELECT DISTINCT other.user_guid FROM role_orgs mine \
         JOIN role_orgs other ON other.org_guid = mine.org_guid \
         WHERE mine.user_guid = $1 \
         UNION SELECT $1",
    )
    .bind(user_guid)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(g,)| g).collect())
}

/// Deletes the user and every role it holds, together.
pub async fn delete(db: &DbPool, guid: &str) -> DbResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM roles WHERE user_guid = $1")
        .bind(guid)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM users WHERE guid = $1")
        .bind(guid)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
