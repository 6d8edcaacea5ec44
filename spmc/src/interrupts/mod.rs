//! Interrupts. This module: what a non-secure interrupt does to the partition it interrupts
//! (FF-A v1.2 §9, the manifest's `ns-interrupts-action`), and each partition's physical
//! interrupts as the GIC should have them ([`PhysicalInterrupt`], [`GicSetting`]).
//! Submodules: [`declared`], the interrupts partitions' manifests declare;
//! [`virtual_state`], each vCPU's pending virtual interrupts; [`paravirt`], Hafnium's
//! HF_INTERRUPT_* calls; [`secure`], the delivery of a partition's physical interrupt.
//!
//! The SPMC owns the physical interrupts while a partition runs (the arch layer routes them to
//! S-EL2), so a partition cannot keep a CPU from the normal world by spinning. A non-secure
//! interrupt stays pending for the normal world; the arch layer reports it with
//! [`Spmc::ns_interrupt`] and this module decides:
//! - a context running for a direct request whose partition asks for managed exit is told by
//!   Hafnium's managed exit virtual interrupt (vFIQ, or vIRQ), resumed with non-secure
//!   interrupts masked, and answers its request (OP-TEE suspends its thread and answers
//!   RETURN_INTERRUPT); the interrupt then reaches the normal world. Its answer withdraws the
//!   managed exit interrupt if still pending.
//! - a context running for a direct request or FFA_RUN whose partition lets non-secure
//!   interrupts in (Signaled, and Managed exit outside a direct request) is Preempted, and the normal world gets FFA_INTERRUPT naming it (w1 = ID << 16 | context
//!   index, as Hafnium sends it and Linux's FF-A driver passes it back to FFA_RUN). FFA_RUN
//!   resumes it where it was, registers untouched ([`Next::Resume`]). Partitions it blocks
//!   stay Blocked: the whole chain is the normal world's to resume (unlike FFA_YIELD, which
//!   hands a callee's cycles back to its requester).
//! - a context that is initialising (no normal world to hand the CPU to), or whose partition
//!   asks for them to be Queued, is resumed at once with non-secure interrupts masked until its
//!   run ends; the interrupt then reaches the normal world.

pub mod declared;
pub mod paravirt;
pub mod secure;
pub mod virtual_state;

use ffa::hafnium::MANAGED_EXIT_INTID;
use ffa::{EndpointId, FfaError, FuncId, TargetInfo};

use crate::call_chain;
use crate::manifest::NsInterruptsAction;
use crate::platform::Platform;
use crate::spmc::{CpuId, Event, Next, Outcome, Spmc};
use crate::vcpu::{RuntimeModel, RuntimeState};
use declared::{DeclaredInterrupt, IntId, SecurityState, Trigger};

/// A partition's physical interrupt at run time: its manifest declaration, as the partition
/// changed it since (HF_INTERRUPT_ENABLE, HF_INTERRUPT_RECONFIGURE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysicalInterrupt {
    /// What the manifest declared.
    pub declared: DeclaredInterrupt,
    /// Its security state now.
    pub security: SecurityState,
    /// The CPU it is routed to (SPIs) or configured on (PPIs); `None`: the boot CPU.
    pub target: Option<CpuId>,
    /// Enabled in the GIC. Every interrupt starts disabled until the partition enables it.
    pub enabled: bool,
}

impl PhysicalInterrupt {
    /// As declared: disabled, routed to the boot CPU.
    pub const fn new(declared: DeclaredInterrupt) -> Self {
        Self {
            declared,
            security: declared.security,
            target: None,
            enabled: false,
        }
    }

    /// The GIC programming for it, with `boot` as the default target.
    pub fn setting(&self, boot: CpuId) -> GicSetting {
        GicSetting {
            intid: self.declared.intid,
            priority: self.declared.priority,
            security: self.security,
            trigger: self.declared.trigger,
            target: self.target.unwrap_or(boot),
            enabled: self.enabled,
        }
    }
}

/// How one physical interrupt is programmed in the GIC ([`Platform::gic_configure`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GicSetting {
    /// The INTID.
    pub intid: IntId,
    /// Its priority.
    pub priority: u8,
    /// Secure Group 1 or Non-secure Group 1.
    pub security: SecurityState,
    /// Edge or level.
    pub trigger: Trigger,
    /// The CPU an SPI is routed to, or whose redistributor holds a PPI.
    pub target: CpuId,
    /// Whether it is enabled.
    pub enabled: bool,
}

impl<P: Platform> Spmc<P> {
    /// The context `ctx` answered its request: a managed exit it was told of is over.
    pub(crate) fn end_managed_exit(&mut self, ctx: crate::vcpu::CtxRef) {
        if let Some(v) = self
            .partitions
            .get_mut(ctx.partition)
            .and_then(|p| p.virtual_interrupts.get_mut(usize::from(ctx.vcpu)))
        {
            v.withdraw(MANAGED_EXIT_INTID);
        }
    }

    /// A non-secure interrupt ended the run of the context on `cpu`; what runs next on `cpu`.
    /// With no context running on `cpu`, nothing changes and the answer is
    /// `ToSpmd(FFA_ERROR(DENIED))`, as for a call no one could have made.
    pub fn ns_interrupt(&mut self, cpu: CpuId) -> Outcome {
        self.outcome(cpu, Event::NsInterrupt)
    }

    pub(crate) fn ns_interrupt_next(&mut self, cpu: CpuId) -> Next {
        let from = self.running_ctx(cpu);
        let next = self.ns_interrupt_event(cpu);
        self.after_outcome(cpu, from, next);
        next
    }

    fn ns_interrupt_event(&mut self, cpu: CpuId) -> Next {
        let Some(ctx) = self.cpu_index(cpu).and_then(|i| self.running.get(i)?.get()) else {
            return self.answer_spmd(ffa::call::error(FfaError::Denied));
        };
        let Some(c) = self.partitions.ctx(ctx) else {
            return self.answer_spmd(ffa::call::error(FfaError::Denied));
        };
        match c.state {
            RuntimeState::Running => {}
            // Aborted from another CPU while it ran: its requester learns now.
            RuntimeState::Aborted => return self.unwind(cpu, ctx),
            _ => return self.answer_spmd(ffa::call::error(FfaError::Denied)),
        }
        let id = self.partitions.id_of(ctx).unwrap_or(EndpointId::SPMD);
        let action = self
            .partitions
            .get(ctx.partition)
            .map_or(NsInterruptsAction::Signaled, |p| p.config.ns_interrupts);
        if matches!(action, NsInterruptsAction::ManagedExit { .. })
            && c.model == Some(RuntimeModel::DirectRequest)
        {
            // Told by its managed exit interrupt, it answers its request; the normal world's
            // interrupt waits until then.
            if let Some(v) = self
                .partitions
                .get_mut(ctx.partition)
                .and_then(|p| p.virtual_interrupts.get_mut(usize::from(ctx.vcpu)))
            {
                v.inject(MANAGED_EXIT_INTID);
            }
            return Next::Resume {
                partition: id,
                vcpu: ctx.vcpu,
                mask_ns_interrupts: true,
            };
        }
        let queued = action == NsInterruptsAction::Queued;
        if queued
            || !matches!(
                c.model,
                Some(RuntimeModel::DirectRequest | RuntimeModel::Run)
            )
        {
            return Next::Resume {
                partition: id,
                vcpu: ctx.vcpu,
                mask_ns_interrupts: true,
            };
        }
        let root = call_chain::root(&self.partitions, ctx);
        let nwd_saved = self.partitions.ctx(root).map_or([0; 10], |r| r.nwd_saved);
        if let Some(c) = self.partitions.ctx_mut(ctx) {
            c.state = RuntimeState::Preempted;
            c.interrupted = true;
        }
        self.set_running(cpu, None);
        let mut regs = [0; 18];
        regs[0] = u64::from(u32::from(FuncId::Interrupt32));
        regs[1] = u64::from(u32::from(TargetInfo {
            endpoint_id: id.0,
            vcpu_id: ctx.vcpu,
        }));
        regs[8..].copy_from_slice(&nwd_saved);
        self.answer_spmd(regs)
    }
}
