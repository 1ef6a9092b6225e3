//! The discovery documents: `GET /`, `GET /v3`, `GET /v3/info` and `GET /v2/info`.

use serde_json::{json, Map, Value};

use super::Links;

pub const API_VERSION_V3: &str = "3.228.0";
pub const API_VERSION_V2: &str = "2.293.0";

/// Resources listed by `GET /v3`, all of which we serve.
const V3_RESOURCES: &[&str] = &[
    "apps",
    "buildpacks",
    "builds",
    "droplets",
    "organizations",
    "packages",
    "processes",
    "roles",
    "spaces",
    "stacks",
    "users",
];

/// The one document whose links may be `null`: there a null link is CC's way of saying a
/// feature is off, and clients switch it off. We serve no login or UAA yet (tokens come from
/// `ladle token`), so `login` and `uaa` are null rather than pointing at routes nobody answers;
/// clients that need a token endpoint fall back to `self` (the PyPI client) or report that
/// there is none.
pub fn root(links: &Links) -> Value {
    json!({
        "links": {
            "self": links.href(""),
            "cloud_controller_v2": Value::Null,
            "cloud_controller_v3": { "href": links.url("/v3"), "meta": { "version": API_VERSION_V3 } },
            "network_policy_v0": Value::Null,
            "network_policy_v1": Value::Null,
            "login": Value::Null,
            "uaa": Value::Null,
            "credhub": Value::Null,
            "routing": Value::Null,
            "logging": Value::Null,
            // Staging logs are served log-cache style on our own origin (`/api/v1/read`).
            "log_cache": links.href(""),
            "log_stream": Value::Null,
            "app_ssh": Value::Null,
        }
    })
}

pub fn v3(links: &Links) -> Value {
    let mut view = Map::new();
    view.insert("self".into(), links.href("/v3"));
    view.insert("info".into(), links.href("/v3/info"));
    for resource in V3_RESOURCES {
        view.insert((*resource).into(), links.href(&format!("/v3/{resource}")));
    }
    json!({ "links": view })
}

pub fn v3_info(links: &Links) -> Value {
    json!({
        "build": "",
        "cli_version": { "minimum": "", "recommended": "" },
        "custom": {},
        "description": "ladle: a Cloud Controller v3 API that stages apps with real buildpacks",
        "name": "ladle",
        "version": 3,
        "osbapi_version": "",
        "rate_limits": { "enabled": false, "general_limit": Value::Null, "reset_interval_in_minutes": Value::Null },
        // CC links `support` to the operator's support address; we have none to offer.
        "links": { "self": links.href("/v3/info") },
    })
}

pub fn v2_info(links: &Links) -> Value {
    json!({
        "name": "ladle",
        "build": "",
        "support": "",
        "version": 0,
        "description": "ladle",
        "authorization_endpoint": links.base(),
        "token_endpoint": links.base(),
        "min_cli_version": Value::Null,
        "min_recommended_cli_version": Value::Null,
        "app_ssh_endpoint": Value::Null,
        "app_ssh_host_key_fingerprint": Value::Null,
        "app_ssh_oauth_client": Value::Null,
        "doppler_logging_endpoint": Value::Null,
        "api_version": API_VERSION_V2,
        "osbapi_version": "",
    })
}
