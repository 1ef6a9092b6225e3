//! What the host side of staging (`ladle-stager`) and the in-container builder (`ladle-builder`)
//! agree on: where things are inside the container, how phases are announced, the exit codes and
//! the `result.json` the builder leaves behind. Everything here mirrors Cloud Foundry's buildpack
//! lifecycle so that tooling written for CF's builder reads our files unchanged.

pub mod exit_codes;
pub mod paths;
pub mod phase;
pub mod result;

pub use phase::Phase;
pub use result::{
    BuildpackMetadata, LifecycleMetadata, ProcessEntry, SidecarEntry, StagingFailure, StagingResult,
};
