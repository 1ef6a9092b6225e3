//! A package in today's shape, followed by the 2015 fields (`hash`, `url`, `error`, `_links`
//! with relative hrefs), so clients of either dialect read what they expect.

use serde_json::{json, Value};

use super::{empty_metadata, timestamp, to_one, updated_at, Links};
use crate::db::packages::PackageRecord;
use crate::domain::PackageType;

pub fn present(package: &PackageRecord, links: &Links) -> Value {
    let bits = package.package_type == PackageType::Bits;
    json!({
        "guid": package.guid,
        "created_at": timestamp(&package.created_at),
        "updated_at": updated_at(&package.created_at, package.updated_at.as_deref()),
        "type": package.package_type,
        "data": if bits { bits_data(package) } else { docker_data(package) },
        "state": package.state,
        "relationships": { "app": to_one(&package.app_guid) },
        "metadata": stored_metadata(&package.metadata),
        "links": current_links(package, links, bits),
        "hash": package.sha1,
        "url": package.docker_image,
        "error": package.error,
        "_links": links_2015(package, bits),
    })
}

/// Stored `{"labels", "annotations"}` JSON; anything unreadable shows as empty.
pub(super) fn stored_metadata(stored: &str) -> Value {
    match serde_json::from_str(stored) {
        Ok(value @ Value::Object(_)) => value,
        _ => empty_metadata(),
    }
}

fn bits_data(package: &PackageRecord) -> Value {
    let checksum = match (&package.sha256, &package.sha1) {
        (Some(sha256), _) => json!({ "type": "sha256", "value": sha256 }),
        (None, Some(sha1)) => json!({ "type": "sha1", "value": sha1 }),
        (None, None) => Value::Null,
    };
    json!({ "checksum": checksum, "error": package.error })
}

/// The password is never shown back, only that one is set.
fn docker_data(package: &PackageRecord) -> Value {
    json!({
        "image": package.docker_image,
        "username": package.docker_username,
        "password": package.docker_username.as_ref().map(|_| "***"),
    })
}

fn current_links(package: &PackageRecord, links: &Links, bits: bool) -> Value {
    let path = format!("/v3/packages/{}", package.guid);
    let mut view = json!({ "self": links.href(&path) });
    if bits {
        view["upload"] = links.action(&format!("{path}/upload"), "POST");
        view["download"] = links.action(&format!("{path}/download"), "GET");
    }
    view["app"] = links.href(&format!("/v3/apps/{}", package.app_guid));
    if bits {
        view["stage"] = links.action(&format!("{path}/droplets"), "POST");
    }
    view
}

fn links_2015(package: &PackageRecord, bits: bool) -> Value {
    let path = format!("/v3/packages/{}", package.guid);
    let mut view = json!({ "self": { "href": path } });
    if bits {
        view["upload"] = json!({ "href": format!("{path}/upload"), "method": "POST" });
        view["stage"] = json!({ "href": format!("{path}/droplets"), "method": "POST" });
    }
    view["app"] = json!({ "href": format!("/v3/apps/{}", package.app_guid) });
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: &str) -> PackageRecord {
        PackageRecord {
            guid: "p1".into(),
            app_guid: "a1".into(),
            package_type: kind.parse().unwrap(),
            state: "READY".parse().unwrap(),
            sha1: Some("s1".into()),
            sha256: Some("s256".into()),
            error: None,
            docker_image: (kind == "docker").then(|| "nginx".to_string()),
            docker_username: (kind == "docker").then(|| "me".to_string()),
            docker_password: (kind == "docker").then(|| "secret".to_string()),
            created_at: "2026-01-02T03:04:05.000001Z".into(),
            updated_at: None,
            metadata: r#"{"labels":{"team":"a"},"annotations":{}}"#.into(),
        }
    }

    #[test]
    fn bits_show_checksums_and_both_link_styles() {
        let view = present(&record("bits"), &Links::new("http://x"));
        assert_eq!(view["data"]["checksum"]["type"], "sha256");
        assert_eq!(view["data"]["checksum"]["value"], "s256");
        assert_eq!(view["hash"], "s1");
        assert_eq!(view["url"], Value::Null);
        assert_eq!(view["metadata"]["labels"]["team"], "a");
        assert_eq!(view["updated_at"], "2026-01-02T03:04:05Z");
        assert_eq!(
            view["links"]["upload"],
            json!({"href": "http://x/v3/packages/p1/upload", "method": "POST"})
        );
        assert_eq!(view["_links"]["app"]["href"], "/v3/apps/a1");
        let keys: Vec<&String> = view.as_object().unwrap().keys().collect();
        assert_eq!(keys[..4], ["guid", "created_at", "updated_at", "type"]);
    }

    #[test]
    fn docker_hides_the_password_and_has_no_bits_links() {
        let view = present(&record("docker"), &Links::new("http://x"));
        assert_eq!(
            view["data"],
            json!({"image": "nginx", "username": "me", "password": "***"})
        );
        assert_eq!(view["url"], "nginx");
        assert!(view["links"].get("upload").is_none());
        assert!(view["_links"].get("stage").is_none());
        assert!(!view.to_string().contains("secret"));
    }
}
