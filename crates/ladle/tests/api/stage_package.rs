//! Our spec page's endpoint, `POST /v3/packages/:guid/droplets`, end to end with real
//! buildpacks from fixtures/ staged in real containers.

use serde_json::{json, Value};

use crate::staging_support::{droplet_files, GitServer};
use crate::support::TestServer;

const DEV: &str = "stage-dev";

fn droplet_path(body: &Value) -> String {
    format!("/v3/droplets/{}", body["guid"].as_str().unwrap())
}

#[tokio::test]
async fn the_spec_page_curl_stages_a_package_with_a_git_buildpack() {
    let server = TestServer::start().await;
    let git = GitServer::serve_fixture("detect-pass", "stable");
    let (app_guid, package_guid) = server.app_with_package(DEV, "with-procfile").await;
    let token = server.user_token(DEV);
    // The spec page sends JSON labelled as a form.
    let body = json!({
        "buildpack_git_url": format!("{}#stable", git.url),
        "staging_environment_variables": {"CUSTOM_STAGING_VAR": "hello"},
        "stack": "cflinuxfs4",
        "memory_limit": 1024,
        "disk_limit": 4096,
    });
    let response = server
        .client
        .post(format!(
            "{}/v3/packages/{package_guid}/droplets",
            server.url
        ))
        .header("Authorization", format!("bearer {token}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-VCAP-Request-ID", "spec-page")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let created = crate::support::Response::read(response).await;
    created.assert_status(201);
    assert!(created
        .header("x-vcap-request-id")
        .unwrap()
        .starts_with("spec-page::"));
    assert_eq!(created.header("x-content-type-options"), Some("nosniff"));
    let d = &created.body;
    assert_eq!(d["state"], "PENDING");
    for null_field in [
        "hash",
        "failure_reason",
        "detected_start_command",
        "procfile",
        "updated_at",
    ] {
        assert_eq!(
            d[null_field],
            Value::Null,
            "{null_field} must be null while PENDING"
        );
    }
    assert_eq!(d["buildpack_git_url"], format!("{}#stable", git.url));
    let env = &d["environment_variables"];
    assert_eq!(env["CF_STACK"], "cflinuxfs4");
    assert_eq!(env["CUSTOM_STAGING_VAR"], "hello");
    let vcap = &env["VCAP_APPLICATION"];
    assert_eq!(
        vcap["limits"],
        json!({"mem": 1024, "disk": 4096, "fds": 16384})
    );
    assert_eq!(vcap["application_id"], app_guid.as_str());
    assert_eq!(vcap["users"], Value::Null);
    for key in [
        "application_version",
        "application_name",
        "application_uris",
        "version",
        "name",
        "space_name",
        "space_id",
        "uris",
    ] {
        assert!(vcap.get(key).is_some(), "VCAP_APPLICATION lacks {key}");
    }
    let guid = d["guid"].as_str().unwrap();
    assert_eq!(d["_links"]["self"]["href"], format!("/v3/droplets/{guid}"));
    assert_eq!(
        d["_links"]["package"]["href"],
        format!("/v3/packages/{package_guid}")
    );
    assert_eq!(d["_links"]["app"]["href"], format!("/v3/apps/{app_guid}"));
    assert_eq!(d["_links"]["assign_current_droplet"]["method"], "PUT");
    assert!(d["created_at"].as_str().unwrap().ends_with('Z'));

    let staged = server.wait_final(&droplet_path(d), &token).await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
    // The app's Procfile wins over bin/release for web, and adds worker.
    let procfile =
        std::fs::read_to_string(crate::support::fixtures().join("apps/with-procfile/Procfile"))
            .unwrap();
    let web = procfile
        .lines()
        .find_map(|l| l.strip_prefix("web:"))
        .unwrap()
        .trim();
    assert_eq!(staged["detected_start_command"], web);
    assert_eq!(staged["process_types"]["web"], web);
    assert!(staged["process_types"]["worker"].is_string());
    assert!(staged["procfile"].as_str().unwrap().contains("worker:"));
    assert_eq!(
        staged["buildpacks"][0]["name"],
        format!("{}#stable", git.url)
    );
    assert_eq!(
        staged["buildpacks"][0]["detect_output"],
        Value::Null,
        "skip-detect mode never runs detect"
    );
    let sha1 = staged["hash"].as_str().unwrap();
    let sha256 = staged["checksum"]["value"].as_str().unwrap();
    assert_eq!(staged["checksum"]["type"], "sha256");

    // The droplet is downloadable and its bytes match the recorded digests.
    let download = server
        .client
        .get(format!("{}/v3/droplets/{guid}/download", server.url))
        .header("Authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    let bytes = download.bytes().await.unwrap();
    use sha1::Digest as _;
    assert_eq!(hex::encode(sha1::Sha1::digest(&bytes)), sha1);
    assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), sha256);
    let files = droplet_files(&bytes);
    assert_eq!(files["./app/compiled-marker"], b"compiled by detect-pass\n");
    assert!(files.contains_key("./staging_info.yml"));
}

#[tokio::test]
async fn without_a_buildpack_admin_buildpacks_are_detected_by_position() {
    let server = TestServer::start().await;
    server.admin_buildpack("first-fails", "detect-fail").await;
    let passing = server.admin_buildpack("second-passes", "detect-pass").await;
    server
        .admin_buildpack("third-never-asked", "env-dump")
        .await;
    let (_, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let created = server
        .post(
            &format!("/v3/packages/{package_guid}/droplets"),
            &token,
            json!({}),
        )
        .await;
    created.assert_status(201);
    assert_eq!(
        created.body["environment_variables"]["VCAP_APPLICATION"]["limits"]["mem"], 1024,
        "raised to the minimum"
    );
    let staged = server
        .wait_final(&droplet_path(&created.body), &token)
        .await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
    assert_eq!(staged["buildpacks"][0]["name"], "second-passes");
    assert_eq!(staged["buildpacks"][0]["detect_output"], "Detect Pass");
    assert_eq!(
        staged["_links"]["buildpack"]["href"],
        format!("/v3/buildpacks/{passing}")
    );
    assert_eq!(staged["detected_start_command"], "./start.sh");
}

#[tokio::test]
async fn an_admin_buildpack_zipped_under_one_top_level_folder_stages() {
    let server = TestServer::start().await;
    // Zipped as GitHub's archives are: `github-archive-main/bin/detect`, ...
    let archive = server
        .admin_buildpack("github-archive", "github-archive")
        .await;
    let (_, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    for (body, detect_output) in [
        (json!({}), json!("GitHub Archive")),
        (json!({"buildpack_guid": archive}), Value::Null),
    ] {
        let created = server
            .post(
                &format!("/v3/packages/{package_guid}/droplets"),
                &token,
                body.clone(),
            )
            .await;
        created.assert_status(201);
        let staged = server
            .wait_final(&droplet_path(&created.body), &token)
            .await;
        assert_eq!(staged["state"], "STAGED", "{body}: {staged}");
        assert_eq!(staged["buildpacks"][0]["name"], "github-archive");
        assert_eq!(staged["buildpacks"][0]["detect_output"], detect_output);
        let download = server
            .client
            .get(format!(
                "{}{}/download",
                server.url,
                droplet_path(&created.body)
            ))
            .header("Authorization", format!("bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(download.status(), 200);
        let files = droplet_files(&download.bytes().await.unwrap());
        assert_eq!(
            files["./app/compiled-marker"], b"compiled by github-archive\n",
            "{body}"
        );
    }
}

#[tokio::test]
async fn buildpack_guid_picks_that_admin_buildpack_and_the_environment_reaches_it() {
    let server = TestServer::start().await;
    let env_dump = server.admin_buildpack("env-dump", "env-dump").await;
    let (app_guid, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    server
        .patch(
            &format!("/v3/apps/{app_guid}/environment_variables"),
            &token,
            json!({"var": {"APP_LEVEL": "app", "OVERRIDE_ME": "app"}}),
        )
        .await
        .assert_status(200);
    let created = server
        .post(
            &format!("/v3/packages/{package_guid}/droplets"),
            &token,
            json!({"buildpack_guid": env_dump, "staging_environment_variables": {"OVERRIDE_ME": "request"}, "memory_limit": 2048}),
        )
        .await;
    created.assert_status(201);
    assert_eq!(
        created.body["_links"]["buildpack"]["href"],
        format!("/v3/buildpacks/{env_dump}")
    );
    let staged = server
        .wait_final(&droplet_path(&created.body), &token)
        .await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
    let guid = staged["guid"].as_str().unwrap();
    let download = server
        .client
        .get(format!("{}/v3/droplets/{guid}/download", server.url))
        .header("Authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    let files = droplet_files(&download.bytes().await.unwrap());
    let env = String::from_utf8(files["./app/staging-env"].clone()).unwrap();
    for expected in [
        "APP_LEVEL=app",
        "OVERRIDE_ME=request",
        "CF_STACK=cflinuxfs4",
        "MEMORY_LIMIT=2048m",
        "LANG=en_US.UTF-8",
        "VCAP_SERVICES={}",
    ] {
        assert!(
            env.lines().any(|l| l == expected),
            "staging env lacks {expected}:\n{env}"
        );
    }
    assert!(
        env.contains("\"mem\":2048"),
        "VCAP_APPLICATION limits reach the buildpack"
    );
    assert_eq!(
        String::from_utf8(files["./app/staging-uid"].clone())
            .unwrap()
            .trim(),
        "2000",
        "never root"
    );
}

#[tokio::test]
async fn each_failure_names_its_type() {
    let server = TestServer::start().await;
    let compile_fail = server.admin_buildpack("compile-fail", "compile-fail").await;
    let release_fail = server.admin_buildpack("release-fail", "release-fail").await;
    let detect_fail = server.admin_buildpack("detect-fail", "detect-fail").await;
    let memory_hog = server
        .admin_buildpack("memory-hog", "limit-memory-hog")
        .await;
    // detect-fail is the only enabled buildpack that could be detected: disable the others.
    let admin = server.admin_token();
    for guid in [&compile_fail, &release_fail, &memory_hog] {
        server
            .patch(
                &format!("/v3/buildpacks/{guid}"),
                &admin,
                json!({"enabled": false}),
            )
            .await
            .assert_status(200);
    }
    let _ = detect_fail;
    let (_, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let git_missing = "git://127.0.0.1:9/nothing-here.git".to_string();
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({}),
            "NoAppDetectedError",
            "An app was not successfully detected by any available buildpack",
        ),
        (
            json!({"buildpack_guid": compile_fail}),
            "BuildpackCompileFailed",
            "App staging failed in the buildpack compile phase",
        ),
        (
            json!({"buildpack_guid": release_fail}),
            "BuildpackReleaseFailed",
            "App staging failed in the buildpack release phase",
        ),
        (
            json!({"buildpack_guid": memory_hog}),
            "StagingError",
            "staging exceeded its memory limit of 1024 MB",
        ),
        (
            json!({"buildpack_git_url": git_missing}),
            "StagingError",
            "Failed to clone git repository",
        ),
    ];
    for (body, error_id, message) in cases {
        let created = server
            .post(
                &format!("/v3/packages/{package_guid}/droplets"),
                &token,
                body.clone(),
            )
            .await;
        created.assert_status(201);
        let failed = server
            .wait_final(&droplet_path(&created.body), &token)
            .await;
        assert_eq!(failed["state"], "FAILED", "{body}: {failed}");
        let reason = failed["failure_reason"].as_str().unwrap();
        assert!(reason.starts_with(&format!("{error_id}: ")), "{reason}");
        assert!(reason.contains(message), "{reason} lacks {message}");
        let error = failed["error"].as_str().unwrap();
        assert!(error.starts_with(&format!("{error_id} - ")), "{error}");
        assert_eq!(failed["hash"], Value::Null);
    }
}

#[tokio::test]
async fn a_staging_past_the_timeout_is_killed_and_reported() {
    let server = TestServer::start_with(&[("LADLE_STAGING_TIMEOUT_SECONDS", "2")]).await;
    let sleeper = server.admin_buildpack("sleeper", "limit-sleeper").await;
    let (_, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let created = server
        .post(
            &format!("/v3/packages/{package_guid}/droplets"),
            &token,
            json!({"buildpack_guid": sleeper}),
        )
        .await;
    created.assert_status(201);
    let failed = server
        .wait_final(&droplet_path(&created.body), &token)
        .await;
    assert_eq!(failed["state"], "FAILED");
    let reason = failed["failure_reason"].as_str().unwrap();
    assert!(reason.starts_with("StagingTimeExpired: "), "{reason}");
    assert!(reason.contains("2 seconds"), "{reason}");
}

#[tokio::test]
async fn checks_run_in_cloud_controllers_order_and_change_nothing() {
    let server = TestServer::start().await;
    let (app_guid, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let stage = format!("/v3/packages/{package_guid}/droplets");
    // 422: body problems, each named.
    server
        .post(
            &stage,
            &token,
            json!({"buildpack_guid": "x", "buildpack_git_url": "https://example.com/bp"}),
        )
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Only one of buildpack_git_url or buildpack_guid may be provided",
        );
    server
        .post(&stage, &token, json!({"memory_limit": "1G", "disk_limit": 2.5, "stack": 3, "buildpack_git_url": "not a url", "extra": 1}))
        .await
        .assert_error(422, 10008, "UnprocessableEntity", "Unknown field(s): 'extra'");
    let detail = server.post(&stage, &token, json!({"memory_limit": "1G", "disk_limit": 2.5, "stack": 3, "buildpack_git_url": "not a url"})).await;
    for part in [
        "Memory limit is not a number",
        "Disk limit must be an integer",
        "Stack must be a string",
        "Buildpack git url must be a valid URI",
    ] {
        assert!(
            detail.body["errors"][0]["detail"]
                .as_str()
                .unwrap()
                .contains(part),
            "{}",
            detail.text
        );
    }
    // 422 beats 404: the body is checked before the package is looked up.
    server
        .post(
            "/v3/packages/no-such-package/droplets",
            &token,
            json!({"colour": 1}),
        )
        .await
        .assert_error(422, 10008, "UnprocessableEntity", "colour");
    server
        .post("/v3/packages/no-such-package/droplets", &token, json!({}))
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Package not found");
    server
        .post(
            &stage,
            &token,
            json!({"buildpack_guid": "no-such-buildpack"}),
        )
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Buildpack not found");
    // A stranger cannot see the package; an auditor can but may not stage.
    let stranger = server.user_token("stranger");
    server
        .post(&stage, &stranger, json!({}))
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Package not found");
    let space = server
        .get(&format!("/v3/apps/{app_guid}"), &server.admin_token())
        .await
        .body["relationships"]["space"]["data"]["guid"]
        .as_str()
        .unwrap()
        .to_string();
    server
        .grant(
            "auditor",
            "organization_user",
            "organization",
            &server.org_of(&space).await,
        )
        .await;
    server
        .grant("auditor", "space_auditor", "space", &space)
        .await;
    server
        .post(&stage, &server.user_token("auditor"), json!({}))
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    // A package still awaiting its bits: InvalidRequest.
    let empty = server
        .post(
            "/v3/packages",
            &token,
            json!({"type": "bits", "relationships": {"app": {"data": {"guid": app_guid}}}}),
        )
        .await;
    let empty_guid = empty.body["guid"].as_str().unwrap();
    server
        .post(
            &format!("/v3/packages/{empty_guid}/droplets"),
            &token,
            json!({}),
        )
        .await
        .assert_error(400, 10004, "InvalidRequest", "The request is invalid");
    server
        .post(&stage, &token, json!({"stack": "windows2016"}))
        .await
        .assert_error(404, 250003, "StackNotFound", "windows2016");
    server
        .post(&stage, &token, json!({"memory_limit": 100000}))
        .await
        .assert_error(
            400,
            10009,
            "UnableToPerform",
            "Staging request could not be completed: memory limit exceeded",
        );
    server
        .post(&stage, &token, json!({"disk_limit": 100000}))
        .await
        .assert_error(400, 10009, "UnableToPerform", "disk limit exceeded");
    // A write-scope-less token is refused before anything else.
    server
        .post(
            &stage,
            &server.token(DEV, &["cloud_controller.read"]),
            json!({"colour": 1}),
        )
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    server
        .request(reqwest::Method::POST, &stage, None, Some(json!({})))
        .await
        .assert_error(401, 10002, "NotAuthenticated", "");
    // None of that created a droplet.
    let droplets = server
        .get(&format!("/v3/packages/{package_guid}/droplets"), &token)
        .await;
    droplets.assert_status(200);
    assert_eq!(
        droplets.body["pagination"]["total_results"], 0,
        "{}",
        droplets.text
    );
}

#[tokio::test]
async fn a_person_can_follow_the_staging_log_until_it_ends() {
    let server = TestServer::start().await;
    let detect_pass = server.admin_buildpack("detect-pass", "detect-pass").await;
    let (_, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let created = server
        .post(
            &format!("/v3/packages/{package_guid}/droplets"),
            &token,
            json!({"buildpack_guid": detect_pass}),
        )
        .await;
    created.assert_status(201);
    let guid = created.body["guid"].as_str().unwrap();
    // Following from the moment of creation: the response ends by itself when staging does.
    let followed = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        server
            .client
            .get(format!(
                "{}/v3/droplets/{guid}/logs?follow=true",
                server.url
            ))
            .header("Authorization", format!("bearer {token}"))
            .send(),
    )
    .await
    .expect("log follow ended")
    .unwrap();
    assert_eq!(followed.status(), 200);
    assert!(followed.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = followed.text().await.unwrap();
    assert!(
        text.contains("[STG/compile] OUT -----> detect-pass compiling"),
        "{text}"
    );
    assert!(
        text.contains("[STG/setup]"),
        "host-side lines are tagged setup: {text}"
    );
    let staged = server.get(&format!("/v3/droplets/{guid}"), &token).await;
    assert_eq!(
        staged.body["state"], "STAGED",
        "following ended only once staging did"
    );
    // Reading again without follow gives the same lines; strangers see nothing.
    let again = server
        .get(&format!("/v3/droplets/{guid}/logs"), &token)
        .await;
    assert_eq!(again.text, text);
    server
        .get(
            &format!("/v3/droplets/{guid}/logs"),
            &server.user_token("stranger"),
        )
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Droplet not found");
    server
        .get(&format!("/v3/droplets/{guid}/logs?tail=5"), &token)
        .await
        .assert_error(400, 10005, "BadQueryParameter", "tail");
}

#[tokio::test]
async fn a_droplet_deleted_while_it_stages_leaves_no_blob_behind() {
    let server = TestServer::start_with(&[("LADLE_STAGING_SLOTS", "1")]).await;
    let slow = server.admin_buildpack("slow-pass", "slow-pass").await;
    let noop = server.admin_buildpack("noop", "noop").await;
    let (_, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let stage = format!("/v3/packages/{package_guid}/droplets");
    let doomed = server
        .post(&stage, &token, json!({"buildpack_guid": slow}))
        .await
        .body;
    let doomed_path = droplet_path(&doomed);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while server.get(&doomed_path, &token).await.body["state"] != "STAGING" {
        assert!(
            std::time::Instant::now() < deadline,
            "never started staging"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    server.delete(&doomed_path, &token).await.assert_status(202);
    // One slot, first in first out: once the next staging is done, the deleted one has finished.
    let next = server
        .post(&stage, &token, json!({"buildpack_guid": noop}))
        .await
        .body;
    assert_eq!(
        server.wait_final(&droplet_path(&next), &token).await["state"],
        "STAGED"
    );
    let blob = |droplet: &Value| format!("droplets/{}", droplet["guid"].as_str().unwrap());
    assert!(
        server.has_blob(&blob(&next)).await,
        "the staged droplet's blob is kept"
    );
    assert!(
        !server.has_blob(&blob(&doomed)).await,
        "the deleted droplet's blob was removed after its staging finished"
    );
    server.get(&doomed_path, &token).await.assert_error(
        404,
        10010,
        "ResourceNotFound",
        "Droplet not found",
    );
}
