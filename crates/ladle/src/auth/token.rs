//! HS256 bearer tokens in UAA's shape. The server verifies them; `ladle token` signs them with
//! the same secret.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const AUDIENCE: &str = "cloud_controller";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub jti: String,
    pub sub: String,
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub scope: Vec<String>,
    pub aud: Vec<String>,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("refresh tokens are not accepted")]
    RefreshToken,
}

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
        validation.leeway = 0;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = decode::<Claims>(token, &self.decoding, &self.validation)?.claims;
        if claims.jti.ends_with("-r") {
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
        jti: uuid::Uuid::new_v4().simple().to_string(),
        sub: request.user_id.clone(),
        user_id: request.user_id,
        user_name,
        email: request.email,
        scope: request.scopes,
        aud: vec![AUDIENCE.to_string()],
        iss: request.issuer,
        iat: now,
        exp: now + request.expires_in_seconds,
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
        assert_eq!(claims.user_id, "u1");
        assert_eq!(claims.user_name.as_deref(), Some("dev"));
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
    fn refuses_wrong_audience() {
        let keys = TokenKeys::new("s3cret");
        let mut claims = claims_for(request(60));
        claims.aud = vec!["uaa".into()];
        assert!(keys.verify(&keys.sign(&claims).unwrap()).is_err());
    }
}
