//! Host side of staging: prepares a workspace, runs `ladle-builder` in a runc container (or, when
//! the operator asks for it, as a plain process) under Cloud Foundry's limits, streams its log,
//! and turns the outcome into a droplet or one of Cloud Controller's staging errors.

mod builder_libs;
mod buildpack_cache;
mod bundle;
mod config;
pub mod env;
mod fs_pool;
mod log;
mod network;
mod node_dir;
mod outcome;
mod prepare;
mod process;
mod process_cgroup;
mod reap;
mod request;
mod runc;
mod runc_cgroup;
mod seccomp;
mod stager;
mod supervise;
mod unpack;
mod workspace;

pub use config::{
    parse_deny_cidrs, ConfigError, ExecutorChoice, StagerConfig, StagingNetwork, DEFAULT_DENY_CIDRS,
};
pub use ladle_contract::Phase;
pub use log::{LogLine, LogSink, Stream, VecSink};
pub use node_dir::NODE_DIR;
pub use prepare::buildpack_dir_name;
pub use reap::ReapReport;
pub use request::{
    BuildpackSource, Digests, ExecutorKind, FailureKind, StackRoot, StagingFailure, StagingRequest,
    StagingSuccess,
};
pub use stager::{Stager, StagerSetupError};
