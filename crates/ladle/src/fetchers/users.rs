//! `GET /v3/users`

use super::only_visible;
use crate::auth::permissions::Visible;
use crate::db::query::Where;
use crate::db::users::{self, UserRecord};
use crate::db::{DbPool, DbResult};
use crate::domain::Page;
use crate::messages::filters::UserFilter;

pub async fn list(
    db: &DbPool,
    users: &Visible,
    filter: &UserFilter,
    page: &Page,
) -> DbResult<(Vec<UserRecord>, u64)> {
    let mut query = Where::new();
    query
        .filter("guid", filter.guids.as_deref())
        .filter("username", filter.usernames.as_deref());
    only_visible(&mut query, "guid", users);
    users::list(db, &query, page).await
}
