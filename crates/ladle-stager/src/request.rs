//! What a staging slot hands the stager, and what it gets back.

use std::fmt;
use std::path::PathBuf;

use ladle_contract::{StagingDetails, StagingResult};

/// One staging run. Paths are on the host; the stager copies everything it needs into the
/// workspace, so the caller may delete its inputs once `stage` returns.
#[derive(Debug, Clone)]
pub struct StagingRequest {
    /// Names the container and the workspace; letters, digits, `-`, `_` and `.` only.
    pub staging_guid: String,
    /// The package: a zip the API has already accepted. It is still treated as hostile.
    pub app_bits: PathBuf,
    /// In the order handed to the builder (`-buildpackOrder`); must not be empty.
    pub buildpacks: Vec<BuildpackSource>,
    /// True when the user named the buildpacks (CF's multi-buildpack mode).
    pub skip_detect: bool,
    /// The complete staging environment, already merged (see [`crate::env`]).
    pub environment: Vec<(String, String)>,
    pub memory_mb: u64,
    pub disk_mb: u64,
    pub stack: StackRoot,
    /// The build-artifacts cache of the previous staging, if any; a corrupt one is ignored.
    pub previous_cache: Option<PathBuf>,
    /// Caller-owned folder that receives `droplet.tgz` and `cache.tgz`.
    pub output_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildpackSource {
    /// An admin buildpack: its zip is extracted into `buildpacks/<%016x xxhash64(key)>/`.
    Admin { key: String, zip: PathBuf },
    /// A custom buildpack URL, fetched by the builder itself.
    Url(String),
}

impl BuildpackSource {
    /// The key as it appears in `-buildpackOrder` and in result.json.
    pub fn key(&self) -> &str {
        match self {
            BuildpackSource::Admin { key, .. } => key,
            BuildpackSource::Url(url) => url,
        }
    }
}

/// The root filesystem the buildpacks see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackRoot {
    /// The host's own /usr, /bin, /lib*, /etc and /sbin, read-only.
    HostDefault,
    /// An unpacked stack root filesystem (for example cflinuxfs4), mounted read-only.
    Rootfs(PathBuf),
}

/// How the builder was run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorKind {
    /// In an OCI container started with runc: cgroup limits, private mounts, no capabilities.
    Runc,
    /// As a plain child process with rlimits: for machines without runc or root.
    Process,
}

impl ExecutorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutorKind::Runc => "runc",
            ExecutorKind::Process => "process",
        }
    }
}

impl fmt::Display for ExecutorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct StagingSuccess {
    pub result: StagingResult,
    /// ladle-staging.json: what detect printed per buildpack.
    pub details: StagingDetails,
    /// `<output_dir>/droplet.tgz`.
    pub droplet: PathBuf,
    /// Of the bytes copied to `droplet`, taken as they were copied.
    pub droplet_digests: Digests,
    /// `<output_dir>/cache.tgz` and its digests, when the builder produced a cache.
    pub cache: Option<(PathBuf, Digests)>,
    pub executor: ExecutorKind,
}

/// sha1 and sha256 of a file, lowercase hex, as Cloud Controller records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub sha1: String,
    pub sha256: String,
}

/// Cloud Controller's closed set of staging error ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    NoAppDetected,
    BuildpackCompileFailed,
    BuildpackReleaseFailed,
    StagingError,
    StagingTimeExpired,
    InsufficientResources,
    StagerError,
}

impl FailureKind {
    /// The error name Cloud Controller reports (`error` of a failed build).
    pub fn cc_name(&self) -> &'static str {
        match self {
            FailureKind::NoAppDetected => "NoAppDetectedError",
            FailureKind::BuildpackCompileFailed => "BuildpackCompileFailed",
            FailureKind::BuildpackReleaseFailed => "BuildpackReleaseFailed",
            FailureKind::StagingError => "StagingError",
            FailureKind::StagingTimeExpired => "StagingTimeExpired",
            FailureKind::InsufficientResources => "InsufficientResources",
            FailureKind::StagerError => "StagerError",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cc_name())
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct StagingFailure {
    pub kind: FailureKind,
    pub message: String,
    /// result.json as far as the builder got (it names the buildpack that failed). Boxed to
    /// keep `Result<_, StagingFailure>` small.
    pub result: Option<Box<StagingResult>>,
}

impl StagingFailure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        StagingFailure {
            kind,
            message: message.into(),
            result: None,
        }
    }

    /// A failure of the host machinery rather than of the app or its buildpacks.
    pub fn stager(message: impl Into<String>) -> Self {
        Self::new(FailureKind::StagerError, message)
    }
}
