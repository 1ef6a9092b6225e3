//! The `login_users` table: users who log in with a password. Each has a `users` row with the
//! same guid, which CF roles refer to; both are written and deleted together.

use super::{DbPool, DbResult};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoginUserRecord {
    pub user_guid: String,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    /// 0 or 1 (sqlx's Any driver reads no SQLite booleans).
    pub admin: i64,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub password_changed_at: String,
}

impl LoginUserRecord {
    pub fn is_admin(&self) -> bool {
        self.admin != 0
    }
}

/// Inserts the login user and its `users` row in one transaction. A taken user name is a unique
/// violation (`db::is_unique_violation`).
pub async fn insert(db: &DbPool, user: &LoginUserRecord) -> DbResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO login_users (user_guid, username, email, password_hash, admin, created_at, \
         password_changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&user.user_guid)
    .bind(&user.username)
    .bind(user.email.clone())
    .bind(&user.password_hash)
    .bind(user.admin)
    .bind(&user.created_at)
    .bind(&user.password_changed_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO users (guid, username, email, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (guid) DO NOTHING",
    )
    .bind(&user.user_guid)
    .bind(&user.username)
    .bind(user.email.clone())
    .bind(&user.created_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

pub async fn find(db: &DbPool, user_guid: &str) -> DbResult<Option<LoginUserRecord>> {
    sqlx::query_as("SELECT * FROM login_users WHERE user_guid = $1")
        .bind(user_guid)
        .fetch_optional(db)
        .await
}

pub async fn find_by_username(db: &DbPool, username: &str) -> DbResult<Option<LoginUserRecord>> {
    sqlx::query_as("SELECT * FROM login_users WHERE username = $1")
        .bind(username)
        .fetch_optional(db)
        .await
}

/// Every login user, or the one with `username`, in creation order.
pub async fn list(db: &DbPool, username: Option<&str>) -> DbResult<Vec<LoginUserRecord>> {
    match username {
        Some(name) => {
            sqlx::query_as(
                "SELECT * FROM login_users WHERE username = $1 ORDER BY created_at, user_guid",
            )
            .bind(name)
            .fetch_all(db)
            .await
        }
        None => {
            sqlx::query_as("SELECT * FROM login_users ORDER BY created_at, user_guid")
                .fetch_all(db)
                .await
        }
    }
}

pub async fn set_password(
    db: &DbPool,
    user_guid: &str,
    password_hash: &str,
    at: &str,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE login_users SET password_hash = $1, password_changed_at = $2, updated_at = $2 \
         WHERE user_guid = $3",
    )
    .bind(password_hash)
    .bind(at)
    .bind(user_guid)
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes the login user, its roles and its `users` row together. False when there was none.
pub async fn delete(db: &DbPool, user_guid: &str) -> DbResult<bool> {
    let mut tx = db.begin().await?;
    let deleted = sqlx::query("DELETE FROM login_users WHERE user_guid = $1")
        .bind(user_guid)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM roles WHERE user_guid = $1")
        .bind(user_guid)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM users WHERE guid = $1")
        .bind(user_guid)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(deleted > 0)
}
