//! Today's builds (`POST /v3/builds` and friends), end to end with real buildpacks from
//! fixtures/ staged in real containers.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::staging_support::{droplet_files, GitServer};
use crate::support::{Response, TestServer};

const DEV: &str = "build-dev";

fn guid_of(body: &Value) -> String {
    body["guid"].as_str().expect("guid").to_string()
}

pub fn build_path(body: &Value) -> String {
    format!("/v3/builds/{}", guid_of(body))
}

/// `POST /v3/builds` for a package, naming buildpacks when `buildpacks` is `Some`.
pub async fn post_build(
    server: &TestServer,
    token: &str,
    package_guid: &str,
    buildpacks: Option<&[&str]>,
) -> Response {
    let mut body = json!({"package": {"guid": package_guid}});
    if let Some(buildpacks) = buildpacks {
        body["lifecycle"] = json!({"type": "buildpack", "data": {"buildpacks": buildpacks}});
    }
    server.post("/v3/builds", token, body).await
}

async fn download_droplet(
    server: &TestServer,
    token: &str,
    droplet_guid: &str,
) -> std::collections::BTreeMap<String, Vec<u8>> {
    let response = server
        .client
        .get(format!(
            "{}/v3/droplets/{droplet_guid}/download",
            server.url
        ))
        .header("Authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "droplet download");
    droplet_files(&response.bytes().await.unwrap())
}

async fn space_of(server: &TestServer, app_guid: &str) -> String {
    let app = server
        .get(&format!("/v3/apps/{app_guid}"), &server.admin_token())
        .await;
    app.body["relationships"]["space"]["data"]["guid"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_build_stages_with_the_apps_buildpacks_and_links_its_droplet() {
    let server = TestServer::start().await;
    server.admin_buildpack("detect-pass", "detect-pass").await;
    let (app_guid, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token_with_email(DEV, "dev@example.com");
    // Without a lifecycle in the body, the build uses the app's.
    server
        .patch(
            &format!("/v3/apps/{app_guid}"),
            &token,
            json!({"lifecycle": {"type": "buildpack", "data": {"buildpacks": ["detect-pass"]}}}),
        )
        .await
        .assert_status(200);
    let created = server
        .post(
            "/v3/builds",
            &token,
            json!({"package": {"guid": package_guid}, "metadata": {"labels": {"release": "v1"}}, "environment_variables": {"BUILD_VAR": "x"}}),
        )
        .await;
    created.assert_status(201);
    let b = &created.body;
    assert_eq!(b["state"], "STAGING");
    assert_eq!(b["staging_memory_in_mb"], 1024, "raised to the minimum");
    assert_eq!(b["staging_disk_in_mb"], 4096);
    assert_eq!(b["staging_log_rate_limit_bytes_per_second"], -1);
    assert_eq!(b["error"], Value::Null);
    assert_eq!(
        b["lifecycle"],
        json!({"type": "buildpack", "data": {"buildpacks": ["detect-pass"], "stack": "cflinuxfs4"}})
    );
    assert_eq!(b["package"], json!({"guid": package_guid}));
    assert_eq!(b["droplet"], Value::Null);
    assert_eq!(b["created_by"]["guid"], DEV);
    assert_eq!(b["created_by"]["email"], "dev@example.com");
    assert_eq!(b["relationships"]["app"]["data"]["guid"], app_guid.as_str());
    assert_eq!(b["metadata"]["labels"]["release"], "v1");
    assert_eq!(b["created_at"], b["updated_at"]);
    let guid = guid_of(b);
    assert_eq!(
        b["links"]["self"]["href"],
        format!("{}/v3/builds/{guid}", server.url)
    );
    assert_eq!(
        b["links"]["app"]["href"],
        format!("{}/v3/apps/{app_guid}", server.url)
    );
    assert!(b["links"].get("droplet").is_none());

    let staged = server.wait_final(&build_path(b), &token).await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
    assert_eq!(staged["error"], Value::Null);
    let droplet_guid = staged["droplet"]["guid"]
        .as_str()
        .expect("a staged build names its droplet");
    assert_eq!(
        staged["links"]["droplet"]["href"],
        format!("{}/v3/droplets/{droplet_guid}", server.url)
    );
    let droplet = server
        .get(&format!("/v3/droplets/{droplet_guid}"), &token)
        .await;
    droplet.assert_status(200);
    assert_eq!(droplet.body["state"], "STAGED");
    assert_eq!(droplet.body["buildpacks"][0]["name"], "detect-pass");
    assert_eq!(
        droplet.body["environment_variables"]["BUILD_VAR"], "x",
        "the request's variables reach staging"
    );
    let files = download_droplet(&server, &token, droplet_guid).await;
    assert_eq!(files["./app/compiled-marker"], b"compiled by detect-pass\n");

    // Lists: the caller's builds, filtered; a stranger sees none and cannot read it.
    let listed = server
        .get(
            &format!("/v3/builds?states=STAGED&app_guids={app_guid}&package_guids={package_guid}"),
            &token,
        )
        .await;
    listed.assert_status(200);
    assert_eq!(listed.body["pagination"]["total_results"], 1);
    assert_eq!(listed.body["resources"][0]["guid"], guid.as_str());
    let none = server.get("/v3/builds?states=FAILED,STAGING", &token).await;
    assert_eq!(none.body["pagination"]["total_results"], 0, "{}", none.text);
    let by_app = server
        .get(&format!("/v3/apps/{app_guid}/builds?states=STAGED"), &token)
        .await;
    assert_eq!(by_app.body["resources"][0]["guid"], guid.as_str());
    assert!(by_app.body["pagination"]["first"]["href"]
        .as_str()
        .unwrap()
        .contains(&format!("/v3/apps/{app_guid}/builds?")));
    server
        .get(&format!("/v3/apps/{app_guid}/builds?app_guids=x"), &token)
        .await
        .assert_error(400, 10005, "BadQueryParameter", "'app_guids'");
    let stranger = server.user_token("build-stranger");
    assert_eq!(
        server.get("/v3/builds", &stranger).await.body["pagination"]["total_results"],
        0
    );
    server.get(&build_path(b), &stranger).await.assert_error(
        404,
        10010,
        "ResourceNotFound",
        "Build not found",
    );
    server
        .get(&format!("/v3/apps/{app_guid}/builds"), &stranger)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");
    server
        .get("/v3/builds/no-such-build", &token)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Build not found");
}

#[tokio::test]
async fn several_buildpacks_supply_then_the_last_one_finalizes() {
    let server = TestServer::start().await;
    server.admin_buildpack("supply-ok", "supply-ok").await;
    server.admin_buildpack("detect-pass", "detect-pass").await;
    let (_, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let created = post_build(
        &server,
        &token,
        &package_guid,
        Some(&["supply-ok", "detect-pass"]),
    )
    .await;
    created.assert_status(201);
    assert_eq!(
        created.body["lifecycle"]["data"]["buildpacks"],
        json!(["supply-ok", "detect-pass"])
    );
    let staged = server.wait_final(&build_path(&created.body), &token).await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
    let droplet = server
        .get(
            &format!(
                "/v3/droplets/{}",
                staged["droplet"]["guid"].as_str().unwrap()
            ),
            &token,
        )
        .await;
    let buildpacks = droplet.body["buildpacks"].as_array().unwrap();
    assert_eq!(buildpacks.len(), 2, "{}", droplet.text);
    assert_eq!(buildpacks[0]["name"], "supply-ok");
    assert_eq!(
        buildpacks[0]["buildpack_name"], "Supply OK",
        "from supply-ok's config.yml"
    );
    assert_eq!(buildpacks[0]["version"], "1.0.0");
    assert_eq!(buildpacks[1]["name"], "detect-pass");
    assert_eq!(
        buildpacks[0]["detect_output"],
        Value::Null,
        "named buildpacks skip detection"
    );
    let files = download_droplet(&server, &token, droplet.body["guid"].as_str().unwrap()).await;
    assert!(
        files
            .keys()
            .any(|path| path.ends_with("/bin/supplied-tool")),
        "supply-ok's deps are in the droplet"
    );
    assert_eq!(files["./app/compiled-marker"], b"compiled by detect-pass\n");
}

#[tokio::test]
async fn a_git_url_names_a_buildpack() {
    let server = TestServer::start().await;
    let git = GitServer::serve_fixture("detect-pass", "stable");
    let (_, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let url = format!("{}#stable", git.url);
    let created = post_build(&server, &token, &package_guid, Some(&[url.as_str()])).await;
    created.assert_status(201);
    let staged = server.wait_final(&build_path(&created.body), &token).await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
    let droplet = server
        .get(
            &format!(
                "/v3/droplets/{}",
                staged["droplet"]["guid"].as_str().unwrap()
            ),
            &token,
        )
        .await;
    assert_eq!(droplet.body["buildpacks"][0]["name"], url.as_str());
    assert_eq!(
        droplet.body["_links"].get("buildpack"),
        None,
        "a git buildpack is no admin buildpack"
    );
}

#[tokio::test]
async fn checks_run_in_cloud_controllers_order_and_change_nothing() {
    let server = TestServer::start().await;
    let disabled = server.admin_buildpack("disabled-bp", "detect-pass").await;
    server.admin_buildpack("noop", "noop").await;
    let admin = server.admin_token();
    server
        .patch(
            &format!("/v3/buildpacks/{disabled}"),
            &admin,
            json!({"enabled": false}),
        )
        .await
        .assert_status(200);
    let (app_guid, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let noop = Some(&["noop"][..]);

    // Scope gate first, then the body, before the package is looked up.
    server
        .post(
            "/v3/builds",
            &server.token(DEV, &["cloud_controller.read"]),
            json!({"colour": 1}),
        )
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    server
        .request(reqwest::Method::POST, "/v3/builds", None, Some(json!({})))
        .await
        .assert_error(401, 10002, "NotAuthenticated", "");
    let bad = server
        .post(
            "/v3/builds",
            &token,
            json!({
                "package": {"guid": "no-such-package"},
                "lifecycle": {"type": "buildpack", "data": {"buildpacks": ["", 7], "stack": 4}},
                "staging_memory_in_mb": -1, "staging_disk_in_mb": "lots",
                "environment_variables": {"PORT": "1"},
                "colour": "red"
            }),
        )
        .await;
    bad.assert_error(
        422,
        10008,
        "UnprocessableEntity",
        "Unknown field(s): 'colour'",
    );
    for part in [
        "Lifecycle Buildpacks can only contain strings",
        "Lifecycle Stack must be a string",
        "Staging memory in mb must be greater than 0",
        "Staging disk in mb is not a number",
        "Environment variables cannot set PORT",
    ] {
        assert!(bad.text.contains(part), "{} lacks {part}", bad.text);
    }
    let too_long = "b".repeat(4097);
    post_build(&server, &token, &package_guid, Some(&[too_long.as_str()]))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Lifecycle Buildpacks entries must be between 1 and 4096 characters",
        );
    for kind in ["docker", "cnb"] {
        server
            .post(
                "/v3/builds",
                &token,
                json!({"package": {"guid": package_guid}, "lifecycle": {"type": kind, "data": {}}}),
            )
            .await
            .assert_error(
                422,
                10008,
                "UnprocessableEntity",
                &format!("Lifecycle type '{kind}' is not supported"),
            );
    }
    server
        .post("/v3/builds", &token, json!({}))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Package guid can't be blank",
        );

    // The package: missing, invisible, or in a space where the caller may not manage apps.
    let unusable =
        "Unable to use package. Ensure that the package exists and you have access to it.";
    post_build(&server, &token, "no-such-package", noop)
        .await
        .assert_error(422, 10008, "UnprocessableEntity", unusable);
    post_build(
        &server,
        &server.user_token("build-stranger"),
        &package_guid,
        noop,
    )
    .await
    .assert_error(422, 10008, "UnprocessableEntity", unusable);
    let space = space_of(&server, &app_guid).await;
    server
        .grant(
            "build-auditor",
            "organization_user",
            "organization",
            &server.org_of(&space).await,
        )
        .await;
    server
        .grant("build-auditor", "space_auditor", "space", &space)
        .await;
    post_build(
        &server,
        &server.user_token("build-auditor"),
        &package_guid,
        noop,
    )
    .await
    .assert_error(422, 10008, "UnprocessableEntity", unusable);

    // The lifecycle: stack and buildpacks must exist, every problem named.
    let missing = server
        .post(
            "/v3/builds",
            &token,
            json!({"package": {"guid": package_guid}, "lifecycle": {"type": "buildpack", "data": {"buildpacks": ["nope", "ftp://example.com/bp"], "stack": "windows2016"}}}),
        )
        .await;
    missing.assert_error(
        422,
        10008,
        "UnprocessableEntity",
        "Stack must be an existing stack",
    );
    for part in [
        "Buildpack \\\"nope\\\" must be an existing admin buildpack or a valid git URI",
        "Buildpack \\\"ftp://example.com/bp\\\" must be an existing admin buildpack or a valid git URI",
    ] {
        assert!(missing.text.contains(part), "{} lacks {part}", missing.text);
    }
    // Hostile git URLs are refused before any git runs.
    post_build(
        &server,
        &token,
        &package_guid,
        Some(&["--upload-pack=touch /tmp/pwned"]),
    )
    .await
    .assert_error(
        422,
        10008,
        "UnprocessableEntity",
        "must be an existing admin buildpack or a valid git URI",
    );

    // A package without bits: BadRequest.
    let empty = server
        .post(
            "/v3/packages",
            &token,
            json!({"type": "bits", "relationships": {"app": {"data": {"guid": app_guid}}}}),
        )
        .await;
    post_build(&server, &token, &guid_of(&empty.body), noop)
        .await
        .assert_error(
            400,
            1004,
            "BadRequest",
            "Bad request: Cannot stage package whose state is not ready.",
        );
    // A disabled admin buildpack, then limits over the maximum.
    post_build(&server, &token, &package_guid, Some(&["disabled-bp"]))
        .await
        .assert_error(400, 290003, "BuildpackInvalid", "disabled-bp is disabled");
    server
        .post(
            "/v3/builds",
            &token,
            json!({"package": {"guid": package_guid}, "staging_memory_in_mb": 100000}),
        )
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "memory limit exceeded: 100000 MB requested, the maximum is 8192 MB",
        );
    server
        .post(
            "/v3/builds",
            &token,
            json!({"package": {"guid": package_guid}, "staging_disk_in_mb": 100000}),
        )
        .await
        .assert_error(422, 10008, "UnprocessableEntity", "disk limit exceeded");

    // None of that created a build.
    let builds = server
        .get(&format!("/v3/apps/{app_guid}/builds"), &token)
        .await;
    builds.assert_status(200);
    assert_eq!(
        builds.body["pagination"]["total_results"], 0,
        "{}",
        builds.text
    );

    // A space supporter may build (CC's "manage apps"), with its limits kept.
    server
        .grant(
            "build-supporter",
            "organization_user",
            "organization",
            &server.org_of(&space).await,
        )
        .await;
    server
        .grant("build-supporter", "space_supporter", "space", &space)
        .await;
    let supported = server
        .post("/v3/builds", &server.user_token("build-supporter"), json!({"package": {"guid": package_guid}, "staging_memory_in_mb": 2048, "staging_disk_in_mb": 5000}))
        .await;
    supported.assert_status(201);
    assert_eq!(supported.body["staging_memory_in_mb"], 2048);
    assert_eq!(supported.body["staging_disk_in_mb"], 5000);
    assert_eq!(
        supported.body["lifecycle"]["data"]["buildpacks"],
        json!([]),
        "no buildpacks named: detect"
    );
    let staged = server
        .wait_final(&build_path(&supported.body), &token)
        .await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
}

#[tokio::test]
async fn one_build_stages_at_a_time_and_the_state_updater_can_fail_it() {
    let server = TestServer::start_with(&[("LADLE_STAGING_TIMEOUT_SECONDS", "5")]).await;
    server.admin_buildpack("sleeper", "limit-sleeper").await;
    server.admin_buildpack("noop", "noop").await;
    let (app_guid, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let updater = server.token(
        "build-state-updater",
        &[
            "cloud_controller.write",
            "cloud_controller.update_build_state",
        ],
    );
    let sleeper = Some(&["sleeper"][..]);

    let first = post_build(&server, &token, &package_guid, sleeper).await;
    first.assert_status(201);
    let in_progress = "Only one build can be STAGING at a time per application.";
    post_build(&server, &token, &package_guid, sleeper)
        .await
        .assert_error(422, 170017, "StagingInProgress", in_progress);
    // CC checks "one at a time" before the package's state.
    let empty = server
        .post(
            "/v3/packages",
            &token,
            json!({"type": "bits", "relationships": {"app": {"data": {"guid": app_guid}}}}),
        )
        .await;
    post_build(&server, &token, &guid_of(&empty.body), sleeper)
        .await
        .assert_error(422, 170017, "StagingInProgress", in_progress);

    // Metadata is the developer's; the state is the updater's.
    let path = build_path(&first.body);
    server
        .patch(&path, &token, json!({"state": "FAILED", "error": "x"}))
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    let labelled = server
        .patch(
            &path,
            &token,
            json!({"metadata": {"labels": {"tier": "gold"}}}),
        )
        .await;
    labelled.assert_status(200);
    assert_eq!(labelled.body["metadata"]["labels"]["tier"], "gold");
    assert_eq!(labelled.body["state"], "STAGING");
    server
        .patch(&path, &updater, json!({"state": "RUNNING"}))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "'RUNNING' is not a valid state",
        );
    server
        .patch(
            &path,
            &server.user_token("build-stranger"),
            json!({"metadata": {}}),
        )
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Build not found");
    let failed = server
        .patch(
            &path,
            &updater,
            json!({"state": "FAILED", "error": "the cell went away"}),
        )
        .await;
    failed.assert_status(200);
    assert_eq!(failed.body["state"], "FAILED");
    assert_eq!(
        failed.body["error"],
        "StagerError - Stager error: the cell went away"
    );
    assert_eq!(failed.body["droplet"], Value::Null);
    assert_eq!(failed.body["metadata"]["labels"]["tier"], "gold");
    let shown = server.get(&path, &token).await;
    assert_eq!(
        shown.body["state"], "FAILED",
        "the sleeper still running later changes nothing"
    );
    server
        .patch(
            &path,
            &updater,
            json!({"state": "FAILED", "error": "again"}),
        )
        .await
        .assert_error(422, 10008, "UnprocessableEntity", "Build is FAILED");

    // The first is final, so the next may stage; the sleeper outlives the time limit.
    let second = post_build(&server, &token, &package_guid, sleeper).await;
    second.assert_status(201);
    let timed_out = server.wait_final(&build_path(&second.body), &token).await;
    assert_eq!(timed_out["state"], "FAILED");
    let error = timed_out["error"].as_str().unwrap();
    assert!(error.starts_with("StagingTimeExpired - "), "{error}");
    let third = post_build(&server, &token, &package_guid, Some(&["noop"])).await;
    third.assert_status(201);
    assert_eq!(
        server.wait_final(&build_path(&third.body), &token).await["state"],
        "STAGED"
    );
    let listed = server
        .get(&format!("/v3/apps/{app_guid}/builds?states=FAILED"), &token)
        .await;
    assert_eq!(listed.body["pagination"]["total_results"], 2);
    // A read-only admin sees every build without a role.
    let reader = server.token("build-reader", &["cloud_controller.admin_read_only"]);
    assert_eq!(server.get(&path, &reader).await.body["state"], "FAILED");
}

#[tokio::test]
async fn the_build_cache_carries_over_between_builds_until_it_is_cleared() {
    let server = TestServer::start().await;
    server
        .admin_buildpack("cache-counter", "cache-counter")
        .await;
    let (app_guid, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let counter_after_build = || async {
        let created = post_build(&server, &token, &package_guid, Some(&["cache-counter"])).await;
        created.assert_status(201);
        let staged = server.wait_final(&build_path(&created.body), &token).await;
        assert_eq!(staged["state"], "STAGED", "{staged}");
        let files =
            download_droplet(&server, &token, staged["droplet"]["guid"].as_str().unwrap()).await;
        String::from_utf8(files["./app/cache-counter"].clone()).unwrap()
    };
    assert_eq!(counter_after_build().await, "1\n");
    assert_eq!(
        counter_after_build().await,
        "2\n",
        "the second build found the first one's cache"
    );
    let cleared = server
        .post(
            &format!("/v3/apps/{app_guid}/actions/clear_buildpack_cache"),
            &token,
            json!({}),
        )
        .await;
    cleared.assert_status(202);
    let job = cleared
        .header("location")
        .expect("a job location")
        .to_string();
    let job_path = job.strip_prefix(&server.url).unwrap_or(&job).to_string();
    assert_eq!(
        server.get(&job_path, &token).await.body["state"],
        "COMPLETE"
    );
    assert_eq!(
        counter_after_build().await,
        "1\n",
        "a cleared cache starts over"
    );
}

/// Fifty builds of fifty apps at once on two staging slots: every one stages exactly once.
#[tokio::test]
async fn fifty_simultaneous_builds_all_stage_once() {
    const APPS: usize = 50;
    let server = TestServer::start_with(&[("LADLE_STAGING_SLOTS", "2")]).await;
    server.admin_buildpack("noop", "noop").await;
    let admin = server.admin_token();
    let (_, space) = server.org_and_space().await;
    let new_app = |i: usize| {
        let (server, admin, space) = (&server, &admin, &space);
        async move {
            let body = json!({"name": format!("app-{i}"), "relationships": {"space": {"data": {"guid": space}}}});
            let app = server.post("/v3/apps", admin, body).await;
            app.assert_status(201);
            let app_guid = guid_of(&app.body);
            let package_guid = server.ready_package(admin, &app_guid, "plain").await;
            (app_guid, package_guid)
        }
    };
    let apps: Vec<(String, String)> = futures::future::join_all((0..APPS).map(new_app)).await;

    let posts = apps
        .iter()
        .map(|(_, package)| post_build(&server, &admin, package, Some(&["noop"])));
    let created: Vec<Response> = futures::future::join_all(posts).await;
    let mut droplets = HashSet::new();
    for ((app_guid, _), response) in apps.iter().zip(&created) {
        response.assert_status(201);
        let staged = server.wait_final(&build_path(&response.body), &admin).await;
        assert_eq!(staged["state"], "STAGED", "{staged}");
        let droplet_guid = staged["droplet"]["guid"].as_str().unwrap().to_string();
        let droplet = server
            .get(&format!("/v3/droplets/{droplet_guid}"), &admin)
            .await;
        assert_eq!(droplet.body["state"], "STAGED");
        assert_eq!(
            droplet.body["relationships"]["app"]["data"]["guid"],
            app_guid.as_str()
        );
        // Staged by one container, once: a second claim of the job would log a second one.
        let log = server
            .client
            .get(format!("{}/v3/droplets/{droplet_guid}/logs", server.url))
            .header("Authorization", format!("bearer {admin}"))
            .send()
            .await
            .unwrap();
        assert_eq!(log.status(), 200);
        let log = log.text().await.unwrap();
        assert_eq!(log.matches("Creating container").count(), 1, "{log}");
        assert!(droplets.insert(droplet_guid), "two builds share a droplet");
    }
    assert_eq!(droplets.len(), APPS);
    let listed = server
        .get("/v3/builds?states=STAGED&per_page=100", &admin)
        .await;
    assert_eq!(
        listed.body["pagination"]["total_results"], APPS as u64,
        "one build per request, no more"
    );
}
