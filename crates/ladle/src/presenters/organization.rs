use serde_json::{json, Value};

use super::{empty_metadata, timestamp, updated_at, Links};
use crate::db::organizations::OrganizationRecord;

pub fn present(org: &OrganizationRecord, links: &Links) -> Value {
    json!({
        "guid": org.guid,
        "created_at": timestamp(&org.created_at),
        "updated_at": updated_at(&org.created_at, org.updated_at.as_deref()),
        "name": org.name,
        "suspended": org.suspended != 0,
        // We keep no quotas. CC names an org's quota here; `{"data": null}` is CC's shape for
        // a to-one relationship that is not set (a space without a space quota), and clients
        // read it as "none".
        "relationships": { "quota": { "data": Value::Null } },
        "metadata": empty_metadata(),
        // CC also links `domains`, `default_domain` and `quota`; we serve none of them, and a
        // link is never null (the PyPI client fails on one), so they are left out.
        "links": {
            "self": links.href(&format!("/v3/organizations/{}", org.guid)),
        },
    })
}
