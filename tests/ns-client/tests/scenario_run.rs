//! Selecting and reporting a scenario: the lines xtask reads, over the in-process stack (the
//! same proxy and SPMC cores the image runs) and over clients that fail on purpose.

use e2e::client::{HarnessClient, ProxiedClient};
use e2e::stack::Stack;
use e2e::trace::Trace;
use ffa::Regs;
use ns_client::run::{Harness, HarnessFault, Verdict, run_selected};
use ns_client::slot::SlotError;
use scenarios::selector::{self, Selection};
use scenarios::{ALL, CPUS, Client};

/// The in-process proxied client, seen as the QEMU client's harness.
struct InProcess(ProxiedClient);

impl Client for InProcess {
    fn call_on(&mut self, cpu: u16, regs: &Regs) -> Regs {
        self.0.call_on(cpu, regs)
    }
    fn tx_addr(&self) -> u64 {
        self.0.tx_addr()
    }
    fn rx_addr(&self) -> u64 {
        self.0.rx_addr()
    }
    fn mailbox_pages(&self) -> u32 {
        self.0.mailbox_pages()
    }
    fn write(&mut self, addr: u64, data: &[u8]) {
        self.0.write(addr, data)
    }
    fn read(&self, addr: u64, buf: &mut [u8]) {
        self.0.read(addr, buf)
    }
    fn behind_proxy(&self) -> bool {
        true
    }
}

impl Harness for InProcess {
    fn harness_fault(&self) -> Option<HarnessFault> {
        // The in-process harness reports its own faults as panics in these tests.
        assert!(self.0.fault().is_none(), "{:?}", self.0.fault());
        None
    }
}

fn in_process() -> InProcess {
    let stack = Stack::standard(Trace::new(false)).expect("stack boots");
    InProcess(ProxiedClient::new(stack).expect("proxy starts"))
}

/// A client whose every call is answered with SMCCC's -1, optionally failing one CPU.
struct Unanswered {
    fault: Option<HarnessFault>,
}

impl Client for Unanswered {
    fn call_on(&mut self, cpu: u16, _regs: &Regs) -> Regs {
        if cpu != 0 {
            self.fault.get_or_insert(HarnessFault {
                cpu,
                error: SlotError::Offline,
            });
        }
        [u64::MAX; 18]
    }
    fn tx_addr(&self) -> u64 {
        0x4800_0000
    }
    fn rx_addr(&self) -> u64 {
        0x4800_1000
    }
    fn mailbox_pages(&self) -> u32 {
        1
    }
    fn write(&mut self, _addr: u64, _data: &[u8]) {}
    fn read(&self, _addr: u64, buf: &mut [u8]) {
        buf.fill(0);
    }
    fn behind_proxy(&self) -> bool {
        true
    }
}

impl Harness for Unanswered {
    fn harness_fault(&self) -> Option<HarnessFault> {
        self.fault
    }
}

fn index_of(name: &str) -> u32 {
    ALL.iter()
        .position(|s| s.name == name)
        .expect("scenario exists") as u32
}

#[test]
fn selector_zero_runs_nothing() {
    let mut out = String::new();
    let verdict = run_selected(0, &mut Unanswered { fault: None }, &mut out);
    assert_eq!(verdict, Verdict::None);
    assert_eq!(out, "verdict: NONE\n");
}

#[test]
fn a_selector_past_the_list_fails_the_run() {
    let mut out = String::new();
    let selector = ALL.len() as u32 + 1;
    let verdict = run_selected(selector, &mut Unanswered { fault: None }, &mut out);
    assert_eq!(verdict, Verdict::Fail);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with(&format!("[client] selector {selector:#x}: no scenario run")));
    assert_eq!(lines[1], "verdict: FAIL");
    let mut out = String::new();
    assert_eq!(
        run_selected(u32::MAX, &mut Unanswered { fault: None }, &mut out),
        Verdict::Fail
    );
}

#[test]
fn a_passing_scenario_prints_pass_lines() {
    for name in [
        "id_get_and_spm_id_get",
        "version_negotiation",
        "mp_partition_on_each_cpu",
    ] {
        let mut out = String::new();
        let verdict = run_selected(index_of(name) + 1, &mut in_process(), &mut out);
        assert_eq!(
            out,
            format!("scenario qemu {name}@cpu0 PASS\nverdict: PASS\n"),
            "{name}"
        );
        assert_eq!(verdict, Verdict::Pass);
    }
}

#[test]
fn the_selector_names_the_home_core() {
    // Every home core of scenarios whose answers depend on the core (MP contexts, boot info).
    for name in [
        "mp_partition_on_each_cpu",
        "boot_info_blob",
        "run_busy_target",
    ] {
        for home in 0..CPUS {
            let word = selector::of(name, home).expect("a run");
            assert_eq!(word, u32::from(home) << 16 | (index_of(name) + 1));
            let mut out = String::new();
            let verdict = run_selected(word, &mut in_process(), &mut out);
            assert_eq!(
                out,
                format!("scenario qemu {name}@cpu{home} PASS\nverdict: PASS\n"),
            );
            assert_eq!(verdict, Verdict::Pass);
        }
    }
}

#[test]
fn selector_words_decode_to_runs_and_never_to_the_bench() {
    assert_eq!(selector::decode(0), Selection::None);
    assert_eq!(
        selector::decode(ns_client::bench::SELECTOR),
        Selection::Bench
    );
    assert_eq!(
        selector::decode(0x2_0001)
            .scenario()
            .map(|(s, h)| (s.name, h)),
        Some((ALL[0].name, 2))
    );
    for home in 0..CPUS {
        for index in 0..ALL.len() {
            let word = selector::encode(index, home).expect("a run");
            assert_ne!(word >> 16, ns_client::bench::SELECTOR >> 16);
        }
    }
    // A home core past the machine, or the bench word given to the scenario runner, fails.
    for word in [u32::from(CPUS) << 16 | 1, ns_client::bench::SELECTOR] {
        let mut out = String::new();
        let verdict = run_selected(word, &mut Unanswered { fault: None }, &mut out);
        assert_eq!(verdict, Verdict::Fail, "{word:#x}");
        assert!(out.starts_with("[client] selector "), "{out}");
    }
}

#[test]
fn a_failing_scenario_prints_its_reason() {
    let name = ALL[0].name;
    let mut out = String::new();
    let verdict = run_selected(1, &mut Unanswered { fault: None }, &mut out);
    assert_eq!(verdict, Verdict::Fail);
    let lines: Vec<&str> = out.lines().collect();
    let prefix = format!("scenario qemu {name}@cpu0 FAIL ");
    assert!(lines[0].starts_with(&prefix), "{out}");
    assert!(lines[0].len() > prefix.len(), "a reason follows");
    assert_eq!(lines[1], "verdict: FAIL");
}

#[test]
fn a_home_core_that_is_not_up_fails_with_the_harness_reason() {
    // Unanswered fails every core but 0: home 3 makes the scenario's CPU 0 calls there.
    let word = selector::of("id_get_and_spm_id_get", 3).expect("a run");
    let mut out = String::new();
    let verdict = run_selected(word, &mut Unanswered { fault: None }, &mut out);
    assert_eq!(verdict, Verdict::Fail);
    assert!(
        out.starts_with(
            "scenario qemu id_get_and_spm_id_get@cpu3 FAIL harness: cpu 3 not online\n"
        ),
        "{out}"
    );
}

#[test]
fn a_call_the_client_could_not_deliver_fails_with_the_harness_reason() {
    let name = "mp_partition_on_each_cpu";
    let mut out = String::new();
    let verdict = run_selected(
        index_of(name) + 1,
        &mut Unanswered { fault: None },
        &mut out,
    );
    assert_eq!(verdict, Verdict::Fail);
    // The scenario fails on CPU 0's first answer unless it reaches CPU 1 first; either way a
    // FAIL line, and the harness reason whenever a call to CPU 1 was attempted.
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("scenario qemu {name}@cpu0 FAIL ")),
        "{out}"
    );

    let mut client = Unanswered { fault: None };
    client.call_on(2, &[0; 18]);
    let mut out = String::new();
    run_selected(index_of("id_get_and_spm_id_get") + 1, &mut client, &mut out);
    assert!(
        out.starts_with(
            "scenario qemu id_get_and_spm_id_get@cpu0 FAIL harness: cpu 2 not online\n"
        ),
        "{out}"
    );
}
