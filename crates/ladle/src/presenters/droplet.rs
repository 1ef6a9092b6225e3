//! A droplet as both eras read it: today's v3 fields (`links`, `checksum`, `process_types`,
//! `error`, …) and the 2015 fields of our spec page (`_links`, `hash`, `failure_reason`,
//! `procfile`, `detected_start_command`, `environment_variables`) side by side.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{empty_metadata, timestamp, to_one, Links};
use crate::db::droplets::DropletRecord;
use crate::domain::{BuildpackUrl, DropletState};

pub const REDACTED: &str = "[PRIVATE DATA HIDDEN]";

/// `show_secrets`: the caller may read the space's secrets (developers, admins); others see
/// execution metadata, process types and environment redacted, as CC does.
pub fn present(d: &DropletRecord, links: &Links, show_secrets: bool) -> Value {
    let state = d.state;
    let process_types = d.process_types();
    let error = d
        .error_id
        .as_ref()
        .map(|id| format!("{id} - {}", d.error_message.as_deref().unwrap_or("")));
    let failure_reason = d
        .error_id
        .as_ref()
        .map(|id| format!("{id}: {}", d.error_message.as_deref().unwrap_or("")));
    let mut view = Map::new();
    let mut put = |key: &str, value: Value| {
        view.insert(key.to_string(), value);
    };
    put("guid", json!(d.guid));
    put("state", json!(state.as_str()));
    put("hash", json!(d.sha1));
    put(
        "buildpack_git_url",
        json!(d.buildpack_git_url.as_deref().map(BuildpackUrl::shown)),
    );
    put("failure_reason", json!(failure_reason));
    put("detected_start_command", json!(d.detected_start_command));
    put("procfile", json!(process_types.as_ref().map(procfile_yaml)));
    put(
        "environment_variables",
        if show_secrets {
            Value::Object(d.environment())
        } else {
            json!({ "redacted_message": REDACTED })
        },
    );
    put("created_at", json!(timestamp(&d.created_at)));
    put("updated_at", json!(d.updated_at.as_deref().map(timestamp)));
    put("error", json!(error));
    put("lifecycle", json!({ "type": "buildpack", "data": {} }));
    put(
        "checksum",
        match &d.sha256 {
            Some(sha) => json!({ "type": "sha256", "value": sha }),
            None => Value::Null,
        },
    );
    put("buildpacks", buildpacks(d));
    put("stack", json!(d.stack));
    put("image", Value::Null);
    put(
        "execution_metadata",
        if show_secrets {
            json!(d.execution_metadata.clone().unwrap_or_default())
        } else {
            json!(REDACTED)
        },
    );
    put(
        "process_types",
        match (&process_types, show_secrets) {
            (Some(types), true) => json!(types),
            (Some(_), false) => json!({ "redacted_message": REDACTED }),
            (None, _) => json!({}),
        },
    );
    put("relationships", json!({ "app": to_one(&d.app_guid) }));
    put("metadata", empty_metadata());
    put("links", today_links(d, state, links));
    put("_links", links_2015(d));
    Value::Object(view)
}

/// `GET|PATCH /v3/apps/:guid/relationships/current_droplet`
pub fn present_current_relationship(
    app_guid: &str,
    droplet_guid: Option<&str>,
    links: &Links,
) -> Value {
    json!({
        "data": droplet_guid.map(|guid| json!({ "guid": guid })),
        "links": {
            "self": links.href(&format!("/v3/apps/{app_guid}/relationships/current_droplet")),
            "related": links.href(&format!("/v3/apps/{app_guid}/droplets/current")),
        },
    })
}

/// The Procfile text CC's 2015 API shows: process types as YAML.
fn procfile_yaml(process_types: &BTreeMap<String, String>) -> String {
    serde_yaml::to_string(process_types).unwrap_or_default()
}

/// The buildpacks that staged the droplet; a URL's credentials are not shown (CC shows the
/// obfuscated URL as the `name`).
fn buildpacks(d: &DropletRecord) -> Value {
    let mut buildpacks = d
        .buildpacks_metadata
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or_else(|| json!([]));
    if let Value::Array(entries) = &mut buildpacks {
        for entry in entries {
            if let Some(Value::String(name)) = entry.get_mut("name") {
                *name = BuildpackUrl::shown(name).into_owned();
            }
        }
    }
    buildpacks
}

fn today_links(d: &DropletRecord, state: DropletState, links: &Links) -> Value {
    let mut out = Map::new();
    out.insert(
        "self".into(),
        links.href(&format!("/v3/droplets/{}", d.guid)),
    );
    if let Some(package) = &d.package_guid {
        out.insert(
            "package".into(),
            links.href(&format!("/v3/packages/{package}")),
        );
    }
    out.insert(
        "app".into(),
        links.href(&format!("/v3/apps/{}", d.app_guid)),
    );
    out.insert(
        "assign_current_droplet".into(),
        links.action(
            &format!("/v3/apps/{}/relationships/current_droplet", d.app_guid),
            "PATCH",
        ),
    );
    if state == DropletState::Staged {
        out.insert(
            "download".into(),
            links.href(&format!("/v3/droplets/{}/download", d.guid)),
        );
    }
    if let Some(bp) = &d.buildpack_guid {
        out.insert(
            "buildpack".into(),
            links.href(&format!("/v3/buildpacks/{bp}")),
        );
    }
    Value::Object(out)
}

/// 2015 `_links`: relative paths, assignment by PUT. 2015 linked the buildpack under v2, where
/// buildpacks then lived (CC moved the link to v3 in 2017); ours live under v3.
fn links_2015(d: &DropletRecord) -> Value {
    let mut out = Map::new();
    out.insert(
        "self".into(),
        json!({ "href": format!("/v3/droplets/{}", d.guid) }),
    );
    if let Some(package) = &d.package_guid {
        out.insert(
            "package".into(),
            json!({ "href": format!("/v3/packages/{package}") }),
        );
    }
    out.insert(
        "app".into(),
        json!({ "href": format!("/v3/apps/{}", d.app_guid) }),
    );
    out.insert(
        "assign_current_droplet".into(),
        json!({
            "href": format!("/v3/apps/{}/current_droplet", d.app_guid),
            "method": "PUT",
            "body": json!({ "desired_droplet_guid": d.guid }).to_string(),
        }),
    );
    if let Some(bp) = &d.buildpack_guid {
        out.insert(
            "buildpack".into(),
            json!({ "href": format!("/v3/buildpacks/{bp}") }),
        );
    }
    Value::Object(out)
}
