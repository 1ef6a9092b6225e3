//! `POST /v3/users` body: `{guid, metadata?}`. The guid is the user's token `user_id`.

use serde_json::{Map, Value};

use super::fields::Fields;
use super::MessageError;
use crate::domain::Guid;

/// CC's limit on user guids.
const MAX_GUID_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct UserCreate {
    pub guid: Guid,
}

impl UserCreate {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        fields.raw("metadata");
        let guid = fields.required_string("guid");
        if let Some(guid) = &guid {
            if let Some(problem) = guid_problem(guid) {
                fields.error(format!("Guid {problem}"));
            }
        }
        let guid = fields.finish_with(guid)?;
        Ok(UserCreate { guid: guid.into() })
    }
}

fn guid_problem(guid: &str) -> Option<&'static str> {
    let chars = guid.chars().count();
    if chars == 0 || chars > MAX_GUID_CHARS {
        Some("must be between 1 and 200 characters")
    } else if guid.chars().any(|c| c.is_control() || c.is_whitespace()) {
        Some("must not contain whitespace or control characters")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn detail(body: Value) -> String {
        UserCreate::parse(body.as_object().unwrap())
            .unwrap_err()
            .detail()
    }

    #[test]
    fn needs_a_sane_guid() {
        let ok = json!({"guid": "u-1"});
        assert_eq!(
            UserCreate::parse(ok.as_object().unwrap()).unwrap().guid,
            "u-1"
        );
        assert_eq!(detail(json!({})), "Guid can't be blank");
        assert_eq!(detail(json!({"guid": 4})), "Guid must be a string");
        assert_eq!(
            detail(json!({"guid": ""})),
            "Guid must be between 1 and 200 characters"
        );
        assert_eq!(
            detail(json!({"guid": "x".repeat(201)})),
            "Guid must be between 1 and 200 characters"
        );
        assert_eq!(
            detail(json!({"guid": "a b"})),
            "Guid must not contain whitespace or control characters"
        );
    }
}
