//! `include=`: the `included` block where Cloud Controller serves it (apps: space,
//! space.organization; spaces: organization; roles: user, space, organization), on lists and
//! shows, and CC's 400 for what it does not serve.

use serde_json::{json, Value};

use crate::support::{uuid, Response, TestServer};

fn guids(block: &Value) -> Vec<String> {
    let mut guids: Vec<String> = block
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {block}"))
        .iter()
        .map(|r| r["guid"].as_str().unwrap().to_string())
        .collect();
    guids.sort();
    guids
}

fn sorted(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values
}

async fn app_in(server: &TestServer, token: &str, space: &str) -> String {
    let app = server
        .post(
            "/v3/apps",
            token,
            json!({"name": format!("app-{}", uuid()), "relationships": {"space": {"data": {"guid": space}}}}),
        )
        .await;
    app.assert_status(201);
    app.body["guid"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn apps_include_their_spaces_and_organizations() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let (org_a, space_a) = server.org_and_space().await;
    let (org_b, space_b) = server.org_and_space().await;
    let app_a = app_in(&server, &admin, &space_a).await;
    let app_a2 = app_in(&server, &admin, &space_a).await;
    let app_b = app_in(&server, &admin, &space_b).await;
    let filter = format!("guids={app_a},{app_a2},{app_b}");

    let plain = server.get(&format!("/v3/apps?{filter}"), &admin).await;
    plain.assert_status(200);
    assert!(plain.body.get("included").is_none(), "{}", plain.text);

    let with_space = server
        .get(&format!("/v3/apps?{filter}&include=space"), &admin)
        .await;
    with_space.assert_status(200);
    let included = &with_space.body["included"];
    assert_eq!(
        guids(&included["spaces"]),
        sorted(vec![space_a.clone(), space_b.clone()])
    );
    assert!(included.get("organizations").is_none(), "{included}");
    // Included resources are shown as their own GET shows them.
    let space_view = server.get(&format!("/v3/spaces/{space_a}"), &admin).await;
    let shown_a = included["spaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["guid"] == space_a.as_str())
        .unwrap();
    assert_eq!(*shown_a, space_view.body);
    // Pagination links carry the include on, as CC's do.
    let first = with_space.body["pagination"]["first"]["href"]
        .as_str()
        .unwrap();
    assert!(first.contains("include=space"), "{first}");

    let with_orgs = server
        .get(
            &format!("/v3/apps?{filter}&include=space.organization"),
            &admin,
        )
        .await;
    with_orgs.assert_status(200);
    let included = &with_orgs.body["included"];
    assert_eq!(
        guids(&included["spaces"]),
        sorted(vec![space_a.clone(), space_b])
    );
    assert_eq!(
        guids(&included["organizations"]),
        sorted(vec![org_a.clone(), org_b])
    );

    let shown = server
        .get(
            &format!("/v3/apps/{app_a}?include=space,space.organization"),
            &admin,
        )
        .await;
    shown.assert_status(200);
    assert_eq!(shown.body["guid"], app_a.as_str());
    assert_eq!(guids(&shown.body["included"]["spaces"]), vec![space_a]);
    assert_eq!(guids(&shown.body["included"]["organizations"]), vec![org_a]);

    // An empty page still says what it was asked to include.
    let none = server
        .get("/v3/apps?guids=no-such-app&include=space", &admin)
        .await;
    none.assert_status(200);
    assert_eq!(none.body["included"], json!({"spaces": []}));
}

#[tokio::test]
async fn spaces_include_their_organizations() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let (org, space) = server.org_and_space().await;
    let listed = server
        .get(
            &format!("/v3/spaces?guids={space}&include=organization"),
            &admin,
        )
        .await;
    listed.assert_status(200);
    assert_eq!(
        guids(&listed.body["included"]["organizations"]),
        vec![org.clone()]
    );
    assert_eq!(
        listed.body["included"]["organizations"][0]["guid"],
        org.as_str()
    );
    let shown = server
        .get(&format!("/v3/spaces/{space}?include=organization"), &admin)
        .await;
    shown.assert_status(200);
    assert_eq!(guids(&shown.body["included"]["organizations"]), vec![org]);
}

#[tokio::test]
async fn roles_include_their_users_spaces_and_organizations() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let (org, space) = server.org_and_space().await;
    let user = format!("incl-{}", uuid());
    server
        .grant(&user, "organization_user", "organization", &org)
        .await;
    server
        .grant(&user, "space_developer", "space", &space)
        .await;
    let listed = server
        .get(
            &format!("/v3/roles?user_guids={user}&include=user,space,organization"),
            &admin,
        )
        .await;
    listed.assert_status(200);
    assert_eq!(listed.body["resources"].as_array().unwrap().len(), 2);
    let included = &listed.body["included"];
    assert_eq!(guids(&included["users"]), vec![user.clone()]);
    assert_eq!(guids(&included["spaces"]), vec![space.clone()]);
    assert_eq!(guids(&included["organizations"]), vec![org.clone()]);

    let space_role = listed.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "space_developer")
        .unwrap()["guid"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = server
        .get(
            &format!("/v3/roles/{space_role}?include=space,organization"),
            &admin,
        )
        .await;
    shown.assert_status(200);
    assert_eq!(guids(&shown.body["included"]["spaces"]), vec![space]);
    // A space role names no organization of its own (CC shows it with `data: null`).
    assert_eq!(shown.body["included"]["organizations"], json!([]));
    assert!(shown.body["included"].get("users").is_none());
}

/// The included resources are the caller's to read: a space developer sees their space and
/// organization through their app.
#[tokio::test]
async fn a_space_developer_gets_what_their_app_includes() {
    let server = TestServer::start().await;
    let (org, space) = server.org_and_space().await;
    let dev = format!("incl-dev-{}", uuid());
    server
        .grant(&dev, "organization_user", "organization", &org)
        .await;
    server.grant(&dev, "space_developer", "space", &space).await;
    let token = server.user_token(&dev);
    let app = app_in(&server, &token, &space).await;
    let shown = server
        .get(
            &format!("/v3/apps/{app}?include=space.organization"),
            &token,
        )
        .await;
    shown.assert_status(200);
    assert_eq!(guids(&shown.body["included"]["spaces"]), vec![space]);
    assert_eq!(guids(&shown.body["included"]["organizations"]), vec![org]);
    let stranger = server.user_token(&format!("incl-stranger-{}", uuid()));
    server
        .get(&format!("/v3/apps/{app}?include=space"), &stranger)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");
}

#[tokio::test]
async fn includes_ladle_does_not_serve_are_refused_as_cc_refuses_them() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let (_, space) = server.org_and_space().await;
    let app = app_in(&server, &admin, &space).await;
    let refused: [(String, &str); 7] = [
        (
            "/v3/apps?include=organization".into(),
            "Invalid included resource: 'organization'. Valid included resources are: 'space', 'space.organization'",
        ),
        (
            "/v3/apps?include=space,space".into(),
            "Duplicate included resource: 'space'",
        ),
        (
            format!("/v3/apps/{app}?include=bogus"),
            "Invalid included resource: 'bogus'",
        ),
        (
            format!("/v3/apps/{app}?per_page=2"),
            "Unknown query parameter(s): 'per_page'. Valid parameters are: 'include'",
        ),
        (
            "/v3/spaces?include=space".into(),
            "Valid included resources are: 'organization'",
        ),
        (
            "/v3/roles?include=app".into(),
            "Valid included resources are: 'user', 'space', 'organization'",
        ),
        (
            "/v3/droplets?include=app".into(),
            "Unknown query parameter(s): 'include'",
        ),
    ];
    for (path, detail) in refused {
        let response: Response = server.get(&path, &admin).await;
        response.assert_error(400, 10005, "BadQueryParameter", detail);
    }
    server
        .get("/v3/packages?include=space", &admin)
        .await
        .assert_error(
            400,
            10005,
            "BadQueryParameter",
            "Unknown query parameter(s): 'include'",
        );
}
