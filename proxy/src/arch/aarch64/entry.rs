//! Entry points and the EL2 vector table, in assembly.
//!
//! - `proxy_entry`: TF-A's BL33 entry on the primary core (MMU off, x0 = DTB). Zeroes .bss
//!   with aligned stores (all memory is Device with the MMU off), takes core 0's stack, sets
//!   VBAR_EL2 and calls [`super::primary_main`].
//! - `proxy_warm_entry`: where EL3 starts a core the host powered on (or that wakes from a
//!   power-down suspend). Finds the core's position from MPIDR, turns the proxy's stage-1 on
//!   with the values the primary published in [`WARM_PARAMS`] (before its own stack is
//!   touched), and calls [`super::warm_main`].
//! - `proxy_vectors`: every exception saves x0..x30 in a [`Frame`] on the core's stack and
//!   calls [`super::trap`] with its vector number (0..15, in table order).

use core::arch::global_asm;
use core::sync::atomic::AtomicU64;

use crate::psci::MAX_CPUS;

/// log2 of each core's stack size (the linker script reserves `MAX_CPUS` of 16 KiB).
pub const STACK_SHIFT: u32 = 14;

/// Vector numbers (`kind` in [`super::trap`]): table slot / 128 bytes.
pub mod vector {
    /// Synchronous exception from the host (lower EL, AArch64).
    pub const LOWER_SYNC: u64 = 8;
}

/// The general registers of the interrupted context; the vector restores them on return.
#[repr(C)]
pub struct Frame {
    /// x0..x30.
    pub x: [u64; 31],
    _pad: u64,
}

/// Stage-1 state a warm core loads with its MMU still off: MAIR_EL2, TCR_EL2, TTBR0_EL2,
/// SCTLR_EL2. The primary stores them (plain stores) before its own MMU is on, so they sit in
/// memory where a core with caches off reads them. Alone on its cache line.
#[repr(C, align(64))]
pub struct WarmParams(pub [AtomicU64; 4]);

/// See [`WarmParams`].
pub static WARM_PARAMS: WarmParams = WarmParams([const { AtomicU64::new(0) }; 4]);

global_asm!(
    r#"
    .section .text.entry, "ax"
    .global proxy_entry
proxy_entry:
    msr     daifset, #0xf
    mov     x19, x0
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
0:  cmp     x1, x2
    b.hs    1f
    str     xzr, [x1], #8
    b       0b
1:  adrp    x1, __stacks_start
    add     x1, x1, :lo12:__stacks_start
    mov     x2, #(1 << {stack_shift})
    add     sp, x1, x2
    adrp    x1, proxy_vectors
    add     x1, x1, :lo12:proxy_vectors
    msr     vbar_el2, x1
    isb
    mov     x0, x19
    bl      {primary}
2:  wfe
    b       2b

    .section .text.proxy_warm_entry, "ax"
    .global proxy_warm_entry
    .balign 4
proxy_warm_entry:
    msr     daifset, #0xf
    mrs     x1, mpidr_el1
    ubfx    x2, x1, #0, #8
    ubfx    x3, x1, #8, #8
    ubfx    x4, x1, #16, #8
    ubfx    x5, x1, #32, #8
    orr     x4, x4, x5
    cbnz    x4, 9f
    cmp     x2, #16
    b.hs    9f
    add     x2, x2, x3, lsl #4
    cmp     x2, #{max_cpus}
    b.hs    9f
    adrp    x3, {params}
    add     x3, x3, :lo12:{params}
    ldp     x4, x5, [x3]
    msr     mair_el2, x4
    msr     tcr_el2, x5
    ldp     x4, x5, [x3, #16]
    msr     ttbr0_el2, x4
    isb
    tlbi    alle2
    dsb     nsh
    isb
    msr     sctlr_el2, x5
    isb
    adrp    x1, __stacks_start
    add     x1, x1, :lo12:__stacks_start
    add     x4, x2, #1
    lsl     x4, x4, #{stack_shift}
    add     sp, x1, x4
    adrp    x1, proxy_vectors
    add     x1, x1, :lo12:proxy_vectors
    msr     vbar_el2, x1
    isb
    mov     x0, x2
    bl      {warm}
9:  wfe
    b       9b

    .section .text.proxy_vectors, "ax"
    .balign 2048
    .global proxy_vectors
proxy_vectors:
    .irp    kind, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 128
    sub     sp, sp, #256
    stp     x0, x1, [sp]
    mov     x0, #\kind
    b       proxy_trap_common
    .endr

proxy_trap_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    str     x30, [sp, #240]
    mov     x1, sp
    bl      {trap}
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldr     x30, [sp, #240]
    ldp     x0, x1, [sp]
    add     sp, sp, #256
    eret
"#,
    stack_shift = const STACK_SHIFT,
    max_cpus = const MAX_CPUS,
    params = sym WARM_PARAMS,
    primary = sym super::primary_main,
    warm = sym super::warm_main,
    trap = sym super::trap,
);

unsafe extern "C" {
    /// The warm entry above (an address only: EL3 jumps there).
    fn proxy_warm_entry();
    /// Start of the per-core stacks (linker script).
    static __stacks_start: u8;
}

/// The address of the warm entry, for EL3.
pub fn warm_entry() -> u64 {
    proxy_warm_entry as *const () as u64
}

/// The top of core `core`'s stack.
pub fn stack_top(core: usize) -> u64 {
    // Only the symbol's address is taken; nothing is read through it.
    let base = &raw const __stacks_start as u64;
    base + ((core as u64 + 1) << STACK_SHIFT)
}
