//! The staging runner against a real database: SQLite, or a fresh PostgreSQL database when
//! `LADLE_TEST_DATABASE_URL` names a server (as the HTTP suite does). What no HTTP request can
//! cause (a panic, a job claimed once too often, a dropped heartbeat) is forced here; the
//! failures a request can cause are in the HTTP suite (`tests/api/staging_recovery.rs`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::runner;
use super::staging::{test_hooks, StagingContext};
use crate::config::ServeArgs;
use crate::db::job_queue::{self as queue, STAGING};
use crate::db::{self, packages, DbPool};
use crate::server::Server;
use clap::Parser;
use ladle_stager::{ExecutorChoice, Stager, StagerConfig};

/// The defaults of `LADLE_JOB_MAX_ATTEMPTS` and `LADLE_JOB_LEASE_SECONDS`.
const MAX_ATTEMPTS: i64 = 3;
const LEASE: Duration = Duration::from_secs(30);

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

/// A node's state and stager on a fresh database and data dir, without HTTP or staging slots.
struct Node {
    ctx: StagingContext,
    _data_dir: tempfile::TempDir,
    _database: TestDatabase,
}

impl Node {
    async fn start() -> Node {
        let data_dir = tempfile::tempdir().expect("temp data dir");
        let database = TestDatabase::create(data_dir.path());
        let cli = Cli::try_parse_from([
            "ladle".to_string(),
            "--listen=127.0.0.1:0".to_string(),
            format!("--data-dir={}", data_dir.path().display()),
            format!("--database-url={}", database.url),
            "--token-secret=staging-runner-tests".to_string(),
        ])
        .expect("serve arguments");
        let state = Server::build(&cli.serve).await.expect("server state").state;
        let mut stager_config = StagerConfig::new(ladle_builder(), data_dir.path().join("staging"));
        stager_config.executor = ExecutorChoice::Process;
        let stager = Arc::new(Stager::new(stager_config).expect("stager"));
        Node {
            ctx: StagingContext { state, stager },
            _data_dir: data_dir,
            _database: database,
        }
    }

    fn db(&self) -> &DbPool {
        &self.ctx.state.db
    }

    /// Staging slots, stopped when dropped.
    fn slots(&self, count: usize) -> runner::Slots {
        runner::spawn_slots(self.ctx.clone(), count)
    }

    /// An app with a STAGING build and droplet, as `POST /v3/builds` leaves them, and the
    /// droplet's staging job. The package has no blob: a staging that gets as far as fetching
    /// it fails (as an outcome) with StagerError.
    async fn staging_build(&self) -> Staging {
        let db = self.db();
        let (org, space, app) = (db::new_guid(), db::new_guid(), db::new_guid());
        let (droplet, build) = (db::new_guid().into_string(), db::new_guid().into_string());
        let now = db::now();
        let mut tx = db.begin().await.unwrap();
        sqlx::query("INSERT INTO organizations (guid, name, created_at) VALUES ($1, $1, $2)")
            .bind(&org)
            .bind(&now)
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO spaces (guid, name, organization_guid, created_at) VALUES ($1, 'dev', $2, $3)",
        )
        .bind(&space)
        .bind(&org)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO apps (guid, name, space_guid, created_at) VALUES ($1, 'app', $2, $3)",
        )
        .bind(&app)
        .bind(&space)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO droplets (guid, app_guid, package_guid, build_guid, state, memory_limit_mb, \
             disk_limit_mb, created_at) VALUES ($1, $2, $3, $4, 'STAGING', 1024, 4096, $5)",
        )
        .bind(&droplet)
        .bind(&app)
        .bind(db::new_guid())
        .bind(&build)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO builds (guid, app_guid, package_guid, droplet_guid, state, lifecycle, \
             staging_memory_in_mb, staging_disk_in_mb, created_by, created_at) \
             VALUES ($1, $2, $3, $4, 'STAGING', '{}', 1024, 4096, '{}', $5)",
        )
        .bind(&build)
        .bind(&app)
        .bind(db::new_guid())
        .bind(&droplet)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .unwrap();
        let job = queue::enqueue(
            &mut tx,
            STAGING,
            "droplet.stage",
            &droplet,
            &serde_json::json!({}),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        Staging {
            droplet,
            build,
            job: job.into_string(),
        }
    }

    async fn droplet(&self, guid: &str) -> (String, Option<String>, Option<String>) {
        sqlx::query_as("SELECT state, error_id, error_message FROM droplets WHERE guid = $1")
            .bind(guid)
            .fetch_one(self.db())
            .await
            .unwrap()
    }

    async fn build(&self, guid: &str) -> (String, Option<String>) {
        sqlx::query_as("SELECT state, error FROM builds WHERE guid = $1")
            .bind(guid)
            .fetch_one(self.db())
            .await
            .unwrap()
    }

    async fn job(&self, guid: &str) -> crate::db::jobs::JobRecord {
        crate::db::jobs::find(self.db(), guid)
            .await
            .unwrap()
            .expect("job")
    }

    /// Polls until the droplet is no longer STAGING, up to 60 s.
    async fn wait_until_final(&self, droplet: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.droplet(droplet).await.0 == "STAGING" {
            assert!(
                Instant::now() < deadline,
                "droplet {droplet} still STAGING after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_for_job_state(&self, job: &str, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.job(job).await.state.as_str() != state {
            assert!(
                Instant::now() < deadline,
                "job {job} not {state} after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

struct Staging {
    droplet: String,
    build: String,
    job: String,
}

/// `ladle-builder` as built next to this test binary (`target/<profile>/ladle-builder`).
fn ladle_builder() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let builder = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join("ladle-builder");
    assert!(
        builder.exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        builder.display()
    );
    builder
}

/// SQLite in the data dir, or a fresh PostgreSQL database dropped afterwards.
struct TestDatabase {
    url: String,
    postgres_server: Option<String>,
}

impl TestDatabase {
    fn create(data_dir: &std::path::Path) -> TestDatabase {
        let Ok(server) = std::env::var("LADLE_TEST_DATABASE_URL") else {
            return TestDatabase {
                url: format!("sqlite://{}?mode=rwc", data_dir.join("ladle.db").display()),
                postgres_server: None,
            };
        };
        let name = format!("ladle_test_{}", uuid::Uuid::new_v4().simple());
        psql(&server, &format!("CREATE DATABASE {name}"));
        let (prefix, _) = server.rsplit_once('/').expect("database url with a path");
        TestDatabase {
            url: format!("{prefix}/{name}"),
            postgres_server: Some(server),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let (Some(server), Some((_, name))) = (&self.postgres_server, self.url.rsplit_once('/'))
        {
            psql(
                server,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
    }
}

fn psql(server: &str, sql: &str) {
    let status = Command::new("psql")
        .arg(server)
        .arg("-qc")
        .arg(sql)
        .stdout(Stdio::null())
        .status()
        .expect("psql");
    assert!(status.success(), "psql failed: {sql}");
}

#[tokio::test]
async fn a_panicking_staging_is_retried_then_fails_its_droplet_and_build_and_the_slot_carries_on() {
    let node = Node::start().await;
    let doomed = node.staging_build().await;
    test_hooks::PANIC_WHILE_STAGING
        .lock()
        .unwrap()
        .push(doomed.droplet.clone());
    let slots = node.slots(1);

    node.wait_until_final(&doomed.droplet).await;
    let cause = format!(
        "the staging panicked: a test asked the staging of {} to panic",
        doomed.droplet
    );
    let (state, error_id, message) = node.droplet(&doomed.droplet).await;
    assert_eq!(state, "FAILED");
    assert_eq!(error_id.as_deref(), Some("StagerError"));
    assert_eq!(message, Some(format!("Stager error: {cause}")));
    assert_eq!(
        node.build(&doomed.build).await,
        (
            "FAILED".to_string(),
            Some(format!("StagerError - Stager error: {cause}"))
        )
    );
    node.wait_for_job_state(&doomed.job, "FAILED").await;
    let job = node.job(&doomed.job).await;
    assert_eq!(job.attempts, MAX_ATTEMPTS, "one slot made every attempt");
    assert!(job.errors.contains("panicked"), "{}", job.errors);
    assert_eq!(job.lease_owner, None, "nobody holds the lease");
    assert_eq!(job.lease_expires_at, None);

    // The one slot survived three panics and stages the next job.
    assert_eq!(slots.running(), 1, "the slot ended");
    let next = node.staging_build().await;
    node.wait_for_job_state(&next.job, "COMPLETE").await;
    let (state, error_id, message) = node.droplet(&next.droplet).await;
    assert_eq!(
        (state.as_str(), error_id.as_deref()),
        ("FAILED", Some("StagerError"))
    );
    assert!(
        message.unwrap().contains("cannot fetch the package"),
        "the next staging ran to its own outcome"
    );
    assert_eq!(node.job(&next.job).await.attempts, 1);
}

#[tokio::test]
async fn a_job_claimed_once_too_often_fails_with_the_last_recorded_cause() {
    let node = Node::start().await;
    let staging = node.staging_build().await;
    // As a node that died in the last attempt leaves it, after earlier attempts failed.
    sqlx::query(
        "UPDATE jobs SET state = 'RUNNING', attempts = $1, lease_owner = 'a-dead-node/0', \
         lease_expires_at = $2, errors = $3 WHERE guid = $4",
    )
    .bind(MAX_ATTEMPTS)
    .bind(db::now())
    .bind(r#"[{"detail":"cannot create /data/staging-inputs/x: Not a directory"}]"#)
    .bind(&staging.job)
    .execute(node.db())
    .await
    .unwrap();
    let _slots = node.slots(1);

    node.wait_until_final(&staging.droplet).await;
    let cause = "staging did not finish in 3 attempts: \
                 cannot create /data/staging-inputs/x: Not a directory";
    let (state, error_id, message) = node.droplet(&staging.droplet).await;
    assert_eq!(
        (state.as_str(), error_id.as_deref()),
        ("FAILED", Some("StagerError"))
    );
    assert_eq!(message, Some(format!("Stager error: {cause}")));
    assert_eq!(
        node.build(&staging.build).await,
        (
            "FAILED".to_string(),
            Some(format!("StagerError - Stager error: {cause}"))
        )
    );
    node.wait_for_job_state(&staging.job, "FAILED").await;
    let job = node.job(&staging.job).await;
    assert_eq!(job.attempts, MAX_ATTEMPTS + 1);
    assert!(job.errors.contains(cause), "{}", job.errors);
}

#[tokio::test]
async fn a_released_job_waits_out_its_backoff_and_keeps_its_cause() {
    let node = Node::start().await;
    let staging = node.staging_build().await;
    let claimed = queue::claim(node.db(), STAGING, "node-a/0", LEASE)
        .await
        .unwrap()
        .expect("claimable");
    assert_eq!((claimed.attempts, claimed.last_error()), (1, None));
    assert!(
        !queue::release(
            node.db(),
            &claimed.guid,
            "node-b/0",
            Some("x"),
            Duration::ZERO
        )
        .await
        .unwrap(),
        "only the lease owner releases"
    );
    let backoff = Duration::from_millis(700);
    let released_at = Instant::now();
    assert!(queue::release(
        node.db(),
        &claimed.guid,
        "node-a/0",
        Some("disk full"),
        backoff
    )
    .await
    .unwrap());
    assert_eq!(node.job(&staging.job).await.state.as_str(), "QUEUED");
    let deadline = released_at + Duration::from_secs(30);
    let again = loop {
        if let Some(job) = queue::claim(node.db(), STAGING, "node-b/0", LEASE)
            .await
            .unwrap()
        {
            break job;
        }
        assert!(Instant::now() < deadline, "never claimable again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        released_at.elapsed() >= backoff,
        "claimed again after {:?}, before the backoff ended",
        released_at.elapsed()
    );
    assert_eq!(again.guid, staging.job);
    assert_eq!(again.attempts, 2);
    assert_eq!(again.last_error().as_deref(), Some("disk full"));
    assert!(
        !claimed.taken_over && !again.taken_over,
        "a released job is claimed, not taken over"
    );
}

#[tokio::test]
async fn a_claim_of_a_job_whose_lease_expired_says_it_took_it_over() {
    let node = Node::start().await;
    let staging = node.staging_build().await;
    let short = Duration::from_millis(300);
    let first = queue::claim(node.db(), STAGING, "node-a/0", short)
        .await
        .unwrap()
        .expect("claimable");
    assert!(!first.taken_over, "a queued job is nobody's");
    assert!(
        queue::claim(node.db(), STAGING, "node-b/0", LEASE)
            .await
            .unwrap()
            .is_none(),
        "claimable only once the lease has expired"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let taken = loop {
        if let Some(job) = queue::claim(node.db(), STAGING, "node-b/0", LEASE)
            .await
            .unwrap()
        {
            break job;
        }
        assert!(Instant::now() < deadline, "never claimable after the lease");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        (taken.guid.into_string(), taken.attempts, taken.taken_over),
        (staging.job.clone(), 2, true)
    );
    assert_eq!(
        node.job(&staging.job).await.lease_owner.as_deref(),
        Some("node-b/0")
    );
}

#[tokio::test]
async fn dropping_the_heartbeat_stops_the_lease_renewals() {
    let node = Node::start().await;
    node.staging_build().await;
    let job = queue::claim(node.db(), STAGING, "node-a/0", LEASE)
        .await
        .unwrap()
        .expect("claimable");
    let lease = || async { node.job(&job.guid).await.lease_expires_at };
    let claimed_lease = lease().await;
    let heartbeat =
        runner::start_heartbeat(node.db(), &job.guid, "node-a/0", Duration::from_millis(60));
    let deadline = Instant::now() + Duration::from_secs(30);
    while lease().await == claimed_lease {
        assert!(Instant::now() < deadline, "the heartbeat never renewed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(heartbeat);
    // A renewal already sent when the handle dropped may still land.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after_drop = lease().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        lease().await,
        after_drop,
        "the lease was renewed after the heartbeat was dropped"
    );
}

#[tokio::test]
async fn concurrent_claimers_never_claim_one_job_twice_and_drain_the_queue() {
    let node = Node::start().await;
    let mut queued = Vec::new();
    for _ in 0..24 {
        queued.push(node.staging_build().await.job);
    }
    // Each claimer stops at its first empty answer: a claim that lost a race must look again
    // rather than report an empty queue while jobs remain.
    let claimers = (0..8).map(|claimer| {
        let db = node.db().clone();
        tokio::spawn(async move {
            let owner = format!("node-{claimer}/0");
            let mut claimed = Vec::new();
            while let Some(job) = queue::claim(&db, STAGING, &owner, LEASE).await.unwrap() {
                claimed.push(job.guid.into_string());
            }
            claimed
        })
    });
    let mut claimed: Vec<String> = futures::future::join_all(claimers)
        .await
        .into_iter()
        .flat_map(|claims| claims.unwrap())
        .collect();
    claimed.sort();
    queued.sort();
    assert_eq!(claimed, queued, "every job claimed exactly once");
    for job in &queued {
        assert_eq!(node.job(job).await.attempts, 1, "job {job} claimed twice");
    }
}

#[tokio::test]
async fn a_handed_back_job_is_claimable_at_once_without_counting_the_attempt() {
    let node = Node::start().await;
    let staging = node.staging_build().await;
    let claimed = queue::claim(node.db(), STAGING, "node-a/0", LEASE)
        .await
        .unwrap()
        .expect("claimable");
    assert!(
        !queue::hand_back(node.db(), &claimed.guid, "node-b/0")
            .await
            .unwrap(),
        "only the lease owner hands back"
    );
    assert!(queue::hand_back(node.db(), &claimed.guid, "node-a/0")
        .await
        .unwrap());
    let job = node.job(&staging.job).await;
    assert_eq!(
        (
            job.state.as_str(),
            job.attempts,
            job.lease_owner,
            job.lease_expires_at
        ),
        ("QUEUED", 0, None, None)
    );
    let again = queue::claim(node.db(), STAGING, "node-b/0", LEASE)
        .await
        .unwrap()
        .expect("claimable at once, not after the lease");
    assert!(
        !again.taken_over,
        "a handed-back job is claimed, not taken over"
    );
    assert_eq!((again.guid.into_string(), again.attempts), (staging.job, 1));
}

#[tokio::test]
async fn a_job_finished_by_someone_else_is_not_finished_again_by_its_old_owner() {
    let node = Node::start().await;
    let staging = node.staging_build().await;
    let claimed = queue::claim(node.db(), STAGING, "node-a/0", LEASE)
        .await
        .unwrap()
        .expect("claimable");
    queue::finish_abandoned(node.db(), &claimed.guid, "swept")
        .await
        .unwrap();
    queue::finish(node.db(), &claimed.guid, "node-a/0", None)
        .await
        .unwrap();
    let job = node.job(&staging.job).await;
    assert_eq!(job.state.as_str(), "FAILED");
    assert!(job.errors.contains("swept"), "{}", job.errors);
}

#[tokio::test]
async fn finished_jobs_older_than_the_retention_are_pruned_and_others_kept() {
    let node = Node::start().await;
    let old_done = node.staging_build().await.job;
    let old_queued = node.staging_build().await.job;
    let recent_done = node.staging_build().await.job;
    let long_ago = "2000-01-01T00:00:00.000000Z";
    for (job, state, at) in [
        (&old_done, "COMPLETE", long_ago.to_string()),
        (&old_queued, "QUEUED", long_ago.to_string()),
        (&recent_done, "FAILED", db::now()),
    ] {
        sqlx::query("UPDATE jobs SET state = $1, updated_at = $2, created_at = $2 WHERE guid = $3")
            .bind(state)
            .bind(at)
            .bind(job)
            .execute(node.db())
            .await
            .unwrap();
    }
    assert_eq!(super::sweep::prune_jobs(&node.ctx.state).await.unwrap(), 1);
    assert!(crate::db::jobs::find(node.db(), &old_done)
        .await
        .unwrap()
        .is_none());
    node.job(&old_queued).await;
    node.job(&recent_done).await;
}

#[tokio::test]
async fn the_sweep_fails_a_staging_whose_job_is_lost_and_leaves_a_queued_one_waiting() {
    let node = Node::start().await;
    let queued = node.staging_build().await;
    let lost = node.staging_build().await;
    let long_ago = "2000-01-01T00:00:00.000000Z";
    for staging in [&queued, &lost] {
        sqlx::query("UPDATE droplets SET created_at = $1, updated_at = $1 WHERE guid = $2")
            .bind(long_ago)
            .bind(&staging.droplet)
            .execute(node.db())
            .await
            .unwrap();
        sqlx::query("UPDATE jobs SET created_at = $1 WHERE guid = $2")
            .bind(long_ago)
            .bind(&staging.job)
            .execute(node.db())
            .await
            .unwrap();
    }
    sqlx::query("DELETE FROM jobs WHERE guid = $1")
        .bind(&lost.job)
        .execute(node.db())
        .await
        .unwrap();

    assert_eq!(
        super::sweep::sweep_stagings(&node.ctx.state).await.unwrap(),
        1
    );
    let (state, error_id, message) = node.droplet(&lost.droplet).await;
    assert_eq!(
        (state.as_str(), error_id.as_deref()),
        ("FAILED", Some("StagingTimeExpired"))
    );
    assert!(message
        .unwrap()
        .contains("made no progress for 960 seconds"));
    assert_eq!(node.build(&lost.build).await.0, "FAILED");
    assert_eq!(node.droplet(&queued.droplet).await.0, "STAGING");
    assert_eq!(node.job(&queued.job).await.state.as_str(), "QUEUED");
}

/// A droplet of `app` in `state`, created at `created_at`, with `lines` log lines.
async fn droplet_with_log(
    db: &DbPool,
    app: &str,
    state: &str,
    created_at: &str,
    lines: i64,
) -> String {
    let guid = db::new_guid().into_string();
    sqlx::query(
        "INSERT INTO droplets (guid, app_guid, state, memory_limit_mb, disk_limit_mb, created_at) \
         VALUES ($1, $2, $3, 1024, 4096, $4)",
    )
    .bind(&guid)
    .bind(app)
    .bind(state)
    .bind(created_at)
    .execute(db)
    .await
    .unwrap();
    for seq in 0..lines {
        sqlx::query(
            "INSERT INTO staging_logs (droplet_guid, seq, phase, stream, line, created_at) \
             VALUES ($1, $2, 'compile', 'stdout', 'a line', $3)",
        )
        .bind(&guid)
        .bind(seq)
        .bind(created_at)
        .execute(db)
        .await
        .unwrap();
    }
    guid
}

async fn log_lines(db: &DbPool, droplet: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM staging_logs WHERE droplet_guid = $1")
        .bind(droplet)
        .fetch_one(db)
        .await
        .unwrap()
        .0
}

#[tokio::test]
async fn logs_of_final_droplets_older_than_the_retention_are_pruned() {
    use super::log_retention::{cutoff, prune};
    let node = Node::start().await;
    let db = node.db();
    let staging = node.staging_build().await;
    let (app,): (String,) = sqlx::query_as("SELECT app_guid FROM droplets WHERE guid = $1")
        .bind(&staging.droplet)
        .fetch_one(db)
        .await
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let long_ago = cutoff(now, 31);
    let recently = cutoff(now, 29);
    let old_staged = droplet_with_log(db, &app, "STAGED", &long_ago, 3).await;
    let old_failed = droplet_with_log(db, &app, "FAILED", &long_ago, 1).await;
    // More than one round of the prune's batches.
    let mut many_old = Vec::new();
    for _ in 0..120 {
        many_old.push(droplet_with_log(db, &app, "STAGED", &long_ago, 1).await);
    }
    let old_but_staging = droplet_with_log(db, &app, "STAGING", &long_ago, 2).await;
    let recent = droplet_with_log(db, &app, "STAGED", &recently, 2).await;

    let pruned = prune(db, &cutoff(now, 30)).await.unwrap();
    assert_eq!(pruned, 122);
    for droplet in [&old_staged, &old_failed].into_iter().chain(&many_old) {
        assert_eq!(log_lines(db, droplet).await, 0);
    }
    // A staging still running keeps what it wrote, whenever it began; recent logs stay.
    assert_eq!(log_lines(db, &old_but_staging).await, 2);
    assert_eq!(log_lines(db, &recent).await, 2);
    // The droplets themselves stay.
    let (droplets,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM droplets WHERE app_guid = $1")
        .bind(&app)
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(droplets, 125);
    assert_eq!(prune(db, &cutoff(now, 30)).await.unwrap(), 0);
}

impl Node {
    /// A bits package of a fresh app, in PROCESSING_UPLOAD as `owner`'s upload.
    async fn package_being_stored(&self, owner: &str) -> String {
        let db = self.db();
        let (org, space, app) = (db::new_guid(), db::new_guid(), db::new_guid());
        let package = db::new_guid().into_string();
        let now = db::now();
        let rows: [(&str, [&str; 3]); 4] = [
            (
                "INSERT INTO organizations (guid, name, created_at) VALUES ($1, $2, $3)",
                [&org, &org, &now],
            ),
            (
                "INSERT INTO spaces (guid, name, organization_guid, created_at) \
                 VALUES ($1, 'dev', $2, $3)",
                [&space, &org, &now],
            ),
            (
                "INSERT INTO apps (guid, name, space_guid, created_at) VALUES ($1, 'app', $2, $3)",
                [&app, &space, &now],
            ),
            (
                "INSERT INTO packages (guid, app_guid, package_type, state, created_at) \
                 VALUES ($1, $2, 'bits', 'AWAITING_UPLOAD', $3)",
                [&package, &app, &now],
            ),
        ];
        for (sql, [first, second, third]) in rows {
            sqlx::query(sql)
                .bind(first)
                .bind(second)
                .bind(third)
                .execute(db)
                .await
                .unwrap();
        }
        assert!(packages::start_processing_upload(db, &package, owner)
            .await
            .unwrap());
        package
    }

    async fn package_state(&self, guid: &str) -> String {
        packages::find(self.db(), guid)
            .await
            .unwrap()
            .expect("package")
            .state
            .as_str()
            .to_string()
    }

    /// Moves the package's upload heartbeat a lease and more into the past, as if its node
    /// had stopped renewing it.
    async fn age_upload_heartbeat(&self, guid: &str) {
        let stale =
            db::format_timestamp(time::OffsetDateTime::now_utc() - LEASE - Duration::from_secs(5));
        sqlx::query(
            "UPDATE packages SET upload_heartbeat_at = $1, updated_at = $1 WHERE guid = $2",
        )
        .bind(stale)
        .bind(guid)
        .execute(self.db())
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn the_sweep_leaves_a_heartbeating_upload_alone_and_gives_a_stalled_one_back_once() {
    let node = Node::start().await;
    let state = &node.ctx.state;
    let fresh = node.package_being_stored("fresh-upload").await;
    let renewed = node.package_being_stored("renewed-upload").await;
    let stalled = node.package_being_stored("dead-upload").await;
    node.age_upload_heartbeat(&renewed).await;
    node.age_upload_heartbeat(&stalled).await;
    // The node storing `renewed` is alive: its next heartbeat lands before the sweep.
    assert!(
        packages::renew_upload(node.db(), &renewed, "renewed-upload")
            .await
            .unwrap()
    );

    assert_eq!(super::sweep::sweep_uploads(state).await.unwrap(), 1);
    assert_eq!(node.package_state(&fresh).await, "PROCESSING_UPLOAD");
    assert_eq!(node.package_state(&renewed).await, "PROCESSING_UPLOAD");
    assert_eq!(node.package_state(&stalled).await, "AWAITING_UPLOAD");
    // Idempotent: a second sweep (another node's) finds nothing more to do.
    assert_eq!(super::sweep::sweep_uploads(state).await.unwrap(), 0);

    // The dead upload, were it still running somewhere, can neither renew nor finish nor fail
    // the package now: it is the client's again.
    assert!(!packages::renew_upload(node.db(), &stalled, "dead-upload")
        .await
        .unwrap());
    assert!(
        !packages::finish_upload(node.db(), &stalled, "dead-upload", "sha1", "sha256")
            .await
            .unwrap()
    );
    packages::fail_upload(node.db(), &stalled, "dead-upload", "too late")
        .await
        .unwrap();
    assert_eq!(node.package_state(&stalled).await, "AWAITING_UPLOAD");

    // The client's new upload owns it, and only that one can make it READY.
    assert!(
        packages::start_processing_upload(node.db(), &stalled, "retried-upload")
            .await
            .unwrap()
    );
    assert!(
        !packages::finish_upload(node.db(), &stalled, "dead-upload", "sha1", "sha256")
            .await
            .unwrap()
    );
    assert!(
        packages::finish_upload(node.db(), &stalled, "retried-upload", "sha1", "sha256")
            .await
            .unwrap()
    );
    assert_eq!(node.package_state(&stalled).await, "READY");
    assert_eq!(super::sweep::sweep_uploads(state).await.unwrap(), 0);
    assert_eq!(node.package_state(&stalled).await, "READY");
}
