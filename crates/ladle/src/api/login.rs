//! `GET /login` (what the CF CLI reads before it logs in) and `GET /token_keys` (the public keys
//! of RS256 tokens), served without a token, as UAA serves them. With an external UAA, these
//! are that UAA's and ladle answers 404.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::state::AppState;

pub async fn login_info(State(state): State<AppState>) -> Response {
    if !state.tokens.issues_tokens() {
        return super::root::not_found().await.into_response();
    }
    let login = state.links.login();
    Json(json!({
        "app": { "version": env!("CARGO_PKG_VERSION") },
        "links": { "uaa": login, "login": login },
        "zone_name": "uaa",
        "prompts": {
            "username": ["text", "Username"],
            "password": ["password", "Password"],
        },
    }))
    .into_response()
}

pub async fn token_keys(State(state): State<AppState>) -> Response {
    if !state.tokens.issues_tokens() {
        return super::root::not_found().await.into_response();
    }
    Json(json!({ "keys": state.tokens.public_keys() })).into_response()
}
