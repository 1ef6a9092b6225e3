use serde_json::{json, Value};

use super::package::stored_metadata;
use super::{timestamp, updated_at, Links};
use crate::db::buildpacks::BuildpackRecord;

pub fn present(buildpack: &BuildpackRecord, links: &Links) -> Value {
    let path = format!("/v3/buildpacks/{}", buildpack.guid);
    json!({
        "guid": buildpack.guid,
        "created_at": timestamp(&buildpack.created_at),
        "updated_at": updated_at(&buildpack.created_at, buildpack.updated_at.as_deref()),
        "name": buildpack.name,
        "state": buildpack.state,
        "filename": buildpack.filename,
        "stack": buildpack.stack,
        "position": buildpack.position,
        "enabled": buildpack.is_enabled(),
        "locked": buildpack.is_locked(),
        "lifecycle": "buildpack",
        "metadata": stored_metadata(&buildpack.metadata),
        "links": {
            "self": links.href(&path),
            "upload": links.action(&format!("{path}/upload"), "POST"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_flags_as_booleans_in_cc_order() {
        let record = BuildpackRecord {
            guid: "b1".into(),
            name: "ruby".into(),
            stack: None,
            position: 2,
            enabled: 1,
            locked: 0,
            state: "AWAITING_UPLOAD".parse().unwrap(),
            filename: None,
            sha256: None,
            created_at: "2026-01-02T03:04:05.000001Z".into(),
            updated_at: None,
            metadata: "{}".into(),
        };
        let view = present(&record, &Links::new("http://x"));
        assert_eq!(view["enabled"], true);
        assert_eq!(view["locked"], false);
        assert_eq!(view["stack"], Value::Null);
        assert_eq!(
            view["links"]["upload"]["href"],
            "http://x/v3/buildpacks/b1/upload"
        );
        let keys: Vec<&String> = view.as_object().unwrap().keys().collect();
        assert_eq!(keys[3..6], ["name", "state", "filename"]);
    }
}
