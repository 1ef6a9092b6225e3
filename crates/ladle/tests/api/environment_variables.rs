//! Environment variables and staging limits at the door: every way variables enter (app create,
//! both app updates, a build, the 2015 stage endpoint) refuses the same names and values with
//! one 422 in Cloud Controller's words, before anything is written; negative limits are refused
//! rather than raised. Values of other JSON types are accepted where CC accepts them, and reach
//! the buildpack as CC encodes them.

use serde_json::{json, Value};

use crate::staging_support::droplet_files;
use crate::support::TestServer;

const DEV: &str = "env-door-dev";

/// Variables no entry accepts, and the problem each is named by (after the field's name).
fn refused_variables() -> Vec<(Value, &'static str)> {
    vec![
        (json!({"A=B": "x"}), "key cannot contain '='"),
        (
            json!({"A\u{0}B": "x"}),
            "key cannot contain a NUL character",
        ),
        (
            json!({"A": "x\u{0}y"}),
            "value for key 'A' cannot contain a NUL character",
        ),
        (json!({"VCAP_X": "x"}), "cannot start with VCAP_"),
        (json!({"vmc_x": "x"}), "cannot start with VMC_"),
        (json!({"Port": "8080"}), "cannot set PORT"),
        (json!({"": "x"}), "key must be a minimum length of 1"),
    ]
}

fn total(response: &crate::support::Response) -> u64 {
    response.assert_status(200);
    response.body["pagination"]["total_results"]
        .as_u64()
        .expect("a list")
}

#[tokio::test]
async fn bad_variables_and_limits_are_refused_at_every_entry_and_change_nothing() {
    let server = TestServer::start().await;
    let (app, package) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let env_path = format!("/v3/apps/{app}/environment_variables");
    server
        .patch(&env_path, &token, json!({"var": {"KEEP": "1"}}))
        .await
        .assert_status(200);
    let space = server.get(&format!("/v3/apps/{app}"), &token).await.body["relationships"]["space"]
        ["data"]["guid"]
        .as_str()
        .unwrap()
        .to_string();
    let stage = format!("/v3/packages/{package}/droplets");

    for (vars, problem) in refused_variables() {
        let detail = format!("Environment variables {problem}");
        server
            .post(
                "/v3/apps",
                &token,
                json!({"name": "refused", "relationships": {"space": {"data": {"guid": space}}},
                       "environment_variables": vars}),
            )
            .await
            .assert_error(422, 10008, "UnprocessableEntity", &detail);
        server
            .patch(
                &format!("/v3/apps/{app}"),
                &token,
                json!({"environment_variables": vars}),
            )
            .await
            .assert_error(422, 10008, "UnprocessableEntity", &detail);
        server
            .patch(&env_path, &token, json!({"var": vars}))
            .await
            .assert_error(422, 10008, "UnprocessableEntity", &detail);
        server
            .post(
                "/v3/builds",
                &token,
                json!({"package": {"guid": package}, "environment_variables": vars}),
            )
            .await
            .assert_error(422, 10008, "UnprocessableEntity", &detail);
        server
            .post(
                &stage,
                &token,
                json!({"staging_environment_variables": vars}),
            )
            .await
            .assert_error(
                422,
                10008,
                "UnprocessableEntity",
                &format!("Staging environment variables {problem}"),
            );
    }
    // Only the PATCH of variables takes strings alone, as in CC.
    server
        .patch(&env_path, &token, json!({"var": {"COUNT": 3}}))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Non-string value in environment variable for key 'COUNT', value '3'",
        );

    for (body, detail) in [
        (
            json!({"memory_limit": -1}),
            "Memory limit must be greater than 0",
        ),
        (
            json!({"disk_limit": -4096}),
            "Disk limit must be greater than 0",
        ),
        (
            json!({"memory_limit": 0}),
            "Memory limit must be greater than 0",
        ),
    ] {
        server.post(&stage, &token, body).await.assert_error(
            422,
            10008,
            "UnprocessableEntity",
            detail,
        );
    }
    for (key, detail) in [
        (
            "staging_memory_in_mb",
            "Staging memory in mb must be greater than 0",
        ),
        (
            "staging_disk_in_mb",
            "Staging disk in mb must be greater than 0",
        ),
    ] {
        let mut body = json!({"package": {"guid": package}});
        body[key] = json!(-1);
        server.post("/v3/builds", &token, body).await.assert_error(
            422,
            10008,
            "UnprocessableEntity",
            detail,
        );
    }

    // Nothing of it was written.
    let apps = server
        .get(&format!("/v3/apps?space_guids={space}"), &token)
        .await;
    assert_eq!(total(&apps), 1, "{}", apps.text);
    let vars = server.get(&env_path, &token).await;
    vars.assert_status(200);
    assert_eq!(vars.body["var"], json!({"KEEP": "1"}));
    let droplets = server.get(&stage, &token).await;
    assert_eq!(total(&droplets), 0, "{}", droplets.text);
    let builds = server.get(&format!("/v3/apps/{app}/builds"), &token).await;
    assert_eq!(total(&builds), 0, "{}", builds.text);
}

#[tokio::test]
async fn values_of_other_types_stage_as_cloud_controller_encodes_them() {
    let server = TestServer::start().await;
    let env_dump = server.admin_buildpack("env-dump", "env-dump").await;
    let (app, package) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    server
        .patch(
            &format!("/v3/apps/{app}"),
            &token,
            json!({"environment_variables": {"APP_FLAG": false, "APP_LIST": ["a", 1]}}),
        )
        .await
        .assert_status(200);
    let created = server
        .post(
            &format!("/v3/packages/{package}/droplets"),
            &token,
            json!({"buildpack_guid": env_dump, "staging_environment_variables": {
                "COUNT": 3, "FLAG": true, "JSON": {"nested": [1, null, "\u{0}"]}, "NOTHING": null
            }}),
        )
        .await;
    created.assert_status(201);
    let guid = created.body["guid"].as_str().unwrap();
    let staged = server
        .wait_final(&format!("/v3/droplets/{guid}"), &token)
        .await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
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
        "APP_FLAG=false",
        r#"APP_LIST=["a",1]"#,
        "COUNT=3",
        "FLAG=true",
        r#"JSON={"nested":[1,null,"\u0000"]}"#,
        "NOTHING=",
    ] {
        assert!(
            env.lines().any(|line| line == expected),
            "staging env lacks {expected}:\n{env}"
        );
    }
}
