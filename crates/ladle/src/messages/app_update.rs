//! `PATCH /v3/apps/:guid` body: `{name?, lifecycle?, metadata?}`, plus 2015's
//! `environment_variables` (which replaces the whole set, as it did then).

use serde_json::{Map, Value};

use super::app_create::{parse_lifecycle, parse_metadata, parse_name, LifecycleInput};
use super::env_vars;
use super::fields::Fields;
use super::MessageError;
use crate::domain::{MetadataPatch, ResourceName};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppUpdate {
    pub name: Option<ResourceName>,
    pub lifecycle: Option<LifecycleInput>,
    pub metadata: Option<MetadataPatch>,
    pub environment_variables: Option<Map<String, Value>>,
}

impl AppUpdate {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        let name = parse_name(&mut fields, false);
        let lifecycle = fields
            .raw("lifecycle")
            .and_then(|value| parse_lifecycle(value, &mut fields));
        let metadata = fields
            .raw("metadata")
            .and_then(|value| parse_metadata(value, &mut fields));
        let environment_variables = env_vars::optional_env_object(&mut fields);
        fields.finish()?;
        Ok(AppUpdate {
            name,
            lifecycle,
            metadata,
            environment_variables,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_field_is_optional_but_checked() {
        let empty = json!({});
        assert_eq!(
            AppUpdate::parse(empty.as_object().unwrap()).unwrap(),
            AppUpdate::default()
        );
        let renamed = json!({"name": "new", "environment_variables": {"A": "1"}});
        let update = AppUpdate::parse(renamed.as_object().unwrap()).unwrap();
        assert_eq!(update.name.unwrap().as_str(), "new");
        assert_eq!(update.environment_variables.unwrap()["A"], "1");
        let bad = json!({"name": "", "environment_variables": {"cf_x": 1}, "space_guid": "s"});
        assert_eq!(
            AppUpdate::parse(bad.as_object().unwrap())
                .unwrap_err()
                .detail(),
            "Unknown field(s): 'space_guid', Name can't be blank, \
             Environment variables cannot start with CF_"
        );
    }
}
