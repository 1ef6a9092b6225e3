//! The `included` block beside a list's `resources` or a show's fields, keyed by resource
//! kind as in Cloud Controller (`users`, `spaces`, `organizations`).

use serde::Serialize;

use super::organization::{self, OrganizationView};
use super::space::{self, SpaceView};
use super::user::{self, UserView};
use super::Links;
use crate::db::organizations::OrganizationRecord;
use crate::db::spaces::SpaceRecord;
use crate::db::users::UserRecord;

/// The related records a client asked for; `None` where it asked for nothing of that kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct IncludedRecords<'a> {
    pub users: Option<&'a [UserRecord]>,
    pub spaces: Option<&'a [SpaceRecord]>,
    pub organizations: Option<&'a [OrganizationRecord]>,
}

#[derive(Debug, Serialize)]
pub struct IncludedView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<UserView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spaces: Option<Vec<SpaceView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Vec<OrganizationView>>,
}

/// A view (one resource, or a list) followed by `included` when the client asked for anything.
#[derive(Debug, Serialize)]
pub struct WithIncluded<V> {
    #[serde(flatten)]
    pub view: V,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub included: Option<IncludedView>,
}

pub fn present<V>(view: V, included: IncludedRecords<'_>, links: &Links) -> WithIncluded<V> {
    let asked =
        included.users.is_some() || included.spaces.is_some() || included.organizations.is_some();
    WithIncluded {
        view,
        included: asked.then(|| IncludedView {
            users: (included.users)
                .map(|users| users.iter().map(|u| user::present(u, links)).collect()),
            spaces: (included.spaces)
                .map(|spaces| spaces.iter().map(|s| space::present(s, links)).collect()),
            organizations: (included.organizations).map(|orgs| {
                orgs.iter()
                    .map(|o| organization::present(o, links))
                    .collect()
            }),
        }),
    }
}
