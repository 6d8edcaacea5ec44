//! Interrupts. This module: what a non-secure interrupt does to the partition it interrupts
//! (FF-A v1.2 §9, the manifest's `ns-interrupts-action`). Submodules: [`declared`], the
//! interrupts partitions' manifests declare.
//!
//! The SPMC owns the physical interrupts while a partition runs (the arch layer routes them to
//! S-EL2), so a partition cannot keep a CPU from the normal world by spinning. A non-secure
//! interrupt stays pending for the normal world; the arch layer reports it with
//! [`Spmc::ns_interrupt`] and this module decides:
//! - a context running for a direct request or FFA_RUN whose partition lets non-secure
//!   interrupts in (Signaled, and Managed exit, which this SPMC treats the same way) is
//!   Preempted, and the normal world gets FFA_INTERRUPT naming it (w1 = ID << 16 | context
//!   index, as Hafnium sends it and Linux's FF-A driver passes it back to FFA_RUN). FFA_RUN
//!   resumes it where it was, registers untouched ([`Outcome::Resume`]). Partitions it blocks
//!   stay Blocked, as for FFA_YIELD.
//! - a context that is initialising (no normal world to hand the CPU to), or whose partition
//!   asks for them to be Queued, is resumed at once with non-secure interrupts masked until its
//!   run ends; the interrupt then reaches the normal world.

pub mod declared;

use ffa::{EndpointId, FfaError, FuncId, TargetInfo};

use crate::call_chain;
use crate::manifest::NsInterruptsAction;
use crate::platform::Platform;
use crate::spmc::{CpuId, Outcome, Spmc};
use crate::vcpu::{RuntimeModel, RuntimeState};

impl<P: Platform> Spmc<P> {
    /// A non-secure interrupt ended the run of the context on `cpu`; what runs next on `cpu`.
    /// With no context running on `cpu`, nothing changes and the answer is
    /// `ToSpmd(FFA_ERROR(DENIED))`, as for a call no one could have made.
    pub fn ns_interrupt(&mut self, cpu: CpuId) -> Outcome {
        let Some(ctx) = self
            .cpu_index(cpu)
            .and_then(|i| self.running.get(i).copied().flatten())
        else {
            return Outcome::ToSpmd(ffa::call::error(FfaError::Denied));
        };
        let Some(c) = self.partitions.ctx(ctx) else {
            return Outcome::ToSpmd(ffa::call::error(FfaError::Denied));
        };
        match c.state {
            RuntimeState::Running => {}
            // Aborted from another CPU while it ran: its requester learns now.
            RuntimeState::Aborted => return self.unwind(cpu, ctx),
            _ => return Outcome::ToSpmd(ffa::call::error(FfaError::Denied)),
        }
        let id = self.partitions.id_of(ctx).unwrap_or(EndpointId::SPMD);
        let queued = self
            .partitions
            .get(ctx.partition)
            .is_some_and(|p| p.config.ns_interrupts == NsInterruptsAction::Queued);
        if queued
            || !matches!(
                c.model,
                Some(RuntimeModel::DirectRequest | RuntimeModel::Run)
            )
        {
            return Outcome::Resume {
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
        Outcome::ToSpmd(regs)
    }
}
