//! Entry points, exception vectors and the world switch, in assembly.
//!
//! - `spmc_entry` (cold boot, the image's first byte): the SPMD enters it once, on the
//!   primary core, with x0 = the SPMC manifest and the MMU off. Stack 0 (the boot core is
//!   index 0 of the CPU map), BSS zeroed, EL2 defaults, then
//!   `spmc_cold_main(manifest, mpidr affinity)`.
//! - `spmc_warm_entry`: what FFA_SECONDARY_EP_REGISTER names; the SPMD enters it on a core the
//!   normal world powered on. EL2 defaults, MMU on with the stage-1 tables the primary built,
//!   then the core's index: its place in [`SPMC_CORE_AFFINITY`], which cold boot filled from
//!   the CPU map before registering this entry. Its stack, then
//!   `spmc_warm_main(index, mpidr affinity)`. A core the table does not list reports itself
//!   (`spmc_warm_refused`, on a shared stack taken under a lock) and answers the SPMD with
//!   FFA_ERROR from then on: it never runs the SPMC.
//! - `spmc_vcpu_run(regs)`: loads a partition context's general registers, ELR_EL2, SPSR_EL2
//!   and ERETs; the next exception from the lower level saves them back (with ESR, FAR,
//!   HPFAR) and returns from this call with the kind of exception. The SPMC's callee-saved
//!   registers wait on its own stack meanwhile (SP_EL2 is not touched by the partition).
//! - `spmc_copy(dst, src, len)`: copies bytes (16 at a time where both ends allow) between the SPMC's own memory and a window of
//!   partition or normal-world memory. A data abort at one of its two accesses (an external
//!   abort from memory the platform protects, say) does not reach `spmc_el2_fault`: the
//!   vector resumes the copy at its failure exit, and the call returns 1 instead of 0.
//! - Other exceptions of the SPMC itself go to `spmc_el2_fault`, which prints and parks the
//!   core.

use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, Ordering};

use aarch64_cpu::registers::MPIDR_EL1;
use ffa::{FfaError, FuncId};

use crate::cpu_map::{Affinity, CpuMap};
use crate::pagetable::MAIR_EL2;

/// Stack bytes per core.
pub const STACK_SIZE: usize = 128 * 1024;
/// Cores with a stack: the most a CPU map holds.
pub const MAX_CORES: usize = crate::cpu_map::MAX_CPUS;

/// MPIDR_EL1's affinity fields, the part of it that names a core.
pub const AFFINITY: u64 = (MPIDR_EL1::Aff3.mask << MPIDR_EL1::Aff3.shift)
    | (MPIDR_EL1::Aff2.mask << MPIDR_EL1::Aff2.shift)
    | (MPIDR_EL1::Aff1.mask << MPIDR_EL1::Aff1.shift)
    | (MPIDR_EL1::Aff0.mask << MPIDR_EL1::Aff0.shift);

// The table holds `Affinity::to_mpidr` values; the assembly compares MPIDR_EL1 & AFFINITY.
const _: () = assert!(
    AFFINITY
        == Affinity {
            aff3: u8::MAX,
            aff2: u8::MAX,
            aff1: u8::MAX,
            aff0: u8::MAX
        }
        .to_mpidr()
);

/// An unused slot of [`SPMC_CORE_AFFINITY`]: bits outside the affinity fields, so it never
/// equals a masked MPIDR.
const NO_CORE: u64 = u64::MAX;

/// Each core's affinity by index, as the CPU map gives them; read by `spmc_warm_entry` (MMU
/// on, so it sees what cold boot stored).
#[unsafe(no_mangle)]
static SPMC_CORE_AFFINITY: [AtomicU64; MAX_CORES] = [const { AtomicU64::new(NO_CORE) }; MAX_CORES];

/// Fills the table warm boots look cores up in. Cold boot calls it once, before it registers
/// the secondary entry point (no core can enter it before).
pub fn publish_cpu_map(map: &CpuMap) {
    for (cpu, core) in map.iter() {
        if let Some(slot) = SPMC_CORE_AFFINITY.get(usize::from(cpu.0)) {
            slot.store(core.to_mpidr(), Ordering::Relaxed);
        }
    }
    // The stores reach the inner-shareable domain before the SMC that registers the entry.
    aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::ISH);
}

/// The affinity fields of an MPIDR_EL1 value.
pub fn affinity(mpidr: u64) -> Affinity {
    Affinity {
        aff3: MPIDR_EL1::Aff3.read(mpidr) as u8,
        aff2: MPIDR_EL1::Aff2.read(mpidr) as u8,
        aff1: MPIDR_EL1::Aff1.read(mpidr) as u8,
        aff0: MPIDR_EL1::Aff0.read(mpidr) as u8,
    }
}

/// FFA_ERROR's function ID and the codes an unlisted core answers with.
const FFA_ERROR: u64 = FuncId::Error32 as u64;
const INVALID_PARAMETERS: u64 = FfaError::InvalidParameters as i32 as u32 as u64;
const DENIED: u64 = FfaError::Denied as i32 as u32 as u64;

/// TCR_EL2: T0SZ = 32, inner/outer write-back write-allocate walks, inner shareable, 4 KiB
/// granule, 36-bit physical addresses, RES1 bits 23 and 31.
pub const TCR_EL2: u64 =
    crate::pagetable::T0SZ | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 16) | (1 << 23) | (1 << 31);
/// SCTLR_EL2: MMU, data and instruction caches, SP alignment check; RES1 bits.
pub const SCTLR_EL2: u64 = 0x30c5_0830 | 1 | (1 << 2) | (1 << 3) | (1 << 12);

/// Offsets in `GuestRegs` the assembly uses.
pub const OFF_ELR: usize = 31 * 8;
/// Offset of ESR_EL2 in `GuestRegs`.
pub const OFF_ESR: usize = 33 * 8;
/// Offset of HPFAR_EL2 in `GuestRegs`.
pub const OFF_HPFAR: usize = 35 * 8;

/// What `spmc_vcpu_run` returns: the kind of exception that ended the partition's run.
pub mod exit {
    /// Synchronous (a trapped call, an abort...).
    pub const SYNC: u64 = 0;
    /// IRQ.
    pub const IRQ: u64 = 1;
    /// FIQ.
    pub const FIQ: u64 = 2;
    /// SError.
    pub const SERROR: u64 = 3;
    /// Any exception from AArch32 state.
    pub const AARCH32: u64 = 4;
}

global_asm!(
    r#"
.section .text.entry, "ax"
.global spmc_entry
spmc_entry:
    mov     x21, x0
    mrs     x19, mpidr_el1
    ldr     x0, ={affinity}
    and     x19, x19, x0
    mov     x20, #0
    bl      spmc_set_stack
    bl      spmc_el2_defaults

    // The NOLOAD part of the image (BSS, stacks, tables) may have stale cache lines from
    // before: invalidate it, then zero the BSS (the MMU is off: plain stores only).
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __image_end
    add     x1, x1, :lo12:__image_end
    mrs     x3, ctr_el0
    ubfx    x3, x3, #16, #4
    mov     x2, #4
    lsl     x2, x2, x3
    sub     x3, x2, #1
    bic     x4, x0, x3
1:  dc      ivac, x4
    add     x4, x4, x2
    cmp     x4, x1
    b.lo    1b
    dsb     sy
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
2:  cmp     x0, x1
    b.hs    3f
    str     xzr, [x0], #8
    b       2b
3:
    mov     x0, x21
    mov     x1, x19
    bl      spmc_cold_main
    b       spmc_park

.section .text.spmc_warm, "ax"
.balign 8
.global spmc_warm_entry
spmc_warm_entry:
    bl      spmc_el2_defaults
    adrp    x0, __pagetables_start
    add     x0, x0, :lo12:__pagetables_start
    bl      spmc_mmu_on
    // x20 = this core's index: where its affinity is in SPMC_CORE_AFFINITY.
    mrs     x19, mpidr_el1
    ldr     x0, ={affinity}
    and     x19, x19, x0
    adrp    x1, SPMC_CORE_AFFINITY
    add     x1, x1, :lo12:SPMC_CORE_AFFINITY
    mov     x20, #0
1:  ldr     x2, [x1, x20, lsl #3]
    cmp     x2, x19
    b.eq    2f
    add     x20, x20, #1
    cmp     x20, #{max_cores}
    b.lo    1b
    b       spmc_warm_unlisted
2:  bl      spmc_set_stack
    mov     x0, x20
    mov     x1, x19
    bl      spmc_warm_main
    b       spmc_park

// A core the CPU map does not list (x19 = its affinity). One such core at a time reports
// itself on the refusal stack; then it answers every entry from the SPMD (this CPU_ON, and
// whatever the SPMD sends later) with FFA_ERROR, never running the SPMC.
spmc_warm_unlisted:
    adrp    x21, spmc_refusal_lock
    add     x21, x21, :lo12:spmc_refusal_lock
    mov     w2, #1
3:  ldaxr   w1, [x21]
    cbnz    w1, 4f
    stxr    w3, w2, [x21]
    cbnz    w3, 3b
    b       5f
4:  wfe
    b       3b
5:  adrp    x0, __refusal_stack_end
    add     x0, x0, :lo12:__refusal_stack_end
    mov     sp, x0
    mov     x0, x19
    bl      spmc_warm_refused
    stlr    wzr, [x21]
    sev
    ldr     x2, ={invalid_parameters}
6:  ldr     x0, ={ffa_error}
    mov     x1, xzr
    mov     x3, xzr
    mov     x4, xzr
    mov     x5, xzr
    mov     x6, xzr
    mov     x7, xzr
    smc     #0
    ldr     x2, ={denied}
    b       6b

.section .bss.spmc_refusal_lock, "aw", %nobits
.balign 4
spmc_refusal_lock:
    .zero   4

.section .text.spmc_warm, "ax"
// sp = top of core x20's stack. Clobbers x0, x1.
spmc_set_stack:
    adrp    x0, __stacks_end
    add     x0, x0, :lo12:__stacks_end
    mov     x1, #{stack_size}
    msub    x0, x20, x1, x0
    mov     sp, x0
    ret

// Vectors. Clobbers x0. The trap controls follow in Rust (`traps::init`), first thing.
spmc_el2_defaults:
    adrp    x0, spmc_vectors
    add     x0, x0, :lo12:spmc_vectors
    msr     vbar_el2, x0
    isb
    ret

.global spmc_park
spmc_park:
    wfe
    b       spmc_park

// x0 = stage-1 root table. Turns the MMU and caches on.
.global spmc_mmu_on
spmc_mmu_on:
    ldr     x1, ={mair}
    msr     mair_el2, x1
    ldr     x1, ={tcr}
    msr     tcr_el2, x1
    msr     ttbr0_el2, x0
    dsb     sy
    isb
    tlbi    alle2
    dsb     sy
    isb
    ldr     x1, ={sctlr}
    msr     sctlr_el2, x1
    isb
    ret

// x0 = GuestRegs of the context to run. Returns the exit kind.
.section .text.spmc_vcpu_run, "ax"
.global spmc_vcpu_run
spmc_vcpu_run:
    stp     x19, x20, [sp, #-96]!
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    msr     tpidr_el2, x0
    ldp     x1, x2, [x0, #{off_elr}]
    msr     elr_el2, x1
    msr     spsr_el2, x2
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldr     x30, [x0, #240]
    ldp     x0, x1, [x0, #0]
    eret
    dsb     nsh
    isb

// Lower-level exception: guest x0, x1 are on the stack, x1 = kind.
spmc_guest_exit:
    mrs     x0, tpidr_el2
    stp     x2, x3, [x0, #16]
    stp     x4, x5, [x0, #32]
    stp     x6, x7, [x0, #48]
    stp     x8, x9, [x0, #64]
    stp     x10, x11, [x0, #80]
    stp     x12, x13, [x0, #96]
    stp     x14, x15, [x0, #112]
    stp     x16, x17, [x0, #128]
    stp     x18, x19, [x0, #144]
    stp     x20, x21, [x0, #160]
    stp     x22, x23, [x0, #176]
    stp     x24, x25, [x0, #192]
    stp     x26, x27, [x0, #208]
    stp     x28, x29, [x0, #224]
    str     x30, [x0, #240]
    ldp     x2, x3, [sp], #16
    stp     x2, x3, [x0, #0]
    mrs     x2, elr_el2
    mrs     x3, spsr_el2
    stp     x2, x3, [x0, #{off_elr}]
    mrs     x2, esr_el2
    mrs     x3, far_el2
    stp     x2, x3, [x0, #{off_esr}]
    mrs     x2, hpfar_el2
    str     x2, [x0, #{off_hpfar}]
    mov     x0, x1
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     x19, x20, [sp], #96
    ret

.macro guest_vector kind
    .balign 0x80
    stp     x0, x1, [sp, #-16]!
    mov     x1, #\kind
    b       spmc_guest_exit
.endm

.macro self_vector kind
    .balign 0x80
    mov     x0, #\kind
    mrs     x1, esr_el2
    mrs     x2, elr_el2
    mrs     x3, far_el2
    b       spmc_el2_fault
.endm

.section .text.spmc_vectors, "ax"
.balign 0x800
.global spmc_vectors
spmc_vectors:
    self_vector 0
    self_vector 1
    self_vector 2
    self_vector 3
    // Synchronous, SP_EL2: a data abort at a `spmc_copy` access resumes at its failure exit
    // (x16, x17: scratch for the copy's caller; clobbered anyway on the way to the report).
    .balign 0x80
    mrs     x16, elr_el2
    adr     x17, spmc_copy_load
    cmp     x16, x17
    b.eq    1f
    adr     x17, spmc_copy_store
    cmp     x16, x17
    b.eq    1f
    adr     x17, spmc_copy_load16
    cmp     x16, x17
    b.eq    1f
    adr     x17, spmc_copy_store16
    cmp     x16, x17
    b.ne    2f
1:  mrs     x17, esr_el2
    lsr     x17, x17, #26
    cmp     x17, #{ec_data_abort_same}
    b.ne    2f
    adr     x17, spmc_copy_failed
    msr     elr_el2, x17
    eret
2:  mov     x0, #0
    mrs     x1, esr_el2
    mrs     x2, elr_el2
    mrs     x3, far_el2
    b       spmc_el2_fault
    self_vector 1
    self_vector 2
    self_vector 3
    guest_vector {sync}
    guest_vector {irq}
    guest_vector {fiq}
    guest_vector {serror}
    guest_vector {aarch32}
    guest_vector {aarch32}
    guest_vector {aarch32}
    guest_vector {aarch32}

// x0 = the save area: Z0..Z31 at the vector length's stride, then (at {sve_p_offset}) P0..P15
// and FFR at the predicate length's stride. FFR goes through P0, saved before it.
.arch_extension sve
.section .text.spmc_sve, "ax"
.global spmc_sve_save
spmc_sve_save:
    .irp    n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    str     z\n, [x0, #\n, mul vl]
    .endr
    add     x1, x0, #{sve_p_offset}
    .irp    n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    str     p\n, [x1, #\n, mul vl]
    .endr
    rdffr   p0.b
    str     p0, [x1, #16, mul vl]
    ret

.global spmc_sve_restore
spmc_sve_restore:
    add     x1, x0, #{sve_p_offset}
    ldr     p0, [x1, #16, mul vl]
    wrffr   p0.b
    .irp    n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    ldr     p\n, [x1, #\n, mul vl]
    .endr
    .irp    n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    ldr     z\n, [x0, #\n, mul vl]
    .endr
    ret

// x0 = destination, x1 = source, x2 = bytes. Returns x0 = 0, or 1 if an access aborted.
.section .text.spmc_copy, "ax"
.global spmc_copy
spmc_copy:
    // 16 bytes a time while both ends are 8-byte aligned, then bytes.
    orr     x3, x0, x1
    tst     x3, #7
    b.ne    1f
3:  cmp     x2, #16
    b.lo    1f
spmc_copy_load16:
    ldp     x3, x4, [x1], #16
spmc_copy_store16:
    stp     x3, x4, [x0], #16
    sub     x2, x2, #16
    b       3b
1:  cbz     x2, 2f
spmc_copy_load:
    ldrb    w3, [x1], #1
spmc_copy_store:
    strb    w3, [x0], #1
    subs    x2, x2, #1
    b.ne    1b
2:  mov     x0, #0
    ret
spmc_copy_failed:
    mov     x0, #1
    ret

// FP/SIMD state: x0 = 32 x 16 bytes of V registers, then FPCR, FPSR.
.arch_extension fp
.arch_extension simd
.section .text.spmc_fp, "ax"
.global spmc_fp_save
spmc_fp_save:
    stp     q0, q1, [x0, #0]
    stp     q2, q3, [x0, #32]
    stp     q4, q5, [x0, #64]
    stp     q6, q7, [x0, #96]
    stp     q8, q9, [x0, #128]
    stp     q10, q11, [x0, #160]
    stp     q12, q13, [x0, #192]
    stp     q14, q15, [x0, #224]
    stp     q16, q17, [x0, #256]
    stp     q18, q19, [x0, #288]
    stp     q20, q21, [x0, #320]
    stp     q22, q23, [x0, #352]
    stp     q24, q25, [x0, #384]
    stp     q26, q27, [x0, #416]
    stp     q28, q29, [x0, #448]
    stp     q30, q31, [x0, #480]
    mrs     x1, fpcr
    mrs     x2, fpsr
    add     x3, x0, #512
    stp     x1, x2, [x3]
    ret

.global spmc_fp_restore
spmc_fp_restore:
    ldp     q0, q1, [x0, #0]
    ldp     q2, q3, [x0, #32]
    ldp     q4, q5, [x0, #64]
    ldp     q6, q7, [x0, #96]
    ldp     q8, q9, [x0, #128]
    ldp     q10, q11, [x0, #160]
    ldp     q12, q13, [x0, #192]
    ldp     q14, q15, [x0, #224]
    ldp     q16, q17, [x0, #256]
    ldp     q18, q19, [x0, #288]
    ldp     q20, q21, [x0, #320]
    ldp     q22, q23, [x0, #352]
    ldp     q24, q25, [x0, #384]
    ldp     q26, q27, [x0, #416]
    ldp     q28, q29, [x0, #448]
    ldp     q30, q31, [x0, #480]
    add     x3, x0, #512
    ldp     x1, x2, [x3]
    msr     fpcr, x1
    msr     fpsr, x2
    ret
"#,
    max_cores = const MAX_CORES,
    affinity = const AFFINITY,
    ffa_error = const FFA_ERROR,
    invalid_parameters = const INVALID_PARAMETERS,
    denied = const DENIED,
    stack_size = const STACK_SIZE,
    mair = const MAIR_EL2,
    tcr = const TCR_EL2,
    sctlr = const SCTLR_EL2,
    off_elr = const OFF_ELR,
    off_esr = const OFF_ESR,
    off_hpfar = const OFF_HPFAR,
    sync = const exit::SYNC,
    irq = const exit::IRQ,
    fiq = const exit::FIQ,
    serror = const exit::SERROR,
    aarch32 = const exit::AARCH32,
    ec_data_abort_same = const crate::exception::ec::DABT_SAME,
    sve_p_offset = const super::sve::P_OFFSET,
);

unsafe extern "C" {
    /// Runs a partition context until its next exception; returns its [`exit`] kind.
    pub fn spmc_vcpu_run(regs: *mut super::vcpu::GuestRegs) -> u64;
    /// Saves the FP/SIMD registers to `state`.
    pub fn spmc_fp_save(state: *mut super::fp::FpState);
    /// Loads the FP/SIMD registers from `state`.
    pub fn spmc_fp_restore(state: *const super::fp::FpState);
    /// Copies `len` bytes from `src` to `dst`; 0, or 1 if a load or store took a data abort
    /// (the copy stops there).
    pub fn spmc_copy(dst: *mut u8, src: *const u8, len: usize) -> u64;
    /// Saves Z0..Z31, P0..P15 and FFR at `area` (`sve::SveState`'s layout; P0 clobbered).
    pub fn spmc_sve_save(area: *mut u8);
    /// Loads what `spmc_sve_save` saved at `area`, at the same vector length.
    pub fn spmc_sve_restore(area: *const u8);
    /// Turns the MMU on with `root` as TTBR0_EL2.
    pub fn spmc_mmu_on(root: u64);
    /// The secondary entry point, registered with the SPMD.
    pub fn spmc_warm_entry();
}
