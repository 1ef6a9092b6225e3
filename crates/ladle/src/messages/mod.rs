//! Request bodies and query strings → validated input, or the problems that refuse them
//! (`MessageError`; `api` decides the status).

pub mod app_create;
pub mod app_update;
pub mod build_create;
pub mod buildpack_create;
pub mod buildpack_update;
pub mod copy;
pub mod current_droplet;
pub mod droplet_create;
pub mod env_vars;
pub mod error;
pub mod fields;
pub mod filters;
pub mod include;
pub mod list;
pub mod log_cache_read;
pub mod organization_create;
pub mod package_create;
pub mod role_create;
pub mod space_create;
pub mod stack_create;
pub mod user_create;

pub use error::{MessageError, MessageErrorKind};
