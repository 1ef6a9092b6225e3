//! The staging job: gather a droplet's inputs from the blobstore, run the stager, store the
//! droplet and build cache, and record the outcome. Safe to run twice for the same droplet:
//! completion only changes a droplet that is still in flight.
//!
//! An outcome that cannot be recorded because the database is unreachable is not dropped: the
//! attempt waits for the database, renewing its lease as soon as it answers, and records it
//! then. Only when the job is no longer this node's (another node took it over, or the sweep
//! failed it) or the staging deadline has passed does it give up, and the attempt fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ladle_stager::env::{staging_environment, StagingEnvInput};
use ladle_stager::{
    BuildpackSource, Digests, FailureKind, StackRoot, Stager, StagingFailure, StagingRequest,
    StagingSuccess,
};
use serde_json::{Map, Value};

use super::staging_log::{DbLogSink, LogLimits};
use super::staging_metrics::{self, TimedSink};
use crate::actions::staging_complete::{self, Outcome};
use crate::blobstore::keys;
use crate::db::droplets::{self, DropletRecord};
use crate::db::job_queue::{self as queue, ClaimedJob};
use crate::db::{build_caches, buildpacks, stacks};
use crate::domain::BuildpackUrl;
use crate::state::AppState;

/// What a staging slot needs: the server's state plus the stager.
#[derive(Clone)]
pub struct StagingContext {
    pub state: AppState,
    pub stager: Arc<Stager>,
}

/// One attempt at a staging job. An error means the attempt failed and the runner retries it
/// (after the last attempt it calls `give_up`); what the stager reports (a buildpack that fails,
/// a time limit) is the staging's outcome, recorded here, not an error.
#[tracing::instrument(skip_all, fields(job_guid = %job.guid, droplet_guid = job.resource_guid.as_deref().unwrap_or("")))]
pub async fn run(ctx: &StagingContext, job: &ClaimedJob, owner: &str) -> anyhow::Result<()> {
    let db = &ctx.state.db;
    let droplet_guid = job
        .resource_guid
        .as_deref()
        .context("staging job without a droplet")?;
    let Some(droplet) = droplets::find(db, droplet_guid).await? else {
        return end_for_deleted_droplet(ctx, droplet_guid).await;
    };
    if !droplet.state.is_in_flight() {
        return Ok(()); // already completed by an earlier claim
    }
    if job.attempts == 1 {
        staging_metrics::queue_wait(&droplet.created_at);
    }
    droplets::mark_staging(db, droplet_guid).await?;
    #[cfg(test)]
    test_hooks::panic_if_asked(droplet_guid);
    let inputs = InputDir::create(&ctx.state.config.data_dir, droplet_guid).await?;
    let staging = &ctx.state.config.staging;
    let log_limits = LogLimits::new(
        staging.staging_log_max_bytes,
        job.staging_payload()
            .staging_log_rate_limit_bytes_per_second
            .unwrap_or(staging.staging_log_rate_limit_bytes_per_second),
    );
    let outcome = match stage(ctx, &droplet, &inputs, log_limits).await {
        Ok(success) => {
            let started = Instant::now();
            let stored = store_outputs(ctx, &droplet, success).await;
            staging_metrics::phase("droplet_upload", started.elapsed());
            stored
        }
        Err(failure) => Outcome::Failed(failure),
    };
    staging_metrics::ended(&outcome);
    record_outcome(ctx, job, owner, &droplet, &outcome)
        .await
        .context("cannot record the staging's outcome")?;
    if droplets::find(db, droplet_guid).await?.is_none() {
        end_for_deleted_droplet(ctx, droplet_guid).await?;
    }
    Ok(())
}

/// The first wait before recording an outcome again after the database did not answer; each
/// further wait doubles, up to `RECORD_RETRY_MAX`.
const RECORD_RETRY_FIRST: Duration = Duration::from_millis(250);
const RECORD_RETRY_MAX: Duration = Duration::from_secs(2);

/// Records the outcome, waiting out a database outage (see the module's doc). Each retry
/// first renews the job's lease: that both shows the database is back and keeps the job from
/// being taken over while its outcome is being written.
async fn record_outcome(
    ctx: &StagingContext,
    job: &ClaimedJob,
    owner: &str,
    droplet: &DropletRecord,
    outcome: &Outcome,
) -> anyhow::Result<()> {
    let staging = &ctx.state.config.staging;
    let give_up_at = Instant::now() + staging.staging_deadline();
    let mut pause = RECORD_RETRY_FIRST;
    loop {
        let err = match staging_complete::record(&ctx.state, droplet, outcome).await {
            Ok(()) => return Ok(()),
            Err(err) if crate::outage::database_unreachable(&err) => err,
            Err(err) => return Err(err.into()),
        };
        tracing::warn!(error = %err, "cannot record the staging's outcome; waiting for the database");
        loop {
            if Instant::now() >= give_up_at {
                return Err(anyhow::Error::new(err)
                    .context("the database stayed unreachable past the staging deadline"));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RECORD_RETRY_MAX);
            match queue::renew(&ctx.state.db, &job.guid, owner, staging.job_lease()).await {
                Ok(true) => break,
                Ok(false) => {
                    return Err(anyhow::Error::new(err).context(
                        "the staging job is no longer this node's; its outcome is left to its new owner",
                    ))
                }
                Err(renew_err) if crate::outage::database_unreachable(&renew_err) => {}
                Err(renew_err) => return Err(renew_err.into()),
            }
        }
    }
}

/// After the last attempt failed with `cause`: the droplet fails with StagerError and the cause
/// (its build too), or, if the droplet was deleted meanwhile, its build does. A droplet that is
/// already final keeps its state.
pub async fn give_up(ctx: &StagingContext, job: &ClaimedJob, cause: &str) -> anyhow::Result<()> {
    let Some(droplet_guid) = job.resource_guid.as_deref() else {
        return Ok(());
    };
    match droplets::find(&ctx.state.db, droplet_guid).await? {
        Some(droplet) => {
            let failure = Outcome::Failed(StagingFailure::stager(cause));
            staging_metrics::gave_up();
            staging_complete::record(&ctx.state, &droplet, &failure).await?
        }
        None => staging_complete::fail_build_of_deleted_droplet(&ctx.state, droplet_guid).await?,
    }
    Ok(())
}

/// A droplet deleted before its staging finished: its build can never be staged, and the blob
/// the staging may have stored has no row left to be found by.
async fn end_for_deleted_droplet(ctx: &StagingContext, droplet_guid: &str) -> anyhow::Result<()> {
    staging_complete::fail_build_of_deleted_droplet(&ctx.state, droplet_guid).await?;
    ctx.state
        .blobs
        .delete(&keys::droplet(droplet_guid))
        .await
        .context("cannot remove the blob of the deleted droplet")?;
    Ok(())
}

async fn stage(
    ctx: &StagingContext,
    droplet: &DropletRecord,
    inputs: &InputDir,
    log_limits: LogLimits,
) -> Result<StagingSuccess, StagingFailure> {
    let fetching = Instant::now();
    let request = gather_inputs(&ctx.state, droplet, inputs).await?;
    staging_metrics::phase("fetch", fetching.elapsed());
    let (sink, writer) = DbLogSink::start(
        ctx.state.db.clone(),
        ctx.state.staging_log_appended.clone(),
        droplet.guid.to_string(),
        log_limits,
    );
    let timed = TimedSink::new(&sink);
    let staging = Instant::now();
    let result = ctx.stager.stage(request, &timed).await;
    timed.record(staging);
    drop(timed);
    drop(sink);
    let _ = writer.await;
    result
}

/// Downloads the package, buildpacks and cache, and builds the stager's request. Problems here
/// are the platform's (StagerError) unless the user asked for something that does not exist.
async fn gather_inputs(
    state: &AppState,
    droplet: &DropletRecord,
    inputs: &InputDir,
) -> Result<StagingRequest, StagingFailure> {
    let package_guid = droplet
        .package_guid
        .as_deref()
        .ok_or_else(|| StagingFailure::stager("droplet has no package"))?;
    let app_bits = inputs.path("app.zip");
    state
        .blobs
        .get_to_file(&keys::package(package_guid), &app_bits)
        .await
        .map_err(|err| StagingFailure::stager(format!("cannot fetch the package: {err}")))?;
    let stack_name = droplet
        .stack
        .clone()
        .unwrap_or_else(|| state.config.default_stack.clone());
    let (buildpacks, skip_detect) = buildpack_sources(state, droplet, &stack_name, inputs).await?;
    let stack = stack_root(state, &stack_name).await?;
    let previous_cache = previous_cache(state, &droplet.app_guid, inputs).await;
    let mut environment = staging_environment(&env_input(droplet));
    if state.config.staging.allow_file_git_urls {
        environment.push(("LADLE_ALLOW_FILE_GIT_URLS".to_string(), "1".to_string()));
    }
    Ok(StagingRequest {
        staging_guid: droplet.guid.to_string(),
        app_bits,
        buildpacks,
        skip_detect,
        environment,
        memory_mb: droplet.memory_limit_mb.max(0) as u64,
        disk_mb: droplet.disk_limit_mb.max(0) as u64,
        stack,
        previous_cache,
        output_dir: inputs.path("out"),
    })
}

/// Named buildpacks (admin names or URLs) in the user's order, skipping detection; none named
/// means detect over the stack's enabled admin buildpacks by position, as Cloud Foundry does.
async fn buildpack_sources(
    state: &AppState,
    droplet: &DropletRecord,
    stack: &str,
    inputs: &InputDir,
) -> Result<(Vec<BuildpackSource>, bool), StagingFailure> {
    let requested = droplet.requested_buildpacks();
    let mut sources = Vec::new();
    if requested.is_empty() {
        let records = buildpacks::list_enabled_for_stack(&state.db, stack)
            .await
            .map_err(db_failure)?;
        if records.is_empty() {
            return Err(StagingFailure::new(
                FailureKind::NoAppDetected,
                format!("no admin buildpacks are enabled for stack {stack}"),
            ));
        }
        for (index, record) in records.iter().enumerate() {
            sources.push(admin_source(state, record, inputs, index).await?);
        }
        return Ok((sources, false));
    }
    for (index, entry) in requested.iter().enumerate() {
        if BuildpackUrl::is_url(entry) {
            sources.push(BuildpackSource::Url(entry.clone()));
            continue;
        }
        let record = buildpacks::find_by_name(&state.db, entry, Some(stack))
            .await
            .map_err(db_failure)?
            .ok_or_else(|| {
                StagingFailure::new(
                    FailureKind::StagingError,
                    format!("buildpack {entry} no longer exists"),
                )
            })?;
        sources.push(admin_source(state, &record, inputs, index).await?);
    }
    Ok((sources, true))
}

/// Fetches an admin buildpack's zip; its name is the key the builder sees.
async fn admin_source(
    state: &AppState,
    record: &buildpacks::BuildpackRecord,
    inputs: &InputDir,
    index: usize,
) -> Result<BuildpackSource, StagingFailure> {
    let zip = inputs.path(&format!("buildpack-{index}.zip"));
    state
        .blobs
        .get_to_file(&keys::buildpack(&record.guid), &zip)
        .await
        .map_err(|err| {
            StagingFailure::stager(format!("cannot fetch buildpack {}: {err}", record.name))
        })?;
    Ok(BuildpackSource::Admin {
        key: record.name.clone(),
        zip,
    })
}

async fn stack_root(state: &AppState, stack: &str) -> Result<StackRoot, StagingFailure> {
    let record = stacks::find_by_name(&state.db, stack)
        .await
        .map_err(db_failure)?;
    Ok(match record.and_then(|s| s.rootfs) {
        Some(rootfs) if !rootfs.is_empty() => StackRoot::Rootfs(PathBuf::from(rootfs)),
        _ => StackRoot::HostDefault,
    })
}

/// The app's last build cache, if one was stored; a missing blob just means a cold build.
async fn previous_cache(state: &AppState, app_guid: &str, inputs: &InputDir) -> Option<PathBuf> {
    build_caches::find(&state.db, app_guid)
        .await
        .ok()
        .flatten()?;
    let path = inputs.path("cache.tgz");
    match state
        .blobs
        .get_to_file(&keys::build_cache(app_guid), &path)
        .await
    {
        Ok(()) => Some(path),
        Err(err) => {
            tracing::warn!(app_guid, error = %err, "build cache unavailable; staging without it");
            None
        }
    }
}

/// The environment stored on the droplet is already merged in CC's order (app env < request
/// env < CF_STACK < VCAP_APPLICATION, `staging_request::staging_environment`); the stager adds
/// MEMORY_LIMIT, VCAP_SERVICES and the container's variables.
fn env_input(droplet: &DropletRecord) -> StagingEnvInput {
    StagingEnvInput {
        environment: droplet.environment(),
        memory_mb: droplet.memory_limit_mb.max(0) as u64,
        vcap_services: Value::Object(Map::new()),
    }
}

/// Stores the droplet (and cache) in the blobstore before any row says STAGED.
async fn store_outputs(
    ctx: &StagingContext,
    droplet: &DropletRecord,
    success: StagingSuccess,
) -> Outcome {
    if success.result.process_types.is_empty() {
        return Outcome::Failed(StagingFailure::new(
            FailureKind::StagingError,
            "Start command not specified",
        ));
    }
    // The stager hashed both files while copying them out of the staging's disk; moved into
    // a local blobstore they are not copied again.
    let stored = async {
        let Digests { sha1, sha256 } = success.droplet_digests.clone();
        ctx.state
            .blobs
            .put_file_by_moving(&keys::droplet(&droplet.guid), &success.droplet)
            .await?;
        // The cache's row is written with the droplet's STAGED state, in one transaction, so a
        // database outage here does not fail a staging whose droplet is already stored.
        let mut cache_sha256 = None;
        if let Some((cache, digests)) = &success.cache {
            cache_sha256 = Some(digests.sha256.clone());
            ctx.state
                .blobs
                .put_file_by_moving(&keys::build_cache(&droplet.app_guid), cache)
                .await?;
        }
        anyhow::Ok((sha1, sha256, cache_sha256))
    };
    match stored.await {
        Ok((sha1, sha256, cache_sha256)) => Outcome::Staged {
            success: Box::new(success),
            sha1,
            sha256,
            cache_sha256,
        },
        Err(err) => Outcome::Failed(StagingFailure::stager(format!(
            "cannot store the droplet: {err:#}"
        ))),
    }
}

fn db_failure(err: sqlx::Error) -> StagingFailure {
    StagingFailure::stager(format!("database: {err}"))
}

/// A private folder for one staging's downloaded inputs, removed when dropped.
struct InputDir {
    root: PathBuf,
}

impl InputDir {
    async fn create(data_dir: &Path, droplet_guid: &str) -> anyhow::Result<InputDir> {
        let root = data_dir.join("staging-inputs").join(droplet_guid);
        tokio::task::spawn_blocking(move || {
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(root.join("out"))
                .with_context(|| format!("cannot create {}", root.display()))?;
            Ok(InputDir { root })
        })
        .await?
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

impl Drop for InputDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Lets tests force a panic inside a staging: no input makes the staging code panic, yet a
/// panic must not wedge a staging, so the tests that prove it need a way to cause one.
#[cfg(test)]
pub(crate) mod test_hooks {
    use std::sync::Mutex;

    /// Droplets whose staging panics right after the droplet is marked STAGING.
    pub(crate) static PANIC_WHILE_STAGING: Mutex<Vec<String>> = Mutex::new(Vec::new());

    pub(super) fn panic_if_asked(droplet_guid: &str) {
        let asked = PANIC_WHILE_STAGING
            .lock()
            .expect("test hook poisoned")
            .iter()
            .any(|guid| guid == droplet_guid);
        if asked {
            panic!("a test asked the staging of {droplet_guid} to panic");
        }
    }
}
