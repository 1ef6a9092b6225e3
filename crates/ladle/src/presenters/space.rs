use serde_json::{json, Value};

use super::{empty_metadata, timestamp, to_one, updated_at, Links};
use crate::db::spaces::SpaceRecord;

pub fn present(space: &SpaceRecord, links: &Links) -> Value {
    json!({
        "guid": space.guid,
        "created_at": timestamp(&space.created_at),
        "updated_at": updated_at(&space.created_at, space.updated_at.as_deref()),
        "name": space.name,
        // A space without a space quota: CC's own `{"data": null}`.
        "relationships": {
            "organization": to_one(&space.organization_guid),
            "quota": { "data": Value::Null },
        },
        "metadata": empty_metadata(),
        // CC also links `features` and `apply_manifest`; we serve neither route yet.
        "links": {
            "self": links.href(&format!("/v3/spaces/{}", space.guid)),
            "organization": links.href(&format!("/v3/organizations/{}", space.organization_guid)),
        },
    })
}
