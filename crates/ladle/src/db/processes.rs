//! The `processes` table.
