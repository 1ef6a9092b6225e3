//! The `spaces` table.
