//! The bench mode at NS-EL2 (`cargo xtask bench`; docs: performance.md §Method). With the
//! bench selector in host RAM, after `Proxy::init` and before the client runs, the proxy times
//! its rows (`bench_rows::PROXY_ROWS`) and the cycle table with its own SMCs to EL3 and prints
//! their `bench` lines; the client times row (d) through the proxy afterwards. With the
//! profile selector it times the same rows with fewer calls, each timed call marked in its
//! SMC immediate for QEMU's execution log, and skips the cycle table.

use smc_call::{timed_smc, timed_smc_marked};
use spin::Mutex;

use ffa::Regs;
use ffa::memory::MAX_ENCODED_LEN;

use super::bench_rows::{self, Call, Line, MailboxState, Setup};
use super::console;
use super::host::PhysMemory;
use super::layout;
use crate::HostMemory;

/// The samples of the row being timed (in .bss: 8 KB would crowd the 16 KiB boot stack).
pub(super) static TICKS: Mutex<[u64; bench_rows::ITERATIONS]> =
    Mutex::new([0; bench_rows::ITERATIONS]);

/// Which run the selector word asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The bench boot: every row and the cycle table, [`bench_rows::ITERATIONS`] calls a row.
    Bench,
    /// The profile boot: the rows with [`bench_rows::PROFILE_ITERATIONS`] marked calls each.
    Profile,
}

impl Mode {
    /// Timed calls a row.
    pub(super) fn iterations(self) -> usize {
        match self {
            Mode::Bench => bench_rows::ITERATIONS,
            Mode::Profile => bench_rows::PROFILE_ITERATIONS,
        }
    }
}

/// The timed call of row `name`: in the profile boot, its timed calls carry the row's mark in
/// the SMC immediate (the others, and every call of the bench boot, `smc #0`).
pub(super) fn timed_call(mode: Mode, name: &str) -> impl Fn(&Regs, Call) -> (Regs, u64) {
    let mark = bench_rows::mark_of(name);
    move |regs: &Regs, call: Call| match (mode, call, mark) {
        (Mode::Profile, Call::Timed, Some(mark)) => {
            timed_smc_marked(mark, regs).unwrap_or_else(|| timed_smc(regs))
        }
        _ => timed_smc(regs),
    }
}

/// The run the selector word asks for, if it asks for one of the bench's.
pub fn selected() -> Option<Mode> {
    // SAFETY: the word lies in host RAM, which the proxy's stage-1 maps read-write; QEMU's
    // loader wrote it before the machine started and the host, which has not run yet, is the
    // only other party. Volatile: the proxy never writes it.
    let word = u32::from_le(unsafe { (layout::SELECTOR as *const u32).read_volatile() });
    match word {
        bench_rows::SELECTOR => Some(Mode::Bench),
        bench_rows::PROFILE_SELECTOR => Some(Mode::Profile),
        _ => None,
    }
}

/// The proxy's own RX/TX pair.
const MAILBOX: bench_rows::Mailbox = bench_rows::Mailbox {
    tx: layout::CONFIG.tx,
    rx: layout::CONFIG.rx,
    pages: layout::CONFIG.pages,
};

/// Maps (or unmaps) the proxy's own pair at EL3, untimed; whether it was answered SUCCESS.
fn set_mailbox(mapped: bool) -> bool {
    let mut regs = [0u64; 18];
    if mapped {
        regs[0] = u64::from(u32::from(ffa::FuncId::RxTxMap64));
        regs[1] = MAILBOX.tx;
        regs[2] = MAILBOX.rx;
        regs[3] = u64::from(MAILBOX.pages);
    } else {
        regs[0] = u64::from(u32::from(ffa::FuncId::RxTxUnmap));
    }
    ffa::call::is_success(&smc_call::smc(&regs))
}

/// Times the rows (and, in the bench boot, the cycle table), and prints their lines on UART0
/// (no prefix: xtask parses them); returns how many failed.
pub fn run(mode: Mode) -> u64 {
    console::print_bare_line(format_args!(
        "proxy: {} mode",
        match mode {
            Mode::Bench => "bench",
            Mode::Profile => "profile",
        }
    ));
    let iterations = mode.iterations();
    let mut ticks = TICKS.lock();
    let mut failed = 0;
    // The proxy maps its own pair at EL3 only when the host maps its buffers: here the rows
    // that need it mapped get it mapped, the rows that map it themselves get it unmapped.
    let mut mapped = false;
    for proxy_row in bench_rows::PROXY_ROWS {
        let row = proxy_row.row;
        let wanted = match row.operation.mailbox() {
            MailboxState::Any => mapped,
            MailboxState::Mapped => true,
            MailboxState::Unmapped => false,
        };
        let mut ready = true;
        if wanted != mapped {
            ready = set_mailbox(wanted);
            mapped = wanted && ready;
        }
        let mut share_len = 0;
        if ready && proxy_row.pages > 0 {
            // The memory rows share from the proxy's own TX buffer (as a hypervisor would
            // after copying the host's descriptor there).
            let mut buf = [0u8; MAX_ENCODED_LEN];
            let written = bench_rows::share_descriptor(proxy_row.pages, &mut buf).and_then(|len| {
                let data = buf.get(..len)?;
                PhysMemory::new(&layout::CONFIG)
                    .write(MAILBOX.tx, data)
                    .ok()?;
                Some(len)
            });
            ready = written.is_some();
            share_len = written.unwrap_or(0) as u32;
        }
        let memory = PhysMemory::new(&layout::CONFIG);
        let mut read_rx = |buf: &mut [u8]| memory.read(MAILBOX.rx, buf).is_ok();
        let mut setup = Setup {
            share_len,
            mailbox: MAILBOX,
            read_rx: Some(&mut read_rx),
        };
        let timed = timed_call(mode, row.name);
        let samples = ticks.get_mut(..iterations).unwrap_or(&mut []);
        let result = if ready {
            bench_rows::measure_with(row.operation, &mut setup, samples, timed)
        } else {
            Err(bench_rows::Failure::NoMailbox)
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
    if mode == Mode::Bench {
        failed += cycles(&mut ticks[..], mapped);
    }
    if mapped {
        set_mailbox(false);
    }
    failed
}

/// The cycle table: share + retrieve + relinquish + reclaim, from 1 to 4096 pages, from the
/// proxy's mapped pair; returns how many rows failed.
fn cycles(ticks: &mut [u64], mapped: bool) -> u64 {
    let mut failed = 0;
    let mut memory = PhysMemory::new(&layout::CONFIG);
    let tx_len = MAILBOX.pages as usize * ffa::PAGE_SIZE;
    for cycle in bench_rows::CYCLES {
        let mut write_tx =
            |offset: usize, bytes: &[u8]| memory.write(MAILBOX.tx + offset as u64, bytes).is_ok();
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
    failed
}
