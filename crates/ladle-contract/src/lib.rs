//! What the host side of staging (`ladle-stager`) and the in-container builder (`ladle-builder`)
//! agree on: where things are inside the container, how phases are announced, the exit codes,
//! the `result.json` the builder leaves behind and, beside it, `ladle-staging.json` for what
//! ladle needs beyond result.json's fields, and how a buildpack URL is shown without its
//! credentials. Everything else mirrors Cloud Foundry's buildpack lifecycle so that tooling
//! written for CF's builder reads our files unchanged.

pub mod details;
pub mod exit_codes;
pub mod limits;
pub mod paths;
pub mod phase;
pub mod result;
pub mod url_secrets;

pub use details::{BuildpackDetails, StagingDetails, StagingFailure};
pub use limits::FILE_DESCRIPTOR_LIMIT;
pub use phase::Phase;
pub use result::{BuildpackMetadata, LifecycleMetadata, ProcessEntry, SidecarEntry, StagingResult};
pub use url_secrets::obfuscate_url;
