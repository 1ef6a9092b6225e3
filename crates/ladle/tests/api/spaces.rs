//! Black-box tests: spaces.

use serde_json::{json, Value};

use crate::support::{uuid, TestServer};

fn space_body(name: &str, org_guid: &str) -> Value {
    json!({"name": name, "relationships": {"organization": {"data": {"guid": org_guid}}}})
}

async fn create_org(server: &TestServer) -> String {
    let admin = server.admin_token();
    let org = server
        .post(
            "/v3/organizations",
            &admin,
            json!({"name": format!("org-{}", uuid())}),
        )
        .await;
    org.assert_status(201);
    org.body["guid"].as_str().unwrap().to_string()
}

fn keys(body: &Value) -> Vec<&str> {
    body.as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

fn guids(list: &Value) -> Vec<&str> {
    list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["guid"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn admin_creates_shows_lists_and_deletes_a_space() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let org = create_org(&server).await;
    let created = server
        .post(
            "/v3/spaces",
            &admin,
            json!({"name": "dev", "relationships": {"organization": {"data": {"guid": org}}},
                   "metadata": {"labels": {}}}),
        )
        .await;
    created.assert_status(201);
    let body = &created.body;
    assert_eq!(
        keys(body),
        [
            "guid",
            "created_at",
            "updated_at",
            "name",
            "relationships",
            "metadata",
            "links"
        ]
    );
    let guid = body["guid"].as_str().unwrap().to_string();
    assert_eq!(body["name"], "dev");
    assert_eq!(body["updated_at"], body["created_at"]);
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        body["relationships"]["organization"]["data"]["guid"],
        org.as_str()
    );
    assert_eq!(
        body["links"]["self"]["href"],
        format!("{}/v3/spaces/{guid}", server.url)
    );
    assert_eq!(
        body["links"]["organization"]["href"],
        format!("{}/v3/organizations/{org}", server.url)
    );

    let shown = server.get(&format!("/v3/spaces/{guid}"), &admin).await;
    shown.assert_status(200);
    assert_eq!(shown.body, created.body);

    let other = server
        .post("/v3/spaces", &admin, space_body("prod", &org))
        .await;
    other.assert_status(201);
    let all = server.get("/v3/spaces", &admin).await;
    assert_eq!(all.body["pagination"]["total_results"], 2);
    let by_name = server.get("/v3/spaces?names=prod", &admin).await;
    assert_eq!(guids(&by_name.body), [other.body["guid"].as_str().unwrap()]);
    let by_org = server
        .get(&format!("/v3/spaces?organization_guids={org},nope"), &admin)
        .await;
    assert_eq!(by_org.body["pagination"]["total_results"], 2);
    let by_guid = server
        .get(&format!("/v3/spaces?guids={guid}"), &admin)
        .await;
    assert_eq!(guids(&by_guid.body), [guid.as_str()]);
    server
        .get("/v3/spaces?colour=red", &admin)
        .await
        .assert_error(400, 10005, "BadQueryParameter", "'colour'");

    server
        .delete(&format!("/v3/spaces/{guid}"), &admin)
        .await
        .assert_status(204);
    server
        .get(&format!("/v3/spaces/{guid}"), &admin)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Space not found");
    server
        .delete(&format!("/v3/spaces/{guid}"), &admin)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Space not found");
}

#[tokio::test]
async fn space_names_are_unique_per_organization() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let (org_a, org_b) = (create_org(&server).await, create_org(&server).await);
    server
        .post("/v3/spaces", &admin, space_body("dev", &org_a))
        .await
        .assert_status(201);
    server
        .post("/v3/spaces", &admin, space_body("dev", &org_a))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Name must be unique per organization",
        );
    server
        .post("/v3/spaces", &admin, space_body("dev", &org_b))
        .await
        .assert_status(201);
    let list = server.get("/v3/spaces?names=dev", &admin).await;
    assert_eq!(list.body["pagination"]["total_results"], 2);
}

#[tokio::test]
async fn bad_space_bodies_change_nothing() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let org = create_org(&server).await;
    let cases = [
        (
            json!({"relationships": {"organization": {"data": {"guid": org}}}}),
            "Name can't be blank",
        ),
        (
            json!({"name": 5, "relationships": {"organization": {"data": {"guid": org}}}}),
            "Name must be a string",
        ),
        (
            json!({"name": "a\u{0007}b", "relationships": {"organization": {"data": {"guid": org}}}}),
            "Name must not contain control characters",
        ),
        (
            json!({"name": "dev", "relationships": {"organization": {"data": {"guid": org}}}, "quota": 1}),
            "Unknown field(s): 'quota'",
        ),
        (
            json!({"name": "dev"}),
            "Relationships 'relationships' is not an object",
        ),
        (
            json!({"name": "dev", "relationships": "org"}),
            "Relationships must be an object",
        ),
        (
            json!({"name": "dev", "relationships": {"organization": {"guid": org}}}),
            "Relationships Organization must be structured like this",
        ),
        (
            json!({"name": "dev", "relationships": {"organization": {"data": {"guid": "no-such-org"}}}}),
            "Invalid organization. Ensure the organization exists and you have access to it.",
        ),
    ];
    for (body, detail) in cases {
        server.post("/v3/spaces", &admin, body).await.assert_error(
            422,
            10008,
            "UnprocessableEntity",
            detail,
        );
    }
    server
        .request(
            reqwest::Method::POST,
            "/v3/spaces",
            Some(&admin),
            Some(json!(["not", "an", "object"])),
        )
        .await
        .assert_error(400, 1001, "MessageParseError", "invalid request body");
    let list = server.get("/v3/spaces", &admin).await;
    assert_eq!(list.body["pagination"]["total_results"], 0);
}

#[tokio::test]
async fn organization_managers_create_spaces_and_others_cannot() {
    let server = TestServer::start().await;
    let org = create_org(&server).await;
    server
        .grant("manager", "organization_manager", "organization", &org)
        .await;
    server
        .grant("member", "organization_user", "organization", &org)
        .await;
    let manager = server.user_token("manager");
    let created = server
        .post("/v3/spaces", &manager, space_body("by-manager", &org))
        .await;
    created.assert_status(201);
    server
        .post(
            "/v3/spaces",
            &server.user_token("member"),
            space_body("x", &org),
        )
        .await
        .assert_error(403, 10003, "NotAuthorized", "not authorized");
    server
        .post(
            "/v3/spaces",
            &server.user_token("stranger"),
            space_body("x", &org),
        )
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Invalid organization. Ensure the organization exists and you have access to it.",
        );
    // A manager of another organization is a stranger here.
    let other_org = create_org(&server).await;
    server
        .post("/v3/spaces", &manager, space_body("x", &other_org))
        .await
        .assert_error(422, 10008, "UnprocessableEntity", "Invalid organization");
    let list = server.get("/v3/spaces", &server.admin_token()).await;
    assert_eq!(list.body["pagination"]["total_results"], 1);
}

#[tokio::test]
async fn reading_a_space_follows_the_role_matrix() {
    let server = TestServer::start().await;
    let (org, space) = server.org_and_space().await;
    // A second space in the same org that nobody below has a space role in.
    let admin = server.admin_token();
    let sibling = server
        .post("/v3/spaces", &admin, space_body("sibling", &org))
        .await;
    let sibling = sibling.body["guid"].as_str().unwrap().to_string();

    let space_roles = [
        "space_developer",
        "space_manager",
        "space_auditor",
        "space_supporter",
    ];
    for role in space_roles {
        let user = format!("{role}-user");
        server
            .grant(&user, "organization_user", "organization", &org)
            .await;
        server.grant(&user, role, "space", &space).await;
        let token = server.user_token(&user);
        server
            .get(&format!("/v3/spaces/{space}"), &token)
            .await
            .assert_status(200);
        let list = server.get("/v3/spaces", &token).await;
        assert_eq!(
            guids(&list.body),
            [space.as_str()],
            "{role} lists only its space"
        );
        server
            .get(&format!("/v3/spaces/{sibling}"), &token)
            .await
            .assert_error(404, 10010, "ResourceNotFound", "Space not found");
    }

    server
        .grant("org-manager", "organization_manager", "organization", &org)
        .await;
    let manager = server.user_token("org-manager");
    server
        .get(&format!("/v3/spaces/{space}"), &manager)
        .await
        .assert_status(200);
    let list = server.get("/v3/spaces", &manager).await;
    assert_eq!(
        list.body["pagination"]["total_results"], 2,
        "every space of the org"
    );

    for role in [
        "organization_user",
        "organization_auditor",
        "organization_billing_manager",
    ] {
        let user = format!("{role}-user");
        server.grant(&user, role, "organization", &org).await;
        let token = server.user_token(&user);
        server
            .get(&format!("/v3/spaces/{space}"), &token)
            .await
            .assert_error(404, 10010, "ResourceNotFound", "Space not found");
        let list = server.get("/v3/spaces", &token).await;
        assert_eq!(list.body["pagination"]["total_results"], 0, "{role}");
    }

    let nobody = server.user_token("nobody");
    server
        .get(&format!("/v3/spaces/{space}"), &nobody)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Space not found");
    assert_eq!(
        server.get("/v3/spaces", &nobody).await.body["pagination"]["total_results"],
        0
    );

    let auditor = server.token("auditor", &["cloud_controller.global_auditor"]);
    server
        .get(&format!("/v3/spaces/{space}"), &auditor)
        .await
        .assert_status(200);
    assert_eq!(
        server.get("/v3/spaces", &auditor).await.body["pagination"]["total_results"],
        2
    );
}

#[tokio::test]
async fn only_admins_and_organization_managers_delete_spaces() {
    let server = TestServer::start().await;
    let (org, space) = server.org_and_space().await;
    server
        .grant("dev", "organization_user", "organization", &org)
        .await;
    server
        .grant("dev", "space_developer", "space", &space)
        .await;
    server
        .grant("boss", "organization_manager", "organization", &org)
        .await;
    let path = format!("/v3/spaces/{space}");
    server
        .delete(&path, &server.user_token("stranger"))
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Space not found");
    server
        .delete(&path, &server.user_token("dev"))
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    server
        .get(&path, &server.admin_token())
        .await
        .assert_status(200);

    let admin = server.admin_token();
    let roles_in_space = format!("/v3/roles?space_guids={space}");
    assert_eq!(
        server.get(&roles_in_space, &admin).await.body["pagination"]["total_results"],
        1
    );
    server
        .delete(&path, &server.user_token("boss"))
        .await
        .assert_status(204);
    server
        .get(&path, &admin)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Space not found");
    assert_eq!(
        server.get(&roles_in_space, &admin).await.body["pagination"]["total_results"],
        0,
        "the space's roles go with it"
    );
}

#[tokio::test]
async fn a_space_with_apps_is_not_deleted() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let (_org, space) = server.org_and_space().await;
    server
        .post(
            "/v3/apps",
            &admin,
            json!({"name": "app", "relationships": {"space": {"data": {"guid": space}}}}),
        )
        .await
        .assert_status(201);
    let path = format!("/v3/spaces/{space}");
    server.delete(&path, &admin).await.assert_error(
        422,
        10008,
        "UnprocessableEntity",
        "Space has apps; delete them first",
    );
    server.get(&path, &admin).await.assert_status(200);
}
