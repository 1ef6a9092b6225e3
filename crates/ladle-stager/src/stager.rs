//! The stager: picks an executor once, then runs one staging per `stage` call.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ladle_contract::{paths, Phase};
use tracing::Instrument;

use crate::builder_libs::BuilderLibs;
use crate::buildpack_cache::BuildpackCache;
use crate::config::{find_on_path, is_executable, ExecutorChoice, StagerConfig, StagingNetwork};
use crate::fs_pool::FsPool;
use crate::log::{LogSink, Stream};
use crate::network::{NetworkTools, StagingNet};
use crate::node_dir::NodeDir;
use crate::outcome::{self, Limits, Observed};
use crate::prepare::{self, host_failure, BundleInput, Outbound, PrepareInput, Prepared};
use crate::process::{run_process, ProcessLimits};
use crate::process_cgroup::{CgroupRoot, StagingCgroup};
use crate::request::{
    BuildpackSource, ExecutorKind, StackRoot, StagingFailure, StagingRequest, StagingSuccess,
};
use crate::runc;
use crate::runc_cgroup::{self, LimitsHit, RuncCgroup};
use crate::supervise::{DiskWatch, RunEnd, Supervised};
use crate::workspace::Workspace;

const PATH_VALUE: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";
/// ext4 needs a few MB for itself.
const MIN_DISK_MB: u64 = 8;
const MIN_MEMORY_MB: u64 = 16;

#[derive(Debug, thiserror::Error)]
pub enum StagerSetupError {
    #[error("the builder binary {0} does not exist or is not executable")]
    BuilderMissing(PathBuf),
    #[error("LADLE_STAGER=runc, but runc cannot be used: {0}")]
    RuncUnavailable(String),
    #[error(
        "LADLE_STAGER=auto, but runc cannot be used: {0}. Staging does not fall back to the \
             process executor by itself: make runc usable, or set LADLE_STAGER=process to stage \
             without a container (no network, filesystem or syscall isolation)"
    )]
    NoRuncForAuto(String),
    #[error("LADLE_STAGER=process cannot be used: {0}")]
    ProcessUnavailable(String),
    #[error(
        "LADLE_STAGING_NETWORK=on cannot be used: {0}; install it, or set \
             LADLE_STAGING_NETWORK=off to stage without network"
    )]
    NetworkUnavailable(String),
    #[error("cannot create the staging work root {path}: {source}")]
    WorkRoot {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct Stager {
    pub(crate) config: StagerConfig,
    executor: ExecutorKind,
    pub(crate) runc: Option<PathBuf>,
    /// `ladle-<hash of work root>-`: tells our containers and folders from anyone else's.
    pub(crate) id_prefix: String,
    /// What the builder needs mounted beside it to run in a stack rootfs.
    builder_libs: BuilderLibs,
    /// slirp4netns and nft, for runc stagings with network `on`.
    network_tools: Option<NetworkTools>,
    /// The process executor's side: where its workspaces and its builder copy live.
    pub(crate) process_side: Option<ProcessSide>,
    fs_pool: Arc<FsPool>,
    /// runc only: admin buildpacks unpacked once per version, bound read-only.
    buildpack_cache: Option<Arc<BuildpackCache>>,
    /// Holds the pool's and the cache's files; declared last, so removed after both stopped.
    pub(crate) node_dir: NodeDir,
}

/// What the process executor keeps outside the work root, where the staging user can reach
/// it whatever the modes of the data dir and its parents: `/run/ladle-staging/<hash>` (0711,
/// root's) holds a copy of the builder and each staging's workspace mountpoint.
pub(crate) struct ProcessSide {
    pub exec_root: PathBuf,
    builder: PathBuf,
    pub cgroups: CgroupRoot,
}

/// Parent of the process executor's exec roots.
const EXEC_ROOT_BASE: &str = "/run/ladle-staging";

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Stager {
    pub fn new(config: StagerConfig) -> Result<Stager, StagerSetupError> {
        if !is_executable(&config.builder_path) {
            return Err(StagerSetupError::BuilderMissing(
                config.builder_path.clone(),
            ));
        }
        create_private_dir(&config.work_root).map_err(|source| StagerSetupError::WorkRoot {
            path: config.work_root.clone(),
            source,
        })?;
        let work_root =
            config
                .work_root
                .canonicalize()
                .map_err(|source| StagerSetupError::WorkRoot {
                    path: config.work_root.clone(),
                    source,
                })?;
        let config = StagerConfig {
            work_root,
            ..config
        };
        let (executor, runc) = choose_executor(&config)?;
        let hash =
            xxhash_rust::xxh64::xxh64(config.work_root.as_os_str().as_encoded_bytes(), 0) as u32;
        let id_prefix = format!("ladle-{hash:08x}-");
        let network_tools = match (executor, config.network) {
            (ExecutorKind::Runc, StagingNetwork::Outbound) => {
                Some(NetworkTools::find().map_err(StagerSetupError::NetworkUnavailable)?)
            }
            _ => None,
        };
        let process_side = match executor {
            ExecutorKind::Process => {
                warn_about_process_limits(&config);
                Some(
                    ProcessSide::set_up(&format!("{hash:08x}"), &config.builder_path)
                        .map_err(StagerSetupError::ProcessUnavailable)?,
                )
            }
            ExecutorKind::Runc => None,
        };
        let builder_libs = BuilderLibs::of(&config.builder_path);
        let node_dir = NodeDir::create(&config.work_root, NEXT_ID.fetch_add(1, Ordering::Relaxed))
            .map_err(|source| StagerSetupError::WorkRoot {
                path: config.work_root.clone(),
                source,
            })?;
        let fs_pool = Arc::new(FsPool::start(
            node_dir.pool(),
            config.fs_pool_per_size,
            config.default_disk_mb,
        ));
        let buildpack_cache = (executor == ExecutorKind::Runc && config.cache_buildpacks)
            .then(|| {
                BuildpackCache::new(&node_dir.buildpacks_image(), node_dir.buildpacks())
                    .map_err(|e| tracing::warn!(error = %e, "cannot set up the buildpack cache; each staging unpacks its buildpacks"))
                    .ok()
            })
            .flatten()
            .map(Arc::new);
        Ok(Stager {
            config,
            executor,
            runc,
            id_prefix,
            builder_libs,
            network_tools,
            process_side,
            fs_pool,
            buildpack_cache,
            node_dir,
        })
    }

    /// The executor every staging of this stager uses.
    pub fn executor(&self) -> ExecutorKind {
        self.executor
    }

    pub fn config(&self) -> &StagerConfig {
        &self.config
    }

    /// How many fresh filesystems of `disk_mb` are formatted and waiting for a staging.
    pub fn ready_filesystems(&self, disk_mb: u64) -> usize {
        self.fs_pool.ready(disk_mb)
    }

    /// Stages `request`, streaming the log to `sink`. Dropping the future while the builder runs
    /// kills the container and removes its cgroups, mounts and workspace before the drop
    /// returns; dropped while the workspace is still being filled or the staging is being torn
    /// down (blocking tasks), what is left is removed as soon as that task finishes.
    pub async fn stage(
        &self,
        request: StagingRequest,
        sink: &dyn LogSink,
    ) -> Result<StagingSuccess, StagingFailure> {
        validate(&request)?;
        let id = self.new_id(&request.staging_guid);
        let span = tracing::info_span!("staging", guid = %request.staging_guid, container = %id, executor = %self.executor);
        self.stage_in(&id, request, sink).instrument(span).await
    }

    async fn stage_in(
        &self,
        id: &str,
        request: StagingRequest,
        sink: &dyn LogSink,
    ) -> Result<StagingSuccess, StagingFailure> {
        sink.line(Phase::Setup, Stream::Stdout, "Creating container");
        let prepared = self.prepare(id, request.clone()).await?;
        for note in &prepared.notes {
            sink.line(Phase::Setup, Stream::Stderr, note);
        }
        sink.line(
            Phase::Setup,
            Stream::Stdout,
            "Successfully created container",
        );
        let mut held = Held {
            container: None,
            runc_cgroup: None,
            process_cgroup: None,
            network: prepared.network,
            workspace: prepared.workspace,
        };
        let mut watch = DiskWatch {
            ws: held.workspace.ws().to_path_buf(),
            disk_mb: request.disk_mb,
            was_full: false,
        };
        let ran = self.run(id, &request, &mut held, &mut watch, sink).await;
        let finish = Finish {
            limits: Limits {
                memory_mb: request.memory_mb,
                disk_mb: request.disk_mb,
                pids: self.config.pids_limit,
                timeout_secs: self.config.timeout.as_secs(),
            },
            output_dir: request.output_dir.clone(),
            executor: self.executor,
        };
        // Reading the outputs, copying the droplet and tearing the staging down all block; the
        // blocking task owns what the staging holds, so a future dropped meanwhile still leaves
        // nothing behind once the task is done.
        let outcome = tokio::task::spawn_blocking(move || finish.run(held, ran, watch))
            .await
            .unwrap_or_else(|e| {
                Err(StagingFailure::stager(format!(
                    "finishing the staging panicked: {e}"
                )))
            });
        if let Err(failure) = &outcome {
            sink.line(
                Phase::Setup,
                Stream::Stderr,
                &format!("Staging failed: {}", failure.message),
            );
        }
        outcome
    }

    async fn prepare(&self, id: &str, request: StagingRequest) -> Result<Prepared, StagingFailure> {
        if self.executor == ExecutorKind::Process && request.stack != StackRoot::HostDefault {
            return Err(StagingFailure::stager("the process executor can only stage on the host's own stack; a stack root filesystem needs runc"));
        }
        let input = PrepareInput {
            work_root: self.config.work_root.clone(),
            ws_parent: self.process_side.as_ref().map(|p| p.exec_root.clone()),
            id: id.to_string(),
            disk_mb: request.disk_mb,
            fs_pool: self.fs_pool.clone(),
            buildpack_cache: self.buildpack_cache.clone(),
            owner: (paths::STAGING_UID, paths::STAGING_GID),
            bundle: (self.executor == ExecutorKind::Runc).then(|| self.bundle_input(id, &request)),
            request,
        };
        // If this future is dropped meanwhile, the workspace is dropped (and removed) when the
        // blocking task finishes.
        tokio::task::spawn_blocking(move || prepare::prepare(input))
            .await
            .map_err(|e| StagingFailure::stager(format!("workspace preparation panicked: {e}")))?
    }

    fn bundle_input(&self, id: &str, request: &StagingRequest) -> BundleInput {
        let env = builder_env(request, Path::new(paths::HOME), Path::new(paths::WORKSPACE));
        // In a stack rootfs the builder starts through the host's loader with the host's
        // libraries, whatever libc the stack has; on the host-default stack it runs as is.
        let (mut args, builder_libs) = match (&request.stack, &self.builder_libs.loader) {
            (StackRoot::Rootfs(_), Some(loader)) => {
                let loader_name = loader
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let args = vec![
                    format!("{}/{loader_name}", paths::BUILDER_LIB_DIR),
                    "--library-path".to_string(),
                    paths::BUILDER_LIB_DIR.to_string(),
                    paths::BUILDER.to_string(),
                ];
                (args, self.builder_libs.files().cloned().collect())
            }
            _ => (vec![paths::BUILDER.to_string()], Vec::new()),
        };
        args.extend(builder_args(request, Path::new(paths::WORKSPACE)));
        BundleInput {
            builder: self.config.builder_path.clone(),
            builder_libs,
            args,
            env: env.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
            pids_limit: self.config.pids_limit,
            nofile: self.config.nofile,
            outbound: self.network_tools.clone().map(|tools| Outbound {
                tools,
                deny: self.config.deny_cidrs.clone(),
            }),
            cgroups_path: runc_cgroup::container_cgroups_path(id),
        }
    }

    /// Runs the builder; only waits on the async side. What it starts goes into `held`.
    async fn run(
        &self,
        id: &str,
        request: &StagingRequest,
        held: &mut Held,
        watch: &mut DiskWatch,
        sink: &dyn LogSink,
    ) -> Result<Supervised, StagingFailure> {
        match self.executor {
            ExecutorKind::Runc => self.run_runc(id, request, held, watch, sink).await,
            ExecutorKind::Process => self.run_process(id, request, held, watch, sink).await,
        }
    }

    async fn run_runc(
        &self,
        id: &str,
        request: &StagingRequest,
        held: &mut Held,
        watch: &mut DiskWatch,
        sink: &dyn LogSink,
    ) -> Result<Supervised, StagingFailure> {
        let runc = self
            .runc
            .as_deref()
            .ok_or_else(|| StagingFailure::stager("runc is not available"))?;
        let memory_bytes = request.memory_mb * 1024 * 1024;
        let pids_limit = self.config.pids_limit;
        let cgroup_id = id.to_string();
        let cgroup = tokio::task::spawn_blocking(move || {
            RuncCgroup::create(&cgroup_id, memory_bytes, pids_limit)
        })
        .await
        .map_err(|e| StagingFailure::stager(format!("creating the staging cgroup panicked: {e}")))?
        .map_err(|e| host_failure("could not create the staging cgroup", &e))?;
        held.runc_cgroup = Some(cgroup);
        held.container = Some(runc::ContainerGuard::new(runc, id));
        let bundle = held.workspace.dir().join("bundle");
        runc::run_container(runc, id, &bundle, self.config.timeout, watch, sink)
            .await
            .map_err(|e| host_failure("could not run the staging container", &e))
    }

    async fn run_process(
        &self,
        id: &str,
        request: &StagingRequest,
        held: &mut Held,
        watch: &mut DiskWatch,
        sink: &dyn LogSink,
    ) -> Result<Supervised, StagingFailure> {
        let side = self
            .process_side
            .as_ref()
            .ok_or_else(|| StagingFailure::stager("the process executor is not set up"))?;
        let ws = held.workspace.ws().to_path_buf();
        let home = ws.join("home");
        let env = builder_env(request, &home, &ws);
        let args = builder_args(request, &ws);
        let limits = ProcessLimits {
            memory_mb: request.memory_mb,
            nofile: self.config.nofile,
            nproc: self.config.pids_limit,
        };
        let cgroups = side.cgroups.clone();
        let cgroup_id = id.to_string();
        let cgroup = tokio::task::spawn_blocking(move || cgroups.create(&cgroup_id))
            .await
            .map_err(|e| {
                StagingFailure::stager(format!("creating the staging cgroup panicked: {e}"))
            })?
            .map_err(|e| host_failure("could not create the staging cgroup", &e))?;
        let cgroup = held.process_cgroup.insert(cgroup);
        run_process(
            &side.builder,
            &args,
            &env,
            &home,
            &limits,
            cgroup,
            self.config.timeout,
            watch,
            sink,
        )
        .await
        .map_err(|e| host_failure("could not start the builder", &e))
    }

    fn new_id(&self, guid: &str) -> String {
        // Unique even when the same guid is staged twice at once or across restarts.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        format!(
            "{}{guid}-{:06x}",
            self.id_prefix,
            (u64::from(nanos) ^ (n << 20)) & 0xff_ffff
        )
    }
}

/// What a staging holds once its workspace is ready. The fields drop in this order, so a
/// staging cancelled while its builder runs kills the container (or the process cgroup) before
/// its cgroup, network and workspace go.
struct Held {
    container: Option<runc::ContainerGuard>,
    runc_cgroup: Option<RuncCgroup>,
    process_cgroup: Option<StagingCgroup>,
    network: Option<StagingNet>,
    workspace: Workspace,
}

/// The blocking end of a staging: the container's remains, the kernel's counters, the outputs,
/// the droplet copy and the teardown.
struct Finish {
    limits: Limits,
    output_dir: PathBuf,
    executor: ExecutorKind,
}

impl Finish {
    fn run(
        self,
        held: Held,
        ran: Result<Supervised, StagingFailure>,
        watch: DiskWatch,
    ) -> Result<StagingSuccess, StagingFailure> {
        let Held {
            container,
            runc_cgroup,
            process_cgroup,
            network,
            mut workspace,
        } = held;
        if let Some(container) = container {
            container.finish();
        }
        // Whatever the buildpacks left running in the background ends with the staging.
        drop(process_cgroup);
        let hit = runc_cgroup
            .as_ref()
            .map(RuncCgroup::limits_hit)
            .unwrap_or_default();
        drop(runc_cgroup);
        let outcome = ran.and_then(|run| {
            let observed = observed(run, hit, watch.was_or_is_full());
            let written = outcome::read_written(workspace.ws());
            let staged = outcome::judge(&observed, &self.limits, written)?;
            outcome::deliver(workspace.ws(), &self.output_dir, staged, self.executor)
        });
        drop(network);
        if let Err(e) = workspace.cleanup() {
            tracing::error!(error = %e, "could not remove the staging workspace");
        }
        outcome
    }
}

fn observed(run: Supervised, hit: LimitsHit, disk_full: bool) -> Observed {
    let end = run.end;
    Observed {
        builder_started: run.builder_started,
        exit: match end {
            RunEnd::Exited(code) => Some(code),
            RunEnd::TimedOut => None,
        },
        timed_out: end == RunEnd::TimedOut,
        oom_killed: hit.oom_killed,
        pids_exhausted: hit.pids_exhausted,
        disk_full,
    }
}

/// Cloud Foundry's builder command line, with the workspace at `root`.
pub(crate) fn builder_args(request: &StagingRequest, root: &Path) -> Vec<String> {
    let order: Vec<&str> = request
        .buildpacks
        .iter()
        .map(BuildpackSource::key)
        .collect();
    let at = |contract_path: &str| {
        let rel = contract_path
            .strip_prefix(paths::WORKSPACE)
            .unwrap_or(contract_path)
            .trim_start_matches('/');
        root.join(rel).display().to_string()
    };
    vec![
        format!("-buildpackOrder={}", order.join(",")),
        "-skipCertVerify=false".to_string(),
        format!("-skipDetect={}", request.skip_detect),
        format!("-buildDir={}", at(paths::BUILD_DIR)),
        format!("-outputDroplet={}", at(paths::OUTPUT_DROPLET)),
        format!("-outputMetadata={}", at(paths::OUTPUT_METADATA)),
        format!("-outputBuildArtifactsCache={}", at(paths::OUTPUT_CACHE)),
        format!("-buildpacksDir={}", at(paths::BUILDPACKS_DIR)),
        format!(
            "-buildpacksDownloadDir={}",
            at(paths::BUILDPACKS_DOWNLOAD_DIR)
        ),
        format!("-buildArtifactsCacheDir={}", at(paths::CACHE_DIR)),
    ]
}

/// The request's environment plus what a staging user's shell expects. HOME, USER and TMPDIR
/// are ours (TMPDIR on the workspace so the builder's scratch copy of the app counts against
/// the disk limit, not memory); PATH is only a default.
fn builder_env(request: &StagingRequest, home: &Path, workspace: &Path) -> Vec<(String, String)> {
    let forced = ["HOME", "USER", "TMPDIR"];
    let mut env = Vec::new();
    if !request.environment.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".to_string(), PATH_VALUE.to_string()));
    }
    env.extend(
        request
            .environment
            .iter()
            .filter(|(k, _)| !forced.contains(&k.as_str()))
            .cloned(),
    );
    env.push(("HOME".into(), home.display().to_string()));
    env.push(("USER".into(), "vcap".into()));
    env.push(("TMPDIR".into(), workspace.join("tmp").display().to_string()));
    env
}

fn validate(request: &StagingRequest) -> Result<(), StagingFailure> {
    let guid = &request.staging_guid;
    let guid_ok = !guid.is_empty()
        && guid.len() <= 64
        && !guid.starts_with('.')
        && guid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !guid_ok {
        return Err(StagingFailure::stager(format!(
            "invalid staging guid {guid:?}"
        )));
    }
    if request.buildpacks.is_empty() {
        return Err(StagingFailure::stager("no buildpacks to stage with"));
    }
    if let Some(bad) = request
        .buildpacks
        .iter()
        .map(BuildpackSource::key)
        .find(|k| k.is_empty() || k.contains([',', '\n', '\0']))
    {
        // The key may be a URL with credentials; the message ends up on the droplet.
        return Err(StagingFailure::stager(format!(
            "invalid buildpack key {:?}",
            ladle_contract::obfuscate_url(bad)
        )));
    }
    if let Some((bad, _)) = request
        .environment
        .iter()
        .find(|(k, v)| k.is_empty() || k.contains(['=', '\0']) || v.contains('\0'))
    {
        return Err(StagingFailure::stager(format!(
            "invalid environment variable {bad:?}"
        )));
    }
    if request.disk_mb < MIN_DISK_MB || request.memory_mb < MIN_MEMORY_MB {
        return Err(StagingFailure::stager(format!(
            "staging needs at least {MIN_MEMORY_MB} MB of memory and {MIN_DISK_MB} MB of disk"
        )));
    }
    Ok(())
}

fn choose_executor(
    config: &StagerConfig,
) -> Result<(ExecutorKind, Option<PathBuf>), StagerSetupError> {
    if config.executor == ExecutorChoice::Process {
        process_usable().map_err(StagerSetupError::ProcessUnavailable)?;
        tracing::info!("staging executor: process (LADLE_STAGER=process)");
        return Ok((ExecutorKind::Process, None));
    }
    let runc = config
        .runc_path
        .clone()
        .filter(|p| is_executable(p))
        .or_else(|| {
            config
                .runc_path
                .is_none()
                .then(|| find_on_path("runc"))
                .flatten()
        });
    let runc_usable = match &runc {
        None => Err("runc is not on PATH".to_string()),
        Some(_) => root_and_mkfs().and_then(|()| runc::cgroups_usable()),
    };
    match (config.executor, runc_usable) {
        (ExecutorChoice::Runc, Err(why)) => Err(StagerSetupError::RuncUnavailable(why)),
        (_, Err(why)) => Err(StagerSetupError::NoRuncForAuto(why)),
        (choice, Ok(())) => {
            let why = if choice == ExecutorChoice::Runc {
                "LADLE_STAGER=runc"
            } else {
                "runc, root and cgroups available"
            };
            tracing::info!(runc = %runc.as_deref().unwrap_or(Path::new("")).display(), "staging executor: runc ({why})");
            Ok((ExecutorKind::Runc, runc))
        }
    }
}

/// Both executors run buildpacks as the staging user on a size-limited ext4 image.
fn root_and_mkfs() -> Result<(), String> {
    if !is_root() {
        return Err("not running as root".into());
    }
    if find_on_path("mkfs.ext4").is_none() {
        return Err("mkfs.ext4 is not on PATH (Debian package e2fsprogs)".into());
    }
    Ok(())
}

fn process_usable() -> Result<(), String> {
    root_and_mkfs()
}

fn warn_about_process_limits(config: &StagerConfig) {
    match config.network {
        StagingNetwork::Off => {
            tracing::warn!("LADLE_STAGING_NETWORK=off has no effect with the process executor")
        }
        StagingNetwork::Outbound => tracing::warn!(
            "the process executor stages on the host's own network: the host's loopback and LADLE_STAGING_DENY_CIDRS are not protected"
        ),
    }
}

impl ProcessSide {
    /// Creates `/run/ladle-staging/<hash>` and copies the builder into it.
    fn set_up(hash: &str, builder: &Path) -> Result<ProcessSide, String> {
        let cgroups = CgroupRoot::find()?;
        let exec_root = Path::new(EXEC_ROOT_BASE).join(hash);
        let setup = || -> std::io::Result<PathBuf> {
            for dir in [Path::new(EXEC_ROOT_BASE), &exec_root] {
                std::fs::create_dir_all(dir)?;
                // Others may pass through, not list: the staging user reaches its workspace
                // and the builder by their names.
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))?;
            }
            let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            let copy = exec_root.join(format!("ladle-builder-{}-{n}", std::process::id()));
            let partial = copy.with_extension("partial");
            std::fs::copy(builder, &partial)?;
            std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))?;
            std::fs::rename(&partial, &copy)?;
            Ok(copy)
        };
        let builder = setup().map_err(|e| {
            format!(
                "cannot prepare {} for the staging user: {e}",
                exec_root.display()
            )
        })?;
        if !searchable_by_everyone(&exec_root) {
            return Err(format!(
                "the staging user cannot reach {}: a parent folder lacks o+x",
                exec_root.display()
            ));
        }
        Ok(ProcessSide {
            exec_root,
            builder,
            cgroups,
        })
    }
}

impl Drop for Stager {
    fn drop(&mut self) {
        if let Some(side) = &self.process_side {
            let _ = std::fs::remove_file(&side.builder);
            // Fails while another stager of the same work root still uses it.
            let _ = std::fs::remove_dir(&side.exec_root);
        }
    }
}

/// Creates `dir` (and missing parents) readable by root only.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn searchable_by_everyone(path: &Path) -> bool {
    path.ancestors().all(|dir| {
        dir.metadata()
            .map(|m| m.permissions().mode() & 0o001 != 0)
            .unwrap_or(false)
    })
}

pub(crate) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> StagingRequest {
        StagingRequest {
            staging_guid: "g1".into(),
            app_bits: "/nonexistent.zip".into(),
            buildpacks: vec![
                BuildpackSource::Admin {
                    key: "ruby_buildpack".into(),
                    zip: "/x.zip".into(),
                },
                BuildpackSource::Url("https://example.com/bp.git#v1".into()),
            ],
            skip_detect: true,
            environment: vec![
                ("PATH".into(), "/custom".into()),
                ("HOME".into(), "/evil".into()),
            ],
            memory_mb: 1024,
            disk_mb: 4096,
            stack: StackRoot::HostDefault,
            previous_cache: None,
            output_dir: "/out".into(),
        }
    }

    #[test]
    fn command_line_matches_cloud_controllers() {
        let args = builder_args(&request(), Path::new(paths::WORKSPACE));
        assert_eq!(
            args,
            [
                "-buildpackOrder=ruby_buildpack,https://example.com/bp.git#v1",
                "-skipCertVerify=false",
                "-skipDetect=true",
                "-buildDir=/workspace/app",
                "-outputDroplet=/workspace/output/droplet.tgz",
                "-outputMetadata=/workspace/output/result.json",
                "-outputBuildArtifactsCache=/workspace/output/cache.tgz",
                "-buildpacksDir=/workspace/buildpacks",
                "-buildpacksDownloadDir=/workspace/buildpackdownloads",
                "-buildArtifactsCacheDir=/workspace/cache",
            ]
        );
        let host = builder_args(&request(), Path::new("/data/staging/x/ws"));
        assert_eq!(host[3], "-buildDir=/data/staging/x/ws/app");
    }

    #[test]
    fn user_cannot_override_home_but_may_set_path() {
        let env = builder_env(&request(), Path::new("/home/vcap"), Path::new("/workspace"));
        let get = |k: &str| {
            env.iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("HOME"), ["/home/vcap"]);
        assert_eq!(get("PATH"), ["/custom"]);
        assert_eq!(get("TMPDIR"), ["/workspace/tmp"]);
        assert_eq!(get("USER"), ["vcap"]);
    }

    #[test]
    fn hostile_requests_are_refused() {
        let cases: [fn(&mut StagingRequest); 7] = [
            |r| r.staging_guid = "../../etc".into(),
            |r| r.staging_guid = String::new(),
            |r| r.buildpacks.clear(),
            |r| r.buildpacks.push(BuildpackSource::Url("a,b".into())),
            |r| r.environment.push(("A=B".into(), "x".into())),
            |r| r.environment.push(("A".into(), "x\0y".into())),
            |r| r.disk_mb = 1,
        ];
        for mutate in cases {
            let mut r = request();
            mutate(&mut r);
            assert_eq!(
                validate(&r).unwrap_err().kind,
                crate::FailureKind::StagerError
            );
        }
        assert!(validate(&request()).is_ok());
    }

    #[test]
    fn a_refused_key_keeps_its_credentials_out_of_the_message() {
        let mut r = request();
        r.buildpacks
            .push(BuildpackSource::Url("https://u:secret@h/a,b.git".into()));
        let failure = validate(&r).unwrap_err();
        assert!(!failure.message.contains("secret"), "{}", failure.message);
        assert!(failure.message.contains("https://***:***@h/a,b.git"));
    }
}
