//! One business verb per file. No axum types here: actions take validated input and return
//! records or a thiserror enum that the handler maps to an `ApiError`.

pub mod access;
pub mod apps;
pub mod build_cache;
pub mod buildpack_upload;
pub mod buildpacks;
pub mod builds;
pub mod current_droplet;
pub mod droplet_copy;
pub mod droplets;
pub mod jobs;
pub mod organizations;
pub mod package_copy;
pub mod package_stage;
pub mod package_upload;
pub mod packages;
pub mod processes;
pub mod roles;
pub mod spaces;
pub mod stacks;
pub mod staging_complete;
pub mod staging_logs;
pub mod staging_request;
pub mod users;
