//! A log-cache read's answer: staging log lines as loggregator v2 LOG envelopes, the JSON that
//! log-cache's HTTP gateway writes (`timestamp` in nanoseconds as a string, base64 payloads).

use base64::Engine;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::db::staging_logs::LogRow;

/// `{"envelopes":{"batch":[…]}}` for the lines of app `source_id`.
pub fn present(source_id: &str, rows: &[LogRow]) -> Value {
    let batch: Vec<Value> = rows.iter().map(|row| envelope(source_id, row)).collect();
    json!({ "envelopes": { "batch": batch } })
}

fn envelope(source_id: &str, row: &LogRow) -> Value {
    let nanos = OffsetDateTime::parse(&row.created_at, &Rfc3339)
        .map(|at| at.unix_timestamp_nanos())
        .unwrap_or_default();
    json!({
        "timestamp": nanos.to_string(),
        "source_id": source_id,
        "instance_id": "0",
        "tags": { "source_type": "STG" },
        "log": {
            "payload": base64::engine::general_purpose::STANDARD.encode(&row.line),
            "type": if row.stream == "stderr" { "ERR" } else { "OUT" },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_becomes_a_stg_log_envelope() {
        let row = LogRow {
            seq: 3,
            phase: "compile".into(),
            stream: "stderr".into(),
            line: "-----> oops".into(),
            created_at: "2026-03-31T12:00:00.000001Z".into(),
        };
        assert_eq!(
            present("app-guid", &[row]),
            json!({"envelopes": {"batch": [{
                "timestamp": "1774958400000001000",
                "source_id": "app-guid",
                "instance_id": "0",
                "tags": {"source_type": "STG"},
                "log": {"payload": "LS0tLS0+IG9vcHM=", "type": "ERR"},
            }]}})
        );
    }
}
