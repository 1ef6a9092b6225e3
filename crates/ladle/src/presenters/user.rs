use serde::Serialize;
use serde_json::Value;

use super::{empty_metadata, Header, Links, SelfLink};
use crate::db::users::UserRecord;

#[derive(Debug, Serialize)]
pub struct UserView {
    #[serde(flatten)]
    pub header: Header,
    pub username: Option<String>,
    pub presentation_name: String,
    /// Usernames come from tokens this server issues, so their origin is this server's own user
    /// store, which CC calls "uaa".
    pub origin: Option<&'static str>,
    pub metadata: Value,
    pub links: SelfLink,
}

pub fn present(user: &UserRecord, links: &Links) -> UserView {
    UserView {
        header: Header::new(&user.guid, &user.created_at, user.updated_at.as_deref()),
        username: user.username.clone(),
        presentation_name: user.presentation_name().to_string(),
        origin: user.username.as_ref().map(|_| "uaa"),
        metadata: empty_metadata(),
        links: SelfLink {
            this: links.href(&format!("/v3/users/{}", user.guid)),
        },
    }
}
