//! The scenarios against stacks that are broken on purpose: each must fail (a scenario that
//! passes against a dead stack checks nothing) and none may panic, whatever comes back.

use std::collections::BTreeSet;
use std::vec::Vec;

use super::*;

/// A client whose every call is answered by `answer`.
struct Fake<F: FnMut(u16, &Regs) -> Regs> {
    answer: F,
    proxy: bool,
    calls: usize,
}

impl<F: FnMut(u16, &Regs) -> Regs> Client for Fake<F> {
    fn call_on(&mut self, cpu: u16, regs: &Regs) -> Regs {
        self.calls += 1;
        (self.answer)(cpu, regs)
    }
    fn tx_addr(&self) -> u64 {
        0x8800_0000
    }
    fn rx_addr(&self) -> u64 {
        0x8800_1000
    }
    fn mailbox_pages(&self) -> u32 {
        1
    }
    fn write(&mut self, _: u64, _: &[u8]) {}
    fn read(&self, _: u64, buf: &mut [u8]) {
        // Whatever a broken stack left there.
        buf.fill(0xa5);
    }
    fn behind_proxy(&self) -> bool {
        self.proxy
    }
}

fn run_all(mut answer: impl FnMut(u16, &Regs) -> Regs) -> Vec<&'static str> {
    let mut passed = Vec::new();
    for proxy in [false, true] {
        for s in ALL {
            let mut client = Fake {
                answer: &mut answer,
                proxy,
                calls: 0,
            };
            if (s.run)(&mut client).is_ok() {
                passed.push(s.name);
            }
            assert!(client.calls > 0, "{} makes no call", s.name);
        }
    }
    passed
}

#[test]
fn names_are_unique_snake_case() {
    let mut seen = BTreeSet::new();
    for s in ALL {
        assert!(seen.insert(s.name), "{} twice", s.name);
        assert!(
            s.name
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
            "{} is not snake_case",
            s.name
        );
        assert_eq!(by_name(s.name).map(|f| f.name), Some(s.name));
    }
    assert!(ALL.len() >= 40);
}

#[test]
fn every_scenario_fails_when_everything_is_refused() {
    let passed = run_all(|_, _| ffa::call::error(ffa::FfaError::NotSupported));
    assert!(passed.is_empty(), "passed against a dead stack: {passed:?}");
}

#[test]
fn every_scenario_fails_when_calls_come_back_unchanged() {
    let passed = run_all(|_, regs| *regs);
    assert!(passed.is_empty(), "passed against a mirror: {passed:?}");
}

#[test]
fn every_scenario_fails_when_everything_succeeds() {
    let passed = run_all(|_, _| ffa::call::success32([0; 6]));
    assert!(passed.is_empty(), "passed against a yes-man: {passed:?}");
}

#[test]
fn garbage_answers_never_panic() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..50 {
        run_all(|_, _| {
            let mut regs = [0u64; 18];
            for r in regs.iter_mut() {
                *r = next();
            }
            // Sometimes a plausible function ID, so deeper checks run too.
            if next() % 2 == 0 {
                regs[0] = 0x8400_0060 + next() % 0x30;
            }
            regs
        });
    }
}

#[test]
fn failures_name_what_went_wrong() {
    let mut client = Fake {
        answer: |_: u16, _: &Regs| ffa::call::error(ffa::FfaError::Denied),
        proxy: false,
        calls: 0,
    };
    let failure = (by_name("partition_info_get_all").unwrap().run)(&mut client).unwrap_err();
    assert_eq!(
        std::format!("{failure}"),
        "FFA_VERSION: expected version 1.2, got FFA_ERROR(Denied)"
    );
}
