//! The `droplets` table.
