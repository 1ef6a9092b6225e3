//! `POST /v3/roles` body:
//! `{type, relationships: {user: {data: {guid}}, organization|space: {data: {guid}}}}`.

use serde_json::{Map, Value};

use super::fields::Fields;
use super::space_create::relationship_shape_error;
use super::MessageError;
use crate::domain::RoleType;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleTarget {
    Organization(String),
    Space(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCreate {
    pub role_type: RoleType,
    pub user_guid: String,
    pub target: RoleTarget,
}

const RELATIONSHIP_KEYS: [&str; 3] = ["user", "organization", "space"];

impl RoleCreate {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, MessageError> {
        let mut fields = Fields::new(body);
        let role_type = parse_type(&mut fields);
        let relationships = match fields.raw("relationships") {
            Some(Value::Object(relationships)) => Some(relationships),
            Some(_) => {
                fields.error("Relationships must be an object");
                None
            }
            None => {
                fields.error("Relationships 'relationships' is not an object");
                None
            }
        };
        let parsed = relationships.and_then(|r| parse_relationships(&mut fields, r, role_type));
        let (role_type, (user_guid, target)) = fields.finish_with(role_type.zip(parsed))?;
        Ok(RoleCreate {
            role_type,
            user_guid,
            target,
        })
    }
}

fn parse_type(fields: &mut Fields<'_>) -> Option<RoleType> {
    let raw = fields.raw("type");
    let parsed = raw.and_then(Value::as_str).and_then(|s| s.parse().ok());
    if parsed.is_none() {
        let allowed: Vec<String> = RoleType::ALL.iter().map(|r| format!("\"{r}\"")).collect();
        fields.error(format!(
            "Type must be one of the allowed types [{}]",
            allowed.join(", ")
        ));
    }
    parsed
}

/// The user and the one target (organization or space) the type calls for.
fn parse_relationships(
    fields: &mut Fields<'_>,
    relationships: &Map<String, Value>,
    role_type: Option<RoleType>,
) -> Option<(String, RoleTarget)> {
    fields.reject_unknown_keys(relationships, &RELATIONSHIP_KEYS, "Relationships");
    let user = Fields::relationship_guid(relationships, "user");
    if user.is_none() {
        fields.error(relationship_shape_error("user"));
    }
    let target = parse_target(fields, relationships, role_type?);
    Some((user?, target?))
}

fn parse_target(
    fields: &mut Fields<'_>,
    relationships: &Map<String, Value>,
    role_type: RoleType,
) -> Option<RoleTarget> {
    if relationships.contains_key("organization") && relationships.contains_key("space") {
        fields.error("Cannot pass both 'organization' and 'space' in a create role request");
        return None;
    }
    let (key, make): (&str, fn(String) -> RoleTarget) = if role_type.is_space_role() {
        ("space", RoleTarget::Space)
    } else {
        ("organization", RoleTarget::Organization)
    };
    match Fields::relationship_guid(relationships, key) {
        Some(guid) => Some(make(guid)),
        None if relationships.contains_key(key) => {
            fields.error(relationship_shape_error(key));
            None
        }
        None => {
            fields.error(format!(
                "Relationships {} can't be blank for type '{role_type}'",
                super::fields::humanize(key)
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<RoleCreate, MessageError> {
        RoleCreate::parse(body.as_object().unwrap())
    }

    fn detail(body: Value) -> String {
        parse(body).unwrap_err().detail()
    }

    #[test]
    fn reads_org_and_space_roles() {
        let org = parse(json!({"type": "organization_manager", "relationships": {
            "user": {"data": {"guid": "u"}}, "organization": {"data": {"guid": "o"}}}}))
        .unwrap();
        assert_eq!(org.role_type, RoleType::OrganizationManager);
        assert_eq!(org.target, RoleTarget::Organization("o".into()));
        let space = parse(json!({"type": "space_supporter", "relationships": {
            "user": {"data": {"guid": "u"}}, "space": {"data": {"guid": "s"}}}}))
        .unwrap();
        assert_eq!(space.user_guid, "u");
        assert_eq!(space.target, RoleTarget::Space("s".into()));
    }

    #[test]
    fn refuses_mismatched_targets_and_bad_types() {
        assert_eq!(
            detail(json!({"type": "space_developer", "relationships": {
                "user": {"data": {"guid": "u"}}, "organization": {"data": {"guid": "o"}}}})),
            "Relationships Space can't be blank for type 'space_developer'"
        );
        assert_eq!(
            detail(json!({"type": "organization_user", "relationships": {
                "user": {"data": {"guid": "u"}}, "space": {"data": {"guid": "s"}}}})),
            "Relationships Organization can't be blank for type 'organization_user'"
        );
        assert!(detail(json!({"type": "king", "relationships": {
            "user": {"data": {"guid": "u"}}, "space": {"data": {"guid": "s"}}}}))
        .starts_with("Type must be one of the allowed types [\"organization_user\", "));
        assert_eq!(
            detail(json!({"type": "space_auditor", "relationships": {
                "user": {"data": {"guid": "u"}}, "space": {"data": {"guid": "s"}},
                "organization": {"data": {"guid": "o"}}}})),
            "Cannot pass both 'organization' and 'space' in a create role request"
        );
        assert_eq!(
            detail(json!({"type": "space_auditor", "relationships": {
                "user": {"guid": "u"}, "space": {"data": {"guid": "s"}}, "app": {}}})),
            "Relationships Unknown field(s): 'app', Relationships User must be structured like \
             this: \"user: {\"data\": {\"guid\": \"valid-guid\"}}\""
        );
    }
}
