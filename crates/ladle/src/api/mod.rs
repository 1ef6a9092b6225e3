//! The HTTP edge: extractors, handlers (one file per resource) and `ApiError`. No SQL and no
//! blobstore calls here: handlers parse, call one action, present.

pub mod apps;
pub mod buildpacks;
pub mod builds;
pub mod droplets;
pub mod error;
pub mod extract;
pub mod jobs;
pub mod organizations;
pub mod packages;
pub mod processes;
pub mod request_id;
pub mod roles;
pub mod root;
pub mod spaces;
pub mod stacks;
pub mod users;
