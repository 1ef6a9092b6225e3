//! Records → JSON views in Cloud Controller's field order. Links are absolute, built from the
//! one external URL (today's dialect); 2015 `_links` are relative paths.

pub mod app;
pub mod build;
pub mod buildpack;
pub mod droplet;
pub mod included;
pub mod job;
pub mod log_cache;
pub mod organization;
pub mod package;
pub mod pagination;
pub mod process;
pub mod role;
pub mod root;
pub mod space;
pub mod stack;
pub mod staging_log;
pub mod user;

#[cfg(test)]
mod tests;

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

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

/// Stored timestamp → CC's wire format (seconds, `Z`).
pub fn timestamp(stored: &str) -> String {
    match OffsetDateTime::parse(stored, &Rfc3339) {
        Ok(at) => {
            let at = at.to_offset(time::UtcOffset::UTC);
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second()
            )
        }
        Err(_) => stored.to_string(),
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

#[cfg(test)]
mod timestamp_tests {
    #[test]
    fn stored_microseconds_show_as_seconds() {
        assert_eq!(
            super::timestamp("2026-01-02T03:04:05.000001Z"),
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(super::timestamp("not a time"), "not a time");
    }
}
