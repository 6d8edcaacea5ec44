//! `cargo xtask test`: every check CI runs, as a list of steps run in order, failing fast.
//!
//! To add a check, write a function and add a [`Step`] to [`STEPS`].

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use e2e::client::ClientKind;

use crate::console::{self, Error, Event, Result};
use crate::{client_stack, fuzz, prereq, run, stack, suite, tfa, toolchain};

/// Libraries built for the bare-metal target in the debug profile (the no_std cores with their
/// arch layers). The images themselves are built in release by the qemu step: their linker
/// scripts check sizes only a release build meets.
const BARE_METAL_CRATES: &[&str] = &["ffa", "spmc", "proxy", "sp-image", "ns-client"];

/// The fuzz crate's manifest, relative to the workspace root.
const FUZZ_MANIFEST: &str = "fuzz/Cargo.toml";

/// What a step found.
pub enum Outcome {
    /// The step ran and passed.
    Passed,
    /// The step ran and passed; what it measured.
    PassedWith(String),
}

/// What steps share.
pub struct Context<'a> {
    /// The workspace root.
    pub root: &'a Path,
    /// Seconds each fuzz target runs in the smoke step.
    pub fuzz_seconds: u64,
    /// Host test counts, summed over every `cargo test` result line.
    pub tests: TestCounts,
    /// QEMUs booted at once in the qemu step.
    pub qemu_jobs: usize,
    /// Seconds one QEMU boot may take.
    pub qemu_timeout: u64,
}

/// One check of `cargo xtask test`.
pub struct Step {
    /// Short name, used by `--skip` and in messages.
    pub name: &'static str,
    /// What the step checks, for its header.
    pub title: &'static str,
    /// The check.
    pub run: fn(&mut Context<'_>) -> Result<Outcome>,
}

/// The steps, in the order they run.
pub const STEPS: &[Step] = &[
    Step {
        name: "host-tools",
        title: "host tools (Debian packages; installed when missing and running as root)",
        run: host_tools,
    },
    Step {
        name: "fmt",
        title: "formatting (cargo fmt --all --check)",
        run: fmt,
    },
    Step {
        name: "clippy",
        title: "lints (cargo clippy --workspace --all-targets -- -D warnings)",
        run: clippy,
    },
    Step {
        name: "test",
        title: "host tests (cargo test --workspace --no-fail-fast)",
        run: host_tests,
    },
    Step {
        name: "bare-metal",
        title: "bare-metal build of the no_std libraries (ffa, spmc, proxy, sp-image, ns-client)",
        run: bare_metal_build,
    },
    Step {
        name: "fuzz-check",
        title: "fuzz targets lint clean and their helpers pass their tests (stable toolchain)",
        run: fuzz_check,
    },
    Step {
        name: "fuzz-smoke",
        title: "fuzz smoke run: every target for a few seconds (nightly + cargo-fuzz, installed when missing)",
        run: fuzz_smoke,
    },
    Step {
        name: "qemu",
        title: "the stack on QEMU: host tools, images, TF-A, one boot per scenario and home core",
        run: qemu_suite,
    },
    Step {
        name: "linux",
        title: "Debian's Linux over the SPMC and OP-TEE, with pKVM and with nVHE KVM: FF-A devices, OP-TEE probe, one xtest case",
        run: linux_smoke,
    },
];

/// The suites `--suite` picks.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// Every step CI runs.
    All,
    /// xtest's whole default run (regression and pkcs11) on Linux with pKVM and with nVHE KVM.
    Xtest,
}

fn linux_smoke(cx: &mut Context<'_>) -> Result<Outcome> {
    Ok(Outcome::PassedWith(client_stack::smoke(cx.root)?))
}

/// Options of `cargo xtask test`.
#[derive(clap::Args, Debug)]
pub struct TestArgs {
    /// Skip a step by name (repeatable); see --list.
    #[arg(long, value_name = "STEP")]
    pub skip: Vec<String>,
    /// Seconds each fuzz target runs in the smoke step.
    #[arg(long, default_value_t = 5)]
    pub fuzz_seconds: u64,
    /// QEMUs booted at once in the qemu step.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub qemu_jobs: usize,
    /// Seconds one QEMU boot may take before it counts as a timeout.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub qemu_timeout: u64,
    /// List the steps and exit.
    #[arg(long)]
    pub list: bool,
    /// Which suite: every CI step, or xtest's whole run on Linux.
    #[arg(long, value_enum, default_value_t = Suite::All)]
    pub suite: Suite,
}

/// `cargo xtask test`.
pub fn command(root: &Path, args: &TestArgs) -> Result<()> {
    if args.list {
        for step in STEPS {
            println!("{:<12} {}", step.name, step.title);
        }
        return Ok(());
    }
    if args.suite == Suite::Xtest {
        prereq::ensure()?;
        let start = Instant::now();
        let said = client_stack::xtest_suite(root)?;
        console::header("summary");
        println!(
            "    xtest {:>7.1}s  passed: {said}",
            start.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    if let Some(unknown) = args
        .skip
        .iter()
        .find(|name| !STEPS.iter().any(|s| s.name == name.as_str()))
    {
        return Err(Error::new(format!(
            "no step `{unknown}` (see `cargo xtask test --list`)"
        )));
    }
    let mut cx = Context {
        root,
        fuzz_seconds: args.fuzz_seconds.max(1),
        tests: TestCounts::default(),
        qemu_jobs: args.qemu_jobs.max(1),
        qemu_timeout: args.qemu_timeout.max(1),
    };
    let mut results: Vec<(&Step, String, Duration)> = Vec::new();
    for (index, step) in STEPS.iter().enumerate() {
        console::header(&format!(
            "[{}/{}] {}: {}",
            index + 1,
            STEPS.len(),
            step.name,
            step.title
        ));
        if args.skip.iter().any(|s| s == step.name) {
            console::note("skipped (--skip)");
            results.push((step, "skipped (--skip)".into(), Duration::ZERO));
            continue;
        }
        let start = Instant::now();
        let outcome = (step.run)(&mut cx)
            .map_err(|e| Error::new(format!("step `{}` failed: {e}", step.name)))?;
        let took = start.elapsed();
        let said = match outcome {
            Outcome::Passed => "passed".to_owned(),
            Outcome::PassedWith(what) => format!("passed: {what}"),
        };
        results.push((step, said, took));
    }

    console::header("summary");
    for (step, said, took) in &results {
        println!("    {:<12} {:>7.1}s  {said}", step.name, took.as_secs_f64());
    }
    let t = &cx.tests;
    println!(
        "tests: {} passed, {} failed, {} skipped",
        t.passed, t.failed, t.ignored
    );
    Ok(())
}

fn cargo(root: &Path) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root);
    cmd
}

fn fmt(cx: &mut Context<'_>) -> Result<Outcome> {
    console::run_checked(
        cargo(cx.root).args(["fmt", "--all", "--check"]),
        "checking formatting",
    )?;
    Ok(Outcome::Passed)
}

fn clippy(cx: &mut Context<'_>) -> Result<Outcome> {
    console::run_checked(
        cargo(cx.root).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
        "linting the workspace",
    )?;
    Ok(Outcome::Passed)
}

fn host_tests(cx: &mut Context<'_>) -> Result<Outcome> {
    let mut cmd = cargo(cx.root);
    // Every test binary runs even after a failure, so one run shows all of them.
    cmd.args(["test", "--workspace", "--no-fail-fast"]);
    run_tests(cx, &mut cmd, "building and running the host tests")?;
    Ok(Outcome::Passed)
}

/// Runs a `cargo test` command, adding its counts to the context; fails on a failure or when it
/// ran no test at all.
fn run_tests(cx: &mut Context<'_>, cmd: &mut Command, what: &str) -> Result<()> {
    console::note(&format!("$ {}", console::describe(cmd)));
    let bar = console::spinner(what);
    let mut counts = TestCounts::default();
    let status = console::run_streamed(cmd, &bar, |bar, event| {
        if let Event::Line(stream, line) = event {
            counts.observe(line);
            console::pass_through(bar, stream, line);
        }
    })?;
    bar.finish_and_clear();
    cx.tests.add(&counts);
    if !status.success() {
        return Err(Error::new(format!(
            "`{}` failed ({status}); {} passed, {} failed",
            console::describe(cmd),
            counts.passed,
            counts.failed
        )));
    }
    if counts.passed == 0 {
        return Err(Error::new(format!(
            "`{}` ran no test",
            console::describe(cmd)
        )));
    }
    console::note(&format!(
        "{} passed, {} failed, {} ignored",
        counts.passed, counts.failed, counts.ignored
    ));
    Ok(())
}

fn bare_metal_build(cx: &mut Context<'_>) -> Result<Outcome> {
    toolchain::ensure_target(cx.root, toolchain::BARE_METAL_TARGET)?;
    let mut cmd = cargo(cx.root);
    cmd.arg("build");
    for krate in BARE_METAL_CRATES {
        cmd.args(["-p", krate]);
    }
    cmd.args(["--lib", "--target", toolchain::BARE_METAL_TARGET]);
    console::run_checked(&mut cmd, "building for the bare-metal target")?;
    Ok(Outcome::Passed)
}

fn fuzz_check(cx: &mut Context<'_>) -> Result<Outcome> {
    // The fuzz crate is its own workspace; checking it on stable keeps it in step with the
    // crates it drives even where no nightly toolchain is installed.
    console::run_checked(
        cargo(cx.root).args([
            "clippy",
            "--manifest-path",
            FUZZ_MANIFEST,
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
        "linting the fuzz targets",
    )?;
    let mut cmd = cargo(cx.root);
    cmd.args(["test", "--manifest-path", FUZZ_MANIFEST, "--lib"]);
    run_tests(cx, &mut cmd, "testing the fuzz input helpers")?;
    Ok(Outcome::Passed)
}

fn fuzz_smoke(cx: &mut Context<'_>) -> Result<Outcome> {
    toolchain::ensure_fuzz_tools()?;
    console::note(&format!(
        "a {} s smoke run per target; it is no substitute for long runs \
         (`cargo xtask fuzz <target> --seconds 600`)",
        cx.fuzz_seconds
    ));
    let mut lines = Vec::new();
    for target in fuzz::targets(cx.root)? {
        let report = fuzz::run_target(cx.root, &target, cx.fuzz_seconds, 1)?;
        let execs = report
            .executions
            .map_or_else(|| "an unknown number of".to_owned(), |n| n.to_string());
        lines.push(format!("{target}: {execs} executions, no failure"));
    }
    for line in &lines {
        console::note(line);
    }
    Ok(Outcome::PassedWith(format!(
        "{} targets, {} s each",
        lines.len(),
        cx.fuzz_seconds
    )))
}

fn host_tools(_: &mut Context<'_>) -> Result<Outcome> {
    let found = prereq::ensure()?;
    Ok(Outcome::PassedWith(format!(
        "qemu {}",
        found.qemu.as_deref().unwrap_or("?")
    )))
}

fn qemu_suite(cx: &mut Context<'_>) -> Result<Outcome> {
    let chosen = run::chosen(&[])?;
    console::header(&format!(
        "{} scenario runs ({} scenarios × {} home cores) on QEMU, one boot each, {} at a time \
         ({}-second timeout)",
        chosen.len(),
        scenarios::ALL.len(),
        scenarios::CPUS,
        cx.qemu_jobs,
        cx.qemu_timeout
    ));
    let mut runs = Vec::new();
    let mut boots = Duration::ZERO;
    let mut timings = Vec::new();
    for (stack, chosen) in run::by_stack(&chosen) {
        let built = stack::prepare(cx.root, tfa::Profile::Debug, stack, false)?;
        timings.extend(built.timings.iter().copied());
        let start = Instant::now();
        let flash = stack::Flash::of(cx.root, &built)?;
        if stack != stack::Stack::Scenarios {
            console::header(&format!("{} runs on {}", chosen.len(), stack.describe()));
        }
        runs.extend(suite::run_parallel(
            cx.root,
            flash.path(),
            &chosen,
            cx.qemu_jobs,
            Duration::from_secs(cx.qemu_timeout),
        )?);
        boots += start.elapsed();
    }

    // The QEMU client sits behind the proxy: compare with the proxied in-process client, run
    // by run (the same scenario from the same home core).
    let rows: Vec<suite::Row> = runs
        .iter()
        .map(|r| {
            // Scenarios of a stack with OP-TEE have no in-process twin.
            let scenario =
                scenarios::by_name(r.name).filter(|s| s.stack == scenarios::Stack::TestPartitions);
            let in_process =
                scenario.map(|s| e2e::runner::run_scenario(ClientKind::Proxied, s, r.home));
            suite::Row {
                name: r.name.to_owned(),
                home: r.home,
                in_process: scenario.is_some().then(|| {
                    in_process.map_or_else(
                        || "-".to_owned(),
                        |p| {
                            if p.passed() {
                                "PASS".into()
                            } else {
                                "FAIL".into()
                            }
                        },
                    )
                }),
                qemu: r.outcome.to_string(),
                took: Some(r.took),
            }
        })
        .collect();
    console::header("scenario runs per home core: in-process (through the proxy)/QEMU");
    print!("{}", suite::table(&rows));
    let regressions: Vec<String> = rows
        .iter()
        .zip(&runs)
        .filter(|(row, run)| row.in_process.as_deref() == Some("PASS") && !run.outcome.passed())
        .map(|(_, run)| run.key())
        .collect();
    let failures = suite::failures(&runs);
    for failure in &failures {
        println!("  {failure}");
    }
    let mut times: Vec<String> = timings
        .iter()
        .map(|(what, took)| format!("{what} {:.1}s", took.as_secs_f64()))
        .collect();
    times.push(format!("{} boots {:.1}s", runs.len(), boots.as_secs_f64()));
    console::note(&format!("times: {}", times.join(", ")));
    if runs.len() != chosen.len() {
        return Err(Error::new(format!(
            "{} of {} scenario runs ran",
            runs.len(),
            chosen.len()
        )));
    }
    if !failures.is_empty() {
        let mut message = format!(
            "{} of {} scenario runs did not pass on QEMU",
            failures.len(),
            runs.len()
        );
        if !regressions.is_empty() {
            const NAMED: usize = 8;
            let mut named = regressions
                .iter()
                .take(NAMED)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if regressions.len() > NAMED {
                named.push_str(&format!(" and {} more", regressions.len() - NAMED));
            }
            message.push_str(&format!(
                "; {} pass in-process but not on QEMU: {named}",
                regressions.len()
            ));
        }
        return Err(Error::new(message));
    }
    if let Some(row) = rows
        .iter()
        .find(|r| r.in_process.as_deref().is_some_and(|p| p != "PASS"))
    {
        return Err(Error::new(format!(
            "`{}` passes on QEMU but not in-process",
            suite::key(&row.name, row.home)
        )));
    }
    Ok(Outcome::PassedWith(format!(
        "{} scenario runs ({} in-process, all passed); {}",
        runs.len(),
        rows.iter().filter(|r| r.in_process.is_some()).count(),
        times.join(", ")
    )))
}

/// Test counts summed over cargo test's `test result:` lines.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TestCounts {
    /// Tests that passed.
    pub passed: u64,
    /// Tests that failed.
    pub failed: u64,
    /// Tests marked `#[ignore]`.
    pub ignored: u64,
}

impl TestCounts {
    /// Adds the counts of one `test result: ok. 3 passed; 0 failed; 1 ignored; ...` line.
    pub fn observe(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(kind), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(count) = count.parse::<u64>() else {
                continue;
            };
            match kind {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                "ignored" => self.ignored += count,
                _ => {}
            }
        }
    }

    fn add(&mut self, other: &Self) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.ignored += other.ignored;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_result_lines_are_summed() {
        let mut counts = TestCounts::default();
        counts.observe("test result: ok. 7 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s");
        counts.observe("running 3 tests");
        counts.observe(
            "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out",
        );
        assert_eq!(
            counts,
            TestCounts {
                passed: 9,
                failed: 1,
                ignored: 1
            }
        );
    }

    #[test]
    fn step_names_are_unique() {
        for (i, a) in STEPS.iter().enumerate() {
            assert!(
                STEPS[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
        }
    }
}
