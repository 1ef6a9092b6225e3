//! The staging log sink: every line the buildpacks print goes to the `staging_logs` table as it
//! appears, so a person can read or follow it from any API node (`GET /v3/droplets/:guid/logs`).

use ladle_stager::{LogSink, Phase, Stream};
use tokio::sync::mpsc;

use crate::db::{self, DbPool};

struct Line {
    phase: Phase,
    stream: Stream,
    text: String,
}

/// Hands lines from the (synchronous) sink to a task that writes them in small batches.
pub struct DbLogSink {
    sender: mpsc::UnboundedSender<Line>,
}

impl DbLogSink {
    /// Starts the writer; `finish` the returned handle once staging is over to flush the rest.
    pub fn start(db: DbPool, droplet_guid: String) -> (DbLogSink, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_lines(db, droplet_guid, receiver));
        (DbLogSink { sender }, writer)
    }
}

impl LogSink for DbLogSink {
    fn line(&self, phase: Phase, stream: Stream, text: &str) {
        let _ = self.sender.send(Line {
            phase,
            stream,
            text: text.to_string(),
        });
    }
}

async fn write_lines(
    db: DbPool,
    droplet_guid: String,
    mut receiver: mpsc::UnboundedReceiver<Line>,
) {
    let mut seq = next_seq(&db, &droplet_guid).await;
    let mut batch = Vec::new();
    while receiver.recv_many(&mut batch, 256).await > 0 {
        if let Err(err) = insert_batch(&db, &droplet_guid, seq, &batch).await {
            tracing::warn!(droplet_guid, error = %err, "could not store staging log lines");
        }
        seq += batch.len() as i64;
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

async fn insert_batch(
    db: &DbPool,
    droplet_guid: &str,
    first_seq: i64,
    lines: &[Line],
) -> db::DbResult<()> {
    let mut tx = db.begin().await?;
    let now = db::now();
    for (offset, line) in lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO staging_logs (droplet_guid, seq, phase, stream, line, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(droplet_guid)
        .bind(first_seq + offset as i64)
        .bind(line.phase.as_str())
        .bind(match line.stream {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        })
        .bind(&line.text)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
