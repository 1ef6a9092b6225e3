//! Admin buildpacks extracted once per version: each zip is unpacked into a folder named by
//! the sha256 of its bytes, and bound read-only into each runc staging that uses it (as Diego
//! binds its cached dependencies). The files belong to the staging user, as they did when
//! unpacked into each workspace, but with no write bit and nothing for group or others: on the
//! host they are as closed as the rest of the data dir, in the container the read-only mount
//! refuses any change (a chmod included). New zip bits
//! are a new folder, so an admin's update is used by the very next staging.
//!
//! A folder appears whole or not at all: it is unpacked under a temporary name and renamed.
//! Two stagings that want the same new version at once may both unpack it; the second rename
//! loses and its copy is deleted.
//!
//! The folders live on an ext4 image of the cache's own, loop-mounted: a bind's source is then
//! a folder at the root of that filesystem, and the container's mountinfo names no host path.
//!
//! Pruning: when a staging takes a buildpack, folders no staging holds are removed once unused
//! for `IDLE_TTL`, and the least recently used of them while all together exceed `MAX_BYTES`.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ladle_archive::Limits;
use sha2::{Digest, Sha256};

use crate::unpack::{self, ArchiveError};
use crate::workspace::{format_image, ignore_not_found, run_tool, unmount};

const IDLE_TTL: Duration = Duration::from_secs(60 * 60);
const MAX_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// The cache's filesystem (sparse): room for `MAX_BYTES` and one buildpack of the upload
/// limit's size beyond it.
const IMAGE_MB: u64 = 16 * 1024;

pub(crate) struct BuildpackCache {
    /// The mounted cache filesystem.
    dir: PathBuf,
    entries: Mutex<HashMap<String, Entry>>,
    idle_ttl: Duration,
    max_bytes: u64,
}

struct Entry {
    /// Stagings holding it now.
    users: usize,
    last_used: Instant,
    /// Bytes of its files (known once unpacked).
    bytes: u64,
}

/// A cached buildpack a staging holds: its folder is not pruned until the lease is dropped.
pub(crate) struct BuildpackLease {
    cache: Arc<BuildpackCache>,
    digest: String,
    path: PathBuf,
}

impl BuildpackLease {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for BuildpackLease {
    fn drop(&mut self) {
        let mut entries = self.cache.lock();
        if let Some(entry) = entries.get_mut(&self.digest) {
            entry.users = entry.users.saturating_sub(1);
            entry.last_used = Instant::now();
        }
    }
}

impl BuildpackCache {
    /// Formats `image` and mounts it on `dir` (an empty folder, root's alone) for the cache.
    pub(crate) fn new(image: &Path, dir: PathBuf) -> io::Result<BuildpackCache> {
        format_image(image, IMAGE_MB)?;
        run_tool(
            Command::new("mount")
                .args(["-t", "ext4", "-o", "loop,nosuid,nodev,noinit_itable"])
                .arg(image)
                .arg(&dir),
        )?;
        let cache = BuildpackCache {
            dir,
            entries: Mutex::new(HashMap::new()),
            idle_ttl: IDLE_TTL,
            max_bytes: MAX_BYTES,
        };
        fs::remove_dir(cache.dir.join("lost+found")).or_else(ignore_not_found)?;
        fs::set_permissions(&cache.dir, fs::Permissions::from_mode(0o700))?;
        Ok(cache)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The unpacked folder of `zip`, unpacking it first if this version is new. Blocks.
    pub(crate) fn acquire(
        self: &Arc<Self>,
        zip: &Path,
        limits: &Limits,
        owner: (u32, u32),
    ) -> Result<BuildpackLease, ArchiveError> {
        let digest = sha256_of(zip)?;
        let path = self.dir.join(&digest);
        {
            let mut entries = self.lock();
            let entry = entries.entry(digest.clone()).or_insert(Entry {
                users: 0,
                last_used: Instant::now(),
                bytes: 0,
            });
            entry.users += 1;
            entry.last_used = Instant::now();
        }
        // From here on the lease releases the hold, whatever happens.
        let lease = BuildpackLease {
            cache: self.clone(),
            digest: digest.clone(),
            path: path.clone(),
        };
        if !path.is_dir() {
            let bytes = self.unpack(zip, &digest, limits, owner)?;
            if let Some(entry) = self.lock().get_mut(&digest) {
                entry.bytes = bytes;
            }
        }
        self.prune();
        Ok(lease)
    }

    fn unpack(
        &self,
        zip: &Path,
        digest: &str,
        limits: &Limits,
        owner: (u32, u32),
    ) -> Result<u64, ArchiveError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let partial = self.dir.join(format!(".partial-{digest}-{n}"));
        let unpacked = (|| {
            fs::create_dir(&partial)?;
            unpack::extract_zip(zip, &partial, Some(owner), limits)?;
            let bytes = make_read_only(&partial)?;
            std::os::unix::fs::chown(&partial, Some(owner.0), Some(owner.1))?;
            fs::set_permissions(&partial, fs::Permissions::from_mode(0o500))?;
            Ok::<u64, ArchiveError>(bytes)
        })();
        let bytes = match unpacked {
            Ok(bytes) => bytes,
            Err(e) => {
                let _ = fs::remove_dir_all(&partial);
                return Err(e);
            }
        };
        let started = Instant::now();
        if let Err(e) = fs::rename(&partial, self.dir.join(digest)) {
            // Another staging renamed the same version into place first.
            let _ = fs::remove_dir_all(&partial);
            if !self.dir.join(digest).is_dir() {
                return Err(e.into());
            }
        }
        tracing::debug!(
            digest,
            bytes,
            rename_ms = started.elapsed().as_secs_f64() * 1000.0,
            "admin buildpack unpacked into the cache"
        );
        Ok(bytes)
    }

    /// Removes folders no staging holds that were unused for `IDLE_TTL`, then the least
    /// recently used of those while the cache exceeds `MAX_BYTES`.
    fn prune(&self) {
        let doomed: Vec<PathBuf> = {
            let mut entries = self.lock();
            let mut idle: Vec<(String, Instant, u64)> = entries
                .iter()
                .filter(|(_, e)| e.users == 0)
                .map(|(digest, e)| (digest.clone(), e.last_used, e.bytes))
                .collect();
            idle.sort_by_key(|(_, last_used, _)| *last_used);
            let mut total: u64 = entries.values().map(|e| e.bytes).sum();
            let mut doomed = Vec::new();
            for (digest, last_used, bytes) in idle {
                if last_used.elapsed() < self.idle_ttl && total <= self.max_bytes {
                    continue;
                }
                // Renamed away while the lock is held, so that a staging acquiring the same
                // version next finds no folder and unpacks it anew, never one half deleted.
                let gone = self.dir.join(format!(".pruned-{digest}"));
                if fs::rename(self.dir.join(&digest), &gone).is_ok() {
                    doomed.push(gone);
                }
                total -= bytes;
                entries.remove(&digest);
                tracing::debug!(digest, "admin buildpack pruned from the cache");
            }
            doomed
        };
        for gone in doomed {
            let _ = fs::remove_dir_all(&gone);
        }
    }
}

impl Drop for BuildpackCache {
    fn drop(&mut self) {
        if let Err(e) = unmount(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot unmount the buildpack cache");
        }
    }
}

/// Lowercase hex sha256 of a file's bytes.
fn sha256_of(path: &Path) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Takes the write bits away (and whatever group and others had): the owner keeps reading and
/// running what it could. Returns the bytes of the files.
fn make_read_only(dir: &Path) -> io::Result<u64> {
    let mut bytes = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            continue;
        }
        let path = entry.path();
        if kind.is_dir() {
            bytes += make_read_only(&path)?;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o500))?;
        } else {
            let meta = entry.metadata()?;
            let mode = if meta.permissions().mode() & 0o100 != 0 {
                0o500
            } else {
                0o400
            };
            fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
            bytes += meta.len();
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const OWNER: (u32, u32) = (2000, 2000);

    fn buildpack_zip(path: &Path, compile: &str) {
        let mut zip = zip::ZipWriter::new(fs::File::create(path).unwrap());
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        zip.add_directory("bin/", options).unwrap();
        zip.start_file("bin/compile", options).unwrap();
        zip.write_all(compile.as_bytes()).unwrap();
        zip.finish().unwrap();
    }

    fn cache_in(dir: &Path) -> Arc<BuildpackCache> {
        let mountpoint = dir.join("cache");
        fs::create_dir(&mountpoint).unwrap();
        Arc::new(BuildpackCache::new(&dir.join("cache.img"), mountpoint).unwrap())
    }

    #[test]
    #[ignore = "needs root and mkfs.ext4; scripts/test.sh runs it (--include-ignored)"]
    fn stagings_that_want_a_new_version_at_once_share_one_whole_copy() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache_in(dir.path());
        let zip = dir.path().join("bp.zip");
        buildpack_zip(&zip, "#!/bin/sh\necho one\n");
        let leases: Vec<BuildpackLease> = std::thread::scope(|s| {
            let takers: Vec<_> = (0..6)
                .map(|_| s.spawn(|| cache.acquire(&zip, &Limits::BUILDPACK, OWNER).unwrap()))
                .collect();
            takers.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for lease in &leases {
            assert_eq!(lease.path(), leases[0].path());
        }
        let compile = leases[0].path().join("bin/compile");
        assert_eq!(
            fs::read_to_string(&compile).unwrap(),
            "#!/bin/sh\necho one\n"
        );
        let meta = fs::metadata(&compile).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o500);
        assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), OWNER.0);
        let names: Vec<String> = fs::read_dir(&cache.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 1, "no partial copies left: {names:?}");

        // New bits under the same name are another version.
        buildpack_zip(&zip, "#!/bin/sh\necho two\n");
        let next = cache.acquire(&zip, &Limits::BUILDPACK, OWNER).unwrap();
        assert_ne!(next.path(), leases[0].path());
        assert_eq!(
            fs::read_to_string(next.path().join("bin/compile")).unwrap(),
            "#!/bin/sh\necho two\n"
        );
    }

    #[test]
    #[ignore = "needs root and mkfs.ext4; scripts/test.sh runs it (--include-ignored)"]
    fn only_versions_no_staging_holds_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = cache_in(dir.path());
        Arc::get_mut(&mut cache).unwrap().max_bytes = 0;
        let (one, two) = (dir.path().join("one.zip"), dir.path().join("two.zip"));
        buildpack_zip(&one, "#!/bin/sh\necho one\n");
        buildpack_zip(&two, "#!/bin/sh\necho two\n");
        let held = cache.acquire(&one, &Limits::BUILDPACK, OWNER).unwrap();
        let other = cache.acquire(&two, &Limits::BUILDPACK, OWNER).unwrap();
        assert!(held.path().is_dir(), "held while over the bound");
        let (held_path, other_path) = (held.path().to_path_buf(), other.path().to_path_buf());
        drop(held);
        drop(other);
        let again = cache.acquire(&two, &Limits::BUILDPACK, OWNER).unwrap();
        assert!(!held_path.exists(), "a version nobody holds is pruned");
        // The version asked for stays, whole.
        assert_eq!(again.path(), other_path);
        assert!(again.path().join("bin/compile").is_file());
    }
}
