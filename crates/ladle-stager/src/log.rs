//! Staging log: every line the builder and the buildpacks print, tagged with the phase the
//! builder announced last. Marker lines themselves are consumed here.

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

/// The phase most recently announced on stdout, shared by the stdout and stderr readers.
/// `None` until the builder announces its first phase.
pub(crate) struct PhaseTracker(Mutex<Option<Phase>>);

impl PhaseTracker {
    pub(crate) fn new() -> Self {
        PhaseTracker(Mutex::new(None))
    }

    fn current(&self) -> Phase {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or(Phase::Setup)
    }

    fn set(&self, phase: Phase) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(phase);
    }

    /// Whether the builder got far enough to announce a phase.
    pub(crate) fn builder_started(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).is_some()
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
    loop {
        buf.clear();
        match (&mut reader)
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => forward(&buf, stream, tracker, sink),
        }
    }
}

fn forward(raw: &[u8], stream: Stream, tracker: &PhaseTracker, sink: &dyn LogSink) {
    let text = String::from_utf8_lossy(raw);
    let text = text.trim_end_matches(['\n', '\r']);
    if stream == Stream::Stdout {
        if let Some(phase) = Phase::from_marker(text) {
            tracker.set(phase);
            return;
        }
    }
    sink.line(tracker.current(), stream, text);
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
    async fn markers_on_stderr_are_ordinary_text_and_long_lines_are_split() {
        let mut err = b"::ladle-phase::detect\n".to_vec();
        err.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES as usize + 10));
        let sink = VecSink::new();
        pump(Some(&err[..]), Stream::Stderr, &PhaseTracker::new(), &sink).await;
        let lines = sink.lines();
        assert_eq!(lines[0].text, "::ladle-phase::detect");
        assert_eq!(lines[0].phase, Phase::Setup);
        assert_eq!(lines[1].text.len(), MAX_LINE_BYTES as usize);
        assert_eq!(lines[2].text.len(), 10);
    }
}
