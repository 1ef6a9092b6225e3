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
use std::sync::atomic::{AtomicBool, Ordering};

use flate2::read::GzDecoder;
use ladle_archive::zip_file::{self, CheckedZip, SharedFile, ZipFileError};
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
///
/// Folders first, one by one, each checked to be a real folder; then the files, inflated on as
/// many threads as there are cores (each a clone of the archive, reading its own part of the
/// zip); then the symlinks, once nothing more is written below any folder.
pub fn extract_zip(
    zip_path: &Path,
    dest: &Path,
    owner: Option<(u32, u32)>,
    limits: &Limits,
) -> Result<(), ArchiveError> {
    let file = SharedFile::new(File::open(zip_path)?)?;
    let CheckedZip { archive, plan } = zip_file::check(file, limits)?;
    let mut out = Unpacker::new(dest, owner);
    let mut files = Vec::new();
    let mut links = Vec::new();
    for placed in &plan {
        match &placed.kind {
            Placement::Dir => out.place(placed, |_, _| Ok(()))?,
            Placement::File { size } => {
                out.ensure_parent(&placed.path)?;
                files.push((placed, *size));
            }
            Placement::Symlink { .. } | Placement::HardLink { .. } => links.push(placed),
        }
    }
    let unpacker = &out;
    let workers = split_by_size(&files, unpack_threads());
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let running: Vec<_> = workers
            .into_iter()
            .map(|share| {
                let mut archive = archive.clone();
                let failed = &failed;
                scope.spawn(move || {
                    let unpacked = share.iter().try_for_each(|&(placed, size)| {
                        if failed.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        unpacker.new_file(&placed.path, placed.mode, |file| {
                            let mut entry = archive
                                .by_index(placed.index)
                                .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
                            let name = entry.name().to_string();
                            Ok(zip_file::copy_exact(&mut entry, &name, size, file)?)
                        })
                    });
                    if unpacked.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    unpacked
                })
            })
            .collect();
        // The scope joins every thread before it returns, even after the first error.
        running.into_iter().try_for_each(|worker| {
            worker
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("unpacking thread panicked").into()))
        })
    })?;
    for placed in links {
        out.place(placed, |_, _| Ok(()))?;
    }
    Ok(())
}

/// Below this many bytes a second thread costs more than it saves.
const BYTES_PER_THREAD: u64 = 1 << 20;

fn unpack_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Splits the files into at most `threads` runs of neighbouring entries with about as many bytes
/// each, so every thread reads one stretch of the zip in order.
fn split_by_size<'a>(files: &[(&'a Placed, u64)], threads: usize) -> Vec<Vec<(&'a Placed, u64)>> {
    let total: u64 = files.iter().map(|(_, size)| *size).sum();
    let threads = threads.clamp(1, (total / BYTES_PER_THREAD).max(1) as usize);
    let share = total.div_ceil(threads as u64).max(1);
    let mut runs = vec![Vec::new()];
    let mut in_run = 0u64;
    for &(placed, size) in files {
        if in_run >= share && runs.len() < threads {
            runs.push(Vec::new());
            in_run = 0;
        }
        runs.last_mut().expect("never empty").push((placed, size));
        in_run += size;
    }
    runs
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
        self.new_file(rel, mode, contents)
    }

    /// Creates `rel`, whose parent the caller made sure is a real folder, and fills it.
    fn new_file(
        &self,
        rel: &Path,
        mode: u32,
        contents: impl FnOnce(&mut File) -> Result<(), ArchiveError>,
    ) -> Result<(), ArchiveError> {
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

    /// Enough bytes for every core to get a share: the threaded path, checked byte for byte.
    #[test]
    fn large_zips_unpack_on_threads_exactly_as_listed() {
        use std::io::Write;
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let contents = |i: u64| -> Vec<u8> {
            (0..100_000u64 + i)
                .map(|n| ((n ^ i).wrapping_mul(2_654_435_761) >> 11) as u8)
                .collect()
        };
        let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        let options = |mode: u32| zip::write::SimpleFileOptions::default().unix_permissions(mode);
        zip.add_directory("a/", options(0o755)).unwrap();
        zip.add_directory("a/b/", options(0o750)).unwrap();
        let mut expected = Vec::new();
        for i in 0..48u64 {
            let name = format!("{}/file-{i}", if i % 3 == 0 { "a" } else { "a/b" });
            let mode = if i % 2 == 0 { 0o640 } else { 0o755 };
            zip.start_file(name.as_str(), options(mode)).unwrap();
            zip.write_all(&contents(i)).unwrap();
            expected.push((name, mode, contents(i)));
        }
        zip.add_symlink("link", "a/b", options(0o777)).unwrap();
        let archive = tmp.path().join("big.zip");
        fs::write(&archive, zip.finish().unwrap().into_inner()).unwrap();
        let dest = tmp.path().join("out");
        fs::create_dir(&dest).unwrap();

        extract_zip(&archive, &dest, None, &Limits::with_max_bytes(1 << 30)).unwrap();
        for (name, mode, bytes) in &expected {
            let path = dest.join(name);
            assert!(fs::read(&path).unwrap() == *bytes, "{name}: contents");
            assert_eq!(
                fs::metadata(&path).unwrap().mode() & 0o7777,
                *mode,
                "{name}"
            );
        }
        assert_eq!(
            fs::metadata(dest.join("a/b")).unwrap().mode() & 0o7777,
            0o750
        );
        assert_eq!(fs::read_link(dest.join("link")).unwrap(), Path::new("a/b"));
        let unpacked = fs::read_dir(dest.join("a")).unwrap().count()
            + fs::read_dir(dest.join("a/b")).unwrap().count();
        assert_eq!(unpacked, expected.len() + 1, "every file, nothing else");
    }

    #[test]
    fn files_are_shared_out_in_runs_of_about_as_many_bytes() {
        let placed: Vec<Placed> = (0..10)
            .map(|index| Placed {
                index,
                path: PathBuf::from(format!("f{index}")),
                kind: Placement::File { size: 1 << 20 },
                mode: 0o644,
            })
            .collect();
        let files: Vec<(&Placed, u64)> = placed.iter().map(|p| (p, 1 << 20)).collect();
        let indexes = |runs: Vec<Vec<(&Placed, u64)>>| -> Vec<Vec<usize>> {
            runs.iter()
                .map(|run| run.iter().map(|(p, _)| p.index).collect())
                .collect()
        };
        assert_eq!(
            indexes(split_by_size(&files, 2)),
            [vec![0, 1, 2, 3, 4], vec![5, 6, 7, 8, 9]]
        );
        assert_eq!(indexes(split_by_size(&files, 1)).len(), 1);
        // Small archives stay on one thread.
        let small: Vec<(&Placed, u64)> = placed.iter().map(|p| (p, 1000)).collect();
        assert_eq!(indexes(split_by_size(&small, 8)).len(), 1);
        assert_eq!(split_by_size(&[], 4).len(), 1);
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
