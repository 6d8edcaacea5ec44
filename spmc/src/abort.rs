//! Aborting a partition whose running context faulted and cannot handle the fault itself.
//!
//! The arch layer calls [`Spmc::abort_running`] when the context running on a CPU takes an
//! exception it cannot take at its own vector (no vector, a fault inside its own handler, an
//! undefined instruction). The whole partition dies: every context is Aborted, the reason is
//! recorded ([`AbortReason::Fault`]) and later requests or FFA_RUN to it get ABORTED.
//!
//! Whoever waits on a dead context is answered FFA_ERROR(ABORTED):
//! - the requester of the request it was handling: the normal world (through the SPMD) or a
//!   Blocked partition (resumed with the error); if that partition is dead too, its own
//!   requester, and so on up the call chain;
//! - a context that was initialising: boot goes on with the next partition;
//! - the normal world, for cycles it gave with FFA_RUN.
//!
//! An MP partition may have contexts on other CPUs. Those not running anywhere die at once:
//! a partition Blocked on a request to one of them that a non-secure interrupt preempted
//! becomes Preempted and gets ABORTED when the normal world runs it (as for a powered-off
//! context); a partition one of them had yielded back to gets ABORTED for its FFA_RUN of it.
//! A callee that had yielded back to a dead context loses its request: it stays Preempted
//! as a chain root the normal world may FFA_RUN (its response is then refused, FFA_MSG_WAIT
//! ends its run), as after CPU_OFF. A context still in
//! use on another CPU (Running, or Blocked on a callee running there) is marked Aborted but
//! keeps its request: the next call it makes, or the response its callee sends it, unwinds
//! that CPU's chain the same way ([`Spmc::unwind`]).
//!
//! Memory the dead partition retrieved is unmapped and counts as relinquished, so its lenders
//! can reclaim it; memory it lent stays with its borrowers until they relinquish it.

use ffa::{EndpointId, FfaError};

use crate::call_chain;
use crate::partition::AbortReason;
use crate::platform::Platform;
use crate::spmc::{CpuId, Event, Next, Outcome, Spmc};
use crate::vcpu::{CtxRef, Requester, RuntimeModel, RuntimeState};

impl<P: Platform> Spmc<P> {
    /// Aborts partition `id` before it ever runs (the arch layer cannot isolate it): its
    /// contexts never run, and requests to it are answered as to any aborted partition.
    pub fn abort_before_boot(&mut self, id: EndpointId, why: AbortReason) {
        if let Some(p) = self
            .partitions
            .find(id)
            .and_then(|i| self.partitions.get_mut(i))
        {
            p.abort(why);
        }
    }

    /// The context running on `cpu` faulted and cannot handle it: its partition is Aborted
    /// and whoever waited on it answered ABORTED (see the module documentation). Returns what
    /// runs next on `cpu`. With no partition running on `cpu` (or an unknown CPU) nothing
    /// changes and the answer is `ToSpmd(FFA_ERROR(DENIED))`.
    pub fn abort_running(&mut self, cpu: CpuId) -> Outcome {
        self.outcome(cpu, Event::AbortRunning)
    }

    pub(crate) fn abort_running_next(&mut self, cpu: CpuId) -> Next {
        let from = self.running_ctx(cpu);
        let next = self.abort_running_event(cpu);
        self.after_outcome(cpu, from, next);
        next
    }

    fn abort_running_event(&mut self, cpu: CpuId) -> Next {
        let Some(ctx) = self.cpu_index(cpu).and_then(|i| self.running.get(i)?.get()) else {
            return self.answer_spmd(ffa::call::error(FfaError::Denied));
        };
        self.abort_partition(ctx.partition, AbortReason::Fault);
        self.unwind(cpu, ctx)
    }

    /// Marks every context of the partition at table index `index` Aborted, except that
    /// contexts still in use on a CPU keep their model and request for [`Spmc::unwind`].
    fn abort_partition(&mut self, index: usize, why: AbortReason) {
        let Some(p) = self.partitions.get_mut(index) else {
            return;
        };
        p.note_abort(why);
        let (id, count) = (p.id, p.contexts.len());
        self.release_memory_of(id);
        for vcpu in 0..count {
            let ctx = CtxRef {
                partition: index,
                vcpu: vcpu as u16,
            };
            let Some(state) = self.partitions.ctx(ctx).map(|c| c.state) else {
                continue;
            };
            if state == RuntimeState::Preempted {
                // A callee that yielded back to it has no one to run it any more. (One in
                // use on a CPU releases its callee when it unwinds.)
                call_chain::release_callees(&mut self.partitions, ctx);
            }
            match state {
                RuntimeState::Running | RuntimeState::Blocked => {
                    if let Some(c) = self.partitions.ctx_mut(ctx) {
                        c.state = RuntimeState::Aborted;
                    }
                }
                RuntimeState::Preempted => {
                    // A partition requester Blocked on it (it was interrupted) learns of it
                    // when the normal world runs that requester; one it yielded back to, when
                    // it runs it (FFA_RUN answers ABORTED).
                    if let Some(requester) = call_chain::requester(&self.partitions, ctx)
                        && let Some(r) = self.partitions.ctx_mut(requester)
                        && r.state == RuntimeState::Blocked
                    {
                        r.state = RuntimeState::Preempted;
                        r.callee_lost = true;
                    }
                    if let Some(c) = self.partitions.ctx_mut(ctx) {
                        c.abort();
                    }
                }
                RuntimeState::Waiting
                | RuntimeState::NotStarted
                | RuntimeState::Off
                | RuntimeState::Aborted => {
                    if let Some(c) = self.partitions.ctx_mut(ctx) {
                        // Keep an unwind pending for a context already Aborted in use.
                        if c.model.is_none() {
                            c.abort();
                        } else {
                            c.state = RuntimeState::Aborted;
                        }
                    }
                }
            }
        }
    }

    /// `dead` (Aborted, in use on `cpu`) will never answer: its requester gets ABORTED, up the
    /// call chain past requesters that are dead too, and the outcome says what runs next.
    pub(crate) fn unwind(&mut self, cpu: CpuId, dead: CtxRef) -> Next {
        let mut dead = dead;
        // A chain holds each partition once, so it ends within MAX_PARTITIONS steps; the
        // bound keeps a corrupted table from looping.
        for _ in 0..=crate::manifest::MAX_PARTITIONS {
            let Some(c) = self.partitions.ctx_mut(dead) else {
                break;
            };
            let (model, request, nwd_saved) = (c.model, c.request, c.nwd_saved);
            c.abort();
            call_chain::release_callees(&mut self.partitions, dead);
            self.set_running(cpu, None);
            let requester = match (model, request) {
                (Some(RuntimeModel::Init), _) => {
                    return self.start_from(cpu, dead.partition.saturating_add(1));
                }
                (Some(RuntimeModel::SecureInterrupt), _) => return self.interrupt_handled(cpu),
                (Some(RuntimeModel::DirectRequest), Some(request)) => request.from,
                _ => Requester::NormalWorld(ffa::EndpointId(0)),
            };
            let Requester::Partition(_, from) = requester else {
                let mut regs = ffa::call::error(FfaError::Aborted);
                regs[8..].copy_from_slice(&nwd_saved);
                return self.answer_spmd(regs);
            };
            let Some(r) = self.partitions.ctx_mut(from) else {
                break;
            };
            match r.state {
                RuntimeState::Blocked => {
                    r.state = RuntimeState::Running;
                    r.cpu = Some(cpu);
                    let mut regs = ffa::call::error(FfaError::Aborted);
                    regs[8..].copy_from_slice(&r.own_saved);
                    self.set_running(cpu, Some(from));
                    return self.enter(from, regs);
                }
                RuntimeState::Aborted if r.model.is_some() => dead = from,
                _ => break,
            }
        }
        // The chain was inconsistent: give the CPU back to the normal world.
        self.set_running(cpu, None);
        self.answer_spmd(ffa::call::error(FfaError::Aborted))
    }
}
