//! Where a buildpack lives on disk, as Cloud Foundry lays it out: one folder per key named by the
//! key's xxhash64, an md5 fallback from older releases, and tolerance for zips that wrap
//! everything in one top-level folder.

use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use crate::flags::Config;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocateError {
    #[error("malformed buildpack does not contain a /bin dir: {0}")]
    NoBinDir(String),
}

pub use ladle_contract::paths::buildpack_dir_name;

/// The md5 folder name older CF releases used.
pub fn legacy_buildpack_dir_name(key: &str) -> String {
    hex::encode(Md5::digest(key.as_bytes()))
}

/// The URL scheme of a key, by the rule Go's `url.Parse(..).IsAbs()` applies: a letter followed
/// by letters, digits, `+`, `-` or `.`, then `:`. Keys with a scheme are fetched by the builder;
/// all others name admin buildpacks.
pub fn url_scheme(key: &str) -> Option<&str> {
    let (scheme, _) = key.split_once(':')?;
    let mut chars = scheme.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_is_letter && rest_ok).then_some(scheme)
}

/// Base folder for a key: downloads for URL keys, the admin folder otherwise.
pub fn base_dir<'a>(config: &'a Config, key: &str) -> &'a Path {
    if url_scheme(key).is_some() {
        &config.buildpacks_download_dir
    } else {
        &config.buildpacks_dir
    }
}

/// Where a URL buildpack is downloaded to (and an admin one expected).
pub fn buildpack_path(config: &Config, key: &str) -> PathBuf {
    base_dir(config, key).join(buildpack_dir_name(key))
}

/// The folder holding the buildpack's `bin/`, by CF's rule (`buildpackPath`): the hash dir, else
/// the md5 dir, else the only entry of the hash dir (of the md5 dir when the hash dir is empty or
/// missing) if that entry has a `bin/`, as when a zip wraps everything in one top-level folder
/// (GitHub's archives: `my-buildpack-main/bin/detect`). Hidden files count as entries, and a
/// lone file is no wrapper.
pub fn resolve(config: &Config, key: &str) -> Result<PathBuf, LocateError> {
    let base = base_dir(config, key);
    let primary = base.join(buildpack_dir_name(key));
    let legacy = base.join(legacy_buildpack_dir_name(key));
    for candidate in [&primary, &legacy] {
        if has_bin_dir(candidate) {
            return Ok(candidate.clone());
        }
    }
    let mut entries = first_two_entries(&primary);
    if entries.is_empty() {
        entries = first_two_entries(&legacy);
    }
    match entries.as_slice() {
        [only] if has_bin_dir(only) => Ok(only.clone()),
        _ => Err(LocateError::NoBinDir(key.to_string())),
    }
}

fn has_bin_dir(dir: &Path) -> bool {
    dir.join("bin").is_dir()
}

/// Enough of a folder's entries to tell "exactly one" apart; none when it cannot be read.
fn first_two_entries(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .take(2)
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_names_match_cf() {
        // xxhash64("") with seed 0 is the published test vector ef46db3751d8e999.
        assert_eq!(buildpack_dir_name(""), "ef46db3751d8e999");
        assert_eq!(buildpack_dir_name("detect-pass").len(), 16);
        assert_eq!(
            legacy_buildpack_dir_name(""),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }

    #[test]
    fn url_keys_need_a_scheme() {
        assert_eq!(url_scheme("https://example.com/bp.zip"), Some("https"));
        assert_eq!(url_scheme("ext::sh -c id"), Some("ext"));
        assert_eq!(url_scheme("ruby_buildpack"), None);
        assert_eq!(url_scheme("git@github.com:org/repo"), None);
        assert_eq!(url_scheme("-u:x"), None);
        assert_eq!(url_scheme(":nothing"), None);
    }
}
