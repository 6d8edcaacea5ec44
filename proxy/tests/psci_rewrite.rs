//! PSCI calls with an entry point: the proxy records the host's entry, hands EL3 its own warm
//! entry, and gives the record to the core that starts.

use proxy::psci::{ClientEntry, MAX_CPUS, PowerRecords, Step, core_index, host_view};

const WARM: u64 = 0x6000_0058;
const HOST_RAM: (u64, u64) = (0x4000_0000, 0x6000_0000);
const CLIENT: u64 = 0x4400_0100;

const CPU_ON64: u64 = 0xc400_0003;
const CPU_ON32: u64 = 0x8400_0003;
const CPU_SUSPEND64: u64 = 0xc400_0001;
const CPU_DEFAULT_SUSPEND64: u64 = 0xc400_000c;
const SYSTEM_SUSPEND32: u64 = 0x8400_000e;
const SVE_HINT: u64 = 1 << 16;

const SUCCESS: u64 = 0;
const INVALID_PARAMETERS: u64 = -2i64 as u64;
const ALREADY_ON: u64 = -4i64 as u64;
const ON_PENDING: u64 = -5i64 as u64;
const INVALID_ADDRESS: u64 = -9i64 as u64;

fn records() -> PowerRecords {
    PowerRecords::new(WARM, HOST_RAM)
}

fn call(args: &[u64]) -> [u64; 18] {
    let mut regs = [0u64; 18];
    for (i, r) in regs.iter_mut().enumerate() {
        *r = 0xa000 + i as u64;
    }
    regs[..args.len()].copy_from_slice(args);
    regs
}

fn answer(x0: u64, sent: &[u64; 18]) -> [u64; 18] {
    let mut a = *sent;
    a[0] = x0;
    a
}

fn forward(step: Step) -> ([u64; 18], proxy::psci::Ticket) {
    match step {
        Step::Forward { regs, ticket } => (regs, ticket),
        other => panic!("expected a forward, got {other:?}"),
    }
}

#[test]
fn core_positions_follow_tf_a_qemu() {
    assert_eq!(core_index(0), Some(0));
    assert_eq!(core_index(3), Some(3));
    // MPIDR flag bits (U, MT, RES1 bit 31) do not count.
    assert_eq!(core_index(0x8000_0002), Some(2));
    assert_eq!(core_index(0x4100_0001), Some(1));
    assert_eq!(core_index(MAX_CPUS as u64 - 1), Some(MAX_CPUS - 1));
    assert_eq!(core_index(MAX_CPUS as u64), None);
    // Cluster 1 starts at position 16: beyond the cores the proxy serves.
    assert_eq!(core_index(0x100), None);
    assert_eq!(core_index(0x1_0000), None, "Aff2");
    assert_eq!(core_index(0x1_0000_0000), None, "Aff3");
    assert_eq!(core_index(0x10), None, "Aff0 beyond a cluster");
}

#[test]
fn cpu_on_is_rewritten_and_the_target_gets_the_host_entry() {
    let mut p = records();
    let req = call(&[CPU_ON64, 2, CLIENT, 0x77]);
    let (fwd, ticket) = forward(p.host_call(0, &req));
    assert_eq!(fwd[0], CPU_ON64);
    assert_eq!(fwd[1], 2, "target untouched");
    assert_eq!(fwd[2], WARM, "EL3 gets the proxy's warm entry");
    assert_eq!(fwd[3], 0, "context ID for the proxy");
    assert_eq!(&fwd[4..], &req[4..], "x4..x17 untouched");
    assert!(p.is_pending(2));
    p.finish(ticket, &req, &answer(SUCCESS, &fwd));
    assert!(p.is_pending(2), "an accepted CPU_ON waits for its core");
    assert_eq!(
        p.warm_boot(2),
        Some(ClientEntry {
            entry: CLIENT,
            context: 0x77
        })
    );
    assert_eq!(p.warm_boot(2), None, "a record is used once");
    assert_eq!(p.warm_boot(1), None);
}

#[test]
fn the_host_sees_its_own_registers_after_the_call() {
    let mut p = records();
    let req = call(&[CPU_ON64, 1, CLIENT, 0x77]);
    let (fwd, _) = forward(p.host_call(0, &req));
    let view = host_view(&req, &fwd, &answer(SUCCESS, &fwd));
    assert_eq!(view[0], SUCCESS);
    assert_eq!(&view[1..], &req[1..]);
    // A register EL3 did change is EL3's answer.
    let mut changed = answer(SUCCESS, &fwd);
    changed[2] = 0x1234;
    assert_eq!(host_view(&req, &fwd, &changed)[2], 0x1234);
}

#[test]
fn a_refused_cpu_on_leaves_no_record() {
    let mut p = records();
    let req = call(&[CPU_ON64, 0, CLIENT, 1]);
    let (fwd, ticket) = forward(p.host_call(1, &req));
    p.finish(ticket, &req, &answer(ALREADY_ON, &fwd));
    assert!(!p.is_pending(0));
    assert_eq!(p.warm_boot(0), None);
}

#[test]
fn a_second_cpu_on_while_one_is_under_way_is_on_pending() {
    let mut p = records();
    let first = call(&[CPU_ON64, 3, CLIENT, 1]);
    let (fwd, ticket) = forward(p.host_call(0, &first));
    let second = call(&[CPU_ON64, 3, CLIENT + 8, 2]);
    match p.host_call(1, &second) {
        Step::Answer(a) => {
            assert_eq!(a[0], ON_PENDING);
            assert_eq!(&a[1..], &second[1..]);
        }
        other => panic!("{other:?}"),
    }
    p.finish(ticket, &first, &answer(SUCCESS, &fwd));
    assert_eq!(
        p.warm_boot(3).map(|c| c.context),
        Some(1),
        "the first caller's entry"
    );
}

#[test]
fn a_late_failure_does_not_clear_a_newer_record() {
    let mut p = records();
    let a = call(&[CPU_ON64, 1, CLIENT, 1]);
    let (fwd_a, ticket_a) = forward(p.host_call(0, &a));
    // The core starts and takes the record; another CPU_ON for it is then under way.
    assert!(p.warm_boot(1).is_some());
    let b = call(&[CPU_ON64, 1, CLIENT, 2]);
    let (_, _ticket_b) = forward(p.host_call(2, &b));
    p.finish(ticket_a, &a, &answer(INVALID_PARAMETERS, &fwd_a));
    assert_eq!(p.warm_boot(1).map(|c| c.context), Some(2));
}

#[test]
fn bad_targets_and_entries_are_answered_by_the_proxy() {
    let mut p = records();
    for (req, code) in [
        (call(&[CPU_ON64, 0x100, CLIENT, 0]), INVALID_PARAMETERS),
        (
            call(&[CPU_ON64, MAX_CPUS as u64, CLIENT, 0]),
            INVALID_PARAMETERS,
        ),
        (call(&[CPU_ON64, 1, 0x6000_0000, 0]), INVALID_ADDRESS),
        (call(&[CPU_ON64, 1, 0x3fff_fffc, 0]), INVALID_ADDRESS),
        (call(&[CPU_SUSPEND64, 0, 0x6000_0058, 0]), INVALID_ADDRESS),
    ] {
        match p.host_call(0, &req) {
            Step::Answer(a) => assert_eq!(a[0], code, "{req:x?}"),
            other => panic!("{req:x?}: {other:?}"),
        }
    }
    for core in 0..MAX_CPUS {
        assert!(!p.is_pending(core));
    }
}

#[test]
fn the_sve_hint_bit_does_not_hide_a_cpu_on() {
    let mut p = records();
    let req = call(&[CPU_ON64 | SVE_HINT, 1, CLIENT, 5]);
    let (fwd, _) = forward(p.host_call(0, &req));
    assert_eq!(fwd[2], WARM);
}

#[test]
fn smc32_calls_use_32_bit_values() {
    let mut p = records();
    let req = call(&[
        CPU_ON32,
        0xffff_ffff_0000_0002,
        0xffff_ffff_4400_0000,
        0xdead_0000_0000_0009,
    ]);
    let (fwd, _) = forward(p.host_call(0, &req));
    assert_eq!(fwd[2], WARM);
    assert_eq!(
        p.warm_boot(2),
        Some(ClientEntry {
            entry: 0x4400_0000,
            context: 9
        })
    );
    // A warm entry above 4 GiB cannot go in an SMC32 call.
    let mut high = PowerRecords::new(0x1_0000_0000, HOST_RAM);
    match high.host_call(0, &call(&[CPU_ON32, 1, CLIENT, 0])) {
        Step::Answer(a) => assert_eq!(a[0], -1i64 as u64),
        other => panic!("{other:?}"),
    }
    assert!(!high.is_pending(1));
}

#[test]
fn suspend_calls_record_the_callers_own_entry() {
    let mut p = records();
    // CPU_SUSPEND: power state x1, entry x2, context x3.
    let req = call(&[CPU_SUSPEND64, 0x0001_0000, CLIENT, 0x42]);
    let (fwd, ticket) = forward(p.host_call(2, &req));
    assert_eq!((fwd[1], fwd[2], fwd[3]), (0x0001_0000, WARM, 0));
    assert!(p.is_pending(2));
    // A suspend that returns (standby, or an error) never goes through the warm entry.
    p.finish(ticket, &req, &answer(SUCCESS, &fwd));
    assert!(!p.is_pending(2));

    // CPU_DEFAULT_SUSPEND and SYSTEM_SUSPEND: entry x1, context x2.
    for fid in [CPU_DEFAULT_SUSPEND64, SYSTEM_SUSPEND32] {
        let req = call(&[fid, CLIENT, 0x43]);
        let (fwd, _) = forward(p.host_call(1, &req));
        assert_eq!((fwd[1], fwd[2]), (WARM, 0), "{fid:#x}");
        // Woken from power-down: the warm entry takes the record.
        assert_eq!(
            p.warm_boot(1),
            Some(ClientEntry {
                entry: CLIENT,
                context: 0x43
            })
        );
    }
}

#[test]
fn other_calls_pass_through() {
    let mut p = records();
    for fid in [
        0x8400_0000u64, // PSCI_VERSION
        0x8400_0002,    // CPU_OFF
        0x8400_0008,    // SYSTEM_OFF
        0xc400_0004,    // AFFINITY_INFO
        0x8400_0063,    // FFA_VERSION
        0x8000_0000,    // SMCCC_VERSION
    ] {
        assert_eq!(
            p.host_call(0, &call(&[fid, 1, CLIENT, 0])),
            Step::PassThrough
        );
    }
    // CPU_ON's function number in the SiP range is not PSCI.
    assert_eq!(
        p.host_call(0, &call(&[0xc200_0003, 1, CLIENT, 0])),
        Step::PassThrough
    );
    for core in 0..MAX_CPUS {
        assert!(!p.is_pending(core));
    }
}
