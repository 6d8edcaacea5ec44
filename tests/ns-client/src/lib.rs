//! NS-EL1 test client: runs one of the shared scenarios (`scenarios::ALL`) behind the proxy on
//! QEMU, on every core, and prints the lines xtask reads.
//!
//! The portable parts are here and tested on the host: the per-core call slots ([`slot`]) and
//! the selection and reporting of a scenario ([`run`]). The bare-metal image (entry, SMC,
//! console, PSCI bring-up of the other cores) is [`arch`], built for the target only.
#![no_std]
#![deny(unsafe_code)]

pub mod run;
pub mod slot;

#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod arch;
