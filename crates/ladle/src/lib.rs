//! ladle: a Cloud Foundry Cloud Controller v3-compatible server that stages app bits into
//! droplets by running real buildpacks.

pub mod actions;
pub mod api;
pub mod auth;
pub mod blobstore;
pub mod cause_chain;
pub mod cli;
pub mod config;
pub mod db;
pub mod detached;
pub mod digest;
pub mod domain;
pub mod fetchers;
pub mod jobs;
pub mod messages;
pub mod openapi;
pub mod outage;
pub mod presenters;
pub mod routes;
pub mod serve;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod upload_check;
