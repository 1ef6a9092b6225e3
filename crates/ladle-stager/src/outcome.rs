//! Turning what the builder left behind into a droplet or one of Cloud Controller's errors.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{mpsc, Arc};

use ladle_contract::paths::STAGING_DETAILS_FILE;
use ladle_contract::{exit_codes, StagingDetails, StagingResult};
use serde::de::DeserializeOwned;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::prepare::{disk_limit_failure, host_failure};
use crate::request::{Digests, ExecutorKind, FailureKind, StagingFailure, StagingSuccess};

/// result.json and ladle-staging.json are small; anything bigger is not ours to parse.
const MAX_RESULT_BYTES: u64 = 16 * 1024 * 1024;

/// The builder's two JSON files, each if it wrote a readable one.
#[derive(Debug, Default)]
pub(crate) struct Written {
    pub result: Option<StagingResult>,
    pub details: Option<StagingDetails>,
}

/// What a staging that went well produced, before its droplet is collected.
#[derive(Debug)]
pub(crate) struct Staged {
    pub result: StagingResult,
    pub details: StagingDetails,
}

/// What the run looked like from the outside.
pub(crate) struct Observed {
    /// The builder announced at least one phase.
    pub builder_started: bool,
    pub exit: Option<i32>,
    pub timed_out: bool,
    pub oom_killed: bool,
    pub pids_exhausted: bool,
    pub disk_full: bool,
}

pub(crate) struct Limits {
    pub memory_mb: u64,
    pub disk_mb: u64,
    pub pids: u64,
    pub timeout_secs: u64,
}

/// Decides the outcome. Limits are checked before the exit code, since a buildpack killed by
/// the kernel usually makes the builder report an ordinary compile failure.
pub(crate) fn judge(
    observed: &Observed,
    limits: &Limits,
    written: Written,
) -> Result<Staged, StagingFailure> {
    let Written { result, details } = written;
    let partial = result.clone().map(Box::new);
    let failure = |kind, message: String| StagingFailure {
        kind,
        message,
        result: partial.clone(),
    };
    if observed.timed_out {
        let message = format!(
            "staging exceeded its time limit of {} seconds",
            limits.timeout_secs
        );
        return Err(failure(FailureKind::StagingTimeExpired, message));
    }
    let code = observed.exit.unwrap_or(-1);
    if code == 0 {
        let result = result.ok_or_else(|| {
            StagingFailure::new(
                FailureKind::StagingError,
                "the builder wrote no result.json",
            )
        })?;
        // Without ladle-staging.json (CF's own builder writes none) the droplet only lacks
        // its detect output.
        let details = details.unwrap_or_default();
        return Ok(Staged { result, details });
    }
    if observed.oom_killed {
        let message = format!(
            "staging exceeded its memory limit of {} MB",
            limits.memory_mb
        );
        return Err(failure(FailureKind::StagingError, message));
    }
    if observed.disk_full {
        return Err(StagingFailure {
            result: partial,
            ..disk_limit_failure(limits.disk_mb)
        });
    }
    if observed.pids_exhausted {
        let message = format!(
            "staging exceeded its process limit of {} processes",
            limits.pids
        );
        return Err(failure(FailureKind::StagingError, message));
    }
    if !observed.builder_started && result.is_none() && details.is_none() {
        // Neither a phase marker nor an output file: runc or the builder's flag parsing
        // failed, which is our fault, not the app's.
        let message = format!("the builder did not run (exit status {code})");
        return Err(StagingFailure::stager(message));
    }
    let kind = kind_for_exit_code(code);
    let message = details
        .and_then(|d| d.failure)
        .map(|f| f.message)
        .unwrap_or_else(|| default_message(kind, code));
    Err(failure(kind, message))
}

/// Cloud Controller's mapping of the builder's exit status.
pub(crate) fn kind_for_exit_code(code: i32) -> FailureKind {
    match code {
        exit_codes::DETECT_FAILED => FailureKind::NoAppDetected,
        exit_codes::COMPILE_FAILED => FailureKind::BuildpackCompileFailed,
        exit_codes::RELEASE_FAILED => FailureKind::BuildpackReleaseFailed,
        _ => FailureKind::StagingError,
    }
}

/// Cloud Controller's descriptions, for when the builder could not say more itself.
fn default_message(kind: FailureKind, code: i32) -> String {
    match kind {
        FailureKind::NoAppDetected => {
            "An app was not successfully detected by any available buildpack".into()
        }
        FailureKind::BuildpackCompileFailed => {
            "App staging failed in the buildpack compile phase".into()
        }
        FailureKind::BuildpackReleaseFailed => {
            "App staging failed in the buildpack release phase".into()
        }
        _ => format!("staging failed: the builder exited with status {code}"),
    }
}

/// result.json and ladle-staging.json from the workspace.
pub(crate) fn read_written(ws: &Path) -> Written {
    Written {
        result: read_json(ws, "result.json"),
        details: read_json(ws, STAGING_DETAILS_FILE),
    }
}

fn read_json<T: DeserializeOwned>(ws: &Path, name: &str) -> Option<T> {
    let mut file = open_output(ws, name).ok()?;
    let mut text = String::new();
    file.by_ref()
        .take(MAX_RESULT_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    match serde_json::from_str(&text) {
        Ok(parsed) => Some(parsed),
        Err(e) => {
            tracing::warn!(error = %e, "{name} is not valid");
            None
        }
    }
}

/// Copies droplet (required) and cache (optional) to the caller's folder, hashing each on the
/// way: the caller stores them with these digests and need not read them again.
pub(crate) fn deliver(
    ws: &Path,
    output_dir: &Path,
    staged: Staged,
    executor: ExecutorKind,
) -> Result<StagingSuccess, StagingFailure> {
    let Staged { result, details } = staged;
    fs::create_dir_all(output_dir)
        .map_err(|e| host_failure("could not create the output folder", &e))?;
    let droplet = output_dir.join("droplet.tgz");
    let droplet_digests = match open_output(ws, "droplet.tgz") {
        Ok(file) => copy_hashed(file, &droplet)
            .map_err(|e| host_failure("could not copy the droplet", &e))?,
        Err(_) => {
            let failure =
                StagingFailure::new(FailureKind::StagingError, "the builder produced no droplet");
            return Err(StagingFailure {
                result: Some(Box::new(result)),
                ..failure
            });
        }
    };
    let cache = match open_output(ws, "cache.tgz") {
        Ok(file) => {
            let path = output_dir.join("cache.tgz");
            let digests = copy_hashed(file, &path)
                .map_err(|e| host_failure("could not copy the build cache", &e))?;
            Some((path, digests))
        }
        Err(_) => None,
    };
    Ok(StagingSuccess {
        result,
        details,
        droplet,
        droplet_digests,
        cache,
        executor,
    })
}

/// Opens `output/<name>` without following symlinks anywhere on the way: the staging user
/// owns that folder, and we read it as root.
fn open_output(ws: &Path, name: &str) -> io::Result<File> {
    let dir = ws.join("output");
    let meta = fs::symlink_metadata(&dir)?;
    if !meta.is_dir() {
        return Err(io::Error::other("output is not a folder"));
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(dir.join(name))?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(format!("{name} is not a regular file")));
    }
    Ok(file)
}

/// Bytes read per chunk while copying an output.
const COPY_CHUNK: usize = 1 << 20;
/// Chunks queued for each digest: the memory a copy may hold is bounded whatever the size.
const CHUNKS_QUEUED: usize = 4;

/// Copies `from` into a new file `to` in one pass, sha1 and sha256 each computed on a thread of
/// its own from the chunks as they go by, so the copy takes about as long as the slowest of the
/// three. Nothing is synced: the file is a step on the way to the blobstore, which makes the
/// droplet durable (or not) as it does every blob.
fn copy_hashed(mut from: File, to: &Path) -> io::Result<Digests> {
    use std::io::Write;
    let mut out = File::create(to)?;
    std::thread::scope(|scope| {
        let (to_sha1, chunks_sha1) = mpsc::sync_channel::<Arc<Vec<u8>>>(CHUNKS_QUEUED);
        let (to_sha256, chunks_sha256) = mpsc::sync_channel::<Arc<Vec<u8>>>(CHUNKS_QUEUED);
        let sha1 = scope.spawn(move || hex_digest::<Sha1>(chunks_sha1));
        let sha256 = scope.spawn(move || hex_digest::<Sha256>(chunks_sha256));
        let copied = (|| -> io::Result<()> {
            loop {
                let mut chunk = vec![0u8; COPY_CHUNK];
                let read = read_full(&mut from, &mut chunk)?;
                if read == 0 {
                    return Ok(());
                }
                chunk.truncate(read);
                out.write_all(&chunk)?;
                let chunk = Arc::new(chunk);
                // A hashing thread only stops early by panicking, which the join reports.
                let _ = to_sha1.send(chunk.clone());
                let _ = to_sha256.send(chunk);
            }
        })();
        drop((to_sha1, to_sha256));
        let sha1 = sha1
            .join()
            .map_err(|_| io::Error::other("sha1 thread panicked"))?;
        let sha256 = sha256
            .join()
            .map_err(|_| io::Error::other("sha256 thread panicked"))?;
        copied.map(|()| Digests { sha1, sha256 })
    })
}

fn hex_digest<D: Digest>(chunks: mpsc::Receiver<Arc<Vec<u8>>>) -> String {
    let mut digest = D::new();
    for chunk in chunks {
        digest.update(chunk.as_slice());
    }
    hex::encode(digest.finalize())
}

/// Fills `buf` unless the file ends first; returns how much it read.
fn read_full(from: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match from.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ladle_contract::StagingFailure as BuilderFailure;

    fn observed(exit: i32) -> Observed {
        Observed {
            builder_started: true,
            exit: Some(exit),
            timed_out: false,
            oom_killed: false,
            pids_exhausted: false,
            disk_full: false,
        }
    }

    const LIMITS: Limits = Limits {
        memory_mb: 256,
        disk_mb: 64,
        pids: 1024,
        timeout_secs: 5,
    };

    #[test]
    fn exit_codes_map_to_cloud_controller_errors() {
        for (code, kind) in [
            (222, FailureKind::NoAppDetected),
            (223, FailureKind::BuildpackCompileFailed),
            (224, FailureKind::BuildpackReleaseFailed),
            (225, FailureKind::StagingError),
            (1, FailureKind::StagingError),
            (137, FailureKind::StagingError),
        ] {
            assert_eq!(
                judge(&observed(code), &LIMITS, Written::default())
                    .unwrap_err()
                    .kind,
                kind,
                "exit {code}"
            );
        }
    }

    #[test]
    fn builder_message_wins_and_limits_win_over_exit_codes() {
        let result = StagingResult {
            lifecycle_type: "buildpack".into(),
            ..Default::default()
        };
        let details = StagingDetails {
            failure: Some(BuilderFailure {
                exit_code: 223,
                message: "Failed to compile droplet: boom".into(),
            }),
            ..Default::default()
        };
        let written = || Written {
            result: Some(result.clone()),
            details: Some(details.clone()),
        };
        let failure = judge(&observed(223), &LIMITS, written()).unwrap_err();
        assert_eq!(failure.message, "Failed to compile droplet: boom");
        assert_eq!(failure.result, Some(Box::new(result.clone())));

        let oom = Observed {
            oom_killed: true,
            disk_full: true,
            ..observed(223)
        };
        let failure = judge(&oom, &LIMITS, written()).unwrap_err();
        assert_eq!(
            (failure.kind, failure.message.as_str()),
            (
                FailureKind::StagingError,
                "staging exceeded its memory limit of 256 MB"
            )
        );

        let late = Observed {
            timed_out: true,
            exit: None,
            ..observed(0)
        };
        assert_eq!(
            judge(&late, &LIMITS, Written::default())
                .unwrap_err()
                .message,
            "staging exceeded its time limit of 5 seconds"
        );
    }

    #[test]
    fn success_needs_result_json_and_reads_details_beside_it() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path();
        fs::create_dir(ws.join("output")).unwrap();
        let failure = judge(&observed(0), &LIMITS, read_written(ws)).unwrap_err();
        assert_eq!(failure.message, "the builder wrote no result.json");

        fs::write(
            ws.join("output/result.json"),
            r#"{"lifecycle_type":"buildpack","execution_metadata":"","process_types":{"web":"go"},
               "lifecycle_metadata":{"buildpack_key":"k","detected_buildpack":"K",
               "buildpacks":[{"key":"k","name":"K"}]}}"#,
        )
        .unwrap();
        let staged = judge(&observed(0), &LIMITS, read_written(ws)).unwrap();
        assert_eq!(staged.details, StagingDetails::default(), "optional");

        fs::write(
            ws.join("output").join(STAGING_DETAILS_FILE),
            r#"{"buildpacks":[{"key":"k","detect_output":"K detected"}]}"#,
        )
        .unwrap();
        let staged = judge(&observed(0), &LIMITS, read_written(ws)).unwrap();
        assert_eq!(staged.result.process_types["web"], "go");
        assert_eq!(staged.details.detect_output(0, "k"), Some("K detected"));
    }

    #[test]
    fn outputs_are_hashed_as_they_are_copied() {
        let tmp = tempfile::tempdir().unwrap();
        // Several chunks and a short last one; bytes that differ from chunk to chunk.
        let bytes: Vec<u8> = (0..(COPY_CHUNK * 2 + 12_345) as u64)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let cases: [(&str, &[u8]); 2] = [("empty", b""), ("large", &bytes)];
        for (name, contents) in cases {
            let source = tmp.path().join(name);
            fs::write(&source, contents).unwrap();
            let copy = tmp.path().join(format!("{name}.copy"));
            let digests = copy_hashed(File::open(&source).unwrap(), &copy).unwrap();
            assert!(fs::read(&copy).unwrap() == contents, "{name}: copied whole");
            assert_eq!(
                digests,
                Digests {
                    sha1: hex::encode(Sha1::digest(contents)),
                    sha256: hex::encode(Sha256::digest(contents)),
                },
                "{name}"
            );
        }
        let empty = copy_hashed(
            File::open(tmp.path().join("empty")).unwrap(),
            &tmp.path().join("again"),
        )
        .unwrap();
        assert_eq!(empty.sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    #[test]
    fn outputs_behind_symlinks_are_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path();
        fs::create_dir(ws.join("output")).unwrap();
        fs::write(tmp.path().join("secret"), "root only").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), ws.join("output/result.json"))
            .unwrap();
        assert!(read_written(ws).result.is_none());
        assert!(open_output(ws, "result.json").is_err());
    }
}
