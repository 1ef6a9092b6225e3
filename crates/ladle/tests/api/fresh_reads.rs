//! What a node remembers between requests (the tokens it verified) never outlives what it is
//! about: a role removed, a token expired, an app renamed is seen on the very next request, on
//! the node that made the change and on every other node of the same database. Each test makes
//! the same request first, so that whatever a node keeps from it is in place before the change.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{sign_claims, unix_time_in, ServerOptions, TestServer, SECRET};

const DEV: &str = "fresh-dev";

/// A second `ladle serve` on `first`'s database and blobstore.
async fn second_node(first: &TestServer) -> TestServer {
    TestServer::start_with_options(ServerOptions {
        env: &[
            ("LADLE_STAGING_SLOTS", "0"),
            ("LADLE_BLOBSTORE", &first.blobstore),
        ],
        database_url: Some(first.database_url.clone()),
        ..ServerOptions::default()
    })
    .await
}

/// An app in a fresh space where `DEV` is a space developer (and an organization user): the
/// app's guid and the space role's.
async fn app_with_developer(server: &TestServer) -> (String, String) {
    let admin = server.admin_token();
    let (org, space) = server.org_and_space().await;
    // A space role needs a role in the space's organization first.
    server
        .grant(DEV, "organization_user", "organization", &org)
        .await;
    let role = server
        .post(
            "/v3/roles",
            &admin,
            json!({"type": "space_developer", "relationships": {
                "user": {"data": {"guid": DEV}}, "space": {"data": {"guid": space}}}}),
        )
        .await;
    role.assert_status(201);
    let app = server
        .post(
            "/v3/apps",
            &admin,
            json!({"name": "before", "relationships": {"space": {"data": {"guid": space}}}}),
        )
        .await;
    app.assert_status(201);
    (guid(&app.body), guid(&role.body))
}

fn guid(body: &Value) -> String {
    body["guid"].as_str().expect("a guid").to_string()
}

/// The same token twice, answered 200 both times: anything a node keeps from it is kept now.
async fn read_twice(server: &TestServer, path: &str, token: &str) -> Value {
    server.get(path, token).await.assert_status(200);
    let second = server.get(path, token).await;
    second.assert_status(200);
    second.body
}

#[tokio::test]
async fn a_removed_role_is_refused_on_the_next_request_with_the_same_token() {
    let server = TestServer::start().await;
    let (app, role) = app_with_developer(&server).await;
    let token = server.user_token(DEV);
    let path = format!("/v3/apps/{app}");
    read_twice(&server, &path, &token).await;
    // Read on the same connections right after, another caller gets only what its roles allow.
    server
        .get(&path, &server.user_token("fresh-stranger"))
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");
    server
        .delete(&format!("/v3/roles/{role}"), &server.admin_token())
        .await
        .assert_status(204);
    server
        .get(&path, &token)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");
}

#[tokio::test]
async fn a_token_that_expired_between_two_requests_is_refused() {
    let server = TestServer::start().await;
    let (app, _role) = app_with_developer(&server).await;
    let expires_at = unix_time_in(2);
    let token = sign_claims(
        SECRET,
        &json!({
            "user_id": DEV,
            "scope": ["cloud_controller.read"],
            "aud": ["cloud_controller"],
            "exp": expires_at,
        }),
    );
    let path = format!("/v3/apps/{app}");
    read_twice(&server, &path, &token).await;
    // `exp` is a whole second: the token is good through that second and expired after it.
    while unix_time_in(0) <= expires_at {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.get(&path, &token).await.assert_error(
        401,
        1000,
        "InvalidAuthToken",
        "Invalid Auth Token",
    );
}

#[tokio::test]
async fn a_renamed_app_is_shown_renamed_on_the_next_request() {
    let server = TestServer::start().await;
    let (app, _role) = app_with_developer(&server).await;
    let token = server.user_token(DEV);
    let path = format!("/v3/apps/{app}");
    assert_eq!(read_twice(&server, &path, &token).await["name"], "before");
    server
        .patch(&path, &token, json!({"name": "after"}))
        .await
        .assert_status(200);
    assert_eq!(server.get(&path, &token).await.body["name"], "after");
}

#[tokio::test]
async fn a_role_removed_or_an_app_renamed_through_one_node_is_seen_at_once_on_the_other() {
    let first = TestServer::start().await;
    let second = second_node(&first).await;
    let (app, role) = app_with_developer(&first).await;
    let token = first.user_token(DEV);
    let path = format!("/v3/apps/{app}");
    assert_eq!(read_twice(&second, &path, &token).await["name"], "before");

    first
        .patch(&path, &first.admin_token(), json!({"name": "after"}))
        .await
        .assert_status(200);
    assert_eq!(second.get(&path, &token).await.body["name"], "after");

    first
        .delete(&format!("/v3/roles/{role}"), &first.admin_token())
        .await
        .assert_status(204);
    second
        .get(&path, &token)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");
    // And the node that removed it refuses too.
    first
        .get(&path, &token)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");
}
