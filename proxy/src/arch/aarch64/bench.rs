//! The bench mode at NS-EL2 (`cargo xtask bench`; docs: performance.md §Method). With the
//! bench selector in host RAM, after `Proxy::init` and before the client runs, the proxy times
//! rows (a)–(c) with its own SMCs to EL3 and prints their `bench` lines; the client times row
//! (d) through the proxy afterwards.

use core::arch::asm;

use spin::Mutex;

use super::bench_rows::{self, Line};
use super::console;
use super::layout;
use crate::Regs;

/// The samples of the row being timed (in .bss: 8 KB would crowd the 16 KiB boot stack).
static TICKS: Mutex<[u64; bench_rows::ITERATIONS]> = Mutex::new([0; bench_rows::ITERATIONS]);

/// Whether the selector word asks for the benchmark.
pub fn selected() -> bool {
    // SAFETY: the word lies in host RAM, which the proxy's stage-1 maps read-write; QEMU's
    // loader wrote it before the machine started and the host, which has not run yet, is the
    // only other party. Volatile: the proxy never writes it.
    let word = unsafe { (layout::SELECTOR as *const u32).read_volatile() };
    u32::from_le(word) == bench_rows::SELECTOR
}

/// Times rows (a)–(c) and prints their lines on UART0 (no prefix: xtask parses them);
/// returns how many failed.
pub fn run() -> u64 {
    console::print_bare_line(format_args!("proxy: bench mode"));
    let mut ticks = TICKS.lock();
    let mut failed = 0;
    for row in bench_rows::PROXY_ROWS {
        let result = bench_rows::measure(row.operation, &mut ticks[..], timed_smc);
        if result.is_err() {
            failed += 1;
        }
        console::print_bare_line(format_args!(
            "{}",
            Line {
                name: row.name,
                result: &result
            }
        ));
    }
    failed
}

/// An SMC to EL3 with x0..x17 both ways, bracketed by reads of the virtual counter; returns
/// the answer and the ticks between the reads (the bracket and the `smc` add a fixed 4).
fn timed_smc(regs: &Regs) -> (Regs, u64) {
    let mut r = *regs;
    let start: u64;
    let end: u64;
    // SAFETY: an SMC to EL3 changes no memory of the proxy; x0..x17 are declared in and out,
    // and EL3 preserves x18..x30 (SMCCC), where `start` lives across the call. The counter
    // reads touch no memory.
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
