//! Filesystems formatted ahead of time: a background thread keeps a few fresh ext4 images per
//! disk size in recent demand, so a staging only has to mount one instead of creating and
//! formatting it (`mkfs.ext4` is most of a workspace's set-up time).
//!
//! An image is handed out once, renamed into the staging's folder and deleted with it: no
//! image is ever mounted twice, so nothing of an earlier staging can be on it. The pool only
//! hands out images it formatted itself in this process, and checks their superblock's mount
//! count on the way out as well.
//!
//! Each size is formatted once, into a template that is never mounted; the pool's images are
//! copies of its data parts (a few MB of metadata in a sparse file of the full size), which
//! takes a fraction of a `mkfs.ext4` run. Copies share the template's filesystem UUID, which
//! ext4 does not mind.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::workspace::format_image;

/// A size nobody asked for in this long is no longer kept ready (its images are deleted).
const DEMAND_TTL: Duration = Duration::from_secs(15 * 60);
/// At most this many sizes are kept ready at once: the default and the most recently asked.
const MAX_SIZES: usize = 3;
/// How long the thread waits before trying again after formatting failed (disk full, no
/// mkfs).
const RETRY_AFTER: Duration = Duration::from_secs(5);

pub(crate) struct FsPool {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    dir: PathBuf,
    per_size: usize,
    default_mb: Option<u64>,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// Formatted, never mounted, not yet handed out.
    ready: HashMap<u64, Vec<PathBuf>>,
    /// When each size was last asked for.
    demand: HashMap<u64, Instant>,
    next_name: u64,
    stop: bool,
}

impl FsPool {
    /// Starts the thread that fills `dir` (which must exist, be empty and be on the same
    /// filesystem as the workspaces) with `per_size` images of each size in demand, the
    /// `default_mb` first. `per_size` 0 keeps no pool: every staging formats its own.
    pub(crate) fn start(dir: PathBuf, per_size: usize, default_mb: Option<u64>) -> FsPool {
        let shared = Arc::new(Shared {
            dir,
            per_size,
            default_mb,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        });
        let thread = (per_size > 0)
            .then(|| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name("ladle-fs-pool".into())
                    .spawn(move || shared.fill())
                    .map_err(|e| tracing::warn!(error = %e, "cannot start the filesystem pool; stagings format their own"))
                    .ok()
            })
            .flatten();
        FsPool { shared, thread }
    }

    /// A fresh image of `disk_mb`, now the caller's alone (it must move or delete it), or
    /// `None` when none is ready: the caller formats its own.
    pub(crate) fn take(&self, disk_mb: u64) -> Option<PathBuf> {
        let taken = {
            let mut state = self.shared.lock();
            state.demand.insert(disk_mb, Instant::now());
            let taken = state.ready.get_mut(&disk_mb).and_then(Vec::pop);
            self.shared.wake.notify_one();
            taken?
        };
        match never_mounted(&taken) {
            Ok(true) => Some(taken),
            outcome => {
                tracing::error!(image = %taken.display(), ?outcome, "pooled filesystem is not fresh; formatting one instead");
                let _ = fs::remove_file(&taken);
                None
            }
        }
    }

    /// How many images of `disk_mb` are ready.
    pub(crate) fn ready(&self, disk_mb: u64) -> usize {
        self.shared.lock().ready.get(&disk_mb).map_or(0, Vec::len)
    }
}

impl Drop for FsPool {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let ready: Vec<PathBuf> = self
            .shared
            .lock()
            .ready
            .drain()
            .flat_map(|(_, v)| v)
            .collect();
        for image in ready {
            let _ = fs::remove_file(image);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fill(&self) {
        // Formatted once per size, never mounted, never handed out.
        let mut templates: HashMap<u64, PathBuf> = HashMap::new();
        let mut state = self.lock();
        loop {
            if state.stop {
                return;
            }
            let mut expired = self.forget_old_demand(&mut state);
            let sizes = self.sizes(&state);
            let unwanted: Vec<u64> = templates
                .keys()
                .filter(|size| !sizes.contains(size))
                .copied()
                .collect();
            expired.extend(unwanted.iter().filter_map(|size| templates.remove(size)));
            if !expired.is_empty() {
                drop(state);
                for image in expired {
                    let _ = fs::remove_file(image);
                }
                state = self.lock();
                continue;
            }
            let Some(size) = self.size_to_fill(&state) else {
                state = self
                    .wake
                    .wait_timeout(state, DEMAND_TTL)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                continue;
            };
            state.next_name += 1;
            let name = format!("{}-{size}m", state.next_name);
            drop(state);
            let formatted = self.copy_template(&mut templates, &name, size);
            state = self.lock();
            match formatted {
                Ok(image) if !state.stop && self.wanted(&state, size) => {
                    state.ready.entry(size).or_default().push(image);
                }
                Ok(image) => {
                    let _ = fs::remove_file(image);
                }
                Err(e) => {
                    tracing::warn!(disk_mb = size, error = %e, "cannot format a filesystem for the pool");
                    state = self
                        .wake
                        .wait_timeout_while(state, RETRY_AFTER, |s| !s.stop)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }

    /// A new image of `size` under `name`, copied from the size's template (formatted first
    /// if there is none yet). Whole images only ever carry a ready name.
    fn copy_template(
        &self,
        templates: &mut HashMap<u64, PathBuf>,
        name: &str,
        disk_mb: u64,
    ) -> io::Result<PathBuf> {
        let started = Instant::now();
        let template = match templates.get(&disk_mb) {
            Some(template) => template.clone(),
            None => {
                let template = self.dir.join(format!("template-{disk_mb}m.img"));
                write_whole(&template, |partial| format_image(partial, disk_mb))?;
                templates.insert(disk_mb, template.clone());
                template
            }
        };
        let image = self.dir.join(format!("{name}.img"));
        write_whole(&image, |partial| sparse_copy(&template, partial))?;
        tracing::debug!(
            disk_mb,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "pooled filesystem ready"
        );
        Ok(image)
    }

    /// The sizes kept ready: the default, then the most recently asked for.
    fn sizes(&self, state: &State) -> Vec<u64> {
        let mut asked: Vec<(u64, Instant)> = state
            .demand
            .iter()
            .filter(|(size, _)| Some(**size) != self.default_mb)
            .map(|(size, at)| (*size, *at))
            .collect();
        asked.sort_by_key(|(_, at)| std::cmp::Reverse(*at));
        self.default_mb
            .into_iter()
            .chain(asked.into_iter().map(|(size, _)| size))
            .take(MAX_SIZES)
            .collect()
    }

    fn wanted(&self, state: &State, size: u64) -> bool {
        self.sizes(state).contains(&size)
    }

    fn size_to_fill(&self, state: &State) -> Option<u64> {
        self.sizes(state)
            .into_iter()
            .find(|size| state.ready.get(size).map_or(0, Vec::len) < self.per_size)
    }

    /// Drops sizes nobody asked for lately; returns their images, to delete.
    fn forget_old_demand(&self, state: &mut State) -> Vec<PathBuf> {
        state.demand.retain(|_, at| at.elapsed() < DEMAND_TTL);
        let keep = self.sizes(state);
        let unwanted: Vec<u64> = state
            .ready
            .keys()
            .filter(|size| !keep.contains(size))
            .copied()
            .collect();
        unwanted
            .into_iter()
            .flat_map(|size| state.ready.remove(&size).unwrap_or_default())
            .collect()
    }
}

/// Writes `path` through `write` under a temporary name, renamed when whole.
fn write_whole(path: &Path, write: impl FnOnce(&Path) -> io::Result<()>) -> io::Result<()> {
    let partial = path.with_extension("partial");
    let result = write(&partial).and_then(|()| fs::rename(&partial, path));
    if result.is_err() {
        let _ = fs::remove_file(&partial);
    }
    result
}

/// Copies `from` to `to` (which must not exist), only the parts that hold data: holes stay
/// holes.
fn sparse_copy(from: &Path, to: &Path) -> io::Result<()> {
    use nix::unistd::{lseek, Whence};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileExt;

    let source = fs::File::open(from)?;
    let len = source.metadata()?.len();
    let target = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)?;
    target.set_len(len)?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut offset: i64 = 0;
    while (offset as u64) < len {
        let data = match lseek(source.as_raw_fd(), offset, Whence::SeekData) {
            Ok(at) => at,
            // No data past `offset`.
            Err(nix::errno::Errno::ENXIO) => break,
            Err(e) => return Err(e.into()),
        };
        let hole = lseek(source.as_raw_fd(), data, Whence::SeekHole)?;
        let mut at = data as u64;
        while at < hole as u64 {
            let n = ((hole as u64 - at) as usize).min(buffer.len());
            source.read_exact_at(&mut buffer[..n], at)?;
            target.write_all_at(&buffer[..n], at)?;
            at += n as u64;
        }
        offset = hole;
    }
    Ok(())
}

/// Offset of the ext4 superblock, and of its mount count and magic inside it.
const SUPERBLOCK: u64 = 1024;
const MOUNT_COUNT: usize = 0x34;
const MAGIC: usize = 0x38;
const EXT4_MAGIC: u16 = 0xEF53;

/// True when `image` holds an ext4 filesystem that was never mounted (mount count 0).
pub(crate) fn never_mounted(image: &Path) -> io::Result<bool> {
    let mut file = fs::File::open(image)?;
    file.seek(SeekFrom::Start(SUPERBLOCK))?;
    let mut superblock = [0u8; 0x3A];
    file.read_exact(&mut superblock)?;
    let le16 = |at: usize| u16::from_le_bytes([superblock[at], superblock[at + 1]]);
    Ok(le16(MAGIC) == EXT4_MAGIC && le16(MOUNT_COUNT) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    #[ignore = "needs root and mkfs.ext4; scripts/test.sh runs it (--include-ignored)"]
    fn images_are_handed_out_once_and_never_mounted() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Arc::new(FsPool::start(dir.path().to_path_buf(), 3, Some(16)));
        wait_until("the pool is full", || pool.ready(16) == 3);
        let taken: Vec<PathBuf> = std::thread::scope(|s| {
            let takers: Vec<_> = (0..8)
                .map(|_| s.spawn(|| (0..4).filter_map(|_| pool.take(16)).collect::<Vec<_>>()))
                .collect();
            takers.into_iter().flat_map(|t| t.join().unwrap()).collect()
        });
        let unique: HashSet<&PathBuf> = taken.iter().collect();
        assert_eq!(
            unique.len(),
            taken.len(),
            "an image was handed out twice: {taken:?}"
        );
        assert!(!taken.is_empty());
        for image in &taken {
            assert!(never_mounted(image).unwrap(), "{}", image.display());
            // Sparse: the metadata, not the full size.
            let allocated =
                std::os::unix::fs::MetadataExt::blocks(&fs::metadata(image).unwrap()) * 512;
            assert!(allocated < 8 * 1024 * 1024, "{allocated} bytes allocated");
        }
        // The pool refills with new names, never with a taken image.
        wait_until("the pool refills", || pool.ready(16) == 3);
        let next = pool.take(16).unwrap();
        assert!(!taken.contains(&next));
        // A size nobody asked for is formatted inline by the caller the first time, then kept.
        assert_eq!(pool.take(24), None);
        wait_until("the new size is kept ready", || pool.ready(24) == 3);
    }

    #[test]
    #[ignore = "needs root and mkfs.ext4; scripts/test.sh runs it (--include-ignored)"]
    fn a_mounted_image_is_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("x.img");
        format_image(&image, 16).unwrap();
        assert!(never_mounted(&image).unwrap());
        let mountpoint = dir.path().join("mnt");
        fs::create_dir(&mountpoint).unwrap();
        crate::workspace::run_tool(
            std::process::Command::new("mount")
                .args(["-t", "ext4", "-o", "loop"])
                .arg(&image)
                .arg(&mountpoint),
        )
        .unwrap();
        crate::workspace::unmount(&mountpoint).unwrap();
        assert!(!never_mounted(&image).unwrap());
    }

    #[test]
    #[ignore = "needs root and mkfs.ext4; scripts/test.sh runs it (--include-ignored)"]
    fn a_pooled_filesystem_is_empty_and_of_the_requested_size() {
        use crate::workspace::{Workspace, WRITABLE_DIRS};
        let dir = tempfile::tempdir().unwrap();
        let pool_dir = dir.path().join("pool");
        fs::create_dir(&pool_dir).unwrap();
        let pool = FsPool::start(pool_dir, 1, Some(64));
        wait_until("the pool is full", || pool.ready(64) == 1);
        let image = pool.take(64).unwrap();
        let mut workspace = Workspace::create(
            dir.path(),
            None,
            "staging",
            64,
            Some(image.clone()),
            (2000, 2000),
        )
        .unwrap();
        assert!(!image.exists(), "the image moved into the staging's folder");
        let mut names: Vec<String> = fs::read_dir(workspace.ws())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut expected: Vec<String> = WRITABLE_DIRS.iter().map(|d| d.to_string()).collect();
        expected.sort();
        assert_eq!(names, expected, "nothing but the folders the stager makes");
        for name in WRITABLE_DIRS {
            let entries = fs::read_dir(workspace.ws().join(name)).unwrap().count();
            assert_eq!(entries, 0, "{name} is empty");
        }
        let stat = nix::sys::statvfs::statvfs(workspace.ws()).unwrap();
        let total = stat.blocks() as u64 * stat.fragment_size() as u64;
        let requested = 64 * 1024 * 1024;
        assert!(
            total <= requested && total >= requested * 9 / 10,
            "{total} bytes for a {requested}-byte disk"
        );
        workspace.cleanup().unwrap();
        assert!(!dir.path().join("staging").exists());
    }
}
