//! The `builds` table.
