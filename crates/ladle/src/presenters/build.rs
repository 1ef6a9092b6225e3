//! A build in today's shape (builds did not exist in 2015, so there are no `_links`).

use serde::Serialize;
use serde_json::{json, Value};

use super::{
    stored_metadata, stored_object, to_one, AppRelationship, GuidRef, Header, Link, Links,
};
use crate::db::builds::BuildRecord;
use crate::domain::{BuildState, BuildpackUrl};

/// We do not limit the rate of staging logs: CC's "unlimited".
const UNLIMITED_LOG_RATE: i64 = -1;

#[derive(Debug, Serialize)]
pub struct BuildView {
    #[serde(flatten)]
    pub header: Header,
    pub state: &'static str,
    pub staging_memory_in_mb: i64,
    pub staging_disk_in_mb: i64,
    pub staging_log_rate_limit_bytes_per_second: i64,
    pub error: Option<String>,
    pub lifecycle: Value,
    pub package: GuidRef,
    pub droplet: Option<GuidRef>,
    pub created_by: Value,
    pub relationships: AppRelationship,
    pub metadata: Value,
    pub links: BuildLinks,
}

#[derive(Debug, Serialize)]
pub struct BuildLinks {
    #[serde(rename = "self")]
    pub this: Link,
    pub app: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub droplet: Option<Link>,
}

pub fn present(build: &BuildRecord, links: &Links) -> BuildView {
    let droplet = staged_droplet(build);
    BuildView {
        header: Header::new(&build.guid, &build.created_at, build.updated_at.as_deref()),
        state: build.state.as_str(),
        staging_memory_in_mb: build.staging_memory_in_mb,
        staging_disk_in_mb: build.staging_disk_in_mb,
        staging_log_rate_limit_bytes_per_second: UNLIMITED_LOG_RATE,
        error: build.error.clone(),
        lifecycle: lifecycle(build),
        package: GuidRef::new(&build.package_guid),
        droplet: droplet.map(GuidRef::new),
        created_by: stored_object(&build.created_by, || json!({})),
        relationships: AppRelationship {
            app: to_one(&build.app_guid),
        },
        metadata: stored_metadata(&build.metadata),
        links: BuildLinks {
            this: links.href(&format!("/v3/builds/{}", build.guid)),
            app: links.href(&format!("/v3/apps/{}", build.app_guid)),
            droplet: droplet.map(|droplet| links.href(&format!("/v3/droplets/{droplet}"))),
        },
    }
}

/// The droplet is shown only once it exists for good: the build STAGED.
fn staged_droplet(build: &BuildRecord) -> Option<&str> {
    match build.state {
        BuildState::Staged => build.droplet_guid.as_deref(),
        _ => None,
    }
}

/// The lifecycle as asked for, its buildpack URLs shown without credentials.
fn lifecycle(build: &BuildRecord) -> Value {
    let mut lifecycle = stored_object(
        &build.lifecycle,
        || json!({"type": "buildpack", "data": {}}),
    );
    if let Some(Value::Array(entries)) = lifecycle.pointer_mut("/data/buildpacks") {
        for entry in entries {
            if let Value::String(raw) = entry {
                *raw = BuildpackUrl::shown(raw).into_owned();
            }
        }
    }
    lifecycle
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(build: &BuildRecord, links: &Links) -> Value {
        serde_json::to_value(present(build, links)).unwrap()
    }

    fn record(state: &str) -> BuildRecord {
        BuildRecord {
            guid: "b1".into(),
            app_guid: "a1".into(),
            package_guid: "p1".into(),
            droplet_guid: Some("d1".into()),
            state: state.parse().unwrap(),
            error: None,
            lifecycle: r#"{"type":"buildpack","data":{"buildpacks":["go"],"stack":"cflinuxfs4"}}"#
                .into(),
            staging_memory_in_mb: 1024,
            staging_disk_in_mb: 4096,
            created_by: r#"{"guid":"u1","name":"ann","email":"ann@example.com"}"#.into(),
            metadata: r#"{"labels":{"team":"a"},"annotations":{}}"#.into(),
            created_at: "2026-01-02T03:04:05.000001Z".into(),
            updated_at: None,
        }
    }

    #[test]
    fn staging_builds_hide_their_droplet() {
        let view = shown(&record("STAGING"), &Links::new("http://x"));
        assert_eq!(view["droplet"], Value::Null);
        assert!(view["links"].get("droplet").is_none());
        assert_eq!(view["updated_at"], "2026-01-02T03:04:05Z");
        assert_eq!(view["staging_log_rate_limit_bytes_per_second"], -1);
        assert_eq!(view["lifecycle"]["data"]["buildpacks"], json!(["go"]));
        assert_eq!(view["created_by"]["email"], "ann@example.com");
        assert_eq!(
            view["metadata"],
            json!({"labels": {"team": "a"}, "annotations": {}})
        );
        let keys: Vec<&String> = view.as_object().unwrap().keys().collect();
        assert_eq!(keys[..4], ["guid", "created_at", "updated_at", "state"]);
    }

    #[test]
    fn staged_builds_link_their_droplet() {
        let view = shown(&record("STAGED"), &Links::new("http://x"));
        assert_eq!(view["droplet"], json!({"guid": "d1"}));
        assert_eq!(view["links"]["droplet"]["href"], "http://x/v3/droplets/d1");
        assert_eq!(view["links"]["self"]["href"], "http://x/v3/builds/b1");
        assert_eq!(
            shown(&record("FAILED"), &Links::new("http://x"))["droplet"],
            Value::Null
        );
    }
}
