//! `GET /v3/buildpacks`: every reader sees every admin buildpack.

use crate::db::buildpacks::{self, BuildpackRecord};
use crate::db::query::Where;
use crate::db::{DbPool, DbResult};
use crate::domain::Page;
use crate::messages::filters::BuildpackFilter;

pub async fn list(
    db: &DbPool,
    filter: &BuildpackFilter,
    page: &Page,
) -> DbResult<(Vec<BuildpackRecord>, u64)> {
    let mut query = Where::new();
    query
        .filter("name", filter.names.as_deref())
        .filter("stack", filter.stacks.as_deref());
    buildpacks::list(db, &query, page).await
}
