//! What every way of asking for a staging shares (our spec page's stage endpoint and today's
//! builds): limits clamped as Cloud Controller does, the staging environment, and the droplet
//! row plus its durable job, written in one transaction.

use ladle_contract::FILE_DESCRIPTOR_LIMIT;
use serde_json::{json, Map, Value};
use sqlx::{Any, Transaction};

use crate::config::StagingArgs;
use crate::db::apps::AppRecord;
use crate::db::droplets::{self, DropletRecord};
use crate::db::job_queue as queue;
use crate::db::job_queue::StagingJobPayload;
use crate::db::organizations::OrganizationRecord;
use crate::db::spaces::SpaceRecord;
use crate::db::DbResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitError {
    Memory { requested: u64, maximum: u64 },
    Disk { requested: u64, maximum: u64 },
}

impl std::fmt::Display for LimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitError::Memory { requested, maximum } => {
                write!(
                    f,
                    "memory limit exceeded: {requested} MB requested, the maximum is {maximum} MB"
                )
            }
            LimitError::Disk { requested, maximum } => {
                write!(
                    f,
                    "disk limit exceeded: {requested} MB requested, the maximum is {maximum} MB"
                )
            }
        }
    }
}

impl std::error::Error for LimitError {}

/// `(memory_mb, disk_mb)`: a missing or too small value is raised to the minimum; above the
/// maximum is refused.
pub fn clamp_limits(
    config: &StagingArgs,
    memory: Option<i64>,
    disk: Option<i64>,
) -> Result<(u64, u64), LimitError> {
    let raise =
        |value: Option<i64>, minimum: u64| value.map_or(minimum, |v| v.max(0) as u64).max(minimum);
    let memory = raise(memory, config.min_staging_memory_mb);
    let disk = raise(disk, config.min_staging_disk_mb);
    if memory > config.max_staging_memory_mb {
        return Err(LimitError::Memory {
            requested: memory,
            maximum: config.max_staging_memory_mb,
        });
    }
    let max_disk = config.max_staging_disk_mb.max(config.min_staging_disk_mb);
    if disk > max_disk {
        return Err(LimitError::Disk {
            requested: disk,
            maximum: max_disk,
        });
    }
    Ok((memory, disk))
}

/// Where the droplet's app lives, for VCAP_APPLICATION.
pub struct AppPlace<'a> {
    pub app: &'a AppRecord,
    pub space: &'a SpaceRecord,
    pub org: &'a OrganizationRecord,
}

/// The staging environment as CC merges it (app env < request env < CF_STACK <
/// VCAP_APPLICATION): the one place it is merged. Stored on the droplet, shown as its
/// `environment_variables`, and handed as it is to the stager, which only adds what the
/// container itself sets (MEMORY_LIMIT, VCAP_SERVICES, Diego's variables).
pub fn staging_environment(
    place: &AppPlace<'_>,
    request_env: &Map<String, Value>,
    stack: &str,
    memory_mb: u64,
    disk_mb: u64,
    external_url: &str,
) -> Map<String, Value> {
    let mut env: Map<String, Value> =
        serde_json::from_str(&place.app.environment_variables).unwrap_or_default();
    env.extend(request_env.clone());
    env.insert("CF_STACK".into(), json!(stack));
    let version = uuid::Uuid::new_v4().to_string();
    env.insert(
        "VCAP_APPLICATION".into(),
        json!({
            "cf_api": external_url,
            "limits": { "mem": memory_mb, "disk": disk_mb, "fds": FILE_DESCRIPTOR_LIMIT },
            "application_id": place.app.guid,
            "application_version": version,
            "application_name": place.app.name,
            "application_uris": [],
            "version": version,
            "name": place.app.name,
            "space_name": place.space.name,
            "space_id": place.space.guid,
            "organization_id": place.org.guid,
            "organization_name": place.org.name,
            "uris": [],
            "users": null,
        }),
    );
    env
}

/// Writes the droplet and enqueues its staging in the caller's transaction.
pub async fn insert_droplet_and_job(
    tx: &mut Transaction<'_, Any>,
    droplet: &DropletRecord,
    job: &StagingJobPayload,
) -> DbResult<()> {
    droplets::insert(tx, droplet).await?;
    queue::enqueue(
        tx,
        queue::STAGING,
        "droplet.stage",
        &droplet.guid,
        &serde_json::to_value(job).expect("a payload serializes"),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        staging: StagingArgs,
    }

    fn config() -> StagingArgs {
        Args::parse_from(["test"]).staging
    }

    #[test]
    fn limits_are_raised_to_the_minimum_and_capped() {
        let config = config();
        assert_eq!(clamp_limits(&config, None, None), Ok((1024, 4096)));
        assert_eq!(clamp_limits(&config, Some(10), Some(-5)), Ok((1024, 4096)));
        assert_eq!(
            clamp_limits(&config, Some(2048), Some(8192)),
            Ok((2048, 8192))
        );
        assert_eq!(
            clamp_limits(&config, Some(9000), None),
            Err(LimitError::Memory {
                requested: 9000,
                maximum: 8192
            })
        );
        assert!(matches!(
            clamp_limits(&config, None, Some(100_000)),
            Err(LimitError::Disk { .. })
        ));
    }
}
