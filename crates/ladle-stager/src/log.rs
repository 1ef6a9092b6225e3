//! Staging log: every line the builder and the buildpacks print, tagged with the phase the
//! builder announced last. Marker lines themselves are consumed here.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use ladle_contract::Phase;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

/// Longer lines are cut into pieces of this size, so a buildpack printing megabytes without a
/// newline cannot make the stager buffer them all.
const MAX_LINE_BYTES: u64 = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Receives the staging log as it is produced (Cloud Foundry streams it as `STG` lines).
pub trait LogSink: Send + Sync {
    fn line(&self, phase: Phase, stream: Stream, text: &str);

    /// Resolves once the sink has room for more lines. The stager waits for it before reading
    /// more of the builder's output, so a sink that stores lines slower than the buildpacks
    /// print them slows the buildpacks down (their pipe fills up) instead of queueing the lines
    /// in memory. By default there is always room.
    fn has_room(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::ready(()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub phase: Phase,
    pub stream: Stream,
    pub text: String,
}

/// Keeps every line in memory; for tests and for callers that store the log afterwards.
#[derive(Debug, Default)]
pub struct VecSink {
    lines: Mutex<Vec<LogLine>>,
}

impl VecSink {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn lines(&self) -> Vec<LogLine> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// All text joined with newlines, handy for "does the log mention X" checks.
    pub fn text(&self) -> String {
        self.lines()
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl LogSink for VecSink {
    fn line(&self, phase: Phase, stream: Stream, text: &str) {
        let line = LogLine {
            phase,
            stream,
            text: text.to_string(),
        };
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }
}

/// Whether the builder announced any phase yet, shared by the stdout and stderr readers.
///
/// The phase itself is tracked per stream: the builder announces each phase on both stdout
/// and stderr, and the two pipes are read concurrently, so only a marker on the same stream
/// is ordered with respect to the lines that follow it.
pub(crate) struct PhaseTracker(AtomicBool);

impl PhaseTracker {
    pub(crate) fn new() -> Self {
        PhaseTracker(AtomicBool::new(false))
    }

    fn mark_started(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether the builder got far enough to announce a phase.
    pub(crate) fn builder_started(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Forwards `reader` line by line to `sink` until end of file.
pub(crate) async fn pump<R: AsyncRead + Unpin>(
    reader: Option<R>,
    stream: Stream,
    tracker: &PhaseTracker,
    sink: &dyn LogSink,
) {
    let Some(reader) = reader else { return };
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    let mut phase = None;
    loop {
        sink.has_room().await;
        buf.clear();
        match (&mut reader)
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => forward(&buf, stream, &mut phase, tracker, sink),
        }
    }
}

fn forward(
    raw: &[u8],
    stream: Stream,
    phase: &mut Option<Phase>,
    tracker: &PhaseTracker,
    sink: &dyn LogSink,
) {
    let text = String::from_utf8_lossy(raw);
    let text = text.trim_end_matches(['\n', '\r']);
    if let Some(announced) = Phase::from_marker(text) {
        *phase = Some(announced);
        tracker.mark_started();
        return;
    }
    sink.line(phase.unwrap_or(Phase::Setup), stream, text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn markers_switch_the_phase_and_are_not_forwarded() {
        let out = b"::ladle-phase::detect\nfound it\r\n::ladle-phase::compile\n-----> compiling\nno newline";
        let sink = VecSink::new();
        let tracker = PhaseTracker::new();
        pump(Some(&out[..]), Stream::Stdout, &tracker, &sink).await;
        let lines = sink.lines();
        let got: Vec<_> = lines.iter().map(|l| (l.phase, l.text.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (Phase::Detect, "found it"),
                (Phase::Compile, "-----> compiling"),
                (Phase::Compile, "no newline")
            ]
        );
    }

    #[tokio::test]
    async fn each_stream_follows_its_own_markers_and_long_lines_are_split() {
        let tracker = PhaseTracker::new();
        let sink = VecSink::new();
        // stdout has reached compile while stderr has only seen detect: the stderr line
        // belongs to detect, whichever pipe is read first.
        let out = b"::ladle-phase::detect\n::ladle-phase::compile\n";
        pump(Some(&out[..]), Stream::Stdout, &tracker, &sink).await;
        let mut err = b"early\n::ladle-phase::detect\nno app here\n".to_vec();
        err.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES as usize + 10));
        pump(Some(&err[..]), Stream::Stderr, &tracker, &sink).await;
        let lines = sink.lines();
        assert!(tracker.builder_started());
        assert_eq!(
            (lines[0].phase, lines[0].text.as_str()),
            (Phase::Setup, "early")
        );
        assert_eq!(
            (lines[1].phase, lines[1].text.as_str()),
            (Phase::Detect, "no app here")
        );
        assert_eq!(lines[2].text.len(), MAX_LINE_BYTES as usize);
        assert_eq!(lines[3].text.len(), 10);
    }

    /// Has room only after `open` is notified; counts the lines it got.
    struct GatedSink {
        open: tokio::sync::Notify,
        lines: std::sync::atomic::AtomicUsize,
    }

    impl LogSink for GatedSink {
        fn line(&self, _: Phase, _: Stream, _: &str) {
            self.lines.fetch_add(1, Ordering::SeqCst);
        }

        fn has_room(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            Box::pin(self.open.notified())
        }
    }

    #[tokio::test]
    async fn output_is_read_only_while_the_sink_has_room() {
        let sink = GatedSink {
            open: tokio::sync::Notify::new(),
            lines: Default::default(),
        };
        let tracker = PhaseTracker::new();
        let out = b"one\ntwo\nthree\n";
        let mut pumping = std::pin::pin!(pump(Some(&out[..]), Stream::Stdout, &tracker, &sink));
        for expected in 0..3 {
            assert!(poll_once(pumping.as_mut()).await.is_pending());
            assert_eq!(sink.lines.load(Ordering::SeqCst), expected);
            sink.open.notify_one();
        }
        // Room for the end-of-file read too.
        sink.open.notify_one();
        pumping.await;
        assert_eq!(sink.lines.load(Ordering::SeqCst), 3);
    }

    /// Polls `future` once.
    async fn poll_once<F: Future + Unpin>(mut future: F) -> std::task::Poll<F::Output> {
        std::future::poll_fn(|cx| std::task::Poll::Ready(Pin::new(&mut future).poll(cx))).await
    }

    #[test]
    fn no_marker_means_the_builder_never_started() {
        let tracker = PhaseTracker::new();
        let sink = VecSink::new();
        let mut phase = None;
        forward(
            b"runc: error\n",
            Stream::Stderr,
            &mut phase,
            &tracker,
            &sink,
        );
        assert!(!tracker.builder_started());
        assert_eq!(sink.lines()[0].phase, Phase::Setup);
    }
}
