//! An SMC with x0..x17 both ways (SMCCC 1.2), all 64 bits of x0 passed as they are, and the
//! same call bracketed by reads of the virtual counter (docs: performance.md §Method).
//!
//! The callee (EL3, the proxy trapping it, or the SPMC trapping a partition) preserves every
//! register but x0..x17 and touches no memory of the caller, which is what makes these safe.
#![no_std]

/// x0..x17.
pub type Regs = [u64; 18];

#[cfg(target_arch = "aarch64")]
mod aarch64 {
    use core::arch::asm;

    use super::Regs;

    /// Issues `smc #0` with x0..x17 = `regs`; returns x0..x17 as the callee left them.
    pub fn smc(regs: &Regs) -> Regs {
        let mut r = *regs;
        // SAFETY: an SMC changes no memory of the caller; x0..x17 are declared in and out and
        // SMCCC preserves the other registers.
        unsafe {
            asm!(
                "smc #0",
                inout("x0") r[0], inout("x1") r[1], inout("x2") r[2], inout("x3") r[3],
                inout("x4") r[4], inout("x5") r[5], inout("x6") r[6], inout("x7") r[7],
                inout("x8") r[8], inout("x9") r[9], inout("x10") r[10], inout("x11") r[11],
                inout("x12") r[12], inout("x13") r[13], inout("x14") r[14], inout("x15") r[15],
                inout("x16") r[16], inout("x17") r[17],
                options(nostack),
            );
        }
        r
    }

    /// [`smc`] bracketed as `isb; mrs cntvct_el0; isb; smc #0; isb; mrs cntvct_el0; isb`;
    /// returns the answer and the ticks between the reads (the bracket and the `smc` add a
    /// fixed 4).
    pub fn timed_smc(regs: &Regs) -> (Regs, u64) {
        let mut r = *regs;
        let start: u64;
        let end: u64;
        // SAFETY: as in `smc`; the counter reads touch no memory. `start` lives in a register
        // outside x0..x17, which the callee preserves.
        unsafe {
            asm!(
                "isb",
                "mrs {start}, cntvct_el0",
                "isb",
                "smc #0",
                "isb",
                "mrs {end}, cntvct_el0",
                "isb",
                start = out(reg) start,
                end = out(reg) end,
                inout("x0") r[0], inout("x1") r[1], inout("x2") r[2], inout("x3") r[3],
                inout("x4") r[4], inout("x5") r[5], inout("x6") r[6], inout("x7") r[7],
                inout("x8") r[8], inout("x9") r[9], inout("x10") r[10], inout("x11") r[11],
                inout("x12") r[12], inout("x13") r[13], inout("x14") r[14], inout("x15") r[15],
                inout("x16") r[16], inout("x17") r[17],
                options(nostack),
            );
        }
        (r, end.wrapping_sub(start))
    }
}

#[cfg(target_arch = "aarch64")]
pub use aarch64::{smc, timed_smc};
