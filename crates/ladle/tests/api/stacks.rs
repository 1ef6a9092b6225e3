//! Black-box tests: stacks.

use serde_json::{json, Value};

use crate::support::TestServer;

fn names(list: &Value) -> Vec<&str> {
    list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_default_stack_exists_and_stays() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let list = server.get("/v3/stacks", &admin).await;
    list.assert_status(200);
    assert_eq!(names(&list.body), ["cflinuxfs4"]);
    let default = &list.body["resources"][0];
    assert_eq!(default["default"], true);
    assert_eq!(default["rootfs"], Value::Null);
    let path = format!("/v3/stacks/{}", default["guid"].as_str().unwrap());
    server.delete(&path, &admin).await.assert_error(
        422,
        10008,
        "UnprocessableEntity",
        "The default stack cannot be deleted.",
    );
    server.get(&path, &admin).await.assert_status(200);
}

#[tokio::test]
async fn a_configured_default_stack_is_the_one_marked_default() {
    let server = TestServer::start_with(&[("LADLE_DEFAULT_STACK", "homegrown")]).await;
    let list = server.get("/v3/stacks", &server.admin_token()).await;
    assert_eq!(names(&list.body), ["homegrown"]);
    assert_eq!(list.body["resources"][0]["default"], true);
}

#[tokio::test]
async fn admin_creates_shows_lists_and_deletes_stacks() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let created = server
        .post(
            "/v3/stacks",
            &admin,
            json!({"name": "alpine", "description": "small", "rootfs": "/srv/rootfs/alpine",
                   "metadata": {"labels": {}}}),
        )
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
            "name",
            "description",
            "rootfs",
            "build_rootfs_image",
            "run_rootfs_image",
            "default",
            "metadata",
            "links"
        ]
    );
    assert_eq!(body["name"], "alpine");
    assert_eq!(body["description"], "small");
    assert_eq!(body["rootfs"], "/srv/rootfs/alpine");
    assert_eq!(body["build_rootfs_image"], "alpine");
    assert_eq!(body["run_rootfs_image"], "alpine");
    assert_eq!(body["default"], false);
    let guid = body["guid"].as_str().unwrap();
    let path = format!("/v3/stacks/{guid}");
    assert_eq!(
        body["links"]["self"]["href"],
        format!("{}{path}", server.url)
    );

    let shown = server.get(&path, &admin).await;
    shown.assert_status(200);
    assert_eq!(shown.body, created.body);
    let by_name = server.get("/v3/stacks?names=alpine", &admin).await;
    assert_eq!(names(&by_name.body), ["alpine"]);
    let all = server.get("/v3/stacks", &admin).await;
    assert_eq!(names(&all.body), ["cflinuxfs4", "alpine"]);

    server
        .post("/v3/stacks", &admin, json!({"name": "alpine"}))
        .await
        .assert_error(422, 10008, "UnprocessableEntity", "Name must be unique");
    server
        .post("/v3/stacks", &admin, json!({"name": "cflinuxfs4"}))
        .await
        .assert_error(422, 10008, "UnprocessableEntity", "Name must be unique");

    server.delete(&path, &admin).await.assert_status(204);
    server
        .get(&path, &admin)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Stack not found");
    server.delete(&path, &admin).await.assert_error(
        404,
        10010,
        "ResourceNotFound",
        "Stack not found",
    );
}

#[tokio::test]
async fn everyone_reads_stacks_and_only_admins_change_them() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let created = server
        .post("/v3/stacks", &admin, json!({"name": "extra"}))
        .await;
    created.assert_status(201);
    let path = format!("/v3/stacks/{}", created.body["guid"].as_str().unwrap());
    // No role anywhere is needed to see stacks.
    let dev = server.user_token("dev");
    assert_eq!(
        names(&server.get("/v3/stacks", &dev).await.body),
        ["cflinuxfs4", "extra"]
    );
    server.get(&path, &dev).await.assert_status(200);
    server
        .get("/v3/stacks/no-such-stack", &dev)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Stack not found");
    server
        .post("/v3/stacks", &dev, json!({"name": "mine"}))
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    server
        .delete(&path, &dev)
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    let auditor = server.token("auditor", &["cloud_controller.global_auditor"]);
    server.get(&path, &auditor).await.assert_status(200);
    assert_eq!(names(&server.get("/v3/stacks", &admin).await.body).len(), 2);
}

#[tokio::test]
async fn bad_stack_bodies_change_nothing() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let cases = [
        (json!({}), "Name can't be blank"),
        (json!({"name": ""}), "Name can't be blank"),
        (
            json!({"name": "s", "rootfs": "srv/rootfs"}),
            "Rootfs must be an absolute path",
        ),
        (
            json!({"name": "s", "rootfs": "/srv/../etc"}),
            "Rootfs must not contain '..'",
        ),
        (
            json!({"name": "s", "rootfs": "/"}),
            "Rootfs must not be the host's root directory",
        ),
        (
            json!({"name": "s", "rootfs": ["/a"]}),
            "Rootfs must be a string",
        ),
        (
            json!({"name": "s", "description": 3}),
            "Description must be a string",
        ),
        (
            json!({"name": "s", "description": "d".repeat(251)}),
            "Description is too long (maximum is 250 characters)",
        ),
        (
            json!({"name": "s", "image": "x"}),
            "Unknown field(s): 'image'",
        ),
    ];
    for (body, detail) in cases {
        server.post("/v3/stacks", &admin, body).await.assert_error(
            422,
            10008,
            "UnprocessableEntity",
            detail,
        );
    }
    assert_eq!(
        names(&server.get("/v3/stacks", &admin).await.body),
        ["cflinuxfs4"]
    );
}
