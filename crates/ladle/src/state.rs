//! What every handler shares: database, blobstore, token keys, configuration, links.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::auth::{TokenKeys, User};
use crate::blobstore::Blobstore;
use crate::config::Config;
use crate::db::readers::Readers;
use crate::db::{self, DbPool, DbResult};
use crate::presenters::Links;

#[derive(Clone)]
pub struct AppState {
    pub db: DbPool,
    /// The hottest reads' connections (`db::readers`): the pool on PostgreSQL.
    pub readers: Readers,
    pub blobs: Blobstore,
    pub tokens: Arc<TokenKeys>,
    pub config: Arc<Config>,
    pub links: Links,
    pub users_seen: Arc<UsersSeen>,
    /// Wakes this node's staging slots when a staging job is enqueued here.
    pub staging_wakeup: Arc<tokio::sync::Notify>,
    /// Wakes this node's staging log readers when lines are stored or a staging ends here.
    pub staging_log_appended: Arc<tokio::sync::Notify>,
}

/// Users already recorded, so that only the first request of each user writes to the database.
#[derive(Default)]
pub struct UsersSeen {
    seen: Mutex<HashSet<String>>,
}

impl UsersSeen {
    pub async fn record(&self, db: &DbPool, user: &User) -> DbResult<()> {
        if self
            .seen
            .lock()
            .expect("users cache poisoned")
            .contains(&user.guid)
        {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO users (guid, username, email, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (guid) DO NOTHING",
        )
        .bind(&user.guid)
        .bind(user.username.clone())
        .bind(user.email.clone())
        .bind(db::now())
        .execute(db)
        .await?;
        self.seen
            .lock()
            .expect("users cache poisoned")
            .insert(user.guid.clone());
        Ok(())
    }

    /// After a user is deleted on this node. (Another API node notices only after a restart;
    /// until then a deleted user's requests do not recreate the row.)
    pub fn forget(&self, user_guid: &str) {
        self.seen
            .lock()
            .expect("users cache poisoned")
            .remove(user_guid);
    }
}
