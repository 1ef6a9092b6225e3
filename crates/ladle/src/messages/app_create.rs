//! `POST /v3/apps` body, in both dialects: today's
//! `{name, relationships:{space:{data:{guid}}}, environment_variables?, lifecycle?, metadata?}`
//! and 2015's `{name, space_guid, environment_variables?}`. Also the `lifecycle` and `metadata`
//! parts that `PATCH /v3/apps/:guid` shares.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::env_vars;
use super::fields::Fields;
use super::MessageError;
use crate::domain::{Dialect, MetadataPatch, ResourceName};

#[derive(Debug, Clone, PartialEq)]
pub struct AppCreate {
    pub name: ResourceName,
    pub space_guid: String,
    pub dialect: Dialect,
    pub environment_variables: Map<String, Value>,
    pub lifecycle: LifecycleInput,
    pub metadata: MetadataPatch,
}

impl AppCreate {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        let name = parse_name(&mut fields, true);
        let space = parse_space(&mut fields);
        let environment_variables = env_vars::optional_env_object(&mut fields);
        let lifecycle = fields
            .raw("lifecycle")
            .and_then(|value| parse_lifecycle(value, &mut fields));
        let metadata = fields
            .raw("metadata")
            .and_then(|value| parse_metadata(value, &mut fields));
        let (name, (space_guid, dialect)) = fields.finish_with(name.zip(space))?;
        Ok(AppCreate {
            name,
            space_guid,
            dialect,
            environment_variables: environment_variables.unwrap_or_default(),
            lifecycle: lifecycle.unwrap_or_default(),
            metadata: metadata.unwrap_or_default(),
        })
    }
}

/// `name`: required on create, optional on update; 1–255 printable characters.
pub fn parse_name(fields: &mut Fields<'_>, required: bool) -> Option<ResourceName> {
    let raw = if required {
        fields.required_string("name")
    } else {
        fields.optional_string("name")
    }?;
    match ResourceName::parse(&raw) {
        Ok(name) => Some(name),
        Err(problem) => {
            fields.error(format!("Name {problem}"));
            None
        }
    }
}

/// The space, from `relationships` (today) or `space_guid` (2015); giving both is refused.
fn parse_space(fields: &mut Fields<'_>) -> Option<(String, Dialect)> {
    let relationships = fields.raw("relationships");
    let space_guid = fields.raw("space_guid");
    match (relationships, space_guid) {
        (Some(_), Some(_)) => {
            fields.error("Only one of 'relationships' and 'space_guid' may be given");
            None
        }
        (None, Some(guid)) => {
            parse_guid(guid, "Space guid", fields).map(|g| (g, Dialect::Experimental2015))
        }
        (relationships, None) => {
            parse_relationships(relationships, fields).map(|g| (g, Dialect::Current))
        }
    }
}

fn parse_relationships(value: Option<&Value>, fields: &mut Fields<'_>) -> Option<String> {
    let Some(Value::Object(relationships)) = value else {
        fields.error("Relationships 'relationships' is not an object");
        return None;
    };
    if relationships.is_empty() {
        fields.error("Relationships 'relationships' must include one or more valid relationships");
        return None;
    }
    let unknown: Vec<&str> = relationships
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "space")
        .collect();
    if !unknown.is_empty() {
        fields.error(format!(
            "Relationships Unknown field(s): '{}'",
            unknown.join("', '")
        ));
    }
    let guid = relationships
        .get("space")
        .and_then(Value::as_object)
        .filter(|space| space.len() == 1)
        .and_then(|space| space.get("data"))
        .and_then(Value::as_object)
        .filter(|data| data.len() == 1)
        .and_then(|data| data.get("guid"));
    match guid {
        Some(guid) => parse_guid(guid, "Relationships Space guid", fields),
        None => {
            fields.error(
                "Relationships Space must be structured like this: \
                 \"space: {\"data\": {\"guid\": \"valid-guid\"}}\"",
            );
            None
        }
    }
}

/// A guid as CC's GuidValidator wants it: a string of 1–200 characters.
fn parse_guid(value: &Value, label: &str, fields: &mut Fields<'_>) -> Option<String> {
    match value {
        Value::String(s) if (1..=200).contains(&s.chars().count()) => Some(s.clone()),
        Value::String(_) => {
            fields.error(format!("{label} must be between 1 and 200 characters"));
            None
        }
        _ => {
            fields.error(format!("{label} must be a string"));
            None
        }
    }
}

/// `lifecycle.data` of a buildpack app. `None` fields mean "not given": on create the stack
/// default applies and buildpacks are detected; on update the app keeps what it had.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecycleInput {
    pub buildpacks: Option<Vec<String>>,
    pub stack: Option<String>,
}

/// `{"type": "buildpack", "data": {"buildpacks": [..], "stack": ".."}}`. Docker and CNB apps
/// are not served, so any other type is refused.
pub fn parse_lifecycle(value: &Value, fields: &mut Fields<'_>) -> Option<LifecycleInput> {
    let Value::Object(lifecycle) = value else {
        fields.error("Lifecycle must be an object");
        return None;
    };
    fields.reject_unknown_keys(lifecycle, &["type", "data"], "Lifecycle");
    match lifecycle.get("type") {
        Some(Value::String(t)) if t == "buildpack" => {}
        Some(Value::String(_)) => {
            fields.error("Lifecycle type is not included in the list: buildpack")
        }
        _ => fields.error("Lifecycle type must be a string"),
    }
    let input = match lifecycle.get("data") {
        Some(Value::Object(data)) => parse_lifecycle_data(data, fields),
        _ => {
            fields.error("Lifecycle data must be an object");
            LifecycleInput::default()
        }
    };
    // Problems recorded above make `Fields::finish` fail, so this value is then never used.
    Some(input)
}

fn parse_lifecycle_data(data: &Map<String, Value>, fields: &mut Fields<'_>) -> LifecycleInput {
    fields.reject_unknown_keys(data, &["buildpacks", "stack"], "Lifecycle");
    let buildpacks = match data.get("buildpacks") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let names: Vec<String> = items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect();
            if names.len() != items.len() {
                fields.error("Lifecycle Buildpacks can only contain strings");
            } else if names.iter().any(|n| n.is_empty() || n.len() > 4096) {
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
        Some(Value::String(s)) if s.chars().count() > 255 => {
            fields.error("Lifecycle Stack is too long (maximum is 255 characters)");
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            fields.error("Lifecycle Stack must be a string");
            None
        }
    };
    LifecycleInput { buildpacks, stack }
}

const MAX_LABEL_LENGTH: usize = 63;
const MAX_ANNOTATION_VALUE_LENGTH: usize = 5000;

/// A `metadata` body as a patch (the merge rule lives with the type, in `domain::metadata`).
pub fn parse_metadata(value: &Value, fields: &mut Fields<'_>) -> Option<MetadataPatch> {
    let Value::Object(metadata) = value else {
        fields.error("Metadata must be an object");
        return None;
    };
    fields.reject_unknown_keys(metadata, &["labels", "annotations"], "Metadata");
    let labels = parse_pairs(metadata.get("labels"), Kind::Label, fields);
    let annotations = parse_pairs(metadata.get("annotations"), Kind::Annotation, fields);
    Some(MetadataPatch {
        labels,
        annotations,
    })
}

#[derive(Clone, Copy)]
enum Kind {
    Label,
    Annotation,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Label => "label",
            Kind::Annotation => "annotation",
        }
    }
}

fn parse_pairs(
    value: Option<&Value>,
    kind: Kind,
    fields: &mut Fields<'_>,
) -> BTreeMap<String, Option<String>> {
    let mut pairs = BTreeMap::new();
    let map = match value {
        None | Some(Value::Null) => return pairs,
        Some(Value::Object(map)) => map,
        Some(_) => {
            fields.error(format!("Metadata {}s must be an object", kind.noun()));
            return pairs;
        }
    };
    for (key, value) in map {
        if let Err(problem) = check_metadata_key(key) {
            fields.error(format!("Metadata {} key error: {problem}", kind.noun()));
            continue;
        }
        match value {
            Value::Null => {
                pairs.insert(key.clone(), None);
            }
            Value::String(v) => match check_metadata_value(v, kind) {
                Ok(()) => {
                    pairs.insert(key.clone(), Some(v.clone()));
                }
                Err(problem) => {
                    fields.error(format!("Metadata {} value error: {problem}", kind.noun()))
                }
            },
            _ => fields.error(format!(
                "Metadata {} value error: values must be strings",
                kind.noun()
            )),
        }
    }
    pairs
}

/// Kubernetes-style keys, as CC checks them: an optional DNS prefix, a slash, and a name of at
/// most 63 characters that starts and ends alphanumeric.
fn check_metadata_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("key cannot be empty string".to_string());
    }
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let dns_ok = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix
                .split('.')
                .all(|part| is_name_like(part) && !part.contains('_') && !part.contains('.'));
        if !dns_ok {
            return Err(format!("prefix '{prefix}' must be in valid dns format"));
        }
        if prefix.eq_ignore_ascii_case("cloudfoundry.org")
            || prefix.to_ascii_lowercase().ends_with(".cloudfoundry.org")
        {
            return Err("Cloudfoundry.org is a reserved domain".to_string());
        }
    }
    if name.chars().count() > MAX_LABEL_LENGTH {
        return Err(format!(
            "'{name}' is greater than {MAX_LABEL_LENGTH} characters"
        ));
    }
    if !is_name_like(name) {
        return Err(format!("'{name}' contains invalid characters"));
    }
    Ok(())
}

fn check_metadata_value(value: &str, kind: Kind) -> Result<(), String> {
    match kind {
        Kind::Label => {
            if value.chars().count() > MAX_LABEL_LENGTH {
                Err(format!(
                    "'{value}' is greater than {MAX_LABEL_LENGTH} characters"
                ))
            } else if !value.is_empty() && !is_name_like(value) {
                Err(format!("'{value}' contains invalid characters"))
            } else {
                Ok(())
            }
        }
        Kind::Annotation if value.chars().count() > MAX_ANNOTATION_VALUE_LENGTH => Err(format!(
            "is greater than {MAX_ANNOTATION_VALUE_LENGTH} characters"
        )),
        Kind::Annotation => Ok(()),
    }
}

/// Alphanumeric at both ends, `-`, `_` and `.` inside.
fn is_name_like(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<AppCreate, MessageError> {
        AppCreate::parse(body.as_object().unwrap())
    }

    #[test]
    fn reads_both_dialects() {
        let today = parse(json!({
            "name": "web",
            "relationships": {"space": {"data": {"guid": "s1"}}},
            "lifecycle": {"type": "buildpack", "data": {"buildpacks": ["go"], "stack": "cflinuxfs4"}},
            "metadata": {"labels": {"team": "a"}}
        }))
        .unwrap();
        assert_eq!(today.space_guid, "s1");
        assert_eq!(today.dialect, Dialect::Current);
        assert_eq!(today.lifecycle.buildpacks, Some(vec!["go".to_string()]));
        assert_eq!(today.metadata.labels["team"].as_deref(), Some("a"));
        let old =
            parse(json!({"name": "web", "space_guid": "s2", "environment_variables": {"A": "b"}}))
                .unwrap();
        assert_eq!(old.space_guid, "s2");
        assert_eq!(old.dialect, Dialect::Experimental2015);
        assert_eq!(old.environment_variables["A"], "b");
    }

    #[test]
    fn lists_every_problem() {
        let err = parse(json!({
            "name": 3,
            "space_guid": "s",
            "relationships": {},
            "environment_variables": {"VCAP_X": "1", "PORT": "2"},
            "colour": "red"
        }))
        .unwrap_err();
        assert_eq!(
            err.detail(),
            "Unknown field(s): 'colour', Name must be a string, \
             Only one of 'relationships' and 'space_guid' may be given, \
             Environment variables cannot start with VCAP_, Environment variables cannot set PORT"
        );
    }

    #[test]
    fn refuses_bad_relationships_and_lifecycles() {
        let detail = |body: Value| parse(body).unwrap_err().detail();
        assert_eq!(
            detail(json!({"name": "a"})),
            "Relationships 'relationships' is not an object"
        );
        assert!(
            detail(json!({"name": "a", "relationships": {"space": {"guid": "x"}}}))
                .starts_with("Relationships Space must be structured like this")
        );
        assert_eq!(
            detail(json!({"name": "a", "relationships": {"space": {"data": {"guid": 4}}}})),
            "Relationships Space guid must be a string"
        );
        assert_eq!(
            detail(
                json!({"name": "a", "space_guid": "s", "lifecycle": {"type": "docker", "data": {}}})
            ),
            "Lifecycle type is not included in the list: buildpack"
        );
        assert_eq!(
            detail(json!({"name": "a", "space_guid": "s",
                "lifecycle": {"type": "buildpack", "data": {"buildpacks": "go", "stack": 1}}})),
            "Lifecycle Buildpacks must be an array, Lifecycle Stack must be a string"
        );
        assert_eq!(
            detail(
                json!({"name": "a", "space_guid": "s", "metadata": {"labels": {"bad key!": "v"}}})
            ),
            "Metadata label key error: 'bad key!' contains invalid characters"
        );
    }

    #[test]
    fn metadata_patch_sets_and_removes() {
        let patch = MetadataPatch {
            labels: BTreeMap::from([("a".into(), Some("1".into())), ("b".into(), None)]),
            annotations: BTreeMap::new(),
        };
        let after: Value = serde_json::from_str(
            &patch.apply(r#"{"labels":{"b":"x","c":"y"},"annotations":{"n":"note"}}"#),
        )
        .unwrap();
        assert_eq!(
            after,
            json!({"labels": {"a": "1", "c": "y"}, "annotations": {"n": "note"}})
        );
    }
}
