//! How a buildpack URL is shown to anyone: in views, in failure messages and in the staging
//! log. Only the staging itself ever sees the credentials a URL carries.

use std::borrow::Cow;

use url::Url;

/// What credentials are replaced with, user and password alike.
const HIDDEN: &str = "***";

/// The URL with its userinfo replaced by `***:***`, as Cloud Controller's
/// `UrlSecretObfuscator` shows it: any userinfo (a user alone included) becomes `***:***`,
/// whatever it held, so not even the length of a password shows. Anything without userinfo,
/// or that is no URL (an admin buildpack's name), is returned as it is.
pub fn obfuscate_url(raw: &str) -> Cow<'_, str> {
    let Ok(mut url) = Url::parse(raw) else {
        return Cow::Borrowed(raw);
    };
    if url.username().is_empty() && url.password().is_none() {
        return Cow::Borrowed(raw);
    }
    // Both setters refuse only URLs without a host, which cannot carry userinfo; should one
    // ever fail, show nothing of the URL rather than risk showing its password.
    match (url.set_username(HIDDEN), url.set_password(Some(HIDDEN))) {
        (Ok(()), Ok(())) => Cow::Owned(url.to_string()),
        _ => Cow::Borrowed(HIDDEN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_shown_as_cloud_controller_shows_it() {
        // Cloud Controller's own cases (url_secret_obfuscator_spec.rb).
        assert_eq!(
            obfuscate_url("https://amelialovescats:meowmeow@github.com/my-stuff&q=heart"),
            "https://***:***@github.com/my-stuff&q=heart"
        );
        assert_eq!(
            obfuscate_url("https://amelialovescats@github.com/my-stuff&q=heart"),
            "https://***:***@github.com/my-stuff&q=heart"
        );
        assert_eq!(
            obfuscate_url("https://github.com/my-stuff&q=heart"),
            "https://github.com/my-stuff&q=heart"
        );
    }

    #[test]
    fn every_transport_and_form_of_userinfo_is_hidden() {
        for (raw, shown) in [
            (
                "http://user:pa%40ss@203.0.113.2:8080/bp.git#stable",
                "http://***:***@203.0.113.2:8080/bp.git#stable",
            ),
            ("git://u:p@h/bp.git", "git://***:***@h/bp.git"),
            (
                "ssh://git@github.com/o/bp.git",
                "ssh://***:***@github.com/o/bp.git",
            ),
            ("https://:token@h/bp.zip", "https://***:***@h/bp.zip"),
            ("https://a:b@c@h/bp", "https://***:***@h/bp"),
        ] {
            assert_eq!(obfuscate_url(raw), shown, "{raw}");
        }
    }

    #[test]
    fn names_and_plain_urls_are_left_alone() {
        for raw in [
            "ruby_buildpack",
            "https://GitHub.com/o/bp",
            "file:///tmp/bp",
            "",
        ] {
            assert!(matches!(obfuscate_url(raw), Cow::Borrowed(same) if same == raw));
        }
    }
}
