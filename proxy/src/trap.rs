//! What a synchronous exception from the host (NS-EL1/EL0) to the proxy is, from ESR_EL2.
//!
//! The proxy runs the host with HCR_EL2.TSC set, so the host's SMCs trap here with ELR_EL2 at
//! the SMC itself (the return address must step over it). An HVC is taken after the
//! instruction. The proxy offers no hypercalls: an HVC is answered with SMCCC's
//! NOT_SUPPORTED (-1 in x0, the other registers untouched), so a host probing for a hypervisor
//! service sees none.

/// Exception classes (ESR_ELx.EC) the proxy tells apart.
mod ec {
    pub const HVC64: u8 = 0x16;
    pub const SMC64: u8 = 0x17;
    pub const INSTRUCTION_ABORT_LOWER: u8 = 0x20;
    pub const DATA_ABORT_LOWER: u8 = 0x24;
}

/// SMCCC's answer to an unknown function: -1 in x0.
pub const SMCCC_NOT_SUPPORTED: u64 = u64::MAX;

/// A trap from the host, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostTrap {
    /// SMC from AArch64: the preferred return address is the SMC itself.
    Smc64 {
        /// The SMC's immediate (SMCCC uses 0).
        imm: u16,
    },
    /// HVC from AArch64: the preferred return address is the next instruction.
    Hvc64 {
        /// The HVC's immediate.
        imm: u16,
    },
    /// A stage-2 (or stage-1) data abort: the host touched memory it has no access to.
    DataAbort {
        /// ESR_EL2.ISS.
        iss: u32,
    },
    /// An instruction abort from the host.
    InstructionAbort {
        /// ESR_EL2.ISS.
        iss: u32,
    },
    /// Anything else the proxy does not expect.
    Other {
        /// ESR_EL2.EC.
        ec: u8,
        /// ESR_EL2.ISS.
        iss: u32,
    },
}

impl HostTrap {
    /// Decodes ESR_EL2 for an exception taken from a lower exception level.
    pub fn decode(esr: u64) -> Self {
        let ec = ((esr >> 26) & 0x3f) as u8;
        let iss = (esr & 0x1ff_ffff) as u32;
        let imm = (iss & 0xffff) as u16;
        match ec {
            ec::SMC64 => HostTrap::Smc64 { imm },
            ec::HVC64 => HostTrap::Hvc64 { imm },
            ec::DATA_ABORT_LOWER => HostTrap::DataAbort { iss },
            ec::INSTRUCTION_ABORT_LOWER => HostTrap::InstructionAbort { iss },
            _ => HostTrap::Other { ec, iss },
        }
    }

    /// How far ELR_EL2 must move so the host resumes after the trapping instruction.
    pub fn return_step(&self) -> u64 {
        match self {
            HostTrap::Smc64 { .. } => 4,
            _ => 0,
        }
    }
}
