//! Uploaded zips (package bits, buildpacks): received as a stream into a temporary file, hashed
//! on the way and never held in memory, then inspected before anything is kept. A zip is refused
//! when it is corrupt, when an entry would land outside the directory it is extracted into
//! (absolute paths, `..`, symlinks pointing out), or when it expands beyond the size limit.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::digest::Digests;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

/// Most entries a zip may hold. The zip reader keeps every central-directory entry in memory,
/// so the count is capped (and checked before that directory is read) to keep memory flat.
pub const MAX_ENTRIES: u64 = 100_000;

/// Longest symlink target read from an entry; real targets are paths, far shorter.
const MAX_SYMLINK_TARGET: u64 = 4096;

const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;

/// A file received from a client, removed from disk when dropped unless it has been kept
/// elsewhere (the blobstore copies it; it never moves).
#[derive(Debug)]
pub struct ReceivedFile {
    path: PathBuf,
    pub size: u64,
    pub sha1: String,
    pub sha256: String,
}

impl ReceivedFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ReceivedFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("the upload is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    #[error("cannot write the upload to disk: {0}")]
    Io(#[from] io::Error),
}

/// Streams `body` into a new file under `dir`, computing SHA-1 and SHA-256 as the bytes pass.
/// More than `max_bytes` is refused as soon as it is seen; the partial file is removed.
pub async fn receive<S, E>(
    mut body: S,
    dir: &Path,
    max_bytes: u64,
) -> Result<ReceivedFile, ReceiveError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    tokio::fs::create_dir_all(dir).await?;
    let path = dir.join(format!("upload-{}", uuid::Uuid::new_v4().simple()));
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .await?;
    // From here on, every early return drops `received` and so removes the partial file.
    let mut received = ReceivedFile {
        path,
        size: 0,
        sha1: String::new(),
        sha256: String::new(),
    };
    let mut writer = tokio::io::BufWriter::with_capacity(1024 * 1024, file);
    let mut digests = Digests::default();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| ReceiveError::Interrupted(err.to_string()))?;
        received.size += chunk.len() as u64;
        if received.size > max_bytes {
            return Err(ReceiveError::TooLarge { limit: max_bytes });
        }
        digests.update(&chunk);
        writer.write_all(&chunk).await?;
    }
    writer.flush().await?;
    writer.into_inner().sync_all().await?;
    (received.sha1, received.sha256) = digests.finish();
    Ok(received)
}

/// What a zip must respect to be kept.
#[derive(Debug, Clone, Copy)]
pub struct ZipLimits {
    pub max_uncompressed_bytes: u64,
    pub max_entries: u64,
    /// What the zip holds, for messages: "app", "buildpack".
    pub contents: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("The uploaded file is not a valid zip file: {0}")]
    Corrupt(String),
    #[error("zip entry '{entry}' is corrupt: {problem}")]
    CorruptEntry { entry: String, problem: String },
    #[error("The zip has {count} entries; at most {max} are allowed")]
    TooManyEntries { count: u64, max: u64 },
    #[error("zip entry '{0}' has an absolute path")]
    AbsolutePath(String),
    #[error("zip entry '{entry}' escapes the {contents} directory")]
    EscapesRoot {
        entry: String,
        contents: &'static str,
    },
    #[error("zip entry '{entry}' is a symlink to '{target}', outside the {contents} directory")]
    SymlinkEscapes {
        entry: String,
        target: String,
        contents: &'static str,
    },
    #[error("zip entry '{0}' has a name that cannot be used as a path")]
    UnusableName(String),
    #[error("The zip expands to more than the limit of {limit_mb} MB")]
    TooLarge { limit_mb: u64 },
}

/// What an accepted zip holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZipSummary {
    pub entries: u64,
    pub uncompressed_bytes: u64,
    top_level: BTreeSet<String>,
    bin_at_root: bool,
    bin_one_level_down: bool,
}

impl ZipSummary {
    /// True when `bin/` sits at the root or inside the zip's single top-level folder (as
    /// buildpack zips made by `zip -r x.zip my-buildpack/` have it).
    pub fn has_bin_dir(&self) -> bool {
        self.bin_at_root || (self.top_level.len() == 1 && self.bin_one_level_down)
    }
}

impl ZipLimits {
    /// Most bytes worth receiving for such a zip: its contents plus room for headers, so that a
    /// body far beyond anything acceptable is cut off while it streams instead of filling the disk.
    pub fn max_upload_bytes(&self) -> u64 {
        self.max_uncompressed_bytes.saturating_add(64 * 1024 * 1024)
    }
}

/// `inspect` on the blocking pool. A panic in the zip reader on hostile input counts as a
/// corrupt zip.
pub async fn inspect_in_background(
    path: &Path,
    limits: ZipLimits,
) -> Result<ZipSummary, ArchiveError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || inspect(&path, &limits))
        .await
        .unwrap_or_else(|err| Err(ArchiveError::Corrupt(err.to_string())))
}

/// Checks a zip on disk: the entry count from its end record first, then every entry's name,
/// type and declared size from the central directory, then every entry's contents (which must
/// decompress to exactly the declared size with a matching CRC). Blocking: run it off the
/// async threads.
pub fn inspect(path: &Path, limits: &ZipLimits) -> Result<ZipSummary, ArchiveError> {
    let mut file = File::open(path).map_err(|err| ArchiveError::Corrupt(err.to_string()))?;
    if let Some(count) = declared_entry_count(&mut file) {
        check_entry_count(count, limits)?;
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|err| ArchiveError::Corrupt(err.to_string()))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|err| ArchiveError::Corrupt(err.to_string()))?;
    check_entry_count(zip.len() as u64, limits)?;
    let mut summary = ZipSummary {
        entries: zip.len() as u64,
        ..ZipSummary::default()
    };
    let mut is_symlink = Vec::with_capacity(zip.len());
    for index in 0..zip.len() {
        let entry = zip
            .by_index_raw(index)
            .map_err(|err| ArchiveError::Corrupt(err.to_string()))?;
        let name = entry.name().to_string();
        let components = entry_components(&name, limits)?;
        summary.uncompressed_bytes = summary.uncompressed_bytes.saturating_add(entry.size());
        if summary.uncompressed_bytes > limits.max_uncompressed_bytes {
            return Err(ArchiveError::TooLarge {
                limit_mb: limits.max_uncompressed_bytes / (1024 * 1024),
            });
        }
        is_symlink.push(
            entry
                .unix_mode()
                .is_some_and(|mode| mode & S_IFMT == S_IFLNK),
        );
        summary.note_layout(&components, entry.is_dir());
    }
    for (index, symlink) in is_symlink.into_iter().enumerate() {
        verify_contents(&mut zip, index, symlink, limits)?;
    }
    Ok(summary)
}

fn check_entry_count(count: u64, limits: &ZipLimits) -> Result<(), ArchiveError> {
    if count > limits.max_entries {
        return Err(ArchiveError::TooManyEntries {
            count,
            max: limits.max_entries,
        });
    }
    Ok(())
}

impl ZipSummary {
    fn note_layout(&mut self, components: &[&str], is_dir: bool) {
        let Some(first) = components.first() else {
            return;
        };
        // A name with more parts, or a trailing slash, makes its first part a folder.
        let names_a_folder = |depth: usize| components.len() > depth + 1 || is_dir;
        if self.top_level.len() < 2 {
            self.top_level.insert((*first).to_string());
        }
        if *first == "bin" && names_a_folder(0) {
            self.bin_at_root = true;
        }
        if components.get(1) == Some(&"bin") && names_a_folder(1) {
            self.bin_one_level_down = true;
        }
    }
}

/// The entry's path split into parts, refusing names that could land outside the extraction
/// directory. A `..` is refused wherever it appears, even one that would come back inside:
/// no extractor then has to be trusted to normalise it.
fn entry_components<'n>(name: &'n str, limits: &ZipLimits) -> Result<Vec<&'n str>, ArchiveError> {
    if name.contains('\0') {
        return Err(ArchiveError::UnusableName(name.to_string()));
    }
    if name.starts_with('/') || name.starts_with('\\') || has_drive_prefix(name) {
        return Err(ArchiveError::AbsolutePath(name.to_string()));
    }
    let components: Vec<&str> = name
        .split(['/', '\\'])
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    if components.contains(&"..") {
        return Err(ArchiveError::EscapesRoot {
            entry: name.to_string(),
            contents: limits.contents,
        });
    }
    Ok(components)
}

/// `C:` or `C:\…`: absolute on Windows, and never a sensible relative name.
fn has_drive_prefix(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

/// Decompresses one entry, checking its size and CRC; a symlink's target is read and must
/// resolve inside the extraction directory.
fn verify_contents<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    index: usize,
    is_symlink: bool,
    limits: &ZipLimits,
) -> Result<(), ArchiveError> {
    let mut entry = zip
        .by_index(index)
        .map_err(|err| ArchiveError::Corrupt(err.to_string()))?;
    let name = entry.name().to_string();
    let declared = entry.size();
    let corrupt = |problem: String| ArchiveError::CorruptEntry {
        entry: name.clone(),
        problem,
    };
    if is_symlink {
        let mut target = Vec::new();
        (&mut entry)
            .take(MAX_SYMLINK_TARGET + 1)
            .read_to_end(&mut target)
            .map_err(|err| corrupt(err.to_string()))?;
        return check_symlink_target(&name, &target, limits);
    }
    // One more byte than declared is enough to catch an entry that lies about its size.
    let actual = io::copy(&mut (&mut entry).take(declared + 1), &mut io::sink())
        .map_err(|err| corrupt(err.to_string()))?;
    if actual != declared {
        return Err(corrupt(format!(
            "it declares {declared} bytes but holds {}",
            if actual > declared {
                "more".to_string()
            } else {
                actual.to_string()
            }
        )));
    }
    Ok(())
}

/// A symlink's target is resolved, as the kernel would, from the folder holding the link.
fn check_symlink_target(
    entry: &str,
    target: &[u8],
    limits: &ZipLimits,
) -> Result<(), ArchiveError> {
    let escapes = |target: String| ArchiveError::SymlinkEscapes {
        entry: entry.to_string(),
        target,
        contents: limits.contents,
    };
    if target.len() as u64 > MAX_SYMLINK_TARGET || target.contains(&0) {
        return Err(ArchiveError::UnusableName(entry.to_string()));
    }
    let target = String::from_utf8_lossy(target).into_owned();
    if target.starts_with('/') || target.starts_with('\\') || has_drive_prefix(&target) {
        return Err(escapes(target));
    }
    let link_parts = entry
        .split(['/', '\\'])
        .filter(|part| !part.is_empty() && *part != ".")
        .count();
    let mut depth = link_parts.saturating_sub(1) as i64;
    for part in target.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return Err(escapes(target));
                }
            }
            _ => depth += 1,
        }
    }
    Ok(())
}

/// The entry count from the end-of-central-directory record (or its zip64 form), read before
/// the zip reader loads the whole central directory. `None` when no record is found; the zip
/// reader then reports the file as corrupt.
fn declared_entry_count(file: &mut File) -> Option<u64> {
    const EOCD_SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    const ZIP64_LOCATOR_SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
    const EOCD_MIN: u64 = 22;
    // The record ends the file, followed by a comment of at most 65535 bytes.
    const SEARCH: u64 = EOCD_MIN + 65_535 + 20;
    let len = file.metadata().ok()?.len();
    let start = len.saturating_sub(SEARCH);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut tail = Vec::with_capacity((len - start) as usize);
    file.take(SEARCH).read_to_end(&mut tail).ok()?;
    let at = (0..tail.len().checked_sub(EOCD_MIN as usize - 1)?)
        .rev()
        .find(|&i| tail[i..].starts_with(&EOCD_SIGNATURE))?;
    let count = u16::from_le_bytes([tail[at + 10], tail[at + 11]]);
    if count != u16::MAX {
        return Some(u64::from(count));
    }
    let locator = at.checked_sub(20)?;
    if !tail[locator..].starts_with(&ZIP64_LOCATOR_SIGNATURE) {
        return Some(u64::from(count));
    }
    let zip64_offset = u64::from_le_bytes(tail[locator + 8..locator + 16].try_into().ok()?);
    let mut record = [0u8; 40];
    file.seek(SeekFrom::Start(zip64_offset)).ok()?;
    file.read_exact(&mut record).ok()?;
    Some(u64::from_le_bytes(record[32..40].try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;

    use super::*;

    const LIMITS: ZipLimits = ZipLimits {
        max_uncompressed_bytes: 1024 * 1024,
        max_entries: 10,
        contents: "app",
    };

    fn zip_file(build: impl FnOnce(&mut zip::ZipWriter<File>)) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut writer = zip::ZipWriter::new(file.reopen().unwrap());
        build(&mut writer);
        writer.finish().unwrap();
        file
    }

    fn add(writer: &mut zip::ZipWriter<File>, name: &str, contents: &[u8]) {
        writer
            .start_file(name, SimpleFileOptions::default())
            .unwrap();
        writer.write_all(contents).unwrap();
    }

    #[test]
    fn accepts_an_ordinary_app_with_an_inner_symlink() {
        let file = zip_file(|w| {
            add(w, "index.js", b"console.log(1)");
            w.add_directory("lib/", SimpleFileOptions::default())
                .unwrap();
            add(w, "lib/util.js", b"x");
            w.add_symlink("lib/link", "../index.js", SimpleFileOptions::default())
                .unwrap();
        });
        let summary = inspect(file.path(), &LIMITS).unwrap();
        assert_eq!(summary.entries, 4);
        assert_eq!(
            summary.uncompressed_bytes,
            14 + 1 + "../index.js".len() as u64
        );
        assert!(!summary.has_bin_dir());
    }

    #[test]
    fn refuses_paths_that_leave_the_root() {
        let dotdot = zip_file(|w| add(w, "../evil", b"x"));
        assert_eq!(
            inspect(dotdot.path(), &LIMITS).unwrap_err().to_string(),
            "zip entry '../evil' escapes the app directory"
        );
        let absolute = zip_file(|w| add(w, "/etc/cron.d/x", b"x"));
        assert_eq!(
            inspect(absolute.path(), &LIMITS).unwrap_err(),
            ArchiveError::AbsolutePath("/etc/cron.d/x".into())
        );
        let backslash = zip_file(|w| add(w, "a\\..\\..\\evil", b"x"));
        assert!(matches!(
            inspect(backslash.path(), &LIMITS).unwrap_err(),
            ArchiveError::EscapesRoot { .. }
        ));
        let link = zip_file(|w| {
            w.add_symlink("a/passwd", "../../etc/passwd", SimpleFileOptions::default())
                .unwrap();
        });
        assert_eq!(
            inspect(link.path(), &LIMITS).unwrap_err().to_string(),
            "zip entry 'a/passwd' is a symlink to '../../etc/passwd', outside the app directory"
        );
        let absolute_link = zip_file(|w| {
            w.add_symlink("passwd", "/etc/passwd", SimpleFileOptions::default())
                .unwrap();
        });
        assert!(matches!(
            inspect(absolute_link.path(), &LIMITS).unwrap_err(),
            ArchiveError::SymlinkEscapes { .. }
        ));
    }

    #[test]
    fn refuses_bombs_crowds_and_garbage() {
        let bomb = zip_file(|w| {
            let options =
                SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
            w.start_file("zeros", options).unwrap();
            w.write_all(&vec![0u8; 2 * 1024 * 1024]).unwrap();
        });
        assert_eq!(
            inspect(bomb.path(), &LIMITS).unwrap_err(),
            ArchiveError::TooLarge { limit_mb: 1 }
        );
        let crowd = zip_file(|w| {
            for i in 0..11 {
                add(w, &format!("f{i}"), b"");
            }
        });
        assert_eq!(
            inspect(crowd.path(), &LIMITS).unwrap_err(),
            ArchiveError::TooManyEntries { count: 11, max: 10 }
        );
        let mut garbage = tempfile::NamedTempFile::new().unwrap();
        garbage.write_all(b"this is not a zip at all").unwrap();
        assert!(matches!(
            inspect(garbage.path(), &LIMITS).unwrap_err(),
            ArchiveError::Corrupt(_)
        ));
    }

    #[test]
    fn catches_damaged_contents() {
        let file = zip_file(|w| {
            let stored =
                SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
            w.start_file("a.txt", stored).unwrap();
            w.write_all(b"hello hello hello").unwrap();
        });
        let mut bytes = std::fs::read(file.path()).unwrap();
        let at = bytes
            .windows(5)
            .position(|w| w == b"hello")
            .expect("stored data");
        bytes[at] = b'j';
        std::fs::write(file.path(), &bytes).unwrap();
        assert!(matches!(
            inspect(file.path(), &LIMITS).unwrap_err(),
            ArchiveError::CorruptEntry { .. }
        ));
    }

    #[test]
    fn finds_bin_at_the_root_or_in_one_top_level_folder() {
        let root = zip_file(|w| add(w, "bin/detect", b"#!/bin/sh"));
        assert!(inspect(root.path(), &LIMITS).unwrap().has_bin_dir());
        let nested = zip_file(|w| {
            add(w, "my-bp/bin/detect", b"#!/bin/sh");
            add(w, "my-bp/README", b"");
        });
        assert!(inspect(nested.path(), &LIMITS).unwrap().has_bin_dir());
        let two_folders = zip_file(|w| {
            add(w, "a/bin/detect", b"");
            add(w, "b/README", b"");
        });
        assert!(!inspect(two_folders.path(), &LIMITS).unwrap().has_bin_dir());
        let bin_file = zip_file(|w| add(w, "bin", b""));
        assert!(!inspect(bin_file.path(), &LIMITS).unwrap().has_bin_dir());
    }

    #[tokio::test]
    async fn receive_hashes_and_caps_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let chunks = vec![
            Ok::<_, std::convert::Infallible>(Bytes::from_static(b"abc")),
            Ok(Bytes::from_static(b"def")),
        ];
        let received = receive(futures::stream::iter(chunks.clone()), dir.path(), 6)
            .await
            .unwrap();
        assert_eq!(received.size, 6);
        assert_eq!(
            received.sha256,
            "bef57ec7f53a6d40beb640a780a639c83bc29ac8a9816f1fc6c5c6dcd93c4721"
        );
        assert_eq!(received.sha1, "1f8ac10f23c5b5bc1167bda84b833e5c057a77d2");
        assert_eq!(std::fs::read(received.path()).unwrap(), b"abcdef");
        let kept = received.path().to_path_buf();
        drop(received);
        assert!(!kept.exists(), "dropping the upload removes its file");
        let err = receive(futures::stream::iter(chunks), dir.path(), 5)
            .await
            .unwrap_err();
        assert!(matches!(err, ReceiveError::TooLarge { limit: 5 }));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
