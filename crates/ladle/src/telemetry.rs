//! What an operator sees of a running node: the Prometheus metrics (one recorder per process,
//! read by `GET /metrics`) and the log format.
//!
//! Metrics are recorded with the `metrics` crate's macros where things happen (the request
//! layer, the staging job, the slots, the job queue); this module installs the recorder, gives
//! every metric its help text and buckets, and names them in one list below. Names follow
//! Prometheus' conventions: `ladle_…`, base units (`_seconds`, `_bytes`), counters end in
//! `_total`.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const HTTP_REQUESTS: &str = "ladle_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "ladle_http_request_duration_seconds";
pub const STAGINGS: &str = "ladle_stagings_total";
pub const STAGING_PHASE_DURATION: &str = "ladle_staging_phase_duration_seconds";
pub const STAGING_QUEUE_DEPTH: &str = "ladle_staging_queue_depth";
pub const LEASE_TAKEOVERS: &str = "ladle_lease_takeovers_total";
pub const STAGING_SLOTS: &str = "ladle_staging_slots";
pub const STAGING_SLOTS_BUSY: &str = "ladle_staging_slots_busy";
pub const DB_POOL_CONNECTIONS: &str = "ladle_db_pool_connections";
pub const DB_POOL_IDLE: &str = "ladle_db_pool_idle_connections";
pub const DB_POOL_MAX: &str = "ladle_db_pool_max_connections";

/// Request latencies: a quick GET takes a millisecond, an upload or a staged download minutes.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Staging phases: from a tenth of a second (a warm fetch) to the 15-minute staging limit.
const STAGING_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use; every server and worker of the process
/// records into it.
pub fn prometheus() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(HTTP_REQUEST_DURATION.to_string()),
                HTTP_BUCKETS,
            )
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full(STAGING_PHASE_DURATION.to_string()),
                    STAGING_BUCKETS,
                )
            })
            .expect("bucket lists are not empty")
            .install_recorder()
            .expect("the metrics recorder is installed once per process");
        describe();
        handle
    })
}

/// Installs the recorder and starts its upkeep (histograms are compacted between scrapes,
/// so memory stays flat however rarely `/metrics` is read).
pub fn start() {
    let handle = prometheus();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            handle.run_upkeep();
        }
    });
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "Time to the response head, by method, route template and status"
    );
    describe_counter!(
        STAGINGS,
        "Stagings ended on this node, by outcome (staged, failed) and failure reason"
    );
    describe_histogram!(
        STAGING_PHASE_DURATION,
        Unit::Seconds,
        "Staging time by phase: queue_wait (droplet created to first claim), fetch (package, \
         buildpacks and cache from the blobstore), container_start (workspace, bundle and \
         container until the builder's first phase), buildpacks (builder's first phase to its \
         exit: detect, supply, compile/finalize, release and packing the droplet), \
         droplet_upload (droplet and cache to the blobstore)"
    );
    describe_gauge!(
        STAGING_QUEUE_DEPTH,
        "Staging jobs queued or running in the cluster (read from the database at each scrape)"
    );
    describe_counter!(
        LEASE_TAKEOVERS,
        "Staging jobs this node claimed from a node whose lease had expired (it died or stopped \
         renewing)"
    );
    describe_gauge!(STAGING_SLOTS, "Staging slots on this node");
    describe_gauge!(STAGING_SLOTS_BUSY, "Staging slots running a staging");
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Database connections open in this node's pool"
    );
    describe_gauge!(DB_POOL_IDLE, "Open database connections not in use");
    describe_gauge!(DB_POOL_MAX, "Most database connections the pool opens");
}

/// `LADLE_LOG_FORMAT`: `text` (default) for people, `json` for one JSON object per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub fn from_env() -> Result<LogFormat, String> {
        match std::env::var("LADLE_LOG_FORMAT").as_deref() {
            Err(_) | Ok("") | Ok("text") => Ok(LogFormat::Text),
            Ok("json") => Ok(LogFormat::Json),
            Ok(other) => Err(format!(
                "LADLE_LOG_FORMAT={other:?}: expected \"text\" or \"json\""
            )),
        }
    }
}

/// Sets the process's log subscriber. JSON lines carry the event's fields at the top level
/// (`route`, `status`, `duration_ms`, `request_id` on the access log) and the fields of the spans
/// it happened in (`request_id` of the request, `droplet_guid` of a staging) under `spans`.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LADLE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .init(),
        LogFormat::Text => {
            // Colour codes only for a person at a terminal, never into a file or a collector.
            let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
            builder.with_ansi(colour).init()
        }
    }
}
