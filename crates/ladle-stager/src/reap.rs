//! Start-up cleanup after a crash: whatever a previous process of this stager left behind.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::runc;
use crate::stager::Stager;
use crate::workspace::{unmount, wait_for_loop_detach};

/// What `reap_leftovers` removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReapReport {
    pub containers: Vec<String>,
    pub mounts: Vec<PathBuf>,
    pub loop_devices: Vec<String>,
    pub workspaces: Vec<PathBuf>,
}

impl ReapReport {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty()
            && self.mounts.is_empty()
            && self.loop_devices.is_empty()
            && self.workspaces.is_empty()
    }
}

impl Stager {
    /// Removes containers named with this stager's prefix, their cgroups, mounts and loop
    /// devices under the work root, and old workspaces. Call it before the first staging; it
    /// must not run while stagings of this work root are in progress.
    pub fn reap_leftovers(&self) -> std::io::Result<ReapReport> {
        let mut report = ReapReport::default();
        if let Some(runc_path) = &self.runc {
            for id in runc::list_containers(runc_path)
                .into_iter()
                .filter(|id| id.starts_with(&self.id_prefix))
            {
                runc::delete_container(runc_path, &id);
                report.containers.push(id);
            }
        }
        if let Some(side) = &self.process_side {
            // Processes a crashed process-executor staging left behind, daemons included.
            side.cgroups.reap(&self.id_prefix);
        }
        self.remove_stale_cgroups();
        let work_root = &self.config.work_root;
        let exec_root = self.process_side.as_ref().map(|side| &side.exec_root);
        // This stager's own folder (its buildpack cache is mounted there) is no leftover.
        let own = self.node_dir.path();
        let mut mounts: Vec<PathBuf> = mounts_under(work_root)?
            .into_iter()
            .filter(|mount| !mount.starts_with(own))
            .collect();
        if let Some(exec_root) = exec_root {
            mounts.extend(mounts_under(exec_root)?);
        }
        for mount in mounts {
            unmount(&mount)?;
            report.mounts.push(mount);
        }
        for device in loops_backed_under(work_root, own) {
            if Command::new("losetup")
                .arg("-d")
                .arg(&device)
                .stdin(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
            {
                report.loop_devices.push(device);
            }
        }
        // So that nothing of the work root is attached when this returns.
        wait_for_loop_detach(|| !loops_backed_under(work_root, own).is_empty());
        for entry in fs::read_dir(work_root)?.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(&self.id_prefix)
            {
                fs::remove_dir_all(entry.path())?;
                report.workspaces.push(entry.path());
            }
        }
        if let Some(exec_root) = exec_root {
            for entry in fs::read_dir(exec_root)?.flatten() {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with(&self.id_prefix)
                {
                    fs::remove_dir_all(entry.path())?;
                }
            }
        }
        if !report.is_empty() {
            tracing::warn!(?report, "removed leftovers of earlier stagings");
        }
        Ok(report)
    }

    fn remove_stale_cgroups(&self) {
        let parents: Vec<PathBuf> = match fs::read_dir("/sys/fs/cgroup") {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.path().join(runc::CGROUP_PARENT))
                .chain([Path::new("/sys/fs/cgroup").join(runc::CGROUP_PARENT)])
                .collect(),
            Err(_) => return,
        };
        for parent in parents {
            let Ok(children) = fs::read_dir(&parent) else {
                continue;
            };
            for child in children.flatten() {
                let name = child.file_name().to_string_lossy().into_owned();
                if name.starts_with(&self.id_prefix) {
                    crate::runc_cgroup::remove_staging_cgroups(&name);
                }
            }
        }
    }
}

/// Mount points at or below `root`, deepest first, from /proc/self/mountinfo.
pub(crate) fn mounts_under(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let info = fs::read_to_string("/proc/self/mountinfo")?;
    let mut mounts: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mountinfo(field)))
        .filter(|path| path.starts_with(root) && path != root)
        .collect();
    mounts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    mounts.dedup();
    Ok(mounts)
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value = bytes[i + 1..i + 4]
                .iter()
                .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
            out.push(value as u8);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Loop devices whose backing file lies under `root` but not under `except` (from sysfs, no
/// tool needed).
fn loops_backed_under(root: &Path, except: &Path) -> Vec<String> {
    let Ok(devices) = fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    devices
        .flatten()
        .filter(|d| d.file_name().to_string_lossy().starts_with("loop"))
        .filter_map(|d| {
            let backing = fs::read_to_string(d.path().join("loop/backing_file")).ok()?;
            let backing = backing.trim().trim_end_matches(" (deleted)");
            let backing = Path::new(backing);
            (backing.starts_with(root) && !backing.starts_with(except))
                .then(|| format!("/dev/{}", d.file_name().to_string_lossy()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo(r"/data/my\040dir/ws"), "/data/my dir/ws");
        assert_eq!(unescape_mountinfo(r"/plain"), "/plain");
    }
}
