use serde::Serialize;

use super::{to_none, to_one, Header, Link, Links, ToOne};
use crate::db::roles::RoleRecord;

#[derive(Debug, Serialize)]
pub struct RoleView {
    #[serde(flatten)]
    pub header: Header,
    #[serde(rename = "type")]
    pub role_type: String,
    pub relationships: RoleRelationships,
    pub links: RoleLinks,
}

/// A role is in a space or in an organization; the other is `{"data": null}`.
#[derive(Debug, Serialize)]
pub struct RoleRelationships {
    pub user: ToOne,
    pub space: ToOne,
    pub organization: ToOne,
}

#[derive(Debug, Serialize)]
pub struct RoleLinks {
    #[serde(rename = "self")]
    pub this: Link,
    pub user: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub space: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<Link>,
}

pub fn present(role: &RoleRecord, links: &Links) -> RoleView {
    let to_one_or_none = |guid: &Option<String>| guid.as_deref().map_or_else(to_none, to_one);
    RoleView {
        header: Header::new(&role.guid, &role.created_at, role.updated_at.as_deref()),
        role_type: role.role_type.clone(),
        relationships: RoleRelationships {
            user: to_one(&role.user_guid),
            space: to_one_or_none(&role.space_guid.as_ref().map(|g| g.to_string())),
            organization: to_one_or_none(&role.organization_guid.as_ref().map(|g| g.to_string())),
        },
        links: RoleLinks {
            this: links.href(&format!("/v3/roles/{}", role.guid)),
            user: links.href(&format!("/v3/users/{}", role.user_guid)),
            space: (role.space_guid.as_ref())
                .map(|space| links.href(&format!("/v3/spaces/{space}"))),
            organization: (role.organization_guid.as_ref())
                .map(|org| links.href(&format!("/v3/organizations/{org}"))),
        },
    }
}
