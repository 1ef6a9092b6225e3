use serde::Serialize;
use serde_json::Value;

use super::{empty_metadata, to_none, to_one, Header, Link, Links, ToOne};
use crate::db::spaces::SpaceRecord;

#[derive(Debug, Serialize)]
pub struct SpaceView {
    #[serde(flatten)]
    pub header: Header,
    pub name: String,
    pub relationships: SpaceRelationships,
    pub metadata: Value,
    pub links: SpaceLinks,
}

/// A space without a space quota: CC's own `{"data": null}`.
#[derive(Debug, Serialize)]
pub struct SpaceRelationships {
    pub organization: ToOne,
    pub quota: ToOne,
}

/// CC also links `features` and `apply_manifest`; we serve neither route yet.
#[derive(Debug, Serialize)]
pub struct SpaceLinks {
    #[serde(rename = "self")]
    pub this: Link,
    pub organization: Link,
}

pub fn present(space: &SpaceRecord, links: &Links) -> SpaceView {
    SpaceView {
        header: Header::new(&space.guid, &space.created_at, space.updated_at.as_deref()),
        name: space.name.clone(),
        relationships: SpaceRelationships {
            organization: to_one(&space.organization_guid),
            quota: to_none(),
        },
        metadata: empty_metadata(),
        links: SpaceLinks {
            this: links.href(&format!("/v3/spaces/{}", space.guid)),
            organization: links.href(&format!("/v3/organizations/{}", space.organization_guid)),
        },
    }
}
