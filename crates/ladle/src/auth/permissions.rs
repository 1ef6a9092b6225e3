//! Roles and what they allow, as Cloud Controller decides it: a resource the caller cannot read
//! is "not found" (404), one it can read but not change is "not authorized" (403).

use crate::auth::User;
use crate::db::{users, DbPool, DbResult};
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
            read: roles.iter().any(|role| role.reads_space()),
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

/// Admins and the organization's managers manage an organization: create and delete its
/// spaces, give and take its roles (and those of its spaces).
pub async fn manages_org(db: &DbPool, user: &User, org_guid: &str) -> DbResult<bool> {
    if user.is_admin() {
        return Ok(true);
    }
    let held = roles_in_org(db, &user.guid, org_guid).await?;
    Ok(held.contains(&RoleType::OrganizationManager))
}

/// What a caller may see in lists: everything (admins and global readers), or only the guids
/// its roles open. Decided here, from the caller's roles, and handed to the fetchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visible {
    All,
    Only(Vec<String>),
}

impl Visible {
    pub fn contains(&self, guid: &str) -> bool {
        match self {
            Visible::All => true,
            Visible::Only(guids) => guids.iter().any(|g| g == guid),
        }
    }
}

/// Spaces whose resources the caller may see: those where a role of theirs `reads_space`
/// (the same rule as `space_access`).
pub async fn readable_spaces(db: &DbPool, user: &User) -> DbResult<Visible> {
    if user.scopes.reads_everything() {
        return Ok(Visible::All);
    }
    let space_roles = role_names(|role| role.is_space_role() && role.reads_space());
    let org_roles = role_names(|role| !role.is_space_role() && role.reads_space());
    let sql = format!(
        "SELECT space_guid FROM roles WHERE user_guid = $1 AND space_guid IS NOT NULL \
           AND role_type IN ({}) \
         UNION \
         SELECT s.guid FROM spaces s JOIN roles r ON r.organization_guid = s.organization_guid \
         WHERE r.user_guid = $1 AND r.space_guid IS NULL AND r.role_type IN ({})",
        placeholders(2, space_roles.len()),
        placeholders(2 + space_roles.len(), org_roles.len()),
    );
    let mut query = sqlx::query_as(&sql).bind(&user.guid);
    for role in space_roles.iter().chain(&org_roles) {
        query = query.bind(*role);
    }
    let rows: Vec<(String,)> = query.fetch_all(db).await?;
    Ok(Visible::Only(rows.into_iter().map(|(g,)| g).collect()))
}

fn role_names(keep: impl Fn(RoleType) -> bool) -> Vec<&'static str> {
    RoleType::ALL
        .into_iter()
        .filter(|role| keep(*role))
        .map(RoleType::as_str)
        .collect()
}

/// `$first, $first+1, …`: `count` placeholders.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Organizations the caller may see: any role in the org or in one of its spaces.
pub async fn readable_orgs(db: &DbPool, user: &User) -> DbResult<Visible> {
    if user.scopes.reads_everything() {
        return Ok(Visible::All);
    }
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT organization_guid FROM roles WHERE user_guid = $1 AND organization_guid IS NOT NULL \
         UNION \
         SELECT s.organization_guid FROM spaces s JOIN roles r ON r.space_guid = s.guid WHERE r.user_guid = $1",
    )
    .bind(&user.guid)
    .fetch_all(db)
    .await?;
    Ok(Visible::Only(rows.into_iter().map(|(g,)| g).collect()))
}

/// Users the caller may see: themselves and those who hold a role in an organization they
/// also hold a role in (directly or through a space).
pub async fn visible_users(db: &DbPool, user: &User) -> DbResult<Visible> {
    if user.scopes.reads_everything() {
        return Ok(Visible::All);
    }
    users::sharing_an_org_with(db, &user.guid)
        .await
        .map(Visible::Only)
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

    /// Reading one space and listing the readable spaces follow one rule (`reads_space`):
    /// for every role, a real database lists the space exactly when the role can read it.
    #[tokio::test]
    async fn a_space_is_listed_exactly_when_it_can_be_read() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = crate::db::connect(&url).await.unwrap();
        let now = crate::db::now();
        for sql in [
            "INSERT INTO organizations (guid, name, created_at) VALUES ('o', 'o', $1)",
            "INSERT INTO spaces (guid, name, organization_guid, created_at) VALUES ('s', 's', 'o', $1)",
        ] {
            sqlx::query(sql).bind(&now).execute(&db).await.unwrap();
        }
        for role in RoleType::ALL {
            let user = User {
                guid: format!("user-{role}"),
                email: None,
                username: None,
                scopes: crate::auth::Scopes::from_list(&["cloud_controller.read"]),
            };
            sqlx::query("INSERT INTO users (guid, created_at) VALUES ($1, $2)")
                .bind(&user.guid)
                .bind(&now)
                .execute(&db)
                .await
                .unwrap();
            let (org, space) = if role.is_space_role() {
                (None, Some("s"))
            } else {
                (Some("o"), None)
            };
            sqlx::query(
                "INSERT INTO roles (guid, role_type, user_guid, organization_guid, space_guid, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(format!("role-{role}"))
            .bind(role.as_str())
            .bind(&user.guid)
            .bind(org)
            .bind(space)
            .bind(&now)
            .execute(&db)
            .await
            .unwrap();
            let read = space_access(&db, &user, "s").await.unwrap().read;
            let listed = readable_spaces(&db, &user).await.unwrap().contains("s");
            assert_eq!(read, role.reads_space(), "{role}");
            assert_eq!(listed, read, "{role}");
        }
    }

    #[test]
    fn placeholders_follow_on() {
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
        assert_eq!(
            role_names(|role| !role.is_space_role() && role.reads_space()),
            ["organization_manager"]
        );
    }
}
