//! `/v3/buildpacks`
