//! The `included` block beside a list's `resources` or a show's fields, keyed by resource
//! kind as in Cloud Controller (`users`, `spaces`, `organizations`).

use serde_json::{Map, Value};

use super::{organization, space, user, Links};
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

/// Adds `included` to a body when the client asked for anything.
pub fn add_to(body: &mut Value, included: IncludedRecords<'_>, links: &Links) {
    let mut block = Map::new();
    if let Some(users) = included.users {
        let views = users.iter().map(|u| user::present(u, links)).collect();
        block.insert("users".into(), Value::Array(views));
    }
    if let Some(spaces) = included.spaces {
        let views = spaces.iter().map(|s| space::present(s, links)).collect();
        block.insert("spaces".into(), Value::Array(views));
    }
    if let Some(orgs) = included.organizations {
        let views = orgs
            .iter()
            .map(|o| organization::present(o, links))
            .collect();
        block.insert("organizations".into(), Value::Array(views));
    }
    if block.is_empty() {
        return;
    }
    if let Value::Object(fields) = body {
        fields.insert("included".into(), Value::Object(block));
    }
}
