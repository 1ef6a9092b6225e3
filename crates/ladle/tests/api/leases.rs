//! Leases, retries, the sweep and shutdown, with real processes: `ladle worker`s and
//! `ladle serve`s on one database and blobstore, killed with SIGKILL or stopped with SIGTERM
//! while they stage. A killed worker's data dir is reused by a later worker, which removes the
//! container and mounts the dead one left behind.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::builds::{build_path, post_build};
use crate::staging_recovery::Database;
use crate::support::TestServer;
use crate::worker::Worker;

const DEV: &str = "lease-dev";
/// What the `pause-pass` buildpack logs as its eight-second compile begins.
const PAUSING: &str = "pause-pass pausing";

async fn pausing_app(server: &TestServer) -> (String, String) {
    server.admin_buildpack("pause", "pause-pass").await;
    let (_, package_guid) = server.app_with_package(DEV, "plain").await;
    (server.user_token(DEV), package_guid)
}

/// Starts a build of `package_guid` with the pausing buildpack; its path and droplet guid.
async fn start_build(
    server: &TestServer,
    db: &Database,
    token: &str,
    package_guid: &str,
) -> (String, String) {
    let build = post_build(server, token, package_guid, Some(&["pause"])).await;
    build.assert_status(201);
    let droplet = db
        .droplet_of_build(build.body["guid"].as_str().unwrap())
        .await;
    (build_path(&build.body), droplet)
}

/// The value of the unlabelled sample `name` in a node's `GET /metrics`.
async fn scraped_sample(node_url: &str, name: &str) -> Option<f64> {
    let response = reqwest::Client::new()
        .get(format!("{node_url}/metrics"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200, "GET {node_url}/metrics");
    crate::node::sample(&response.text().await.expect("metrics text"), name)
}

async fn log_lines(db: &Database, droplet_guid: &str, text: &str) -> i64 {
    let (lines,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM staging_logs WHERE droplet_guid = $1 AND line LIKE $2",
    )
    .bind(droplet_guid)
    .bind(format!("%{text}%"))
    .fetch_one(&db.pool)
    .await
    .unwrap();
    lines
}

/// Waits until the staging's `attempt`-th attempt is pausing (up to 120 s).
async fn wait_for_attempt_pausing(db: &Database, droplet_guid: &str, attempt: i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while log_lines(db, droplet_guid, PAUSING).await < attempt {
        assert!(
            std::time::Instant::now() < deadline,
            "attempt {attempt} never started pausing within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clears what a killed worker left behind on its data dir (its container keeps running).
async fn reap(server: &TestServer, data_dir: tempfile::TempDir) {
    let mut cleaner = Worker::start_with(server, &[("LADLE_STAGING_SLOTS", "1")], data_dir);
    // The worker reaps before its slots start; a short wait lets it, then it stops.
    tokio::time::sleep(Duration::from_secs(2)).await;
    cleaner.terminate(Duration::from_secs(30)).await;
}

#[tokio::test]
async fn a_killed_workers_staging_is_claimed_again_after_its_lease_and_staged() {
    let server = TestServer::start_with(&[("LADLE_STAGING_SLOTS", "0")]).await;
    let (token, package_guid) = pausing_app(&server).await;
    let db = Database::open(&server).await;
    let lease = [("LADLE_JOB_LEASE_SECONDS", "3")];
    let first = Worker::start_with(&server, &lease, tempfile::tempdir().unwrap());
    let (path, droplet) = start_build(&server, &db, &token, &package_guid).await;
    wait_for_attempt_pausing(&db, &droplet, 1).await;
    let first_owner = db.staging_job(&droplet).await.lease_owner;
    let dead_dir = first.kill();

    let (_second, second_url) =
        Worker::start_listening(&server, &lease, tempfile::tempdir().unwrap());
    let staged = server.wait_final(&path, &token).await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
    let job = db
        .wait_for_job(&droplet, "COMPLETE", |job| job.state == "COMPLETE")
        .await;
    assert_eq!(job.attempts, 2, "{job:?}");
    assert_eq!(
        scraped_sample(&second_url, "ladle_lease_takeovers_total").await,
        Some(1.0),
        "the node that took the staging over counts it"
    );
    assert_eq!(
        scraped_sample(&server.url, "ladle_lease_takeovers_total").await,
        Some(0.0),
        "the API node took nothing over"
    );
    assert_eq!(
        log_lines(&db, &droplet, PAUSING).await,
        2,
        "the second attempt ran it again"
    );
    assert!(first_owner.is_some());
    reap(&server, dead_dir).await;
}

#[tokio::test]
async fn a_staging_whose_nodes_keep_dying_fails_with_stager_error_after_the_last_attempt() {
    let server = TestServer::start_with(&[("LADLE_STAGING_SLOTS", "0")]).await;
    let (token, package_guid) = pausing_app(&server).await;
    let db = Database::open(&server).await;
    let env = [
        ("LADLE_JOB_LEASE_SECONDS", "2"),
        ("LADLE_JOB_MAX_ATTEMPTS", "2"),
    ];
    let mut worker = Worker::start_with(&server, &env, tempfile::tempdir().unwrap());
    let (path, droplet) = start_build(&server, &db, &token, &package_guid).await;
    for attempt in 1..=2 {
        wait_for_attempt_pausing(&db, &droplet, attempt).await;
        // A node restarted on the same data dir: it clears the dead one's container first.
        worker = Worker::start_with(&server, &env, worker.kill());
    }

    let failed = server.wait_final(&path, &token).await;
    assert_eq!(failed["state"], "FAILED", "{failed}");
    assert_eq!(
        failed["error"],
        "StagerError - Stager error: staging did not finish in 2 attempts: the node running \
         it stopped or lost its lease before it finished"
    );
    let job = db
        .wait_for_job(&droplet, "FAILED", |job| job.state == "FAILED")
        .await;
    assert_eq!(job.attempts, 3, "two attempts, then a claim that gave up");
    assert_eq!(log_lines(&db, &droplet, PAUSING).await, 2);
    worker.terminate(Duration::from_secs(30)).await;
}

#[tokio::test]
async fn a_staging_nobody_finishes_is_swept_with_staging_time_expired() {
    // The API node sweeps: staging timeout 2 s, lease 1 s and grace 2 s. The worker's own
    // timeout is long and its lease outlives the test, so only the sweep can end the staging.
    let server = TestServer::start_with(&[
        ("LADLE_STAGING_SLOTS", "0"),
        ("LADLE_STAGING_TIMEOUT_SECONDS", "2"),
        ("LADLE_JOB_LEASE_SECONDS", "1"),
        ("LADLE_SHUTDOWN_GRACE_SECONDS", "2"),
    ])
    .await;
    let (token, package_guid) = pausing_app(&server).await;
    let db = Database::open(&server).await;
    let worker = Worker::start_with(
        &server,
        &[("LADLE_JOB_LEASE_SECONDS", "600")],
        tempfile::tempdir().unwrap(),
    );
    let (path, droplet) = start_build(&server, &db, &token, &package_guid).await;
    wait_for_attempt_pausing(&db, &droplet, 1).await;
    let dead_dir = worker.kill();

    let failed = server.wait_final(&path, &token).await;
    assert_eq!(failed["state"], "FAILED", "{failed}");
    assert_eq!(
        failed["error"],
        "StagingTimeExpired - Staging time expired: the staging made no progress for 5 seconds \
         (staging timeout, lease and grace); its node stopped or lost it"
    );
    let droplet_view = server.get(&format!("/v3/droplets/{droplet}"), &token).await;
    assert_eq!(droplet_view.body["state"], "FAILED");
    let job = db.staging_job(&droplet).await;
    assert_eq!((job.state.as_str(), job.lease_owner), ("FAILED", None));
    reap(&server, dead_dir).await;
}

#[tokio::test]
async fn sigterm_lets_a_running_staging_finish_within_the_grace_period_and_exits_0() {
    let server = TestServer::start_with(&[("LADLE_STAGING_SLOTS", "0")]).await;
    let (token, package_guid) = pausing_app(&server).await;
    let db = Database::open(&server).await;
    let mut worker = Worker::start_with(
        &server,
        &[("LADLE_SHUTDOWN_GRACE_SECONDS", "90")],
        tempfile::tempdir().unwrap(),
    );
    let (path, droplet) = start_build(&server, &db, &token, &package_guid).await;
    wait_for_attempt_pausing(&db, &droplet, 1).await;

    let status = worker.terminate(Duration::from_secs(120)).await;
    assert!(status.success(), "{status}");
    let staged = server.get(&path, &token).await;
    assert_eq!(
        staged.body["state"], "STAGED",
        "finished before the worker exited"
    );
    let job = db.staging_job(&droplet).await;
    assert_eq!((job.state.as_str(), job.attempts), ("COMPLETE", 1));
}

#[tokio::test]
async fn sigterm_hands_a_staging_still_running_after_the_grace_back_for_another_node_at_once() {
    let server = TestServer::start_with(&[("LADLE_STAGING_SLOTS", "0")]).await;
    let (token, package_guid) = pausing_app(&server).await;
    let db = Database::open(&server).await;
    // A lease far longer than the test: only a hand-back lets another node take the staging.
    let env = [
        ("LADLE_SHUTDOWN_GRACE_SECONDS", "1"),
        ("LADLE_JOB_LEASE_SECONDS", "600"),
    ];
    let mut first = Worker::start_with(&server, &env, tempfile::tempdir().unwrap());
    let (path, droplet) = start_build(&server, &db, &token, &package_guid).await;
    wait_for_attempt_pausing(&db, &droplet, 1).await;

    let status = first.terminate(Duration::from_secs(60)).await;
    assert!(status.success(), "{status}");
    let job = db.staging_job(&droplet).await;
    assert_eq!(
        (job.state.as_str(), job.attempts, job.lease_owner.as_deref()),
        ("QUEUED", 0, None),
        "handed back, the interrupted attempt not counted"
    );
    assert_eq!(server.get(&path, &token).await.body["state"], "STAGING");

    let _second = Worker::start_with(&server, &env, tempfile::tempdir().unwrap());
    let staged = server.wait_final(&path, &token).await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
    let job = db
        .wait_for_job(&droplet, "COMPLETE", |job| job.state == "COMPLETE")
        .await;
    assert_eq!(job.attempts, 1);
}

async fn sha256_of_download(server: &TestServer, path: &str, token: &str) -> String {
    let response = server
        .client
        .get(format!("{}{path}", server.url))
        .bearer_auth(token)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), 200, "{path}");
    let bytes = response.bytes().await.expect("download body");
    hex::encode(Sha256::digest(&bytes))
}

#[tokio::test]
async fn restarting_every_node_keeps_everything_downloadable_with_matching_checksums() {
    let server = TestServer::start_with(&[("LADLE_STAGING_SLOTS", "0")]).await;
    server.admin_buildpack("noop", "noop").await;
    let (app_guid, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let mut worker = Worker::start(&server);
    let build = post_build(&server, &token, &package_guid, Some(&["noop"])).await;
    build.assert_status(201);
    let staged = server.wait_final(&build_path(&build.body), &token).await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
    let droplet_guid = staged["droplet"]["guid"].as_str().unwrap().to_string();
    let package_path = format!("/v3/packages/{package_guid}/download");
    let droplet_path = format!("/v3/droplets/{droplet_guid}/download");
    let package_sha = sha256_of_download(&server, &package_path, &token).await;
    let droplet_sha = sha256_of_download(&server, &droplet_path, &token).await;
    let droplet_before = server
        .get(&format!("/v3/droplets/{droplet_guid}"), &token)
        .await;
    assert_eq!(droplet_before.body["checksum"]["value"], droplet_sha);

    let status = worker.terminate(Duration::from_secs(60)).await;
    assert!(
        status.success(),
        "the worker exited with {status} on SIGTERM"
    );
    let server = server
        .restart(&[("LADLE_STAGING_SLOTS", "0")], Duration::from_secs(60))
        .await;
    let _worker = Worker::start(&server);

    let token = server.user_token(DEV);
    assert_eq!(
        sha256_of_download(&server, &package_path, &token).await,
        package_sha
    );
    assert_eq!(
        sha256_of_download(&server, &droplet_path, &token).await,
        droplet_sha
    );
    let droplet_after = server
        .get(&format!("/v3/droplets/{droplet_guid}"), &token)
        .await;
    // The same droplet (links name the new node's port).
    for field in [
        "state",
        "checksum",
        "hash",
        "process_types",
        "buildpacks",
        "created_at",
    ] {
        assert_eq!(
            droplet_after.body[field], droplet_before.body[field],
            "{field}"
        );
    }
    let app = server.get(&format!("/v3/apps/{app_guid}"), &token).await;
    app.assert_status(200);
    let package = server
        .get(&format!("/v3/packages/{package_guid}"), &token)
        .await;
    assert_eq!(package.body["state"], "READY");
    // And the restarted cluster stages.
    let again = post_build(&server, &token, &package_guid, Some(&["noop"])).await;
    again.assert_status(201);
    let staged = server.wait_final(&build_path(&again.body), &token).await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
}
