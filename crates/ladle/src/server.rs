//! Start-up: open the database and blobstore, make sure the default stack exists, bind, serve.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::blobstore::Blobstore;
use crate::config::{CommonArgs, Config, ServeArgs, WorkerArgs};
use crate::db;
use crate::jobs::runner::Slots;
use crate::jobs::staging::StagingContext;
use crate::presenters::Links;
use crate::serve::{serve, ConnectionLimits};
use crate::state::{AppState, UsersSeen};
use ladle_stager::{parse_deny_cidrs, Stager, StagerConfig};

/// A bound, ready server; `run` serves until the future is dropped or the process ends.
pub struct Server {
    pub listener: TcpListener,
    pub state: AppState,
    pub limits: ConnectionLimits,
}

impl Server {
    pub async fn build(args: &ServeArgs) -> anyhow::Result<Server> {
        args.common.prepare_data_dir()?;
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        // A malformed UAA URL stops the start here, not at the first request.
        args.common.uaa_url()?;
        let config = Config::from_args(args, listener.local_addr()?);
        let state = open_state(&args.common, args.blobstore.as_deref(), config).await?;
        Ok(Server {
            listener,
            state,
            limits: ConnectionLimits::from_args(&args.http),
        })
    }

    /// Serves until SIGTERM (or Ctrl-C), then stops accepting connections and claiming
    /// stagings, and gives requests in flight and running stagings the grace period to finish
    /// (stagings still running then are handed back to the queue).
    pub async fn run(self) -> anyhow::Result<()> {
        crate::telemetry::start();
        let slots = start_staging_slots(&self.state)?;
        start_background_work(&self.state);
        let app = crate::routes::router(self.state.clone());
        let stop = CancellationToken::new();
        let http = serve(
            self.listener,
            app,
            self.limits,
            stop.clone().cancelled_owned(),
        );
        tokio::pin!(http);
        tokio::select! {
            () = &mut http => return Ok(()),
            () = shutdown_signal() => {}
        }
        let grace = self.state.config.staging.shutdown_grace();
        tracing::info!(grace_seconds = grace.as_secs(), "shutting down");
        stop.cancel();
        let requests = async {
            if tokio::time::timeout(grace, &mut http).await.is_err() {
                tracing::warn!("requests still in flight after the grace period are cut off");
            }
        };
        tokio::join!(requests, shut_down_slots(slots, grace));
        Ok(())
    }
}

/// Opens what every node shares (database, blobstore, token keys) and clears this node's
/// scratch space.
async fn open_state(
    common: &CommonArgs,
    blobstore: Option<&str>,
    config: Config,
) -> anyhow::Result<AppState> {
    let tokens = common.token_keys_or_create()?;
    let database_url = common.database_url();
    let pool = db::connect_waiting(&database_url, common.database_wait())
        .await
        .context("cannot open the database")?;
    // One per core: a SQLite read is CPU work on the connection's own thread.
    let readers = db::readers::Readers::open(&pool, &database_url, num_cores())
        .await
        .context("cannot open the database")?;
    ensure_default_stack(&pool, &config.default_stack).await?;
    clear_scratch_dirs(&config.data_dir);
    let blob_spec = blobstore
        .map(str::to_string)
        .unwrap_or_else(|| config.data_dir.join("blobs").display().to_string());
    let blobs = Blobstore::open(&blob_spec, config.blobstore_redirects)
        .with_context(|| format!("cannot open blobstore {blob_spec}"))?;
    Ok(AppState {
        db: pool,
        readers,
        blobs,
        tokens: Arc::new(tokens),
        links: match &config.uaa_url {
            Some(uaa) => Links::new(&config.external_url).with_login(uaa),
            None => Links::new(&config.external_url),
        },
        config: Arc::new(config),
        users_seen: Arc::new(UsersSeen::default()),
        staging_wakeup: Arc::new(tokio::sync::Notify::new()),
        staging_log_appended: Arc::new(tokio::sync::Notify::new()),
    })
}

/// `ladle worker`: staging slots, and no API. Point it at the API nodes' database and
/// blobstore; it claims their queued stagings (waking once a second to look). With `--listen`
/// it serves `/healthz`, `/readyz` and `/metrics` there.
pub async fn run_worker(args: &WorkerArgs) -> anyhow::Result<()> {
    args.common.prepare_data_dir()?;
    let listener = match args.listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?,
        ),
        None => None,
    };
    let config = Config::for_worker(args);
    let state = open_state(&args.common, args.blobstore.as_deref(), config).await?;
    crate::telemetry::start();
    let slots = start_staging_slots(&state)?;
    start_background_work(&state);
    match listener {
        Some(listener) => {
            // Tests and scripts read this line to learn the port when listening on port 0.
            println!(
                "ladle worker listening on http://{}",
                listener.local_addr()?
            );
            let app = crate::routes::worker_router(state.clone());
            let stop = CancellationToken::new();
            let http = serve(listener, app, WORKER_LIMITS, stop.clone().cancelled_owned());
            tokio::pin!(http);
            tokio::select! {
                () = &mut http => {}
                () = shutdown_signal() => {}
            }
            stop.cancel();
        }
        None => shutdown_signal().await,
    }
    let grace = state.config.staging.shutdown_grace();
    tracing::info!(grace_seconds = grace.as_secs(), "shutting down");
    shut_down_slots(slots, grace).await;
    Ok(())
}

/// A worker's HTTP is probes and scrapes: small requests from a few clients.
const WORKER_LIMITS: ConnectionLimits = ConnectionLimits {
    header_read_timeout: Duration::from_secs(10),
    idle_timeout: Duration::from_secs(75),
    body_timeout: Duration::from_secs(10),
    send_timeout: Duration::from_secs(30),
    max_connections: 64,
};

async fn shut_down_slots(slots: Option<Slots>, grace: Duration) {
    if let Some(slots) = slots {
        slots.shut_down(grace).await;
    }
}

/// Sets up the stager (runc or process, as configured), clears what a crashed predecessor left
/// behind, and starts this node's staging slots (none when configured with 0).
pub fn start_staging_slots(state: &AppState) -> anyhow::Result<Option<Slots>> {
    let slots = state.config.staging.staging_slots.unwrap_or_else(num_cores);
    metrics::gauge!(crate::telemetry::STAGING_SLOTS).set(slots as f64);
    metrics::gauge!(crate::telemetry::STAGING_SLOTS_BUSY).set(0.0);
    // Shown from the start, so that a rate over it is defined before the first takeover.
    metrics::counter!(crate::telemetry::LEASE_TAKEOVERS).increment(0);
    if slots == 0 {
        tracing::info!("no staging slots on this node");
        return Ok(None);
    }
    let stager = Arc::new(build_stager(&state.config, slots)?);
    match stager.reap_leftovers() {
        Ok(report) if !report.is_empty() => {
            tracing::warn!(?report, "removed leftovers of an earlier run")
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "could not check for leftovers of an earlier run"),
    }
    tracing::info!(slots, executor = %stager.executor(), "staging slots ready");
    Ok(Some(crate::jobs::runner::spawn_slots(
        StagingContext {
            state: state.clone(),
            stager,
        },
        slots,
    )))
}

/// Pruning of old staging logs and finished jobs, and the sweep of stalled stagings and package
/// uploads: every node, with or without staging slots.
fn start_background_work(state: &AppState) {
    crate::jobs::log_retention::spawn(state.db.clone(), state.config.staging.log_retention_days);
    crate::jobs::sweep::spawn(state.clone());
}

fn build_stager(config: &Config, slots: usize) -> anyhow::Result<Stager> {
    let staging = &config.staging;
    let builder_path = match &staging.builder_path {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("ladle-builder"),
    };
    let mut stager_config = StagerConfig::new(builder_path, config.data_dir.join("staging"));
    stager_config.timeout = Duration::from_secs(staging.staging_timeout_seconds);
    stager_config.executor = staging.stager;
    stager_config.network = staging.staging_network;
    stager_config.deny_cidrs = parse_deny_cidrs(&staging.staging_deny_cidrs)?;
    // Enough fresh filesystems for every slot to take one while the next are formatted.
    stager_config.fs_pool_per_size = 2 * slots;
    // An app without a disk limit of its own stages with the minimum.
    stager_config.default_disk_mb = Some(staging.min_staging_disk_mb);
    Stager::new(stager_config).context("cannot set up staging")
}

fn num_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Half-received uploads and staging inputs of a previous process of this node: nothing refers
/// to them any more (a package whose upload was cut off never became READY).
fn clear_scratch_dirs(data_dir: &std::path::Path) {
    for scratch in ["tmp", "staging-inputs"] {
        let dir = data_dir.join(scratch);
        if dir.exists() {
            if let Err(err) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), error = %err, "cannot clear scratch dir");
            }
        }
    }
}

async fn ensure_default_stack(pool: &db::DbPool, name: &str) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO stacks (guid, name, description, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(db::new_guid())
    .bind(name)
    .bind("the default stack: the host's /usr, /bin, /lib and /etc, read-only")
    .bind(db::now())
    .execute(pool)
    .await
    .context("cannot create the default stack")?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        if let Ok(mut sig) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            sig.recv().await;
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
