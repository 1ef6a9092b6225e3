//! Unpacking a buildpack zip without letting it write outside its folder: entries with absolute
//! paths or `..` are refused, symlinks must point inside the folder and are created only after
//! every file, so no file is ever written through a link from the same archive. Unix modes in
//! the zip are kept so `bin/*` stay executable.

use std::fs::{self, File};
use std::io::{self, Read, Seek};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use zip::ZipArchive;

#[derive(Debug, thiserror::Error)]
pub enum UnzipError {
    #[error("not a readable zip archive: {0}")]
    Archive(#[from] zip::result::ZipError),
    #[error("entry {entry:?} {reason}")]
    UnsafeEntry { entry: String, reason: &'static str },
    #[error("entry {entry:?}: {source}")]
    Io { entry: String, source: io::Error },
}

/// Extracts `archive` into `destination` (created if missing).
pub fn extract_zip<R: Read + Seek>(archive: R, destination: &Path) -> Result<(), UnzipError> {
    let mut zip = ZipArchive::new(archive)?;
    let io_error = |entry: &str| {
        let entry = entry.to_string();
        move |source| UnzipError::Io {
            entry: entry.clone(),
            source,
        }
    };
    fs::create_dir_all(destination).map_err(io_error("."))?;
    let mut links = Vec::new();
    let mut dir_modes = Vec::new();
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index)?;
        let name = entry.name().to_string();
        let relative = safe_relative_path(&name)?;
        if relative.as_os_str().is_empty() {
            continue;
        }
        let target = destination.join(&relative);
        if entry.is_symlink() {
            let mut link_target = String::new();
            entry
                .read_to_string(&mut link_target)
                .map_err(io_error(&name))?;
            check_link_stays_inside(&name, &relative, &link_target)?;
            links.push((target, link_target, name));
        } else if entry.is_dir() {
            fs::create_dir_all(&target).map_err(io_error(&name))?;
            dir_modes.push((target, entry.unix_mode().unwrap_or(0o755)));
        } else {
            write_file(&mut entry, &target).map_err(io_error(&name))?;
        }
    }
    for (path, link_target, name) in links {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_error(&name))?;
        }
        symlink(&link_target, &path).map_err(io_error(&name))?;
    }
    // Directory modes last: a read-only directory would otherwise block its own contents.
    for (path, mode) in dir_modes.into_iter().rev() {
        let mode = (mode & 0o777) | 0o700;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(io_error("dir"))?;
    }
    Ok(())
}

fn write_file<R: Read>(entry: &mut zip::read::ZipFile<'_, R>, target: &Path) -> io::Result<()> {
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut file = File::create(target)?;
    io::copy(entry, &mut file)?;
    // Keep the archive's permission bits (never setuid/setgid), default to a plain file.
    let mode = entry.unix_mode().map(|m| m & 0o777).unwrap_or(0o644);
    fs::set_permissions(target, fs::Permissions::from_mode(mode | 0o400))
}

/// The entry name as a relative path with only normal components.
fn safe_relative_path(name: &str) -> Result<PathBuf, UnzipError> {
    let unsafe_entry = |reason| UnzipError::UnsafeEntry {
        entry: name.to_string(),
        reason,
    };
    if name.contains('\0') {
        return Err(unsafe_entry("contains a NUL byte"));
    }
    // Backslashes are separators for zips made on Windows; treat them as such when checking.
    let normalized = name.replace('\\', "/");
    if normalized.starts_with('/') {
        return Err(unsafe_entry("has an absolute path"));
    }
    let mut relative = PathBuf::new();
    for component in Path::new(&normalized).components() {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(unsafe_entry("contains '..'")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_entry("has an absolute path"))
            }
        }
    }
    Ok(relative)
}

/// A link target, resolved lexically from the link's own folder, must stay in the buildpack.
fn check_link_stays_inside(
    name: &str,
    relative: &Path,
    link_target: &str,
) -> Result<(), UnzipError> {
    let escapes = || UnzipError::UnsafeEntry {
        entry: name.to_string(),
        reason: "is a symlink pointing outside the buildpack",
    };
    if link_target.starts_with('/') || link_target.contains('\0') {
        return Err(escapes());
    }
    let mut depth: usize = relative.parent().map_or(0, |p| p.components().count());
    for component in Path::new(link_target).components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => depth = depth.checked_sub(1).ok_or_else(escapes)?,
            Component::RootDir | Component::Prefix(_) => return Err(escapes()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_must_stay_relative() {
        assert_eq!(
            safe_relative_path("bp/bin/detect").unwrap(),
            PathBuf::from("bp/bin/detect")
        );
        assert_eq!(safe_relative_path("./bin/").unwrap(), PathBuf::from("bin"));
        assert!(safe_relative_path("../evil").is_err());
        assert!(safe_relative_path("bin/../../evil").is_err());
        assert!(safe_relative_path("/etc/passwd").is_err());
        assert!(safe_relative_path("..\\evil").is_err());
    }

    #[test]
    fn symlinks_must_point_inside() {
        let at = |entry: &str, target: &str| {
            check_link_stays_inside(entry, &safe_relative_path(entry).unwrap(), target)
        };
        assert!(at("bin/compile", "../lib/compile.sh").is_ok());
        assert!(at("bin/compile", "detect").is_ok());
        assert!(at("link", "../outside").is_err());
        assert!(at("bin/link", "../../outside").is_err());
        assert!(at("bin/link", "/etc/passwd").is_err());
    }
}
