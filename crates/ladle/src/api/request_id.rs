//! Per-request plumbing: the `X-VCAP-Request-ID` (client's value cleaned, `::` + a new uuid),
//! a tracing span carrying it so every log line of the request shows it, the headers every
//! response gets, and one access log line per request.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::telemetry;

pub const REQUEST_ID_HEADER: &str = "x-vcap-request-id";

/// The request's id, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub async fn layer(mut request: Request, next: Next) -> Response {
    let id = request_id_for(
        request
            .headers()
            .get(REQUEST_ID_HEADER)
            .or_else(|| request.headers().get("x-request-id"))
            .and_then(|v| v.to_str().ok()),
    );
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let method = request.method().clone();
    // The route template (`/v3/apps/{guid}`), not the path: guids would make every line unique.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("-".to_string(), |matched| matched.as_str().to_string());
    let started = Instant::now();
    let mut response = next.run(request).instrument(span).await;
    record_metrics(&method, &route, response.status(), started.elapsed());
    // Timed to the response head: a streamed body (a download, a followed log) goes on after.
    tracing::info!(
        target: "ladle::access",
        %method,
        %route,
        status = response.status().as_u16(),
        duration_ms = %format_args!("{:.2}", started.elapsed().as_secs_f64() * 1000.0),
        request_id = %id,
        "request"
    );
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=utf-8"),
        );
    }
    response
}

/// One request in `ladle_http_requests_total` and its latency histogram, by route template (an
/// unknown path is `-`, never the path itself, so clients cannot mint new series).
fn record_metrics(method: &Method, route: &str, status: StatusCode, elapsed: Duration) {
    // Methods outside HTTP's own set are one label, for the same reason.
    let method = match *method {
        Method::GET
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::HEAD
        | Method::OPTIONS => method.as_str(),
        _ => "other",
    };
    let labels = [
        ("method", method.to_string()),
        ("route", route.to_string()),
        ("status", status.as_str().to_string()),
    ];
    metrics::counter!(telemetry::HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(telemetry::HTTP_REQUEST_DURATION, &labels).record(elapsed.as_secs_f64());
}

/// Keeps only `[A-Za-z0-9_-]` of the client's id, at most 255 characters, and appends a fresh
/// uuid so that ids stay unique even when clients reuse theirs.
pub fn request_id_for(client_value: Option<&str>) -> String {
    // A version 4 uuid from the thread's generator: `Uuid::new_v4` asks the kernel for every
    // one, a system call per request for an id that needs to be unique, not secret.
    let fresh = uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string();
    let cleaned: String = client_value
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(255)
        .collect();
    if cleaned.is_empty() {
        fresh
    } else {
        format!("{cleaned}::{fresh}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_and_suffixes_client_ids() {
        let id = request_id_for(Some("abc<script>def"));
        assert!(id.starts_with("abcscriptdef::"), "{id}");
        assert_eq!(id.len(), "abcscriptdef::".len() + 36);
        assert_eq!(request_id_for(None).len(), 36);
        assert_eq!(request_id_for(Some("%%%")).len(), 36);
    }
}
