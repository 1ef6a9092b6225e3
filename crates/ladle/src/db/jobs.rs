//! The `jobs` table.
