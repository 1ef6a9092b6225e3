//! The database and the blobstore going away and coming back while a node runs: requests
//! meanwhile are answered 503 ServiceUnavailable (CF's error body), nothing is half-written,
//! `/readyz` names what is missing, and the node recovers by itself without a restart.
//! Stagings in flight when the database goes away end STAGED or FAILED with a reason, each with
//! its one droplet; one that finishes during the outage keeps its outcome.
//!
//! Each test starts what it stops: a PostgreSQL cluster of its own (the installed PostgreSQL's
//! `initdb` and `pg_ctl`, on its own port) and an S3 server of its own (`scripts/s3-server.sh`).
//! They are ignored in the ordinary passes (they need PostgreSQL's binaries and moto, which the
//! test command's S3 pass has) and fail, never skip, when either is missing.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::builds::post_build;
use crate::packages::{upload, zip_bytes, AppFixture, Entry};
use crate::staging_recovery::Database;
use crate::support::{output_within, Response, ServerOptions, TestServer};

/// A PostgreSQL cluster in a temporary directory on a loopback port, stopped on drop.
struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl OwnPostgres {
    fn start() -> OwnPostgres {
        let bin = postgres_bin();
        let dir = tempfile::tempdir().unwrap();
        // PostgreSQL refuses to run as root: as root, the cluster is the postgres user's.
        if nix::unistd::geteuid().is_root() {
            let user = nix::unistd::User::from_name("postgres")
                .unwrap()
                .expect("a postgres user to run the test's PostgreSQL as");
            nix::unistd::chown(dir.path(), Some(user.uid), Some(user.gid)).unwrap();
        }
        let postgres = OwnPostgres {
            dir,
            bin,
            port: free_port(),
        };
        postgres.run(
            "initdb",
            &[
                "-D",
                &postgres.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        postgres.start_again();
        postgres
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let mut command = if nix::unistd::geteuid().is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        command.args(args).current_dir(self.dir.path());
        let out = output_within(&mut command, Duration::from_secs(60));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let program = self.bin.join("pg_ctl");
        let data = self.data();
        let mut command = Command::new("runuser");
        if nix::unistd::geteuid().is_root() {
            command.args(["-u", "postgres", "--"]).arg(&program);
        } else {
            command = Command::new(&program);
        }
        let _ = command
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// The newest installed PostgreSQL's `bin` directory (`/usr/lib/postgresql/<version>/bin`).
fn postgres_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path().join("bin")))
                .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|bin| {
        bin.parent()
            .and_then(Path::file_name)
            .and_then(|version| version.to_str()?.parse::<u32>().ok())
    });
    found
        .pop()
        .expect("this test needs PostgreSQL's initdb and pg_ctl under /usr/lib/postgresql/*/bin")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A moto S3 server of the test's own, started and stopped by `scripts/s3-server.sh`.
struct OwnS3 {
    dir: tempfile::TempDir,
    port: u16,
    env: Vec<(String, String)>,
}

impl OwnS3 {
    fn start() -> OwnS3 {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut s3 = OwnS3 {
            dir,
            port,
            env: Vec::new(),
        };
        s3.script("start");
        let env = std::fs::read_to_string(s3.dir.path().join("env")).unwrap();
        s3.env = env
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        s3
    }

    fn var(&self, key: &str) -> &str {
        &self.env.iter().find(|(k, _)| k == key).unwrap().1
    }

    fn script(&self, action: &str) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/s3-server.sh");
        let dir = self.dir.path().display().to_string();
        let port = self.port.to_string();
        let mut command = Command::new("bash");
        command.arg(&script).arg(action).arg(&dir);
        if action == "start" {
            command.arg(&port);
        }
        let out = output_within(&mut command, Duration::from_secs(300));
        assert!(
            out.status.success(),
            "scripts/s3-server.sh {action} failed (this test needs moto from PyPI): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for OwnS3 {
    fn drop(&mut self) {
        self.script("stop");
    }
}

async fn readyz(server: &TestServer) -> Response {
    let response = server
        .client
        .get(format!("{}/readyz", server.url))
        .send()
        .await
        .expect("readyz answers");
    Response::read(response).await
}

/// Polls `/readyz` until it is 200, failing the test after `limit`.
async fn wait_ready(server: &TestServer, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let ready = readyz(server).await;
        if ready.status == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not ready {} s after the service came back: {}",
            limit.as_secs(),
            ready.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[track_caller]
fn assert_unavailable(response: &Response, service: &str) {
    response.assert_error(
        503,
        10015,
        "ServiceUnavailable",
        &format!("The {service} is unavailable"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts and stops its own PostgreSQL and S3 server; the test command's S3 pass runs it"]
async fn database_and_blobstore_outages_are_503s_and_the_node_recovers_by_itself() {
    let postgres = OwnPostgres::start();
    let s3 = OwnS3::start();
    let database_url = postgres.url();
    let env = [
        ("DATABASE_URL", database_url.as_str()),
        ("LADLE_DATABASE_WAIT_SECONDS", "2"),
        ("LADLE_STAGING_SLOTS", "0"),
        ("LADLE_BLOBSTORE", "s3://ladle-test/outages"),
        ("AWS_ENDPOINT_URL", s3.var("AWS_ENDPOINT_URL")),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_REGION", s3.var("AWS_REGION")),
        ("AWS_ACCESS_KEY_ID", s3.var("AWS_ACCESS_KEY_ID")),
        ("AWS_SECRET_ACCESS_KEY", s3.var("AWS_SECRET_ACCESS_KEY")),
    ];
    let server = TestServer::start_with_options(ServerOptions {
        env: &env,
        ..ServerOptions::default()
    })
    .await;
    let fx = AppFixture::create(&server).await;
    let app_path = format!("/v3/apps/{}", fx.app_guid);
    let bits = zip_bytes(&[Entry::File("index.html", b"hello")]);
    let before = fx.bits_package(&server).await;
    upload(
        &server,
        &format!("/v3/packages/{before}/upload"),
        &fx.developer,
        Some(bits.clone()),
        None,
    )
    .await
    .assert_status(200);
    assert_eq!(readyz(&server).await.status, 200);

    // The database goes away for ten seconds.
    postgres.stop();
    let stopped = Instant::now();
    assert_unavailable(&server.get(&app_path, &fx.developer).await, "database");
    let create = json!({"name": "made-in-the-outage", "relationships": {"space": {"data": {"guid": fx.space_guid}}}});
    assert_unavailable(
        &server.post("/v3/apps", &fx.developer, create.clone()).await,
        "database",
    );
    let not_ready = readyz(&server).await;
    not_ready.assert_status(503);
    assert_eq!(
        not_ready.body["not_ready"],
        json!(["database", "migrations"]),
        "{}",
        not_ready.text
    );
    assert!(not_ready.body["checks"]["database"].as_str().unwrap() != "ok");
    assert_eq!(
        not_ready.body["checks"]["blobstore"], "ok",
        "{}",
        not_ready.text
    );
    let health = server
        .client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the process itself is fine");
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(stopped.elapsed())).await;
    postgres.start_again();
    wait_ready(&server, Duration::from_secs(30)).await;
    server
        .get(&app_path, &fx.developer)
        .await
        .assert_status(200);
    let listed = server
        .get("/v3/apps?names=made-in-the-outage", &fx.developer)
        .await;
    listed.assert_status(200);
    assert_eq!(
        listed.body["pagination"]["total_results"], 0,
        "the refused create left nothing"
    );
    let created = server.post("/v3/apps", &fx.developer, create).await;
    created.assert_status(201);

    // The blobstore goes away: uploads and downloads are 503s, the rest of the API works.
    s3.script("stop");
    let during = fx.bits_package(&server).await;
    let refused = upload(
        &server,
        &format!("/v3/packages/{during}/upload"),
        &fx.developer,
        Some(bits.clone()),
        None,
    )
    .await;
    assert_unavailable(&refused, "blobstore");
    let download = server
        .get(&format!("/v3/packages/{before}/download"), &fx.developer)
        .await;
    assert_unavailable(&download, "blobstore");
    let not_ready = readyz(&server).await;
    not_ready.assert_status(503);
    assert_eq!(
        not_ready.body["not_ready"],
        json!(["blobstore"]),
        "{}",
        not_ready.text
    );
    server
        .get(&app_path, &fx.developer)
        .await
        .assert_status(200);
    let half = server
        .get(&format!("/v3/packages/{during}"), &fx.developer)
        .await;
    half.assert_status(200);
    assert_eq!(
        half.body["state"], "FAILED",
        "never READY without its blob: {}",
        half.text
    );

    // Back (moto starts empty on the same endpoint): ready again, and uploads work.
    s3.script("start");
    wait_ready(&server, Duration::from_secs(30)).await;
    let after = fx.bits_package(&server).await;
    let uploaded = upload(
        &server,
        &format!("/v3/packages/{after}/upload"),
        &fx.developer,
        Some(bits.clone()),
        None,
    )
    .await;
    uploaded.assert_status(200);
    assert_eq!(uploaded.body["state"], "READY");
    let download = server
        .client
        .get(format!("{}/v3/packages/{after}/download", server.url))
        .header("Authorization", format!("bearer {}", fx.developer))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().to_vec(), bits);
}

/// What the `pause-pass` buildpack logs as its eight-second compile begins.
const PAUSING: &str = "pause-pass pausing";

async fn droplets_pausing(db: &Database, droplets: &[String]) -> Vec<String> {
    let mut pausing = Vec::new();
    for droplet in droplets {
        let (lines,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM staging_logs WHERE droplet_guid = $1 AND line LIKE $2",
        )
        .bind(droplet)
        .bind(format!("%{PAUSING}%"))
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if lines > 0 {
            pausing.push(droplet.clone());
        }
    }
    pausing
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts and stops its own PostgreSQL and S3 server; the test command's S3 pass runs it"]
async fn stagings_in_flight_when_the_database_stops_end_staged_or_failed_with_a_reason() {
    const DEV: &str = "outage-dev";
    const SLOTS: usize = 2;
    const BUILDS: usize = 3;
    let postgres = OwnPostgres::start();
    let s3 = OwnS3::start();
    let database_url = postgres.url();
    let slots = SLOTS.to_string();
    // The default lease (30 s) outlasts the outage, so no staging is taken over: one that ran
    // again could only have lost its outcome.
    let env = [
        ("DATABASE_URL", database_url.as_str()),
        ("LADLE_DATABASE_WAIT_SECONDS", "2"),
        ("LADLE_STAGING_SLOTS", slots.as_str()),
        ("LADLE_BLOBSTORE", "s3://ladle-test/outages"),
        ("AWS_ENDPOINT_URL", s3.var("AWS_ENDPOINT_URL")),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_REGION", s3.var("AWS_REGION")),
        ("AWS_ACCESS_KEY_ID", s3.var("AWS_ACCESS_KEY_ID")),
        ("AWS_SECRET_ACCESS_KEY", s3.var("AWS_SECRET_ACCESS_KEY")),
    ];
    let server = TestServer::start_with_options(ServerOptions {
        env: &env,
        ..ServerOptions::default()
    })
    .await;
    server.admin_buildpack("pause", "pause-pass").await;
    let token = server.user_token(DEV);
    // One app each (an app stages one build at a time), all made before the builds start so
    // that the slots claim theirs together.
    let mut packages = Vec::new();
    for _ in 0..BUILDS {
        packages.push(server.app_with_package(DEV, "plain").await.1);
    }
    let mut builds = Vec::new();
    for package_guid in &packages {
        let build = post_build(&server, &token, package_guid, Some(&["pause"])).await;
        build.assert_status(201);
        builds.push(build.body["guid"].as_str().unwrap().to_string());
    }
    let db = Database::connect(&database_url).await;
    let mut droplets = Vec::new();
    for build in &builds {
        droplets.push(db.droplet_of_build(build).await);
    }
    // Every slot is in its eight-second compile; the last build waits for a slot.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut first_pausing = None;
    let in_flight = loop {
        let pausing = droplets_pausing(&db, &droplets).await;
        if !pausing.is_empty() {
            first_pausing.get_or_insert_with(Instant::now);
        }
        if pausing.len() == SLOTS {
            break pausing;
        }
        assert!(
            Instant::now() < deadline,
            "{SLOTS} stagings were not compiling within 120 s: {pausing:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    db.pool.close().await;
    // Half-way through the compiles the database goes away for ten seconds: the compiles end,
    // and the stagings try to record their outcome, while it is away.
    let half_way = first_pausing.unwrap() + Duration::from_secs(4);
    tokio::time::sleep(half_way.saturating_duration_since(Instant::now())).await;
    postgres.stop();
    let stopped = Instant::now();
    let not_ready = readyz(&server).await;
    not_ready.assert_status(503);
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(stopped.elapsed())).await;
    postgres.start_again();
    wait_ready(&server, Duration::from_secs(30)).await;

    // Every staging ends, within a bound, STAGED or FAILED with a reason: none is lost.
    let deadline = Instant::now() + Duration::from_secs(120);
    for build in &builds {
        let path = format!("/v3/builds/{build}");
        let ended = loop {
            let response = server.get(&path, &token).await;
            response.assert_status(200);
            let state = response.body["state"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if !matches!(state.as_str(), "PENDING" | "STAGING") {
                break response.body;
            }
            assert!(
                Instant::now() < deadline,
                "{path} still {state} 120 s after the database came back"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        match ended["state"].as_str() {
            Some("STAGED") => {}
            Some("FAILED") => assert!(
                ended["error"]
                    .as_str()
                    .is_some_and(|error| !error.is_empty()),
                "a failed build says why: {ended}"
            ),
            _ => panic!("not a final build state: {ended}"),
        }
    }
    let db = Database::connect(&database_url).await;
    for (build, droplet) in builds.iter().zip(&droplets) {
        let (state, error): (String, Option<String>) =
            sqlx::query_as("SELECT state, error_message FROM droplets WHERE guid = $1")
                .bind(droplet)
                .fetch_one(&db.pool)
                .await
                .unwrap();
        match state.as_str() {
            "STAGED" => {}
            "FAILED" => assert!(
                error.is_some_and(|error| !error.is_empty()),
                "droplet {droplet} failed without a reason"
            ),
            other => panic!("droplet {droplet} is {other}"),
        }
        let (droplets_of_build,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM droplets WHERE build_guid = $1")
                .bind(build)
                .fetch_one(&db.pool)
                .await
                .unwrap();
        assert_eq!(droplets_of_build, 1, "build {build} has one droplet");
    }
    // The stagings whose compiles ended during the outage kept their outcome: each was staged
    // by its first attempt, which waited for the database rather than dropping what it built.
    for droplet in &in_flight {
        let job = db.staging_job(droplet).await;
        assert_eq!(
            (job.state.as_str(), job.attempts),
            ("COMPLETE", 1),
            "the staging of {droplet} ran again after the outage: {job:?}"
        );
        let (state,): (String,) = sqlx::query_as("SELECT state FROM droplets WHERE guid = $1")
            .bind(droplet)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(state, "STAGED", "droplet {droplet}");
    }
    db.pool.close().await;
}
