//! Errors that mean a backing service cannot be reached right now (the database or the
//! blobstore is down, restarting or unreachable), as opposed to errors in what was asked or in
//! ladle itself. Clients get 503 ServiceUnavailable for these and may retry; everything else
//! unexpected stays a 500.

use std::error::Error;

/// Which backing service is away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    Database,
    Blobstore,
}

impl Outage {
    /// Finds the outage behind `err`, looking through its whole cause chain.
    pub fn of(err: &(dyn Error + 'static)) -> Option<Outage> {
        let mut current = Some(err);
        while let Some(cause) = current {
            if let Some(db) = cause.downcast_ref::<sqlx::Error>() {
                return database_unreachable(db).then_some(Outage::Database);
            }
            if cause.downcast_ref::<object_store::Error>().is_some() {
                return connection_failed(cause).then_some(Outage::Blobstore);
            }
            current = cause.source();
        }
        None
    }

    pub fn name(self) -> &'static str {
        match self {
            Outage::Database => "database",
            Outage::Blobstore => "blobstore",
        }
    }
}

/// The database cannot be reached: no connection could be made or kept, the pool had none to
/// give in time, or the server is shutting down or starting up (SQLSTATE class 08 and 57P01-03).
pub fn database_unreachable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// Somewhere below `err` a connection could not be made, was cut, or timed out.
fn connection_failed(err: &(dyn Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(cause) = current {
        if let Some(http) = cause.downcast_ref::<reqwest::Error>() {
            if http.is_connect() || http.is_timeout() {
                return true;
            }
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected | TimedOut
            ) {
                return true;
            }
        }
        current = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("recording the staging outcome")]
    struct Wrapped(#[source] sqlx::Error);

    #[test]
    fn unreachable_databases_are_outages_anywhere_in_the_chain() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            Outage::of(&Wrapped(sqlx::Error::Io(refused))),
            Some(Outage::Database)
        );
        assert_eq!(
            Outage::of(&sqlx::Error::PoolTimedOut),
            Some(Outage::Database)
        );
        assert_eq!(Outage::of(&Wrapped(sqlx::Error::RowNotFound)), None);
        assert_eq!(
            Outage::of(&sqlx::Error::Protocol("bad message".into())),
            None
        );
    }

    #[test]
    fn blobstore_errors_are_outages_only_when_the_connection_failed() {
        let refused = object_store::Error::Generic {
            store: "S3",
            source: Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        };
        assert_eq!(Outage::of(&refused), Some(Outage::Blobstore));
        let missing = object_store::Error::NotFound {
            path: "packages/x".into(),
            source: "no such key".into(),
        };
        assert_eq!(Outage::of(&missing), None);
        let disk = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(Outage::of(&disk), None, "a bare i/o error names no service");
    }
}
