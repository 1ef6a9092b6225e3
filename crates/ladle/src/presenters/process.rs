//! Process views: today's fields in CC's order plus 2015's relative `_links`.

use serde_json::{json, Value};

use super::{empty_metadata, timestamp, to_one, updated_at, Links};
use crate::db::processes::ProcessRecord;

/// What CC shows instead of a command to callers who may not read secrets.
pub const REDACTED: &str = "[PRIVATE DATA HIDDEN]";

/// `space_guid`: the space of the process's app. `show_command`: the caller may read the
/// space's secrets.
pub fn present(
    process: &ProcessRecord,
    space_guid: &str,
    show_command: bool,
    links: &Links,
) -> Value {
    let base = format!("/v3/processes/{}", process.guid);
    let command = if show_command {
        json!(process.command)
    } else {
        json!(REDACTED)
    };
    json!({
        "guid": process.guid,
        "created_at": timestamp(&process.created_at),
        "updated_at": updated_at(&process.created_at, process.updated_at.as_deref()),
        "type": process.process_type,
        "command": command,
        "instances": process.instances,
        "memory_in_mb": process.memory_in_mb,
        "disk_in_mb": process.disk_in_mb,
        "health_check": {
            "type": "port",
            "data": { "timeout": Value::Null, "invocation_timeout": Value::Null },
        },
        "relationships": { "app": to_one(&process.app_guid) },
        "metadata": empty_metadata(),
        // CC also links `scale` and `stats`; we serve neither route yet, so neither is offered.
        "links": {
            "self": links.href(&base),
            "app": links.href(&format!("/v3/apps/{}", process.app_guid)),
            "space": links.href(&format!("/v3/spaces/{space_guid}")),
        },
        // 2015 linked the space under v2, where spaces then lived; ours live under v3.
        "_links": {
            "self": { "href": base },
            "app": { "href": format!("/v3/apps/{}", process.app_guid) },
            "space": { "href": format!("/v3/spaces/{space_guid}") },
        },
    })
}
