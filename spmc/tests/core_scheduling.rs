//! FFA_YIELD and FFA_RUN between partitions: a callee's yield goes back to its requester,
//! which runs it again; what the requester may do meanwhile; what the normal world may run;
//! and abort, CPU_OFF and interrupts while a callee is yielded to its requester.

mod core_support;

use core_support::*;
use ffa::{FfaError, Version};
use spmc::vcpu::RuntimeState;
use spmc::{CpuId, Outcome, Regs};

fn with_tags(mut r: Regs, tag: u64) -> Regs {
    r[8..].copy_from_slice(&tagged(tag));
    r
}

fn run(id: u16, vcpu: u16) -> Regs {
    regs(&[fid::RUN, w1(id, vcpu)])
}

fn state(s: &TestSpmc, id: ffa::EndpointId, vcpu: u16) -> Option<RuntimeState> {
    s.context_state(id, vcpu)
}

/// NWd → SP1 → SP3 on CPU 0; SP3 yields back to SP1, which runs again.
fn sp3_yielded_to_sp1(s: &mut TestSpmc) {
    resumed(nwd(s, 0, &with_tags(req32(0, SP1, [0; 5]), 0x100)), SP1, 0);
    resumed(
        sp(
            s,
            0,
            SP1,
            &with_tags(req32(0x8001, SP3, [1, 0, 0, 0, 0]), 0x600),
        ),
        SP3,
        0,
    );
    let r = resumed(sp(s, 0, SP3, &regs(&[fid::YIELD])), SP1, 0);
    assert_eq!(r[..2], [fid::YIELD, w1(0x8003, 0)]);
}

#[test]
fn a_callee_yields_to_its_requester_which_runs_it_to_its_response() {
    let mut s = booted();
    resumed(
        nwd(&mut s, 0, &with_tags(req32(0, SP1, [0; 5]), 0x100)),
        SP1,
        0,
    );
    resumed(
        sp(
            &mut s,
            0,
            SP1,
            &with_tags(req32(0x8001, SP3, [1, 0, 0, 0, 0]), 0x600),
        ),
        SP3,
        0,
    );
    // The yield (timeout hint in w2, w3; the upper halves dropped) goes to SP1 with SP1's own
    // x8..x17; the normal world sees nothing.
    let y = with_tags(regs(&[fid::YIELD, 0, 0x1_0000_0005, 6, 0]), 0x200);
    let r = resumed(sp(&mut s, 0, SP3, &y), SP1, 0);
    assert_eq!(
        r,
        with_tags(regs(&[fid::YIELD, w1(0x8003, 0), 5, 6]), 0x600)
    );
    assert_eq!(state(&s, SP3, 0), Some(RuntimeState::Preempted));
    assert_eq!(state(&s, SP1, 0), Some(RuntimeState::Running));
    assert_eq!(s.running_on(CpuId(0)), Some((SP1, 0)));
    // SP1 runs SP3: SP3's FFA_YIELD returns FFA_SUCCESS with its own x8..x17; SP1 is Blocked.
    let r = resumed(
        sp(&mut s, 0, SP1, &with_tags(run(0x8003, 0), 0x700)),
        SP3,
        0,
    );
    assert_eq!(r, with_tags(regs(&[fid::SUCCESS32]), 0x200));
    assert_eq!(state(&s, SP1, 0), Some(RuntimeState::Blocked));
    assert_eq!(state(&s, SP3, 0), Some(RuntimeState::Running));
    // Again: SP1 gets the x8..x17 of its FFA_RUN back this time.
    let r = resumed(sp(&mut s, 0, SP3, &regs(&[fid::YIELD])), SP1, 0);
    assert_eq!(r, with_tags(regs(&[fid::YIELD, w1(0x8003, 0)]), 0x700));
    resumed(sp(&mut s, 0, SP1, &run(0x8003, 0)), SP3, 0);
    // SP3's response goes to SP1, SP1's to the normal world with its x8..x17.
    let r = resumed(
        sp(&mut s, 0, SP3, &resp32(SP3, 0x8001, [2, 0, 0, 0, 0])),
        SP1,
        0,
    );
    assert_eq!(&r[..4], &[fid::RESP32, w1(0x8003, 0x8001), 0, 2]);
    let r = to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 0, [3, 0, 0, 0, 0])));
    assert_eq!(r, with_tags(resp32(SP1, 0, [3, 0, 0, 0, 0]), 0x100));
    assert_eq!(state(&s, SP3, 0), Some(RuntimeState::Waiting));
    assert_eq!(state(&s, SP1, 0), Some(RuntimeState::Waiting));
}

#[test]
fn a_chain_root_yields_to_the_normal_world() {
    let mut s = booted();
    // Given cycles by the normal world's FFA_RUN.
    resumed(nwd(&mut s, 0, &with_tags(run(0x8001, 0), 0x100)), SP1, 0);
    let r = to_spmd(sp(&mut s, 0, SP1, &regs(&[fid::YIELD, 0, 9])));
    assert_eq!(r, with_tags(regs(&[fid::YIELD, w1(0x8001, 0), 9]), 0x100));
    assert_success(&resumed(nwd(&mut s, 1, &run(0x8001, 0)), SP1, 0));
    assert_eq!(
        to_spmd(sp(&mut s, 1, SP1, &regs(&[fid::MSG_WAIT])))[0],
        fid::MSG_WAIT
    );
    // Handling the normal world's request.
    resumed(nwd(&mut s, 0, &req32(0, SP3, [0; 5])), SP3, 0);
    let r = to_spmd(sp(&mut s, 0, SP3, &regs(&[fid::YIELD])));
    assert_eq!(r[..2], [fid::YIELD, w1(0x8003, 0)]);
}

#[test]
fn each_link_of_a_deep_chain_yields_one_step_back() {
    let mut s = booted();
    // NWd → SP1 → SP3 → SP2 (context 0), all on CPU 0.
    resumed(
        nwd(&mut s, 0, &with_tags(req32(0, SP1, [0; 5]), 0x100)),
        SP1,
        0,
    );
    resumed(sp(&mut s, 0, SP1, &req32(0x8001, SP3, [0; 5])), SP3, 0);
    resumed(sp(&mut s, 0, SP3, &req32(0x8003, SP2, [0; 5])), SP2, 0);
    let r = resumed(sp(&mut s, 0, SP2, &regs(&[fid::YIELD])), SP3, 0);
    assert_eq!(r[..2], [fid::YIELD, w1(0x8002, 0)]);
    assert_eq!(state(&s, SP1, 0), Some(RuntimeState::Blocked));
    // SP3 yields too: to SP1, naming SP3.
    let r = resumed(sp(&mut s, 0, SP3, &regs(&[fid::YIELD])), SP1, 0);
    assert_eq!(r[..2], [fid::YIELD, w1(0x8003, 0)]);
    // SP1, the root, yields to the normal world.
    let r = to_spmd(sp(&mut s, 0, SP1, &regs(&[fid::YIELD])));
    assert_eq!(r, with_tags(regs(&[fid::YIELD, w1(0x8001, 0)]), 0x100));
    // The normal world may run the root only, and only on its CPU (its chain stays there).
    assert_error(&to_spmd(nwd(&mut s, 0, &run(0x8003, 0))), FfaError::Denied);
    assert_error(&to_spmd(nwd(&mut s, 0, &run(0x8002, 0))), FfaError::Denied);
    assert_error(&to_spmd(nwd(&mut s, 1, &run(0x8001, 0))), FfaError::Denied);
    for dst in [SP1, SP2, SP3] {
        assert_error(
            &to_spmd(nwd(&mut s, 0, &req32(0, dst, [0; 5]))),
            FfaError::Busy,
        );
    }
    let run1 = with_tags(run(0x8001, 0), 0x300);
    assert_success(&resumed(nwd(&mut s, 0, &run1), SP1, 0));
    assert_success(&resumed(sp(&mut s, 0, SP1, &run(0x8003, 0)), SP3, 0));
    // SP3 may not run SP1, which precedes it, nor anyone but its own callee.
    let r = resumed(sp(&mut s, 0, SP3, &run(0x8001, 0)), SP3, 0);
    assert_error(&r, FfaError::Denied);
    assert_success(&resumed(sp(&mut s, 0, SP3, &run(0x8002, 0)), SP2, 0));
    resumed(sp(&mut s, 0, SP2, &resp32(SP2, 0x8003, [0; 5])), SP3, 0);
    resumed(sp(&mut s, 0, SP3, &resp32(SP3, 0x8001, [0; 5])), SP1, 0);
    let r = to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 0, [0; 5])));
    assert_eq!(&r[8..], &tagged(0x300));
}

#[test]
fn a_partition_may_run_only_its_own_callee_that_yielded_to_it() {
    let mut s = booted();
    // Another chain's yielded context on the same CPU: NWd → SP3, which yields.
    resumed(nwd(&mut s, 0, &req32(0, SP3, [0; 5])), SP3, 0);
    to_spmd(sp(&mut s, 0, SP3, &regs(&[fid::YIELD])));
    resumed(nwd(&mut s, 0, &req32(0, SP1, [0; 5])), SP1, 0);
    let cases = [
        (run(0x8009, 0), FfaError::InvalidParameters),
        (run(0x8003, 1), FfaError::InvalidParameters),
        // SP2's context 1 belongs to CPU 1.
        (run(0x8002, 1), FfaError::InvalidParameters),
        (run(3, 0), FfaError::Denied),
        (run(0x8001, 0), FfaError::Denied),
        // Waiting: the normal world gives cycles, not a partition.
        (run(0x8002, 0), FfaError::Denied),
        // Preempted, but yielded to the normal world.
        (run(0x8003, 0), FfaError::Denied),
    ];
    for (call, code) in cases {
        let r = resumed(sp(&mut s, 0, SP1, &call), SP1, 0);
        assert_error(&r, code);
    }
    assert_eq!(state(&s, SP3, 0), Some(RuntimeState::Preempted));
    to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 0, [0; 5])));
    assert_success(&resumed(nwd(&mut s, 0, &run(0x8003, 0)), SP3, 0));
}

#[test]
fn the_requester_waits_for_its_yielded_callee_before_answering_or_asking_again() {
    let mut s = booted();
    sp3_yielded_to_sp1(&mut s);
    // No new request (not even to the yielded callee), no response, no FFA_MSG_WAIT.
    for call in [
        req32(0x8001, SP2, [0; 5]),
        req32(0x8001, SP3, [0; 5]),
        resp32(SP1, 0, [0; 5]),
        regs(&[fid::MSG_WAIT]),
    ] {
        let r = resumed(sp(&mut s, 0, SP1, &call), SP1, 0);
        assert_error(&r, FfaError::Denied);
    }
    // Other calls are fine.
    assert_success(&resumed(sp(&mut s, 0, SP1, &regs(&[fid::ID_GET])), SP1, 0));
    // Nobody else may run or ask the callee; the requester is busy.
    assert_error(&to_spmd(nwd(&mut s, 1, &run(0x8003, 0))), FfaError::Denied);
    assert_error(
        &to_spmd(nwd(&mut s, 1, &req32(0, SP3, [0; 5]))),
        FfaError::Busy,
    );
    assert_error(&to_spmd(nwd(&mut s, 1, &run(0x8001, 0))), FfaError::Busy);
    // The requester may yield itself; then the chain resumes on its CPU only.
    let r = to_spmd(sp(&mut s, 0, SP1, &regs(&[fid::YIELD])));
    assert_eq!(r, with_tags(regs(&[fid::YIELD, w1(0x8001, 0)]), 0x100));
    assert_error(&to_spmd(nwd(&mut s, 0, &run(0x8003, 0))), FfaError::Denied);
    assert_error(&to_spmd(nwd(&mut s, 1, &run(0x8001, 0))), FfaError::Denied);
    assert_success(&resumed(nwd(&mut s, 0, &run(0x8001, 0)), SP1, 0));
    // Blocked on the callee it runs: BUSY for the normal world's FFA_RUN.
    resumed(sp(&mut s, 0, SP1, &run(0x8003, 0)), SP3, 0);
    assert_error(&to_spmd(nwd(&mut s, 1, &run(0x8001, 0))), FfaError::Busy);
    resumed(sp(&mut s, 0, SP3, &resp32(SP3, 0x8001, [0; 5])), SP1, 0);
    assert_eq!(
        to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 0, [0; 5])))[0],
        fid::RESP32
    );
}

#[test]
fn a_run_model_requester_waits_for_its_callee_before_msg_wait() {
    let mut s = booted();
    resumed(nwd(&mut s, 0, &run(0x8001, 0)), SP1, 0);
    resumed(sp(&mut s, 0, SP1, &req32(0x8001, SP3, [0; 5])), SP3, 0);
    resumed(sp(&mut s, 0, SP3, &regs(&[fid::YIELD])), SP1, 0);
    let r = resumed(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])), SP1, 0);
    assert_error(&r, FfaError::Denied);
    resumed(sp(&mut s, 0, SP1, &run(0x8003, 0)), SP3, 0);
    resumed(sp(&mut s, 0, SP3, &resp32(SP3, 0x8001, [0; 5])), SP1, 0);
    assert_eq!(
        to_spmd(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])))[0],
        fid::MSG_WAIT
    );
}

#[test]
fn interrupts_while_a_callee_is_yielded_keep_the_chain() {
    let mut s = booted();
    sp3_yielded_to_sp1(&mut s);
    // The running requester is interrupted: the normal world resumes it, on its CPU only.
    let r = to_spmd(s.ns_interrupt(CpuId(0)));
    assert_eq!(r[..2], [fid::INTERRUPT, w1(0x8001, 0)]);
    assert_error(&to_spmd(nwd(&mut s, 1, &run(0x8001, 0))), FfaError::Denied);
    assert_error(&to_spmd(nwd(&mut s, 0, &run(0x8003, 0))), FfaError::Denied);
    assert!(matches!(
        nwd(&mut s, 0, &run(0x8001, 0)),
        Outcome::Resume { partition, vcpu: 0, .. } if partition == SP1
    ));
    // The callee it runs again is interrupted: its requester is Blocked, so the normal world
    // resumes the callee itself.
    resumed(sp(&mut s, 0, SP1, &run(0x8003, 0)), SP3, 0);
    assert_eq!(to_spmd(s.ns_interrupt(CpuId(0)))[0], fid::INTERRUPT);
    assert_eq!(state(&s, SP1, 0), Some(RuntimeState::Blocked));
    assert!(matches!(
        nwd(&mut s, 0, &run(0x8003, 0)),
        Outcome::Resume { partition, vcpu: 0, .. } if partition == SP3
    ));
    resumed(sp(&mut s, 0, SP3, &resp32(SP3, 0x8001, [0; 5])), SP1, 0);
}

/// SP1 UP (sends), SP2 MP with 2 contexts (sends and receives), SP3 UP (both), contexts of
/// both CPUs started.
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
fn a_callee_that_dies_while_yielded_answers_its_requesters_run_with_aborted() {
    let mut s = booted_mp();
    // CPU 0: NWd → SP1 → SP2's context 0, which yields back to SP1.
    resumed(nwd(&mut s, 0, &req32(1, SP1, [0; 5])), SP1, 0);
    resumed(sp(&mut s, 0, SP1, &req32(SP1.0, SP2, [0; 5])), SP2, 0);
    resumed(sp(&mut s, 0, SP2, &regs(&[fid::YIELD])), SP1, 0);
    to_spmd(sp(&mut s, 0, SP1, &regs(&[fid::YIELD])));
    // CPU 1: SP2's context 1 faults; the whole of SP2 dies.
    resumed(nwd(&mut s, 1, &req32(1, SP2, [0; 5])), SP2, 1);
    assert_error(&to_spmd(s.abort_running(CpuId(1))), FfaError::Aborted);
    assert_eq!(state(&s, SP2, 0), Some(RuntimeState::Aborted));
    assert_eq!(state(&s, SP1, 0), Some(RuntimeState::Preempted));
    assert_success(&resumed(nwd(&mut s, 0, &run(SP1.0, 0)), SP1, 0));
    let r = resumed(sp(&mut s, 0, SP1, &run(SP2.0, 0)), SP1, 0);
    assert_error(&r, FfaError::Aborted);
    // SP1 has no callee any more: it answers the normal world.
    assert_eq!(
        to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 1, [0; 5])))[0],
        fid::RESP32
    );
}

#[test]
fn a_requester_that_dies_releases_its_yielded_callee() {
    let mut s = booted_mp();
    // NWd → SP1 → SP3; SP3 yields back to SP1, which faults.
    resumed(
        nwd(&mut s, 0, &with_tags(req32(1, SP1, [0; 5]), 0x100)),
        SP1,
        0,
    );
    resumed(sp(&mut s, 0, SP1, &req32(SP1.0, SP3, [0; 5])), SP3, 0);
    resumed(sp(&mut s, 0, SP3, &regs(&[fid::YIELD])), SP1, 0);
    let r = to_spmd(s.abort_running(CpuId(0)));
    assert_error(&r, FfaError::Aborted);
    assert_eq!(&r[8..], &tagged(0x100));
    // SP3 is a chain root now: the normal world runs it; its response has nobody to go to.
    assert_eq!(state(&s, SP3, 0), Some(RuntimeState::Preempted));
    assert_success(&resumed(nwd(&mut s, 1, &run(SP3.0, 0)), SP3, 0));
    let r = resumed(sp(&mut s, 1, SP3, &resp32(SP3, SP1.0, [0; 5])), SP3, 0);
    assert_error(&r, FfaError::Denied);
    assert_eq!(
        to_spmd(sp(&mut s, 1, SP3, &regs(&[fid::MSG_WAIT])))[0],
        fid::MSG_WAIT
    );
    resumed(nwd(&mut s, 0, &req32(1, SP3, [0; 5])), SP3, 0);
}

#[test]
fn a_requester_aborted_from_another_cpu_unwinds_and_releases_its_callee() {
    let mut s = booted_mp();
    // CPU 1: NWd → SP2's context 1 → SP3, which yields back to it.
    resumed(
        nwd(&mut s, 1, &with_tags(req32(1, SP2, [0; 5]), 0x200)),
        SP2,
        1,
    );
    resumed(sp(&mut s, 1, SP2, &req32(SP2.0, SP3, [0; 5])), SP3, 0);
    resumed(sp(&mut s, 1, SP3, &regs(&[fid::YIELD])), SP2, 1);
    // CPU 0: SP2's context 0 faults while context 1 runs.
    resumed(nwd(&mut s, 0, &req32(1, SP2, [0; 5])), SP2, 0);
    to_spmd(s.abort_running(CpuId(0)));
    assert_eq!(state(&s, SP2, 1), Some(RuntimeState::Aborted));
    // Context 1's next call (running its callee) unwinds: the normal world gets ABORTED.
    let r = to_spmd(sp(&mut s, 1, SP2, &run(SP3.0, 0)));
    assert_error(&r, FfaError::Aborted);
    assert_eq!(&r[8..], &tagged(0x200));
    assert_eq!(s.running_on(CpuId(1)), None);
    assert_success(&resumed(nwd(&mut s, 1, &run(SP3.0, 0)), SP3, 0));
    assert_eq!(
        to_spmd(sp(&mut s, 1, SP3, &regs(&[fid::MSG_WAIT])))[0],
        fid::MSG_WAIT
    );
}

#[test]
fn a_yield_to_a_requester_aborted_meanwhile_goes_on_and_the_response_unwinds() {
    let mut s = booted_mp();
    resumed(
        nwd(&mut s, 1, &with_tags(req32(1, SP2, [0; 5]), 0x300)),
        SP2,
        1,
    );
    resumed(sp(&mut s, 1, SP2, &req32(SP2.0, SP3, [0; 5])), SP3, 0);
    resumed(nwd(&mut s, 0, &req32(1, SP2, [0; 5])), SP2, 0);
    to_spmd(s.abort_running(CpuId(0)));
    // SP3's requester is dead: its yield returns at once.
    assert_success(&resumed(sp(&mut s, 1, SP3, &regs(&[fid::YIELD])), SP3, 0));
    let r = to_spmd(sp(&mut s, 1, SP3, &resp32(SP3, SP2.0, [0; 5])));
    assert_error(&r, FfaError::Aborted);
    assert_eq!(&r[8..], &tagged(0x300));
    assert_eq!(state(&s, SP3, 0), Some(RuntimeState::Waiting));
}

#[test]
fn a_requester_that_dies_while_yielded_itself_releases_its_callee() {
    let mut s = booted_mp();
    // CPU 1: NWd → SP2's context 1 → SP3; SP3 yields to SP2, SP2 to the normal world.
    resumed(nwd(&mut s, 1, &req32(1, SP2, [0; 5])), SP2, 1);
    resumed(sp(&mut s, 1, SP2, &req32(SP2.0, SP3, [0; 5])), SP3, 0);
    resumed(sp(&mut s, 1, SP3, &regs(&[fid::YIELD])), SP2, 1);
    to_spmd(sp(&mut s, 1, SP2, &regs(&[fid::YIELD])));
    // CPU 0: SP2's context 0 faults; context 1 dies at once.
    resumed(nwd(&mut s, 0, &req32(1, SP2, [0; 5])), SP2, 0);
    to_spmd(s.abort_running(CpuId(0)));
    assert_error(&to_spmd(nwd(&mut s, 1, &run(SP2.0, 1))), FfaError::Aborted);
    assert_success(&resumed(nwd(&mut s, 1, &run(SP3.0, 0)), SP3, 0));
    let r = resumed(sp(&mut s, 1, SP3, &resp32(SP3, SP2.0, [0; 5])), SP3, 0);
    assert_error(&r, FfaError::Denied);
}

#[test]
fn cpu_off_of_a_callee_yielded_to_its_requester() {
    let mut s = booted_mp();
    // CPU 1: NWd → SP1 → SP2's context 1, which yields to SP1; SP1 yields to the normal world.
    resumed(nwd(&mut s, 1, &req32(1, SP1, [0; 5])), SP1, 0);
    resumed(sp(&mut s, 1, SP1, &req32(SP1.0, SP2, [0; 5])), SP2, 1);
    resumed(sp(&mut s, 1, SP2, &regs(&[fid::YIELD])), SP1, 0);
    to_spmd(sp(&mut s, 1, SP1, &regs(&[fid::YIELD])));
    let off = regs(&[fid::REQ32, 0xffff_8000, 0x8000_0000, 0x8400_0002]);
    assert_eq!(to_spmd(nwd(&mut s, 1, &off))[0], fid::RESP32);
    assert_eq!(state(&s, SP2, 1), Some(RuntimeState::Off));
    // SP1 lost its callee: it is no longer tied to CPU 1, and its FFA_RUN of the powered-off
    // context is refused; it answers the normal world.
    assert_success(&resumed(nwd(&mut s, 0, &run(SP1.0, 0)), SP1, 0));
    let r = resumed(sp(&mut s, 0, SP1, &run(SP2.0, 0)), SP1, 0);
    assert_error(&r, FfaError::Denied);
    assert_eq!(
        to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 1, [0; 5])))[0],
        fid::RESP32
    );
    assert_eq!(state(&s, SP1, 0), Some(RuntimeState::Waiting));
}

#[test]
fn cpu_off_of_a_requester_with_a_yielded_callee_releases_the_callee() {
    let mut s = booted_mp();
    // CPU 1: NWd → SP2's context 1 → SP3, which yields to SP2; SP2 yields to the normal world.
    resumed(nwd(&mut s, 1, &req32(1, SP2, [0; 5])), SP2, 1);
    resumed(sp(&mut s, 1, SP2, &req32(SP2.0, SP3, [0; 5])), SP3, 0);
    resumed(sp(&mut s, 1, SP3, &regs(&[fid::YIELD])), SP2, 1);
    to_spmd(sp(&mut s, 1, SP2, &regs(&[fid::YIELD])));
    let off = regs(&[fid::REQ32, 0xffff_8000, 0x8000_0000, 0x8400_0002]);
    assert_eq!(to_spmd(nwd(&mut s, 1, &off))[0], fid::RESP32);
    // SP3 is a chain root now, runnable from any CPU.
    assert_success(&resumed(nwd(&mut s, 0, &run(SP3.0, 0)), SP3, 0));
    assert_eq!(
        to_spmd(sp(&mut s, 0, SP3, &regs(&[fid::MSG_WAIT])))[0],
        fid::MSG_WAIT
    );
}

#[test]
fn a_second_fault_of_a_dead_partition_keeps_the_callee_of_its_blocked_context() {
    let sp1 = partition(SP1, &[U1], Version(1, 2), 1, ALL_MSG, SP1_LOAD);
    let sp2 = partition(SP2, &[U2A], Version(1, 2), 3, ALL_MSG, SP2_LOAD);
    let mut s = booted_with(config_of([sp1, sp2]), 3);
    for cpu in 1..3u16 {
        started(s.cpu_on(CpuId(cpu)), SP2, cpu, SP2_LOAD + 0x4000);
        to_spmd(sp(&mut s, cpu, SP2, &regs(&[fid::MSG_WAIT])));
    }
    // CPU 2: SP2's context 2 asks SP1, which runs; CPU 1: context 1 runs.
    resumed(
        nwd(&mut s, 2, &with_tags(req32(1, SP2, [0; 5]), 0x500)),
        SP2,
        2,
    );
    resumed(sp(&mut s, 2, SP2, &req32(SP2.0, SP1, [0; 5])), SP1, 0);
    resumed(nwd(&mut s, 1, &req32(1, SP2, [0; 5])), SP2, 1);
    // Context 0 faults on CPU 0, then context 1 (marked dead, still running) on CPU 1.
    resumed(nwd(&mut s, 0, &req32(1, SP2, [0; 5])), SP2, 0);
    to_spmd(s.abort_running(CpuId(0)));
    assert_error(&to_spmd(s.abort_running(CpuId(1))), FfaError::Aborted);
    // SP1 still answers context 2, whose chain unwinds to the normal world.
    let r = to_spmd(sp(&mut s, 2, SP1, &resp32(SP1, SP2.0, [0; 5])));
    assert_error(&r, FfaError::Aborted);
    assert_eq!(&r[8..], &tagged(0x500));
    assert_eq!(state(&s, SP1, 0), Some(RuntimeState::Waiting));
}
