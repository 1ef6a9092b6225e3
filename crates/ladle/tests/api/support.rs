//! Starting a real server and talking to it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub const SECRET: &str = "test-secret-for-the-black-box-suite";

/// What a test may change about the server it starts; the default is `TestServer::start`.
#[derive(Default)]
pub struct ServerOptions<'a> {
    /// Extra environment variables, applied last (so they may override `LADLE_LOG`).
    pub env: &'a [(&'a str, &'a str)],
    /// Where the server's stderr goes; by default the test's own.
    pub stderr: Option<std::fs::File>,
    /// A data dir the test prepared; by default a fresh empty one.
    pub data_dir: Option<tempfile::TempDir>,
    /// The server keeps its own secret in the data dir instead of using the suite's `SECRET`.
    pub own_secret: bool,
    /// A database the test keeps (a restarted server's); by default a fresh one.
    pub database_url: Option<String>,
}

/// A running `ladle serve`, killed on drop, with its own data dir.
pub struct TestServer {
    pub url: String,
    pub data_dir: tempfile::TempDir,
    /// The server's database: its SQLite file in `data_dir`, or a fresh PostgreSQL database
    /// when `LADLE_TEST_DATABASE_URL` is set.
    pub database_url: String,
    /// Where the server keeps its blobs: a directory, or its own folder of the suite's S3
    /// bucket when `LADLE_TEST_BLOBSTORE` is set (see `blobs.rs`).
    pub blobstore: String,
    child: Child,
    pub client: reqwest::Client,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        stop(&mut self.child);
        drop_postgres_database(&self.database_url);
    }
}

/// SIGTERM first, so a `ladle` process stops its stagings and removes their containers and
/// mounts as it would in production; SIGKILL only if it has not exited after a few seconds.
pub fn stop(child: &mut Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline && !matches!(child.try_wait(), Ok(Some(_))) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

pub fn ladle_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ladle"))
}

/// The fixtures folder at the repository root.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .canonicalize()
        .expect("fixtures dir")
}

/// How long a server may take from spawn to its "listening" line (migrations included).
const SERVER_START_DEADLINE: Duration = Duration::from_secs(60);

enum FirstLine {
    Line(String),
    Exited,
    TimedOut,
}

/// The first line `child` prints on stdout, read on a thread of its own so that the wait has a
/// deadline. The thread then keeps draining stdout, so the server never writes into a closed
/// pipe.
fn first_line(child: &mut Child, deadline: Duration) -> FirstLine {
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let read = reader.read_line(&mut line);
        let _ = sender.send(match read {
            Ok(n) if n > 0 => FirstLine::Line(line),
            _ => FirstLine::Exited,
        });
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    receiver
        .recv_timeout(deadline)
        .unwrap_or(FirstLine::TimedOut)
}

/// How long a `ladle` command that does not serve (`token`, a `serve` that must refuse to
/// start) may run.
pub const CLI_DEADLINE: Duration = Duration::from_secs(30);

/// Runs a short-lived command to its end; kills it and fails the test when it runs longer than
/// `limit` (a `ladle serve` that should refuse to start but does not, for one).
pub fn output_within(command: &mut Command, limit: Duration) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(limit) {
        Ok(output) => output.unwrap_or_else(|e| panic!("waiting for {command:?}: {e}")),
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!(
                "{command:?} did not finish within {} s (killed)",
                limit.as_secs()
            );
        }
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(&[]).await
    }

    /// Starts with extra environment variables (e.g. `LADLE_MAX_PACKAGE_SIZE_MB`).
    pub async fn start_with(env: &[(&str, &str)]) -> TestServer {
        Self::start_with_options(ServerOptions {
            env,
            ..ServerOptions::default()
        })
        .await
    }

    pub async fn start_with_options(options: ServerOptions<'_>) -> TestServer {
        let data_dir = match options.data_dir {
            Some(dir) => dir,
            // As `ladle serve` makes a data dir: private (an open one is narrowed, and logged).
            None => tempfile::Builder::new()
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .tempdir()
                .expect("temp data dir"),
        };
        let mut command = Command::new(ladle_bin());
        command
            .arg("serve")
            .arg("--listen=127.0.0.1:0")
            .arg(format!("--data-dir={}", data_dir.path().display()))
            .env("LADLE_TOKEN_SECRET", SECRET)
            .env("LADLE_LOG", "warn")
            // Stagings run in real containers: a broken runc must fail the suite, not degrade
            // quietly to the process executor.
            .env("LADLE_STAGER", "runc")
            // `stop` waits a few seconds after SIGTERM before it kills.
            .env("LADLE_SHUTDOWN_GRACE_SECONDS", "1")
            .stdout(Stdio::piped())
            .stderr(options.stderr.map_or_else(Stdio::inherit, Stdio::from));
        if options.own_secret {
            command.env_remove("LADLE_TOKEN_SECRET");
        }
        let database_url = match (
            options.database_url,
            std::env::var("LADLE_TEST_DATABASE_URL"),
        ) {
            (Some(url), _) => url,
            (None, Ok(url)) => fresh_postgres_database(&url),
            (None, Err(_)) => format!(
                "sqlite://{}?mode=rwc",
                data_dir.path().join("ladle.db").display()
            ),
        };
        command.env("DATABASE_URL", &database_url);
        let blobstore = crate::blobs::choose(data_dir.path(), options.env, &mut command).await;
        for (key, value) in options.env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn ladle serve");
        let first = first_line(&mut child, SERVER_START_DEADLINE);
        let url = match &first {
            FirstLine::Line(line) => line.trim().strip_prefix("ladle listening on "),
            _ => None,
        };
        let Some(url) = url.map(str::to_string) else {
            stop(&mut child);
            drop_postgres_database(&database_url);
            match first {
                FirstLine::Line(line) => panic!("unexpected first line from ladle serve: {line:?}"),
                FirstLine::Exited => panic!(
                    "ladle serve exited before it listened ({}); its error is above. The \
                     suite's servers stage with LADLE_STAGER=runc, which needs root and runc",
                    child
                        .wait()
                        .map_or_else(|e| e.to_string(), |s| s.to_string())
                ),
                FirstLine::TimedOut => panic!(
                    "ladle serve did not say it listens within {} s",
                    SERVER_START_DEADLINE.as_secs()
                ),
            }
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        TestServer {
            url,
            data_dir,
            database_url,
            blobstore,
            child,
            client,
        }
    }

    /// Stops the server with SIGTERM (it must exit 0 within `limit`) and starts a new one on the
    /// same data dir, database and blobstore, with `env`.
    pub async fn restart(mut self, env: &[(&str, &str)], limit: Duration) -> TestServer {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let deadline = std::time::Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("server status") {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "ladle serve did not exit within {} s of SIGTERM",
                limit.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(
            status.success(),
            "ladle serve exited with {status} on SIGTERM"
        );
        self.start_again(env).await
    }

    /// SIGKILLs the server, as a node that dies mid-request, and starts a new one on the same
    /// data dir, database and blobstore, with `env`.
    pub async fn kill_and_restart(mut self, env: &[(&str, &str)]) -> TestServer {
        self.child.kill().expect("SIGKILL ladle serve");
        self.child.wait().expect("ladle serve exits on SIGKILL");
        self.start_again(env).await
    }

    async fn start_again(mut self, env: &[(&str, &str)]) -> TestServer {
        let data_dir = std::mem::replace(&mut self.data_dir, tempfile::tempdir().unwrap());
        // Taken, so that dropping the old server keeps the database.
        let database_url = std::mem::take(&mut self.database_url);
        let blobstore = self.blobstore.clone();
        drop(self);
        let mut env = env.to_vec();
        env.push(("LADLE_BLOBSTORE", &blobstore));
        TestServer::start_with_options(ServerOptions {
            env: &env,
            data_dir: Some(data_dir),
            database_url: Some(database_url),
            ..ServerOptions::default()
        })
        .await
    }

    /// The server's process id, to look at its memory and open files in /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn token(&self, user_id: &str, scopes: &[&str]) -> String {
        let mut command = Command::new(ladle_bin());
        command
            .arg("token")
            .arg(format!("--user-id={user_id}"))
            .env("LADLE_TOKEN_SECRET", SECRET);
        for scope in scopes {
            command.arg(format!("--scope={scope}"));
        }
        let out = output_within(&mut command, CLI_DEADLINE);
        assert!(
            out.status.success(),
            "ladle token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    pub fn admin_token(&self) -> String {
        self.token(
            "admin",
            &[
                "cloud_controller.admin",
                "cloud_controller.read",
                "cloud_controller.write",
            ],
        )
    }

    /// A token for an ordinary user with read and write scopes.
    pub fn user_token(&self, user_id: &str) -> String {
        self.token(
            user_id,
            &["cloud_controller.read", "cloud_controller.write"],
        )
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.client.request(method, format!("{}{}", self.url, path));
        if let Some(token) = token {
            request = request.header("Authorization", format!("bearer {token}"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Response::read(request.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PUT, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.request(Method::DELETE, path, Some(token), None).await
    }

    /// Creates an org and a space (as admin) and returns their guids.
    pub async fn org_and_space(&self) -> (String, String) {
        let admin = self.admin_token();
        let org = self
            .post(
                "/v3/organizations",
                &admin,
                json!({"name": format!("org-{}", uuid())}),
            )
            .await;
        org.assert_status(201);
        let org_guid = org.body["guid"].as_str().unwrap().to_string();
        let space = self
            .post(
                "/v3/spaces",
                &admin,
                json!({"name": "dev", "relationships": {"organization": {"data": {"guid": org_guid}}}}),
            )
            .await;
        space.assert_status(201);
        (org_guid, space.body["guid"].as_str().unwrap().to_string())
    }

    /// Gives `user_id` a role (as admin) in a space or organization.
    pub async fn grant(&self, user_id: &str, role: &str, target_kind: &str, target_guid: &str) {
        let admin = self.admin_token();
        // Ensure the user exists, as CC requires before a role can be given.
        let _ = self
            .post("/v3/users", &admin, json!({"guid": user_id}))
            .await;
        let response = self
            .post(
                "/v3/roles",
                &admin,
                json!({"type": role, "relationships": {
                    "user": {"data": {"guid": user_id}},
                    target_kind: {"data": {"guid": target_guid}}}}),
            )
            .await;
        response.assert_status(201);
    }
}

/// Signs any claim set with `secret`, as another issuer (UAA, the spec page) would.
pub fn sign_claims(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign claims")
}

/// Seconds since the epoch, `offset` seconds from now.
pub fn unix_time_in(offset: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    now.as_secs() as i64 + offset
}

pub fn uuid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

const PSQL_DEADLINE: Duration = Duration::from_secs(60);

/// A fresh PostgreSQL database per server when `LADLE_TEST_DATABASE_URL` names a server.
fn fresh_postgres_database(base_url: &str) -> String {
    let name = format!("ladle_test_{}", uuid());
    let created = output_within(
        Command::new("psql")
            .arg(base_url)
            .arg("-qc")
            .arg(format!("CREATE DATABASE {name}"))
            .env("PGCONNECT_TIMEOUT", "10"),
        PSQL_DEADLINE,
    );
    assert!(
        created.status.success(),
        "could not create a test database on LADLE_TEST_DATABASE_URL={base_url}: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    let (prefix, _) = base_url.rsplit_once('/').expect("database url with a path");
    format!("{prefix}/{name}")
}

/// Removes a database made by `fresh_postgres_database` (nothing for SQLite).
fn drop_postgres_database(url: &str) {
    let Ok(base) = std::env::var("LADLE_TEST_DATABASE_URL") else {
        return;
    };
    if url.is_empty() {
        return; // kept by a restart
    }
    if let Some((_, name)) = url.rsplit_once('/') {
        output_within(
            Command::new("psql")
                .arg(&base)
                .arg("-qc")
                .arg(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .env("PGCONNECT_TIMEOUT", "10"),
            PSQL_DEADLINE,
        );
    }
}

/// A response with its body already read (JSON when it parses, else `Value::Null`).
pub struct Response {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Response {
    pub async fn read(response: reqwest::Response) -> Response {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Response {
            status,
            headers,
            body,
            text,
        }
    }

    #[track_caller]
    pub fn assert_status(&self, expected: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts a CF error: status, numeric code, title, and that the detail contains `detail_part`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: u64, title: &str, detail_part: &str) {
        self.assert_status(status);
        let error = &self.body["errors"][0];
        assert_eq!(error["code"], code, "body: {}", self.text);
        assert_eq!(error["title"], format!("CF-{title}"), "body: {}", self.text);
        let detail = error["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(detail_part),
            "detail {detail:?} lacks {detail_part:?}"
        );
        assert_eq!(self.body["code"], code, "2015 dialect code");
        assert_eq!(self.body["error_code"], format!("CF-{title}"));
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestServer {
    /// A read/write token whose `user_name` is the local part of `email`.
    pub fn user_token_with_email(&self, user_id: &str, email: &str) -> String {
        let out = output_within(
            Command::new(ladle_bin())
                .arg("token")
                .arg(format!("--user-id={user_id}"))
                .arg(format!("--email={email}"))
                .env("LADLE_TOKEN_SECRET", SECRET),
            CLI_DEADLINE,
        );
        assert!(out.status.success(), "ladle token failed");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}
