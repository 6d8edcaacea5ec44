//! FP/SIMD state, switched lazily by `crate::fp_owner`'s rules: partitions run with FP/SIMD
//! trapped (`super::traps`) unless their context owns the core's live registers, and the trap
//! (ESR EC 0x07) saves the owner's registers and loads the trapping context's. A partition
//! that never touches FP/SIMD (the test partitions are soft-float) costs no switch at all; the
//! normal world's registers, and its SVE state (`super::sve`), are saved only when a
//! partition takes them, and put back before the SPMC returns to the SPMD.
//!
//! Migration: a context's registers are saved when the core call that ends its run on a core
//! (its outcome runs anything else there) is made, under the core lock ([`hand_over`]), so
//! whichever CPU the core gives it to next loads them from memory.
//!
//! EL3 (TF-A's SPMD with the SPMC at S-EL2) switches no FP/SIMD or SVE register between the
//! worlds and traps neither for the secure world (CPTR_EL3.TFP clear, EZ set with
//! ENABLE_SVE_FOR_SWD, ZCR_EL3 at the longest length): what the normal world left in them is
//! what the SPMC finds.

use core::cell::UnsafeCell;

use ffa::EndpointId;

use crate::fp_owner::{Context, CoreFp, Owner, Saved};
use crate::manifest::MAX_PARTITIONS;
use crate::partition::MAX_CPUS;
use crate::spmc::CpuId;

use super::asm::{spmc_fp_restore, spmc_fp_save};
use super::sve::{self, SveState};
use super::{run, traps};

/// FP/SIMD registers: V0..V31, then FPCR and FPSR (layout fixed by the assembly).
#[derive(Clone, Copy, Debug)]
#[repr(C, align(16))]
pub struct FpState {
    v: [u128; 32],
    fpcr: u64,
    fpsr: u64,
}

impl FpState {
    /// All zero.
    pub const ZERO: Self = Self {
        v: [0; 32],
        fpcr: 0,
        fpsr: 0,
    };
}

/// Bit 16 of a function ID from the normal world (FF-A v1.2 §10.5, passed on by the SPMD):
/// no SVE state beyond FP/SIMD is live.
const SVE_HINT: u64 = 1 << 16;

/// One core's bookkeeping and the normal world's saved registers.
struct CoreState {
    owner: CoreFp,
    normal_world: FpState,
    sve: SveState,
}

/// Per-core and per-context FP/SIMD state. A core's entry is used by that core alone; a
/// context's by the core that runs it or ran it last, until that core's [`hand_over`] (under
/// the core lock, which orders it before any other core enters the context).
struct FpStates {
    cores: UnsafeCell<[CoreState; MAX_CPUS]>,
    contexts: UnsafeCell<[[FpState; MAX_CPUS]; MAX_PARTITIONS]>,
}

// SAFETY: see the type's documentation: no entry is used by two cores at once.
unsafe impl Sync for FpStates {}

static STATES: FpStates = FpStates {
    cores: UnsafeCell::new(
        [const {
            CoreState {
                owner: CoreFp::BOOT,
                normal_world: FpState::ZERO,
                sve: SveState::ZERO,
            }
        }; MAX_CPUS],
    ),
    contexts: UnsafeCell::new([[FpState::ZERO; MAX_CPUS]; MAX_PARTITIONS]),
};

/// Core `cpu`'s state (called on that core only).
fn core_state(cpu: CpuId) -> Option<&'static mut CoreState> {
    let index = usize::from(cpu.0);
    if index >= MAX_CPUS {
        return None;
    }
    // SAFETY: only core `cpu` uses its entry (see FpStates), and no reference to it outlives
    // the call that took it; the index is in range.
    Some(unsafe { &mut (*STATES.cores.get())[index] })
}

/// Context `c`'s saved registers (called by the core that runs it or ran it last).
fn saved_copy(c: Context) -> Option<&'static mut FpState> {
    let slot = run::partition_slot(c.partition)?;
    let vcpu = usize::from(c.vcpu);
    if vcpu >= MAX_CPUS {
        return None;
    }
    // SAFETY: the calling core runs this context or ran it last and has not handed it over
    // (see FpStates); no reference to it outlives the call that took it; indices in range.
    Some(unsafe { &mut (*STATES.contexts.get())[slot][vcpu] })
}

fn save(to: &mut FpState) {
    // SAFETY: `to` is a valid FpState to write; the caller opened FP/SIMD access at EL2.
    unsafe { spmc_fp_save(to) };
}

fn load(from: &FpState) {
    // SAFETY: `from` is a valid FpState; the assembly writes only the FP/SIMD registers; the
    // caller opened FP/SIMD access at EL2.
    unsafe { spmc_fp_restore(from) };
}

/// The SPMD entered the SPMC on `cpu` with `w0` (its function ID carries the SVE hint).
pub fn entered(cpu: CpuId, w0: u64) {
    if let Some(core) = core_state(cpu) {
        core.owner.entered(w0 & SVE_HINT != 0);
    }
}

/// A core (re)starts in the SPMC: its registers are the normal world's.
pub fn core_on(cpu: CpuId) {
    if let Some(core) = core_state(cpu) {
        core.owner = CoreFp::BOOT;
    }
}

/// Whether partition `id`'s context `vcpu` owns `cpu`'s registers (it runs with FP/SIMD).
pub fn owns(cpu: CpuId, id: EndpointId, vcpu: u16) -> bool {
    core_state(cpu).is_some_and(|core| {
        core.owner.owns(Context {
            partition: id,
            vcpu,
        })
    })
}

/// The context starts afresh: its registers are zero, and what it left live is dropped.
pub fn restart(cpu: CpuId, id: EndpointId, vcpu: u16) {
    let context = Context {
        partition: id,
        vcpu,
    };
    if let Some(core) = core_state(cpu) {
        core.owner.restart(context);
    }
    if let Some(copy) = saved_copy(context) {
        *copy = FpState::ZERO;
    }
}

/// Partition `id`'s context `vcpu` trapped on FP/SIMD on `cpu`: the registers become its own
/// (it resumes at the trapped instruction with FP/SIMD untrapped). False if they cannot be:
/// no state for it, or it owned them already (no trap could have happened).
pub fn trap(cpu: CpuId, id: EndpointId, vcpu: u16) -> bool {
    let context = Context {
        partition: id,
        vcpu,
    };
    let (Some(core), Some(copy)) = (core_state(cpu), saved_copy(context)) else {
        return false;
    };
    let Some(take) = core.owner.take(context, sve::present()) else {
        return false;
    };
    traps::spmc_fp_access(true);
    if take.save_normal_world_sve {
        sve::save(&mut core.sve);
    }
    match take.save {
        Some(Saved::NormalWorld) => save(&mut core.normal_world),
        Some(Saved::Context(other)) => {
            if let Some(to) = saved_copy(other) {
                save(to);
            }
        }
        None => {}
    }
    load(copy);
    traps::spmc_fp_access(false);
    true
}

/// A core call on `cpu` ended with `next` (partition, context) to run here, or the normal
/// world (`next` says which, asked only if a context owns the registers): if that is not the
/// context owning the registers, its registers are saved now. Called with the core lock
/// held, on every core call: inlined, the save kept out of line.
#[inline(always)]
pub fn hand_over(cpu: CpuId, next: impl FnOnce() -> Option<(EndpointId, u16)>) {
    let Some(core) = core_state(cpu) else {
        return;
    };
    if !matches!(core.owner.owner(), Owner::Context(_)) {
        return;
    }
    let next = next().map(|(partition, vcpu)| Context { partition, vcpu });
    if let Some(c) = core.owner.hand_over(next) {
        save_handed_over(c);
    }
}

#[inline(never)]
fn save_handed_over(c: Context) {
    if let Some(to) = saved_copy(c) {
        traps::spmc_fp_access(true);
        save(to);
        traps::spmc_fp_access(false);
    }
}

/// Before the SPMC returns to the SPMD on `cpu`: the normal world's registers are put back if
/// a partition took them. Inlined: most returns find them in place.
#[inline(always)]
pub fn give_back(cpu: CpuId) {
    let Some(core) = core_state(cpu) else {
        return;
    };
    if core.owner.owner() != Owner::NormalWorld {
        give_back_taken(core);
    }
}

#[inline(never)]
fn give_back_taken(core: &mut CoreState) {
    let back = core.owner.give_back();
    traps::spmc_fp_access(true);
    if let Some(c) = back.save
        && let Some(to) = saved_copy(c)
    {
        save(to);
    }
    if back.load {
        load(&core.normal_world);
    }
    if back.load_sve {
        sve::restore(&core.sve);
    }
    traps::spmc_fp_access(false);
}
