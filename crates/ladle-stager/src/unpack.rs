//! Unpacking hostile archives (app zips, admin buildpack zips, build caches) as root.
//!
//! What may be unpacked is the archive policy's call (`ladle-archive`, which the upload check
//! and the builder apply too): a zip is checked whole before anything is written, a cache tgz
//! entry by entry as it streams; only what the policy placed is written, where it placed it,
//! without set-id bits.
//! What stays here is writing as root without trusting the tree on disk: nothing is ever
//! written through a symlink (every parent is checked, files are created with O_EXCL and
//! O_NOFOLLOW), everything is handed to the staging user, and tar hard links become copies.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use ladle_archive::zip_file::{self, CheckedZip, ZipFileError};
use ladle_archive::{Checker, Entry, Format, Kind, Limits, Placed, Placement, Refusal};

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot read archive: {0}")]
    Corrupt(String),
    /// Refused by the archive policy, in its words.
    #[error("archive {0}")]
    Refused(#[from] Refusal),
    /// What is already on disk would make writing `path` unsafe (the policy keeps an archive
    /// from doing this to itself; this guards the writes regardless).
    #[error("refused to unpack {path:?}: {reason}")]
    Unsafe { path: PathBuf, reason: &'static str },
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl ArchiveError {
    /// True when the destination filesystem ran out of space or inodes.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, ArchiveError::Io(e) if e.raw_os_error() == Some(libc::ENOSPC) || e.raw_os_error() == Some(libc::EDQUOT))
    }
}

impl From<ZipFileError> for ArchiveError {
    fn from(e: ZipFileError) -> Self {
        match e {
            ZipFileError::Refused(refusal) => ArchiveError::Refused(refusal),
            ZipFileError::Io(io) => ArchiveError::Io(io),
            corrupt => ArchiveError::Corrupt(corrupt.to_string()),
        }
    }
}

/// Unpacks a zip into `dest` (which must exist and be empty). `owner` = chown every entry.
pub fn extract_zip(
    zip_path: &Path,
    dest: &Path,
    owner: Option<(u32, u32)>,
    limits: &Limits,
) -> Result<(), ArchiveError> {
    let file = BufReader::new(File::open(zip_path)?);
    let CheckedZip { mut archive, plan } = zip_file::check(file, limits)?;
    let mut out = Unpacker::new(dest, owner);
    for placed in &plan {
        out.place(placed, |file, size| {
            let mut entry = archive
                .by_index(placed.index)
                .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
            let name = entry.name().to_string();
            Ok(zip_file::copy_exact(&mut entry, &name, size, file)?)
        })?;
    }
    Ok(())
}

/// Unpacks a gzip tar (a build-artifacts cache) into `dest` (which must exist and be empty).
/// The policy judges each entry as it streams past, before it is written, and the symlinks
/// once all are in; a refused cache leaves a partial tree that the caller clears.
pub fn extract_tgz(
    tgz_path: &Path,
    dest: &Path,
    owner: Option<(u32, u32)>,
    limits: &Limits,
) -> Result<(), ArchiveError> {
    let mut checker = Checker::new(Format::Tar, limits);
    let mut out = Unpacker::new(dest, owner);
    let mut archive = open_tgz(tgz_path)?;
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let Some(listed) = tar_entry(&entry) else {
            continue;
        };
        if let Some(placed) = checker.add(&listed)? {
            out.place(&placed, |file, _| {
                io::copy(&mut entry, file).map_err(corrupt)?;
                Ok(())
            })?;
        }
    }
    Ok(checker.finish()?)
}

fn open_tgz(path: &Path) -> Result<tar::Archive<GzDecoder<BufReader<File>>>, ArchiveError> {
    let file = BufReader::new(File::open(path)?);
    Ok(tar::Archive::new(GzDecoder::new(file)))
}

/// A tar member as the policy sees it; `None` for the pax global header, which describes no
/// file (the tar reader folds the other extension headers into the member they describe).
fn tar_entry<R: Read>(entry: &tar::Entry<R>) -> Option<Entry> {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let link = || {
        entry
            .link_name_bytes()
            .map(|target| text(&target))
            .unwrap_or_default()
    };
    let kind = match entry.header().entry_type() {
        tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => return None,
        tar::EntryType::Directory => Kind::Dir,
        tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
        tar::EntryType::Symlink => Kind::Symlink { target: link() },
        tar::EntryType::Link => Kind::HardLink { target: link() },
        _ => Kind::Special,
    };
    Some(Entry {
        name: text(&entry.path_bytes()),
        kind,
        mode: entry.header().mode().ok(),
        size: entry.size(),
    })
}

fn corrupt(e: io::Error) -> ArchiveError {
    if e.kind() == io::ErrorKind::Other
        || e.kind() == io::ErrorKind::InvalidData
        || e.kind() == io::ErrorKind::InvalidInput
        || e.kind() == io::ErrorKind::UnexpectedEof
    {
        ArchiveError::Corrupt(e.to_string())
    } else {
        ArchiveError::Io(e)
    }
}

struct Unpacker<'a> {
    root: &'a Path,
    owner: Option<(u32, u32)>,
    /// Directories known to be real (not symlinks), so parents are checked once.
    real_dirs: HashSet<PathBuf>,
}

impl<'a> Unpacker<'a> {
    fn new(root: &'a Path, owner: Option<(u32, u32)>) -> Self {
        let mut real_dirs = HashSet::new();
        real_dirs.insert(PathBuf::new());
        Unpacker {
            root,
            owner,
            real_dirs,
        }
    }

    /// Writes one placed entry; `contents` fills a new file with the entry's declared size.
    fn place(
        &mut self,
        placed: &Placed,
        contents: impl FnOnce(&mut File, u64) -> Result<(), ArchiveError>,
    ) -> Result<(), ArchiveError> {
        let rel = &placed.path;
        match &placed.kind {
            Placement::Dir => {
                self.ensure_dir(rel)?;
                fs::set_permissions(self.root.join(rel), fs::Permissions::from_mode(placed.mode))?;
                Ok(())
            }
            Placement::File { size } => self.file(rel, placed.mode, |file| contents(file, *size)),
            Placement::Symlink { target } => self.symlink(rel, target),
            Placement::HardLink { source } => self.hardlink(rel, source, placed.mode),
        }
    }

    fn file(
        &mut self,
        rel: &Path,
        mode: u32,
        contents: impl FnOnce(&mut File) -> Result<(), ArchiveError>,
    ) -> Result<(), ArchiveError> {
        self.ensure_parent(rel)?;
        let path = self.root.join(rel);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| already_there(e, rel))?;
        contents(&mut file)?;
        // The umask may have narrowed the mode given at creation.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        self.chown(&path)
    }

    fn symlink(&mut self, rel: &Path, target: &str) -> Result<(), ArchiveError> {
        self.ensure_parent(rel)?;
        let path = self.root.join(rel);
        std::os::unix::fs::symlink(target, &path).map_err(|e| already_there(e, rel))?;
        self.chown(&path)
    }

    /// Tar hard links become copies of the file unpacked earlier at `source`.
    fn hardlink(&mut self, rel: &Path, source: &Path, mode: u32) -> Result<(), ArchiveError> {
        self.ensure_parent(source)?;
        let mut input = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(self.root.join(source))
            .map_err(|_| unsafe_path(rel, "hard link to something that is not a file"))?;
        if !input.metadata()?.is_file() {
            return Err(unsafe_path(
                rel,
                "hard link to something that is not a file",
            ));
        }
        self.file(rel, mode, |file| {
            io::copy(&mut input, file)?;
            Ok(())
        })
    }

    fn ensure_parent(&mut self, rel: &Path) -> Result<(), ArchiveError> {
        match rel.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => self.ensure_dir(parent),
            _ => Ok(()),
        }
    }

    /// Creates `rel` and its ancestors as real directories, refusing to pass through a symlink
    /// or a file.
    fn ensure_dir(&mut self, rel: &Path) -> Result<(), ArchiveError> {
        let mut current = PathBuf::new();
        for component in rel.components() {
            current.push(component);
            if self.real_dirs.contains(&current) {
                continue;
            }
            let path = self.root.join(&current);
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(unsafe_path(rel, "path goes through a symlink"))
                }
                Ok(meta) if !meta.is_dir() => {
                    return Err(unsafe_path(rel, "path goes through a file"))
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

fn unsafe_path(rel: &Path, reason: &'static str) -> ArchiveError {
    ArchiveError::Unsafe {
        path: rel.to_path_buf(),
        reason,
    }
}

fn already_there(e: io::Error, rel: &Path) -> ArchiveError {
    if e.kind() == io::ErrorKind::AlreadyExists || e.raw_os_error() == Some(libc::ELOOP) {
        unsafe_path(rel, "something is already there")
    } else {
        ArchiveError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ladle_archive::cases;

    const LIMITS: Limits = Limits::BUILDPACK;

    type Extract = fn(&Path, &Path, Option<(u32, u32)>, &Limits) -> Result<(), ArchiveError>;

    fn unpack(bytes: &[u8], extract: Extract) -> (tempfile::TempDir, Result<(), ArchiveError>) {
        let tmp = tempfile::tempdir().unwrap();
        let archive = tmp.path().join("archive");
        fs::write(&archive, bytes).unwrap();
        let dest = tmp.path().join("out");
        fs::create_dir(&dest).unwrap();
        let result = extract(&archive, &dest, None, &LIMITS);
        (tmp, result)
    }

    /// Every case of the shared table, as a zip and as a tgz, unpacked as staging unpacks it.
    #[test]
    fn the_shared_table_unpacks_or_is_refused_before_anything_is_written() {
        let mut runs = 0;
        for case in cases::table() {
            let forms = [
                ("zip", case.zip(), extract_zip as Extract),
                ("tgz", case.tgz(), extract_tgz as Extract),
            ];
            for (form, bytes, extract) in forms {
                let Some(bytes) = bytes else {
                    continue;
                };
                runs += 1;
                let (tmp, result) = unpack(&bytes, extract);
                let out = tmp.path().join("out");
                match (case.refusal(), result) {
                    (None, Ok(())) => case.assert_unpacked(&out),
                    (None, Err(err)) => panic!("{} ({form}): refused: {err}", case.name),
                    (Some(words), Ok(())) => {
                        panic!("{} ({form}): unpacked, expected {words:?}", case.name)
                    }
                    (Some(words), Err(err)) => {
                        assert!(
                            err.to_string().contains(words),
                            "{} ({form}): {err} lacks {words:?}",
                            case.name
                        );
                        // A zip is judged whole first (one whose contents lie is found out
                        // while writing); a tgz as it streams, so what came before stays.
                        let written = fs::read_dir(&out).unwrap().count();
                        if form == "zip" && !words.contains("is corrupt") {
                            assert_eq!(written, 0, "{} ({form}): nothing written", case.name);
                        }
                        let mut beside: Vec<_> = fs::read_dir(tmp.path())
                            .unwrap()
                            .map(|e| e.unwrap().file_name())
                            .collect();
                        beside.sort();
                        assert_eq!(beside, ["archive", "out"], "{}: nothing outside", case.name);
                    }
                }
            }
        }
        assert!(runs >= 35, "only {runs} archives ran");
    }

    #[test]
    fn refusals_name_the_entry_in_the_policy_words() {
        let case = cases::named("symlink chain escaping (a/b -> .., c -> a/b/../..)");
        let (_tmp, result) = unpack(&case.zip().unwrap(), extract_zip);
        assert_eq!(
            result.unwrap_err().to_string(),
            "archive entry 'c' is a symlink to 'a/b/../..', outside of root folder"
        );
    }

    #[test]
    fn never_writes_through_what_is_already_there() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("out");
        let outside = tmp.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::create_dir(&dest).unwrap();
        std::os::unix::fs::symlink(&outside, dest.join("lib")).unwrap();
        let case = cases::named("nested folders and in-tree symlinks");
        let zip = tmp.path().join("app.zip");
        fs::write(&zip, case.zip().unwrap()).unwrap();
        let err = extract_zip(&zip, &dest, None, &LIMITS).unwrap_err();
        assert!(matches!(err, ArchiveError::Unsafe { .. }), "{err:?}");
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    }

    #[test]
    fn limits_are_the_callers() {
        let case = cases::named("nested folders and in-tree symlinks");
        let tmp = tempfile::tempdir().unwrap();
        let zip = tmp.path().join("app.zip");
        fs::write(&zip, case.zip().unwrap()).unwrap();
        let err = extract_zip(&zip, tmp.path(), None, &Limits::with_max_bytes(10)).unwrap_err();
        assert!(
            matches!(err, ArchiveError::Refused(Refusal::TooLarge { limit: 10 })),
            "{err:?}"
        );
    }

    #[test]
    fn garbage_is_corrupt() {
        for extract in [extract_zip as Extract, extract_tgz] {
            let (_tmp, result) = unpack(b"not an archive", extract);
            assert!(
                matches!(result, Err(ArchiveError::Corrupt(_))),
                "{result:?}"
            );
        }
    }
}
