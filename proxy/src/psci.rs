//! PSCI calls that carry a normal-world entry point.
//!
//! EL3 starts a core it powers on (or wakes from a power-down state) at the entry point the
//! caller named, at the caller's highest normal-world exception level: NS-EL2, the proxy's own.
//! So the proxy never lets the host's entry point reach EL3. It records the host's entry and
//! context ID for the core that will start, gives EL3 its own warm entry instead, and the warm
//! entry enters the recorded host entry at NS-EL1 once the core's EL2 state is set up again.
//! Every other PSCI call passes through untouched (as pKVM does).
//!
//! Calls with an entry point (PSCI 1.1): CPU_ON (target x1, entry x2, context x3), CPU_SUSPEND
//! (entry x2, context x3, used by power-down states), CPU_DEFAULT_SUSPEND and SYSTEM_SUSPEND
//! (entry x1, context x2). The three suspend calls wake the calling core itself.

use arm_psci::{ErrorCode, FunctionId};
use ffa::Regs;

/// Cores the proxy keeps records for (QEMU virt under TF-A: two clusters of 16 positions; the
/// proxy serves the first eight).
pub const MAX_CPUS: usize = 8;

/// TF-A's QEMU topology: core position = cluster × 16 + core.
const CORES_PER_CLUSTER: u64 = 16;

/// MPIDR affinity fields Aff0..Aff3 (the rest are flags EL3 ignores).
const AFFINITY_MASK: u64 = 0xff_00ff_ffff;

/// The core position of `mpidr` as EL3 counts it, or `None` for a core the proxy does not
/// serve. Only the affinity fields count, as in TF-A's `plat_core_pos_by_mpidr`.
pub fn core_index(mpidr: u64) -> Option<usize> {
    let mpidr = mpidr & AFFINITY_MASK;
    let aff0 = mpidr & 0xff;
    let aff1 = (mpidr >> 8) & 0xff;
    if mpidr >> 16 != 0 || aff0 >= CORES_PER_CLUSTER {
        return None;
    }
    let index = usize::try_from(aff1 * CORES_PER_CLUSTER + aff0).ok()?;
    (index < MAX_CPUS).then_some(index)
}

/// Where and how the host asked a core to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientEntry {
    /// The host's entry point (an address in host RAM).
    pub entry: u64,
    /// The value the host gets in x0 there.
    pub context: u64,
}

/// One forwarded call with an entry point, to be settled with [`PowerRecords::finish`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    core: usize,
    serial: u64,
}

/// What the proxy does with a host call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Not a call with an entry point: forward the registers untouched.
    PassThrough,
    /// The proxy answers itself (registers for the host).
    Answer(Regs),
    /// Forward these rewritten registers to EL3, then report EL3's answer to
    /// [`PowerRecords::finish`] with the ticket.
    Forward {
        /// The call as EL3 gets it (the proxy's warm entry in place of the host's).
        regs: Regs,
        /// Which record the answer settles.
        ticket: Ticket,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    client: ClientEntry,
    serial: u64,
}

/// The decoded fields of a call with an entry point.
struct EntryCall {
    /// The core that will start: `None` for the caller itself, else the MPIDR the host named.
    target: Option<u64>,
    client: ClientEntry,
    /// Register indices of the entry point and context ID.
    entry_reg: usize,
    context_reg: usize,
    /// SMC32 calls carry 32-bit values.
    smc32: bool,
}

fn entry_call(func: FunctionId, regs: &Regs) -> Option<EntryCall> {
    let (target, entry_reg, context_reg, smc32) = match func {
        FunctionId::CpuOn64 => (Some(regs[1]), 2, 3, false),
        FunctionId::CpuOn32 => (Some(regs[1] & 0xffff_ffff), 2, 3, true),
        FunctionId::CpuSuspend64 => (None, 2, 3, false),
        FunctionId::CpuSuspend32 => (None, 2, 3, true),
        FunctionId::CpuDefaultSuspend64 | FunctionId::SystemSuspend64 => (None, 1, 2, false),
        FunctionId::CpuDefaultSuspend32 | FunctionId::SystemSuspend32 => (None, 1, 2, true),
        _ => return None,
    };
    let width = |v: u64| if smc32 { v & 0xffff_ffff } else { v };
    Some(EntryCall {
        target,
        client: ClientEntry {
            entry: width(regs[entry_reg]),
            context: width(regs[context_reg]),
        },
        entry_reg,
        context_reg,
        smc32,
    })
}

/// A PSCI error in x0 (sign-extended, as EL3 returns it); x1..x17 as the host left them.
fn psci_error(code: ErrorCode, request: &Regs) -> Regs {
    let mut answer = *request;
    answer[0] = u64::from(code);
    answer
}

/// The entry points the host asked for, per core, until that core starts.
#[derive(Debug)]
pub struct PowerRecords {
    pending: [Option<Pending>; MAX_CPUS],
    serial: u64,
    warm_entry: u64,
    host_ram: (u64, u64),
}

impl PowerRecords {
    /// Records for a proxy whose warm entry is `warm_entry`; host entry points must lie in
    /// `host_ram` (first and last+1 address), the memory the host runs in.
    pub const fn new(warm_entry: u64, host_ram: (u64, u64)) -> Self {
        Self {
            pending: [None; MAX_CPUS],
            serial: 0,
            warm_entry,
            host_ram,
        }
    }

    /// Decides a host call made on core `caller`.
    pub fn host_call(&mut self, caller: usize, regs: &Regs) -> Step {
        let fid = ffa::call::function_id(regs);
        let Some(call) = FunctionId::try_from(fid)
            .ok()
            .and_then(|func| entry_call(func, regs))
        else {
            return Step::PassThrough;
        };
        let core = match call.target {
            None => caller,
            Some(mpidr) => match core_index(mpidr) {
                Some(core) => core,
                None => return Step::Answer(psci_error(ErrorCode::InvalidParameters, regs)),
            },
        };
        let (start, end) = self.host_ram;
        if call.client.entry < start || call.client.entry >= end {
            return Step::Answer(psci_error(ErrorCode::InvalidAddress, regs));
        }
        if call.smc32 && u32::try_from(self.warm_entry).is_err() {
            // The proxy cannot name its own entry in an SMC32 call: the host must use SMC64.
            return Step::Answer(psci_error(ErrorCode::NotSupported, regs));
        }
        let Some(slot) = self.pending.get_mut(core) else {
            return Step::Answer(psci_error(ErrorCode::InvalidParameters, regs));
        };
        if slot.is_some() {
            // A start of this core is already under way.
            return Step::Answer(psci_error(ErrorCode::OnPending, regs));
        }
        self.serial = self.serial.wrapping_add(1);
        *slot = Some(Pending {
            client: call.client,
            serial: self.serial,
        });
        let mut forwarded = *regs;
        forwarded[call.entry_reg] = self.warm_entry;
        // The warm entry finds its record by MPIDR; EL3 hands this back in x0 unused.
        forwarded[call.context_reg] = 0;
        Step::Forward {
            regs: forwarded,
            ticket: Ticket {
                core,
                serial: self.serial,
            },
        }
    }

    /// Settles a forwarded call with EL3's answer. A call that returned did not start its core
    /// through the warm entry, except a CPU_ON that EL3 accepted: that record waits for the
    /// target.
    pub fn finish(&mut self, ticket: Ticket, request: &Regs, answer: &Regs) {
        let cpu_on = matches!(
            FunctionId::try_from(ffa::call::function_id(request)),
            Ok(FunctionId::CpuOn64 | FunctionId::CpuOn32)
        );
        let accepted = answer[0] as u32 == 0;
        if cpu_on && accepted {
            return;
        }
        if let Some(slot) = self.pending.get_mut(ticket.core)
            && slot.is_some_and(|p| p.serial == ticket.serial)
        {
            *slot = None;
        }
    }

    /// The host entry recorded for `core`, which EL3 just started at the warm entry; the
    /// record is used up.
    pub fn warm_boot(&mut self, core: usize) -> Option<ClientEntry> {
        self.pending.get_mut(core)?.take().map(|p| p.client)
    }

    /// Whether a start of `core` is under way.
    pub fn is_pending(&self, core: usize) -> bool {
        self.pending.get(core).is_some_and(|p| p.is_some())
    }
}

/// What the host sees after a forwarded call: EL3's answer, except that a register the proxy
/// rewrote and EL3 handed back unchanged is given back as the host set it (PSCI answers in x0
/// only; the host's x1..x17 must not show the proxy's warm entry).
pub fn host_view(request: &Regs, forwarded: &Regs, answer: &Regs) -> Regs {
    let mut view = *answer;
    for (((seen, asked), sent), got) in view
        .iter_mut()
        .zip(request)
        .zip(forwarded)
        .zip(answer)
        .skip(1)
    {
        if sent != asked && got == sent {
            *seen = *asked;
        }
    }
    view
}
