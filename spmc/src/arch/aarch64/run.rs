//! Cold and warm boot, and each core's loop: it turns what the core says runs next ([`Next`]) into SMCs to the
//! SPMD and world switches into partitions, and partitions' traps back into core calls.
//!
//! The core (`Spmc`) sits behind one reader-writer lock shared by all cores, held only around
//! core calls, never across a world switch. The direct-message fast path
//! ([`Spmc::next_shared`]) holds it shared, so direct requests on different cores to
//! different contexts never wait for each other; every other call holds it exclusively,
//! after queueing in order on a ticket lock, which also holds new fast paths back.

use core::arch::asm;
use core::cell::UnsafeCell;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};

use aarch64_cpu::registers::{
    CNTFRQ_EL0, CNTPCT_EL0, CNTVOFF_EL2, MIDR_EL1, MPIDR_EL1, Readable, VMPIDR_EL2, Writeable,
};
use arm_gic::gicv3::GicCpuInterface;
use ffa::{EndpointId, FfaError, Interface, SecondaryEpRegisterAddr};
use heapless::{String, Vec};
use spin::Once;
use spin::mutex::{TicketMutex, TicketMutexGuard};
use spin::relax::RelaxStrategy;
use spin::rwlock::{RwLock, RwLockWriteGuard};

use crate::console::ConsoleLine;
use crate::cpu_map::{Affinity, CpuMap, CpuMapError};
use crate::exception::{FaultState, Trap, Uninjectable, class, class_name, classify, inject};
use crate::loader::{self, LoadError};
use crate::manifest::{MAX_PARTITIONS, SpmcConfig};
use crate::memory_map::{
    MemoryKind, MemoryMap, PlatformMemory, Range, SpmcResource, console_shares,
};
use crate::pagetable::MapError;
use crate::partition::{ABORTS_NOTED, AbortReason, MAX_CPUS};
use crate::platform::Space;
use crate::println;
use crate::spmc::{Answer, Caller, CpuId, Event, Next, Spmc};

use super::asm::{self, exit, spmc_mmu_on, spmc_vcpu_run, spmc_warm_entry};
use super::mmu::{self, MANIFEST_PAGE_SIZE, Stage2};
use super::platform::ArchPlatform;
use super::vcpu::{NormalWorldState, VcpuState};
use super::{board, console, fp, traps};

/// The core, or nothing before `configure`. Not an `Option`: its `None` would live in a niche
/// of `Spmc`, a nonzero byte that puts the whole static (the memory ledger's tables with it)
/// into the loaded image instead of BSS.
#[repr(u8)]
#[expect(
    clippy::large_enum_variant,
    reason = "a static, never moved: boxing would need a heap"
)]
enum CoreSlot {
    Empty,
    Ready(Spmc<ArchPlatform>),
}

/// The core, shared by all cores: read by fast paths, written by every other call, once it
/// holds [`WRITERS`].
static CORE: RwLock<CoreSlot, YieldCore> = RwLock::new(CoreSlot::Empty);

/// Where calls that need the core to themselves queue, in order. While a call waits or runs
/// here no fast path starts, so a stream of them never keeps it out.
static WRITERS: TicketMutex<(), YieldCore> = TicketMutex::new(());

/// The core to this CPU alone.
struct Exclusive {
    core: RwLockWriteGuard<'static, CoreSlot, YieldCore>,
    // Released after `core` (fields drop in order): the next writer finds it free.
    _queue: TicketMutexGuard<'static, (), YieldCore>,
}

/// Waits for the calls queued before this one, then for the fast paths running.
fn exclusive() -> Exclusive {
    let queue = WRITERS.lock();
    Exclusive {
        core: CORE.write(),
        _queue: queue,
    }
}

/// How a core waits for [`CORE`]: `yield`, the architecture's hint that this thread of
/// execution waits on another. An emulator that runs several cores on one host thread
/// switches to another core on it instead of spinning out the holder's time slice.
struct YieldCore;

impl RelaxStrategy for YieldCore {
    #[inline(always)]
    fn relax() {
        // SAFETY: a hint instruction: no memory, register or flag changes.
        unsafe { asm!("yield", options(nomem, nostack, preserves_flags)) };
    }
}

/// What the arch layer keeps per partition (in the core's table order).
#[derive(Clone, Copy, Debug)]
struct PartitionArch {
    id: EndpointId,
    /// None: it could not be built, and the partition is aborted before it runs.
    stage2: Option<Stage2>,
    mp: bool,
}

/// Written once at cold boot, before any partition runs.
static PARTITIONS: Once<Vec<PartitionArch, MAX_PARTITIONS>> = Once::new();

/// The stage 2 of partition `id`, once cold boot built them.
pub(super) fn stage2_of(id: EndpointId) -> Option<Stage2> {
    PARTITIONS
        .get()?
        .iter()
        .find(|p| p.id == id)
        .and_then(|p| p.stage2)
}

/// The cores the SPMC serves, by index; set at cold boot before any other core enters.
static CPUS: Once<CpuMap> = Once::new();

/// The MPIDR_EL1 affinity of CPU `cpu`, once cold boot published the CPU map.
pub(super) fn mpidr_of(cpu: CpuId) -> Option<u64> {
    CPUS.get()?.affinity(cpu).map(|a| a.to_mpidr())
}

/// The affinity of CPU `cpu` of the CPU map.
pub(super) fn affinity_of(cpu: CpuId) -> Option<Affinity> {
    CPUS.get()?.affinity(cpu)
}

/// Per CPU: the virtual interrupt lines of the context the last core call entered there
/// ([`VirtualLines`] as bits: 1 IRQ, 2 FIQ), asserted while it runs.
static LINES: [AtomicU8; MAX_CPUS] = [const { AtomicU8::new(0) }; MAX_CPUS];
const LINE_IRQ: u8 = 1;
const LINE_FIQ: u8 = 2;

/// Per-context and per-core machine state. Each entry is used by one core at a time: a
/// context's by the core the core last entered it on (the core hands a context to one CPU at a
/// time, and a lock orders the hand-over: the core's, held exclusively, or on the fast path
/// the context's own, which the core holds while it changes hands), a core's normal-world slot
/// and answer buffer by that core.
struct MachineState {
    vcpus: UnsafeCell<[[VcpuState; MAX_CPUS]; MAX_PARTITIONS]>,
    normal_world: UnsafeCell<[NormalWorldState; MAX_CPUS]>,
    /// Each core's buffer for the fast path's answer.
    answers: UnsafeCell<[Answer; MAX_CPUS]>,
}

// SAFETY: see the type's documentation: no entry is used by two cores at once.
unsafe impl Sync for MachineState {}

static MACHINE: MachineState = MachineState {
    vcpus: UnsafeCell::new([[VcpuState::ZERO; MAX_CPUS]; MAX_PARTITIONS]),
    normal_world: UnsafeCell::new([NormalWorldState::EMPTY; MAX_CPUS]),
    answers: UnsafeCell::new([Answer::EMPTY; MAX_CPUS]),
};

/// The affinity of the core holding [`CORE`] exclusively (MPIDR_EL1's affinity fields), or
/// [`NO_HOLDER`].
static CORE_HOLDER: AtomicU64 = AtomicU64::new(NO_HOLDER);
/// No core holds [`CORE`] (bits outside the affinity fields).
const NO_HOLDER: u64 = u64::MAX;
/// Per CPU: it holds [`CORE`] shared (a fast path).
static CORE_READERS: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
/// A core faulted inside [`CORE`]: the core's state may be half changed, so every later
/// call is answered ABORTED instead of trusting it (the lock itself was released).
static CORE_LOST: AtomicBool = AtomicBool::new(false);

/// Called by a core about to park after a fault of the SPMC itself: if it was inside the
/// core, the other cores must not wait for it forever.
fn release_core_if_held() -> bool {
    let me = MPIDR_EL1.get() & asm::AFFINITY;
    if CORE_HOLDER.load(Ordering::Relaxed) == me {
        CORE_LOST.store(true, Ordering::Release);
        CORE_HOLDER.store(NO_HOLDER, Ordering::Relaxed);
        // SAFETY: this core holds both locks (it recorded itself as holder after taking
        // them and clears that before releasing them) and never returns to the frame that
        // owns the guards: it parks. Later holders see CORE_LOST and do not touch the core.
        unsafe {
            CORE.force_write_unlock();
            WRITERS.force_unlock();
        }
        return true;
    }
    let reader = CPUS
        .get()
        .and_then(|map| map.index_of(asm::affinity(MPIDR_EL1.get())))
        .and_then(|cpu| CORE_READERS.get(usize::from(cpu.0)));
    if let Some(reader) = reader
        && reader.swap(false, Ordering::Relaxed)
    {
        CORE_LOST.store(true, Ordering::Release);
        // SAFETY: this core holds the lock shared (it marked itself after taking it and
        // clears the mark before releasing it) and parks, never dropping its guard. A
        // context it held locked stays so: other cores' fast paths only try those locks,
        // and the exclusive path, which never takes them, sees CORE_LOST first.
        unsafe { CORE.force_read_decrement() };
        return true;
    }
    false
}

/// Partitions (by table index) whose abort was logged.
static ABORTS_REPORTED: AtomicU32 = AtomicU32::new(0);
/// [`ABORTS_NOTED`] when the aborts were last looked at.
static ABORTS_SEEN: AtomicU32 = AtomicU32::new(0);
/// Whether the end of cold boot was logged.
static BOOT_REPORTED: AtomicBool = AtomicBool::new(false);

/// Console lines one core call prints at most; the rest wait for the next call (on any core),
/// so what a call costs its own core in UART time is bounded.
const LINES_PER_CALL: usize = 4;

/// Milliseconds of the system counter, for the console's per-partition allowance.
fn now_ms() -> u64 {
    CNTPCT_EL0.get() / (CNTFRQ_EL0.get() / 1000).max(1)
}

/// What a core call is about: the core's [`Event`] without the registers, which
/// [`core_call`] reads in place.
#[derive(Clone, Copy)]
enum CoreEvent {
    Boot,
    CpuOn,
    /// The SPMD's call, in this core's normal-world slot.
    SpmdCall,
    /// A call of the partition context at this slot (table index, context), in its saved
    /// registers.
    PartitionCall(Slot),
    NsInterrupt,
    PhysicalInterrupt,
    AbortRunning,
}

/// Calls the core and copies the registers its answer carries straight to where they go
/// (this core's normal-world slot, or the context it enters): the fast path with the core
/// shared ([`shared_call`]) if the call is one, else with the core to itself. If the call left
/// console lines, a new abort or the end of cold boot to report, [`report`] prints them once
/// the lock is released (other cores go on meanwhile).
fn core_call(cpu: CpuId, event: CoreEvent) -> Step {
    if let Some(step) = shared_call(cpu, event) {
        return step;
    }
    let (step, to_report) = {
        let mut guard = exclusive();
        if CORE_LOST.load(Ordering::Acquire) {
            return refuse(cpu, FfaError::Aborted);
        }
        let CoreSlot::Ready(spmc) = &mut *guard.core else {
            return refuse(cpu, FfaError::Denied);
        };
        let me = MPIDR_EL1.get() & asm::AFFINITY;
        CORE_HOLDER.store(me, Ordering::Relaxed);
        let next = match event {
            CoreEvent::Boot => spmc.next_exclusive(cpu, Event::Boot),
            CoreEvent::CpuOn => spmc.next_exclusive(cpu, Event::CpuOn),
            CoreEvent::NsInterrupt => spmc.next_exclusive(cpu, Event::NsInterrupt),
            CoreEvent::PhysicalInterrupt => spmc.next_exclusive(cpu, Event::PhysicalInterrupt),
            CoreEvent::AbortRunning => spmc.next_exclusive(cpu, Event::AbortRunning),
            CoreEvent::SpmdCall => match normal_world(cpu) {
                Some(nw) => spmc.next_exclusive(cpu, Event::Call(Caller::Spmd, &nw.regs)),
                None => spmc.next_exclusive(cpu, Event::Call(Caller::Spmd, &[0; 18])),
            },
            CoreEvent::PartitionCall(slot) => match vcpu_at(slot) {
                Some((state, arch)) => {
                    let regs = call_regs(&state.regs.x);
                    spmc.next_exclusive(cpu, Event::Call(Caller::Partition(arch.id), regs))
                }
                None => spmc.next_exclusive(cpu, Event::AbortRunning),
            },
        };
        let step = finish(spmc, cpu, next, spmc.answer());
        let to_report = to_report(spmc);
        CORE_HOLDER.store(NO_HOLDER, Ordering::Relaxed);
        (step, to_report)
    };
    if to_report {
        report(cpu);
    }
    step
}

/// The fast path: a call [`Spmc::next_shared`] takes (a direct request from the normal
/// world or a response to one, a query that changes nothing), with the core shared; `None`
/// for any other, with nothing changed.
#[inline(always)]
fn shared_call(cpu: CpuId, event: CoreEvent) -> Option<Step> {
    let (caller, regs) = match event {
        CoreEvent::SpmdCall => (Caller::Spmd, &normal_world(cpu)?.regs),
        CoreEvent::PartitionCall(slot) => {
            let (state, arch) = vcpu_at(slot)?;
            // Its live FP/SIMD registers are saved when its run here ends (`fp::hand_over`),
            // before another CPU may take it: that ordering needs the core to itself.
            if fp::owns(cpu, arch.id, slot.vcpu) {
                return None;
            }
            (Caller::Partition(arch.id), call_regs(&state.regs.x))
        }
        _ => return None,
    };
    let func = crate::spmc::FastCall::of(regs)?;
    let reader = CORE_READERS.get(usize::from(cpu.0))?;
    let answer = answer_slot(cpu)?;
    while WRITERS.is_locked() {
        YieldCore::relax();
    }
    let guard = CORE.read();
    if CORE_LOST.load(Ordering::Acquire) {
        return None;
    }
    let CoreSlot::Ready(spmc) = &*guard else {
        return None;
    };
    reader.store(true, Ordering::Relaxed);
    let done = spmc
        .next_shared(cpu, caller, regs, func, answer)
        .map(|next| (finish(spmc, cpu, next, answer.regs()), to_report(spmc)));
    reader.store(false, Ordering::Relaxed);
    drop(guard);
    let (step, to_report) = done?;
    if to_report {
        report(cpu);
    }
    Some(step)
}

/// Carries out what a core call decided: hands the FP/SIMD registers over, copies the
/// answer's registers to where they go and sets the entered context's interrupt lines.
#[inline(always)]
fn finish(spmc: &Spmc<ArchPlatform>, cpu: CpuId, next: Next, answer: &[u64]) -> Step {
    // The context entered or resumed is the one the core now runs on this CPU.
    let step = match next {
        Next::ToSpmd => Step::ToSpmd,
        Next::Enter { .. } | Next::Resume { .. } => match spmc.running_context(cpu) {
            Some((partition, vcpu)) => Step::Run {
                slot: Slot { partition, vcpu },
                mask_ns: matches!(
                    next,
                    Next::Resume {
                        mask_ns_interrupts: true,
                        ..
                    }
                ),
            },
            None => Step::ToSpmd,
        },
    };
    // Whatever runs next on this core, a context that owns its FP/SIMD registers and does
    // not run next has them saved now, under the lock, before another CPU may take it.
    fp::hand_over(cpu, || match step {
        Step::Run { slot, .. } => arch_at(slot).map(|a| (a.id, slot.vcpu)),
        Step::ToSpmd => None,
    });
    deliver(cpu, next, step, answer);
    if let Step::Run { .. } = step
        && let Some(line) = LINES.get(usize::from(cpu.0))
    {
        let lines = spmc.running_lines(cpu);
        let bits = if lines.irq { LINE_IRQ } else { 0 } | if lines.fiq { LINE_FIQ } else { 0 };
        line.store(bits, Ordering::Relaxed);
    }
    step
}

/// Whether the call left something for [`report`].
#[inline(always)]
fn to_report(spmc: &Spmc<ArchPlatform>) -> bool {
    spmc.has_console_lines()
        || ABORTS_NOTED.load(Ordering::Relaxed) != ABORTS_SEEN.load(Ordering::Relaxed)
        || (spmc.cold_boot_done && !BOOT_REPORTED.load(Ordering::Relaxed))
}

/// Prints the console lines partitions finished (at most [`LINES_PER_CALL`]), the partitions
/// aborted since the last report and the end of cold boot, each once, taking them from the
/// core under the lock and printing them after it. Kept out of [`core_call`]: it is rare.
#[inline(never)]
#[cold]
fn report(cpu: CpuId) {
    let mut lines: Vec<ConsoleLine, LINES_PER_CALL> = Vec::new();
    let mut aborted: Vec<(EndpointId, String<32>, AbortReason), MAX_PARTITIONS> = Vec::new();
    let boot_done = {
        let mut guard = exclusive();
        if CORE_LOST.load(Ordering::Acquire) {
            return;
        }
        let CoreSlot::Ready(spmc) = &mut *guard.core else {
            return;
        };
        let me = MPIDR_EL1.get() & asm::AFFINITY;
        CORE_HOLDER.store(me, Ordering::Relaxed);
        if spmc.has_console_lines() {
            let now = now_ms();
            while !lines.is_full() {
                let Some(line) = spmc.take_console_line(now) else {
                    break;
                };
                let _ = lines.push(line);
            }
        }
        ABORTS_SEEN.store(ABORTS_NOTED.load(Ordering::Relaxed), Ordering::Relaxed);
        for (index, p) in spmc.partitions.iter().enumerate() {
            let bit = 1u32 << (index % 32);
            if let Some(why) = p.abort_reason
                && ABORTS_REPORTED.fetch_or(bit, Ordering::Relaxed) & bit == 0
            {
                let _ = aborted.push((p.id, p.config.name.clone(), why));
            }
        }
        let boot_done = spmc.cold_boot_done && !BOOT_REPORTED.swap(true, Ordering::Relaxed);
        CORE_HOLDER.store(NO_HOLDER, Ordering::Relaxed);
        boot_done
    };
    for line in &lines {
        let id = line.partition.0;
        if line.dropped_before > 0 {
            println!(
                "[{id:#06x} {}] ({} lines dropped: over the partition's console allowance)",
                cpu.0, line.dropped_before
            );
        }
        // The core lets printable ASCII only through.
        let text = core::str::from_utf8(&line.text).unwrap_or("<not UTF-8>");
        println!("[{id:#06x} {}] {text}", cpu.0);
    }
    for (id, name, why) in &aborted {
        println!(
            "spmc: partition {:#06x} \"{}\" aborted: {why:?}",
            id.0,
            name.as_str()
        );
    }
    if boot_done {
        println!(
            "spmc: cold boot done on core {}: FFA_MSG_WAIT to the SPMD",
            cpu.0
        );
    }
}

/// Copies the registers `next` carries (x0 on; the rest stay as the call left them) to where
/// they go: this core's normal-world slot for the SPMD, or the context entered (reset first
/// if it starts afresh).
#[inline(always)]
fn deliver(cpu: CpuId, next: Next, step: Step, regs: &[u64]) {
    match (next, step) {
        (Next::Resume { .. }, _) => {}
        (_, Step::ToSpmd) => {
            if let Some(nw) = normal_world(cpu) {
                copy_regs(&mut nw.regs, regs);
            }
        }
        (Next::Enter { start, .. }, Step::Run { slot, .. }) => {
            if let Some((state, arch)) = vcpu_at(slot) {
                if let Some(pc) = start {
                    state.reset(pc, &[0; 18]);
                    fp::restart(cpu, arch.id, slot.vcpu);
                }
                copy_regs(&mut state.regs.x, regs);
            }
        }
        (Next::ToSpmd, Step::Run { .. }) => {}
    }
}

/// Copies `from` over the first registers of `to`.
fn copy_regs(to: &mut [u64], from: &[u64]) {
    if let Some(to) = to.get_mut(..from.len()) {
        to.copy_from_slice(from);
    }
}

/// The core cannot be asked: the SPMD gets FFA_ERROR(`code`).
fn refuse(cpu: CpuId, code: FfaError) -> Step {
    if let Some(nw) = normal_world(cpu) {
        nw.regs = ffa::call::error(code);
    }
    Step::ToSpmd
}

/// Setup each core needs before running partitions.
fn core_init() {
    mmu::init_stage2_controls();
    // SAFETY: VPIDR_EL2 is what EL1 reads as MIDR_EL1; the real value, so partitions see
    // the CPU they run on. No effect on EL2.
    unsafe { core::arch::asm!("msr vpidr_el2, {v}", v = in(reg) MIDR_EL1.get(), options(nostack)) };
    // No virtual offset (EL1 timer access: `traps::init`).
    CNTVOFF_EL2.set(0);
}

/// This core, for reports: its index if the CPU map has it, and its affinity.
struct CurrentCore;

impl fmt::Display for CurrentCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let core = asm::affinity(MPIDR_EL1.get());
        match CPUS.get().and_then(|map| map.index_of(core)) {
            Some(cpu) => write!(f, "{} ({core})", cpu.0),
            None => write!(f, "{core}"),
        }
    }
}

/// Why cold boot could not configure the SPMC.
enum BootError {
    Window(u16, MapError),
    Load(LoadError),
    Cpus(CpuMapError),
    Stage2(EndpointId, MapError),
    SecondaryEntry(u64),
    StackOverflow,
    Unconfigured,
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Window(vm, e) => write!(
                f,
                "vm{vm}: its package cannot be mapped ({e:?}): it is not read"
            ),
            Self::Load(e) => write!(f, "{e}"),
            Self::Cpus(e) => write!(f, "{e}"),
            Self::Stage2(id, e) => write!(
                f,
                "partition {:#06x} refused: its stage 2 cannot be built ({e:?})",
                id.0
            ),
            Self::SecondaryEntry(w0) => write!(
                f,
                "FFA_SECONDARY_EP_REGISTER refused by the SPMD (w0 = {w0:#x})"
            ),
            Self::StackOverflow => f.write_str("configuration overflowed the stacks area"),
            Self::Unconfigured => f.write_str("the core was not stored"),
        }
    }
}

/// Cold boot (from the entry assembly, MMU off, on the core the SPMD booted us on; `mpidr` is
/// its MPIDR_EL1 affinity).
#[unsafe(no_mangle)]
extern "C" fn spmc_cold_main(manifest: u64, mpidr: u64) -> ! {
    traps::init();
    // SAFETY: first thing on the only running core; nothing else uses the pool yet.
    let maps = match unsafe { mmu::build_stage1(manifest) } {
        Ok(maps) => maps,
        // No console without the map: tell the SPMD, which logs the failure.
        Err(_) => init_failed(),
    };
    // SAFETY: the root maps the whole image (code, data, stacks) at its own address, so
    // execution continues at the next instruction with the same view of memory.
    unsafe { spmc_mmu_on(maps.stage1_root()) };
    mmu::install(maps);
    console::init();
    let boot = asm::affinity(mpidr);
    println!(
        "spmc {}: S-EL2 SPMC, FF-A v{}.{}, cold boot on {boot}, manifest at {manifest:#x}",
        env!("CARGO_PKG_VERSION"),
        ffa::version::OURS.0,
        ffa::version::OURS.1
    );
    core_init();
    let cpu = match configure_on_all_stacks(manifest, boot) {
        Ok(cpu) => cpu,
        Err(e) => {
            println!("spmc: initialisation failed: {e}");
            init_failed()
        }
    };
    let step = core_call(cpu, CoreEvent::Boot);
    run(cpu, step)
}

/// What the stacks area is filled with before cold boot's configuration.
const STACK_PAINT: u64 = 0x5354_4143_4b5f_5350;

/// Runs [`configure`] with the whole stacks area below this frame as its stack, and checks it
/// stayed inside. Configuration (manifests, the configuration and the core built by value)
/// needs more than one core's stack; it runs before any other core can enter the SPMC (the
/// entry it registers is only used at the normal world's CPU_ON, after cold boot ends), so it
/// may grow from the boot core's stack down through the others'. It returns before the boot
/// core's run loop starts, which then lives in the boot core's own stack.
fn configure_on_all_stacks(manifest: u64, boot: Affinity) -> Result<CpuId, BootError> {
    let (start, end) = mmu::stacks();
    paint_below_sp(start);
    let result = configure(manifest, boot);
    // SAFETY: [start, end) is the stacks area, mapped RW; only this core uses it yet, and
    // nothing below this frame is live.
    let untouched = (start..end)
        .step_by(8)
        .take_while(|a| unsafe { core::ptr::read_volatile(*a as *const u64) } == STACK_PAINT)
        .count() as u64
        * 8;
    if untouched == 0 {
        return Err(BootError::StackOverflow);
    }
    println!(
        "spmc: cold boot configuration used {} KiB of the {} KiB stacks area",
        (end - start - untouched).div_ceil(1024),
        (end - start) / 1024
    );
    result
}

/// Fills `[start, sp)` with [`STACK_PAINT`]. Inlined never, so that its own frame is above the
/// SP it reads.
#[inline(never)]
fn paint_below_sp(start: u64) {
    let sp: u64;
    // SAFETY: reads SP only.
    unsafe { asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    let mut at = start;
    while at < sp {
        // SAFETY: [start, sp) is the stacks area below this frame (the caller checks `start`
        // is its bottom), mapped RW and used by no one: no other core runs yet.
        unsafe { core::ptr::write_volatile(at as *mut u64, STACK_PAINT) };
        at += 8;
    }
}

/// Tells the SPMD that initialisation failed (TF-A then boots on without an SPMC).
fn init_failed() -> ! {
    let regs = ffa::call::error(FfaError::InvalidParameters);
    let _ = smccc::smc64(regs[0] as u32, args_of(&regs));
    park()
}

fn park() -> ! {
    loop {
        aarch64_cpu::asm::wfe();
    }
}

fn args_of(regs: &ffa::Regs) -> [u64; 17] {
    let mut args = [0; 17];
    args.copy_from_slice(&regs[1..]);
    args
}

/// Reads the manifest and the packages, maps the partitions' memory, builds their stage 2,
/// creates the core, publishes the CPU map and registers the secondary entry point. Returns
/// the boot core's index (0). Inlined never: its frames must be gone before the run loop.
#[inline(never)]
fn configure(manifest: u64, boot: Affinity) -> Result<CpuId, BootError> {
    let mut page = [0u8; MANIFEST_PAGE_SIZE as usize];
    let len = (MANIFEST_PAGE_SIZE - (manifest % MANIFEST_PAGE_SIZE)) as usize;
    let bytes = page.get_mut(..len).unwrap_or_default();
    for (i, b) in bytes.iter_mut().enumerate() {
        // SAFETY: [manifest, end of its page) is mapped read-only by the stage-1 map; BL2
        // wrote it before we started and nobody changes it.
        *b = unsafe { core::ptr::read_volatile((manifest + i as u64) as *const u8) };
    }
    let bytes = &*bytes;
    let reserved = board::reserved(manifest);
    let memory = PlatformMemory {
        reserved: &reserved,
        default_non_secure: board::DEFAULT_NS_RAM,
    };
    // An SPMC manifest or CPU list it cannot use leaves the SPMC hosting no partition rather
    // than failing the SPMD's init: TF-A would then hand the normal world's FF-A calls to a
    // parked SPMC, a hang.
    let checked = loader::plan(bytes, &memory)
        .map_err(BootError::Load)
        .and_then(|plan| {
            let cpus = CpuMap::new(plan.manifest.cpus.as_ref(), boot).map_err(BootError::Cpus)?;
            match cpus.index_of(boot) {
                Some(_) => Ok((plan, cpus)),
                None => Err(BootError::Cpus(CpuMapError::BootCpuNotListed(boot))),
            }
        });
    let (plan, cpus) = match checked {
        Ok(found) => found,
        Err(e) => {
            println!(
                "spmc: initialisation failed: {e}; no partition hosted, SPMC ID {:#06x}, \
                 the default CPU map",
                loader::FALLBACK_SPMC_ID
            );
            let cpus = CpuMap::new(None, boot).map_err(BootError::Cpus)?;
            (loader::fallback_plan(&memory), cpus)
        }
    };
    let cpu = cpus
        .index_of(boot)
        .ok_or(BootError::Cpus(CpuMapError::BootCpuNotListed(boot)))?;
    log_cpus(&cpus);
    log_memory_map(&plan.map);
    let mut platform = ArchPlatform::new();
    // Only packages inside secure memory and away from the SPMC are mapped and read.
    for vm in &plan.admitted {
        // A package the SPMC cannot map is not read: the loader refuses its vmN alone.
        let mapped = mmu::map_window(vm.load_address, vm.mem_size).and_then(|()| {
            platform
                .add_window(Space::Secure, vm.load_address, vm.mem_size)
                .map_err(|_| MapError::OutOfRange)
        });
        if let Err(e) = mapped {
            println!("spmc: {}", BootError::Window(vm.index, e));
        }
    }
    // Normal-world buffers are trusted only inside these ranges.
    for range in plan.map.ranges(MemoryKind::NonSecure) {
        let mapped = mmu::map_ns_window(range.start(), range.len());
        match mapped.map(|()| platform.add_window(Space::NonSecure, range.start(), range.len())) {
            Ok(Ok(())) => {}
            failed => println!("spmc: ns-memory {range} not usable ({failed:?}): left out"),
        }
    }
    let config = match loader::load(&platform, &plan) {
        Ok(config) => config,
        Err(e) => {
            // The partitions cannot be hosted together: host none rather than fail the SPMD's
            // init (after which TF-A would hand the normal world's FF-A calls to a parked
            // SPMC, a hang). The normal world gets FF-A answers: no partition to reach.
            println!("spmc: initialisation failed for the partitions, none hosted: {e}");
            SpmcConfig::new(plan.manifest.attributes.clone(), [])
                .map_err(|e| BootError::Load(LoadError::Config(e)))?
        }
    };
    println!(
        "spmc: SPMC ID {:#06x}, manifest FF-A v{}.{}, {} partition(s)",
        config.attributes.spmc_id.0,
        config.attributes.version.0,
        config.attributes.version.1,
        config.partitions.len()
    );
    let mut guard = exclusive();
    *guard.core = CoreSlot::Ready(Spmc::new(config, platform, cpus.len()));
    let CoreSlot::Ready(spmc) = &mut *guard.core else {
        return Err(BootError::Unconfigured);
    };
    let mut arch = Vec::new();
    let mut unbuilt: Vec<(EndpointId, MapError), MAX_PARTITIONS> = Vec::new();
    for (index, p) in spmc.partitions.iter().enumerate() {
        let vmid = u8::try_from(index + 1).unwrap_or(u8::MAX);
        let stage2 = mmu::build_stage2(&p.config, vmid);
        if let Err(e) = &stage2 {
            let _ = unbuilt.push((p.id, *e));
        }
        let _ = arch.push(PartitionArch {
            id: p.id,
            stage2: stage2.ok(),
            mp: p.is_mp(),
        });
        log_partition(p, &reserved);
    }
    // One partition the SPMC cannot isolate is refused alone: it never runs.
    for (id, e) in unbuilt {
        println!("spmc: {}", BootError::Stage2(id, e));
        spmc.abort_before_boot(id, AbortReason::NoStage2);
    }
    for refusal in spmc.refused_partitions() {
        println!("spmc: {refusal}");
    }
    for (id, why) in spmc.rejected_partitions() {
        println!("spmc: partition {:#06x} refused: {why:?}", id.0);
    }
    drop(guard);
    PARTITIONS.call_once(|| arch);
    println!("spmc: {} page-table pages used", mmu::pool_used());
    asm::publish_cpu_map(CPUS.call_once(|| cpus));

    let entry = spmc_warm_entry as *const () as u64;
    let regs = ffa::call::encode(&Interface::SecondaryEpRegister {
        entrypoint: SecondaryEpRegisterAddr::Addr64(entry),
    });
    let answer = smccc::smc64(regs[0] as u32, args_of(&regs));
    if !matches!(answer[0], 0x8400_0061 | 0xc400_0061) {
        return Err(BootError::SecondaryEntry(answer[0]));
    }
    println!("spmc: secondary entry {entry:#x} registered");
    Ok(cpu)
}

fn log_cpus(cpus: &CpuMap) {
    if cpus.is_default() {
        println!("spmc: the SPMC manifest has no cpus node: 4 cores, index = MPIDR Aff0");
    }
    for (cpu, core) in cpus.iter() {
        println!("spmc: core {}: {core}", cpu.0);
    }
}

fn log_memory_map(map: &MemoryMap<'_>) {
    if map.non_secure_is_default() {
        println!(
            "spmc: the SPMC manifest has no ns-memory node: default NS window {}",
            board::DEFAULT_NS_RAM
        );
    }
    for kind in MemoryKind::ALL {
        let ranges = map.ranges(kind);
        if ranges.is_empty() {
            println!("spmc: memory map: {}: none", kind.device_type());
        }
        for range in ranges {
            println!("spmc: memory map: {}: {range}", kind.device_type());
        }
    }
}

fn log_partition(p: &crate::partition::Partition, reserved: &[(SpmcResource, Range)]) {
    let c = &p.config;
    println!(
        "spmc: partition {:#06x} \"{}\": FF-A v{}.{}, load {:#x}, {:#x} bytes, entry +{:#x}, {} context(s), {} UUID(s)",
        p.id.0,
        c.name.as_str(),
        p.version.version().0,
        p.version.version().1,
        c.load_address,
        c.memory_size,
        c.entrypoint_offset,
        c.execution_ctx_count,
        c.uuids.len()
    );
    if let Some(given) = c.replaced_id {
        println!(
            "spmc:   manifest ID {:#06x} is not a secure-world ID: {:#06x}, as Hafnium assigns it",
            given.0, p.id.0
        );
    }
    for uuid in &c.uuids {
        println!("spmc:   uuid {uuid}");
    }
    for range in console_shares(c, reserved) {
        println!(
            "spmc:   device region {range} is the SPMC's console UART: shared (the SPMC only writes its transmit register)"
        );
    }
    for d in &c.interrupts {
        println!(
            "spmc:   interrupt {}: priority {:#x}, {:?}, {:?}",
            d.intid, d.priority, d.security, d.trigger
        );
    }
}

/// Warm boot of a core the normal world powered on (the SPMD entered our secondary entry):
/// the entry assembly found its affinity `mpidr` at `index` of the CPU map.
#[unsafe(no_mangle)]
extern "C" fn spmc_warm_main(index: u64, mpidr: u64) -> ! {
    traps::init();
    core_init();
    let cpu = CpuId(index as u16);
    let core = asm::affinity(mpidr);
    if CPUS.get().and_then(|map| map.index_of(core)) != Some(cpu) {
        // The assembly's lookup and the map disagree: no state of this core can be trusted.
        println!("spmc: core {core} refused: not at index {index} of the CPU map; core parked");
        init_failed()
    }
    if let Some(nw) = normal_world(cpu) {
        nw.saved = false;
    }
    fp::core_on(cpu);
    let step = core_call(cpu, CoreEvent::CpuOn);
    run(cpu, step)
}

/// Reports a core the CPU map does not list (from the entry assembly, on the shared refusal
/// stack); the assembly then answers the SPMD's CPU_ON with FFA_ERROR and parks the core.
#[unsafe(no_mangle)]
extern "C" fn spmc_warm_refused(mpidr: u64) {
    println!(
        "spmc: core {} refused: not in the SPMC manifest's cpus node; FFA_ERROR to the SPMD, core parked",
        asm::affinity(mpidr)
    );
}

/// This core's normal-world slot.
fn normal_world(cpu: CpuId) -> Option<&'static mut NormalWorldState> {
    let index = usize::from(cpu.0);
    if index >= MAX_CPUS {
        return None;
    }
    // SAFETY: only core `cpu` uses its slot (see MachineState), so the reference is unique
    // while it lives; the index is in range.
    Some(unsafe { &mut (*MACHINE.normal_world.get())[index] })
}

/// Core `cpu`'s buffer for the fast path's answer (called on that core only).
fn answer_slot(cpu: CpuId) -> Option<&'static mut Answer> {
    let index = usize::from(cpu.0);
    if index >= MAX_CPUS {
        return None;
    }
    // SAFETY: only core `cpu` uses its slot (see MachineState), and only within one core
    // call, so the reference is unique while it lives; the index is in range.
    Some(unsafe { &mut (*MACHINE.answers.get())[index] })
}

/// Where partition `id` is in the partition table (its state's index).
pub(super) fn partition_slot(id: EndpointId) -> Option<usize> {
    PARTITIONS.get()?.iter().position(|p| p.id == id)
}

/// The arch data of the partition at `slot`.
fn arch_at(slot: Slot) -> Option<&'static PartitionArch> {
    PARTITIONS.get()?.get(slot.partition)
}

/// A partition context by its place: the partition's index in the core's table (the order
/// of [`PARTITIONS`]) and its context index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    partition: usize,
    vcpu: u16,
}

/// What this CPU does after a core call.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// SMC to the SPMD with this core's normal-world slot.
    ToSpmd,
    /// Run the context at `slot` (its registers delivered), with non-secure interrupts held
    /// back for this run if `mask_ns`.
    Run { slot: Slot, mask_ns: bool },
}

/// A partition context's state, with its arch data.
fn vcpu_at(slot: Slot) -> Option<(&'static mut VcpuState, &'static PartitionArch)> {
    let arch = PARTITIONS.get()?.get(slot.partition)?;
    let v = usize::from(slot.vcpu);
    if v >= MAX_CPUS || slot.partition >= MAX_PARTITIONS {
        return None;
    }
    // SAFETY: the core entered this context on the calling core and on no other (a context
    // runs on one CPU at a time), so this core alone uses its state until it next calls the
    // core; indices are in range.
    Some((
        unsafe { &mut (*MACHINE.vcpus.get())[slot.partition][v] },
        arch,
    ))
}

/// Drives `cpu` from `step` on, forever.
fn run(cpu: CpuId, mut step: Step) -> ! {
    loop {
        step = match step {
            Step::ToSpmd => {
                restore_normal_world(cpu);
                match normal_world(cpu) {
                    Some(nw) => {
                        smc_in_place(&mut nw.regs);
                        fp::entered(cpu, nw.regs[0]);
                    }
                    // Not a CPU of the map: nothing to answer with.
                    None => park(),
                }
                core_call(cpu, CoreEvent::SpmdCall)
            }
            Step::Run { slot, mask_ns } => run_partition(cpu, slot, mask_ns),
        };
    }
}

/// SMC to the SPMD with x0..x17 = `regs`, which then hold the SPMD's x0..x17.
fn smc_in_place(regs: &mut ffa::Regs) {
    let [
        x0,
        x1,
        x2,
        x3,
        x4,
        x5,
        x6,
        x7,
        x8,
        x9,
        x10,
        x11,
        x12,
        x13,
        x14,
        x15,
        x16,
        x17,
    ] = regs;
    // SAFETY: an SMC to EL3 with SMCCC v1.2's register convention: x0..x17 in and out, the
    // rest preserved by the SPMD. No memory of ours is touched by EL3.
    unsafe {
        asm!(
            "smc #0",
            inout("x0") * x0,
            inout("x1") * x1,
            inout("x2") * x2,
            inout("x3") * x3,
            inout("x4") * x4,
            inout("x5") * x5,
            inout("x6") * x6,
            inout("x7") * x7,
            inout("x8") * x8,
            inout("x9") * x9,
            inout("x10") * x10,
            inout("x11") * x11,
            inout("x12") * x12,
            inout("x13") * x13,
            inout("x14") * x14,
            inout("x15") * x15,
            inout("x16") * x16,
            inout("x17") * x17,
            options(nostack),
        );
    }
}

/// Puts the normal world's EL1 state back if a partition ran on this core, and its FP/SIMD
/// (and SVE) state if a partition took those registers.
fn restore_normal_world(cpu: CpuId) {
    if let Some(nw) = normal_world(cpu)
        && nw.saved
    {
        nw.el1.restore();
        nw.saved = false;
    }
    fp::give_back(cpu);
}

/// Priority mask that lets secure interrupts through and holds back every non-secure one
/// (as seen from the secure state, non-secure priorities are 0x80 and up).
const MASK_NS_INTERRUPTS: u8 = 0x80;

/// What a partition's exit asks for.
enum Exit {
    /// Resume it with its EL1 registers as they are (a WFI/WFE completed, or it took the
    /// FP/SIMD registers).
    Continue,
    /// Resume it with the EL1 registers it has in memory (an abort or an Unknown exception was
    /// injected there).
    Resume,
    /// A non-secure interrupt is pending: the core decides whether the run ends.
    NsInterrupt,
    /// A secure interrupt is pending: the core takes it for its owner.
    SecureInterrupt,
    /// A call to the core, in its saved x0..x17.
    Call,
    /// It cannot go on.
    Abort,
}

/// Enters a partition context (its registers already delivered) and runs it until it makes
/// a call the core must answer or a non-secure interrupt arrives (held back while `mask_ns`
/// holds, for this run only); then asks the core what runs next.
fn run_partition(cpu: CpuId, slot: Slot, mask_ns: bool) -> Step {
    let event = match run_context(cpu, slot, mask_ns) {
        Exit::Call => CoreEvent::PartitionCall(slot),
        Exit::NsInterrupt => CoreEvent::NsInterrupt,
        Exit::SecureInterrupt => CoreEvent::PhysicalInterrupt,
        Exit::Abort | Exit::Resume | Exit::Continue => CoreEvent::AbortRunning,
    };
    core_call(cpu, event)
}

/// Runs a context until an exit the core must see (never [`Exit::Resume`] or
/// [`Exit::Continue`]).
fn run_context(cpu: CpuId, slot: Slot, mask_ns: bool) -> Exit {
    let Some((state, arch)) = vcpu_at(slot) else {
        println!(
            "spmc: core {}: no state for partition {}/{}",
            cpu.0, slot.partition, slot.vcpu
        );
        return Exit::Abort;
    };
    let (id, vcpu) = (arch.id, slot.vcpu);
    if let Some(nw) = normal_world(cpu)
        && !nw.saved
    {
        nw.el1.save();
        nw.saved = true;
    }
    let Some(stage2) = &arch.stage2 else {
        // Aborted at boot: the core never enters it; refuse to run it unisolated all the same.
        return Exit::Abort;
    };
    mmu::switch_stage2(stage2);
    let aff0 = if arch.mp { u64::from(vcpu) } else { 0 };
    VMPIDR_EL2.write(VMPIDR_EL2::RES1::SET + VMPIDR_EL2::Aff0.val(aff0));
    // The mask found here is the normal world's: every run puts it back when it ends. A
    // partition reaches only the virtual mask (HCR_EL2.IMO/FMO), but QEMU does not redirect
    // Secure EL1's accesses to the virtual interface, so there its write reaches the physical
    // mask for the rest of its run; it must not outlive it.
    let unmasked = GicCpuInterface::get_priority_mask();
    if mask_ns && unmasked > MASK_NS_INTERRUPTS {
        GicCpuInterface::set_priority_mask(MASK_NS_INTERRUPTS);
    }
    let exit = run_until_exit(cpu, id, vcpu, state);
    GicCpuInterface::set_priority_mask(unmasked);
    exit
}

/// Runs a context until an exit the core must see. Its EL1 registers are loaded once and
/// saved when it leaves for the core (which may give it to another CPU), or when an injection
/// needs them; FP/SIMD ones move only at its trap (`fp`).
fn run_until_exit(cpu: CpuId, id: EndpointId, vcpu: u16, state: &mut VcpuState) -> Exit {
    let mut el1_live = false;
    loop {
        if !el1_live {
            state.el1.restore();
            el1_live = true;
        }
        let owns_fp = fp::owns(cpu, id, vcpu);
        let lines = LINES
            .get(usize::from(cpu.0))
            .map_or(0, |l| l.load(Ordering::Relaxed));
        traps::enter_partition(lines & LINE_IRQ != 0, lines & LINE_FIQ != 0, owns_fp);
        // SAFETY: `regs` is this context's register file, used by this core alone; the
        // partition runs at EL1 behind its own stage 2 (set above), so it cannot reach the
        // SPMC's memory; the call returns at its next exception with the file updated. Its
        // ERET synchronizes context (SCTLR_EL2.EOS), so the registers written above apply.
        let kind = unsafe { spmc_vcpu_run(&mut state.regs) };
        traps::enter_spmc(owns_fp);
        match exit_reason(cpu, id, vcpu, state, kind) {
            Exit::Continue => {}
            Exit::Resume => el1_live = false,
            exit => {
                state.el1.save();
                return exit;
            }
        }
    }
}

fn exit_reason(cpu: CpuId, id: EndpointId, vcpu: u16, state: &mut VcpuState, kind: u64) -> Exit {
    // The exception state only: the general registers stay where the assembly saved them.
    let r = ExitState {
        esr: state.regs.esr,
        elr: state.regs.elr,
        far: state.regs.far,
        hpfar: state.regs.hpfar,
        spsr: state.regs.spsr,
    };
    match kind {
        exit::SYNC => {}
        // In the secure state a Non-secure Group 1 interrupt is signalled as FIQ (Group 0
        // goes to EL3), Secure Group 1 as IRQ.
        exit::FIQ => return Exit::NsInterrupt,
        // A secure interrupt: the core takes it for the partition that owns it.
        exit::IRQ => return Exit::SecureInterrupt,
        _ => {
            println!(
                "spmc: partition {:#06x}/{vcpu} on core {}: {} exception (ESR {:#x}, ELR {:#x}): aborted",
                id.0,
                cpu.0,
                if kind == exit::SERROR {
                    "SError"
                } else {
                    "AArch32"
                },
                r.esr,
                r.elr
            );
            return Exit::Abort;
        }
    }
    match classify(r.esr) {
        Trap::Smc => {
            state.regs.elr = r.elr.wrapping_add(4);
            Exit::Call
        }
        Trap::Hvc => Exit::Call,
        Trap::Abort { instruction } => {
            state.el1.save();
            let (vbar, elr_el1, spsr_el1) = state.exception_regs();
            let fault = FaultState {
                esr: r.esr,
                far: r.far,
                pc: r.elr,
                pstate: r.spsr,
                vbar,
                elr_el1,
                spsr_el1,
            };
            let what = if instruction { "instruction" } else { "data" };
            // HPFAR_EL2 holds IPA[47:12] in bits [43:4].
            let ipa = ((r.hpfar >> 4) << 12) | (r.far & 0xfff);
            match inject(&fault, state.injected.as_ref()) {
                Ok(injection) => {
                    println!(
                        "spmc: partition {:#06x}/{vcpu} on core {}: {what} abort at {:#x} (address {:#x}, IPA {ipa:#x}, ESR {:#x}): injected at {:#x}",
                        id.0, cpu.0, r.elr, r.far, r.esr, injection.pc
                    );
                    state.apply(&injection);
                    Exit::Resume
                }
                Err(why) => {
                    let reason = match why {
                        Uninjectable::NoVector => "no exception vector (VBAR_EL1 = 0)",
                        Uninjectable::InsideHandler => "fault inside its own abort handler",
                        Uninjectable::BadState(_) => "state the SPMC cannot inject into",
                        Uninjectable::NotInjectable => "not injectable",
                    };
                    println!(
                        "spmc: partition {:#06x}/{vcpu} on core {}: {what} abort at {:#x} (address {:#x}, IPA {ipa:#x}, ESR {:#x}), {reason}: aborted",
                        id.0, cpu.0, r.elr, r.far, r.esr
                    );
                    Exit::Abort
                }
            }
        }
        Trap::SystemRegister => {
            state.el1.save();
            let (vbar, elr_el1, spsr_el1) = state.exception_regs();
            let trap = FaultState {
                esr: r.esr,
                far: 0,
                pc: r.elr,
                pstate: r.spsr,
                vbar,
                elr_el1,
                spsr_el1,
            };
            match inject(&trap, state.injected.as_ref()) {
                // Quietly, as on a CPU without that register: a partition must not be able to
                // fill the console by trapping in a loop.
                Ok(injection) => {
                    state.apply(&injection);
                    Exit::Resume
                }
                Err(_) => {
                    println!(
                        "spmc: partition {:#06x}/{vcpu} on core {}: system register access (ESR {:#x}) at {:#x} with no way to take the exception: aborted",
                        id.0, cpu.0, r.esr, r.elr
                    );
                    Exit::Abort
                }
            }
        }
        Trap::Wait => {
            state.regs.elr = r.elr.wrapping_add(4);
            Exit::Continue
        }
        // It resumes at the trapped instruction, the registers its own.
        Trap::FpAccess if fp::trap(cpu, id, vcpu) => Exit::Continue,
        Trap::FpAccess => {
            println!(
                "spmc: partition {:#06x}/{vcpu} on core {}: FP/SIMD trap (ESR {:#x}) at {:#x} that cannot give it the registers: aborted",
                id.0, cpu.0, r.esr, r.elr
            );
            Exit::Abort
        }
        Trap::Other(ec) => {
            println!(
                "spmc: partition {:#06x}/{vcpu} on core {}: {} (EC {:#x}, ESR {:#x}) at {:#x}: aborted",
                id.0,
                cpu.0,
                class_name(ec),
                class(r.esr),
                r.esr,
                r.elr
            );
            Exit::Abort
        }
    }
}

/// The exception state of a context's last exit.
#[derive(Clone, Copy)]
struct ExitState {
    esr: u64,
    elr: u64,
    far: u64,
    hpfar: u64,
    spsr: u64,
}

/// x0..x17 of a context's saved general registers, in place.
fn call_regs(x: &[u64; 31]) -> &ffa::Regs {
    x.first_chunk::<18>().unwrap_or(&[0; 18])
}

/// What a fault report adds when the faulting core was inside the core.
const LOST: &str = "; it held the core: its lock released, every later call answered ABORTED";

/// An exception of the SPMC itself (from the vectors): report it and park this core.
#[unsafe(no_mangle)]
extern "C" fn spmc_el2_fault(kind: u64, esr: u64, elr: u64, far: u64) -> ! {
    let released = release_core_if_held();
    console::line_forced(format_args!(
        "spmc: PANIC: exception in the SPMC on core {} (kind {kind}, {}): ESR {esr:#x}, ELR {elr:#x}, FAR {far:#x}; core parked{}",
        CurrentCore,
        class_name(class(esr)),
        if released { LOST } else { "" }
    ));
    park()
}

/// The panic handler's report.
pub fn panicked(info: &core::panic::PanicInfo) -> ! {
    let released = release_core_if_held();
    console::line_forced(format_args!(
        "spmc: PANIC on core {}: {info}; core parked{}",
        CurrentCore,
        if released { LOST } else { "" }
    ));
    park()
}
