//! Durable background work. Jobs are rows in the `jobs` table, enqueued in the same transaction
//! as the rows they act on, and claimed with a lease so that any number of nodes can share one
//! database: a node that dies simply lets its lease expire and another node takes the job over.

pub mod log_retention;
pub mod runner;
pub mod staging;
pub mod staging_log;
pub mod sweep;

#[cfg(test)]
mod tests;
