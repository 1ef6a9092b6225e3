//! `POST /v3/stacks` body: `{name, description?, metadata?, rootfs?}`.
//!
//! `rootfs` is a ladle extension, not part of CC's API: the absolute path of a directory on the
//! staging hosts that becomes the container root when staging on this stack. Without it the
//! stager builds the root from the host's own system directories.

use std::path::{Component, Path};

use serde_json::{Map, Value};

use super::fields::Fields;
use super::MessageError;
use crate::domain::ResourceName;

/// CC's limit on stack descriptions.
const MAX_DESCRIPTION_CHARS: usize = 250;
const MAX_ROOTFS_CHARS: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
pub struct StackCreate {
    pub name: ResourceName,
    pub description: Option<String>,
    pub rootfs: Option<String>,
}

impl StackCreate {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        fields.raw("metadata");
        let name = fields
            .required_string("name")
            .and_then(|raw| match ResourceName::parse(&raw) {
                Ok(name) => Some(name),
                Err(problem) => {
                    fields.error(format!("Name {problem}"));
                    None
                }
            });
        let description = fields.optional_string("description");
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
        {
            fields.error("Description is too long (maximum is 250 characters)");
        }
        let rootfs = fields.optional_string("rootfs");
        if let Some(problem) = rootfs.as_deref().and_then(rootfs_problem) {
            fields.error(format!("Rootfs {problem}"));
        }
        let name = fields.finish_with(name)?;
        Ok(StackCreate {
            name,
            description,
            rootfs,
        })
    }
}

/// The rootfs is handed to the container runtime as-is, so it must name one directory
/// unambiguously: absolute, no `..`, not the host's root itself.
fn rootfs_problem(rootfs: &str) -> Option<&'static str> {
    if rootfs.chars().count() > MAX_ROOTFS_CHARS {
        return Some("is too long (maximum is 4096 characters)");
    }
    if rootfs.chars().any(char::is_control) {
        return Some("must not contain control characters");
    }
    let path = Path::new(rootfs);
    if !path.is_absolute() {
        return Some("must be an absolute path");
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Some("must not contain '..'");
    }
    if path.components().all(|c| c == Component::RootDir) {
        return Some("must not be the host's root directory");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<StackCreate, MessageError> {
        StackCreate::parse(body.as_object().unwrap())
    }

    #[test]
    fn accepts_a_full_body() {
        let stack = parse(
            json!({"name": "s", "description": "d", "rootfs": "/srv/rootfs/s", "metadata": {}}),
        )
        .unwrap();
        assert_eq!(stack.name.as_str(), "s");
        assert_eq!(stack.description.as_deref(), Some("d"));
        assert_eq!(stack.rootfs.as_deref(), Some("/srv/rootfs/s"));
    }

    #[test]
    fn refuses_unsafe_rootfs_paths() {
        for (rootfs, problem) in [
            ("srv/rootfs", "Rootfs must be an absolute path"),
            ("/srv/../etc", "Rootfs must not contain '..'"),
            ("/", "Rootfs must not be the host's root directory"),
            ("/srv/a\nb", "Rootfs must not contain control characters"),
        ] {
            let err = parse(json!({"name": "s", "rootfs": rootfs})).unwrap_err();
            assert_eq!(err.detail(), problem, "{rootfs}");
        }
        let err =
            parse(json!({"name": "s", "rootfs": 5, "description": "x".repeat(251)})).unwrap_err();
        assert_eq!(
            err.detail(),
            "Description is too long (maximum is 250 characters), Rootfs must be a string"
        );
    }
}
