//! Whether this node can do its work (`GET /readyz`): the database answers and has every
//! migration this binary needs, and the blobstore answers. Also samples the gauges that are
//! read rather than counted (`GET /metrics`).

use std::future::Future;
use std::time::Duration;

use crate::cause_chain::CauseChain;
use crate::db::{self, job_queue};
use crate::state::AppState;
use crate::telemetry;

/// Longest a single check may take: a load balancer's probe must be answered, whatever hangs.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// One check's name and, when it failed, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub problem: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Readiness {
    pub checks: Vec<Check>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.checks.iter().all(|check| check.problem.is_none())
    }
}

pub async fn check(state: &AppState) -> Readiness {
    let (migrations, blobstore) = tokio::join!(
        bounded(db::missing_migrations(&state.db)),
        bounded(state.blobs.check()),
    );
    let (database, migrations) = match migrations {
        Err(problem) => (
            Some(problem),
            Some("not checked: the database is not reachable".to_string()),
        ),
        Ok(missing) if missing.is_empty() => (None, None),
        Ok(missing) => (
            None,
            Some(format!(
                "the database lacks migrations {missing:?}; run `ladle migrate`"
            )),
        ),
    };
    Readiness {
        checks: vec![
            Check {
                name: "database",
                problem: database,
            },
            Check {
                name: "migrations",
                problem: migrations,
            },
            Check {
                name: "blobstore",
                problem: blobstore.err(),
            },
        ],
    }
}

/// Runs a check within `CHECK_TIMEOUT`; its error (or the timeout) as text.
async fn bounded<T, E: std::error::Error + 'static>(
    check: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(CauseChain(&err).to_string()),
        Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
    }
}

/// Sets the gauges read at scrape time: the database pool's use and the staging queue's depth
/// (left as it was when the database does not answer).
pub async fn sample_gauges(state: &AppState) {
    let pool = &state.db;
    metrics::gauge!(telemetry::DB_POOL_CONNECTIONS).set(pool.size() as f64);
    metrics::gauge!(telemetry::DB_POOL_IDLE).set(pool.num_idle() as f64);
    metrics::gauge!(telemetry::DB_POOL_MAX).set(pool.options().get_max_connections() as f64);
    let queued = tokio::time::timeout(
        CHECK_TIMEOUT,
        db::jobs::queued_count(pool, job_queue::STAGING),
    )
    .await;
    if let Ok(Ok(queued)) = queued {
        metrics::gauge!(telemetry::STAGING_QUEUE_DEPTH).set(queued as f64);
    }
}
