//! `POST /oauth/token` form → the grant asked for, or the OAuth error UAA answers.

use std::collections::HashMap;

/// What a token request asks for (the client is authenticated separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub grant: Grant,
    /// `None` or empty: every scope the user (or client) may have.
    pub scope: Option<Vec<String>>,
    /// `client_id` / `client_secret` repeated in the body, as the PyPI client sends them.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    Password { username: String, password: String },
    RefreshToken { refresh_token: String },
    ClientCredentials,
}

/// An OAuth 2 error (RFC 6749 §5.2) for a request that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRequestError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("Unsupported grant type: {0}")]
    UnsupportedGrantType(String),
}

impl TokenRequest {
    /// Parses an `application/x-www-form-urlencoded` body. A parameter given twice counts once
    /// (the first), as Spring's token endpoint reads it.
    pub fn parse(form: &[u8]) -> Result<TokenRequest, TokenRequestError> {
        let mut params: HashMap<String, String> = HashMap::new();
        for (key, value) in url::form_urlencoded::parse(form) {
            params.entry(key.into_owned()).or_insert(value.into_owned());
        }
        let take = |name: &str| params.get(name).cloned();
        let required = |name: &str| {
            take(name)
                .filter(|value| !value.is_empty())
                .ok_or_else(|| TokenRequestError::InvalidRequest(format!("Missing {name}")))
        };
        let grant = match take("grant_type").as_deref() {
            None | Some("") => {
                return Err(TokenRequestError::InvalidRequest(
                    "A grant type must be provided".into(),
                ))
            }
            Some("password") => Grant::Password {
                username: required("username")?,
                password: take("password")
                    .ok_or_else(|| TokenRequestError::InvalidRequest("Missing password".into()))?,
            },
            Some("refresh_token") => Grant::RefreshToken {
                refresh_token: required("refresh_token")?,
            },
            Some("client_credentials") => Grant::ClientCredentials,
            Some(other) => return Err(TokenRequestError::UnsupportedGrantType(other.into())),
        };
        let scope = take("scope")
            .map(|scope| {
                scope
                    .split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|scopes| !scopes.is_empty());
        Ok(TokenRequest {
            grant,
            scope,
            client_id: take("client_id"),
            client_secret: take("client_secret"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_grant() {
        let password =
            TokenRequest::parse(b"grant_type=password&username=ann%40x&password=p+q&scope=")
                .unwrap();
        assert_eq!(
            password.grant,
            Grant::Password {
                username: "ann@x".into(),
                password: "p q".into()
            }
        );
        assert_eq!(password.scope, None);
        let refresh =
            TokenRequest::parse(b"grant_type=refresh_token&refresh_token=abc&scope=a%20b").unwrap();
        assert_eq!(
            refresh.grant,
            Grant::RefreshToken {
                refresh_token: "abc".into()
            }
        );
        assert_eq!(refresh.scope, Some(vec!["a".into(), "b".into()]));
        let client =
            TokenRequest::parse(b"grant_type=client_credentials&client_id=ci&client_secret=s")
                .unwrap();
        assert_eq!(client.grant, Grant::ClientCredentials);
        assert_eq!(client.client_id.as_deref(), Some("ci"));
    }

    #[test]
    fn refuses_what_it_cannot_serve() {
        assert!(matches!(
            TokenRequest::parse(b""),
            Err(TokenRequestError::InvalidRequest(_))
        ));
        assert!(matches!(
            TokenRequest::parse(b"grant_type=implicit"),
            Err(TokenRequestError::UnsupportedGrantType(g)) if g == "implicit"
        ));
        assert!(matches!(
            TokenRequest::parse(b"grant_type=password&password=x"),
            Err(TokenRequestError::InvalidRequest(_))
        ));
        assert!(matches!(
            TokenRequest::parse(b"grant_type=refresh_token"),
            Err(TokenRequestError::InvalidRequest(_))
        ));
    }
}
