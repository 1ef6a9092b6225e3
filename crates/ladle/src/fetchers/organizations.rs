//! `GET /v3/organizations`

use super::only_visible;
use crate::auth::permissions::Visible;
use crate::db::organizations::{self, OrganizationRecord};
use crate::db::query::Where;
use crate::db::{DbPool, DbResult};
use crate::domain::Page;
use crate::messages::filters::OrganizationFilter;

pub async fn list(
    db: &DbPool,
    orgs: &Visible,
    filter: &OrganizationFilter,
    page: &Page,
) -> DbResult<(Vec<OrganizationRecord>, u64)> {
    let mut query = Where::new();
    query
        .filter("name", filter.names.as_deref())
        .filter("guid", filter.guids.as_deref());
    only_visible(&mut query, "guid", orgs);
    organizations::list(db, &query, page).await
}
