//! Running the builder in a runc container and reading what the kernel recorded about it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::log::LogSink;
use crate::supervise::{supervise, DiskWatch, Supervised};

/// Parent of every staging cgroup (`/sys/fs/cgroup/<controller>/ladle/<id>` on cgroup v1).
pub(crate) const CGROUP_PARENT: &str = "ladle";
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

pub(crate) struct ContainerRun {
    pub run: Supervised,
    pub oom_killed: bool,
    pub pids_exhausted: bool,
}

pub(crate) fn cgroups_path(id: &str) -> String {
    format!("/{CGROUP_PARENT}/{id}")
}

/// Deletes the container (killing whatever still runs) when dropped: a cancelled staging
/// must not leave a container, its cgroups or its state behind.
struct ContainerGuard<'a> {
    runc: &'a Path,
    id: &'a str,
}

impl Drop for ContainerGuard<'_> {
    fn drop(&mut self) {
        delete_container(self.runc, self.id);
    }
}

/// `runc run --keep` keeps the stopped container, and with it its cgroups, until we have read
/// the OOM and pids counters; then the guard deletes it.
pub(crate) async fn run_container(
    runc: &Path,
    id: &str,
    bundle: &Path,
    timeout: Duration,
    watch: &mut DiskWatch<'_>,
    sink: &dyn LogSink,
) -> std::io::Result<ContainerRun> {
    let _guard = ContainerGuard { runc, id };
    let mut child = tokio::process::Command::new(runc)
        .arg("run")
        .arg("--keep")
        .arg("--bundle")
        .arg(bundle)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Cancellation: the runc client dies first, then the guard deletes the container.
        .kill_on_drop(true)
        .spawn()?;
    let run = supervise(&mut child, timeout, watch, sink, || {
        kill_container(runc, id)
    })
    .await?;
    Ok(ContainerRun {
        run,
        oom_killed: oom_kills(id) > 0,
        pids_exhausted: pids_refusals(id) > 0,
    })
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

/// Synchronous on purpose: it also runs from `Drop`.
pub(crate) fn delete_container(runc: &Path, id: &str) {
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
    remove_cgroups(id);
}

/// runc removes the cgroups itself; this catches a container that died half-created.
pub(crate) fn remove_cgroups(id: &str) {
    for dir in cgroup_dirs(id) {
        for _ in 0..10 {
            match fs::remove_dir(&dir) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => break,
            }
        }
    }
}

/// Every cgroup folder a container with this id may have, on cgroup v1 or v2.
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

fn is_unified() -> bool {
    Path::new(CGROUP_ROOT).join("cgroup.controllers").exists()
}

fn controller_file(id: &str, controller: &str, file: &str) -> PathBuf {
    let root = Path::new(CGROUP_ROOT);
    let base = if is_unified() {
        root.to_path_buf()
    } else {
        root.join(controller)
    };
    base.join(CGROUP_PARENT).join(id).join(file)
}

/// Processes the kernel killed for exceeding the memory limit.
fn oom_kills(id: &str) -> u64 {
    let file = if is_unified() {
        "memory.events"
    } else {
        "memory.oom_control"
    };
    read_counter(&controller_file(id, "memory", file), "oom_kill")
}

/// Forks refused because the pids limit was reached.
fn pids_refusals(id: &str) -> u64 {
    read_counter(&controller_file(id, "pids", "pids.events"), "max")
}

/// Reads `name N` from a cgroup key-value file; 0 when missing.
fn read_counter(path: &Path, name: &str) -> u64 {
    let Ok(text) = fs::read_to_string(path) else {
        tracing::debug!(path = %path.display(), "cgroup counter not readable");
        return 0;
    };
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
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
