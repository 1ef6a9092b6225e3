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
        "relationships": { "quota": { "data": Value::Null } },
        "metadata": empty_metadata(),
        "links": {
            "self": links.href(&format!("/v3/organizations/{}", org.guid)),
            "domains": links.href(&format!("/v3/organizations/{}/domains", org.guid)),
            "default_domain": links.href(&format!("/v3/organizations/{}/domains/default", org.guid)),
            "quota": Value::Null,
        },
    })
}
