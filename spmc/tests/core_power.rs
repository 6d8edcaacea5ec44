//! Secondary CPUs: warm boot of MP partitions (CPU_ON), the SPMD's CPU_OFF message, and the
//! restart of powered-off contexts.

mod core_support;

use core_support::*;
use ffa::{FfaError, Version};
use spmc::vcpu::RuntimeState;
use spmc::{CpuId, Outcome};

/// SP2's registered secondary entry point.
const SP2_WARM: u64 = SP2_LOAD + 0x4100;

/// SP1 (UP, sends requests), SP2 (MP, registers [`SP2_WARM`]), SP3 (MP, registers nothing),
/// in that boot order, on `cpus` CPUs.
fn config_mp() -> spmc::manifest::SpmcConfig {
    let sp1 = partition(SP1, &[U1], Version(1, 2), 1, ALL_MSG, SP1_LOAD);
    let sp2 = partition(SP2, &[U2A, U2B], Version(1, 2), 2, ALL_MSG, SP2_LOAD);
    let sp3 = partition(SP3, &[U3], Version(1, 1), 2, ALL_MSG, SP3_LOAD);
    config_of([sp1, sp2, sp3])
}

/// Cold boot of [`config_mp`] on CPU 0, SP2 registering its secondary entry.
fn cold_booted(cpus: u16) -> TestSpmc {
    let mut s = new_spmc(config_mp(), cpus);
    started(s.boot(CpuId(0)), SP1, 0, SP1_LOAD + 0x4000);
    started(
        sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])),
        SP2,
        0,
        SP2_LOAD + 0x4000,
    );
    let r = resumed(
        sp(&mut s, 0, SP2, &regs(&[fid::SEC_EP64, SP2_WARM])),
        SP2,
        0,
    );
    assert_success(&r);
    started(
        sp(&mut s, 0, SP2, &regs(&[fid::MSG_WAIT])),
        SP3,
        0,
        SP3_LOAD + 0x4000,
    );
    assert_eq!(
        to_spmd(sp(&mut s, 0, SP3, &regs(&[fid::MSG_WAIT])))[0],
        fid::MSG_WAIT
    );
    s
}

/// CPU_ON of `cpu`, each started context answering FFA_MSG_WAIT at once.
fn warm_booted(s: &mut TestSpmc, cpu: u16) {
    let mut o = s.cpu_on(CpuId(cpu));
    for (id, pc) in [(SP2, SP2_WARM), (SP3, SP3_LOAD + 0x4000)] {
        assert_eq!(started(o, id, cpu, pc), regs(&[]));
        o = sp(s, cpu, id, &regs(&[fid::MSG_WAIT]));
    }
    assert_eq!(to_spmd(o), regs(&[fid::MSG_WAIT]));
}

/// The SPMD's PSCI CPU_OFF framework message (x8..x17 cleared, as TF-A sends it).
fn cpu_off(s: &mut TestSpmc, cpu: u16) -> spmc::Regs {
    let msg = regs(&[fid::REQ32, 0xffff_8000, 0x8000_0000, 0x8400_0002]);
    to_spmd(nwd(s, cpu, &msg))
}

fn all_states(s: &TestSpmc) -> Vec<Option<RuntimeState>> {
    [SP1, SP2, SP3]
        .iter()
        .flat_map(|&id| (0..4).map(move |v| s.context_state(id, v)))
        .collect()
}

#[test]
fn cpu_on_starts_mp_contexts_in_boot_order_at_their_secondary_entry() {
    let mut s = cold_booted(2);
    assert_eq!(s.context_state(SP2, 1), Some(RuntimeState::NotStarted));
    // SP2 first (at its registered entry), then SP3 (none registered: its primary entry);
    // the UP SP1 is not started again. Init-time calls are answered by resuming.
    let r = started(s.cpu_on(CpuId(1)), SP2, 1, SP2_WARM);
    assert_eq!(r, regs(&[]), "a warm start has no boot information");
    assert_eq!(s.running_on(CpuId(1)), Some((SP2, 1)));
    let r = resumed(sp(&mut s, 1, SP2, &regs(&[fid::ID_GET])), SP2, 1);
    assert_eq!(r[2], u64::from(SP2.0));
    let r = started(
        sp(&mut s, 1, SP2, &regs(&[fid::MSG_WAIT])),
        SP3,
        1,
        SP3_LOAD + 0x4000,
    );
    assert_eq!(r, regs(&[]));
    assert_eq!(
        to_spmd(sp(&mut s, 1, SP3, &regs(&[fid::MSG_WAIT]))),
        regs(&[fid::MSG_WAIT])
    );
    for (id, v) in [(SP1, 0), (SP2, 0), (SP2, 1), (SP3, 0), (SP3, 1)] {
        assert_eq!(
            s.context_state(id, v),
            Some(RuntimeState::Waiting),
            "{id:x?}/{v}"
        );
    }
    assert_eq!(s.running_on(CpuId(1)), None);
    // Requests on CPU 1 now reach the contexts of CPU 1.
    resumed(nwd(&mut s, 1, &req32(1, SP2, [0; 5])), SP2, 1);
    to_spmd(sp(&mut s, 1, SP2, &resp32(SP2, 1, [0; 5])));
}

#[test]
fn cpu_on_before_cold_boot_ends_or_for_an_unknown_cpu_is_refused() {
    let mut s = new_spmc(config_mp(), 2);
    assert_error(&to_spmd(s.cpu_on(CpuId(1))), FfaError::Denied);
    started(s.boot(CpuId(0)), SP1, 0, SP1_LOAD + 0x4000);
    // SP1 still initialising on CPU 0.
    let before = all_states(&s);
    assert_error(&to_spmd(s.cpu_on(CpuId(1))), FfaError::Denied);
    assert_eq!(all_states(&s), before);
    let mut s = cold_booted(2);
    let before = all_states(&s);
    for cpu in [2, 7, u16::MAX] {
        assert_error(&to_spmd(s.cpu_on(CpuId(cpu))), FfaError::InvalidParameters);
    }
    assert_eq!(all_states(&s), before);
    // Nothing was disturbed: CPU 1 still boots.
    warm_booted(&mut s, 1);
}

#[test]
fn cpu_on_while_a_context_runs_there_is_busy() {
    let mut s = cold_booted(2);
    resumed(nwd(&mut s, 0, &req32(1, SP1, [0; 5])), SP1, 0);
    let before = all_states(&s);
    assert_error(&to_spmd(s.cpu_on(CpuId(0))), FfaError::Busy);
    assert_eq!(all_states(&s), before);
    assert_eq!(s.running_on(CpuId(0)), Some((SP1, 0)));
}

#[test]
fn cpu_on_of_a_cpu_already_on_starts_nothing() {
    let mut s = cold_booted(2);
    warm_booted(&mut s, 1);
    assert_eq!(to_spmd(s.cpu_on(CpuId(1))), regs(&[fid::MSG_WAIT]));
    // Nor does it restart CPU 0's contexts.
    assert_eq!(to_spmd(s.cpu_on(CpuId(0))), regs(&[fid::MSG_WAIT]));
    assert_eq!(s.context_state(SP2, 1), Some(RuntimeState::Waiting));
}

#[test]
fn cpu_off_powers_off_mp_contexts_and_cpu_on_restarts_them_afresh() {
    let mut s = cold_booted(2);
    warm_booted(&mut s, 1);
    // SP2's context 1 is busy with a yielded request when the CPU goes off.
    resumed(nwd(&mut s, 1, &req32(1, SP2, [0; 5])), SP2, 1);
    assert_eq!(
        to_spmd(sp(&mut s, 1, SP2, &regs(&[fid::YIELD])))[0],
        fid::YIELD
    );
    let answer = cpu_off(&mut s, 1);
    assert_eq!(answer[..4], [fid::RESP32, 0x8000_ffff, 0x8000_0002, 0]);
    assert_eq!(s.context_state(SP2, 1), Some(RuntimeState::Off));
    assert_eq!(s.context_state(SP3, 1), Some(RuntimeState::Off));
    for (id, v) in [(SP1, 0), (SP2, 0), (SP3, 0)] {
        assert_eq!(
            s.context_state(id, v),
            Some(RuntimeState::Waiting),
            "{id:x?}/{v}"
        );
    }
    // Powered-off contexts take no requests and cannot be run.
    assert_error(
        &to_spmd(nwd(&mut s, 1, &req32(1, SP2, [0; 5]))),
        FfaError::Busy,
    );
    let run = regs(&[fid::RUN, u64::from(SP2.0) << 16 | 1]);
    assert_error(&to_spmd(nwd(&mut s, 1, &run)), FfaError::Denied);
    // CPU_ON starts them again from their entry point, not where SP2 yielded.
    let r = started(s.cpu_on(CpuId(1)), SP2, 1, SP2_WARM);
    assert_eq!(r, regs(&[]));
    started(
        sp(&mut s, 1, SP2, &regs(&[fid::MSG_WAIT])),
        SP3,
        1,
        SP3_LOAD + 0x4000,
    );
    to_spmd(sp(&mut s, 1, SP3, &regs(&[fid::MSG_WAIT])));
    assert_eq!(s.context_state(SP2, 1), Some(RuntimeState::Waiting));
    let r = resumed(nwd(&mut s, 1, &req32(1, SP2, [0, 7, 0, 0, 0])), SP2, 1);
    assert_eq!(r[4], 7, "a fresh request, not the yielded one");
}

#[test]
fn cpu_off_keeps_up_partitions_state() {
    let mut s = cold_booted(2);
    warm_booted(&mut s, 1);
    // SP1 (UP) yields on CPU 1 with its own x8..x17 saved.
    resumed(nwd(&mut s, 1, &req32(1, SP1, [0, 5, 0, 0, 0])), SP1, 0);
    to_spmd(sp(&mut s, 1, SP1, &regs_tagged(&[fid::YIELD], 0x40)));
    cpu_off(&mut s, 1);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Preempted));
    // It resumes on CPU 0 with its x8..x17, and its response reaches the normal world.
    let run = regs_tagged(&[fid::RUN, u64::from(SP1.0) << 16], 0x50);
    let r = resumed(nwd(&mut s, 0, &run), SP1, 0);
    assert_success(&r);
    assert_eq!(&r[8..], &tagged(0x40));
    let answer = to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 1, [9, 0, 0, 0, 0])));
    assert_eq!(answer[..4], [fid::RESP32, w1(SP1.0, 1), 0, 9]);
    assert_eq!(&answer[8..], &tagged(0x50));
}

#[test]
fn the_boot_cpu_restarts_at_the_secondary_entry_too() {
    let mut s = cold_booted(2);
    cpu_off(&mut s, 0);
    assert_eq!(s.context_state(SP2, 0), Some(RuntimeState::Off));
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Waiting));
    // No manifest address this time: a warm start, at the registered entry.
    assert_eq!(started(s.cpu_on(CpuId(0)), SP2, 0, SP2_WARM), regs(&[]));
    started(
        sp(&mut s, 0, SP2, &regs(&[fid::MSG_WAIT])),
        SP3,
        0,
        SP3_LOAD + 0x4000,
    );
    to_spmd(sp(&mut s, 0, SP3, &regs(&[fid::MSG_WAIT])));
}

#[test]
fn a_failing_warm_start_aborts_only_that_context() {
    let mut s = cold_booted(2);
    started(s.cpu_on(CpuId(1)), SP2, 1, SP2_WARM);
    let next = sp(&mut s, 1, SP2, &regs(&[fid::ERROR, 0, 0xffff_fffe]));
    started(next, SP3, 1, SP3_LOAD + 0x4000);
    to_spmd(sp(&mut s, 1, SP3, &regs(&[fid::MSG_WAIT])));
    assert_eq!(s.context_state(SP2, 1), Some(RuntimeState::Aborted));
    assert_eq!(s.context_state(SP2, 0), Some(RuntimeState::Waiting));
    assert_error(
        &to_spmd(nwd(&mut s, 1, &req32(1, SP2, [0; 5]))),
        FfaError::Aborted,
    );
    resumed(nwd(&mut s, 0, &req32(1, SP2, [0; 5])), SP2, 0);
    // An aborted context stays so across CPU_OFF and CPU_ON.
    let mut s = cold_booted(2);
    started(s.cpu_on(CpuId(1)), SP2, 1, SP2_WARM);
    started(
        sp(&mut s, 1, SP2, &req32(SP2.0, SP1, [0; 5])),
        SP3,
        1,
        SP3_LOAD + 0x4000,
    );
    to_spmd(sp(&mut s, 1, SP3, &regs(&[fid::MSG_WAIT])));
    cpu_off(&mut s, 1);
    assert_eq!(s.context_state(SP2, 1), Some(RuntimeState::Aborted));
    started(s.cpu_on(CpuId(1)), SP3, 1, SP3_LOAD + 0x4000);
}

#[test]
fn cpus_without_a_context_start_nothing() {
    // 4 CPUs, MP partitions of 2 contexts: CPUs 2 and 3 have nothing to start.
    let mut s = cold_booted(4);
    assert_eq!(to_spmd(s.cpu_on(CpuId(3))), regs(&[fid::MSG_WAIT]));
    assert_eq!(cpu_off(&mut s, 3)[0], fid::RESP32);
    warm_booted(&mut s, 1);
}

#[test]
fn cpu_off_on_a_busy_cpu_is_refused() {
    let mut s = cold_booted(2);
    resumed(nwd(&mut s, 0, &req32(1, SP2, [0; 5])), SP2, 0);
    assert_error(&cpu_off(&mut s, 0), FfaError::Busy);
    assert_eq!(s.context_state(SP2, 0), Some(RuntimeState::Running));
    assert!(matches!(
        sp(&mut s, 0, SP2, &resp32(SP2, 1, [0; 5])),
        Outcome::ToSpmd(_)
    ));
}

#[test]
fn a_partition_blocked_on_a_powered_off_context_gets_aborted() {
    let mut s = cold_booted(2);
    warm_booted(&mut s, 1);
    // NWd → SP1 (UP) → SP2's context 1, which an interrupt preempts; SP1 stays Blocked on it.
    resumed(nwd(&mut s, 1, &req32(1, SP1, [0; 5])), SP1, 0);
    let r = resumed(
        sp(
            &mut s,
            1,
            SP1,
            &regs_tagged(&[fid::REQ32, w1(SP1.0, SP2.0), 0, 3], 0x70),
        ),
        SP2,
        1,
    );
    assert_eq!(r[3], 3);
    assert_eq!(to_spmd(s.ns_interrupt(CpuId(1)))[0], fid::INTERRUPT);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Blocked));
    cpu_off(&mut s, 1);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Preempted));
    // Run from CPU 0, SP1's request comes back ABORTED (with its own x8..x17), and it can
    // still answer the normal world.
    let r = resumed(
        nwd(&mut s, 0, &regs(&[fid::RUN, u64::from(SP1.0) << 16])),
        SP1,
        0,
    );
    assert_error(&r, FfaError::Aborted);
    assert_eq!(&r[8..], &tagged(0x70));
    let answer = to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 1, [4, 0, 0, 0, 0])));
    assert_eq!(answer[..4], [fid::RESP32, w1(SP1.0, 1), 0, 4]);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Waiting));
}

#[test]
fn a_request_from_a_powered_off_context_is_cancelled() {
    let mut s = cold_booted(2);
    warm_booted(&mut s, 1);
    // NWd → SP2's context 1 → SP1 (UP), which yields back to SP2; SP2 yields to the NWd.
    resumed(nwd(&mut s, 1, &req32(1, SP2, [0; 5])), SP2, 1);
    resumed(sp(&mut s, 1, SP2, &req32(SP2.0, SP1, [0; 5])), SP1, 0);
    let r = resumed(sp(&mut s, 1, SP1, &regs(&[fid::YIELD])), SP2, 1);
    assert_eq!(r[..2], [fid::YIELD, w1(SP1.0, 0)]);
    assert_eq!(
        to_spmd(sp(&mut s, 1, SP2, &regs(&[fid::YIELD])))[0],
        fid::YIELD
    );
    cpu_off(&mut s, 1);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Preempted));
    // SP1 runs on from CPU 0: its response has nobody to go to, FFA_MSG_WAIT ends its run.
    assert_success(&resumed(
        nwd(&mut s, 0, &regs(&[fid::RUN, u64::from(SP1.0) << 16])),
        SP1,
        0,
    ));
    let r = resumed(sp(&mut s, 0, SP1, &resp32(SP1, SP2.0, [0; 5])), SP1, 0);
    assert_error(&r, FfaError::Denied);
    assert_eq!(
        to_spmd(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])))[0],
        fid::MSG_WAIT
    );
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Waiting));
    resumed(nwd(&mut s, 0, &req32(1, SP1, [0; 5])), SP1, 0);
}

#[test]
fn more_contexts_than_cpus_as_hafnium_allows_the_absent_ones_never_run() {
    // OP-TEE/build's manifest asks for 8 contexts; QEMU has 4 cores.
    let sp1 = partition(SP1, &[U1], Version(1, 2), 1, ALL_MSG, SP1_LOAD);
    let sp2 = partition(SP2, &[U2A], Version(1, 2), 8, ALL_MSG, SP2_LOAD);
    let mut s = new_spmc(config_of([sp1, sp2]), 4);
    assert_eq!(s.rejected_partitions(), []);
    started(s.boot(CpuId(0)), SP1, 0, SP1_LOAD + 0x4000);
    started(
        sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])),
        SP2,
        0,
        SP2_LOAD + 0x4000,
    );
    to_spmd(sp(&mut s, 0, SP2, &regs(&[fid::MSG_WAIT])));
    for cpu in 1..4u16 {
        started(s.cpu_on(CpuId(cpu)), SP2, cpu, SP2_LOAD + 0x4000);
        to_spmd(sp(&mut s, cpu, SP2, &regs(&[fid::MSG_WAIT])));
        resumed(nwd(&mut s, cpu, &req32(cpu, SP2, [0; 5])), SP2, cpu);
        to_spmd(sp(&mut s, cpu, SP2, &resp32(SP2, cpu, [0; 5])));
    }
    for v in 0..4 {
        assert_eq!(s.context_state(SP2, v), Some(RuntimeState::Waiting), "{v}");
    }
    for v in 4..8 {
        assert_eq!(
            s.context_state(SP2, v),
            Some(RuntimeState::NotStarted),
            "{v}"
        );
    }
}
