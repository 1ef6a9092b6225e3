//! `include=`: the related resources a client asks to have in an `included` block, on the
//! lists and shows where Cloud Controller serves them (its IncludeParamValidator's rules and
//! words). Elsewhere `include` is an unknown parameter like any other.

use super::list::ListParams;
use super::MessageError;

/// The name of the query parameter, for the lists that accept it among their filters.
pub const PARAM: &str = "include";

/// What `GET /v3/apps` and `GET /v3/apps/:guid` may include.
pub const APP: &[&str] = &["space", "space.organization"];
/// What `GET /v3/spaces` and `GET /v3/spaces/:guid` may include.
pub const SPACE: &[&str] = &["organization"];
/// What `GET /v3/roles` and `GET /v3/roles/:guid` may include.
pub const ROLE: &[&str] = &["user", "space", "organization"];

/// The resources asked for, each one of the endpoint's and named once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Include {
    names: Vec<String>,
}

impl Include {
    pub fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// The `include` values of a list's query (parsed with `PARAM` among its filters).
    pub fn from_list(params: &ListParams, valid: &[&str]) -> Result<Self, MessageError> {
        Self::check(params.filter(PARAM).unwrap_or_default(), valid)
    }

    /// A show's query string: `include` is the only parameter a show takes, as in CC's
    /// `AppShowMessage`, `SpaceShowMessage` and `RoleShowMessage`.
    pub fn from_show_query(query: Option<&str>, valid: &[&str]) -> Result<Self, MessageError> {
        let mut values = Vec::new();
        let mut unknown = Vec::new();
        for (raw_key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let key = raw_key.strip_suffix("[]").unwrap_or(&raw_key);
            if key == PARAM {
                values.extend(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(str::to_string),
                );
            } else if !unknown.iter().any(|u| u == key) {
                unknown.push(key.to_string());
            }
        }
        if !unknown.is_empty() {
            return Err(MessageError::bad_query(vec![format!(
                "Unknown query parameter(s): '{}'. Valid parameters are: '{PARAM}'",
                unknown.join("', '")
            )]));
        }
        Self::check(&values, valid)
    }

    fn check(values: &[String], valid: &[&str]) -> Result<Self, MessageError> {
        let mut names: Vec<String> = Vec::new();
        let mut problems = Vec::new();
        for value in values {
            let value = value.trim();
            if !valid.contains(&value) {
                problems.push(format!(
                    "Invalid included resource: '{value}'. Valid included resources are: '{}'",
                    valid.join("', '")
                ));
            } else if names.iter().any(|n| n == value) {
                problems.push(format!("Duplicate included resource: '{value}'"));
            } else {
                names.push(value.to_string());
            }
        }
        if problems.is_empty() {
            Ok(Include { names })
        } else {
            Err(MessageError::bad_query(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::MessageErrorKind;

    #[test]
    fn a_list_takes_the_endpoints_includes_in_both_dialects() {
        let params = ListParams::parse(Some("include=space,space.organization"), &[PARAM]).unwrap();
        let include = Include::from_list(&params, APP).unwrap();
        assert!(include.has("space") && include.has("space.organization"));
        let old = ListParams::parse(Some("include[]=organization"), &[PARAM]).unwrap();
        assert!(Include::from_list(&old, SPACE).unwrap().has("organization"));
        let none = ListParams::parse(None, &[PARAM]).unwrap();
        assert_eq!(Include::from_list(&none, ROLE).unwrap(), Include::default());
    }

    #[test]
    fn unknown_and_repeated_includes_are_refused_in_ccs_words() {
        let params = ListParams::parse(Some("include=space,org,space"), &[PARAM]).unwrap();
        let err = Include::from_list(&params, APP).unwrap_err();
        assert_eq!(err.kind, MessageErrorKind::BadQuery);
        assert_eq!(
            err.detail(),
            "Invalid included resource: 'org'. Valid included resources are: 'space', \
             'space.organization', Duplicate included resource: 'space'"
        );
    }

    #[test]
    fn a_show_takes_include_and_nothing_else() {
        let include = Include::from_show_query(Some("include=user&include=space"), ROLE).unwrap();
        assert!(include.has("user") && include.has("space") && !include.has("organization"));
        let err = Include::from_show_query(Some("page=2"), ROLE).unwrap_err();
        assert_eq!(err.kind, MessageErrorKind::BadQuery);
        assert_eq!(
            err.detail(),
            "Unknown query parameter(s): 'page'. Valid parameters are: 'include'"
        );
        assert_eq!(
            Include::from_show_query(None, APP).unwrap(),
            Include::default()
        );
    }
}
