//! The body of our spec page's `POST /v3/packages/:guid/droplets`.

use serde_json::{Map, Value};

use super::env_vars;
use super::fields::Fields;
use super::MessageError;
use crate::domain::BuildpackUrl;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DropletCreate {
    pub buildpack_guid: Option<String>,
    pub buildpack_git_url: Option<BuildpackUrl>,
    pub staging_environment_variables: Map<String, Value>,
    pub stack: Option<String>,
    pub memory_limit: Option<i64>,
    pub disk_limit: Option<i64>,
}

impl DropletCreate {
    pub fn parse(body: &Map<String, Value>, allow_file_urls: bool) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        let buildpack_guid = fields.optional_string("buildpack_guid");
        if buildpack_guid
            .as_ref()
            .is_some_and(|g| g.is_empty() || g.len() > 200)
        {
            fields.error("Buildpack guid must be between 1 and 200 characters");
        }
        let buildpack_git_url = fields.optional_string("buildpack_git_url").and_then(|raw| {
            BuildpackUrl::parse(&raw, allow_file_urls)
                .map_err(|problem| fields.error(format!("Buildpack git url {problem}")))
                .ok()
        });
        if body.get("buildpack_guid").is_some_and(|v| !v.is_null())
            && body.get("buildpack_git_url").is_some_and(|v| !v.is_null())
        {
            fields.error("Only one of buildpack_git_url or buildpack_guid may be provided");
        }
        let staging_environment_variables =
            env_vars::optional_vars(&mut fields, "staging_environment_variables")
                .unwrap_or_default();
        // CC: a present `stack` must be a string, an explicit null included.
        let stack = match fields.raw("stack") {
            None => None,
            Some(Value::String(s)) if (1..=4096).contains(&s.len()) => Some(s.clone()),
            Some(Value::String(_)) => {
                fields.error("Stack must be between 1 and 4096 characters");
                None
            }
            Some(_) => {
                fields.error("Stack must be a string");
                None
            }
        };
        // CC of 2015 raised a negative limit to the minimum without a word; a limit must be
        // greater than 0, as it must for every later staging request of CC's.
        let memory_limit = fields.optional_positive_integer("memory_limit");
        let disk_limit = fields.optional_positive_integer("disk_limit");
        fields.finish()?;
        Ok(DropletCreate {
            buildpack_guid,
            buildpack_git_url,
            staging_environment_variables,
            stack,
            memory_limit,
            disk_limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<DropletCreate, MessageError> {
        DropletCreate::parse(body.as_object().unwrap(), false)
    }

    #[test]
    fn accepts_the_spec_page_body() {
        let input = parse(json!({
            "buildpack_git_url": "http://github.com/myorg/awesome-buildpack",
            "staging_environment_variables": {"CUSTOM_STAGING_VAR": "hello"},
            "stack": "cflinuxfs4", "memory_limit": 1024, "disk_limit": 4096
        }))
        .unwrap();
        assert_eq!(input.memory_limit, Some(1024));
        assert_eq!(
            input.staging_environment_variables["CUSTOM_STAGING_VAR"],
            "hello"
        );
        assert_eq!(parse(json!({})).unwrap(), DropletCreate::default());
    }

    #[test]
    fn names_every_problem() {
        let err = parse(json!({
            "buildpack_guid": "g", "buildpack_git_url": "https://x.org/bp",
            "memory_limit": "lots", "disk_limit": 1.5, "stack": 4, "colour": 1
        }))
        .unwrap_err();
        assert_eq!(err.kind, crate::messages::MessageErrorKind::Unprocessable);
        for part in [
            "Unknown field(s): 'colour'",
            "Only one of buildpack_git_url or buildpack_guid may be provided",
            "Memory limit is not a number",
            "Disk limit must be an integer",
            "Stack must be a string",
        ] {
            assert!(err.detail().contains(part), "{} lacks {part}", err.detail());
        }
        assert!(parse(json!({"stack": null}))
            .unwrap_err()
            .detail()
            .contains("Stack must be a string"));
        assert!(parse(json!({"buildpack_git_url": "--upload-pack=x"}))
            .unwrap_err()
            .detail()
            .contains("valid URI"));
        assert!(parse(json!({"staging_environment_variables": {"VCAP_X": "1"}})).is_err());
    }

    #[test]
    fn limits_must_be_greater_than_zero() {
        let err = parse(json!({"memory_limit": -1, "disk_limit": 0})).unwrap_err();
        assert_eq!(
            err.detail(),
            "Memory limit must be greater than 0, Disk limit must be greater than 0"
        );
        assert_eq!(
            parse(json!({"memory_limit": 1})).unwrap().memory_limit,
            Some(1)
        );
    }
}
