//! Unpacking a zip URL buildpack without letting it write outside its folder. What may be
//! unpacked is the archive policy's call (`ladle-archive`, the one the upload check and the
//! stager apply too): the whole zip is checked before anything is written, then only what the
//! policy placed is written, where it placed it. Symlinks are created after every file; unix
//! modes are kept (without set-id bits) so `bin/*` stay executable.

use std::fs::{self, OpenOptions};
use std::io::{self, BufReader, Read, Seek};
use std::os::unix::fs::{symlink, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use ladle_archive::zip_file::{self, CheckedZip, ZipFileError};
use ladle_archive::{Limits, Placement};

#[derive(Debug, thiserror::Error)]
pub enum UnzipError {
    #[error(transparent)]
    Zip(#[from] ZipFileError),
    #[error("entry {entry:?}: {source}")]
    Io { entry: String, source: io::Error },
}

/// Extracts `archive` into `destination` (created if missing, expected empty).
pub fn extract_zip<R: Read + Seek>(archive: R, destination: &Path) -> Result<(), UnzipError> {
    let CheckedZip { mut archive, plan } =
        zip_file::check(BufReader::new(archive), &Limits::BUILDPACK)?;
    let io_error = |entry: &Path| {
        let entry = entry.display().to_string();
        move |source| UnzipError::Io {
            entry: entry.clone(),
            source,
        }
    };
    fs::create_dir_all(destination).map_err(io_error(Path::new(".")))?;
    let mut links = Vec::new();
    let mut dir_modes = Vec::new();
    for placed in &plan {
        let target = destination.join(&placed.path);
        match &placed.kind {
            Placement::Dir => {
                fs::create_dir_all(&target).map_err(io_error(&placed.path))?;
                dir_modes.push((target, placed.mode));
            }
            Placement::File { size } => {
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent).map_err(io_error(&placed.path))?;
                }
                let mut entry = archive
                    .by_index(placed.index)
                    .map_err(|e| ZipFileError::Corrupt(e.to_string()))?;
                let name = entry.name().to_string();
                // The owner can always read its own buildpack. `create_new` never follows a
                // symlink at the last step; the policy keeps links out of the steps before.
                let mode = placed.mode | 0o400;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(mode)
                    .open(&target)
                    .map_err(io_error(&placed.path))?;
                zip_file::copy_exact(&mut entry, &name, *size, &mut file)?;
                fs::set_permissions(&target, fs::Permissions::from_mode(mode))
                    .map_err(io_error(&placed.path))?;
            }
            Placement::Symlink {
                target: link_target,
            } => links.push((target, link_target, placed)),
            // Zips have no hard links; the zip reader never lists one.
            Placement::HardLink { .. } => unreachable!("a hard link in a zip"),
        }
    }
    for (path, link_target, placed) in links {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_error(&placed.path))?;
        }
        symlink(link_target, &path).map_err(io_error(&placed.path))?;
    }
    // Directory modes last: a read-only directory would otherwise block its own contents.
    for (path, mode) in dir_modes.into_iter().rev() {
        let mode = mode | 0o700;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
            .map_err(io_error(Path::new("dir")))?;
    }
    Ok(())
}
