use serde::Serialize;
use serde_json::Value;

use super::{empty_metadata, to_none, Header, Links, SelfLink, ToOne};
use crate::db::organizations::OrganizationRecord;

#[derive(Debug, Serialize)]
pub struct OrganizationView {
    #[serde(flatten)]
    pub header: Header,
    pub name: String,
    pub suspended: bool,
    pub relationships: OrganizationRelationships,
    pub metadata: Value,
    /// CC also links `domains`, `default_domain` and `quota`; we serve none of them, and a link
    /// is never null (the PyPI client fails on one), so they are left out.
    pub links: SelfLink,
}

/// We keep no quotas. CC names an org's quota here; `{"data": null}` is CC's shape for a to-one
/// relationship that is not set (a space without a space quota), and clients read it as "none".
#[derive(Debug, Serialize)]
pub struct OrganizationRelationships {
    pub quota: ToOne,
}

pub fn present(org: &OrganizationRecord, links: &Links) -> OrganizationView {
    OrganizationView {
        header: Header::new(&org.guid, &org.created_at, org.updated_at.as_deref()),
        name: org.name.clone(),
        suspended: org.suspended != 0,
        relationships: OrganizationRelationships { quota: to_none() },
        metadata: empty_metadata(),
        links: SelfLink {
            this: links.href(&format!("/v3/organizations/{}", org.guid)),
        },
    }
}
