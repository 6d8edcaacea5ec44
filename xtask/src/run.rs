//! `cargo xtask run`: the FF-A stack demo. By default it builds the stack and boots it on QEMU
//! once per scenario and home core (`<name>@cpu<k>`: each run assumes a freshly booted stack),
//! a few boots at a time under a progress bar: the SPMC's boot log once, a line per run, the
//! UART tails of failed runs, then a summary table. One run, or `--verbose`, streams both UARTs
//! live instead, one boot after another. `--in-process` runs the same runs on the in-process
//! stack (host client → proxy core → SPMD model → SPMC core → test partitions), under both
//! clients.

use std::io::IsTerminal;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use e2e::client::ClientKind;
use e2e::runner::{Report, run_all_with};

use crate::client_stack::{self, KvmMode};
use crate::console::{self, Error, Result};
use crate::initramfs::Mode;
use crate::suite;
use crate::{qemu, stack, tfa};

/// The e2e harness prints every hop when this is set.
const TRACE_VAR: &str = "E2E_TRACE";
/// The e2e harness makes only the runs this names (comma-separated names or keys).
const ONLY_VAR: &str = "E2E_ONLY";

/// Which clients to run the scenarios under (in-process only).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clients {
    /// Through the EL2 proxy, then straight to EL3.
    Both,
    /// Host → proxy → SPMD model → SPMC.
    Proxied,
    /// Host → SPMD model → SPMC.
    Direct,
}

impl Clients {
    fn kinds(self) -> &'static [ClientKind] {
        match self {
            Self::Both => &ClientKind::ALL,
            Self::Proxied => &[ClientKind::Proxied],
            Self::Direct => &[ClientKind::Direct],
        }
    }
}

/// Options of `cargo xtask run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The scenario matrix instead of Linux: every scenario from every home core, one boot
    /// each (implied by --scenario, --list and --in-process).
    #[arg(long = "scenarios")]
    pub matrix: bool,
    /// Linux: how KVM runs at EL2 (protected: pKVM and its FF-A proxy; nvhe: Linux's FF-A
    /// driver talks to the SPMC directly).
    #[arg(long, value_enum, default_value_t = KvmMode::Protected)]
    pub kvm: KvmMode,
    /// Run only these scenarios (comma-separated; a name runs it from every home core,
    /// `<name>@cpu<k>` from core k only; repeatable; see --list).
    #[arg(
        long = "scenario",
        visible_alias = "only",
        value_delimiter = ',',
        value_name = "NAMES"
    )]
    pub scenarios: Vec<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    pub list: bool,
    /// QEMU: stream every UART line of every boot, one boot after another (the default when
    /// one run is chosen).
    #[arg(long, conflicts_with = "in_process")]
    pub verbose: bool,
    /// QEMU: boots at once when not streaming.
    #[arg(
        long,
        default_value_t = 2,
        value_name = "N",
        conflicts_with = "in_process"
    )]
    pub jobs: usize,
    /// QEMU: start halted and wait for gdb on localhost:1234 (one run, no timeout).
    #[arg(long, conflicts_with = "in_process")]
    pub gdb: bool,
    /// QEMU: seconds one boot may take before it counts as a timeout.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub timeout: u64,
    /// QEMU: boot the images already under build/ (no cargo build).
    #[arg(long, conflicts_with = "in_process")]
    pub no_build: bool,
    /// Run the in-process stack on the host instead of QEMU.
    #[arg(long)]
    pub in_process: bool,
    /// In-process: print every hop of every call (host, proxy, EL3, SPMC, partitions).
    #[arg(long, requires = "in_process")]
    pub trace: bool,
    /// In-process: which clients to run the scenarios under.
    #[arg(long, value_enum, default_value_t = Clients::Both, requires = "in_process")]
    pub clients: Clients,
}

/// `cargo xtask run`.
pub fn command(root: &Path, args: &RunArgs) -> Result<()> {
    if args.list {
        for scenario in scenarios::ALL {
            println!("{}", scenario.name);
        }
        return Ok(());
    }
    if !(args.matrix || args.in_process || !args.scenarios.is_empty()) {
        return linux(root, args);
    }
    let chosen = chosen(&args.scenarios)?;
    if args.in_process {
        in_process(args)
    } else {
        on_qemu(root, args, &chosen)
    }
}

/// The (scenario, home core) runs `names` selects (every run when empty), in `scenarios::ALL`
/// order and home cores 0..CPUS: a name selects all its home cores, `<name>@cpu<k>` one.
pub fn chosen(names: &[String]) -> Result<Vec<(&'static scenarios::Scenario, u16)>> {
    let known = |n: &str| {
        scenarios::by_name(n).is_some()
            || scenarios::RunKey::parse(n)
                .is_some_and(|k| scenarios::by_name(k.name).is_some() && k.home < scenarios::CPUS)
    };
    if let Some(unknown) = names.iter().find(|n| !known(n)) {
        return Err(Error::new(format!(
            "no scenario `{unknown}` (see `cargo xtask run --list`; home cores are cpu0..cpu{})",
            scenarios::CPUS - 1
        )));
    }
    Ok(e2e::runner::runs_matching(names))
}

fn on_qemu(
    root: &Path,
    args: &RunArgs,
    chosen: &[(&'static scenarios::Scenario, u16)],
) -> Result<()> {
    if args.gdb && chosen.len() != 1 {
        return Err(Error::new(
            "--gdb debugs one boot: name one run with --scenario <name>@cpu<k>",
        ));
    }
    let mut runs = Vec::new();
    for (stack, chosen) in by_stack(chosen) {
        let built = stack::prepare(root, tfa::Profile::Debug, stack, args.no_build)?;
        let hint = args.gdb.then(|| qemu::gdb_hint(&built.images.elves));
        let flash = stack::Flash::of(root, &built)?;
        runs.extend(if args.verbose || chosen.len() == 1 {
            let timeout = (!args.gdb).then(|| Duration::from_secs(args.timeout));
            suite::run_in_turn(root, flash.path(), &chosen, timeout, hint.as_deref())?
        } else {
            console::header(&format!(
                "{} scenario runs on QEMU ({}), one boot each, {} at a time (`--verbose` \
                 streams their UARTs; logs under build/qemu/)",
                chosen.len(),
                stack.describe(),
                args.jobs.max(1)
            ));
            suite::run_parallel(
                root,
                flash.path(),
                &chosen,
                args.jobs.max(1),
                Duration::from_secs(args.timeout),
            )?
        });
    }
    console::header("summary");
    let rows: Vec<suite::Row> = runs
        .iter()
        .map(|r| suite::Row {
            name: r.name.to_owned(),
            home: r.home,
            in_process: None,
            qemu: r.outcome.to_string(),
            took: Some(r.took),
        })
        .collect();
    print!("{}", suite::table(&rows));
    let failures = suite::failures(&runs);
    for failure in &failures {
        println!("  {failure}");
    }
    println!(
        "scenario runs on QEMU: {} passed, {} failed",
        runs.len() - failures.len(),
        failures.len()
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "{} of {} scenario runs did not pass on QEMU",
            failures.len(),
            runs.len()
        )))
    }
}

/// The client stack: TF-A, our SPMC with OP-TEE and the test partitions, U-Boot, Linux with
/// pKVM, to a shell on this terminal; without a terminal, the same boot runs one xtest case and
/// powers off, its console shown.
fn linux(root: &Path, args: &RunArgs) -> Result<()> {
    let (built, prepared) = client_stack::prepare(root)?;
    let flash = stack::Flash::of(root, &built)?;
    if std::io::stdin().is_terminal() {
        return client_stack::boot_interactive(root, flash.path(), &prepared, args.kvm);
    }
    console::header("no terminal on stdin: booting Linux, one xtest case, power off");
    let mut ended = false;
    let captured = client_stack::boot_captured(
        root,
        flash.path(),
        &prepared,
        (Mode::Smoke, args.kvm),
        Duration::from_secs(args.timeout.max(300)),
        // Everything up to the init's power-off (TF-A's power-off report after it is noise).
        &mut |line| {
            let show = !ended;
            ended |= line.contains("xtask-init: poweroff");
            show
        },
    )?;
    let found = client_stack::check(&captured)?;
    console::note(&client_stack::describe(&found, &captured));
    Ok(())
}

/// `chosen` split by the stack each run boots, in `stack::Stack` order, empty groups left out.
pub fn by_stack(
    chosen: &[(&'static scenarios::Scenario, u16)],
) -> Vec<(stack::Stack, Vec<(&'static scenarios::Scenario, u16)>)> {
    [stack::Stack::Scenarios, stack::Stack::Optee]
        .into_iter()
        .map(|stack| {
            let runs = chosen
                .iter()
                .filter(|(s, _)| stack::Stack::of(s) == stack)
                .copied()
                .collect::<Vec<_>>();
            (stack, runs)
        })
        .filter(|(_, runs)| !runs.is_empty())
        .collect()
}

/// The in-process stack (the demo before the images existed).
fn in_process(args: &RunArgs) -> Result<()> {
    let only = args.scenarios.join(",");
    let trace_wanted = args.trace && std::env::var(TRACE_VAR).as_deref() != Ok("1");
    let only_wanted = std::env::var(ONLY_VAR).unwrap_or_default() != only;
    if trace_wanted || only_wanted {
        // The harness reads its settings from the environment: run again with them set.
        return rerun_with_env(args.trace, &only);
    }
    let mut passed = 0;
    let mut failed = 0;
    for &kind in args.clients.kinds() {
        console::header(&format!("in-process stack, {}", describe(kind)));
        let report = run_all_with(kind, |result| {
            println!("{}", result.line());
            if !result.passed() {
                for hop in &result.recent_hops {
                    println!("    | {hop}");
                }
            }
        });
        println!("{}", report.summary());
        let (p, f) = counts(&report);
        passed += p;
        failed += f;
    }
    println!("scenarios: {passed} passed, {failed} failed");
    if failed > 0 {
        return Err(Error::new(format!("{failed} scenario runs failed")));
    }
    if passed == 0 {
        return Err(Error::new("no scenario ran"));
    }
    Ok(())
}

fn describe(kind: ClientKind) -> &'static str {
    match kind {
        ClientKind::Proxied => "host → EL2 proxy → SPMD model → SPMC → partitions",
        ClientKind::Direct => "host → SPMD model → SPMC → partitions (no proxy)",
    }
}

fn counts(report: &Report) -> (usize, usize) {
    let failed = report.failures().len();
    (report.results.len() - failed, failed)
}

/// Runs this same command again with the harness's environment set (setting it in a running
/// process is not thread-safe, so it is done for a child instead).
fn rerun_with_env(trace: bool, only: &str) -> Result<()> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::new(format!("cannot find the xtask binary: {e}")))?;
    let mut cmd = Command::new(exe);
    cmd.args(std::env::args_os().skip(1));
    if trace {
        cmd.env(TRACE_VAR, "1");
    }
    if only.is_empty() {
        cmd.env_remove(ONLY_VAR);
    } else {
        cmd.env(ONLY_VAR, only);
    }
    let status = cmd
        .status()
        .map_err(|e| Error::new(format!("cannot rerun xtask: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        // The child has said why.
        Err(Error::new(format!("the scenario run failed ({status})")))
    }
}
