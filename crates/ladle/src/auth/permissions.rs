//! Roles and what they allow, as Cloud Controller decides it: a resource the caller cannot read
//! is "not found" (404), one it can read but not change is "not authorized" (403).

use crate::auth::User;
use crate::db::{DbPool, DbResult};
use crate::domain::RoleType;

/// What one user may do with the resources of one space.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Access {
    pub read: bool,
    /// SpaceDeveloper: create, upload, stage, delete.
    pub write: bool,
    /// SpaceDeveloper or SpaceSupporter: builds, start/stop, assign droplets.
    pub manage_apps: bool,
    /// Env vars, package and droplet bits.
    pub read_secrets: bool,
}

impl Access {
    fn everything() -> Self {
        Access {
            read: true,
            write: true,
            manage_apps: true,
            read_secrets: true,
        }
    }

    fn from_roles(roles: &[RoleType]) -> Self {
        let has = |r: RoleType| roles.contains(&r);
        let developer = has(RoleType::SpaceDeveloper);
        Access {
            read: developer
                || has(RoleType::SpaceManager)
                || has(RoleType::SpaceAuditor)
                || has(RoleType::SpaceSupporter)
                || has(RoleType::OrganizationManager),
            write: developer,
            manage_apps: developer || has(RoleType::SpaceSupporter),
            read_secrets: developer,
        }
    }
}

/// The caller's access to a space's resources (apps, packages, droplets, builds).
pub async fn space_access(db: &DbPool, user: &User, space_guid: &str) -> DbResult<Access> {
    if user.scopes.admin {
        return Ok(Access::everything());
    }
    let roles = roles_in_space(db, &user.guid, space_guid).await?;
    Ok(access_with_roles(user, &roles))
}

/// The caller's access given its roles in a space (space roles plus org roles of its org) and
/// its token's scopes.
pub fn access_with_roles(user: &User, roles: &[RoleType]) -> Access {
    if user.scopes.admin {
        return Access::everything();
    }
    let mut access = Access::from_roles(roles);
    if user.scopes.reads_everything() {
        access.read = true;
        access.read_secrets |= user.scopes.reads_all_secrets();
    }
    access
}

/// Space roles in the space plus org roles in its organization.
async fn roles_in_space(db: &DbPool, user_guid: &str, space_guid: &str) -> DbResult<Vec<RoleType>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT role_type FROM roles WHERE user_guid = $1 AND (space_guid = $2 OR \
         (space_guid IS NULL AND organization_guid = (SELECT organization_guid FROM spaces WHERE guid = $2)))",
    )
    .bind(user_guid)
    .bind(space_guid)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().filter_map(|(r,)| r.parse().ok()).collect())
}

/// Roles the user holds directly in an organization.
pub async fn roles_in_org(db: &DbPool, user_guid: &str, org_guid: &str) -> DbResult<Vec<RoleType>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT role_type FROM roles WHERE user_guid = $1 AND organization_guid = $2 AND space_guid IS NULL",
    )
    .bind(user_guid)
    .bind(org_guid)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().filter_map(|(r,)| r.parse().ok()).collect())
}

/// Spaces whose resources the user may see in lists; `None` means every space.
pub async fn readable_space_guids(db: &DbPool, user: &User) -> DbResult<Option<Vec<String>>> {
    if user.scopes.reads_everything() {
        return Ok(None);
    }
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT space_guid FROM roles WHERE user_guid = $1 AND space_guid IS NOT NULL \
           AND role_type IN ('space_developer','space_manager','space_auditor','space_supporter') \
         UNION \
         SELECT s.guid FROM spaces s JOIN roles r ON r.organization_guid = s.organization_guid \
         WHERE r.user_guid = $1 AND r.space_guid IS NULL AND r.role_type = 'organization_manager'",
    )
    .bind(&user.guid)
    .fetch_all(db)
    .await?;
    Ok(Some(rows.into_iter().map(|(g,)| g).collect()))
}

/// Organizations the user may see: any role in the org or in one of its spaces.
pub async fn readable_org_guids(db: &DbPool, user: &User) -> DbResult<Option<Vec<String>>> {
    if user.scopes.reads_everything() {
        return Ok(None);
    }
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT organization_guid FROM roles WHERE user_guid = $1 AND organization_guid IS NOT NULL \
         UNION \
         SELECT s.organization_guid FROM spaces s JOIN roles r ON r.space_guid = s.guid WHERE r.user_guid = $1",
    )
    .bind(&user.guid)
    .fetch_all(db)
    .await?;
    Ok(Some(rows.into_iter().map(|(g,)| g).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_cc_access() {
        let dev = Access::from_roles(&[RoleType::SpaceDeveloper]);
        assert!(dev.read && dev.write && dev.manage_apps && dev.read_secrets);
        let supporter = Access::from_roles(&[RoleType::SpaceSupporter]);
        assert!(supporter.read && !supporter.write && supporter.manage_apps);
        let auditor = Access::from_roles(&[RoleType::SpaceAuditor]);
        assert!(auditor.read && !auditor.write && !auditor.manage_apps);
        let org_manager = Access::from_roles(&[RoleType::OrganizationManager]);
        assert!(org_manager.read && !org_manager.write);
        let org_user =
            Access::from_roles(&[RoleType::OrganizationUser, RoleType::OrganizationAuditor]);
        assert!(
            !org_user.read,
            "org users and auditors do not see space resources"
        );
    }
}
