//! Staging logs as clients read them while a staging runs and afterwards: server-sent events on
//! `/v3/builds/:guid/logs` and `/v3/droplets/:guid/logs` (with `Last-Event-ID` to resume), and
//! log-cache's `GET /api/v1/read/:source_id`. The `slow-log` fixture prints a line a second.

use std::time::Duration;

use base64::Engine;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::builds::build_path;
use crate::support::TestServer;

const DEV: &str = "live-dev";

/// One server-sent event (or comment) as a client parses it.
#[derive(Debug, Clone, Default)]
struct Event {
    id: Option<i64>,
    event: Option<String>,
    data: Vec<String>,
    /// A comment (`: …`), which clients ignore and which keeps proxies from closing the stream.
    comment: bool,
}

/// A server-sent event stream, read as it arrives.
struct Sse {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl Sse {
    async fn open(server: &TestServer, path: &str, token: &str, last_id: Option<i64>) -> Sse {
        let mut request = server
            .client
            .get(format!("{}{path}", server.url))
            .header("Authorization", format!("bearer {token}"))
            .header("Accept", "text/event-stream");
        if let Some(id) = last_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.expect("open event stream");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Sse {
            body: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next event, or `None` once the server closed the stream.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Event::default();
                for line in block.lines().filter(|line| !line.is_empty()) {
                    if let Some(id) = line.strip_prefix("id: ") {
                        event.id = Some(id.parse().expect("numeric event id"));
                    } else if let Some(name) = line.strip_prefix("event: ") {
                        event.event = Some(name.to_string());
                    } else if let Some(data) = line.strip_prefix("data: ") {
                        event.data.push(data.to_string());
                    } else {
                        assert!(line.starts_with(':'), "not an SSE line: {line:?}");
                        event.comment = true;
                    }
                }
                return Some(event);
            }
            let chunk = tokio::time::timeout(Duration::from_secs(120), self.body.next())
                .await
                .expect("an event within 120 s");
            match chunk {
                Some(bytes) => self
                    .buffer
                    .push_str(std::str::from_utf8(&bytes.expect("stream")).unwrap()),
                None => {
                    assert!(
                        self.buffer.trim().is_empty(),
                        "cut event: {:?}",
                        self.buffer
                    );
                    return None;
                }
            }
        }
    }

    /// Every log line event up to the end event (returned too), then checks the stream closes.
    async fn rest(&mut self) -> (Vec<(i64, String)>, Value) {
        let mut lines = Vec::new();
        loop {
            let event = self
                .next()
                .await
                .expect("an end event before the stream closes");
            if event.event.as_deref() == Some("end") {
                assert!(self.next().await.is_none(), "nothing after the end event");
                let end = serde_json::from_str(&event.data.concat()).unwrap();
                return (lines, end);
            }
            if let Some(id) = event.id {
                assert_eq!(event.data.len(), 1, "one data line per log line: {event:?}");
                lines.push((id, event.data[0].clone()));
            }
        }
    }
}

/// Starts a build of `package` with the slow-log buildpack; returns the build.
async fn slow_build(server: &TestServer, token: &str, package: &str, env: Value) -> Value {
    let build = server
        .post(
            "/v3/builds",
            token,
            json!({
                "package": {"guid": package},
                "lifecycle": {"type": "buildpack", "data": {"buildpacks": ["slow-log"]}},
                "environment_variables": env,
            }),
        )
        .await;
    build.assert_status(201);
    build.body
}

fn guid(body: &Value) -> String {
    body["guid"].as_str().unwrap().to_string()
}

fn assert_increasing(lines: &[(i64, String)]) {
    for pair in lines.windows(2) {
        assert!(pair[0].0 < pair[1].0, "ids out of order: {pair:?}");
    }
}

async fn slow_log_server() -> (TestServer, String, String, String) {
    let server = TestServer::start().await;
    server.admin_buildpack("slow-log", "slow-log").await;
    let (app, package) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    (server, app, package, token)
}

#[tokio::test]
async fn events_follow_a_slow_staging_as_it_runs_and_end_with_its_state() {
    let (server, _, package, token) = slow_log_server().await;
    let build = slow_build(&server, &token, &package, json!({"SLOW_LOG_TICKS": "4"})).await;
    let build_guid = guid(&build);
    let mut events = Sse::open(
        &server,
        &format!("/v3/builds/{build_guid}/logs"),
        &token,
        None,
    )
    .await;

    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|(_, l): &(i64, String)| l.contains("slow-log tick 1"))
    {
        let event = events.next().await.expect("lines before the end");
        assert_eq!(event.event, None, "no end before tick 1: {event:?}");
        if let Some(id) = event.id {
            seen.push((id, event.data[0].clone()));
        }
    }
    let running = server.get(&build_path(&build), &token).await;
    assert_eq!(
        running.body["state"], "STAGING",
        "tick 1 came while staging ran"
    );

    let (rest, end) = events.rest().await;
    seen.extend(rest);
    assert_eq!(end, json!({"state": "STAGED", "error": null}));
    assert_increasing(&seen);
    let texts: Vec<&str> = seen.iter().map(|(_, l)| l.as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|l| l.ends_with("[STG/compile] ERR slow-log tick 3")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|l| l.ends_with("[STG/compile] OUT slow-log done")),
        "{texts:?}"
    );
    let staged = server.get(&build_path(&build), &token).await;
    assert_eq!(staged.body["state"], "STAGED");

    // Afterwards: the same lines at once, as events on either route or as today's plain text.
    let droplet = staged.body["droplet"]["guid"].as_str().unwrap().to_string();
    for path in [
        format!("/v3/droplets/{droplet}/logs"),
        format!("/v3/builds/{build_guid}/logs"),
    ] {
        let (again, end) = Sse::open(&server, &path, &token, None).await.rest().await;
        assert_eq!(again, seen, "{path}");
        assert_eq!(end["state"], "STAGED");
        let plain = server.get(&path, &token).await;
        plain.assert_status(200);
        assert!(plain
            .header("content-type")
            .unwrap()
            .starts_with("text/plain"));
        assert_eq!(plain.text.lines().collect::<Vec<_>>(), texts, "{path}");
    }

    // Only readers of the app see it; a bad id to resume from is refused.
    let stranger = server.user_token("live-stranger");
    server
        .get(&format!("/v3/builds/{build_guid}/logs"), &stranger)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Build not found");
    let resumed = server
        .client
        .get(format!("{}/v3/builds/{build_guid}/logs", server.url))
        .header("Authorization", format!("bearer {token}"))
        .header("Accept", "text/event-stream")
        .header("Last-Event-ID", "seven")
        .send()
        .await
        .unwrap();
    crate::support::Response::read(resumed).await.assert_error(
        400,
        1004,
        "BadRequest",
        "Last-Event-ID",
    );
}

#[tokio::test]
async fn a_client_that_reconnects_with_last_event_id_gets_only_what_it_missed() {
    let (server, _, package, token) = slow_log_server().await;
    let build = slow_build(&server, &token, &package, json!({"SLOW_LOG_TICKS": "4"})).await;
    let path = format!("/v3/builds/{}/logs", guid(&build));

    let mut first = Vec::new();
    {
        let mut events = Sse::open(&server, &path, &token, None).await;
        while !first
            .iter()
            .any(|(_, l): &(i64, String)| l.contains("slow-log tick 2"))
        {
            let event = events.next().await.expect("tick 2 before the end");
            if let Some(id) = event.id {
                first.push((id, event.data[0].clone()));
            }
        }
    } // the connection drops here, mid-staging
    let last_id = first.last().unwrap().0;
    let (second, end) = Sse::open(&server, &path, &token, Some(last_id))
        .await
        .rest()
        .await;
    assert_eq!(end["state"], "STAGED");
    assert!(second[0].0 > last_id, "nothing twice: {second:?}");
    assert!(second.iter().any(|(_, l)| l.contains("slow-log tick 4")));

    let (whole, _) = Sse::open(&server, &path, &token, None).await.rest().await;
    let joined: Vec<_> = first.into_iter().chain(second).collect();
    assert_eq!(joined, whole, "the two connections together miss nothing");

    // Resuming after the last line gives just the end.
    let (none, end) = Sse::open(&server, &path, &token, Some(whole.last().unwrap().0))
        .await
        .rest()
        .await;
    assert!(none.is_empty(), "{none:?}");
    assert_eq!(end["state"], "STAGED");
}

#[tokio::test]
async fn a_failed_stagings_log_ends_with_the_reason_in_plain_words() {
    let (server, app, package, token) = slow_log_server().await;
    let build = slow_build(
        &server,
        &token,
        &package,
        json!({"SLOW_LOG_TICKS": "1", "SLOW_LOG_FAIL": "yes"}),
    )
    .await;
    let (lines, end) = Sse::open(
        &server,
        &format!("/v3/builds/{}/logs", guid(&build)),
        &token,
        None,
    )
    .await
    .rest()
    .await;
    assert_eq!(end["state"], "FAILED");
    let error = end["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "BuildpackCompileFailed - App staging failed in the buildpack compile phase"
        ),
        "{error}"
    );
    let last = &lines.last().unwrap().1;
    assert!(
        last.contains("ERR Staging failed: App staging failed in the buildpack compile phase"),
        "{last}"
    );
    let failed = server.get(&build_path(&build), &token).await;
    assert_eq!(failed.body["error"], error);

    let plain = server
        .get(&format!("/v3/builds/{}/logs", guid(&build)), &token)
        .await;
    assert_eq!(plain.text.lines().last().unwrap(), last.as_str());

    let newest = server
        .get(
            &format!("/api/v1/read/{app}?descending=true&limit=1"),
            &token,
        )
        .await;
    newest.assert_status(200);
    let envelope = &newest.body["envelopes"]["batch"][0];
    assert_eq!(envelope["log"]["type"], "ERR");
    assert!(payload(envelope).starts_with("Staging failed: App staging failed"));
}

fn payload(envelope: &Value) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(envelope["log"]["payload"].as_str().unwrap())
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

fn batch(response: &crate::support::Response) -> Vec<Value> {
    response.assert_status(200);
    response.body["envelopes"]["batch"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn log_cache_reads_an_apps_staging_logs_by_time_limit_and_order() {
    let (server, app, package, token) = slow_log_server().await;
    let build = slow_build(&server, &token, &package, json!({"SLOW_LOG_TICKS": "3"})).await;
    server.wait_final(&build_path(&build), &token).await;

    // Found from the root document, as clients find it.
    let root = server.get("/", "").await;
    let log_cache = root.body["links"]["log_cache"]["href"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(log_cache, server.url);
    let all = batch(&server.get(&format!("/api/v1/read/{app}"), &token).await);

    let droplet = server.get(&build_path(&build), &token).await.body["droplet"]["guid"]
        .as_str()
        .unwrap()
        .to_string();
    let plain = server
        .get(&format!("/v3/droplets/{droplet}/logs"), &token)
        .await;
    let texts: Vec<String> = plain
        .text
        .lines()
        .map(|l| l.split_once("] ").unwrap().1[4..].to_string())
        .collect();
    assert_eq!(all.iter().map(payload).collect::<Vec<_>>(), texts);
    let times: Vec<i64> = all
        .iter()
        .map(|e| e["timestamp"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|t| t[0] < t[1]), "{times:?}");
    for envelope in &all {
        assert_eq!(envelope["source_id"], app.as_str());
        assert_eq!(envelope["instance_id"], "0");
        assert_eq!(envelope["tags"], json!({"source_type": "STG"}));
    }
    let tick3 = all
        .iter()
        .find(|e| payload(e) == "slow-log tick 3")
        .unwrap();
    assert_eq!(tick3["log"]["type"], "ERR");
    assert!(all
        .iter()
        .any(|e| payload(e) == "slow-log done" && e["log"]["type"] == "OUT"));

    let read = |query: String| {
        let server = &server;
        let (app, token) = (app.clone(), token.clone());
        async move {
            batch(
                &server
                    .get(&format!("/api/v1/read/{app}?{query}"), &token)
                    .await,
            )
        }
    };
    let n = all.len();
    assert!(n > 4, "{n} lines");
    assert_eq!(read("limit=2".into()).await, all[..2]);
    let newest: Vec<Value> = all[n - 2..].iter().rev().cloned().collect();
    assert_eq!(read("limit=2&descending=true".into()).await, newest);
    // [start_time, end_time): the start is in, the end is out.
    assert_eq!(read(format!("start_time={}", times[2])).await, all[2..]);
    assert_eq!(read(format!("start_time={}", times[2] + 1)).await, all[3..]);
    assert_eq!(read(format!("end_time={}", times[2])).await, all[..2]);
    assert_eq!(
        read(format!("start_time={}&end_time={}", times[1], times[3])).await,
        all[1..3]
    );
    assert_eq!(
        read("envelope_types=LOG&envelope_types=GAUGE".into()).await,
        all
    );
    assert_eq!(read("envelope_types=ANY".into()).await, all);
    assert!(read("envelope_types=COUNTER".into()).await.is_empty());
    assert!(read(format!("start_time={}", times[n - 1] + 1))
        .await
        .is_empty());

    // A second staging of the same app adds its lines after the first one's.
    let again = slow_build(&server, &token, &package, json!({"SLOW_LOG_TICKS": "0"})).await;
    server.wait_final(&build_path(&again), &token).await;
    let both = read("limit=1000".into()).await;
    assert_eq!(both[..n], all[..]);
    assert!(both.len() > n && payload(both.last().unwrap()) == "slow-log done");

    // Bad parameters: 400 in log-cache's words, as a CF error.
    for (query, detail) in [
        ("limit=1001", "Limit (1001) must be 1000 or less"),
        ("limit=-1", "Limit (-1) must be greater than zero"),
        (
            "start_time=10&end_time=5",
            "StartTime (10) must be before EndTime (5)",
        ),
        (
            "start_time=yesterday",
            "start_time must be an integer, not 'yesterday'",
        ),
        ("end_time=1.5", "end_time must be an integer, not '1.5'"),
        (
            "descending=maybe",
            "descending must be true or false, not 'maybe'",
        ),
        ("envelope_types=LOGS", "envelope_types must be one of"),
    ] {
        server
            .get(&format!("/api/v1/read/{app}?{query}"), &token)
            .await
            .assert_error(400, 10005, "BadQueryParameter", detail);
    }

    // Permissions as for reading the app: readers yes, others 404, no token 401.
    let space = server.get(&format!("/v3/apps/{app}"), &token).await.body["relationships"]["space"]
        ["data"]["guid"]
        .as_str()
        .unwrap()
        .to_string();
    let org = server.org_of(&space).await;
    server
        .grant("live-auditor", "organization_user", "organization", &org)
        .await;
    server
        .grant("live-auditor", "space_auditor", "space", &space)
        .await;
    let auditor = server.user_token("live-auditor");
    let seen_by_auditor = server
        .get(&format!("/api/v1/read/{app}?limit=1000"), &auditor)
        .await;
    assert_eq!(batch(&seen_by_auditor), both);
    for token in [server.user_token("live-stranger"), server.user_token(DEV)] {
        server
            .get(&format!("/api/v1/read/{}", crate::support::uuid()), &token)
            .await
            .assert_error(404, 10010, "ResourceNotFound", "App not found");
    }
    server
        .get(
            &format!("/api/v1/read/{app}"),
            &server.user_token("live-stranger"),
        )
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");
    server
        .get(&format!("/api/v1/read/{app}"), "")
        .await
        .assert_status(401);
    let seen_by_admin = server
        .get(
            &format!("/api/v1/read/{app}?limit=1000"),
            &server.admin_token(),
        )
        .await;
    assert_eq!(batch(&seen_by_admin), both);
}

#[tokio::test]
async fn events_follow_a_staging_that_another_node_runs() {
    let server = TestServer::start_with(&[("LADLE_STAGING_SLOTS", "0")]).await;
    server.admin_buildpack("slow-log", "slow-log").await;
    let (_, package) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let build = slow_build(&server, &token, &package, json!({"SLOW_LOG_TICKS": "3"})).await;
    let path = format!("/v3/builds/{}/logs", guid(&build));
    let mut events = Sse::open(&server, &path, &token, None).await;
    let _worker = crate::worker::Worker::start(&server);

    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("slow-log tick 1")) {
        let event = events.next().await.expect("lines before the end");
        seen.extend(event.data);
    }
    let running = server.get(&build_path(&build), &token).await;
    assert_eq!(
        running.body["state"], "STAGING",
        "tick 1 came while the worker staged"
    );
    let (rest, end) = events.rest().await;
    assert!(
        rest.iter().any(|(_, l)| l.ends_with("slow-log done")),
        "{rest:?}"
    );
    assert_eq!(end["state"], "STAGED");
}

#[tokio::test]
async fn a_silent_staging_keeps_the_event_stream_alive_with_comments() {
    let (server, _, package, token) = slow_log_server().await;
    let env = json!({"SLOW_LOG_TICKS": "1", "SLOW_LOG_PAUSE": "17"});
    let build = slow_build(&server, &token, &package, env).await;
    let path = format!("/v3/builds/{}/logs", guid(&build));
    let mut events = Sse::open(&server, &path, &token, None).await;
    loop {
        let event = events.next().await.expect("the pause before the end");
        if event.data.iter().any(|l| l.contains("slow-log pausing")) {
            break;
        }
    }
    // Seventeen silent seconds: the server says it is alive before the next line comes.
    let next = events.next().await.unwrap();
    assert!(next.comment && next.data.is_empty(), "{next:?}");
    let (lines, end) = events.rest().await;
    assert!(lines.iter().any(|(_, l)| l.contains("slow-log tick 1")));
    assert_eq!(end["state"], "STAGED");
}
