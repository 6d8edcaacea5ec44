//! The delivery of a partition's physical (secure) interrupt, as Hafnium does it.
//!
//! The SPMC acknowledges the interrupt and ends it at once (priority drop and deactivation:
//! the partition's HF_INTERRUPT_DEACTIVATE has nothing left to do), then makes it pending,
//! as the same INTID, for its owner's context for this CPU (an MP partition's context of
//! this CPU, a UP partition's only one). Then:
//! - the owner's context is the one running here: it is resumed with the virtual line up;
//! - it is Waiting with the interrupt enabled (HF_INTERRUPT_ENABLE), and the CPU is free to hand it (the normal world had it, or a context in
//!   a direct request or FFA_RUN was running, which becomes Preempted): it runs in the
//!   secure-interrupt runtime model with FFA_INTERRUPT (w2 = INTID) and the line up. Its
//!   FFA_MSG_WAIT ends the handling: the preempted context resumes untouched, or the SPMD
//!   gets FFA_NORMAL_WORLD_RESUME (it entered the SPMC with FFA_INTERRUPT for a secure
//!   interrupt that fired while the normal world ran: TF-A's `spmd_secure_interrupt_handler`);
//! - otherwise the interrupt stays pending (queued) for the owner's next run, and what ran
//!   goes on. So does a spurious acknowledgement or an interrupt no partition owns.
//!
//! A context handling a secure interrupt may not send or answer direct requests, yield or
//! run another (DENIED); a non-secure interrupt does not preempt it.

use ffa::{FuncId, Regs};

use crate::interrupts::virtual_state::VirtualLines;
use crate::platform::Platform;
use crate::spmc::{CpuId, Event, Next, Outcome, Spmc};
use crate::vcpu::{CtxRef, RuntimeModel, RuntimeState};

/// What a CPU goes back to when the secure interrupt its partition handles is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterruptReturn {
    /// The SPMD, with FFA_NORMAL_WORLD_RESUME.
    NormalWorld,
    /// This context, which the interrupt preempted: resumed untouched.
    Context(CtxRef),
}

impl<P: Platform> Spmc<P> {
    /// A physical interrupt ended the run of the context on `cpu` (it is pending at this CPU's
    /// GIC CPU interface, not yet acknowledged): what runs next on `cpu`.
    pub fn physical_interrupt(&mut self, cpu: CpuId) -> Outcome {
        self.outcome(cpu, Event::PhysicalInterrupt)
    }

    pub(crate) fn physical_interrupt_next(&mut self, cpu: CpuId) -> Next {
        let from = self.running_ctx(cpu);
        let next = self.physical_interrupt_event(cpu);
        self.after_outcome(cpu, from, next);
        next
    }

    fn physical_interrupt_event(&mut self, cpu: CpuId) -> Next {
        let Some(current) = self.cpu_index(cpu).and_then(|i| self.running.get(i)?.get()) else {
            return self.answer_spmd(ffa::call::error(ffa::FfaError::Denied));
        };
        let resume = |s: &Self| Next::Resume {
            partition: s.partitions.id_of(current).unwrap_or(ffa::EndpointId::SPMD),
            vcpu: current.vcpu,
            mask_ns_interrupts: false,
        };
        let Some(target) = self.take_physical(cpu) else {
            return resume(self);
        };
        let current_model = self.partitions.ctx(current).and_then(|c| c.model);
        let free = matches!(
            current_model,
            Some(RuntimeModel::DirectRequest | RuntimeModel::Run)
        ) && self.interrupt_return(cpu).is_none();
        if target == current || !free || !self.ready(target) {
            return resume(self);
        }
        if let Some(c) = self.partitions.ctx_mut(current) {
            c.state = RuntimeState::Preempted;
            c.interrupted = true;
        }
        self.run_for_interrupt(cpu, target, InterruptReturn::Context(current))
    }

    /// FFA_INTERRUPT from the SPMD: a secure interrupt fired while the normal world ran.
    pub(crate) fn spmd_interrupt(&mut self, cpu: CpuId) -> Next {
        match self.take_physical(cpu) {
            Some(target) if self.ready(target) && self.interrupt_return(cpu).is_none() => {
                self.run_for_interrupt(cpu, target, InterruptReturn::NormalWorld)
            }
            _ => self.answer_spmd(normal_world_resume()),
        }
    }

    /// The context handling a secure interrupt on `cpu` called FFA_MSG_WAIT (it is Waiting
    /// again, nothing runs on `cpu`) or was aborted: what it interrupted goes on.
    pub(crate) fn interrupt_handled(&mut self, cpu: CpuId) -> Next {
        let back = self
            .cpu_index(cpu)
            .and_then(|i| self.interrupt_returns.get_mut(i))
            .and_then(Option::take);
        match back {
            Some(InterruptReturn::Context(ctx))
                if self
                    .partitions
                    .ctx(ctx)
                    .is_some_and(|c| c.state == RuntimeState::Preempted) =>
            {
                if let Some(c) = self.partitions.ctx_mut(ctx) {
                    c.state = RuntimeState::Running;
                    c.interrupted = false;
                    c.cpu = Some(cpu);
                }
                self.set_running(cpu, Some(ctx));
                Next::Resume {
                    partition: self.partitions.id_of(ctx).unwrap_or(ffa::EndpointId::SPMD),
                    vcpu: ctx.vcpu,
                    mask_ns_interrupts: false,
                }
            }
            // Aborted meanwhile (from another CPU): its requester learns now.
            Some(InterruptReturn::Context(ctx)) => self.unwind(cpu, ctx),
            Some(InterruptReturn::NormalWorld) | None => self.answer_spmd(normal_world_resume()),
        }
    }

    /// The virtual interrupt lines of a partition's context, for the arch layer to assert
    /// (HCR_EL2.VI, VF) when it enters it.
    pub fn virtual_lines(&self, partition: ffa::EndpointId, vcpu: u16) -> VirtualLines {
        self.partitions
            .find(partition)
            .and_then(|i| self.partitions.get(i))
            .and_then(|p| p.virtual_interrupts.get(usize::from(vcpu)))
            .map(|v| v.lines())
            .unwrap_or_default()
    }

    /// The virtual interrupt lines of the context running on `cpu` (see
    /// [`Spmc::virtual_lines`]).
    pub fn running_lines(&self, cpu: CpuId) -> VirtualLines {
        self.running_ctx(cpu)
            .and_then(|ctx| {
                let p = self.partitions.get(ctx.partition)?;
                p.virtual_interrupts.get(usize::from(ctx.vcpu))
            })
            .map(|v| v.lines())
            .unwrap_or_default()
    }

    /// Programs every partition's declared interrupts at cold boot on `boot`: configured,
    /// routed to `boot`, disabled until the partition enables them.
    pub(crate) fn configure_interrupts(&mut self, boot: CpuId) {
        for index in 0..self.partitions.len() {
            let Some(p) = self.partitions.get(index) else {
                break;
            };
            for physical in p.interrupts.clone() {
                self.platform.gic_configure(&physical.setting(boot));
            }
        }
    }

    /// Acknowledges and ends the pending interrupt and makes it pending for its owner's
    /// context for `cpu`: that context, or `None` (spurious, not a partition's, aborted
    /// owner).
    fn take_physical(&mut self, cpu: CpuId) -> Option<CtxRef> {
        let intid = self.platform.gic_acknowledge()?;
        self.platform.gic_end(intid);
        let index = (0..self.partitions.len()).find(|i| {
            self.partitions
                .get(*i)
                .is_some_and(|p| p.interrupts.iter().any(|d| d.declared.intid.get() == intid))
        })?;
        let p = self.partitions.get_mut(index)?;
        if p.is_aborted() {
            return None;
        }
        let vcpu = p.context_for(cpu)?;
        p.virtual_interrupts
            .get_mut(usize::from(vcpu))?
            .inject(intid);
        Some(CtxRef {
            partition: index,
            vcpu,
        })
    }

    /// Whether `ctx` is Waiting with an interrupt it enabled pending: worth running now.
    fn ready(&self, ctx: CtxRef) -> bool {
        let waiting = self
            .partitions
            .ctx(ctx)
            .is_some_and(|c| c.state == RuntimeState::Waiting);
        waiting
            && self
                .partitions
                .get(ctx.partition)
                .and_then(|p| p.virtual_interrupts.get(usize::from(ctx.vcpu)))
                .and_then(|v| v.peek())
                .is_some()
    }

    fn interrupt_return(&self, cpu: CpuId) -> Option<InterruptReturn> {
        self.cpu_index(cpu)
            .and_then(|i| self.interrupt_returns.get(i).copied().flatten())
    }

    /// Runs the Waiting context `target` on `cpu` for its pending interrupt.
    fn run_for_interrupt(&mut self, cpu: CpuId, target: CtxRef, back: InterruptReturn) -> Next {
        let intid = self
            .partitions
            .get(target.partition)
            .and_then(|p| p.virtual_interrupts.get(usize::from(target.vcpu)))
            .and_then(|v| v.peek())
            .unwrap_or(ffa::hafnium::INVALID_INTID);
        let Some(c) = self.partitions.ctx_mut(target) else {
            return self.answer_spmd(normal_world_resume());
        };
        c.run(cpu, RuntimeModel::SecureInterrupt);
        let own = c.own_saved;
        if let Some(slot) = self
            .cpu_index(cpu)
            .and_then(|i| self.interrupt_returns.get_mut(i))
        {
            *slot = Some(back);
        }
        self.set_running(cpu, Some(target));
        let mut regs = [0; 18];
        regs[0] = u64::from(u32::from(FuncId::Interrupt32));
        regs[2] = u64::from(intid);
        regs[8..].copy_from_slice(&own);
        self.enter(target, regs)
    }
}

/// FFA_NORMAL_WORLD_RESUME: the SPMD returns to the normal world where the interrupt took it.
fn normal_world_resume() -> Regs {
    let mut regs = [0; 18];
    regs[0] = u64::from(u32::from(FuncId::NormalWorldResume32));
    regs
}
