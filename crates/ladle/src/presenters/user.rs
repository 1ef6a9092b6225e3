use serde_json::{json, Value};

use super::{empty_metadata, timestamp, updated_at, Links};
use crate::db::users::UserRecord;

pub fn present(user: &UserRecord, links: &Links) -> Value {
    json!({
        "guid": user.guid,
        "created_at": timestamp(&user.created_at),
        "updated_at": updated_at(&user.created_at, user.updated_at.as_deref()),
        "username": user.username,
        "presentation_name": user.presentation_name(),
        // Usernames come from tokens this server issues, so their origin is this server's own
        // user store, which CC calls "uaa".
        "origin": user.username.as_ref().map(|_| "uaa"),
        "metadata": empty_metadata(),
        "links": {
            "self": links.href(&format!("/v3/users/{}", user.guid)),
        },
    })
}
