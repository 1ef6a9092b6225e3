//! The multipart upload form that package and buildpack uploads share: the `bits` file,
//! streamed to disk as it arrives, and the `resources` list CC's clients may send with it.

use std::path::{Path, PathBuf};

use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::Multipart;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::upload_check::{self, ReceiveError, ReceivedFile};

/// Where uploads are received before they are inspected and kept.
pub fn upload_dir(state: &AppState) -> PathBuf {
    state.config.data_dir.join("tmp")
}

/// Largest `resources` field we read.
const MAX_RESOURCES_FIELD: usize = 1024 * 1024;

/// A multipart upload: the `bits` file, already streamed to disk, and the `resources` list.
#[derive(Default)]
pub struct UploadForm {
    pub bits: Option<ReceivedFile>,
    /// The client's name for the `bits` file.
    pub filename: Option<String>,
    resources: Option<Vec<Value>>,
}

impl UploadForm {
    /// Reads every field; `bits` goes to a file under `dir` as it arrives. Fields other than
    /// `bits` (and `resources` when `accepts_resources`) are refused.
    pub async fn read(
        form: Result<Multipart, MultipartRejection>,
        dir: &Path,
        max_bytes: u64,
        accepts_resources: bool,
    ) -> ApiResult<UploadForm> {
        let mut multipart = form.map_err(|_| no_zip())?;
        let mut read = UploadForm::default();
        while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
            match field.name().unwrap_or_default() {
                "bits" if read.bits.is_none() => {
                    read.filename = field.file_name().map(str::to_string);
                    let received =
                        upload_check::receive(std::pin::pin!(field), dir, max_bytes).await;
                    read.bits = Some(received.map_err(receive_error)?);
                }
                "resources" if accepts_resources && read.resources.is_none() => {
                    read.resources = Some(read_resources(field).await?);
                }
                other => {
                    return Err(ApiError::unprocessable(format!(
                        "Unknown or repeated field(s): '{other}'"
                    )))
                }
            }
        }
        Ok(read)
    }

    /// The zip, refusing what we cannot do: matching `resources` against bits already stored
    /// would need a resource cache, which we do not keep, so only an empty list is accepted.
    pub fn bits_without_resources(self) -> ApiResult<ReceivedFile> {
        if self.resources.as_ref().is_some_and(|r| !r.is_empty()) {
            return Err(ApiError::unprocessable(
                "Resource matching is not supported",
            ));
        }
        self.bits.ok_or_else(no_zip)
    }
}

async fn read_resources(mut field: Field<'_>) -> ApiResult<Vec<Value>> {
    let mut text = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
        if text.len() + chunk.len() > MAX_RESOURCES_FIELD {
            return Err(ApiError::too_large("1 MiB for resources"));
        }
        text.extend_from_slice(&chunk);
    }
    match serde_json::from_slice::<Value>(&text) {
        Ok(Value::Array(resources)) => Ok(resources),
        _ => Err(ApiError::unprocessable("Resources must be valid JSON.")),
    }
}

fn no_zip() -> ApiError {
    ApiError::unprocessable("An application zip file must be uploaded")
}

fn unreadable(err: MultipartError) -> ApiError {
    ApiError::bad_request(format_args!("multipart body: {}", err.body_text()))
}

fn receive_error(err: ReceiveError) -> ApiError {
    match &err {
        ReceiveError::TooLarge { limit } => {
            ApiError::too_large(&format!("{} MB", limit / (1024 * 1024)))
        }
        ReceiveError::Interrupted(cause) => {
            ApiError::bad_request(format_args!("the upload was interrupted: {cause}"))
        }
        ReceiveError::Io(_) => ApiError::internal(&err),
    }
}
