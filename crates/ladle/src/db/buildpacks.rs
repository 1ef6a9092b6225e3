//! The `buildpacks` table.
