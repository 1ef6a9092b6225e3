//! The staging log as a person reads it (`GET /v3/droplets/:guid/logs`): one text line per
//! output line, tagged with the phase and the stream.

use bytes::Bytes;

use crate::db::staging_logs::LogRow;

/// `2026-11-27T12:00:00.123456Z [STG/compile] OUT -----> compiling`
fn format_line(row: &LogRow) -> String {
    let stream = if row.stream == "stderr" { "ERR" } else { "OUT" };
    format!(
        "{} [STG/{}] {stream} {}\n",
        row.created_at, row.phase, row.line
    )
}

/// A batch of lines as one chunk of the response body.
pub fn present(rows: &[LogRow]) -> Bytes {
    Bytes::from(rows.iter().map(format_line).collect::<String>())
}
