//! Space verbs: create (admin or a manager of the organization), delete (only when it has no
//! apps), and the read check other resources use.

use crate::auth::{permissions, User};
use crate::db::organizations;
use crate::db::spaces::{self, SpaceRecord};
use crate::db::{self, DbPool};
use crate::messages::space_create::SpaceCreate;

#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    #[error("not found")]
    NotFound,
    #[error("not authorized")]
    NotAuthorized,
    #[error("Invalid organization. Ensure the organization exists and you have access to it.")]
    InvalidOrganization,
    #[error("Name must be unique per organization")]
    NameTaken,
    #[error("Space has apps; delete them first")]
    HasApps,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The space, if it exists and the caller can read it (admin and global readers, any space role
/// in it, or manager of its organization); otherwise `NotFound`, so that unreadable spaces are
/// indistinguishable from missing ones.
pub async fn find_readable(
    db: &DbPool,
    user: &User,
    guid: &str,
) -> Result<SpaceRecord, SpaceError> {
    let space = spaces::find(db, guid).await?.ok_or(SpaceError::NotFound)?;
    if permissions::space_access(db, user, &space.guid).await?.read {
        Ok(space)
    } else {
        Err(SpaceError::NotFound)
    }
}

async fn org_is_readable(db: &DbPool, user: &User, org_guid: &str) -> Result<bool, SpaceError> {
    if organizations::find(db, org_guid).await?.is_none() {
        return Ok(false);
    }
    Ok(permissions::readable_orgs(db, user)
        .await?
        .contains(org_guid))
}

#[tracing::instrument(skip_all, fields(name = %input.name, org_guid = %input.organization_guid))]
pub async fn create(
    db: &DbPool,
    user: &User,
    input: SpaceCreate,
) -> Result<SpaceRecord, SpaceError> {
    if !org_is_readable(db, user, &input.organization_guid).await? {
        return Err(SpaceError::InvalidOrganization);
    }
    if !permissions::manages_org(db, user, &input.organization_guid).await? {
        return Err(SpaceError::NotAuthorized);
    }
    let space = SpaceRecord {
        guid: db::new_guid(),
        name: input.name.into_string(),
        organization_guid: input.organization_guid,
        created_at: db::now(),
        updated_at: None,
    };
    spaces::insert(db, &space).await.map_err(|err| {
        if db::is_unique_violation(&err) {
            SpaceError::NameTaken
        } else {
            err.into()
        }
    })?;
    Ok(space)
}

#[tracing::instrument(skip_all, fields(space_guid = %guid))]
pub async fn delete(db: &DbPool, user: &User, guid: &str) -> Result<(), SpaceError> {
    let space = find_readable(db, user, guid).await?;
    if !permissions::manages_org(db, user, &space.organization_guid).await? {
        return Err(SpaceError::NotAuthorized);
    }
    match spaces::delete_if_empty(db, &space.guid).await? {
        spaces::Deleted::Yes => Ok(()),
        spaces::Deleted::HasApps => Err(SpaceError::HasApps),
    }
}
