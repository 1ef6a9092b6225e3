//! Droplet verbs: the read check, and (below) what the droplet endpoints do.

use crate::auth::{permissions, Access, User};
use crate::db::droplets::{self, DropletRecord};
use crate::db::{apps, DbPool};

#[derive(Debug, thiserror::Error)]
pub enum DropletError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The droplet and the caller's access to its space; `NotFound` when missing or unreadable.
pub async fn find_readable(db: &DbPool, user: &User, guid: &str) -> Result<(DropletRecord, Access), DropletError> {
    let droplet = droplets::find(db, guid).await?.ok_or(DropletError::NotFound)?;
    let app = apps::find(db, &droplet.app_guid).await?.ok_or(DropletError::NotFound)?;
    let access = permissions::space_access(db, user, &app.space_guid).await?;
    if !access.read {
        return Err(DropletError::NotFound);
    }
    Ok((droplet, access))
}
