//! Role verbs. Admins give and take any role; organization managers the roles of their
//! organization and of its spaces; space managers the roles of their space. A role is visible
//! to whoever can read its organization (organization roles) or its space (space roles).

use crate::auth::{permissions, User};
use crate::db::organizations::{self, OrganizationRecord};
use crate::db::roles::{self, RoleRecord};
use crate::db::spaces::{self, SpaceRecord};
use crate::db::users::{self, UserRecord};
use crate::db::{self, DbPool, DbResult};
use crate::domain::RoleType;
use crate::messages::role_create::{RoleCreate, RoleTarget};

#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    #[error("not found")]
    NotFound,
    #[error("not authorized")]
    NotAuthorized,
    #[error(
        "Invalid organization. Ensure that the organization exists and you have access to it."
    )]
    InvalidOrganization,
    #[error("Invalid space. Ensure that the space exists and you have access to it.")]
    InvalidSpace,
    #[error("Invalid user. Ensure that the user exists and you have access to it.")]
    InvalidUser,
    #[error("Users cannot be assigned roles in a space if they do not have a role in that space's organization.")]
    NotInOrganization,
    #[error("User '{user}' already has '{role_type}' role in {kind} '{target}'.")]
    Duplicate {
        user: String,
        role_type: RoleType,
        kind: &'static str,
        target: String,
    },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// What a new role is given in, once found and checked.
enum Target {
    Organization(OrganizationRecord),
    Space(SpaceRecord),
}

impl Target {
    fn kind(&self) -> &'static str {
        match self {
            Target::Organization(_) => "organization",
            Target::Space(_) => "space",
        }
    }

    fn name(&self) -> &str {
        match self {
            Target::Organization(org) => &org.name,
            Target::Space(space) => &space.name,
        }
    }
}

#[tracing::instrument(skip_all, fields(role_type = %input.role_type, user_guid = %input.user_guid))]
pub async fn create(db: &DbPool, user: &User, input: RoleCreate) -> Result<RoleRecord, RoleError> {
    let target = find_target(db, user, &input.target).await?;
    let grantee = users::find(db, &input.user_guid)
        .await?
        .ok_or(RoleError::InvalidUser)?;
    if let Target::Space(space) = &target {
        if !roles::has_org_role(db, &grantee.guid, &space.organization_guid).await? {
            return Err(RoleError::NotInOrganization);
        }
    }
    let (organization_guid, space_guid) = match &target {
        Target::Organization(org) => (Some(org.guid.clone()), None),
        Target::Space(space) => (None, Some(space.guid.clone())),
    };
    let role = RoleRecord {
        guid: db::new_guid(),
        role_type: input.role_type.as_str().to_string(),
        user_guid: grantee.guid.clone(),
        organization_guid,
        space_guid,
        created_at: db::now(),
        updated_at: None,
    };
    roles::insert(db, &role).await.map_err(|err| {
        if db::is_unique_violation(&err) {
            duplicate(&grantee, input.role_type, &target)
        } else {
            err.into()
        }
    })?;
    Ok(role)
}

fn duplicate(grantee: &UserRecord, role_type: RoleType, target: &Target) -> RoleError {
    RoleError::Duplicate {
        user: grantee.presentation_name().to_string(),
        role_type,
        kind: target.kind(),
        target: target.name().to_string(),
    }
}

/// The organization or space named in the body: 422 when missing or unreadable, 403 when
/// readable but the caller may not give roles in it.
async fn find_target(db: &DbPool, user: &User, target: &RoleTarget) -> Result<Target, RoleError> {
    match target {
        RoleTarget::Organization(guid) => {
            let org = organizations::find(db, guid)
                .await?
                .ok_or(RoleError::InvalidOrganization)?;
            if !org_is_readable(db, user, &org.guid).await? {
                return Err(RoleError::InvalidOrganization);
            }
            if !permissions::manages_org(db, user, &org.guid).await? {
                return Err(RoleError::NotAuthorized);
            }
            Ok(Target::Organization(org))
        }
        RoleTarget::Space(guid) => {
            let space = spaces::find(db, guid)
                .await?
                .ok_or(RoleError::InvalidSpace)?;
            if !permissions::space_access(db, user, &space.guid).await?.read {
                return Err(RoleError::InvalidSpace);
            }
            if !manages_space(db, user, &space).await? {
                return Err(RoleError::NotAuthorized);
            }
            Ok(Target::Space(space))
        }
    }
}

async fn org_is_readable(db: &DbPool, user: &User, org_guid: &str) -> DbResult<bool> {
    Ok(permissions::readable_orgs(db, user)
        .await?
        .contains(org_guid))
}

async fn manages_space(db: &DbPool, user: &User, space: &SpaceRecord) -> DbResult<bool> {
    if permissions::manages_org(db, user, &space.organization_guid).await? {
        return Ok(true);
    }
    let manager = RoleType::SpaceManager.as_str();
    roles::has_space_role(db, &user.guid, &space.guid, manager).await
}

/// The role, if it exists and the caller can read its organization or space.
pub async fn find_readable(db: &DbPool, user: &User, guid: &str) -> Result<RoleRecord, RoleError> {
    let role = roles::find(db, guid).await?.ok_or(RoleError::NotFound)?;
    let readable = match (&role.space_guid, &role.organization_guid) {
        (Some(space), _) => permissions::space_access(db, user, space).await?.read,
        (None, Some(org)) => org_is_readable(db, user, org).await?,
        (None, None) => user.scopes.reads_everything(),
    };
    if readable {
        Ok(role)
    } else {
        Err(RoleError::NotFound)
    }
}

/// Takes a role away; the same people who may give it may take it.
#[tracing::instrument(skip_all, fields(role_guid = %guid))]
pub async fn delete(db: &DbPool, user: &User, guid: &str) -> Result<(), RoleError> {
    let role = find_readable(db, user, guid).await?;
    let allowed = match (&role.space_guid, &role.organization_guid) {
        (Some(space_guid), _) => match spaces::find(db, space_guid).await? {
            Some(space) => manages_space(db, user, &space).await?,
            None => user.is_admin(),
        },
        (None, Some(org_guid)) => permissions::manages_org(db, user, org_guid).await?,
        (None, None) => user.is_admin(),
    };
    if !allowed {
        return Err(RoleError::NotAuthorized);
    }
    roles::delete(db, &role.guid).await?;
    Ok(())
}
