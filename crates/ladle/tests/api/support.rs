//! Starting a real server and talking to it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
}

/// A running `ladle serve`, killed on drop, with its own data dir.
pub struct TestServer {
    pub url: String,
    pub data_dir: tempfile::TempDir,
    /// The server's database: its SQLite file in `data_dir`, or a fresh PostgreSQL database
    /// when `LADLE_TEST_DATABASE_URL` is set.
    pub database_url: String,
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
            .stdout(Stdio::piped())
            .stderr(options.stderr.map_or_else(Stdio::inherit, Stdio::from));
        if options.own_secret {
            command.env_remove("LADLE_TOKEN_SECRET");
        }
        let database_url = match std::env::var("LADLE_TEST_DATABASE_URL") {
            Ok(url) => fresh_postgres_database(&url),
            Err(_) => format!(
                "sqlite://{}?mode=rwc",
                data_dir.path().join("ladle.db").display()
            ),
        };
        command.env("DATABASE_URL", &database_url);
        for (key, value) in options.env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn ladle serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read listening line");
        let url = line
            .trim()
            .strip_prefix("ladle listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from ladle serve: {line:?}"))
            .to_string();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        TestServer {
            url,
            data_dir,
            database_url,
            child,
            client,
        }
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
        let out = command.output().expect("ladle token");
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

/// A fresh PostgreSQL database per server when `LADLE_TEST_DATABASE_URL` names a server.
fn fresh_postgres_database(base_url: &str) -> String {
    let name = format!("ladle_test_{}", uuid());
    let status = Command::new("psql")
        .arg(base_url)
        .arg("-qc")
        .arg(format!("CREATE DATABASE {name}"))
        .status()
        .expect("psql");
    assert!(status.success(), "could not create test database");
    let (prefix, _) = base_url.rsplit_once('/').expect("database url with a path");
    format!("{prefix}/{name}")
}

/// Removes a database made by `fresh_postgres_database` (nothing for SQLite).
fn drop_postgres_database(url: &str) {
    let Ok(base) = std::env::var("LADLE_TEST_DATABASE_URL") else {
        return;
    };
    if let Some((_, name)) = url.rsplit_once('/') {
        let _ = Command::new("psql")
            .arg(&base)
            .arg("-qc")
            .arg(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
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
        let out = Command::new(ladle_bin())
            .arg("token")
            .arg(format!("--user-id={user_id}"))
            .arg(format!("--email={email}"))
            .env("LADLE_TOKEN_SECRET", SECRET)
            .output()
            .expect("ladle token");
        assert!(out.status.success(), "ladle token failed");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}
