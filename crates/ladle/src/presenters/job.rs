//! Job views (`/v3/jobs/:guid`).

use serde_json::{json, Value};

use super::{timestamp, updated_at, Links};
use crate::db::jobs::JobRecord;

pub fn present(job: &JobRecord, links: &Links) -> Value {
    let errors: Value = serde_json::from_str(&job.errors).unwrap_or_else(|_| json!([]));
    json!({
        "guid": job.guid,
        "created_at": timestamp(&job.created_at),
        "updated_at": updated_at(&job.created_at, job.updated_at.as_deref()),
        "operation": job.operation,
        "state": job.state,
        "links": { "self": links.href(&format!("/v3/jobs/{}", job.guid)) },
        "errors": errors,
        "warnings": [],
    })
}
