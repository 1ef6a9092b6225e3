//! The `roles` table.
