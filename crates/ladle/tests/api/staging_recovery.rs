//! Stagings that can never wedge. Each way a staging attempt can fail once its droplet is
//! STAGING (creating the input folder, recording the outcome, removing a deleted droplet's blob)
//! is forced on a real server: the attempt is retried, the last one fails the droplet and its
//! build with StagerError and the cause, and the app can build again. The test reads and, to
//! refuse writes, changes the server's own database. (Panics, the lease and a job claimed once
//! too often are forced in `src/jobs/tests.rs`.)

use std::time::{Duration, Instant};

use sqlx::AnyPool;

use crate::builds::{build_path, post_build};
use crate::support::{ServerOptions, TestServer};
use crate::worker::Worker;

const DEV: &str = "recovery-dev";
const REFUSAL: &str = "refused by the test trigger";
const ATTEMPTS: i64 = 3;

/// The server's database, opened beside it.
pub struct Database {
    pub pool: AnyPool,
    postgres: bool,
}

#[derive(Debug, sqlx::FromRow)]
pub struct StagingJob {
    pub state: String,
    pub attempts: i64,
    pub errors: String,
    pub lease_owner: Option<String>,
}

impl Database {
    pub async fn open(server: &TestServer) -> Database {
        Database::connect(&server.database_url).await
    }

    /// A database the test named to the server itself (`DATABASE_URL` in its environment).
    pub async fn connect(url: &str) -> Database {
        let pool = ladle::db::connect(url)
            .await
            .expect("open the server's database");
        Database {
            pool,
            postgres: url.starts_with("postgres"),
        }
    }

    pub async fn droplet_of_build(&self, build_guid: &str) -> String {
        let (droplet,): (String,) =
            sqlx::query_as("SELECT droplet_guid FROM builds WHERE guid = $1")
                .bind(build_guid)
                .fetch_one(&self.pool)
                .await
                .expect("the build's droplet");
        droplet
    }

    pub async fn staging_job(&self, droplet_guid: &str) -> StagingJob {
        sqlx::query_as(
            "SELECT state, attempts, errors, lease_owner FROM jobs \
             WHERE kind = 'staging' AND resource_guid = $1",
        )
        .bind(droplet_guid)
        .fetch_one(&self.pool)
        .await
        .expect("the droplet's staging job")
    }

    /// Polls the droplet's staging job until `done` holds, up to 120 s.
    pub async fn wait_for_job(
        &self,
        droplet_guid: &str,
        what: &str,
        done: impl Fn(&StagingJob) -> bool,
    ) -> StagingJob {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let job = self.staging_job(droplet_guid).await;
            if done(&job) {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "staging job never {what} within 120 s: {job:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls the droplet's staging log until a line contains `text`, up to 120 s.
    pub async fn wait_for_log_line(&self, droplet_guid: &str, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (lines,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM staging_logs WHERE droplet_guid = $1 AND line LIKE $2",
            )
            .bind(droplet_guid)
            .bind(format!("%{text}%"))
            .fetch_one(&self.pool)
            .await
            .unwrap();
            if lines > 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the staging never logged {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// From now on the database refuses to change a droplet's state to any of `states`.
    async fn refuse_droplet_states(&self, states: &[&str]) {
        let states = states
            .iter()
            .map(|state| format!("'{state}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let statements = if self.postgres {
            vec![
                format!(
                    "CREATE FUNCTION refuse_droplet_state() RETURNS trigger LANGUAGE plpgsql \
                     AS $$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$"
                ),
                format!(
                    "CREATE TRIGGER refuse_droplet_state BEFORE UPDATE OF state ON droplets \
                     FOR EACH ROW WHEN (NEW.state IN ({states})) \
                     EXECUTE FUNCTION refuse_droplet_state()"
                ),
            ]
        } else {
            vec![format!(
                "CREATE TRIGGER refuse_droplet_state BEFORE UPDATE OF state ON droplets \
                 WHEN NEW.state IN ({states}) BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
            )]
        };
        for statement in statements {
            sqlx::query(&statement)
                .execute(&self.pool)
                .await
                .expect("install the trigger");
        }
    }

    async fn allow_droplet_states(&self) {
        let statement = if self.postgres {
            "DROP TRIGGER refuse_droplet_state ON droplets"
        } else {
            "DROP TRIGGER refuse_droplet_state"
        };
        sqlx::query(statement)
            .execute(&self.pool)
            .await
            .expect("drop the trigger");
    }
}

/// A new build of the app's package is accepted (no build of the app is stuck STAGING) and
/// stages.
async fn assert_builds_again(server: &TestServer, token: &str, package_guid: &str) {
    let next = post_build(server, token, package_guid, Some(&["noop"])).await;
    next.assert_status(201);
    let staged = server.wait_final(&build_path(&next.body), token).await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
}

fn guid(body: &serde_json::Value) -> String {
    body["guid"].as_str().expect("guid").to_string()
}

#[tokio::test]
async fn an_input_folder_that_cannot_be_created_fails_the_build_with_the_cause_after_three_attempts(
) {
    let server = TestServer::start().await;
    server.admin_buildpack("noop", "noop").await;
    let (_, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let db = Database::open(&server).await;
    let inputs = server.data_dir.path().join("staging-inputs");
    std::fs::write(&inputs, "a file where the staging inputs folder belongs").unwrap();

    let build = post_build(&server, &token, &package_guid, Some(&["noop"])).await;
    build.assert_status(201);
    let failed = server.wait_final(&build_path(&build.body), &token).await;
    assert_eq!(failed["state"], "FAILED", "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.starts_with("StagerError - Stager error: cannot create ")
            && error.contains("staging-inputs")
            && error.contains("Not a directory"),
        "{error}"
    );
    let droplet_guid = db.droplet_of_build(&guid(&build.body)).await;
    let droplet = server
        .get(&format!("/v3/droplets/{droplet_guid}"), &token)
        .await;
    assert_eq!(droplet.body["state"], "FAILED");
    assert_eq!(droplet.body["error"], error);
    // The runner finishes the job just after it records the outcome.
    let job = db
        .wait_for_job(&droplet_guid, "FAILED", |job| job.state == "FAILED")
        .await;
    assert_eq!(job.attempts, ATTEMPTS);

    std::fs::remove_file(&inputs).unwrap();
    assert_builds_again(&server, &token, &package_guid).await;
}

#[tokio::test]
async fn an_outcome_that_cannot_be_recorded_is_retried_and_the_retry_stages() {
    let server = TestServer::start().await;
    server.admin_buildpack("noop", "noop").await;
    let (_, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let db = Database::open(&server).await;
    db.refuse_droplet_states(&["STAGED"]).await;

    let build = post_build(&server, &token, &package_guid, Some(&["noop"])).await;
    build.assert_status(201);
    let droplet_guid = db.droplet_of_build(&guid(&build.body)).await;
    let released = db
        .wait_for_job(&droplet_guid, "released after its first attempt", |job| {
            job.state == "QUEUED" && job.attempts == 1
        })
        .await;
    assert!(
        released
            .errors
            .contains("cannot record the staging's outcome")
            && released.errors.contains(REFUSAL),
        "{released:?}"
    );
    db.allow_droplet_states().await;

    let staged = server.wait_final(&build_path(&build.body), &token).await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
    assert_eq!(staged["droplet"]["guid"], droplet_guid);
    // The runner finishes the job just after it records the outcome.
    let job = db
        .wait_for_job(&droplet_guid, "COMPLETE", |job| job.state == "COMPLETE")
        .await;
    assert_eq!(job.attempts, 2);
}

#[tokio::test]
async fn a_staging_whose_failure_cannot_be_recorded_either_stays_queued_until_it_can_be() {
    let server = TestServer::start().await;
    server.admin_buildpack("noop", "noop").await;
    let (_, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let db = Database::open(&server).await;
    db.refuse_droplet_states(&["STAGED", "FAILED"]).await;

    let build = post_build(&server, &token, &package_guid, Some(&["noop"])).await;
    build.assert_status(201);
    let path = build_path(&build.body);
    let droplet_guid = db.droplet_of_build(&guid(&build.body)).await;
    // Past the last attempt, a claim only tries to record the failure, and cannot either.
    db.wait_for_job(
        &droplet_guid,
        "queued again after its fourth claim",
        |job| job.state == "QUEUED" && job.attempts > ATTEMPTS,
    )
    .await;
    assert_eq!(server.get(&path, &token).await.body["state"], "STAGING");
    db.allow_droplet_states().await;

    let failed = server.wait_final(&path, &token).await;
    assert_eq!(failed["state"], "FAILED", "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "StagerError - Stager error: staging did not finish in 3 attempts: \
             cannot record the staging's outcome: "
        ) && error.contains(REFUSAL),
        "{error}"
    );
    let droplet = server
        .get(&format!("/v3/droplets/{droplet_guid}"), &token)
        .await;
    assert_eq!(droplet.body["state"], "FAILED");
    assert_eq!(droplet.body["error"], error);
    let job = db
        .wait_for_job(&droplet_guid, "FAILED", |job| job.state == "FAILED")
        .await;
    assert!(job.attempts > ATTEMPTS, "{job:?}");
    assert_builds_again(&server, &token, &package_guid).await;
}

#[tokio::test]
async fn a_build_whose_droplet_is_deleted_while_it_stages_fails_even_if_the_blob_cannot_be_removed()
{
    // A local blobstore even in the suite's S3 pass: the fault is a folder in the way.
    let data_dir = tempfile::tempdir().unwrap();
    let blobs = data_dir.path().join("blobs").display().to_string();
    let server = TestServer::start_with_options(ServerOptions {
        env: &[
            ("LADLE_STAGING_TIMEOUT_SECONDS", "5"),
            ("LADLE_BLOBSTORE", &blobs),
        ],
        data_dir: Some(data_dir),
        ..ServerOptions::default()
    })
    .await;
    server.admin_buildpack("sleeper", "limit-sleeper").await;
    server.admin_buildpack("noop", "noop").await;
    let (_, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let db = Database::open(&server).await;

    let build = post_build(&server, &token, &package_guid, Some(&["sleeper"])).await;
    build.assert_status(201);
    let droplet_guid = db.droplet_of_build(&guid(&build.body)).await;
    // A folder where the droplet's blob would be: the blobstore cannot delete it.
    let blob = server
        .data_dir
        .path()
        .join("blobs/droplets")
        .join(&droplet_guid);
    std::fs::create_dir_all(blob.join("in-the-way")).unwrap();
    db.wait_for_log_line(&droplet_guid, "sleeping for ten minutes")
        .await;
    server
        .delete(&format!("/v3/droplets/{droplet_guid}"), &token)
        .await
        .assert_status(202);

    let failed = server.wait_final(&build_path(&build.body), &token).await;
    assert_eq!(failed["state"], "FAILED", "{failed}");
    assert_eq!(
        failed["error"],
        "StagerError - Stager error: the droplet was deleted before its staging finished"
    );
    let job = db
        .wait_for_job(&droplet_guid, "FAILED", |job| job.state == "FAILED")
        .await;
    assert_eq!(job.attempts, ATTEMPTS);
    assert!(
        job.errors
            .contains("cannot remove the blob of the deleted droplet"),
        "{job:?}"
    );
    assert!(blob.exists(), "nothing else removed the folder");
    assert_builds_again(&server, &token, &package_guid).await;
}

#[tokio::test]
async fn a_build_whose_droplet_is_deleted_before_its_staging_starts_fails() {
    let server = TestServer::start_with(&[("LADLE_STAGING_SLOTS", "0")]).await;
    server.admin_buildpack("noop", "noop").await;
    let (_, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let db = Database::open(&server).await;

    let build = post_build(&server, &token, &package_guid, Some(&["noop"])).await;
    build.assert_status(201);
    let droplet_guid = db.droplet_of_build(&guid(&build.body)).await;
    server
        .delete(&format!("/v3/droplets/{droplet_guid}"), &token)
        .await
        .assert_status(202);
    post_build(&server, &token, &package_guid, Some(&["noop"]))
        .await
        .assert_error(
            422,
            170017,
            "StagingInProgress",
            "Only one build can be STAGING at a time per application.",
        );

    let _worker = Worker::start(&server);
    let failed = server.wait_final(&build_path(&build.body), &token).await;
    assert_eq!(failed["state"], "FAILED", "{failed}");
    assert_eq!(
        failed["error"],
        "StagerError - Stager error: the droplet was deleted before its staging finished"
    );
    let job = db
        .wait_for_job(&droplet_guid, "COMPLETE", |job| job.state == "COMPLETE")
        .await;
    assert_eq!(job.attempts, 1);
    assert_builds_again(&server, &token, &package_guid).await;
}
