//! `<work_root>/.node/<pid>-<n>/`: what one stager keeps from staging to staging (`pool/`, the
//! fresh filesystems; `buildpacks/`, the unpacked admin buildpacks). It belongs to one stager
//! of one process and goes with it; the folders of processes that are gone (a crash) are
//! removed when the next stager starts. Only the buildpack cache's filesystem is mounted in it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::reap::mounts_under;
use crate::workspace::unmount;

/// The folder under the work root that holds each stager's own.
pub const NODE_DIR: &str = ".node";

pub(crate) struct NodeDir {
    path: PathBuf,
}

impl NodeDir {
    /// Creates this stager's folder (`instance` tells the stagers of one process apart) with
    /// empty `pool/` and `buildpacks/`, after removing those of other processes.
    pub(crate) fn create(work_root: &Path, instance: u64) -> io::Result<NodeDir> {
        let base = work_root.join(NODE_DIR);
        fs::create_dir_all(&base)?;
        let pid = std::process::id().to_string();
        for entry in fs::read_dir(&base)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.split('-').next() != Some(pid.as_str()) {
                // A crashed stager's buildpack cache may still be mounted; never delete
                // through it.
                let unmounted = mounts_under(&entry.path())
                    .and_then(|mounts| mounts.iter().try_for_each(|m| unmount(m)));
                if let Err(e) = unmounted.and_then(|()| fs::remove_dir_all(entry.path())) {
                    tracing::warn!(dir = %entry.path().display(), error = %e, "cannot remove what an earlier stager kept");
                }
            }
        }
        let path = base.join(format!("{pid}-{instance}"));
        // Left by an earlier process with the same pid: nothing in it is trusted.
        if path.exists() {
            fs::remove_dir_all(&path)?;
        }
        fs::create_dir(&path)?;
        let node = NodeDir { path };
        fs::create_dir(node.pool())?;
        fs::create_dir(node.buildpacks())?;
        Ok(node)
    }

    pub(crate) fn pool(&self) -> PathBuf {
        self.path.join("pool")
    }

    /// Where the buildpack cache's filesystem is mounted.
    pub(crate) fn buildpacks(&self) -> PathBuf {
        self.path.join("buildpacks")
    }

    /// The buildpack cache's filesystem image.
    pub(crate) fn buildpacks_image(&self) -> PathBuf {
        self.path.join("buildpacks.img")
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for NodeDir {
    fn drop(&mut self) {
        // Never delete through a mount that did not go (the buildpack cache's, still busy).
        if mounts_under(&self.path).map_or(true, |m| !m.is_empty()) {
            tracing::warn!(dir = %self.path.display(), "something is still mounted in the stager's own folder; leaving it for the next start");
            return;
        }
        if let Err(e) = fs::remove_dir_all(&self.path) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(dir = %self.path.display(), error = %e, "cannot remove the stager's own folder");
            }
        }
    }
}
