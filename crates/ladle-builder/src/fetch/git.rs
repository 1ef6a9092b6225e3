//! `git clone` of a buildpack URL (`#fragment` = branch), with the input checks that keep a
//! user-supplied URL from turning into git options or remote-helper commands.

use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use url::Url;

use super::{redact, FetchError};

const NETWORK_SCHEMES: [&str; 4] = ["https", "http", "git", "ssh"];

/// A URL that passed the checks, split into what git gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// URL without the fragment; never starts with `-`.
    pub url: String,
    /// Branch or tag from the fragment; never starts with `-`.
    pub branch: Option<String>,
}

/// Refuses anything git could read as an option or a command: schemes outside the allowlist
/// (`ext::`, `fd::` and other remote helpers included), `::` transport syntax anywhere, and a
/// URL or branch that starts with `-`.
pub fn validate_git_source(
    key: &str,
    url: &Url,
    allow_file: bool,
) -> Result<GitSource, FetchError> {
    let refuse = |reason: String| FetchError::Refused {
        url: redact(key),
        reason,
    };
    if key.contains("::") {
        return Err(refuse(
            "git transport syntax `<helper>::` is not allowed".into(),
        ));
    }
    let scheme = url.scheme();
    let allowed = NETWORK_SCHEMES.contains(&scheme) || (scheme == "file" && allow_file);
    if !allowed {
        let hint = if scheme == "file" {
            " (pass -allowFileGitUrls to permit it)"
        } else {
            ""
        };
        return Err(refuse(format!(
            "scheme {scheme:?} is not allowed for git buildpacks; use one of {}{hint}",
            NETWORK_SCHEMES.join(", ")
        )));
    }
    let mut without_fragment = url.clone();
    without_fragment.set_fragment(None);
    let branch = url.fragment().map(percent_decode).filter(|b| !b.is_empty());
    if let Some(branch) = &branch {
        if branch.starts_with('-') {
            return Err(refuse(format!("branch {branch:?} starts with '-'")));
        }
        if branch.chars().any(char::is_control) {
            return Err(refuse("branch contains control characters".into()));
        }
    }
    let url = without_fragment.to_string();
    if url.starts_with('-') {
        return Err(refuse("url starts with '-'".into()));
    }
    Ok(GitSource { url, branch })
}

/// Value for `GIT_ALLOW_PROTOCOL`, which also binds submodules cloned by `--recursive`.
pub fn git_allow_protocol(allow_file: bool) -> String {
    let mut protocols = NETWORK_SCHEMES.to_vec();
    if allow_file {
        protocols.push("file");
    }
    protocols.join(":")
}

/// Shallow clone first; when that fails (servers without shallow support, tags), a full clone.
pub fn clone(source: &GitSource, destination: &Path, allow_file: bool) -> Result<(), FetchError> {
    let shown = redact(&source.url);
    println!("-----> Cloning buildpack {shown}");
    let _ = io::stdout().flush();
    if run_clone(source, destination, allow_file, true)? {
        return Ok(());
    }
    if destination.exists() {
        let _ = std::fs::remove_dir_all(destination);
    }
    if run_clone(source, destination, allow_file, false)? {
        return Ok(());
    }
    Err(FetchError::Clone { url: shown })
}

fn run_clone(
    source: &GitSource,
    destination: &Path,
    allow_file: bool,
    shallow: bool,
) -> Result<bool, FetchError> {
    let mut command = Command::new("git");
    command.arg("clone");
    if shallow {
        command.args(["--depth", "1"]);
    }
    command.arg("--recursive");
    if let Some(branch) = &source.branch {
        command.args(["-b", branch]);
    }
    // Everything after `--` is positional for git, whatever it looks like.
    command.arg("--").arg(&source.url).arg(destination);
    command
        .env("GIT_ALLOW_PROTOCOL", git_allow_protocol(allow_file))
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let status = command
        .status()
        .map_err(|source_error| FetchError::GitSpawn {
            url: redact(&source.url),
            source: source_error,
        })?;
    Ok(status.success())
}

/// `%XX` sequences in the fragment, as Go's URL parser decodes them.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(key: &str, allow_file: bool) -> Result<GitSource, FetchError> {
        validate_git_source(key, &Url::parse(key).unwrap(), allow_file)
    }

    #[test]
    fn splits_branch_from_url() {
        let source = check("https://example.com/org/bp.git#v1.2", false).unwrap();
        assert_eq!(source.url, "https://example.com/org/bp.git");
        assert_eq!(source.branch.as_deref(), Some("v1.2"));
        assert_eq!(check("https://example.com/bp", false).unwrap().branch, None);
        assert_eq!(
            check("https://h/bp#feature%2Fx", false)
                .unwrap()
                .branch
                .as_deref(),
            Some("feature/x")
        );
    }

    #[test]
    fn refuses_hostile_urls() {
        for key in [
            "ext::sh -c touch% /tmp/pwned",
            "https://h/bp.git#--upload-pack=touch /tmp/pwned",
            "fd::17",
            "ftp://h/bp.git",
            "file:///srv/bp",
            "ssh::evil/bp",
        ] {
            let err = check(key, false).unwrap_err();
            assert!(
                matches!(err, FetchError::Refused { .. }),
                "{key} must be refused: {err}"
            );
        }
        // Not even a URL: fetch_one stops at the parse error before git is considered.
        assert!(Url::parse("https::evil/bp").is_err());
    }

    #[test]
    fn file_urls_only_when_allowed() {
        assert!(check("file:///srv/bp#main", true).is_ok());
        let err = check("file:///srv/bp", false).unwrap_err().to_string();
        assert!(err.contains("-allowFileGitUrls"), "{err}");
        assert_eq!(git_allow_protocol(false), "https:http:git:ssh");
        assert_eq!(git_allow_protocol(true), "https:http:git:ssh:file");
    }
}
