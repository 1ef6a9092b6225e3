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
pub mod log_cache;
pub mod openapi;
pub mod organizations;
pub mod packages;
pub mod processes;
pub mod request_id;
pub mod roles;
pub mod root;
pub mod spaces;
pub mod stacks;
pub mod staging_logs;
pub mod users;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::blobstore::BlobDownload;

/// A blob as a file download: streamed to the client, or, when the blobstore redirects, a 302 to
/// a presigned URL that works without the token (Cloud Controller's `BlobDispatcher`).
pub fn file_download(
    content_type: &'static str,
    filename: &str,
    download: BlobDownload,
) -> Response {
    let stream = match download {
        BlobDownload::Redirect(url) => {
            return (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
        }
        BlobDownload::Stream(stream) => stream,
    };
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

/// Adds the `included` block a client asked for (`include=`) to a list's or a show's body.
pub fn add_included(
    body: &mut serde_json::Value,
    included: &crate::fetchers::included::Included,
    links: &crate::presenters::Links,
) {
    let records = crate::presenters::included::IncludedRecords {
        users: included.users.as_deref(),
        spaces: included.spaces.as_deref(),
        organizations: included.organizations.as_deref(),
    };
    crate::presenters::included::add_to(body, records, links);
}
