//! The cgroup ladle owns for each runc staging: `/ladle/<id>`, with the container's own cgroup
//! one level below it (`/ladle/<id>/container`).
//!
//! The parent carries the memory and pids limits and outlives the container, so `runc run`
//! can remove the container and its cgroup as it exits (one runc invocation per staging, no
//! `--keep` and `runc delete`), and what the kernel recorded about the limits is still there to
//! read:
//! - cgroup v2: the parent's `memory.events` (`oom_kill`) and `pids.events` (`max`), which the
//!   kernel counts for the whole subtree;
//! - cgroup v1, whose event counters are local to the cgroup a task is in: an eventfd
//!   registered on the parent's `memory.oom_control` (the kernel signals it when the parent,
//!   the cgroup that carries the limit, runs out of memory), and the parent's `pids.peak`
//!   reaching the limit (a fork is refused only when every process slot is taken).

use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::eventfd::{EfdFlags, EventFd};

use crate::runc::{cgroup_dirs, is_unified, CGROUP_PARENT, CGROUP_ROOT};

/// The container's cgroup below the staging's own.
const CONTAINER_CGROUP: &str = "container";

/// The container's `cgroupsPath` for the staging `id`.
pub(crate) fn container_cgroups_path(id: &str) -> String {
    format!("/{CGROUP_PARENT}/{id}/{CONTAINER_CGROUP}")
}

/// What the kernel recorded about the staging's limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LimitsHit {
    pub oom_killed: bool,
    pub pids_exhausted: bool,
}

/// A staging's parent cgroup. Dropping it removes it (and a container cgroup a killed runc
/// left below it) in every hierarchy.
pub(crate) struct RuncCgroup {
    id: String,
    pids_limit: u64,
    /// cgroup v1: signalled when the parent runs out of memory.
    oom_event: Option<EventFd>,
}

impl RuncCgroup {
    /// Creates `/ladle/<id>` with the staging's memory (no swap on top) and pids limits.
    pub(crate) fn create(id: &str, memory_bytes: u64, pids_limit: u64) -> io::Result<Self> {
        let mut cgroup = RuncCgroup {
            id: id.to_string(),
            pids_limit,
            oom_event: None,
        };
        if is_unified() {
            cgroup.create_v2(memory_bytes)?;
        } else {
            cgroup.create_v1(memory_bytes)?;
        }
        Ok(cgroup)
    }

    fn create_v2(&mut self, memory_bytes: u64) -> io::Result<()> {
        let root = Path::new(CGROUP_ROOT);
        let parent = root.join(CGROUP_PARENT);
        fs::create_dir_all(&parent)?;
        // Controllers reach a cgroup only when every ancestor hands them down.
        enable_controllers(root)?;
        enable_controllers(&parent)?;
        let dir = parent.join(&self.id);
        fs::create_dir(&dir)?;
        fs::write(dir.join("memory.max"), memory_bytes.to_string())?;
        if dir.join("memory.swap.max").exists() {
            fs::write(dir.join("memory.swap.max"), "0")?;
        }
        fs::write(dir.join("pids.max"), self.pids_limit.to_string())?;
        enable_controllers(&dir)
    }

    fn create_v1(&mut self, memory_bytes: u64) -> io::Result<()> {
        let root = Path::new(CGROUP_ROOT);
        let memory = root.join("memory").join(CGROUP_PARENT).join(&self.id);
        let pids = root.join("pids").join(CGROUP_PARENT).join(&self.id);
        fs::create_dir_all(&memory)?;
        fs::create_dir_all(&pids)?;
        fs::write(
            memory.join("memory.limit_in_bytes"),
            memory_bytes.to_string(),
        )?;
        // memsw is memory plus swap: equal to the limit, no swap on top (absent without swap
        // accounting).
        let memsw = memory.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            fs::write(memsw, memory_bytes.to_string())?;
        }
        fs::write(pids.join("pids.max"), self.pids_limit.to_string())?;
        let event =
            EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        let control = fs::File::open(memory.join("memory.oom_control"))?;
        fs::write(
            memory.join("cgroup.event_control"),
            format!("{} {}", event.as_raw_fd(), control.as_raw_fd()),
        )?;
        // The kernel holds its own reference to the control file from here on.
        self.oom_event = Some(event);
        Ok(())
    }

    /// Reads what the limits did; call it once the container has exited and before the
    /// cgroup is removed.
    pub(crate) fn limits_hit(&self) -> LimitsHit {
        let root = Path::new(CGROUP_ROOT);
        if is_unified() {
            let dir = root.join(CGROUP_PARENT).join(&self.id);
            return LimitsHit {
                oom_killed: read_counter(&dir.join("memory.events"), "oom_kill") > 0,
                pids_exhausted: read_counter(&dir.join("pids.events"), "max") > 0
                    || self.peak_reached(&dir),
            };
        }
        let oom_killed = self
            .oom_event
            .as_ref()
            // Non-blocking: an error (EAGAIN) means the counter is still 0.
            .is_some_and(|event| event.read().is_ok_and(|count| count > 0));
        let pids_dir = root.join("pids").join(CGROUP_PARENT).join(&self.id);
        LimitsHit {
            oom_killed,
            pids_exhausted: self.peak_reached(&pids_dir),
        }
    }

    /// `pids.peak` (Linux 6.11 and later) at the limit: every slot was taken at some point.
    fn peak_reached(&self, dir: &Path) -> bool {
        fs::read_to_string(dir.join("pids.peak"))
            .ok()
            .and_then(|peak| peak.trim().parse::<u64>().ok())
            .is_some_and(|peak| peak >= self.pids_limit)
    }
}

impl Drop for RuncCgroup {
    fn drop(&mut self) {
        remove_staging_cgroups(&self.id);
    }
}

/// Removes `/ladle/<id>` and the container cgroup below it in every hierarchy (runc creates
/// the parent in the controllers ladle does not set limits in). runc removes the container
/// cgroup itself when it exits normally; this also catches one a killed runc left.
pub(crate) fn remove_staging_cgroups(id: &str) {
    for dir in cgroup_dirs(id) {
        remove_cgroup_dir(&dir.join(CONTAINER_CGROUP));
        remove_cgroup_dir(&dir);
    }
}

/// rmdir, retried briefly while the last processes of a killed container exit.
fn remove_cgroup_dir(dir: &PathBuf) {
    for _ in 0..10 {
        match fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                tracing::warn!(cgroup = %dir.display(), error = %e, "could not remove a staging cgroup");
                return;
            }
            _ => return,
        }
    }
    tracing::warn!(cgroup = %dir.display(), "a staging cgroup stayed busy");
}

/// Hands the memory and pids controllers down to the children of `dir` (cgroup v2).
fn enable_controllers(dir: &Path) -> io::Result<()> {
    let control = dir.join("cgroup.subtree_control");
    let enabled = fs::read_to_string(&control)?;
    let has = |c: &str| enabled.split_whitespace().any(|x| x == c);
    if has("memory") && has("pids") {
        return Ok(());
    }
    fs::write(control, "+memory +pids")
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
