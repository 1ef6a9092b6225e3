//! `GET /v3/processes` and `GET /v3/apps/:guid/processes`.

use super::{apps_in, only_visible_apps};
use crate::auth::permissions::Visible;
use crate::db::processes::{self, ProcessRecord};
use crate::db::query::Where;
use crate::db::{DbPool, DbResult};
use crate::domain::Page;
use crate::messages::filters::ProcessFilter;

pub async fn list(
    db: &DbPool,
    spaces: &Visible,
    filter: &ProcessFilter,
    page: &Page,
) -> DbResult<(Vec<ProcessRecord>, u64)> {
    let mut query = Where::new();
    query
        .filter("process_type", filter.types.as_deref())
        .filter("guid", filter.guids.as_deref())
        .filter("app_guid", filter.app_guids.as_deref());
    apps_in(&mut query, filter.space_guids.as_deref(), None);
    only_visible_apps(&mut query, spaces);
    processes::list(db, &query, page).await
}
