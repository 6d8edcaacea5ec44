//! The Rust test partitions' behaviour, as pure state machines.
//!
//! A partition is driven by its runner: the in-process harness feeds it the registers the SPMC
//! entered it with, and the S-EL1 image (a later step) does the same around a real `smc`. Each
//! [`TestPartition::step`] returns the next FF-A call the partition makes.
#![no_std]
#![forbid(unsafe_code)]

pub use ffa::Regs;

/// The partition's view of its own memory (its RX/TX buffers live there).
pub trait SpEnv {
    /// Copies from the partition's address `addr`; false if outside its memory.
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool;
    /// Copies to the partition's address `addr`; false if outside its memory.
    fn write(&mut self, addr: u64, data: &[u8]) -> bool;
}

/// A test partition's behaviour.
pub trait TestPartition {
    /// Given the registers the partition was entered (or resumed) with, the next call it makes.
    fn step(&mut self, entry: &Regs, env: &mut dyn SpEnv) -> Regs;
}
