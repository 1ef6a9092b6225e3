//! Bodies of today's builds: `POST /v3/builds` and `PATCH /v3/builds/:guid`.

use serde_json::{Map, Value};

use super::app_create::parse_metadata;
use super::env_vars;
use super::fields::Fields;
use super::MessageError;
use crate::domain::MetadataPatch;

/// Longest buildpack entry or stack name CC's lifecycle message accepts.
const MAX_LIFECYCLE_TEXT: usize = 4096;

/// The lifecycle types CC knows; only `buildpack` is staged here.
const LIFECYCLE_TYPES: [&str; 3] = ["buildpack", "docker", "cnb"];

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BuildCreate {
    pub package_guid: String,
    /// `None`: the app's buildpacks. `Some(empty)`: detect over the admin buildpacks.
    pub buildpacks: Option<Vec<String>>,
    /// `None`: the app's stack, else the default one.
    pub stack: Option<String>,
    pub staging_memory_in_mb: Option<i64>,
    pub staging_disk_in_mb: Option<i64>,
    pub staging_log_rate_limit_bytes_per_second: Option<i64>,
    pub environment_variables: Map<String, Value>,
    pub metadata: MetadataPatch,
}

impl BuildCreate {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        let package_guid = parse_package(&mut fields);
        let (buildpacks, stack) = fields
            .raw("lifecycle")
            .map(|value| parse_lifecycle(value, &mut fields))
            .unwrap_or_default();
        let staging_memory_in_mb = fields.optional_positive_integer("staging_memory_in_mb");
        let staging_disk_in_mb = fields.optional_positive_integer("staging_disk_in_mb");
        let staging_log_rate_limit_bytes_per_second = log_rate(&mut fields);
        let environment_variables = env_vars::optional_env_object(&mut fields).unwrap_or_default();
        let metadata = fields
            .raw("metadata")
            .and_then(|value| parse_metadata(value, &mut fields))
            .unwrap_or_default();
        let package_guid = fields.finish_with(package_guid)?;
        Ok(BuildCreate {
            package_guid,
            buildpacks,
            stack,
            staging_memory_in_mb,
            staging_disk_in_mb,
            staging_log_rate_limit_bytes_per_second,
            environment_variables,
            metadata,
        })
    }
}

/// `package: {guid}`: required, the guid a string of 1–200 characters.
fn parse_package(fields: &mut Fields<'_>) -> Option<String> {
    let package = match fields.raw("package") {
        Some(Value::Object(package)) => package,
        Some(_) => {
            fields.error("Package must be an object");
            return None;
        }
        None => {
            fields.error("Package guid can't be blank");
            return None;
        }
    };
    fields.reject_unknown_keys(package, &["guid"], "Package");
    match package.get("guid") {
        Some(Value::String(guid)) if (1..=200).contains(&guid.chars().count()) => {
            Some(guid.clone())
        }
        Some(Value::String(_)) => {
            fields.error("Package guid must be between 1 and 200 characters");
            None
        }
        None | Some(Value::Null) => {
            fields.error("Package guid can't be blank");
            None
        }
        Some(_) => {
            fields.error("Package guid must be a string");
            None
        }
    }
}

/// `{type, data:{buildpacks?, stack?}}` → `(buildpacks, stack)`. Docker and CNB are valid CC
/// types that this server does not stage, so they are named as unsupported.
fn parse_lifecycle(
    value: &Value,
    fields: &mut Fields<'_>,
) -> (Option<Vec<String>>, Option<String>) {
    let Value::Object(lifecycle) = value else {
        fields.error("Lifecycle must be an object");
        return (None, None);
    };
    fields.reject_unknown_keys(lifecycle, &["type", "data"], "Lifecycle");
    match lifecycle.get("type") {
        Some(Value::String(t)) if t == "buildpack" => {}
        Some(Value::String(t)) if LIFECYCLE_TYPES.contains(&t.as_str()) => {
            fields.error(format!(
                "Lifecycle type '{t}' is not supported: only buildpack builds are staged"
            ));
        }
        Some(Value::String(_)) => {
            fields.error("Lifecycle type is not included in the list: buildpack, docker, cnb")
        }
        _ => fields.error("Lifecycle type must be a string"),
    }
    match lifecycle.get("data") {
        Some(Value::Object(data)) => parse_lifecycle_data(data, fields),
        _ => {
            fields.error("Lifecycle data must be an object");
            (None, None)
        }
    }
}

fn parse_lifecycle_data(
    data: &Map<String, Value>,
    fields: &mut Fields<'_>,
) -> (Option<Vec<String>>, Option<String>) {
    fields.reject_unknown_keys(data, &["buildpacks", "stack"], "Lifecycle");
    let buildpacks = match data.get("buildpacks") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let names: Vec<String> = items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect();
            if names.len() != items.len() {
                fields.error("Lifecycle Buildpacks can only contain strings");
            } else if names
                .iter()
                .any(|n| n.is_empty() || n.chars().count() > MAX_LIFECYCLE_TEXT)
            {
                fields.error("Lifecycle Buildpacks entries must be between 1 and 4096 characters");
            }
            Some(names)
        }
        Some(_) => {
            fields.error("Lifecycle Buildpacks must be an array");
            None
        }
    };
    let stack = match data.get("stack") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if (1..=MAX_LIFECYCLE_TEXT).contains(&s.chars().count()) => {
            Some(s.clone())
        }
        Some(Value::String(_)) => {
            fields.error("Lifecycle Stack must be between 1 and 4096 characters");
            None
        }
        Some(_) => {
            fields.error("Lifecycle Stack must be a string");
            None
        }
    };
    (buildpacks, stack)
}

/// −1 means unlimited; anything lower is refused.
fn log_rate(fields: &mut Fields<'_>) -> Option<i64> {
    let value = fields.optional_integer("staging_log_rate_limit_bytes_per_second")?;
    if value < -1 {
        fields.error("Staging log rate limit bytes per second must be greater than or equal to -1");
        return None;
    }
    Some(value)
}

/// `PATCH /v3/builds/:guid`: metadata, or (for the build-state updater) a failed state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BuildUpdate {
    pub metadata: Option<MetadataPatch>,
    /// The error text of `{"state": "FAILED", "error": ...}`.
    pub failure: Option<String>,
    /// A state was asked for at all (it needs the update_build_state scope).
    pub changes_state: bool,
}

impl BuildUpdate {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        let metadata = fields
            .raw("metadata")
            .and_then(|value| parse_metadata(value, &mut fields));
        let state = fields.optional_string("state");
        let error = fields.optional_string("error");
        if fields.raw("lifecycle").is_some() && state.as_deref() != Some("STAGED") {
            fields.error("Lifecycle may only be given with state STAGED");
        }
        match state.as_deref() {
            None | Some("FAILED") => {}
            Some("STAGED") => {
                fields.error("State STAGED is recorded by staging itself; only FAILED may be set")
            }
            Some(other) => fields.error(format!("'{other}' is not a valid state")),
        }
        if error.is_some() && state.is_none() {
            fields.error("Error may only be given with state FAILED");
        }
        let changes_state = body.contains_key("state");
        fields.finish()?;
        let failure = (state.as_deref() == Some("FAILED")).then(|| error.unwrap_or_default());
        Ok(BuildUpdate {
            metadata,
            failure,
            changes_state,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<BuildCreate, MessageError> {
        BuildCreate::parse(body.as_object().unwrap())
    }

    #[test]
    fn reads_the_documented_body() {
        let input = parse(json!({
            "package": {"guid": "p1"},
            "lifecycle": {"type": "buildpack", "data": {"buildpacks": ["ruby", "https://x.org/bp"], "stack": "cflinuxfs4"}},
            "staging_memory_in_mb": 2048, "staging_disk_in_mb": 4096,
            "staging_log_rate_limit_bytes_per_second": -1,
            "environment_variables": {"A": "b"},
            "metadata": {"labels": {"team": "a"}}
        }))
        .unwrap();
        assert_eq!(input.package_guid, "p1");
        assert_eq!(
            input.buildpacks.as_deref(),
            Some(&["ruby".to_string(), "https://x.org/bp".to_string()][..])
        );
        assert_eq!(input.stack.as_deref(), Some("cflinuxfs4"));
        assert_eq!(input.staging_memory_in_mb, Some(2048));
        assert_eq!(input.environment_variables["A"], "b");
        let minimal = parse(json!({"package": {"guid": "p1"}})).unwrap();
        assert_eq!(minimal.buildpacks, None);
        assert_eq!(minimal.stack, None);
    }

    #[test]
    fn names_every_problem() {
        let err = parse(json!({
            "package": {"guid": 3},
            "lifecycle": {"type": "buildpack", "data": {"buildpacks": ["", 4], "stack": ""}},
            "staging_memory_in_mb": 0, "staging_disk_in_mb": "big",
            "staging_log_rate_limit_bytes_per_second": -2,
            "environment_variables": {"VCAP_X": "1"},
            "colour": "red"
        }))
        .unwrap_err();
        assert_eq!(err.kind, crate::messages::MessageErrorKind::Unprocessable);
        for part in [
            "Unknown field(s): 'colour'",
            "Package guid must be a string",
            "Lifecycle Buildpacks can only contain strings",
            "Lifecycle Stack must be between 1 and 4096 characters",
            "Staging memory in mb must be greater than 0",
            "Staging disk in mb is not a number",
            "Staging log rate limit bytes per second must be greater than or equal to -1",
            "Environment variables cannot start with VCAP_",
        ] {
            assert!(err.detail().contains(part), "{} lacks {part}", err.detail());
        }
        assert!(parse(json!({}))
            .unwrap_err()
            .detail()
            .contains("Package guid can't be blank"));
        assert!(parse(json!({"package": {"guid": "p", "x": 1}}))
            .unwrap_err()
            .detail()
            .contains("Package Unknown field(s): 'x'"));
        let long = "b".repeat(4097);
        let too_long = parse(
            json!({"package": {"guid": "p"}, "lifecycle": {"type": "buildpack", "data": {"buildpacks": [long]}}}),
        );
        assert!(too_long
            .unwrap_err()
            .detail()
            .contains("between 1 and 4096"));
    }

    #[test]
    fn other_lifecycle_types_are_named_unsupported() {
        for kind in ["docker", "cnb"] {
            let err =
                parse(json!({"package": {"guid": "p"}, "lifecycle": {"type": kind, "data": {}}}))
                    .unwrap_err();
            assert!(
                err.detail()
                    .contains(&format!("Lifecycle type '{kind}' is not supported")),
                "{}",
                err.detail()
            );
        }
        let err =
            parse(json!({"package": {"guid": "p"}, "lifecycle": {"type": "heroku", "data": {}}}))
                .unwrap_err();
        assert!(
            err.detail().contains("not included in the list"),
            "{}",
            err.detail()
        );
        let err = parse(
            json!({"package": {"guid": "p"}, "lifecycle": {"type": "buildpack", "data": []}}),
        )
        .unwrap_err();
        assert!(
            err.detail().contains("Lifecycle data must be an object"),
            "{}",
            err.detail()
        );
    }

    #[test]
    fn updates_allow_metadata_or_a_failure() {
        let update = |body: Value| BuildUpdate::parse(body.as_object().unwrap());
        let failed = update(json!({"state": "FAILED", "error": "boom"})).unwrap();
        assert_eq!(failed.failure.as_deref(), Some("boom"));
        assert!(failed.changes_state);
        let labels = update(json!({"metadata": {"labels": {"a": "b"}}})).unwrap();
        assert!(!labels.changes_state && labels.metadata.is_some());
        assert!(update(json!({"state": "RUNNING"}))
            .unwrap_err()
            .detail()
            .contains("'RUNNING' is not a valid state"));
        assert!(update(json!({"state": "STAGED"})).is_err());
        assert!(update(json!({"guid": "x"}))
            .unwrap_err()
            .detail()
            .contains("Unknown field(s): 'guid'"));
    }
}
