//! Bodies that choose an app's current droplet: today's
//! `PATCH /v3/apps/:guid/relationships/current_droplet` `{"data": {"guid": "…"}}` and 2015's
//! `PUT /v3/apps/:guid/current_droplet` `{"desired_droplet_guid": "…"}`.

use serde_json::{Map, Value};

use super::fields::Fields;
use super::MessageError;

/// CC's answer to `{"data": null}`: an app's droplet can be replaced, never removed.
pub const CANNOT_REMOVE: &str =
    "Current droplet cannot be removed. Replace it with a preferred droplet.";

/// Longest guid we look up; anything longer cannot name a droplet.
const MAX_GUID: usize = 255;

/// The droplet a body names. `None` when it names none usable: the action then answers as CC
/// does for a droplet that does not exist, after the app itself has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentDropletChoice {
    pub droplet_guid: Option<String>,
}

impl CurrentDropletChoice {
    /// Today's relationship body. `data: null` is refused at once, as CC does before it even
    /// looks the app up.
    pub fn parse_relationship(body: &Map<String, Value>) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        let data = fields.raw("data");
        fields.finish()?;
        let droplet_guid = match data {
            Some(Value::Null) => {
                return Err(MessageError::unprocessable(vec![CANNOT_REMOVE.to_string()]))
            }
            Some(Value::Object(data)) => {
                data.get("guid").and_then(Value::as_str).map(str::to_string)
            }
            _ => None,
        };
        Ok(Self::usable(droplet_guid))
    }

    /// 2015's body.
    pub fn parse_2015(body: &Map<String, Value>) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        let droplet_guid = fields.optional_string("desired_droplet_guid");
        fields.finish()?;
        Ok(Self::usable(droplet_guid))
    }

    fn usable(droplet_guid: Option<String>) -> Self {
        CurrentDropletChoice {
            droplet_guid: droplet_guid.filter(|g| !g.is_empty() && g.len() <= MAX_GUID),
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
    fn relationship_body_names_a_droplet_or_refuses_removal() {
        let chosen =
            CurrentDropletChoice::parse_relationship(&body(json!({"data": {"guid": "d1"}})))
                .unwrap();
        assert_eq!(chosen.droplet_guid.as_deref(), Some("d1"));
        let removal =
            CurrentDropletChoice::parse_relationship(&body(json!({"data": null}))).unwrap_err();
        assert_eq!(
            (removal.kind, removal.detail()),
            (
                crate::messages::MessageErrorKind::Unprocessable,
                CANNOT_REMOVE.to_string()
            )
        );
        for unusable in [
            json!({}),
            json!({"data": "d1"}),
            json!({"data": {"guid": 7}}),
            json!({"data": {"guid": ""}}),
        ] {
            assert_eq!(
                CurrentDropletChoice::parse_relationship(&body(unusable))
                    .unwrap()
                    .droplet_guid,
                None
            );
        }
        let extra =
            CurrentDropletChoice::parse_relationship(&body(json!({"data": {"guid": "d"}, "x": 1})))
                .unwrap_err();
        assert_eq!(extra.detail(), "Unknown field(s): 'x'");
    }

    #[test]
    fn body_2015_needs_a_string_guid() {
        let chosen =
            CurrentDropletChoice::parse_2015(&body(json!({"desired_droplet_guid": "d1"}))).unwrap();
        assert_eq!(chosen.droplet_guid.as_deref(), Some("d1"));
        assert_eq!(
            CurrentDropletChoice::parse_2015(&body(json!({})))
                .unwrap()
                .droplet_guid,
            None
        );
        let wrong = CurrentDropletChoice::parse_2015(&body(json!({"desired_droplet_guid": 1})))
            .unwrap_err();
        assert_eq!(wrong.detail(), "Desired droplet guid must be a string");
    }
}
