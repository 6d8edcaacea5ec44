//! Cold boot: order, entry registers, init-time calls, init failures, and contained calls.

mod core_support;

use core_support::*;
use ffa::{FfaError, Version};
use spmc::vcpu::RuntimeState;
use spmc::{Caller, CpuId, Outcome};

#[test]
fn partitions_start_in_order_with_their_manifest_address() {
    let mut s = new_spmc(config(), 2);
    let r = started(s.boot(CpuId(0)), SP1, 0, SP1_LOAD + 0x4000);
    assert_eq!(r, regs(&[SP1_LOAD + 0x1000]));
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Running));
    assert_eq!(s.context_state(SP2, 0), Some(RuntimeState::NotStarted));
    // Init-time calls are answered by re-entering the partition.
    let r = resumed(sp(&mut s, 0, SP1, &regs(&[fid::ID_GET])), SP1, 0);
    assert_success(&r);
    assert_eq!(r[2], 0x8001);
    let r = started(
        sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])),
        SP2,
        0,
        SP2_LOAD + 0x4000,
    );
    assert_eq!(r[0], SP2_LOAD + 0x1000);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Waiting));
    let r = entered(sp(&mut s, 0, SP2, &regs(&[fid::MSG_WAIT])), SP3, 0);
    assert_eq!(r[0], SP3_LOAD + 0x1000);
    let done = to_spmd(sp(&mut s, 0, SP3, &regs(&[fid::MSG_WAIT])));
    assert_eq!(done, regs(&[fid::MSG_WAIT]));
    // An MP partition starts only its boot CPU's context.
    assert_eq!(s.context_state(SP2, 0), Some(RuntimeState::Waiting));
    assert_eq!(s.context_state(SP2, 1), Some(RuntimeState::NotStarted));
    assert_eq!(s.entry_point(SP1, 0), Some(SP1_LOAD + 0x4000));
    // SP2 registered no secondary entry: its other contexts would start at its primary one.
    assert_eq!(s.entry_point(SP2, 1), Some(SP2_LOAD + 0x4000));
    assert_eq!(s.entry_point(SP1, 1), None);
}

#[test]
fn boot_twice_or_on_unknown_cpu_is_refused() {
    let mut s = new_spmc(config(), 2);
    assert_error(&to_spmd(s.boot(CpuId(2))), FfaError::InvalidParameters);
    entered(s.boot(CpuId(0)), SP1, 0);
    assert_error(&to_spmd(s.boot(CpuId(0))), FfaError::Denied);
}

#[test]
fn no_partition_means_init_done_at_once() {
    let mut s = new_spmc(config_of::<0>([]), 1);
    assert_eq!(to_spmd(s.boot(CpuId(0)))[0], fid::MSG_WAIT);
}

#[test]
fn ffa_error_during_init_aborts_only_that_partition() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    let next = sp(&mut s, 0, SP1, &regs(&[fid::ERROR, 0, 0xffff_fffe]));
    entered(next, SP2, 0);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Aborted));
    entered(sp(&mut s, 0, SP2, &regs(&[fid::MSG_WAIT])), SP3, 0);
    to_spmd(sp(&mut s, 0, SP3, &regs(&[fid::MSG_WAIT])));
    // Requests to the aborted partition get ABORTED; the others work.
    let r = to_spmd(nwd(&mut s, 0, &req32(1, SP1, [0; 5])));
    assert_error(&r, FfaError::Aborted);
    entered(nwd(&mut s, 0, &req32(1, SP3, [0; 5])), SP3, 0);
}

#[test]
fn forbidden_init_calls_abort_the_partition() {
    for call in [
        req32(0x8001, SP2, [0; 5]),
        resp32(SP1, 0, [0; 5]),
        regs(&[fid::YIELD]),
        regs(&[fid::RUN, w1(0x8002, 0)]),
    ] {
        let mut s = new_spmc(config(), 2);
        entered(s.boot(CpuId(0)), SP1, 0);
        entered(sp(&mut s, 0, SP1, &call), SP2, 0);
        assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Aborted));
    }
    // The last partition failing ends boot.
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    entered(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])), SP2, 0);
    entered(sp(&mut s, 0, SP2, &regs(&[fid::MSG_WAIT])), SP3, 0);
    let done = to_spmd(sp(&mut s, 0, SP3, &regs(&[fid::ERROR, 0, 0xffff_fff8])));
    assert_eq!(done[0], fid::MSG_WAIT);
    assert_eq!(s.context_state(SP3, 0), Some(RuntimeState::Aborted));
}

#[test]
fn msg_wait_during_init_with_bad_flags_is_answered_not_fatal() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    let r = entered(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT, 0, 0x2])), SP1, 0);
    assert_error(&r, FfaError::InvalidParameters);
    entered(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])), SP2, 0);
}

#[test]
fn boot_cpu_picks_the_mp_context() {
    let mp = partition(SP2, &[U2A], Version(1, 2), 2, ALL_MSG, SP2_LOAD);
    let up = partition(SP1, &[U1], Version(1, 2), 1, ALL_MSG, SP1_LOAD);
    let mut s = new_spmc(config_of([mp, up]), 2);
    // Booting on CPU 1 starts the MP partition's context 1.
    entered(s.boot(CpuId(1)), SP2, 1);
    entered(sp(&mut s, 1, SP2, &regs(&[fid::MSG_WAIT])), SP1, 0);
}

#[test]
fn partitions_with_bad_configuration_are_not_hosted() {
    let dup = partition(SP1, &[U2A], Version(1, 2), 1, ALL_MSG, SP2_LOAD);
    let ns = partition(
        ffa::EndpointId(5),
        &[U3],
        Version(1, 2),
        1,
        ALL_MSG,
        SP3_LOAD,
    );
    let ok = partition(SP1, &[U1], Version(1, 2), 1, ALL_MSG, SP1_LOAD);
    let mut s = new_spmc(config_of([ok, dup, ns]), 1);
    assert_eq!(s.rejected_partitions().len(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    to_spmd(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])));
}

#[test]
fn calls_from_the_wrong_caller_are_contained() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    let before = s.context_state(SP1, 0);
    // SP2 is not running on CPU 0; nobody runs on CPU 1; CPU 7 does not exist.
    let r = to_spmd(sp(&mut s, 0, SP2, &regs(&[fid::MSG_WAIT])));
    assert_error(&r, FfaError::Denied);
    let r = to_spmd(sp(&mut s, 1, SP1, &regs(&[fid::MSG_WAIT])));
    assert_error(&r, FfaError::Denied);
    let r = to_spmd(s.handle(CpuId(7), Caller::Spmd, &regs(&[fid::ID_GET])));
    assert_error(&r, FfaError::Denied);
    // The SPMD cannot call on a CPU a partition is running on.
    let r = to_spmd(nwd(&mut s, 0, &regs(&[fid::ID_GET])));
    assert_error(&r, FfaError::Busy);
    assert_eq!(s.context_state(SP1, 0), before);
    // Boot goes on undisturbed.
    entered(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])), SP2, 0);
}

#[test]
fn calls_from_an_aborted_partition_are_contained() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    entered(sp(&mut s, 0, SP1, &regs(&[fid::ERROR])), SP2, 0);
    let r = to_spmd(sp(&mut s, 0, SP1, &regs(&[fid::ID_GET])));
    assert_error(&r, FfaError::Denied);
    assert!(matches!(
        sp(&mut s, 0, SP2, &regs(&[fid::MSG_WAIT])),
        Outcome::Enter { .. }
    ));
}
