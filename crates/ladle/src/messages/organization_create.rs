//! `POST /v3/organizations` body.

use serde_json::{Map, Value};

use super::fields::Fields;
use super::MessageError;
use crate::domain::ResourceName;

#[derive(Debug, Clone, PartialEq)]
pub struct OrganizationCreate {
    pub name: ResourceName,
}

impl OrganizationCreate {
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
        let name = fields.finish_with(name)?;
        Ok(OrganizationCreate { name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requires_a_name_and_refuses_extras() {
        let ok = json!({"name": "acme"});
        assert_eq!(
            OrganizationCreate::parse(ok.as_object().unwrap())
                .unwrap()
                .name
                .as_str(),
            "acme"
        );
        let missing = json!({});
        assert_eq!(
            OrganizationCreate::parse(missing.as_object().unwrap())
                .unwrap_err()
                .detail(),
            "Name can't be blank"
        );
        let extra = json!({"name": "a", "color": "red"});
        assert_eq!(
            OrganizationCreate::parse(extra.as_object().unwrap())
                .unwrap_err()
                .detail(),
            "Unknown field(s): 'color'"
        );
    }
}
