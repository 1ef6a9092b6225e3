//! `GET /v3/spaces`

use super::only_visible;
use crate::auth::permissions::Visible;
use crate::db::query::Where;
use crate::db::spaces::{self, SpaceRecord};
use crate::db::{DbPool, DbResult};
use crate::domain::Page;
use crate::messages::filters::SpaceFilter;

pub async fn list(
    db: &DbPool,
    spaces: &Visible,
    filter: &SpaceFilter,
    page: &Page,
) -> DbResult<(Vec<SpaceRecord>, u64)> {
    let mut query = Where::new();
    query
        .filter("name", filter.names.as_deref())
        .filter("guid", filter.guids.as_deref())
        .filter("organization_guid", filter.organization_guids.as_deref());
    only_visible(&mut query, "guid", spaces);
    spaces::list(db, &query, page).await
}
