//! Custom (URL) buildpacks: `.zip` URLs are downloaded over HTTP(S) and unpacked, everything
//! else is cloned with git. Both refuse hostile input before touching the network or a process.

mod download;
mod git;
mod unzip;

use std::path::{Path, PathBuf};

use url::Url;

pub use git::{git_allow_protocol, validate_git_source, GitSource};
pub use unzip::extract_zip;

use crate::flags::Config;
use crate::locate;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("Invalid buildpack url ({url}): {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("Refusing buildpack url {url}: {reason}")]
    Refused { url: String, reason: String },
    #[error("Failed to clone git repository at {url}")]
    Clone { url: String },
    #[error("Failed to run git for {url}: {source}")]
    GitSpawn { url: String, source: std::io::Error },
    #[error("Failed to download buildpack {url}: {reason}")]
    Download { url: String, reason: String },
    #[error("Failed to extract buildpack {url}: {reason}")]
    Extract { url: String, reason: String },
    #[error("Failed to prepare {path} for buildpack download: {source}")]
    Prepare {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Fetches every URL key of the order into `-buildpacksDownloadDir`; admin keys are skipped.
pub fn fetch_all(config: &Config) -> Result<(), FetchError> {
    for key in &config.buildpack_order {
        if locate::url_scheme(key).is_some() {
            fetch_one(config, key)?;
        }
    }
    Ok(())
}

/// True when at least one key needs fetching (so the download phase is worth announcing).
pub fn any_to_fetch(config: &Config) -> bool {
    config
        .buildpack_order
        .iter()
        .any(|key| locate::url_scheme(key).is_some())
}

fn fetch_one(config: &Config, key: &str) -> Result<(), FetchError> {
    let url = Url::parse(key).map_err(|e| FetchError::InvalidUrl {
        url: redact(key),
        reason: e.to_string(),
    })?;
    let destination = locate::buildpack_path(config, key);
    prepare_destination(&destination)?;
    if is_zip_url(&url) {
        download::download_and_extract(&url, &destination, config.skip_cert_verify)
    } else {
        let source = validate_git_source(key, &url, config.allow_file_git_urls)?;
        git::clone(&source, &destination, config.allow_file_git_urls)
    }
}

/// CF decides by the URL path's extension, whatever the server later says about content type.
fn is_zip_url(url: &Url) -> bool {
    Path::new(url.path())
        .extension()
        .is_some_and(|ext| ext == "zip")
}

/// A clean destination: a previous attempt in the same workspace must not mix into this one.
fn prepare_destination(destination: &Path) -> Result<(), FetchError> {
    let prepare_error = |source| FetchError::Prepare {
        path: destination.to_path_buf(),
        source,
    };
    if destination.exists() {
        std::fs::remove_dir_all(destination).map_err(prepare_error)?;
    }
    let parent = destination.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent).map_err(prepare_error)
}

/// The URL as messages that end up in the staging log show it: credentials hidden, the way
/// every view of the URL shows them.
fn redact(raw: &str) -> String {
    ladle_contract::obfuscate_url(raw).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_is_decided_by_path_extension() {
        assert!(is_zip_url(
            &Url::parse("https://h/x/bp.zip?token=1").unwrap()
        ));
        assert!(!is_zip_url(
            &Url::parse("https://h/x/bp.git#v1.zip").unwrap()
        ));
        assert!(!is_zip_url(&Url::parse("https://h/x/zip").unwrap()));
    }

    #[test]
    fn credentials_never_reach_messages() {
        let key = "https://user:secret@h/bp.git#-b";
        let refused = validate_git_source(key, &Url::parse(key).unwrap(), false).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "Refusing buildpack url https://***:***@h/bp.git#-b: branch \"-b\" starts with '-'"
        );
    }
}
