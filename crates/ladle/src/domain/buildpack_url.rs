//! A custom buildpack URL as a user may give it: a git or zip URL over a transport we allow.
//! The builder checks again before running git; refusing early gives the user a 422 instead
//! of a failed staging.

use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildpackUrl(String);

impl BuildpackUrl {
    /// `allow_file`: accept `file://` (tests and local development only).
    pub fn parse(raw: &str, allow_file: bool) -> Result<Self, &'static str> {
        if raw.starts_with('-')
            || raw.contains("::")
            || raw.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err("must be a valid URI");
        }
        let url = url::Url::parse(raw).map_err(|_| "must be a valid URI")?;
        let allowed = match url.scheme() {
            "https" | "http" | "git" | "ssh" => url.has_host(),
            "file" => allow_file,
            _ => false,
        };
        if !allowed {
            return Err("must use https, http, git or ssh");
        }
        if url.fragment().is_some_and(|branch| branch.starts_with('-')) {
            return Err("must not name a branch starting with '-'");
        }
        Ok(BuildpackUrl(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A buildpack entry already recorded (on an app or a droplet) names a URL, fetched by the
    /// builder, rather than an admin buildpack. `file://` counts: whether it may be cloned was
    /// decided when the staging was asked for.
    pub fn is_url(entry: &str) -> bool {
        BuildpackUrl::parse(entry, true).is_ok()
    }

    /// A recorded buildpack entry as every view shows it, to every reader (admins included):
    /// a URL's credentials become `***:***`, as Cloud Controller's `UrlSecretObfuscator`
    /// shows them; an admin buildpack's name is left as it is. The entry itself is handed
    /// only to the staging. The staging log hides credentials with the same function.
    pub fn shown(entry: &str) -> Cow<'_, str> {
        ladle_contract::obfuscate_url(entry)
    }
}

impl fmt::Display for BuildpackUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_git_and_zip_urls_with_branches() {
        assert!(
            BuildpackUrl::parse("https://github.com/cloudfoundry/ruby-buildpack#v1.8", false)
                .is_ok()
        );
        assert!(BuildpackUrl::parse("git://127.0.0.1:9418/bp.git", false).is_ok());
        assert!(BuildpackUrl::parse("http://127.0.0.1:8000/bp.zip", false).is_ok());
    }

    #[test]
    fn refuses_argument_injection_and_odd_transports() {
        for bad in [
            "--upload-pack=touch /tmp/pwned",
            "ext::sh -c touch% /tmp/pwned",
            "https://example.com/bp#--upload-pack=x",
            "ftp://example.com/bp",
            "not a url",
            "file:///tmp/bp",
            "",
        ] {
            assert!(BuildpackUrl::parse(bad, false).is_err(), "{bad}");
        }
        assert!(BuildpackUrl::parse("file:///tmp/bp", true).is_ok());
    }

    #[test]
    fn shown_entries_hide_credentials_only() {
        assert_eq!(
            BuildpackUrl::shown("https://user:pw@git.example/bp.git#v1"),
            "https://***:***@git.example/bp.git#v1"
        );
        assert_eq!(BuildpackUrl::shown("ruby_buildpack"), "ruby_buildpack");
    }
}
