//! Runs scenarios, each on a freshly booted stack once per home core (`scenarios::OnCore`), and
//! reports one line per scenario, home core and client: `scenario <client> <name>@cpu<k> PASS` or
//! `scenario <client> <name>@cpu<k> FAIL <reason>` (the QEMU client prints the same lines, so
//! one parser reads both).

use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use scenarios::{CPUS, Client, OnCore, RunKey};

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

/// One scenario from one home core under one client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioResult {
    /// The client.
    pub client: ClientKind,
    /// The scenario's name.
    pub name: String,
    /// The core that was the scenario's CPU 0.
    pub home: u16,
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

    /// `<name>@cpu<home>`: which run this is.
    pub fn key(&self) -> String {
        RunKey {
            name: &self.name,
            home: self.home,
        }
        .to_string()
    }

    /// The machine-readable result line.
    pub fn line(&self) -> String {
        let (client, key) = (self.client.name(), self.key());
        match &self.verdict {
            Verdict::Pass => format!("scenario {client} {key} PASS"),
            Verdict::Fail(reason) => format!("scenario {client} {key} FAIL {reason}"),
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

/// Runs `scenario` (named `name`) on a fresh standard stack under `kind`, with core `home` as
/// its CPU 0 (`home` 0 leaves every CPU number as the scenario gives it).
///
/// The scenario's own verdict counts unless the harness failed underneath it (a hang, a
/// protocol violation, a memory fault): then that failure is the reason. A panic anywhere
/// (scenario, proxy, SPMC, partition) is a failure, not an abort of the run.
pub fn run_one<F>(kind: ClientKind, name: &str, home: u16, scenario: F) -> ScenarioResult
where
    F: FnOnce(&mut dyn Client) -> Result<(), String>,
{
    let trace = Trace::from_env();
    trace.note(format!("=== {} {}", kind.name(), RunKey { name, home }));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut client = client(kind, trace.clone()).map_err(|e| format!("setup: {e}"))?;
        let verdict = scenario(&mut OnCore {
            inner: &mut *client,
            home,
            cpus: CPUS,
        });
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
        home,
        verdict,
        recent_hops,
    }
}

/// Runs `scenario` on a fresh standard stack under `kind`, from home core `home`.
pub fn run_scenario(kind: ClientKind, scenario: &scenarios::Scenario, home: u16) -> ScenarioResult {
    run_one(kind, scenario.name, home, |client| {
        (scenario.run)(client).map_err(|failure| failure.to_string())
    })
}

/// Every (scenario, home core) run, in `scenarios::ALL` order and home cores 0..CPUS within a
/// scenario, that `filters` selects: a filter is a scenario's name (all its home cores) or
/// `<name>@cpu<k>` (that run); no filter selects every run.
pub fn runs_matching<S: AsRef<str>>(filters: &[S]) -> Vec<(&'static scenarios::Scenario, u16)> {
    let wanted = |name: &str, home: u16| {
        filters.is_empty()
            || filters.iter().any(|f| {
                let f = f.as_ref();
                f == name || RunKey::parse(f) == Some(RunKey { name, home })
            })
    };
    scenarios::ALL
        .iter()
        .flat_map(|s| (0..CPUS).map(move |home| (s, home)))
        .filter(|(s, home)| wanted(s.name, *home))
        .collect()
}

/// The runs `E2E_ONLY` selects (comma-separated names or `<name>@cpu<k>` keys), or every run
/// when it is unset.
pub fn selected() -> Vec<(&'static scenarios::Scenario, u16)> {
    let only = std::env::var("E2E_ONLY").unwrap_or_default();
    let filters: Vec<&str> = only
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    runs_matching(&filters)
}

/// Runs every scenario of `scenarios::ALL` on the test partitions from every home core (or the runs `E2E_ONLY`
/// selects) under `kind`, each on a fresh stack, calling `each` with every result as it comes
/// (to print it while the run goes on).
pub fn run_all_with(kind: ClientKind, mut each: impl FnMut(&ScenarioResult)) -> Report {
    let chosen = selected();
    let mut results = Vec::with_capacity(chosen.len());
    // OP-TEE runs on QEMU only: the in-process stack hosts the test partitions alone.
    let here = chosen
        .into_iter()
        .filter(|(s, _)| s.stack == scenarios::Stack::TestPartitions);
    for (scenario, home) in here {
        let result = run_scenario(kind, scenario, home);
        each(&result);
        results.push(result);
    }
    Report {
        client: kind,
        results,
    }
}

/// Runs every scenario of `scenarios::ALL` from every home core (or the runs `E2E_ONLY`
/// selects) under `kind`, each on a fresh stack.
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
        let pass = run_one(ClientKind::Direct, "id_get", 0, |c| {
            let answer = c.call_on(0, &id_get());
            if answer[0] == 0x8400_0061 && answer[2] == 0 {
                Ok(())
            } else {
                Err(format!("got {answer:x?}"))
            }
        });
        assert_eq!(pass.line(), "scenario direct id_get@cpu0 PASS");
        let fail = run_one(ClientKind::Proxied, "wrong", 3, |_| {
            Err("expected 1\ngot 2".into())
        });
        assert_eq!(
            fail.line(),
            "scenario proxied wrong@cpu3 FAIL expected 1 / got 2"
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
        let bad_cpu = run_one(ClientKind::Direct, "cpu9", 2, |c| {
            c.call_on(9, &id_get());
            Ok(())
        });
        assert_eq!(
            bad_cpu.verdict,
            Verdict::Fail("harness: no cpu9 on this machine".into())
        );
        let bad_memory = run_one(ClientKind::Proxied, "poke", 0, |c| {
            c.write(0x6100_0000, &[1]);
            Ok(())
        });
        assert!(
            matches!(&bad_memory.verdict, Verdict::Fail(r) if r.starts_with("harness: client memory fault")),
            "{bad_memory:?}"
        );
        let panicked = run_one(ClientKind::Direct, "boom", 1, |_| panic!("boom"));
        assert_eq!(panicked.verdict, Verdict::Fail("panic: boom".into()));
    }

    #[test]
    fn each_run_calls_from_its_home_core() {
        // CPU 1 from home 3 is core 0; CPU 0 from home 3 is core 3. The stack's trace names the
        // core of every hop the host makes.
        for (home, cpu, core) in [(0, 0, 0), (3, 0, 3), (3, 1, 0), (2, 3, 1)] {
            let result = run_one(ClientKind::Direct, "where", home, |c| {
                c.call_on(cpu, &id_get());
                Err("show the hops".into())
            });
            let from_host: Vec<&String> = result
                .recent_hops
                .iter()
                .filter(|h| h.contains("] host -> "))
                .collect();
            assert_eq!(from_host.len(), 1, "{:?}", result.recent_hops);
            assert!(
                from_host[0].starts_with(&format!("[cpu{core}] ")),
                "home {home} cpu {cpu}: {from_host:?}"
            );
        }
    }

    #[test]
    fn runs_are_selected_by_name_or_key() {
        let all = runs_matching::<&str>(&[]);
        assert_eq!(all.len(), scenarios::ALL.len() * usize::from(CPUS));
        let first = scenarios::ALL[0].name;
        let homes = |filters: &[String]| -> Vec<(&str, u16)> {
            runs_matching(filters)
                .into_iter()
                .map(|(s, h)| (s.name, h))
                .collect()
        };
        assert_eq!(
            homes(&[first.to_owned()]),
            [(first, 0), (first, 1), (first, 2), (first, 3)]
        );
        assert_eq!(homes(&[format!("{first}@cpu2")]), [(first, 2)]);
        assert!(homes(&[format!("{first}@cpu4")]).is_empty());
        assert!(homes(&["nothing".to_owned()]).is_empty());
    }
}
