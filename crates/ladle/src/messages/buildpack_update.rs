//! `PATCH /v3/buildpacks/:guid` body: any of `{name, stack, position, enabled, locked, metadata}`.

use serde_json::{Map, Value};

use super::app_create::parse_metadata;
use super::buildpack_create::{checked_name, checked_position, checked_stack};
use super::fields::Fields;
use super::MessageError;
use crate::domain::MetadataPatch;

/// Only the fields sent are changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildpackUpdate {
    pub name: Option<String>,
    /// `Some(None)`: the client sent `"stack": null`.
    pub stack: Option<Option<String>>,
    pub position: Option<i64>,
    pub enabled: Option<bool>,
    pub locked: Option<bool>,
    pub metadata: Option<MetadataPatch>,
}

impl BuildpackUpdate {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        let name = match fields.raw("name") {
            None => None,
            Some(_) => fields
                .required_string("name")
                .and_then(|name| checked_name(&mut fields, name)),
        };
        let stack = match fields.raw("stack") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(_) => fields
                .optional_string("stack")
                .and_then(|stack| checked_stack(&mut fields, stack))
                .map(Some),
        };
        let position = checked_position(&mut fields);
        let enabled = fields.optional_bool("enabled");
        let locked = fields.optional_bool("locked");
        let metadata = fields
            .raw("metadata")
            .and_then(|value| parse_metadata(value, &mut fields));
        fields.finish()?;
        Ok(BuildpackUpdate {
            name,
            stack,
            position,
            enabled,
            locked,
            metadata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<BuildpackUpdate, MessageError> {
        BuildpackUpdate::parse(body.as_object().unwrap())
    }

    #[test]
    fn reads_only_what_was_sent() {
        assert_eq!(parse(json!({})).unwrap(), BuildpackUpdate::default());
        let update = parse(json!({"position": 2, "locked": true, "stack": null})).unwrap();
        assert_eq!(update.position, Some(2));
        assert_eq!(update.locked, Some(true));
        assert_eq!(update.stack, Some(None));
        assert_eq!(update.name, None);
    }

    #[test]
    fn refuses_bad_values() {
        assert_eq!(
            parse(json!({"name": "", "position": -1}))
                .unwrap_err()
                .detail(),
            "Name can't be blank, Position must be greater than or equal to 1"
        );
        assert_eq!(
            parse(json!({"name": 3})).unwrap_err().detail(),
            "Name must be a string"
        );
    }
}
