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

/// Server-sent events: one event per line, its sequence number as the event id (what a client
/// sends back as `Last-Event-ID`) and the line as the text log shows it, as one `data:` line.
pub fn sse_lines(rows: &[LogRow]) -> Bytes {
    let mut out = String::new();
    for row in rows {
        let line = format_line(row);
        // CR and LF end an SSE line; a stray CR in the output must not split the event.
        let data = line.trim_end_matches('\n').replace('\r', "");
        out.push_str(&format!("id: {}\ndata: {data}\n\n", row.seq));
    }
    Bytes::from(out)
}

/// The last event: how the staging ended, as JSON `{"state": …, "error": …}`.
pub fn sse_end(state: &str, error: Option<&str>) -> Bytes {
    let data = serde_json::json!({ "state": state, "error": error });
    Bytes::from(format!("event: end\ndata: {data}\n\n"))
}

/// A comment line, which clients ignore and proxies see as traffic.
pub fn sse_keepalive() -> Bytes {
    Bytes::from_static(b": keepalive\n\n")
}
