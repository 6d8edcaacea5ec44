//! Random host calls against a random EL3: the proxy never panics, and its mailbox state and
//! page ledger always agree.

mod common;

use common::*;
use ffa::Version;
use std::cell::RefCell;
use std::rc::Rc;

use proptest::prelude::*;
use proxy::{Hold, Proxy, Regs};

fn function_id() -> BoxedStrategy<u64> {
    prop_oneof![
        6 => (0x60u64..=0x8f, any::<bool>(), prop::bool::weighted(0.1)).prop_map(|(n, smc64, sve)| {
            0x8400_0000 | n | if smc64 { 0x4000_0000 } else { 0 } | if sve { 0x1_0000 } else { 0 }
        }),
        1 => any::<u64>(),
        1 => Just(0xc400_0003u64),
    ]
    .boxed()
}

fn argument() -> BoxedStrategy<u64> {
    prop_oneof![
        3 => 0u64..4,
        2 => (HOST_RAM.0 / 0x1000..HOST_RAM.1 / 0x1000 + 2).prop_map(|f| f * 0x1000),
        1 => Just(PROXY_TX),
        1 => Just(0x8001u64),
        1 => Just(0x1_0002u64),
        1 => prop_oneof![Just(0x8000_0008u64), Just(0x8000_0000u64)],
        2 => any::<u64>(),
    ]
    .boxed()
}

fn random_call() -> impl Strategy<Value = Regs> {
    (function_id(), prop::collection::vec(argument(), 17)).prop_map(|(x0, rest)| {
        let mut regs = [0u64; 18];
        regs[0] = x0;
        regs[1..].copy_from_slice(&rest);
        regs
    })
}

/// Calls that get past the first checks often enough to reach EL3 and the copy.
fn plausible_call() -> impl Strategy<Value = Regs> {
    let page = (0u64..4).prop_map(|i| HOST_RAM.0 + i * 0x1000);
    prop_oneof![
        (page.clone(), page, 0u64..4).prop_map(|(tx, rx, n)| regs(&[0xc400_0066, tx, rx, n])),
        (0u64..3).prop_map(|flags| regs(&[0x8400_0068, 0, 0, 0, 0, flags])),
        Just(regs(&[0x8400_0067, 0])),
        Just(regs(&[0x8400_0065, 0])),
        (0u64..3).prop_map(|v| regs(&[0x8400_0063, 0x1_0000 + v])),
    ]
}

fn host_call() -> impl Strategy<Value = Regs> {
    prop_oneof![2 => random_call(), 1 => plausible_call()]
}

fn el3_answer() -> impl Strategy<Value = Regs> {
    let x0 = prop_oneof![
        3 => Just(0x8400_0061u64),
        1 => Just(0xc400_0061u64),
        2 => Just(0x8400_0060u64),
        1 => Just(0x1_0002u64),
        1 => Just(u64::MAX),
        1 => any::<u64>(),
    ];
    let word = prop_oneof![2 => Just(0u64), 2 => 0u64..600, 1 => 0xffff_fff0u64..=0xffff_ffff, 1 => any::<u64>()];
    (x0, word.clone(), word, any::<u64>()).prop_map(|(x0, x2, x3, x4)| regs(&[x0, 0, x2, x3, x4]))
}

#[track_caller]
fn check_invariants(proxy: &Proxy) {
    let holds: Vec<_> = proxy.host_pages().holds().collect();
    match proxy.host_mailbox() {
        Some(mailbox) => {
            assert_eq!(holds.len(), 2, "{holds:?}");
            assert!(holds.contains(&(mailbox.tx, Hold::Mailbox)));
            assert!(holds.contains(&(mailbox.rx, Hold::Mailbox)));
            assert!(!mailbox.tx.overlaps(&mailbox.rx));
            assert!(mailbox.rx.pages() <= u64::from(PROXY_PAGES));
        }
        None => assert!(holds.is_empty(), "{holds:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_traffic_never_panics_or_desynchronises(
        calls in prop::collection::vec((host_call(), any::<bool>()), 1..40),
        answers in prop::collection::vec(el3_answer(), 1..16),
        negotiate_first in prop::bool::weighted(0.8),
    ) {
        let mut rig = Rig::initialised(Version(1, 2));
        let returned = Rc::new(RefCell::new(Vec::new()));
        let log = Rc::clone(&returned);
        let mut next = 0usize;
        rig.el3.fallback = Some(Box::new(move |_| {
            next += 1;
            let answer = answers[next % answers.len()];
            log.borrow_mut().push(answer);
            answer
        }));
        if negotiate_first {
            rig.el3.then(success(0, 0)).then(success(0, 0));
            rig.call(&regs(&[0x8400_0063, 0x1_0002]));
            prop_assert_eq!(rig.proxy.negotiated_version(), Some(Version(1, 2)));
        }
        let mut locked = rig.proxy.negotiated_version();
        for (call, faulty) in calls {
            rig.mem.faulty = faulty;
            let answer = rig.call(&call);
            if !ffa::call::is_ffa(ffa::call::function_id(&call)) {
                // Untouched both ways: EL3 saw exactly the host's registers.
                prop_assert_eq!(rig.el3.calls.last(), Some(&call));
                let last = returned.borrow().last().copied();
                prop_assert_eq!(last, Some(answer));
            }
            check_invariants(&rig.proxy);
            let now = rig.proxy.negotiated_version();
            if locked.is_some() {
                prop_assert_eq!(now, locked, "the negotiated version never changes");
            }
            locked = now;
        }
    }
}
