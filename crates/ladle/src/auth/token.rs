//! Bearer tokens in UAA's shape: HS256 with the server's secret (the default), RS256 with a key
//! pair in the data dir, or RS256 from an external UAA. The server verifies them; its token
//! endpoint and `ladle token` sign them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::Digest;
use std::sync::Arc;

use super::verified_tokens::VerifiedTokens;

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
    pub cid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
    /// The identity zone's user store the user comes from: `uaa` for ladle's own users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zid: Option<String>,
    /// Revocation signature: changes when the user's password does, which ends the refresh
    /// tokens issued before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev_sig: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_numeric_date"
    )]
    pub auth_time: Option<i64>,
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
    pub fn is_refresh_token(&self) -> bool {
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
    #[error("not a refresh token")]
    NotRefreshToken,
    #[error("the token names a signing key the UAA does not list")]
    UnknownKey,
    #[error("this server signs no tokens (an external UAA issues them)")]
    NoSigningKey,
    #[error("unusable signing key: {0}")]
    Key(String),
    #[error("the token names no caller (neither user_id nor client_id)")]
    NoCaller,
    #[error("the token's caller is empty or longer than {MAX_CALLER_CHARS} characters")]
    UnusableCaller,
}

/// Longest caller guid: what Cloud Controller's `users.guid` column (255 characters) holds.
pub const MAX_CALLER_CHARS: usize = 255;

/// How this server's tokens are signed and checked. One verification for every token, whoever
/// signed it: the configured algorithm only, a known key, a valid signature, an `exp` in the
/// future (and `nbf`, when present, in the past), an `aud` naming `cloud_controller`.
pub struct TokenKeys {
    /// `None` when an external UAA issues the tokens: ladle then signs nothing.
    signing: Option<SigningKey>,
    verifying: VerifyingKeys,
    validation: Validation,
    /// Access tokens that passed `verify`, by their text; times are checked again on each use.
    verified: VerifiedTokens<Claims>,
}

struct SigningKey {
    header: Header,
    key: EncodingKey,
    /// The public half, as `/token_keys` lists it (RS256 only).
    public: Option<PublicKey>,
}

enum VerifyingKeys {
    /// Our own key: the HS256 secret or the RS256 key pair.
    Own(DecodingKey),
    /// An external UAA's public keys, fetched from its `/token_keys`.
    Uaa(UaaKeys),
}

/// One RSA public key as UAA's `GET /token_keys` lists it (a JWK plus its PEM as `value`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PublicKey {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default, rename = "use")]
    pub key_use: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
    /// The key in PEM (SubjectPublicKeyInfo), as UAA adds it.
    #[serde(default)]
    pub value: Option<String>,
    pub n: String,
    pub e: String,
}

/// Signing algorithms ladle can be configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    Hs256,
    Rs256,
}

impl std::str::FromStr for Signing {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "hs256" => Ok(Signing::Hs256),
            "rs256" => Ok(Signing::Rs256),
            other => Err(format!(
                "unknown token signing {other:?}: use hs256 or rs256"
            )),
        }
    }
}

fn validation(algorithm: Algorithm) -> Validation {
    // One algorithm only: `alg: none` and every other algorithm fail validation.
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "aud"]);
    validation.validate_nbf = true;
    validation.leeway = 0;
    validation
}

impl TokenKeys {
    /// HS256 with a shared secret (the default).
    pub fn new(secret: &str) -> Self {
        TokenKeys {
            signing: Some(SigningKey {
                header: Header::new(Algorithm::HS256),
                key: EncodingKey::from_secret(secret.as_bytes()),
                public: None,
            }),
            verifying: VerifyingKeys::Own(DecodingKey::from_secret(secret.as_bytes())),
            validation: validation(Algorithm::HS256),
            verified: VerifiedTokens::default(),
        }
    }

    /// RS256 with the RSA key pair in `private_pem` (PKCS#8); the key id is derived from the
    /// public key, so it changes when the key does.
    pub fn rs256(private_pem: &str) -> Result<Self, TokenError> {
        use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
        use rsa::traits::PublicKeyParts;
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(private_pem)
            .map_err(|err| TokenError::Key(err.to_string()))?;
        let public = private.to_public_key();
        let n = public.n().to_bytes_be();
        let e = public.e().to_bytes_be();
        let kid = format!("ladle-{}", &hex::encode(sha2::Sha256::digest(&n))[..16]);
        let pem = public
            .to_public_key_pem(LineEnding::LF)
            .map_err(|err| TokenError::Key(err.to_string()))?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.clone());
        Ok(TokenKeys {
            signing: Some(SigningKey {
                header,
                key: EncodingKey::from_rsa_pem(private_pem.as_bytes())?,
                public: Some(PublicKey {
                    kty: "RSA".into(),
                    kid: Some(kid),
                    key_use: Some("sig".into()),
                    alg: Some("RS256".into()),
                    value: Some(pem.clone()),
                    n: URL_SAFE_NO_PAD.encode(&n),
                    e: URL_SAFE_NO_PAD.encode(&e),
                }),
            }),
            verifying: VerifyingKeys::Own(DecodingKey::from_rsa_pem(pem.as_bytes())?),
            validation: validation(Algorithm::RS256),
            verified: VerifiedTokens::default(),
        })
    }

    /// Tokens issued by the UAA at `uaa_url`, RS256, checked with the keys of its
    /// `/token_keys` (fetched when a token names a key not seen yet).
    pub fn external_uaa(uaa_url: &str) -> Self {
        TokenKeys {
            signing: None,
            verifying: VerifyingKeys::Uaa(UaaKeys::new(uaa_url)),
            validation: validation(Algorithm::RS256),
            verified: VerifiedTokens::default(),
        }
    }

    /// An access token: verified, and not a refresh token. The same text verified before is
    /// not checked for its signature again, but its `exp` and `nbf` are, on every call.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify_at(token, now()).await
    }

    async fn verify_at(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        if let Some(claims) = self.verified.get(token) {
            check_times(&claims, now)?;
            return Ok(Claims::clone(&claims));
        }
        let claims = self.verify_signed(token).await?;
        if claims.is_refresh_token() {
            return Err(TokenError::RefreshToken);
        }
        let expires_at = claims.exp;
        self.verified
            .insert(token, Arc::new(claims.clone()), expires_at, now);
        Ok(claims)
    }

    /// A refresh token this server issued: verified as any token, and a refresh token.
    pub async fn verify_refresh(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = self.verify_signed(token).await?;
        if !claims.is_refresh_token() {
            return Err(TokenError::NotRefreshToken);
        }
        Ok(claims)
    }

    /// The one check of signature, algorithm, `exp`, `nbf` and `aud`.
    async fn verify_signed(&self, token: &str) -> Result<Claims, TokenError> {
        match &self.verifying {
            VerifyingKeys::Own(key) => Ok(decode::<Claims>(token, key, &self.validation)?.claims),
            VerifyingKeys::Uaa(uaa) => {
                let kid = jsonwebtoken::decode_header(token)?.kid;
                let key = match uaa.key(kid.as_deref()) {
                    Some(key) => key,
                    None => uaa
                        .refetch(kid.as_deref(), &self.verified)
                        .await
                        .ok_or(TokenError::UnknownKey)?,
                };
                Ok(decode::<Claims>(token, &key, &self.validation)?.claims)
            }
        }
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let signing = self.signing.as_ref().ok_or(TokenError::NoSigningKey)?;
        Ok(encode(&signing.header, claims, &signing.key)?)
    }

    /// What `GET /token_keys` lists: the RS256 public key; nothing for HS256 (its key is the
    /// secret) or when an external UAA signs.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        self.signing
            .iter()
            .filter_map(|signing| signing.public.clone())
            .collect()
    }

    /// Whether this server issues tokens itself (`POST /oauth/token` and SCIM are served).
    pub fn issues_tokens(&self) -> bool {
        self.signing.is_some()
    }
}

/// Seconds since the epoch, as `jsonwebtoken` reads the clock for `exp` and `nbf`.
fn now() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX)
}

/// `exp` and `nbf` of claims verified earlier, judged as `validation` judges them (no leeway):
/// expired once `exp` is in the past, not yet valid while `nbf` is in the future.
fn check_times(claims: &Claims, now: i64) -> Result<(), TokenError> {
    use jsonwebtoken::errors::ErrorKind;
    if claims.exp < now {
        return Err(TokenError::Invalid(ErrorKind::ExpiredSignature.into()));
    }
    if claims.nbf.is_some_and(|nbf| nbf > now) {
        return Err(TokenError::Invalid(ErrorKind::ImmatureSignature.into()));
    }
    Ok(())
}

/// A new 2048-bit RSA private key, PKCS#8 PEM (`LADLE_TOKEN_SIGNING=rs256`).
pub fn generate_rsa_private_key_pem() -> Result<String, TokenError> {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
        .map_err(|err| TokenError::Key(err.to_string()))?;
    Ok(key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|err| TokenError::Key(err.to_string()))?
        .to_string())
}

/// An external UAA's signing keys, by key id, refetched from its `/token_keys` when a token
/// names an unknown one (key rotation), at most once every `REFETCH_INTERVAL`.
struct UaaKeys {
    url: String,
    client: reqwest::Client,
    keys: std::sync::RwLock<Vec<(Option<String>, DecodingKey)>>,
    last_fetch: tokio::sync::Mutex<Option<std::time::Instant>>,
}

/// Unknown key ids cannot make ladle call the UAA more often than this.
const REFETCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

impl UaaKeys {
    fn new(url: &str) -> Self {
        UaaKeys {
            url: format!("{}/token_keys", url.trim_end_matches('/')),
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("an HTTP client with a timeout builds"),
            keys: Default::default(),
            last_fetch: Default::default(),
        }
    }

    /// The key a token names; a token without `kid` may use the UAA's only key.
    fn key(&self, kid: Option<&str>) -> Option<DecodingKey> {
        let keys = self.keys.read().expect("UAA keys lock poisoned");
        match kid {
            Some(kid) => keys
                .iter()
                .find(|(id, _)| id.as_deref() == Some(kid))
                .map(|(_, key)| key.clone()),
            None if keys.len() == 1 => Some(keys[0].1.clone()),
            None => None,
        }
    }

    /// Fetches the keys again; tokens verified with the old list are then verified again, as
    /// the UAA may have dropped the key they were signed with.
    async fn refetch(
        &self,
        kid: Option<&str>,
        verified: &VerifiedTokens<Claims>,
    ) -> Option<DecodingKey> {
        let mut last_fetch = self.last_fetch.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(key) = self.key(kid) {
            return Some(key);
        }
        if last_fetch.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
            return None;
        }
        *last_fetch = Some(std::time::Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "fetched the UAA's token keys");
                *self.keys.write().expect("UAA keys lock poisoned") = keys;
                verified.clear();
            }
            Err(err) => {
                tracing::warn!(url = %self.url, error = %err, "cannot fetch the UAA's token keys")
            }
        }
        self.key(kid)
    }

    async fn fetch(&self) -> Result<Vec<(Option<String>, DecodingKey)>, String> {
        #[derive(Deserialize)]
        struct TokenKeysDocument {
            keys: Vec<serde_json::Value>,
        }
        let document: TokenKeysDocument = self
            .client
            .get(&self.url)
            .header("Accept", "application/json")
            .send()
            .await
            .and_then(|response| response.error_for_status())
            .map_err(|err| err.to_string())?
            .json()
            .await
            .map_err(|err| err.to_string())?;
        // Keys that are not RSA signing keys (a MAC key, say) are not ours to use.
        Ok(document
            .keys
            .into_iter()
            .filter_map(|key| serde_json::from_value::<PublicKey>(key).ok())
            .filter(|key| key.kty == "RSA")
            .filter_map(|key| {
                let decoding = DecodingKey::from_rsa_components(&key.n, &key.e).ok()?;
                Some((key.kid, decoding))
            })
            .collect())
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
        user_name,
        email: request.email,
        scope: request.scopes,
        aud: vec![AUDIENCE.to_string()],
        iss: Some(request.issuer),
        iat: Some(now),
        exp: now + request.expires_in_seconds,
        ..Claims::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Own keys never wait on anything: the future completes at once.
    fn verify(keys: &TokenKeys, token: &str) -> Result<Claims, TokenError> {
        futures::executor::block_on(keys.verify(token))
    }

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
        let claims = verify(&keys, &token).unwrap();
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
        let claims = verify(&keys, &sign_json("s3cret", spec_page.clone())).unwrap();
        assert_eq!(claims.caller_guid(), Some("u1"));
        assert_eq!(claims.jti, None);
        for missing in ["exp", "aud"] {
            let mut without = spec_page.clone();
            without.as_object_mut().unwrap().remove(missing);
            assert!(
                verify(&keys, &sign_json("s3cret", without)).is_err(),
                "{missing}"
            );
        }
    }

    #[test]
    fn audience_and_scope_may_be_a_string_or_a_list() {
        let keys = TokenKeys::new("s3cret");
        let verify = |aud: serde_json::Value, scope: serde_json::Value| {
            verify(
                &keys,
                &sign_json(
                    "s3cret",
                    serde_json::json!({"user_id": "u1", "aud": aud, "scope": scope, "exp": in_an_hour()}),
                ),
            )
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
        let claims = verify(&keys, &sign_json(
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
            verify(&keys, &keys.sign(&claims).unwrap()),
            Err(TokenError::RefreshToken)
        ));
        claims.jti = Some("abc".into());
        assert!(verify(&keys, &keys.sign(&claims).unwrap()).is_ok());
    }

    #[test]
    fn refuses_expired_forged_and_unsigned_tokens() {
        let keys = TokenKeys::new("s3cret");
        assert!(verify(&keys, &keys.sign(&claims_for(request(-10))).unwrap()).is_err());
        let forged = TokenKeys::new("other")
            .sign(&claims_for(request(60)))
            .unwrap();
        assert!(verify(&keys, &forged).is_err());
        // alg: none, same claims.
        let good = keys.sign(&claims_for(request(60))).unwrap();
        let payload = good.split('.').nth(1).unwrap();
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; // {"alg":"none","typ":"JWT"}
        assert!(verify(&keys, &format!("{none_header}.{payload}.")).is_err());
    }

    #[test]
    fn honours_not_before() {
        let keys = TokenKeys::new("s3cret");
        let now = in_an_hour() - 3600;
        let claims = |nbf: serde_json::Value| serde_json::json!({"user_id": "u1", "aud": "cloud_controller", "exp": now + 600, "nbf": nbf});
        let valid = verify(&keys, &sign_json("s3cret", claims((now - 5).into())));
        assert_eq!(valid.unwrap().nbf, Some(now - 5));
        assert!(matches!(
            verify(&keys, &sign_json("s3cret", claims((now + 60).into()))),
            Err(TokenError::Invalid(_))
        ));
        // A not-before that is not a time cannot be honoured.
        assert!(verify(&keys, &sign_json("s3cret", claims("tomorrow".into()))).is_err());
    }

    #[test]
    fn a_changed_signature_never_hits_the_verified_token() {
        let keys = TokenKeys::new("s3cret");
        let good = keys.sign(&claims_for(request(60))).unwrap();
        verify(&keys, &good).unwrap();
        assert!(
            keys.verified.get(&good).is_some(),
            "the good token is remembered"
        );
        let (signed, signature) = good.rsplit_once('.').unwrap();
        // One character of the signature changed, the signature dropped, another key's signature
        // over the same header and claims.
        let last = signature.chars().last().unwrap();
        let flipped = format!(
            "{signed}.{}{}",
            &signature[..signature.len() - 1],
            if last == 'A' { 'B' } else { 'A' }
        );
        let other_key = TokenKeys::new("other")
            .sign(&claims_for(request(60)))
            .unwrap();
        let resigned = format!(
            "{signed}.{}",
            jsonwebtoken::crypto::sign(
                signed.as_bytes(),
                &EncodingKey::from_secret(b"other"),
                Algorithm::HS256
            )
            .unwrap()
        );
        for forged in [flipped, format!("{signed}."), other_key, resigned] {
            assert!(
                matches!(verify(&keys, &forged), Err(TokenError::Invalid(_))),
                "{forged}"
            );
            assert!(keys.verified.get(&forged).is_none());
        }
        // The good token still verifies, and only it is remembered.
        verify(&keys, &good).unwrap();
        assert_eq!(keys.verified.len(), 1);
    }

    #[test]
    fn a_verified_token_expires_on_time() {
        let keys = TokenKeys::new("s3cret");
        let now = super::now();
        let token = keys.sign(&claims_for(request(5))).unwrap();
        let at = |now| futures::executor::block_on(keys.verify_at(&token, now));
        at(now).unwrap();
        assert!(keys.verified.get(&token).is_some());
        at(now + 5).unwrap();
        assert!(matches!(at(now + 6), Err(TokenError::Invalid(_))));
        // Not yet valid: refused while `nbf` is ahead, whether remembered or not.
        let early = sign_json(
            "s3cret",
            serde_json::json!({"user_id": "u1", "aud": "cloud_controller", "exp": now + 600, "nbf": now - 1}),
        );
        futures::executor::block_on(keys.verify_at(&early, now)).unwrap();
        assert!(matches!(
            futures::executor::block_on(keys.verify_at(&early, now - 2)),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn refresh_tokens_are_never_remembered() {
        let keys = TokenKeys::new("s3cret");
        let mut claims = claims_for(request(60));
        claims.jti = Some("abc-r".into());
        let refresh = keys.sign(&claims).unwrap();
        for _ in 0..2 {
            assert!(matches!(
                verify(&keys, &refresh),
                Err(TokenError::RefreshToken)
            ));
        }
        assert!(keys.verified.is_empty());
    }

    #[test]
    fn refuses_wrong_audience() {
        let keys = TokenKeys::new("s3cret");
        let mut claims = claims_for(request(60));
        claims.aud = vec!["uaa".into()];
        assert!(verify(&keys, &keys.sign(&claims).unwrap()).is_err());
    }
}
