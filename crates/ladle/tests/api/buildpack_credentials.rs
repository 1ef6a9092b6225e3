//! A buildpack URL with credentials (`http://user:password@git.example/bp.git`): the staging
//! clones with them, from a git server that refuses a clone without them, and no reader of
//! the app, its builds, its droplets or the staging log ever sees them: every view shows
//! `http://***:***@…`, as Cloud Controller does, to auditors, org managers, developers and
//! admins alike.

use serde_json::{json, Value};

use crate::builds::build_path;
use crate::staging_support::GitServer;
use crate::support::TestServer;

const DEV: &str = "credentials-dev";
const AUDITOR: &str = "credentials-auditor";
const ORG_MANAGER: &str = "credentials-org-manager";
const GIT_USER: &str = "bp-reader";
const GIT_PASSWORD: &str = "pw-7Qx2-never-shown";

fn guid_of(body: &Value) -> String {
    body["guid"].as_str().expect("guid").to_string()
}

#[tokio::test]
async fn a_credentialed_buildpack_url_stages_and_no_reader_sees_its_credentials() {
    let server = TestServer::start().await;
    let git =
        GitServer::serve_fixture_with_password("detect-pass", "stable", GIT_USER, GIT_PASSWORD);
    let plain = format!("{}#stable", git.url);
    let credentialed = plain.replacen("http://", &format!("http://{GIT_USER}:{GIT_PASSWORD}@"), 1);
    let shown = plain.replacen("http://", "http://***:***@", 1);
    let (app, package) = server.app_with_package(DEV, "plain").await;
    let dev = server.user_token(DEV);
    let admin = server.admin_token();
    let space = server.get(&format!("/v3/apps/{app}"), &admin).await.body["relationships"]["space"]
        ["data"]["guid"]
        .as_str()
        .unwrap()
        .to_string();
    let org = server.org_of(&space).await;
    server
        .grant(AUDITOR, "organization_user", "organization", &org)
        .await;
    server
        .grant(AUDITOR, "space_auditor", "space", &space)
        .await;
    server
        .grant(ORG_MANAGER, "organization_manager", "organization", &org)
        .await;

    // The git server wants the credentials: without them the staging cannot clone.
    let anonymous = server
        .post(
            &format!("/v3/packages/{package}/droplets"),
            &dev,
            json!({"buildpack_git_url": plain}),
        )
        .await;
    anonymous.assert_status(201);
    let anonymous = server
        .wait_final(&format!("/v3/droplets/{}", guid_of(&anonymous.body)), &dev)
        .await;
    assert_eq!(anonymous["state"], "FAILED", "{anonymous}");

    // With them, both ways of asking stage: the app's lifecycle through a build, and the
    // 2015 stage endpoint's `buildpack_git_url`.
    server
        .patch(
            &format!("/v3/apps/{app}"),
            &dev,
            json!({"lifecycle": {"type": "buildpack", "data": {"buildpacks": [credentialed]}}}),
        )
        .await
        .assert_status(200);
    let build = server
        .post("/v3/builds", &dev, json!({"package": {"guid": package}}))
        .await;
    build.assert_status(201);
    let build = server.wait_final(&build_path(&build.body), &dev).await;
    assert_eq!(build["state"], "STAGED", "{build}");
    let build_droplet = build["droplet"]["guid"].as_str().unwrap().to_string();
    let staged_2015 = server
        .post(
            &format!("/v3/packages/{package}/droplets"),
            &dev,
            json!({"buildpack_git_url": credentialed}),
        )
        .await;
    staged_2015.assert_status(201);
    let droplet_2015 = guid_of(&staged_2015.body);
    let staged_2015 = server
        .wait_final(&format!("/v3/droplets/{droplet_2015}"), &dev)
        .await;
    assert_eq!(staged_2015["state"], "STAGED", "{staged_2015}");

    let build_guid = guid_of(&build);
    let readers = [
        ("auditor", server.user_token(AUDITOR)),
        ("org manager", server.user_token(ORG_MANAGER)),
        ("developer", dev.clone()),
        ("admin", admin.clone()),
    ];
    for (who, token) in &readers {
        let app_view = server.get(&format!("/v3/apps/{app}"), token).await;
        app_view.assert_status(200);
        assert_eq!(
            app_view.body["lifecycle"]["data"]["buildpacks"],
            json!([shown]),
            "{who}"
        );
        let build_view = server.get(&format!("/v3/builds/{build_guid}"), token).await;
        build_view.assert_status(200);
        assert_eq!(
            build_view.body["lifecycle"]["data"]["buildpacks"],
            json!([shown]),
            "{who}"
        );
        for droplet in [&build_droplet, &droplet_2015] {
            let view = server.get(&format!("/v3/droplets/{droplet}"), token).await;
            view.assert_status(200);
            assert_eq!(view.body["buildpacks"][0]["name"], shown, "{who}");
        }
        let view_2015 = server
            .get(&format!("/v3/droplets/{droplet_2015}"), token)
            .await;
        assert_eq!(view_2015.body["buildpack_git_url"], shown, "{who}");
        for path in [
            format!("/v3/apps/{app}"),
            "/v3/apps".to_string(),
            format!("/v3/builds/{build_guid}"),
            "/v3/builds".to_string(),
            format!("/v3/apps/{app}/builds"),
            format!("/v3/droplets/{build_droplet}"),
            format!("/v3/droplets/{droplet_2015}"),
            "/v3/droplets".to_string(),
            format!("/v3/apps/{app}/droplets"),
        ] {
            let response = server.get(&path, token).await;
            response.assert_status(200);
            for secret in [GIT_USER, GIT_PASSWORD] {
                assert!(
                    !response.text.contains(secret),
                    "{who} sees {secret} in {path}: {}",
                    response.text
                );
            }
        }
    }

    // The staging log names the URL it cloned, without the credentials.
    let log = server
        .get(&format!("/v3/droplets/{droplet_2015}/logs"), &dev)
        .await;
    log.assert_status(200);
    assert!(
        log.text.contains(&format!(
            "Cloning buildpack {}",
            git.url.replacen("http://", "http://***:***@", 1)
        )),
        "{}",
        log.text
    );
    assert!(!log.text.contains(GIT_PASSWORD), "{}", log.text);
}
