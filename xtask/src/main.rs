//! `cargo xtask`: the project's developer and CI commands.
//!
//! - `cargo xtask test`: every check CI runs (formatting, lints, host tests, bare-metal build,
//!   fuzz targets, then every scenario from every home core on the stack booted in QEMU).
//! - `cargo xtask build`: host tools, the images, TF-A and the QEMU flash image.
//! - `cargo xtask run`: the stack on QEMU, one boot per scenario and home core, a line per run
//!   (`--verbose`, or one run: both UARTs live; `--in-process`: the in-process stack instead).
//! - `cargo xtask bench`: guest instruction counts of FF-A calls on QEMU.
//! - `cargo xtask fuzz <target> --seconds N`: one fuzz target on the nightly toolchain.

mod apt;
mod bench;
mod client_stack;
mod console;
mod files;
mod fuzz;
mod images;
mod initramfs;
mod linux;
mod optee;
mod prereq;
mod qemu;
mod run;
mod stack;
mod suite;
mod test;
mod tfa;
mod toolchain;
mod uart_log;
mod xtest_log;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Developer and CI commands of the FF-A stack (SPMC and EL2 proxy).
#[derive(Parser, Debug)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand, Debug)]
enum Task {
    /// Run every check CI runs, in order, stopping at the first failure.
    Test(test::TestArgs),
    /// Build the images, TF-A and the QEMU flash image (installing host tools as needed).
    Build(stack::BuildArgs),
    /// Boot the stack on QEMU once per scenario and home core, streaming both UARTs (or
    /// --in-process).
    Run(run::RunArgs),
    /// Measure FF-A calls on QEMU in guest instructions (-icount) and print the table.
    Bench(bench::BenchArgs),
    /// Fuzz one target with cargo-fuzz on the nightly toolchain.
    Fuzz(fuzz::FuzzArgs),
    /// Fetch Debian's normal world (Linux, U-Boot, the initramfs) and boot it without TF-A.
    #[command(hide = true)]
    NormalWorld(linux::NormalWorldArgs),
}

/// The workspace root: xtask lives one level below it.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    let result = match &cli.command {
        Task::Test(args) => test::command(&root, args),
        Task::Build(args) => stack::command(&root, args),
        Task::Run(args) => run::command(&root, args),
        Task::Bench(args) => bench::command(&root, args),
        Task::Fuzz(args) => fuzz::command(&root, args),
        Task::NormalWorld(args) => linux::command(&root, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nerror: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn fuzz_needs_a_target_or_list() {
        assert!(Cli::try_parse_from(["xtask", "fuzz"]).is_err());
        assert!(Cli::try_parse_from(["xtask", "fuzz", "--list"]).is_ok());
        let cli = Cli::try_parse_from(["xtask", "fuzz", "ffa_decode", "--seconds", "30"])
            .expect("valid fuzz command line");
        let Task::Fuzz(args) = cli.command else {
            panic!("not the fuzz command");
        };
        assert_eq!(args.target.as_deref(), Some("ffa_decode"));
        assert_eq!((args.seconds, args.jobs), (30, 1));
    }

    #[test]
    fn run_takes_a_scenario_list_and_clients() {
        let cli = Cli::try_parse_from([
            "xtask",
            "run",
            "--in-process",
            "--only",
            "a,b",
            "--clients",
            "direct",
        ])
        .expect("valid run command line");
        let Task::Run(args) = cli.command else {
            panic!("not the run command");
        };
        assert_eq!(args.scenarios, ["a", "b"]);
        assert_eq!(args.clients, run::Clients::Direct);
        assert!(args.in_process);
        assert!(!args.trace);
        assert!(
            Cli::try_parse_from(["xtask", "run", "--in-process", "--clients", "qemu"]).is_err()
        );
    }

    #[test]
    fn run_on_qemu_options() {
        let cli = Cli::try_parse_from([
            "xtask",
            "run",
            "--scenario",
            "a",
            "--scenario",
            "b,c",
            "--verbose",
            "--timeout",
            "9",
            "--jobs",
            "3",
        ])
        .expect("valid run command line");
        let Task::Run(args) = cli.command else {
            panic!("not the run command");
        };
        assert_eq!(args.scenarios, ["a", "b", "c"]);
        assert!(args.verbose && !args.in_process && !args.gdb);
        assert_eq!((args.timeout, args.jobs), (9, 3));
        let cli = Cli::try_parse_from(["xtask", "run"]).expect("valid run command line");
        let Task::Run(args) = cli.command else {
            panic!("not the run command");
        };
        assert!(!args.verbose);
        assert_eq!((args.timeout, args.jobs), (60, 2));
        // In-process options need --in-process; gdb is QEMU's.
        assert!(Cli::try_parse_from(["xtask", "run", "--trace"]).is_err());
        assert!(Cli::try_parse_from(["xtask", "run", "--clients", "direct"]).is_err());
        assert!(Cli::try_parse_from(["xtask", "run", "--in-process", "--gdb"]).is_err());
        assert!(Cli::try_parse_from(["xtask", "run", "--gdb", "--scenario", "a"]).is_ok());
    }

    #[test]
    fn unknown_scenarios_are_refused() {
        assert!(run::chosen(&["no_such_scenario".to_owned()]).is_err());
        let all = run::chosen(&[]).expect("all");
        assert_eq!(
            all.len(),
            scenarios::ALL.len() * usize::from(scenarios::CPUS)
        );
        let last = scenarios::ALL[scenarios::ALL.len() - 1].name.to_owned();
        let first = scenarios::ALL[0].name.to_owned();
        // Kept in the catalogue's order, whatever the order asked; a name means every home
        // core, a key one.
        let some = run::chosen(&[last.clone(), format!("{first}@cpu2")]).expect("five");
        assert_eq!(
            some.iter().map(|(s, h)| (s.name, *h)).collect::<Vec<_>>(),
            [
                (first.as_str(), 2),
                (last.as_str(), 0),
                (last.as_str(), 1),
                (last.as_str(), 2),
                (last.as_str(), 3)
            ]
        );
        assert!(run::chosen(&[format!("{first}@cpu4")]).is_err());
        assert!(run::chosen(&["no_such_scenario@cpu0".to_owned()]).is_err());
    }

    #[test]
    fn build_test_and_bench_options() {
        assert!(Cli::try_parse_from(["xtask", "build", "--bench"]).is_ok());
        let cli = Cli::try_parse_from(["xtask", "test", "--qemu-jobs", "1", "--skip", "qemu"])
            .expect("valid test command line");
        let Task::Test(args) = cli.command else {
            panic!("not the test command");
        };
        assert_eq!((args.qemu_jobs, args.qemu_timeout), (1, 60));
        let cli = Cli::try_parse_from(["xtask", "bench", "--no-build"]).expect("valid bench");
        let Task::Bench(args) = cli.command else {
            panic!("not the bench command");
        };
        assert!(args.no_build && !args.verbose);
        assert!(
            !args.no_profile && args.symbols.is_none(),
            "the profile runs by default"
        );
        let cli = Cli::try_parse_from(["xtask", "bench", "--symbols", "c"]).expect("valid bench");
        let Task::Bench(args) = cli.command else {
            panic!("not the bench command");
        };
        assert_eq!(args.symbols.as_deref(), Some("c"));
        assert!(
            Cli::try_parse_from(["xtask", "bench", "--no-profile", "--symbols", "c"]).is_err(),
            "a flat profile needs the profile boots"
        );
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("xtask").is_dir());
    }
}
