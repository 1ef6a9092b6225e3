//! The stager: picks an executor once, then runs one staging per `stage` call.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ladle_contract::{paths, Phase};
use tracing::Instrument;

use crate::builder_libs::BuilderLibs;
use crate::config::{find_on_path, is_executable, ExecutorChoice, StagerConfig, StagingNetwork};
use crate::log::{LogSink, Stream};
use crate::outcome::{self, Limits, Observed};
use crate::prepare::{self, host_failure, BundleInput, PrepareInput, Prepared};
use crate::process::{run_process, ProcessLimits};
use crate::request::{
    BuildpackSource, ExecutorKind, StackRoot, StagingFailure, StagingRequest, StagingSuccess,
};
use crate::runc;
use crate::supervise::{DiskWatch, RunEnd, Supervised};
use crate::workspace::{DiskLimit, Workspace};

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
    /// Whether the workspace is a loop-mounted ext4 image (root and mkfs.ext4 available).
    image_disk: bool,
    /// What the builder needs mounted beside it to run in a stack rootfs.
    builder_libs: BuilderLibs,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Stager {
    pub fn new(config: StagerConfig) -> Result<Stager, StagerSetupError> {
        if !is_executable(&config.builder_path) {
            return Err(StagerSetupError::BuilderMissing(
                config.builder_path.clone(),
            ));
        }
        std::fs::create_dir_all(&config.work_root).map_err(|source| {
            StagerSetupError::WorkRoot {
                path: config.work_root.clone(),
                source,
            }
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
        let image_disk = is_root() && find_on_path("mkfs.ext4").is_some();
        if executor == ExecutorKind::Process {
            warn_about_process_limits(&config, image_disk);
        }
        let id_prefix = format!(
            "ladle-{:08x}-",
            xxhash_rust::xxh64::xxh64(config.work_root.as_os_str().as_encoded_bytes(), 0) as u32
        );
        let builder_libs = BuilderLibs::of(&config.builder_path);
        Ok(Stager {
            config,
            executor,
            runc,
            id_prefix,
            image_disk,
            builder_libs,
        })
    }

    /// The executor every staging of this stager uses.
    pub fn executor(&self) -> ExecutorKind {
        self.executor
    }

    pub fn config(&self) -> &StagerConfig {
        &self.config
    }

    /// Stages `request`, streaming the log to `sink`. Dropping the future while the builder runs
    /// kills the container and removes its cgroups, mounts and workspace before the drop
    /// returns; dropped while the workspace is still being filled (a blocking task), the
    /// workspace is removed as soon as that task finishes.
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
        let mut workspace = prepared.workspace;
        for note in &prepared.notes {
            sink.line(Phase::Setup, Stream::Stderr, note);
        }
        sink.line(
            Phase::Setup,
            Stream::Stdout,
            "Successfully created container",
        );
        let outcome = self.run_and_judge(id, &request, &workspace, sink).await;
        if let Err(e) = workspace.cleanup() {
            tracing::error!(error = %e, "could not remove the staging workspace");
        }
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
            id: id.to_string(),
            disk_limit: if self.image_disk {
                DiskLimit::Ext4Image {
                    disk_mb: request.disk_mb,
                }
            } else {
                DiskLimit::Watched
            },
            owner: is_root().then_some((paths::STAGING_UID, paths::STAGING_GID)),
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
            network: self.config.network,
            cgroups_path: runc::cgroups_path(id),
        }
    }

    async fn run_and_judge(
        &self,
        id: &str,
        request: &StagingRequest,
        workspace: &Workspace,
        sink: &dyn LogSink,
    ) -> Result<StagingSuccess, StagingFailure> {
        let image = self.image_disk;
        let mut watch = DiskWatch {
            workspace,
            disk_mb: request.disk_mb,
            enforce: !image,
            was_full: false,
        };
        let observed = match self.executor {
            ExecutorKind::Runc => self.run_runc(id, workspace, &mut watch, sink).await?,
            ExecutorKind::Process => {
                self.run_process(request, workspace, &mut watch, sink)
                    .await?
            }
        };
        let limits = Limits {
            memory_mb: request.memory_mb,
            disk_mb: request.disk_mb,
            pids: self.config.pids_limit,
            timeout_secs: self.config.timeout.as_secs(),
        };
        let written = outcome::read_written(workspace.ws());
        let staged = outcome::judge(&observed, &limits, written)?;
        outcome::deliver(workspace.ws(), &request.output_dir, staged, self.executor)
    }

    async fn run_runc(
        &self,
        id: &str,
        workspace: &Workspace,
        watch: &mut DiskWatch<'_>,
        sink: &dyn LogSink,
    ) -> Result<Observed, StagingFailure> {
        let runc = self
            .runc
            .as_deref()
            .ok_or_else(|| StagingFailure::stager("runc is not available"))?;
        let bundle = workspace.dir().join("bundle");
        let run = runc::run_container(runc, id, &bundle, self.config.timeout, watch, sink)
            .await
            .map_err(|e| host_failure("could not run the staging container", &e))?;
        let disk_full = watch.was_full || watch.is_full_now();
        Ok(observed(
            run.run,
            run.oom_killed,
            run.pids_exhausted,
            disk_full,
        ))
    }

    async fn run_process(
        &self,
        request: &StagingRequest,
        workspace: &Workspace,
        watch: &mut DiskWatch<'_>,
        sink: &dyn LogSink,
    ) -> Result<Observed, StagingFailure> {
        let ws = workspace.ws();
        let home = ws.join("home");
        let env = builder_env(request, &home, ws);
        let args = builder_args(request, ws);
        let limits = ProcessLimits {
            memory_mb: request.memory_mb,
            nofile: self.config.nofile,
            nproc: self.config.pids_limit,
            switch_user: is_root(),
        };
        let run = run_process(
            &self.config.builder_path,
            &args,
            &env,
            &home,
            &limits,
            self.config.timeout,
            watch,
            sink,
        )
        .await
        .map_err(|e| host_failure("could not start the builder", &e))?;
        let disk_full = watch.was_full || watch.is_full_now();
        Ok(observed(run, false, false, disk_full))
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

fn observed(run: Supervised, oom_killed: bool, pids_exhausted: bool, disk_full: bool) -> Observed {
    let end = run.end;
    Observed {
        builder_started: run.builder_started,
        exit: match end {
            RunEnd::Exited(code) => Some(code),
            RunEnd::TimedOut => None,
        },
        timed_out: end == RunEnd::TimedOut,
        oom_killed,
        pids_exhausted,
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
        return Err(StagingFailure::stager(format!(
            "invalid buildpack key {bad:?}"
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
        Some(_) if !is_root() => Err("not running as root".to_string()),
        Some(_) if find_on_path("mkfs.ext4").is_none() => {
            Err("mkfs.ext4 is not on PATH".to_string())
        }
        Some(_) => runc::cgroups_usable(),
    };
    match (config.executor, runc_usable) {
        (ExecutorChoice::Process, _) => {
            tracing::info!("staging executor: process (LADLE_STAGER=process)");
            Ok((ExecutorKind::Process, None))
        }
        (ExecutorChoice::Runc, Err(why)) => Err(StagerSetupError::RuncUnavailable(why)),
        (choice, Ok(())) => {
            let why = if choice == ExecutorChoice::Runc {
                "LADLE_STAGER=runc"
            } else {
                "runc, root and cgroups available"
            };
            tracing::info!(runc = %runc.as_deref().unwrap_or(Path::new("")).display(), "staging executor: runc ({why})");
            Ok((ExecutorKind::Runc, runc))
        }
        (ExecutorChoice::Auto, Err(why)) => {
            tracing::warn!("staging executor: process, because runc cannot be used: {why}");
            Ok((ExecutorKind::Process, None))
        }
    }
}

fn warn_about_process_limits(config: &StagerConfig, image_disk: bool) {
    if config.network == StagingNetwork::Off {
        tracing::warn!("LADLE_STAGING_NETWORK=off has no effect with the process executor");
    }
    if !image_disk {
        tracing::warn!("process executor without root: the disk limit is enforced by polling the workspace size");
    }
    if is_root() && !searchable_by_everyone(&config.work_root) {
        tracing::warn!(work_root = %config.work_root.display(), "the staging user cannot reach the work root; a parent folder lacks o+x");
    }
}

fn searchable_by_everyone(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
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
}
