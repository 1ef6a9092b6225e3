//! What load balancers and monitoring ask a node, without a user's token: `GET /healthz` (the
//! process answers), `GET /readyz` (it can do its work) and `GET /metrics` (Prometheus text,
//! behind `LADLE_METRICS_TOKEN` when one is set). Cloud Controller has none of these, so the
//! root document does not list them.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use crate::actions::readiness;
use crate::state::AppState;

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// 200 when every check passes; 503 naming each check and what is wrong with it otherwise.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let readiness = readiness::check(&state).await;
    let checks: Map<String, Value> = readiness
        .checks
        .iter()
        .map(|check| {
            let said = check.problem.as_deref().unwrap_or("ok");
            (check.name.to_string(), Value::from(said))
        })
        .collect();
    if readiness.is_ready() {
        return Json(json!({"status": "ready", "checks": checks})).into_response();
    }
    let not_ready: Vec<&str> = readiness
        .checks
        .iter()
        .filter(|check| check.problem.is_some())
        .map(|check| check.name)
        .collect();
    let body = json!({"status": "not ready", "not_ready": not_ready, "checks": checks});
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.config.metrics_token {
        if let Err(refused) = check_bearer(&headers, expected) {
            return refused.into_response();
        }
    }
    readiness::sample_gauges(&state).await;
    let text = crate::telemetry::prometheus().render();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// `Authorization: bearer <token>` with the configured token; compared in constant time, so
/// the answer's timing tells nothing about how much of a guess was right.
fn check_bearer(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::not_authenticated());
    };
    let given = value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match given {
        Some(token) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => Ok(()),
        _ => Err(ApiError::invalid_auth_token()),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn only_the_configured_bearer_token_reads_metrics() {
        assert!(check_bearer(&with_authorization("bearer s3cret"), "s3cret").is_ok());
        assert!(check_bearer(&with_authorization("Bearer s3cret"), "s3cret").is_ok());
        assert_eq!(
            check_bearer(&HeaderMap::new(), "s3cret"),
            Err(ApiError::not_authenticated())
        );
        for wrong in [
            "bearer s3cre",
            "bearer s3cret2",
            "basic s3cret",
            "s3cret",
            "bearer ",
        ] {
            assert_eq!(
                check_bearer(&with_authorization(wrong), "s3cret"),
                Err(ApiError::invalid_auth_token()),
                "{wrong}"
            );
        }
    }
}
