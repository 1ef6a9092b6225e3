//! `GET /v3/apps`

use super::only_visible;
use crate::auth::permissions::Visible;
use crate::db::apps::{self, AppRecord};
use crate::db::query::Where;
use crate::db::{DbPool, DbResult};
use crate::domain::Page;
use crate::messages::filters::AppFilter;

pub async fn list(
    db: &DbPool,
    spaces: &Visible,
    filter: &AppFilter,
    page: &Page,
) -> DbResult<(Vec<AppRecord>, u64)> {
    let mut query = Where::new();
    query
        .filter("name", filter.names.as_deref())
        .filter("guid", filter.guids.as_deref())
        .filter("space_guid", filter.space_guids.as_deref())
        .filter("lifecycle_stack", filter.stacks.as_deref());
    if let Some(orgs) = &filter.organization_guids {
        query.in_subquery(
            "space_guid",
            Some("SELECT guid FROM spaces WHERE organization_guid"),
            orgs,
        );
    }
    only_visible(&mut query, "space_guid", spaces);
    apps::list(db, &query, page).await
}
