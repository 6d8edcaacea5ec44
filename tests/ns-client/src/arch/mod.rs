//! The client at NS-EL1 on QEMU virt, behind the proxy.
//!
//! Core 0 prints PSCI_VERSION as the proxy passes it through, starts cores 1..3 with PSCI
//! CPU_ON (which the proxy rewrites to its warm entry), waits for each to reach its work loop,
//! runs the scenario the selector word at 0x4700_0000 names from the home core it names (core
//! 0 makes its own calls, the others through their slots), prints the result and verdict
//! lines on UART0 and powers the machine off (PSCI SYSTEM_OFF).
//!
//! With the bench selector ([`crate::bench::SELECTOR`], a one-CPU machine) it starts no other
//! core: it negotiates FF-A v1.2, times row (d) with [`timed_smc`] (the virtual counter is
//! readable at EL1: the proxy leaves CNTHCTL_EL2.EL1TVCT clear, and CNTKCTL_EL1 only governs
//! EL0), prints the row and the verdict, and powers off. With the profile selector
//! ([`crate::bench::PROFILE_SELECTOR`]) the same with fewer calls, each timed one marked in its
//! SMC immediate ([`timed_smc_marked`]) for QEMU's execution log. With the words of the bench
//! boots the proxy times alone ([`crate::bench::proxy_only`]) it only prints the verdict and
//! powers off.
//!
//! The MMU stays off: every data access is Device-nGnRnE, so the code is built strict-align,
//! uses no atomics (no exclusives on Device memory) and shares the per-core slots with volatile
//! accesses and DSBs.

mod entry;
mod sve;

use core::fmt::{self, Write};
use core::ptr::NonNull;

use aarch64_cpu::asm::barrier::{SY, dsb, isb};
use aarch64_cpu::registers::{
    CNTFRQ_EL0, CNTPCT_EL0, CNTV_CTL_EL0, CNTV_CVAL_EL0, CNTVCT_EL0, ELR_EL1, ESR_EL1, FAR_EL1,
    ID_AA64ISAR1_EL1, MPIDR_EL1, Readable, Writeable,
};
use arm_gic::gicv3::registers::{Gicd, GicdCtlr, GicrSgi};
use arm_gic::gicv3::{GicCpuInterface, GicV3, SgiTarget, SgiTargetGroup};
use arm_gic::{IntId, InterruptGroup};
use arm_pl011_uart::{PL011Registers, Uart};
use arm_psci::FunctionId;
use ffa::Regs;
use safe_mmio::UniqueMmioPointer;
pub use smc_call::{smc, timed_smc, timed_smc_marked};

use crate::bench;
use crate::run::{self, Harness, HarnessFault};
use crate::slot::{self, SlotCell, SlotError};

/// Cores the client runs on (QEMU's -smp 4; MPIDR Aff0 = core number).
pub const CPUS: usize = scenarios::CPUS as usize;
/// The scenario selector (u32, little endian; QEMU's loader writes it).
const SELECTOR: usize = 0x4700_0000;
/// The client's FF-A buffers (one page each).
const TX: u64 = 0x4800_0000;
const RX: u64 = 0x4800_1000;
/// UART0 (the normal world's console).
const UART0: usize = 0x0900_0000;
/// How long cores get to come up (guest time).
const BRING_UP_SECONDS: u64 = 10;

fn psci(func: FunctionId, args: &[u64]) -> u64 {
    let mut regs = [0u64; 18];
    regs[0] = u64::from(u32::from(func));
    for (reg, arg) in regs[1..].iter_mut().zip(args) {
        *reg = *arg;
    }
    smc(&regs)[0]
}

/// UART0 output (no lock: only core 0 prints, but for a fatal report).
struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let regs = NonNull::new(UART0 as *mut PL011Registers).ok_or(fmt::Error)?;
        // SAFETY: UART0 is mapped as a device in the client's stage-2 (its stage-1 is off).
        // Pointers made here are short-lived; the proxy writes the same device from EL2, and
        // PL011 data writes from several writers are independent.
        let mut uart = Uart::new(unsafe { UniqueMmioPointer::new(regs) });
        uart.write_str(s)
    }
}

macro_rules! println {
    ($($arg:tt)*) => {{
        // Output is best effort: there is nowhere else to report a console error.
        let _ = writeln!(Console, $($arg)*);
    }};
}

/// One core's call slot in client memory (zeroed .bss: offline).
#[repr(C, align(64))]
struct SlotMemory {
    state: u32,
    regs: [u64; 18],
}

static mut SLOTS: [SlotMemory; CPUS] = [const {
    SlotMemory {
        state: 0,
        regs: [0; 18],
    }
}; CPUS];

/// A slot, accessed only through volatile reads and writes.
struct Slot(*mut SlotMemory);

fn slot_of(cpu: usize) -> Option<Slot> {
    if cpu >= CPUS {
        return None;
    }
    // SAFETY: `cpu` is in bounds; only a raw pointer is made, never a reference, so the other
    // core's volatile accesses alias nothing Rust assumes.
    Some(Slot(unsafe { &raw mut SLOTS[cpu] }))
}

impl SlotCell for Slot {
    fn state(&self) -> u32 {
        // SAFETY: `self.0` points at a live slot (a static); volatile, since another core
        // writes it.
        let word = unsafe { (&raw const (*self.0).state).read_volatile() };
        dsb(SY);
        word
    }

    fn set_state(&self, word: u32) {
        dsb(SY);
        // SAFETY: as in `state`.
        unsafe { (&raw mut (*self.0).state).write_volatile(word) };
        dsb(SY);
    }

    fn regs(&self) -> Regs {
        let mut regs = [0u64; 18];
        for (i, reg) in regs.iter_mut().enumerate() {
            // SAFETY: as in `state`; `i` < 18.
            *reg = unsafe { (&raw const (*self.0).regs[i]).read_volatile() };
        }
        regs
    }

    fn set_regs(&self, regs: &Regs) {
        for (i, reg) in regs.iter().enumerate() {
            // SAFETY: as in `state`; `i` < 18.
            unsafe { (&raw mut (*self.0).regs[i]).write_volatile(*reg) };
        }
    }

    fn wait(&self) {
        aarch64_cpu::asm::wfe();
    }

    fn wake(&self) {
        aarch64_cpu::asm::sev();
    }
}

/// The scenarios' view of this client.
struct QemuClient {
    fault: Option<HarnessFault>,
    /// The proxy's hostile-hypervisor answer (x1 at entry), when the scenario asked for it.
    hypervisor_report: Option<u64>,
    /// Each core's timer deadline, as [`local::ARM_TIMER`] set it.
    deadlines: [u64; CPUS],
}

/// Registers from a prefix.
fn regs_of(prefix: &[u64]) -> Regs {
    let mut regs = [0; 18];
    for (r, v) in regs.iter_mut().zip(prefix) {
        *r = *v;
    }
    regs
}

/// Calls the client serves on the core a call names instead of making an SMC: its own timer,
/// which only that core reaches. Wider than 32 bits, so no SMC function ID is one of them.
mod local {
    /// Arm the virtual timer; x1 = ticks from now. Answers x0 = 1, x1 = the compare value.
    pub const ARM_TIMER: u64 = 0xc11e_0000_0000_0001;
    /// Wait for the timer to expire, then answer x0 = 1 if it is still armed at x1 with its
    /// interrupt masked and has expired (it is disabled afterwards).
    pub const TIMER_EXPIRED: u64 = 0xc11e_0000_0000_0002;
    /// Send [`super::SGI`] to this core with the core's interrupts masked (PSTATE), so it
    /// stays pending; answers x0 = 1 once the CPU interface shows it pending.
    pub const PEND_SGI: u64 = 0xc11e_0000_0000_0003;
    /// Acknowledge and end the highest-priority pending Group 1 interrupt (the SRI included,
    /// enabled for the purpose); answers x0 = 1 and x1 = its INTID, or x0 = 0 if none arrived
    /// within a few milliseconds.
    pub const TAKE_INTERRUPT: u64 = 0xc11e_0000_0000_0004;
    /// Make the FF-A call x1..x17 (as its x0..x16) with every SVE register set
    /// (`super::sve`); answers x0 = which did not come back (`sve::round_trip`'s mask; u64::MAX: no SVE) and
    /// x1..x17 = the call's answer x0..x16.
    pub const SVE_CALL: u64 = 0xc11e_0000_0000_0005;
    /// Make this core's share of `scenarios::at_once::run`: x1 = target partition, x2 =
    /// requests; answers the tally (`Tally::to_regs`).
    pub const AT_ONCE: u64 = 0xc11e_0000_0000_0006;
}

/// The non-secure SGI the client sends itself.
const SGI: u32 = 1;
/// The GICv3 distributor and the redistributors (QEMU virt).
const GICD: usize = 0x0800_0000;
const GICR: usize = 0x080a_0000;

/// The schedule receiver interrupt the SPMC pends on a core for the normal world (Hafnium's
/// SGI 8).
const SRI: u32 = 8;

/// This core's number and a driver for the GIC, with the distributor's non-secure Group 1
/// and this core's CPU interface enabled (interrupts stay masked at PSTATE: the client polls).
fn gic_here() -> Option<(GicV3<'static>, usize)> {
    let core = (MPIDR_EL1.get() & 0xff) as usize;
    let gicd = NonNull::new(GICD as *mut Gicd)?;
    let gicr = NonNull::new(GICR as *mut GicrSgi)?;
    // SAFETY: GICD and GICR are the GIC's frames, mapped as Device by the client's stage-2
    // (stage 1 is off); the driver is short-lived, and the one other user, another core of
    // this client, touches only its own redistributor and the distributor's control bits.
    let gic = unsafe { GicV3::new(UniqueMmioPointer::new(gicd), gicr, CPUS) };
    let mut gic = gic.ok()?;
    // The SPMC enables the SRI at its boot (as Hafnium does); the client keeps it disabled
    // but while it looks for it ([`take_interrupt_here`]).
    let _ = gic.enable_interrupt(IntId::sgi(SRI), Some(core), false);
    gic.gicd_set_control(GicdCtlr::EnableGrp1NS);
    GicCpuInterface::enable_system_register_el1();
    GicCpuInterface::set_priority_mask(0xff);
    GicCpuInterface::enable_group1(true);
    isb(SY);
    Some((gic, core))
}

/// Fewest acknowledge attempts [`take_interrupt_here`] makes before it gives up.
const MIN_INTERRUPT_TRIES: u32 = 10_000;

/// Acknowledges and ends the highest-priority Group 1 interrupt pending on this core, waiting
/// a few milliseconds for one to arrive.
///
/// The SRI is enabled at this core's redistributor only meanwhile: pended by the SPMC while a
/// partition runs (a notification set, a message sent, without the delay flag), an enabled SRI
/// would preempt that partition on hardware and not in-process; kept disabled, it stays
/// pending (an SGI's pending state does not depend on its enable) until the scenario looks.
fn take_interrupt_here() -> Option<u32> {
    let (mut gic, core) = gic_here()?;
    gic.enable_interrupt(IntId::sgi(SRI), Some(core), true)
        .ok()?;
    isb(SY);
    let limit = CNTPCT_EL0
        .get()
        .saturating_add((CNTFRQ_EL0.get() / 100).max(1));
    let mut taken = None;
    // A number of tries as well as the time: on a loaded host QEMU's vCPU thread may sleep
    // past the whole window before its first try.
    let mut tries = 0u32;
    while taken.is_none() && (tries < MIN_INTERRUPT_TRIES || CNTPCT_EL0.get() < limit) {
        taken = GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1);
        tries = tries.saturating_add(1);
        core::hint::spin_loop();
    }
    if let Some(intid) = taken {
        GicCpuInterface::end_interrupt(intid, InterruptGroup::Group1);
    }
    // Ignoring a failure: the enable above succeeded on the same redistributor.
    let _ = gic.enable_interrupt(IntId::sgi(SRI), Some(core), false);
    isb(SY);
    taken.map(u32::from)
}

/// Enables the GIC for this core's non-secure Group 1 interrupts (as a host kernel does),
/// sends [`SGI`] to this core and waits for it to show pending.
fn pend_sgi() -> bool {
    let Some((mut gic, core)) = gic_here() else {
        return false;
    };
    if gic
        .enable_interrupt(IntId::sgi(SGI), Some(core), true)
        .is_err()
    {
        return false;
    }
    let target = SgiTarget::List {
        affinity3: 0,
        affinity2: 0,
        affinity1: 0,
        target_list: 1 << core,
    };
    if GicCpuInterface::send_sgi(IntId::sgi(SGI), target, SgiTargetGroup::CurrentGroup1).is_err() {
        return false;
    }
    isb(SY);
    // Delivery to the CPU interface takes a moment: a second of the counter at most.
    let limit = CNTPCT_EL0.get().saturating_add(CNTFRQ_EL0.get());
    while CNTPCT_EL0.get() < limit {
        if GicCpuInterface::get_pending_interrupt(InterruptGroup::Group1) == Some(IntId::sgi(SGI)) {
            return true;
        }
        core::hint::spin_loop();
    }
    false
}

/// The client's own answer to a [`local`] call, or None for a call that goes to EL3.
fn local_call(regs: &Regs) -> Option<Regs> {
    let mut answer = [0; 18];
    match regs[0] {
        local::ARM_TIMER => {
            let deadline = CNTVCT_EL0.get().saturating_add(regs[1]);
            CNTV_CVAL_EL0.set(deadline);
            CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::SET);
            isb(SY);
            answer[0] = 1;
            answer[1] = deadline;
        }
        local::TIMER_EXPIRED => {
            let deadline = regs[1];
            // The status bit may follow the counter with a lag (QEMU updates it from a host
            // timer): wait for it, a second past the deadline at most.
            let limit = deadline.saturating_add(CNTFRQ_EL0.get());
            while !CNTV_CTL_EL0.is_set(CNTV_CTL_EL0::ISTATUS) && CNTVCT_EL0.get() < limit {
                core::hint::spin_loop();
            }
            isb(SY);
            let intact = CNTV_CVAL_EL0.get() == deadline
                && CNTV_CTL_EL0.matches_all(
                    CNTV_CTL_EL0::ENABLE::SET
                        + CNTV_CTL_EL0::IMASK::SET
                        + CNTV_CTL_EL0::ISTATUS::SET,
                );
            CNTV_CTL_EL0.set(0);
            answer[0] = u64::from(intact);
        }
        local::PEND_SGI => answer[0] = u64::from(pend_sgi()),
        local::SVE_CALL => {
            let mut call = [0; 18];
            call[..17].copy_from_slice(&regs[1..]);
            match sve::round_trip(&call) {
                Some((lost, result)) => {
                    answer[0] = lost;
                    answer[1..].copy_from_slice(&result[..17]);
                }
                None => answer[0] = u64::MAX,
            }
        }
        local::TAKE_INTERRUPT => {
            if let Some(intid) = take_interrupt_here() {
                answer[0] = 1;
                answer[1] = u64::from(intid);
            }
        }
        local::AT_ONCE => {
            let core = (MPIDR_EL1.get() & 0xff) as u16;
            let (target, count) = (regs[1] as u16, regs[2] as u32);
            answer = scenarios::at_once::run(core, target, count, smc).to_regs();
        }
        _ => return None,
    }
    Some(answer)
}

/// An SMC, or the client's own [`local`] call.
fn call_here(regs: &Regs) -> Regs {
    local_call(regs).unwrap_or_else(|| smc(regs))
}

impl scenarios::Client for QemuClient {
    fn on_hardware(&self) -> bool {
        true
    }

    fn arm_timer(&mut self, cpu: u16) -> bool {
        // A millisecond: long enough to outlast the arming, short enough to wait for.
        let ticks = (CNTFRQ_EL0.get() / 1000).max(1);
        let answer = self.call_on(cpu, &regs_of(&[local::ARM_TIMER, ticks]));
        if answer[0] != 1 {
            return false;
        }
        if let Some(slot) = self.deadlines.get_mut(usize::from(cpu)) {
            *slot = answer[1];
        }
        true
    }

    fn timer_expired(&mut self, cpu: u16) -> Option<bool> {
        let deadline = *self.deadlines.get(usize::from(cpu))?;
        let answer = self.call_on(cpu, &regs_of(&[local::TIMER_EXPIRED, deadline]));
        Some(answer[0] == 1)
    }

    fn pend_interrupt(&mut self, cpu: u16) -> bool {
        self.call_on(cpu, &regs_of(&[local::PEND_SGI]))[0] == 1
    }

    fn take_interrupt(&mut self, cpu: u16) -> Option<u32> {
        let answer = self.call_on(cpu, &regs_of(&[local::TAKE_INTERRUPT]));
        (answer[0] == 1).then_some(answer[1] as u32)
    }

    fn sve_call(&mut self, cpu: u16, regs: &Regs) -> Option<(u64, Regs)> {
        let mut local = [0; 18];
        local[0] = local::SVE_CALL;
        local[1..].copy_from_slice(&regs[..17]);
        let answer = self.call_on(cpu, &local);
        if answer[0] == u64::MAX {
            return None;
        }
        let mut result = [0; 18];
        result[..17].copy_from_slice(&answer[1..]);
        Some((answer[0], result))
    }

    fn at_once(
        &mut self,
        cpus: &[u16],
        target: u16,
        count: u32,
    ) -> [scenarios::at_once::Tally; CPUS] {
        let mut tallies = [scenarios::at_once::Tally::default(); CPUS];
        let request = regs_of(&[local::AT_ONCE, u64::from(target), u64::from(count)]);
        // The other cores start first; this one (core 0) makes its share meanwhile.
        let mut posted = [false; CPUS];
        for (posted, &cpu) in posted.iter_mut().zip(cpus).filter(|(_, cpu)| **cpu != 0) {
            let result = slot_of(usize::from(cpu))
                .ok_or(SlotError::Offline)
                .and_then(|slot| slot::post(&slot, &request));
            match result {
                Ok(()) => *posted = true,
                Err(error) => {
                    self.fault.get_or_insert(HarnessFault { cpu, error });
                }
            }
        }
        for (tally, &cpu) in tallies.iter_mut().zip(cpus) {
            if cpu == 0 {
                *tally = scenarios::at_once::run(0, target, count, smc);
            }
        }
        for ((tally, &cpu), _) in tallies.iter_mut().zip(cpus).zip(posted).filter(|(_, p)| *p) {
            let result = slot_of(usize::from(cpu))
                .ok_or(SlotError::Offline)
                .and_then(|slot| slot::collect(&slot));
            match result {
                Ok(answer) => *tally = scenarios::at_once::Tally::from_regs(&answer),
                Err(error) => {
                    self.fault.get_or_insert(HarnessFault { cpu, error });
                }
            }
        }
        tallies
    }

    fn call_on(&mut self, cpu: u16, regs: &Regs) -> Regs {
        if cpu == 0 {
            return call_here(regs);
        }
        let result = slot_of(usize::from(cpu))
            .ok_or(SlotError::Offline)
            .and_then(|slot| slot::call(&slot, regs));
        match result {
            Ok(answer) => answer,
            Err(error) => {
                self.fault.get_or_insert(HarnessFault { cpu, error });
                // SMCCC's unknown-function answer; the harness fault decides the result.
                [u64::MAX; 18]
            }
        }
    }

    fn tx_addr(&self) -> u64 {
        TX
    }

    fn rx_addr(&self) -> u64 {
        RX
    }

    fn mailbox_pages(&self) -> u32 {
        1
    }

    fn write(&mut self, addr: u64, data: &[u8]) {
        for (i, byte) in data.iter().enumerate() {
            // SAFETY: the scenario names memory of this client (its buffers); an address outside
            // its stage-2 faults to the proxy, which reports it. Volatile: the proxy and the SPMC
            // read these bytes.
            unsafe { ((addr as usize + i) as *mut u8).write_volatile(*byte) };
        }
    }

    fn read(&self, addr: u64, buf: &mut [u8]) {
        for (i, byte) in buf.iter_mut().enumerate() {
            // SAFETY: as in `write`.
            *byte = unsafe { ((addr as usize + i) as *const u8).read_volatile() };
        }
    }

    fn probe(&mut self, addr: u64) -> Option<u64> {
        let (value, faulted): (u64, u64);
        // SAFETY: `client_probe` loads one aligned word (the scenario's address is a page of
        // host RAM) and touches nothing else; an abort at that load comes back through our
        // vector with x1 = 1 (x9, x10 clobbered).
        unsafe {
            core::arch::asm!(
                "bl client_probe",
                inout("x0") addr => value,
                out("x1") faulted,
                out("x9") _,
                out("x10") _,
                out("x30") _,
                options(nostack, readonly),
            );
        }
        (faulted == 0).then_some(value)
    }

    fn behind_proxy(&self) -> bool {
        true
    }

    fn hypervisor_report(&self) -> Option<u64> {
        self.hypervisor_report
    }
}

impl Harness for QemuClient {
    fn harness_fault(&self) -> Option<HarnessFault> {
        self.fault
    }
}

fn park() -> ! {
    loop {
        aarch64_cpu::asm::wfe();
    }
}

/// Powers the machine off (the end of every run).
fn system_off() -> ! {
    psci(FunctionId::SystemOff, &[]);
    println!("[client] SYSTEM_OFF returned");
    park()
}

/// Reports a fatal client error as a failed run and powers off.
pub fn fail(args: fmt::Arguments) -> ! {
    // `FATAL:` is what xtask's runners look for to fail the boot.
    println!("[client] FATAL: {args}");
    println!("{}", run::Verdict::Fail.line());
    system_off()
}

/// Starts cores 1..CPUS and waits until each one PSCI accepted has announced itself in its
/// slot (a machine with fewer cores refuses the rest at once).
fn bring_up() -> [bool; CPUS] {
    let mut started = [true; CPUS];
    for (cpu, started) in started.iter_mut().enumerate().skip(1) {
        let answer = psci(
            FunctionId::CpuOn64,
            &[cpu as u64, entry::secondary_entry(), cpu as u64],
        );
        if answer != 0 {
            println!("[client] CPU_ON cpu {cpu}: PSCI error {}", answer as i64);
            *started = false;
        }
    }
    let online = || {
        let mut up = [true; CPUS];
        for (cpu, up) in up.iter_mut().enumerate().skip(1) {
            *up = slot_of(cpu).is_some_and(|s| slot::is_online(&s));
        }
        up
    };
    let ticks = CNTFRQ_EL0.get().saturating_mul(BRING_UP_SECONDS);
    let start = CNTPCT_EL0.get();
    while online() != started && CNTPCT_EL0.get().wrapping_sub(start) < ticks {
        core::hint::spin_loop();
    }
    let up = online();
    for (cpu, _) in up
        .iter()
        .zip(started)
        .enumerate()
        .filter(|(_, (u, s))| !**u && *s)
    {
        println!(
            "[client] cpu {cpu}: CPU_ON accepted, not in its work loop after {BRING_UP_SECONDS} s"
        );
    }
    up
}

/// Row (d)'s samples (in .bss: 8 KB would crowd core 0's 16 KiB stack).
static mut BENCH_TICKS: [u64; bench::ITERATIONS] = [0; bench::ITERATIONS];

/// The bench mode: row (d), the verdict, power off. Core 0 alone. In the profile boot
/// (`profile`), fewer calls, each timed one marked in its SMC immediate.
fn bench_mode(proxy_failures: u64, profile: bool) -> ! {
    println!("client: {} mode", if profile { "profile" } else { "bench" });
    // SAFETY: the pointer is BENCH_TICKS's own (ITERATIONS aligned u64s), and this is the
    // only reference ever made to it, on core 0, the only core running in bench mode.
    let ticks = unsafe {
        core::slice::from_raw_parts_mut((&raw mut BENCH_TICKS).cast::<u64>(), bench::ITERATIONS)
    };
    let iterations = if profile {
        bench::PROFILE_ITERATIONS
    } else {
        bench::ITERATIONS
    };
    let mark = bench::mark_of(bench::DIRECT_REQ_ECHO_EL1.name);
    let timed = |regs: &Regs, call: bench::Call| match (profile, call, mark) {
        (true, bench::Call::Timed, Some(mark)) => {
            timed_smc_marked(mark, regs).unwrap_or_else(|| timed_smc(regs))
        }
        _ => timed_smc(regs),
    };
    run::run_bench(
        proxy_failures,
        &mut ticks[..iterations],
        timed,
        &mut Console,
    );
    system_off()
}

/// Core 0, from `client_entry` (`proxy_failures`: the proxy's failed bench rows, or its
/// hostile-hypervisor answer when that scenario runs; from x1).
extern "C" fn primary_main(proxy_failures: u64) -> ! {
    println!("[client] NS-EL1 client on cpu 0 (MMU off)");
    let version = psci(FunctionId::PsciVersion, &[]);
    println!(
        "[client] PSCI_VERSION through the proxy: {}.{}",
        version >> 16 & 0xffff,
        version & 0xffff
    );
    match pointer_authentication() {
        None => println!("[client] pointer authentication: not on this CPU"),
        Some(true) => println!("[client] pointer authentication: keys and PACIA/AUTIA usable"),
        Some(false) => fail(format_args!(
            "pointer authentication: AUTIA did not undo PACIA"
        )),
    }
    // SAFETY: the selector word is in client RAM (stage-2 mapped); QEMU's loader wrote it
    // before the machine started. Volatile: nothing in this program writes it.
    let selector = u32::from_le(unsafe { (SELECTOR as *const u32).read_volatile() });
    if selector == bench::SELECTOR || selector == bench::PROFILE_SELECTOR {
        bench_mode(proxy_failures, selector == bench::PROFILE_SELECTOR);
    }
    if bench::proxy_only(selector) {
        // The proxy timed this boot's rows (and holds cores 1..3 in the concurrency boot).
        run::report_proxy_bench(proxy_failures, &mut Console);
        system_off();
    }
    let online = bring_up();
    let mut list = [0u8; 2 * CPUS];
    let mut len = 0;
    for (cpu, _) in online.iter().enumerate().filter(|(_, up)| **up) {
        list[len] = b'0' + cpu as u8;
        list[len + 1] = b' ';
        len += 2;
    }
    let list = core::str::from_utf8(&list[..len]).unwrap_or("?");
    println!("[client] cpus in their work loop: {}", list.trim_end());

    let mut client = QemuClient {
        fault: None,
        hypervisor_report: scenarios::hypervisor::selected(selector).then_some(proxy_failures),
        deadlines: [0; CPUS],
    };
    run::run_selected(selector, &mut client, &mut Console);
    system_off()
}

/// Cores 1..CPUS, from `client_secondary_entry` (x0 = the core's number).
extern "C" fn secondary_main(cpu: usize) -> ! {
    let Some(slot) = slot_of(cpu) else { park() };
    slot::announce(&slot);
    loop {
        slot::serve(&slot, call_here);
    }
}

/// Uses pointer authentication as a host kernel does (its own keys, PACIA, AUTIA): the proxy
/// must neither trap nor break it. None when the CPU has no address authentication.
fn pointer_authentication() -> Option<bool> {
    let has = ID_AA64ISAR1_EL1.read(ID_AA64ISAR1_EL1::API) != 0
        || ID_AA64ISAR1_EL1.read(ID_AA64ISAR1_EL1::APA) != 0;
    if !has {
        return None;
    }
    let pointer: u64 = 0x4400_1234;
    let modifier: u64 = 0x5a5a;
    let back: u64;
    // SAFETY: sets the IA key and SCTLR_EL1.EnIA for the two instructions, then puts SCTLR_EL1
    // back; the client has no other use for the key. PACIA and AUTIA (as `.inst`: the
    // assembler needs no PAuth feature) only compute on x0 and x1.
    unsafe {
        core::arch::asm!(
            "mrs {old}, sctlr_el1",
            "orr {tmp}, {old}, #(1 << 31)",
            "msr sctlr_el1, {tmp}",
            "msr S3_0_C2_C1_0, {lo}",
            "msr S3_0_C2_C1_1, {hi}",
            "isb",
            ".inst 0xdac10020",
            ".inst 0xdac11020",
            "msr sctlr_el1, {old}",
            "isb",
            old = out(reg) _,
            tmp = out(reg) _,
            lo = in(reg) 0x0123_4567_89ab_cdef_u64,
            hi = in(reg) 0xfedc_ba98_7654_3210_u64,
            inout("x0") pointer => back,
            in("x1") modifier,
            options(nostack),
        );
    }
    Some(back == pointer)
}

/// Any exception the client takes: a bug in the client or a fault the proxy injected.
extern "C" fn exception(kind: u64) -> ! {
    fail(format_args!(
        "exception (vector {kind}): ESR {:#x} ELR {:#x} FAR {:#x}",
        ESR_EL1.get(),
        ELR_EL1.get(),
        FAR_EL1.get()
    ))
}
