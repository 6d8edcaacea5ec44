//! Manifest parsing and SPMC configuration: partition manifests, the SPMC manifest, endpoint
//! ID assignment, the project's own DTS sources, and robustness against arbitrary input.

mod builder;
mod config;
mod dts;
mod fuzz;
mod loader;
mod partition;
mod sources;
mod spmc_manifest;
