//! In-process end-to-end harness: host client → proxy core → a model of TF-A's SPMD → SPMC
//! core → test partitions, over simulated secure and non-secure physical memory.
//!
//! - [`memory`]: [`memory::SimMemory`] and the views each agent gets (the SPMC's `Platform`,
//!   the proxy's `HostMemory`, a partition's `SpEnv`, a host's RAM).
//! - [`spmd`]: TF-A v2.12's SPMD as `docs/boot-chain.md` §4 describes it (cold boot, PSCI
//!   CPU_ON and CPU_OFF, forwarding), and the secure CPU under it (the SPMC core's outcomes
//!   drive the partitions); every run is bounded.
//! - [`config`]: each partition's FF-A manifest and the SPMC manifest written as DTBs, then
//!   parsed by the SPMC's own parser.
//! - [`stack`]: one booted machine ([`stack::Stack::standard`]: echo, relay, legacy; CPU 0
//!   cold-booted, CPUs 1..3 powered on).
//! - [`client`]: [`client::ProxiedClient`] and [`client::DirectClient`], the `scenarios::Client`s.
//! - [`runner`]: [`runner::run_all`] runs every scenario on a fresh stack and reports
//!   `scenario <client> <name> PASS|FAIL <reason>` lines.
//!
//! Environment: `E2E_TRACE=1` prints every hop; `E2E_ONLY=a,b` runs only the scenarios named.

pub mod client;
pub mod config;
pub mod el3_services;
pub mod error;
pub mod memory;
pub mod runner;
pub mod spmd;
pub mod stack;
pub mod trace;

pub use client::ClientKind;
pub use error::HarnessError;
pub use runner::{Report, run_all};
