//! Hafnium paravirtual call IDs that existing partitions (OP-TEE, the FF-A ACS) use.
//!
//! Partitions built for Hafnium issue these by HVC (S-EL1) or SVC (S-EL0) with the call ID in
//! x0 and arguments in x1..x3; the answer goes back in x0 alone: 0 for success, -1 for failure,
//! or the interrupt ID for [`HfCall::InterruptGet`]. IDs and argument encodings follow Hafnium's
//! `inc/vmapi/hf/abi.h`, `call.h` and `types.h`.

use crate::call::Regs;

/// A Hafnium paravirtual call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum HfCall {
    /// Enable or disable a virtual interrupt: x1 = INTID, x2 = enable (0/1), x3 =
    /// [`InterruptType`].
    InterruptEnable = 0xff03,
    /// Get and acknowledge the highest-priority pending virtual interrupt; answers
    /// [`INVALID_INTID`] when none is pending.
    InterruptGet = 0xff04,
    /// Deactivate an interrupt: x1 = physical INTID, x2 = virtual INTID (Hafnium's callers pass
    /// the same ID twice).
    InterruptDeactivate = 0xff08,
    /// Change an interrupt at run time: x1 = INTID, x2 = [`ReconfigureCommand`], x3 = value.
    InterruptReconfigure = 0xff09,
    /// Send an inter-processor interrupt to one of the caller's vCPUs: x1 = vCPU index.
    InterruptSendIpi = 0xff0a,
}

impl HfCall {
    /// The call whose ID is `fid`, if Hafnium defines it today.
    pub const fn from_fid(fid: u32) -> Option<Self> {
        match fid {
            0xff03 => Some(Self::InterruptEnable),
            0xff04 => Some(Self::InterruptGet),
            0xff08 => Some(Self::InterruptDeactivate),
            0xff09 => Some(Self::InterruptReconfigure),
            0xff0a => Some(Self::InterruptSendIpi),
            _ => None,
        }
    }

    /// The call's ID.
    pub const fn fid(self) -> u32 {
        self as u32
    }
}

/// What FFA_RUN returns (in x0, instead of an FF-A function ID) when Hafnium, as a normal-world
/// hypervisor, reports that the vCPU waits for an interrupt.
pub const RUN_WAIT_FOR_INTERRUPT: u32 = 0xff06;

/// IDs Hafnium once used and has retired; answered as unknown calls.
pub mod retired {
    /// `HF_MAILBOX_WRITABLE_GET`.
    pub const MAILBOX_WRITABLE_GET: u32 = 0xff01;
    /// `HF_MAILBOX_WAITER_GET`.
    pub const MAILBOX_WAITER_GET: u32 = 0xff02;
    /// `HF_INTERRUPT_INJECT`.
    pub const INTERRUPT_INJECT: u32 = 0xff05;
}

/// x0 of a successful answer.
pub const SUCCESS: u64 = 0;
/// x0 of a failed answer (-1).
pub const FAILURE: u64 = u64::MAX;

/// The INTID [`HfCall::InterruptGet`] answers when nothing is pending.
pub const INVALID_INTID: u32 = 0xffff_ffff;
/// Virtual INTID of the virtual timer.
pub const VIRTUAL_TIMER_INTID: u32 = 3;
/// Virtual INTID of managed exit.
pub const MANAGED_EXIT_INTID: u32 = 4;
/// Virtual INTID of the notification pending interrupt.
pub const NOTIFICATION_PENDING_INTID: u32 = 5;
/// Physical INTID of the schedule receiver interrupt.
pub const SCHEDULE_RECEIVER_INTID: u32 = 8;
/// Physical and virtual INTID of the inter-processor interrupt.
pub const IPI_INTID: u32 = 9;

/// How a virtual interrupt is signalled to the partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterruptType {
    /// As a vIRQ.
    Irq = 0,
    /// As a vFIQ.
    Fiq = 1,
}

/// The change [`HfCall::InterruptReconfigure`] asks for (x2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconfigureCommand {
    /// Route to another PE; the value is a CPU index.
    TargetPe = 0,
    /// Change the security state; the value is [`SEC_STATE_NON_SECURE`] or [`SEC_STATE_SECURE`].
    SecurityState = 1,
    /// Enable (1) or disable (0).
    Enable = 2,
}

/// Reconfigure value: non-secure interrupt.
pub const SEC_STATE_NON_SECURE: u32 = 0;
/// Reconfigure value: secure interrupt.
pub const SEC_STATE_SECURE: u32 = 1;

/// A reconfiguration, with its value checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reconfigure {
    /// Route to the PE with this index.
    TargetPe(u32),
    /// Make the interrupt secure (`true`) or non-secure.
    Secure(bool),
    /// Enable (`true`) or disable the interrupt.
    Enable(bool),
}

/// A Hafnium call with its arguments checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HfRequest {
    /// [`HfCall::InterruptEnable`].
    InterruptEnable {
        /// The INTID.
        intid: u32,
        /// Enable or disable.
        enable: bool,
        /// vIRQ or vFIQ.
        kind: InterruptType,
    },
    /// [`HfCall::InterruptGet`].
    InterruptGet,
    /// [`HfCall::InterruptDeactivate`].
    InterruptDeactivate {
        /// The physical INTID.
        physical: u32,
        /// The virtual INTID.
        virtual_id: u32,
    },
    /// [`HfCall::InterruptReconfigure`].
    InterruptReconfigure {
        /// The INTID.
        intid: u32,
        /// What to change.
        change: Reconfigure,
    },
    /// [`HfCall::InterruptSendIpi`].
    InterruptSendIpi {
        /// The target vCPU's index.
        vcpu: u16,
    },
}

/// A Hafnium call whose arguments are out of range; answered with [`FAILURE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadArguments(pub HfCall);

/// Decodes a Hafnium call: `None` if x0 is not one, else the checked request.
pub fn decode(regs: &Regs) -> Option<Result<HfRequest, BadArguments>> {
    let fid = u32::try_from(regs[0]).ok()?;
    let call = HfCall::from_fid(fid)?;
    let bad = BadArguments(call);
    let arg32 = |x: u64| u32::try_from(x).map_err(|_| bad);
    let flag = |x: u64| match x {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(bad),
    };
    let request = || -> Result<HfRequest, BadArguments> {
        Ok(match call {
            HfCall::InterruptEnable => HfRequest::InterruptEnable {
                intid: arg32(regs[1])?,
                enable: flag(regs[2])?,
                kind: match regs[3] {
                    0 => InterruptType::Irq,
                    1 => InterruptType::Fiq,
                    _ => return Err(bad),
                },
            },
            HfCall::InterruptGet => HfRequest::InterruptGet,
            HfCall::InterruptDeactivate => HfRequest::InterruptDeactivate {
                physical: arg32(regs[1])?,
                virtual_id: arg32(regs[2])?,
            },
            HfCall::InterruptReconfigure => HfRequest::InterruptReconfigure {
                intid: arg32(regs[1])?,
                change: match regs[2] {
                    c if c == ReconfigureCommand::TargetPe as u64 => {
                        Reconfigure::TargetPe(arg32(regs[3])?)
                    }
                    // The value is SEC_STATE_NON_SECURE (0) or SEC_STATE_SECURE (1).
                    c if c == ReconfigureCommand::SecurityState as u64 => {
                        Reconfigure::Secure(flag(regs[3])?)
                    }
                    c if c == ReconfigureCommand::Enable as u64 => {
                        Reconfigure::Enable(flag(regs[3])?)
                    }
                    _ => return Err(bad),
                },
            },
            HfCall::InterruptSendIpi => HfRequest::InterruptSendIpi {
                vcpu: u16::try_from(regs[1]).map_err(|_| bad)?,
            },
        })
    };
    Some(request())
}
