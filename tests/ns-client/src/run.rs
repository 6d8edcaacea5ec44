//! Running the scenario the boot selector names, and the lines xtask reads.

use core::fmt::{self, Write};

use ffa::Regs;
use scenarios::selector::{self, Selection};
use scenarios::{ALL, CPUS, Client, OnCore, RunKey};

use crate::bench::{self, Line};
use crate::slot::SlotError;

/// A call the client could not deliver (the scenario's result does not count then).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HarnessFault {
    /// The CPU the scenario asked for.
    pub cpu: u16,
    /// Why the call did not get there.
    pub error: SlotError,
}

impl fmt::Display for HarnessFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "harness: cpu {} {}", self.cpu, self.error)
    }
}

/// A client that can tell when it failed a scenario itself.
pub trait Harness: Client {
    /// The first call it could not deliver, if any.
    fn harness_fault(&self) -> Option<HarnessFault>;
}

/// The run's outcome, as the last line says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The scenario passed.
    Pass,
    /// The scenario failed, or the selector named none.
    Fail,
    /// No scenario was asked for.
    None,
}

impl Verdict {
    /// The verdict line.
    pub fn line(self) -> &'static str {
        match self {
            Verdict::Pass => "verdict: PASS",
            Verdict::Fail => "verdict: FAIL",
            Verdict::None => "verdict: NONE",
        }
    }
}

/// Runs what `selector` asks for (`scenarios::selector`: 0, nothing; `home << 16 | (N + 1)`,
/// `scenarios::ALL[N]` with core `home` as its CPU 0) and prints its result line
/// (`scenario qemu <name>@cpu<home> PASS|FAIL …`) and the verdict line to `out`.
pub fn run_selected<C: Harness, W: Write>(selector: u32, client: &mut C, out: &mut W) -> Verdict {
    let verdict = run(selector, client, out);
    // Output is best effort: there is nowhere else to report a console error.
    let _ = writeln!(out, "{}", verdict.line());
    verdict
}

fn run<C: Harness, W: Write>(word: u32, client: &mut C, out: &mut W) -> Verdict {
    let selection = selector::decode(word);
    let (scenario, home) = match selection.scenario() {
        Some(run) => run,
        None if selection == Selection::None => return Verdict::None,
        None => {
            let _ = writeln!(
                out,
                "[client] selector {word:#x}: no scenario run ({} scenarios, {CPUS} home cores)",
                ALL.len()
            );
            return Verdict::Fail;
        }
    };
    let result = (scenario.run)(&mut OnCore {
        inner: client,
        home,
        cpus: CPUS,
    });
    let name = RunKey {
        name: scenario.name,
        home,
    };
    match (client.harness_fault(), result) {
        (Some(fault), _) => {
            let _ = writeln!(out, "scenario qemu {name} FAIL {fault}");
            Verdict::Fail
        }
        (None, Ok(())) => {
            let _ = writeln!(out, "scenario qemu {name} PASS");
            Verdict::Pass
        }
        (None, Err(failure)) => {
            let _ = writeln!(out, "scenario qemu {name} FAIL {failure}");
            Verdict::Fail
        }
    }
}

/// The client's part of a bench boot whose rows the proxy timed alone: the verdict line, FAIL
/// when any of the proxy's `failures` rows failed.
pub fn report_proxy_bench<W: Write>(failures: u64, out: &mut W) -> Verdict {
    if failures != 0 {
        let _ = writeln!(out, "[client] {failures} of the proxy's bench rows failed");
    }
    let verdict = if failures == 0 {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    let _ = writeln!(out, "{}", verdict.line());
    verdict
}

/// The bench mode's part of the client: negotiates FF-A v1.2 through `timed` (the client's
/// bracketed SMC, told which kind of call it makes), times row (d) into `ticks`, and prints
/// its `bench` line and the verdict line to `out`. The verdict is FAIL when this row or any of
/// the `earlier_failures` rows the proxy timed before the client started failed.
pub fn run_bench<W: Write>(
    earlier_failures: u64,
    ticks: &mut [u64],
    mut timed: impl FnMut(&Regs, bench::Call) -> (Regs, u64),
    out: &mut W,
) -> Verdict {
    let row = bench::DIRECT_REQ_ECHO_EL1;
    let (answer, _) = timed(&bench::version_request(), bench::Call::Setup);
    let result = bench::check_version(&answer).and_then(|()| {
        bench::measure_with(
            row.operation,
            &mut bench::Setup::default(),
            ticks,
            &mut timed,
        )
    });
    let _ = writeln!(
        out,
        "{}",
        Line {
            name: row.name,
            result: &result
        }
    );
    if earlier_failures != 0 {
        let _ = writeln!(
            out,
            "[client] {earlier_failures} of the proxy's bench rows failed"
        );
    }
    let verdict = match (&result, earlier_failures) {
        (Ok(_), 0) => Verdict::Pass,
        _ => Verdict::Fail,
    };
    let _ = writeln!(out, "{}", verdict.line());
    verdict
}
