//! HS256 bearer tokens in UAA's shape. The server verifies them; `ladle token` signs them with
//! the same secret.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Deserializer, Serialize};

pub const AUDIENCE: &str = "cloud_controller";

/// The claims Cloud Controller reads. Only the signature, `exp` and an `aud` naming
/// `cloud_controller` are required (the 2015 spec page's own token has just `user_id`, `email`,
/// `scope`, `aud` and `exp`); everything else may be missing, and an `nbf` present is honoured.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The caller of a client-credentials token (which has no `user_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// UAA sends an array; OAuth's own form is one space-separated string.
    #[serde(default, deserialize_with = "scopes_from_list_or_string")]
    pub scope: Vec<String>,
    /// RFC 7519: one string or an array of strings.
    #[serde(deserialize_with = "audiences_from_list_or_string")]
    pub aud: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_numeric_date"
    )]
    pub iat: Option<i64>,
    #[serde(deserialize_with = "numeric_date")]
    pub exp: i64,
    /// Not valid before this time (checked on verification; a token that is not yet valid is
    /// refused like an expired one).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_numeric_date"
    )]
    pub nbf: Option<i64>,
}

impl Claims {
    /// Who is calling, as Cloud Controller decides it: `user_id`, else `client_id` for a
    /// client-credentials token. A token naming neither has no caller.
    pub fn caller_guid(&self) -> Option<&str> {
        self.user_id.as_deref().or(self.client_id.as_deref())
    }

    /// UAA's refresh tokens carry a `jti` ending in `-r`; they are not access tokens.
    fn is_refresh_token(&self) -> bool {
        self.jti.as_deref().is_some_and(|jti| jti.ends_with("-r"))
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ListOrString {
    List(Vec<String>),
    String(String),
}

fn scopes_from_list_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Option::<ListOrString>::deserialize(d)? {
        None => Vec::new(),
        Some(ListOrString::List(scopes)) => scopes,
        Some(ListOrString::String(scopes)) => {
            scopes.split_whitespace().map(str::to_string).collect()
        }
    })
}

/// RFC 7519's NumericDate may carry a fraction of a second; whole seconds are enough here.
fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(f64::deserialize(d)? as i64)
}

fn optional_numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.map(|seconds| seconds as i64))
}

fn audiences_from_list_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match ListOrString::deserialize(d)? {
        ListOrString::List(audiences) => audiences,
        ListOrString::String(audience) => vec![audience],
    })
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("refresh tokens are not accepted")]
    RefreshToken,
    #[error("the token names no caller (neither user_id nor client_id)")]
    NoCaller,
    #[error("the token's caller is empty or longer than {MAX_CALLER_CHARS} characters")]
    UnusableCaller,
}

/// Longest caller guid: what Cloud Controller's `users.guid` column (255 characters) holds.
pub const MAX_CALLER_CHARS: usize = 255;

/// The secret in both forms, built once.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &str) -> Self {
        // Only HS256 is configured: `alg: none` and every other algorithm fail validation.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = 0;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = decode::<Claims>(token, &self.decoding, &self.validation)?.claims;
        if claims.is_refresh_token() {
            return Err(TokenError::RefreshToken);
        }
        Ok(claims)
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        Ok(encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.encoding,
        )?)
    }
}

/// What `ladle token` asks for.
pub struct TokenRequest {
    pub user_id: String,
    pub email: Option<String>,
    pub scopes: Vec<String>,
    pub expires_in_seconds: i64,
    pub issuer: String,
}

pub fn claims_for(request: TokenRequest) -> Claims {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let user_name = request
        .email
        .as_deref()
        .map(|email| email.split('@').next().unwrap_or(email).to_string());
    Claims {
        jti: Some(uuid::Uuid::new_v4().simple().to_string()),
        sub: Some(request.user_id.clone()),
        user_id: Some(request.user_id),
        client_id: None,
        user_name,
        email: request.email,
        scope: request.scopes,
        aud: vec![AUDIENCE.to_string()],
        iss: Some(request.issuer),
        iat: Some(now),
        exp: now + request.expires_in_seconds,
        nbf: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(expires_in_seconds: i64) -> TokenRequest {
        TokenRequest {
            user_id: "u1".into(),
            email: Some("dev@example.com".into()),
            scopes: vec!["cloud_controller.read".into()],
            expires_in_seconds,
            issuer: "ladle".into(),
        }
    }

    #[test]
    fn signs_and_verifies() {
        let keys = TokenKeys::new("s3cret");
        let token = keys.sign(&claims_for(request(60))).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(claims.user_id.as_deref(), Some("u1"));
        assert_eq!(claims.user_name.as_deref(), Some("dev"));
    }

    /// Signs any claim set, as another issuer would.
    fn sign_json(secret: &str, claims: serde_json::Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn in_an_hour() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp() + 3600
    }

    #[test]
    fn needs_only_signature_exp_and_audience() {
        let keys = TokenKeys::new("s3cret");
        let spec_page = serde_json::json!({
            "user_id": "u1", "email": "dev@example.com",
            "scope": ["cloud_controller.read"], "aud": ["cloud_controller"], "exp": in_an_hour(),
        });
        let claims = keys
            .verify(&sign_json("s3cret", spec_page.clone()))
            .unwrap();
        assert_eq!(claims.caller_guid(), Some("u1"));
        assert_eq!(claims.jti, None);
        for missing in ["exp", "aud"] {
            let mut without = spec_page.clone();
            without.as_object_mut().unwrap().remove(missing);
            assert!(
                keys.verify(&sign_json("s3cret", without)).is_err(),
                "{missing}"
            );
        }
    }

    #[test]
    fn audience_and_scope_may_be_a_string_or_a_list() {
        let keys = TokenKeys::new("s3cret");
        let verify = |aud: serde_json::Value, scope: serde_json::Value| {
            keys.verify(&sign_json(
                "s3cret",
                serde_json::json!({"user_id": "u1", "aud": aud, "scope": scope, "exp": in_an_hour()}),
            ))
        };
        let as_string = verify(
            "cloud_controller".into(),
            "cloud_controller.read  cloud_controller.write".into(),
        )
        .unwrap();
        let as_list = verify(
            serde_json::json!(["uaa", "cloud_controller"]),
            serde_json::json!(["cloud_controller.read", "cloud_controller.write"]),
        )
        .unwrap();
        assert_eq!(as_string.scope, as_list.scope);
        assert_eq!(as_string.aud, ["cloud_controller"]);
        assert!(verify("uaa".into(), "cloud_controller.read".into()).is_err());
        assert!(verify(serde_json::json!(["uaa"]), serde_json::json!([])).is_err());
        assert!(verify(serde_json::json!(7), serde_json::json!([])).is_err());
    }

    #[test]
    fn exp_may_carry_a_fraction() {
        let keys = TokenKeys::new("s3cret");
        let exp = in_an_hour();
        let claims = keys
            .verify(&sign_json(
                "s3cret",
                serde_json::json!({"user_id": "u1", "aud": "cloud_controller", "exp": exp as f64 + 0.5}),
            ))
            .unwrap();
        assert_eq!(claims.exp, exp);
    }

    #[test]
    fn refuses_refresh_tokens() {
        let keys = TokenKeys::new("s3cret");
        let mut claims = claims_for(request(60));
        claims.jti = Some("abc-r".into());
        assert!(matches!(
            keys.verify(&keys.sign(&claims).unwrap()),
            Err(TokenError::RefreshToken)
        ));
        claims.jti = Some("abc".into());
        assert!(keys.verify(&keys.sign(&claims).unwrap()).is_ok());
    }

    #[test]
    fn refuses_expired_forged_and_unsigned_tokens() {
        let keys = TokenKeys::new("s3cret");
        assert!(keys
            .verify(&keys.sign(&claims_for(request(-10))).unwrap())
            .is_err());
        let forged = TokenKeys::new("other")
            .sign(&claims_for(request(60)))
            .unwrap();
        assert!(keys.verify(&forged).is_err());
        // alg: none, same claims.
        let good = keys.sign(&claims_for(request(60))).unwrap();
        let payload = good.split('.').nth(1).unwrap();
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; // {"alg":"none","typ":"JWT"}
        assert!(keys.verify(&format!("{none_header}.{payload}.")).is_err());
    }

    #[test]
    fn honours_not_before() {
        let keys = TokenKeys::new("s3cret");
        let now = in_an_hour() - 3600;
        let claims = |nbf: serde_json::Value| serde_json::json!({"user_id": "u1", "aud": "cloud_controller", "exp": now + 600, "nbf": nbf});
        let valid = keys.verify(&sign_json("s3cret", claims((now - 5).into())));
        assert_eq!(valid.unwrap().nbf, Some(now - 5));
        assert!(matches!(
            keys.verify(&sign_json("s3cret", claims((now + 60).into()))),
            Err(TokenError::Invalid(_))
        ));
        // A not-before that is not a time cannot be honoured.
        assert!(keys
            .verify(&sign_json("s3cret", claims("tomorrow".into())))
            .is_err());
    }

    #[test]
    fn refuses_wrong_audience() {
        let keys = TokenKeys::new("s3cret");
        let mut claims = claims_for(request(60));
        claims.aud = vec!["uaa".into()];
        assert!(keys.verify(&keys.sign(&claims).unwrap()).is_err());
    }
}
