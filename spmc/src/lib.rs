//! The Secure Partition Manager Core.
//!
//! The core is a pure state machine: [`Spmc::handle`] takes the registers of one FF-A call from
//! the SPMD or from a partition and returns an [`Outcome`]. It never touches a system register,
//! a raw pointer or MMIO; it reaches memory only through [`platform::Platform`]. The arch layer
//! (`arch`, bare metal only) turns outcomes into `smc` and `eret`.
#![no_std]
#![deny(unsafe_code)]

pub mod abort;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod arch;
pub mod boot_info;
pub mod call_chain;
pub mod console;
pub mod cpu_map;
pub mod direct_msg;
pub mod discovery;
pub mod exception;
pub mod fp_owner;
pub mod indirect_msg;
pub mod interrupts;
pub mod loader;
pub mod mailbox;
pub mod manifest;
pub mod memory;
pub mod memory_map;
pub mod notifications;
pub mod pagetable;
pub mod partition;
pub mod partition_info;
pub mod platform;
pub mod spmc;
pub mod vcpu;
pub mod version;

pub use ffa::{EndpointId, Regs};
pub use spmc::{Answer, Caller, CpuId, Event, FastCall, Next, Outcome, Spmc};
