//! Runs scenarios, each on a freshly booted stack, and reports one line per scenario and client:
//! `scenario <client> <name> PASS` or `scenario <client> <name> FAIL <reason>` (the QEMU client
//! prints the same lines, so one parser reads both).

use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use scenarios::Client;

use crate::client::{ClientKind, DirectClient, HarnessClient, ProxiedClient};
use crate::error::HarnessError;
use crate::stack::Stack;
use crate::trace::Trace;

/// How a scenario ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every check held.
    Pass,
    /// The reason, on one line.
    Fail(String),
}

/// One scenario under one client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioResult {
    /// The client.
    pub client: ClientKind,
    /// The scenario's name.
    pub name: String,
    /// How it ended.
    pub verdict: Verdict,
    /// The last hops before the end (for failures).
    pub recent_hops: Vec<String>,
}

impl ScenarioResult {
    /// Whether it passed.
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// The machine-readable result line.
    pub fn line(&self) -> String {
        match &self.verdict {
            Verdict::Pass => format!("scenario {} {} PASS", self.client.name(), self.name),
            Verdict::Fail(reason) => {
                format!(
                    "scenario {} {} FAIL {}",
                    self.client.name(),
                    self.name,
                    reason
                )
            }
        }
    }
}

/// Every scenario's result under one client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The client.
    pub client: ClientKind,
    /// In the order run.
    pub results: Vec<ScenarioResult>,
}

impl Report {
    /// The failed results.
    pub fn failures(&self) -> Vec<&ScenarioResult> {
        self.results.iter().filter(|r| !r.passed()).collect()
    }

    /// Whether every scenario passed (and there was at least one).
    pub fn all_passed(&self) -> bool {
        !self.results.is_empty() && self.results.iter().all(ScenarioResult::passed)
    }

    /// `summary <client>: N passed, M failed of T`.
    pub fn summary(&self) -> String {
        let failed = self.failures().len();
        format!(
            "summary {}: {} passed, {} failed of {}",
            self.client.name(),
            self.results.len() - failed,
            failed,
            self.results.len()
        )
    }
}

impl fmt::Display for Report {
    /// The result lines, then the summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for result in &self.results {
            writeln!(f, "{}", result.line())?;
        }
        write!(f, "{}", self.summary())
    }
}

/// Joins a reason onto one line.
fn one_line(reason: &str) -> String {
    let joined = reason
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" / ");
    if joined.is_empty() {
        "(no reason given)".into()
    } else {
        joined
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".into()
    }
}

/// A booted standard stack under the client `kind`.
pub fn client(kind: ClientKind, trace: Trace) -> Result<Box<dyn HarnessClient>, HarnessError> {
    let stack = Stack::standard(trace)?;
    Ok(match kind {
        ClientKind::Direct => Box::new(DirectClient::new(stack)),
        ClientKind::Proxied => Box::new(ProxiedClient::new(stack)?),
    })
}

/// Runs `scenario` (named `name`) on a fresh standard stack under `kind`.
///
/// The scenario's own verdict counts unless the harness failed underneath it (a hang, a
/// protocol violation, a memory fault): then that failure is the reason. A panic anywhere
/// (scenario, proxy, SPMC, partition) is a failure, not an abort of the run.
pub fn run_one<F>(kind: ClientKind, name: &str, scenario: F) -> ScenarioResult
where
    F: FnOnce(&mut dyn Client) -> Result<(), String>,
{
    let trace = Trace::from_env();
    trace.note(format!("=== {} {name}", kind.name()));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut client = client(kind, trace.clone()).map_err(|e| format!("setup: {e}"))?;
        let verdict = scenario(&mut *client);
        match client.fault() {
            Some(fault) => Err(format!("harness: {fault}")),
            None => verdict,
        }
    }));
    let verdict = match outcome {
        Ok(Ok(())) => Verdict::Pass,
        Ok(Err(reason)) => Verdict::Fail(one_line(&reason)),
        Err(payload) => Verdict::Fail(one_line(&format!("panic: {}", panic_message(&*payload)))),
    };
    let recent_hops = if verdict == Verdict::Pass {
        Vec::new()
    } else {
        trace.recent()
    };
    ScenarioResult {
        client: kind,
        name: name.to_string(),
        verdict,
        recent_hops,
    }
}

/// Runs `scenario` on a fresh standard stack under `kind`.
pub fn run_scenario(kind: ClientKind, scenario: &scenarios::Scenario) -> ScenarioResult {
    run_one(kind, scenario.name, |client| {
        (scenario.run)(client).map_err(|failure| failure.to_string())
    })
}

/// The scenarios `E2E_ONLY` names (comma-separated), or all of them when it is unset.
pub fn selected() -> Vec<&'static scenarios::Scenario> {
    let only = std::env::var("E2E_ONLY").unwrap_or_default();
    let names: Vec<&str> = only
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    scenarios::ALL
        .iter()
        .filter(|s| names.is_empty() || names.contains(&s.name))
        .collect()
}

/// Runs every scenario of `scenarios::ALL` (or those `E2E_ONLY` names) under `kind`, each on a
/// fresh stack, calling `each` with every result as it comes (to print it while the run goes
/// on).
pub fn run_all_with(kind: ClientKind, mut each: impl FnMut(&ScenarioResult)) -> Report {
    let chosen = selected();
    let mut results = Vec::with_capacity(chosen.len());
    for scenario in chosen {
        let result = run_scenario(kind, scenario);
        each(&result);
        results.push(result);
    }
    Report {
        client: kind,
        results,
    }
}

/// Runs every scenario of `scenarios::ALL` (or those `E2E_ONLY` names) under `kind`, each on
/// a fresh stack.
pub fn run_all(kind: ClientKind) -> Report {
    run_all_with(kind, |_| {})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_get() -> ffa::Regs {
        let mut r = [0u64; 18];
        r[0] = 0x8400_0069;
        r
    }

    #[test]
    fn lines_and_summary() {
        let pass = run_one(ClientKind::Direct, "id_get", |c| {
            let answer = c.call_on(0, &id_get());
            if answer[0] == 0x8400_0061 && answer[2] == 0 {
                Ok(())
            } else {
                Err(format!("got {answer:x?}"))
            }
        });
        assert_eq!(pass.line(), "scenario direct id_get PASS");
        let fail = run_one(ClientKind::Proxied, "wrong", |_| {
            Err("expected 1\ngot 2".into())
        });
        assert_eq!(
            fail.line(),
            "scenario proxied wrong FAIL expected 1 / got 2"
        );
        assert!(!fail.recent_hops.is_empty(), "a failure keeps the hops");
        let report = Report {
            client: ClientKind::Proxied,
            results: vec![pass, fail],
        };
        assert_eq!(report.summary(), "summary proxied: 1 passed, 1 failed of 2");
        assert!(!report.all_passed());
        assert_eq!(report.failures().len(), 1);
    }

    #[test]
    fn harness_faults_and_panics_fail_the_scenario() {
        let bad_cpu = run_one(ClientKind::Direct, "cpu9", |c| {
            c.call_on(9, &id_get());
            Ok(())
        });
        assert_eq!(
            bad_cpu.verdict,
            Verdict::Fail("harness: no cpu9 on this machine".into())
        );
        let bad_memory = run_one(ClientKind::Proxied, "poke", |c| {
            c.write(0x6100_0000, &[1]);
            Ok(())
        });
        assert!(
            matches!(&bad_memory.verdict, Verdict::Fail(r) if r.starts_with("harness: client memory fault")),
            "{bad_memory:?}"
        );
        let panicked = run_one(ClientKind::Direct, "boom", |_| panic!("boom"));
        assert_eq!(panicked.verdict, Verdict::Fail("panic: boom".into()));
    }
}
