//! Waiting for the builder: streams its output, enforces the time limit and watches the disk.

use std::future::Future;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use tokio::process::Child;
use tokio::time::{sleep_until, Instant};

use crate::log::{pump, LogSink, PhaseTracker, Stream};
use crate::workspace::Workspace;

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
pub(crate) struct DiskWatch<'a> {
    pub workspace: &'a Workspace,
    pub disk_mb: u64,
    /// Set once the workspace was seen full (or over the limit) at any poll.
    pub was_full: bool,
}

impl DiskWatch<'_> {
    const POLL_INTERVAL: Duration = Duration::from_millis(200);

    /// Remembers a full workspace: the image itself stops the writes.
    pub(crate) fn check(&mut self) {
        self.was_full |= self.is_full_now();
    }

    /// Near-zero space or no inodes left. The threshold leaves room for the few blocks a failed
    /// write leaves unused at the end.
    pub(crate) fn is_full_now(&self) -> bool {
        let Some((bytes, inodes)) = self.workspace.free_space() else {
            return false;
        };
        let threshold = (self.disk_mb * 1024 * 1024 / 200).max(512 * 1024);
        bytes < threshold || inodes == 0
    }
}

/// Runs until the builder exits or the time is up, forwarding its output to `sink`. `kill`
/// must bring down every process of the staging.
pub(crate) async fn supervise<K, F>(
    child: &mut Child,
    timeout: Duration,
    watch: &mut DiskWatch<'_>,
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
    watch: &mut DiskWatch<'_>,
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
            _ = ticker.tick() => watch.check(),
        }
    }
}
