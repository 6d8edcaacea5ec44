//! The proxy at NS-EL2 on AArch64 (QEMU virt under TF-A).
//!
//! Primary core: TF-A enters BL33 at 0x6000_0000 (x0 is the DTB only in TF-A builds for a
//! Linux BL33; QEMU's DTB is at 0x4000_0000 either way). The proxy turns its own stage-1 on,
//! builds the host's stage-2, probes FF-A (`Proxy::init` over SMC), copies the embedded client
//! into host RAM and enters it at NS-EL1 (MMU off, DAIF masked, x0 = the DTB's address).
//!
//! Host traps: HCR_EL2 = VM | RW | TSC, with API | APK so a host using pointer
//! authentication runs untrapped (the proxy uses no keys of its own). The host's SMCs trap here: PSCI calls with an entry
//! point are rewritten ([`crate::psci`]), other non-FF-A calls go to EL3 untouched, FF-A calls
//! go through the proxy core. HVCs answer SMCCC NOT_SUPPORTED ([`crate::trap`]). Any other
//! exception from the host (a stage-2 fault: it touched memory it has no access to) is
//! reported and stops that core: the host is a test client, and a fault means a bug.
//!
//! Other cores: the host's CPU_ON reaches EL3 with the proxy's warm entry; the core sets up its
//! EL2 state there and enters the host's recorded entry at NS-EL1 with x0 = its context ID.
//!
//! Bench mode (the selector word asks for it, or for the profile boot): before the client
//! runs, the primary times its rows of `cargo xtask bench` ([`bench`]) and enters the client
//! with x1 = how many failed. The bench's concurrency and OP-TEE boots have their own words
//! ([`bench_boots`]); in the first, the primary starts cores 1..3 itself, and they run the
//! bench at the warm entry.
//! The hostile-hypervisor scenario (the selector names it): before the proxy maps its own
//! mailbox, the primary asks the SPMC to map a pair in memory nothing answers at
//! ([`hostile`]) and enters the client with x1 = the answer word.

mod bench;
mod bench_boots;
/// The bench mode's requests, checks, statistics and lines, shared with the client so both
/// sides of the benchmark build, check and report alike.
use scenarios::bench as bench_rows;
mod console;
mod entry;
mod host;
mod hostile;
mod layout;
mod mmu;

use core::arch::asm;
use core::fmt;

use aarch64_cpu::registers::{
    CNTHCTL_EL2, CNTVOFF_EL2, ELR_EL1, ELR_EL2, ESR_EL1, ESR_EL2, FAR_EL1, FAR_EL2, HCR_EL2,
    HPFAR_EL2, ID_AA64PFR0_EL1, MIDR_EL1, MPIDR_EL1, Readable, SCTLR_EL1, SPSR_EL1, SPSR_EL2,
    TPIDR_EL2, VBAR_EL1, VMPIDR_EL2, VTCR_EL2, VTTBR_EL2, Writeable,
};
use spin::Mutex;
use tock_registers::{LocalRegisterCopy, register_bitfields};

register_bitfields! {u64,
    /// ZCR_EL2 (aarch64-cpu has no definition): LEN all ones asks for the longest vector.
    Zcr [
        LEN OFFSET(0) NUMBITS(4) [],
    ]
}

use crate::psci::{ClientEntry, PowerRecords, Step};
use crate::trap::{HostTrap, SMCCC_NOT_SUPPORTED};
use crate::{Conduit, HostMemory, HostStep, Proxy, Regs};
use console::println;
use entry::{Frame, vector};
use host::{CountingConduit, PhysMemory, SmcConduit};

/// The client image (build.rs: the file NS_CLIENT_BIN names, or empty).
static CLIENT_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ns-client.bin"));

/// SCTLR_EL1 for the host's entry: MMU and caches off, little-endian, RES1 bits only.
const SCTLR_EL1_MMU_OFF: u64 = 0x30d0_0800;
/// SPSR_EL2 for the host's entry: EL1h with D, A, I and F masked.
const SPSR_EL1H_MASKED: u64 = 0x3c5;
/// CNTHCTL_EL2: the host may read the physical counter and use the physical timer; the
/// virtual counter stays readable (EL1TVCT clear), as the client's bench mode needs.
const CNTHCTL: u64 = 0b11;

/// The proxy core, shared by all cores.
/// Built at compile time, in place: at 50 KiB it would not fit the 16 KiB boot stack it was
/// once built on.
static PROXY: Mutex<Proxy> = Mutex::new(Proxy::new(layout::CONFIG));
/// Host entry points waiting for their core to start.
static POWER: Mutex<Option<PowerRecords>> = Mutex::new(None);
/// VTTBR_EL2 of the host's stage-2 (0 until built).
static HOST_VTTBR: Mutex<u64> = Mutex::new(0);

/// Stops this core for good.
fn park() -> ! {
    loop {
        aarch64_cpu::asm::wfe();
    }
}

/// Reports a fatal condition on UART0 and parks the core.
pub fn fatal(args: fmt::Arguments) -> ! {
    // `FATAL:` is what xtask's runners look for to fail the boot.
    console::print_line_now(format_args!("FATAL: {args}"));
    park()
}

/// Primary core, from `proxy_entry` (MMU off, .bss zeroed, core 0's stack).
extern "C" fn primary_main(x0: u64) -> ! {
    if mmu::enable_stage1().is_err() {
        // Nothing can be printed before the MMU (and so the console lock) is on.
        park();
    }
    console::init();
    println!("BL33 at NS-EL2 (x0 {x0:#x}): own stage-1 and caches on");
    let vttbr = match mmu::build_stage2() {
        Ok(vttbr) => vttbr,
        Err(e) => fatal(format_args!("host stage-2: {e}")),
    };
    *HOST_VTTBR.lock() = vttbr;
    *POWER.lock() = Some(PowerRecords::new(entry::warm_entry(), layout::HOST_RAM));

    // Before the proxy's own mailbox exists: the check's pair must be the first one tried.
    let hostile_report = hostile::selected().then(hostile::run);
    let probed = PROXY.lock().init(&mut SmcConduit);
    match probed {
        Ok(version) => println!("FF-A {version} behind EL3: proxy ready"),
        Err(e) => println!("no usable FF-A at EL3 ({e:?}): FF-A calls will be refused"),
    }
    // The rows time the proxy's own calls to EL3: nothing else runs yet.
    let bench_failures = match bench::selected() {
        Some(mode) => bench::run(mode),
        None => bench_boots::run_selected(),
    };
    // What the client gets in x1: the bench rows that failed, or the check's answer.
    let report = hostile_report.unwrap_or(bench_failures);

    if CLIENT_IMAGE.is_empty() {
        fatal(format_args!(
            "no client image embedded (NS_CLIENT_BIN unset): nothing to run"
        ));
    }
    if CLIENT_IMAGE.len() > layout::CLIENT_MAX {
        fatal(format_args!(
            "client image of {} bytes exceeds {} bytes",
            CLIENT_IMAGE.len(),
            layout::CLIENT_MAX
        ));
    }
    let mut memory = PhysMemory::new(&layout::CONFIG);
    if memory.write(layout::CLIENT_LOAD, CLIENT_IMAGE).is_err() {
        fatal(format_args!("client image does not fit in host RAM"));
    }
    // SAFETY: cache maintenance only: the copy is complete before the instruction cache is
    // invalidated, so the host fetches the new code.
    unsafe { asm!("dsb ish", "ic iallu", "dsb ish", "isb", options(nostack)) };
    println!(
        "client: {} bytes at {:#x}; entering it at NS-EL1",
        CLIENT_IMAGE.len(),
        layout::CLIENT_LOAD
    );
    enter_host(
        0,
        ClientEntry {
            entry: layout::CLIENT_LOAD,
            context: layout::QEMU_DTB,
        },
        report,
    )
}

/// A core EL3 started at the warm entry (stage-1 on, its own stack).
extern "C" fn warm_main(core: usize) -> ! {
    if bench_boots::cores_running() {
        bench_boots::secondary(core)
    }
    let recorded = POWER.lock().as_mut().and_then(|p| p.warm_boot(core));
    match recorded {
        Some(client) => enter_host(core, client, 0),
        None => fatal(format_args!(
            "core {core} started with no host entry recorded: parked"
        )),
    }
}

/// Sets this core's EL2 state for the host and enters it at NS-EL1 with x0 = the entry's
/// context and x1 = `x1` (the failed bench rows on the primary, 0 elsewhere).
fn enter_host(core: usize, client: ClientEntry, x1: u64) -> ! {
    let vttbr = *HOST_VTTBR.lock();
    TPIDR_EL2.set(core as u64);
    VPIDR_EL2::set(MIDR_EL1.get());
    VMPIDR_EL2.set(MPIDR_EL1.get());
    CNTHCTL_EL2.set(CNTHCTL);
    CNTVOFF_EL2.set(0);
    if ID_AA64PFR0_EL1.read(ID_AA64PFR0_EL1::SVE) != 0 {
        // The host may use the longest vector the CPU and EL3 allow (pKVM gives the host its
        // maximum too); ZCR_EL2 resets to an unknown length.
        let mut zcr: LocalRegisterCopy<u64, Zcr::Register> = LocalRegisterCopy::new(0);
        zcr.modify(Zcr::LEN.val(Zcr::LEN.mask));
        // SAFETY: ZCR_EL2 (by encoding) only sets the SVE vector length for EL2 and below;
        // TF-A leaves CPTR_EL2.TZ clear for the normal world, so the write does not trap.
        unsafe { asm!("msr S3_4_C1_C2_0, {}", in(reg) zcr.get(), options(nomem, nostack)) };
    }
    SCTLR_EL1.set(SCTLR_EL1_MMU_OFF);
    VTCR_EL2.set(mmu::VTCR);
    VTTBR_EL2.set(vttbr);
    // Stage-2 on, EL1 is AArch64, the host's SMCs trap here; its pointer-authentication
    // instructions and key registers do not (the proxy neither uses nor switches keys).
    HCR_EL2.write(
        HCR_EL2::VM::Enable
            + HCR_EL2::RW::EL1IsAarch64
            + HCR_EL2::TSC::EnableTrapEl1SmcToEl2
            + HCR_EL2::API::DisableTrapPointerAuthInstToEl2
            + HCR_EL2::APK::DisableTrapPointerAuthKeyRegsToEl2,
    );
    let stack = entry::stack_top(core);
    // SAFETY: the host's stage-2 (which excludes all of the proxy's memory) is installed and
    // HCR_EL2 traps its SMCs; the exception return enters the host at EL1h with interrupts
    // masked. SP_EL2 restarts at the top of this core's stack, which nothing on it uses any
    // more: the host comes back only through the vectors. No proxy register value leaks
    // (x1 is the count the caller chose to pass).
    unsafe {
        asm!(
            "isb",
            "tlbi vmalls12e1",
            "dsb nsh",
            "isb",
            "mov sp, x2",
            "msr elr_el2, x1",
            "msr spsr_el2, x3",
            "mov x1, x4",
            "mov x2, xzr",
            "mov x3, xzr",
            "mov x4, xzr",
            "mov x5, xzr",
            "mov x6, xzr",
            "mov x7, xzr",
            "mov x8, xzr",
            "mov x9, xzr",
            "mov x10, xzr",
            "mov x11, xzr",
            "mov x12, xzr",
            "mov x13, xzr",
            "mov x14, xzr",
            "mov x15, xzr",
            "mov x16, xzr",
            "mov x17, xzr",
            "mov x18, xzr",
            "mov x19, xzr",
            "mov x20, xzr",
            "mov x21, xzr",
            "mov x22, xzr",
            "mov x23, xzr",
            "mov x24, xzr",
            "mov x25, xzr",
            "mov x26, xzr",
            "mov x27, xzr",
            "mov x28, xzr",
            "mov x29, xzr",
            "mov x30, xzr",
            "eret",
            in("x0") client.context,
            in("x1") client.entry,
            in("x2") stack,
            in("x3") SPSR_EL1H_MASKED,
            in("x4") x1,
            options(noreturn),
        )
    }
}

/// VPIDR_EL2 (not in aarch64-cpu): the MIDR the host reads.
#[allow(non_camel_case_types)]
struct VPIDR_EL2;

impl VPIDR_EL2 {
    fn set(value: u64) {
        // SAFETY: writes the ID value EL1 reads for MIDR_EL1; no memory is touched.
        unsafe { asm!("msr vpidr_el2, {v}", v = in(reg) value, options(nomem, nostack)) };
    }
}

/// Every exception taken to EL2, from the vector table.
extern "C" fn trap(kind: u64, frame: &mut Frame) {
    if kind != vector::LOWER_SYNC {
        fatal(format_args!(
            "unexpected exception (vector {kind}): ESR {:#x} ELR {:#x} FAR {:#x}",
            ESR_EL2.get(),
            ELR_EL2.get(),
            FAR_EL2.get()
        ));
    }
    let core = TPIDR_EL2.get() as usize;
    let esr = ESR_EL2.get();
    let trap = HostTrap::decode(esr);
    match trap {
        HostTrap::Smc64 { .. } => {
            ELR_EL2.set(ELR_EL2.get().wrapping_add(trap.return_step()));
            let mut regs: Regs = [0; 18];
            regs.copy_from_slice(&frame.x[..18]);
            let answer = host_call(core, &regs);
            frame.x[..18].copy_from_slice(&answer);
        }
        HostTrap::Hvc64 { .. } => frame.x[0] = SMCCC_NOT_SUPPORTED,
        HostTrap::DataAbort { .. } | HostTrap::InstructionAbort { .. } => {
            // Memory the host may not touch (a page it lent, say): the abort is the host's
            // to handle, as under pKVM; the proxy and the other cores go on.
            println!(
                "core {core}: host abort (ESR {esr:#x}) at ELR {:#x}, FAR {:#x}, HPFAR {:#x}: injected into the host",
                ELR_EL2.get(),
                FAR_EL2.get(),
                HPFAR_EL2.get()
            );
            inject_host_abort(esr);
        }
        _ => fatal(format_args!(
            "core {core}: host exception (ESR {esr:#x}) at ELR {:#x}, FAR {:#x}: core stopped",
            ELR_EL2.get(),
            FAR_EL2.get()
        )),
    }
}

/// Enters the host's synchronous exception vector with the stage-2 abort it just took, as an
/// external abort of its own exception level (EL1's view of the same access): ESR_EL1,
/// FAR_EL1, ELR_EL1 and SPSR_EL1 as the architecture sets them, the vector entry for where it
/// was, and EL1h with every exception masked.
fn inject_host_abort(esr: u64) {
    let trapped = LocalRegisterCopy::<u64, ESR_EL2::Register>::new(esr);
    let spsr = SPSR_EL2.extract();
    let from_el0 = spsr.matches_all(SPSR_EL2::M::EL0t);
    let class = match (trapped.read_as_enum(ESR_EL2::EC), from_el0) {
        (Some(ESR_EL2::EC::Value::InstrAbortLowerEL), true) => ESR_EL1::EC::InstrAbortLowerEL,
        (Some(ESR_EL2::EC::Value::InstrAbortLowerEL), false) => ESR_EL1::EC::InstrAbortCurrentEL,
        (_, true) => ESR_EL1::EC::DataAbortLowerEL,
        (_, false) => ESR_EL1::EC::DataAbortCurrentEL,
    };
    // The ISS keeps the access's shape (WnR and the rest) with the fault status "synchronous
    // external abort, not on a translation table walk".
    const FSC_MASK: u64 = 0x3f;
    const SYNC_EXTERNAL_ABORT: u64 = 0x10;
    let iss = (trapped.read(ESR_EL2::ISS) & !FSC_MASK) | SYNC_EXTERNAL_ABORT;
    ESR_EL1.write(class + ESR_EL1::IL::SET + ESR_EL1::ISS.val(iss));
    FAR_EL1.set(FAR_EL2.get());
    ELR_EL1.set(ELR_EL2.get());
    SPSR_EL1.set(spsr.get());
    // Current EL with SP_EL0, current EL with SP_ELx, or a lower EL (AArch64).
    let offset = if spsr.matches_all(SPSR_EL2::M::EL1t) {
        0x000
    } else if spsr.matches_all(SPSR_EL2::M::EL1h) {
        0x200
    } else {
        0x400
    };
    ELR_EL2.set(VBAR_EL1.get().wrapping_add(offset));
    SPSR_EL2.write(
        SPSR_EL2::M::EL1h
            + SPSR_EL2::D::Masked
            + SPSR_EL2::A::Masked
            + SPSR_EL2::I::Masked
            + SPSR_EL2::F::Masked,
    );
}

/// One SMC from the host on `core`.
fn host_call(core: usize, regs: &Regs) -> Regs {
    let step = match POWER.lock().as_mut() {
        Some(power) => power.host_call(core, regs),
        None => Step::PassThrough,
    };
    match step {
        Step::Answer(answer) => {
            println!(
                "core {core}: refused PSCI call {:#x} (answer {})",
                regs[0], answer[0] as i64
            );
            return answer;
        }
        Step::Forward {
            regs: forwarded,
            ticket,
        } => {
            // Without any lock held: the started core takes its record meanwhile.
            let answer = SmcConduit.call(&forwarded);
            if let Some(power) = POWER.lock().as_mut() {
                power.finish(ticket, regs, &answer);
            }
            return crate::psci::host_view(regs, &forwarded, &answer);
        }
        Step::PassThrough => {}
    }
    if !ffa::call::is_ffa(ffa::call::function_id(regs)) {
        // The core would forward it untouched too; without the core's lock, since some never
        // return (CPU_OFF, SYSTEM_OFF).
        return SmcConduit.call(regs);
    }
    let mut guard = PROXY.lock();
    let proxy = &mut *guard;
    let mut conduit = CountingConduit { calls: 0 };
    let answer = match proxy.first_step(regs) {
        HostStep::Answer(answer) => answer,
        HostStep::Forward => {
            // Direct requests and FFA_RUN may keep a partition running for long: other
            // cores' calls must not wait for them.
            drop(guard);
            return SmcConduit.call(regs);
        }
        // The proxy's mailbox and page ledger: held only around this, the calls it makes to
        // EL3 for it included.
        HostStep::Version | HostStep::Stateful(..) => {
            let mut memory = PhysMemory::new(proxy.config());
            proxy.handle_host_call(regs, &mut conduit, &mut memory)
        }
    };
    drop(guard);
    if conduit.calls == 0
        && let Some(code) = ffa::call::error_code(&answer)
    {
        println!("core {core}: refused FF-A call {:#x}: {code:?}", regs[0]);
    }
    answer
}
