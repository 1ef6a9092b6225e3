//! The HTTP edge: extractors, handlers (one file per resource) and `ApiError`. No SQL and no
//! blobstore calls here: handlers parse, call one action, present.

pub mod apps;
pub mod buildpacks;
pub mod builds;
pub mod droplets;
pub mod edge;
pub mod error;
pub mod extract;
pub mod jobs;
pub mod organizations;
pub mod packages;
pub mod processes;
pub mod request_id;
pub mod roles;
pub mod root;
pub mod spaces;
pub mod stacks;
pub mod users;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::Stream;

/// A blob streamed to the client as a file download.
pub fn file_download<S, E>(content_type: &'static str, filename: &str, stream: S) -> Response
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let disposition = format!("attachment; filename=\"{filename}\"");
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
