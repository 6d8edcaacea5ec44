//! The S-EL1 images of the Rust test partitions (echo, relay, legacy): each runs
//! `test_partitions::Instance` around a real `smc`.
//!
//! Each bin is linked at its partition's load address + 0x4000 (linker/sp-<name>.ld) and
//! entered there by the SPMC with the MMU off, so every access is to Device memory until
//! [`mmu`] turns stage 1 on: the softfloat target keeps code to aligned accesses without
//! FP/SIMD, and nothing here uses exclusives. The entry ([`runtime`]) picks the execution
//! context's stack at the top of the partition's own 1 MiB window ([`layout`]), zeroes the
//! bss on the cold-boot entry, points VBAR_EL1 at its own vectors and runs the partition:
//! `loop { call = instance.step(&regs, &mut env); regs = smc(call) }`.
//!
//! - [`layout`]: where each context's stack is, which context an entry is.
//! - [`console`]: FFA_CONSOLE_LOG lines (the SPMC prints them with the partition's ID).
//! - [`mmu`] (bare-metal only): the identity stage-1 map that reaches the normal world's
//!   memory through the NS bit.
//! - [`runtime`] (bare-metal only): entry, exception vectors, `smc`, the partition's memory
//!   and its PROBE and CRASH, the panic handler. The only `unsafe` of the crate lives there.
#![no_std]
#![cfg_attr(not(target_os = "none"), forbid(unsafe_code))]

#[cfg(test)]
extern crate std;

pub mod console;
pub mod layout;
#[cfg(target_os = "none")]
pub mod mmu;
#[cfg(target_os = "none")]
pub mod runtime;

pub use ffa::Regs;
