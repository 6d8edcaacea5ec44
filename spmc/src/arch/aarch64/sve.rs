//! The normal world's SVE state (FF-A v1.2 §10.5 "SVE hint"; TF-A's SPMD leaves it to an
//! S-EL2 SPMC, which must preserve what the normal world has in the Z, P and FFR registers).
//!
//! Loading a partition's FP/SIMD registers writes the low 128 bits of each Z register and
//! zeroes the rest, and a partition running with FP/SIMD untrapped but SVE trapped runs at a
//! 128-bit vector length; so on a CPU with SVE the SPMC saves the whole SVE state of the
//! normal world before a partition first takes the FP/SIMD registers on a core
//! (`super::fp`), unless the caller's SVE hint (bit 16 of its function ID, which the SPMD
//! passes on) says nothing beyond FP/SIMD is live. Partitions themselves get no SVE
//! (CPTR_EL2.TZ); the S-EL2 SPMC runs with FP/SIMD and SVE trapped, which leaves the
//! registers whole (`super::traps`), and opens them only to save and load.
//!
//! The state is saved at the longest vector length the SPMC can set (ZCR_EL2.LEN = all ones,
//! capped by EL3 and the CPU): a superset of whatever length the normal world used. ZCR_EL2 is
//! not switched by EL3 between the worlds, so the normal world's value is put back with the
//! registers.

use aarch64_cpu::asm::barrier;
use tock_registers::{LocalRegisterCopy, register_bitfields};

use super::asm::{spmc_sve_restore, spmc_sve_save};
use super::traps;

register_bitfields! {u64,
    /// ZCR_EL2 (aarch64-cpu has no definition).
    Zcr [
        LEN OFFSET(0) NUMBITS(4) [],
    ]
}

/// The longest vector the architecture allows, in bytes (2048 bits).
pub const MAX_VL: usize = 256;
/// Bytes of one predicate (and FFR) at [`MAX_VL`].
const MAX_PL: usize = MAX_VL / 8;
/// Where the predicates start in [`SveState::bytes`] (the assembly's layout).
pub const P_OFFSET: usize = 32 * MAX_VL;

/// Z0..Z31, then P0..P15 and FFR, each at the saving vector length's stride, and ZCR_EL2.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(16))]
pub struct SveState {
    bytes: [u8; P_OFFSET + 17 * MAX_PL],
    zcr_el2: u64,
}

impl SveState {
    /// Nothing saved.
    pub const ZERO: Self = Self {
        bytes: [0; P_OFFSET + 17 * MAX_PL],
        zcr_el2: 0,
    };
}

/// Whether this CPU has SVE.
pub fn present() -> bool {
    traps::has_sve()
}

fn read_zcr_el2() -> u64 {
    let value: u64;
    // SAFETY: reads ZCR_EL2 (by encoding: the assembler needs no SVE for it); callers run
    // with SVE opened at EL2 on a CPU with SVE (`traps::spmc_fp_access`), so it does not trap.
    unsafe {
        core::arch::asm!("mrs {}, S3_4_C1_C2_0", out(reg) value, options(nomem, nostack, preserves_flags))
    };
    value
}

fn write_zcr_el2(value: u64) {
    // SAFETY: ZCR_EL2 only sets the vector length EL2 and below use; TZ is clear as for the
    // read. The ISB makes the new length apply to what follows.
    unsafe {
        core::arch::asm!("msr S3_4_C1_C2_0, {}", "isb", in(reg) value, options(nomem, nostack, preserves_flags))
    };
}

/// The longest vector length ZCR_EL2 can ask for.
fn longest() -> u64 {
    let mut zcr: LocalRegisterCopy<u64, Zcr::Register> = LocalRegisterCopy::new(0);
    zcr.modify(Zcr::LEN.val(Zcr::LEN.mask));
    zcr.get()
}

/// Saves the normal world's SVE registers and ZCR_EL2 into `state` (SVE opened at EL2).
pub fn save(state: &mut SveState) {
    state.zcr_el2 = read_zcr_el2();
    write_zcr_el2(longest());
    // SAFETY: `state` has room for 32 Z registers, 16 predicates and FFR at the longest
    // vector length; SVE is reachable (the caller opened it at EL2, and EL3 enables it for
    // the secure world, ENABLE_SVE_FOR_SWD). The routine writes only `state` and P0.
    unsafe { spmc_sve_save(state.bytes.as_mut_ptr()) };
}

/// Loads what [`save`] saved, and the normal world's ZCR_EL2 (SVE opened at EL2).
pub fn restore(state: &SveState) {
    write_zcr_el2(longest());
    // SAFETY: as for `save`; the routine only reads `state` and loads SVE registers.
    unsafe { spmc_sve_restore(state.bytes.as_ptr()) };
    write_zcr_el2(state.zcr_el2);
    barrier::isb(barrier::SY);
}
