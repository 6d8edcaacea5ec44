//! `memcpy` for the SPMC image, in place of the compiler's generic one.
//!
//! The compiler copies every value larger than a few words (a call's registers, a context's
//! saved registers, descriptors) with `memcpy`. The generic one moves 8 bytes per loop
//! iteration; this one aligns the destination, then moves 64 bytes per iteration with paired
//! loads and stores when the source is aligned too, or 8 per iteration from two aligned
//! source words when it is not. Unaligned wide accesses are never made: before the MMU is on
//! all memory is Device memory, where they fault. (An aligned source word may hold bytes past
//! the source's end; it never crosses a page.)
//!
//! The compiler's own is a weak symbol; this one, defined here, is the one linked.

use core::arch::global_asm;

global_asm!(
    r#"
.section .text.memcpy, "ax"
.global memcpy
.type memcpy, %function
.p2align 4
memcpy:
    mov     x3, x0
    cmp     x2, #16
    b.lo    3f
5:  tst     x3, #7
    b.eq    6f
    ldrb    w4, [x1], #1
    strb    w4, [x3], #1
    sub     x2, x2, #1
    b       5b
6:  tst     x1, #7
    b.ne    7f
0:  cmp     x2, #64
    b.lo    1f
    ldp     x4, x5, [x1]
    ldp     x6, x7, [x1, #16]
    ldp     x8, x9, [x1, #32]
    ldp     x10, x11, [x1, #48]
    stp     x4, x5, [x3]
    stp     x6, x7, [x3, #16]
    stp     x8, x9, [x3, #32]
    stp     x10, x11, [x3, #48]
    add     x1, x1, #64
    add     x3, x3, #64
    sub     x2, x2, #64
    b       0b
1:  cmp     x2, #16
    b.lo    2f
    ldp     x4, x5, [x1], #16
    stp     x4, x5, [x3], #16
    sub     x2, x2, #16
    b       1b
2:  cmp     x2, #8
    b.lo    3f
    ldr     x4, [x1], #8
    str     x4, [x3], #8
    sub     x2, x2, #8
3:  cbz     x2, 4f
    ldrb    w4, [x1], #1
    strb    w4, [x3], #1
    sub     x2, x2, #1
    b       3b
4:  ret
    // Source misaligned by k bytes, destination aligned: each 8 bytes are the top 8 - k
    // bytes of one aligned source word and the low k of the next (little-endian).
7:  and     x5, x1, #7
    lsl     x5, x5, #3
    neg     x6, x5
    bic     x7, x1, #7
    ldr     x8, [x7], #8
8:  cmp     x2, #8
    b.lo    3b
    ldr     x9, [x7], #8
    lsr     x10, x8, x5
    lsl     x11, x9, x6
    orr     x10, x10, x11
    str     x10, [x3], #8
    mov     x8, x9
    add     x1, x1, #8
    sub     x2, x2, #8
    b       8b
.size memcpy, . - memcpy
"#
);
