//! `GET /v3/droplets`, `GET /v3/apps/:guid/droplets` and `GET /v3/packages/:guid/droplets`.
//! Lists never show droplets in STAGING, as CC's droplet list fetcher does; PENDING ones (2015)
//! are listed.

use super::{apps_in, only_visible_apps};
use crate::auth::permissions::Visible;
use crate::db::droplets::{self, DropletRecord};
use crate::db::query::Where;
use crate::db::{DbPool, DbResult};
use crate::domain::{DropletState, Page};
use crate::messages::filters::DropletFilter;

pub async fn list(
    db: &DbPool,
    spaces: &Visible,
    filter: &DropletFilter,
    page: &Page,
) -> DbResult<(Vec<DropletRecord>, u64)> {
    let mut query = Where::new();
    query
        .any_of("state", &listable_states(filter.states.as_deref()))
        .filter("guid", filter.guids.as_deref())
        .filter("app_guid", filter.app_guids.as_deref())
        .filter("package_guid", filter.package_guids.as_deref());
    apps_in(
        &mut query,
        filter.space_guids.as_deref(),
        filter.organization_guids.as_deref(),
    );
    only_visible_apps(&mut query, spaces);
    droplets::list(db, &query, page).await
}

/// The states a list may show: those asked for (all by default), never STAGING.
fn listable_states(asked: Option<&[String]>) -> Vec<String> {
    match asked {
        Some(asked) => asked
            .iter()
            .filter(|s| s.as_str() != DropletState::Staging.as_str())
            .cloned()
            .collect(),
        None => DropletState::ALL
            .iter()
            .filter(|s| **s != DropletState::Staging)
            .map(|s| s.as_str().to_string())
            .collect(),
    }
}
