//! Apps, their processes and variables, and the job an app delete leaves behind.

use serde_json::{json, Value};

use crate::support::{Response, TestServer};

/// A space with a developer and an auditor in it (both organization users first, as CC
/// requires before space roles are given).
struct Fixture {
    server: TestServer,
    org: String,
    space: String,
    developer: String,
    auditor: String,
    stranger: String,
    admin: String,
}

async fn fixture() -> Fixture {
    let server = TestServer::start().await;
    let (org, space) = server.org_and_space().await;
    for (user, role) in [("dev", "space_developer"), ("aud", "space_auditor")] {
        server
            .grant(user, "organization_user", "organization", &org)
            .await;
        server.grant(user, role, "space", &space).await;
    }
    Fixture {
        developer: server.user_token("dev"),
        auditor: server.user_token("aud"),
        stranger: server.user_token("stranger"),
        admin: server.admin_token(),
        server,
        org,
        space,
    }
}

impl Fixture {
    async fn create_app(&self, name: &str) -> Response {
        let response = self
            .server
            .post("/v3/apps", &self.developer, app_body(name, &self.space))
            .await;
        response.assert_status(201);
        response
    }

    async fn app_guid(&self, name: &str) -> String {
        guid_of(&self.create_app(name).await)
    }

    async fn app_count(&self) -> u64 {
        let list = self.server.get("/v3/apps", &self.admin).await;
        list.assert_status(200);
        list.body["pagination"]["total_results"].as_u64().unwrap()
    }
}

fn app_body(name: &str, space: &str) -> Value {
    json!({"name": name, "relationships": {"space": {"data": {"guid": space}}}})
}

fn guid_of(response: &Response) -> String {
    response.body["guid"].as_str().unwrap().to_string()
}

fn names_in(list: &Response) -> Vec<String> {
    list.assert_status(200);
    let mut names: Vec<String> = list.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn creating_an_app_today_gives_a_stopped_app_with_a_web_process() {
    let f = fixture().await;
    let body = json!({
        "name": "shop",
        "relationships": {"space": {"data": {"guid": f.space}}},
        "environment_variables": {"GREETING": "hi", "WORKERS": 3},
        "lifecycle": {"type": "buildpack", "data": {"buildpacks": ["https://github.com/x/y.git"]}},
        "metadata": {"labels": {"team": "web"}, "annotations": {"note": "first"}}
    });
    let created = f.server.post("/v3/apps", &f.developer, body).await;
    created.assert_status(201);
    let app = &created.body;
    let guid = guid_of(&created);
    assert_eq!(app["name"], "shop");
    assert_eq!(app["state"], "STOPPED");
    assert_eq!(app["desired_state"], "STOPPED");
    assert_eq!(app["total_desired_instances"], 1);
    assert_eq!(app["lifecycle"]["type"], "buildpack");
    assert_eq!(
        app["lifecycle"]["data"]["buildpacks"],
        json!(["https://github.com/x/y.git"])
    );
    assert_eq!(app["lifecycle"]["data"]["stack"], "cflinuxfs4");
    assert_eq!(app["relationships"]["space"]["data"]["guid"], f.space);
    assert_eq!(app["metadata"]["labels"]["team"], "web");
    assert_eq!(app["metadata"]["annotations"]["note"], "first");
    assert_eq!(
        app["environment_variables"],
        json!({"GREETING": "hi", "WORKERS": 3})
    );
    assert_eq!(app["created_at"], app["updated_at"]);
    let url = &f.server.url;
    assert_eq!(
        app["links"]["self"]["href"],
        format!("{url}/v3/apps/{guid}")
    );
    assert_eq!(
        app["links"]["space"]["href"],
        format!("{url}/v3/spaces/{}", f.space)
    );
    // ladle does not run apps: no start/stop (nor tasks, revisions, features) is offered.
    for absent in [
        "start",
        "stop",
        "tasks",
        "revisions",
        "deployed_revisions",
        "features",
    ] {
        assert!(app["links"].get(absent).is_none(), "{absent}");
    }
    assert_eq!(app["links"]["clear_buildpack_cache"]["method"], "POST");
    assert_eq!(
        app["links"]["environment_variables"]["href"],
        format!("{url}/v3/apps/{guid}/environment_variables")
    );
    assert_eq!(
        app["_links"]["space"]["href"],
        format!("/v3/spaces/{}", f.space)
    );
    assert!(app["_links"].get("start").is_none());
    assert!(app["_links"].get("stop").is_none());
    assert!(app["_links"].get("desired_droplet").is_none());

    let processes = f
        .server
        .get(&format!("/v3/apps/{guid}/processes"), &f.developer)
        .await;
    processes.assert_status(200);
    assert_eq!(processes.body["pagination"]["total_results"], 1);
    let web = &processes.body["resources"][0];
    assert_eq!(
        web["guid"],
        guid.as_str(),
        "the web process shares the app guid"
    );
    assert_eq!(web["type"], "web");
    assert_eq!(web["instances"], 1);
    assert_eq!(web["memory_in_mb"], 1024);
    assert_eq!(web["disk_in_mb"], 1024);
    assert_eq!(web["command"], Value::Null);
    assert_eq!(web["health_check"]["type"], "port");
    assert_eq!(web["relationships"]["app"]["data"]["guid"], guid.as_str());

    let shown = f
        .server
        .get(&format!("/v3/apps/{guid}"), &f.developer)
        .await;
    shown.assert_status(200);
    assert_eq!(shown.body["name"], "shop");
}

#[tokio::test]
async fn the_2015_body_creates_the_same_app() {
    let f = fixture().await;
    let created = f
        .server
        .post(
            "/v3/apps",
            &f.developer,
            json!({"name": "legacy", "space_guid": f.space, "environment_variables": {"A": "b"}}),
        )
        .await;
    created.assert_status(201);
    assert_eq!(
        created.body["relationships"]["space"]["data"]["guid"],
        f.space
    );
    assert_eq!(created.body["environment_variables"], json!({"A": "b"}));
    assert_eq!(created.body["desired_state"], "STOPPED");
    // 2015 answered an unusable space with 404.
    f.server
        .post(
            "/v3/apps",
            &f.developer,
            json!({"name": "x", "space_guid": "no-such-space"}),
        )
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Space not found");
}

#[tokio::test]
async fn bad_bodies_are_refused_and_change_nothing() {
    let f = fixture().await;
    let with_env = |env: Value| {
        json!({"name": "a", "relationships": {"space": {"data": {"guid": f.space}}},
               "environment_variables": env})
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"name": "a", "space_guid": f.space, "colour": "red"}),
            "Unknown field(s): 'colour'",
        ),
        (
            with_env(json!({"VCAP_SERVICES": "{}"})),
            "Environment variables cannot start with VCAP_",
        ),
        (
            with_env(json!({"vcap_x": "1"})),
            "Environment variables cannot start with VCAP_",
        ),
        (
            with_env(json!({"cf_stack": "1"})),
            "Environment variables cannot start with CF_",
        ),
        (
            with_env(json!({"PORT": "8080"})),
            "Environment variables cannot set PORT",
        ),
        (
            with_env(json!("A=1")),
            "Environment variables must be an object",
        ),
        (
            json!({"name": 5, "space_guid": f.space}),
            "Name must be a string",
        ),
        (json!({"space_guid": f.space}), "Name can't be blank"),
        (
            json!({"name": "a", "relationships": "space"}),
            "Relationships 'relationships' is not an object",
        ),
        (
            json!({"name": "a", "relationships": {"space": {"guid": f.space}}}),
            "Relationships Space must be structured like this",
        ),
        (
            json!({"name": "a", "space_guid": f.space,
                   "relationships": {"space": {"data": {"guid": f.space}}}}),
            "Only one of 'relationships' and 'space_guid' may be given",
        ),
        (
            json!({"name": "a", "space_guid": 12}),
            "Space guid must be a string",
        ),
        (
            json!({"name": "a", "space_guid": f.space,
                   "lifecycle": {"type": "docker", "data": {}}}),
            "Lifecycle type is not included in the list: buildpack",
        ),
        (
            json!({"name": "a", "space_guid": f.space,
                   "lifecycle": {"type": "buildpack", "data": {"buildpacks": [1]}}}),
            "Lifecycle Buildpacks can only contain strings",
        ),
        (
            json!({"name": "a", "space_guid": f.space, "metadata": {"labels": {"a b": "c"}}}),
            "Metadata label key error",
        ),
    ];
    for (body, detail) in cases {
        f.server
            .post("/v3/apps", &f.developer, body)
            .await
            .assert_error(422, 10008, "UnprocessableEntity", detail);
    }
    // Well-formed, but naming a stack or buildpack that does not exist.
    let unknown_stack = json!({"name": "a", "space_guid": f.space,
        "lifecycle": {"type": "buildpack", "data": {"stack": "windows2016"}}});
    f.server
        .post("/v3/apps", &f.developer, unknown_stack)
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Stack must be an existing stack",
        );
    let unknown_buildpack = json!({"name": "a", "space_guid": f.space,
        "lifecycle": {"type": "buildpack", "data": {"buildpacks": ["no_such_buildpack"]}}});
    f.server
        .post("/v3/apps", &f.developer, unknown_buildpack)
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Buildpack \"no_such_buildpack\" must be an existing admin buildpack or a valid git URI",
        );
    assert_eq!(f.app_count().await, 0, "no bad body created an app");
}

#[tokio::test]
async fn spaces_must_be_usable_and_names_unique_per_space() {
    let f = fixture().await;
    f.server
        .post("/v3/apps", &f.developer, app_body("a", "no-such-space"))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Invalid space. Ensure that the space exists and you have access to it.",
        );
    // A space the caller cannot read is reported exactly like a missing one.
    f.server
        .post("/v3/apps", &f.stranger, app_body("a", &f.space))
        .await
        .assert_error(422, 10008, "UnprocessableEntity", "Invalid space.");
    // The auditor reads the space but may not create in it.
    f.server
        .post("/v3/apps", &f.auditor, app_body("a", &f.space))
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    f.create_app("dup").await;
    f.server
        .post("/v3/apps", &f.developer, app_body("dup", &f.space))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "App with the name 'dup' already exists.",
        );
    // The same name in another space is fine.
    let other = f
        .server
        .post(
            "/v3/spaces",
            &f.admin,
            json!({"name": "other", "relationships": {"organization": {"data": {"guid": f.org}}}}),
        )
        .await;
    other.assert_status(201);
    f.server
        .post("/v3/apps", &f.admin, app_body("dup", &guid_of(&other)))
        .await
        .assert_status(201);
    assert_eq!(f.app_count().await, 2);
}

#[tokio::test]
async fn readers_read_developers_write_strangers_see_nothing() {
    let f = fixture().await;
    let guid = f.app_guid("private").await;
    let path = format!("/v3/apps/{guid}");
    f.server
        .patch(
            &format!("{path}/environment_variables"),
            &f.developer,
            json!({"var": {"SECRET": "s3cret"}}),
        )
        .await
        .assert_status(200);

    let seen = f.server.get(&path, &f.auditor).await;
    seen.assert_status(200);
    assert!(
        seen.body.get("environment_variables").is_none(),
        "auditors do not see variables: {}",
        seen.text
    );
    assert!(!seen.text.contains("s3cret"));
    for response in [
        f.server
            .patch(&path, &f.auditor, json!({"name": "x"}))
            .await,
        f.server.delete(&path, &f.auditor).await,
        f.server
            .get(&format!("{path}/environment_variables"), &f.auditor)
            .await,
        f.server
            .patch(
                &format!("{path}/environment_variables"),
                &f.auditor,
                json!({"var": {"A": "1"}}),
            )
            .await,
        f.server.get(&format!("{path}/env"), &f.auditor).await,
    ] {
        response.assert_error(403, 10003, "NotAuthorized", "");
    }
    let auditor_web = f
        .server
        .get(&format!("/v3/apps/{guid}/processes/web"), &f.auditor)
        .await;
    auditor_web.assert_status(200);
    assert_eq!(auditor_web.body["command"], "[PRIVATE DATA HIDDEN]");

    for response in [
        f.server.get(&path, &f.stranger).await,
        f.server
            .patch(&path, &f.stranger, json!({"name": "x"}))
            .await,
        f.server.delete(&path, &f.stranger).await,
        f.server
            .get(&format!("{path}/environment_variables"), &f.stranger)
            .await,
        f.server.get(&format!("{path}/env"), &f.stranger).await,
        f.server
            .get(&format!("{path}/processes"), &f.stranger)
            .await,
    ] {
        response.assert_error(404, 10010, "ResourceNotFound", "App not found");
    }
    f.server
        .get(&format!("/v3/processes/{guid}"), &f.stranger)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Process not found");
    assert!(names_in(&f.server.get("/v3/apps", &f.stranger).await).is_empty());
    assert!(names_in(&f.server.get("/v3/processes", &f.stranger).await).is_empty());
    // Nothing the readers tried changed the app.
    let after = f.server.get(&path, &f.developer).await;
    assert_eq!(after.body["name"], "private");
    assert_eq!(after.body["environment_variables"]["SECRET"], "s3cret");
}

#[tokio::test]
async fn lists_filter_and_show_only_readable_spaces() {
    let f = fixture().await;
    let second_org = f
        .server
        .post("/v3/organizations", &f.admin, json!({"name": "second"}))
        .await;
    let second_org = guid_of(&second_org);
    let hidden_space = f
        .server
        .post(
            "/v3/spaces",
            &f.admin,
            json!({"name": "hidden", "relationships": {"organization": {"data": {"guid": second_org}}}}),
        )
        .await;
    let hidden_space = guid_of(&hidden_space);
    let a = f.app_guid("a").await;
    f.app_guid("b").await;
    f.server
        .post("/v3/apps", &f.admin, app_body("c", &hidden_space))
        .await
        .assert_status(201);

    let all = f.server.get("/v3/apps", &f.admin).await;
    assert_eq!(names_in(&all), ["a", "b", "c"]);
    assert_eq!(
        names_in(&f.server.get("/v3/apps", &f.developer).await),
        ["a", "b"]
    );
    assert_eq!(
        names_in(&f.server.get("/v3/apps", &f.auditor).await),
        ["a", "b"]
    );
    let by_name = f.server.get("/v3/apps?names=b,c", &f.admin).await;
    assert_eq!(names_in(&by_name), ["b", "c"]);
    let by_name_2015 = f.server.get("/v3/apps?names[]=b", &f.admin).await;
    assert_eq!(names_in(&by_name_2015), ["b"]);
    let by_guid = f.server.get(&format!("/v3/apps?guids={a}"), &f.admin).await;
    assert_eq!(names_in(&by_guid), ["a"]);
    let by_space = f
        .server
        .get(&format!("/v3/apps?space_guids={hidden_space}"), &f.admin)
        .await;
    assert_eq!(names_in(&by_space), ["c"]);
    let by_org = f
        .server
        .get(&format!("/v3/apps?organization_guids={}", f.org), &f.admin)
        .await;
    assert_eq!(names_in(&by_org), ["a", "b"]);
    // The developer cannot reach the hidden space's app through a filter either.
    let sneaky = f
        .server
        .get(
            &format!("/v3/apps?organization_guids={second_org}"),
            &f.developer,
        )
        .await;
    assert!(names_in(&sneaky).is_empty());
    let by_stack = f.server.get("/v3/apps?stacks=cflinuxfs4", &f.admin).await;
    assert_eq!(by_stack.body["pagination"]["total_results"], 3);
    let paged = f.server.get("/v3/apps?per_page=2", &f.admin).await;
    assert_eq!(paged.body["pagination"]["total_pages"], 2);
    f.server
        .get("/v3/apps?colour=red", &f.admin)
        .await
        .assert_error(400, 10005, "BadQueryParameter", "'colour'");

    let processes = f.server.get("/v3/processes", &f.developer).await;
    assert_eq!(processes.body["pagination"]["total_results"], 2);
    let of_a = f
        .server
        .get(&format!("/v3/processes?app_guids={a}&types=web"), &f.admin)
        .await;
    assert_eq!(of_a.body["pagination"]["total_results"], 1);
    assert_eq!(of_a.body["resources"][0]["guid"], a.as_str());
    let in_hidden = f
        .server
        .get(
            &format!("/v3/processes?space_guids={hidden_space}"),
            &f.admin,
        )
        .await;
    assert_eq!(in_hidden.body["pagination"]["total_results"], 1);
    let workers = f.server.get("/v3/processes?types=worker", &f.admin).await;
    assert_eq!(workers.body["pagination"]["total_results"], 0);
}

#[tokio::test]
async fn patch_renames_relabels_and_replaces_the_lifecycle() {
    let f = fixture().await;
    let guid = f.app_guid("before").await;
    f.app_guid("taken").await;
    let path = format!("/v3/apps/{guid}");
    let patched = f
        .server
        .patch(
            &path,
            &f.developer,
            json!({
                "name": "after",
                "lifecycle": {"type": "buildpack", "data": {"buildpacks": ["https://example.com/bp.git"]}},
                "metadata": {"labels": {"tier": "gold"}},
                "environment_variables": {"MODE": "2015"}
            }),
        )
        .await;
    patched.assert_status(200);
    assert_eq!(patched.body["name"], "after");
    assert_eq!(
        patched.body["lifecycle"]["data"]["buildpacks"],
        json!(["https://example.com/bp.git"])
    );
    assert_eq!(patched.body["lifecycle"]["data"]["stack"], "cflinuxfs4");
    assert_eq!(patched.body["metadata"]["labels"]["tier"], "gold");
    assert_eq!(
        patched.body["environment_variables"],
        json!({"MODE": "2015"})
    );
    // A null label removes it.
    let unlabelled = f
        .server
        .patch(
            &path,
            &f.developer,
            json!({"metadata": {"labels": {"tier": null}}}),
        )
        .await;
    assert_eq!(unlabelled.body["metadata"]["labels"], json!({}));
    assert_eq!(unlabelled.body["name"], "after", "unnamed fields are kept");

    f.server
        .patch(&path, &f.developer, json!({"name": "taken"}))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "App with the name 'taken' already exists.",
        );
    for (body, detail) in [
        (json!({"space_guid": "x"}), "Unknown field(s): 'space_guid'"),
        (json!({"name": ""}), "Name can't be blank"),
        (
            json!({"environment_variables": {"PORT": "1"}}),
            "Environment variables cannot set PORT",
        ),
    ] {
        f.server
            .patch(&path, &f.developer, body)
            .await
            .assert_error(422, 10008, "UnprocessableEntity", detail);
    }
    f.server
        .patch(
            &path,
            &f.developer,
            json!({"lifecycle": {"type": "buildpack", "data": {"stack": "nope"}}}),
        )
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Stack must be an existing stack",
        );
    f.server
        .patch("/v3/apps/no-such-app", &f.developer, json!({"name": "x"}))
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");
    let unchanged = f.server.get(&path, &f.developer).await;
    assert_eq!(unchanged.body["name"], "after");
    assert_eq!(
        unchanged.body["environment_variables"],
        json!({"MODE": "2015"})
    );
}

#[tokio::test]
async fn environment_variables_merge_and_env_shows_the_whole_environment() {
    let f = fixture().await;
    let created = f
        .server
        .post(
            "/v3/apps",
            &f.developer,
            json!({"name": "envy", "space_guid": f.space, "environment_variables": {"KEEP": "k", "DROP": "d"}}),
        )
        .await;
    let guid = guid_of(&created);
    let vars_path = format!("/v3/apps/{guid}/environment_variables");
    let patched = f
        .server
        .patch(
            &vars_path,
            &f.developer,
            json!({"var": {"NEW": "n", "DROP": null}}),
        )
        .await;
    patched.assert_status(200);
    assert_eq!(patched.body["var"], json!({"KEEP": "k", "NEW": "n"}));
    assert_eq!(
        patched.body["links"]["app"]["href"],
        format!("{}/v3/apps/{guid}", f.server.url)
    );
    for (body, detail) in [
        (
            json!({"var": {"VCAP_APPLICATION": "x"}}),
            "cannot start with VCAP_",
        ),
        (json!({"var": {"port": "1"}}), "cannot set PORT"),
        (
            json!({"var": {"N": 1}}),
            "Non-string value in environment variable for key 'N'",
        ),
        (json!({"var": "A=1"}), "Var must be an object"),
        (json!({"var": {}, "other": 1}), "Unknown field(s): 'other'"),
    ] {
        f.server
            .patch(&vars_path, &f.developer, body)
            .await
            .assert_error(422, 10008, "UnprocessableEntity", detail);
    }
    let shown = f.server.get(&vars_path, &f.developer).await;
    shown.assert_status(200);
    assert_eq!(shown.body["var"], json!({"KEEP": "k", "NEW": "n"}));

    let env = f
        .server
        .get(&format!("/v3/apps/{guid}/env"), &f.developer)
        .await;
    env.assert_status(200);
    assert_eq!(
        env.body["environment_variables"],
        json!({"KEEP": "k", "NEW": "n"})
    );
    assert_eq!(env.body["system_env_json"], json!({"VCAP_SERVICES": {}}));
    let vcap = &env.body["application_env_json"]["VCAP_APPLICATION"];
    assert_eq!(vcap["application_name"], "envy");
    assert_eq!(vcap["application_id"], guid.as_str());
    assert_eq!(vcap["space_id"], f.space);
    assert_eq!(vcap["space_name"], "dev");
    assert_eq!(vcap["organization_id"], f.org);
    assert_eq!(
        vcap["limits"],
        json!({"fds": 16384, "mem": 1024, "disk": 1024})
    );
    assert_eq!(vcap["cf_api"], f.server.url);
    assert_eq!(vcap["users"], Value::Null);
}

#[tokio::test]
async fn processes_are_found_by_guid_and_by_type() {
    let f = fixture().await;
    let guid = f.app_guid("proc").await;
    let by_guid = f
        .server
        .get(&format!("/v3/processes/{guid}"), &f.developer)
        .await;
    by_guid.assert_status(200);
    assert_eq!(by_guid.body["type"], "web");
    assert_eq!(
        by_guid.body["links"]["space"]["href"],
        format!("{}/v3/spaces/{}", f.server.url, f.space)
    );
    assert!(
        by_guid.body["links"].get("scale").is_none(),
        "no scale route yet"
    );
    assert_eq!(
        by_guid.body["_links"]["space"]["href"],
        format!("/v3/spaces/{}", f.space)
    );
    let by_type = f
        .server
        .get(&format!("/v3/apps/{guid}/processes/web"), &f.developer)
        .await;
    assert_eq!(by_type.body["guid"], guid.as_str());
    f.server
        .get(&format!("/v3/apps/{guid}/processes/worker"), &f.developer)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Process not found");
    f.server
        .get("/v3/apps/missing/processes/web", &f.developer)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");
    f.server
        .get("/v3/processes/missing", &f.developer)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Process not found");
}

#[tokio::test]
async fn delete_answers_202_with_a_job_that_completes() {
    let f = fixture().await;
    let guid = f.app_guid("doomed").await;
    let deleted = f
        .server
        .delete(&format!("/v3/apps/{guid}"), &f.developer)
        .await;
    deleted.assert_status(202);
    let location = deleted
        .header("location")
        .expect("Location header")
        .to_string();
    let job_path = location
        .strip_prefix(&f.server.url)
        .unwrap_or_else(|| panic!("absolute job link: {location}"))
        .to_string();
    assert!(job_path.starts_with("/v3/jobs/"), "{job_path}");
    let job = f.server.get(&job_path, &f.developer).await;
    job.assert_status(200);
    assert_eq!(job.body["state"], "COMPLETE");
    assert_eq!(job.body["operation"], "app.delete");
    assert_eq!(job.body["errors"], json!([]));
    assert_eq!(job.body["links"]["self"]["href"], location.as_str());
    // Admins see every job; other users see only their own.
    f.server.get(&job_path, &f.admin).await.assert_status(200);
    f.server.get(&job_path, &f.auditor).await.assert_error(
        404,
        10010,
        "ResourceNotFound",
        "Job not found",
    );
    f.server
        .get("/v3/jobs/no-such-job", &f.developer)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Job not found");

    f.server
        .get(&format!("/v3/apps/{guid}"), &f.developer)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");
    f.server
        .get(&format!("/v3/processes/{guid}"), &f.developer)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Process not found");
    assert_eq!(f.app_count().await, 0);
    // The name is free again.
    f.create_app("doomed").await;
    f.server
        .delete(&format!("/v3/apps/{guid}"), &f.developer)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");
}

#[tokio::test]
async fn delete_removes_the_apps_packages_and_their_bits() {
    use crate::packages::{upload, zip_bytes, Entry};
    let f = fixture().await;
    let app = f.app_guid("bits").await;
    let package = f
        .server
        .post(
            "/v3/packages",
            &f.developer,
            json!({"type": "bits", "relationships": {"app": {"data": {"guid": app}}}}),
        )
        .await;
    package.assert_status(201);
    let package = guid_of(&package);
    let bits = zip_bytes(&[Entry::File("index.html", b"<h1>bye</h1>")]);
    let path = format!("/v3/packages/{package}/upload");
    upload(&f.server, &path, &f.developer, Some(bits), None)
        .await
        .assert_status(200);
    let blob = format!("packages/{package}");
    assert!(
        f.server.has_blob(&blob).await,
        "the upload left its bits in the blobstore"
    );

    let deleted = f
        .server
        .delete(&format!("/v3/apps/{app}"), &f.developer)
        .await;
    deleted.assert_status(202);
    let job_url = deleted.header("location").unwrap().to_string();
    let job = f
        .server
        .get(job_url.strip_prefix(&f.server.url).unwrap(), &f.developer)
        .await;
    assert_eq!(job.body["state"], "COMPLETE", "{}", job.text);
    assert!(
        !f.server.has_blob(&blob).await,
        "the package's bits were deleted with the app"
    );
    f.server
        .get(&format!("/v3/packages/{package}"), &f.developer)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Package not found");
}

#[tokio::test]
async fn concurrent_variable_patches_all_survive() {
    let f = fixture().await;
    let guid = f.app_guid("busy").await;
    let path = format!("/v3/apps/{guid}/environment_variables");
    let patches = (0..16).map(|i| {
        f.server.patch(
            &path,
            &f.developer,
            json!({"var": {format!("KEY_{i}"): "v"}}),
        )
    });
    for response in futures::future::join_all(patches).await {
        response.assert_status(200);
    }
    let vars = f.server.get(&path, &f.developer).await;
    let count = vars.body["var"].as_object().unwrap().len();
    assert_eq!(count, 16, "no merge lost another's key: {}", vars.text);
}
