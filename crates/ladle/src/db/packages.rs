//! The `packages` table.
