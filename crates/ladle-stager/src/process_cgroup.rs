//! A cgroup v2 of its own for each staging of the process executor: the builder joins it
//! before it execs, every process it starts stays in it (a `setsid` or double-forked daemon
//! included), and `cgroup.kill` ends all of them at once when the staging ends.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Parent folder of every process-executor staging cgroup, beside runc's (`/ladle/<id>`).
const PARENT: &str = "ladle";

/// Where this host's cgroup v2 hierarchy is mounted (`/sys/fs/cgroup`, or
/// `/sys/fs/cgroup/unified` on a hybrid cgroup v1 host), with our parent folder in it.
#[derive(Debug, Clone)]
pub(crate) struct CgroupRoot {
    parent: PathBuf,
}

impl CgroupRoot {
    /// Finds the cgroup v2 mount and creates our parent folder; the reason when it cannot.
    pub(crate) fn find() -> Result<CgroupRoot, String> {
        let info = fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
        let mount = cgroup2_mount(&info).ok_or("no cgroup v2 hierarchy is mounted")?;
        if !mount.join("cgroup.kill").exists() && !mount.join("cgroup.procs").exists() {
            return Err(format!("{} is not a cgroup v2 hierarchy", mount.display()));
        }
        let parent = mount.join(PARENT);
        fs::create_dir_all(&parent)
            .map_err(|e| format!("cannot create the cgroup {}: {e}", parent.display()))?;
        Ok(CgroupRoot { parent })
    }

    /// A fresh cgroup for the staging `id`, opened for the builder to join.
    pub(crate) fn create(&self, id: &str) -> io::Result<StagingCgroup> {
        let dir = self.parent.join(id);
        fs::create_dir(&dir)?;
        // From here on, dropping the value removes the folder again.
        let mut cgroup = StagingCgroup { dir, procs: None };
        cgroup.procs = Some(
            fs::OpenOptions::new()
                .write(true)
                .open(cgroup.dir.join("cgroup.procs"))?,
        );
        Ok(cgroup)
    }

    /// Kills and removes the cgroups of stagings whose id starts with `prefix` (a crashed
    /// server's). Returns their folders.
    pub(crate) fn reap(&self, prefix: &str) -> Vec<PathBuf> {
        let Ok(children) = fs::read_dir(&self.parent) else {
            return Vec::new();
        };
        let mut reaped = Vec::new();
        for child in children.flatten() {
            if child.file_name().to_string_lossy().starts_with(prefix) {
                let cgroup = StagingCgroup {
                    dir: child.path(),
                    procs: None,
                };
                reaped.push(cgroup.dir.clone());
                drop(cgroup);
            }
        }
        reaped
    }
}

/// One staging's cgroup. Dropping it kills whatever still runs in it and removes it.
pub(crate) struct StagingCgroup {
    dir: PathBuf,
    /// `cgroup.procs`, opened by us: the builder writes its own pid here between fork and
    /// exec. The kernel checks the opener's credentials, so the write still works after the
    /// builder has switched to the staging user.
    procs: Option<fs::File>,
}

impl StagingCgroup {
    pub(crate) fn procs_fd(&self) -> Option<RawFd> {
        self.procs.as_ref().map(|f| f.as_raw_fd())
    }

    /// The cgroup's folder, for `kill_all` on another thread.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// SIGKILL to every process in the cgroup at `dir`, then waits (up to two seconds) until it is
/// empty. Blocking.
pub(crate) fn kill_all(dir: &Path) {
    if fs::write(dir.join("cgroup.kill"), "1").is_err() {
        // Before Linux 5.14: kill what is listed until nothing is (a fork racing us is
        // listed on the next round).
        for _ in 0..100 {
            let pids = pids(dir);
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while !pids(dir).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn pids(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

impl Drop for StagingCgroup {
    fn drop(&mut self) {
        self.procs.take();
        kill_all(&self.dir);
        for _ in 0..50 {
            match fs::remove_dir(&self.dir) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    tracing::warn!(cgroup = %self.dir.display(), error = %e, "could not remove a staging cgroup");
                    return;
                }
                _ => return,
            }
        }
        tracing::warn!(cgroup = %self.dir.display(), "a staging cgroup stayed busy");
    }
}

/// The mount point of the cgroup v2 hierarchy in `/proc/self/mountinfo` text, preferring
/// `/sys/fs/cgroup` itself.
fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    let mut mounts: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|line| {
            let (fields, after) = line.split_once(" - ")?;
            let fstype = after.split(' ').next()?;
            let mount_point = fields.split(' ').nth(4)?;
            (fstype == "cgroup2").then(|| PathBuf::from(mount_point))
        })
        .collect();
    mounts.sort_by_key(|m| m != Path::new("/sys/fs/cgroup"));
    mounts.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cgroup2_mount_on_hybrid_and_unified_hosts() {
        let hybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                      39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n\
                      41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let unified = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            cgroup2_mount(unified),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        assert_eq!(
            cgroup2_mount("39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"),
            None
        );
    }
}
