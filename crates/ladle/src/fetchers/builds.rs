//! `GET /v3/builds` and `GET /v3/apps/:guid/builds`.

use super::only_visible_apps;
use crate::auth::permissions::Visible;
use crate::db::builds::{self, BuildRecord};
use crate::db::query::Where;
use crate::db::{DbPool, DbResult};
use crate::domain::Page;
use crate::messages::filters::BuildFilter;

pub async fn list(
    db: &DbPool,
    spaces: &Visible,
    filter: &BuildFilter,
    page: &Page,
) -> DbResult<(Vec<BuildRecord>, u64)> {
    let mut query = Where::new();
    query
        .filter("guid", filter.guids.as_deref())
        .filter("state", filter.states.as_deref())
        .filter("app_guid", filter.app_guids.as_deref())
        .filter("package_guid", filter.package_guids.as_deref());
    only_visible_apps(&mut query, spaces);
    builds::list(db, &query, page).await
}
