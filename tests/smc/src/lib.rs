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
        timed_smc_imm::<0>(regs)
    }

    /// The bracketed `smc #IMM` ([`timed_smc`] is `IMM` = 0): EL3 ignores the immediate (and
    /// so does the proxy when it traps the host's), so the call costs the same, but QEMU's
    /// exception log shows it in the ESR, which lets `cargo xtask bench` find the call in its
    /// execution log.
    #[inline(always)]
    fn timed_smc_imm<const IMM: u16>(regs: &Regs) -> (Regs, u64) {
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
                "smc #{imm}",
                "isb",
                "mrs {end}, cntvct_el0",
                "isb",
                imm = const IMM,
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

    /// One arm per mark: the immediate must be a constant.
    macro_rules! marked {
        ($mark:expr, $regs:expr, $($n:literal)*) => {
            match $mark {
                $($n => Some(timed_smc_imm::<{ super::MARK_BASE + $n }>($regs)),)*
                _ => None,
            }
        };
    }

    /// [`timed_smc`] with `smc #(MARK_BASE + mark)`; None for a mark from [`MARKS`] on.
    pub fn timed_smc_marked(mark: u16, regs: &Regs) -> Option<(Regs, u64)> {
        marked!(mark, regs, 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
    }
}

/// The immediate of mark 0 of [`timed_smc_marked`] (the bench's profile boot).
pub const MARK_BASE: u16 = 0xB000;
/// How many marks there are.
pub const MARKS: u16 = 16;

#[cfg(target_arch = "aarch64")]
pub use aarch64::{smc, timed_smc, timed_smc_marked};
