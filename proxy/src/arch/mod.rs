//! The proxy's hardware layer (bare-metal builds only): everything that touches a system
//! register, a raw address or a device. The policy stays in the core modules.

pub mod aarch64;
