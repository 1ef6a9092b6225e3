//! The discovery documents: `GET /`, `GET /v3`, `GET /v3/info` and `GET /v2/info`.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Link, Links, SelfLink};

pub const API_VERSION_V3: &str = "3.228.0";
pub const API_VERSION_V2: &str = "2.293.0";

/// `GET /`
#[derive(Debug, Serialize)]
pub struct RootView {
    pub links: RootLinks,
}

/// The one document whose links may be `null`: there a null link is CC's way of saying a
/// feature is off, and clients switch it off. `login` and `uaa` name where `/oauth/token` is
/// answered: ladle's own origin, or the external UAA.
#[derive(Debug, Serialize)]
pub struct RootLinks {
    #[serde(rename = "self")]
    pub this: Link,
    pub cloud_controller_v2: Option<Link>,
    pub cloud_controller_v3: VersionedLink,
    pub network_policy_v0: Option<Link>,
    pub network_policy_v1: Option<Link>,
    pub login: Option<Link>,
    pub uaa: Option<Link>,
    pub credhub: Option<Link>,
    pub routing: Option<Link>,
    pub logging: Option<Link>,
    pub log_cache: Option<Link>,
    pub log_stream: Option<Link>,
    pub app_ssh: Option<Link>,
}

#[derive(Debug, Serialize)]
pub struct VersionedLink {
    pub href: String,
    pub meta: ApiVersion,
}

#[derive(Debug, Serialize)]
pub struct ApiVersion {
    pub version: &'static str,
}

pub fn root(links: &Links) -> RootView {
    RootView {
        links: RootLinks {
            this: links.href(""),
            cloud_controller_v2: None,
            cloud_controller_v3: VersionedLink {
                href: links.url("/v3"),
                meta: ApiVersion {
                    version: API_VERSION_V3,
                },
            },
            network_policy_v0: None,
            network_policy_v1: None,
            login: Some(Link::to(links.login().to_string())),
            uaa: Some(Link::to(links.login().to_string())),
            credhub: None,
            routing: None,
            logging: None,
            // Staging logs are served log-cache style on our own origin (`/api/v1/read`).
            log_cache: Some(links.href("")),
            log_stream: None,
            app_ssh: None,
        },
    }
}

/// `GET /v3`
#[derive(Debug, Serialize)]
pub struct V3View {
    pub links: V3Links,
}

/// The resources we serve, every one of them.
#[derive(Debug, Serialize)]
pub struct V3Links {
    #[serde(rename = "self")]
    pub this: Link,
    pub info: Link,
    pub apps: Link,
    pub buildpacks: Link,
    pub builds: Link,
    pub droplets: Link,
    pub organizations: Link,
    pub packages: Link,
    pub processes: Link,
    pub roles: Link,
    pub spaces: Link,
    pub stacks: Link,
    pub users: Link,
}

pub fn v3(links: &Links) -> V3View {
    let v3 = |path: &str| links.href(&format!("/v3{path}"));
    V3View {
        links: V3Links {
            this: v3(""),
            info: v3("/info"),
            apps: v3("/apps"),
            buildpacks: v3("/buildpacks"),
            builds: v3("/builds"),
            droplets: v3("/droplets"),
            organizations: v3("/organizations"),
            packages: v3("/packages"),
            processes: v3("/processes"),
            roles: v3("/roles"),
            spaces: v3("/spaces"),
            stacks: v3("/stacks"),
            users: v3("/users"),
        },
    }
}

/// `GET /v3/info`
#[derive(Debug, Serialize)]
pub struct V3InfoView {
    pub build: &'static str,
    pub cli_version: CliVersion,
    pub custom: Map<String, Value>,
    pub description: &'static str,
    pub name: &'static str,
    pub version: u32,
    pub osbapi_version: &'static str,
    pub rate_limits: RateLimits,
    /// CC links `support` to the operator's support address; we have none to offer.
    pub links: SelfLink,
}

#[derive(Debug, Serialize)]
pub struct CliVersion {
    pub minimum: &'static str,
    pub recommended: &'static str,
}

/// We do not limit request rates.
#[derive(Debug, Serialize)]
pub struct RateLimits {
    pub enabled: bool,
    pub general_limit: Option<u64>,
    pub reset_interval_in_minutes: Option<u64>,
}

pub fn v3_info(links: &Links) -> V3InfoView {
    V3InfoView {
        build: "",
        cli_version: CliVersion {
            minimum: "",
            recommended: "",
        },
        custom: Map::new(),
        description: "ladle: a Cloud Controller v3 API that stages apps with real buildpacks",
        name: "ladle",
        version: 3,
        osbapi_version: "",
        rate_limits: RateLimits {
            enabled: false,
            general_limit: None,
            reset_interval_in_minutes: None,
        },
        links: SelfLink {
            this: links.href("/v3/info"),
        },
    }
}

/// `GET /v2/info`: what v2-era clients read before anything else; the token endpoints are this
/// server.
#[derive(Debug, Serialize)]
pub struct V2InfoView {
    pub name: &'static str,
    pub build: &'static str,
    pub support: &'static str,
    pub version: u32,
    pub description: &'static str,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub min_cli_version: Option<String>,
    pub min_recommended_cli_version: Option<String>,
    pub app_ssh_endpoint: Option<String>,
    pub app_ssh_host_key_fingerprint: Option<String>,
    pub app_ssh_oauth_client: Option<String>,
    pub doppler_logging_endpoint: Option<String>,
    pub api_version: &'static str,
    pub osbapi_version: &'static str,
}

pub fn v2_info(links: &Links) -> V2InfoView {
    V2InfoView {
        name: "ladle",
        build: "",
        support: "",
        version: 0,
        description: "ladle",
        authorization_endpoint: links.login().to_string(),
        token_endpoint: links.login().to_string(),
        min_cli_version: None,
        min_recommended_cli_version: None,
        app_ssh_endpoint: None,
        app_ssh_host_key_fingerprint: None,
        app_ssh_oauth_client: None,
        doppler_logging_endpoint: None,
        api_version: API_VERSION_V2,
        osbapi_version: "",
    }
}
