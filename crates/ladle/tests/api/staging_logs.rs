//! A buildpack that floods its log (`fixtures/buildpacks/log-flood`): the stored log stops at
//! `LADLE_STAGING_LOG_MAX_BYTES` behind one "log truncated" line, a build's
//! `staging_log_rate_limit_bytes_per_second` (or the node's default) drops what comes faster,
//! and the server's memory stays bounded while it happens and afterwards.

use std::time::Duration;

use serde_json::{json, Value};

use crate::builds::build_path;
use crate::support::TestServer;

const DEV: &str = "flood-dev";

/// The text of each stored line (without the time, phase and stream the log adds).
async fn stored_lines(server: &TestServer, droplet: &str, token: &str) -> Vec<String> {
    let log = server
        .get(&format!("/v3/droplets/{droplet}/logs"), token)
        .await;
    log.assert_status(200);
    log.text
        .lines()
        .map(|line| {
            let (_, text) = line
                .split_once("] OUT ")
                .or_else(|| line.split_once("] ERR "))
                .unwrap_or_else(|| panic!("not a log line: {line:.200}"));
            text.to_string()
        })
        .collect()
}

/// Stages the app's package with the log-flood buildpack; returns the final build.
async fn flood(
    server: &TestServer,
    token: &str,
    package: &str,
    megabytes: u32,
    rate: Option<i64>,
) -> Value {
    let mut body = json!({
        "package": {"guid": package},
        "lifecycle": {"type": "buildpack", "data": {"buildpacks": ["log-flood"]}},
        "environment_variables": {"LOG_FLOOD_MB": megabytes.to_string()},
    });
    if let Some(rate) = rate {
        body["staging_log_rate_limit_bytes_per_second"] = json!(rate);
    }
    let build = server.post("/v3/builds", token, body).await;
    build.assert_status(201);
    let done = server.wait_final(&build_path(&build.body), token).await;
    assert_eq!(done["state"], "STAGED", "{done}");
    done
}

fn kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

#[tokio::test]
async fn a_log_flood_is_capped_with_one_truncation_line_and_memory_stays_bounded() {
    const CAP: usize = 2 * 1024 * 1024;
    let server = TestServer::start_with(&[("LADLE_STAGING_LOG_MAX_BYTES", "2097152")]).await;
    server.admin_buildpack("log-flood", "log-flood").await;
    let (_, package) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let pid = server.pid();
    let rss_before = kib(pid, "VmRSS:");

    let build = flood(&server, &token, &package, 64, None).await;

    let droplet = build["droplet"]["guid"].as_str().unwrap();
    let lines = stored_lines(&server, droplet, &token).await;
    let last = lines.last().unwrap();
    assert_eq!(
        last,
        "log truncated after 2097152 bytes: the rest of this staging's log is dropped"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("log truncated"))
            .count(),
        1
    );
    let kept: usize = lines[..lines.len() - 1].iter().map(String::len).sum();
    assert!(kept <= CAP && kept > CAP - 64 * 1024, "{kept} bytes kept");
    assert!(lines
        .iter()
        .any(|l| l.starts_with("-----> log-flood printing 64 MB")));
    assert!(!lines.iter().any(|l| l.contains("log-flood done")));

    // The stager read (and dropped) 72 MB; the server held little of it at any time.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_after, peak) = (kib(pid, "VmRSS:"), kib(pid, "VmHWM:"));
    assert!(
        rss_after < rss_before + 48 * 1024,
        "RSS {rss_before} KiB before the flood, {rss_after} KiB after"
    );
    assert!(
        peak < rss_before + 96 * 1024,
        "RSS {rss_before} KiB before the flood, peak {peak} KiB"
    );
}

#[tokio::test]
async fn the_builds_log_rate_limit_or_the_nodes_default_drops_what_comes_faster() {
    let server =
        TestServer::start_with(&[("LADLE_STAGING_LOG_RATE_LIMIT_BYTES_PER_SECOND", "20000")]).await;
    server.admin_buildpack("log-flood", "log-flood").await;
    let (_, package) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    for (rate, noticed) in [(Some(1000), 1000), (None, 20000)] {
        let build = flood(&server, &token, &package, 4, rate).await;
        let droplet = build["droplet"]["guid"].as_str().unwrap();
        let lines = stored_lines(&server, droplet, &token).await;
        let notice = format!("staging exceeded log rate limit ({noticed} bytes/sec)");
        assert!(lines.contains(&notice), "{rate:?}: no {notice:?}");
        let flood_lines = lines
            .iter()
            .filter(|l| l.starts_with("log-flood line"))
            .count();
        let all: usize = lines.iter().map(String::len).sum();
        // A 4 MB flood takes a few seconds at most; at this rate only a sliver of it is kept.
        assert!(
            all < noticed as usize * 30,
            "{rate:?}: {all} bytes in {} lines, {flood_lines} of the flood",
            lines.len()
        );
    }
    // -1 is Cloud Foundry's "unlimited": nothing is dropped for the rate.
    let build = flood(&server, &token, &package, 1, Some(-1)).await;
    let droplet = build["droplet"]["guid"].as_str().unwrap();
    let lines = stored_lines(&server, droplet, &token).await;
    assert!(!lines.iter().any(|l| l.contains("exceeded log rate limit")));
    assert!(lines.iter().any(|l| l == "-----> log-flood done"));
    let flood_bytes: usize = lines
        .iter()
        .filter(|l| l.starts_with("log-flood line") || l.starts_with("xxx"))
        .map(|l| l.len() + 1)
        .sum();
    assert!(flood_bytes >= 9 * 1024 * 1024, "{flood_bytes}");
}
