//! User verbs. Only admins create and delete users. Everyone sees themselves and the users who
//! hold a role in an organization they also hold a role in (directly or through a space);
//! admins and global readers see every user.

use crate::auth::{permissions, User};
use crate::db::users::{self, UserRecord};
use crate::db::{self, DbPool};
use crate::messages::user_create::UserCreate;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("not found")]
    NotFound,
    #[error("not authorized")]
    NotAuthorized,
    #[error("User with guid '{0}' already exists.")]
    AlreadyExists(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The user, if it exists and the caller may see it.
pub async fn find_readable(db: &DbPool, user: &User, guid: &str) -> Result<UserRecord, UserError> {
    let found = users::find(db, guid).await?.ok_or(UserError::NotFound)?;
    if permissions::visible_users(db, user)
        .await?
        .contains(&found.guid)
    {
        Ok(found)
    } else {
        Err(UserError::NotFound)
    }
}

/// Records a user by its token `user_id`. A user already recorded from its own token counts as
/// existing, as in CC.
#[tracing::instrument(skip_all, fields(user_guid = %input.guid))]
pub async fn create(db: &DbPool, user: &User, input: UserCreate) -> Result<UserRecord, UserError> {
    if !user.is_admin() {
        return Err(UserError::NotAuthorized);
    }
    let record = UserRecord {
        guid: input.guid,
        username: None,
        email: None,
        created_at: db::now(),
        updated_at: None,
    };
    users::insert(db, &record).await.map_err(|err| {
        if db::is_unique_violation(&err) {
            UserError::AlreadyExists(record.guid.to_string())
        } else {
            err.into()
        }
    })?;
    Ok(record)
}

/// Removes the user and every role it holds.
#[tracing::instrument(skip_all, fields(user_guid = %guid))]
pub async fn delete(db: &DbPool, user: &User, guid: &str) -> Result<(), UserError> {
    let found = find_readable(db, user, guid).await?;
    if !user.is_admin() {
        return Err(UserError::NotAuthorized);
    }
    users::delete(db, &found.guid).await?;
    Ok(())
}
