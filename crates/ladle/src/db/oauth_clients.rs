//! The `oauth_clients` table: confidential clients for the client_credentials grant.

use super::{DbPool, DbResult};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OauthClientRecord {
    pub client_id: String,
    pub secret_hash: String,
    /// JSON list of scopes.
    pub scopes: String,
    pub created_at: String,
}

impl OauthClientRecord {
    pub fn scope_list(&self) -> Vec<String> {
        serde_json::from_str(&self.scopes).unwrap_or_default()
    }
}

/// A taken client id is a unique violation (`db::is_unique_violation`).
pub async fn insert(db: &DbPool, client: &OauthClientRecord) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO oauth_clients (client_id, secret_hash, scopes, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&client.client_id)
    .bind(&client.secret_hash)
    .bind(&client.scopes)
    .bind(&client.created_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn find(db: &DbPool, client_id: &str) -> DbResult<Option<OauthClientRecord>> {
    sqlx::query_as("SELECT * FROM oauth_clients WHERE client_id = $1")
        .bind(client_id)
        .fetch_optional(db)
        .await
}
