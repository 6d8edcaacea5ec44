//! `cargo xtask run`: the FF-A stack demo. Until the QEMU boot lands it runs the in-process
//! stack (host client → proxy core → SPMD model → SPMC core → test partitions) through every
//! conformance scenario, under both clients, printing one line per scenario and a summary.

use std::process::Command;

use e2e::client::ClientKind;
use e2e::runner::{Report, run_all_with};

use crate::console::{self, Error, Result};

/// The e2e harness prints every hop when this is set.
const TRACE_VAR: &str = "E2E_TRACE";
/// The e2e harness runs only the scenarios this names (comma-separated).
const ONLY_VAR: &str = "E2E_ONLY";

/// Which clients to run the scenarios under.
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
    /// Print every hop of every call (host, proxy, EL3, SPMC, partitions).
    #[arg(long)]
    pub trace: bool,
    /// Run only these scenarios (comma-separated names; see --list).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub only: Vec<String>,
    /// Which clients to run the scenarios under.
    #[arg(long, value_enum, default_value_t = Clients::Both)]
    pub clients: Clients,
    /// List the scenarios and exit.
    #[arg(long)]
    pub list: bool,
}

/// `cargo xtask run`.
pub fn command(args: &RunArgs) -> Result<()> {
    if args.list {
        for scenario in scenarios::ALL {
            println!("{}", scenario.name);
        }
        return Ok(());
    }
    if let Some(unknown) = args
        .only
        .iter()
        .find(|name| scenarios::by_name(name).is_none())
    {
        return Err(Error::new(format!(
            "no scenario `{unknown}` (see `cargo xtask run --list`)"
        )));
    }
    let only = args.only.join(",");
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
