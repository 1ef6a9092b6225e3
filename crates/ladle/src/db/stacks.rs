//! The `stacks` table.
