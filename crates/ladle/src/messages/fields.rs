//! Reading a JSON object field by field, collecting every problem, so that a 422 lists them all
//! in CC's words ("Name must be a string", "Unknown field(s): 'x'").

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::MessageError;

pub struct Fields<'a> {
    body: &'a Map<String, Value>,
    known: BTreeSet<&'static str>,
    errors: Vec<String>,
}

/// "environment_variables" → "Environment variables", as CC's messages humanise keys.
pub fn humanize(key: &str) -> String {
    let spaced = key.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

impl<'a> Fields<'a> {
    pub fn new(body: &'a Map<String, Value>) -> Self {
        Fields {
            body,
            known: BTreeSet::new(),
            errors: Vec::new(),
        }
    }

    /// The raw value of an allowed key (`None` when absent).
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.insert(key);
        self.body.get(key)
    }

    pub fn error(&mut self, message: impl Into<String>) {
        self.errors.push(message.into());
    }

    /// Records "<label> Unknown field(s): 'a', 'b'" for the keys of a nested object that are
    /// not `allowed` (the body's own unknown keys are reported by `finish`).
    pub fn reject_unknown_keys(&mut self, map: &Map<String, Value>, allowed: &[&str], label: &str) {
        let unknown: Vec<&str> = map
            .keys()
            .map(String::as_str)
            .filter(|k| !allowed.contains(k))
            .collect();
        if !unknown.is_empty() {
            self.error(format!(
                "{label} Unknown field(s): '{}'",
                unknown.join("', '")
            ));
        }
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn required_string(&mut self, key: &'static str) -> Option<String> {
        match self.raw(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.error(format!("{} must be a string", humanize(key)));
                None
            }
            None => {
                self.error(format!("{} can't be blank", humanize(key)));
                None
            }
        }
    }

    /// Absent or null → `None`; anything but a string is an error.
    pub fn optional_string(&mut self, key: &'static str) -> Option<String> {
        match self.raw(key) {
            Some(Value::String(s)) => Some(s.clone()),
            None | Some(Value::Null) => None,
            Some(_) => {
                self.error(format!("{} must be a string", humanize(key)));
                None
            }
        }
    }

    /// Absent or null → `None`; must be an integer otherwise.
    pub fn optional_integer(&mut self, key: &'static str) -> Option<i64> {
        match self.raw(key) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Some(i),
                None => {
                    self.error(format!("{} must be an integer", humanize(key)));
                    None
                }
            },
            Some(_) => {
                self.error(format!("{} is not a number", humanize(key)));
                None
            }
        }
    }

    /// Absent or null → `None`; otherwise an integer greater than 0.
    pub fn optional_positive_integer(&mut self, key: &'static str) -> Option<i64> {
        let value = self.optional_integer(key)?;
        if value <= 0 {
            self.error(format!("{} must be greater than 0", humanize(key)));
            return None;
        }
        Some(value)
    }

    pub fn optional_bool(&mut self, key: &'static str) -> Option<bool> {
        match self.raw(key) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.error(format!("{} must be a boolean", humanize(key)));
                None
            }
        }
    }

    pub fn optional_object(&mut self, key: &'static str) -> Option<Map<String, Value>> {
        match self.raw(key) {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(map.clone()),
            Some(_) => {
                self.error(format!("{} must be an object", humanize(key)));
                None
            }
        }
    }

    /// `{"<key>": {"data": {"guid": "..."}}}` inside a `relationships` object.
    pub fn relationship_guid(relationships: &Map<String, Value>, key: &str) -> Option<String> {
        relationships
            .get(key)?
            .get("data")?
            .get("guid")?
            .as_str()
            .map(str::to_string)
    }

    /// Ends validation of a body with no required values.
    pub fn finish(self) -> Result<(), MessageError> {
        self.finish_with(Some(()))
    }

    /// Ends validation: unknown keys first, then every collected problem, as one refusal; with
    /// none, hands back the `required` values, parsed. `required` is `None` only when a
    /// required value is missing or bad, which its parser has recorded; a parser that forgot
    /// to still gets the body refused (CC's generic "The request is invalid"), never a panic.
    pub fn finish_with<T>(self, required: Option<T>) -> Result<T, MessageError> {
        let unknown: Vec<&str> = self
            .body
            .keys()
            .map(String::as_str)
            .filter(|k| !self.known.contains(k))
            .collect();
        let mut errors = Vec::new();
        if !unknown.is_empty() {
            errors.push(format!("Unknown field(s): '{}'", unknown.join("', '")));
        }
        errors.extend(self.errors);
        match required {
            Some(values) if errors.is_empty() => Ok(values),
            Some(_) => Err(MessageError::unprocessable(errors)),
            None if errors.is_empty() => Err(MessageError::unprocessable(vec![
                "The request is invalid".to_string(),
            ])),
            None => Err(MessageError::unprocessable(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_every_problem() {
        let body = json!({"name": 3, "memory_limit": "big", "extra": 1, "other": 2});
        let mut fields = Fields::new(body.as_object().unwrap());
        assert_eq!(fields.required_string("name"), None);
        assert_eq!(fields.optional_integer("memory_limit"), None);
        let err = fields.finish().unwrap_err();
        assert_eq!(err.kind, crate::messages::MessageErrorKind::Unprocessable);
        assert_eq!(
            err.detail(),
            "Unknown field(s): 'extra', 'other', Name must be a string, Memory limit is not a number"
        );
    }

    #[test]
    fn hands_back_the_required_values_or_refuses() {
        let body = json!({"name": "web"});
        let mut fields = Fields::new(body.as_object().unwrap());
        let name = fields.required_string("name");
        assert_eq!(fields.finish_with(name).unwrap(), "web");
        let mut fields = Fields::new(body.as_object().unwrap());
        fields.raw("name");
        let forgotten: Option<String> = None;
        let err = fields.finish_with(forgotten).unwrap_err();
        assert_eq!(err.kind, crate::messages::MessageErrorKind::Unprocessable);
        assert_eq!(err.detail(), "The request is invalid");
    }
}
