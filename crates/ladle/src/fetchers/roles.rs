//! `GET /v3/roles`: a role is visible to whoever can read its organization (organization
//! roles) or its space (space roles).

use super::only_visible;
use crate::auth::permissions::Visible;
use crate::db::query::Where;
use crate::db::roles::{self, RoleRecord};
use crate::db::{DbPool, DbResult};
use crate::domain::Page;
use crate::messages::filters::RoleFilter;

pub async fn list(
    db: &DbPool,
    orgs: &Visible,
    spaces: &Visible,
    filter: &RoleFilter,
    page: &Page,
) -> DbResult<(Vec<RoleRecord>, u64)> {
    let mut query = Where::new();
    query
        .filter("guid", filter.guids.as_deref())
        .filter("role_type", filter.types.as_deref())
        .filter("user_guid", filter.user_guids.as_deref())
        .filter("space_guid", filter.space_guids.as_deref())
        .filter("organization_guid", filter.organization_guids.as_deref());
    only_visible(&mut query, roles::TARGET_COLUMN, &targets(orgs, spaces));
    roles::list(db, &query, page).await
}

/// Organizations and spaces whose roles the caller may see (guids never collide across the two).
fn targets(orgs: &Visible, spaces: &Visible) -> Visible {
    match (orgs, spaces) {
        (Visible::Only(orgs), Visible::Only(spaces)) => {
            Visible::Only(orgs.iter().chain(spaces).cloned().collect())
        }
        _ => Visible::All,
    }
}
