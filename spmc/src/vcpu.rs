//! Execution contexts (vCPUs) of partitions and their FF-A runtime state.
//!
//! A UP partition has one context that may run on any CPU; an MP partition has one per CPU,
//! index = CPU. The state follows FF-A's partition runtime model: a context runs either to
//! initialise, to handle a direct request, or because the normal world gave it cycles with
//! FFA_RUN.

use core::sync::atomic::{AtomicU32, Ordering};

use ffa::{EndpointId, FfaError, FuncId, MsgWaitFlags, TargetInfo};

use crate::call_chain;
use crate::mailbox::RxOwner;
use crate::platform::Platform;
use crate::spmc::{Call, CpuId, Endpoint, Next, Spmc, msg_wait};

/// Where an execution context is in its life, as FF-A's runtime model names the states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeState {
    /// Never entered.
    NotStarted,
    /// In FFA_MSG_WAIT: may receive a direct request or be run.
    Waiting,
    /// Running on a CPU.
    Running,
    /// Sent a direct request and waits for the response.
    Blocked,
    /// Yielded with FFA_YIELD (or preempted by an interrupt); whoever got its cycles resumes
    /// it with FFA_RUN: its requester if a partition's request holds it, else the normal
    /// world.
    Preempted,
    /// Dead: never entered again; requests to it get ABORTED.
    Aborted,
    /// Powered off with its CPU (PSCI CPU_OFF, MP partitions only): the next CPU_ON of that
    /// CPU starts it afresh at the secondary entry point. Requests to it get BUSY.
    Off,
}

/// Why a context is running (or was, while it is Blocked or Preempted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeModel {
    /// Cold boot, up to its first FFA_MSG_WAIT.
    Init,
    /// Handling a direct request.
    DirectRequest,
    /// Given cycles by FFA_RUN.
    Run,
    /// Handling a secure interrupt of its own, up to its FFA_MSG_WAIT
    /// ([`crate::interrupts::secure`]).
    SecureInterrupt,
}

/// Which direct-request ABI a request came through; the response must use the matching one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// FFA_MSG_SEND_DIRECT_REQ (answered by FFA_MSG_SEND_DIRECT_RESP).
    Req,
    /// FFA_MSG_SEND_DIRECT_REQ2 (answered by FFA_MSG_SEND_DIRECT_RESP2).
    Req2,
}

/// SMC32 or SMC64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// SMC32 convention.
    W32,
    /// SMC64 convention.
    W64,
}

/// One execution context of one partition, by table index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtxRef {
    /// Index in the partition table.
    pub partition: usize,
    /// Execution-context index.
    pub vcpu: u16,
}

/// The context running on one CPU, or none (the normal world has it), readable and
/// writable by the direct-message fast path under the core's shared lock: only that CPU's
/// own calls change it.
#[derive(Debug)]
pub struct RunningSlot(AtomicU32);

impl RunningSlot {
    /// Nothing runs: the normal world has the CPU.
    const NONE: u32 = u32::MAX;

    /// The normal world has the CPU.
    pub const fn new() -> Self {
        Self(AtomicU32::new(Self::NONE))
    }

    /// The context running.
    pub fn get(&self) -> Option<CtxRef> {
        let v = self.0.load(Ordering::Relaxed);
        (v != Self::NONE).then_some(CtxRef {
            partition: (v >> 16) as usize,
            vcpu: v as u16,
        })
    }

    /// Marks `ctx` as running (`None`: the normal world).
    pub fn set(&self, ctx: Option<CtxRef>) {
        // Table indices are below MAX_PARTITIONS, far under 16 bits.
        let v = ctx.map_or(Self::NONE, |c| {
            ((c.partition as u32) << 16) | u32::from(c.vcpu)
        });
        self.0.store(v, Ordering::Relaxed);
    }
}

impl Default for RunningSlot {
    fn default() -> Self {
        Self::new()
    }
}

/// Who sent the request a context is handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requester {
    /// An endpoint of the normal world, by the source ID it used.
    NormalWorld(EndpointId),
    /// A partition's context, Blocked until the response.
    Partition(EndpointId, CtxRef),
}

impl Requester {
    /// The endpoint ID the response must name as its destination.
    pub fn id(self) -> EndpointId {
        match self {
            Self::NormalWorld(id) | Self::Partition(id, _) => id,
        }
    }
}

/// A direct request being handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingRequest {
    /// Who sent it.
    pub from: Requester,
    /// Through which ABI.
    pub kind: RequestKind,
    /// With which calling convention.
    pub width: Width,
}

/// x8..x17 of a call, kept while the caller waits for an answer that does not use them.
pub type SavedRegs = [u64; 10];

/// One execution context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecutionContext {
    /// Its runtime state.
    pub state: RuntimeState,
    /// Why it runs; `None` while Waiting, NotStarted or Aborted.
    pub model: Option<RuntimeModel>,
    /// The direct request it is handling (model DirectRequest).
    pub request: Option<PendingRequest>,
    /// The CPU it runs on, or ran on when it blocked or yielded.
    pub cpu: Option<CpuId>,
    /// Its own x8..x17 at its last call that suspended it (MSG_WAIT, YIELD, a direct request
    /// or response): SMCCC wants them back when the answer does not use them.
    pub own_saved: SavedRegs,
    /// The normal world's x8..x17 when this context started a chain for it (a direct request
    /// or FFA_RUN): handed back with whatever ends the chain.
    pub nwd_saved: SavedRegs,
    /// The context its direct request went to was powered off (CPU_OFF): it is Preempted
    /// instead of Blocked, and the request is answered FFA_ERROR(ABORTED) when it is run.
    pub callee_lost: bool,
    /// Preempted by a non-secure interrupt rather than by FFA_YIELD: FFA_RUN resumes it with
    /// its registers untouched.
    pub interrupted: bool,
    /// The callee whose FFA_YIELD came back to it last (a hint for
    /// [`call_chain::yielded_callee`], which checks it: no scan of every context on the
    /// direct-message path).
    pub yielded_callee: Option<CtxRef>,
}

impl ExecutionContext {
    /// A context that was never entered.
    pub const fn new() -> Self {
        Self {
            state: RuntimeState::NotStarted,
            model: None,
            request: None,
            cpu: None,
            own_saved: [0; 10],
            nwd_saved: [0; 10],
            callee_lost: false,
            interrupted: false,
            yielded_callee: None,
        }
    }

    /// Starts running on `cpu` for `model`.
    pub fn run(&mut self, cpu: CpuId, model: RuntimeModel) {
        self.state = RuntimeState::Running;
        self.model = Some(model);
        self.cpu = Some(cpu);
    }

    /// Goes back to FFA_MSG_WAIT: no model, no request.
    pub fn wait(&mut self) {
        self.state = RuntimeState::Waiting;
        self.model = None;
        self.request = None;
    }

    /// Powers off with its CPU: whatever it was doing is gone.
    pub fn power_off(&mut self) {
        *self = Self::new();
        self.state = RuntimeState::Off;
    }

    /// Dies.
    pub fn abort(&mut self) {
        self.state = RuntimeState::Aborted;
        self.model = None;
        self.request = None;
    }
}

impl Default for ExecutionContext {
    fn default() -> Self {
        Self::new()
    }
}

/// An execution context behind its own lock. With the core to itself (`&mut`), a handler
/// reaches it without locking; the direct-message fast path, which several CPUs run at once
/// under the core's shared lock ([`crate::spmc::Spmc::next_shared`]), only ever tries the
/// lock and leaves the call to the exclusive path when another CPU holds it, so no CPU ever
/// spins on a context.
#[derive(Debug, Default)]
pub struct ContextCell(spin::mutex::SpinMutex<ExecutionContext>);

impl ContextCell {
    /// A context that was never entered.
    pub const fn new() -> Self {
        Self(spin::mutex::SpinMutex::new(ExecutionContext::new()))
    }

    /// A copy of the context; `None` while another CPU's fast path holds it.
    pub fn get(&self) -> Option<ExecutionContext> {
        self.0.try_lock().map(|c| *c)
    }

    /// `f` of the context, without copying it; `None` while another CPU's fast path holds
    /// it.
    pub fn with<R>(&self, f: impl FnOnce(&ExecutionContext) -> R) -> Option<R> {
        self.0.try_lock().map(|c| f(&c))
    }

    /// The context, locked; `None` while another CPU's fast path holds it.
    pub fn try_lock(&self) -> Option<spin::mutex::SpinMutexGuard<'_, ExecutionContext>> {
        self.0.try_lock()
    }

    /// The context, with the core to itself.
    pub fn get_mut(&mut self) -> &mut ExecutionContext {
        self.0.get_mut()
    }
}

impl Clone for ContextCell {
    fn clone(&self) -> Self {
        Self(spin::mutex::SpinMutex::new(self.get().unwrap_or_default()))
    }
}

/// x8..x17 of `regs`.
pub fn upper_regs(regs: &ffa::Regs) -> SavedRegs {
    let mut saved = [0; 10];
    saved.copy_from_slice(&regs[8..]);
    saved
}

impl<P: Platform> Spmc<P> {
    /// FFA_MSG_WAIT: the end of initialisation, or of cycles given by FFA_RUN. A context
    /// handling a direct request must answer it instead, and one whose callee yielded back to
    /// it must run that callee to its response first (DENIED). Unless the caller retains
    /// it, the RX buffer it owned goes back to the SPMC (Hafnium; FF-A v1.2 §10.2).
    pub(crate) fn msg_wait(&mut self, call: &Call, flags: MsgWaitFlags) -> Next {
        let Endpoint::Partition(ctx) = call.from else {
            return self.fail(call, FfaError::NotSupported);
        };
        let model = self.partitions.ctx(ctx).and_then(|c| c.model);
        if !matches!(
            model,
            Some(RuntimeModel::Init | RuntimeModel::Run | RuntimeModel::SecureInterrupt)
        ) || call_chain::yielded_callee(&self.partitions, ctx).is_some()
        {
            // A callee that yielded back to it would lose its requester.
            return self.fail(call, FfaError::Denied);
        }
        let mut nwd_saved = [0; 10];
        if let Some(c) = self.partitions.ctx_mut(ctx) {
            nwd_saved = c.nwd_saved;
            c.wait();
            c.own_saved = upper_regs(call.regs);
        }
        // A message it has not been told of keeps the buffer (Hafnium).
        if !flags.retain_rx_buffer
            && !self.framework_notifications_pending(call)
            && let Some(p) = self.partitions.get_mut(ctx.partition)
            && p.mailbox.rx_owner() == Some(RxOwner::Consumer)
        {
            let _ = p.mailbox.consumer_release();
        }
        self.set_running(call.cpu, None);
        if model == Some(RuntimeModel::Init) {
            return self.start_from(call.cpu, ctx.partition.saturating_add(1));
        }
        if model == Some(RuntimeModel::SecureInterrupt) {
            return self.interrupt_handled(call.cpu);
        }
        let mut regs = msg_wait();
        regs[8..].copy_from_slice(&nwd_saved);
        self.answer_spmd(regs)
    }

    /// FFA_YIELD: the context gives its cycles back to whoever gave them (FF-A v1.2 §8.3,
    /// Hafnium's `ffa_cpu_cycles_yield_prepare`):
    /// - handling a request from a partition: back to that partition's context (Blocked on
    ///   it), entered with FFA_YIELD, w1 = yielder's ID << 16 | context index, w2/w3 = the
    ///   timeout hint as given; the yielder stays Preempted, linked to its requester, until
    ///   the requester resumes it with FFA_RUN ([`call_chain`]). Should the requester have
    ///   been aborted from another CPU meanwhile, the yield returns FFA_SUCCESS at once and the
    ///   yielder's response unwinds the chain ([`crate::abort`]).
    /// - a chain root (a request from the normal world, or cycles from the normal world's
    ///   FFA_RUN): to the normal world, which gets the same FFA_YIELD and may FFA_RUN it;
    ///   partitions it blocks stay blocked.
    ///
    /// A context whose own callee yielded back to it may yield too. Outside a request or
    /// FFA_RUN: DENIED.
    pub(crate) fn ffa_yield(&mut self, call: &Call) -> Next {
        let Endpoint::Partition(ctx) = call.from else {
            return self.fail(call, FfaError::NotSupported);
        };
        let model = self.partitions.ctx(ctx).and_then(|c| c.model);
        if !matches!(model, Some(RuntimeModel::DirectRequest | RuntimeModel::Run)) {
            return self.fail(call, FfaError::Denied);
        }
        let requester = call_chain::requester(&self.partitions, ctx);
        let requester_state = requester
            .and_then(|r| self.partitions.ctx(r))
            .map(|r| r.state);
        match requester_state {
            None | Some(RuntimeState::Blocked) => {}
            // Its requester died on another CPU: go on, the response unwinds.
            Some(RuntimeState::Aborted) => return self.succeed(call, [0; 6]),
            // A requester that is not waiting for it: the chain is inconsistent.
            Some(_) => return self.fail(call, FfaError::Denied),
        }
        let id = self.partitions.id_of(ctx).unwrap_or(EndpointId::SPMD);
        let mut regs = [0; 18];
        regs[0] = u64::from(u32::from(FuncId::Yield32));
        regs[1] = u64::from(u32::from(TargetInfo {
            endpoint_id: id.0,
            vcpu_id: ctx.vcpu,
        }));
        regs[2] = call.regs[2] & 0xffff_ffff;
        regs[3] = call.regs[3] & 0xffff_ffff;
        if let Some(c) = self.partitions.ctx_mut(ctx) {
            c.state = RuntimeState::Preempted;
            c.own_saved = upper_regs(call.regs);
        }
        if let Some(from) = requester
            && let Some(r) = self.partitions.ctx_mut(from)
        {
            r.state = RuntimeState::Running;
            r.cpu = Some(call.cpu);
            r.yielded_callee = Some(ctx);
            regs[8..].copy_from_slice(&r.own_saved);
            self.set_running(call.cpu, Some(from));
            return self.enter(from, regs);
        }
        let root = call_chain::root(&self.partitions, ctx);
        let nwd_saved = self.partitions.ctx(root).map_or([0; 10], |c| c.nwd_saved);
        regs[8..].copy_from_slice(&nwd_saved);
        self.set_running(call.cpu, None);
        self.answer_spmd(regs)
    }

    /// FFA_RUN: resumes a Preempted context (its FFA_YIELD returns FFA_SUCCESS; one a
    /// non-secure interrupt preempted goes on untouched) or, from the normal world, gives
    /// cycles to a Waiting one (its FFA_MSG_WAIT returns FFA_RUN).
    ///
    /// From the normal world (TF-A's EL3 SPMC and Hafnium): unknown partition, context index
    /// out of range or, for an MP partition, not this CPU's → INVALID_PARAMETERS; Running or
    /// Blocked → BUSY; never started or powered off with its CPU → DENIED; Aborted → ABORTED;
    /// a Preempted context that is part of a call chain (it has a partition requester or a
    /// callee) may not move to another CPU (chains never span CPUs) → DENIED; a context that
    /// yielded back to the partition whose request it handles is that partition's to run →
    /// DENIED (Hafnium runs a yielded context for anyone; we keep the chain intact). A context
    /// whose callee was powered off or aborted gets FFA_ERROR(ABORTED) for its direct request
    /// instead of FFA_SUCCESS.
    ///
    /// From a partition: only its own callee that yielded back to it
    /// ([`call_chain::yielded_callee`]); the caller is Blocked on it again, and gets the
    /// callee's next FFA_YIELD or its response. Otherwise: unknown partition, index out of
    /// range or another CPU's MP context → INVALID_PARAMETERS; a normal-world ID → DENIED (as
    /// Hafnium); Aborted → ABORTED (a callee that died while yielded); anything else —
    /// another chain's context, one before the caller in its own chain, itself, a Waiting
    /// one — DENIED (Hafnium lets a partition run any Preempted context that does not
    /// precede it in its chain; FF-A gives the cycles back to the endpoint they were yielded
    /// to, so we allow that one only).
    pub(crate) fn ffa_run(&mut self, call: &Call, target: TargetInfo) -> Next {
        let result = match call.from {
            Endpoint::NormalWorld => self.run_target(call, target),
            Endpoint::Partition(caller) => self.run_callee(call, caller, target),
        };
        match result {
            Ok(outcome) => outcome,
            Err(code) => self.fail(call, code),
        }
    }

    /// The context `target` names, checked for an FFA_RUN on `cpu`.
    fn run_ref(&self, cpu: CpuId, target: TargetInfo) -> Result<CtxRef, FfaError> {
        let index = self
            .partitions
            .find(EndpointId(target.endpoint_id))
            .ok_or(FfaError::InvalidParameters)?;
        let p = self
            .partitions
            .get(index)
            .ok_or(FfaError::InvalidParameters)?;
        if usize::from(target.vcpu_id) >= p.contexts.len() || (p.is_mp() && target.vcpu_id != cpu.0)
        {
            return Err(FfaError::InvalidParameters);
        }
        Ok(CtxRef {
            partition: index,
            vcpu: target.vcpu_id,
        })
    }

    fn run_callee(
        &mut self,
        call: &Call,
        caller: CtxRef,
        target: TargetInfo,
    ) -> Result<Next, FfaError> {
        if !EndpointId(target.endpoint_id).is_secure() {
            return Err(FfaError::Denied);
        }
        let ctx = self.run_ref(call.cpu, target)?;
        let c = self
            .partitions
            .ctx(ctx)
            .ok_or(FfaError::InvalidParameters)?;
        if c.state == RuntimeState::Aborted {
            return Err(FfaError::Aborted);
        }
        if call_chain::yielded_callee(&self.partitions, caller) != Some(ctx)
            || c.cpu != Some(call.cpu)
        {
            return Err(FfaError::Denied);
        }
        let regs = if c.callee_lost {
            ffa::call::error(FfaError::Aborted)
        } else {
            ffa::call::success32([0; 6])
        };
        if let Some(r) = self.partitions.ctx_mut(caller) {
            r.state = RuntimeState::Blocked;
            r.own_saved = upper_regs(call.regs);
        }
        Ok(self.resume_preempted(call.cpu, ctx, regs))
    }

    /// Enters the Preempted `ctx` on `cpu` with `regs` (x0..x7) and its own x8..x17.
    fn resume_preempted(&mut self, cpu: CpuId, ctx: CtxRef, regs: ffa::Regs) -> Next {
        let mut regs = regs;
        if let Some(c) = self.partitions.ctx_mut(ctx) {
            c.state = RuntimeState::Running;
            c.cpu = Some(cpu);
            c.callee_lost = false;
            regs[8..].copy_from_slice(&c.own_saved);
        }
        self.set_running(cpu, Some(ctx));
        self.enter(ctx, regs)
    }

    fn run_target(&mut self, call: &Call, target: TargetInfo) -> Result<Next, FfaError> {
        let ctx = self.run_ref(call.cpu, target)?;
        let c = self
            .partitions
            .ctx(ctx)
            .ok_or(FfaError::InvalidParameters)?;
        let saved = upper_regs(call.regs);
        match c.state {
            RuntimeState::Preempted => {
                let in_chain = call_chain::has_partition_requester(&self.partitions, ctx)
                    || call_chain::callee(&self.partitions, ctx).is_some();
                if (c.cpu != Some(call.cpu) && in_chain)
                    || call_chain::yielded_to_requester(&self.partitions, ctx).is_some()
                {
                    return Err(FfaError::Denied);
                }
                let callee_lost = c.callee_lost;
                let interrupted = c.interrupted;
                let root = call_chain::root(&self.partitions, ctx);
                if let Some(r) = self.partitions.ctx_mut(root) {
                    r.nwd_saved = saved;
                }
                if interrupted {
                    let c = self
                        .partitions
                        .ctx_mut(ctx)
                        .ok_or(FfaError::InvalidParameters)?;
                    c.state = RuntimeState::Running;
                    c.cpu = Some(call.cpu);
                    c.interrupted = false;
                    self.set_running(call.cpu, Some(ctx));
                    return Ok(Next::Resume {
                        partition: EndpointId(target.endpoint_id),
                        vcpu: ctx.vcpu,
                        mask_ns_interrupts: false,
                    });
                }
                let regs = if callee_lost {
                    ffa::call::error(FfaError::Aborted)
                } else {
                    ffa::call::success32([0; 6])
                };
                Ok(self.resume_preempted(call.cpu, ctx, regs))
            }
            RuntimeState::Waiting => {
                let mut regs = [0; 18];
                regs[0] = u64::from(u32::from(FuncId::Run32));
                regs[1] = u64::from(u32::from(target));
                let c = self
                    .partitions
                    .ctx_mut(ctx)
                    .ok_or(FfaError::InvalidParameters)?;
                c.run(call.cpu, RuntimeModel::Run);
                c.nwd_saved = saved;
                regs[8..].copy_from_slice(&c.own_saved);
                self.set_running(call.cpu, Some(ctx));
                Ok(self.enter(ctx, regs))
            }
            RuntimeState::Running | RuntimeState::Blocked => Err(FfaError::Busy),
            RuntimeState::NotStarted | RuntimeState::Off => Err(FfaError::Denied),
            RuntimeState::Aborted => Err(FfaError::Aborted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_reset_model_and_request() {
        let mut ctx = ExecutionContext::new();
        assert_eq!(ctx.state, RuntimeState::NotStarted);
        ctx.run(CpuId(1), RuntimeModel::DirectRequest);
        ctx.request = Some(PendingRequest {
            from: Requester::NormalWorld(EndpointId(3)),
            kind: RequestKind::Req,
            width: Width::W32,
        });
        assert_eq!(ctx.state, RuntimeState::Running);
        assert_eq!(ctx.cpu, Some(CpuId(1)));
        ctx.wait();
        assert_eq!(
            (ctx.state, ctx.model, ctx.request),
            (RuntimeState::Waiting, None, None)
        );
        ctx.run(CpuId(0), RuntimeModel::Run);
        ctx.abort();
        assert_eq!((ctx.state, ctx.model), (RuntimeState::Aborted, None));
    }

    #[test]
    fn requester_names_the_response_destination() {
        let r = Requester::Partition(
            EndpointId(0x8002),
            CtxRef {
                partition: 1,
                vcpu: 0,
            },
        );
        assert_eq!(r.id(), EndpointId(0x8002));
        assert_eq!(Requester::NormalWorld(EndpointId(5)).id(), EndpointId(5));
        let mut regs = [0u64; 18];
        regs[8] = 8;
        regs[17] = 17;
        let saved = upper_regs(&regs);
        assert_eq!((saved[0], saved[9]), (8, 17));
    }
}
