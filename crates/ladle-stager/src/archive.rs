//! Unpacking hostile archives (app zips, admin buildpack zips, build caches) as root.
//!
//! Rules: names must be relative and free of `..`; nothing is ever written through a symlink
//! (every parent is checked, files are created with O_EXCL); a symlink must resolve inside the
//! destination once everything is unpacked; set-id bits are dropped; hard links are copies.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;

const S_IFMT: u32 = 0o170000;
const S_IFLNK: u32 = 0o120000;
/// Symlink targets longer than this are not plausible and not read into memory.
const MAX_LINK_TARGET: u64 = 4096;
/// Same limit the kernel uses for following symlinks.
const MAX_LINK_HOPS: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot read archive: {0}")]
    Corrupt(String),
    #[error("refused archive entry {name:?}: {reason}")]
    Refused { name: String, reason: &'static str },
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl ArchiveError {
    /// True when the destination filesystem ran out of space or inodes.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, ArchiveError::Io(e) if e.raw_os_error() == Some(libc::ENOSPC) || e.raw_os_error() == Some(libc::EDQUOT))
    }
}

impl From<zip::result::ZipError> for ArchiveError {
    fn from(e: zip::result::ZipError) -> Self {
        match e {
            zip::result::ZipError::Io(io) => ArchiveError::Io(io),
            other => ArchiveError::Corrupt(other.to_string()),
        }
    }
}

/// Unpacks a zip into `dest` (which must exist), keeping unix modes. `owner` = chown every entry.
pub fn extract_zip(
    zip_path: &Path,
    dest: &Path,
    owner: Option<(u32, u32)>,
) -> Result<(), ArchiveError> {
    let mut archive = zip::ZipArchive::new(File::open(zip_path)?)?;
    let mut out = Unpacker::new(dest, owner);
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index)?;
        let name = entry.name().to_string();
        let mode = entry.unix_mode();
        if entry.is_dir() {
            out.dir(&name, mode.unwrap_or(0o755))?;
        } else if mode.is_some_and(|m| m & S_IFMT == S_IFLNK) {
            let target = read_link_target(&mut entry, &name)?;
            out.symlink(&name, &target)?;
        } else {
            out.file(&name, mode.unwrap_or(0o644), &mut entry)?;
        }
    }
    out.finish()
}

/// Unpacks a gzip tar (a build-artifacts cache) into `dest`.
pub fn extract_tgz(
    tgz_path: &Path,
    dest: &Path,
    owner: Option<(u32, u32)>,
) -> Result<(), ArchiveError> {
    let mut archive = tar::Archive::new(GzDecoder::new(File::open(tgz_path)?));
    let mut out = Unpacker::new(dest, owner);
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let name = entry
            .path()
            .map_err(corrupt)?
            .to_string_lossy()
            .into_owned();
        let mode = entry.header().mode().unwrap_or(0o644);
        let link = || -> Result<String, ArchiveError> {
            let target = entry.link_name().map_err(corrupt)?;
            Ok(target
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default())
        };
        match entry.header().entry_type() {
            tar::EntryType::Directory => out.dir(&name, mode)?,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                out.file(&name, mode, &mut entry)?
            }
            tar::EntryType::Symlink => {
                let target = link()?;
                out.symlink(&name, &target)?
            }
            tar::EntryType::Link => {
                let target = link()?;
                out.hardlink(&name, &target)?
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            _ => {
                return Err(ArchiveError::Refused {
                    name,
                    reason: "devices and fifos are not allowed",
                })
            }
        }
    }
    out.finish()
}

fn corrupt(e: io::Error) -> ArchiveError {
    if e.kind() == io::ErrorKind::Other
        || e.kind() == io::ErrorKind::InvalidData
        || e.kind() == io::ErrorKind::UnexpectedEof
    {
        ArchiveError::Corrupt(e.to_string())
    } else {
        ArchiveError::Io(e)
    }
}

fn read_link_target(entry: &mut impl Read, name: &str) -> Result<String, ArchiveError> {
    let mut target = String::new();
    entry
        .take(MAX_LINK_TARGET + 1)
        .read_to_string(&mut target)
        .map_err(|_| ArchiveError::Refused {
            name: name.to_string(),
            reason: "symlink target is not text",
        })?;
    if target.len() as u64 > MAX_LINK_TARGET {
        return Err(ArchiveError::Refused {
            name: name.to_string(),
            reason: "symlink target too long",
        });
    }
    Ok(target)
}

struct Unpacker<'a> {
    root: &'a Path,
    owner: Option<(u32, u32)>,
    /// Directories known to be real (not symlinks), so parents are checked once.
    real_dirs: HashSet<PathBuf>,
    symlinks: Vec<(String, PathBuf)>,
}

impl<'a> Unpacker<'a> {
    fn new(root: &'a Path, owner: Option<(u32, u32)>) -> Self {
        let mut real_dirs = HashSet::new();
        real_dirs.insert(PathBuf::new());
        Unpacker {
            root,
            owner,
            real_dirs,
            symlinks: Vec::new(),
        }
    }

    fn dir(&mut self, name: &str, mode: u32) -> Result<(), ArchiveError> {
        let Some(rel) = relative_path(name)? else {
            return Ok(());
        };
        self.ensure_dir(name, &rel)?;
        let path = self.root.join(&rel);
        fs::set_permissions(&path, fs::Permissions::from_mode(mode & 0o777))?;
        Ok(())
    }

    fn file(&mut self, name: &str, mode: u32, content: &mut impl Read) -> Result<(), ArchiveError> {
        let rel = relative_path(name)?
            .ok_or_else(|| refused(name, "a file cannot be the archive root"))?;
        self.ensure_parent(name, &rel)?;
        let path = self.root.join(&rel);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode & 0o777)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| already_there(e, name))?;
        io::copy(content, &mut file)?;
        // The umask may have narrowed the mode given at creation.
        file.set_permissions(fs::Permissions::from_mode(mode & 0o777))?;
        self.chown(&path)
    }

    fn symlink(&mut self, name: &str, target: &str) -> Result<(), ArchiveError> {
        let rel = relative_path(name)?
            .ok_or_else(|| refused(name, "a symlink cannot be the archive root"))?;
        if target.is_empty() || target.contains('\0') {
            return Err(refused(name, "empty symlink target"));
        }
        if Path::new(target).is_absolute() {
            return Err(refused(name, "symlink to an absolute path"));
        }
        self.ensure_parent(name, &rel)?;
        let path = self.root.join(&rel);
        std::os::unix::fs::symlink(target, &path).map_err(|e| already_there(e, name))?;
        self.chown(&path)?;
        self.symlinks.push((name.to_string(), rel));
        Ok(())
    }

    /// Tar hard links become copies of a file unpacked earlier (checked like any other path).
    fn hardlink(&mut self, name: &str, target: &str) -> Result<(), ArchiveError> {
        let source_rel =
            relative_path(target)?.ok_or_else(|| refused(name, "hard link to the archive root"))?;
        self.ensure_parent(target, &source_rel)?;
        let source = self.root.join(&source_rel);
        let mut input = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&source)
            .map_err(|_| {
                refused(
                    name,
                    "hard link to something that is not a file unpacked earlier",
                )
            })?;
        let meta = input.metadata()?;
        if !meta.is_file() {
            return Err(refused(name, "hard link to something that is not a file"));
        }
        self.file(name, meta.permissions().mode(), &mut input)
    }

    /// Every symlink must resolve inside the root now that the tree is complete.
    fn finish(self) -> Result<(), ArchiveError> {
        for (name, rel) in &self.symlinks {
            if !resolves_inside(self.root, rel)? {
                return Err(refused(name, "symlink points outside the archive"));
            }
        }
        Ok(())
    }

    fn ensure_parent(&mut self, name: &str, rel: &Path) -> Result<(), ArchiveError> {
        match rel.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => self.ensure_dir(name, parent),
            _ => Ok(()),
        }
    }

    /// Creates `rel` and its ancestors as real directories, refusing to pass through a symlink
    /// or a file.
    fn ensure_dir(&mut self, name: &str, rel: &Path) -> Result<(), ArchiveError> {
        let mut current = PathBuf::new();
        for component in rel.components() {
            current.push(component);
            if self.real_dirs.contains(&current) {
                continue;
            }
            let path = self.root.join(&current);
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(refused(name, "path goes through a symlink"))
                }
                Ok(meta) if !meta.is_dir() => {
                    return Err(refused(name, "path goes through a file"))
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&path)?;
                    self.chown(&path)?;
                }
                Err(e) => return Err(e.into()),
            }
            self.real_dirs.insert(current.clone());
        }
        Ok(())
    }

    fn chown(&self, path: &Path) -> Result<(), ArchiveError> {
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
        }
        Ok(())
    }
}

fn refused(name: &str, reason: &'static str) -> ArchiveError {
    ArchiveError::Refused {
        name: name.to_string(),
        reason,
    }
}

fn already_there(e: io::Error, name: &str) -> ArchiveError {
    if e.kind() == io::ErrorKind::AlreadyExists || e.raw_os_error() == Some(libc::ELOOP) {
        refused(name, "duplicate entry")
    } else {
        ArchiveError::Io(e)
    }
}

/// `Ok(None)` for the root itself (`./`); refuses absolute names and `..`.
fn relative_path(name: &str) -> Result<Option<PathBuf>, ArchiveError> {
    if name.contains('\0') || name.contains('\\') {
        return Err(refused(name, "odd characters in name"));
    }
    let mut rel = PathBuf::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => rel.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(refused(name, "path contains ..")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(refused(name, "absolute path"))
            }
        }
    }
    Ok((!rel.as_os_str().is_empty()).then_some(rel))
}

/// Resolves the symlink at `rel` the way the kernel would, but inside `root`: true when no
/// step leaves `root`. Targets that do not exist are fine as long as they stay inside.
fn resolves_inside(root: &Path, rel: &Path) -> Result<bool, ArchiveError> {
    let mut resolved: Vec<std::ffi::OsString> = Vec::new();
    // Components still to walk, in reverse so `pop` yields the next one.
    let mut pending: Vec<std::ffi::OsString> = rel
        .components()
        .rev()
        .map(|c| c.as_os_str().to_os_string())
        .collect();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        match part.to_str() {
            Some(".") => continue,
            Some("..") => {
                if resolved.pop().is_none() {
                    return Ok(false);
                }
                continue;
            }
            _ => {}
        }
        resolved.push(part);
        let here: PathBuf = resolved.iter().collect();
        let Ok(target) = fs::read_link(root.join(&here)) else {
            continue;
        };
        hops += 1;
        if hops > MAX_LINK_HOPS || target.is_absolute() {
            return Ok(false);
        }
        resolved.pop();
        pending.extend(
            target
                .components()
                .rev()
                .map(|c| c.as_os_str().to_os_string()),
        );
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    enum Item<'a> {
        File(&'a str, u32, &'a str),
        Dir(&'a str),
        Link(&'a str, &'a str),
    }

    fn make_zip(dir: &Path, items: &[Item]) -> PathBuf {
        let path = dir.join("test.zip");
        let mut zip = zip::ZipWriter::new(File::create(&path).unwrap());
        for item in items {
            match item {
                Item::File(name, mode, body) => {
                    zip.start_file(*name, SimpleFileOptions::default().unix_permissions(*mode))
                        .unwrap();
                    zip.write_all(body.as_bytes()).unwrap();
                }
                Item::Dir(name) => zip
                    .add_directory(*name, SimpleFileOptions::default())
                    .unwrap(),
                Item::Link(name, target) => zip
                    .add_symlink(*name, *target, SimpleFileOptions::default())
                    .unwrap(),
            }
        }
        zip.finish().unwrap();
        path
    }

    fn unpack(items: &[Item]) -> (tempfile::TempDir, Result<(), ArchiveError>) {
        let tmp = tempfile::tempdir().unwrap();
        let zip = make_zip(tmp.path(), items);
        let dest = tmp.path().join("out");
        fs::create_dir(&dest).unwrap();
        let result = extract_zip(&zip, &dest, None);
        (tmp, result)
    }

    #[test]
    fn keeps_modes_dirs_and_inner_symlinks() {
        let (tmp, result) = unpack(&[
            Item::Dir("bin/"),
            Item::File("bin/compile", 0o755, "#!/bin/sh\n"),
            Item::File("lib/data.txt", 0o4644, "data"),
            Item::Link("lib/current", "data.txt"),
            Item::Link("node_modules/.bin/tool", "../../lib/data.txt"),
        ]);
        result.unwrap();
        let out = tmp.path().join("out");
        let mode = |p: &str| fs::metadata(out.join(p)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode("bin/compile"), 0o755);
        assert_eq!(mode("lib/data.txt"), 0o644, "set-uid bit dropped");
        assert_eq!(fs::read_to_string(out.join("lib/current")).unwrap(), "data");
        assert_eq!(
            fs::read_to_string(out.join("node_modules/.bin/tool")).unwrap(),
            "data"
        );
    }

    #[test]
    fn refuses_zip_slip_and_absolute_names() {
        for name in ["../evil", "a/../../evil", "/etc/evil"] {
            let (tmp, result) = unpack(&[Item::File(name, 0o644, "x")]);
            assert!(
                matches!(result, Err(ArchiveError::Refused { .. })),
                "{name}: {result:?}"
            );
            assert!(!tmp.path().join("evil").exists());
        }
    }

    #[test]
    fn refuses_escaping_symlinks_and_writing_through_links() {
        let cases: &[&[Item]] = &[
            &[Item::Link("up", "..")],
            &[Item::Link("abs", "/etc/passwd")],
            &[Item::Link("a/b", "../../x")],
            // Each link looks harmless on its own; together they climb out.
            &[
                Item::Link("s", "."),
                Item::Dir("d/"),
                Item::Link("q", "s/.."),
            ],
            &[Item::Link("s", "."), Item::Link("s/q", "..")],
            &[Item::Link("out", "."), Item::File("out/f", 0o644, "x")],
        ];
        for items in cases {
            let (_tmp, result) = unpack(items);
            assert!(
                matches!(result, Err(ArchiveError::Refused { .. })),
                "{result:?}"
            );
        }
    }

    #[test]
    fn refuses_overwriting_an_earlier_symlink() {
        let (tmp, result) = unpack(&[
            Item::Link("f", "g"),
            Item::File("./f", 0o644, "through the link"),
        ]);
        assert!(
            matches!(
                result,
                Err(ArchiveError::Refused {
                    reason: "duplicate entry",
                    ..
                })
            ),
            "{result:?}"
        );
        assert!(!tmp.path().join("out/g").exists());
    }

    #[test]
    fn tgz_round_trip_with_hard_link_and_refused_escape() {
        let tmp = tempfile::tempdir().unwrap();
        let tgz = tmp.path().join("cache.tgz");
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            File::create(&tgz).unwrap(),
            Default::default(),
        ));
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_mode(0o600);
        builder
            .append_data(&mut header, "./final/blob", &b"hello"[..])
            .unwrap();
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Link);
        link.set_size(0);
        builder
            .append_link(&mut link, "./final/again", "./final/blob")
            .unwrap();
        builder.into_inner().unwrap().finish().unwrap();
        let dest = tmp.path().join("out");
        fs::create_dir(&dest).unwrap();
        extract_tgz(&tgz, &dest, None).unwrap();
        assert_eq!(
            fs::read_to_string(dest.join("final/again")).unwrap(),
            "hello"
        );

        fs::write(&tgz, b"not a tarball").unwrap();
        let fresh = tmp.path().join("fresh");
        fs::create_dir(&fresh).unwrap();
        assert!(extract_tgz(&tgz, &fresh, None).is_err());
    }
}
