//! Direct messaging, call chains, FFA_MSG_WAIT, FFA_YIELD and FFA_RUN.

mod core_support;

use core_support::*;
use ffa::{EndpointId, FfaError, Uuid, Version};
use spmc::Regs;
use spmc::vcpu::RuntimeState;

fn req64(src: u16, dst: u16, payload: &[u64]) -> Regs {
    let mut r = regs(&[fid::REQ64, w1(src, dst), 0]);
    r[3..3 + payload.len()].copy_from_slice(payload);
    r
}

fn resp64(src: u16, dst: u16, payload: &[u64]) -> Regs {
    let mut r = regs(&[fid::RESP64, w1(src, dst), 0]);
    r[3..3 + payload.len()].copy_from_slice(payload);
    r
}

fn req2(src: u16, dst: u16, uuid: Uuid, payload: &[u64]) -> Regs {
    let [lo, hi] = uuid_x(uuid);
    let mut r = regs(&[fid::REQ2, w1(src, dst), lo, hi]);
    r[4..4 + payload.len()].copy_from_slice(payload);
    r
}

fn resp2(src: u16, dst: u16, payload: &[u64]) -> Regs {
    let mut r = regs(&[fid::RESP2, w1(src, dst), 0x77, 0x88]);
    r[4..4 + payload.len()].copy_from_slice(payload);
    r
}

fn with_tags(mut r: Regs, tag: u64) -> Regs {
    r[8..].copy_from_slice(&tagged(tag));
    r
}

#[test]
fn normal_world_request_and_response_32() {
    let mut s = booted();
    let mut req = with_tags(req32(3, SP1, [1, 2, 3, 4, 5]), 0x100);
    req[0] |= 1 << 16; // SVE hint
    req[3] |= 0xffff_ffff << 32;
    let r = entered(nwd(&mut s, 0, &req), SP1, 0);
    // x8..x17 are SP1's own (zero since it waited at boot), none of the sender's.
    let mut expected = req32(3, SP1, [1, 2, 3, 4, 5]);
    expected[0] = fid::REQ32;
    assert_eq!(r, expected);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Running));
    let answer = with_tags(resp32(SP1, 3, [9, 8, 7, 6, 5]), 0x200);
    let r = to_spmd(sp(&mut s, 0, SP1, &answer));
    let mut expected = with_tags(resp32(SP1, 3, [9, 8, 7, 6, 5]), 0x100);
    expected[0] = fid::RESP32;
    assert_eq!(r, expected);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Waiting));
    // The next request finds what SP1 had in x8..x17 when it answered.
    let next = with_tags(req32(3, SP1, [0; 5]), 0x300);
    let r = entered(nwd(&mut s, 0, &next), SP1, 0);
    assert_eq!(&r[8..], &tagged(0x200));
}

#[test]
fn normal_world_request_and_response_64() {
    let mut s = booted();
    let req = with_tags(req64(0, 0x8003, &[u64::MAX, 2]), 0x300);
    let r = entered(nwd(&mut s, 1, &req), SP3, 0);
    assert_eq!(&r[..8], &req[..8]);
    assert_eq!(&r[8..], &[0; 10], "SP3's own x8..x17, none of the sender's");
    // A 32-bit answer to a 64-bit request is DENIED; so is the wrong destination.
    let r = entered(sp(&mut s, 1, SP3, &resp32(SP3, 0, [0; 5])), SP3, 0);
    assert_error(&r, FfaError::Denied);
    let r = entered(sp(&mut s, 1, SP3, &resp64(0x8003, 1, &[])), SP3, 0);
    assert_error(&r, FfaError::Denied);
    let r = to_spmd(sp(&mut s, 1, SP3, &resp64(0x8003, 0, &[0xabc])));
    assert_eq!(&r[..4], &[fid::RESP64, w1(0x8003, 0), 0, 0xabc]);
    assert_eq!(&r[8..], &tagged(0x300));
}

#[test]
fn req2_routes_by_uuid() {
    let mut s = booted();
    for uuid in [U2A, U2B, Uuid::nil()] {
        let req = req2(
            0,
            0x8002,
            uuid,
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
        );
        let r = entered(nwd(&mut s, 0, &req), SP2, 0);
        assert_eq!(r, req);
        let answer = resp2(
            0x8002,
            0,
            &[21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34],
        );
        let r = to_spmd(sp(&mut s, 0, SP2, &answer));
        let mut expected = answer;
        expected[2] = 0;
        expected[3] = 0;
        assert_eq!(r, expected);
    }
    // A UUID the destination does not declare.
    let r = to_spmd(nwd(&mut s, 0, &req2(0, 0x8002, U1, &[])));
    assert_error(&r, FfaError::InvalidParameters);
    // SP3 is v1.1 without REQ2 receipt.
    let r = to_spmd(nwd(&mut s, 0, &req2(0, 0x8003, U3, &[])));
    assert_error(&r, FfaError::Denied);
    // RESP answers only REQ; RESP2 only REQ2.
    entered(nwd(&mut s, 0, &req2(0, 0x8001, U1, &[])), SP1, 0);
    let r = entered(sp(&mut s, 0, SP1, &resp64(0x8001, 0, &[])), SP1, 0);
    assert_error(&r, FfaError::Denied);
    to_spmd(sp(&mut s, 0, SP1, &resp2(0x8001, 0, &[])));
    entered(nwd(&mut s, 0, &req32(0, SP1, [0; 5])), SP1, 0);
    let r = entered(sp(&mut s, 0, SP1, &resp2(0x8001, 0, &[])), SP1, 0);
    assert_error(&r, FfaError::Denied);
}

#[test]
fn req2_needs_a_v1_2_receiver() {
    let old = partition(SP1, &[U1], Version(1, 1), 1, ALL_MSG, SP1_LOAD);
    let mut s = booted_with(config_of([old]), 1);
    let r = to_spmd(nwd(&mut s, 0, &req2(0, 0x8001, U1, &[])));
    assert_error(&r, FfaError::Denied);
}

#[test]
fn normal_world_request_rejections() {
    let mut s = booted();
    let cases = [
        (req32(0x8005, SP1, [0; 5]), FfaError::InvalidParameters),
        (req32(0, EndpointId(5), [0; 5]), FfaError::InvalidParameters),
        (
            req32(0, EndpointId(0x8009), [0; 5]),
            FfaError::InvalidParameters,
        ),
        (req32(0, SPMC_ID, [0; 5]), FfaError::InvalidParameters),
        (
            regs(&[fid::REQ32, w1(0, 0x8001), 1]),
            FfaError::InvalidParameters,
        ),
        (
            regs(&[fid::REQ64, w1(0, 0x8001), 1 << 40]),
            FfaError::InvalidParameters,
        ),
        // A framework message (VM created) from the normal world.
        (
            regs(&[fid::REQ32, w1(0, 0x8001), 0x8000_0004]),
            FfaError::InvalidParameters,
        ),
        // SP2's context for CPU 1 never started.
        (req32(0, SP2, [0; 5]), FfaError::Busy),
    ];
    for (i, (call, code)) in cases.iter().enumerate() {
        let cpu = if i == cases.len() - 1 { 1 } else { 0 };
        let r = to_spmd(nwd(&mut s, cpu, &with_tags(*call, 0x400)));
        assert_error(&r, *code);
        assert_eq!(&r[8..], &tagged(0x400));
    }
    // A receiver without the receive bit.
    let mute = partition(SP1, &[U1], Version(1, 2), 1, 0, SP1_LOAD);
    let mut s = booted_with(config_of([mute]), 1);
    assert_error(
        &to_spmd(nwd(&mut s, 0, &req32(0, SP1, [0; 5]))),
        FfaError::Denied,
    );
}

#[test]
fn busy_receiver() {
    let mut s = booted();
    entered(nwd(&mut s, 0, &req32(0, SP1, [0; 5])), SP1, 0);
    let r = to_spmd(nwd(&mut s, 1, &req32(0, SP1, [0; 5])));
    assert_error(&r, FfaError::Busy);
}

#[test]
fn partition_to_partition_chain() {
    let mut s = booted();
    entered(
        nwd(&mut s, 0, &with_tags(req32(0, SP1, [1, 0, 0, 0, 0]), 0x500)),
        SP1,
        0,
    );
    let inner = with_tags(req32(0x8001, SP3, [2, 0, 0, 0, 0]), 0x600);
    let r = entered(sp(&mut s, 0, SP1, &inner), SP3, 0);
    assert_eq!(&r[..8], &inner[..8]);
    assert_eq!(&r[8..], &[0; 10], "SP3's own x8..x17, none of SP1's");
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Blocked));
    // SP3 cannot call back into its chain, nor answer anyone but SP1.
    let r = entered(sp(&mut s, 0, SP3, &req32(0x8003, SP1, [0; 5])), SP3, 0);
    assert_error(&r, FfaError::Denied);
    let r = entered(sp(&mut s, 0, SP3, &resp32(SP3, 0, [0; 5])), SP3, 0);
    assert_error(&r, FfaError::Denied);
    for bad in [
        resp32(SP3, 0x8009, [0; 5]),
        resp32(SP3, 0x8003, [0; 5]),
        resp32(SP1, 0x8001, [0; 5]),
        regs(&[fid::RESP32, w1(0x8003, 0x8001), 1]),
    ] {
        let r = entered(sp(&mut s, 0, SP3, &bad), SP3, 0);
        assert_error(&r, FfaError::InvalidParameters);
    }
    // SP3 answers SP1, which gets its own x8..x17 back.
    let r = entered(
        sp(
            &mut s,
            0,
            SP3,
            &with_tags(resp32(SP3, 0x8001, [3, 0, 0, 0, 0]), 0x700),
        ),
        SP1,
        0,
    );
    assert_eq!(r, with_tags(resp32(SP3, 0x8001, [3, 0, 0, 0, 0]), 0x600));
    assert_eq!(s.context_state(SP3, 0), Some(RuntimeState::Waiting));
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Running));
    let r = to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 0, [4, 0, 0, 0, 0])));
    assert_eq!(r, with_tags(resp32(SP1, 0, [4, 0, 0, 0, 0]), 0x500));
}

#[test]
fn partition_request_rejections() {
    let mut s = booted();
    entered(nwd(&mut s, 0, &req32(0, SP1, [0; 5])), SP1, 0);
    let cases = [
        (req32(0x8002, SP3, [0; 5]), FfaError::InvalidParameters),
        (req32(0x8001, SP1, [0; 5]), FfaError::InvalidParameters),
        (
            req32(0x8001, EndpointId(0), [0; 5]),
            FfaError::InvalidParameters,
        ),
        (
            req32(0x8001, EndpointId(0x8009), [0; 5]),
            FfaError::InvalidParameters,
        ),
        (req2(0x8001, 0x8003, U3, &[]), FfaError::Denied),
        (req2(0x8001, 0x8002, U3, &[]), FfaError::InvalidParameters),
    ];
    for (call, code) in cases {
        let r = entered(sp(&mut s, 0, SP1, &call), SP1, 0);
        assert_error(&r, code);
    }
    // SP2 may not send requests at all.
    to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 0, [0; 5])));
    entered(nwd(&mut s, 0, &req32(0, SP2, [0; 5])), SP2, 0);
    let r = entered(sp(&mut s, 0, SP2, &req32(0x8002, SP3, [0; 5])), SP2, 0);
    assert_error(&r, FfaError::Denied);
    // A partition busy on another CPU.
    entered(nwd(&mut s, 1, &req32(0, SP3, [0; 5])), SP3, 0);
    to_spmd(sp(&mut s, 0, SP2, &resp32(SP2, 0, [0; 5])));
    entered(nwd(&mut s, 0, &req32(0, SP1, [0; 5])), SP1, 0);
    let r = entered(sp(&mut s, 0, SP1, &req32(0x8001, SP3, [0; 5])), SP1, 0);
    assert_error(&r, FfaError::Busy);
}

#[test]
fn msg_wait_and_response_need_the_right_model() {
    let mut s = booted();
    entered(nwd(&mut s, 0, &req32(0, SP1, [0; 5])), SP1, 0);
    let r = entered(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])), SP1, 0);
    assert_error(&r, FfaError::Denied);
    to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 0, [0; 5])));
    // Run by FFA_RUN, there is no request to answer.
    let r = entered(
        nwd(&mut s, 0, &regs_tagged(&[fid::RUN, w1(0x8001, 0)], 0x800)),
        SP1,
        0,
    );
    assert_eq!(&r[..8], &regs(&[fid::RUN, w1(0x8001, 0)])[..8]);
    let r = entered(sp(&mut s, 0, SP1, &resp32(SP1, 0, [0; 5])), SP1, 0);
    assert_error(&r, FfaError::Denied);
    let r = to_spmd(sp(&mut s, 0, SP1, &regs_tagged(&[fid::MSG_WAIT], 0x900)));
    assert_eq!(r, with_tags(regs(&[fid::MSG_WAIT]), 0x800));
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Waiting));
}

#[test]
fn yield_and_run_resume_a_request() {
    let mut s = booted();
    entered(
        nwd(&mut s, 0, &with_tags(req32(0, SP1, [0; 5]), 0x100)),
        SP1,
        0,
    );
    let r = to_spmd(sp(
        &mut s,
        0,
        SP1,
        &regs_tagged(&[fid::YIELD, 0, 5, 6], 0x200),
    ));
    assert_eq!(
        r,
        with_tags(regs(&[fid::YIELD, w1(0x8001, 0), 5, 6]), 0x100)
    );
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Preempted));
    assert_error(
        &to_spmd(nwd(&mut s, 0, &req32(0, SP1, [0; 5]))),
        FfaError::Busy,
    );
    // A UP context handling a normal-world request may resume on another CPU.
    let run = regs_tagged(&[fid::RUN, w1(0x8001, 0)], 0x300);
    let r = entered(nwd(&mut s, 1, &run), SP1, 0);
    assert_eq!(r, with_tags(regs(&[fid::SUCCESS32]), 0x200));
    let r = to_spmd(sp(&mut s, 1, SP1, &resp32(SP1, 0, [7, 0, 0, 0, 0])));
    assert_eq!(r, with_tags(resp32(SP1, 0, [7, 0, 0, 0, 0]), 0x300));
}

#[test]
fn run_rejections() {
    let mut s = booted();
    let run = |id: u16, vcpu: u16| regs(&[fid::RUN, w1(id, vcpu)]);
    let cases = [
        (0, run(0x8009, 0), FfaError::InvalidParameters),
        (0, run(0x8001, 1), FfaError::InvalidParameters),
        (0, run(0x8002, 1), FfaError::InvalidParameters),
        (1, run(0x8002, 1), FfaError::Denied),
        (0, run(0, 0), FfaError::InvalidParameters),
    ];
    for (cpu, call, code) in cases {
        assert_error(&to_spmd(nwd(&mut s, cpu, &call)), code);
    }
    entered(nwd(&mut s, 0, &req32(0, SP3, [0; 5])), SP3, 0);
    assert_error(&to_spmd(nwd(&mut s, 1, &run(0x8003, 0))), FfaError::Busy);
    // A partition may FFA_RUN only its callee that yielded to it (core_scheduling).
    let r = entered(sp(&mut s, 0, SP3, &run(0x8001, 0)), SP3, 0);
    assert_error(&r, FfaError::Denied);
    // Yield outside a request or run: only from init, where it aborts (see core_boot).
    let mut s = new_spmc(config(), 2);
    entered(s.boot(spmc::CpuId(0)), SP1, 0);
    entered(sp(&mut s, 0, SP1, &regs(&[fid::ERROR])), SP2, 0);
    entered(sp(&mut s, 0, SP2, &regs(&[fid::MSG_WAIT])), SP3, 0);
    to_spmd(sp(&mut s, 0, SP3, &regs(&[fid::MSG_WAIT])));
    assert_error(&to_spmd(nwd(&mut s, 0, &run(0x8001, 0))), FfaError::Aborted);
}

#[test]
fn mp_partition_serves_each_cpu_with_its_context() {
    let mp = partition(SP2, &[U2A], Version(1, 2), 2, ALL_MSG, SP2_LOAD);
    let mut s = booted_with(config_of([mp]), 2);
    entered(nwd(&mut s, 0, &req32(0, SP2, [0; 5])), SP2, 0);
    // Context 1 never started: BUSY on CPU 1 while context 0 works on CPU 0.
    assert_error(
        &to_spmd(nwd(&mut s, 1, &req32(0, SP2, [0; 5]))),
        FfaError::Busy,
    );
    to_spmd(sp(&mut s, 0, SP2, &resp32(SP2, 0, [0; 5])));
}

#[test]
fn a_partition_call_the_core_cannot_place_never_hands_its_x8_to_x17_to_the_spmd() {
    let mut s = booted();
    // Nothing runs on CPU 0, and SP1 is not what runs on CPU 1 once SP3 does.
    let r = to_spmd(sp(
        &mut s,
        0,
        SP1,
        &with_tags(req32(0x8001, SP3, [0; 5]), 0x700),
    ));
    assert_error(&r, FfaError::Denied);
    assert_eq!(&r[8..], &[0; 10]);
    entered(nwd(&mut s, 1, &req32(0, SP3, [0; 5])), SP3, 0);
    let r = to_spmd(sp(
        &mut s,
        1,
        SP1,
        &with_tags(regs(&[fid::MSG_WAIT]), 0x800),
    ));
    assert_error(&r, FfaError::Denied);
    assert_eq!(&r[8..], &[0; 10]);
    // The normal world's own refusal keeps its x8..x17.
    let r = to_spmd(nwd(&mut s, 1, &with_tags(req32(0, SP1, [0; 5]), 0x900)));
    assert_error(&r, FfaError::Busy);
    assert_eq!(&r[8..], &tagged(0x900));
}
