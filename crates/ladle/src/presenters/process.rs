//! Process views: today's fields in CC's order plus 2015's relative `_links`.

use serde::Serialize;
use serde_json::Value;

use super::{empty_metadata, to_one, AppRelationship, Header, Link, Links};
use crate::db::processes::ProcessRecord;

/// What CC shows instead of a command to callers who may not read secrets.
pub const REDACTED: &str = "[PRIVATE DATA HIDDEN]";

#[derive(Debug, Serialize)]
pub struct ProcessView {
    #[serde(flatten)]
    pub header: Header,
    #[serde(rename = "type")]
    pub process_type: String,
    pub command: Option<String>,
    pub instances: i64,
    pub memory_in_mb: i64,
    pub disk_in_mb: i64,
    pub health_check: HealthCheck,
    pub relationships: AppRelationship,
    pub metadata: Value,
    /// CC also links `scale` and `stats`; we serve neither route yet, so neither is offered.
    pub links: ProcessLinks,
    /// 2015 linked the space under v2, where spaces then lived; ours live under v3.
    #[serde(rename = "_links")]
    pub links_2015: ProcessLinks,
}

/// Every process is checked on its port, with CC's defaults (no timeouts set).
#[derive(Debug, Serialize)]
pub struct HealthCheck {
    #[serde(rename = "type")]
    pub check_type: &'static str,
    pub data: HealthCheckData,
}

#[derive(Debug, Serialize)]
pub struct HealthCheckData {
    pub timeout: Option<u64>,
    pub invocation_timeout: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct ProcessLinks {
    #[serde(rename = "self")]
    pub this: Link,
    pub app: Link,
    pub space: Link,
}

/// `space_guid`: the space of the process's app. `show_command`: the caller may read the
/// space's secrets.
pub fn present(
    process: &ProcessRecord,
    space_guid: &str,
    show_command: bool,
    links: &Links,
) -> ProcessView {
    let this = format!("/v3/processes/{}", process.guid);
    let app = format!("/v3/apps/{}", process.app_guid);
    let space = format!("/v3/spaces/{space_guid}");
    ProcessView {
        header: Header::new(
            &process.guid,
            &process.created_at,
            process.updated_at.as_deref(),
        ),
        process_type: process.process_type.clone(),
        command: if show_command {
            process.command.clone()
        } else {
            Some(REDACTED.to_string())
        },
        instances: process.instances,
        memory_in_mb: process.memory_in_mb,
        disk_in_mb: process.disk_in_mb,
        health_check: HealthCheck {
            check_type: "port",
            data: HealthCheckData {
                timeout: None,
                invocation_timeout: None,
            },
        },
        relationships: AppRelationship {
            app: to_one(&process.app_guid),
        },
        metadata: empty_metadata(),
        links: ProcessLinks {
            this: links.href(&this),
            app: links.href(&app),
            space: links.href(&space),
        },
        links_2015: ProcessLinks {
            this: Link::to(this),
            app: Link::to(app),
            space: Link::to(space),
        },
    }
}
