//! Black-box suite: every test starts the real `ladle serve` binary on port 0 with a fresh data
//! dir and talks HTTP to it, nothing else.

mod blobs;
mod staging_support;
mod support;

mod apps;
mod buildpack_credentials;
mod buildpacks;
mod builds;
mod cli;
mod cluster;
mod connections;
mod conventions;
mod droplets;
mod environment_variables;
mod faults;
mod files_at_rest;
mod fresh_reads;
mod includes;
mod leases;
mod links;
mod live_logs;
mod login;
mod node;
mod openapi;
mod organizations;
mod outages;
mod packages;
mod push;
mod roles;
mod s3;
mod spaces;
mod stacks;
mod stage_package;
mod staging_logs;
mod staging_recovery;
mod tokens;
mod users;
mod worker;
