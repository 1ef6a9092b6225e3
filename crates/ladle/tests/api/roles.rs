//! Black-box tests: roles.

use serde_json::{json, Value};

use crate::support::TestServer;

fn role_body(role: &str, user: &str, kind: &str, target: &str) -> Value {
    json!({"type": role, "relationships": {
        "user": {"data": {"guid": user}},
        kind: {"data": {"guid": target}}}})
}

async fn create_user(server: &TestServer, guid: &str) {
    server
        .post("/v3/users", &server.admin_token(), json!({"guid": guid}))
        .await
        .assert_status(201);
}

fn total(list: &Value) -> u64 {
    list["pagination"]["total_results"].as_u64().unwrap()
}

#[tokio::test]
async fn admin_gives_organization_and_space_roles() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let (org, space) = server.org_and_space().await;
    create_user(&server, "dev").await;
    let org_role = server
        .post(
            "/v3/roles",
            &admin,
            role_body("organization_user", "dev", "organization", &org),
        )
        .await;
    org_role.assert_status(201);
    let body = &org_role.body;
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
            "type",
            "relationships",
            "links"
        ]
    );
    let org_role_guid = body["guid"].as_str().unwrap().to_string();
    assert_eq!(body["type"], "organization_user");
    assert_eq!(body["relationships"]["user"]["data"]["guid"], "dev");
    assert_eq!(
        body["relationships"]["organization"]["data"]["guid"],
        org.as_str()
    );
    assert_eq!(body["relationships"]["space"]["data"], Value::Null);
    assert_eq!(
        body["links"]["organization"]["href"],
        format!("{}/v3/organizations/{org}", server.url)
    );
    assert_eq!(
        body["links"]["user"]["href"],
        format!("{}/v3/users/dev", server.url)
    );

    let space_role = server
        .post(
            "/v3/roles",
            &admin,
            role_body("space_developer", "dev", "space", &space),
        )
        .await;
    space_role.assert_status(201);
    let space_role_guid = space_role.body["guid"].as_str().unwrap().to_string();
    assert_eq!(
        space_role.body["relationships"]["space"]["data"]["guid"],
        space.as_str()
    );
    assert_eq!(
        space_role.body["relationships"]["organization"]["data"],
        Value::Null
    );

    let shown = server
        .get(&format!("/v3/roles/{space_role_guid}"), &admin)
        .await;
    shown.assert_status(200);
    assert_eq!(shown.body, space_role.body);

    // The new developer can now read the space.
    server
        .get(&format!("/v3/spaces/{space}"), &server.user_token("dev"))
        .await
        .assert_status(200);

    let by_type = server.get("/v3/roles?types=space_developer", &admin).await;
    assert_eq!(
        by_type.body["resources"][0]["guid"],
        space_role_guid.as_str()
    );
    assert_eq!(total(&by_type.body), 1);
    let by_org = server
        .get(&format!("/v3/roles?organization_guids={org}"), &admin)
        .await;
    assert_eq!(by_org.body["resources"][0]["guid"], org_role_guid.as_str());
    assert_eq!(total(&by_org.body), 1);
    let by_space = server
        .get(&format!("/v3/roles?space_guids={space}"), &admin)
        .await;
    assert_eq!(total(&by_space.body), 1);
    let by_user = server.get("/v3/roles?user_guids=dev", &admin).await;
    assert_eq!(total(&by_user.body), 2);
    assert_eq!(
        total(&server.get("/v3/roles?user_guids=nobody", &admin).await.body),
        0
    );

    server
        .delete(&format!("/v3/roles/{space_role_guid}"), &admin)
        .await
        .assert_status(204);
    server
        .get(&format!("/v3/roles/{space_role_guid}"), &admin)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Role not found");
    server
        .get(&format!("/v3/spaces/{space}"), &server.user_token("dev"))
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Space not found");
}

#[tokio::test]
async fn role_bodies_are_validated_before_anything_is_written() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let (org, space) = server.org_and_space().await;
    create_user(&server, "dev").await;
    let cases = [
        (
            role_body("space_king", "dev", "space", &space),
            "Type must be one of the allowed types [\"organization_user\", \"organization_auditor\", \
             \"organization_manager\", \"organization_billing_manager\", \"space_developer\", \
             \"space_manager\", \"space_auditor\", \"space_supporter\"]",
        ),
        (
            role_body("space_developer", "dev", "organization", &org),
            "Relationships Space can't be blank for type 'space_developer'",
        ),
        (
            role_body("organization_manager", "dev", "space", &space),
            "Relationships Organization can't be blank for type 'organization_manager'",
        ),
        (
            json!({"type": "space_auditor", "relationships": {
                "user": {"data": {"guid": "dev"}},
                "space": {"data": {"guid": space}},
                "organization": {"data": {"guid": org}}}}),
            "Cannot pass both 'organization' and 'space' in a create role request",
        ),
        (
            json!({"type": "organization_user", "relationships": {
                "organization": {"data": {"guid": org}}}}),
            "Relationships User must be structured like this",
        ),
        (
            json!({"type": "organization_user"}),
            "Relationships 'relationships' is not an object",
        ),
        (
            json!({"type": "organization_user", "relationships": {
                "user": {"data": {"guid": "dev"}},
                "organization": {"data": {"guid": org}}}, "colour": "red"}),
            "Unknown field(s): 'colour'",
        ),
        (
            role_body("organization_user", "ghost", "organization", &org),
            "Invalid user. Ensure that the user exists and you have access to it.",
        ),
        (
            role_body("organization_user", "dev", "organization", "no-such-org"),
            "Invalid organization. Ensure that the organization exists and you have access to it.",
        ),
        (
            role_body("space_developer", "dev", "space", "no-such-space"),
            "Invalid space. Ensure that the space exists and you have access to it.",
        ),
        (
            role_body("space_developer", "dev", "space", &space),
            "Users cannot be assigned roles in a space if they do not have a role in that space's organization.",
        ),
    ];
    for (body, detail) in cases {
        server.post("/v3/roles", &admin, body).await.assert_error(
            422,
            10008,
            "UnprocessableEntity",
            detail,
        );
    }
    assert_eq!(total(&server.get("/v3/roles", &admin).await.body), 0);
}

#[tokio::test]
async fn duplicate_roles_are_refused() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let (org, space) = server.org_and_space().await;
    let org_name = server
        .get(&format!("/v3/organizations/{org}"), &admin)
        .await
        .body["name"]
        .as_str()
        .unwrap()
        .to_string();
    // Known by username once seen with an email; by guid otherwise.
    server
        .get(
            "/v3/spaces",
            &server.user_token_with_email("jo-guid", "jo@example.com"),
        )
        .await
        .assert_status(200);
    server
        .grant("jo-guid", "organization_user", "organization", &org)
        .await;
    server
        .post(
            "/v3/roles",
            &admin,
            role_body("organization_user", "jo-guid", "organization", &org),
        )
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            &format!(
                "User 'jo' already has 'organization_user' role in organization '{org_name}'."
            ),
        );
    server
        .grant("anon", "organization_user", "organization", &org)
        .await;
    server.grant("anon", "space_auditor", "space", &space).await;
    server
        .post(
            "/v3/roles",
            &admin,
            role_body("space_auditor", "anon", "space", &space),
        )
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "User 'anon' already has 'space_auditor' role in space 'dev'.",
        );
    // A different role in the same place is not a duplicate.
    server
        .grant("anon", "space_developer", "space", &space)
        .await;
    assert_eq!(
        total(&server.get("/v3/roles?user_guids=anon", &admin).await.body),
        3
    );
}

#[tokio::test]
async fn managers_give_roles_within_their_reach() {
    let server = TestServer::start().await;
    let (org, space) = server.org_and_space().await;
    let (other_org, other_space) = server.org_and_space().await;
    server
        .grant("boss", "organization_manager", "organization", &org)
        .await;
    server
        .grant("lead", "organization_user", "organization", &org)
        .await;
    server.grant("lead", "space_manager", "space", &space).await;
    server
        .grant("dev", "organization_user", "organization", &org)
        .await;
    server
        .grant("dev", "space_developer", "space", &space)
        .await;
    create_user(&server, "newbie").await;
    let boss = server.user_token("boss");
    let lead = server.user_token("lead");
    let dev = server.user_token("dev");

    // Organization manager: roles in the organization and in its spaces.
    server
        .post(
            "/v3/roles",
            &boss,
            role_body("organization_auditor", "newbie", "organization", &org),
        )
        .await
        .assert_status(201);
    server
        .post(
            "/v3/roles",
            &boss,
            role_body("space_auditor", "newbie", "space", &space),
        )
        .await
        .assert_status(201);
    // Space manager: roles in that space, not in the organization.
    server
        .post(
            "/v3/roles",
            &lead,
            role_body("space_supporter", "newbie", "space", &space),
        )
        .await
        .assert_status(201);
    server
        .post(
            "/v3/roles",
            &lead,
            role_body("organization_manager", "newbie", "organization", &org),
        )
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    // Space developer: reads the space, may not give roles in it.
    server
        .post(
            "/v3/roles",
            &dev,
            role_body("space_manager", "newbie", "space", &space),
        )
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    server
        .post(
            "/v3/roles",
            &dev,
            role_body("space_manager", "dev", "space", &space),
        )
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    // Nobody here can see the other organization or its space.
    server
        .post(
            "/v3/roles",
            &boss,
            role_body("organization_user", "newbie", "organization", &other_org),
        )
        .await
        .assert_error(422, 10008, "UnprocessableEntity", "Invalid organization");
    server
        .post(
            "/v3/roles",
            &lead,
            role_body("space_developer", "newbie", "space", &other_space),
        )
        .await
        .assert_error(422, 10008, "UnprocessableEntity", "Invalid space");

    let admin = server.admin_token();
    assert_eq!(
        total(&server.get("/v3/roles?user_guids=newbie", &admin).await.body),
        3
    );
}

#[tokio::test]
async fn roles_are_visible_to_those_who_can_read_where_they_are() {
    let server = TestServer::start().await;
    let (org, space) = server.org_and_space().await;
    let (other_org, _) = server.org_and_space().await;
    server
        .grant("member", "organization_user", "organization", &org)
        .await;
    server
        .grant("auditor", "organization_user", "organization", &org)
        .await;
    server
        .grant("auditor", "space_auditor", "space", &space)
        .await;
    server
        .grant("elsewhere", "organization_user", "organization", &other_org)
        .await;
    let admin = server.admin_token();
    let space_role = server
        .get(&format!("/v3/roles?space_guids={space}"), &admin)
        .await
        .body["resources"][0]["guid"]
        .as_str()
        .unwrap()
        .to_string();

    // The space auditor sees both organization roles and its own space role.
    let auditor = server.user_token("auditor");
    assert_eq!(total(&server.get("/v3/roles", &auditor).await.body), 3);
    server
        .get(&format!("/v3/roles/{space_role}"), &auditor)
        .await
        .assert_status(200);
    // An organization user sees the organization's roles but not the space's.
    let member = server.user_token("member");
    assert_eq!(total(&server.get("/v3/roles", &member).await.body), 2);
    server
        .get(&format!("/v3/roles/{space_role}"), &member)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Role not found");
    // Someone from another organization sees only that organization's roles.
    let elsewhere = server.user_token("elsewhere");
    let theirs = server.get("/v3/roles", &elsewhere).await;
    assert_eq!(total(&theirs.body), 1);
    assert_eq!(
        theirs.body["resources"][0]["relationships"]["user"]["data"]["guid"],
        "elsewhere"
    );
    let nobody = server.user_token("nobody");
    assert_eq!(total(&server.get("/v3/roles", &nobody).await.body), 0);
    assert_eq!(total(&server.get("/v3/roles", &admin).await.body), 4);
}

#[tokio::test]
async fn roles_are_taken_away_by_those_who_may_give_them() {
    let server = TestServer::start().await;
    let (org, space) = server.org_and_space().await;
    server
        .grant("boss", "organization_manager", "organization", &org)
        .await;
    server
        .grant("dev", "organization_user", "organization", &org)
        .await;
    server
        .grant("dev", "space_developer", "space", &space)
        .await;
    let admin = server.admin_token();
    let dev_role = server
        .get(
            &format!("/v3/roles?space_guids={space}&user_guids=dev"),
            &admin,
        )
        .await
        .body["resources"][0]["guid"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v3/roles/{dev_role}");
    server
        .delete(&path, &server.user_token("stranger"))
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Role not found");
    server
        .delete(&path, &server.user_token("dev"))
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    server.get(&path, &admin).await.assert_status(200);
    server
        .delete(&path, &server.user_token("boss"))
        .await
        .assert_status(204);
    server
        .get(&path, &admin)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Role not found");
    server
        .get(&format!("/v3/spaces/{space}"), &server.user_token("dev"))
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Space not found");
}
