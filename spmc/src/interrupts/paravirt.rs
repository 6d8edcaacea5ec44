//! Hafnium's paravirtual interrupt calls, as partitions built for Hafnium make them (OP-TEE's
//! `hfic` driver): x0 = call ID, x1..x3 arguments, the answer in x0 alone (0, -1, or an
//! INTID), the other registers given back as they were.
//!
//! - HF_INTERRUPT_ENABLE(intid, enable, type): for an interrupt the partition's manifest
//!   declares, enables or disables it in the GIC (programmed whole, [`GicSetting`]) and, for
//!   the calling vCPU, as a virtual interrupt signalled as vIRQ or vFIQ. Hafnium's maintenance
//!   INTIDs (virtual timer 3, managed exit 4, notification pending 5, IPI 9) have no physical
//!   side: only the vCPU's state changes. Anything else: -1.
//! - HF_INTERRUPT_GET: the calling vCPU's oldest pending, enabled virtual interrupt, taken (no
//!   longer pending; its line drops), or HF_INVALID_INTID.
//! - HF_INTERRUPT_DEACTIVATE(physical, virtual): 0 for a declared or maintenance INTID given
//!   twice, else -1. The SPMC ended the physical interrupt when it took it (as Hafnium does),
//!   so there is nothing left to deactivate.
//! - HF_INTERRUPT_RECONFIGURE(intid, command, value): for a declared interrupt, route it to CPU
//!   `value` (a UP partition only to the CPU it runs on), make it secure or non-secure, or
//!   enable or disable it; the GIC is reprogrammed. Anything else: -1.
//! - HF_INTERRUPT_SEND_IPI and malformed arguments: -1.
//!
//! [`GicSetting`]: super::GicSetting

use ffa::hafnium::{self, HfRequest, InterruptType, Reconfigure};

use super::declared::SecurityState;
use crate::platform::Platform;
use crate::spmc::{Call, CpuId, Next, Spmc};
use crate::vcpu::CtxRef;

/// Hafnium's maintenance INTIDs: virtual only, no manifest declaration needed.
const MAINTENANCE: [u32; 4] = [
    hafnium::VIRTUAL_TIMER_INTID,
    hafnium::MANAGED_EXIT_INTID,
    hafnium::NOTIFICATION_PENDING_INTID,
    hafnium::IPI_INTID,
];

impl<P: Platform> Spmc<P> {
    /// A Hafnium call from the partition context `ctx`: `request` as `ffa::hafnium::decode`
    /// checked it.
    pub(crate) fn hafnium_call(
        &mut self,
        call: &Call,
        ctx: CtxRef,
        request: Result<HfRequest, hafnium::BadArguments>,
    ) -> Next {
        let x0 = match request {
            Err(_) => hafnium::FAILURE,
            Ok(HfRequest::InterruptEnable {
                intid,
                enable,
                kind,
            }) => status(self.interrupt_enable(ctx, intid, enable, kind)),
            Ok(HfRequest::InterruptGet) => u64::from(
                self.partitions
                    .get_mut(ctx.partition)
                    .and_then(|p| p.virtual_interrupts.get_mut(usize::from(ctx.vcpu)))
                    .and_then(|v| v.take())
                    .unwrap_or(hafnium::INVALID_INTID),
            ),
            Ok(HfRequest::InterruptDeactivate {
                physical,
                virtual_id,
            }) => status(physical == virtual_id && self.owns(ctx, physical)),
            Ok(HfRequest::InterruptReconfigure { intid, change }) => {
                status(self.interrupt_reconfigure(call.cpu, ctx, intid, change))
            }
            Ok(HfRequest::InterruptSendIpi { .. }) => hafnium::FAILURE,
        };
        let mut regs = *call.regs;
        regs[0] = x0;
        self.enter(ctx, regs)
    }

    /// Whether the partition of `ctx` declares `intid`, or it is a maintenance INTID.
    fn owns(&self, ctx: CtxRef, intid: u32) -> bool {
        MAINTENANCE.contains(&intid)
            || self
                .partitions
                .get(ctx.partition)
                .is_some_and(|p| p.interrupts.iter().any(|i| i.declared.intid.get() == intid))
    }

    fn interrupt_enable(
        &mut self,
        ctx: CtxRef,
        intid: u32,
        enable: bool,
        kind: InterruptType,
    ) -> bool {
        let boot = self.boot_cpu.unwrap_or(CpuId(0));
        let Some(p) = self.partitions.get_mut(ctx.partition) else {
            return false;
        };
        if !MAINTENANCE.contains(&intid) {
            let Some(physical) = p
                .interrupts
                .iter_mut()
                .find(|i| i.declared.intid.get() == intid)
            else {
                return false;
            };
            physical.enabled = enable;
            let setting = physical.setting(boot);
            self.platform.gic_configure(&setting);
        }
        let Some(p) = self.partitions.get_mut(ctx.partition) else {
            return false;
        };
        p.virtual_interrupts
            .get_mut(usize::from(ctx.vcpu))
            .is_some_and(|v| v.set_enabled(intid, enable, kind))
    }

    fn interrupt_reconfigure(
        &mut self,
        cpu: CpuId,
        ctx: CtxRef,
        intid: u32,
        change: Reconfigure,
    ) -> bool {
        let boot = self.boot_cpu.unwrap_or(CpuId(0));
        let cpu_count = self.cpu_count;
        let Some(p) = self.partitions.get_mut(ctx.partition) else {
            return false;
        };
        let up = !p.is_mp();
        let Some(physical) = p
            .interrupts
            .iter_mut()
            .find(|i| i.declared.intid.get() == intid)
        else {
            return false;
        };
        match change {
            Reconfigure::TargetPe(index) => {
                let Ok(target) = u16::try_from(index) else {
                    return false;
                };
                // A UP partition runs wherever the normal world calls it: only "here".
                if target >= cpu_count || (up && target != cpu.0) {
                    return false;
                }
                physical.target = Some(CpuId(target));
            }
            Reconfigure::Secure(secure) => {
                physical.security = if secure {
                    SecurityState::Secure
                } else {
                    SecurityState::NonSecure
                };
            }
            Reconfigure::Enable(enable) => physical.enabled = enable,
        }
        let setting = physical.setting(boot);
        self.platform.gic_configure(&setting);
        true
    }
}

fn status(ok: bool) -> u64 {
    if ok {
        hafnium::SUCCESS
    } else {
        hafnium::FAILURE
    }
}
