//! A droplet as both eras read it: today's v3 fields (`links`, `checksum`, `process_types`,
//! `error`, …) and the 2015 fields of our spec page (`_links`, `hash`, `failure_reason`,
//! `procfile`, `detected_start_command`, `environment_variables`) side by side.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{empty_metadata, timestamp, to_one, AppRelationship, Checksum, GuidRef, Link, Links};
use crate::db::droplets::DropletRecord;
use crate::domain::{BuildpackUrl, DropletState};

pub const REDACTED: &str = "[PRIVATE DATA HIDDEN]";

/// The 2015 view's order: `guid`, `state`, the 2015 fields, then today's, then `_links`.
#[derive(Debug, Serialize)]
pub struct DropletView {
    pub guid: String,
    pub state: &'static str,
    #[serde(flatten)]
    pub experimental: ExperimentalDroplet,
    #[serde(flatten)]
    pub current: CurrentDroplet,
    #[serde(rename = "_links")]
    pub links_2015: DropletLinks,
}

/// The 2015 fields.
#[derive(Debug, Serialize)]
pub struct ExperimentalDroplet {
    pub hash: Option<String>,
    pub buildpack_git_url: Option<String>,
    /// `"Type: message"`
    pub failure_reason: Option<String>,
    pub detected_start_command: Option<String>,
    /// The process types as YAML, 2015's Procfile text.
    pub procfile: Option<String>,
    pub environment_variables: Redactable<Map<String, Value>>,
}

/// Today's fields, in CC's order.
#[derive(Debug, Serialize)]
pub struct CurrentDroplet {
    pub created_at: String,
    pub updated_at: Option<String>,
    /// `"Type - message"`
    pub error: Option<String>,
    pub lifecycle: DropletLifecycle,
    pub checksum: Option<Checksum>,
    pub buildpacks: Value,
    pub stack: Option<String>,
    pub image: Option<String>,
    pub execution_metadata: String,
    pub process_types: Redactable<BTreeMap<String, String>>,
    pub relationships: AppRelationship,
    pub metadata: Value,
    pub links: DropletLinks,
}

/// A secret as CC shows it: the value to those who may read the space's secrets, a note to
/// everyone else.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Redactable<T> {
    Shown(T),
    Redacted { redacted_message: &'static str },
}

impl<T> Redactable<T> {
    fn new(value: T, show: bool) -> Self {
        if show {
            Redactable::Shown(value)
        } else {
            Redactable::Redacted {
                redacted_message: REDACTED,
            }
        }
    }
}

/// A droplet's lifecycle names only its type: what staged it is in `buildpacks` and `stack`.
#[derive(Debug, Serialize)]
pub struct DropletLifecycle {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub data: Map<String, Value>,
}

/// Today's links (absolute, assignment by PATCH) and 2015's (relative, assignment by PUT with
/// its body; no download). 2015 linked the buildpack under v2, where buildpacks then lived (CC
/// moved the link to v3 in 2017); ours live under v3.
#[derive(Debug, Serialize)]
pub struct DropletLinks {
    #[serde(rename = "self")]
    pub this: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<Link>,
    pub app: Link,
    pub assign_current_droplet: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buildpack: Option<Link>,
}

/// `show_secrets`: the caller may read the space's secrets (developers, admins); others see
/// execution metadata, process types and environment redacted, as CC does.
pub fn present(d: &DropletRecord, links: &Links, show_secrets: bool) -> DropletView {
    let state = d.state;
    let process_types = d.process_types();
    let error_as = |separator: &str| {
        let message = d.error_message.as_deref().unwrap_or("");
        (d.error_id.as_ref()).map(|id| format!("{id}{separator}{message}"))
    };
    DropletView {
        guid: d.guid.to_string(),
        state: state.as_str(),
        experimental: ExperimentalDroplet {
            hash: d.sha1.clone(),
            buildpack_git_url: (d.buildpack_git_url.as_deref())
                .map(|url| BuildpackUrl::shown(url).into_owned()),
            failure_reason: error_as(": "),
            detected_start_command: d.detected_start_command.clone(),
            procfile: process_types.as_ref().map(procfile_yaml),
            environment_variables: Redactable::new(d.environment(), show_secrets),
        },
        current: CurrentDroplet {
            created_at: timestamp(&d.created_at),
            updated_at: d.updated_at.as_deref().map(timestamp),
            error: error_as(" - "),
            lifecycle: DropletLifecycle {
                kind: "buildpack",
                data: Map::new(),
            },
            checksum: d.sha256.as_ref().map(|sha| Checksum {
                algorithm: "sha256",
                value: sha.clone(),
            }),
            buildpacks: buildpacks(d),
            stack: d.stack.clone(),
            image: None,
            execution_metadata: if show_secrets {
                d.execution_metadata.clone().unwrap_or_default()
            } else {
                REDACTED.to_string()
            },
            process_types: match process_types {
                Some(types) => Redactable::new(types, show_secrets),
                None => Redactable::Shown(BTreeMap::new()),
            },
            relationships: AppRelationship {
                app: to_one(&d.app_guid),
            },
            metadata: empty_metadata(),
            links: today_links(d, state, links),
        },
        links_2015: links_2015(d),
    }
}

/// `GET|PATCH /v3/apps/:guid/relationships/current_droplet`
#[derive(Debug, Serialize)]
pub struct CurrentDropletRelationship {
    pub data: Option<GuidRef>,
    pub links: RelationshipLinks,
}

#[derive(Debug, Serialize)]
pub struct RelationshipLinks {
    #[serde(rename = "self")]
    pub this: Link,
    pub related: Link,
}

pub fn present_current_relationship(
    app_guid: &str,
    droplet_guid: Option<&str>,
    links: &Links,
) -> CurrentDropletRelationship {
    CurrentDropletRelationship {
        data: droplet_guid.map(GuidRef::new),
        links: RelationshipLinks {
            this: links.href(&format!(
                "/v3/apps/{app_guid}/relationships/current_droplet"
            )),
            related: links.href(&format!("/v3/apps/{app_guid}/droplets/current")),
        },
    }
}

/// The Procfile text CC's 2015 API shows: process types as YAML.
fn procfile_yaml(process_types: &BTreeMap<String, String>) -> String {
    serde_yaml_ng::to_string(process_types).unwrap_or_default()
}

/// The buildpacks that staged the droplet; a URL's credentials are not shown (CC shows the
/// obfuscated URL as the `name`).
fn buildpacks(d: &DropletRecord) -> Value {
    let mut buildpacks = (d.buildpacks_metadata.as_deref())
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or_else(|| Value::Array(Vec::new()));
    if let Value::Array(entries) = &mut buildpacks {
        for entry in entries {
            if let Some(Value::String(name)) = entry.get_mut("name") {
                *name = BuildpackUrl::shown(name).into_owned();
            }
        }
    }
    buildpacks
}

fn today_links(d: &DropletRecord, state: DropletState, links: &Links) -> DropletLinks {
    DropletLinks {
        this: links.href(&format!("/v3/droplets/{}", d.guid)),
        package: (d.package_guid.as_ref()).map(|p| links.href(&format!("/v3/packages/{p}"))),
        app: links.href(&format!("/v3/apps/{}", d.app_guid)),
        assign_current_droplet: links.action(
            &format!("/v3/apps/{}/relationships/current_droplet", d.app_guid),
            "PATCH",
        ),
        download: (state == DropletState::Staged)
            .then(|| links.href(&format!("/v3/droplets/{}/download", d.guid))),
        buildpack: (d.buildpack_guid.as_ref())
            .map(|bp| links.href(&format!("/v3/buildpacks/{bp}"))),
    }
}

/// 2015 `_links`: relative paths, assignment by PUT with the body to send.
fn links_2015(d: &DropletRecord) -> DropletLinks {
    let assignment_body = serde_json::json!({ "desired_droplet_guid": d.guid }).to_string();
    DropletLinks {
        this: Link::to(format!("/v3/droplets/{}", d.guid)),
        package: (d.package_guid.as_ref()).map(|p| Link::to(format!("/v3/packages/{p}"))),
        app: Link::to(format!("/v3/apps/{}", d.app_guid)),
        assign_current_droplet: Link {
            body: Some(assignment_body),
            ..Link::to(format!("/v3/apps/{}/current_droplet", d.app_guid)).method("PUT")
        },
        download: None,
        buildpack: (d.buildpack_guid.as_ref()).map(|bp| Link::to(format!("/v3/buildpacks/{bp}"))),
    }
}
