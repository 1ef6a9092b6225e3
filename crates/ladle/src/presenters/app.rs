//! App views. One body serves both generations of clients: today's fields in CC's order, then
//! the 2015 fields (`desired_state`, `total_desired_instances`, `environment_variables`,
//! relative `_links`) that experimental-v3 clients read.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{to_one, Header, Link, Links, ToOne};
use crate::db::apps::AppRecord;
use crate::db::organizations::OrganizationRecord;
use crate::db::processes::ProcessRecord;
use crate::db::spaces::SpaceRecord;
use crate::domain::process::{DEFAULT_DISK_MB, DEFAULT_MEMORY_MB};
use crate::domain::BuildpackUrl;
use ladle_contract::FILE_DESCRIPTOR_LIMIT;

#[derive(Debug, Serialize)]
pub struct AppView {
    #[serde(flatten)]
    pub current: CurrentApp,
    #[serde(flatten)]
    pub experimental: ExperimentalApp,
}

/// Today's fields, in CC's order.
#[derive(Debug, Serialize)]
pub struct CurrentApp {
    #[serde(flatten)]
    pub header: Header,
    pub name: String,
    pub state: String,
    pub lifecycle: AppLifecycle,
    pub relationships: AppRelationships,
    pub metadata: Value,
    pub links: AppLinks,
}

/// The 2015 fields.
#[derive(Debug, Serialize)]
pub struct ExperimentalApp {
    pub desired_state: String,
    pub total_desired_instances: i64,
    /// 2015 showed variables only to developers; we keep them from anyone without secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_variables: Option<Map<String, Value>>,
    #[serde(rename = "_links")]
    pub links: AppLinks2015,
}

#[derive(Debug, Serialize)]
pub struct AppLifecycle {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub data: BuildpackLifecycleData,
}

#[derive(Debug, Serialize)]
pub struct BuildpackLifecycleData {
    /// Shown without the credentials a URL may carry.
    pub buildpacks: Vec<String>,
    pub stack: String,
}

#[derive(Debug, Serialize)]
pub struct AppRelationships {
    pub space: ToOne,
}

/// CC's app links, less those whose routes we do not serve yet (`tasks`, `start`, `stop`,
/// `revisions`, `deployed_revisions`, `features`): ladle does not run apps, and a link a client
/// follows must lead somewhere.
#[derive(Debug, Serialize)]
pub struct AppLinks {
    #[serde(rename = "self")]
    pub this: Link,
    pub environment_variables: Link,
    pub space: Link,
    pub processes: Link,
    pub packages: Link,
    pub current_droplet: Link,
    pub droplets: Link,
    pub clear_buildpack_cache: Link,
}

/// 2015's `_links`: relative paths. 2015 pointed `space` at v2 because spaces were not in v3
/// yet; ours are, so it points where the space is served. No `start`/`stop`: we do not run apps.
#[derive(Debug, Serialize)]
pub struct AppLinks2015 {
    #[serde(rename = "self")]
    pub this: Link,
    pub processes: Link,
    pub packages: Link,
    pub space: Link,
    pub assign_current_droplet: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_droplet: Option<Link>,
}

/// `total_desired_instances`: the sum over the app's processes. `show_secrets`: the caller may
/// read the space's secrets (the 2015 `environment_variables`).
pub fn present(
    app: &AppRecord,
    total_desired_instances: i64,
    show_secrets: bool,
    default_stack: &str,
    links: &Links,
) -> AppView {
    AppView {
        current: CurrentApp {
            header: Header::new(&app.guid, &app.created_at, app.updated_at.as_deref()),
            name: app.name.clone(),
            state: app.desired_state.clone(),
            lifecycle: lifecycle(app, default_stack),
            relationships: AppRelationships {
                space: to_one(&app.space_guid),
            },
            metadata: app.metadata_json(),
            links: today_links(app, links),
        },
        experimental: ExperimentalApp {
            desired_state: app.desired_state.clone(),
            total_desired_instances,
            environment_variables: show_secrets.then(|| app.env_vars()),
            links: experimental_links(app),
        },
    }
}

fn lifecycle(app: &AppRecord, default_stack: &str) -> AppLifecycle {
    let buildpacks = app.buildpacks();
    AppLifecycle {
        kind: "buildpack",
        data: BuildpackLifecycleData {
            buildpacks: (buildpacks.iter())
                .map(|b| BuildpackUrl::shown(b).into_owned())
                .collect(),
            stack: (app.lifecycle_stack.as_deref())
                .unwrap_or(default_stack)
                .to_string(),
        },
    }
}

fn today_links(app: &AppRecord, links: &Links) -> AppLinks {
    let base = format!("/v3/apps/{}", app.guid);
    let path = |suffix: &str| format!("{base}{suffix}");
    AppLinks {
        this: links.href(&base),
        environment_variables: links.href(&path("/environment_variables")),
        space: links.href(&format!("/v3/spaces/{}", app.space_guid)),
        processes: links.href(&path("/processes")),
        packages: links.href(&path("/packages")),
        current_droplet: links.href(&path("/droplets/current")),
        droplets: links.href(&path("/droplets")),
        clear_buildpack_cache: links.action(&path("/actions/clear_buildpack_cache"), "POST"),
    }
}

fn experimental_links(app: &AppRecord) -> AppLinks2015 {
    let base = format!("/v3/apps/{}", app.guid);
    AppLinks2015 {
        processes: Link::to(format!("{base}/processes")),
        packages: Link::to(format!("{base}/packages")),
        space: Link::to(format!("/v3/spaces/{}", app.space_guid)),
        assign_current_droplet: Link::to(format!("{base}/current_droplet")).method("PUT"),
        desired_droplet: (app.current_droplet_guid.as_ref())
            .map(|droplet| Link::to(format!("/v3/droplets/{droplet}"))),
        this: Link::to(base),
    }
}

/// `GET|PATCH /v3/apps/:guid/environment_variables`
#[derive(Debug, Serialize)]
pub struct EnvVarsView {
    pub var: Map<String, Value>,
    pub links: EnvVarsLinks,
}

#[derive(Debug, Serialize)]
pub struct EnvVarsLinks {
    #[serde(rename = "self")]
    pub this: Link,
    pub app: Link,
}

pub fn present_env_vars(app: &AppRecord, links: &Links) -> EnvVarsView {
    let base = format!("/v3/apps/{}", app.guid);
    EnvVarsView {
        var: app.env_vars(),
        links: EnvVarsLinks {
            this: links.href(&format!("{base}/environment_variables")),
            app: links.href(&base),
        },
    }
}

/// `GET /v3/apps/:guid/env`. We keep no environment variable groups and no services, so those
/// parts are empty.
#[derive(Debug, Serialize)]
pub struct EnvView {
    pub staging_env_json: Map<String, Value>,
    pub running_env_json: Map<String, Value>,
    pub environment_variables: Map<String, Value>,
    pub system_env_json: SystemEnv,
    pub application_env_json: ApplicationEnv,
}

#[derive(Debug, Serialize)]
pub struct SystemEnv {
    #[serde(rename = "VCAP_SERVICES")]
    pub vcap_services: Map<String, Value>,
}

#[derive(Debug, Serialize)]
pub struct ApplicationEnv {
    #[serde(rename = "VCAP_APPLICATION")]
    pub vcap_application: VcapApplication,
}

/// `VCAP_APPLICATION` as CC writes it; ladle runs no instances, so no routes and no users.
#[derive(Debug, Serialize)]
pub struct VcapApplication {
    pub cf_api: String,
    pub limits: InstanceLimits,
    pub application_name: String,
    pub application_uris: Vec<String>,
    pub name: String,
    pub space_name: String,
    pub space_id: String,
    pub organization_id: String,
    pub organization_name: Option<String>,
    pub uris: Vec<String>,
    pub users: Option<Vec<String>>,
    pub application_id: String,
}

#[derive(Debug, Serialize)]
pub struct InstanceLimits {
    pub fds: u64,
    pub mem: i64,
    pub disk: i64,
}

/// The app in its space and organization; limits from its `web` process.
pub fn present_env(
    app: &AppRecord,
    space: &SpaceRecord,
    organization: Option<&OrganizationRecord>,
    web: Option<&ProcessRecord>,
    links: &Links,
) -> EnvView {
    let (memory, disk) = web
        .map(|web| (web.memory_in_mb, web.disk_in_mb))
        .unwrap_or((DEFAULT_MEMORY_MB, DEFAULT_DISK_MB));
    EnvView {
        staging_env_json: Map::new(),
        running_env_json: Map::new(),
        environment_variables: app.env_vars(),
        system_env_json: SystemEnv {
            vcap_services: Map::new(),
        },
        application_env_json: ApplicationEnv {
            vcap_application: VcapApplication {
                cf_api: links.base().to_string(),
                limits: InstanceLimits {
                    fds: FILE_DESCRIPTOR_LIMIT,
                    mem: memory,
                    disk,
                },
                application_name: app.name.clone(),
                application_uris: Vec::new(),
                name: app.name.clone(),
                space_name: space.name.clone(),
                space_id: space.guid.to_string(),
                organization_id: space.organization_guid.to_string(),
                organization_name: organization.map(|org| org.name.clone()),
                uris: Vec::new(),
                users: None,
                application_id: app.guid.to_string(),
            },
        },
    }
}
