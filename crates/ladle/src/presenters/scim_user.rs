//! Login users as UAA's user management (SCIM 1.0) shows them.

use serde_json::{json, Value};

use crate::db::login_users::LoginUserRecord;

pub const SCHEMAS: [&str; 1] = ["urn:scim:schemas:core:1.0"];

/// Stored time (microseconds) → UAA's (milliseconds, `Z`).
fn uaa_time(stored: &str) -> String {
    match stored.get(..23) {
        Some(millis) => format!("{millis}Z"),
        None => stored.to_string(),
    }
}

pub fn present(user: &LoginUserRecord) -> Value {
    let emails: Vec<Value> = user
        .email
        .iter()
        .map(|email| json!({ "value": email, "primary": true }))
        .collect();
    json!({
        "id": user.user_guid,
        "meta": {
            "version": 0,
            "created": uaa_time(&user.created_at),
            "lastModified": uaa_time(user.updated_at.as_deref().unwrap_or(&user.created_at)),
        },
        "userName": user.username,
        "name": {},
        "emails": emails,
        "active": true,
        "verified": true,
        "origin": "uaa",
        "zoneId": "uaa",
        "passwordLastModified": uaa_time(&user.password_changed_at),
        "schemas": SCHEMAS,
    })
}

/// One page of a `GET /Users` answer; `start_index` counts from 1.
pub fn present_list(users: &[LoginUserRecord], start_index: usize, count: usize) -> Value {
    let page: Vec<Value> = users
        .iter()
        .skip(start_index - 1)
        .take(count)
        .map(present)
        .collect();
    json!({
        "resources": page,
        "startIndex": start_index,
        "itemsPerPage": count,
        "totalResults": users.len(),
        "schemas": SCHEMAS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_times_in_milliseconds() {
        assert_eq!(
            uaa_time("2026-01-02T03:04:05.000001Z"),
            "2026-01-02T03:04:05.000Z"
        );
    }
}
