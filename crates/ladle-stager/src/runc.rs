//! Running the builder in a runc container.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::log::LogSink;
use crate::runc_cgroup::remove_staging_cgroups;
use crate::supervise::{supervise, DiskWatch, Supervised};

/// Parent of every staging cgroup (`/sys/fs/cgroup/<controller>/ladle/<id>` on cgroup v1).
pub(crate) const CGROUP_PARENT: &str = "ladle";
pub(crate) const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// runc's state folder for root (its default `--root`): a container it still knows has a
/// folder here.
const RUNC_STATE_ROOT: &str = "/run/runc";

/// A staging's container. Dropping it (a cancelled staging) kills and deletes the container,
/// synchronously: it must not outlive the staging. On the normal path `finish` runs instead, on
/// a blocking thread.
pub(crate) struct ContainerGuard {
    runc: PathBuf,
    id: String,
    armed: bool,
}

impl ContainerGuard {
    pub(crate) fn new(runc: &Path, id: &str) -> ContainerGuard {
        ContainerGuard {
            runc: runc.to_path_buf(),
            id: id.to_string(),
            armed: true,
        }
    }

    /// Once `runc run` has exited by itself the container and its cgroup are gone (runc
    /// removes them as it exits); only a container runc still knows is deleted here. Blocking.
    pub(crate) fn finish(mut self) {
        self.armed = false;
        if Path::new(RUNC_STATE_ROOT).join(&self.id).exists() {
            force_delete(&self.runc, &self.id);
        }
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        if self.armed {
            force_delete(&self.runc, &self.id);
        }
    }
}

/// `runc run` without `--keep`: when the builder exits, runc removes the container, its state
/// and its cgroup before it exits itself, so one runc process serves the whole staging. What the
/// limits did stays readable in the staging's parent cgroup (`runc_cgroup`).
pub(crate) async fn run_container(
    runc: &Path,
    id: &str,
    bundle: &Path,
    timeout: Duration,
    watch: &mut DiskWatch,
    sink: &dyn LogSink,
) -> std::io::Result<Supervised> {
    let mut child = tokio::process::Command::new(runc)
        .arg("run")
        .arg("--bundle")
        .arg(bundle)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Cancellation: the runc client dies first, then the guard deletes the container.
        .kill_on_drop(true)
        .spawn()?;
    supervise(&mut child, timeout, watch, sink, || {
        kill_container(runc, id)
    })
    .await
}

/// SIGKILL to the container's init; the pid namespace takes every other process with it.
async fn kill_container(runc: &Path, id: &str) {
    let status = tokio::process::Command::new(runc)
        .args(["kill", id, "KILL"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    if !matches!(status, Ok(s) if s.success()) {
        tracing::warn!(
            container = id,
            "runc kill failed; the container may have exited already"
        );
    }
}

/// Deletes the container and its staging cgroups (crash cleanup). Blocking.
pub(crate) fn delete_container(runc: &Path, id: &str) {
    force_delete(runc, id);
    remove_staging_cgroups(id);
}

/// `runc delete --force`: kills whatever still runs in the container, then deletes it.
fn force_delete(runc: &Path, id: &str) {
    let output = Command::new(runc)
        .args(["delete", "--force", id])
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !stderr.contains("does not exist") {
                tracing::warn!(container = id, stderr = %stderr.trim(), "runc delete failed");
            }
        }
        Err(e) => tracing::warn!(container = id, error = %e, "could not run runc delete"),
    }
}

/// Every cgroup folder of the staging `id`, on cgroup v1 or v2.
pub(crate) fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    if is_unified() {
        return vec![Path::new(CGROUP_ROOT).join(CGROUP_PARENT).join(id)];
    }
    let Ok(controllers) = fs::read_dir(CGROUP_ROOT) else {
        return Vec::new();
    };
    controllers
        .flatten()
        .map(|c| c.path().join(CGROUP_PARENT).join(id))
        .filter(|p| p.exists())
        .collect()
}

pub(crate) fn is_unified() -> bool {
    Path::new(CGROUP_ROOT).join("cgroup.controllers").exists()
}

/// Whether runc can enforce our limits here: cgroup memory and pids controllers writable.
pub(crate) fn cgroups_usable() -> Result<(), String> {
    let root = Path::new(CGROUP_ROOT);
    if is_unified() {
        let controllers = fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
        if !(has("memory") && has("pids")) {
            return Err("cgroup v2 lacks the memory or pids controller".into());
        }
        return writable(root);
    }
    for controller in ["memory", "pids"] {
        let dir = root.join(controller);
        if !dir.is_dir() {
            return Err(format!("cgroup v1 {controller} controller is not mounted"));
        }
        writable(&dir)?;
    }
    Ok(())
}

fn writable(dir: &Path) -> Result<(), String> {
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK)
        .map_err(|e| format!("{} is not writable: {e}", dir.display()))
}

/// Container ids in runc's default state folder (`runc list -q`).
/// `runc list` can fail as a whole when one container's state changes under it (another
/// stager on the host creating or deleting one), so a failure is retried before giving up.
pub(crate) fn list_containers(runc: &Path) -> Vec<String> {
    let mut failure = String::new();
    for attempt in 0..3 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
        match Command::new(runc)
            .args(["list", "-q"])
            .stdin(Stdio::null())
            .output()
        {
            Ok(out) if out.status.success() => {
                return String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(str::to_string)
                    .filter(|l| !l.is_empty())
                    .collect()
            }
            Ok(out) => failure = String::from_utf8_lossy(&out.stderr).trim().to_string(),
            Err(e) => failure = e.to_string(),
        }
    }
    tracing::warn!(error = %failure, "runc list failed; leftover containers are not reaped");
    Vec::new()
}
