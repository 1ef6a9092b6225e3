//! Reading a staging's log as a person watches it: everything so far, or (`follow`) a stream
//! that ends when the staging does. Lines come from the database, so any API node can serve
//! a staging running on any worker: a reader wakes at once when this node stores lines or
//! ends a staging, and looks again every `POLL` for what other nodes did.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, Stream};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::actions::access;
use crate::actions::builds::{self as build_actions, BuildError};
use crate::actions::droplets::{find_readable, DropletError};
use crate::auth::User;
use crate::db::staging_logs::{self, LogRow};
use crate::db::{builds, droplets, DbPool};
use crate::messages::log_cache_read::LogCacheRead;
use crate::state::AppState;

const PAGE: i64 = 500;
/// How often a follower looks for lines stored by other nodes.
const POLL: Duration = Duration::from_secs(1);
/// Silence after which a follower is told the stream is still alive.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// What a reader of a staging log gets, in order.
#[derive(Debug)]
pub enum LogEvent {
    Lines(Vec<LogRow>),
    /// Nothing new for a while; the staging is still running.
    Idle,
    /// The staging is over (only when following).
    End(FinalState),
}

/// How a staging ended: the build's or droplet's state, and its error if it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalState {
    pub state: String,
    pub error: Option<String>,
}

/// Where to start and whether to wait for more.
#[derive(Debug, Clone, Copy)]
pub struct LogCursor {
    /// Lines with a sequence number above this one (-1: from the start).
    pub after: i64,
    pub follow: bool,
}

pub type LogEvents = std::pin::Pin<Box<dyn Stream<Item = Result<LogEvent, sqlx::Error>> + Send>>;

/// The log of a droplet the caller can read.
pub async fn droplet_log(
    state: &AppState,
    user: &User,
    droplet_guid: &str,
    cursor: LogCursor,
) -> Result<LogEvents, DropletError> {
    find_readable(&state.db, user, droplet_guid).await?;
    Ok(events(
        state,
        Subject::Droplet,
        droplet_guid.to_string(),
        cursor,
    ))
}

/// The log of a build the caller can read (its droplet's log, ending with the build's state).
pub async fn build_log(
    state: &AppState,
    user: &User,
    build_guid: &str,
    cursor: LogCursor,
) -> Result<LogEvents, BuildError> {
    let (build, _) = build_actions::find_readable(&state.db, user, build_guid).await?;
    let droplet_guid = build.droplet_guid.unwrap_or_default();
    Ok(events(
        state,
        Subject::Build(build.guid),
        droplet_guid,
        cursor,
    ))
}

fn events(
    state: &AppState,
    subject: Subject,
    droplet_guid: String,
    cursor: LogCursor,
) -> LogEvents {
    let reader = Reader {
        db: state.db.clone(),
        appended: state.staging_log_appended.clone(),
        subject,
        droplet_guid,
        last_seq: cursor.after,
        follow: cursor.follow,
        done: false,
        last_sent: Instant::now(),
    };
    Box::pin(stream::try_unfold(reader, next_event))
}

/// Whose state ends a followed log.
enum Subject {
    Droplet,
    Build(String),
}

struct Reader {
    db: DbPool,
    appended: Arc<Notify>,
    subject: Subject,
    droplet_guid: String,
    last_seq: i64,
    follow: bool,
    done: bool,
    last_sent: Instant,
}

/// The next batch of lines; when following, waits for more until the staging is over and
/// every line written before that has been sent, then tells how it ended.
async fn next_event(mut reader: Reader) -> Result<Option<(LogEvent, Reader)>, sqlx::Error> {
    loop {
        if reader.done {
            return Ok(None);
        }
        let appended = reader.appended.clone();
        let wake = appended.notified();
        let mut wake = std::pin::pin!(wake);
        // Registered before looking, so lines stored between the look and the wait wake us.
        wake.as_mut().enable();
        // The state is read before the lines: a staging that ends after this read still has
        // its last lines picked up on the next round.
        let ended = match reader.follow {
            true => final_state(&reader.db, &reader.subject, &reader.droplet_guid).await?,
            false => None,
        };
        let rows =
            staging_logs::after(&reader.db, &reader.droplet_guid, reader.last_seq, PAGE).await?;
        if let Some(last) = rows.last() {
            reader.last_seq = last.seq;
            reader.last_sent = Instant::now();
            return Ok(Some((LogEvent::Lines(rows), reader)));
        }
        if !reader.follow {
            return Ok(None);
        }
        if let Some(end) = ended {
            reader.done = true;
            return Ok(Some((LogEvent::End(end), reader)));
        }
        let keepalive_at = reader.last_sent + KEEPALIVE;
        tokio::select! {
            _ = wake => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = tokio::time::sleep_until(keepalive_at) => {
                reader.last_sent = Instant::now();
                return Ok(Some((LogEvent::Idle, reader)));
            }
        }
    }
}

/// How the staging ended, or `None` while it runs.
async fn final_state(
    db: &DbPool,
    subject: &Subject,
    droplet_guid: &str,
) -> Result<Option<FinalState>, sqlx::Error> {
    match subject {
        Subject::Droplet => Ok(match droplets::find(db, droplet_guid).await? {
            Some(d) if d.state().is_in_flight() => None,
            Some(d) => Some(FinalState {
                error: d
                    .error_id
                    .as_deref()
                    .map(|id| format!("{id} - {}", d.error_message.as_deref().unwrap_or(""))),
                state: d.state,
            }),
            None => Some(FinalState {
                state: "DELETED".into(),
                error: None,
            }),
        }),
        Subject::Build(guid) => Ok(match builds::find(db, guid).await? {
            Some(b) if b.state() == crate::domain::BuildState::Staging => None,
            Some(b) => Some(FinalState {
                state: b.state,
                error: b.error,
            }),
            None => Some(FinalState {
                state: "DELETED".into(),
                error: None,
            }),
        }),
    }
}

/// A log-cache read refused.
#[derive(Debug, thiserror::Error)]
pub enum AppLogError {
    /// No such app, or the caller cannot read it (log-cache answers 404 alike).
    #[error("app not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The staging log lines of an app the caller can read, as a log-cache read selects them.
pub async fn app_log(
    db: &DbPool,
    user: &User,
    app_guid: &str,
    read: &LogCacheRead,
) -> Result<Vec<LogRow>, AppLogError> {
    access::app_access(db, user, app_guid)
        .await?
        .ok_or(AppLogError::NotFound)?;
    if !read.logs_wanted {
        return Ok(Vec::new());
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64;
    let from = stored_time(read.start_time);
    let until = stored_time(read.end_time.unwrap_or(now));
    staging_logs::of_app(db, app_guid, (&from, &until), read.limit, read.descending)
        .await
        .map_err(AppLogError::from)
}

/// The stored timestamp (whole microseconds) of the first moment at or after `nanos`: a line
/// stored at µs `t` happened at `t * 1000` ns, so `t * 1000 >= nanos` ⇔ `t >= ⌈nanos / 1000⌉`.
fn stored_time(nanos: i64) -> String {
    let micros = (nanos.max(0) as u64).div_ceil(1000);
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    crate::db::format_timestamp(at)
}

#[cfg(test)]
mod tests {
    use super::stored_time;

    #[test]
    fn nanosecond_bounds_round_up_to_the_stored_microsecond() {
        assert_eq!(stored_time(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(stored_time(-5), "1970-01-01T00:00:00.000000Z");
        assert_eq!(stored_time(1_000), "1970-01-01T00:00:00.000001Z");
        assert_eq!(stored_time(1_001), "1970-01-01T00:00:00.000002Z");
        assert_eq!(
            stored_time(1_774_958_400_000_000_999),
            "2026-03-31T12:00:00.000001Z"
        );
    }
}
