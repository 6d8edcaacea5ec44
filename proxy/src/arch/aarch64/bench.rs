//! The bench mode at NS-EL2 (`cargo xtask bench`; docs: performance.md §Method). With the
//! bench selector in host RAM, after `Proxy::init` and before the client runs, the proxy times
//! rows (a)–(c) with its own SMCs to EL3 and prints their `bench` lines; the client times row
//! (d) through the proxy afterwards.

use smc_call::timed_smc;
use spin::Mutex;

use super::bench_rows::{self, Line};
use super::console;
use super::layout;

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
