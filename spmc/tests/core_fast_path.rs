//! The direct-message fast path (`Spmc::next_shared`): what it takes, what it leaves to the
//! exclusive path, and several CPUs running it at once on one core.

mod core_support;

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use core_support::*;
use ffa::{EndpointId, FfaError};
use spmc::vcpu::RuntimeState;
use spmc::{Answer, Caller, CpuId, Event, FastCall, Next, Regs};

/// The fast path's answer to `regs` from `caller` on `cpu`, with the registers it set.
fn shared(s: &TestSpmc, cpu: u16, caller: Caller, regs: &Regs) -> Option<(Next, Answer)> {
    let mut out = Answer::EMPTY;
    let func = FastCall::of(regs)?;
    let next = s.next_shared(CpuId(cpu), caller, regs, func, &mut out)?;
    Some((next, out))
}

/// Booted, with the normal world's version fixed by a first FF-A call.
fn ready() -> TestSpmc {
    let mut s = booted();
    assert_success(&to_spmd(nwd(&mut s, 0, &regs(&[fid::ID_GET]))));
    s
}

fn enter_of(id: EndpointId, vcpu: u16) -> Next {
    Next::Enter {
        partition: id,
        vcpu,
        start: None,
    }
}

#[test]
fn takes_a_normal_world_request_and_its_response() {
    let s = ready();
    let req = regs_tagged(&req32(3, SP1, [1, 2, 3, 4, 5])[..8], 0x100);
    let (next, out) = shared(&s, 0, Caller::Spmd, &req).expect("taken");
    assert_eq!(next, enter_of(SP1, 0));
    assert_eq!(out.count, 18);
    assert_eq!(out.regs[..8], req32(3, SP1, [1, 2, 3, 4, 5])[..8]);
    assert_eq!(out.regs[8..], [0; 10], "SP1's own x8..x17");
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Running));
    assert_eq!(s.running_on(CpuId(0)), Some((SP1, 0)));

    let resp = regs_tagged(&resp32(SP1, 3, [9, 8, 7, 6, 5])[..8], 0x200);
    let (next, out) = shared(&s, 0, Caller::Partition(SP1), &resp).expect("taken");
    assert_eq!(next, Next::ToSpmd);
    assert_eq!(out.regs[..8], resp32(SP1, 3, [9, 8, 7, 6, 5])[..8]);
    assert_eq!(out.regs[8..], tagged(0x100), "the requester's x8..x17 back");
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Waiting));
    assert_eq!(s.running_on(CpuId(0)), None);
}

#[test]
fn answers_errors_itself() {
    let s = ready();
    // SP1 is Running on CPU 0: a request from CPU 1 finds it BUSY.
    shared(&s, 0, Caller::Spmd, &req32(3, SP1, [0; 5])).expect("taken");
    let (next, out) = shared(&s, 1, Caller::Spmd, &req32(4, SP1, [0; 5])).expect("taken");
    assert_eq!(next, Next::ToSpmd);
    assert_eq!(out.count, 8, "the caller keeps its x8..x17");
    assert_error(&out.regs, FfaError::Busy);
    // No such partition; a response naming another destination.
    let (_, out) = shared(&s, 1, Caller::Spmd, &req32(4, EndpointId(0x8009), [0; 5])).unwrap();
    assert_error(&out.regs, FfaError::InvalidParameters);
    let (next, out) =
        shared(&s, 0, Caller::Partition(SP1), &resp32(SP1, 5, [0; 5])).expect("taken");
    assert_eq!(next, enter_of(SP1, 0));
    assert_error(&out.regs, FfaError::Denied);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Running));
}

#[test]
fn leaves_what_needs_the_core_to_itself() {
    let mut s = booted();
    // The normal world's version is not fixed yet: its first FF-A call fixes it.
    assert!(shared(&s, 0, Caller::Spmd, &req32(3, SP1, [0; 5])).is_none());
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Waiting));
    assert_success(&to_spmd(nwd(&mut s, 0, &regs(&[fid::ID_GET]))));
    // Neither a direct message nor a query that changes nothing.
    assert!(shared(&s, 0, Caller::Spmd, &regs(&[fid::SPM_ID_GET])).is_none());
    assert!(shared(&s, 0, Caller::Spmd, &regs(&[fid::MSG_WAIT])).is_none());
    // PARTITION_INFO_GET writing descriptors to the RX buffer, or with flags it refuses.
    assert!(shared(&s, 0, Caller::Spmd, &regs(&[fid::PARTITION_INFO_GET])).is_none());
    let bad_flags = regs(&[fid::PARTITION_INFO_GET, 0, 0, 0, 0, 2]);
    assert!(shared(&s, 0, Caller::Spmd, &bad_flags).is_none());
    // A framework message from the SPMD.
    let framework = regs(&[fid::REQ32, w1(0xffff, 0x8000), 0x8000_0008, 0x10002]);
    assert!(shared(&s, 0, Caller::Spmd, &framework).is_none());
    // The arch layer takes no lock for those: it asks first.
    assert_eq!(FastCall::of(&framework), None);
    assert_eq!(FastCall::of(&regs(&[fid::PARTITION_INFO_GET])), None);
    assert_eq!(FastCall::of(&regs(&[fid::SPM_ID_GET])), None);
    assert!(FastCall::of(&regs(&[fid::PARTITION_INFO_GET, 0, 0, 0, 0, 1])).is_some());
    assert!(FastCall::of(&req32(3, SP1, [0; 5])).is_some());
    // A partition's request (its call chain), and a response to a partition.
    entered(nwd(&mut s, 0, &req32(3, SP1, [0; 5])), SP1, 0);
    let to_sp3 = regs(&[fid::REQ32, w1(SP1.0, SP3.0), 0]);
    assert!(shared(&s, 0, Caller::Partition(SP1), &to_sp3).is_none());
    entered(sp(&mut s, 0, SP1, &to_sp3), SP3, 0);
    let back = regs(&[fid::RESP32, w1(SP3.0, SP1.0), 0]);
    assert!(shared(&s, 0, Caller::Partition(SP3), &back).is_none());
    assert_eq!(s.context_state(SP3, 0), Some(RuntimeState::Running));
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Blocked));
    // Another partition's ID, or a call from the SPMD while a partition runs.
    assert!(shared(&s, 0, Caller::Partition(SP1), &back).is_none());
    assert!(shared(&s, 0, Caller::Spmd, &req32(3, SP2, [0; 5])).is_none());
}

#[test]
fn answers_queries_as_the_exclusive_path_does() {
    let u1 = uuid_w(U1);
    let queries = [
        regs(&[fid::ID_GET]),
        regs(&[fid::FEATURES, fid::REQ32]),
        regs(&[fid::FEATURES, fid::RXTX_MAP64]),
        regs(&[fid::FEATURES, fid::SEC_EP32]),
        regs(&[fid::FEATURES, fid::MSG_SEND2]),
        regs(&[fid::FEATURES, 0x8400_00ff]),
        regs(&[fid::FEATURES, 0x8400_0074, 1]),
        regs(&[fid::FEATURES, 1]),
        regs(&[fid::FEATURES, 2]),
        regs(&[fid::FEATURES, 3]),
        regs(&[fid::FEATURES, 0x101]),
        regs(&[fid::PARTITION_INFO_GET, 0, 0, 0, 0, 1]),
        regs(&[fid::PARTITION_INFO_GET, u1[0], u1[1], u1[2], u1[3], 1]),
        regs(&[fid::PARTITION_INFO_GET, 1, 2, 3, 4, 1]),
    ];
    for caller in [Caller::Spmd, Caller::Partition(SP1)] {
        let (mut fast, mut exclusive) = (ready(), ready());
        if caller != Caller::Spmd {
            // SP1 handles a request (and fixed its version at boot).
            entered(nwd(&mut fast, 0, &req32(3, SP1, [0; 5])), SP1, 0);
            entered(nwd(&mut exclusive, 0, &req32(3, SP1, [0; 5])), SP1, 0);
        }
        for query in &queries {
            let query = regs_tagged(&query[..8], 0x500);
            let (next, out) = shared(&fast, 0, caller, &query).expect("taken");
            let expected = exclusive.next_exclusive(CpuId(0), Event::Call(caller, &query));
            assert_eq!(next, expected, "{query:x?}");
            assert_eq!(out.regs(), exclusive.answer(), "{query:x?} from {caller:?}");
        }
    }
}

#[test]
fn two_cpus_run_requests_at_once() {
    // SP2 is MP: CPU 0 and CPU 1 each send to their own context, never the other's, and
    // neither ever needs the core to itself.
    let mut s = ready();
    // CPU 1 comes up: SP2's second context initialises and waits.
    let o = s.cpu_on(CpuId(1));
    assert!(matches!(
        o,
        spmc::Outcome::Enter {
            partition: SP2,
            vcpu: 1,
            ..
        }
    ));
    assert_eq!(
        to_spmd(sp(&mut s, 1, SP2, &regs(&[fid::MSG_WAIT])))[0],
        fid::MSG_WAIT
    );
    let start = Barrier::new(2);
    std::thread::scope(|scope| {
        for cpu in [0u16, 1] {
            let (s, start) = (&s, &start);
            scope.spawn(move || {
                start.wait();
                for round in 0..20_000u64 {
                    let req = req32(cpu + 1, SP2, [round, 0, 0, 0, 0]);
                    let (next, out) = shared(s, cpu, Caller::Spmd, &req).expect("fast path");
                    assert_eq!(next, enter_of(SP2, cpu));
                    assert_eq!(out.regs[3], round);
                    let resp = resp32(SP2, cpu + 1, [round, 0, 0, 0, 0]);
                    let (next, out) =
                        shared(s, cpu, Caller::Partition(SP2), &resp).expect("fast path");
                    assert_eq!(next, Next::ToSpmd);
                    assert_eq!(out.regs[3], round);
                }
            });
        }
    });
    assert_eq!(s.context_state(SP2, 0), Some(RuntimeState::Waiting));
    assert_eq!(s.context_state(SP2, 1), Some(RuntimeState::Waiting));
}

#[test]
fn two_cpus_racing_for_one_context_never_both_get_it() {
    // SP1 is UP: each request either claims its one context, finds it BUSY, or (its lock
    // held by the other CPU that instant) is left to the exclusive path with nothing changed.
    let s = ready();
    let held = AtomicBool::new(false);
    let claims = AtomicU32::new(0);
    let start = Barrier::new(2);
    std::thread::scope(|scope| {
        for cpu in [0u16, 1] {
            let (s, held, claims, start) = (&s, &held, &claims, &start);
            scope.spawn(move || {
                start.wait();
                for _ in 0..20_000 {
                    let Some((next, out)) = shared(s, cpu, Caller::Spmd, &req32(3, SP1, [0; 5]))
                    else {
                        continue;
                    };
                    if next == Next::ToSpmd {
                        assert_error(&out.regs, FfaError::Busy);
                        continue;
                    }
                    assert_eq!(next, enter_of(SP1, 0));
                    assert!(!held.swap(true, Ordering::SeqCst), "claimed twice");
                    claims.fetch_add(1, Ordering::Relaxed);
                    held.store(false, Ordering::SeqCst);
                    // The other CPU may hold SP1's lock that instant to find it busy: then
                    // the response goes to the exclusive path, which this test cannot take
                    // while the other thread runs, so it tries again.
                    let resp = resp32(SP1, 3, [0; 5]);
                    let next = loop {
                        if let Some((next, _)) = shared(s, cpu, Caller::Partition(SP1), &resp) {
                            break next;
                        }
                    };
                    assert_eq!(next, Next::ToSpmd);
                }
            });
        }
    });
    assert!(claims.load(Ordering::Relaxed) > 0);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Waiting));
}
