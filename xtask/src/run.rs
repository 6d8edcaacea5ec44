//! `cargo xtask run`: the in-process FF-A stack demo (host client → proxy core → SPMD model →
//! SPMC core → test partitions), until the QEMU boot replaces it.
//!
//! For now it runs the e2e crate's tests with their output shown; it will call the e2e runner
//! directly once that crate exposes one.

use std::path::Path;
use std::process::Command;

use crate::console::{self, Result};

/// Options of `cargo xtask run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Print every hop of every call (host, proxy, EL3, SPMC, partitions).
    #[arg(long)]
    pub trace: bool,
}

/// `cargo xtask run`.
pub fn command(root: &Path, args: &RunArgs) -> Result<()> {
    console::header("in-process FF-A stack (host → proxy → SPMD model → SPMC → partitions)");
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root)
        .args(["test", "-p", "e2e", "--", "--nocapture"]);
    if args.trace {
        // The e2e harness prints each hop when this is set.
        cmd.env("E2E_TRACE", "1");
    }
    console::run_checked(&mut cmd, "running the in-process scenarios")
}
