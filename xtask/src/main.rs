//! `cargo xtask`: the project's developer and CI commands.
//!
//! - `cargo xtask test`: every check CI runs (formatting, lints, host tests, bare-metal build,
//!   fuzz targets).
//! - `cargo xtask run`: the FF-A stack demo (today: the in-process stack, not QEMU).
//! - `cargo xtask fuzz <target> --seconds N`: one fuzz target on the nightly toolchain.

mod console;
mod fuzz;
mod run;
mod test;
mod toolchain;

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
    /// Run the FF-A stack demo (today: every scenario on the in-process stack).
    Run(run::RunArgs),
    /// Fuzz one target with cargo-fuzz on the nightly toolchain.
    Fuzz(fuzz::FuzzArgs),
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
        Task::Run(args) => run::command(args),
        Task::Fuzz(args) => fuzz::command(&root, args),
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
        let cli = Cli::try_parse_from(["xtask", "run", "--only", "a,b", "--clients", "direct"])
            .expect("valid run command line");
        let Task::Run(args) = cli.command else {
            panic!("not the run command");
        };
        assert_eq!(args.only, ["a", "b"]);
        assert_eq!(args.clients, run::Clients::Direct);
        assert!(!args.trace);
        assert!(Cli::try_parse_from(["xtask", "run", "--clients", "qemu"]).is_err());
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("xtask").is_dir());
    }
}
