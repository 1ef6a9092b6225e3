//! The staging log sink: every line the buildpacks print goes to the `staging_logs` table as it
//! appears, so a person can read or follow it from any API node (`GET /v3/droplets/:guid/logs`).
//!
//! What a buildpack may print is bounded three ways: lines beyond the build's log rate (Cloud
//! Foundry's `staging_log_rate_limit_bytes_per_second`) are dropped with a notice, as Diego drops
//! them; after `LADLE_STAGING_LOG_MAX_BYTES` the rest of the staging's log is dropped behind one
//! "log truncated" line; and at most `BACKLOG_BYTES` wait between the stager and the database,
//! so a buildpack that prints faster than the database stores is slowed down, not queued in
//! memory.
//!
//! Each line keeps the moment it was read (strictly increasing within a staging, so readers that
//! page by time, as log-cache clients do, neither skip nor repeat a line), and every stored batch
//! wakes this node's readers at once; readers on other nodes poll.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ladle_stager::{LogSink, Phase, Stream};
use time::OffsetDateTime;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use crate::db::{self, DbPool};

/// Bytes of log text waiting for the database before the stager stops reading the builder.
const BACKLOG_BYTES: usize = 1024 * 1024;
/// Most lines stored by one INSERT.
const BATCH_LINES: usize = 256;

/// How much of a staging's log is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// Bytes of text kept per staging; the rest is dropped.
    pub max_bytes: u64,
    /// Bytes per second kept; `None` for no limit (CC's -1).
    pub bytes_per_second: Option<u64>,
}

impl LogLimits {
    /// `rate` as Cloud Foundry spells it: -1 for unlimited, otherwise bytes per second.
    pub fn new(max_bytes: u64, rate: i64) -> Self {
        LogLimits {
            max_bytes,
            bytes_per_second: u64::try_from(rate).ok(),
        }
    }
}

struct Line {
    phase: Phase,
    stream: Stream,
    text: String,
    at: OffsetDateTime,
}

/// Hands lines from the (synchronous) sink to a task that writes them in batches.
pub struct DbLogSink {
    sender: mpsc::UnboundedSender<Line>,
    backlog: Arc<Backlog>,
    gate: Mutex<Gate>,
    clock: Mutex<LineClock>,
}

impl DbLogSink {
    /// Starts the writer; await the returned handle once the sink is dropped to flush the rest.
    /// `appended` is notified after every stored batch.
    pub fn start(
        db: DbPool,
        appended: Arc<Notify>,
        droplet_guid: String,
        limits: LogLimits,
    ) -> (DbLogSink, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let backlog = Arc::new(Backlog::default());
        let target = Target {
            db,
            appended,
            droplet_guid,
        };
        let writer = tokio::spawn(write_lines(target, receiver, backlog.clone()));
        let sink = DbLogSink {
            sender,
            backlog,
            gate: Mutex::new(Gate::new(limits)),
            clock: Mutex::new(LineClock::default()),
        };
        (sink, writer)
    }

    fn send(&self, phase: Phase, stream: Stream, text: String) {
        let bytes = text.len();
        // Counted before sending: the writer may store the line before `send` returns.
        self.backlog.add(bytes);
        let at = self
            .clock
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stamp(OffsetDateTime::now_utc());
        let line = Line {
            phase,
            stream,
            text,
            at,
        };
        if self.sender.send(line).is_err() {
            self.backlog.stored(bytes);
        }
    }
}

impl LogSink for DbLogSink {
    fn line(&self, phase: Phase, stream: Stream, text: &str) {
        let verdict = self
            .gate
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .judge(text.len(), Instant::now());
        match verdict {
            Verdict::Keep => self.send(phase, stream, text.to_string()),
            Verdict::Drop => {}
            Verdict::DropWithNotice(notice) => self.send(phase, Stream::Stderr, notice),
        }
    }

    fn has_room(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        if self.sender.is_closed() {
            // The writer is gone (it panicked): lines are dropped, the staging goes on.
            return Box::pin(std::future::ready(()));
        }
        Box::pin(self.backlog.has_room())
    }
}

/// Bytes sent to the writer and not yet stored. The channel itself is unbounded, but every
/// producer waits for `has_room` before reading more output, so what it holds stays near
/// `BACKLOG_BYTES` (over by at most one line per output stream).
#[derive(Default)]
struct Backlog {
    bytes: AtomicUsize,
    drained: Notify,
}

impl Backlog {
    fn add(&self, bytes: usize) {
        self.bytes.fetch_add(bytes, Ordering::SeqCst);
    }

    fn stored(&self, bytes: usize) {
        self.bytes.fetch_sub(bytes, Ordering::SeqCst);
        self.drained.notify_waiters();
    }

    async fn has_room(&self) {
        loop {
            let drained = self.drained.notified();
            let mut drained = std::pin::pin!(drained);
            // Registered before the check, so a drain between the two is not missed.
            drained.as_mut().enable();
            if self.bytes.load(Ordering::SeqCst) < BACKLOG_BYTES {
                return;
            }
            drained.await;
        }
    }
}

/// Gives each line of one staging a distinct, increasing time at the stored precision (µs).
#[derive(Default)]
struct LineClock {
    last: Option<OffsetDateTime>,
}

impl LineClock {
    fn stamp(&mut self, now: OffsetDateTime) -> OffsetDateTime {
        let micros = now.microsecond();
        let now = now
            .replace_nanosecond(micros * 1000)
            .expect("whole microseconds are valid nanoseconds");
        let at = match self.last {
            Some(last) if now <= last => last + time::Duration::microseconds(1),
            _ => now,
        };
        self.last = Some(at);
        at
    }
}

/// Decides, line by line, what of a staging's log is kept.
struct Gate {
    limits: LogLimits,
    kept: u64,
    truncated: bool,
    /// The current one-second window of the rate limit: when it began, bytes kept in it, and
    /// whether its notice was sent.
    window: (Instant, u64, bool),
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Keep,
    Drop,
    /// Drop the line, and tell the reader in this one line instead.
    DropWithNotice(String),
}

impl Gate {
    fn new(limits: LogLimits) -> Self {
        Gate {
            limits,
            kept: 0,
            truncated: false,
            window: (Instant::now(), 0, false),
        }
    }

    fn judge(&mut self, bytes: usize, now: Instant) -> Verdict {
        let bytes = bytes as u64;
        if self.truncated {
            return Verdict::Drop;
        }
        if self.kept + bytes > self.limits.max_bytes {
            self.truncated = true;
            return Verdict::DropWithNotice(format!(
                "log truncated after {} bytes: the rest of this staging's log is dropped",
                self.limits.max_bytes
            ));
        }
        if let Some(rate) = self.limits.bytes_per_second {
            let (start, used, noticed) = &mut self.window;
            if now.duration_since(*start) >= Duration::from_secs(1) {
                (*start, *used, *noticed) = (now, 0, false);
            }
            if *used + bytes > rate {
                if *noticed {
                    return Verdict::Drop;
                }
                *noticed = true;
                return Verdict::DropWithNotice(format!(
                    "staging exceeded log rate limit ({rate} bytes/sec)"
                ));
            }
            *used += bytes;
        }
        self.kept += bytes;
        Verdict::Keep
    }
}

/// Where a staging's lines go, and whom to tell.
struct Target {
    db: DbPool,
    appended: Arc<Notify>,
    droplet_guid: String,
}

async fn write_lines(
    target: Target,
    mut receiver: mpsc::UnboundedReceiver<Line>,
    backlog: Arc<Backlog>,
) {
    let Target {
        db,
        appended,
        droplet_guid,
    } = target;
    let mut seq = next_seq(&db, &droplet_guid).await;
    let mut batch = Vec::with_capacity(BATCH_LINES);
    while receiver.recv_many(&mut batch, BATCH_LINES).await > 0 {
        if let Err(err) = insert_batch(&db, &droplet_guid, seq, &batch).await {
            tracing::warn!(droplet_guid, error = %err, "could not store staging log lines");
        }
        appended.notify_waiters();
        seq += batch.len() as i64;
        backlog.stored(batch.iter().map(|line| line.text.len()).sum());
        batch.clear();
    }
}

/// A restarted staging (after a lost lease) appends after what is already stored.
async fn next_seq(db: &DbPool, droplet_guid: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(
        "SELECT COALESCE(MAX(seq), -1) + 1 FROM staging_logs WHERE droplet_guid = $1",
    )
    .bind(droplet_guid)
    .fetch_one(db)
    .await
    .map(|(n,)| n)
    .unwrap_or(0)
}

/// One multi-row INSERT for the whole batch.
async fn insert_batch(
    db: &DbPool,
    droplet_guid: &str,
    first_seq: i64,
    lines: &[Line],
) -> db::DbResult<()> {
    const COLUMNS: usize = 6;
    let rows: Vec<String> = (0..lines.len())
        .map(|row| {
            let first = row * COLUMNS + 1;
            let placeholders: Vec<String> =
                (first..first + COLUMNS).map(|n| format!("${n}")).collect();
            format!("({})", placeholders.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO staging_logs (droplet_guid, seq, phase, stream, line, created_at) VALUES {}",
        rows.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for (offset, line) in lines.iter().enumerate() {
        query = query
            .bind(droplet_guid)
            .bind(first_seq + offset as i64)
            .bind(line.phase.as_str())
            .bind(match line.stream {
                Stream::Stdout => "stdout",
                Stream::Stderr => "stderr",
            })
            .bind(&line.text)
            .bind(db::format_timestamp(line.at));
    }
    query.execute(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(max_bytes: u64, rate: i64) -> Gate {
        Gate::new(LogLimits::new(max_bytes, rate))
    }

    #[test]
    fn after_the_cap_one_line_says_so_and_the_rest_is_dropped() {
        let mut gate = gate(10, -1);
        let now = Instant::now();
        assert_eq!(gate.judge(6, now), Verdict::Keep);
        assert_eq!(gate.judge(4, now), Verdict::Keep);
        let Verdict::DropWithNotice(notice) = gate.judge(1, now) else {
            panic!("no notice")
        };
        assert_eq!(
            notice,
            "log truncated after 10 bytes: the rest of this staging's log is dropped"
        );
        assert_eq!(gate.judge(0, now), Verdict::Drop);
        assert_eq!(gate.judge(1, now), Verdict::Drop);
    }

    #[test]
    fn beyond_the_rate_lines_are_dropped_with_one_notice_per_second() {
        let mut gate = gate(1_000_000, 100);
        let start = Instant::now();
        assert_eq!(gate.judge(60, start), Verdict::Keep);
        assert_eq!(gate.judge(40, start), Verdict::Keep);
        assert_eq!(
            gate.judge(1, start),
            Verdict::DropWithNotice("staging exceeded log rate limit (100 bytes/sec)".into())
        );
        assert_eq!(
            gate.judge(1, start + Duration::from_millis(500)),
            Verdict::Drop
        );
        let next_second = start + Duration::from_millis(1000);
        assert_eq!(gate.judge(100, next_second), Verdict::Keep);
        assert!(matches!(
            gate.judge(1, next_second),
            Verdict::DropWithNotice(_)
        ));
        // Dropped lines do not count toward the cap.
        assert_eq!(gate.kept, 200);
    }

    #[test]
    fn unlimited_and_zero_rates_as_cloud_foundry_spells_them() {
        assert_eq!(LogLimits::new(5, -1).bytes_per_second, None);
        let mut silent = gate(1_000, 0);
        assert!(matches!(
            silent.judge(1, Instant::now()),
            Verdict::DropWithNotice(_)
        ));
        assert_eq!(silent.judge(0, Instant::now()), Verdict::Keep);
    }

    #[test]
    fn lines_get_increasing_times_even_within_one_microsecond() {
        let mut clock = LineClock::default();
        let now = time::macros::datetime!(2026-03-31 12:00:00.000001999 UTC);
        let first = clock.stamp(now);
        assert_eq!(db::format_timestamp(first), "2026-03-31T12:00:00.000001Z");
        let second = clock.stamp(now);
        let third = clock.stamp(now - time::Duration::seconds(1));
        assert_eq!(db::format_timestamp(second), "2026-03-31T12:00:00.000002Z");
        assert_eq!(db::format_timestamp(third), "2026-03-31T12:00:00.000003Z");
        let later = clock.stamp(now + time::Duration::seconds(1));
        assert_eq!(db::format_timestamp(later), "2026-03-31T12:00:01.000001Z");
    }

    #[tokio::test]
    async fn a_full_backlog_has_room_again_once_lines_are_stored() {
        let backlog = Arc::new(Backlog::default());
        backlog.add(BACKLOG_BYTES);
        let waiting = tokio::spawn({
            let backlog = backlog.clone();
            async move { backlog.has_room().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        backlog.stored(1);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("room after a drain")
            .unwrap();
    }
}
