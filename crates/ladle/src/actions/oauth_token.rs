//! `POST /oauth/token`: the password, refresh_token and client_credentials grants, answered as
//! UAA answers them. Tokens are signed by `auth::TokenKeys`, which also verifies them.

use sha2::Digest;

use crate::auth::password;
use crate::auth::token::{Claims, TokenError, TokenKeys, AUDIENCE};
use crate::db::login_users::LoginUserRecord;
use crate::db::{login_failures, login_users, oauth_clients, DbPool};
use crate::messages::oauth_token::{Grant, TokenRequest};

/// The CF CLI's public client: no secret, password and refresh grants.
pub const CF_CLIENT: &str = "cf";
/// UAA's identity zone and user origin names, which tokens carry.
const ZONE: &str = "uaa";
const ORIGIN: &str = "uaa";

/// Wrong passwords allowed per user name within `FAILURE_WINDOW_MS` before a lock-out.
pub const MAX_FAILURES: i64 = 5;
pub const FAILURE_WINDOW_MS: i64 = 60 * 1000;
/// How long a user name stays locked out (UAA's default lockout period).
pub const LOCKOUT_MS: i64 = 5 * 60 * 1000;

/// Scopes every password user has, and those an admin adds.
const USER_SCOPES: &[&str] = &[
    "openid",
    "cloud_controller.read",
    "cloud_controller.write",
    "password.write",
    "uaa.user",
];
const ADMIN_SCOPES: &[&str] = &[
    "cloud_controller.admin",
    "scim.read",
    "scim.write",
    "uaa.admin",
];

/// How long tokens live and who issues them.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub access_ttl_seconds: i64,
    pub refresh_ttl_seconds: i64,
    /// `iss`: the token endpoint's URL.
    pub issuer: String,
}

/// The client as it authenticated (HTTP Basic, or the form's `client_id`/`client_secret`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub id: String,
    pub secret: String,
}

/// A successful grant, in the terms of UAA's answer.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: i64,
    pub scope: Vec<String>,
    pub jti: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("Bad credentials")]
    BadCredentials,
    #[error("Your account has been locked because of too many failed attempts to login.")]
    Locked,
    #[error("Bad client credentials")]
    InvalidClient,
    #[error("Unauthorized grant type: {0}")]
    UnauthorizedGrantType(&'static str),
    #[error("{0}")]
    InvalidToken(&'static str),
    #[error("Invalid scope: {0}. Did you know that you can get default scopes by simply sending no value?")]
    InvalidScope(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("cannot sign the token: {0}")]
    Sign(#[from] TokenError),
}

/// What the authenticated client may do.
enum Client {
    /// `cf`: password and refresh grants, any user scope.
    Public,
    /// A stored client: client_credentials with its own scopes.
    Confidential { id: String, scopes: Vec<String> },
}

#[tracing::instrument(skip_all, fields(client = %client.id))]
pub async fn grant(
    db: &DbPool,
    keys: &TokenKeys,
    settings: &TokenSettings,
    client: ClientCredentials,
    request: TokenRequest,
) -> Result<IssuedTokens, GrantError> {
    let client = authenticate_client(db, client).await?;
    match (request.grant, &client) {
        (Grant::Password { username, password }, Client::Public) => {
            let user = check_password(db, &username, password).await?;
            let scope = granted(&user_scopes(&user), request.scope)?;
            issue_for_user(keys, settings, &user, scope, "password")
        }
        (Grant::RefreshToken { refresh_token }, Client::Public) => {
            refresh(db, keys, settings, &refresh_token, request.scope).await
        }
        (Grant::ClientCredentials, Client::Confidential { id, scopes }) => {
            issue_for_client(keys, settings, id, scopes, request.scope)
        }
        (Grant::Password { .. }, _) => Err(GrantError::UnauthorizedGrantType("password")),
        (Grant::RefreshToken { .. }, _) => Err(GrantError::UnauthorizedGrantType("refresh_token")),
        (Grant::ClientCredentials, _) => {
            Err(GrantError::UnauthorizedGrantType("client_credentials"))
        }
    }
}

async fn authenticate_client(
    db: &DbPool,
    credentials: ClientCredentials,
) -> Result<Client, GrantError> {
    if credentials.id == CF_CLIENT {
        return if credentials.secret.is_empty() {
            Ok(Client::Public)
        } else {
            Err(GrantError::InvalidClient)
        };
    }
    let stored = oauth_clients::find(db, &credentials.id).await?;
    let secret = credentials.secret;
    let hash = stored.as_ref().map(|client| client.secret_hash.clone());
    let matches = tokio::task::spawn_blocking(move || match hash {
        Some(hash) => password::verify(&secret, &hash),
        None => {
            password::verify_against_nothing(&secret);
            false
        }
    })
    .await
    .expect("secret check does not panic");
    match stored {
        Some(client) if matches => Ok(Client::Confidential {
            scopes: client.scope_list(),
            id: client.client_id,
        }),
        _ => Err(GrantError::InvalidClient),
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The user whose name and password these are. A locked-out name is refused before any
/// password is checked; an unknown name costs one argon2id check, as a known one does, and
/// both count towards the lock-out.
async fn check_password(
    db: &DbPool,
    username: &str,
    given: String,
) -> Result<LoginUserRecord, GrantError> {
    if login_failures::locked_until(db, username, now_ms())
        .await?
        .is_some()
    {
        return Err(GrantError::Locked);
    }
    let user = login_users::find_by_username(db, username).await?;
    let hash = user.as_ref().map(|user| user.password_hash.clone());
    let matches = tokio::task::spawn_blocking(move || match hash {
        Some(hash) => password::verify(&given, &hash),
        None => {
            password::verify_against_nothing(&given);
            false
        }
    })
    .await
    .expect("password check does not panic");
    match user {
        Some(user) if matches => {
            login_failures::clear(db, username).await?;
            Ok(user)
        }
        _ => {
            let now = now_ms();
            let failures = login_failures::record(db, username, now, FAILURE_WINDOW_MS).await?;
            if failures >= MAX_FAILURES {
                tracing::warn!(%username, failures, "locking out a user name after wrong passwords");
                login_failures::lock(db, username, now + LOCKOUT_MS).await?;
            }
            Err(GrantError::BadCredentials)
        }
    }
}

/// The scopes a user may have.
fn user_scopes(user: &LoginUserRecord) -> Vec<String> {
    let extra: &[&str] = if user.is_admin() { ADMIN_SCOPES } else { &[] };
    USER_SCOPES
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
}

/// The scopes granted: all allowed when none are asked for, else the ones asked for, each of
/// which must be allowed.
fn granted(allowed: &[String], requested: Option<Vec<String>>) -> Result<Vec<String>, GrantError> {
    let Some(requested) = requested else {
        return Ok(allowed.to_vec());
    };
    let refused: Vec<&str> = requested
        .iter()
        .filter(|scope| !allowed.contains(scope))
        .map(String::as_str)
        .collect();
    if !refused.is_empty() {
        return Err(GrantError::InvalidScope(refused.join(",")));
    }
    let mut scopes = Vec::new();
    for scope in requested {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

/// UAA's audience: the client and the resource of each scope (the part before the first dot).
fn audience(client_id: &str, scopes: &[String]) -> Vec<String> {
    let mut aud = vec![client_id.to_string()];
    for scope in scopes {
        let resource = scope.split('.').next().unwrap_or(scope).to_string();
        if !aud.contains(&resource) {
            aud.push(resource);
        }
    }
    aud
}

/// Changes when the user's password does, so refresh tokens issued before a password change (or
/// to a user since deleted and re-created under the same name) stop working.
fn revocation_signature(user: &LoginUserRecord) -> String {
    let digest = sha2::Sha256::digest(format!("{}\n{}", user.user_guid, user.password_hash));
    hex::encode(&digest[..8])
}

fn new_jti() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn issue_for_user(
    keys: &TokenKeys,
    settings: &TokenSettings,
    user: &LoginUserRecord,
    scope: Vec<String>,
    grant_type: &str,
) -> Result<IssuedTokens, GrantError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let jti = new_jti();
    let access = Claims {
        jti: Some(jti.clone()),
        sub: Some(user.user_guid.clone()),
        user_id: Some(user.user_guid.clone()),
        client_id: Some(CF_CLIENT.into()),
        cid: Some(CF_CLIENT.into()),
        azp: Some(CF_CLIENT.into()),
        grant_type: Some(grant_type.into()),
        origin: Some(ORIGIN.into()),
        zid: Some(ZONE.into()),
        rev_sig: Some(revocation_signature(user)),
        auth_time: Some(now),
        user_name: Some(user.username.clone()),
        email: user.email.clone(),
        aud: audience(CF_CLIENT, &scope),
        scope: scope.clone(),
        iss: Some(settings.issuer.clone()),
        iat: Some(now),
        exp: now + settings.access_ttl_seconds,
        nbf: None,
    };
    let refresh = Claims {
        jti: Some(format!("{jti}-r")),
        exp: now + settings.refresh_ttl_seconds,
        // Refresh tokens always name the CC audience, so that their signature check is the
        // access tokens' one.
        aud: with_cloud_controller(access.aud.clone()),
        ..access.clone()
    };
    Ok(IssuedTokens {
        access_token: keys.sign(&access)?,
        refresh_token: Some(keys.sign(&refresh)?),
        expires_in: settings.access_ttl_seconds,
        scope,
        jti,
    })
}

fn with_cloud_controller(mut aud: Vec<String>) -> Vec<String> {
    if !aud.iter().any(|a| a == AUDIENCE) {
        aud.push(AUDIENCE.into());
    }
    aud
}

async fn refresh(
    db: &DbPool,
    keys: &TokenKeys,
    settings: &TokenSettings,
    refresh_token: &str,
    requested: Option<Vec<String>>,
) -> Result<IssuedTokens, GrantError> {
    let claims = match keys.verify_refresh(refresh_token).await {
        Ok(claims) => claims,
        Err(TokenError::Invalid(err))
            if matches!(
                err.kind(),
                jsonwebtoken::errors::ErrorKind::ExpiredSignature
            ) =>
        {
            return Err(GrantError::InvalidToken("Invalid refresh token (expired)"))
        }
        Err(_) => return Err(GrantError::InvalidToken("Invalid refresh token")),
    };
    if claims.client_id.as_deref() != Some(CF_CLIENT) {
        return Err(GrantError::InvalidToken(
            "Wrong client for this refresh token",
        ));
    }
    let user = match claims.user_id.as_deref() {
        Some(guid) => login_users::find(db, guid).await?,
        None => None,
    };
    let Some(user) = user else {
        return Err(GrantError::InvalidToken(
            "Invalid refresh token (user no longer exists)",
        ));
    };
    if claims.rev_sig.as_deref() != Some(revocation_signature(&user).as_str()) {
        return Err(GrantError::InvalidToken("Invalid refresh token (revoked)"));
    }
    // A refresh keeps to the scopes first granted (and to what the user still may have).
    let allowed: Vec<String> = claims
        .scope
        .iter()
        .filter(|scope| user_scopes(&user).contains(scope))
        .cloned()
        .collect();
    let scope = granted(&allowed, requested)?;
    let mut issued = issue_for_user(keys, settings, &user, scope, "refresh_token")?;
    // UAA keeps the refresh token (it does not rotate by default).
    issued.refresh_token = Some(refresh_token.to_string());
    Ok(issued)
}

fn issue_for_client(
    keys: &TokenKeys,
    settings: &TokenSettings,
    client_id: &str,
    allowed: &[String],
    requested: Option<Vec<String>>,
) -> Result<IssuedTokens, GrantError> {
    let scope = granted(allowed, requested)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let jti = new_jti();
    let claims = Claims {
        jti: Some(jti.clone()),
        sub: Some(client_id.into()),
        client_id: Some(client_id.into()),
        cid: Some(client_id.into()),
        azp: Some(client_id.into()),
        grant_type: Some("client_credentials".into()),
        zid: Some(ZONE.into()),
        aud: audience(client_id, &scope),
        scope: scope.clone(),
        iss: Some(settings.issuer.clone()),
        iat: Some(now),
        exp: now + settings.access_ttl_seconds,
        ..Claims::default()
    };
    Ok(IssuedTokens {
        access_token: keys.sign(&claims)?,
        refresh_token: None,
        expires_in: settings.access_ttl_seconds,
        scope,
        jti,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_what_is_allowed_and_asked_for() {
        let allowed: Vec<String> = vec!["a.read".into(), "b.write".into()];
        assert_eq!(granted(&allowed, None).unwrap(), allowed);
        assert_eq!(
            granted(&allowed, Some(vec!["b.write".into(), "b.write".into()])).unwrap(),
            ["b.write"]
        );
        assert!(matches!(
            granted(&allowed, Some(vec!["c.admin".into()])),
            Err(GrantError::InvalidScope(s)) if s == "c.admin"
        ));
    }

    #[test]
    fn the_audience_is_the_client_and_the_scopes_resources() {
        let scopes = vec![
            "openid".to_string(),
            "cloud_controller.read".into(),
            "cloud_controller.write".into(),
        ];
        assert_eq!(
            audience("cf", &scopes),
            ["cf", "openid", "cloud_controller"]
        );
    }
}
