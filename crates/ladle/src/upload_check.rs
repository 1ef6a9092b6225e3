//! Uploaded zips (package bits, buildpacks): received as a stream into a temporary file, hashed
//! on the way and never held in memory, then checked before anything is kept. The check is the
//! archive policy the stager and the builder unpack by (`ladle-archive`): a zip is kept only if
//! staging will unpack it, and refused here with the words staging would use. Every file's
//! contents are also decompressed once, so a corrupt or lying entry is caught at the door.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use crate::digest::Digests;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use ladle_archive::zip_file::{self, CheckedZip, ZipFileError};
use ladle_archive::{Limits, Placement, Refusal};
use tokio::io::AsyncWriteExt;

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

/// What a zip must respect to be kept: the archive policy's limits, and what it holds for
/// messages ("app", "buildpack").
#[derive(Debug, Clone, Copy)]
pub struct ZipLimits {
    pub limits: Limits,
    pub contents: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("The uploaded file is not a valid zip file: {0}")]
    Corrupt(String),
    #[error("The {contents} upload is invalid: zip entry '{entry}' is corrupt: {problem}")]
    CorruptEntry {
        entry: String,
        problem: String,
        contents: &'static str,
    },
    /// Refused by the archive policy the stager and the builder apply too, in its words.
    #[error("The {contents} upload is invalid: zip {refusal}")]
    Refused {
        refusal: Refusal,
        contents: &'static str,
    },
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
        self.limits.max_bytes.saturating_add(64 * 1024 * 1024)
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

/// Checks a zip on disk as the stager and the builder will unpack it: every entry through the
/// archive policy, then every file's contents, which must decompress to exactly the declared
/// size with a matching CRC. Blocking: run it off the async threads.
pub fn inspect(path: &Path, limits: &ZipLimits) -> Result<ZipSummary, ArchiveError> {
    let error = |err: ZipFileError| match err {
        ZipFileError::Corrupt(problem) => ArchiveError::Corrupt(problem),
        ZipFileError::Io(err) => ArchiveError::Corrupt(err.to_string()),
        ZipFileError::CorruptEntry { entry, problem } => ArchiveError::CorruptEntry {
            entry,
            problem,
            contents: limits.contents,
        },
        ZipFileError::Refused(refusal) => ArchiveError::Refused {
            refusal,
            contents: limits.contents,
        },
    };
    let file = File::open(path).map_err(|err| ArchiveError::Corrupt(err.to_string()))?;
    let CheckedZip { mut archive, plan } =
        zip_file::check(BufReader::new(file), &limits.limits).map_err(error)?;
    let mut summary = ZipSummary {
        entries: archive.len() as u64,
        ..ZipSummary::default()
    };
    for placed in &plan {
        summary.note_layout(&placed.path, placed.kind == Placement::Dir);
        match &placed.kind {
            Placement::File { size } => {
                summary.uncompressed_bytes += size;
                let mut entry = archive
                    .by_index(placed.index)
                    .map_err(|err| ArchiveError::Corrupt(err.to_string()))?;
                let name = entry.name().to_string();
                zip_file::copy_exact(&mut entry, &name, *size, &mut io::sink()).map_err(error)?;
            }
            Placement::Symlink { target } => summary.uncompressed_bytes += target.len() as u64,
            Placement::Dir | Placement::HardLink { .. } => {}
        }
    }
    Ok(summary)
}

impl ZipSummary {
    fn note_layout(&mut self, path: &Path, is_dir: bool) {
        let components: Vec<&str> = path.iter().filter_map(|part| part.to_str()).collect();
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use ladle_archive::cases;
    use zip::write::SimpleFileOptions;

    use super::*;

    const LIMITS: ZipLimits = ZipLimits {
        limits: Limits {
            max_bytes: 1024 * 1024,
            max_entries: 10,
        },
        contents: "app",
    };

    fn zip_on_disk(build: impl FnOnce(&mut zip::ZipWriter<File>)) -> tempfile::NamedTempFile {
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
        let file = zip_on_disk(|w| {
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

    /// The shared table of hostile and benign archives, with buildpack limits (the stager and
    /// the builder unpack buildpacks with the same).
    #[test]
    fn the_shared_table_gets_the_policy_verdicts() {
        let limits = ZipLimits {
            limits: Limits::BUILDPACK,
            contents: "buildpack",
        };
        for case in cases::table() {
            let Some(bytes) = case.zip() else {
                continue;
            };
            let mut file = tempfile::NamedTempFile::new().unwrap();
            file.write_all(&bytes).unwrap();
            match (inspect(file.path(), &limits), case.refusal()) {
                (Ok(_), None) => {}
                (Err(err), None) => panic!("{}: refused: {err}", case.name),
                (Ok(_), Some(words)) => panic!("{}: accepted, expected {words:?}", case.name),
                (Err(err), Some(words)) => {
                    let message = err.to_string();
                    assert!(message.contains(words), "{}: {message}", case.name);
                    assert!(
                        message.starts_with("The buildpack upload is invalid: zip ")
                            || matches!(err, ArchiveError::Corrupt(_)),
                        "{}: {message}",
                        case.name
                    );
                }
            }
        }
    }

    #[test]
    fn refuses_bombs_crowds_and_garbage() {
        let bomb = zip_on_disk(|w| {
            let options =
                SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
            w.start_file("zeros", options).unwrap();
            w.write_all(&vec![0u8; 2 * 1024 * 1024]).unwrap();
        });
        assert_eq!(
            inspect(bomb.path(), &LIMITS).unwrap_err().to_string(),
            "The app upload is invalid: zip expands to more than the limit of 1 MB"
        );
        let crowd = zip_on_disk(|w| {
            for i in 0..11 {
                add(w, &format!("f{i}"), b"");
            }
        });
        assert_eq!(
            inspect(crowd.path(), &LIMITS).unwrap_err(),
            ArchiveError::Refused {
                refusal: Refusal::TooManyEntries { max: 10 },
                contents: "app"
            }
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
        let file = zip_on_disk(|w| {
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
        let root = zip_on_disk(|w| add(w, "bin/detect", b"#!/bin/sh"));
        assert!(inspect(root.path(), &LIMITS).unwrap().has_bin_dir());
        let nested = zip_on_disk(|w| {
            add(w, "my-bp/bin/detect", b"#!/bin/sh");
            add(w, "my-bp/README", b"");
        });
        assert!(inspect(nested.path(), &LIMITS).unwrap().has_bin_dir());
        let windows = zip_on_disk(|w| add(w, "my-bp\\bin\\detect", b"#!/bin/sh"));
        assert!(inspect(windows.path(), &LIMITS).unwrap().has_bin_dir());
        let two_folders = zip_on_disk(|w| {
            add(w, "a/bin/detect", b"");
            add(w, "b/README", b"");
        });
        assert!(!inspect(two_folders.path(), &LIMITS).unwrap().has_bin_dir());
        let bin_file = zip_on_disk(|w| add(w, "bin", b""));
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
