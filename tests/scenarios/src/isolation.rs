//! Isolation: what a partition reaches outside its own memory, and what becomes of a partition
//! that faults with no way to handle it.
//!
//! PROBE has a partition load a word from an address of the scenario's choice (see
//! `test_partitions::protocol`). The SPMC's stage-2 tables map a partition exactly its own
//! memory and its manifest's regions, so a load of another partition's or the SPMC's memory
//! faults at stage 2; the SPMC injects that fault into the partition as a synchronous data
//! abort at its own EL1 vector, as Hafnium does (`inject_el1_data_abort_exception`: exception
//! class 0x25, the stage-2 syndrome's ISS, FAR = the address), and the partition's handler
//! records it and returns past the load. The partition then goes on serving requests.
//!
//! CRASH has a partition take a fault with no exception vector. The SPMC aborts it
//! (`Spmc::abort_running`): the request it was handling is answered FFA_ERROR(ABORTED) to its
//! requester, the normal world or a partition up the call chain; later requests and FFA_RUN to
//! it get ABORTED; the other partitions keep running. An aborted partition stays in
//! FFA_PARTITION_INFO_GET's answers, as in Hafnium, which hides only partitions in its NULL
//! state (`vm_is_discoverable`) and keeps aborted ones listed; the SPMC core lists every
//! partition it hosts.

use ffa::{FfaError, Uuid, Version};
use test_partitions::definitions::{ECHO, HOSTILE, LEGACY, RELAY};
use test_partitions::protocol::{CallStatus, Command, NOT_ON_THIS_CPU, Reply, probe, request};
use test_partitions::{ECHO_ID, Fault, HOSTILE_ID, LEGACY_ID, LEGACY_UUID, RELAY_ID};

use crate::Client;
use crate::calls::{
    HOST_ID, direct_req32, direct_req64, negotiate, partition_info_get, run, start,
};
use crate::check::{Failure, expect_call, expect_eq, expect_error, expect_reply, expect_words};
use crate::discovery::{expect_partition_info, expected_all};
use crate::sp::{command32, command32_on};

const V1_2: Version = Version(1, 2);

/// The SPMC's image (the SPMC manifest's `load_address`).
const SPMC_IMAGE: u64 = 0x0e10_0000;
/// The SPMC manifest, where BL2 put TOS_FW_CONFIG.
const SPMC_MANIFEST: u64 = 0x0e00_2000;

/// Has `from` PROBE `addr`; returns the response words after the status.
fn probe(
    c: &mut dyn Client,
    what: &'static str,
    from: u16,
    addr: u64,
) -> Result<[u64; 4], Failure> {
    let words = command32(
        c,
        what,
        from,
        Command::Probe,
        &[addr & 0xffff_ffff, addr >> 32],
    )?;
    Ok([words[1], words[2], words[3], words[4]])
}

/// Has `from` PROBE `addr` and checks that its own handler took a data abort for that read.
fn expect_fault(
    c: &mut dyn Client,
    what: &'static str,
    from: u16,
    addr: u64,
) -> Result<(), Failure> {
    let [outcome, lo, hi, esr] = probe(c, what, from, addr)?;
    expect_eq(what, probe::FAULTED, outcome)?;
    expect_eq("fault address the handler saw (FAR)", addr, hi << 32 | lo)?;
    let fault = Fault {
        address: addr,
        syndrome: esr,
    };
    expect_eq(
        "exception class the handler saw (data abort, same EL)",
        Fault::EC_DATA_ABORT_SAME_EL,
        fault.exception_class(),
    )?;
    expect_eq(
        "ESR.WnR the handler saw (a read)",
        0,
        u64::from(fault.is_write()),
    )
}

/// Has `from` PROBE `addr` and checks that the load returned a value; returns it.
fn expect_read(
    c: &mut dyn Client,
    what: &'static str,
    from: u16,
    addr: u64,
) -> Result<u64, Failure> {
    let [outcome, lo, hi, _] = probe(c, what, from, addr)?;
    expect_eq(what, probe::READ, outcome)?;
    Ok(hi << 32 | lo)
}

/// `dst` answers ECHO with its words (on CPU `cpu`), its status free of faults.
fn still_answers(
    c: &mut dyn Client,
    what: &'static str,
    cpu: u16,
    dst: u16,
) -> Result<(), Failure> {
    let words = command32_on(c, cpu, what, dst, Command::Echo, &[0x11, 0x22, 0x33, 0x44])?;
    expect_words(what, &[0x11, 0x22, 0x33, 0x44], &words[1..])
}

/// echo reads relay's and legacy's memory: each load faults, echo's own handler sees the data
/// abort with the address, and echo keeps answering. relay, an MP partition, gets the same for
/// echo's memory.
pub fn isolation_read_other_partition(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    expect_fault(c, "echo reads relay's memory", ECHO_ID, RELAY.load_address)?;
    still_answers(c, "ECHO to echo after its fault", 0, ECHO_ID)?;
    expect_fault(
        c,
        "echo reads legacy's RX buffer",
        ECHO_ID,
        LEGACY.rx_buffer(),
    )?;
    expect_fault(c, "relay reads echo's memory", RELAY_ID, ECHO.load_address)?;
    still_answers(c, "ECHO to echo after the faults", 0, ECHO_ID)?;
    still_answers(c, "ECHO to relay after its fault", 0, RELAY_ID)?;
    still_answers(c, "ECHO to legacy, whose memory was read", 0, LEGACY_ID)
}

/// Partitions read the SPMC's image and its manifest: both fault, and the partitions go on.
pub fn isolation_read_spmc(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    expect_fault(c, "echo reads the SPMC's image", ECHO_ID, SPMC_IMAGE)?;
    expect_fault(
        c,
        "legacy reads the SPMC's manifest",
        LEGACY_ID,
        SPMC_MANIFEST,
    )?;
    still_answers(c, "ECHO to echo after its fault", 0, ECHO_ID)?;
    still_answers(c, "ECHO to legacy after its fault", 0, LEGACY_ID)
}

/// A partition reads its own memory without a fault and sees what the SPMC wrote there: the
/// boot-information blob's header over its package, and the partition-information
/// descriptors FFA_PARTITION_INFO_GET put in its RX buffer.
pub fn isolation_read_own_memory(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let header = expect_read(
        c,
        "echo reads its boot-information blob",
        ECHO_ID,
        ECHO.load_address,
    )?;
    expect_eq(
        "blob signature and version (header words 0 and 1)",
        u64::from(ffa::version::to_u32(ECHO.ffa_version)) << 32
            | u64::from(ffa::boot_info::SIGNATURE),
        header,
    )?;
    let words = command32(
        c,
        "echo asks for every partition",
        ECHO_ID,
        Command::PartitionInfo,
        &[0, 0, 0, 0],
    )?;
    expect_call(
        "echo's FFA_PARTITION_INFO_GET",
        words[1],
        CallStatus::Success,
    )?;
    let first = expect_read(c, "echo reads its RX buffer", ECHO_ID, ECHO.rx_buffer())?;
    // Descriptor 0: ID, execution-context count, properties (as a partition sees them).
    let expected = u64::from(ECHO.properties(V1_2, true)) << 32
        | u64::from(ECHO.exec_ctx_count) << 16
        | u64::from(ECHO_ID);
    expect_eq(
        "first descriptor's first word in echo's RX buffer",
        expected,
        first,
    )?;
    still_answers(c, "ECHO to echo after its reads", 0, ECHO_ID)
}

/// echo (UP) and relay (MP) overwrite the EL1 timers while the normal world's virtual timer
/// is armed on the same core: the SPMC switches timers with the worlds, so the normal world's
/// timer keeps its settings and expires on time (on QEMU; in-process there is no timer, and
/// only the calls are checked).
pub fn partition_timer_writes_stay_in_the_partition(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    for (cpu, dst, what, kept) in [
        (
            0,
            ECHO_ID,
            "echo overwrites the EL1 timers",
            "the normal world's timer, after echo's writes, expired as set (1: yes)",
        ),
        (
            1,
            RELAY_ID,
            "relay overwrites the EL1 timers on CPU 1",
            "the normal world's timer on CPU 1, after relay's writes, expired as set (1: yes)",
        ),
    ] {
        let armed = c.arm_timer(cpu);
        command32_on(c, cpu, what, dst, Command::Clobber, &[])?;
        if armed {
            let expired = c.timer_expired(cpu);
            expect_eq(kept, 1, u64::from(expired == Some(true)))?;
        }
        still_answers(c, "ECHO after the timer writes", cpu, dst)?;
    }
    Ok(())
}

/// echo (UP) and relay (MP) read PMCR_EL0 and DBGBVR0_EL1 and write ACTLR_EL1,
/// ICC_SGI1R_EL1 and MDSCR_EL1: the SPMC traps each access (PMU, debug, auxiliary control,
/// physical SGIs)
/// and answers it with an Unknown-reason exception at the partition's own vector, as on a CPU
/// without those registers; the partitions take it and go on. Their write of 0 to
/// ICC_SRE_EL1 traps too, or leaves the interface on where the GIC fixes it (QEMU). In-process
/// there is no CPU, and the partitions say so.
pub fn partition_register_accesses_trap(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let expected = if c.on_hardware() {
        0b11_1111
    } else {
        NOT_ON_THIS_CPU
    };
    for (cpu, dst, what) in [
        (
            0,
            ECHO_ID,
            "echo tries PMCR_EL0, DBGBVR0_EL1, ACTLR_EL1, ICC_SGI1R_EL1, ICC_SRE_EL1 and MDSCR_EL1",
        ),
        (1, RELAY_ID, "relay tries the same on CPU 1"),
    ] {
        let words = command32_on(c, cpu, what, dst, Command::TrappedRegisters, &[])?;
        expect_eq(
            "accesses answered with an Unknown-reason exception (PMCR_EL0 bit 0, DBGBVR0_EL1 \
             bit 1, ACTLR_EL1 bit 2, ICC_SGI1R_EL1 bit 3, MDSCR_EL1 bit 5; bit 4: ICC_SRE_EL1 \
             stayed on)",
            expected,
            words[1],
        )?;
        still_answers(c, "ECHO after the trapped accesses", cpu, dst)?;
    }
    Ok(())
}

/// legacy faults with no vector while handling the normal world's request: the request is
/// answered ABORTED, later requests and FFA_RUN to legacy too, echo and relay keep answering,
/// and legacy is still listed.
pub fn aborted_partition(c: &mut dyn Client) -> Result<(), Failure> {
    start(c, V1_2)?;
    let answer = direct_req32(c, HOST_ID, LEGACY_ID, request(Command::Crash, &[]));
    expect_error(
        "DIRECT_REQ to legacy, which crashes",
        &answer,
        FfaError::Aborted,
    )?;
    still_answers(c, "ECHO to echo after legacy's abort", 0, ECHO_ID)?;
    still_answers(
        c,
        "ECHO to relay on CPU 0 after legacy's abort",
        0,
        RELAY_ID,
    )?;
    still_answers(
        c,
        "ECHO to relay on CPU 1 after legacy's abort",
        1,
        RELAY_ID,
    )?;
    let echo = request(Command::Echo, &[]);
    expect_error(
        "DIRECT_REQ_32 to the aborted legacy",
        &direct_req32(c, HOST_ID, LEGACY_ID, echo),
        FfaError::Aborted,
    )?;
    expect_error(
        "DIRECT_REQ_64 to the aborted legacy",
        &direct_req64(c, HOST_ID, LEGACY_ID, echo),
        FfaError::Aborted,
    )?;
    expect_error(
        "FFA_RUN of the aborted legacy",
        &run(c, LEGACY_ID, 0),
        FfaError::Aborted,
    )?;
    let answer = partition_info_get(c, LEGACY_UUID, true);
    crate::check::expect_success_w2(
        "FFA_PARTITION_INFO_GET(legacy, count only) after its abort",
        &answer,
        1,
    )?;
    let answer = partition_info_get(c, Uuid::nil(), false);
    expect_partition_info(
        c,
        "FFA_PARTITION_INFO_GET(nil) after legacy's abort",
        &answer,
        V1_2,
        expected_all(V1_2),
    )?;
    still_answers(c, "ECHO to echo at the end", 0, ECHO_ID)
}

/// echo forwards CRASH to legacy: echo, blocked on legacy, gets ABORTED for its request and
/// reports it; a later forward to legacy is refused ABORTED at once; everyone else answers.
pub fn aborted_partition_in_chain(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let words = command32(
        c,
        "echo forwards CRASH to legacy",
        ECHO_ID,
        Command::Forward,
        &[u64::from(LEGACY_ID), Command::Crash.code()],
    )?;
    let aborted = Reply::Error(i32::from(FfaError::Aborted));
    expect_reply("legacy's answer to echo's request", words[1], aborted)?;
    still_answers(c, "ECHO to echo after legacy's abort", 0, ECHO_ID)?;
    let words = command32(
        c,
        "echo forwards ECHO to the aborted legacy",
        ECHO_ID,
        Command::Forward,
        &[u64::from(LEGACY_ID), Command::Echo.code()],
    )?;
    expect_reply("echo's request to the aborted legacy", words[1], aborted)?;
    expect_error(
        "DIRECT_REQ to the aborted legacy",
        &direct_req32(c, HOST_ID, LEGACY_ID, request(Command::Echo, &[])),
        FfaError::Aborted,
    )?;
    still_answers(c, "ECHO to relay after legacy's abort", 0, RELAY_ID)
}

/// echo → relay → legacy, which crashes: relay gets ABORTED and responds to echo, which
/// responds to the normal world; the partitions that were blocked run on.
pub fn aborted_partition_deep_in_chain(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let words = command32(
        c,
        "echo forwards to relay, which forwards CRASH to legacy",
        ECHO_ID,
        Command::Forward,
        &[
            u64::from(RELAY_ID),
            Command::Forward.code(),
            u64::from(LEGACY_ID),
            Command::Crash.code(),
        ],
    )?;
    expect_reply(
        "relay's response to echo",
        words[1],
        Reply::Response(test_partitions::protocol::Status::OK),
    )?;
    expect_reply(
        "legacy's answer to relay's request",
        words[2],
        Reply::Error(i32::from(FfaError::Aborted)),
    )?;
    still_answers(c, "ECHO to echo after the chain", 0, ECHO_ID)?;
    still_answers(c, "ECHO to relay after the chain", 0, RELAY_ID)?;
    expect_error(
        "DIRECT_REQ to the aborted legacy",
        &direct_req32(c, HOST_ID, LEGACY_ID, request(Command::Echo, &[])),
        FfaError::Aborted,
    )
}

/// What FLOOD asks of hostile: well past its console burst, so most lines are dropped.
const FLOOD_LINES: u64 = 600;
/// SMCCC's "unknown function" in w0.
const SMCCC_UNKNOWN: u64 = 0xffff_ffff;
/// PSCI SYSTEM_OFF.
const PSCI_SYSTEM_OFF: u64 = 0x8400_0008;

/// hostile attacks everything a partition can reach, one attack after another, and each
/// fails while the rest keeps working: it reads the SPMC's, echo's and the normal world's
/// memory (each load faults into its own handler), tries the registers the SPMC traps, writes
/// the EL1 timers while the normal world's is armed, writes ICC_PMR_EL1 = 0 and spins with the
/// normal world's interrupt pending (preempted, resumed untouched), sends as echo (refused),
/// asks EL3 to power the machine off (PSCI is not a partition's: SMCCC's unknown function)
/// and floods the console (lines dropped past its allowance, no call refused). Then every
/// partition answers on every core. In-process the register, timer and interrupt attacks
/// have no CPU to run on and say so.
pub fn hostile_partition_is_contained(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    expect_fault(c, "hostile reads the SPMC's image", HOSTILE_ID, SPMC_IMAGE)?;
    expect_fault(
        c,
        "hostile reads echo's memory",
        HOSTILE_ID,
        ECHO.load_address,
    )?;
    let tx = c.tx_addr();
    expect_fault(c, "hostile reads the normal world's memory", HOSTILE_ID, tx)?;

    let words = command32(
        c,
        "hostile tries the trapped registers",
        HOSTILE_ID,
        Command::TrappedRegisters,
        &[],
    )?;
    let trapped = if c.on_hardware() {
        0b11_1111
    } else {
        NOT_ON_THIS_CPU
    };
    expect_eq("hostile's trapped register accesses", trapped, words[1])?;

    let armed = c.arm_timer(0);
    command32(
        c,
        "hostile overwrites the EL1 timers",
        HOSTILE_ID,
        Command::Clobber,
        &[],
    )?;
    if armed {
        expect_eq(
            "the normal world's timer, after hostile's writes, expired as set (1: yes)",
            1,
            u64::from(c.timer_expired(0) == Some(true)),
        )?;
    }

    crate::interrupts::spin_preempted(c, 0, &HOSTILE, ECHO_ID)?;

    let words = command32(
        c,
        "hostile sends as echo",
        HOSTILE_ID,
        Command::Spoof,
        &[u64::from(RELAY_ID), u64::from(ECHO_ID)],
    )?;
    expect_call(
        "hostile's DIRECT_REQ as echo",
        words[1],
        CallStatus::error(FfaError::InvalidParameters),
    )?;

    let words = command32(
        c,
        "hostile calls PSCI SYSTEM_OFF",
        HOSTILE_ID,
        Command::Call,
        &[PSCI_SYSTEM_OFF],
    )?;
    expect_eq("w0 of hostile's PSCI SYSTEM_OFF", SMCCC_UNKNOWN, words[1])?;

    let words = command32(
        c,
        "hostile floods the console",
        HOSTILE_ID,
        Command::Flood,
        &[FLOOD_LINES],
    )?;
    expect_eq("FFA_CONSOLE_LOG calls of the flood refused", 0, words[1])?;

    for cpu in 0..crate::CPUS {
        for dst in [ECHO_ID, RELAY_ID, LEGACY_ID, HOSTILE_ID] {
            still_answers(c, "ECHO on each core after hostile's attacks", cpu, dst)?;
        }
    }
    Ok(())
}
