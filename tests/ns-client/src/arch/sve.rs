//! An FF-A call made with known SVE state in every Z and P register and FFR, and known FPCR
//! and FPSR, and that state checked afterwards: the secure side must give it back (all of it,
//! or with the caller's SVE hint at least the FP/SIMD part: the low 128 bits of each Z
//! register, FPCR and FPSR).

use aarch64_cpu::registers::{CPACR_EL1, ID_AA64PFR0_EL1, ReadWriteable, Readable};
use core::arch::global_asm;
use ffa::Regs;
use tock_registers::{LocalRegisterCopy, register_bitfields};

register_bitfields! {u64,
    /// ZCR_EL1 (aarch64-cpu has no definition).
    Zcr [
        LEN OFFSET(0) NUMBITS(4) [],
    ]
}

/// The longest vector, in bytes: the save area's stride.
const MAX_VL: usize = 256;
/// Where the predicates start in the save area.
const P_OFFSET: usize = 32 * MAX_VL;
/// Where FPCR and FPSR go in the save area, after the predicates and FFR.
const CONTROL_OFFSET: usize = P_OFFSET + 17 * MAX_VL / 8;
/// FPCR during the call: round towards minus infinity (RMode 0b10), flush-to-zero (FZ).
const FPCR: u64 = 0b10 << 22 | 1 << 24;
/// FPSR during the call: the saturation (QC), inexact (IXC) and invalid-operation (IOC) flags.
const FPSR: u64 = 1 << 27 | 1 << 4 | 1;
/// Bit 16 of a function ID: no SVE state beyond FP/SIMD is live.
const SVE_HINT: u64 = 1 << 16;

global_asm!(
    r#"
    .arch_extension sve
    .section .text.client_sve_call, "ax"
    .global client_sve_call
// x0 = 18 call registers (in and out), x1 = save area. P<n> = the first 3n + 1 byte lanes,
// FFR = P5, byte i of Z<n> = 7n + i, FPCR and FPSR as the constants say; then the SMC; then
// every register saved at x1.
client_sve_call:
    stp     x19, x20, [sp, #-16]!
    mov     x19, x0
    mov     x20, x1
    .irp    n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    mov     x9, #(3 * \n + 1)
    whilelo p\n\().b, xzr, x9
    .endr
    wrffr   p5.b
    .irp    n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    mov     w9, #((7 * \n) & 0xff)
    index   z\n\().b, w9, #1
    .endr
    ldr     x9, ={fpcr}
    msr     fpcr, x9
    ldr     x9, ={fpsr}
    msr     fpsr, x9
    ldp     x0, x1, [x19, #0]
    ldp     x2, x3, [x19, #16]
    ldp     x4, x5, [x19, #32]
    ldp     x6, x7, [x19, #48]
    ldp     x8, x9, [x19, #64]
    ldp     x10, x11, [x19, #80]
    ldp     x12, x13, [x19, #96]
    ldp     x14, x15, [x19, #112]
    ldp     x16, x17, [x19, #128]
    smc     #0
    stp     x0, x1, [x19, #0]
    stp     x2, x3, [x19, #16]
    stp     x4, x5, [x19, #32]
    stp     x6, x7, [x19, #48]
    stp     x8, x9, [x19, #64]
    stp     x10, x11, [x19, #80]
    stp     x12, x13, [x19, #96]
    stp     x14, x15, [x19, #112]
    stp     x16, x17, [x19, #128]
    .irp    n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    str     z\n, [x20, #\n, mul vl]
    .endr
    add     x9, x20, #{p_offset}
    .irp    n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    str     p\n, [x9, #\n, mul vl]
    .endr
    rdffr   p0.b
    str     p0, [x9, #16, mul vl]
    mrs     x10, fpcr
    mrs     x11, fpsr
    ldr     x9, ={control_offset}
    add     x9, x20, x9
    stp     x10, x11, [x9]
    ldp     x19, x20, [sp], #16
    ret
    .ltorg

    .global client_sve_vl
client_sve_vl:
    rdvl    x0, #1
    ret
"#,
    p_offset = const P_OFFSET,
    control_offset = const CONTROL_OFFSET,
    fpcr = const FPCR,
    fpsr = const FPSR,
);

unsafe extern "C" {
    fn client_sve_call(regs: *mut u64, area: *mut u8);
    fn client_sve_vl() -> u64;
}

/// Where the registers are saved after the call (in .bss; too big for a stack).
static mut AREA: [u8; CONTROL_OFFSET + 16] = [0; CONTROL_OFFSET + 16];

/// Makes the FF-A call `regs` with the SVE registers, FPCR and FPSR set, on this core;
/// returns which of the 51 registers did not come back (bit n: Z<n>, bit 32 + n: P<n>, bit
/// 48: FFR, bit 49: FPCR, bit 50: FPSR; with the SVE hint in `regs` only the low 128 bits of
/// the Z registers, FPCR and FPSR count) and the call's answer. None without SVE.
pub fn round_trip(regs: &Regs) -> Option<(u64, Regs)> {
    if ID_AA64PFR0_EL1.read(ID_AA64PFR0_EL1::SVE) == 0 {
        return None;
    }
    CPACR_EL1.modify(CPACR_EL1::FPEN::TrapNothing + CPACR_EL1::ZEN::TrapNothing);
    let mut zcr: LocalRegisterCopy<u64, Zcr::Register> = LocalRegisterCopy::new(0);
    zcr.modify(Zcr::LEN.val(Zcr::LEN.mask));
    // SAFETY: ZCR_EL1 (by encoding) only sets EL1's SVE vector length; the ISB applies it.
    unsafe {
        core::arch::asm!("msr S3_0_C1_C2_0, {}", "isb", in(reg) zcr.get(), options(nomem, nostack))
    };
    let mut call = *regs;
    let area = &raw mut AREA;
    // SAFETY: `call` is 18 words the routine reads and writes; the area holds 32 Z registers
    // and 17 predicates at the longest vector length, and no other core uses it meanwhile
    // (the scenarios make one call at a time, and wait for it). The routine changes only the
    // SVE registers, which the client (built soft-float) never uses otherwise.
    unsafe { client_sve_call(call.as_mut_ptr(), area.cast::<u8>()) };
    // SAFETY: reads the vector length; SVE is enabled above.
    let vl = (unsafe { client_sve_vl() } as usize).min(MAX_VL);
    // SAFETY: the routine above finished writing the area; no reference to it lives.
    let saved: &[u8] = unsafe { &*area };
    let hint = regs[0] & SVE_HINT != 0;
    let z_bytes = if hint { 16 } else { vl };
    let mut lost = 0u64;
    for n in 0..32 {
        let z = &saved[n * vl..n * vl + z_bytes];
        if z.iter()
            .enumerate()
            .any(|(i, b)| *b != ((7 * n + i) & 0xff) as u8)
        {
            lost += 1;
        }
    }
    let pl = vl / 8;
    for n in 0..17 {
        // FFR (slot 16) was set from P5.
        let lanes = if n == 16 { 16 } else { 3 * n + 1 };
        let p = &saved[P_OFFSET + n * pl..P_OFFSET + (n + 1) * pl];
        let wrong = (0..vl).any(|lane| {
            let set = p[lane / 8] & (1 << (lane % 8)) != 0;
            set != (lane < lanes)
        });
        if wrong {
            lost |= 1 << (32 + n);
        }
    }
    let word = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&saved[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    if word(CONTROL_OFFSET) != FPCR {
        lost |= 1 << 49;
    }
    if word(CONTROL_OFFSET + 8) != FPSR {
        lost |= 1 << 50;
    }
    Some((lost, call))
}
