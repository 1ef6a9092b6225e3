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
pub mod scim_user;
pub mod space;
pub mod stack;
pub mod staging_log;
pub mod user;

#[cfg(test)]
mod tests;

use serde::Serialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Builds absolute hrefs from the configured external URL.
#[derive(Debug, Clone)]
pub struct Links {
    base: String,
    /// Where clients log in: our own origin, or the external UAA's.
    login: String,
}

impl Links {
    pub fn new(external_url: &str) -> Self {
        let base = external_url.trim_end_matches('/').to_string();
        Links {
            login: base.clone(),
            base,
        }
    }

    /// Links to an external UAA for logging in (`LADLE_UAA_URL`).
    pub fn with_login(mut self, login_url: &str) -> Self {
        self.login = login_url.trim_end_matches('/').to_string();
        self
    }

    /// The base of the token endpoint (`/oauth/token`), `/login` and `/token_keys`.
    pub fn login(&self) -> &str {
        &self.login
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `{"href": "<base><path>"}`
    pub fn href(&self, path: &str) -> Link {
        Link::to(self.url(path))
    }

    /// `{"href": ..., "method": ...}` for action links.
    pub fn action(&self, path: &str, method: &'static str) -> Link {
        self.href(path).method(method)
    }
}

/// One link: today's absolute `href`, or a 2015 relative path. Action links name their method;
/// 2015's assignment link also carries the body to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub href: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl Link {
    /// A link to `href` as given: a 2015 relative path, or an absolute URL.
    pub fn to(href: impl Into<String>) -> Self {
        Link {
            href: href.into(),
            method: None,
            body: None,
        }
    }

    pub fn method(self, method: &'static str) -> Self {
        Link {
            method: Some(method),
            ..self
        }
    }
}

/// `links` of a resource that links only itself.
#[derive(Debug, Serialize)]
pub struct SelfLink {
    #[serde(rename = "self")]
    pub this: Link,
}

/// The three fields every resource view opens with.
#[derive(Debug, Serialize)]
pub struct Header {
    pub guid: String,
    pub created_at: String,
    pub updated_at: String,
}

impl Header {
    pub fn new(guid: &str, created_at: &str, updated: Option<&str>) -> Self {
        Header {
            guid: guid.to_string(),
            created_at: timestamp(created_at),
            updated_at: updated_at(created_at, updated),
        }
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

/// `{"guid": g}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuidRef {
    pub guid: String,
}

impl GuidRef {
    pub fn new(guid: &str) -> Self {
        GuidRef {
            guid: guid.to_string(),
        }
    }
}

/// A to-one relationship: `{"data": {"guid": g}}`, or CC's `{"data": null}` for one not set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToOne {
    pub data: Option<GuidRef>,
}

/// `{"data": {"guid": g}}`
pub fn to_one(guid: &str) -> ToOne {
    ToOne {
        data: Some(GuidRef::new(guid)),
    }
}

/// `{"data": null}`
pub fn to_none() -> ToOne {
    ToOne { data: None }
}

/// `{"type": "sha256", "value": …}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checksum {
    #[serde(rename = "type")]
    pub algorithm: &'static str,
    pub value: String,
}

/// `{"relationships": {"app": …}}` of the views that belong to an app.
#[derive(Debug, Serialize)]
pub struct AppRelationship {
    pub app: ToOne,
}

/// Labels and annotations, or a JSON column, as stored: parsed and shown unchanged, with
/// `fallback` for anything that is not a JSON object.
pub fn stored_object(stored: &str, fallback: impl FnOnce() -> Value) -> Value {
    match serde_json::from_str(stored) {
        Ok(value @ Value::Object(_)) => value,
        _ => fallback(),
    }
}

/// Stored `{"labels", "annotations"}` JSON; anything unreadable shows as empty.
pub fn stored_metadata(stored: &str) -> Value {
    stored_object(stored, empty_metadata)
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
