//! The staging job's metrics: how each staging ended, and how long each of its phases took.
//!
//! The phases are measured from the host. The stager does not report when the container is up,
//! so `container_start` ends with the builder's first log line in one of its own phases (the
//! builder announces a phase before it prints anything); `buildpacks` runs from there to the
//! stager's return and so includes packing the droplet, which the builder does last.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ladle_contract::Phase;
use ladle_stager::{LogSink, Stream};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::actions::staging_complete::Outcome;
use crate::telemetry::{STAGINGS, STAGING_PHASE_DURATION};

pub fn phase(name: &'static str, took: Duration) {
    metrics::histogram!(STAGING_PHASE_DURATION, "phase" => name).record(took.as_secs_f64());
}

/// The time from the droplet's creation (when its job was queued) to now, for a first attempt.
pub fn queue_wait(droplet_created_at: &str) {
    let Ok(created) = OffsetDateTime::parse(droplet_created_at, &Rfc3339) else {
        return;
    };
    let waited = OffsetDateTime::now_utc() - created;
    if let Ok(waited) = Duration::try_from(waited) {
        phase("queue_wait", waited);
    }
}

pub fn ended(outcome: &Outcome) {
    let (outcome, reason) = match outcome {
        Outcome::Staged { .. } => ("staged", ""),
        Outcome::Failed(failure) => ("failed", failure.kind.cc_name()),
    };
    metrics::counter!(STAGINGS, "outcome" => outcome, "reason" => reason).increment(1);
}

/// A staging given up after its last attempt.
pub fn gave_up() {
    metrics::counter!(STAGINGS, "outcome" => "failed", "reason" => "StagerError").increment(1);
}

/// Passes the log on, noting when the builder's first phase began.
pub struct TimedSink<'a> {
    inner: &'a dyn LogSink,
    builder_started: OnceLock<Instant>,
}

impl<'a> TimedSink<'a> {
    pub fn new(inner: &'a dyn LogSink) -> Self {
        TimedSink {
            inner,
            builder_started: OnceLock::new(),
        }
    }

    /// Records `container_start` and `buildpacks` for a stager run that began at `started`
    /// and has just returned. A run whose builder never started is all container start.
    pub fn record(&self, started: Instant) {
        match self.builder_started.get() {
            Some(builder) => {
                phase("container_start", builder.duration_since(started));
                phase("buildpacks", builder.elapsed());
            }
            None => phase("container_start", started.elapsed()),
        }
    }
}

impl LogSink for TimedSink<'_> {
    fn line(&self, phase: Phase, stream: Stream, text: &str) {
        if phase != Phase::Setup {
            self.builder_started.get_or_init(Instant::now);
        }
        self.inner.line(phase, stream, text);
    }

    fn has_room(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        self.inner.has_room()
    }
}
