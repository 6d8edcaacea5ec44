//! Selecting and reporting a scenario: the lines xtask reads, over the in-process stack (the
//! same proxy and SPMC cores the image runs) and over clients that fail on purpose.

use e2e::client::{HarnessClient, ProxiedClient};
use e2e::stack::Stack;
use e2e::trace::Trace;
use ffa::Regs;
use ns_client::run::{Harness, HarnessFault, Verdict, run_selected};
use ns_client::slot::SlotError;
use scenarios::{ALL, Client};

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
    assert!(lines[0].starts_with(&format!("[client] selector {selector}: no scenario")));
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
            format!("scenario qemu {name} PASS\nverdict: PASS\n"),
            "{name}"
        );
        assert_eq!(verdict, Verdict::Pass);
    }
}

#[test]
fn a_failing_scenario_prints_its_reason() {
    let name = ALL[0].name;
    let mut out = String::new();
    let verdict = run_selected(1, &mut Unanswered { fault: None }, &mut out);
    assert_eq!(verdict, Verdict::Fail);
    let lines: Vec<&str> = out.lines().collect();
    let prefix = format!("scenario qemu {name} FAIL ");
    assert!(lines[0].starts_with(&prefix), "{out}");
    assert!(lines[0].len() > prefix.len(), "a reason follows");
    assert_eq!(lines[1], "verdict: FAIL");
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
        first.starts_with(&format!("scenario qemu {name} FAIL ")),
        "{out}"
    );

    let mut client = Unanswered { fault: None };
    client.call_on(2, &[0; 18]);
    let mut out = String::new();
    run_selected(index_of("id_get_and_spm_id_get") + 1, &mut client, &mut out);
    assert!(
        out.starts_with("scenario qemu id_get_and_spm_id_get FAIL harness: cpu 2 not online\n"),
        "{out}"
    );
}
