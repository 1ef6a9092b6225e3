//! Records → JSON views in Cloud Controller's field order. Links are absolute, built from the
//! one external URL (today's dialect); 2015 `_links` are relative paths.

pub mod app;
pub mod build;
pub mod buildpack;
pub mod droplet;
pub mod job;
pub mod organization;
pub mod package;
pub mod pagination;
pub mod process;
pub mod role;
pub mod root;
pub mod space;
pub mod stack;
pub mod user;

#[cfg(test)]
mod tests;
use serde_json::{json, Value};

pub use crate::db::present_timestamp as timestamp;

/// Builds absolute hrefs from the configured external URL.
#[derive(Debug, Clone)]
pub struct Links {
    base: String,
}

impl Links {
    pub fn new(external_url: &str) -> Self {
        Links {
            base: external_url.trim_end_matches('/').to_string(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `{"href": "<base><path>"}`
    pub fn href(&self, path: &str) -> Value {
        json!({ "href": self.url(path) })
    }

    /// `{"href": ..., "method": ...}` for action links.
    pub fn action(&self, path: &str, method: &str) -> Value {
        json!({ "href": self.url(path), "method": method })
    }
}

/// `updated_at` as CC shows it: the stored time, or `created_at` for rows never updated
/// (today's dialect never shows null).
pub fn updated_at(created_at: &str, updated_at: Option<&str>) -> String {
    timestamp(updated_at.unwrap_or(created_at))
}

/// `{"data": {"guid": g}}`
pub fn to_one(guid: &str) -> Value {
    json!({ "data": { "guid": guid } })
}

pub fn empty_metadata() -> Value {
    json!({ "labels": {}, "annotations": {} })
}
