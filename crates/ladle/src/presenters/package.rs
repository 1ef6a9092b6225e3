//! A package in today's shape, followed by the 2015 fields (`hash`, `url`, `error`, `_links`
//! with relative hrefs), so clients of either dialect read what they expect.

use serde::Serialize;
use serde_json::Value;

use super::{stored_metadata, to_one, AppRelationship, Checksum, Header, Link, Links};
use crate::db::packages::PackageRecord;
use crate::domain::PackageType;

#[derive(Debug, Serialize)]
pub struct PackageView {
    #[serde(flatten)]
    pub current: CurrentPackage,
    #[serde(flatten)]
    pub experimental: ExperimentalPackage,
}

/// Today's fields, in CC's order.
#[derive(Debug, Serialize)]
pub struct CurrentPackage {
    #[serde(flatten)]
    pub header: Header,
    #[serde(rename = "type")]
    pub package_type: String,
    pub data: PackageData,
    pub state: String,
    pub relationships: AppRelationship,
    pub metadata: Value,
    pub links: PackageLinks,
}

/// The 2015 fields.
#[derive(Debug, Serialize)]
pub struct ExperimentalPackage {
    pub hash: Option<String>,
    pub url: Option<String>,
    pub error: Option<String>,
    #[serde(rename = "_links")]
    pub links: PackageLinks2015,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum PackageData {
    Bits {
        checksum: Option<Checksum>,
        error: Option<String>,
    },
    /// The password is never shown back, only that one is set.
    Docker {
        image: Option<String>,
        username: Option<String>,
        password: Option<&'static str>,
    },
}

/// Bits packages link their upload, download and staging; docker packages have no bits.
#[derive(Debug, Serialize)]
pub struct PackageLinks {
    #[serde(rename = "self")]
    pub this: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download: Option<Link>,
    pub app: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<Link>,
}

#[derive(Debug, Serialize)]
pub struct PackageLinks2015 {
    #[serde(rename = "self")]
    pub this: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<Link>,
    pub app: Link,
}

pub fn present(package: &PackageRecord, links: &Links) -> PackageView {
    let bits = package.package_type == PackageType::Bits;
    PackageView {
        current: CurrentPackage {
            header: Header::new(
                &package.guid,
                &package.created_at,
                package.updated_at.as_deref(),
            ),
            package_type: package.package_type.as_str().to_string(),
            data: if bits {
                bits_data(package)
            } else {
                docker_data(package)
            },
            state: package.state.as_str().to_string(),
            relationships: AppRelationship {
                app: to_one(&package.app_guid),
            },
            metadata: stored_metadata(&package.metadata),
            links: current_links(package, links, bits),
        },
        experimental: ExperimentalPackage {
            hash: package.sha1.clone(),
            url: package.docker_image.clone(),
            error: package.error.clone(),
            links: links_2015(package, bits),
        },
    }
}

fn bits_data(package: &PackageRecord) -> PackageData {
    let checksum = match (&package.sha256, &package.sha1) {
        (Some(sha256), _) => Some(("sha256", sha256)),
        (None, Some(sha1)) => Some(("sha1", sha1)),
        (None, None) => None,
    };
    PackageData::Bits {
        checksum: checksum.map(|(algorithm, value)| Checksum {
            algorithm,
            value: value.clone(),
        }),
        error: package.error.clone(),
    }
}

fn docker_data(package: &PackageRecord) -> PackageData {
    PackageData::Docker {
        image: package.docker_image.clone(),
        username: package.docker_username.clone(),
        password: package.docker_username.as_ref().map(|_| "***"),
    }
}

fn current_links(package: &PackageRecord, links: &Links, bits: bool) -> PackageLinks {
    let path = format!("/v3/packages/{}", package.guid);
    let bits_link =
        |suffix: &str, method| bits.then(|| links.action(&format!("{path}{suffix}"), method));
    PackageLinks {
        this: links.href(&path),
        upload: bits_link("/upload", "POST"),
        download: bits_link("/download", "GET"),
        app: links.href(&format!("/v3/apps/{}", package.app_guid)),
        stage: bits_link("/droplets", "POST"),
    }
}

fn links_2015(package: &PackageRecord, bits: bool) -> PackageLinks2015 {
    let path = format!("/v3/packages/{}", package.guid);
    let bits_link =
        |suffix: &str, method| bits.then(|| Link::to(format!("{path}{suffix}")).method(method));
    PackageLinks2015 {
        upload: bits_link("/upload", "POST"),
        stage: bits_link("/droplets", "POST"),
        this: Link::to(path),
        app: Link::to(format!("/v3/apps/{}", package.app_guid)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn shown(package: &PackageRecord, links: &Links) -> Value {
        serde_json::to_value(present(package, links)).unwrap()
    }

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
        let view = shown(&record("bits"), &Links::new("http://x"));
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
        let view = shown(&record("docker"), &Links::new("http://x"));
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
