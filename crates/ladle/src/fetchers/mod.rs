//! One function per list, as Cloud Controller's list fetchers: the caller's readable scope
//! (`auth::permissions::Visible`, computed from its roles), the list's filter (from
//! `messages::filters`) and the page in, one page of records and the total out. Every
//! `GET /v3/<resource>` list goes through here; nobody else writes a list's WHERE clause.

pub mod apps;
pub mod buildpacks;
pub mod builds;
pub mod droplets;
pub mod included;
pub mod organizations;
pub mod packages;
pub mod processes;
pub mod roles;
pub mod spaces;
pub mod stacks;
pub mod users;

use crate::auth::permissions::Visible;
use crate::db::query::Where;

/// Apps in the given spaces, for rows that belong to an app (`app_guid`).
const APPS_IN_SPACES: &str = "SELECT guid FROM apps WHERE space_guid";
/// Apps in the given organizations.
const APPS_IN_ORGS: &str =
    "SELECT a.guid FROM apps a JOIN spaces s ON s.guid = a.space_guid WHERE s.organization_guid";

/// Keeps the rows whose `column` is among the visible guids.
fn only_visible(filter: &mut Where, column: &str, visible: &Visible) {
    if let Visible::Only(guids) = visible {
        filter.any_of(column, guids);
    }
}

/// Keeps the rows of apps in the visible spaces (packages, droplets, builds, processes).
fn only_visible_apps(filter: &mut Where, spaces: &Visible) {
    if let Visible::Only(guids) = spaces {
        filter.in_subquery("app_guid", Some(APPS_IN_SPACES), guids);
    }
}

/// The `space_guids` and `organization_guids` filters of rows that belong to an app.
fn apps_in(filter: &mut Where, space_guids: Option<&[String]>, org_guids: Option<&[String]>) {
    if let Some(spaces) = space_guids {
        filter.in_subquery("app_guid", Some(APPS_IN_SPACES), spaces);
    }
    if let Some(orgs) = org_guids {
        filter.in_subquery("app_guid", Some(APPS_IN_ORGS), orgs);
    }
}
