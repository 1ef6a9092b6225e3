//! The client side of ladle: `ladle login`, `target`, `logout`, `push`, `logs`, `droplets` and
//! `download-droplet`. It speaks to a ladle (or any Cloud Foundry v3 API) over HTTP only and
//! uses nothing of the server's modules.

mod archive;
mod client;
mod config;
mod follow;
mod ignore;
mod output;
mod push;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use client::Client;
use config::{Config, Named};

pub use push::PushArgs;

#[derive(clap::Subcommand)]
pub enum ClientCommand {
    /// Log in to an API and keep its tokens in ~/.ladle/config.json.
    Login(LoginArgs),
    /// Show, or set, the targeted organization and space.
    Target(TargetArgs),
    /// Forget the saved tokens.
    Logout,
    /// Upload a directory as an app's package, stage it, and make the droplet current.
    Push(PushArgs),
    /// Print an app's staging log.
    Logs(LogsArgs),
    /// List an app's droplets.
    Droplets(DropletsArgs),
    /// Download an app's current droplet (a .tgz).
    DownloadDroplet(DownloadArgs),
}

#[derive(clap::Args)]
pub struct LoginArgs {
    /// The API's URL, e.g. https://api.example.com (default: the one logged in to before).
    #[arg(short = 'a', long)]
    api: Option<String>,
    #[arg(short = 'u', long = "username")]
    username: Option<String>,
    /// Read the password from the first line of stdin instead of asking for it.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(clap::Args)]
pub struct TargetArgs {
    #[arg(short = 'o', long = "org")]
    org: Option<String>,
    #[arg(short = 's', long = "space")]
    space: Option<String>,
}

#[derive(clap::Args)]
pub struct LogsArgs {
    app: String,
    /// Print what is stored and exit (the only mode for now).
    #[arg(long, required = true)]
    recent: bool,
}

#[derive(clap::Args)]
pub struct DropletsArgs {
    app: String,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct DownloadArgs {
    app: String,
    /// Where to write the droplet (default: droplet_<guid>.tgz).
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
    /// A droplet of the app other than its current one.
    #[arg(long)]
    droplet: Option<String>,
}

pub async fn run(command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Login(args) => login(args).await,
        ClientCommand::Target(args) => target(args).await,
        ClientCommand::Logout => logout(),
        ClientCommand::Push(args) => push::push(args).await,
        ClientCommand::Logs(args) => logs(args).await,
        ClientCommand::Droplets(args) => droplets(args).await,
        ClientCommand::DownloadDroplet(args) => download_droplet(args).await,
    }
}

async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let previous = Config::load()?;
    let api = match args.api.or(previous.api.clone()) {
        Some(api) => api.trim_end_matches('/').to_string(),
        None => bail!("which API? run `ladle login --api URL`"),
    };
    let interactive = std::io::stdin().is_terminal();
    let username = match args.username {
        Some(name) => name,
        None if interactive && !args.password_stdin => prompt("Username: ")?,
        None => bail!("no user name: pass -u NAME"),
    };
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else if interactive {
        rpassword::prompt_password("Password: ")?
    } else {
        bail!("no password: pass --password-stdin, or run on a terminal to be asked")
    };
    let http = reqwest::Client::new();
    let login = client::login_url(&http, &api).await?;
    let tokens = client::request_tokens(
        &http,
        &login,
        &[
            ("grant_type", "password"),
            ("username", &username),
            ("password", &password),
        ],
    )
    .await?;
    let same_api = previous.api.as_deref() == Some(api.as_str());
    let mut config = Config {
        api: Some(api.clone()),
        access_token: Some(tokens.access_token),
        refresh_token: tokens.refresh_token,
        organization: previous.organization.filter(|_| same_api),
        space: previous.space.filter(|_| same_api),
    };
    config.save()?;
    println!("Logged in to {api} as {username}");
    // Like the CF CLI: a user with one organization (and one space in it) is targeted there.
    let mut client = Client::new(config.clone())?;
    if config.organization.is_none() {
        let orgs = client.get("/v3/organizations?per_page=2").await?;
        if let [org] = resources(&orgs).as_slice() {
            config.organization = Some(named(org));
            let org_guid = &config.organization.as_ref().unwrap().guid;
            let spaces = client
                .get(&format!(
                    "/v3/spaces?organization_guids={org_guid}&per_page=2"
                ))
                .await?;
            if let [space] = resources(&spaces).as_slice() {
                config.space = Some(named(space));
            }
            config.save()?;
        }
    }
    print_target(&config);
    Ok(())
}

fn prompt(question: &str) -> anyhow::Result<String> {
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

async fn target(args: TargetArgs) -> anyhow::Result<()> {
    let mut client = Client::logged_in()?;
    if let Some(org) = &args.org {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("names", org)
            .finish();
        let found = client
            .first(&format!("/v3/organizations?{query}"))
            .await?
            .with_context(|| format!("organization '{org}' not found"))?;
        client.config.organization = Some(named(&found));
        client.config.space = None;
    }
    if let Some(space) = &args.space {
        let org = client
            .config
            .organization
            .clone()
            .context("no organization targeted: pass -o ORG")?;
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("names", space)
            .append_pair("organization_guids", &org.guid)
            .finish();
        let found = client
            .first(&format!("/v3/spaces?{query}"))
            .await?
            .with_context(|| format!("space '{space}' not found in organization '{}'", org.name))?;
        client.config.space = Some(named(&found));
    }
    if args.org.is_some() || args.space.is_some() {
        client.config.save()?;
    }
    print_target(&client.config);
    Ok(())
}

fn print_target(config: &Config) {
    println!("API:          {}", config.api.as_deref().unwrap_or("-"));
    let name = |n: &Option<Named>| n.as_ref().map_or("-".to_string(), |n| n.name.clone());
    println!("organization: {}", name(&config.organization));
    println!("space:        {}", name(&config.space));
}

fn logout() -> anyhow::Result<()> {
    let mut config = Config::load()?;
    config.access_token = None;
    config.refresh_token = None;
    config.organization = None;
    config.space = None;
    config.save()?;
    println!("Logged out");
    Ok(())
}

/// The app of this name in the targeted space.
async fn find_app(client: &mut Client, name: &str) -> anyhow::Result<Value> {
    let space = client.config.space()?.clone();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("names", name)
        .append_pair("space_guids", &space.guid)
        .finish();
    client
        .first(&format!("/v3/apps?{query}"))
        .await?
        .with_context(|| format!("app '{name}' not found in space '{}'", space.name))
}

/// The app's log from log-cache when the API serves it, else its newest droplet's staging log.
async fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let _ = args.recent;
    let mut client = Client::logged_in()?;
    let app = find_app(&mut client, &args.app).await?;
    let app_guid = app["guid"].as_str().unwrap_or_default();
    let url = client.url(&format!(
        "/api/v1/read/{app_guid}?envelope_types=LOG&limit=1000"
    ))?;
    let response = client.send(|http| http.get(&url)).await?;
    if response.status().is_success() {
        let body: Value = response
            .json()
            .await
            .context("log-cache answered non-JSON")?;
        for envelope in body["envelopes"]["batch"].as_array().into_iter().flatten() {
            let payload = envelope["log"]["payload"].as_str().unwrap_or_default();
            let text = base64_decode(payload).unwrap_or_else(|| payload.as_bytes().to_vec());
            let source = envelope["tags"]["source_type"].as_str().unwrap_or("STG");
            let stream = match envelope["log"]["type"].as_str() {
                Some("ERR") => "ERR",
                _ => "OUT",
            };
            println!("[{source}] {stream} {}", String::from_utf8_lossy(&text));
        }
        return Ok(());
    }
    let droplet = client
        .first(&format!(
            "/v3/apps/{app_guid}/droplets?order_by=-created_at&per_page=1"
        ))
        .await?
        .with_context(|| format!("app '{}' has not been staged", args.app))?;
    let guid = droplet["guid"].as_str().unwrap_or_default();
    let url = client.url(&format!("/v3/droplets/{guid}/logs"))?;
    let response = client.send(|http| http.get(&url)).await?;
    let text = client::ok(response, "reading the staging log")
        .await?
        .text()
        .await?;
    print!("{text}");
    Ok(())
}

/// Standard base64 (log-cache's payloads), or None when it is not.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let digits: Vec<u8> = text.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for group in digits.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in group.iter().enumerate() {
            acc |= value(*c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    Some(out)
}

async fn droplets(args: DropletsArgs) -> anyhow::Result<()> {
    let mut client = Client::logged_in()?;
    let app = find_app(&mut client, &args.app).await?;
    let app_guid = app["guid"].as_str().unwrap_or_default();
    let list = client
        .get(&format!(
            "/v3/apps/{app_guid}/droplets?order_by=-created_at&per_page=5000"
        ))
        .await?;
    let url = client.url(&format!(
        "/v3/apps/{app_guid}/relationships/current_droplet"
    ))?;
    let current = client.send(|http| http.get(&url)).await?;
    let current: Value = if current.status().is_success() {
        current.json().await.unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let current_guid = current["data"]["guid"].as_str().unwrap_or_default();
    let droplets = resources(&list);
    if args.json {
        let view: Vec<Value> = droplets
            .iter()
            .map(|d| {
                let mut d = (*d).clone();
                d["current"] = json!(d["guid"].as_str() == Some(current_guid));
                d
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(());
    }
    println!("{:<38} {:<8} {:<21} current", "guid", "state", "created");
    for droplet in droplets {
        let guid = droplet["guid"].as_str().unwrap_or_default();
        println!(
            "{:<38} {:<8} {:<21} {}",
            guid,
            droplet["state"].as_str().unwrap_or_default(),
            droplet["created_at"].as_str().unwrap_or_default(),
            if guid == current_guid { "current" } else { "" }
        );
    }
    Ok(())
}

async fn download_droplet(args: DownloadArgs) -> anyhow::Result<()> {
    let mut client = Client::logged_in()?;
    let app = find_app(&mut client, &args.app).await?;
    let app_guid = app["guid"].as_str().unwrap_or_default();
    let guid = match args.droplet {
        Some(guid) => guid,
        None => {
            let url = client.url(&format!(
                "/v3/apps/{app_guid}/relationships/current_droplet"
            ))?;
            let response = client.send(|http| http.get(&url)).await?;
            let body: Value = client::ok(response, "reading the current droplet")
                .await?
                .json()
                .await?;
            body["data"]["guid"]
                .as_str()
                .with_context(|| format!("app '{}' has no current droplet", args.app))?
                .to_string()
        }
    };
    let path = args
        .output
        .unwrap_or_else(|| PathBuf::from(format!("droplet_{guid}.tgz")));
    let url = client.url(&format!("/v3/droplets/{guid}/download"))?;
    let response = client.send(|http| http.get(&url)).await?;
    let mut response = client::ok(response, "downloading the droplet").await?;
    // Written beside the target and renamed, so a broken download leaves no partial file.
    let partial = path.with_extension("partial");
    let mut file = tokio::fs::File::create(&partial)
        .await
        .with_context(|| format!("cannot write {}", partial.display()))?;
    let mut size = 0u64;
    let written: anyhow::Result<()> = async {
        while let Some(chunk) = response.chunk().await? {
            size += chunk.len() as u64;
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await?;
        }
        tokio::io::AsyncWriteExt::flush(&mut file).await?;
        Ok(())
    }
    .await;
    if let Err(err) = written {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(err.context("the download broke off"));
    }
    tokio::fs::rename(&partial, &path).await?;
    println!(
        "Downloaded droplet {guid} ({size} bytes) to {}",
        path.display()
    );
    Ok(())
}

fn resources(list: &Value) -> Vec<&Value> {
    list["resources"]
        .as_array()
        .map(|r| r.iter().collect())
        .unwrap_or_default()
}

fn named(resource: &Value) -> Named {
    Named {
        guid: resource["guid"].as_str().unwrap_or_default().to_string(),
        name: resource["name"].as_str().unwrap_or_default().to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_of_log_cache_payloads() {
        assert_eq!(super::base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(super::base64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(super::base64_decode("YWJj").unwrap(), b"abc");
        assert!(super::base64_decode("a*b").is_none());
    }
}
