//! A build in today's shape (builds did not exist in 2015, so there are no `_links`).

use serde_json::{json, Map, Value};

use super::package::stored_metadata;
use super::{timestamp, to_one, updated_at, Links};
use crate::db::builds::BuildRecord;
use crate::domain::{BuildState, BuildpackUrl};

/// We do not limit the rate of staging logs: CC's "unlimited".
const UNLIMITED_LOG_RATE: i64 = -1;

pub fn present(build: &BuildRecord, links: &Links) -> Value {
    let droplet = staged_droplet(build);
    json!({
        "guid": build.guid,
        "created_at": timestamp(&build.created_at),
        "updated_at": updated_at(&build.created_at, build.updated_at.as_deref()),
        "state": build.state.as_str(),
        "staging_memory_in_mb": build.staging_memory_in_mb,
        "staging_disk_in_mb": build.staging_disk_in_mb,
        "staging_log_rate_limit_bytes_per_second": UNLIMITED_LOG_RATE,
        "error": build.error,
        "lifecycle": lifecycle(build),
        "package": { "guid": build.package_guid },
        "droplet": droplet.map(|guid| json!({ "guid": guid })),
        "created_by": stored_json(&build.created_by, || json!({})),
        "relationships": { "app": to_one(&build.app_guid) },
        "metadata": stored_metadata(&build.metadata),
        "links": build_links(build, droplet, links),
    })
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
    let mut lifecycle = stored_json(
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

fn stored_json(stored: &str, fallback: impl FnOnce() -> Value) -> Value {
    match serde_json::from_str(stored) {
        Ok(value @ Value::Object(_)) => value,
        _ => fallback(),
    }
}

fn build_links(build: &BuildRecord, droplet: Option<&str>, links: &Links) -> Value {
    let mut out = Map::new();
    out.insert(
        "self".into(),
        links.href(&format!("/v3/builds/{}", build.guid)),
    );
    out.insert(
        "app".into(),
        links.href(&format!("/v3/apps/{}", build.app_guid)),
    );
    if let Some(droplet) = droplet {
        out.insert(
            "droplet".into(),
            links.href(&format!("/v3/droplets/{droplet}")),
        );
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let view = present(&record("STAGING"), &Links::new("http://x"));
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
        let view = present(&record("STAGED"), &Links::new("http://x"));
        assert_eq!(view["droplet"], json!({"guid": "d1"}));
        assert_eq!(view["links"]["droplet"]["href"], "http://x/v3/droplets/d1");
        assert_eq!(view["links"]["self"]["href"], "http://x/v3/builds/b1");
        assert_eq!(
            present(&record("FAILED"), &Links::new("http://x"))["droplet"],
            Value::Null
        );
    }
}
