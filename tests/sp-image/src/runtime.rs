//! The bare-metal side of an image: entry, exception vectors, `smc`, the partition's memory
//! (with PROBE's raw load and CRASH's unhandled fault), console output and the panic handler.
//!
//! Entry (from the SPMC, MMU off until [`crate::mmu::enable`], x0..x17 as the SPMC set
//! them):
//! - `sp_entry` (load + 0x4000): cold boot of context 0 (x0 = the boot-information blob);
//! - `sp_warm_entry` (load + 0x4100): a context started at the warm-boot entry relay
//!   registers; its index is MPIDR_EL1.Aff0.
//!
//! Both mask interrupts, select SP_EL1, take the context's stack ([`crate::layout`]); the cold
//! entry alone zeroes the bss (warm entries run while other contexts do). Then VBAR_EL1 = our
//! vectors, x0..x17 saved on the stack, and `sp_main` (the bin's, from [`partition_image!`])
//! runs [`run`].
//!
//! Faults: a synchronous exception at the PROBE load (`sp_probe_load`) or at one of the
//! register accesses TRAPPED_REGISTERS tries (`sp_try_*_insn`) is recorded (ESR, FAR) and
//! skipped; any other exception is logged and the partition crashes on purpose, so the SPMC
//! aborts it and its callers get ABORTED rather than a hang.

use core::arch::{asm, global_asm};
use core::fmt::Write;

pub use smc_call::smc;
use test_partitions::protocol::{FpRegs, fp_pattern};
use test_partitions::{Definition, Fault, FpSeen, Instance, SpEnv, Spin, TestPartition};

use crate::Regs;
use crate::console::Line;
use crate::layout::{MAX_CONTEXTS, STACK_SIZE};

/// Where CRASH loads from: secure RAM below the SPMC, mapped to no partition.
const CRASH_ADDRESS: u64 = 0x0e00_0000;

global_asm!(
    r#"
    .section .text.entry, "ax"
    .global sp_entry
    .global sp_warm_entry

sp_entry:
    mov     x18, #0
    mov     x19, #0
    b       2f

    .org    0x100
sp_warm_entry:
    mrs     x18, mpidr_el1
    and     x18, x18, #0xff
    mov     x19, #1

2:  msr     daifset, #0xf
    msr     spsel, #1
    cmp     x18, #{max_contexts}
    b.hs    9f
    ldr     x20, ={stack_top}
    mov     x21, #{stack_size}
    msub    x20, x18, x21, x20
    mov     sp, x20
    cbnz    x19, 4f
    ldr     x20, ={bss_start}
    ldr     x21, ={bss_end}
3:  cmp     x20, x21
    b.hs    4f
    str     xzr, [x20], #8
    b       3b
4:  ldr     x20, ={vectors}
    msr     vbar_el1, x20
    isb
    sub     sp, sp, #144
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    mov     x0, sp
    mov     x1, x18
    mov     x2, x19
    bl      sp_main
9:  wfe
    b       9b
    .ltorg

    .section .text.vectors, "ax"
    .global sp_vectors
    .balign 0x800
sp_vectors:
    .irp    index, 0, 1, 2, 3
    .balign 0x80
    mov     x0, #\index
    b       sp_vector_other
    .endr
    .balign 0x80
    b       sp_vector_sync
    .irp    index, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    mov     x0, #\index
    b       sp_vector_other
    .endr

sp_vector_sync:
    mrs     x9, elr_el1
    adr     x10, sp_probe_load
    cmp     x9, x10
    b.eq    2f
    adr     x10, sp_poke_store
    cmp     x9, x10
    b.eq    2f
    adr     x10, sp_try_pmcr_insn
    cmp     x9, x10
    b.eq    2f
    adr     x10, sp_try_dbgbvr0_insn
    cmp     x9, x10
    b.eq    2f
    adr     x10, sp_try_actlr_insn
    cmp     x9, x10
    b.eq    2f
    adr     x10, sp_try_sgi1r_insn
    cmp     x9, x10
    b.eq    2f
    adr     x10, sp_try_sre_insn
    cmp     x9, x10
    b.eq    2f
    adr     x10, sp_try_pmr_insn
    cmp     x9, x10
    b.eq    2f
    adr     x10, sp_read_sre_insn
    cmp     x9, x10
    b.eq    2f
    adr     x10, sp_try_mdscr_insn
    cmp     x9, x10
    b.ne    1f
2:  mrs     x2, esr_el1
    mrs     x3, far_el1
    mov     x1, #1
    add     x9, x9, #4
    msr     elr_el1, x9
    eret
1:  mov     x0, #4
sp_vector_other:
    mrs     x1, esr_el1
    mrs     x2, elr_el1
    mrs     x3, far_el1
    bl      {unexpected}
    b       .

    .section .text.sp_probe, "ax"
    .global sp_probe
sp_probe:
    mov     x1, #0
    mov     x2, #0
    mov     x3, #0
sp_probe_load:
    ldr     x0, [x0]
    ret

    .global sp_poke
sp_poke:
    mov     x2, #0
    mov     x3, #0
    mov     x4, x1
    mov     x1, #0
sp_poke_store:
    str     x4, [x0]
    ret

// Register accesses the SPMC must trap: each returns x1 = 1 with x2 = ESR_EL1 if it faulted.
    .global sp_try_pmcr
sp_try_pmcr:
    mov     x1, #0
    mov     x2, #0
    mov     x3, #0
sp_try_pmcr_insn:
    mrs     x0, pmcr_el0
    ret

    .global sp_try_dbgbvr0
sp_try_dbgbvr0:
    mov     x1, #0
    mov     x2, #0
    mov     x3, #0
sp_try_dbgbvr0_insn:
    mrs     x0, dbgbvr0_el1
    ret

    .global sp_try_actlr
sp_try_actlr:
    mov     x1, #0
    mov     x2, #0
    mov     x3, #0
sp_try_actlr_insn:
    msr     actlr_el1, xzr
    ret

// An SGI to an empty target list: were the write to reach the GIC, it would signal no core.
    .global sp_try_sgi1r
sp_try_sgi1r:
    mov     x1, #0
    mov     x2, #0
    mov     x3, #0
sp_try_sgi1r_insn:
    msr     icc_sgi1r_el1, xzr
    ret

// Turning the system-register interface off: hostile, and harmless where it is fixed on.
    .global sp_try_sre
sp_try_sre:
    mov     x1, #0
    mov     x2, #0
    mov     x3, #0
sp_try_sre_insn:
    msr     icc_sre_el1, xzr
    ret

// x0 = ICC_SRE_EL1, or x1 = 1 if the read faulted.
    .global sp_read_sre
sp_read_sre:
    mov     x0, #0
    mov     x1, #0
    mov     x2, #0
    mov     x3, #0
sp_read_sre_insn:
    mrs     x0, icc_sre_el1
    ret

// The debug control register: a write the normal world would feel were it not trapped.
    .global sp_try_mdscr
sp_try_mdscr:
    mov     x1, #0
    mov     x2, #0
    mov     x3, #0
sp_try_mdscr_insn:
    msr     mdscr_el1, xzr
    ret

    .global sp_try_pmr
sp_try_pmr:
    mov     x1, #0
    mov     x2, #0
    mov     x3, #0
sp_try_pmr_insn:
    msr     icc_pmr_el1, xzr
    ret

// x0 = where to store V0..V31, FPCR, FPSR as they are (512 + 16 bytes), x1 = what to load
// into them then; FP/SIMD enabled at EL1 first (CPACR_EL1.FPEN). Clobbers x2..x4.
    .arch_extension fp
    .arch_extension simd
    .section .text.sp_fp_swap, "ax"
    .global sp_fp_swap
sp_fp_swap:
    mrs     x2, cpacr_el1
    orr     x2, x2, #(3 << 20)
    msr     cpacr_el1, x2
    isb
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
    mrs     x2, fpcr
    mrs     x3, fpsr
    add     x4, x0, #512
    stp     x2, x3, [x4]
    ldp     q0, q1, [x1, #0]
    ldp     q2, q3, [x1, #32]
    ldp     q4, q5, [x1, #64]
    ldp     q6, q7, [x1, #96]
    ldp     q8, q9, [x1, #128]
    ldp     q10, q11, [x1, #160]
    ldp     q12, q13, [x1, #192]
    ldp     q14, q15, [x1, #224]
    ldp     q16, q17, [x1, #256]
    ldp     q18, q19, [x1, #288]
    ldp     q20, q21, [x1, #320]
    ldp     q22, q23, [x1, #352]
    ldp     q24, q25, [x1, #384]
    ldp     q26, q27, [x1, #416]
    ldp     q28, q29, [x1, #448]
    ldp     q30, q31, [x1, #480]
    add     x4, x1, #512
    ldp     x2, x3, [x4]
    msr     fpcr, x2
    msr     fpsr, x3
    ret

// Spins until CNTPCT_EL0 >= x0 with x1..x15 = n | n << 32; returns in x0 how many of them
// then differ (x16, x17 are the loop's own).
    .global sp_spin
sp_spin:
    .irp    n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    mov     x\n, #\n
    orr     x\n, x\n, x\n, lsl #32
    .endr
1:  isb
    mrs     x16, cntpct_el0
    cmp     x16, x0
    b.lo    1b
    mov     x17, #0
    .irp    n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    mov     x16, #\n
    orr     x16, x16, x16, lsl #32
    cmp     x\n, x16
    cinc    x17, x17, ne
    .endr
    mov     x0, x17
    ret
"#,
    max_contexts = const MAX_CONTEXTS,
    stack_size = const STACK_SIZE,
    stack_top = sym __stack_top,
    bss_start = sym __bss_start,
    bss_end = sym __bss_end,
    vectors = sym sp_vectors,
    unexpected = sym unexpected_exception,
);

unsafe extern "C" {
    // Linker-script symbols (their addresses only) and labels of the assembly above.
    static __stack_top: u8;
    static __bss_start: u8;
    static __bss_end: u8;
    static sp_vectors: u8;
    safe fn sp_entry();
    safe fn sp_warm_entry();
}

/// Defines the image's `sp_main` for the partition `$def` (a `test_partitions::Definition`).
#[macro_export]
macro_rules! partition_image {
    ($def:path) => {
        /// Entered from the assembly entry on the context's own stack.
        #[unsafe(no_mangle)]
        extern "C" fn sp_main(regs: *const $crate::Regs, context: u64, warm: u64) -> ! {
            // SAFETY: the entry passes the 18 words it saved x0..x17 to, on this context's
            // stack, and never touches them again.
            unsafe { $crate::runtime::run(&$def, regs, context, warm) }
        }
    };
}

/// Runs execution context `context` of `def` (started at the warm-boot entry if `warm` is
/// nonzero) from the registers the SPMC entered it with, forever.
///
/// # Safety
///
/// `regs` points to 18 readable, aligned words (x0..x17 as the entry saved them) that nothing
/// else writes.
pub unsafe fn run(def: &'static Definition, regs: *const Regs, context: u64, warm: u64) -> ! {
    // SAFETY: the caller's contract.
    let mut regs: Regs = unsafe { core::ptr::read(regs) };
    crate::mmu::enable();
    let Some(vcpu) = u16::try_from(context)
        .ok()
        .filter(|&v| v < def.exec_ctx_count)
    else {
        let mut line = Line::new();
        let _ = write!(line, "{}: no execution context {context}", def.name);
        log(&line);
        crash();
        park();
    };
    let pc = if warm != 0 {
        sp_warm_entry as *const () as usize as u64
    } else {
        sp_entry as *const () as usize as u64
    };
    let mut instance = Instance::for_execution_context(def, vcpu);
    instance.start(pc);
    let mut env = OwnMemory { def };
    let mut announced = false;
    loop {
        let call = instance.step(&regs, &mut env);
        if !announced && instance.machine().is_waiting() {
            announced = true;
            let m = instance.machine();
            let mut line = Line::new();
            let _ = write!(
                line,
                "{} {:#06x} ctx {}: ready, faults {:#04x}",
                def.name,
                def.endpoint_id,
                m.vcpu(),
                m.faults()
            );
            log(&line);
        }
        regs = smc(&call);
    }
}

/// Prints `line` through FFA_CONSOLE_LOG; a refused call is not retried.
pub fn log(line: &Line) {
    for call in line.calls() {
        smc(&call);
    }
}

/// The partition's memory: its own window for checked copies (byte by byte: before its MMU is
/// on every access is to Device memory, which faults on misalignment).
struct OwnMemory {
    def: &'static Definition,
}

impl SpEnv for OwnMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        if !self.def.contains(addr, buf.len() as u64) {
            return false;
        }
        for (offset, byte) in (0u64..).zip(buf.iter_mut()) {
            let at = (addr + offset) as usize as *const u8;
            // SAFETY: `at` lies in the partition's own window (checked above), which stage 2
            // maps readable for it; nothing else of this program holds a reference there.
            *byte = unsafe { at.read_volatile() };
        }
        true
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> bool {
        if !self.def.contains(addr, data.len() as u64) {
            return false;
        }
        for (offset, byte) in (0u64..).zip(data) {
            let at = (addr + offset) as usize as *mut u8;
            // SAFETY: as for `read`; the window's image and stacks are never handed out, only
            // the package, manifest and buffer areas the partition's calls name.
            unsafe { at.write_volatile(*byte) };
        }
        true
    }

    fn clobber_cpu_state(&mut self) {
        // SAFETY: writes the EL1 timers only (CNTHCTL_EL2 gives S-EL1 access): timers off,
        // compare values no deadline reaches. No memory is touched.
        unsafe {
            asm!(
                "msr cntv_cval_el0, {max}",
                "msr cntv_ctl_el0, xzr",
                "msr cntp_cval_el0, {max}",
                "msr cntp_ctl_el0, xzr",
                "isb",
                max = in(reg) u64::MAX,
                options(nomem, nostack, preserves_flags),
            )
        };
    }

    fn probe(&mut self, addr: u64) -> Result<u64, Fault> {
        let (value, faulted, esr, far): (u64, u64, u64, u64);
        // SAFETY: `sp_probe` loads one aligned word from `addr` (the caller checked the
        // alignment) without touching memory otherwise. A fault at that load is taken by our
        // synchronous vector, which sets x1..x3 and returns past it (x9, x10 clobbered).
        unsafe {
            asm!(
                "bl sp_probe",
                inout("x0") addr => value,
                out("x1") faulted,
                out("x2") esr,
                out("x3") far,
                out("x9") _,
                out("x10") _,
                out("x30") _,
                options(nostack, readonly),
            );
        }
        if faulted == 0 {
            Ok(value)
        } else {
            Err(Fault {
                address: far,
                syndrome: esr,
            })
        }
    }

    fn poke(&mut self, addr: u64, value: u64) -> Result<(), Fault> {
        let (faulted, esr, far): (u64, u64, u64);
        // SAFETY: `sp_poke` stores one aligned word at `addr` (the caller checked the
        // alignment) and touches nothing else; a fault at that store is taken by our
        // synchronous vector, which sets x1..x3 and returns past it (x9, x10 clobbered). The
        // address is memory the scenario gave it (retrieved), or the fault is the point.
        unsafe {
            asm!(
                "bl sp_poke",
                inout("x0") addr => _,
                inout("x1") value => faulted,
                out("x2") esr,
                out("x3") far,
                out("x4") _,
                out("x9") _,
                out("x10") _,
                out("x30") _,
                options(nostack),
            );
        }
        if faulted == 0 {
            Ok(())
        } else {
            Err(Fault {
                address: far,
                syndrome: esr,
            })
        }
    }

    fn crash(&mut self) {
        crash();
    }

    fn fp_pattern(&mut self, last: u32, seed: u32) -> Option<FpSeen> {
        let new = FpArea::from(&fp_pattern(seed));
        let mut found = FpArea::from(&fp_pattern(0));
        // SAFETY: `sp_fp_swap` stores the FP/SIMD registers to `found` and loads them from
        // `new`, both FpArea (its layout); it changes no other memory, and only the FP/SIMD
        // registers, CPACR_EL1.FPEN and x2..x4. This program is soft-float: nothing else of
        // it keeps a value in FP/SIMD registers.
        unsafe {
            asm!(
                "bl sp_fp_swap",
                in("x0") &raw mut found,
                in("x1") &raw const new,
                out("x2") _, out("x3") _, out("x4") _, out("x30") _,
                options(nostack),
            )
        };
        let found = FpRegs {
            v: found.v,
            fpcr: found.fpcr,
            fpsr: found.fpsr,
        };
        Some(if last == 0 {
            FpSeen {
                vectors: 0,
                control: 0,
            }
        } else {
            FpSeen::compare(&found, last)
        })
    }

    fn spin(&mut self, ms: u64) -> Option<Spin> {
        // Any exception counts: without a GIC interface the write is simply undefined.
        let pmr_write_faulted = try_pmr().faulted;
        let (now, frequency): (u64, u64);
        // SAFETY: reads the physical counter and its frequency (CNTHCTL_EL2 lets EL1 do so).
        unsafe {
            asm!(
                "isb",
                "mrs {now}, cntpct_el0",
                "mrs {frequency}, cntfrq_el0",
                now = out(reg) now,
                frequency = out(reg) frequency,
                options(nomem, nostack, preserves_flags),
            )
        };
        let deadline = now.saturating_add(ms.saturating_mul(frequency / 1000));
        let changed: u64;
        // SAFETY: `sp_spin` only reads the counter and uses x0..x17; it touches no memory.
        unsafe {
            asm!(
                "bl sp_spin",
                inout("x0") deadline => changed,
                out("x1") _, out("x2") _, out("x3") _, out("x4") _, out("x5") _,
                out("x6") _, out("x7") _, out("x8") _, out("x9") _, out("x10") _,
                out("x11") _, out("x12") _, out("x13") _, out("x14") _, out("x15") _,
                out("x16") _, out("x17") _, out("x30") _,
                options(nomem, nostack),
            )
        };
        Some(Spin {
            changed_registers: changed,
            pmr_write_faulted,
        })
    }

    fn trapped_registers(&mut self) -> Option<u8> {
        let mut mask = 0;
        for (bit, faulted) in [
            try_pmcr().unknown(),
            try_dbgbvr0().unknown(),
            try_actlr().unknown(),
            try_sgi1r().unknown(),
            try_sre().unknown() || sre_still_on(),
            try_mdscr().unknown(),
        ]
        .into_iter()
        .enumerate()
        {
            if faulted {
                mask |= 1 << bit;
            }
        }
        Some(mask)
    }
}

/// FP/SIMD registers as `sp_fp_swap` stores and loads them.
#[repr(C, align(16))]
struct FpArea {
    v: [u128; 32],
    fpcr: u64,
    fpsr: u64,
}

impl From<&FpRegs> for FpArea {
    fn from(r: &FpRegs) -> Self {
        Self {
            v: r.v,
            fpcr: r.fpcr,
            fpsr: r.fpsr,
        }
    }
}

/// Takes a fault with no exception vector: the SPMC aborts the partition and never resumes
/// it. Returns only if the SPMC resumed it anyway, with its vectors back in place.
fn crash() {
    // SAFETY: with VBAR_EL1 = 0 the load from memory no partition maps faults and cannot be
    // taken by us; should the SPMC resume us instead, VBAR_EL1 is restored before any other
    // exception can happen.
    unsafe {
        asm!(
            "msr vbar_el1, xzr",
            "isb",
            "ldr {tmp}, [{addr}]",
            "adrp {tmp}, {vectors}",
            "add {tmp}, {tmp}, :lo12:{vectors}",
            "msr vbar_el1, {tmp}",
            "isb",
            addr = in(reg) CRASH_ADDRESS,
            tmp = out(reg) _,
            vectors = sym sp_vectors,
            options(nostack),
        );
    }
}

/// What one of the `sp_try_*`/`sp_read_*` routines saw: x0 (a value read), whether the
/// access faulted, and ESR_EL1 if it did.
struct Tried {
    value: u64,
    faulted: bool,
    esr: u64,
}

impl Tried {
    /// It took an Unknown-reason exception (the SPMC's answer to a trapped access).
    fn unknown(&self) -> bool {
        self.faulted && (self.esr >> 26) & 0x3f == 0
    }
}

/// Defines a function calling the routine `$symbol`, which makes one system-register access.
macro_rules! try_routine {
    ($name:ident, $symbol:literal) => {
        fn $name() -> Tried {
            let (value, faulted, esr): (u64, u64, u64);
            // SAFETY: the routine makes one system-register access and changes no memory; if
            // the access faults, our synchronous vector records it in x1..x3 and returns past
            // it (x9, x10 clobbered). The values written (ACTLR_EL1 = 0, an SGI to no core, a
            // priority mask of 0, MDSCR_EL1 = 0) only matter to a CPU interface the SPMC does
            // not give us, or to debug the SPMC traps.
            unsafe {
                asm!(
                    concat!("bl ", $symbol),
                    out("x0") value,
                    out("x1") faulted,
                    out("x2") esr,
                    out("x3") _,
                    out("x9") _,
                    out("x10") _,
                    out("x30") _,
                    options(nostack),
                );
            }
            Tried {
                value,
                faulted: faulted != 0,
                esr,
            }
        }
    };
}

try_routine!(try_pmcr, "sp_try_pmcr");
try_routine!(try_dbgbvr0, "sp_try_dbgbvr0");
try_routine!(try_actlr, "sp_try_actlr");
try_routine!(try_sgi1r, "sp_try_sgi1r");
try_routine!(try_sre, "sp_try_sre");
try_routine!(read_sre, "sp_read_sre");
try_routine!(try_pmr, "sp_try_pmr");
try_routine!(try_mdscr, "sp_try_mdscr");

/// After a write of 0 went through: whether ICC_SRE_EL1.SRE still reads 1 (the GIC fixes
/// it) or the read traps.
fn sre_still_on() -> bool {
    let read = read_sre();
    read.faulted || read.value & 1 == 1
}

/// Waits forever.
fn park() -> ! {
    loop {
        // SAFETY: WFE only waits for an event.
        unsafe { asm!("wfe", options(nomem, nostack)) };
    }
}

/// An exception the partition did not expect (`vector` = the vector table entry index).
extern "C" fn unexpected_exception(vector: u64, esr: u64, elr: u64, far: u64) -> ! {
    let mut line = Line::new();
    let _ = write!(
        line,
        "FATAL: exception {vector}: esr {esr:#x} elr {elr:#x} far {far:#x}"
    );
    log(&line);
    crash();
    park();
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let mut line = Line::new();
    let _ = write!(line, "FATAL: panic: {}", info.message());
    if let Some(at) = info.location() {
        let _ = write!(line, " at {}:{}", at.file(), at.line());
    }
    log(&line);
    crash();
    park();
}
