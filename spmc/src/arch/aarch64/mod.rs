//! AArch64 at S-EL2 on QEMU virt: entry, vectors, world switch, MMU, console, and the core's
//! platform. `unsafe` lives here only, each block with its reason.

pub mod asm;
pub mod board;
pub mod console;
pub mod fp;
pub mod gic;
pub mod mem;
pub mod mmu;
pub mod platform;
pub mod run;
pub mod sve;
pub mod traps;
pub mod vcpu;

pub use run::panicked;
