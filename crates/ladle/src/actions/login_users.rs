//! Users who log in with a password: `ladle users create`, and the subset of UAA's user
//! management (SCIM) that admin tools use. A login user is also a CF user with the same guid,
//! so the roles given to that guid apply to the tokens it gets.

use crate::auth::{password, User};
use crate::db::login_users::{self, LoginUserRecord};
use crate::db::{self, DbPool};
use crate::messages::scim_user::{PasswordChange, ScimUserCreate};

#[derive(Debug, thiserror::Error)]
pub enum LoginUserError {
    #[error("Access is denied")]
    NotAuthorized,
    #[error("Not permitted to change another user's password")]
    OthersPassword,
    #[error("User {0} does not exist")]
    NotFound(String),
    #[error("Username already in use: {0}")]
    UsernameTaken(String),
    #[error("Old password is incorrect")]
    OldPasswordIncorrect,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A new login user (and CF user). `admin` grants `cloud_controller.admin` and UAA's admin
/// scopes on login. Hashing runs off the async workers.
#[tracing::instrument(skip_all, fields(username = %input.username))]
pub async fn create(
    db: &DbPool,
    input: ScimUserCreate,
    admin: bool,
) -> Result<LoginUserRecord, LoginUserError> {
    let secret = input.password;
    let password_hash = tokio::task::spawn_blocking(move || password::hash(&secret))
        .await
        .expect("hashing does not panic");
    let now = db::now();
    let record = LoginUserRecord {
        user_guid: db::new_guid().to_string(),
        username: input.username,
        email: input.email,
        password_hash,
        admin: i64::from(admin),
        created_at: now.clone(),
        updated_at: None,
        password_changed_at: now,
    };
    match login_users::insert(db, &record).await {
        Ok(()) => Ok(record),
        Err(err) if db::is_unique_violation(&err) => {
            Err(LoginUserError::UsernameTaken(record.username))
        }
        Err(err) => Err(err.into()),
    }
}

/// `POST /Users`: needs `scim.write` (or `uaa.admin`).
pub async fn create_as(
    db: &DbPool,
    caller: &User,
    input: ScimUserCreate,
) -> Result<LoginUserRecord, LoginUserError> {
    if !caller.scopes.scim_write {
        return Err(LoginUserError::NotAuthorized);
    }
    create(db, input, false).await
}

/// `GET /Users`: needs `scim.read` (or `uaa.admin`).
pub async fn list(
    db: &DbPool,
    caller: &User,
    username: Option<&str>,
) -> Result<Vec<LoginUserRecord>, LoginUserError> {
    if !caller.scopes.scim_read {
        return Err(LoginUserError::NotAuthorized);
    }
    Ok(login_users::list(db, username).await?)
}

/// `DELETE /Users/:id`: needs `scim.write`. Deletes the user's roles and CF user too; its
/// refresh tokens stop working at once (the refresh grant looks the user up).
pub async fn delete(
    db: &DbPool,
    caller: &User,
    user_guid: &str,
) -> Result<LoginUserRecord, LoginUserError> {
    if !caller.scopes.scim_write {
        return Err(LoginUserError::NotAuthorized);
    }
    let user = login_users::find(db, user_guid)
        .await?
        .ok_or_else(|| LoginUserError::NotFound(user_guid.to_string()))?;
    login_users::delete(db, user_guid).await?;
    Ok(user)
}

/// `PUT /Users/:id/password`: a user changes its own password by giving the old one; a caller
/// with `scim.write` sets anyone's without it. Refresh tokens issued before stop working.
pub async fn change_password(
    db: &DbPool,
    caller: &User,
    user_guid: &str,
    change: PasswordChange,
) -> Result<(), LoginUserError> {
    let is_self = caller.guid == user_guid;
    if !is_self && !caller.scopes.scim_write {
        return Err(if caller.scopes.scim_read {
            LoginUserError::OthersPassword
        } else {
            LoginUserError::NotAuthorized
        });
    }
    let user = login_users::find(db, user_guid)
        .await?
        .ok_or_else(|| LoginUserError::NotFound(user_guid.to_string()))?;
    let must_prove = is_self && !caller.scopes.scim_write;
    let stored = user.password_hash;
    let new_password = change.password;
    let old_password = change.old_password;
    let new_hash = tokio::task::spawn_blocking(move || {
        let proven = match old_password {
            Some(old) => password::verify(&old, &stored),
            None => false,
        };
        (!must_prove || proven).then(|| password::hash(&new_password))
    })
    .await
    .expect("hashing does not panic")
    .ok_or(LoginUserError::OldPasswordIncorrect)?;
    login_users::set_password(db, user_guid, &new_hash, &db::now()).await?;
    Ok(())
}
