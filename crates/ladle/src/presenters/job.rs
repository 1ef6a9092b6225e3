//! Job views (`/v3/jobs/:guid`).

use serde::Serialize;
use serde_json::Value;

use super::{Header, Links, SelfLink};
use crate::db::jobs::JobRecord;

#[derive(Debug, Serialize)]
pub struct JobView {
    #[serde(flatten)]
    pub header: Header,
    pub operation: String,
    pub state: String,
    pub links: SelfLink,
    /// The stored CC error bodies of a failed job, as they were recorded.
    pub errors: Value,
    pub warnings: Vec<Value>,
}

pub fn present(job: &JobRecord, links: &Links) -> JobView {
    JobView {
        header: Header::new(&job.guid, &job.created_at, job.updated_at.as_deref()),
        operation: job.operation.clone(),
        state: job.state.as_str().to_string(),
        links: SelfLink {
            this: links.href(&format!("/v3/jobs/{}", job.guid)),
        },
        errors: serde_json::from_str(&job.errors).unwrap_or_else(|_| Value::Array(Vec::new())),
        warnings: Vec::new(),
    }
}
