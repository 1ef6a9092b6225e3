use serde_json::json;

use crate::support::TestServer;

#[tokio::test]
async fn admin_creates_reads_lists_and_deletes_organizations() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let created = server
        .post("/v3/organizations", &admin, json!({"name": "acme"}))
        .await;
    created.assert_status(201);
    let guid = created.body["guid"].as_str().unwrap().to_string();
    assert_eq!(created.body["name"], "acme");
    assert_eq!(
        created.body["links"]["self"]["href"],
        format!("{}/v3/organizations/{guid}", server.url)
    );
    let shown = server
        .get(&format!("/v3/organizations/{guid}"), &admin)
        .await;
    shown.assert_status(200);
    assert_eq!(shown.body["guid"], guid.as_str());
    server
        .post("/v3/organizations", &admin, json!({"name": "acme"}))
        .await
        .assert_error(422, 10008, "UnprocessableEntity", "already exists");
    server
        .delete(&format!("/v3/organizations/{guid}"), &admin)
        .await
        .assert_status(204);
    server
        .get(&format!("/v3/organizations/{guid}"), &admin)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Organization not found");
}

#[tokio::test]
async fn ordinary_users_cannot_create_and_see_only_their_organizations() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let dev = server.user_token("dev-1");
    server
        .post("/v3/organizations", &dev, json!({"name": "mine"}))
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    let hidden = server
        .post("/v3/organizations", &admin, json!({"name": "hidden"}))
        .await;
    let hidden_guid = hidden.body["guid"].as_str().unwrap();
    server
        .get(&format!("/v3/organizations/{hidden_guid}"), &dev)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Organization not found");
    let list = server.get("/v3/organizations", &dev).await;
    assert_eq!(list.body["pagination"]["total_results"], 0);
}

#[tokio::test]
async fn bad_bodies_change_nothing() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    server
        .post(
            "/v3/organizations",
            &admin,
            json!({"name": 7, "colour": "red"}),
        )
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Unknown field(s): 'colour', Name must be a string",
        );
    server
        .post("/v3/organizations", &admin, json!({}))
        .await
        .assert_error(422, 10008, "UnprocessableEntity", "Name can't be blank");
    let list = server.get("/v3/organizations", &admin).await;
    assert_eq!(list.body["pagination"]["total_results"], 0);
}
