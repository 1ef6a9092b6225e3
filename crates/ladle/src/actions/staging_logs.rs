//! Reading a staging's log as a person watches it: everything so far, or (`follow`) a stream
//! that ends when the staging does. Lines come from the database, so any API node can serve
//! a staging running on any worker.

use std::time::Duration;

use futures::stream::{self, Stream};

use crate::actions::droplets::{find_readable, DropletError};
use crate::auth::User;
use crate::db::staging_logs::{self, LogRow};
use crate::db::{droplets, DbPool};

const PAGE: i64 = 500;
const POLL: Duration = Duration::from_millis(250);

/// The log of a droplet the caller can read, as a stream of batches of lines.
pub async fn stream_log(
    db: &DbPool,
    user: &User,
    droplet_guid: &str,
    follow: bool,
) -> Result<impl Stream<Item = Result<Vec<LogRow>, sqlx::Error>> + Send + 'static, DropletError> {
    find_readable(db, user, droplet_guid).await?;
    let state = Reader {
        db: db.clone(),
        droplet_guid: droplet_guid.to_string(),
        last_seq: -1,
        follow,
        done: false,
    };
    Ok(stream::try_unfold(state, next_chunk))
}

struct Reader {
    db: DbPool,
    droplet_guid: String,
    last_seq: i64,
    follow: bool,
    done: bool,
}

/// The next batch of lines; when following, waits for more until the droplet is final and
/// every line written before that has been sent.
async fn next_chunk(mut reader: Reader) -> Result<Option<(Vec<LogRow>, Reader)>, sqlx::Error> {
    loop {
        if reader.done {
            return Ok(None);
        }
        // Read the state before the lines: a staging that ends after this read still has its
        // last lines picked up on the next round.
        let finished = !reader.follow || is_final(&reader.db, &reader.droplet_guid).await?;
        let rows =
            staging_logs::after(&reader.db, &reader.droplet_guid, reader.last_seq, PAGE).await?;
        if let Some(last) = rows.last() {
            reader.last_seq = last.seq;
            return Ok(Some((rows, reader)));
        }
        if finished {
            reader.done = true;
            continue;
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn is_final(db: &DbPool, droplet_guid: &str) -> Result<bool, sqlx::Error> {
    Ok(droplets::find(db, droplet_guid)
        .await?
        .is_none_or(|d| !d.state.is_in_flight()))
}
