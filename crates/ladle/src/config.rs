//! Command-line options and environment variables, resolved once at start-up into `Config`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;

/// Options shared by every command that needs the data dir, the database or the token secret.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Database file, blobs and staging workspaces live here.
    #[arg(long, env = "LADLE_DATA_DIR", default_value = "./ladle-data")]
    pub data_dir: PathBuf,
    /// SQLite (`sqlite://path`) or PostgreSQL (`postgres://...`); default SQLite in the data dir.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// HS256 key for bearer tokens; default: a random secret kept in the data dir.
    #[arg(long, env = "LADLE_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[arg(long, env = "LADLE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Blobstore: a directory path (default `<data-dir>/blobs`) or `s3://bucket[/prefix]`.
    #[arg(long, env = "LADLE_BLOBSTORE")]
    pub blobstore: Option<String>,
    /// Answer package and droplet downloads with a 302 to a presigned URL of the blob, valid for
    /// an hour, as Cloud Controller does (needs an `s3://` blobstore).
    #[arg(long, env = "LADLE_BLOBSTORE_REDIRECTS", default_value_t = false)]
    pub blobstore_redirects: bool,
    /// Base of absolute links; default `http://<listen>`.
    #[arg(long, env = "LADLE_EXTERNAL_URL")]
    pub external_url: Option<String>,
    #[arg(long, env = "LADLE_DEFAULT_STACK", default_value = "cflinuxfs4")]
    pub default_stack: String,
    /// Largest uncompressed size of an uploaded package, in MB.
    #[arg(long, env = "LADLE_MAX_PACKAGE_SIZE_MB", default_value_t = 1024)]
    pub max_package_size_mb: u64,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub staging: StagingArgs,
}

/// How long a client may take, and how many may be connected at once. A request in progress has
/// no time limit of its own: a followed staging log or a large download runs as long as it needs.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// Seconds a client has to send a request's headers: from its first byte, or from connecting
    /// for a connection's first request. A client that sends half a header and waits is
    /// disconnected.
    #[arg(long, env = "LADLE_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_seconds: u64,
    /// Seconds a kept-alive connection may wait for its next request before it is closed.
    #[arg(long, env = "LADLE_IDLE_TIMEOUT_SECONDS", default_value_t = 75, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_seconds: u64,
    /// Longest pause, in seconds, while a request body arrives: an upload that stalls is cut
    /// off.
    #[arg(long, env = "LADLE_BODY_TIMEOUT_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_seconds: u64,
    /// Longest time, in seconds, a response may wait for the client to read some of it (as
    /// nginx's `send_timeout`): a download nobody reads is cut off.
    #[arg(long, env = "LADLE_SEND_TIMEOUT_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub send_timeout_seconds: u64,
    /// Connections served at once; further clients wait to be accepted until one closes.
    #[arg(long, env = "LADLE_MAX_CONNECTIONS", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
}

/// `ladle worker`: staging slots without the API.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The API nodes' blobstore: a directory path or `s3://bucket[/prefix]`.
    #[arg(long, env = "LADLE_BLOBSTORE")]
    pub blobstore: Option<String>,
    #[arg(long, env = "LADLE_DEFAULT_STACK", default_value = "cflinuxfs4")]
    pub default_stack: String,
    #[command(flatten)]
    pub staging: StagingArgs,
}

/// Staging limits and slots; read by `serve` (in-process slots) and `worker`.
#[derive(Debug, Clone, Args)]
pub struct StagingArgs {
    #[arg(long, env = "LADLE_STAGING_TIMEOUT_SECONDS", default_value_t = 900)]
    pub staging_timeout_seconds: u64,
    /// Staging slots on this node; default the number of cores. 0 runs no stagings here.
    #[arg(long, env = "LADLE_STAGING_SLOTS")]
    pub staging_slots: Option<usize>,
    #[arg(long, env = "LADLE_MIN_STAGING_MEMORY_MB", default_value_t = 1024)]
    pub min_staging_memory_mb: u64,
    #[arg(long, env = "LADLE_MIN_STAGING_DISK_MB", default_value_t = 4096)]
    pub min_staging_disk_mb: u64,
    #[arg(long, env = "LADLE_MAX_STAGING_MEMORY_MB", default_value_t = 8192)]
    pub max_staging_memory_mb: u64,
    #[arg(long, env = "LADLE_MAX_STAGING_DISK_MB", default_value_t = 8192)]
    pub max_staging_disk_mb: u64,
    /// `runc`, `process` or `auto`.
    #[arg(long, env = "LADLE_STAGER", default_value = "auto")]
    pub stager: String,
    /// `on` (default) or `off`: network access for buildpacks during staging (`on`: outbound
    /// only, never the host, its loopback, link-local addresses or the deny list).
    #[arg(long, env = "LADLE_STAGING_NETWORK", default_value = "on")]
    pub staging_network: String,
    /// Comma-separated CIDRs a staging with network `on` may not reach; empty for none.
    #[arg(long, env = "LADLE_STAGING_DENY_CIDRS", default_value = ladle_stager::DEFAULT_DENY_CIDRS)]
    pub staging_deny_cidrs: String,
    /// Allow `file://` buildpack git URLs (tests and local development only).
    #[arg(long, env = "LADLE_ALLOW_FILE_GIT_URLS", default_value_t = false)]
    pub allow_file_git_urls: bool,
    /// Bytes of log one staging may store; later lines are dropped and one line says so.
    #[arg(long, env = "LADLE_STAGING_LOG_MAX_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub staging_log_max_bytes: u64,
    /// Staging log bytes per second kept when a build does not set
    /// `staging_log_rate_limit_bytes_per_second`; lines beyond it are dropped, as Cloud Foundry
    /// drops them. -1: unlimited (Cloud Foundry's default).
    #[arg(long, env = "LADLE_STAGING_LOG_RATE_LIMIT_BYTES_PER_SECOND", default_value_t = -1, value_parser = clap::value_parser!(i64).range(-1..), allow_negative_numbers = true)]
    pub staging_log_rate_limit_bytes_per_second: i64,
    /// Staging logs of droplets created longer ago than this many days are deleted.
    #[arg(long, env = "LADLE_LOG_RETENTION_DAYS", default_value_t = 30)]
    pub log_retention_days: u64,
    /// Seconds a staging claim holds without renewal (renewed every third of it): a node that
    /// dies has its stagings claimed by another node this long after its last renewal.
    #[arg(long, env = "LADLE_JOB_LEASE_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub job_lease_seconds: u64,
    /// Attempts a staging gets (each failure, crash or lost lease counts one); after the last,
    /// the staging fails with StagerError and the cause.
    #[arg(long, env = "LADLE_JOB_MAX_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(i64).range(1..1000))]
    pub job_max_attempts: i64,
    /// On SIGTERM: seconds running stagings and HTTP requests get to finish; stagings still
    /// running then are handed back for another node to take at once. A periodic sweep fails a
    /// staging still unfinished this long (plus the lease) past the staging timeout.
    #[arg(long, env = "LADLE_SHUTDOWN_GRACE_SECONDS", default_value_t = 30)]
    pub shutdown_grace_seconds: u64,
    /// Finished jobs (and the scratch of finished stagings) are deleted after this many days.
    #[arg(long, env = "LADLE_JOB_RETENTION_DAYS", default_value_t = 31)]
    pub job_retention_days: u64,
    /// The in-container builder; default `ladle-builder` next to this binary.
    #[arg(long, env = "LADLE_BUILDER_PATH")]
    pub builder_path: Option<PathBuf>,
}

impl StagingArgs {
    pub fn job_lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.job_lease_seconds)
    }

    pub fn shutdown_grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.shutdown_grace_seconds)
    }

    /// How long after its claim a staging attempt may still be running before the sweep fails
    /// it: the stager's own time limit (which starts once the inputs are fetched, so up to a
    /// lease after the claim) plus the grace period, in which a staging the stager stopped
    /// still stores and records its outcome.
    pub fn staging_deadline(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            self.staging_timeout_seconds
                .saturating_add(self.job_lease_seconds)
                .saturating_add(self.shutdown_grace_seconds),
        )
    }
}

impl CommonArgs {
    /// Creates the data dir if needed (0700: what is in it is the server's alone), narrows one
    /// an earlier version left open to others, and checks that we can write to it.
    pub fn prepare_data_dir(&self) -> anyhow::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.data_dir)
            .with_context(|| format!("cannot create data dir {}", self.data_dir.display()))?;
        close_to_others(&self.data_dir).with_context(|| {
            format!(
                "cannot narrow the modes of data dir {}",
                self.data_dir.display()
            )
        })?;
        let probe = self.data_dir.join(".write-probe");
        std::fs::write(&probe, b"ok")
            .with_context(|| format!("data dir {} is not writable", self.data_dir.display()))?;
        std::fs::remove_file(&probe).ok();
        Ok(())
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("ladle.db").display()
            ),
        }
    }

    /// The configured secret, or the one kept in the data dir, made on the first start of a
    /// node (0600) so that a single node needs no set-up.
    pub fn token_secret_or_create(&self) -> anyhow::Result<String> {
        if let Some(secret) = self.configured_token_secret()? {
            return Ok(secret);
        }
        self.prepare_data_dir()?;
        let path = self.token_secret_path();
        match read_secret(&path)? {
            Some(secret) => Ok(secret),
            None => write_new_secret(&path),
        }
    }

    /// The server's secret, for `ladle token`: configured, or the one `ladle serve` keeps in the
    /// data dir. Never makes one: a token signed with a secret the server does not know would
    /// only be refused.
    pub fn existing_token_secret(&self) -> anyhow::Result<String> {
        if let Some(secret) = self.configured_token_secret()? {
            return Ok(secret);
        }
        let path = self.token_secret_path();
        read_secret(&path)?.with_context(|| {
            format!(
                "no token secret: LADLE_TOKEN_SECRET (--token-secret) is not set and {} does not \
                 exist or is empty. Point --data-dir (LADLE_DATA_DIR) at the data dir of \
                 `ladle serve`, which makes the secret on its first start, or pass the server's \
                 secret as --token-secret",
                std::path::absolute(&path).unwrap_or(path.clone()).display()
            )
        })
    }

    fn configured_token_secret(&self) -> anyhow::Result<Option<String>> {
        match &self.token_secret {
            Some(secret) if secret.is_empty() => bail!("--token-secret must not be empty"),
            secret => Ok(secret.clone()),
        }
    }

    fn token_secret_path(&self) -> PathBuf {
        self.data_dir.join("token-secret")
    }
}

/// Takes group and other permissions away from the data dir and what is directly in it (the
/// database and its -wal/-shm, the token secret, the blob folders): a data dir made before
/// ladle kept it private was world-readable. Deeper entries are out of reach once the data
/// dir is 0700.
fn close_to_others(data_dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut paths = vec![data_dir.to_path_buf()];
    for entry in std::fs::read_dir(data_dir)? {
        paths.push(entry?.path());
    }
    for path in paths {
        let meta = std::fs::symlink_metadata(&path)?;
        let mode = meta.permissions().mode() & 0o7777;
        if meta.file_type().is_symlink() || mode & 0o077 == 0 {
            continue;
        }
        let narrowed = mode & !0o077;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(narrowed))?;
        tracing::warn!(
            path = %path.display(),
            was = format!("{mode:04o}"),
            now = format!("{narrowed:04o}"),
            "narrowed the mode of a data dir entry that others could read"
        );
    }
    Ok(())
}

/// The secret kept at `path`; `None` when there is none yet (no file, or an empty one).
fn read_secret(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(secret) if !secret.trim().is_empty() => Ok(Some(secret.trim().to_string())),
        Ok(_) => Ok(None),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_new_secret(path: &Path) -> anyhow::Result<String> {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    write_private(path, &secret).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(secret)
}

/// Writes a file only its owner can read, from its first byte on (an empty file left by an
/// earlier attempt is narrowed too).
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(contents.as_bytes())
}

/// Everything the running server needs to know, resolved from `ServeArgs`.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub external_url: String,
    pub default_stack: String,
    pub max_package_size_bytes: u64,
    /// Downloads answer with a presigned blobstore URL instead of the bytes.
    pub blobstore_redirects: bool,
    pub staging: StagingArgs,
}

impl Config {
    pub fn from_args(args: &ServeArgs, bound: SocketAddr) -> Self {
        let external_url = args
            .external_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_string();
        Config {
            data_dir: args.common.data_dir.clone(),
            external_url,
            default_stack: args.default_stack.clone(),
            max_package_size_bytes: args.max_package_size_mb.saturating_mul(1024 * 1024),
            blobstore_redirects: args.blobstore_redirects,
            staging: args.staging.clone(),
        }
    }

    /// A worker serves no links and receives no uploads.
    pub fn for_worker(args: &WorkerArgs) -> Self {
        Config {
            data_dir: args.common.data_dir.clone(),
            external_url: String::new(),
            default_stack: args.default_stack.clone(),
            max_package_size_bytes: 0,
            blobstore_redirects: false,
            staging: args.staging.clone(),
        }
    }
}
