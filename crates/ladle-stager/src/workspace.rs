//! The per-staging folder `<work_root>/<id>/`:
//!
//! ```text
//! disk.img   sparse image of disk_mb, ext4 (from the pool of fresh ones when it has one)
//! ws/        the workspace: the image loop-mounted
//! root/      the container's root: a small tmpfs with mountpoints and our /etc (runc only)
//! bundle/    OCI bundle, config.json only (runc only)
//! netns      the staging's network namespace, pinned by a bind mount (runc, network on)
//! ```
//!
//! The process executor's builder runs as the staging user on the host, which must reach the
//! workspace: its image is then mounted at `<exec root>/<id>` instead of `ws/` (see
//! `stager::ProcessSide`), so the work root itself may stay private to root.
//!
//! Dropping a `Workspace` unmounts and deletes all of it, so a cancelled staging leaves nothing.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::mount::{umount2, MntFlags, MsFlags};

use crate::buildpack_cache::BuildpackLease;

/// Folders the builder writes to, owned by the staging user (the mount root stays root's, so
/// the builder cannot replace them with symlinks).
pub(crate) const WRITABLE_DIRS: [&str; 7] = [
    "app",
    "buildpacks",
    "buildpackdownloads",
    "cache",
    "output",
    "home",
    "tmp",
];

pub(crate) struct Workspace {
    dir: PathBuf,
    ws: PathBuf,
    /// Whether `ws` is outside `dir` (and so removed on its own).
    ws_outside: bool,
    mounted: bool,
    /// Other mounts of this staging (the container's root, the network namespace), unmounted
    /// in reverse order before the workspace image.
    extra_mounts: Vec<PathBuf>,
    /// The loop device under the mounted image: its sysfs folder and the image's path as the
    /// kernel reports it.
    loop_device: Option<(PathBuf, PathBuf)>,
    /// The cached admin buildpacks bound into the container, kept from pruning until the
    /// workspace is gone.
    buildpacks: Vec<BuildpackLease>,
    cleaned: bool,
}

impl Workspace {
    /// Creates the folder and an ext4 image of `disk_mb`, mounted as the workspace (writes past
    /// it fail with ENOSPC): `<dir>/ws`, or `<ws_parent>/<id>` when given. The folders the
    /// builder writes to belong to `owner`. `pooled` is a fresh image of `disk_mb` formatted
    /// ahead of time (on the work root's filesystem), used instead of formatting one here.
    pub(crate) fn create(
        work_root: &Path,
        ws_parent: Option<&Path>,
        id: &str,
        disk_mb: u64,
        pooled: Option<PathBuf>,
        (uid, gid): (u32, u32),
    ) -> io::Result<Workspace> {
        let dir = work_root.join(id);
        fs::create_dir(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        let ws = match ws_parent {
            Some(parent) => parent.join(id),
            None => dir.join("ws"),
        };
        let mut workspace = Workspace {
            dir,
            ws_outside: ws_parent.is_some(),
            ws,
            mounted: false,
            extra_mounts: Vec::new(),
            loop_device: None,
            buildpacks: Vec::new(),
            cleaned: false,
        };
        fs::create_dir(&workspace.ws)?;
        workspace.mount_image(disk_mb, pooled)?;
        fs::set_permissions(&workspace.ws, fs::Permissions::from_mode(0o755))?;
        for name in WRITABLE_DIRS {
            let path = workspace.ws.join(name);
            fs::create_dir(&path)?;
            std::os::unix::fs::chown(&path, Some(uid), Some(gid))?;
        }
        Ok(workspace)
    }

    /// `<work_root>/<id>`.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The workspace root (`/workspace` inside the container).
    pub(crate) fn ws(&self) -> &Path {
        &self.ws
    }

    /// Mounts a small tmpfs at `<dir>/root` for the container's root and returns its path.
    pub(crate) fn mount_container_root(&mut self) -> io::Result<PathBuf> {
        let root = self.dir.join("root");
        fs::create_dir(&root)?;
        self.extra_mounts.push(root.clone());
        nix::mount::mount(
            Some("tmpfs"),
            &root,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=0755,size=4m"),
        )?;
        Ok(root)
    }

    /// Records a mount made at `path` (under the workspace's folder) for cleanup; call it
    /// before mounting, so a failure halfway is cleaned up too.
    pub(crate) fn track_mount(&mut self, path: PathBuf) {
        self.extra_mounts.push(path);
    }

    /// Keeps `lease` (a cached buildpack bound into the container) until the workspace is gone.
    pub(crate) fn hold(&mut self, lease: BuildpackLease) {
        self.buildpacks.push(lease);
    }

    fn mount_image(&mut self, disk_mb: u64, pooled: Option<PathBuf>) -> io::Result<()> {
        let image = self.dir.join("disk.img");
        let from_pool = match pooled {
            Some(pooled) => fs::rename(&pooled, &image)
                .map_err(|e| {
                    tracing::warn!(image = %pooled.display(), error = %e, "cannot take the pooled filesystem; formatting one");
                    let _ = fs::remove_file(&pooled);
                })
                .is_ok(),
            None => false,
        };
        if !from_pool {
            format_image(&image, disk_mb)?;
        }
        // `mount -o loop` allocates the loop device and sets autoclear, so unmounting frees it.
        // noinit_itable: the inode tables of a fresh sparse image read as zeros already; the
        // kernel need not spend the staging's time writing zeros over them.
        run_tool(
            Command::new("mount")
                .args(["-t", "ext4", "-o", "loop,nosuid,nodev,noinit_itable"])
                .arg(&image)
                .arg(&self.ws),
        )?;
        self.mounted = true;
        let device = fs::metadata(&self.ws)?.dev();
        let sysfs = format!(
            "/sys/dev/block/{}:{}",
            libc::major(device),
            libc::minor(device)
        );
        self.loop_device = Some((sysfs.into(), fs::canonicalize(&image)?));
        fs::remove_dir(self.ws.join("lost+found")).or_else(ignore_not_found)?;
        Ok(())
    }

    /// Unmounts and deletes everything; safe to call twice.
    pub(crate) fn cleanup(&mut self) -> io::Result<()> {
        if self.cleaned {
            return Ok(());
        }
        while let Some(mount) = self.extra_mounts.pop() {
            unmount(&mount)?;
        }
        if self.mounted {
            unmount(&self.ws)?;
            self.mounted = false;
        }
        if let Some((device, image)) = self.loop_device.take() {
            wait_for_loop_release(&device, &image);
        }
        self.buildpacks.clear();
        if self.ws_outside {
            fs::remove_dir_all(&self.ws).or_else(ignore_not_found)?;
        }
        fs::remove_dir_all(&self.dir).or_else(ignore_not_found)?;
        self.cleaned = true;
        Ok(())
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if let Err(e) = self.cleanup() {
            tracing::error!(dir = %self.dir.display(), error = %e, "could not remove staging workspace");
        }
    }
}

/// Creates `image`, a sparse file of `disk_mb`, and formats it as ext4.
pub(crate) fn format_image(image: &Path, disk_mb: u64) -> io::Result<()> {
    fs::File::create(image)?.set_len(disk_mb * 1024 * 1024)?;
    // No journal and lazy init: the filesystem lives for one staging, formatting takes ~10 ms.
    // -m 0: no blocks reserved for root, so the limit is what the staging user can write.
    run_tool(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-m", "0", "-O", "^has_journal"])
            .args(["-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard"])
            .arg(image),
    )
}

/// Unmounts `path`, retrying briefly while the last processes of a killed container exit, then
/// detaching lazily so the loop device is freed as soon as nothing uses it.
pub(crate) fn unmount(path: &Path) -> io::Result<()> {
    for _ in 0..10 {
        match umount2(path, MntFlags::empty()) {
            Ok(()) => return Ok(()),
            Err(nix::errno::Errno::EBUSY) => std::thread::sleep(Duration::from_millis(20)),
            Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    umount2(path, MntFlags::MNT_DETACH).map_err(io::Error::from)
}

/// Waits up to a second while `attached` says a loop device still holds an unmounted image;
/// false if it still does then. The kernel detaches an autoclear loop device asynchronously
/// after the last unmount (since Linux 5.17), so right after `unmount` it may still be bound.
pub(crate) fn wait_for_loop_detach(attached: impl Fn() -> bool) -> bool {
    for _ in 0..200 {
        if !attached() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// Waits until the loop device (`device`, its sysfs folder) no longer holds `image`, so that
/// a finished staging has really let go of its device.
fn wait_for_loop_release(device: &Path, image: &Path) {
    let backing_file = device.join("loop/backing_file");
    let still_ours = || {
        fs::read_to_string(&backing_file)
            .is_ok_and(|backing| Path::new(backing.trim().trim_end_matches(" (deleted)")) == image)
    };
    if wait_for_loop_detach(still_ours) {
        return;
    }
    tracing::warn!(
        device = %device.display(),
        image = %image.display(),
        "loop device still attached a second after unmount; the next start's reap detaches it"
    );
}

pub(crate) fn ignore_not_found(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

/// Runs a system tool, turning a non-zero exit into an error that carries its stderr.
pub(crate) fn run_tool(command: &mut Command) -> io::Result<()> {
    let output = command.stdin(std::process::Stdio::null()).output()?;
    if output.status.success() {
        return Ok(());
    }
    let program = command.get_program().to_string_lossy().into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(io::Error::other(format!(
        "{program} failed ({}): {}",
        output.status,
        stderr.trim()
    )))
}
