//! The Rust test partitions' behaviour, as pure state machines.
//!
//! A partition is driven by its runner: the in-process harness feeds it the registers the SPMC
//! entered it with, and the S-EL1 image (a later step) does the same around a real `smc`. Each
//! [`TestPartition::step`] returns the next FF-A call the partition makes.
//!
//! - [`definitions`]: the fixed partition set ([`DEFINITIONS`]): IDs, UUIDs, manifest values.
//! - [`protocol`]: the commands every partition serves, shared with the scenarios.
//! - [`Instance`]: one execution context of a partition, implementing [`TestPartition`].
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod definitions;
mod machine;
pub mod protocol;

pub use definitions::{
    DEFINITIONS, Definition, ECHO_ID, ECHO_UUID, FOREIGN_UUID, Kind, LEGACY_ID, LEGACY_UUID,
    RELAY_ID, RELAY_UUID_A, RELAY_UUID_B, SPMC_ID,
};
pub use ffa::Regs;
pub use machine::{BootInfoSeen, Machine};

/// The partition's view of its own memory (its RX/TX buffers live there).
pub trait SpEnv {
    /// Copies from the partition's address `addr`; false if outside its memory.
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool;
    /// Copies to the partition's address `addr`; false if outside its memory.
    fn write(&mut self, addr: u64, data: &[u8]) -> bool;
}

/// A test partition's behaviour.
pub trait TestPartition {
    /// The context is started afresh at `pc` (its first entry, or the first after its CPU was
    /// powered off): what it held in registers is gone. The next [`TestPartition::step`]
    /// gets the registers it starts with.
    fn start(&mut self, pc: u64) {
        let _ = pc;
    }

    /// Given the registers the partition was entered (or resumed) with, the next call it makes.
    fn step(&mut self, entry: &Regs, env: &mut dyn SpEnv) -> Regs;
}

/// One execution context of one of the test partitions.
///
/// A UP partition needs one instance; an MP partition (relay) one per execution context, each
/// driven on its own CPU. Started at its entry point, context 0 reads its boot-information
/// blob and initialises the partition (version, ID, RX/TX buffers, warm-boot entry); started
/// at the warm-boot entry, a context checks its ID and waits.
#[derive(Clone, Debug)]
pub enum Instance {
    /// echo: v1.2, DIRECT_REQ and DIRECT_REQ2.
    Echo(Machine),
    /// relay: v1.2, MP, two UUIDs.
    Relay(Machine),
    /// legacy: v1.1, DIRECT_REQ only.
    Legacy(Machine),
}

impl Instance {
    /// Execution context 0 of the partition `def`.
    pub fn for_definition(def: &Definition) -> Self {
        Self::for_execution_context(def, 0)
    }

    /// Execution context `vcpu` of the partition `def`.
    pub fn for_execution_context(def: &Definition, vcpu: u16) -> Self {
        let machine = Machine::new(def, vcpu);
        match def.kind {
            Kind::Echo => Self::Echo(machine),
            Kind::Relay => Self::Relay(machine),
            Kind::Legacy => Self::Legacy(machine),
        }
    }

    /// Execution context 0 of the partition named `name` in [`DEFINITIONS`].
    pub fn by_name(name: &str) -> Option<Self> {
        definitions::by_name(name).map(Self::for_definition)
    }

    /// The state machine behind it.
    pub fn machine(&self) -> &Machine {
        match self {
            Self::Echo(m) | Self::Relay(m) | Self::Legacy(m) => m,
        }
    }

    fn machine_mut(&mut self) -> &mut Machine {
        match self {
            Self::Echo(m) | Self::Relay(m) | Self::Legacy(m) => m,
        }
    }
}

impl TestPartition for Instance {
    fn start(&mut self, pc: u64) {
        self.machine_mut().start(pc);
    }

    fn step(&mut self, entry: &Regs, env: &mut dyn SpEnv) -> Regs {
        self.machine_mut().step(entry, env)
    }
}
