//! Filling a fresh workspace before the builder starts: app bits, admin buildpacks, the
//! previous cache and, for runc, the container's root and bundle. Runs on a blocking thread.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipnet::IpNet;
use ladle_archive::{Limits, Refusal};
use ladle_contract::paths;

use crate::buildpack_cache::BuildpackCache;
use crate::bundle::{self, Bind, BundleSpec, NetNamespace};
use crate::fs_pool::FsPool;
use crate::network::{self, NetworkTools, StagingNet};
use crate::request::{BuildpackSource, FailureKind, StackRoot, StagingFailure, StagingRequest};
use crate::unpack::{self, ArchiveError};
use crate::workspace::Workspace;

/// What the blocking preparation needs, owned so it can move to another thread.
pub(crate) struct PrepareInput {
    pub work_root: PathBuf,
    /// Where the workspace is mounted when not in the work root (the process executor's).
    pub ws_parent: Option<PathBuf>,
    pub id: String,
    pub disk_mb: u64,
    /// Fresh filesystems formatted ahead of time.
    pub fs_pool: Arc<FsPool>,
    /// `Some` for runc: admin buildpacks are unpacked once per version and bound read-only;
    /// `None`: unpacked into each workspace.
    pub buildpack_cache: Option<Arc<BuildpackCache>>,
    /// The staging user, owner of everything the builder writes.
    pub owner: (u32, u32),
    pub request: StagingRequest,
    /// `Some` for runc: how to write the bundle once the workspace exists.
    pub bundle: Option<BundleInput>,
}

pub(crate) struct BundleInput {
    pub builder: PathBuf,
    /// Host libraries to mount beside the builder (stack rootfs only).
    pub builder_libs: Vec<PathBuf>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub pids_limit: u64,
    pub nofile: u64,
    /// `Some` for network `on`: the tools and the extra ranges to refuse.
    pub outbound: Option<Outbound>,
    pub cgroups_path: String,
}

pub(crate) struct Outbound {
    pub tools: NetworkTools,
    pub deny: Vec<IpNet>,
}

pub(crate) struct Prepared {
    pub workspace: Workspace,
    /// The staging's outbound network, stopped when dropped (before the workspace goes).
    pub network: Option<StagingNet>,
    /// Lines for the staging log (the sink cannot travel to the blocking thread).
    pub notes: Vec<String>,
}

pub(crate) fn prepare(input: PrepareInput) -> Result<Prepared, StagingFailure> {
    let started = std::time::Instant::now();
    let pooled = input.fs_pool.take(input.disk_mb);
    let from_pool = pooled.is_some();
    let mut workspace = Workspace::create(
        &input.work_root,
        input.ws_parent.as_deref(),
        &input.id,
        input.disk_mb,
        pooled,
        input.owner,
    )
    .map_err(|e| host_failure("could not create the staging workspace", &e))?;
    let mounted = started.elapsed();
    let mut notes = Vec::new();
    let disk_mb = input.request.disk_mb;
    // Nothing bigger than the staging disk can be unpacked onto it; buildpacks keep their own
    // (the upload check's) limit when that is smaller.
    let disk = Limits::with_max_bytes(disk_mb.saturating_mul(1024 * 1024));
    let buildpack_limits = Limits::with_max_bytes(disk.max_bytes.min(Limits::BUILDPACK.max_bytes));
    let ws = workspace.ws().to_path_buf();
    unpack::extract_zip(
        &input.request.app_bits,
        &ws.join("app"),
        Some(input.owner),
        &disk,
    )
    .map_err(|e| unpack_failure("the app package", e, disk_mb))?;
    let mut buildpack_binds = Vec::new();
    for buildpack in &input.request.buildpacks {
        if let BuildpackSource::Admin { key, zip } = buildpack {
            let name = buildpack_dir_name(key);
            match &input.buildpack_cache {
                Some(cache) => {
                    buildpack_binds.push(bind_cached_buildpack(
                        cache,
                        &mut workspace,
                        key,
                        zip,
                        &name,
                        input.owner,
                    )?);
                }
                None => {
                    let dir = ws.join("buildpacks").join(&name);
                    create_owned_dir(&dir, input.owner)
                        .map_err(|e| host_failure("could not prepare buildpacks", &e))?;
                    unpack::extract_zip(zip, &dir, Some(input.owner), &buildpack_limits)
                        .map_err(|e| unpack_failure(&format!("buildpack {key}"), e, disk_mb))?;
                }
            }
        }
    }
    if let Some(cache) = &input.request.previous_cache {
        restore_cache(cache, &ws.join("cache"), input.owner, &disk, &mut notes)?;
    }
    let mut network = None;
    if let Some(bundle_input) = &input.bundle {
        write_bundle(
            &mut workspace,
            &input.request,
            bundle_input,
            buildpack_binds,
        )
        .map_err(|e| host_failure("could not write the container bundle", &e))?;
        if let Some(outbound) = &bundle_input.outbound {
            let netns = workspace.dir().join(NETNS_FILE);
            workspace.track_mount(netns.clone());
            let log = workspace.dir().join("slirp4netns.log");
            let started = std::time::Instant::now();
            network = Some(
                network::set_up(&outbound.tools, &netns, &outbound.deny, &log)
                    .map_err(|e| host_failure("could not set up the staging network", &e))?,
            );
            tracing::debug!(
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                "staging network ready"
            );
        }
    }
    tracing::debug!(
        from_pool,
        mounted_ms = mounted.as_secs_f64() * 1000.0,
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "staging workspace prepared"
    );
    Ok(Prepared {
        workspace,
        network,
        notes,
    })
}

/// Takes `zip` from the cache (unpacking it there if this version is new) and returns the
/// read-only bind of it over `/workspace/buildpacks/<name>`, whose mountpoint it creates.
fn bind_cached_buildpack(
    cache: &Arc<BuildpackCache>,
    workspace: &mut Workspace,
    key: &str,
    zip: &Path,
    name: &str,
    owner: (u32, u32),
) -> Result<Bind, StagingFailure> {
    let lease = cache
        .acquire(zip, &Limits::BUILDPACK, owner)
        .map_err(|e| match e {
            ArchiveError::Io(e) => host_failure(&format!("could not unpack buildpack {key}"), &e),
            e => StagingFailure::new(
                FailureKind::StagingError,
                format!("buildpack {key} cannot be staged: {e}"),
            ),
        })?;
    // Root's, so the staging user cannot swap it for a link before the bind is made.
    fs::create_dir(workspace.ws().join("buildpacks").join(name))
        .map_err(|e| host_failure("could not prepare buildpacks", &e))?;
    let bind = (
        lease.path().to_path_buf(),
        Path::new(paths::BUILDPACKS_DIR).join(name),
    );
    workspace.hold(lease);
    Ok(bind)
}

pub use ladle_contract::paths::buildpack_dir_name;

fn restore_cache(
    cache: &Path,
    dest: &Path,
    owner: (u32, u32),
    disk: &Limits,
    notes: &mut Vec<String>,
) -> Result<(), StagingFailure> {
    match unpack::extract_tgz(cache, dest, Some(owner), disk) {
        Ok(()) => Ok(()),
        Err(e) if e.is_disk_full() => Err(disk_limit_failure(disk.max_bytes / (1024 * 1024))),
        Err(e) => {
            // Like Diego's try-action around the cache download: a bad cache only costs speed.
            notes.push(format!("Ignoring the previous build artifacts cache: {e}"));
            empty_dir(dest).map_err(|e| host_failure("could not clear the cache folder", &e))
        }
    }
}

/// The staging's network namespace, pinned in the workspace's folder.
const NETNS_FILE: &str = "netns";

fn write_bundle(
    workspace: &mut Workspace,
    request: &StagingRequest,
    input: &BundleInput,
    buildpacks: Vec<Bind>,
) -> io::Result<()> {
    let root = workspace.mount_container_root()?;
    let dns = input.outbound.is_some();
    let binds = match &request.stack {
        StackRoot::HostDefault => bundle::host_default_root(&root, dns)?,
        StackRoot::Rootfs(path) => {
            let mut binds = bundle::stack_root(&root, path, dns)?;
            binds.extend(bundle::builder_lib_binds(&root, &input.builder_libs)?);
            binds
        }
    };
    bundle::open_to_staging_user(&root)?;
    let netns = workspace.dir().join(NETNS_FILE);
    let spec = BundleSpec {
        root: &root,
        binds,
        workspace: workspace.ws(),
        buildpacks,
        builder: &input.builder,
        args: input.args.clone(),
        env: input.env.clone(),
        memory_mb: request.memory_mb,
        pids_limit: input.pids_limit,
        nofile: input.nofile,
        network: if dns {
            NetNamespace::Prepared(&netns)
        } else {
            NetNamespace::Empty
        },
        cgroups_path: &input.cgroups_path,
    };
    bundle::write_config(&workspace.dir().join("bundle"), &spec)
}

fn create_owned_dir(dir: &Path, (uid, gid): (u32, u32)) -> io::Result<()> {
    fs::create_dir(dir)?;
    std::os::unix::fs::chown(dir, Some(uid), Some(gid))
}

fn empty_dir(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

pub(crate) fn disk_limit_failure(disk_mb: u64) -> StagingFailure {
    StagingFailure::new(
        FailureKind::StagingError,
        format!("staging exceeded its disk limit of {disk_mb} MB"),
    )
}

fn unpack_failure(what: &str, error: ArchiveError, disk_mb: u64) -> StagingFailure {
    match error {
        e if e.is_disk_full() => disk_limit_failure(disk_mb),
        // Bigger than the disk it is unpacked onto (a buildpack may hit its own limit first).
        ArchiveError::Refused(Refusal::TooLarge { limit }) if limit / (1024 * 1024) == disk_mb => {
            disk_limit_failure(disk_mb)
        }
        ArchiveError::Io(e) => host_failure(&format!("could not unpack {what}"), &e),
        e => StagingFailure::new(
            FailureKind::StagingError,
            format!("{what} cannot be staged: {e}"),
        ),
    }
}

/// The host itself failed: out of space or loop devices is a capacity problem, anything else a
/// stager fault.
pub(crate) fn host_failure(context: &str, error: &io::Error) -> StagingFailure {
    let kind = match error.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) | Some(libc::ENOMEM) => {
            FailureKind::InsufficientResources
        }
        _ => FailureKind::StagerError,
    };
    tracing::error!(error = %error, "{context}");
    StagingFailure::new(kind, format!("{context}: {error}"))
}
