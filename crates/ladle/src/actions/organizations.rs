//! Organization verbs: create (admin only, as CC with `user_org_creation` off), delete (only
//! when empty), and the read check.

use crate::auth::{permissions, User};
use crate::db::organizations::{self, OrganizationRecord};
use crate::db::{self, DbPool};
use crate::messages::organization_create::OrganizationCreate;

#[derive(Debug, thiserror::Error)]
pub enum OrganizationError {
    #[error("not found")]
    NotFound,
    #[error("not authorized")]
    NotAuthorized,
    #[error("Organization '{0}' already exists.")]
    NameTaken(String),
    #[error("Organization '{0}' has spaces; delete them first.")]
    NotEmpty(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[tracing::instrument(skip_all, fields(name = %input.name))]
pub async fn create(
    db: &DbPool,
    user: &User,
    input: OrganizationCreate,
) -> Result<OrganizationRecord, OrganizationError> {
    if !user.is_admin() {
        return Err(OrganizationError::NotAuthorized);
    }
    let org = OrganizationRecord {
        guid: db::new_guid(),
        name: input.name.into_string(),
        suspended: 0,
        created_at: db::now(),
        updated_at: None,
    };
    organizations::insert(db, &org).await.map_err(|err| {
        if db::is_unique_violation(&err) {
            OrganizationError::NameTaken(org.name.clone())
        } else {
            err.into()
        }
    })?;
    Ok(org)
}

/// The organization, if it exists and the caller can see it.
pub async fn find_readable(
    db: &DbPool,
    user: &User,
    guid: &str,
) -> Result<OrganizationRecord, OrganizationError> {
    let org = organizations::find(db, guid)
        .await?
        .ok_or(OrganizationError::NotFound)?;
    if permissions::readable_orgs(db, user)
        .await?
        .contains(&org.guid)
    {
        Ok(org)
    } else {
        Err(OrganizationError::NotFound)
    }
}

#[tracing::instrument(skip_all, fields(org_guid = %guid))]
pub async fn delete(db: &DbPool, user: &User, guid: &str) -> Result<(), OrganizationError> {
    let org = find_readable(db, user, guid).await?;
    if !user.is_admin() {
        return Err(OrganizationError::NotAuthorized);
    }
    if organizations::count_spaces(db, &org.guid).await? > 0 {
        return Err(OrganizationError::NotEmpty(org.name));
    }
    organizations::delete(db, &org.guid).await?;
    Ok(())
}
