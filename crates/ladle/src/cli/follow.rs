//! Following a staging's log while it runs. Preferred: server-sent events on
//! `GET /v3/builds/:guid/logs`. When the API does not answer with an event stream, the
//! staging droplet's plain-text log is followed (`?follow=true`) and the build's state polled.

use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use serde_json::Value;

use super::client::Client;
use super::output::Output;

const FINAL_STATES: &[&str] = &["STAGED", "FAILED"];

/// Prints the staging log as it comes and answers the build once it is final. `previous` is
/// the app's newest droplet before the build was made.
pub async fn follow_build(
    client: &mut Client,
    build: &Value,
    previous: Option<&str>,
    out: &Output,
) -> anyhow::Result<Value> {
    let guid = build["guid"]
        .as_str()
        .context("build without guid")?
        .to_string();
    if !follow_events(client, &guid, out).await? {
        follow_plain(client, build, previous, out).await?;
    }
    wait_final(client, &guid).await
}

/// Follows the event stream; false when the API does not offer one for builds.
async fn follow_events(
    client: &mut Client,
    build_guid: &str,
    out: &Output,
) -> anyhow::Result<bool> {
    let url = client.url(&format!("/v3/builds/{build_guid}/logs"))?;
    let response = client
        .send(|http| http.get(&url).header("Accept", "text/event-stream"))
        .await?;
    let is_events = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !response.status().is_success() || !is_events {
        return Ok(false);
    }
    let mut body = response.bytes_stream();
    let mut pending = Vec::new();
    let mut event = String::new();
    while let Some(chunk) = body.next().await {
        pending.extend_from_slice(&chunk.context("the log stream broke off")?);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if event == "end" {
                    return Ok(true);
                }
                event.clear();
            } else if let Some(name) = line.strip_prefix("event:") {
                event = name.trim().to_string();
            } else if let Some(data) = line.strip_prefix("data:") {
                if event.is_empty() || event == "message" || event == "log" {
                    out.line(data.strip_prefix(' ').unwrap_or(data));
                }
            }
        }
    }
    Ok(true)
}

/// Finds the droplet the build stages into (the app's newest droplet made since the build)
/// and follows its plain-text log until the staging ends.
async fn follow_plain(
    client: &mut Client,
    build: &Value,
    previous: Option<&str>,
    out: &Output,
) -> anyhow::Result<()> {
    let build_guid = build["guid"].as_str().unwrap_or_default();
    let app_guid = build["relationships"]["app"]["data"]["guid"]
        .as_str()
        .context("build without app")?;
    let since = build["created_at"].as_str().unwrap_or_default().to_string();
    let droplet_guid = loop {
        if let Some(droplet) = client
            .first(&format!(
                "/v3/apps/{app_guid}/droplets?order_by=-created_at&per_page=1"
            ))
            .await?
        {
            // Timestamps are RFC 3339 in UTC with whole seconds: they compare as text.
            let newer = droplet["created_at"].as_str().unwrap_or_default() >= since.as_str();
            if newer && droplet["guid"].as_str() != previous {
                break droplet["guid"].as_str().unwrap_or_default().to_string();
            }
        }
        let current = client.get(&format!("/v3/builds/{build_guid}")).await?;
        if FINAL_STATES.contains(&current["state"].as_str().unwrap_or_default()) {
            match current["droplet"]["guid"].as_str() {
                Some(guid) => break guid.to_string(),
                None => return Ok(()),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let url = client.url(&format!("/v3/droplets/{droplet_guid}/logs?follow=true"))?;
    let response = client.send(|http| http.get(&url)).await?;
    let response = super::client::ok(response, "reading the staging log").await?;
    let mut body = response.bytes_stream();
    let mut pending = Vec::new();
    while let Some(chunk) = body.next().await {
        pending.extend_from_slice(&chunk.context("the log stream broke off")?);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            out.line(String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']));
        }
    }
    if !pending.is_empty() {
        out.line(&String::from_utf8_lossy(&pending));
    }
    Ok(())
}

async fn wait_final(client: &mut Client, build_guid: &str) -> anyhow::Result<Value> {
    loop {
        let build = client.get(&format!("/v3/builds/{build_guid}")).await?;
        if FINAL_STATES.contains(&build["state"].as_str().unwrap_or_default()) {
            return Ok(build);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
