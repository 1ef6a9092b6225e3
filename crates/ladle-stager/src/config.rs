//! Stager settings and how the executor is picked.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;

/// Which executor the operator asked for (`LADLE_STAGER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorChoice {
    Runc,
    Process,
    /// runc when it is usable (on PATH, running as root, cgroups mounted), else a plain process.
    Auto,
}

/// The staging container's network (`LADLE_STAGING_NETWORK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StagingNetwork {
    /// `on`: a network namespace of the staging's own with outbound access through
    /// slirp4netns, as Cloud Foundry stages with network access; the host, its loopback,
    /// link-local addresses and the deny list are unreachable (runc only).
    Outbound,
    /// `off`: a fresh network namespace with nothing in it (runc only).
    Off,
}

impl FromStr for ExecutorChoice {
    type Err = ConfigError;

    fn from_str(value: &str) -> Result<Self, ConfigError> {
        match value.to_ascii_lowercase().as_str() {
            "runc" => Ok(ExecutorChoice::Runc),
            "process" => Ok(ExecutorChoice::Process),
            "auto" => Ok(ExecutorChoice::Auto),
            _ => Err(ConfigError::BadExecutor(value.to_string())),
        }
    }
}

impl FromStr for StagingNetwork {
    type Err = ConfigError;

    fn from_str(value: &str) -> Result<Self, ConfigError> {
        match value.to_ascii_lowercase().as_str() {
            "on" | "true" | "1" => Ok(StagingNetwork::Outbound),
            "off" | "none" | "false" | "0" => Ok(StagingNetwork::Off),
            _ => Err(ConfigError::BadNetwork(value.to_string())),
        }
    }
}

/// The private ranges a staging may not reach unless the operator says otherwise
/// (`LADLE_STAGING_DENY_CIDRS`): RFC 1918, shared address space (carrier-grade NAT, and where
/// some clouds keep their metadata service) and IPv6 unique-local addresses.
pub const DEFAULT_DENY_CIDRS: &str =
    "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7";

/// Parses a comma-separated list of CIDRs (`10.0.0.0/8,fd00::/8`); empty means none.
pub fn parse_deny_cidrs(value: &str) -> Result<Vec<IpNet>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .map_err(|_| ConfigError::BadDenyCidr(item.to_string()))
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct StagerConfig {
    pub executor: ExecutorChoice,
    /// The `ladle-builder` binary on the host.
    pub builder_path: PathBuf,
    /// Staging workspaces live under here, one folder per run (e.g. `<data-dir>/staging`).
    pub work_root: PathBuf,
    pub network: StagingNetwork,
    /// Destinations a staging with network `on` may not reach, besides the host itself, its
    /// loopback and link-local addresses (always refused).
    pub deny_cidrs: Vec<IpNet>,
    /// Most processes and threads a staging may have at once (runc: pids cgroup).
    pub pids_limit: u64,
    /// RLIMIT_NOFILE inside the staging, Cloud Foundry's `staging_file_descriptor_limit`.
    pub nofile: u64,
    /// Wall-clock limit; the whole container is killed when it runs out.
    pub timeout: Duration,
    /// `None` = look `runc` up on PATH.
    pub runc_path: Option<PathBuf>,
    /// Fresh filesystems kept formatted ahead of time per disk size in demand (about twice
    /// the staging slots); 0 formats each staging's when it starts.
    pub fs_pool_per_size: usize,
    /// The disk size most stagings ask for, kept ready from the start.
    pub default_disk_mb: Option<u64>,
    /// runc: unpack each admin buildpack version once and bind it read-only into the stagings
    /// that use it; false unpacks it into each workspace, as the process executor does.
    pub cache_buildpacks: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--stager must be runc, process or auto, not {0:?} (LADLE_STAGER)")]
    BadExecutor(String),
    #[error("--staging-network must be on or off, not {0:?} (LADLE_STAGING_NETWORK)")]
    BadNetwork(String),
    #[error(
        "--staging-deny-cidrs must be a comma-separated list of CIDRs such as 10.0.0.0/8, not {0:?} (LADLE_STAGING_DENY_CIDRS)"
    )]
    BadDenyCidr(String),
}

impl StagerConfig {
    /// Cloud Foundry's defaults: 1024 processes, 16384 files, 900 s, outbound network with the
    /// private ranges denied, auto executor.
    pub fn new(builder_path: impl Into<PathBuf>, work_root: impl Into<PathBuf>) -> Self {
        StagerConfig {
            executor: ExecutorChoice::Auto,
            builder_path: builder_path.into(),
            work_root: work_root.into(),
            network: StagingNetwork::Outbound,
            deny_cidrs: parse_deny_cidrs(DEFAULT_DENY_CIDRS).expect("valid default deny list"),
            pids_limit: 1024,
            nofile: ladle_contract::FILE_DESCRIPTOR_LIMIT,
            timeout: Duration::from_secs(900),
            runc_path: None,
            fs_pool_per_size: 4,
            default_disk_mb: None,
            cache_buildpacks: true,
        }
    }
}

/// Finds `name` in the directories of `$PATH`.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_refuse_nonsense() {
        assert_eq!(
            "PROCESS".parse::<ExecutorChoice>().unwrap(),
            ExecutorChoice::Process
        );
        assert_eq!(
            "auto".parse::<ExecutorChoice>().unwrap(),
            ExecutorChoice::Auto
        );
        assert_eq!(
            "off".parse::<StagingNetwork>().unwrap(),
            StagingNetwork::Off
        );
        assert_eq!(
            "on".parse::<StagingNetwork>().unwrap(),
            StagingNetwork::Outbound
        );
        assert_eq!(
            parse_deny_cidrs(" 10.1.0.0/16 , fd00::/8").unwrap(),
            [
                "10.1.0.0/16".parse::<IpNet>().unwrap(),
                "fd00::/8".parse().unwrap()
            ]
        );
        let defaults = StagerConfig::new("/b", "/w");
        assert_eq!(defaults.executor, ExecutorChoice::Auto);
        assert_eq!(defaults.network, StagingNetwork::Outbound);
        assert_eq!(defaults.deny_cidrs.len(), 5);
        assert!(
            parse_deny_cidrs("").unwrap().is_empty(),
            "an empty list denies nothing extra"
        );
        assert!(matches!(
            "docker".parse::<ExecutorChoice>(),
            Err(ConfigError::BadExecutor(_))
        ));
        assert!(matches!(
            "host".parse::<StagingNetwork>(),
            Err(ConfigError::BadNetwork(_))
        ));
        assert!(matches!(
            parse_deny_cidrs("10.0.0.0/8,10.0.0.300/32"),
            Err(ConfigError::BadDenyCidr(bad)) if bad == "10.0.0.300/32"
        ));
    }
}
