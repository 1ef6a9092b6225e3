use serde::Serialize;
use serde_json::Value;

use super::{stored_metadata, Header, Link, Links};
use crate::db::buildpacks::BuildpackRecord;

#[derive(Debug, Serialize)]
pub struct BuildpackView {
    #[serde(flatten)]
    pub header: Header,
    pub name: String,
    pub state: String,
    pub filename: Option<String>,
    pub stack: Option<String>,
    pub position: i64,
    pub enabled: bool,
    pub locked: bool,
    pub lifecycle: &'static str,
    pub metadata: Value,
    pub links: BuildpackLinks,
}

#[derive(Debug, Serialize)]
pub struct BuildpackLinks {
    #[serde(rename = "self")]
    pub this: Link,
    pub upload: Link,
}

pub fn present(buildpack: &BuildpackRecord, links: &Links) -> BuildpackView {
    let path = format!("/v3/buildpacks/{}", buildpack.guid);
    BuildpackView {
        header: Header::new(
            &buildpack.guid,
            &buildpack.created_at,
            buildpack.updated_at.as_deref(),
        ),
        name: buildpack.name.clone(),
        state: buildpack.state.as_str().to_string(),
        filename: buildpack.filename.clone(),
        stack: buildpack.stack.clone(),
        position: buildpack.position,
        enabled: buildpack.is_enabled(),
        locked: buildpack.is_locked(),
        lifecycle: "buildpack",
        metadata: stored_metadata(&buildpack.metadata),
        links: BuildpackLinks {
            this: links.href(&path),
            upload: links.action(&format!("{path}/upload"), "POST"),
        },
    }
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
        let view = serde_json::to_value(present(&record, &Links::new("http://x"))).unwrap();
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
