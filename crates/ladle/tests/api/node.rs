//! What load balancers and monitoring ask a node: `/healthz`, `/readyz` and `/metrics`, on API
//! nodes and on workers started with `--listen`, and the JSON log format.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Method;

use crate::packages::AppFixture;
use crate::support::{ladle_bin, Response, ServerOptions, TestServer, SECRET};

async fn get_plain(server_url: &str, path: &str, bearer: Option<&str>) -> Response {
    let client = reqwest::Client::new();
    let mut request = client.get(format!("{server_url}{path}"));
    if let Some(token) = bearer {
        request = request.header("Authorization", format!("bearer {token}"));
    }
    Response::read(request.send().await.expect("request")).await
}

/// The value of the sample `name{labels}` in Prometheus text, when there is one.
pub fn sample(metrics: &str, name_and_labels: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(name_and_labels)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

#[tokio::test]
async fn health_and_readiness_answer_without_a_token() {
    let server = TestServer::start().await;
    let health = get_plain(&server.url, "/healthz", None).await;
    health.assert_status(200);
    assert_eq!(health.body["status"], "ok");

    let ready = get_plain(&server.url, "/readyz", None).await;
    ready.assert_status(200);
    assert_eq!(ready.body["status"], "ready", "{}", ready.text);
    for check in ["database", "migrations", "blobstore"] {
        assert_eq!(ready.body["checks"][check], "ok", "{}", ready.text);
    }
    // Cloud Controller has none of these routes, so the root document does not offer them.
    let root = get_plain(&server.url, "/", None).await;
    root.assert_status(200);
    for route in ["healthz", "readyz", "metrics"] {
        assert!(!root.text.contains(route), "{route} in {}", root.text);
    }
    // Only GET: other methods are unknown routes, as elsewhere.
    let posted = server.request(Method::POST, "/readyz", None, None).await;
    posted.assert_error(404, 10000, "NotFound", "Unknown request");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
    let server = TestServer::start().await;
    let fx = AppFixture::create(&server).await;
    let app = format!("/v3/apps/{}", fx.app_guid);
    for _ in 0..3 {
        server.get(&app, &fx.developer).await.assert_status(200);
    }
    server
        .get(
            &format!("/v3/apps/{}", crate::support::uuid()),
            &fx.developer,
        )
        .await
        .assert_status(404);
    server
        .get("/no/such/route", &fx.developer)
        .await
        .assert_status(404);

    let scraped = get_plain(&server.url, "/metrics", None).await;
    scraped.assert_status(200);
    assert_eq!(
        scraped.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = &scraped.text;
    let ok = r#"ladle_http_requests_total{method="GET",route="/v3/apps/{guid}",status="200"}"#;
    assert_eq!(sample(text, ok), Some(3.0), "{text}");
    let missing = r#"ladle_http_requests_total{method="GET",route="/v3/apps/{guid}",status="404"}"#;
    assert_eq!(sample(text, missing), Some(1.0), "{text}");
    // An unknown path is one series, whatever the path.
    let unknown = r#"ladle_http_requests_total{method="GET",route="-",status="404"}"#;
    assert_eq!(sample(text, unknown), Some(1.0), "{text}");
    assert!(!text.contains("/no/such/route"), "{text}");
    let latency = r#"ladle_http_request_duration_seconds_count{method="GET",route="/v3/apps/{guid}",status="200"}"#;
    assert_eq!(sample(text, latency), Some(3.0), "{text}");
    assert!(
        text.contains(r#"ladle_http_request_duration_seconds_bucket{method="GET",route="/v3/apps/{guid}",status="200",le="0.005"}"#),
        "a histogram with buckets, not a summary: {text}"
    );
    for gauge in [
        "ladle_staging_queue_depth",
        "ladle_staging_slots",
        "ladle_staging_slots_busy",
        "ladle_db_pool_connections",
        "ladle_db_pool_idle_connections",
        "ladle_db_pool_max_connections",
    ] {
        assert!(sample(text, gauge).is_some(), "{gauge} missing: {text}");
    }
    assert_eq!(sample(text, "ladle_staging_queue_depth"), Some(0.0));
    assert!(sample(text, "ladle_db_pool_max_connections").unwrap() >= 1.0);
}

#[tokio::test]
async fn metrics_behind_a_token_refuse_a_missing_or_wrong_one() {
    let server = TestServer::start_with(&[("LADLE_METRICS_TOKEN", "scrape-me")]).await;
    get_plain(&server.url, "/metrics", None).await.assert_error(
        401,
        10002,
        "NotAuthenticated",
        "Authentication error",
    );
    get_plain(&server.url, "/metrics", Some("scrape-you"))
        .await
        .assert_error(401, 1000, "InvalidAuthToken", "Invalid Auth Token");
    // A user's token is no metrics token, even an admin's.
    get_plain(&server.url, "/metrics", Some(&server.admin_token()))
        .await
        .assert_error(401, 1000, "InvalidAuthToken", "Invalid Auth Token");
    let scraped = get_plain(&server.url, "/metrics", Some("scrape-me")).await;
    scraped.assert_status(200);
    assert!(
        scraped.text.contains("ladle_http_requests_total"),
        "{}",
        scraped.text
    );
    // Health and readiness stay open to load balancers.
    get_plain(&server.url, "/healthz", None)
        .await
        .assert_status(200);
    get_plain(&server.url, "/readyz", None)
        .await
        .assert_status(200);
}

/// A `ladle worker --listen=127.0.0.1:0` without staging slots, on `server`'s database and
/// blobstore; killed on drop.
struct ListeningWorker {
    child: Child,
    url: String,
    _data_dir: tempfile::TempDir,
}

impl ListeningWorker {
    fn start(server: &TestServer) -> ListeningWorker {
        let data_dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(ladle_bin())
            .arg("worker")
            .arg("--listen=127.0.0.1:0")
            .arg(format!("--data-dir={}", data_dir.path().display()))
            .arg(format!("--database-url={}", server.database_url))
            .arg(format!("--blobstore={}", server.blobstore))
            .env("LADLE_TOKEN_SECRET", SECRET)
            .env("LADLE_STAGING_SLOTS", "0")
            .env("LADLE_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn ladle worker");
        let mut stdout = child.stdout.take().unwrap();
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while stdout.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        let line = String::from_utf8(line).unwrap();
        let Some(url) = line.strip_prefix("ladle worker listening on ") else {
            let _ = child.kill();
            panic!("unexpected first line from ladle worker: {line:?}");
        };
        ListeningWorker {
            url: url.to_string(),
            child,
            _data_dir: data_dir,
        }
    }
}

impl Drop for ListeningWorker {
    fn drop(&mut self) {
        crate::support::stop(&mut self.child);
    }
}

#[tokio::test]
async fn a_worker_with_listen_serves_health_readiness_and_metrics_only() {
    let server = TestServer::start().await;
    let worker = ListeningWorker::start(&server);
    get_plain(&worker.url, "/healthz", None)
        .await
        .assert_status(200);
    let ready = get_plain(&worker.url, "/readyz", None).await;
    ready.assert_status(200);
    assert_eq!(ready.body["checks"]["database"], "ok", "{}", ready.text);
    let scraped = get_plain(&worker.url, "/metrics", None).await;
    scraped.assert_status(200);
    assert_eq!(
        sample(&scraped.text, "ladle_staging_slots"),
        Some(0.0),
        "{}",
        scraped.text
    );
    assert!(
        sample(&scraped.text, "ladle_db_pool_connections").is_some(),
        "{}",
        scraped.text
    );
    // No API on a worker.
    let api = get_plain(&worker.url, "/v3/info", None).await;
    api.assert_error(404, 10000, "NotFound", "Unknown request");
}

#[tokio::test]
async fn json_logs_carry_request_id_route_status_and_duration() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let server = TestServer::start_with_options(ServerOptions {
        env: &[("LADLE_LOG_FORMAT", "json"), ("LADLE_LOG", "info")],
        stderr: Some(log.reopen().unwrap()),
        ..ServerOptions::default()
    })
    .await;
    let fx = AppFixture::create(&server).await;
    let response = server
        .client
        .get(format!("{}/v3/apps/{}", server.url, fx.app_guid))
        .header("Authorization", format!("bearer {}", fx.developer))
        .header("X-VCAP-Request-ID", "json-log-probe")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-vcap-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    // The access line is written as the response leaves; give the writer a moment.
    let mut found = None;
    for _ in 0..50 {
        let text = std::fs::read_to_string(log.path()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|err| panic!("not one JSON object per line ({err}): {line}"))
            })
            .collect();
        found = lines
            .into_iter()
            .find(|line| line["request_id"] == request_id.as_str() && line["status"] == 200);
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let line = found.expect("an access log line for the request");
    assert_eq!(line["route"], "/v3/apps/{guid}");
    assert_eq!(line["method"], "GET");
    assert!(
        line["duration_ms"].as_str().unwrap().parse::<f64>().is_ok(),
        "{line}"
    );
    assert_eq!(line["level"], "INFO");
    assert!(line["timestamp"].is_string(), "{line}");
}

#[tokio::test]
async fn stagings_are_counted_by_outcome_and_timed_by_phase() {
    let server = TestServer::start().await;
    server.admin_buildpack("detect-pass", "detect-pass").await;
    server.admin_buildpack("compile-fail", "compile-fail").await;
    let developer = "metrics-dev";
    let (_, package_guid) = server.app_with_package(developer, "plain").await;
    let token = server.user_token(developer);
    for buildpack in ["detect-pass", "compile-fail"] {
        let created = server
            .post(
                "/v3/builds",
                &token,
                serde_json::json!({"package": {"guid": package_guid}, "lifecycle": {"type": "buildpack", "data": {"buildpacks": [buildpack]}}}),
            )
            .await;
        created.assert_status(201);
        let guid = created.body["guid"].as_str().unwrap();
        server
            .wait_final(&format!("/v3/builds/{guid}"), &token)
            .await;
    }
    let text = get_plain(&server.url, "/metrics", None).await.text;
    let staged = r#"ladle_stagings_total{outcome="staged",reason=""}"#;
    assert_eq!(sample(&text, staged), Some(1.0), "{text}");
    let failed = r#"ladle_stagings_total{outcome="failed",reason="BuildpackCompileFailed"}"#;
    assert_eq!(sample(&text, failed), Some(1.0), "{text}");
    for (phase, count) in [
        ("queue_wait", 2.0),
        ("fetch", 2.0),
        ("container_start", 2.0),
        ("buildpacks", 2.0),
        ("droplet_upload", 1.0),
    ] {
        let series = format!(r#"ladle_staging_phase_duration_seconds_count{{phase="{phase}"}}"#);
        assert_eq!(sample(&text, &series), Some(count), "{phase}: {text}");
    }
    assert_eq!(
        sample(&text, "ladle_staging_slots_busy"),
        Some(0.0),
        "{text}"
    );
}

#[tokio::test]
async fn readiness_names_migrations_the_database_lacks() {
    let server = TestServer::start().await;
    let pool = ladle::db::connect(&server.database_url)
        .await
        .expect("open the server's database");
    let (latest,): (i64,) = sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(latest)
        .execute(&pool)
        .await
        .unwrap();
    let ready = get_plain(&server.url, "/readyz", None).await;
    ready.assert_status(503);
    assert_eq!(ready.body["status"], "not ready");
    assert_eq!(
        ready.body["not_ready"],
        serde_json::json!(["migrations"]),
        "{}",
        ready.text
    );
    let said = ready.body["checks"]["migrations"].as_str().unwrap();
    assert!(said.contains(&latest.to_string()), "{said}");
    assert!(said.contains("ladle migrate"), "{said}");
    assert_eq!(ready.body["checks"]["database"], "ok");
    assert_eq!(ready.body["checks"]["blobstore"], "ok");
    // Health is about the process only.
    get_plain(&server.url, "/healthz", None)
        .await
        .assert_status(200);
}

#[test]
fn an_unknown_log_format_is_refused_at_start() {
    let data_dir = tempfile::tempdir().unwrap();
    let out = crate::support::output_within(
        Command::new(ladle_bin())
            .arg("serve")
            .arg("--listen=127.0.0.1:0")
            .arg(format!("--data-dir={}", data_dir.path().display()))
            .env("LADLE_TOKEN_SECRET", SECRET)
            .env("LADLE_LOG_FORMAT", "yaml"),
        crate::support::CLI_DEADLINE,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"LADLE_LOG_FORMAT="yaml": expected "text" or "json""#),
        "{stderr}"
    );
}
