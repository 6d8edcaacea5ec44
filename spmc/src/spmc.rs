//! The SPMC state machine: boot, and the dispatch of every call to its FF-A area's module.
//!
//! API contract (used by the arch layer and the in-process harness):
//! - [`Spmc::new`] builds the partition table from validated configuration; partitions it
//!   cannot host are left out ([`Spmc::rejected_partitions`]), as are those the configuration
//!   refused for their memory ([`Spmc::refused_partitions`]).
//! - [`Spmc::boot`] on the primary CPU starts partitions in configuration order (boot order):
//!   it returns [`Outcome::Enter`] for the first partition's context for that CPU, at its
//!   entry point. A partition whose manifest has `gp-register-num` = n gets x\[n\] = its FF-A
//!   boot-information blob, which the SPMC writes over its SPKG header first
//!   ([`crate::boot_info`]); without it x0 = its manifest address (`load_address + 0x1000`,
//!   the SPKG v2 manifest offset). The other registers are 0. The calls a partition makes
//!   while it initialises are answered by re-entering it; its first FFA_MSG_WAIT enters the
//!   next partition. A partition whose package header is invalid, that sends FFA_ERROR or
//!   makes a call the init runtime model forbids (a direct request or response, FFA_YIELD,
//!   FFA_RUN) is marked Aborted ([`Spmc::abort_reason`] says why) and boot goes on with the
//!   next. After the last, [`Outcome::ToSpmd`] carries FFA_MSG_WAIT ("initialisation done")
//!   for the SPMD.
//! - [`Spmc::cpu_on`] is the warm boot of a secondary CPU (the SPMD entering the SPMC's
//!   registered secondary entry after a PSCI CPU_ON), once cold boot is over. It starts, in
//!   boot order, the execution context for that CPU of each MP partition whose context never
//!   ran or was powered off with the CPU, at the partition's secondary entry point (the one
//!   it registered with FFA_SECONDARY_EP_REGISTER, else its primary entry point, as Hafnium
//!   does) with x0..x17 = 0; UP partitions are not started again. Each context initialises as
//!   at cold boot, except that a failing one is Aborted alone (the partition's other contexts
//!   may be running on other CPUs). Then `ToSpmd(FFA_MSG_WAIT)`. An unknown CPU is
//!   `ToSpmd(FFA_ERROR(INVALID_PARAMETERS))`, a call before cold boot is over DENIED and one
//!   while a context runs on the CPU BUSY, with no state changed.
//! - The SPMD's PSCI CPU_OFF framework message powers off the MP partitions' contexts of that
//!   CPU (state Off, as Hafnium does, whatever they were doing); UP partitions keep theirs. A
//!   partition Blocked on a request to a powered-off context becomes Preempted and gets
//!   FFA_ERROR(ABORTED) for it when the normal world runs it; one handling a request from a
//!   powered-off context loses the request and may FFA_MSG_WAIT.
//! - [`Spmc::handle`] takes one call made on `cpu` from the SPMD (a normal-world call it
//!   forwarded, or one of its framework messages) or from the partition whose context the last
//!   outcome on `cpu` entered, and returns what runs next on `cpu`.
//! - An [`Outcome::Enter`] with `start: Some(pc)` starts the context afresh at `pc` (its first
//!   entry, or the first after CPU_OFF powered it off): the arch layer resets its vCPU state.
//!   With `start: None` it resumes the context where it trapped. Either way x0..x17 are set
//!   from the outcome (its own x8..x17 are given back where the answer does not use them).
//! - [`Spmc::ns_interrupt`]: a non-secure interrupt ended the run of the context on `cpu`
//!   ([`crate::interrupts`]); [`Outcome::Resume`] resumes a context with its registers
//!   untouched (after such an interrupt).
//! - [`Spmc::abort_running`]: the context running on `cpu` faulted and cannot take the fault
//!   itself; its partition is Aborted and its requester answered ABORTED ([`crate::abort`]).
//!   A call from a context whose partition was aborted from another CPU while it ran is
//!   dropped the same way.
//! - [`Spmc::handle`], [`Spmc::ns_interrupt`], [`Spmc::physical_interrupt`] and
//!   [`Spmc::abort_running`] pass their outcome through the notifications hook
//!   ([`crate::notifications`]): a return to the SPMD pends a delayed schedule receiver
//!   interrupt ([`crate::platform::Platform::send_ns_sgi`]); a switch into another partition
//!   context gives it the notification pending interrupt if it has global notifications.
//! - A call that cannot come from the named caller (an unknown CPU, a partition that is not
//!   running on `cpu`, or the SPMD while a partition runs on `cpu`) changes no state and is
//!   answered `ToSpmd(FFA_ERROR(DENIED))` (BUSY for the SPMD case).

use ffa::call::{Decoded, decode, function_id, is_ffa};
use ffa::{EndpointId, FfaError, FuncId, Interface, Regs, Version};

use crate::call_chain;
use crate::console::{Console, ConsoleLine};
use crate::manifest::{MAX_PARTITIONS, SpmcAttributes, SpmcConfig};
use crate::memory::ledger::Kind;
use crate::memory_map::Refusal;
use crate::partition::{AbortReason, MANIFEST_OFFSET, MAX_CPUS, PartitionTable, Rejected};
use crate::platform::Platform;
use crate::vcpu::{ContextCell, CtxRef, ExecutionContext, RunningSlot, RuntimeModel, RuntimeState};
use crate::version::NegotiatedVersion;

/// A physical CPU, by its index in the SPMC manifest's cpus map ([`crate::cpu_map::CpuMap`]).
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

/// What runs next on a CPU. The registers an answer or an entry carries are not in it: the
/// core builds them in place ([`Spmc::answer`]), so no block of registers is copied on the
/// way out of the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// SMC to the SPMD with [`Spmc::answer`]: an answer for the normal world, a framework
    /// response, or FFA_MSG_WAIT when this CPU has nothing to run.
    ToSpmd,
    /// Enter (or resume) an execution context of a partition with x0..x17 =
    /// [`Spmc::answer`].
    Enter {
        /// The partition.
        partition: EndpointId,
        /// Its execution-context index.
        vcpu: u16,
        /// `Some(pc)`: start the context afresh at `pc`; `None`: resume it where it trapped.
        start: Option<u64>,
    },
    /// Resume an execution context where an interrupt stopped it, its registers untouched.
    Resume {
        /// The partition.
        partition: EndpointId,
        /// Its execution-context index.
        vcpu: u16,
        /// Keep non-secure interrupts masked until this run of the context ends (it may not
        /// be preempted: [`crate::interrupts`]).
        mask_ns_interrupts: bool,
    },
}

/// What the arch layer does next on this CPU, with the registers it carries: [`Next`] and
/// [`Spmc::answer`] together, for harnesses that keep outcomes (the in-process model and
/// the tests).
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
        /// `Some(pc)`: start the context afresh at `pc`; `None`: resume it where it trapped.
        start: Option<u64>,
    },
    /// Resume an execution context where an interrupt stopped it, its registers untouched.
    Resume {
        /// The partition.
        partition: EndpointId,
        /// Its execution-context index.
        vcpu: u16,
        /// Keep non-secure interrupts masked until this run of the context ends (it may not
        /// be preempted: [`crate::interrupts`]).
        mask_ns_interrupts: bool,
    },
}

impl Next {
    /// This with the registers it carries.
    pub fn with(self, regs: &Regs) -> Outcome {
        match self {
            Next::ToSpmd => Outcome::ToSpmd(*regs),
            Next::Enter {
                partition,
                vcpu,
                start,
            } => Outcome::Enter {
                partition,
                vcpu,
                regs: *regs,
                start,
            },
            Next::Resume {
                partition,
                vcpu,
                mask_ns_interrupts,
            } => Outcome::Resume {
                partition,
                vcpu,
                mask_ns_interrupts,
            },
        }
    }
}

/// The registers an answer carries, built by the fast path ([`Spmc::next_shared`]) in a
/// buffer of the caller's: x0 up to `count` (8: the caller keeps its own x8..x17; 18: all).
#[derive(Clone, Copy, Debug)]
pub struct Answer {
    /// The registers, from x0.
    pub regs: Regs,
    /// How many of them the answer sets.
    pub count: usize,
}

impl Answer {
    /// Nothing set yet.
    pub const EMPTY: Self = Self {
        regs: [0; 18],
        count: 0,
    };

    /// The registers the answer sets.
    pub fn regs(&self) -> &[u64] {
        self.regs.get(..self.count).unwrap_or(&self.regs)
    }
}

/// An event on a CPU the core handles ([`Spmc::next`]).
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// Cold boot on the primary CPU ([`Spmc::boot`]).
    Boot,
    /// Warm boot after PSCI CPU_ON ([`Spmc::cpu_on`]).
    CpuOn,
    /// A call ([`Spmc::handle`]).
    Call(Caller, &'a Regs),
    /// A non-secure interrupt ended the running context's run ([`Spmc::ns_interrupt`]).
    NsInterrupt,
    /// A secure interrupt arrived ([`Spmc::physical_interrupt`]).
    PhysicalInterrupt,
    /// The running context faulted ([`Spmc::abort_running`]).
    AbortRunning,
}

/// The endpoint a call being handled came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// The normal world, through the SPMD (one endpoint, ID 0, for version and mailbox).
    NormalWorld,
    /// A partition's running context.
    Partition(CtxRef),
}

/// One call being handled.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Call<'a> {
    pub(crate) cpu: CpuId,
    pub(crate) from: Endpoint,
    pub(crate) regs: &'a Regs,
}

/// The normal world as one endpoint: its version and its RX/TX pair (non-secure space).
#[derive(Clone, Copy, Debug)]
pub(crate) struct NormalWorld {
    pub(crate) version: NegotiatedVersion,
    pub(crate) mailbox: crate::mailbox::Mailbox,
}

/// The SPMC.
pub struct Spmc<P: Platform> {
    pub(crate) platform: P,
    pub(crate) attributes: SpmcAttributes,
    pub(crate) partitions: PartitionTable,
    pub(crate) cpu_count: u16,
    /// The context running on each CPU; `None` while the normal world has it.
    pub(crate) running: [RunningSlot; MAX_CPUS],
    pub(crate) normal_world: NormalWorld,
    /// The CPU cold boot ran on, once [`Spmc::boot`] was called.
    pub(crate) boot_cpu: Option<CpuId>,
    /// Whether cold boot finished (the last partition waited); later starts are warm boots.
    pub(crate) cold_boot_done: bool,
    pub(crate) console: Console,
    /// Partitions the configuration refused for their memory.
    refused: heapless::Vec<Refusal, MAX_PARTITIONS>,
    /// Outstanding memory transactions.
    pub(crate) ledger: crate::memory::ledger::Ledger,
    /// Per CPU: what the secure interrupt a partition handles there interrupted.
    pub(crate) interrupt_returns: [Option<crate::interrupts::secure::InterruptReturn>; MAX_CPUS],
    /// Notification bitmaps and delayed schedule receiver interrupts.
    pub(crate) notifications: crate::notifications::Notifications,
    /// The registers the last [`Next`] carries, built in place by the handlers.
    pub(crate) out: Regs,
    /// How many of `out` (from x0) the answer set: 8 when it answers its caller and keeps the
    /// caller's own x8..x17, which are then left where the call's registers are.
    out_count: usize,
}

/// SPMD framework messages (FF-A v1.2 §18, TF-A `spmd_main.c`/`spmd_pm.c`).
mod framework {
    /// w2 of a framework message: bit 31 set, message type in the low bits.
    pub const PSCI_REQ: u64 = 0x8000_0000;
    pub const PSCI_RESP: u64 = 0x8000_0002;
    pub const VERSION_REQ: u64 = 0x8000_0008;
    pub const VERSION_RESP: u64 = 0x8000_0009;
    pub const PSCI_CPU_OFF: u64 = 0x8400_0002;
    pub const PSCI_SUCCESS: u64 = 0;
    /// PSCI_E_NOT_SUPPORTED (-1) in w3.
    pub const PSCI_NOT_SUPPORTED: u64 = 0xffff_ffff;
}

impl<P: Platform> Spmc<P> {
    /// An SPMC hosting the partitions of `config` on `cpu_count` CPUs (at most
    /// [`MAX_CPUS`]; 0 counts as 1).
    pub fn new(config: SpmcConfig, platform: P, cpu_count: u16) -> Self {
        let cpu_count = cpu_count.clamp(1, MAX_CPUS as u16);
        let SpmcConfig {
            attributes,
            partitions,
            refused,
        } = config;
        let partitions = PartitionTable::new(
            &attributes,
            partitions.into_iter().map(|p| (p.id, p.config)),
        );
        let mut spmc = Self {
            platform,
            attributes,
            partitions,
            cpu_count,
            running: [const { RunningSlot::new() }; MAX_CPUS],
            normal_world: NormalWorld {
                version: NegotiatedVersion::new(ffa::version::OURS),
                mailbox: crate::mailbox::Mailbox::new(),
            },
            boot_cpu: None,
            cold_boot_done: false,
            console: Console::default(),
            refused,
            ledger: crate::memory::ledger::Ledger::new(),
            interrupt_returns: [None; MAX_CPUS],
            notifications: crate::notifications::Notifications::new(),
            out: [0; 18],
            out_count: 18,
        };
        spmc.init_notifications();
        spmc
    }

    /// Handles `event` on `cpu`; the registers the answer carries are then in
    /// [`Spmc::answer`]. The fast path ([`Spmc::next_shared`]) first, as the arch layer
    /// runs it, then the exclusive path for whatever it leaves.
    pub fn next(&mut self, cpu: CpuId, event: Event) -> Next {
        let mut out = Answer::EMPTY;
        let shared = match event {
            Event::Call(caller, regs) => FastCall::of(regs)
                .and_then(|func| self.next_shared(cpu, caller, regs, func, &mut out)),
            _ => None,
        };
        match shared {
            Some(next) => self.answered(&out, next),
            None => self.next_exclusive(cpu, event),
        }
    }

    /// Handles `event` on `cpu` if it can be with the core shared between CPUs: a direct
    /// request from the normal world or a partition's direct response to one
    /// ([`Spmc::direct_message_shared`] says which exactly), and the queries that change
    /// nothing (FFA_FEATURES, FFA_ID_GET, a count-only FFA_PARTITION_INFO_GET), from the
    /// normal world or a partition handling a direct request. The registers the answer
    /// carries go to `out`. `None`, with nothing changed but `out`: the event needs the core
    /// to itself ([`Spmc::next_exclusive`]).
    pub fn next_shared(
        &self,
        cpu: CpuId,
        caller: Caller,
        regs: &Regs,
        func: FastCall,
        out: &mut Answer,
    ) -> Option<Next> {
        let FastCall(func) = func;
        let from = self.shared_caller(cpu, caller)?;
        let call = Call { cpu, from, regs };
        let answer = match func {
            FuncId::Features => {
                let (feature, input) = features_args(regs);
                self.features_w2(&call, feature, input).map(|w2| [w2, 0])
            }
            FuncId::IdGet => Ok([self.id_get_w2(&call), 0]),
            FuncId::PartitionInfoGet => {
                let (uuid, flags) = partition_info_args(regs)?;
                if !flags.count_only {
                    return None;
                }
                self.partition_count(&call, uuid).map(|count| [count, 0])
            }
            _ => return self.direct_message_shared(&call, func, out),
        };
        if let Endpoint::Partition(ctx) = from
            && !self.partitions.with(ctx, handles_request)?
        {
            return None;
        }
        if let Some(low) = out.regs.first_chunk_mut() {
            match answer {
                Ok([w2, w3]) => ffa::call::put_success32(low, [w2, w3, 0, 0, 0, 0]),
                Err(code) => ffa::call::put_error(low, code),
            }
        }
        out.count = 8;
        Some(self.replied(&call))
    }

    /// The caller of a call on `cpu` the fast path may take: the normal world while no
    /// context runs there, or the context running there (which must be handling a direct
    /// request: [`handles_request`], checked by the caller). Either must have fixed its
    /// version already (its first FF-A call does), and no delayed schedule receiver interrupt
    /// may wait for this CPU's next return to the SPMD (the exclusive path sends it).
    fn shared_caller(&self, cpu: CpuId, caller: Caller) -> Option<Endpoint> {
        let index = self.cpu_index(cpu)?;
        if self.notifications.sri_delayed(index) {
            return None;
        }
        let running = self.running.get(index)?.get();
        match caller {
            Caller::Spmd => (running.is_none() && self.normal_world.version.is_locked())
                .then_some(Endpoint::NormalWorld),
            Caller::Partition(id) => {
                let ctx = running?;
                let p = self.partitions.get(ctx.partition)?;
                (p.id == id && p.version.is_locked()).then_some(Endpoint::Partition(ctx))
            }
        }
    }

    /// Handles `event` on `cpu` with the core to itself; the registers the answer carries
    /// are then in [`Spmc::answer`]. Nothing returned copies registers.
    pub fn next_exclusive(&mut self, cpu: CpuId, event: Event) -> Next {
        self.out_count = 18;
        match event {
            Event::Boot => self.boot_next(cpu),
            Event::CpuOn => self.cpu_on_next(cpu),
            Event::Call(caller, regs) => self.handle_next(cpu, caller, regs),
            Event::NsInterrupt => self.ns_interrupt_next(cpu),
            Event::PhysicalInterrupt => self.physical_interrupt_next(cpu),
            Event::AbortRunning => self.abort_running_next(cpu),
        }
    }

    /// The registers the last [`Next`] carries, from x0: all of x0..x17 for the SPMD or the
    /// context entered, or only x0..x7 when it answers its caller, whose own x8..x17 stay as
    /// they are where the call's registers are (the answer goes back there).
    pub fn answer(&self) -> &[u64] {
        self.out.get(..self.out_count).unwrap_or(&self.out)
    }

    /// [`Spmc::next`] with the registers attached.
    pub(crate) fn outcome(&mut self, cpu: CpuId, event: Event) -> Outcome {
        let next = self.next(cpu, event);
        if self.out_count < self.out.len()
            && let Event::Call(_, regs) = event
        {
            let kept = self.out_count;
            self.out[kept..].copy_from_slice(&regs[kept..]);
        }
        next.with(&self.out)
    }

    /// Cold boot on the primary CPU.
    pub fn boot(&mut self, cpu: CpuId) -> Outcome {
        self.outcome(cpu, Event::Boot)
    }

    fn boot_next(&mut self, cpu: CpuId) -> Next {
        if self.boot_cpu.is_some() {
            return self.answer_spmd(ffa::call::error(FfaError::Denied));
        }
        if self.cpu_index(cpu).is_none() {
            // FFA_ERROR tells the SPMD that initialisation failed.
            return self.answer_spmd(ffa::call::error(FfaError::InvalidParameters));
        }
        self.boot_cpu = Some(cpu);
        self.configure_interrupts(cpu);
        self.configure_sri(cpu);
        self.start_from(cpu, 0)
    }

    /// Warm boot of `cpu` after a PSCI CPU_ON: starts the MP partitions' contexts for it.
    pub fn cpu_on(&mut self, cpu: CpuId) -> Outcome {
        self.outcome(cpu, Event::CpuOn)
    }

    fn cpu_on_next(&mut self, cpu: CpuId) -> Next {
        let Some(index) = self.cpu_index(cpu) else {
            return self.answer_spmd(ffa::call::error(FfaError::InvalidParameters));
        };
        if !self.cold_boot_done {
            return self.answer_spmd(ffa::call::error(FfaError::Denied));
        }
        if self.running.get(index).and_then(RunningSlot::get).is_some() {
            return self.answer_spmd(ffa::call::error(FfaError::Busy));
        }
        self.configure_sri(cpu);
        self.start_from(cpu, 0)
    }

    /// Handles one call made on `cpu` by `caller`.
    pub fn handle(&mut self, cpu: CpuId, caller: Caller, regs: &Regs) -> Outcome {
        self.outcome(cpu, Event::Call(caller, regs))
    }

    fn handle_next(&mut self, cpu: CpuId, caller: Caller, regs: &Regs) -> Next {
        let from = match caller {
            Caller::Spmd => None,
            Caller::Partition(_) => self.running_ctx(cpu),
        };
        let next = self.handle_call(cpu, caller, regs);
        self.after_outcome(cpu, from, next);
        next
    }

    fn handle_call(&mut self, cpu: CpuId, caller: Caller, regs: &Regs) -> Next {
        let Some(index) = self.cpu_index(cpu) else {
            return self.refused(caller, regs, FfaError::Denied);
        };
        let running = self.running.get(index).and_then(RunningSlot::get);
        let from = match caller {
            Caller::Spmd => {
                if running.is_some() {
                    return self.refused(caller, regs, FfaError::Busy);
                }
                if let Some(answer) = self.framework_message(cpu, regs) {
                    return self.answer_spmd(answer);
                }
                Endpoint::NormalWorld
            }
            Caller::Partition(id) => {
                let Some(ctx) = running else {
                    return self.refused(caller, regs, FfaError::Denied);
                };
                if self.partitions.id_of(ctx) != Some(id) {
                    return self.refused(caller, regs, FfaError::Denied);
                }
                match self.partitions.with(ctx, |c| c.state) {
                    Some(RuntimeState::Running) => {}
                    // Its partition was aborted from another CPU while this context ran:
                    // the call is dropped and its requester answered ABORTED.
                    Some(RuntimeState::Aborted) => return self.unwind(cpu, ctx),
                    _ => return self.refused(caller, regs, FfaError::Denied),
                }
                Endpoint::Partition(ctx)
            }
        };
        self.dispatch(Call { cpu, from, regs })
    }

    /// The platform, for the arch layer and tests.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// The platform, mutably.
    pub fn platform_mut(&mut self) -> &mut P {
        &mut self.platform
    }

    /// Where an execution context starts: context 0 at cold boot at the primary entry
    /// point (`load_address + entrypoint_offset`); the others, and every context started again
    /// after CPU_OFF, at the secondary entry point ([`Partition::warm_entry`]).
    ///
    /// [`Partition::warm_entry`]: crate::partition::Partition::warm_entry
    pub fn entry_point(&self, partition: EndpointId, vcpu: u16) -> Option<u64> {
        let p = self.partitions.get(self.partitions.find(partition)?)?;
        if usize::from(vcpu) >= p.contexts.len() {
            return None;
        }
        if vcpu == 0 {
            p.cold_entry()
        } else {
            p.warm_entry()
        }
    }

    /// The runtime state of a partition's execution context.
    pub fn context_state(&self, partition: EndpointId, vcpu: u16) -> Option<RuntimeState> {
        let index = self.partitions.find(partition)?;
        self.partitions
            .ctx(CtxRef {
                partition: index,
                vcpu,
            })
            .map(|c| c.state)
    }

    /// The partition context running on `cpu` (`None`: the normal world has the CPU).
    pub fn running_on(&self, cpu: CpuId) -> Option<(EndpointId, u16)> {
        let ctx = self.running.get(self.cpu_index(cpu)?)?.get()?;
        Some((self.partitions.id_of(ctx)?, ctx.vcpu))
    }

    /// The context running on `cpu` by its place: its partition's index in the partition
    /// table (the order the configuration listed them in) and its context index.
    pub fn running_context(&self, cpu: CpuId) -> Option<(usize, u16)> {
        self.running_ctx(cpu).map(|ctx| (ctx.partition, ctx.vcpu))
    }

    /// The FF-A version a partition's calls are handled at.
    pub fn partition_version(&self, partition: EndpointId) -> Option<Version> {
        let index = self.partitions.find(partition)?;
        self.partitions.get(index).map(|p| p.version.version())
    }

    /// The FF-A version the normal world's calls are handled at.
    pub fn normal_world_version(&self) -> Version {
        self.normal_world.version.version()
    }

    /// Why a partition was aborted (or, for an MP partition, one of its contexts at a warm
    /// boot), if it was.
    pub fn abort_reason(&self, partition: EndpointId) -> Option<AbortReason> {
        let index = self.partitions.find(partition)?;
        self.partitions.get(index)?.abort_reason
    }

    /// Partitions of the configuration the SPMC does not host, and why.
    pub fn rejected_partitions(&self) -> &[(EndpointId, Rejected)] {
        self.partitions.rejected()
    }

    /// Partitions the configuration refused because their memory breaks the memory map
    /// ([`SpmcConfig::refused`]).
    pub fn refused_partitions(&self) -> &[Refusal] {
        &self.refused
    }

    /// Whether finished FFA_CONSOLE_LOG lines wait to be printed.
    pub fn has_console_lines(&self) -> bool {
        self.console.has_lines()
    }

    /// The oldest finished FFA_CONSOLE_LOG line its partition may print at `now_ms`, for the
    /// arch layer to print (see [`crate::console`]).
    pub fn take_console_line(&mut self, now_ms: u64) -> Option<ConsoleLine> {
        self.console.take_line(now_ms)
    }

    pub(crate) fn cpu_index(&self, cpu: CpuId) -> Option<usize> {
        (cpu.0 < self.cpu_count).then_some(usize::from(cpu.0))
    }

    /// The context running on `cpu`, if any.
    pub(crate) fn running_ctx(&self, cpu: CpuId) -> Option<CtxRef> {
        self.running.get(self.cpu_index(cpu)?)?.get()
    }

    /// Marks `ctx` as the one running on `cpu` (or the normal world, with `None`).
    pub(crate) fn set_running(&self, cpu: CpuId, ctx: Option<CtxRef>) {
        if let Some(slot) = self.cpu_index(cpu).and_then(|i| self.running.get(i)) {
            slot.set(ctx);
        }
    }

    /// The version the caller's calls are handled at.
    pub(crate) fn version_of(&self, from: Endpoint) -> Version {
        match from {
            Endpoint::NormalWorld => self.normal_world.version.version(),
            Endpoint::Partition(ctx) => self
                .partitions
                .get(ctx.partition)
                .map_or(ffa::version::OLDEST, |p| p.version.version()),
        }
    }

    /// Takes the answer the fast path's code built in `out`.
    pub(crate) fn answered(&mut self, out: &Answer, next: Next) -> Next {
        self.out = out.regs;
        self.out_count = out.count;
        next
    }

    /// SMC to the SPMD with `regs`.
    pub(crate) fn answer_spmd(&mut self, regs: Regs) -> Next {
        self.out = regs;
        Next::ToSpmd
    }

    /// Resumes `ctx` with `regs`.
    pub(crate) fn enter(&mut self, ctx: CtxRef, regs: Regs) -> Next {
        self.out = regs;
        self.entered(ctx)
    }

    /// Resumes `ctx` with the registers already built in [`Spmc::answer`].
    pub(crate) fn entered(&self, ctx: CtxRef) -> Next {
        Next::Enter {
            partition: self.partitions.id_of(ctx).unwrap_or(EndpointId::SPMD),
            vcpu: ctx.vcpu,
            start: None,
        }
    }

    /// Answers the caller with `answer` (x0..x7), keeping the call's x8..x17.
    pub(crate) fn reply(&mut self, call: &Call, answer: Regs) -> Next {
        self.answer8(call, &answer)
    }

    /// Answers the caller with x0..x7 of `answer`, keeping the call's x8..x17, written in
    /// place.
    fn answer8(&mut self, call: &Call, answer: &Regs) -> Next {
        self.out[..8].copy_from_slice(&answer[..8]);
        self.out_count = 8;
        self.replied(call)
    }

    /// Answers the caller with all of `regs` (an answer that uses x8..x17).
    pub(crate) fn reply_full(&mut self, call: &Call, regs: Regs) -> Next {
        self.out = regs;
        self.replied(call)
    }

    /// Answers the caller with the registers already built in [`Spmc::answer`].
    pub(crate) fn replied(&self, call: &Call) -> Next {
        match call.from {
            Endpoint::NormalWorld => Next::ToSpmd,
            Endpoint::Partition(ctx) => self.entered(ctx),
        }
    }

    /// Answers the caller with FFA_ERROR(`code`), written in place.
    pub(crate) fn fail(&mut self, call: &Call, code: FfaError) -> Next {
        if let Some(low) = self.out.first_chunk_mut() {
            ffa::call::put_error(low, code);
        }
        self.out_count = 8;
        self.replied(call)
    }

    /// Answers the caller with FFA_SUCCESS (SMC32), w2..w7 = `args`, written in place.
    pub(crate) fn succeed(&mut self, call: &Call, args: [u32; 6]) -> Next {
        if let Some(low) = self.out.first_chunk_mut() {
            ffa::call::put_success32(low, args);
        }
        self.out_count = 8;
        self.replied(call)
    }

    /// The answer to a call the core cannot take at all, for the SPMD. The normal world keeps
    /// its own x8..x17 (SMCCC); a partition's never reach it.
    fn refused(&mut self, caller: Caller, regs: &Regs, code: FfaError) -> Next {
        let mut answer = ffa::call::error(code);
        if caller == Caller::Spmd {
            answer[8..].copy_from_slice(&regs[8..]);
        }
        self.answer_spmd(answer)
    }

    fn dispatch(&mut self, call: Call) -> Next {
        let fid = function_id(call.regs);
        if fid == u32::from(FuncId::Version) {
            return self.ffa_version(&call);
        }
        // Looked up once: the checks below and the decoder all need it.
        let func = ffa::call::lookup(fid);
        if is_ffa(fid) {
            match call.from {
                Endpoint::NormalWorld => self.normal_world.version.lock(),
                Endpoint::Partition(ctx) => {
                    if let Some(p) = self.partitions.get_mut(ctx.partition) {
                        p.version.lock();
                    }
                }
            }
        }
        if let Endpoint::Partition(ctx) = call.from
            && func.is_none()
            && let Some(request) = ffa::hafnium::decode(call.regs)
        {
            return self.hafnium_call(&call, ctx, request);
        }
        if call.from == Endpoint::NormalWorld && func == Some(FuncId::Interrupt32) {
            // Only the SPMD sends it (it refuses FFA_INTERRUPT from the normal world).
            return self.spmd_interrupt(call.cpu);
        }
        if let Endpoint::Partition(ctx) = call.from
            && matches!(
                func,
                Some(
                    FuncId::MsgSendDirectResp32
                        | FuncId::MsgSendDirectResp64
                        | FuncId::MsgSendDirectResp64_2
                )
            )
        {
            self.end_managed_exit(ctx);
        }
        if let Endpoint::Partition(ctx) = call.from {
            let model = self.partitions.with(ctx, |c| c.model).flatten();
            if model == Some(RuntimeModel::SecureInterrupt) && forbidden_in_interrupt(func) {
                return self.fail(&call, FfaError::Denied);
            }
            let initialising = model == Some(RuntimeModel::Init);
            if initialising && forbidden_during_init(func) {
                let why = if matches!(func, Some(FuncId::Error32 | FuncId::Error64)) {
                    AbortReason::InitError
                } else {
                    AbortReason::ForbiddenInitCall(fid)
                };
                return self.abort_initialising(call.cpu, ctx, why);
            }
        }
        // The hot calls are read straight from the registers: the decoder would build (and
        // copy) a whole interface value for what a register or two say. Each reads exactly
        // what the decoder would (SMC32: the low halves), and each exists from v1.0 on, so
        // the decoder's version gate passes them all.
        match func {
            Some(FuncId::Features) => {
                let (feature, input) = features_args(call.regs);
                return self.ffa_features(&call, feature, input);
            }
            Some(FuncId::IdGet) => return self.id_get(&call),
            Some(FuncId::PartitionInfoGet) => {
                // Flags the decoder refuses go on to it, for its error.
                if let Some((uuid, flags)) = partition_info_args(call.regs) {
                    return self.partition_info_get(&call, uuid, flags);
                }
            }
            _ => {}
        }
        if let Some(func) = func
            && let Some(h) = crate::direct_msg::header_from_regs(func, call.regs)
        {
            return match h.kind_of_call {
                crate::direct_msg::CallKind::Request => {
                    self.direct_request_with(&call, h.header, None)
                }
                crate::direct_msg::CallKind::Response => self.direct_response_with(&call, h.header),
            };
        }
        let mut version = self.version_of(call.from);
        if is_console_log(fid) {
            // A Hafnium extension older partitions use too; the handler applies their limits.
            version = ffa::version::OURS;
        }
        match decode(call.regs, version) {
            Decoded::Call(interface) => self.call(&call, &interface),
            Decoded::Malformed(_, code) => self.fail(&call, code),
            Decoded::UnknownFfa(_) | Decoded::NotAtVersion(_) => {
                self.fail(&call, FfaError::NotSupported)
            }
            Decoded::NotFfa(_) => match call.from {
                Endpoint::NormalWorld => self.fail(&call, FfaError::NotSupported),
                // SMCCC's "unknown function": -1 in x0, the rest untouched.
                Endpoint::Partition(_) => {
                    let mut regs = *call.regs;
                    regs[0] = u64::MAX;
                    self.reply_full(&call, regs)
                }
            },
        }
    }

    fn call(&mut self, call: &Call, interface: &Interface) -> Next {
        match *interface {
            Interface::Features {
                feat_id,
                input_properties,
            } => self.ffa_features(call, feat_id, input_properties),
            Interface::IdGet => self.id_get(call),
            Interface::SpmIdGet => self.spm_id_get(call),
            Interface::RxTxMap { addr, page_cnt } => self.rxtx_map(call, addr, page_cnt),
            Interface::RxTxUnmap { id } => self.rxtx_unmap(call, EndpointId(id)),
            Interface::RxRelease { vm_id } => self.rx_release(call, EndpointId(vm_id)),
            Interface::RxAcquire { vm_id } => self.rx_acquire(call, EndpointId(vm_id)),
            Interface::PartitionInfoGet { uuid, flags } => {
                self.partition_info_get(call, uuid, flags)
            }
            Interface::PartitionInfoGetRegs {
                uuid,
                start_index,
                info_tag,
            } => self.partition_info_get_regs(call, uuid, start_index, info_tag),
            Interface::MsgSendDirectReq { .. } | Interface::MsgSendDirectReq2 { .. } => {
                self.direct_request(call, interface)
            }
            Interface::MsgSendDirectResp { .. } | Interface::MsgSendDirectResp2 { .. } => {
                self.direct_response(call, interface)
            }
            Interface::MsgWait { flags, .. } => self.msg_wait(call, flags),
            Interface::Yield { .. } => self.ffa_yield(call),
            Interface::Run { target_info, .. } => self.ffa_run(call, target_info),
            Interface::SecondaryEpRegister { entrypoint } => {
                self.secondary_ep_register(call, entrypoint)
            }
            Interface::ConsoleLog { .. } => self.console_log(call),
            Interface::MemShare { .. } => self.mem_send(call, Kind::Share, interface),
            Interface::MemLend { .. } => self.mem_send(call, Kind::Lend, interface),
            Interface::MemDonate { .. } => self.mem_send(call, Kind::Donate, interface),
            Interface::MemReclaim { .. } => self.mem_reclaim(call),
            Interface::MemRetrieveReq { .. } => self.mem_retrieve(call, interface),
            Interface::MemRelinquish => self.mem_relinquish(call),
            Interface::MemFragTx { .. } => self.mem_frag_tx(call, interface),
            Interface::MemFragRx { .. } => self.mem_frag_rx(call, interface),
            Interface::NotificationBitmapCreate { vm_id, vcpu_cnt } => {
                self.notification_bitmap_create(call, vm_id, vcpu_cnt)
            }
            Interface::NotificationBitmapDestroy { vm_id } => {
                self.notification_bitmap_destroy(call, vm_id)
            }
            Interface::NotificationBind {
                sender_id,
                receiver_id,
                bitmap,
                ..
            } => self.notification_bind(
                call,
                EndpointId(sender_id),
                EndpointId(receiver_id),
                bitmap,
                true,
            ),
            Interface::NotificationUnbind {
                sender_id,
                receiver_id,
                bitmap,
            } => self.notification_bind(
                call,
                EndpointId(sender_id),
                EndpointId(receiver_id),
                bitmap,
                false,
            ),
            Interface::NotificationSet {
                sender_id,
                receiver_id,
                flags,
                bitmap,
            } => self.notification_set(
                call,
                EndpointId(sender_id),
                EndpointId(receiver_id),
                flags,
                bitmap,
            ),
            Interface::NotificationGet {
                vcpu_id,
                endpoint_id,
                ..
            } => self.notification_get(call, vcpu_id, EndpointId(endpoint_id)),
            Interface::NotificationInfoGet { is_32bit } => {
                self.notification_info_get(call, is_32bit)
            }
            Interface::MsgSend2 {
                sender_vm_id,
                flags,
            } => self.msg_send2(call, sender_vm_id, flags.delay_schedule_receiver),
            // FFA_ERROR outside initialisation...
            _ => self.fail(call, FfaError::NotSupported),
        }
    }

    fn ffa_version(&mut self, call: &Call) -> Next {
        let requested = call.regs[1] as u32;
        let w0 = match call.from {
            Endpoint::NormalWorld => self.normal_world.version.request(requested),
            Endpoint::Partition(ctx) => match self.partitions.get_mut(ctx.partition) {
                Some(p) => p.version.request(requested),
                None => crate::version::NOT_SUPPORTED,
            },
        };
        self.reply_full(call, crate::version::answer(w0, call.regs))
    }

    /// An SPMD framework message (direct request from the SPMD to the SPMC), answered here.
    fn framework_message(&mut self, cpu: CpuId, regs: &Regs) -> Option<Regs> {
        let fid = function_id(regs);
        if fid != u32::from(FuncId::MsgSendDirectReq32)
            && fid != u32::from(FuncId::MsgSendDirectReq64)
        {
            return None;
        }
        let (src, dst) = ffa::id::unpack_src_dst(regs[1] as u32);
        if src != EndpointId::SPMD {
            return None;
        }
        if dst != self.attributes.spmc_id {
            let mut answer = ffa::call::error(FfaError::InvalidParameters);
            answer[8..].copy_from_slice(&regs[8..]);
            return Some(answer);
        }
        let msg = regs[2] & 0xffff_ffff;
        let (kind, value) = match msg {
            framework::VERSION_REQ => {
                let w0 = self.normal_world.version.request(regs[3] as u32);
                (framework::VERSION_RESP, u64::from(w0))
            }
            framework::PSCI_REQ if regs[3] & 0xffff_ffff == framework::PSCI_CPU_OFF => {
                self.power_off(cpu);
                (framework::PSCI_RESP, framework::PSCI_SUCCESS)
            }
            framework::PSCI_REQ => (framework::PSCI_RESP, framework::PSCI_NOT_SUPPORTED),
            _ => {
                let mut answer = ffa::call::error(FfaError::NotSupported);
                answer[8..].copy_from_slice(&regs[8..]);
                return Some(answer);
            }
        };
        let mut answer = *regs;
        answer[0] = u64::from(u32::from(FuncId::MsgSendDirectResp32));
        answer[1] = u64::from(ffa::id::pack_src_dst(
            self.attributes.spmc_id,
            EndpointId::SPMD,
        ));
        answer[2] = kind;
        answer[3] = value;
        answer[4..8].fill(0);
        Some(answer)
    }

    /// Starts the next execution context for `cpu` from table index `start` on, in boot
    /// order: at cold boot every partition's context for the CPU, at a warm boot the MP
    /// partitions' contexts for it that never ran or were powered off. After the last, the
    /// SPMD gets FFA_MSG_WAIT (this CPU is initialised).
    pub(crate) fn start_from(&mut self, cpu: CpuId, start: usize) -> Next {
        let warm = self.cold_boot_done;
        for index in start..self.partitions.len() {
            let Some(p) = self.partitions.get_mut(index) else {
                break;
            };
            if p.is_aborted() || (warm && !p.is_mp()) {
                continue;
            }
            let Some(vcpu) = p.context_for(cpu) else {
                // An MP partition with fewer contexts than CPUs has nothing to run here; at
                // cold boot it cannot initialise at all.
                if !warm {
                    p.abort(AbortReason::NoBootContext);
                }
                continue;
            };
            let startable = p
                .contexts
                .get(usize::from(vcpu))
                .and_then(ContextCell::get)
                .is_some_and(|c| matches!(c.state, RuntimeState::NotStarted | RuntimeState::Off));
            if !startable {
                continue;
            }
            let started = if warm {
                p.warm_entry()
                    .map(|pc| (pc, [0; 18]))
                    .ok_or(AbortReason::BadAddress)
            } else {
                self.cold_start(index)
            };
            let (pc, regs) = match started {
                Ok(start) => start,
                Err(why) => {
                    if let Some(p) = self.partitions.get_mut(index) {
                        p.abort(why);
                    }
                    continue;
                }
            };
            let ctx = CtxRef {
                partition: index,
                vcpu,
            };
            let Some(c) = self.partitions.ctx_mut(ctx) else {
                continue;
            };
            *c = ExecutionContext::new();
            c.run(cpu, RuntimeModel::Init);
            self.set_running(cpu, Some(ctx));
            self.out = regs;
            return Next::Enter {
                partition: self.partitions.id_of(ctx).unwrap_or(EndpointId::SPMD),
                vcpu,
                start: Some(pc),
            };
        }
        if !warm {
            self.cold_boot_done = true;
        }
        self.answer_spmd(msg_wait())
    }

    /// Where and with which registers the partition at table index `index` starts at cold
    /// boot: its primary entry point, with x\[gp-register-num\] = its boot-information blob
    /// (written now), or without `gp-register-num` x0 = its manifest address (Hafnium's
    /// default); the other registers 0.
    fn cold_start(&mut self, index: usize) -> Result<(u64, Regs), AbortReason> {
        let p = self.partitions.get(index).ok_or(AbortReason::BadAddress)?;
        let pc = p.cold_entry().ok_or(AbortReason::BadAddress)?;
        let manifest = p
            .config
            .load_address
            .checked_add(MANIFEST_OFFSET)
            .ok_or(AbortReason::BadAddress)?;
        let mut regs = [0; 18];
        match p.config.gp_register_num {
            None => regs[0] = manifest,
            Some(n) => {
                let blob = self.write_boot_info(index).map_err(AbortReason::BootInfo)?;
                // The table admits x0..x3 only.
                let reg = regs
                    .get_mut(usize::from(n))
                    .ok_or(AbortReason::BadAddress)?;
                *reg = blob;
            }
        }
        Ok((pc, regs))
    }

    /// PSCI CPU_OFF on `cpu`: the MP partitions' contexts pinned to it are powered off, as
    /// Hafnium does; UP contexts migrate and keep their state. So that no partition waits
    /// forever on a context that is gone: a partition Blocked on its request to a powered-off
    /// context becomes Preempted and gets FFA_ERROR(ABORTED) when run; one the powered-off
    /// context had yielded back to gets DENIED for its FFA_RUN of it (powered off) and may
    /// answer its own requester; one handling a request from a powered-off context keeps
    /// running for the normal world's cycles (its response is refused, FFA_MSG_WAIT ends its
    /// run), and if it had yielded back to it, it is a Preempted chain root the normal world
    /// may FFA_RUN.
    fn power_off(&mut self, cpu: CpuId) {
        for index in 0..self.partitions.len() {
            let Some(p) = self.partitions.get(index) else {
                break;
            };
            if !p.is_mp() {
                continue;
            }
            let Some(vcpu) = p.context_for(cpu) else {
                continue;
            };
            let off = CtxRef {
                partition: index,
                vcpu,
            };
            let Some(c) = self.partitions.ctx(off) else {
                continue;
            };
            if matches!(c.state, RuntimeState::NotStarted | RuntimeState::Aborted) {
                continue;
            }
            if let Some(requester) = call_chain::requester(&self.partitions, off)
                && let Some(r) = self.partitions.ctx_mut(requester)
                && r.state == RuntimeState::Blocked
            {
                r.state = RuntimeState::Preempted;
                r.callee_lost = true;
            }
            call_chain::release_callees(&mut self.partitions, off);
            if let Some(c) = self.partitions.ctx_mut(off) {
                c.power_off();
            }
        }
    }

    /// The initialising context failed or broke the init rules (`why`): its partition is
    /// Aborted (only that context at a warm boot) and boot goes on with the next partition.
    fn abort_initialising(&mut self, cpu: CpuId, ctx: CtxRef, why: AbortReason) -> Next {
        if self.cold_boot_done {
            if let Some(p) = self.partitions.get_mut(ctx.partition) {
                p.note_abort(why);
            }
            if let Some(c) = self.partitions.ctx_mut(ctx) {
                c.abort();
            }
        } else if let Some(p) = self.partitions.get_mut(ctx.partition) {
            p.abort(why);
        }
        self.set_running(cpu, None);
        self.start_from(cpu, ctx.partition.saturating_add(1))
    }

    fn secondary_ep_register(
        &mut self,
        call: &Call,
        entrypoint: ffa::SecondaryEpRegisterAddr,
    ) -> Next {
        let Endpoint::Partition(ctx) = call.from else {
            return self.fail(call, FfaError::NotSupported);
        };
        let entry = match entrypoint {
            ffa::SecondaryEpRegisterAddr::Addr32(a) => u64::from(a),
            ffa::SecondaryEpRegisterAddr::Addr64(a) => a,
        };
        let initialising = self
            .partitions
            .ctx(ctx)
            .is_some_and(|c| c.model == Some(RuntimeModel::Init));
        let Some(p) = self.partitions.get_mut(ctx.partition) else {
            return self.fail(call, FfaError::NotSupported);
        };
        // Hafnium: UP partitions have no secondary contexts (NOT_SUPPORTED); registration is
        // an initialisation-time call (DENIED later). The entry must be the partition's own
        // memory (as the SPMD demands of ours).
        let code = if !p.is_mp() {
            Some(FfaError::NotSupported)
        } else if !initialising {
            Some(FfaError::Denied)
        } else if !crate::mailbox::inside(
            entry,
            4,
            &[(p.config.load_address, p.config.memory_size)],
        ) {
            Some(FfaError::InvalidParameters)
        } else {
            p.secondary_entry = Some(entry);
            None
        };
        match code {
            Some(code) => self.fail(call, code),
            None => self.succeed(call, [0; 6]),
        }
    }
}

/// FFA_MSG_WAIT (SMC32, no flags): "nothing to run on this CPU" for the SPMD.
pub(crate) fn msg_wait() -> Regs {
    ffa::call::encode(&Interface::MsgWait {
        flags: Default::default(),
        is_32bit: true,
    })
}

/// Calls the init runtime model forbids (FF-A v1.2 §8.3, rules for SP initialisation): they
/// abort the partition. Direct requests are among them: Hafnium lets an initialising SP
/// message partitions that finished initialising; we do not, yet.
fn forbidden_during_init(func: Option<FuncId>) -> bool {
    matches!(func, Some(FuncId::Error32 | FuncId::Error64)) || forbidden_in_interrupt(func)
}

/// Calls a context handling a secure interrupt may not make: it may only finish
/// (FFA_MSG_WAIT) and make calls that do not hand the CPU to another endpoint.
fn forbidden_in_interrupt(func: Option<FuncId>) -> bool {
    matches!(
        func,
        Some(
            FuncId::MsgSendDirectReq32
                | FuncId::MsgSendDirectReq64
                | FuncId::MsgSendDirectReq64_2
                | FuncId::MsgSendDirectResp32
                | FuncId::MsgSendDirectResp64
                | FuncId::MsgSendDirectResp64_2
                | FuncId::Yield32
                | FuncId::Yield64
                | FuncId::Run32
                | FuncId::Run64
        )
    )
}

/// Whether a context may make a call on the fast path: it runs, handling a direct request
/// (not initialising, not handling a secure interrupt, and not aborted from another CPU).
pub(crate) fn handles_request(c: &ExecutionContext) -> bool {
    c.state == RuntimeState::Running && c.model == Some(RuntimeModel::DirectRequest)
}

/// FFA_FEATURES's feature and input properties, as the decoder reads them (`Feature::from`,
/// with the fast lookup for function IDs).
fn features_args(regs: &Regs) -> (ffa::Feature, u32) {
    let w1 = regs[1] as u32;
    let feature = match ffa::call::lookup(w1) {
        Some(func) => ffa::Feature::FuncId(func),
        None => ffa::Feature::from(w1),
    };
    (feature, regs[2] as u32)
}

/// FFA_PARTITION_INFO_GET's UUID and flags, as the decoder reads them; `None` for flags it
/// refuses (the decoder gives the error).
fn partition_info_args(regs: &Regs) -> Option<(ffa::Uuid, ffa::PartitionInfoGetFlags)> {
    let flags = ffa::PartitionInfoGetFlags::try_from(regs[5] as u32).ok()?;
    let w = |i: usize| regs[i] as u32;
    Some((
        ffa::UuidHelper::from_u32_regs([w(1), w(2), w(3), w(4)]),
        flags,
    ))
}

/// A call the fast path ([`Spmc::next_shared`]) may take, by its function: the arch layer
/// asks before it takes the core's lock for one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastCall(FuncId);

impl FastCall {
    /// The function of `regs` (without the SVE hint), if the fast path may take it. Not a
    /// direct message with w2 set (a framework message, which the SPMD also makes of the
    /// normal world's FFA_VERSION), nor a PARTITION_INFO_GET with other flags than count
    /// only: no lock is taken for those only to leave them.
    #[inline(always)]
    pub fn of(regs: &Regs) -> Option<Self> {
        let func = ffa::call::fast_path(function_id(regs))?;
        let taken = match func {
            FuncId::MsgSendDirectReq32 | FuncId::MsgSendDirectResp32 => regs[2] as u32 == 0,
            FuncId::MsgSendDirectReq64 | FuncId::MsgSendDirectResp64 => regs[2] == 0,
            FuncId::PartitionInfoGet => regs[5] as u32 == PARTITION_INFO_COUNT_ONLY,
            _ => true,
        };
        taken.then_some(Self(func))
    }
}

/// FFA_PARTITION_INFO_GET's w5 asking for the count only (bit 0; the others MBZ).
const PARTITION_INFO_COUNT_ONLY: u32 = 1;

fn is_console_log(fid: u32) -> bool {
    fid == u32::from(FuncId::ConsoleLog32) || fid == u32::from(FuncId::ConsoleLog64)
}
