//! HTTP to a Cloud Foundry v3 API with the saved tokens: refreshes the access token by itself
//! (UAA's `refresh_token` grant) when it has expired or the API answers 401, and turns CF
//! errors into one readable line.

use anyhow::{bail, Context};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

use super::config::Config;

/// The CF CLI's own OAuth client: public, with an empty secret.
const CLIENT_ID: &str = "cf";

pub struct Client {
    pub http: reqwest::Client,
    pub config: Config,
}

impl Client {
    pub fn new(config: Config) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("ladle/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client { http, config })
    }

    /// A client for the saved config, which must name an API and hold a token.
    pub fn logged_in() -> anyhow::Result<Client> {
        let config = Config::load()?;
        config.api()?;
        if config.access_token.is_none() {
            bail!("not logged in: run `ladle login --api URL` first");
        }
        Client::new(config)
    }

    pub fn url(&self, path: &str) -> anyhow::Result<String> {
        Ok(format!("{}{}", self.config.api()?, path))
    }

    /// Sends the request built by `build` with the access token, refreshing it first when
    /// expired and once more when the API answers 401.
    pub async fn send(
        &mut self,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> anyhow::Result<Response> {
        if self.access_token_expired() {
            self.refresh().await?;
        }
        let response = self.send_once(&build).await?;
        if response.status() != StatusCode::UNAUTHORIZED || self.config.refresh_token.is_none() {
            return Ok(response);
        }
        self.refresh().await?;
        self.send_once(&build).await
    }

    async fn send_once(
        &self,
        build: &impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> anyhow::Result<Response> {
        let token = self.config.access_token.as_deref().unwrap_or_default();
        let request = build(&self.http).header("Authorization", format!("bearer {token}"));
        request.send().await.context("cannot reach the API")
    }

    /// A JSON request; a non-2xx answer becomes an error naming CF's detail.
    pub async fn json(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let url = self.url(path)?;
        let response = self
            .send(|http| {
                let request = http.request(method.clone(), &url);
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await?;
        let response = ok(response, &format!("{method} {path}")).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        response.json().await.context("the API answered non-JSON")
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<Value> {
        self.json(Method::GET, path, None).await
    }

    pub async fn post(&mut self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.json(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&mut self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.json(Method::PATCH, path, Some(body)).await
    }

    /// The first resource of a list answer, if any.
    pub async fn first(&mut self, path: &str) -> anyhow::Result<Option<Value>> {
        let list = self.get(path).await?;
        Ok(list["resources"]
            .as_array()
            .and_then(|r| r.first())
            .cloned())
    }

    fn access_token_expired(&self) -> bool {
        let Some(token) = &self.config.access_token else {
            return false;
        };
        let Some(exp) = token_claims(token).and_then(|claims| claims["exp"].as_i64()) else {
            return false;
        };
        // A little early, so a token does not expire on its way to the API.
        exp <= time::OffsetDateTime::now_utc().unix_timestamp() + 10
    }

    /// Trades the refresh token for new tokens at the API's login server and saves them.
    async fn refresh(&mut self) -> anyhow::Result<()> {
        let Some(refresh_token) = self.config.refresh_token.clone() else {
            bail!("the access token has expired: run `ladle login` again");
        };
        let login = login_url(&self.http, self.config.api()?).await?;
        let tokens = request_tokens(
            &self.http,
            &login,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
            ],
        )
        .await
        .context("cannot refresh the access token: run `ladle login` again")?;
        self.config.access_token = Some(tokens.access_token);
        if let Some(refresh) = tokens.refresh_token {
            self.config.refresh_token = Some(refresh);
        }
        self.config.save()
    }
}

/// The claims of a JWT, read without checking its signature (the API checks it; the client
/// only wants to know when it expires).
pub fn token_claims(token: &str) -> Option<Value> {
    let mut validation = jsonwebtoken::Validation::default();
    validation.insecure_disable_signature_validation();
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation.algorithms = vec![
        jsonwebtoken::Algorithm::HS256,
        jsonwebtoken::Algorithm::RS256,
    ];
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(&[]),
        &validation,
    )
    .ok()
    .map(|data| data.claims)
}

/// Where the API's users log in: `links.login` (else `links.uaa`) of `GET /`.
pub async fn login_url(http: &reqwest::Client, api: &str) -> anyhow::Result<String> {
    let root: Value = http
        .get(format!("{api}/"))
        .send()
        .await
        .with_context(|| format!("cannot reach {api}"))?
        .error_for_status()?
        .json()
        .await
        .with_context(|| format!("{api}/ is not a Cloud Foundry API"))?;
    let href = ["login", "uaa"]
        .iter()
        .find_map(|name| root["links"][name]["href"].as_str());
    match href {
        Some(href) => Ok(href.trim_end_matches('/').to_string()),
        None => bail!("{api} names no login server (links.login is null): it issues no tokens"),
    }
}

pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
}

/// `POST <login>/oauth/token` as the `cf` client, with UAA's error made readable.
pub async fn request_tokens(
    http: &reqwest::Client,
    login: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<Tokens> {
    let response = http
        .post(format!("{login}/oauth/token"))
        .basic_auth(CLIENT_ID, Some(""))
        .header("Accept", "application/json")
        .form(form)
        .send()
        .await
        .with_context(|| format!("cannot reach {login}"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let reason = body["error_description"]
            .as_str()
            .or(body["error"].as_str())
            .unwrap_or("no reason given");
        bail!("{login}/oauth/token answered {status}: {reason}");
    }
    let access_token = body["access_token"]
        .as_str()
        .context("the token answer has no access_token")?
        .to_string();
    Ok(Tokens {
        access_token,
        refresh_token: body["refresh_token"].as_str().map(str::to_string),
    })
}

/// The response when it is a success; otherwise an error with CF's `detail` (or the body).
pub async fn ok(response: Response, what: &str) -> anyhow::Result<Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    let detail = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|body| {
            body["errors"][0]["detail"]
                .as_str()
                .map(str::to_string)
                .or(body["error_description"].as_str().map(str::to_string))
        })
        .unwrap_or(text);
    bail!("{what} answered {status}: {detail}")
}
