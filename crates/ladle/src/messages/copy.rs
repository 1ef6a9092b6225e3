//! Copies: `POST /v3/packages?source_guid=` and `POST /v3/droplets?source_guid=` with the
//! destination app in the body, `{"relationships": {"app": {"data": {"guid": "…"}}}}` (CC's
//! `DropletCopyMessage`; nothing else may be sent).

use serde_json::{Map, Value};

use super::fields::Fields;
use super::MessageError;

pub const SOURCE_PARAM: &str = "source_guid";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyRequest {
    pub source_guid: String,
    pub app_guid: String,
}

impl CopyRequest {
    /// The `source_guid` a create's query names, if any: its presence makes the create a copy.
    pub fn source_guid(query: Option<&str>) -> Option<String> {
        url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .find(|(key, _)| key == SOURCE_PARAM)
            .map(|(_, value)| value.into_owned())
    }

    pub fn parse(source_guid: String, body: &Map<String, Value>) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        let app_guid = match fields.raw("relationships") {
            Some(Value::Object(relationships)) => Fields::relationship_guid(relationships, "app"),
            _ => None,
        };
        let app_guid = app_guid.filter(|guid| !guid.is_empty());
        if app_guid.is_none() {
            fields.error(
                "Relationships must include an app: {\"app\": {\"data\": {\"guid\": \"...\"}}}",
            );
        }
        fields.finish()?;
        match app_guid {
            Some(app_guid) => Ok(CopyRequest {
                source_guid,
                app_guid,
            }),
            // `finish` has refused the body already; this keeps the match whole.
            None => Err(MessageError::unprocessable(vec![
                "Relationships must include an app".into(),
            ])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn reads_the_source_from_the_query_and_the_app_from_the_body() {
        assert_eq!(
            CopyRequest::source_guid(Some("source_guid=abc&x=1")).as_deref(),
            Some("abc")
        );
        assert_eq!(CopyRequest::source_guid(Some("x=1")), None);
        let parsed = CopyRequest::parse(
            "abc".into(),
            &body(json!({"relationships": {"app": {"data": {"guid": "app-1"}}}})),
        )
        .unwrap();
        assert_eq!(parsed.app_guid, "app-1");
    }

    #[test]
    fn refuses_a_body_without_an_app_or_with_more() {
        for bad in [
            json!({}),
            json!({"relationships": {"app": {"data": {"guid": ""}}}}),
            json!({"relationships": "app"}),
        ] {
            let err = CopyRequest::parse("abc".into(), &body(bad.clone())).unwrap_err();
            assert!(
                err.detail().contains("must include an app"),
                "{bad}: {err:?}"
            );
        }
        let err = CopyRequest::parse(
            "abc".into(),
            &body(json!({"relationships": {"app": {"data": {"guid": "a"}}}, "type": "bits"})),
        )
        .unwrap_err();
        assert!(err.detail().contains("Unknown field(s): 'type'"), "{err:?}");
    }
}
