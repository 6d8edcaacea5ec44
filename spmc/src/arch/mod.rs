//! The machine-dependent layer (bare metal only): everything that touches system registers,
//! memory by address or MMIO. The core modules never do.

pub mod aarch64;
