//! Admin buildpacks: CRUD with positions kept 1..N, bits uploads that must hold `bin/`, and
//! who may do what.

use serde_json::{json, Value};

use crate::packages::{guid_of, upload, zip_bytes, Entry};
use crate::support::TestServer;

async fn create(server: &TestServer, token: &str, body: Value) -> String {
    let created = server.post("/v3/buildpacks", token, body).await;
    created.assert_status(201);
    guid_of(&created)
}

/// Names in list order, with their positions.
async fn order(server: &TestServer, token: &str) -> Vec<(String, i64)> {
    let list = server.get("/v3/buildpacks", token).await;
    list.assert_status(200);
    list.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_string(),
                b["position"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn expect(names: &[&str]) -> Vec<(String, i64)> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.to_string(), i as i64 + 1))
        .collect()
}

#[tokio::test]
async fn positions_stay_contiguous_through_create_move_and_delete() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let reader = server.user_token("just-a-reader");
    for name in ["a", "b", "c"] {
        create(&server, &admin, json!({"name": name})).await;
    }
    let first = server
        .post(
            "/v3/buildpacks",
            &admin,
            json!({"name": "d", "position": 1, "stack": "cflinuxfs4", "enabled": false, "locked": true}),
        )
        .await;
    first.assert_status(201);
    let d = guid_of(&first);
    assert_eq!(first.body["position"], 1);
    assert_eq!(first.body["state"], "AWAITING_UPLOAD");
    assert_eq!(first.body["stack"], "cflinuxfs4");
    assert_eq!(first.body["enabled"], false);
    assert_eq!(first.body["locked"], true);
    assert_eq!(first.body["lifecycle"], "buildpack");
    assert_eq!(first.body["filename"], Value::Null);
    assert_eq!(
        first.body["links"]["upload"],
        json!({"href": format!("{}/v3/buildpacks/{d}/upload", server.url), "method": "POST"})
    );
    assert_eq!(order(&server, &reader).await, expect(&["d", "a", "b", "c"]));
    let far = create(&server, &admin, json!({"name": "e", "position": 99})).await;
    assert_eq!(
        order(&server, &admin).await,
        expect(&["d", "a", "b", "c", "e"])
    );

    let moved = server
        .patch(
            &format!("/v3/buildpacks/{far}"),
            &admin,
            json!({"position": 2}),
        )
        .await;
    moved.assert_status(200);
    assert_eq!(moved.body["position"], 2);
    assert_eq!(
        order(&server, &admin).await,
        expect(&["d", "e", "a", "b", "c"])
    );
    server
        .patch(
            &format!("/v3/buildpacks/{d}"),
            &admin,
            json!({"position": 40, "enabled": true}),
        )
        .await
        .assert_status(200);
    assert_eq!(
        order(&server, &admin).await,
        expect(&["e", "a", "b", "c", "d"])
    );

    server
        .delete(&format!("/v3/buildpacks/{far}"), &admin)
        .await
        .assert_status(202);
    assert_eq!(order(&server, &admin).await, expect(&["a", "b", "c", "d"]));
    server
        .get(&format!("/v3/buildpacks/{far}"), &reader)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Buildpack not found");
    let filtered = server.get("/v3/buildpacks?names=a,d", &reader).await;
    assert_eq!(filtered.body["pagination"]["total_results"], 2);
    let on_stack = server
        .get("/v3/buildpacks?stacks=cflinuxfs4", &reader)
        .await;
    assert_eq!(on_stack.body["resources"][0]["name"], "d");
    assert_eq!(on_stack.body["pagination"]["total_results"], 1);
}

#[tokio::test]
async fn names_stacks_and_roles_are_checked() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let user = server.user_token("not-an-admin");
    let ruby = create(&server, &admin, json!({"name": "ruby"})).await;
    server
        .post("/v3/buildpacks", &admin, json!({"name": "ruby"}))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Buildpack with name 'ruby' and an unassigned stack already exists",
        );
    create(
        &server,
        &admin,
        json!({"name": "go", "stack": "cflinuxfs4"}),
    )
    .await;
    server
        .post(
            "/v3/buildpacks",
            &admin,
            json!({"name": "go", "stack": "cflinuxfs4"}),
        )
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Buildpack with name 'go' and stack 'cflinuxfs4' already exists",
        );
    server
        .post(
            "/v3/buildpacks",
            &admin,
            json!({"name": "java", "stack": "nope"}),
        )
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Stack 'nope' does not exist",
        );
    server
        .post(
            "/v3/buildpacks",
            &admin,
            json!({"name": "x", "position": 0}),
        )
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Position must be greater than or equal to 1",
        );
    server
        .post("/v3/buildpacks", &user, json!({"name": "mine"}))
        .await
        .assert_error(403, 10003, "NotAuthorized", "");

    let path = format!("/v3/buildpacks/{ruby}");
    let set = server
        .patch(&path, &admin, json!({"stack": "cflinuxfs4"}))
        .await;
    set.assert_status(200);
    assert_eq!(set.body["stack"], "cflinuxfs4");
    server
        .post("/v3/stacks", &admin, json!({"name": "other-stack"}))
        .await
        .assert_status(201);
    server
        .patch(&path, &admin, json!({"stack": "other-stack"}))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Buildpack stack cannot be changed",
        );
    server
        .patch(&path, &admin, json!({"name": "go"}))
        .await
        .assert_error(422, 10008, "UnprocessableEntity", "already exists");
    server
        .patch(&path, &user, json!({"enabled": false}))
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    server
        .delete(&path, &user)
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    let shown = server.get(&path, &user).await;
    shown.assert_status(200);
    assert_eq!(shown.body["name"], "ruby");
    assert_eq!(
        shown.body["enabled"], true,
        "refused changes changed nothing"
    );
}

#[tokio::test]
async fn uploads_need_a_zip_with_bin_and_an_unlocked_buildpack() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let user = server.user_token("not-an-admin");
    let guid = create(&server, &admin, json!({"name": "shell"})).await;
    let path = format!("/v3/buildpacks/{guid}/upload");
    let blob = format!("buildpacks/{guid}");

    let no_bin = zip_bytes(&[Entry::File("README", b"no scripts here")]);
    upload(&server, &path, &admin, Some(no_bin), None)
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Buildpack zip must contain a bin/ directory",
        );
    let slip = zip_bytes(&[
        Entry::Executable("bin/detect", b"#!/bin/sh\n"),
        Entry::File("../../escape", b"x"),
    ]);
    upload(&server, &path, &admin, Some(slip), None)
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "The buildpack upload is invalid: zip entry '../../escape' has '..' in its path",
        );
    let bad_link = zip_bytes(&[
        Entry::Executable("bin/detect", b"#!/bin/sh\n"),
        Entry::Symlink("bin/compile", "/bin/sh"),
    ]);
    upload(&server, &path, &admin, Some(bad_link), None)
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "zip entry 'bin/compile' is a symlink to '/bin/sh', outside of root folder",
        );
    assert!(server.blob_keys("buildpacks").await.is_empty());
    assert_eq!(
        server
            .get(&format!("/v3/buildpacks/{guid}"), &admin)
            .await
            .body["state"],
        "AWAITING_UPLOAD"
    );

    let good = zip_bytes(&[
        Entry::Dir("shell-buildpack/"),
        Entry::Executable("shell-buildpack/bin/detect", b"#!/bin/sh\nexit 0\n"),
        Entry::Executable("shell-buildpack/bin/compile", b"#!/bin/sh\n"),
    ]);
    upload(&server, &path, &user, Some(good.clone()), None)
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    let uploaded = upload(&server, &path, &admin, Some(good.clone()), None).await;
    uploaded.assert_status(200);
    assert_eq!(uploaded.body["state"], "READY");
    assert_eq!(uploaded.body["filename"], "app.zip");
    assert_eq!(server.blob(&blob).await.expect("blob kept"), good);

    server
        .patch(
            &format!("/v3/buildpacks/{guid}"),
            &admin,
            json!({"locked": true}),
        )
        .await
        .assert_status(200);
    upload(&server, &path, &admin, Some(good), None)
        .await
        .assert_error(422, 10008, "UnprocessableEntity", "Buildpack is locked");
    server
        .delete(&format!("/v3/buildpacks/{guid}"), &admin)
        .await
        .assert_status(202);
    assert!(!server.has_blob(&blob).await, "delete removes the blob");
}
