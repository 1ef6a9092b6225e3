//! Errors of the UAA-compatible routes (`/oauth/token`, `/Users`), in UAA's body:
//! `{"error": "...", "error_description": "..."}`, plus `message` as UAA's user management adds
//! it. Clients of those routes read these, not Cloud Controller's error bodies.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::extract::BearerError;
use crate::cause_chain::CauseChain;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UaaError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// UAA's user management repeats the description as `message`; its token endpoint does not.
    pub with_message: bool,
}

impl UaaError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        UaaError {
            status,
            error,
            description: description.into(),
            with_message: false,
        }
    }

    /// The same error in the body of UAA's user management.
    pub fn scim(mut self) -> Self {
        self.with_message = true;
        self
    }

    pub fn unauthorized(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", description)
    }

    pub fn access_denied() -> Self {
        Self::new(StatusCode::FORBIDDEN, "access_denied", "Access is denied")
    }

    pub fn internal(err: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %CauseChain(err), "UAA route failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Internal Server Error",
        )
    }
}

impl From<BearerError> for UaaError {
    fn from(err: BearerError) -> Self {
        match err {
            BearerError::Missing => {
                Self::unauthorized("Full authentication is required to access this resource")
            }
            BearerError::Invalid => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "The token is invalid, expired or not an access token",
            ),
        }
    }
}

impl IntoResponse for UaaError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "error": self.error,
            "error_description": self.description,
        });
        if self.with_message {
            body["message"] = json!(self.description);
        }
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        // Token answers and their errors are never cached (RFC 6749 §5.1).
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.status == StatusCode::UNAUTHORIZED && self.error == "invalid_client" {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"UAA/client\", error=\"invalid_client\""),
            );
        }
        response
    }
}
