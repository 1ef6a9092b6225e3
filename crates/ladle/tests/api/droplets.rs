//! Black-box tests: droplets after staging — lists and their filters, download, delete, the
//! app's current droplet in both dialects, and clearing the build cache. Every droplet here is
//! staged for real, with the shell buildpacks of fixtures/.

use serde_json::{json, Value};

use crate::staging_support::droplet_files;
use crate::support::{Response, TestServer};

const DEV: &str = "droplets-dev";
const OTHER_DEV: &str = "droplets-other-dev";
const AUDITOR: &str = "droplets-auditor";
const STRANGER: &str = "droplets-stranger";

/// Stages `package_guid` with the admin buildpack `buildpack_guid` and waits for the end.
async fn stage(
    server: &TestServer,
    token: &str,
    package_guid: &str,
    buildpack_guid: &str,
) -> Value {
    let created = server
        .post(
            &format!("/v3/packages/{package_guid}/droplets"),
            token,
            json!({"buildpack_guid": buildpack_guid}),
        )
        .await;
    created.assert_status(201);
    server
        .wait_final(&format!("/v3/droplets/{}", guid_of(&created.body)), token)
        .await
}

fn guid_of(body: &Value) -> String {
    body["guid"].as_str().expect("guid").to_string()
}

/// The guids of a list's resources, sorted.
fn listed(response: &Response) -> Vec<String> {
    response.assert_status(200);
    let mut guids: Vec<String> = response.body["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(guid_of)
        .collect();
    guids.sort();
    guids
}

fn sorted(mut guids: Vec<String>) -> Vec<String> {
    guids.sort();
    guids
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

async fn download(server: &TestServer, token: &str, droplet_guid: &str) -> reqwest::Response {
    server
        .client
        .get(format!(
            "{}/v3/droplets/{droplet_guid}/download",
            server.url
        ))
        .header("Authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap()
}

/// `(type, command)` of each of the app's processes, as a developer sees them.
async fn processes(server: &TestServer, token: &str, app_guid: &str) -> Vec<(String, Value)> {
    let list = server
        .get(&format!("/v3/apps/{app_guid}/processes"), token)
        .await;
    list.assert_status(200);
    let mut found: Vec<(String, Value)> = list.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["type"].as_str().unwrap().to_string(),
                p["command"].clone(),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

async fn assert_job_complete(server: &TestServer, token: &str, response: &Response) {
    response.assert_status(202);
    let location = response
        .header("location")
        .expect("Location header")
        .to_string();
    let path = location
        .strip_prefix(&server.url)
        .unwrap_or(&location)
        .to_string();
    assert!(path.starts_with("/v3/jobs/"), "{location}");
    let job = server.get(&path, token).await;
    job.assert_status(200);
    assert_eq!(job.body["state"], "COMPLETE", "{}", job.text);
}

#[tokio::test]
async fn lists_show_only_readable_droplets_and_apply_each_filter() {
    let server = TestServer::start().await;
    let admin = server.admin_token();
    let pass = server.admin_buildpack("pass", "detect-pass").await;
    let fail = server.admin_buildpack("fail", "compile-fail").await;
    let (app, package) = server.app_with_package(DEV, "plain").await;
    let (other_app, other_package) = server.app_with_package(OTHER_DEV, "plain").await;
    let dev = server.user_token(DEV);
    let staged = guid_of(&stage(&server, &dev, &package, &pass).await);
    let failed = stage(&server, &dev, &package, &fail).await;
    assert_eq!(failed["state"], "FAILED");
    let failed = guid_of(&failed);
    let other = guid_of(
        &stage(
            &server,
            &server.user_token(OTHER_DEV),
            &other_package,
            &pass,
        )
        .await,
    );
    let space = space_of(&server, &app).await;
    let org = server.org_of(&space).await;

    let mine = sorted(vec![staged.clone(), failed.clone()]);
    assert_eq!(listed(&server.get("/v3/droplets", &dev).await), mine);
    assert_eq!(
        listed(&server.get("/v3/droplets", &admin).await),
        sorted(vec![staged.clone(), failed.clone(), other.clone()])
    );
    let stranger = server.user_token(STRANGER);
    assert!(listed(&server.get("/v3/droplets", &stranger).await).is_empty());

    assert_eq!(
        listed(&server.get("/v3/droplets?states=STAGED", &dev).await),
        vec![staged.clone()]
    );
    assert_eq!(
        listed(&server.get("/v3/droplets?states=FAILED,STAGED", &dev).await),
        mine
    );
    assert_eq!(
        listed(
            &server
                .get(&format!("/v3/droplets?guids={failed}"), &dev)
                .await
        ),
        vec![failed.clone()]
    );
    assert!(
        listed(
            &server
                .get(&format!("/v3/droplets?guids={other}"), &dev)
                .await
        )
        .is_empty(),
        "filters never widen visibility"
    );
    assert_eq!(
        listed(
            &server
                .get(&format!("/v3/droplets?app_guids={other_app}"), &admin)
                .await
        ),
        vec![other.clone()]
    );
    assert_eq!(
        listed(
            &server
                .get(&format!("/v3/droplets?space_guids={space}"), &admin)
                .await
        ),
        mine
    );
    assert_eq!(
        listed(
            &server
                .get(&format!("/v3/droplets?organization_guids={org}"), &admin)
                .await
        ),
        mine
    );
    let paged = server
        .get("/v3/droplets?per_page=1&states=STAGED,FAILED", &dev)
        .await;
    assert_eq!(paged.body["pagination"]["total_results"], 2);
    assert!(paged.body["pagination"]["next"]["href"]
        .as_str()
        .unwrap()
        .contains("states=STAGED%2CFAILED"));
    server
        .get("/v3/droplets?colour=blue", &dev)
        .await
        .assert_error(400, 10005, "BadQueryParameter", "colour");

    assert_eq!(
        listed(&server.get(&format!("/v3/apps/{app}/droplets"), &dev).await),
        mine
    );
    assert_eq!(
        listed(
            &server
                .get(&format!("/v3/apps/{app}/droplets?states=FAILED"), &dev)
                .await
        ),
        vec![failed.clone()]
    );
    assert!(
        listed(
            &server
                .get(&format!("/v3/apps/{app}/droplets?current=true"), &dev)
                .await
        )
        .is_empty(),
        "no current droplet yet"
    );
    server
        .get(&format!("/v3/apps/{app}/droplets?current=false"), &dev)
        .await
        .assert_error(400, 10005, "BadQueryParameter", "Current");
    server
        .get(&format!("/v3/apps/{app}/droplets"), &stranger)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");

    assert_eq!(
        listed(
            &server
                .get(&format!("/v3/packages/{package}/droplets"), &dev)
                .await
        ),
        mine
    );
    assert_eq!(
        listed(
            &server
                .get(
                    &format!("/v3/packages/{package}/droplets?states=STAGED"),
                    &dev
                )
                .await
        ),
        vec![staged.clone()]
    );
    server
        .get(&format!("/v3/packages/{package}/droplets"), &stranger)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Package not found");

    // An auditor lists the droplets but not their secrets.
    server
        .grant(AUDITOR, "organization_user", "organization", &org)
        .await;
    server
        .grant(AUDITOR, "space_auditor", "space", &space)
        .await;
    let audited = server
        .get("/v3/droplets?states=STAGED", &server.user_token(AUDITOR))
        .await;
    assert_eq!(listed(&audited), vec![staged.clone()]);
    assert_eq!(
        audited.body["resources"][0]["process_types"],
        json!({"redacted_message": "[PRIVATE DATA HIDDEN]"})
    );
    let as_dev = server.get("/v3/droplets?states=STAGED", &dev).await;
    assert_eq!(
        as_dev.body["resources"][0]["process_types"]["web"],
        "./start.sh"
    );

    // current=true shows exactly the assigned droplet.
    server
        .patch(
            &format!("/v3/apps/{app}/relationships/current_droplet"),
            &dev,
            json!({"data": {"guid": staged}}),
        )
        .await
        .assert_status(200);
    assert_eq!(
        listed(
            &server
                .get(&format!("/v3/apps/{app}/droplets?current=true"), &dev)
                .await
        ),
        vec![staged.clone()]
    );
}

#[tokio::test]
async fn lists_leave_out_droplets_being_staged_but_show_pending_ones() {
    // One staging slot: the sleeper holds it (STAGING) while the next droplet waits (PENDING).
    let server = TestServer::start_with(&[
        ("LADLE_STAGING_SLOTS", "1"),
        ("LADLE_STAGING_TIMEOUT_SECONDS", "4"),
    ])
    .await;
    let sleeper = server.admin_buildpack("sleeper", "limit-sleeper").await;
    let pass = server.admin_buildpack("pass", "detect-pass").await;
    let (_, package) = server.app_with_package(DEV, "plain").await;
    let dev = server.user_token(DEV);
    let path = format!("/v3/packages/{package}/droplets");
    let sleeping = server
        .post(&path, &dev, json!({"buildpack_guid": sleeper}))
        .await;
    sleeping.assert_status(201);
    let sleeping = guid_of(&sleeping.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server
        .get(&format!("/v3/droplets/{sleeping}"), &dev)
        .await
        .body["state"]
        != "STAGING"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the sleeper never started staging"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let waiting = server
        .post(&path, &dev, json!({"buildpack_guid": pass}))
        .await;
    waiting.assert_status(201);
    let waiting = guid_of(&waiting.body);
    assert_eq!(
        server
            .get(&format!("/v3/droplets/{waiting}"), &dev)
            .await
            .body["state"],
        "PENDING"
    );

    let during = server.get("/v3/droplets", &dev).await;
    assert_eq!(
        listed(&during),
        vec![waiting.clone()],
        "STAGING is left out, PENDING is shown"
    );
    assert_eq!(during.body["resources"][0]["state"], "PENDING");
    assert!(listed(&server.get("/v3/droplets?states=STAGING", &dev).await).is_empty());

    server
        .wait_final(&format!("/v3/droplets/{sleeping}"), &dev)
        .await;
    server
        .wait_final(&format!("/v3/droplets/{waiting}"), &dev)
        .await;
    assert_eq!(
        listed(&server.get("/v3/droplets", &dev).await),
        sorted(vec![sleeping, waiting])
    );
}

#[tokio::test]
async fn download_streams_the_staged_droplet_to_those_who_may_read_its_secrets() {
    let server = TestServer::start().await;
    let pass = server.admin_buildpack("pass", "detect-pass").await;
    let fail = server.admin_buildpack("fail", "compile-fail").await;
    let (app, package) = server.app_with_package(DEV, "plain").await;
    let dev = server.user_token(DEV);
    let staged = stage(&server, &dev, &package, &pass).await;
    let guid = guid_of(&staged);

    let response = download(&server, &dev, &guid).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    let bytes = response.bytes().await.unwrap();
    use sha2::Digest as _;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&bytes)),
        staged["checksum"]["value"].as_str().unwrap()
    );
    assert_eq!(
        droplet_files(&bytes)["./app/hello.txt"],
        std::fs::read(crate::support::fixtures().join("apps/plain/hello.txt")).unwrap()
    );

    let space = space_of(&server, &app).await;
    server
        .grant(
            AUDITOR,
            "organization_user",
            "organization",
            &server.org_of(&space).await,
        )
        .await;
    server
        .grant(AUDITOR, "space_auditor", "space", &space)
        .await;
    let audited = Response::read(download(&server, &server.user_token(AUDITOR), &guid).await).await;
    audited.assert_error(403, 10003, "NotAuthorized", "not authorized");
    let stranger =
        Response::read(download(&server, &server.user_token(STRANGER), &guid).await).await;
    stranger.assert_error(404, 10010, "ResourceNotFound", "Droplet not found");
    let missing = Response::read(download(&server, &dev, "no-such-droplet").await).await;
    missing.assert_error(404, 10010, "ResourceNotFound", "Droplet not found");

    let failed = stage(&server, &dev, &package, &fail).await;
    assert_eq!(failed["state"], "FAILED");
    let not_staged = Response::read(download(&server, &dev, &guid_of(&failed)).await).await;
    not_staged.assert_error(
        422,
        10008,
        "UnprocessableEntity",
        "Only staged droplets can be downloaded.",
    );

    // The row outlived its blob (lost storage): a gateway error, not an empty 200.
    server.remove_blob(&format!("droplets/{guid}")).await;
    let lost = Response::read(download(&server, &dev, &guid).await).await;
    lost.assert_error(
        502,
        150006,
        "BlobstoreUnavailable",
        "blobstore unavailability",
    );
}

#[tokio::test]
async fn delete_answers_with_a_job_and_never_removes_the_current_droplet() {
    let server = TestServer::start().await;
    let pass = server.admin_buildpack("pass", "detect-pass").await;
    let (app, package) = server.app_with_package(DEV, "plain").await;
    let dev = server.user_token(DEV);
    let current = guid_of(&stage(&server, &dev, &package, &pass).await);
    let spare = guid_of(&stage(&server, &dev, &package, &pass).await);
    server
        .patch(
            &format!("/v3/apps/{app}/relationships/current_droplet"),
            &dev,
            json!({"data": {"guid": current}}),
        )
        .await
        .assert_status(200);

    let space = space_of(&server, &app).await;
    server
        .grant(
            AUDITOR,
            "organization_user",
            "organization",
            &server.org_of(&space).await,
        )
        .await;
    server
        .grant(AUDITOR, "space_auditor", "space", &space)
        .await;
    let spare_path = format!("/v3/droplets/{spare}");
    server
        .delete(&spare_path, &server.user_token(AUDITOR))
        .await
        .assert_error(403, 10003, "NotAuthorized", "not authorized");
    server
        .delete(&spare_path, &server.user_token(STRANGER))
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Droplet not found");
    server
        .delete(&format!("/v3/droplets/{current}"), &dev)
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            &format!("The droplet is currently used by app with guid \"{app}\"."),
        );
    server
        .get(&format!("/v3/droplets/{current}"), &dev)
        .await
        .assert_status(200);

    let deleted = server.delete(&spare_path, &dev).await;
    assert_job_complete(&server, &dev, &deleted).await;
    server.get(&spare_path, &dev).await.assert_error(
        404,
        10010,
        "ResourceNotFound",
        "Droplet not found",
    );
    assert!(
        !server.has_blob(&format!("droplets/{spare}")).await,
        "the blob goes with the row"
    );
    assert_eq!(
        listed(&server.get(&format!("/v3/apps/{app}/droplets"), &dev).await),
        vec![current]
    );
    server.delete(&spare_path, &dev).await.assert_error(
        404,
        10010,
        "ResourceNotFound",
        "Droplet not found",
    );
}

/// The with-procfile app staged by detect-pass: web and worker come from its Procfile.
async fn procfile_app(server: &TestServer, developer: &str) -> (String, String, String) {
    let pass = server
        .admin_buildpack(&format!("pass-{developer}"), "detect-pass")
        .await;
    let (app, package) = server.app_with_package(developer, "with-procfile").await;
    let staged = stage(server, &server.user_token(developer), &package, &pass).await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
    (app, package, guid_of(&staged))
}

fn procfile_processes() -> Vec<(String, Value)> {
    let procfile =
        std::fs::read_to_string(crate::support::fixtures().join("apps/with-procfile/Procfile"))
            .unwrap();
    let mut types: Vec<(String, Value)> = procfile
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, command)| (name.trim().to_string(), json!(command.trim())))
        .collect();
    types.sort_by(|a, b| a.0.cmp(&b.0));
    types
}

#[tokio::test]
async fn assigning_the_current_droplet_today_syncs_the_apps_processes() {
    let server = TestServer::start().await;
    let (app, package, droplet) = procfile_app(&server, DEV).await;
    let dev = server.user_token(DEV);
    let relationship = format!("/v3/apps/{app}/relationships/current_droplet");
    server.get(&relationship, &dev).await.assert_error(
        404,
        10010,
        "ResourceNotFound",
        "Droplet not found",
    );
    server
        .get(&format!("/v3/apps/{app}/droplets/current"), &dev)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Droplet not found");

    let assigned = server
        .patch(&relationship, &dev, json!({"data": {"guid": droplet}}))
        .await;
    assigned.assert_status(200);
    assert_eq!(assigned.body["data"], json!({"guid": droplet}));
    assert_eq!(
        assigned.body["links"]["self"]["href"],
        format!("{}{relationship}", server.url)
    );
    assert_eq!(
        assigned.body["links"]["related"]["href"],
        format!("{}/v3/apps/{app}/droplets/current", server.url)
    );
    assert_eq!(server.get(&relationship, &dev).await.body, assigned.body);
    let current = server
        .get(&format!("/v3/apps/{app}/droplets/current"), &dev)
        .await;
    current.assert_status(200);
    assert_eq!(current.body["guid"], droplet.as_str());
    assert_eq!(processes(&server, &dev, &app).await, procfile_processes());

    // Refusals, each leaving the current droplet as it was.
    let unable =
        "Unable to assign current droplet. Ensure the droplet exists and belongs to this app.";
    let (_, _, foreign) = procfile_app(&server, OTHER_DEV).await;
    let fail = server.admin_buildpack("fail", "compile-fail").await;
    let failed = stage(&server, &dev, &package, &fail).await;
    for guid in [
        foreign.as_str(),
        guid_of(&failed).as_str(),
        "no-such-droplet",
    ] {
        server
            .patch(&relationship, &dev, json!({"data": {"guid": guid}}))
            .await
            .assert_error(422, 10008, "UnprocessableEntity", unable);
    }
    server
        .patch(&relationship, &dev, json!({}))
        .await
        .assert_error(422, 10008, "UnprocessableEntity", unable);
    server
        .patch(&relationship, &dev, json!({"data": null}))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Current droplet cannot be removed. Replace it with a preferred droplet.",
        );
    server
        .patch(
            &relationship,
            &dev,
            json!({"data": {"guid": droplet}, "extra": 1}),
        )
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Unknown field(s): 'extra'",
        );
    let space = space_of(&server, &app).await;
    server
        .grant(
            AUDITOR,
            "organization_user",
            "organization",
            &server.org_of(&space).await,
        )
        .await;
    server
        .grant(AUDITOR, "space_auditor", "space", &space)
        .await;
    let auditor = server.user_token(AUDITOR);
    server
        .patch(&relationship, &auditor, json!({"data": {"guid": droplet}}))
        .await
        .assert_error(403, 10003, "NotAuthorized", "not authorized");
    assert_eq!(
        server.get(&relationship, &auditor).await.body["data"]["guid"],
        droplet.as_str(),
        "auditors may read it"
    );
    let stranger = server.user_token(STRANGER);
    server
        .patch(&relationship, &stranger, json!({"data": {"guid": droplet}}))
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");
    server.get(&relationship, &stranger).await.assert_error(
        404,
        10010,
        "ResourceNotFound",
        "App not found",
    );
    assert_eq!(
        server.get(&relationship, &dev).await.body["data"]["guid"],
        droplet.as_str()
    );
}

#[tokio::test]
async fn assigning_the_current_droplet_in_2015_answers_with_the_app() {
    let server = TestServer::start().await;
    let (app, package, droplet) = procfile_app(&server, DEV).await;
    let dev = server.user_token(DEV);
    let path = format!("/v3/apps/{app}/current_droplet");

    let assigned = server
        .put(&path, &dev, json!({"desired_droplet_guid": droplet}))
        .await;
    assigned.assert_status(200);
    assert_eq!(assigned.body["guid"], app.as_str());
    assert_eq!(processes(&server, &dev, &app).await, procfile_processes());
    let current = server
        .get(&format!("/v3/apps/{app}/droplets/current"), &dev)
        .await;
    assert_eq!(current.body["guid"], droplet.as_str());

    let (_, _, foreign) = procfile_app(&server, OTHER_DEV).await;
    server
        .put(&path, &dev, json!({"desired_droplet_guid": foreign}))
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Droplet not found");
    server.put(&path, &dev, json!({})).await.assert_error(
        404,
        10010,
        "ResourceNotFound",
        "Droplet not found",
    );
    server
        .put(&path, &dev, json!({"desired_droplet_guid": 7}))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Desired droplet guid must be a string",
        );
    let fail = server.admin_buildpack("fail", "compile-fail").await;
    let failed = guid_of(&stage(&server, &dev, &package, &fail).await);
    server
        .put(&path, &dev, json!({"desired_droplet_guid": failed}))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Unable to assign current droplet.",
        );
    server
        .put(
            &path,
            &server.user_token(STRANGER),
            json!({"desired_droplet_guid": droplet}),
        )
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");
    assert_eq!(
        server
            .get(&format!("/v3/apps/{app}/droplets/current"), &dev)
            .await
            .body["guid"],
        droplet.as_str()
    );
}

/// Stages with the cache-counter buildpack and returns how many stagings its cache has seen.
async fn cache_count(server: &TestServer, token: &str, package: &str, buildpack: &str) -> String {
    let staged = stage(server, token, package, buildpack).await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
    let bytes = download(server, token, &guid_of(&staged))
        .await
        .bytes()
        .await
        .unwrap();
    String::from_utf8(droplet_files(&bytes)["./app/cache-counter"].clone())
        .unwrap()
        .trim()
        .to_string()
}

#[tokio::test]
async fn clearing_the_buildpack_cache_makes_the_next_staging_start_afresh() {
    let server = TestServer::start().await;
    let counter = server.admin_buildpack("counter", "cache-counter").await;
    let (app, package) = server.app_with_package(DEV, "plain").await;
    let dev = server.user_token(DEV);
    assert_eq!(cache_count(&server, &dev, &package, &counter).await, "1");
    assert_eq!(cache_count(&server, &dev, &package, &counter).await, "2");

    let clear = format!("/v3/apps/{app}/actions/clear_buildpack_cache");
    let space = space_of(&server, &app).await;
    server
        .grant(
            AUDITOR,
            "organization_user",
            "organization",
            &server.org_of(&space).await,
        )
        .await;
    server
        .grant(AUDITOR, "space_auditor", "space", &space)
        .await;
    server
        .post(&clear, &server.user_token(AUDITOR), json!({}))
        .await
        .assert_error(403, 10003, "NotAuthorized", "not authorized");
    server
        .post(&clear, &server.user_token(STRANGER), json!({}))
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");
    assert_eq!(
        cache_count(&server, &dev, &package, &counter).await,
        "3",
        "refused clears change nothing"
    );

    let cleared = server.post(&clear, &dev, json!({})).await;
    assert_job_complete(&server, &dev, &cleared).await;
    assert!(!server.has_blob(&format!("build-caches/{app}")).await);
    assert_eq!(cache_count(&server, &dev, &package, &counter).await, "1");
}

/// `POST /v3/droplets?source_guid=`: a staged droplet copied to another app is STAGED there at
/// once, with the same tgz and what staging found; anything else is refused and leaves nothing.
#[tokio::test]
async fn a_staged_droplet_is_copied_to_another_app() {
    let server = TestServer::start().await;
    let pass = server.admin_buildpack("pass", "detect-pass").await;
    let fail = server.admin_buildpack("fail", "compile-fail").await;
    let dev_id = format!("{DEV}-copy");
    let (app, package) = server.app_with_package(&dev_id, "plain").await;
    let dev = server.user_token(&dev_id);
    let staged = stage(&server, &dev, &package, &pass).await;
    let source = guid_of(&staged);
    let space = space_of(&server, &app).await;
    let target = server
        .post(
            "/v3/apps",
            &dev,
            json!({"name": "copy-target", "relationships": {"space": {"data": {"guid": space}}}}),
        )
        .await;
    target.assert_status(201);
    let target = guid_of(&target.body);
    let to_target = json!({"relationships": {"app": {"data": {"guid": target}}}});

    let copied = server
        .post(
            &format!("/v3/droplets?source_guid={source}"),
            &dev,
            to_target.clone(),
        )
        .await;
    copied.assert_status(201);
    let copy = guid_of(&copied.body);
    assert_ne!(copy, source);
    assert_eq!(copied.body["state"], "STAGED");
    assert_eq!(
        copied.body["relationships"]["app"]["data"]["guid"],
        target.as_str()
    );
    for same in [
        "checksum",
        "buildpacks",
        "stack",
        "process_types",
        "execution_metadata",
    ] {
        assert_eq!(copied.body[same], staged[same], "{same}");
    }
    let original = download(&server, &dev, &source)
        .await
        .bytes()
        .await
        .unwrap();
    let response = download(&server, &dev, &copy).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), original);
    // The copy can be the target app's current droplet.
    server
        .patch(
            &format!("/v3/apps/{target}/relationships/current_droplet"),
            &dev,
            json!({"data": {"guid": copy}}),
        )
        .await
        .assert_status(200);

    let failed = guid_of(&stage(&server, &dev, &package, &fail).await);
    let listed_before = listed(
        &server
            .get(&format!("/v3/droplets?app_guids={target}"), &dev)
            .await,
    );
    let auditor_id = format!("{AUDITOR}-copy");
    server
        .grant(
            &auditor_id,
            "organization_user",
            "organization",
            &server.org_of(&space).await,
        )
        .await;
    server
        .grant(&auditor_id, "space_auditor", "space", &space)
        .await;
    let auditor = server.user_token(&auditor_id);
    let stranger = server.user_token(&format!("{STRANGER}-copy"));
    let refusals: [(String, &str, Value, u16, &str); 6] = [
        (
            format!("/v3/droplets?source_guid={failed}"),
            dev.as_str(),
            to_target.clone(),
            422,
            "source droplet is not staged",
        ),
        (
            "/v3/droplets?source_guid=no-such-droplet".into(),
            dev.as_str(),
            to_target.clone(),
            404,
            "Droplet not found",
        ),
        (
            format!("/v3/droplets?source_guid={source}"),
            dev.as_str(),
            json!({"relationships": {"app": {"data": {"guid": "no-such-app"}}}}),
            404,
            "App not found",
        ),
        (
            format!("/v3/droplets?source_guid={source}"),
            auditor.as_str(),
            to_target.clone(),
            403,
            "",
        ),
        (
            format!("/v3/droplets?source_guid={source}"),
            stranger.as_str(),
            to_target.clone(),
            404,
            "Droplet not found",
        ),
        (
            "/v3/droplets".into(),
            dev.as_str(),
            to_target.clone(),
            422,
            "Source guid must be given",
        ),
    ];
    for (path, token, body, status, detail) in refusals {
        let response = server.post(&path, token, body).await;
        assert_eq!(
            response.status.as_u16(),
            status,
            "{path}: {}",
            response.text
        );
        assert!(
            response.text.contains(detail),
            "{path}: {detail:?} not in {}",
            response.text
        );
    }
    let listed_after = listed(
        &server
            .get(&format!("/v3/droplets?app_guids={target}"), &dev)
            .await,
    );
    assert_eq!(listed_after, listed_before, "no refused copy was kept");
    assert_eq!(listed_after, vec![copy]);
}

/// A tree with what a droplet must carry exactly: megabytes of text and of random-looking bytes
/// (several gzip blocks, several unpacking threads), modes, a dotfile, an empty file, a name
/// too long for a tar header, a symlink.
fn varied_app_tree(root: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let write = |rel: &str, bytes: &[u8], mode: u32| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    for i in 0..12u64 {
        let text: String = (0..4000u64)
            .map(|line| {
                format!(
                    "def method_{line}(arg):\n    return compute({}, {i})\n",
                    line * 31 % 977
                )
            })
            .collect();
        write(&format!("src/module_{i}.py"), text.as_bytes(), 0o644);
    }
    for i in 0..6u64 {
        let bytes: Vec<u8> = (0..300_000u64)
            .map(|n| ((n ^ (i << 40)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
            .collect();
        write(&format!("assets/blob_{i}.bin"), &bytes, 0o640);
    }
    write("bin/run", b"#!/bin/sh\nexec ./server\n", 0o755);
    write(".env", b"secret=dev\n", 0o600);
    write("empty", b"", 0o644);
    write(&format!("deep/{}", "n".repeat(120)), b"long name", 0o644);
    std::fs::set_permissions(root.join("assets"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("src", root.join("lib")).unwrap();
}

/// Every path under `root` with its kind, permission bits and contents (a link's target).
fn tree_listing(
    root: &std::path::Path,
) -> std::collections::BTreeMap<String, (char, u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = std::collections::BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let mode = meta.permissions().mode() & 0o7777;
            let seen = if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                ('l', 0, target.to_string_lossy().as_bytes().to_vec())
            } else if meta.is_dir() {
                pending.push(path.clone());
                ('d', mode, Vec::new())
            } else {
                ('f', mode, std::fs::read(&path).unwrap())
            };
            found.insert(rel, seen);
        }
    }
    found
}

#[tokio::test]
async fn a_large_droplet_is_one_gzip_stream_of_the_app_exactly_with_its_digests() {
    use sha1::Digest as _;
    use std::io::Read;
    let server = TestServer::start().await;
    let noop = server.admin_buildpack("noop", "noop").await;
    let (app, _) = server.app_with_package(DEV, "plain").await;
    let dev = server.user_token(DEV);
    let tree = tempfile::tempdir().unwrap();
    varied_app_tree(tree.path());
    let package = server
        .post(
            "/v3/packages",
            &dev,
            json!({"type": "bits", "relationships": {"app": {"data": {"guid": app}}}}),
        )
        .await;
    package.assert_status(201);
    let package = guid_of(&package.body);
    let bits = crate::staging_support::zip_dir(tree.path());
    server
        .upload(&format!("/v3/packages/{package}/upload"), &dev, bits)
        .await
        .assert_status(200);

    let staged = stage(&server, &dev, &package, &noop).await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
    let response = download(&server, &dev, &guid_of(&staged)).await;
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&bytes)),
        staged["checksum"]["value"].as_str().unwrap(),
        "sha256 of the bytes served"
    );
    assert_eq!(staged["checksum"]["type"], "sha256");
    assert_eq!(
        hex::encode(sha1::Sha1::digest(&bytes)),
        staged["hash"].as_str().unwrap(),
        "sha1 of the bytes served"
    );

    // One gzip member: a single-member reader takes all of the tar, and the trailer's length
    // is the whole tar's.
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_end(&mut tar_bytes)
        .unwrap();
    let trailer_len = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().unwrap());
    assert_eq!(tar_bytes.len() as u32, trailer_len, "one gzip member");
    assert!(
        tar_bytes.len() > 3 << 20,
        "{} bytes of tar",
        tar_bytes.len()
    );

    // What `tar xzf` makes of it, as root keeping modes, is the package's tree.
    let out = tempfile::tempdir().unwrap();
    let droplet = out.path().join("droplet.tgz");
    std::fs::write(&droplet, &bytes).unwrap();
    let unpacked = out.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let tar = std::process::Command::new("tar")
        .arg("xzf")
        .arg(&droplet)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap();
    assert!(tar.success(), "tar xzf reads the droplet");
    let expected = tree_listing(tree.path());
    let got = tree_listing(&unpacked.join("app"));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the same paths"
    );
    for (path, (kind, mode, contents)) in &expected {
        let (got_kind, got_mode, got_contents) = &got[path];
        assert_eq!((got_kind, got_mode), (kind, mode), "{path}: kind and mode");
        assert!(got_contents == contents, "{path}: contents");
    }
}
