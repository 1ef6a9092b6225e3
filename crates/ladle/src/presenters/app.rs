//! App views. One body serves both generations of clients: today's fields in CC's order, then
//! the 2015 fields (`desired_state`, `total_desired_instances`, `environment_variables`,
//! relative `_links`) that experimental-v3 clients read.

use serde_json::{json, Map, Value};

use super::{timestamp, to_one, updated_at, Links};
use crate::db::apps::AppRecord;
use crate::db::organizations::OrganizationRecord;
use crate::db::processes::ProcessRecord;
use crate::db::spaces::SpaceRecord;
use crate::domain::process::{DEFAULT_DISK_MB, DEFAULT_MEMORY_MB};
use crate::domain::BuildpackUrl;
use ladle_contract::FILE_DESCRIPTOR_LIMIT;

/// `total_desired_instances`: the sum over the app's processes. `show_secrets`: the caller may
/// read the space's secrets (the 2015 `environment_variables`).
pub fn present(
    app: &AppRecord,
    total_desired_instances: i64,
    show_secrets: bool,
    default_stack: &str,
    links: &Links,
) -> Value {
    let mut view = json!({
        "guid": app.guid,
        "created_at": timestamp(&app.created_at),
        "updated_at": updated_at(&app.created_at, app.updated_at.as_deref()),
        "name": app.name,
        "state": app.desired_state,
        "lifecycle": lifecycle(app, default_stack),
        "relationships": { "space": to_one(&app.space_guid) },
        "metadata": app.metadata_json(),
        "links": today_links(app, links),
        "desired_state": app.desired_state,
        "total_desired_instances": total_desired_instances,
    });
    let fields = view.as_object_mut().expect("object");
    // 2015 showed variables only to developers; we keep them from anyone without secrets.
    if show_secrets {
        fields.insert(
            "environment_variables".into(),
            Value::Object(app.env_vars()),
        );
    }
    fields.insert("_links".into(), experimental_links(app));
    view
}

fn lifecycle(app: &AppRecord, default_stack: &str) -> Value {
    let buildpacks = app.buildpacks();
    let shown: Vec<_> = buildpacks.iter().map(|b| BuildpackUrl::shown(b)).collect();
    json!({
        "type": "buildpack",
        "data": {
            "buildpacks": shown,
            "stack": app.lifecycle_stack.as_deref().unwrap_or(default_stack),
        },
    })
}

/// CC's app links, less those whose routes we do not serve yet (`tasks`, `start`, `stop`,
/// `revisions`, `deployed_revisions`, `features`): ladle does not run apps, and a link a client
/// follows must lead somewhere.
fn today_links(app: &AppRecord, links: &Links) -> Value {
    let base = format!("/v3/apps/{}", app.guid);
    let path = |suffix: &str| format!("{base}{suffix}");
    json!({
        "self": links.href(&base),
        "environment_variables": links.href(&path("/environment_variables")),
        "space": links.href(&format!("/v3/spaces/{}", app.space_guid)),
        "processes": links.href(&path("/processes")),
        "packages": links.href(&path("/packages")),
        "current_droplet": links.href(&path("/droplets/current")),
        "droplets": links.href(&path("/droplets")),
        "clear_buildpack_cache": links.action(&path("/actions/clear_buildpack_cache"), "POST"),
    })
}

/// 2015's `_links`: relative paths. 2015 pointed `space` at v2 because spaces were not in v3
/// yet; ours are, so it points where the space is served. No `start`/`stop`: we do not run apps.
fn experimental_links(app: &AppRecord) -> Value {
    let base = format!("/v3/apps/{}", app.guid);
    let mut links = Map::new();
    links.insert("self".into(), json!({ "href": base }));
    links.insert(
        "processes".into(),
        json!({ "href": format!("{base}/processes") }),
    );
    links.insert(
        "packages".into(),
        json!({ "href": format!("{base}/packages") }),
    );
    links.insert(
        "space".into(),
        json!({ "href": format!("/v3/spaces/{}", app.space_guid) }),
    );
    links.insert(
        "assign_current_droplet".into(),
        json!({ "href": format!("{base}/current_droplet"), "method": "PUT" }),
    );
    if let Some(droplet) = &app.current_droplet_guid {
        links.insert(
            "desired_droplet".into(),
            json!({ "href": format!("/v3/droplets/{droplet}") }),
        );
    }
    Value::Object(links)
}

/// `GET|PATCH /v3/apps/:guid/environment_variables`
pub fn present_env_vars(app: &AppRecord, links: &Links) -> Value {
    let base = format!("/v3/apps/{}", app.guid);
    json!({
        "var": app.env_vars(),
        "links": {
            "self": links.href(&format!("{base}/environment_variables")),
            "app": links.href(&base),
        },
    })
}

/// `GET /v3/apps/:guid/env`: the app in its space and organization; limits from its `web`
/// process.
pub fn present_env(
    app: &AppRecord,
    space: &SpaceRecord,
    organization: Option<&OrganizationRecord>,
    web: Option<&ProcessRecord>,
    links: &Links,
) -> Value {
    let (memory, disk) = web
        .map(|web| (web.memory_in_mb, web.disk_in_mb))
        .unwrap_or((DEFAULT_MEMORY_MB, DEFAULT_DISK_MB));
    let organization_name = organization.map(|org| org.name.clone());
    json!({
        "staging_env_json": {},
        "running_env_json": {},
        "environment_variables": app.env_vars(),
        "system_env_json": { "VCAP_SERVICES": {} },
        "application_env_json": {
            "VCAP_APPLICATION": {
                "cf_api": links.base(),
                "limits": { "fds": FILE_DESCRIPTOR_LIMIT, "mem": memory, "disk": disk },
                "application_name": app.name,
                "application_uris": [],
                "name": app.name,
                "space_name": space.name,
                "space_id": space.guid,
                "organization_id": space.organization_guid,
                "organization_name": organization_name,
                "uris": [],
                "users": Value::Null,
                "application_id": app.guid,
            }
        },
    })
}
