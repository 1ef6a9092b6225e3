//! Environment variables: the rules every body that sets them shares (app create, app update,
//! `PATCH /v3/apps/:guid/environment_variables`, build create and the 2015 stage endpoint's
//! `staging_environment_variables`), in Cloud Controller's words.
//!
//! Values of any JSON type are accepted where Cloud Controller accepts them (everywhere but the
//! `PATCH`, which takes strings only); the staging passes strings as they are and JSON-encodes
//! the rest, as CC does. Beyond CC's rules, a name with `=` or NUL and a string with NUL are
//! refused: no process environment can hold them, so they could only fail the staging later.

use serde_json::{Map, Value};

use super::fields::{humanize, Fields};
use super::MessageError;

/// Prefixes the platform reserves for itself: `CF_` (2015's rule), `VCAP_` and `VMC` (today's).
const RESERVED_PREFIXES: [(&str, &str); 3] = [("CF_", "CF_"), ("VCAP_", "VCAP_"), ("VMC", "VMC_")];

/// The problem with one key, or `None` when the key may be set.
fn key_problem(key: &str) -> Option<String> {
    if key.is_empty() {
        return Some("key must be a minimum length of 1".to_string());
    }
    // `=` ends a name in the `NAME=value` entries a process gets, and NUL ends the entry.
    if key.contains('=') {
        return Some("key cannot contain '='".to_string());
    }
    if key.contains('\0') {
        return Some("key cannot contain a NUL character".to_string());
    }
    let upper = key.to_ascii_uppercase();
    for (prefix, shown) in RESERVED_PREFIXES {
        if upper.starts_with(prefix) {
            return Some(format!("cannot start with {shown}"));
        }
    }
    // The port is the platform's to choose; an app that set it would listen where no router looks.
    if upper == "PORT" {
        return Some("cannot set PORT".to_string());
    }
    None
}

/// The problem with one value, or `None`. Only a string can hold a NUL: other values are
/// JSON-encoded for the staging, which writes NUL as `\u0000`.
fn value_problem(key: &str, value: &Value) -> Option<String> {
    match value {
        Value::String(text) if text.contains('\0') => Some(format!(
            "value for key '{}' cannot contain a NUL character",
            key.escape_debug()
        )),
        _ => None,
    }
}

/// Checks every variable of `vars`, adding one "<label> …" problem (the label is the field's
/// name, e.g. "Environment variables") per distinct rule broken.
pub fn check(vars: &Map<String, Value>, label: &str, fields: &mut Fields<'_>) {
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in vars {
        for problem in [key_problem(key), value_problem(key, value)]
            .into_iter()
            .flatten()
        {
            let message = format!("{label} {problem}");
            if !seen.contains(&message) {
                seen.push(message);
            }
        }
    }
    for message in seen {
        fields.error(message);
    }
}

/// `environment_variables` of an app or build body: absent → `None`; an object whose variables
/// pass the rules → its copy (values are kept as given, as CC does); anything else is a problem.
pub fn optional_env_object(fields: &mut Fields<'_>) -> Option<Map<String, Value>> {
    optional_vars(fields, "environment_variables")
}

/// The same rules for variables under another field (`staging_environment_variables`).
pub fn optional_vars(fields: &mut Fields<'_>, key: &'static str) -> Option<Map<String, Value>> {
    let vars = fields.optional_object(key)?;
    check(&vars, &humanize(key), fields);
    Some(vars)
}

/// `PATCH /v3/apps/:guid/environment_variables` body: `{"var": {"K": "v" | null}}`. A null value
/// deletes the key.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvVarsPatch {
    pub var: Map<String, Value>,
}

impl EnvVarsPatch {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        let var = match fields.raw("var") {
            Some(Value::Object(map)) => Some(map.clone()),
            _ => {
                fields.error("Var must be an object");
                None
            }
        };
        if let Some(var) = &var {
            check(var, "Environment variables", &mut fields);
            for (key, value) in var {
                let string_or_null = matches!(value, Value::String(_) | Value::Null);
                if key_problem(key).is_none() && !string_or_null {
                    fields.error(format!(
                        "Non-string value in environment variable for key '{key}', value '{value}'"
                    ));
                }
            }
        }
        let var = fields.finish_with(var)?;
        Ok(EnvVarsPatch { var })
    }

    /// The variables after this patch: set keys overwrite, null keys are removed.
    pub fn apply(&self, current: &Map<String, Value>) -> Map<String, Value> {
        let mut merged = current.clone();
        for (key, value) in &self.var {
            if value.is_null() {
                merged.remove(key);
            } else {
                merged.insert(key.clone(), value.clone());
            }
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reserved_keys_are_refused_whatever_their_case() {
        assert_eq!(
            key_problem("vcap_services").as_deref(),
            Some("cannot start with VCAP_")
        );
        assert_eq!(
            key_problem("Cf_Stack").as_deref(),
            Some("cannot start with CF_")
        );
        assert_eq!(key_problem("port").as_deref(), Some("cannot set PORT"));
        assert_eq!(
            key_problem("").as_deref(),
            Some("key must be a minimum length of 1")
        );
        assert_eq!(key_problem("PORTAL"), None);
        assert_eq!(key_problem("MY_CF_THING"), None);
    }

    #[test]
    fn names_and_strings_no_process_environment_can_hold_are_refused() {
        assert_eq!(
            key_problem("A=B").as_deref(),
            Some("key cannot contain '='")
        );
        assert_eq!(
            key_problem("A\0B").as_deref(),
            Some("key cannot contain a NUL character")
        );
        let body = json!({"staging_environment_variables": {
            "A=B": "x", "C=D": "y", "N\0": "z", "V": "x\0y",
            "COUNT": 3, "FLAG": true, "JSON": {"nested": "\0"}, "NOTHING": null
        }});
        let mut fields = Fields::new(body.as_object().unwrap());
        let vars = optional_vars(&mut fields, "staging_environment_variables").unwrap();
        assert_eq!(vars.len(), 8);
        assert_eq!(
            fields.finish().unwrap_err().detail(),
            "Staging environment variables key cannot contain '=', \
             Staging environment variables key cannot contain a NUL character, \
             Staging environment variables value for key 'V' cannot contain a NUL character"
        );
    }

    #[test]
    fn patch_merges_and_deletes() {
        let body = json!({"var": {"A": "1", "B": null}});
        let patch = EnvVarsPatch::parse(body.as_object().unwrap()).unwrap();
        let current = json!({"B": "x", "C": 3});
        let merged = patch.apply(current.as_object().unwrap());
        assert_eq!(Value::Object(merged), json!({"A": "1", "C": 3}));
    }

    #[test]
    fn patch_refuses_what_no_process_environment_can_hold() {
        let body = json!({"var": {"A=B": "1", "C": "x\0"}});
        assert_eq!(
            EnvVarsPatch::parse(body.as_object().unwrap())
                .unwrap_err()
                .detail(),
            "Environment variables key cannot contain '=', \
             Environment variables value for key 'C' cannot contain a NUL character"
        );
    }

    #[test]
    fn patch_refuses_bad_keys_values_and_extras() {
        let body = json!({"var": {"PORT": "1", "N": 5}, "x": 1});
        let err = EnvVarsPatch::parse(body.as_object().unwrap()).unwrap_err();
        assert_eq!(
            err.detail(),
            "Unknown field(s): 'x', Environment variables cannot set PORT, \
             Non-string value in environment variable for key 'N', value '5'"
        );
        let missing = json!({});
        assert_eq!(
            EnvVarsPatch::parse(missing.as_object().unwrap())
                .unwrap_err()
                .detail(),
            "Var must be an object"
        );
    }
}
