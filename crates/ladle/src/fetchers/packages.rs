//! `GET /v3/packages` and `GET /v3/apps/:guid/packages`.

use super::{apps_in, only_visible_apps};
use crate::auth::permissions::Visible;
use crate::db::packages::{self, PackageRecord};
use crate::db::query::Where;
use crate::db::{DbPool, DbResult};
use crate::domain::Page;
use crate::messages::filters::PackageFilter;

pub async fn list(
    db: &DbPool,
    spaces: &Visible,
    filter: &PackageFilter,
    page: &Page,
) -> DbResult<(Vec<PackageRecord>, u64)> {
    let mut query = Where::new();
    query
        .filter("guid", filter.guids.as_deref())
        .filter("state", filter.states.as_deref())
        .filter("package_type", filter.types.as_deref())
        .filter("app_guid", filter.app_guids.as_deref());
    apps_in(
        &mut query,
        filter.space_guids.as_deref(),
        filter.organization_guids.as_deref(),
    );
    only_visible_apps(&mut query, spaces);
    packages::list(db, &query, page).await
}
