//! Entry points and the EL1 vector table, in assembly.
//!
//! - `client_entry` (0x4400_0000): the proxy enters it on core 0 (MMU off, DAIF masked, x1 =
//!   how many of the proxy's bench rows failed). Zeroes .bss with aligned stores (memory is
//!   Device with the MMU off), takes core 0's stack, sets VBAR_EL1 and calls
//!   [`super::primary_main`] with that x1.
//! - `client_secondary_entry`: the entry the client gives PSCI CPU_ON for cores 1..3, with the
//!   core's number as context ID (x0). Takes that core's stack and calls
//!   [`super::secondary_main`].
//! - `client_vectors`: an abort at `client_probe`'s load (injected by the proxy for memory the
//!   host may not touch) returns from the probe with x1 = 1; any other exception is fatal to
//!   the client: [`super::exception`] reports it.

use core::arch::global_asm;

use super::CPUS;

/// log2 of each core's stack size (the linker script reserves `CPUS` of 16 KiB).
const STACK_SHIFT: u32 = 14;

global_asm!(
    r#"
    .section .text.entry, "ax"
    .global client_entry
client_entry:
    msr     daifset, #0xf
    mov     x20, x1
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
    adrp    x1, client_vectors
    add     x1, x1, :lo12:client_vectors
    msr     vbar_el1, x1
    isb
    mov     x0, x20
    bl      {primary}
2:  wfe
    b       2b

    .global client_secondary_entry
    .balign 4
client_secondary_entry:
    msr     daifset, #0xf
    cbz     x0, 9f
    cmp     x0, #{cpus}
    b.hs    9f
    mov     x19, x0
    adrp    x1, __stacks_start
    add     x1, x1, :lo12:__stacks_start
    add     x2, x19, #1
    lsl     x2, x2, #{stack_shift}
    add     sp, x1, x2
    adrp    x1, client_vectors
    add     x1, x1, :lo12:client_vectors
    msr     vbar_el1, x1
    isb
    mov     x0, x19
    bl      {secondary}
9:  wfe
    b       9b

    .section .text.client_vectors, "ax"
    .balign 2048
client_vectors:
    .irp    kind, 0, 1, 2, 3
    .balign 128
    mov     x0, #\kind
    b       {exception}
    .endr
    .balign 128
    b       client_sync
    .irp    kind, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 128
    mov     x0, #\kind
    b       {exception}
    .endr

// A synchronous exception at EL1: at the probe's load (an abort the proxy injected), x1 = 1
// and the load is skipped; anything else is fatal.
client_sync:
    mrs     x9, elr_el1
    adr     x10, client_probe_load
    cmp     x9, x10
    b.ne    1f
    add     x9, x9, #4
    msr     elr_el1, x9
    mov     x0, #0
    mov     x1, #1
    eret
1:  mov     x0, #4
    b       {exception}

// x0 = address: loads the word there; x1 = 1 if the load faulted (x9, x10 clobbered then).
    .section .text.client_probe, "ax"
    .global client_probe
client_probe:
    mov     x1, #0
client_probe_load:
    ldr     x0, [x0]
    ret
"#,
    stack_shift = const STACK_SHIFT,
    cpus = const CPUS,
    primary = sym super::primary_main,
    secondary = sym super::secondary_main,
    exception = sym super::exception,
);

unsafe extern "C" {
    /// The secondary entry above (an address only: PSCI starts cores there).
    fn client_secondary_entry();
}

/// The address other cores start at.
pub fn secondary_entry() -> u64 {
    client_secondary_entry as *const () as u64
}
