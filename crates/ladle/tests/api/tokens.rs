//! Tokens other issuers make: the 2015 spec page's bare claim set, UAA's user and
//! client-credentials tokens. Cloud Controller needs only a valid signature, an `exp` in the
//! future and an `aud` naming `cloud_controller`; every other claim is optional.

use serde_json::{json, Value};

use crate::support::{sign_claims, unix_time_in, TestServer, SECRET};

const READ_WRITE: [&str; 2] = ["cloud_controller.read", "cloud_controller.write"];

/// Exactly the claims of the spec page's example token, with a fresh `exp`.
fn spec_page_claims(user_id: &str) -> Value {
    json!({
        "user_id": user_id,
        "email": format!("{user_id}@example.com"),
        "scope": READ_WRITE,
        "aud": ["cloud_controller"],
        "exp": unix_time_in(600),
    })
}

/// A UAA client-credentials token: the client is `sub` and `client_id`, there is no `user_id`.
fn client_claims(client_id: &str, scopes: &[&str]) -> Value {
    json!({
        "jti": "4f0c4f6f3b8e4a6f9d1e2c3b4a5f6e7d",
        "sub": client_id,
        "client_id": client_id,
        "cid": client_id,
        "azp": client_id,
        "grant_type": "client_credentials",
        "scope": scopes,
        "aud": [client_id, "cloud_controller"],
        "iss": "https://uaa.example.com/oauth/token",
        "iat": unix_time_in(0),
        "exp": unix_time_in(600),
    })
}

/// The same claims signed with a secret the server does not know.
fn forged(claims: &Value) -> String {
    sign_claims("not-the-server-secret", claims)
}

async fn assert_refused(server: &TestServer, token: &str) {
    server.get("/v3/organizations", token).await.assert_error(
        401,
        1000,
        "InvalidAuthToken",
        "Invalid Auth Token",
    );
}

#[tokio::test]
async fn the_spec_pages_claim_set_is_enough() {
    let server = TestServer::start().await;
    let claims = spec_page_claims("page-user");
    let token = sign_claims(SECRET, &claims);
    server
        .get("/v3/organizations", &token)
        .await
        .assert_status(200);
    // The caller is the token's user_id, recorded with its email on first sight.
    let me = server.get("/v3/users/page-user", &token).await;
    me.assert_status(200);
    assert_eq!(me.body["guid"], "page-user");
    assert_refused(&server, &forged(&claims)).await;
    let mut expired = claims.clone();
    expired["exp"] = json!(unix_time_in(-60));
    assert_refused(&server, &sign_claims(SECRET, &expired)).await;
    for required in ["exp", "aud"] {
        let mut without = claims.clone();
        without.as_object_mut().unwrap().remove(required);
        assert_refused(&server, &sign_claims(SECRET, &without)).await;
    }
}

#[tokio::test]
async fn audience_and_scope_may_each_be_one_string() {
    let server = TestServer::start().await;
    let mut claims = spec_page_claims("string-user");
    claims["aud"] = json!("cloud_controller");
    claims["scope"] = json!("cloud_controller.read");
    let reader = sign_claims(SECRET, &claims);
    server
        .get("/v3/organizations", &reader)
        .await
        .assert_status(200);
    // One space-separated string gives the same scopes as the list: read but not write here,
    // and admin below.
    server
        .post("/v3/organizations", &reader, json!({"name": "x"}))
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    claims["scope"] = json!("cloud_controller.read cloud_controller.write cloud_controller.admin");
    let admin = sign_claims(SECRET, &claims);
    server
        .post(
            "/v3/organizations",
            &admin,
            json!({"name": "made-by-string-scopes"}),
        )
        .await
        .assert_status(201);
    assert_refused(&server, &forged(&claims)).await;
    // A single audience must still name cloud_controller.
    claims["aud"] = json!("uaa");
    assert_refused(&server, &sign_claims(SECRET, &claims)).await;
    claims["aud"] = json!(["uaa", "openid"]);
    assert_refused(&server, &sign_claims(SECRET, &claims)).await;
}

#[tokio::test]
async fn a_client_credentials_token_acts_as_its_client_with_its_scopes() {
    let server = TestServer::start().await;
    let admin_client = client_claims(
        "deployer",
        &[
            "cloud_controller.admin",
            "cloud_controller.read",
            "cloud_controller.write",
        ],
    );
    let token = sign_claims(SECRET, &admin_client);
    server
        .post("/v3/organizations", &token, json!({"name": "client-made"}))
        .await
        .assert_status(201);
    // Recorded under its client_id, as Cloud Controller does.
    let admin = server.admin_token();
    let recorded = server.get("/v3/users/deployer", &admin).await;
    recorded.assert_status(200);
    assert_eq!(recorded.body["guid"], "deployer");
    let reader = sign_claims(
        SECRET,
        &client_claims("watcher", &["cloud_controller.read"]),
    );
    server
        .get("/v3/organizations", &reader)
        .await
        .assert_status(200);
    server
        .post("/v3/organizations", &reader, json!({"name": "nope"}))
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    assert_refused(&server, &forged(&admin_client)).await;
}

#[tokio::test]
async fn a_token_naming_no_caller_or_a_refresh_token_is_refused() {
    let server = TestServer::start().await;
    // Neither user_id nor client_id: Cloud Controller finds no user and answers 401.
    let mut nobody = client_claims("ghost", &READ_WRITE);
    let fields = nobody.as_object_mut().unwrap();
    fields.remove("client_id");
    fields.remove("cid");
    assert_refused(&server, &sign_claims(SECRET, &nobody)).await;
    server
        .get("/v3/users/ghost", &server.admin_token())
        .await
        .assert_status(404);
    // A jti ending in `-r` marks a refresh token; any other jti is fine.
    let mut claims = spec_page_claims("refresher");
    claims["jti"] = json!("0d5c2a3e9b7f4e1a8c6d-r");
    assert_refused(&server, &sign_claims(SECRET, &claims)).await;
    claims["jti"] = json!("0d5c2a3e9b7f4e1a8c6d");
    server
        .get("/v3/organizations", &sign_claims(SECRET, &claims))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    let server = TestServer::start().await;
    let mut claims = spec_page_claims("early-bird");
    claims["nbf"] = json!(unix_time_in(-30));
    server
        .get("/v3/organizations", &sign_claims(SECRET, &claims))
        .await
        .assert_status(200);
    claims["nbf"] = json!(unix_time_in(300));
    assert_refused(&server, &sign_claims(SECRET, &claims)).await;
}

#[tokio::test]
async fn an_empty_or_overlong_user_id_is_refused_and_not_recorded() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    // Empty: refused, even with a client_id beside it (CC reads user_id first).
    let mut empty = client_claims("helper", &READ_WRITE);
    empty["user_id"] = json!("");
    assert_refused(&server, &sign_claims(SECRET, &empty)).await;
    // Longer than CC's user guid column (255 characters).
    let longest = "u".repeat(255);
    server
        .get(
            "/v3/organizations",
            &sign_claims(SECRET, &spec_page_claims(&longest)),
        )
        .await
        .assert_status(200);
    let overlong = "u".repeat(256);
    assert_refused(&server, &sign_claims(SECRET, &spec_page_claims(&overlong))).await;
    // Long, yet under the Authorization header's 16 KiB (user_id and email are in the token).
    let huge = "u".repeat(5_000);
    assert_refused(&server, &sign_claims(SECRET, &spec_page_claims(&huge))).await;
    let users = server.get("/v3/users?per_page=5000", &admin).await;
    let guids: Vec<usize> = users.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["guid"].as_str().unwrap().len())
        .collect();
    assert!(
        guids.iter().all(|&len| (1..=255).contains(&len)),
        "{guids:?}"
    );
}

#[tokio::test]
async fn an_authorization_header_longer_than_16_kib_is_refused_with_431() {
    let server = TestServer::start().await;
    // A 12,000-character user_id makes a token far longer than any real one.
    let token = sign_claims(SECRET, &spec_page_claims(&"u".repeat(12_000)));
    assert!(token.len() > 16 * 1024);
    let refused = server.get("/v3/organizations", &token).await;
    refused.assert_status(431);
    assert_eq!(refused.body["errors"][0]["code"], 1004, "{}", refused.text);
    assert_eq!(refused.body["errors"][0]["title"], "CF-BadRequest");
    let detail = refused.body["errors"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("Authorization header is longer than 16384 bytes"),
        "{detail}"
    );
    // Also where no token is needed, and whatever the header holds.
    let response = server
        .client
        .get(format!("{}/v3/info", server.url))
        .header("Authorization", "x".repeat(16 * 1024 + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
    // Exactly 16 KiB is read (and refused as a token only because it is not one).
    let response = server
        .client
        .get(format!("{}/v3/organizations", server.url))
        .header(
            "Authorization",
            format!("bearer {}", "x".repeat(16 * 1024 - 7)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // A 100,000-character user_id: the request head passes 64 KiB and is refused by the HTTP
    // layer itself, still with 431 (and without a body).
    let token = sign_claims(SECRET, &spec_page_claims(&"u".repeat(100_000)));
    let response = server
        .client
        .get(format!("{}/v3/organizations", server.url))
        .header("Authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
}
