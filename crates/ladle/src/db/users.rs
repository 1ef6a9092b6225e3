//! The `users` table.
