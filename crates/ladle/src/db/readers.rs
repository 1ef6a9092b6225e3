//! Where the hottest reads go (`GET /v3/apps/:guid`, which clients poll).
//!
//! On PostgreSQL that is the pool. On SQLite it is a few connections of their own: sqlx runs
//! every SQLite connection on a thread of its own, and its pool checks a connection on that
//! thread when it is handed back, so a pooled query costs two round trips between threads where
//! one does. These connections are only ever used for one statement at a time outside any
//! transaction, so there is nothing to check or roll back between uses, and each statement
//! reads the database as last committed (WAL): a row changed through the pool, or by another
//! node, is seen by the next read. Nothing read is kept.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::ConnectOptions;
use tokio::sync::Semaphore;

use super::{Backend, DbPool, DbResult};

#[derive(Clone)]
pub enum Readers {
    Pool(DbPool),
    Sqlite(Arc<SqliteReaders>),
}

impl Readers {
    /// The pool itself on PostgreSQL; `count` connections of their own on SQLite.
    pub async fn open(pool: &DbPool, url: &str, count: usize) -> DbResult<Readers> {
        Ok(match Backend::of_url(url) {
            Some(Backend::Sqlite) => Readers::Sqlite(Arc::new(SqliteReaders::open(url, count)?)),
            _ => Readers::Pool(pool.clone()),
        })
    }
}

/// Connections opened on first use, up to `count`, each used by one read at a time.
pub struct SqliteReaders {
    options: SqliteConnectOptions,
    idle: Mutex<Vec<SqliteConnection>>,
    /// One permit per connection: a read waits here when all are busy.
    permits: Semaphore,
}

impl SqliteReaders {
    pub fn open(url: &str, count: usize) -> DbResult<SqliteReaders> {
        let options = SqliteConnectOptions::from_str(url)?
            // Readers never create the database: the pool made and migrated it.
            .create_if_missing(false)
            // As the pool's connections: wait for a writer rather than fail.
            .busy_timeout(Duration::from_secs(10))
            .disable_statement_logging();
        Ok(SqliteReaders {
            options,
            idle: Mutex::new(Vec::with_capacity(count)),
            permits: Semaphore::new(count.max(1)),
        })
    }

    /// A connection for one read; it goes back when the guard is dropped.
    pub async fn acquire(&self) -> DbResult<Reader<'_>> {
        let permit = self
            .permits
            .acquire()
            .await
            .expect("the readers' semaphore is never closed");
        let idle = self.lock().pop();
        let connection = match idle {
            Some(connection) => connection,
            None => self.options.connect().await?,
        };
        Ok(Reader {
            readers: self,
            connection: Some(connection),
            _permit: permit,
        })
    }

    /// Connections open and not in use.
    pub fn idle(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SqliteConnection>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One connection of `SqliteReaders`, lent for one read.
pub struct Reader<'a> {
    readers: &'a SqliteReaders,
    connection: Option<SqliteConnection>,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl Reader<'_> {
    pub fn connection(&mut self) -> &mut SqliteConnection {
        self.connection.as_mut().expect("present until dropped")
    }

    /// The read failed for a reason other than its SQL or its data (the connection's thread
    /// is gone, the file cannot be read): the connection is closed, not lent again.
    pub fn discard_after(&mut self, error: &sqlx::Error) {
        if !matches!(
            error,
            sqlx::Error::Database(_)
                | sqlx::Error::RowNotFound
                | sqlx::Error::ColumnDecode { .. }
                | sqlx::Error::ColumnNotFound(_)
                | sqlx::Error::Decode(_)
        ) {
            self.connection = None;
        }
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        // A read dropped before its end (the client went away) leaves nothing behind: the
        // connection's thread finishes or abandons that one statement before it takes the
        // next command, and no transaction is ever open on it.
        if let Some(connection) = self.connection.take() {
            self.readers.lock().push(connection);
        }
    }
}
