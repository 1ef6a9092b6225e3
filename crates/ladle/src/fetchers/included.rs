//! The `included` block of a list or a show (`include=`): the spaces, organizations and users
//! the shown records point at, as Cloud Controller's include decorators gather them. The
//! caller can read them all: whoever reads an app reads its space and that space's
//! organization, and whoever reads a role reads its user, space and organization.

use crate::db::apps::AppRecord;
use crate::db::organizations::{self, OrganizationRecord};
use crate::db::query::Where;
use crate::db::roles::RoleRecord;
use crate::db::spaces::{self, SpaceRecord};
use crate::db::users::{self, UserRecord};
use crate::db::{DbPool, DbResult};
use crate::domain::Page;
use crate::messages::include::Include;

/// What was asked for; `None` where nothing was (the key is then left out of the body).
#[derive(Debug, Default)]
pub struct Included {
    pub users: Option<Vec<UserRecord>>,
    pub spaces: Option<Vec<SpaceRecord>>,
    pub organizations: Option<Vec<OrganizationRecord>>,
}

/// Apps: `space` and `space.organization` both bring the apps' spaces; the latter also their
/// organizations.
pub async fn for_apps(db: &DbPool, apps: &[&AppRecord], include: &Include) -> DbResult<Included> {
    let mut included = Included::default();
    if !(include.has("space") || include.has("space.organization")) {
        return Ok(included);
    }
    let space_guids = distinct(apps.iter().map(|app| app.space_guid.as_str()));
    let found = spaces_by_guid(db, &space_guids).await?;
    if include.has("space.organization") {
        let org_guids = distinct(found.iter().map(|s| s.organization_guid.as_str()));
        included.organizations = Some(organizations_by_guid(db, &org_guids).await?);
    }
    included.spaces = Some(found);
    Ok(included)
}

/// Spaces: `organization` brings their organizations.
pub async fn for_spaces(
    db: &DbPool,
    shown: &[&SpaceRecord],
    include: &Include,
) -> DbResult<Included> {
    let mut included = Included::default();
    if include.has("organization") {
        let org_guids = distinct(shown.iter().map(|s| s.organization_guid.as_str()));
        included.organizations = Some(organizations_by_guid(db, &org_guids).await?);
    }
    Ok(included)
}

/// Roles: `user`, `space` (of space roles) and `organization` (of organization roles).
pub async fn for_roles(
    db: &DbPool,
    roles: &[&RoleRecord],
    include: &Include,
) -> DbResult<Included> {
    let mut included = Included::default();
    if include.has("user") {
        let guids = distinct(roles.iter().map(|r| r.user_guid.as_str()));
        included.users = Some(
            users::list(db, Where::new().any_of("guid", &guids), &all(&guids))
                .await?
                .0,
        );
    }
    if include.has("space") {
        let guids = distinct(roles.iter().filter_map(|r| r.space_guid.as_deref()));
        included.spaces = Some(spaces_by_guid(db, &guids).await?);
    }
    if include.has("organization") {
        let guids = distinct(roles.iter().filter_map(|r| r.organization_guid.as_deref()));
        included.organizations = Some(organizations_by_guid(db, &guids).await?);
    }
    Ok(included)
}

async fn spaces_by_guid(db: &DbPool, guids: &[String]) -> DbResult<Vec<SpaceRecord>> {
    let (found, _) = spaces::list(db, Where::new().any_of("guid", guids), &all(guids)).await?;
    Ok(found)
}

async fn organizations_by_guid(db: &DbPool, guids: &[String]) -> DbResult<Vec<OrganizationRecord>> {
    let (found, _) =
        organizations::list(db, Where::new().any_of("guid", guids), &all(guids)).await?;
    Ok(found)
}

/// Each guid once, in the order first met.
fn distinct<'a>(guids: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    guids
        .filter(|guid| seen.insert(*guid))
        .map(str::to_string)
        .collect()
}

/// One page that holds every row asked for, in the table's default order (`created_at`, as CC
/// orders included resources).
fn all(guids: &[String]) -> Page {
    Page {
        limit: guids.len().max(1) as u64,
        offset: 0,
        order: Default::default(),
    }
}
