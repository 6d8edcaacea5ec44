//! In-process end-to-end harness: host client → proxy core → a model of TF-A's SPMD → SPMC
//! core → test partitions, over simulated secure and non-secure physical memory.
//!
//! Every scenario of the `scenarios` crate runs here on a fresh stack, once through the EL2
//! proxy ([`client::ProxiedClient`]) and once straight to EL3 ([`client::DirectClient`]).

pub mod config;
pub mod el3_services;
pub mod error;
pub mod memory;
pub mod spmd;
pub mod trace;

pub use error::HarnessError;
pub mod client;
pub mod runner;
pub mod stack;
