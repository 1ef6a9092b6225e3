//! Package creation bodies in both dialects: today's `POST /v3/packages`
//! `{type, relationships:{app:{data:{guid}}}, data?, metadata?}` and the 2015
//! `POST /v3/apps/:guid/packages` `{type, url?}`.

use serde_json::{Map, Value};

use super::app_create::parse_metadata;
use super::fields::Fields;
use super::MessageError;
use crate::domain::{Guid, MetadataPatch};

/// Longest docker image reference or credential we keep.
const MAX_DOCKER_FIELD_CHARS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageContent {
    Bits,
    Docker {
        image: String,
        username: Option<String>,
        password: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageCreate {
    pub app_guid: Guid,
    pub content: PackageContent,
    pub metadata: MetadataPatch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bits,
    Docker,
}

impl PackageCreate {
    /// Today's dialect.
    pub fn parse(body: &Map<String, Value>) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        let kind = package_kind(&mut fields);
        let app_guid = app_relationship(&mut fields);
        let data = fields.raw("data");
        let content = kind.and_then(|kind| data_content(&mut fields, kind, data));
        let metadata = fields
            .raw("metadata")
            .and_then(|value| parse_metadata(value, &mut fields));
        let (app_guid, content) = fields.finish_with(app_guid.zip(content))?;
        Ok(PackageCreate {
            app_guid: app_guid.into(),
            content,
            metadata: metadata.unwrap_or_default(),
        })
    }

    /// The 2015 dialect; the app comes from the path.
    pub fn parse_2015(body: &Map<String, Value>, app_guid: &str) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        let kind = package_kind(&mut fields);
        let url = fields.optional_string("url");
        let content = match (kind, url) {
            (Some(Kind::Bits), None) => Some(PackageContent::Bits),
            (Some(Kind::Bits), Some(_)) => {
                fields.error("Url must be blank when type is bits");
                None
            }
            (Some(Kind::Docker), Some(image)) if !image.is_empty() => {
                docker_content(&mut fields, image, None, None)
            }
            (Some(Kind::Docker), _) => {
                fields.error("Url can not be blank when type is docker");
                None
            }
            (None, _) => None,
        };
        let content = fields.finish_with(content)?;
        Ok(PackageCreate {
            app_guid: app_guid.into(),
            content,
            metadata: MetadataPatch::default(),
        })
    }
}

fn package_kind(fields: &mut Fields) -> Option<Kind> {
    match fields.raw("type") {
        Some(Value::String(s)) if s == "bits" => Some(Kind::Bits),
        Some(Value::String(s)) if s == "docker" => Some(Kind::Docker),
        _ => {
            fields.error("Type must be one of 'bits, docker'");
            None
        }
    }
}

fn app_relationship(fields: &mut Fields) -> Option<String> {
    let guid = match fields.raw("relationships") {
        Some(Value::Object(relationships)) => Fields::relationship_guid(relationships, "app"),
        _ => None,
    };
    match guid {
        Some(guid) if !guid.is_empty() => Some(guid),
        _ => {
            fields.error(
                "Relationships must include an app: {\"app\": {\"data\": {\"guid\": \"...\"}}}",
            );
            None
        }
    }
}

fn data_content(fields: &mut Fields, kind: Kind, data: Option<&Value>) -> Option<PackageContent> {
    match (kind, data) {
        (Kind::Bits, None | Some(Value::Null)) => Some(PackageContent::Bits),
        (Kind::Bits, Some(Value::Object(map))) if map.is_empty() => Some(PackageContent::Bits),
        (Kind::Bits, Some(_)) => {
            fields.error("Data must be empty if provided for bits packages");
            None
        }
        (Kind::Docker, Some(Value::Object(map))) => docker_data(fields, map),
        (Kind::Docker, _) => {
            fields.error("Data must be an object with an image for docker packages");
            None
        }
    }
}

fn docker_data(fields: &mut Fields, data: &Map<String, Value>) -> Option<PackageContent> {
    let unknown: Vec<&str> = data
        .keys()
        .map(String::as_str)
        .filter(|k| !["image", "username", "password"].contains(k))
        .collect();
    if !unknown.is_empty() {
        fields.error(format!(
            "Data has unknown field(s): '{}'",
            unknown.join("', '")
        ));
    }
    let text = |fields: &mut Fields, key: &str| match data.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            fields.error(format!("Data {key} must be a string"));
            None
        }
    };
    let image = text(fields, "image");
    let username = text(fields, "username");
    let password = text(fields, "password");
    match image {
        Some(image) if !image.is_empty() => docker_content(fields, image, username, password),
        _ => {
            fields.error("Data image can't be blank for docker packages");
            None
        }
    }
}

fn docker_content(
    fields: &mut Fields,
    image: String,
    username: Option<String>,
    password: Option<String>,
) -> Option<PackageContent> {
    let too_long = [&Some(image.clone()), &username, &password]
        .into_iter()
        .flatten()
        .any(|v| v.chars().count() > MAX_DOCKER_FIELD_CHARS || v.chars().any(char::is_control));
    if too_long {
        fields.error("Docker image and credentials must be at most 4096 printable characters");
        return None;
    }
    if username.is_some() != password.is_some() {
        fields.error("Data username and password must be given together");
        return None;
    }
    Some(PackageContent::Docker {
        image,
        username,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<PackageCreate, MessageError> {
        PackageCreate::parse(body.as_object().unwrap())
    }

    #[test]
    fn reads_bits_and_docker_packages() {
        let app = json!({"app": {"data": {"guid": "a1"}}});
        let bits = parse(json!({"type": "bits", "relationships": app, "data": {}})).unwrap();
        assert_eq!(bits.app_guid, "a1");
        assert_eq!(bits.content, PackageContent::Bits);
        let docker = parse(json!({"type": "docker", "relationships": app,
            "data": {"image": "nginx:1", "username": "u", "password": "p"}}))
        .unwrap();
        assert_eq!(
            docker.content,
            PackageContent::Docker {
                image: "nginx:1".into(),
                username: Some("u".into()),
                password: Some("p".into())
            }
        );
    }

    #[test]
    fn refuses_bad_bodies_with_every_problem() {
        let app = json!({"app": {"data": {"guid": "a1"}}});
        let err = parse(json!({"type": "bits", "relationships": app, "data": {"image": "x"}}))
            .unwrap_err();
        assert_eq!(
            err.detail(),
            "Data must be empty if provided for bits packages"
        );
        let err = parse(json!({"type": "zip", "extra": 1})).unwrap_err();
        assert!(err.detail().starts_with(
            "Unknown field(s): 'extra', Type must be one of 'bits, docker', Relationships"
        ));
        let err = parse(json!({"type": "docker", "relationships": app, "data": {}})).unwrap_err();
        assert_eq!(
            err.detail(),
            "Data image can't be blank for docker packages"
        );
    }

    #[test]
    fn reads_the_2015_dialect() {
        let bits =
            PackageCreate::parse_2015(json!({"type": "bits"}).as_object().unwrap(), "a").unwrap();
        assert_eq!(bits.content, PackageContent::Bits);
        let err = PackageCreate::parse_2015(json!({"type": "nope"}).as_object().unwrap(), "a")
            .unwrap_err();
        assert_eq!(err.detail(), "Type must be one of 'bits, docker'");
        let err = PackageCreate::parse_2015(
            json!({"type": "bits", "url": "docker:///x"})
                .as_object()
                .unwrap(),
            "a",
        )
        .unwrap_err();
        assert_eq!(err.detail(), "Url must be blank when type is bits");
        let err = PackageCreate::parse_2015(json!({"type": "docker"}).as_object().unwrap(), "a")
            .unwrap_err();
        assert_eq!(err.detail(), "Url can not be blank when type is docker");
    }
}
