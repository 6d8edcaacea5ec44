//! The SPMC state machine: boot, and the dispatch of every call to its FF-A area's module.
//!
//! API contract (used by the arch layer and the in-process harness):
//! - [`Spmc::new`] builds the partition table from validated configuration.
//! - [`Spmc::boot`] on the primary CPU starts partitions in boot order: it returns
//!   [`Outcome::Enter`] for the first partition; each partition's first FFA_MSG_WAIT (passed to
//!   [`Spmc::handle`]) enters the next; after the last, [`Outcome::ToSpmd`] carries FFA_MSG_WAIT
//!   ("initialisation done") for the SPMD.
//! - [`Spmc::handle`] takes one call from the SPMD (a normal-world call it forwarded, or one of
//!   its framework messages) or from the partition currently running on `cpu`.

use crate::manifest::SpmcConfig;
use crate::platform::Platform;
use ffa::{EndpointId, Regs};

/// A physical CPU, by TF-A's linear core index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CpuId(pub u16);

/// Who made the call the SPMC is handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The SPMD: a call the normal world made (forwarded by EL3), or a framework message.
    Spmd,
    /// The partition whose execution context was running on this CPU.
    Partition(EndpointId),
}

/// What the arch layer does next on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// SMC to the SPMD with these registers: an answer for the normal world, a framework
    /// response, or FFA_MSG_WAIT when this CPU has nothing to run.
    ToSpmd(Regs),
    /// Enter (or resume) an execution context of a partition with x0..x17.
    Enter {
        /// The partition.
        partition: EndpointId,
        /// Its execution-context index.
        vcpu: u16,
        /// x0..x17 to enter with.
        regs: Regs,
    },
}

/// The SPMC.
pub struct Spmc<P: Platform> {
    platform: P,
    config: SpmcConfig,
}

impl<P: Platform> Spmc<P> {
    /// An SPMC hosting the partitions of `config` on `cpu_count` CPUs.
    pub fn new(config: SpmcConfig, platform: P, cpu_count: u16) -> Self {
        let _ = cpu_count;
        Self { platform, config }
    }

    /// Cold boot on the primary CPU.
    pub fn boot(&mut self, cpu: CpuId) -> Outcome {
        let _ = cpu;
        Outcome::ToSpmd(ffa::call::encode(&ffa::Interface::MsgWait {
            flags: Default::default(),
            is_32bit: true,
        }))
    }

    /// Handles one call made on `cpu` by `caller`.
    pub fn handle(&mut self, cpu: CpuId, caller: Caller, regs: &Regs) -> Outcome {
        let _ = (cpu, caller, regs, &self.config);
        Outcome::ToSpmd(ffa::call::error(ffa::FfaError::NotSupported))
    }

    /// The platform, for the arch layer and tests.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// The platform, mutably.
    pub fn platform_mut(&mut self) -> &mut P {
        &mut self.platform
    }
}
