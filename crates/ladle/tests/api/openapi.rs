//! `GET /v3/openapi.json`: an OpenAPI 3.1 document, without a token, of every route the server
//! answers; and every route the server answers is in it.

use reqwest::Method;
use serde_json::Value;

use crate::support::TestServer;

/// The route table, as source: the router is made only from its table.
const ROUTES_RS: &str = include_str!("../../src/routes.rs");

#[tokio::test]
async fn the_document_describes_every_route_and_each_is_served() {
    let server = TestServer::start().await;
    let response = server
        .client
        .get(format!("{}/v3/openapi.json", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let document: Value = response.json().await.unwrap();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        document["openapi"]
    );
    let paths = document["paths"].as_object().expect("paths");

    // Every line of the route table is in the document…
    let table_lines: Vec<(String, String)> = ROUTES_RS
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let (method, rest) = line.split_once(" \"")?;
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) {
                return None;
            }
            let path = rest.split_once('"')?.0;
            Some((method.to_lowercase(), path.to_string()))
        })
        .collect();
    assert!(
        table_lines.len() > 60,
        "route table lines found: {}",
        table_lines.len()
    );
    for (method, path) in &table_lines {
        assert!(
            paths.get(path).and_then(|item| item.get(method)).is_some(),
            "{method} {path} is served but not in the document"
        );
    }
    // …and the table is the router's only source of routes.
    assert_eq!(
        ROUTES_RS.matches(".route(").count(),
        1,
        "a route added outside the table would be served undocumented"
    );

    // Every operation in the document is answered by its handler: without a token, 401 where
    // one is needed, an answer of the handler's own where not; never the unknown-route 404.
    let mut operations = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let concrete = path
                .replace("{guid}", "no-such-guid")
                .replace("{type}", "web");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = server
                .client
                .request(method.clone(), format!("{}{concrete}", server.url))
                .send()
                .await
                .unwrap();
            let needs_token = operation.get("security").is_some();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            if needs_token {
                assert_eq!(status, 401, "{method} {path}: {body}");
            } else {
                assert!(
                    status < 500 && status != 404,
                    "{method} {path}: {status} {body}"
                );
            }
            assert!(!body.contains("Unknown request"), "{method} {path}: {body}");
        }
    }
    assert_eq!(operations, table_lines.len());
}
