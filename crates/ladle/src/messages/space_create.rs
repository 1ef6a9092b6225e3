//! `POST /v3/spaces` body: `{name, relationships: {organization: {data: {guid}}}, metadata?}`.

use serde_json::{Map, Value};

use super::fields::Fields;
use super::MessageError;
use crate::domain::{Guid, ResourceName};

#[derive(Debug, Clone, PartialEq)]
pub struct SpaceCreate {
    pub name: ResourceName,
    pub organization_guid: Guid,
}

impl SpaceCreate {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        // Labels and annotations are accepted and not kept: nothing reads them yet.
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
        let organization_guid = required_relationship(&mut fields, "organization");
        let (name, organization_guid) = fields.finish_with(name.zip(organization_guid))?;
        Ok(SpaceCreate {
            name,
            organization_guid: organization_guid.into(),
        })
    }
}

/// `relationships.<key>.data.guid`, reporting a missing or malformed one in CC's words.
pub fn required_relationship(fields: &mut Fields<'_>, key: &str) -> Option<String> {
    match fields.raw("relationships") {
        Some(Value::Object(relationships)) => {
            let guid = Fields::relationship_guid(relationships, key);
            if guid.is_none() {
                fields.error(relationship_shape_error(key));
            }
            guid
        }
        Some(_) => {
            fields.error("Relationships must be an object");
            None
        }
        None => {
            fields.error("Relationships 'relationships' is not an object");
            None
        }
    }
}

pub fn relationship_shape_error(key: &str) -> String {
    let title = super::fields::humanize(key);
    format!(
        "Relationships {title} must be structured like this: \"{key}: {{\"data\": {{\"guid\": \"valid-guid\"}}}}\""
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<SpaceCreate, MessageError> {
        SpaceCreate::parse(body.as_object().unwrap())
    }

    #[test]
    fn reads_name_and_organization() {
        let ok = parse(
            json!({"name": "dev", "relationships": {"organization": {"data": {"guid": "o1"}}}}),
        )
        .unwrap();
        assert_eq!(ok.name.as_str(), "dev");
        assert_eq!(ok.organization_guid, "o1");
    }

    #[test]
    fn lists_every_problem() {
        let err =
            parse(json!({"name": "", "relationships": {"organization": {"guid": "o1"}}, "x": 1}))
                .unwrap_err();
        assert_eq!(
            err.detail(),
            "Unknown field(s): 'x', Name can't be blank, Relationships Organization must be \
             structured like this: \"organization: {\"data\": {\"guid\": \"valid-guid\"}}\""
        );
        let err = parse(json!({"name": "a"})).unwrap_err();
        assert_eq!(
            err.detail(),
            "Relationships 'relationships' is not an object"
        );
    }
}
