//! What can go wrong in the harness itself (as opposed to an FF-A error an answer carries).

use std::fmt;

use crate::memory::Fault;

/// A failure of the stack that no FF-A answer can express: the test stops here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HarnessError {
    /// The secure side ran `steps` hops on `cpu` without handing control back to EL3 for the
    /// normal world (a partition or the SPMC loops, or nobody answers).
    Hang {
        /// The CPU the runaway happened on.
        cpu: u16,
        /// The hops run before giving up.
        steps: usize,
    },
    /// The SPMC answered FFA_ERROR to its boot (SPMD state ON_PENDING), with this code in w2.
    InitFailed {
        /// w2 of the FFA_ERROR.
        code: u64,
    },
    /// Something broke the SPMD's protocol in a way TF-A would not survive (what, in words).
    Protocol(String),
    /// EL3 would panic here (what, in words).
    El3Panic(String),
    /// The SPMC entered a partition the harness does not host, or a vCPU it does not have.
    UnknownPartition {
        /// The endpoint ID the SPMC named.
        id: u16,
        /// The execution context it named.
        vcpu: u16,
    },
    /// A call was made on a CPU the machine does not have.
    NoSuchCpu(u16),
    /// A client touched memory it does not own.
    Memory(Fault),
    /// The configuration could not be built or was refused.
    Config(String),
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarnessError::Hang { cpu, steps } => {
                write!(
                    f,
                    "hang: no answer for the normal world after {steps} hops on cpu{cpu}"
                )
            }
            HarnessError::InitFailed { code } => {
                write!(f, "SPMC initialisation failed (FFA_ERROR w2={code:#x})")
            }
            HarnessError::Protocol(what) => write!(f, "protocol violation: {what}"),
            HarnessError::El3Panic(what) => write!(f, "EL3 panic: {what}"),
            HarnessError::UnknownPartition { id, vcpu } => {
                write!(f, "SPMC entered unknown partition {id:#06x} vCPU {vcpu}")
            }
            HarnessError::NoSuchCpu(cpu) => write!(f, "no cpu{cpu} on this machine"),
            HarnessError::Memory(fault) => write!(f, "client memory fault: {fault}"),
            HarnessError::Config(what) => write!(f, "configuration: {what}"),
        }
    }
}

impl std::error::Error for HarnessError {}
