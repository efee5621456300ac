//! The `taylordash` binary's library half: configuration, startup and the health-check client.
//! `main.rs` only parses the command line and calls into here.

pub mod alerting;
pub mod app;
pub mod backups;
pub mod config;
pub mod files;
pub mod healthcheck;
pub mod memory;
pub mod startup;
pub mod telemetry;
