//! Wire conventions every endpoint shares: auth, errors, headers, bodies, discovery.

use reqwest::Method;
use serde_json::json;

use crate::support::TestServer;

#[tokio::test]
async fn discovery_needs_no_token_and_links_to_every_resource() {
    let server = TestServer::start().await;
    let root = server.request(Method::GET, "/", None, None).await;
    root.assert_status(200);
    assert_eq!(
        root.body["links"]["cloud_controller_v3"]["href"],
        format!("{}/v3", server.url)
    );
    // The built-in login answers on our own origin (tests/api/login.rs).
    assert_eq!(root.body["links"]["login"]["href"], server.url.as_str());
    assert_eq!(root.body["links"]["uaa"]["href"], server.url.as_str());
    let v3 = server.request(Method::GET, "/v3", None, None).await;
    v3.assert_status(200);
    for resource in [
        "apps",
        "packages",
        "droplets",
        "builds",
        "buildpacks",
        "organizations",
        "spaces",
        "stacks",
    ] {
        assert_eq!(
            v3.body["links"][resource]["href"],
            format!("{}/v3/{resource}", server.url),
            "{resource}"
        );
    }
    server
        .request(Method::GET, "/v3/info", None, None)
        .await
        .assert_status(200);
    let v2 = server.request(Method::GET, "/v2/info", None, None).await;
    v2.assert_status(200);
    assert_eq!(v2.body["token_endpoint"], server.url);
    assert!(v2.body["api_version"].as_str().unwrap().starts_with("2."));
}

#[tokio::test]
async fn every_response_carries_request_id_nosniff_and_json_charset() {
    let server = TestServer::start().await;
    let response = server
        .client
        .get(format!("{}/v3", server.url))
        .header("X-VCAP-Request-ID", "client<id>-1")
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-vcap-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(id.starts_with("clientid-1::"), "{id}");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        response.headers()["content-type"],
        "application/json;charset=utf-8"
    );
    // Without a client id, a bare uuid; and errors get the headers too.
    let missing = server.request(Method::GET, "/v3/nowhere", None, None).await;
    assert_eq!(missing.header("x-vcap-request-id").unwrap().len(), 36);
    assert_eq!(missing.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn unknown_routes_and_methods_are_cf_not_found() {
    let server = TestServer::start().await;
    let token = server.admin_token();
    server.get("/v3/nonsense", &token).await.assert_error(
        404,
        10000,
        "NotFound",
        "Unknown request",
    );
    server
        .request(
            Method::PUT,
            "/v3/organizations",
            Some(&token),
            Some(json!({})),
        )
        .await
        .assert_error(404, 10000, "NotFound", "Unknown request");
}

#[tokio::test]
async fn tokens_are_required_verified_and_scoped() {
    let server = TestServer::start().await;
    server
        .request(Method::GET, "/v3/organizations", None, None)
        .await
        .assert_error(401, 10002, "NotAuthenticated", "Authentication error");
    server
        .get("/v3/organizations", "not-a-jwt")
        .await
        .assert_error(401, 1000, "InvalidAuthToken", "Invalid Auth Token");
    // Signed with another secret.
    let forged = {
        let out = std::process::Command::new(crate::support::ladle_bin())
            .args(["token", "--user-id=mallory", "--admin"])
            .env("LADLE_TOKEN_SECRET", "some-other-secret")
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    server
        .get("/v3/organizations", &forged)
        .await
        .assert_error(401, 1000, "InvalidAuthToken", "");
    // Expired.
    let expired = {
        let out = std::process::Command::new(crate::support::ladle_bin())
            .args(["token", "--user-id=old", "--expires-in=-60"])
            .env("LADLE_TOKEN_SECRET", crate::support::SECRET)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    server
        .get("/v3/organizations", &expired)
        .await
        .assert_error(401, 1000, "InvalidAuthToken", "");
    // alg:none with a valid-looking payload.
    let good = server.user_token("eve");
    let payload = good.split('.').nth(1).unwrap();
    let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    server
        .get("/v3/organizations", &unsigned)
        .await
        .assert_error(401, 1000, "InvalidAuthToken", "");
    // Scheme is case-insensitive.
    let response = server
        .client
        .get(format!("{}/v3/organizations", server.url))
        .header("Authorization", format!("BEARER {good}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Read-only token cannot write; write-only token cannot read.
    let reader = server.token("reader", &["cloud_controller.read"]);
    server
        .post("/v3/organizations", &reader, json!({"name": "x"}))
        .await
        .assert_error(403, 10003, "NotAuthorized", "not authorized");
    let writer = server.token("writer", &["cloud_controller.write"]);
    server
        .get("/v3/organizations", &writer)
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
}

#[tokio::test]
async fn bodies_are_json_objects_whatever_the_content_type() {
    let server = TestServer::start().await;
    let token = server.admin_token();
    // JSON labelled as a form, as 2015 clients send it.
    let response = server
        .client
        .post(format!("{}/v3/organizations", server.url))
        .header("Authorization", format!("bearer {token}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(r#"{"name":"form-labelled"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    for bad in ["{not json", "[1,2]", "", "\"text\""] {
        let response = server
            .client
            .post(format!("{}/v3/organizations", server.url))
            .header("Authorization", format!("bearer {token}"))
            .body(bad)
            .send()
            .await
            .unwrap();
        let response = crate::support::Response::read(response).await;
        response.assert_error(400, 1001, "MessageParseError", "invalid request body");
    }
    let huge = format!("{{\"name\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let response = server
        .client
        .post(format!("{}/v3/organizations", server.url))
        .header("Authorization", format!("bearer {token}"))
        .body(huge)
        .send()
        .await
        .unwrap();
    let response = crate::support::Response::read(response).await;
    response.assert_error(
        422,
        10008,
        "UnprocessableEntity",
        "Request body is larger than the limit of 1 MiB",
    );
}

#[tokio::test]
async fn lists_paginate_filter_and_refuse_unknown_parameters() {
    let server = TestServer::start().await;
    let token = server.admin_token();
    for name in ["a", "b", "c"] {
        server
            .post("/v3/organizations", &token, json!({"name": name}))
            .await
            .assert_status(201);
    }
    let page = server
        .get("/v3/organizations?per_page=2&order_by=-created_at", &token)
        .await;
    page.assert_status(200);
    assert_eq!(page.body["pagination"]["total_results"], 3);
    assert_eq!(page.body["pagination"]["total_pages"], 2);
    assert_eq!(page.body["resources"][0]["name"], "c");
    let next = page.body["pagination"]["next"]["href"].as_str().unwrap();
    assert!(
        next.contains("page=2") && next.contains("order_by=-created_at"),
        "{next}"
    );
    let filtered = server.get("/v3/organizations?names=a,c", &token).await;
    assert_eq!(filtered.body["pagination"]["total_results"], 2);
    let old_style = server.get("/v3/organizations?names[]=b", &token).await;
    assert_eq!(old_style.body["resources"][0]["name"], "b");
    server
        .get("/v3/organizations?colour=red", &token)
        .await
        .assert_error(
            400,
            10005,
            "BadQueryParameter",
            "Unknown query parameter(s): 'colour'",
        );
    server
        .get("/v3/organizations?per_page=0", &token)
        .await
        .assert_error(400, 10005, "BadQueryParameter", "between 1 and 5000");
}

#[tokio::test]
async fn pagination_links_keep_the_order_direction_and_filters() {
    let server = TestServer::start().await;
    let token = server.admin_token();
    for name in ["a", "b", "c", "d"] {
        server
            .post("/v3/organizations", &token, json!({"name": name}))
            .await
            .assert_status(201);
    }
    let page = server
        .get(
            "/v3/organizations?names=a,b,c&order_direction=desc&per_page=1&page=2",
            &token,
        )
        .await;
    page.assert_status(200);
    assert_eq!(page.body["resources"][0]["name"], "b");
    for link in ["first", "last", "next", "previous"] {
        let href = page.body["pagination"][link]["href"].as_str().unwrap();
        assert!(
            href.contains("order_direction=desc")
                && href.contains("names=a%2Cb%2Cc")
                && href.contains("per_page=1"),
            "{link}: {href}"
        );
    }
    // Following the links walks the same descending order.
    let walk = |link: &str| {
        page.body["pagination"][link]["href"]
            .as_str()
            .unwrap()
            .strip_prefix(&server.url)
            .unwrap()
            .to_string()
    };
    for (link, expected) in [
        ("next", "a"),
        ("previous", "c"),
        ("first", "c"),
        ("last", "a"),
    ] {
        let followed = server.get(&walk(link), &token).await;
        assert_eq!(followed.body["resources"][0]["name"], expected, "{link}");
    }
    server
        .get("/v3/organizations?colour=red", &token)
        .await
        .assert_error(
        400,
        10005,
        "BadQueryParameter",
        "Valid parameters are: 'page', 'per_page', 'order_by', 'order_direction', 'names', 'guids'",
    );
}

#[tokio::test]
async fn the_log_has_one_plain_line_per_request() {
    let log_dir = tempfile::tempdir().unwrap();
    let log_path = log_dir.path().join("stderr.log");
    let server = TestServer::start_with_options(crate::support::ServerOptions {
        env: &[("LADLE_LOG", "info")],
        stderr: Some(std::fs::File::create(&log_path).unwrap()),
        ..Default::default()
    })
    .await;
    let token = server.admin_token();
    let org = server
        .post("/v3/organizations", &token, json!({"name": "logged"}))
        .await;
    org.assert_status(201);
    let response = server
        .client
        .get(format!(
            "{}/v3/organizations/{}",
            server.url,
            org.body["guid"].as_str().unwrap()
        ))
        .header("Authorization", format!("bearer {token}"))
        .header("X-VCAP-Request-ID", "log-check")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-vcap-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    // The line is written before the response leaves; the deadline only guards a slow disk.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let log = loop {
        let log = std::fs::read_to_string(&log_path).unwrap();
        if log.contains(&request_id) || std::time::Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file:\n{log}"
    );
    let lines: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(&request_id))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    for part in [
        "INFO",
        "method=GET",
        "route=/v3/organizations/{guid}",
        "status=200",
        "duration_ms=",
    ] {
        assert!(lines[0].contains(part), "{part} missing from {}", lines[0]);
    }
    let creates = log
        .lines()
        .filter(|line| line.contains("method=POST route=/v3/organizations status=201"))
        .count();
    assert_eq!(creates, 1, "{log}");
}
