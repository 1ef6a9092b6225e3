//! `GET /v3/stacks`: every reader sees every stack.

use crate::db::query::Where;
use crate::db::stacks::{self, StackRecord};
use crate::db::{DbPool, DbResult};
use crate::domain::Page;
use crate::messages::filters::StackFilter;

pub async fn list(
    db: &DbPool,
    filter: &StackFilter,
    page: &Page,
) -> DbResult<(Vec<StackRecord>, u64)> {
    let mut query = Where::new();
    query
        .filter("name", filter.names.as_deref())
        .filter("guid", filter.guids.as_deref());
    stacks::list(db, &query, page).await
}
