//! The bench's further boots (`cargo xtask bench`), chosen by their own selector words; in
//! each the proxy times its rows before the client runs, and the client only reports.
//!
//! - The concurrency boot (4 CPUs, [`bench_rows::SELECTOR_CORES`]): ECHO to relay (one
//!   execution context per core), first [`bench_rows::CORE_REQUESTS`] from core 0 alone, then
//!   as many from each of the 4 cores at once. The proxy starts cores 1..3 itself with PSCI
//!   CPU_ON at its warm entry; they wait at a start line, make their requests and halt in WFI.
//!   Under `-icount` the counter advances with every core's instructions, so each row reports
//!   the ticks from the start line to the last core's last answer and the requests made
//!   (docs: performance.md §Measuring several cores at once under `-icount`). The system
//!   counter (CNTPCT) is read, not the virtual one: it has no per-core offset.
//! - The OP-TEE boot ([`bench_rows::SELECTOR_OPTEE`]): a direct request to OP-TEE OS
//!   (GET_API_VERSION), timed as row (c); its profile boot
//!   ([`bench_rows::SELECTOR_OPTEE_PROFILE`]) times it as the profile boot times row (c).

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use aarch64_cpu::asm::barrier::{SY, isb};
use aarch64_cpu::registers::{CNTP_CTL_EL0, CNTP_TVAL_EL0, CNTPCT_EL0, Readable, Writeable};
use arm_psci::FunctionId;
use smc_call::smc;
use spin::Mutex;

use super::bench::{Mode, TICKS, timed_call};
use super::bench_rows::{self, CoresFailure, CoresLine, Failure, Line, Setup, Span, Throughput};
use super::{console, entry, layout};

/// Cores 1..3 started by the concurrency boot go to [`secondary`] from the warm entry.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Secondaries at the start line, their warm-up done (a bit per core).
static ARRIVED: AtomicU32 = AtomicU32::new(0);
/// The start line is open.
static GO: AtomicBool = AtomicBool::new(false);
/// Secondaries done with their requests, their [`RESULTS`] written (a bit per core).
static FINISHED: AtomicU32 = AtomicU32::new(0);

/// One core's run: counter at its first request and at its last answer, and how it went.
type CoreRun = (u64, u64, Result<(), Failure>);

/// Each core's run, written by the core once its requests are done.
static RESULTS: Mutex<[Option<CoreRun>; bench_rows::CORES]> = Mutex::new([None; bench_rows::CORES]);

/// How long core 0 waits for the others at the start line and at the end: 2^32 ticks, far
/// more than a bring-up or 1000 requests take (xtask's timeout ends a boot that hangs first).
const WAIT_TICKS: u64 = 1 << 32;

/// The system counter, between barriers (one clock for every core).
fn now() -> u64 {
    isb(SY);
    let ticks = CNTPCT_EL0.get();
    isb(SY);
    ticks
}

/// The selector word QEMU's loader wrote.
fn selector() -> u32 {
    // SAFETY: as in `bench::selected`: the word lies in host RAM, which the proxy's stage-1
    // maps read-write, QEMU's loader wrote it before the machine started and nothing writes
    // it since. Volatile: the proxy never writes it.
    let word = unsafe { (layout::SELECTOR as *const u32).read_volatile() };
    u32::from_le(word)
}

/// Runs the boot the selector names, if it is one of these, printing its lines on UART0 (no
/// prefix: xtask parses them); returns how many rows failed (0 when none is selected).
pub fn run_selected() -> u64 {
    match selector() {
        bench_rows::SELECTOR_CORES => run_cores(),
        bench_rows::SELECTOR_OPTEE => run_optee(Mode::Bench),
        bench_rows::SELECTOR_OPTEE_PROFILE => run_optee(Mode::Profile),
        _ => 0,
    }
}

/// The OP-TEE boot's row (in the profile boot: fewer calls, the timed ones marked).
fn run_optee(mode: Mode) -> u64 {
    console::print_bare_line(format_args!(
        "proxy: {} mode (OP-TEE)",
        match mode {
            Mode::Bench => "bench",
            Mode::Profile => "profile",
        }
    ));
    let row = bench_rows::DIRECT_REQ_OPTEE_EL2;
    let mut ticks = TICKS.lock();
    let samples = ticks.get_mut(..mode.iterations()).unwrap_or(&mut []);
    let result = bench_rows::measure_with(
        row.operation,
        &mut Setup::default(),
        samples,
        timed_call(mode, row.name),
    );
    console::print_bare_line(format_args!(
        "{}",
        Line {
            name: row.name,
            result: &result
        }
    ));
    u64::from(result.is_err())
}

/// Counter ticks (guest instructions) to the timer deadline each request of the concurrency
/// rows sets. QEMU runs one vCPU at a time, each for its share of the time to the nearest
/// deadline; every core sets its own again before it falls due (four cores' requests take
/// about 23,000 ticks each), so one is always pending and the cores take turns every few
/// thousand instructions, inside each other's requests (a request is about 5,700).
const TURN_TICKS: u64 = 30_000;

/// An SMC of the concurrency rows: first the EL1 physical timer (unused by the proxy, its
/// interrupt masked at the timer, so none is ever taken) is set to fall due [`TURN_TICKS`]
/// ahead, which makes QEMU switch cores within the request rather than after millions of
/// instructions. The 1-core row does the same, so both rows pay for it alike.
fn interleaved_smc(regs: &smc_call::Regs) -> smc_call::Regs {
    CNTP_TVAL_EL0.set(TURN_TICKS);
    CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::SET + CNTP_CTL_EL0::IMASK::SET);
    smc(regs)
}

/// Core `core`'s untimed warm-up requests.
fn warm_up(core: usize) -> Result<(), Failure> {
    let first = bench_rows::first_call(core);
    bench_rows::run_requests(
        bench_rows::CORES_OPERATION,
        first,
        bench_rows::WARM_UP,
        interleaved_smc,
    )
}

/// Core `core`'s timed requests, numbered from `skip` past its first call.
fn timed_requests(core: usize, skip: u32) -> Result<(), Failure> {
    let first = bench_rows::first_call(core) + skip;
    bench_rows::run_requests(
        bench_rows::CORES_OPERATION,
        first,
        bench_rows::CORE_REQUESTS,
        interleaved_smc,
    )
}

/// The bits of cores 1..[`bench_rows::CORES`].
const SECONDARIES: u32 = (1 << bench_rows::CORES) - 2;

/// The first secondary whose bit `bits` lacks, as a failure.
fn late(bits: u32) -> CoresFailure {
    let core = (1..bench_rows::CORES as u8)
        .find(|&c| bits & 1 << c == 0)
        .unwrap_or(1);
    CoresFailure::Late { core }
}

/// Waits (WFE, which under QEMU hands the turn to the next vCPU) until `done` holds or
/// [`WAIT_TICKS`] have passed; returns whether it held.
fn wait_until(done: impl Fn() -> bool) -> bool {
    let start = now();
    while !done() {
        if now().wrapping_sub(start) > WAIT_TICKS {
            return false;
        }
        aarch64_cpu::asm::wfe();
    }
    true
}

/// The concurrency boot's two rows.
fn run_cores() -> u64 {
    console::print_bare_line(format_args!("proxy: bench mode (cores)"));
    // Core 0 alone: the others have not been started.
    let alone = warm_up(0)
        .and_then(|()| {
            let begin = now();
            timed_requests(0, bench_rows::WARM_UP).map(|()| Throughput {
                cores: 1,
                requests: u64::from(bench_rows::CORE_REQUESTS),
                ticks: now().wrapping_sub(begin),
            })
        })
        .map_err(|failure| CoresFailure::Request { core: 0, failure });
    console::print_bare_line(format_args!(
        "{}",
        CoresLine {
            name: bench_rows::RELAY_ONE_CORE,
            result: &alone
        }
    ));
    let all = all_cores();
    console::print_bare_line(format_args!(
        "{}",
        CoresLine {
            name: bench_rows::RELAY_ALL_CORES,
            result: &all
        }
    ));
    u64::from(alone.is_err()) + u64::from(all.is_err())
}

/// Starts cores 1..3, opens the start line, makes core 0's requests, waits for the others.
fn all_cores() -> Result<Throughput, CoresFailure> {
    ACTIVE.store(true, Ordering::Release);
    for core in 1..bench_rows::CORES {
        // QEMU virt's MPIDR for cores 0..7 is the core number (Aff0).
        let mut regs = [0u64; 18];
        regs[0] = u64::from(u32::from(FunctionId::CpuOn64));
        regs[1] = core as u64;
        regs[2] = entry::warm_entry();
        let answer = smc(&regs)[0] as i64;
        if answer != 0 {
            return Err(CoresFailure::CpuOn {
                core: core as u8,
                code: answer as i32,
            });
        }
    }
    if !wait_until(|| ARRIVED.load(Ordering::Acquire) == SECONDARIES) {
        return Err(late(ARRIVED.load(Ordering::Acquire)));
    }
    // Core 0 is warm from the one-core row; its calls go on from there.
    let start = now();
    GO.store(true, Ordering::Release);
    aarch64_cpu::asm::sev();
    let own = timed_requests(0, bench_rows::WARM_UP + bench_rows::CORE_REQUESTS);
    let end = now();
    RESULTS.lock()[0] = Some((start, end, own));
    if !wait_until(|| FINISHED.load(Ordering::Acquire) == SECONDARIES) {
        return Err(late(FINISHED.load(Ordering::Acquire)));
    }
    let runs = *RESULTS.lock();
    let mut last = start;
    for (core, run) in runs.iter().enumerate() {
        let Some((begin, end, result)) = *run else {
            return Err(CoresFailure::Late { core: core as u8 });
        };
        result.map_err(|failure| CoresFailure::Request {
            core: core as u8,
            failure,
        })?;
        console::print_bare_line(format_args!(
            "{}",
            Span {
                core,
                begin: begin.wrapping_sub(start),
                end: end.wrapping_sub(start),
            }
        ));
        last = last.max(end);
    }
    Ok(Throughput {
        cores: bench_rows::CORES as u32,
        requests: u64::from(bench_rows::CORE_REQUESTS) * bench_rows::CORES as u64,
        ticks: last.wrapping_sub(start),
    })
}

/// Whether a core starting at the warm entry belongs to the concurrency boot.
pub fn cores_running() -> bool {
    ACTIVE.load(Ordering::Acquire)
}

/// A core the concurrency boot started: warm-up, start line, requests, result; then it halts
/// (WFI with every interrupt masked: QEMU runs it no more, so it adds nothing to the clock).
pub fn secondary(core: usize) -> ! {
    let bit = 1u32 << core;
    // A failed warm-up is the core's result; it still joins the start line.
    let warm = warm_up(core);
    ARRIVED.fetch_or(bit, Ordering::AcqRel);
    while !GO.load(Ordering::Acquire) {
        aarch64_cpu::asm::wfe();
    }
    let begin = now();
    let result = warm.and_then(|()| timed_requests(core, bench_rows::WARM_UP));
    let end = now();
    if let Some(slot) = RESULTS.lock().get_mut(core) {
        *slot = Some((begin, end, result));
    }
    FINISHED.fetch_or(bit, Ordering::AcqRel);
    aarch64_cpu::asm::sev();
    loop {
        aarch64_cpu::asm::wfi();
    }
}
