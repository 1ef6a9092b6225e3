//! UAA's user management (SCIM) requests: `POST /Users`, `PUT /Users/:id/password` and the
//! `filter` of `GET /Users`. UAA ignores fields it does not use, and so do we.

use serde_json::{Map, Value};

/// Longest user name and password UAA accepts.
const MAX_CHARS: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUserCreate {
    pub username: String,
    pub password: String,
    /// The primary email, else the first one given.
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordChange {
    pub password: String,
    pub old_password: Option<String>,
}

/// Why a SCIM request is refused (400 `invalid_scim_resource`, `invalid_password` or
/// `invalid_filter`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScimRequestError {
    #[error("{0}")]
    InvalidResource(String),
    #[error("{0}")]
    InvalidPassword(String),
    #[error("Invalid filter expression: [{0}]")]
    InvalidFilter(String),
}

impl ScimUserCreate {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ScimRequestError> {
        let username = match body.get("userName") {
            Some(Value::String(name)) => name.clone(),
            Some(_) => return Err(invalid("userName must be a string")),
            None => return Err(invalid("A username must be provided.")),
        };
        check_username(&username)?;
        let password = match body.get("password") {
            Some(Value::String(password)) => password.clone(),
            Some(_) => return Err(invalid("password must be a string")),
            None => {
                return Err(ScimRequestError::InvalidPassword(
                    "Password is required".into(),
                ))
            }
        };
        check_password(&password)?;
        Ok(ScimUserCreate {
            username,
            password,
            email: primary_email(body.get("emails"))?,
        })
    }
}

impl PasswordChange {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ScimRequestError> {
        let password = match body.get("password") {
            Some(Value::String(password)) => password.clone(),
            _ => {
                return Err(ScimRequestError::InvalidPassword(
                    "Password is required".into(),
                ))
            }
        };
        check_password(&password)?;
        let old_password = match body.get("oldPassword") {
            None | Some(Value::Null) => None,
            Some(Value::String(old)) => Some(old.clone()),
            Some(_) => return Err(invalid("oldPassword must be a string")),
        };
        Ok(PasswordChange {
            password,
            old_password,
        })
    }
}

fn invalid(message: &str) -> ScimRequestError {
    ScimRequestError::InvalidResource(message.into())
}

pub fn check_username(username: &str) -> Result<(), ScimRequestError> {
    let chars = username.chars().count();
    if chars == 0 || chars > MAX_CHARS {
        return Err(invalid("Username must be between 1 and 255 characters"));
    }
    if username
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(invalid(
            "Username must not contain whitespace or control characters",
        ));
    }
    Ok(())
}

pub fn check_password(password: &str) -> Result<(), ScimRequestError> {
    let chars = password.chars().count();
    if chars == 0 || chars > MAX_CHARS {
        return Err(ScimRequestError::InvalidPassword(
            "Password must be between 1 and 255 characters".into(),
        ));
    }
    Ok(())
}

fn primary_email(emails: Option<&Value>) -> Result<Option<String>, ScimRequestError> {
    let emails = match emails {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(emails)) => emails,
        Some(_) => return Err(invalid("emails must be a list")),
    };
    let mut values = Vec::new();
    for email in emails {
        let value = email.get("value").and_then(Value::as_str);
        match value {
            Some(value) if value.contains('@') && value.chars().count() <= MAX_CHARS => {
                let primary = email.get("primary").and_then(Value::as_bool) == Some(true);
                values.push((primary, value.to_string()));
            }
            _ => return Err(invalid("Each email needs a value that is an email address")),
        }
    }
    let primary = values
        .iter()
        .find(|(primary, _)| *primary)
        .or(values.first());
    Ok(primary.map(|(_, value)| value.clone()))
}

/// The one filter served: `userName eq "NAME"` (attribute and operator in any case). `None`
/// when there is no filter at all.
pub fn parse_username_filter(filter: Option<&str>) -> Result<Option<String>, ScimRequestError> {
    let Some(filter) = filter else {
        return Ok(None);
    };
    let refuse = || ScimRequestError::InvalidFilter(filter.to_string());
    let mut words = filter.trim().splitn(3, char::is_whitespace);
    let (Some(attribute), Some(operator), Some(value)) = (words.next(), words.next(), words.next())
    else {
        return Err(refuse());
    };
    if !attribute.eq_ignore_ascii_case("userName") || !operator.eq_ignore_ascii_case("eq") {
        return Err(refuse());
    }
    let quoted = value
        .trim()
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .ok_or_else(refuse)?;
    let mut name = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => name.push(chars.next().ok_or_else(refuse)?),
            '"' => return Err(refuse()),
            c => name.push(c),
        }
    }
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_new_user_needs_a_name_and_a_password() {
        let body = json!({"userName": "ann", "password": "pw", "origin": "uaa",
            "emails": [{"value": "a@x", "primary": false}, {"value": "b@x", "primary": true}]});
        let user = ScimUserCreate::parse(body.as_object().unwrap()).unwrap();
        assert_eq!(user.email.as_deref(), Some("b@x"));
        for bad in [
            json!({"password": "pw"}),
            json!({"userName": "ann"}),
            json!({"userName": "a b", "password": "pw"}),
            json!({"userName": "ann", "password": ""}),
            json!({"userName": "ann", "password": "pw", "emails": [{"value": "nope"}]}),
        ] {
            assert!(
                ScimUserCreate::parse(bad.as_object().unwrap()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn filters_by_user_name_only() {
        assert_eq!(
            parse_username_filter(Some(r#"userName eq "ann""#)).unwrap(),
            Some("ann".into())
        );
        assert_eq!(
            parse_username_filter(Some(r#"USERNAME EQ "a\"b""#)).unwrap(),
            Some("a\"b".into())
        );
        assert_eq!(parse_username_filter(None).unwrap(), None);
        for bad in [
            r#"email eq "a""#,
            r#"userName co "a""#,
            "userName eq ann",
            "userName",
        ] {
            assert!(parse_username_filter(Some(bad)).is_err(), "{bad}");
        }
    }
}
