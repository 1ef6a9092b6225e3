//! The `apps` table.
