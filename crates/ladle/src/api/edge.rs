//! What every request passes before its route: the request id and access log (outermost, so
//! every answer below carries the id), a panic turned into CC's 500 UnknownError body, and an
//! `Authorization` header longer than any token refused with 431.

use std::any::Any;

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use super::error::ApiError;
use super::request_id;

/// Longest `Authorization` header read. UAA's tokens, scopes and all, are a few KiB; anything
/// this long is not a token, and is refused before it is decoded.
pub const MAX_AUTHORIZATION_BYTES: usize = 16 * 1024;

/// `routes` behind the layers every request passes, innermost first.
pub fn wrap<S: Clone + Send + Sync + 'static>(routes: Router<S>) -> Router<S> {
    routes
        .layer(axum::middleware::from_fn(refuse_oversized_authorization))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(request_id::layer))
}

async fn refuse_oversized_authorization(request: Request, next: Next) -> Response {
    let length: usize = request
        .headers()
        .get_all(header::AUTHORIZATION)
        .iter()
        .map(|value| value.len())
        .sum();
    if length > MAX_AUTHORIZATION_BYTES {
        return ApiError::header_too_large("Authorization", MAX_AUTHORIZATION_BYTES)
            .into_response();
    }
    next.run(request).await
}

/// A handler that panicked: the message is logged (with the request's id, as the request's span
/// is still entered), the client gets the UnknownError every other 500 gets.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    tracing::error!(panic = message, "request handler panicked");
    ApiError::unknown_error().into_response()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::routing::get;
    use tokio::net::TcpListener;

    use super::*;
    use crate::serve::{serve, ConnectionLimits};

    /// Nothing a client sends makes a ladle handler panic, so this route does, served through
    /// the same layers and the same connection handling as the real route table.
    async fn start_with_panicking_route() -> String {
        let routes = Router::new()
            .route(
                "/panic",
                get(|| async {
                    panic!("a test route that always panics");
                    #[allow(unreachable_code)]
                    ""
                }),
            )
            .route("/fine", get(|| async { "fine" }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(5),
            send_timeout: Duration::from_secs(5),
            max_connections: 8,
        };
        tokio::spawn(serve(
            listener,
            wrap(routes),
            limits,
            std::future::pending(),
        ));
        url
    }

    #[tokio::test]
    async fn a_panic_is_a_500_with_cloud_controllers_unknown_error_body() {
        let url = start_with_panicking_route().await;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let response = client
            .get(format!("{url}/panic"))
            .header("X-VCAP-Request-ID", "panic-probe")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 500);
        let request_id = response.headers()["x-vcap-request-id"].to_str().unwrap();
        assert!(request_id.starts_with("panic-probe::"), "{request_id}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json;charset=utf-8"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            body,
            serde_json::to_value(ApiError::unknown_error().body()).unwrap()
        );
        assert_eq!(body["errors"][0]["code"], 10001);
        assert_eq!(body["errors"][0]["title"], "UnknownError");
        // The server, and the connection pool's next request, carry on.
        let fine = client.get(format!("{url}/fine")).send().await.unwrap();
        assert_eq!(fine.status(), 200);
        assert_eq!(fine.text().await.unwrap(), "fine");
    }
}
