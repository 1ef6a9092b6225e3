//! `POST /v3/buildpacks` body: `{name, stack?, position?, enabled?, locked?, metadata?}`.

use serde_json::{Map, Value};

use super::app_create::parse_metadata;
use super::fields::Fields;
use super::MessageError;
use crate::domain::MetadataPatch;

/// CC's limit on buildpack names and stack names.
const MAX_NAME_CHARS: usize = 250;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildpackCreate {
    pub name: String,
    pub stack: Option<String>,
    /// 1-based; `None` puts the buildpack last.
    pub position: Option<i64>,
    pub enabled: bool,
    pub locked: bool,
    pub metadata: MetadataPatch,
}

impl BuildpackCreate {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        let name = fields
            .required_string("name")
            .and_then(|name| checked_name(&mut fields, name));
        let stack = fields
            .optional_string("stack")
            .and_then(|stack| checked_stack(&mut fields, stack));
        let position = checked_position(&mut fields);
        let enabled = fields.optional_bool("enabled").unwrap_or(true);
        let locked = fields.optional_bool("locked").unwrap_or(false);
        let metadata = fields
            .raw("metadata")
            .and_then(|value| parse_metadata(value, &mut fields));
        let name = fields.finish_with(name)?;
        Ok(BuildpackCreate {
            name,
            stack,
            position,
            enabled,
            locked,
            metadata: metadata.unwrap_or_default(),
        })
    }
}

/// Buildpack names become folder names during staging, so they keep to CC's `\A[\w-]+\z`.
pub(super) fn checked_name(fields: &mut Fields, name: String) -> Option<String> {
    if name.is_empty() {
        fields.error("Name can't be blank");
        None
    } else if name.chars().count() > MAX_NAME_CHARS {
        fields.error("Name is too long (maximum is 250 characters)");
        None
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        fields.error("Name can only contain alphanumeric characters");
        None
    } else {
        Some(name)
    }
}

pub(super) fn checked_stack(fields: &mut Fields, stack: String) -> Option<String> {
    if stack.is_empty() || stack.chars().count() > MAX_NAME_CHARS {
        fields.error("Stack must be between 1 and 250 characters");
        None
    } else {
        Some(stack)
    }
}

pub(super) fn checked_position(fields: &mut Fields) -> Option<i64> {
    match fields.optional_integer("position") {
        Some(position) if position < 1 => {
            fields.error("Position must be greater than or equal to 1");
            None
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<BuildpackCreate, MessageError> {
        BuildpackCreate::parse(body.as_object().unwrap())
    }

    #[test]
    fn defaults_to_enabled_unlocked_and_last() {
        let created = parse(json!({"name": "ruby_buildpack"})).unwrap();
        assert_eq!(
            created,
            BuildpackCreate {
                name: "ruby_buildpack".into(),
                stack: None,
                position: None,
                enabled: true,
                locked: false,
                metadata: MetadataPatch::default(),
            }
        );
    }

    #[test]
    fn lists_every_problem() {
        let err = parse(json!({"name": "../x", "position": 0, "enabled": "yes", "colour": 1}))
            .unwrap_err();
        assert_eq!(
            err.detail(),
            "Unknown field(s): 'colour', Name can only contain alphanumeric characters, \
             Position must be greater than or equal to 1, Enabled must be a boolean"
        );
        assert_eq!(
            parse(json!({})).unwrap_err().detail(),
            "Name can't be blank"
        );
    }
}
