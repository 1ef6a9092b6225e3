//! Stager settings and how the executor is picked.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which executor the operator asked for (`LADLE_STAGER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorChoice {
    Runc,
    Process,
    /// runc when it is usable (on PATH, running as root, cgroups mounted), else a plain process.
    Auto,
}

/// Whether the staging container shares the host's network (`LADLE_STAGING_NETWORK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StagingNetwork {
    /// Buildpacks may download dependencies, as on Cloud Foundry.
    Host,
    /// A fresh network namespace with nothing in it (runc only).
    Off,
}

#[derive(Debug, Clone)]
pub struct StagerConfig {
    pub executor: ExecutorChoice,
    /// The `ladle-builder` binary on the host.
    pub builder_path: PathBuf,
    /// Staging workspaces live under here, one folder per run (e.g. `<data-dir>/staging`).
    pub work_root: PathBuf,
    pub network: StagingNetwork,
    /// Most processes and threads a staging may have at once (runc: pids cgroup).
    pub pids_limit: u64,
    /// RLIMIT_NOFILE inside the staging, Cloud Foundry's `staging_file_descriptor_limit`.
    pub nofile: u64,
    /// Wall-clock limit; the whole container is killed when it runs out.
    pub timeout: Duration,
    /// `None` = look `runc` up on PATH.
    pub runc_path: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("LADLE_STAGER must be runc, process or auto, not {0:?}")]
    BadExecutor(String),
    #[error("LADLE_STAGING_NETWORK must be on or off, not {0:?}")]
    BadNetwork(String),
}

impl StagerConfig {
    /// Cloud Foundry's defaults: 1024 processes, 16384 files, 900 s, host network, auto executor.
    pub fn new(builder_path: impl Into<PathBuf>, work_root: impl Into<PathBuf>) -> Self {
        StagerConfig {
            executor: ExecutorChoice::Auto,
            builder_path: builder_path.into(),
            work_root: work_root.into(),
            network: StagingNetwork::Host,
            pids_limit: 1024,
            nofile: 16384,
            timeout: Duration::from_secs(900),
            runc_path: None,
        }
    }

    /// Applies `LADLE_STAGER` and `LADLE_STAGING_NETWORK` from the process environment.
    pub fn with_env_overrides(self) -> Result<Self, ConfigError> {
        self.with_overrides(
            std::env::var("LADLE_STAGER").ok().as_deref(),
            std::env::var("LADLE_STAGING_NETWORK").ok().as_deref(),
        )
    }

    fn with_overrides(
        mut self,
        stager: Option<&str>,
        network: Option<&str>,
    ) -> Result<Self, ConfigError> {
        if let Some(value) = stager.filter(|v| !v.is_empty()) {
            self.executor = match value.to_ascii_lowercase().as_str() {
                "runc" => ExecutorChoice::Runc,
                "process" => ExecutorChoice::Process,
                "auto" => ExecutorChoice::Auto,
                _ => return Err(ConfigError::BadExecutor(value.to_string())),
            };
        }
        if let Some(value) = network.filter(|v| !v.is_empty()) {
            self.network = match value.to_ascii_lowercase().as_str() {
                "on" | "host" | "true" | "1" => StagingNetwork::Host,
                "off" | "none" | "false" | "0" => StagingNetwork::Off,
                _ => return Err(ConfigError::BadNetwork(value.to_string())),
            };
        }
        Ok(self)
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
    fn env_overrides_parse_and_refuse_nonsense() {
        let base = StagerConfig::new("/b", "/w");
        let cfg = base
            .clone()
            .with_overrides(Some("PROCESS"), Some("off"))
            .unwrap();
        assert_eq!(cfg.executor, ExecutorChoice::Process);
        assert_eq!(cfg.network, StagingNetwork::Off);
        let cfg = base.clone().with_overrides(None, None).unwrap();
        assert_eq!(cfg.executor, ExecutorChoice::Auto);
        assert_eq!(cfg.network, StagingNetwork::Host);
        assert!(matches!(
            base.clone().with_overrides(Some("docker"), None),
            Err(ConfigError::BadExecutor(_))
        ));
        assert!(matches!(
            base.with_overrides(None, Some("maybe")),
            Err(ConfigError::BadNetwork(_))
        ));
    }
}
