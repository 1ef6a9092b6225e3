use serde_json::{json, Map, Value};

use super::{timestamp, to_one, updated_at, Links};
use crate::db::roles::RoleRecord;

fn to_one_or_null(guid: Option<&str>) -> Value {
    guid.map_or_else(|| json!({ "data": Value::Null }), to_one)
}

pub fn present(role: &RoleRecord, links: &Links) -> Value {
    let mut role_links = Map::new();
    role_links.insert(
        "self".into(),
        links.href(&format!("/v3/roles/{}", role.guid)),
    );
    role_links.insert(
        "user".into(),
        links.href(&format!("/v3/users/{}", role.user_guid)),
    );
    if let Some(space) = &role.space_guid {
        role_links.insert("space".into(), links.href(&format!("/v3/spaces/{space}")));
    }
    if let Some(org) = &role.organization_guid {
        role_links.insert(
            "organization".into(),
            links.href(&format!("/v3/organizations/{org}")),
        );
    }
    json!({
        "guid": role.guid,
        "created_at": timestamp(&role.created_at),
        "updated_at": updated_at(&role.created_at, role.updated_at.as_deref()),
        "type": role.role_type,
        "relationships": {
            "user": to_one(&role.user_guid),
            "space": to_one_or_null(role.space_guid.as_deref()),
            "organization": to_one_or_null(role.organization_guid.as_deref()),
        },
        "links": role_links,
    })
}
