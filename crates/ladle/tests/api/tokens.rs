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
