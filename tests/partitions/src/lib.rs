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
    DEFINITIONS, Definition, ECHO_ID, ECHO_UUID, FOREIGN_UUID, HOSTILE_ID, HOSTILE_UUID, Kind,
    LEGACY_ID, LEGACY_UUID, RELAY_ID, RELAY_UUID_A, RELAY_UUID_B, SPMC_ID,
};
pub use ffa::Regs;
pub use machine::{BootInfoSeen, Machine};
pub use protocol::FpSeen;

/// The partition's view of its own memory (its RX/TX buffers live there), and the two
/// isolation commands' ways out of it.
pub trait SpEnv {
    /// Copies from the partition's address `addr`; false if outside its memory.
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool;
    /// Copies to the partition's address `addr`; false if outside its memory.
    fn write(&mut self, addr: u64, data: &[u8]) -> bool;
    /// Loads the 64-bit word at `addr` (8-byte aligned) without the check [`SpEnv::read`]
    /// makes: what the partition's mappings hold there, or the data abort its own exception
    /// handler took. On hardware this is a real load (the SPMC injects a stage-2 fault as a
    /// synchronous abort at the partition's EL1 vector); in-process, the harness reads the
    /// simulated memory the partition's stage-2 would map and faults elsewhere.
    fn probe(&mut self, addr: u64) -> Result<u64, Fault>;
    /// Takes a fault the partition cannot handle (no exception vector): the SPMC aborts it.
    /// On hardware this does not return. In-process it marks the environment, and the harness
    /// makes the SPMC abort the running context instead of handling the call this step returns.
    fn crash(&mut self);
    /// Overwrites the CPU state a partition can write without a trap and the normal world
    /// uses too (the EL1 timers: disabled, compare values at the end of time), as a hostile
    /// partition would. On hardware the SPMC must keep the normal world's own; in-process
    /// there is no such state, and nothing happens.
    fn clobber_cpu_state(&mut self) {}
    /// Tries accesses the SPMC must trap (x = bit): PMCR_EL0 read (0), DBGBVR0_EL1 read (1),
    /// ACTLR_EL1 write (2), ICC_SGI1R_EL1 write of an SGI to no core (3); a bit is set when
    /// that access took an Unknown-reason exception at the partition's own vector, as on a CPU
    /// without the register. Bit 4: a write of 0 to ICC_SRE_EL1 trapped, or left SRE set
    /// (a GIC that fixes it, as QEMU's does, cannot trap it). Bit 5: MDSCR_EL1 write (the
    /// SPMC does not switch that register: it must trap). None where there is no CPU to try
    /// them on (in-process).
    fn trapped_registers(&mut self) -> Option<u8> {
        None
    }
    /// Stores `value` at `addr` (8-byte aligned) without the check [`SpEnv::write`] makes,
    /// as [`SpEnv::probe`] loads: what its stage 2 maps (memory it retrieved), or the data
    /// abort its own handler took.
    fn poke(&mut self, addr: u64, value: u64) -> Result<(), Fault>;
    /// Writes ICC_PMR_EL1 = 0, as a partition silencing the CPU's interrupts would, then spins
    /// for `ms` milliseconds of the system counter with known values in x1..x15. None where
    /// there is no CPU (in-process).
    fn spin(&mut self, _ms: u64) -> Option<Spin> {
        None
    }
    /// Checks that its FP/SIMD registers (V0..V31, FPCR, FPSR) hold the pattern of seed
    /// `last` (nothing is checked for 0), then fills them with the pattern of `seed`
    /// ([`protocol::fp_pattern`]). None where there is no CPU (in-process).
    fn fp_pattern(&mut self, _last: u32, _seed: u32) -> Option<FpSeen> {
        None
    }
}

/// What SPIN saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spin {
    /// How many of x1..x15 no longer held their value after the spin (0: an interruption,
    /// if any, gave them back).
    pub changed_registers: u64,
    /// The ICC_PMR_EL1 write took an exception (the partition has no GIC interface).
    pub pmr_write_faulted: bool,
}

/// A synchronous data abort the partition's own exception handler took (FAR_EL1, ESR_EL1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The faulting address (FAR_EL1).
    pub address: u64,
    /// The exception syndrome (ESR_EL1).
    pub syndrome: u64,
}

impl Fault {
    /// ESR exception class of a data abort taken without a change of exception level.
    pub const EC_DATA_ABORT_SAME_EL: u64 = 0x25;
    /// ESR bit 25: 32-bit instruction.
    const IL: u64 = 1 << 25;
    /// ESR bit 6 of a data abort: the access was a write.
    const WNR: u64 = 1 << 6;
    /// Data fault status code: translation fault, level 3.
    const DFSC_TRANSLATION_L3: u64 = 0b00_0111;

    /// The abort an EL1 read of `address` that stage 2 does not map gives the partition, as
    /// the SPMC injects it (FF-A partitions see a same-EL data abort with the stage-2
    /// syndrome's ISS; the translation level depends on the SPMC's tables).
    pub const fn unmapped_read(address: u64) -> Self {
        Self {
            address,
            syndrome: (Self::EC_DATA_ABORT_SAME_EL << 26) | Self::IL | Self::DFSC_TRANSLATION_L3,
        }
    }

    /// The syndrome's exception class (ESR bits \[31:26\]).
    pub const fn exception_class(&self) -> u64 {
        (self.syndrome >> 26) & 0x3f
    }

    /// Whether a data abort's syndrome says the access was a write (WnR).
    pub const fn is_write(&self) -> bool {
        self.syndrome & Self::WNR != 0
    }
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
    /// hostile: v1.2, DIRECT_REQ only; the attacks are its commands.
    Hostile(Machine),
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
            Kind::Hostile => Self::Hostile(machine),
        }
    }

    /// Execution context 0 of the partition named `name` in [`DEFINITIONS`].
    pub fn by_name(name: &str) -> Option<Self> {
        definitions::by_name(name).map(Self::for_definition)
    }

    /// The state machine behind it.
    pub fn machine(&self) -> &Machine {
        match self {
            Self::Echo(m) | Self::Relay(m) | Self::Legacy(m) | Self::Hostile(m) => m,
        }
    }

    fn machine_mut(&mut self) -> &mut Machine {
        match self {
            Self::Echo(m) | Self::Relay(m) | Self::Legacy(m) | Self::Hostile(m) => m,
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
