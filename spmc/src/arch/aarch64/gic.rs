//! The GICv3 of QEMU virt for partitions' interrupts, through arm-gic: programming a declared
//! interrupt (group, priority, trigger, routing, enable) and taking a Secure Group 1 interrupt
//! at S-EL2 (acknowledge, end). TF-A initialised the GIC (affinity routing, groups enabled);
//! the SPMC only changes the interrupts partitions declare.
//!
//! Redistributors are in core order: CPU index n of the SPMC's CPU map is redistributor n, as
//! on QEMU virt with the default (Aff0-ordered) map.

use core::ptr::NonNull;

use arm_gic::gicv3::registers::{Gicd, GicrSgi};
use arm_gic::gicv3::{GicCpuInterface, GicV3, Group, SecureIntGroup, SgiTarget, SgiTargetGroup};
use arm_gic::{IntId, InterruptGroup, Trigger, UniqueMmioPointer};

use crate::cpu_map::Affinity;
use crate::interrupts::GicSetting;
use crate::interrupts::declared::{SecurityState, Trigger as DeclaredTrigger};
use crate::memory_map::qemu_virt::{GICD_BASE, GICR_BASE};
use crate::partition::MAX_CPUS;

/// arm-gic's ID for a raw INTID below 1020, or `None`.
fn gic_id(raw: u32) -> Option<IntId> {
    match raw {
        0..16 => Some(IntId::sgi(raw)),
        16..32 => Some(IntId::ppi(raw - 16)),
        32..1020 => Some(IntId::spi(raw - 32)),
        _ => None,
    }
}

/// Runs `f` with a driver over the GIC. Callers hold the core's lock (the platform is inside
/// it), so no two drivers exist at once.
fn with_gic<R>(f: impl FnOnce(&mut GicV3<'_>) -> R) -> Option<R> {
    // SAFETY: GICD_BASE is the distributor's register block, mapped as device memory by the
    // stage-1 map (`mmu::build_stage1`); the callers' lock makes this the only pointer to it
    // while it lives.
    let gicd = unsafe { UniqueMmioPointer::new(NonNull::new(GICD_BASE as *mut Gicd)?) };
    let gicr = NonNull::new(GICR_BASE as *mut GicrSgi)?;
    // SAFETY: GICR_BASE starts the redistributors, MAX_CPUS of them mapped as device memory by
    // the stage-1 map; as for the distributor, no other driver exists meanwhile.
    let mut gic = unsafe { GicV3::new(gicd, gicr, MAX_CPUS) }.ok()?;
    Some(f(&mut gic))
}

/// Programs one interrupt as `setting` says; disabled while it changes. `mpidr` is the
/// affinity of the target CPU (SPIs are routed to it).
pub fn configure(setting: &GicSetting, mpidr: u64) {
    let Some(intid) = gic_id(setting.intid.get()) else {
        return;
    };
    let cpu = Some(usize::from(setting.target.0));
    let group = match setting.security {
        SecurityState::Secure => Group::Secure(SecureIntGroup::Group1S),
        SecurityState::NonSecure => Group::Group1NS,
    };
    let trigger = match setting.trigger {
        DeclaredTrigger::Edge => Trigger::Edge,
        DeclaredTrigger::Level => Trigger::Level,
    };
    let _ = with_gic(|gic| {
        gic.enable_interrupt(intid, cpu, false)?;
        gic.set_group(intid, cpu, group)?;
        gic.set_interrupt_priority(intid, cpu, setting.priority)?;
        gic.set_trigger(intid, cpu, trigger)?;
        if !setting.intid.is_private() {
            gic.distributor().set_routing(intid, Some(mpidr))?;
        }
        gic.enable_interrupt(intid, cpu, setting.enabled)
    });
}

/// Acknowledges this CPU's highest-priority pending Secure Group 1 interrupt.
pub fn acknowledge() -> Option<u32> {
    GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1).map(u32::from)
}

/// Ends (drops the priority of and deactivates) an acknowledged Group 1 interrupt.
pub fn end(intid: u32) {
    if let Some(id) = gic_id(intid) {
        GicCpuInterface::end_interrupt(id, InterruptGroup::Group1);
    }
}

/// Pends the Non-secure Group 1 SGI `intid` on the core with affinity `core`
/// (ICC_ASGI1R_EL1 from Secure state: the other security state's Group 1). The core made the
/// SGI Non-secure Group 1 on every core at its boot (TF-A's QEMU port claims SGIs 8..15 as
/// Secure, and the GIC drops an SGI of the wrong group). Cores whose Aff0 is past the 16-entry
/// target list are not reached (no range selector; QEMU virt has none).
pub fn send_ns_sgi(intid: u32, core: Affinity) {
    if intid >= 16 || core.aff0 >= 16 {
        return;
    }
    let target = SgiTarget::List {
        affinity3: core.aff3,
        affinity2: core.aff2,
        affinity1: core.aff1,
        target_list: 1 << core.aff0,
    };
    let _ = GicCpuInterface::send_sgi(IntId::sgi(intid), target, SgiTargetGroup::OtherGroup1);
}
