//! `ApiError`: every failure a client can see, rendered in one body that clients of both
//! dialects read: today's `{"errors":[{code,title,detail}]}` and the 2015
//! `{code, description, error_code}` side by side.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::cause_chain::CauseChain;
use crate::domain::unknown_error;
use crate::messages::{MessageError, MessageErrorKind};
use crate::outage::Outage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: u32,
    /// CC's error name without the `CF-` prefix, e.g. `ResourceNotFound`.
    pub name: &'static str,
    pub detail: String,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: u32,
        name: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            name,
            detail: detail.into(),
        }
    }

    pub fn invalid_auth_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            1000,
            "InvalidAuthToken",
            "Invalid Auth Token",
        )
    }

    pub fn message_parse_error() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            1001,
            "MessageParseError",
            "Request invalid due to parse error: invalid request body",
        )
    }

    pub fn bad_request(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            1004,
            "BadRequest",
            format!("Bad request: {detail}"),
        )
    }

    pub fn unknown_route() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10000, "NotFound", "Unknown request")
    }

    pub fn unknown_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            unknown_error::CODE,
            unknown_error::NAME,
            unknown_error::DETAIL,
        )
    }

    pub fn not_authenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            10002,
            "NotAuthenticated",
            "Authentication error",
        )
    }

    pub fn not_authorized() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            10003,
            "NotAuthorized",
            "You are not authorized to perform the requested action",
        )
    }

    /// CC's InvalidRequest has no `%s` in its format, so the detail never reaches the client.
    pub fn invalid_request() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            10004,
            "InvalidRequest",
            "The request is invalid",
        )
    }

    pub fn bad_query(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            10005,
            "BadQueryParameter",
            format!("The query parameter is invalid: {detail}"),
        )
    }

    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            10008,
            "UnprocessableEntity",
            detail,
        )
    }

    pub fn unable_to_perform(operation: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            10009,
            "UnableToPerform",
            format!("{operation} could not be completed: {detail}"),
        )
    }

    /// `resource` is the capitalised noun: "App", "Package", "Droplet".
    pub fn not_found(resource: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            10010,
            "ResourceNotFound",
            format!("{resource} not found"),
        )
    }

    /// A body larger than we accept. Cloud Controller has no error of its own for this (its
    /// nginx refuses oversized bodies before CC sees them) and reports a package that is too
    /// big as invalid, so ours is the UnprocessableEntity we also answer for a zip that expands
    /// past the limit.
    pub fn too_large(limit: &str) -> Self {
        Self::unprocessable(format!("Request body is larger than the limit of {limit}"))
    }

    /// A request header longer than we read. Cloud Controller has no error of its own for this
    /// (nginx or the router in front of it refuses such headers), so it is CC's BadRequest with
    /// HTTP's own status for it.
    pub fn header_too_large(header: &str, limit: usize) -> Self {
        Self::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            1004,
            "BadRequest",
            format!("Bad request: the {header} header is longer than {limit} bytes"),
        )
    }

    pub fn stack_not_found(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            250003,
            "StackNotFound",
            format!("The stack could not be found: {detail}"),
        )
    }

    /// CC's ServiceUnavailable (its format is a bare `%s`): a backing service is away, the
    /// client may try again.
    pub fn service_unavailable(outage: Outage) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            10015,
            "ServiceUnavailable",
            format!("The {} is unavailable; try again later", outage.name()),
        )
    }

    /// A failure that is not the client's: its cause, with every error beneath it, is logged
    /// here with the request's span and never sent to the client. When the cause is a database
    /// or blobstore that cannot be reached it is a 503 the client may retry, else a 500.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        match Outage::of(cause) {
            Some(outage) => {
                tracing::warn!(error = %CauseChain(cause), "request failed: {} unavailable", outage.name());
                Self::service_unavailable(outage)
            }
            None => {
                tracing::error!(error = %CauseChain(cause), "request failed");
                Self::unknown_error()
            }
        }
    }

    /// `CF-<Name>`, except UnknownError: Cloud Controller sends the 500s it hides from the
    /// client with the bare name (`UNKNOWN_ERROR_HASH` in its error hashers).
    pub fn title(&self) -> String {
        match self.name {
            unknown_error::NAME => unknown_error::NAME.to_string(),
            name => format!("CF-{name}"),
        }
    }

    pub fn body(&self) -> ErrorBody {
        let title = self.title();
        ErrorBody {
            errors: vec![ErrorEntry {
                code: self.code,
                title: title.clone(),
                detail: self.detail.clone(),
            }],
            code: self.code,
            description: self.detail.clone(),
            error_code: title,
        }
    }
}

/// Today's `errors` list (always one entry), then the 2015 fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    pub errors: Vec<ErrorEntry>,
    pub code: u32,
    pub description: String,
    pub error_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorEntry {
    pub code: u32,
    pub title: String,
    pub detail: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// A refused body is a 422 and a refused query string a 400, each listing every problem.
impl From<MessageError> for ApiError {
    fn from(err: MessageError) -> Self {
        match err.kind {
            MessageErrorKind::Unprocessable => ApiError::unprocessable(err.detail()),
            MessageErrorKind::BadQuery => ApiError::bad_query(err.detail()),
        }
    }
}

/// Database failures are never the client's fault: log the cause, answer ServiceUnavailable
/// when the database cannot be reached and UnknownError otherwise.
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        ApiError::internal(&err)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_speaks_both_dialects() {
        let body = serde_json::to_value(ApiError::not_found("App").body()).unwrap();
        assert_eq!(body["errors"][0]["code"], 10010);
        assert_eq!(body["errors"][0]["title"], "CF-ResourceNotFound");
        assert_eq!(body["errors"][0]["detail"], "App not found");
        assert_eq!(body["code"], 10010);
        assert_eq!(body["description"], "App not found");
        assert_eq!(body["error_code"], "CF-ResourceNotFound");
    }

    /// The error body of both dialects, as clients receive it.
    #[test]
    fn error_bodies() {
        let bodies = [
            ("error_not_found", ApiError::not_found("App")),
            (
                "error_unprocessable",
                ApiError::unprocessable("Name can't be blank, Unknown field(s): 'x'"),
            ),
            (
                "error_bad_query",
                ApiError::bad_query("Page must be a positive integer"),
            ),
            ("error_unknown", ApiError::unknown_error()),
        ];
        for (name, error) in bodies {
            insta::with_settings!({ omit_expression => true }, {
                insta::assert_json_snapshot!(name, error.body());
            });
        }
    }

    #[test]
    fn an_unreachable_database_is_a_503_service_unavailable() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let answer = ApiError::from(sqlx::Error::Io(refused));
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        let body = serde_json::to_value(answer.body()).unwrap();
        assert_eq!(body["errors"][0]["code"], 10015);
        assert_eq!(body["errors"][0]["title"], "CF-ServiceUnavailable");
        assert_eq!(
            body["errors"][0]["detail"],
            "The database is unavailable; try again later"
        );
        assert_eq!(body["error_code"], "CF-ServiceUnavailable");
    }

    /// A log sink the test can read back.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("recording the staging outcome")]
    struct Outcome(#[source] sqlx::Error);

    #[test]
    fn a_500_logs_every_cause_and_tells_the_client_nothing() {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        let err = Outcome(sqlx::Error::Protocol("unexpected message 'Z'".into()));
        let answer = tracing::subscriber::with_default(subscriber, || ApiError::internal(&err));
        let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(
            logged.contains(
                "recording the staging outcome: encountered unexpected or invalid data: unexpected message 'Z'"
            ),
            "{logged}"
        );
        assert_eq!(answer, ApiError::unknown_error());
        let body = serde_json::to_value(answer.body()).unwrap();
        assert_eq!(body["errors"][0]["title"], "UnknownError");
        assert_eq!(body["errors"][0]["detail"], "An unknown error occurred.");
        assert_eq!(body["error_code"], "UnknownError");
        assert!(!body.to_string().contains("unexpected message"));
    }
}
