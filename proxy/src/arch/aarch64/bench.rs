//! The bench mode at NS-EL2 (`cargo xtask bench`; docs: performance.md §Method). With the
//! bench selector in host RAM, after `Proxy::init` and before the client runs, the proxy times
//! rows (a)–(c) with its own SMCs to EL3 and prints their `bench` lines; the client times row
//! (d) through the proxy afterwards.

use smc_call::timed_smc;
use spin::Mutex;

use ffa::memory::MAX_ENCODED_LEN;

use super::bench_rows::{self, Line};
use super::console;
use super::host::PhysMemory;
use super::layout;
use crate::HostMemory;

/// The samples of the row being timed (in .bss: 8 KB would crowd the 16 KiB boot stack).
pub(super) static TICKS: Mutex<[u64; bench_rows::ITERATIONS]> =
    Mutex::new([0; bench_rows::ITERATIONS]);

/// Whether the selector word asks for the benchmark.
pub fn selected() -> bool {
    // SAFETY: the word lies in host RAM, which the proxy's stage-1 maps read-write; QEMU's
    // loader wrote it before the machine started and the host, which has not run yet, is the
    // only other party. Volatile: the proxy never writes it.
    let word = unsafe { (layout::SELECTOR as *const u32).read_volatile() };
    u32::from_le(word) == bench_rows::SELECTOR
}

/// Times rows (a)–(c), the memory rows and the cycle table, and prints their lines on UART0 (no prefix: xtask
/// parses them); returns how many failed.
pub fn run() -> u64 {
    console::print_bare_line(format_args!("proxy: bench mode"));
    let mut ticks = TICKS.lock();
    let mut failed = 0;
    // The memory rows share from the proxy's own mailbox, which it maps at EL3 only when
    // the host maps its buffers: mapped here for them, and unmapped after.
    let mut map = [0u64; 18];
    map[0] = u64::from(u32::from(ffa::FuncId::RxTxMap64));
    map[1] = layout::CONFIG.tx;
    map[2] = layout::CONFIG.rx;
    map[3] = u64::from(layout::CONFIG.pages);
    let mapped = ffa::call::is_success(&smc_call::smc(&map));
    for (row, pages) in bench_rows::PROXY_ROWS {
        let mut share_len = 0;
        if pages > 0 {
            // The memory rows share from the proxy's own TX buffer (as a hypervisor would
            // after copying the host's descriptor there).
            let mut buf = [0u8; MAX_ENCODED_LEN];
            let written = bench_rows::share_descriptor(pages, &mut buf).and_then(|len| {
                let data = buf.get(..len)?;
                PhysMemory::new(&layout::CONFIG)
                    .write(layout::CONFIG.tx, data)
                    .ok()?;
                Some(len)
            });
            share_len = written.unwrap_or(0) as u32;
        }
        let result = if pages > 0 && !mapped {
            Err(bench_rows::Failure::NoMailbox)
        } else {
            bench_rows::measure(row.operation, share_len, &mut ticks[..], timed_smc)
        };
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
    // The cycle table: share + retrieve + relinquish + reclaim, from 1 to 4096 pages.
    let mut memory = PhysMemory::new(&layout::CONFIG);
    let tx_len = layout::CONFIG.pages as usize * ffa::PAGE_SIZE;
    for cycle in bench_rows::CYCLES {
        let mut write_tx = |offset: usize, bytes: &[u8]| {
            memory
                .write(layout::CONFIG.tx + offset as u64, bytes)
                .is_ok()
        };
        let samples = ticks
            .get_mut(..bench_rows::CYCLE_ITERATIONS)
            .unwrap_or(&mut []);
        let result = if mapped {
            bench_rows::measure_cycle(cycle, tx_len, &mut write_tx, samples, timed_smc)
        } else {
            Err(bench_rows::Failure::NoMailbox)
        };
        if result.is_err() {
            failed += 1;
        }
        console::print_bare_line(format_args!(
            "{}",
            Line {
                name: cycle.name,
                result: &result
            }
        ));
    }
    if mapped {
        let mut unmap = [0u64; 18];
        unmap[0] = u64::from(u32::from(ffa::FuncId::RxTxUnmap));
        smc_call::smc(&unmap);
    }
    failed
}
