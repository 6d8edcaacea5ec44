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
            for home in 0..CPUS {
                let mut client = Fake {
                    answer: &mut answer,
                    proxy,
                    calls: 0,
                };
                let mut on_core = OnCore {
                    inner: &mut client,
                    home,
                    cpus: CPUS,
                };
                if (s.run)(&mut on_core).is_ok() {
                    passed.push(s.name);
                }
                assert!(client.calls > 0, "{} makes no call", s.name);
            }
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

/// A client that records which core each call went to and answers with a marker of its own.
struct Recorder {
    cores: Vec<u16>,
    written: Vec<(u64, Vec<u8>)>,
}

impl Client for Recorder {
    fn call_on(&mut self, cpu: u16, regs: &Regs) -> Regs {
        self.cores.push(cpu);
        let mut answer = *regs;
        answer[17] = 0x5eed;
        answer
    }
    fn tx_addr(&self) -> u64 {
        0x1000
    }
    fn rx_addr(&self) -> u64 {
        0x2000
    }
    fn mailbox_pages(&self) -> u32 {
        3
    }
    fn write(&mut self, addr: u64, data: &[u8]) {
        self.written.push((addr, data.to_vec()));
    }
    fn read(&self, addr: u64, buf: &mut [u8]) {
        buf.fill(addr as u8);
    }
    fn behind_proxy(&self) -> bool {
        true
    }
}

#[test]
fn on_core_moves_every_call_by_its_home_and_wraps() {
    let mut inner = Recorder {
        cores: Vec::new(),
        written: Vec::new(),
    };
    for home in 0..CPUS {
        let mut client = OnCore {
            inner: &mut inner,
            home,
            cpus: CPUS,
        };
        for cpu in 0..CPUS {
            let answer = client.call_on(cpu, &[cpu.into(); 18]);
            assert_eq!((answer[0], answer[17]), (cpu.into(), 0x5eed));
        }
    }
    assert_eq!(
        inner.cores,
        [0, 1, 2, 3, 1, 2, 3, 0, 2, 3, 0, 1, 3, 0, 1, 2],
        "(scenario cpu + home) % 4"
    );
    // A CPU past the machine goes through as it is (the client underneath reports it); a home
    // past it wraps, without overflow.
    let mut client = OnCore {
        inner: &mut inner,
        home: u16::MAX,
        cpus: CPUS,
    };
    client.call_on(9, &[0; 18]);
    client.call_on(u16::MAX, &[0; 18]);
    client.call_on(1, &[0; 18]);
    assert_eq!(inner.cores[16..], [9, u16::MAX, 0]);
}

#[test]
fn on_core_passes_everything_else_through() {
    let mut inner = Recorder {
        cores: Vec::new(),
        written: Vec::new(),
    };
    let mut client = OnCore {
        inner: &mut inner,
        home: 3,
        cpus: CPUS,
    };
    assert_eq!(
        (client.tx_addr(), client.rx_addr(), client.mailbox_pages()),
        (0x1000, 0x2000, 3)
    );
    assert!(client.behind_proxy());
    // The core a scenario CPU lands on, as scenarios ask it to predict MP contexts.
    assert_eq!((client.core(0), client.core(1), client.core(9)), (3, 0, 9));
    assert_eq!(cpu_on_core(&client, 0), Some(1));
    assert_eq!(cpu_on_core(&client, 7), None);
    client.write(0x1000, &[1, 2]);
    let mut buf = [0u8; 2];
    client.read(0x2007, &mut buf);
    assert_eq!(buf, [7, 7]);
    assert_eq!(inner.written, [(0x1000, std::vec![1, 2])]);
    assert!(inner.cores.is_empty());
}

#[test]
fn run_keys_print_and_parse_back() {
    let key = RunKey {
        name: "rxtx_unmap",
        home: 3,
    };
    assert_eq!(std::format!("{key}"), "rxtx_unmap@cpu3");
    assert_eq!(RunKey::parse("rxtx_unmap@cpu3"), Some(key));
    for s in ALL {
        for home in 0..CPUS {
            let text = std::format!("{}", RunKey { name: s.name, home });
            assert_eq!(RunKey::parse(&text), Some(RunKey { name: s.name, home }));
        }
    }
    for bad in [
        "rxtx_unmap",
        "@cpu1",
        "x@cpu",
        "x@cpu+1",
        "x@cpu1a",
        "x@cpu70000",
    ] {
        assert_eq!(RunKey::parse(bad), None, "{bad}");
    }
}
