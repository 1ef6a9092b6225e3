//! `ladle push`: zip a directory, upload it as a package of the app (made if missing), stage it
//! with `POST /v3/builds`, follow the staging log and set the droplet as the app's current one.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::StreamExt;
use serde_json::{json, Value};

use super::client::{ok, Client};
use super::output::Output;

#[derive(clap::Args)]
pub struct PushArgs {
    /// The app's directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The app's name in the targeted space.
    #[arg(long)]
    pub name: String,
    /// A buildpack name or URL (repeatable, in order).
    #[arg(short = 'b', long = "buildpack")]
    pub buildpacks: Vec<String>,
    #[arg(short = 's', long)]
    pub stack: Option<String>,
    /// Memory for staging, e.g. 512M or 1G.
    #[arg(short = 'm', long, value_parser = megabytes)]
    pub memory: Option<i64>,
    /// Disk for staging, e.g. 2G.
    #[arg(short = 'k', long, value_parser = megabytes)]
    pub disk: Option<i64>,
    /// An environment variable of the app (repeatable).
    #[arg(short = 'e', long = "env", value_parser = key_value)]
    pub env: Vec<(String, String)>,
    /// Print the summary as JSON (the log goes to stderr).
    #[arg(long)]
    pub json: bool,
}

/// CF's memory and disk sizes: a number of megabytes, or with M/MB/G/GB.
fn megabytes(text: &str) -> Result<i64, String> {
    let upper = text.trim().to_ascii_uppercase();
    let (number, factor) = if let Some(n) = upper.strip_suffix("GB").or(upper.strip_suffix('G')) {
        (n, 1024)
    } else if let Some(n) = upper.strip_suffix("MB").or(upper.strip_suffix('M')) {
        (n, 1)
    } else {
        (upper.as_str(), 1)
    };
    match number.parse::<i64>() {
        Ok(n) if n > 0 => Ok(n * factor),
        _ => Err(format!("'{text}' is not a size such as 512M or 1G")),
    }
}

fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("'{text}' is not KEY=VALUE")),
    }
}

pub async fn push(args: PushArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let out = Output::new(args.json);
    let mut client = Client::logged_in()?;
    let space = client.config.space()?.clone();

    let dir = args.dir.clone();
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let (bits, files) = tokio::task::spawn_blocking(move || super::archive::zip_app(&dir))
        .await
        .context("zipping panicked")??;

    let app = find_or_create_app(&mut client, &args, &space.guid, &out).await?;
    let app_guid = app["guid"]
        .as_str()
        .context("app without guid")?
        .to_string();
    if !args.env.is_empty() {
        let vars: serde_json::Map<String, Value> = args
            .env
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        client
            .patch(
                &format!("/v3/apps/{app_guid}/environment_variables"),
                &json!({ "var": vars }),
            )
            .await?;
    }

    let package = client
        .post(
            "/v3/packages",
            &json!({"type": "bits", "relationships": {"app": {"data": {"guid": app_guid}}}}),
        )
        .await?;
    let package_guid = package["guid"].as_str().context("package without guid")?;
    out.line(&format!(
        "Uploading {} ({files} files, {} bytes)",
        args.dir.display(),
        bits.len()
    ));
    upload(&mut client, package_guid, bits).await?;
    wait_package_ready(&mut client, package_guid).await?;

    let mut build_request = json!({ "package": { "guid": package_guid } });
    if let Some(memory) = args.memory {
        build_request["staging_memory_in_mb"] = json!(memory);
    }
    if let Some(disk) = args.disk {
        build_request["staging_disk_in_mb"] = json!(disk);
    }
    // The app's newest droplet so far: the log follower must not take it for the new one.
    let previous = client
        .first(&format!(
            "/v3/apps/{app_guid}/droplets?order_by=-created_at&per_page=1"
        ))
        .await?
        .and_then(|droplet| droplet["guid"].as_str().map(str::to_string));
    let build = client.post("/v3/builds", &build_request).await?;
    let build_guid = build["guid"]
        .as_str()
        .context("build without guid")?
        .to_string();
    out.line(&format!("Staging (build {build_guid})"));

    let followed = tokio::select! {
        result = super::follow::follow_build(&mut client, &build, previous.as_deref(), &out) => result?,
        _ = tokio::signal::ctrl_c() => bail!(
            "stopped following: build {build_guid} goes on staging on the server, and the app's \
             current droplet is unchanged (see `ladle droplets {}`)", args.name
        ),
    };
    if followed["state"] != "STAGED" {
        let reason = followed["error"].as_str().unwrap_or("no reason given");
        bail!("staging failed: {reason}");
    }
    let droplet_guid = followed["droplet"]["guid"]
        .as_str()
        .context("a staged build without a droplet")?
        .to_string();
    client
        .patch(
            &format!("/v3/apps/{app_guid}/relationships/current_droplet"),
            &json!({"data": {"guid": droplet_guid}}),
        )
        .await?;
    let droplet = client.get(&format!("/v3/droplets/{droplet_guid}")).await?;
    let size = droplet_size(&mut client, &droplet_guid).await?;
    let summary = json!({
        "app": { "name": args.name, "guid": app_guid },
        "droplet": { "guid": droplet_guid, "size_bytes": size },
        "buildpacks": droplet["buildpacks"].as_array().map(|bps| bps.iter().map(|bp| {
            bp["buildpack_name"].as_str().or(bp["name"].as_str()).unwrap_or_default().to_string()
        }).collect::<Vec<_>>()).unwrap_or_default(),
        "stack": droplet["stack"],
        "start_command": droplet["process_types"]["web"],
        "seconds": (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    });
    out.summary(
        &summary,
        &[
            (
                "app",
                summary["app"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ),
            ("droplet", droplet_guid.clone()),
            (
                "buildpacks",
                summary["buildpacks"]
                    .as_array()
                    .map(|b| {
                        b.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default(),
            ),
            (
                "stack",
                summary["stack"].as_str().unwrap_or("-").to_string(),
            ),
            (
                "start command",
                summary["start_command"].as_str().unwrap_or("-").to_string(),
            ),
            (
                "droplet size",
                size.map_or("-".to_string(), |s| format!("{s} bytes")),
            ),
            (
                "time taken",
                format!("{:.2}s", started.elapsed().as_secs_f64()),
            ),
        ],
    );
    Ok(())
}

async fn find_or_create_app(
    client: &mut Client,
    args: &PushArgs,
    space_guid: &str,
    out: &Output,
) -> anyhow::Result<Value> {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("names", &args.name)
        .append_pair("space_guids", space_guid)
        .finish();
    let mut lifecycle_data = serde_json::Map::new();
    if !args.buildpacks.is_empty() {
        lifecycle_data.insert("buildpacks".into(), json!(args.buildpacks));
    }
    if let Some(stack) = &args.stack {
        lifecycle_data.insert("stack".into(), json!(stack));
    }
    let lifecycle = json!({"type": "buildpack", "data": lifecycle_data});
    match client.first(&format!("/v3/apps?{query}")).await? {
        Some(app) => {
            if lifecycle_data.is_empty() {
                return Ok(app);
            }
            let guid = app["guid"].as_str().unwrap_or_default();
            client
                .patch(
                    &format!("/v3/apps/{guid}"),
                    &json!({ "lifecycle": lifecycle }),
                )
                .await
        }
        None => {
            out.line(&format!("Creating app {}", args.name));
            client
                .post(
                    "/v3/apps",
                    &json!({
                        "name": args.name,
                        "relationships": {"space": {"data": {"guid": space_guid}}},
                        "lifecycle": lifecycle,
                    }),
                )
                .await
        }
    }
}

/// Uploads the zip as the package's bits, with a progress bar when stderr is a terminal.
async fn upload(client: &mut Client, package_guid: &str, bits: Vec<u8>) -> anyhow::Result<()> {
    let url = client.url(&format!("/v3/packages/{package_guid}/upload"))?;
    let bits = bytes::Bytes::from(bits);
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(bits.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .expect("a valid template"),
        );
        bar
    });
    let response = client
        .send(|http| {
            let part = match &bar {
                Some(bar) => {
                    let bar = bar.clone();
                    let chunks: Vec<bytes::Bytes> = (0..bits.len())
                        .step_by(64 * 1024)
                        .map(|start| bits.slice(start..(start + 64 * 1024).min(bits.len())))
                        .collect();
                    let stream = futures::stream::iter(chunks).map(move |chunk| {
                        bar.inc(chunk.len() as u64);
                        Ok::<_, std::io::Error>(chunk)
                    });
                    reqwest::multipart::Part::stream_with_length(
                        reqwest::Body::wrap_stream(stream),
                        bits.len() as u64,
                    )
                }
                None => reqwest::multipart::Part::stream(bits.clone()),
            };
            let form = reqwest::multipart::Form::new().part("bits", part.file_name("app.zip"));
            http.post(&url).multipart(form)
        })
        .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    ok(response, "uploading the package").await?;
    Ok(())
}

async fn wait_package_ready(client: &mut Client, package_guid: &str) -> anyhow::Result<()> {
    loop {
        let package = client.get(&format!("/v3/packages/{package_guid}")).await?;
        match package["state"].as_str() {
            Some("READY") => return Ok(()),
            Some("FAILED") | Some("EXPIRED") => bail!(
                "the package's upload failed: {}",
                package["error"].as_str().unwrap_or("no reason given")
            ),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The droplet's size: what its download announces, else what it delivers (the blobstore may
/// stream it without a length).
async fn droplet_size(client: &mut Client, droplet_guid: &str) -> anyhow::Result<Option<u64>> {
    let url = client.url(&format!("/v3/droplets/{droplet_guid}/download"))?;
    let mut response = client.send(|http| http.get(&url)).await?;
    if !response.status().is_success() {
        return Ok(None);
    }
    if let Some(length) = response.content_length() {
        return Ok(Some(length));
    }
    let mut size = 0u64;
    while let Some(chunk) = response.chunk().await? {
        size += chunk.len() as u64;
    }
    Ok(Some(size))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_as_cf_reads_them() {
        assert_eq!(super::megabytes("512"), Ok(512));
        assert_eq!(super::megabytes("512M"), Ok(512));
        assert_eq!(super::megabytes("1g"), Ok(1024));
        assert_eq!(super::megabytes("2GB"), Ok(2048));
        assert!(super::megabytes("0").is_err());
        assert!(super::megabytes("big").is_err());
    }
}
