//! Spmc::abort_running: a running context that faulted beyond its own handling.

mod core_support;

use core_support::*;
use ffa::{FfaError, Version};
use spmc::partition::AbortReason;
use spmc::vcpu::RuntimeState;
use spmc::{CpuId, Outcome};

fn states(s: &TestSpmc) -> Vec<Option<RuntimeState>> {
    [SP1, SP2, SP3]
        .iter()
        .flat_map(|&id| (0..2).map(move |v| s.context_state(id, v)))
        .collect()
}

#[test]
fn normal_world_requester_gets_aborted_and_others_keep_running() {
    let mut s = booted();
    let req = {
        let mut r = req32(1, SP1, [0, 1, 2, 3, 4]);
        r[8..].copy_from_slice(&tagged(0x80));
        r
    };
    resumed(nwd(&mut s, 0, &req), SP1, 0);
    let r = to_spmd(s.abort_running(CpuId(0)));
    assert_error(&r, FfaError::Aborted);
    assert_eq!(r[8..], tagged(0x80), "the caller's x8..x17 come back");
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Aborted));
    assert_eq!(s.abort_reason(SP1), Some(AbortReason::Fault));
    assert_eq!(s.running_on(CpuId(0)), None);
    // Later requests to it are ABORTED; SP3 still answers.
    assert_error(
        &to_spmd(nwd(&mut s, 0, &req32(1, SP1, [0; 5]))),
        FfaError::Aborted,
    );
    let r = resumed(nwd(&mut s, 0, &req32(1, SP3, [0, 9, 0, 0, 0])), SP3, 0);
    assert_eq!(r[4], 9);
    let r = to_spmd(sp(&mut s, 0, SP3, &resp32(SP3, 1, [0, 10, 0, 0, 0])));
    assert_eq!((r[0], r[4]), (fid::RESP32, 10));
    // It may not call any more either.
    let before = states(&s);
    assert_error(
        &to_spmd(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT]))),
        FfaError::Denied,
    );
    assert_eq!(states(&s), before);
}

#[test]
fn blocked_partition_requester_is_resumed_with_aborted() {
    let mut s = booted();
    resumed(nwd(&mut s, 0, &req32(1, SP1, [0; 5])), SP1, 0);
    // SP1 asks SP3, keeping its own x8..x17.
    let mut ask = req32(SP1.0, SP3, [0; 5]);
    ask[8..].copy_from_slice(&tagged(0x30));
    resumed(sp(&mut s, 0, SP1, &ask), SP3, 0);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Blocked));
    let r = resumed(s.abort_running(CpuId(0)), SP1, 0);
    assert_error(&r, FfaError::Aborted);
    assert_eq!(r[8..], tagged(0x30));
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Running));
    assert_eq!(s.context_state(SP3, 0), Some(RuntimeState::Aborted));
    assert_eq!(s.running_on(CpuId(0)), Some((SP1, 0)));
    // SP1 asks again: ABORTED at once. Then it answers the normal world as usual.
    let r = resumed(sp(&mut s, 0, SP1, &req32(SP1.0, SP3, [0; 5])), SP1, 0);
    assert_error(&r, FfaError::Aborted);
    let r = to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 1, [0, 5, 0, 0, 0])));
    assert_eq!((r[0], r[4]), (fid::RESP32, 5));
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Waiting));
    // FFA_RUN of the dead one is ABORTED too.
    let run = regs(&[fid::RUN, u64::from(SP3.0) << 16]);
    assert_error(&to_spmd(nwd(&mut s, 0, &run)), FfaError::Aborted);
}

#[test]
fn cycles_given_by_run_end_in_aborted() {
    let mut s = booted();
    let mut run = regs(&[fid::RUN, u64::from(SP3.0) << 16]);
    run[8..].copy_from_slice(&tagged(0x50));
    let r = resumed(nwd(&mut s, 1, &run), SP3, 0);
    assert_eq!(r[0], fid::RUN);
    let r = to_spmd(s.abort_running(CpuId(1)));
    assert_error(&r, FfaError::Aborted);
    assert_eq!(r[8..], tagged(0x50));
    assert_eq!(s.context_state(SP3, 0), Some(RuntimeState::Aborted));
}

#[test]
fn fault_during_cold_boot_goes_on_with_the_next_partition() {
    let mut s = new_spmc(config(), 2);
    started(s.boot(CpuId(0)), SP1, 0, SP1_LOAD + 0x4000);
    started(s.abort_running(CpuId(0)), SP2, 0, SP2_LOAD + 0x4000);
    assert_eq!(s.abort_reason(SP1), Some(AbortReason::Fault));
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Aborted));
    entered(sp(&mut s, 0, SP2, &regs(&[fid::MSG_WAIT])), SP3, 0);
    // The last one faults too: boot still ends.
    assert_eq!(to_spmd(s.abort_running(CpuId(0))), regs(&[fid::MSG_WAIT]));
    assert_eq!(s.context_state(SP2, 0), Some(RuntimeState::Waiting));
    assert_eq!(s.context_state(SP3, 0), Some(RuntimeState::Aborted));
    // SP2 works.
    resumed(nwd(&mut s, 0, &req32(1, SP2, [0; 5])), SP2, 0);
}

#[test]
fn abort_with_nothing_running_is_contained() {
    let mut s = booted();
    let before = states(&s);
    for cpu in [0, 1, 2, u16::MAX] {
        assert_error(&to_spmd(s.abort_running(CpuId(cpu))), FfaError::Denied);
    }
    assert_eq!(states(&s), before);
    assert_eq!(s.abort_reason(SP1), None);
    // Everything still works.
    resumed(nwd(&mut s, 0, &req32(1, SP1, [0; 5])), SP1, 0);
}

/// SP1 UP (sends), SP2 MP with 2 contexts (sends and receives), SP3 UP (receives).
fn booted_mp() -> TestSpmc {
    let sp1 = partition(SP1, &[U1], Version(1, 2), 1, ALL_MSG, SP1_LOAD);
    let sp2 = partition(SP2, &[U2A], Version(1, 2), 2, ALL_MSG, SP2_LOAD);
    let sp3 = partition(SP3, &[U3], Version(1, 2), 1, ALL_MSG, SP3_LOAD);
    let mut s = booted_with(config_of([sp1, sp2, sp3]), 2);
    started(s.cpu_on(CpuId(1)), SP2, 1, SP2_LOAD + 0x4000);
    assert_eq!(
        to_spmd(sp(&mut s, 1, SP2, &regs(&[fid::MSG_WAIT])))[0],
        fid::MSG_WAIT
    );
    s
}

#[test]
fn mp_context_running_on_another_cpu_unwinds_at_its_next_call() {
    let mut s = booted_mp();
    let mut on1 = req32(1, SP2, [0; 5]);
    on1[8..].copy_from_slice(&tagged(0x11));
    resumed(nwd(&mut s, 1, &on1), SP2, 1);
    // CPU 0: the normal world asks SP1, which asks SP2's context 0; that one faults.
    resumed(nwd(&mut s, 0, &req32(1, SP1, [0; 5])), SP1, 0);
    resumed(sp(&mut s, 0, SP1, &req32(SP1.0, SP2, [0; 5])), SP2, 0);
    let r = resumed(s.abort_running(CpuId(0)), SP1, 0);
    assert_error(&r, FfaError::Aborted);
    assert_eq!(s.context_state(SP2, 0), Some(RuntimeState::Aborted));
    assert_eq!(s.context_state(SP2, 1), Some(RuntimeState::Aborted));
    assert_eq!(s.running_on(CpuId(1)), Some((SP2, 1)));
    // Whatever context 1 calls next, its requester gets ABORTED instead.
    let r = to_spmd(sp(&mut s, 1, SP2, &resp32(SP2, 1, [0, 7, 0, 0, 0])));
    assert_error(&r, FfaError::Aborted);
    assert_eq!(r[8..], tagged(0x11));
    assert_eq!(s.running_on(CpuId(1)), None);
    // CPU 1 goes on: SP3 answers there.
    resumed(nwd(&mut s, 1, &req32(1, SP3, [0; 5])), SP3, 0);
    to_spmd(sp(&mut s, 1, SP3, &resp32(SP3, 1, [0; 5])));
    assert_error(
        &to_spmd(nwd(&mut s, 1, &req32(1, SP2, [0; 5]))),
        FfaError::Aborted,
    );
}

#[test]
fn mp_context_blocked_on_another_cpu_unwinds_when_its_callee_answers() {
    let mut s = booted_mp();
    let mut on1 = req32(1, SP2, [0; 5]);
    on1[8..].copy_from_slice(&tagged(0x22));
    resumed(nwd(&mut s, 1, &on1), SP2, 1);
    resumed(sp(&mut s, 1, SP2, &req32(SP2.0, SP3, [0; 5])), SP3, 0);
    // CPU 0: SP2's context 0 faults while CPU 1 runs SP3 for its context 1.
    resumed(nwd(&mut s, 0, &req32(1, SP2, [0; 5])), SP2, 0);
    assert_error(&to_spmd(s.abort_running(CpuId(0))), FfaError::Aborted);
    assert_eq!(s.context_state(SP2, 1), Some(RuntimeState::Aborted));
    assert_eq!(s.context_state(SP3, 0), Some(RuntimeState::Running));
    // SP3's answer ends its request; the normal world on CPU 1 gets ABORTED.
    let r = to_spmd(sp(&mut s, 1, SP3, &resp32(SP3, SP2.0, [0; 5])));
    assert_error(&r, FfaError::Aborted);
    assert_eq!(r[8..], tagged(0x22));
    assert_eq!(s.context_state(SP3, 0), Some(RuntimeState::Waiting));
    assert_eq!(s.running_on(CpuId(1)), None);
    resumed(nwd(&mut s, 1, &req32(1, SP3, [0; 5])), SP3, 0);
}

#[test]
fn dead_callee_of_a_dead_requester_unwinds_the_whole_chain() {
    let mut s = booted_mp();
    let mut on1 = req32(1, SP2, [0; 5]);
    on1[8..].copy_from_slice(&tagged(0x33));
    resumed(nwd(&mut s, 1, &on1), SP2, 1);
    resumed(sp(&mut s, 1, SP2, &req32(SP2.0, SP3, [0; 5])), SP3, 0);
    resumed(nwd(&mut s, 0, &req32(1, SP2, [0; 5])), SP2, 0);
    to_spmd(s.abort_running(CpuId(0)));
    // SP3 faults too, on CPU 1: past the dead SP2, the normal world gets ABORTED.
    let r = to_spmd(s.abort_running(CpuId(1)));
    assert_error(&r, FfaError::Aborted);
    assert_eq!(r[8..], tagged(0x33));
    assert_eq!(s.context_state(SP3, 0), Some(RuntimeState::Aborted));
    assert_eq!(s.running_on(CpuId(1)), None);
    // SP1 still answers.
    resumed(nwd(&mut s, 1, &req32(1, SP1, [0; 5])), SP1, 0);
}

#[test]
fn requester_blocked_on_an_interrupted_context_learns_when_run() {
    let mut s = booted_mp();
    // CPU 1: SP1 asks SP2's context 1, which a non-secure interrupt preempts.
    resumed(nwd(&mut s, 1, &req32(1, SP1, [0; 5])), SP1, 0);
    resumed(sp(&mut s, 1, SP1, &req32(SP1.0, SP2, [0; 5])), SP2, 1);
    assert_eq!(to_spmd(s.ns_interrupt(CpuId(1)))[0], fid::INTERRUPT);
    // CPU 0: SP2's context 0 faults.
    resumed(nwd(&mut s, 0, &req32(1, SP2, [0; 5])), SP2, 0);
    to_spmd(s.abort_running(CpuId(0)));
    assert_eq!(s.context_state(SP2, 1), Some(RuntimeState::Aborted));
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Preempted));
    let run_sp2 = regs(&[fid::RUN, u64::from(SP2.0) << 16 | 1]);
    assert_error(&to_spmd(nwd(&mut s, 1, &run_sp2)), FfaError::Aborted);
    let run_sp1 = regs(&[fid::RUN, u64::from(SP1.0) << 16]);
    let r = resumed(nwd(&mut s, 1, &run_sp1), SP1, 0);
    assert_error(&r, FfaError::Aborted);
    let r = to_spmd(sp(&mut s, 1, SP1, &resp32(SP1, 1, [0; 5])));
    assert_eq!(r[0], fid::RESP32);
}

#[test]
fn fault_during_warm_boot_goes_on_with_the_next_context() {
    let sp1 = partition(SP1, &[U1], Version(1, 2), 1, ALL_MSG, SP1_LOAD);
    let sp2 = partition(SP2, &[U2A], Version(1, 2), 2, ALL_MSG, SP2_LOAD);
    let sp3 = partition(SP3, &[U3], Version(1, 2), 2, ALL_MSG, SP3_LOAD);
    let mut s = booted_with(config_of([sp1, sp2, sp3]), 2);
    started(s.cpu_on(CpuId(1)), SP2, 1, SP2_LOAD + 0x4000);
    let next = s.abort_running(CpuId(1));
    assert!(matches!(next, Outcome::Enter { partition, vcpu: 1, .. } if partition == SP3));
    assert_eq!(s.context_state(SP2, 0), Some(RuntimeState::Aborted));
    assert_eq!(s.context_state(SP2, 1), Some(RuntimeState::Aborted));
    assert_eq!(
        to_spmd(sp(&mut s, 1, SP3, &regs(&[fid::MSG_WAIT]))),
        regs(&[fid::MSG_WAIT])
    );
    assert_error(
        &to_spmd(nwd(&mut s, 0, &req32(1, SP2, [0; 5]))),
        FfaError::Aborted,
    );
}
