//! Waiting for the builder: streams its output, enforces the time limit and watches the disk.

use std::future::Future;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Child;
use tokio::time::{sleep_until, Instant};

use crate::log::{pump, LogSink, PhaseTracker, Stream};

/// How long output may keep flowing after the builder is gone (a straggler holding the pipe
/// open must not hold up the staging slot).
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// How a builder run ended, and whether the builder itself ever ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Supervised {
    pub end: RunEnd,
    /// False when no phase marker was printed: the container or the builder never started.
    pub builder_started: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunEnd {
    /// Exit code; death by signal N is reported as 128+N like a shell does.
    Exited(i32),
    TimedOut,
}

/// Watches the workspace's free space while the builder runs.
pub(crate) struct DiskWatch {
    /// The mounted workspace image.
    pub ws: PathBuf,
    pub disk_mb: u64,
    /// Set once the workspace was seen full (or over the limit) at any poll.
    pub was_full: bool,
}

impl DiskWatch {
    const POLL_INTERVAL: Duration = Duration::from_millis(200);

    /// Remembers a full workspace: the image itself stops the writes. `statvfs` runs on a
    /// blocking thread, like every other file system call of a staging.
    async fn check(&mut self) {
        let ws = self.ws.clone();
        let disk_mb = self.disk_mb;
        let full = tokio::task::spawn_blocking(move || is_full(&ws, disk_mb))
            .await
            .unwrap_or(false);
        self.was_full |= full;
    }

    /// Whether the workspace was seen full at any poll or is full now. Blocking.
    pub(crate) fn was_or_is_full(&self) -> bool {
        self.was_full || is_full(&self.ws, self.disk_mb)
    }
}

/// Near-zero space or no inodes left for the staging user. The threshold leaves room for the
/// few blocks a failed write leaves unused at the end.
fn is_full(ws: &Path, disk_mb: u64) -> bool {
    let Ok(stat) = nix::sys::statvfs::statvfs(ws) else {
        return false;
    };
    let bytes = stat.blocks_available() * stat.fragment_size();
    let threshold = (disk_mb * 1024 * 1024 / 200).max(512 * 1024);
    bytes < threshold || stat.files_available() == 0
}

/// Runs until the builder exits or the time is up, forwarding its output to `sink`. `kill`
/// must bring down every process of the staging.
pub(crate) async fn supervise<K, F>(
    child: &mut Child,
    timeout: Duration,
    watch: &mut DiskWatch,
    sink: &dyn LogSink,
    kill: K,
) -> io::Result<Supervised>
where
    K: Fn() -> F,
    F: Future<Output = ()>,
{
    let tracker = PhaseTracker::new();
    let stdout = pump(child.stdout.take(), Stream::Stdout, &tracker, sink);
    let stderr = pump(child.stderr.take(), Stream::Stderr, &tracker, sink);
    let mut output = std::pin::pin!(async { tokio::join!(stdout, stderr) });
    let mut output_done = false;
    let mut waiter = std::pin::pin!(wait_with_limits(child, timeout, watch, kill));
    let end = loop {
        tokio::select! {
            end = &mut waiter => break end,
            _ = &mut output, if !output_done => output_done = true,
        }
    };
    if !output_done {
        let _ = tokio::time::timeout(OUTPUT_GRACE, &mut output).await;
    }
    Ok(Supervised {
        end: end?,
        builder_started: tracker.builder_started(),
    })
}

async fn wait_with_limits<K, F>(
    child: &mut Child,
    timeout: Duration,
    watch: &mut DiskWatch,
    kill: K,
) -> io::Result<RunEnd>
where
    K: Fn() -> F,
    F: Future<Output = ()>,
{
    let deadline = Instant::now() + timeout;
    let mut ticker = tokio::time::interval(DiskWatch::POLL_INTERVAL);
    loop {
        tokio::select! {
            status = child.wait() => {
                let status = status?;
                return Ok(RunEnd::Exited(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))));
            }
            _ = sleep_until(deadline) => {
                kill().await;
                child.wait().await?;
                return Ok(RunEnd::TimedOut);
            }
            _ = ticker.tick() => watch.check().await,
        }
    }
}
