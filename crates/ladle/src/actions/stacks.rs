//! Stack verbs: every reader sees every stack; only admins create and delete them, and the
//! configured default stack stays.

use crate::auth::User;
use crate::db::stacks::{self, StackRecord};
use crate::db::{self, DbPool};
use crate::messages::stack_create::StackCreate;

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("not found")]
    NotFound,
    #[error("not authorized")]
    NotAuthorized,
    #[error("Name must be unique")]
    NameTaken,
    #[error("The default stack cannot be deleted.")]
    DefaultStack,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub async fn find(db: &DbPool, guid: &str) -> Result<StackRecord, StackError> {
    stacks::find(db, guid).await?.ok_or(StackError::NotFound)
}

#[tracing::instrument(skip_all, fields(name = %input.name))]
pub async fn create(
    db: &DbPool,
    user: &User,
    input: StackCreate,
) -> Result<StackRecord, StackError> {
    if !user.is_admin() {
        return Err(StackError::NotAuthorized);
    }
    let stack = StackRecord {
        guid: db::new_guid(),
        name: input.name.into_string(),
        description: input.description,
        rootfs: input.rootfs,
        created_at: db::now(),
        updated_at: None,
    };
    stacks::insert(db, &stack).await.map_err(|err| {
        if db::is_unique_violation(&err) {
            StackError::NameTaken
        } else {
            err.into()
        }
    })?;
    Ok(stack)
}

#[tracing::instrument(skip_all, fields(stack_guid = %guid))]
pub async fn delete(
    db: &DbPool,
    user: &User,
    guid: &str,
    default_stack: &str,
) -> Result<(), StackError> {
    let stack = find(db, guid).await?;
    if !user.is_admin() {
        return Err(StackError::NotAuthorized);
    }
    if stack.name == default_stack {
        return Err(StackError::DefaultStack);
    }
    stacks::delete(db, &stack.guid).await?;
    Ok(())
}
