//! `ladle clients create`: confidential OAuth clients for the client_credentials grant (CI
//! systems). Their secrets are stored as argon2id hashes.

use crate::auth::password;
use crate::db::oauth_clients::{self, OauthClientRecord};
use crate::db::{self, DbPool};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("client {0:?} already exists")]
    Taken(String),
    #[error("the client id {0:?} is reserved for the CF CLI")]
    Reserved(String),
    #[error(
        "a client id must be 1 to 255 characters without whitespace, control characters or ':'"
    )]
    BadId,
    #[error("a client secret must not be empty")]
    EmptySecret,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub async fn create(
    db: &DbPool,
    client_id: &str,
    secret: String,
    scopes: Vec<String>,
) -> Result<OauthClientRecord, ClientError> {
    if client_id == crate::actions::oauth_token::CF_CLIENT {
        return Err(ClientError::Reserved(client_id.into()));
    }
    let chars = client_id.chars().count();
    // A ':' would make HTTP Basic credentials ambiguous.
    if chars == 0
        || chars > 255
        || client_id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ':')
    {
        return Err(ClientError::BadId);
    }
    if secret.is_empty() {
        return Err(ClientError::EmptySecret);
    }
    let secret_hash = tokio::task::spawn_blocking(move || password::hash(&secret))
        .await
        .expect("hashing does not panic");
    let record = OauthClientRecord {
        client_id: client_id.into(),
        secret_hash,
        scopes: db::json_text(&scopes),
        created_at: db::now(),
    };
    match oauth_clients::insert(db, &record).await {
        Ok(()) => Ok(record),
        Err(err) if db::is_unique_violation(&err) => Err(ClientError::Taken(client_id.into())),
        Err(err) => Err(err.into()),
    }
}
