//! Black-box tests: users.

use serde_json::{json, Value};

use crate::support::{uuid, TestServer};

fn guids(list: &Value) -> Vec<&str> {
    let mut guids: Vec<&str> = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["guid"].as_str().unwrap())
        .collect();
    guids.sort_unstable();
    guids
}

#[tokio::test]
async fn admin_creates_users_once() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let created = server
        .post("/v3/users", &admin, json!({"guid": "new-user"}))
        .await;
    created.assert_status(201);
    let body = &created.body;
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "guid",
            "created_at",
            "updated_at",
            "username",
            "presentation_name",
            "origin",
            "metadata",
            "links"
        ]
    );
    assert_eq!(body["guid"], "new-user");
    assert_eq!(body["username"], Value::Null);
    assert_eq!(body["presentation_name"], "new-user");
    assert_eq!(
        body["links"]["self"]["href"],
        format!("{}/v3/users/new-user", server.url)
    );
    let shown = server.get("/v3/users/new-user", &admin).await;
    shown.assert_status(200);
    assert_eq!(shown.body, created.body);

    server
        .post("/v3/users", &admin, json!({"guid": "new-user"}))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "User with guid 'new-user' already exists.",
        );
    // A user recorded from its own token counts as existing.
    server
        .get("/v3/spaces", &server.user_token("seen-user"))
        .await
        .assert_status(200);
    server
        .post("/v3/users", &admin, json!({"guid": "seen-user"}))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "User with guid 'seen-user' already exists.",
        );
}

#[tokio::test]
async fn users_seen_with_an_email_show_their_username() {
    let server = TestServer::start().await;
    let token = server.user_token_with_email("mail-user", "jo@example.com");
    let me = server.get("/v3/users/mail-user", &token).await;
    me.assert_status(200);
    assert_eq!(me.body["username"], "jo");
    assert_eq!(me.body["presentation_name"], "jo");
    assert_eq!(me.body["origin"], "uaa");
    let by_name = server
        .get("/v3/users?usernames=jo", &server.admin_token())
        .await;
    assert_eq!(guids(&by_name.body), ["mail-user"]);
}

#[tokio::test]
async fn bad_user_bodies_change_nothing() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let cases = [
        (json!({}), "Guid can't be blank"),
        (json!({"guid": 12}), "Guid must be a string"),
        (
            json!({"guid": ""}),
            "Guid must be between 1 and 200 characters",
        ),
        (
            json!({"guid": "x".repeat(201)}),
            "Guid must be between 1 and 200 characters",
        ),
        (
            json!({"guid": "two words"}),
            "Guid must not contain whitespace or control characters",
        ),
        (
            json!({"guid": "u", "username": "u"}),
            "Unknown field(s): 'username'",
        ),
    ];
    for (body, detail) in cases {
        server.post("/v3/users", &admin, body).await.assert_error(
            422,
            10008,
            "UnprocessableEntity",
            detail,
        );
    }
    let list = server.get("/v3/users", &admin).await;
    assert_eq!(guids(&list.body), ["admin"], "only the caller was recorded");
}

#[tokio::test]
async fn only_admins_create_and_delete_users() {
    let server = TestServer::start().await;
    let dev = server.user_token("dev");
    server
        .post("/v3/users", &dev, json!({"guid": "friend"}))
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    server
        .delete("/v3/users/dev", &dev)
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    let admin = server.admin_token();
    server
        .post("/v3/users", &admin, json!({"guid": "friend"}))
        .await
        .assert_status(201);
    // A user dev cannot see is not found, not forbidden.
    server.delete("/v3/users/friend", &dev).await.assert_error(
        404,
        10010,
        "ResourceNotFound",
        "User not found",
    );
    server
        .get("/v3/users/friend", &admin)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn users_see_themselves_and_people_in_their_organizations() {
    let server = TestServer::start().await;
    let (org, space) = server.org_and_space().await;
    let (other_org, _) = server.org_and_space().await;
    server
        .grant("alice", "organization_user", "organization", &org)
        .await;
    server
        .grant("bob", "organization_user", "organization", &org)
        .await;
    server.grant("bob", "space_auditor", "space", &space).await;
    server
        .grant("carol", "organization_manager", "organization", &other_org)
        .await;
    let alice = server.user_token("alice");
    let list = server.get("/v3/users", &alice).await;
    assert_eq!(guids(&list.body), ["alice", "bob"]);
    server.get("/v3/users/bob", &alice).await.assert_status(200);
    server.get("/v3/users/carol", &alice).await.assert_error(
        404,
        10010,
        "ResourceNotFound",
        "User not found",
    );
    let loner = server.user_token("loner");
    assert_eq!(
        guids(&server.get("/v3/users", &loner).await.body),
        ["loner"]
    );

    let admin = server.admin_token();
    let all = server.get("/v3/users", &admin).await;
    assert_eq!(
        guids(&all.body),
        ["admin", "alice", "bob", "carol", "loner"]
    );
    let some = server.get("/v3/users?guids=bob,carol", &admin).await;
    assert_eq!(guids(&some.body), ["bob", "carol"]);
    let auditor = server.token(
        &format!("auditor-{}", uuid()),
        &["cloud_controller.global_auditor"],
    );
    assert_eq!(
        server.get("/v3/users", &auditor).await.body["pagination"]["total_results"],
        6
    );
}

#[tokio::test]
async fn deleting_a_user_takes_its_roles_away() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let (org, space) = server.org_and_space().await;
    server
        .grant("leaver", "organization_user", "organization", &org)
        .await;
    server
        .grant("leaver", "space_developer", "space", &space)
        .await;
    let roles = "/v3/roles?user_guids=leaver";
    assert_eq!(
        server.get(roles, &admin).await.body["pagination"]["total_results"],
        2
    );
    server
        .delete("/v3/users/leaver", &admin)
        .await
        .assert_status(204);
    server.get("/v3/users/leaver", &admin).await.assert_error(
        404,
        10010,
        "ResourceNotFound",
        "User not found",
    );
    assert_eq!(
        server.get(roles, &admin).await.body["pagination"]["total_results"],
        0
    );
    server
        .delete("/v3/users/leaver", &admin)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "User not found");
}

#[tokio::test]
async fn a_deleted_user_is_recorded_again_at_their_next_request() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let carol = server.user_token("carol");
    server
        .get("/v3/organizations", &carol)
        .await
        .assert_status(200);
    server
        .get("/v3/users/carol", &admin)
        .await
        .assert_status(200);
    server
        .delete("/v3/users/carol", &admin)
        .await
        .assert_status(204);
    server.get("/v3/users/carol", &admin).await.assert_error(
        404,
        10010,
        "ResourceNotFound",
        "User not found",
    );
    // Their token is still valid: the next request records them again, as on first sight.
    server
        .get("/v3/organizations", &carol)
        .await
        .assert_status(200);
    server
        .get("/v3/users/carol", &admin)
        .await
        .assert_status(200);
}
