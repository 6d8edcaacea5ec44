//! What a partition may touch without the SPMC: every EL2 trap and routing control the SPMC
//! sets, in one place, with named fields.
//!
//! - HCR_EL2 while a partition runs: stage 2 on (VM); physical IRQ, FIQ and SError taken to
//!   S-EL2 (IMO, FMO, AMO), which also gives EL1 the virtual GIC CPU interface, so its
//!   ICC_PMR_EL1 is not the physical one and its SGI writes trap; WFI and WFE trapped (TWI,
//!   TWE) and completed at once, as a partition may not idle a CPU the normal world lent it;
//!   SMCs trapped (TSC); ACTLR_EL1 (TACR) and IMPLEMENTATION DEFINED registers (TIDCP)
//!   trapped; a stage-1 walk that reaches Device memory faults (PTW); RAS error records
//!   trapped where RAS exists (TERR), LORegions where they exist (TLOR); TLB maintenance and
//!   barriers broadcast inner shareable (FB, BSU: a UP context migrates between cores);
//!   set/way invalidation cleans too (SWIO).
//!   While the SPMC runs, only RW (lower levels are AArch64).
//! - ICC_SRE_EL2: the system-register GIC interface for S-EL2 (SRE), EL1's ICC_SRE_EL1
//!   trapped (Enable clear: TF-A leaves it set; QEMU fixes it at 1, and SRE with it).
//!   QEMU does not give Secure EL1 the virtual CPU interface either: there a partition's
//!   ICC_PMR_EL1 write reaches the physical mask, which the SPMC puts back after each run
//!   (`super::run`).
//! - MDCR_EL2: the PMU (TPM, TPMCR) and debug registers (TDA, TDOSA, TDRA) trapped, and
//!   where the CPU has them trace filter controls (TTRF) and statistical profiling (TPMS,
//!   E2PB = 0: its buffer controls trap too), as Hafnium traps them.
//! - CPTR_EL2 (HCR_EL2.E2H is never set: the nVHE layout): trace (TTA), activity monitors
//!   (TAM) and SME (TSM) trapped. FP/SIMD (TFP) and SVE (TZ) are trapped too, at EL2 as well:
//!   the SPMC is soft-float, and a partition gets FP/SIMD untrapped only while its context
//!   owns the core's live registers (`super::fp`, switched at its first trapped access); SVE
//!   never. The SPMC opens both only around its own saves and loads. A change of exception
//!   level cuts the Z and P registers to the new level's vector length only if FP/SIMD is
//!   enabled at the level left (the Arm ARM's MaybeZeroSVEUppers; QEMU, on exception returns
//!   too, only if at both levels): so the normal world's SVE state survives S-EL2 and any
//!   partition that does not take the registers. EL3 keeps S-EL2's CPTR_EL2 across its world
//!   switches (the SPMD's EL2 context), so the value the SPMC leaves is the one it is entered
//!   with, and the normal world runs with its own.
//! - CNTHCTL_EL2: EL1 may use the physical counter and timer; the world switch saves both
//!   EL1 timers (`vcpu::El1Regs`).
//!
//! A trapped system-register access is answered as Hafnium answers most: an Unknown-reason
//! exception injected at the partition's own vector (`crate::exception::inject`).

use aarch64_cpu::registers::{
    CNTHCTL_EL2, CPTR_EL2, HCR_EL2, ID_AA64DFR0_EL1, ID_AA64MMFR1_EL1, ID_AA64PFR0_EL1, MDCR_EL2,
    ReadWriteable, Readable, Writeable,
};
use arm_gic::gicv3::GicCpuInterface;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tock_registers::fields::FieldValue;
use tock_registers::{LocalRegisterCopy, register_bitfields};

register_bitfields! {u64,
    /// CPTR_EL2 with HCR_EL2.E2H clear (aarch64-cpu names TAM only).
    Cptr [
        TAM OFFSET(30) NUMBITS(1) [],
        TTA OFFSET(20) NUMBITS(1) [],
        RES1_13 OFFSET(13) NUMBITS(1) [],
        TSM OFFSET(12) NUMBITS(1) [],
        TFP OFFSET(10) NUMBITS(1) [],
        RES1_9 OFFSET(9) NUMBITS(1) [],
        TZ OFFSET(8) NUMBITS(1) [],
        RES1_7_0 OFFSET(0) NUMBITS(8) [],
    ],
    /// ID_AA64PFR0_EL1 fields, read as one copy.
    Pfr0 [
        RAS OFFSET(28) NUMBITS(4) [],
        SVE OFFSET(32) NUMBITS(4) [],
    ]
}

/// HCR_EL2 while a partition runs, as [`init`] found it for this CPU (the same on every core).
static PARTITION_HCR: AtomicU64 = AtomicU64::new(0);

/// HCR_EL2 while a partition runs.
fn partition_hcr() -> FieldValue<u64, HCR_EL2::Register> {
    let base = HCR_EL2::VM::Enable
        + HCR_EL2::IMO::EnableVirtualIRQ
        + HCR_EL2::FMO::EnableVirtualFIQ
        + HCR_EL2::AMO::SET
        + HCR_EL2::TWI::SET
        + HCR_EL2::TWE::SET
        + HCR_EL2::SWIO::SET
        + HCR_EL2::PTW::SET
        + HCR_EL2::FB::SET
        + HCR_EL2::BSU::InnerShareable
        + HCR_EL2::TSC::EnableTrapEl1SmcToEl2
        + HCR_EL2::TIDCP::SET
        + HCR_EL2::TACR::SET
        + HCR_EL2::RW::EL1IsAarch64;
    let pfr0: LocalRegisterCopy<u64, Pfr0::Register> =
        LocalRegisterCopy::new(ID_AA64PFR0_EL1.get());
    // TERR is RES0 without RAS, TLOR without LORegions.
    let ras = if pfr0.read(Pfr0::RAS) != 0 {
        HCR_EL2::TERR::SET
    } else {
        HCR_EL2::TERR::CLEAR
    };
    let lor = if ID_AA64MMFR1_EL1.read(ID_AA64MMFR1_EL1::LO) != 0 {
        HCR_EL2::TLOR::SET
    } else {
        HCR_EL2::TLOR::CLEAR
    };
    base + ras + lor
}

/// Sets this core's EL2 traps and controls for the SPMC (at every cold and warm boot).
pub fn init() {
    let pfr0: LocalRegisterCopy<u64, Pfr0::Register> =
        LocalRegisterCopy::new(ID_AA64PFR0_EL1.get());
    SVE.store(pfr0.read(Pfr0::SVE) != 0, Ordering::Relaxed);
    CPTR_EL2.set(cptr(Fp::Trapped).value);
    // HPMN (the counters EL1 may own) stays as EL3 left it: TPM traps them all anyway.
    let debug = MDCR_EL2::TPM::SET
        + MDCR_EL2::TPMCR::SET
        + MDCR_EL2::TDA::SET
        + MDCR_EL2::TDOSA::SET
        + MDCR_EL2::TDRA::SET;
    let dfr0 = ID_AA64DFR0_EL1.extract();
    // Each is RES0 where the CPU lacks the feature.
    let trace = if dfr0.read(ID_AA64DFR0_EL1::TraceFilt) != 0 {
        MDCR_EL2::TTRF::SET
    } else {
        MDCR_EL2::TTRF::CLEAR
    };
    let profiling = if dfr0.read(ID_AA64DFR0_EL1::PMSVer) != 0 {
        MDCR_EL2::TPMS::SET + MDCR_EL2::E2PB::OwnedByEL2OrEL1
    } else {
        MDCR_EL2::TPMS::CLEAR
    };
    MDCR_EL2.modify(debug + trace + profiling);
    CNTHCTL_EL2.write(CNTHCTL_EL2::EL1PCEN::SET + CNTHCTL_EL2::EL1PCTEN::SET);
    GicCpuInterface::enable_system_register_el2(false);
    PARTITION_HCR.store(partition_hcr().value, Ordering::Relaxed);
    enter_spmc(false);
}

/// Whether the CPU has SVE (the same on every core).
static SVE: AtomicBool = AtomicBool::new(false);

/// Whether the CPU has SVE.
pub fn has_sve() -> bool {
    SVE.load(Ordering::Relaxed)
}

/// Who may use FP/SIMD and SVE below (and at) EL2.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fp {
    /// No one: the SPMC, and partitions whose context does not own the registers.
    Trapped,
    /// A partition whose context owns the FP/SIMD registers; SVE stays trapped.
    Partition,
    /// The SPMC, while it saves or loads FP/SIMD and SVE state.
    Spmc,
}

/// CPTR_EL2 for `fp` (without SVE, TZ is RES1).
fn cptr(fp: Fp) -> FieldValue<u64, Cptr::Register> {
    let simd = if fp == Fp::Trapped {
        Cptr::TFP::SET
    } else {
        Cptr::TFP::CLEAR
    };
    let sve = if fp == Fp::Spmc && has_sve() {
        Cptr::TZ::CLEAR
    } else {
        Cptr::TZ::SET
    };
    Cptr::TAM::SET
        + Cptr::TTA::SET
        + Cptr::RES1_13::SET
        + Cptr::TSM::SET
        + simd
        + Cptr::RES1_9::SET
        + sve
        + Cptr::RES1_7_0.val(0xff)
}

/// Lets the SPMC use FP/SIMD and SVE (`open`) to switch their state, or traps them again.
pub fn spmc_fp_access(open: bool) {
    if open {
        CPTR_EL2.set(cptr(Fp::Spmc).value);
        aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    } else {
        // No ISB: no FP/SIMD instruction follows, and the next ERET or SMC synchronizes.
        CPTR_EL2.set(cptr(Fp::Trapped).value);
    }
}

/// HCR_EL2 (computed once, it is on every world switch) for running a partition, with its
/// virtual IRQ and FIQ lines asserted as the core says (VI, VF: the pending interrupts it
/// enabled, `crate::interrupts::virtual_state`), and FP/SIMD untrapped if its context owns
/// the registers (`owns_fp`).
pub fn enter_partition(virtual_irq: bool, virtual_fiq: bool, owns_fp: bool) {
    let mut hcr: LocalRegisterCopy<u64, HCR_EL2::Register> =
        LocalRegisterCopy::new(PARTITION_HCR.load(Ordering::Relaxed));
    hcr.modify(if virtual_irq {
        HCR_EL2::VI::SET
    } else {
        HCR_EL2::VI::CLEAR
    });
    hcr.modify(if virtual_fiq {
        HCR_EL2::VF::SET
    } else {
        HCR_EL2::VF::CLEAR
    });
    HCR_EL2.set(hcr.get());
    if owns_fp {
        CPTR_EL2.set(cptr(Fp::Partition).value);
    }
}

/// HCR_EL2 while the SPMC itself runs, and FP/SIMD trapped again if the partition that just
/// ran had it (`owned_fp`).
pub fn enter_spmc(owned_fp: bool) {
    HCR_EL2.write(HCR_EL2::RW::EL1IsAarch64);
    if owned_fp {
        CPTR_EL2.set(cptr(Fp::Trapped).value);
    }
}
