//! NS-EL1 test client: runs one of the shared scenarios (`scenarios::ALL`) behind the proxy on
//! QEMU, with all cores up and the home core the selector names as its CPU 0, and prints the
//! lines xtask reads; or, with the bench selector, times a
//! direct request through the proxy ([`bench`]).
//!
//! The portable parts are here and tested on the host: the per-core call slots ([`slot`]), the
//! selection and reporting of a scenario or the bench row ([`run`]), and the bench mode's
//! requests, checks and statistics ([`bench`], `scenarios::bench`, which the proxy's image shares). The bare-metal
//! image (entry, SMC, console, PSCI bring-up of the other cores) is [`arch`], built for the
//! target only.
#![no_std]
#![deny(unsafe_code)]

pub use scenarios::bench;
pub mod run;
pub mod slot;

#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod arch;
