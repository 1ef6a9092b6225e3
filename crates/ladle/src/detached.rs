//! Work that must not stop half-way when whoever awaits it goes away.

use std::future::Future;

use tracing::Instrument;

/// Runs `work` on a task of its own and waits for its end. Dropping the returned future, as
/// axum drops a handler whose client hangs up, leaves `work` running to its end: a blob upload
/// is then completed or aborted, and the row that follows it is written, rather than parts
/// left on the server and a row left half-way.
pub async fn run_to_end<F>(work: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match tokio::spawn(work.in_current_span()).await {
        Ok(output) => output,
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    }
}
