//! The toolchains and cargo plugins xtask relies on, found through rustup and installed when missing.

use std::path::Path;
use std::process::Command;

use crate::console::{self, Error, Result};

/// The bare-metal target the SPMC and the proxy are built for.
pub const BARE_METAL_TARGET: &str = "aarch64-unknown-none-softfloat";

/// The toolchain cargo-fuzz runs on (it needs nightly-only sanitizer flags).
pub const FUZZ_TOOLCHAIN: &str = "nightly";

/// The `channel` pinned by `rust-toolchain.toml` in `root`, if the file names one.
pub fn pinned_channel(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("rust-toolchain.toml")).ok()?;
    parse_channel(&text)
}

fn parse_channel(toml: &str) -> Option<String> {
    toml.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        if key.trim() != "channel" {
            return None;
        }
        let value = value.trim().trim_matches('"');
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// Whether rustup manages the toolchains here (without it, xtask installs nothing).
pub fn has_rustup() -> bool {
    console::succeeds(Command::new("rustup").arg("--version"))
}

/// Makes sure the pinned toolchain of `root` has `target`, adding it with rustup if missing.
pub fn ensure_target(root: &Path, target: &str) -> Result<()> {
    if !has_rustup() {
        console::note("rustup not found: assuming the toolchain already has the target");
        return Ok(());
    }
    let channel = pinned_channel(root);
    let mut list = Command::new("rustup");
    list.current_dir(root)
        .args(["target", "list", "--installed"]);
    if let Some(channel) = &channel {
        list.args(["--toolchain", channel]);
    }
    let installed = console::output_of(&mut list).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == target) {
        return Ok(());
    }
    console::note(&format!("target {target} is missing: adding it"));
    let mut add = Command::new("rustup");
    add.current_dir(root).args(["target", "add", target]);
    if let Some(channel) = &channel {
        add.args(["--toolchain", channel]);
    }
    console::run_checked(&mut add, &format!("adding {target}"))
}

/// Whether a toolchain called `name` (or `name-<host>`) is installed.
pub fn has_toolchain(name: &str) -> bool {
    let Some(list) = console::output_of(Command::new("rustup").args(["toolchain", "list"])) else {
        return false;
    };
    list.lines().any(|line| {
        let id = line.split_whitespace().next().unwrap_or("");
        id == name
            || id
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('-'))
    })
}

/// Whether `cargo fuzz` runs.
pub fn has_cargo_fuzz() -> bool {
    console::succeeds(Command::new("cargo").args(["fuzz", "--version"]))
}

/// Installs what `cargo xtask fuzz` needs: the nightly toolchain and cargo-fuzz.
pub fn ensure_fuzz_tools() -> Result<()> {
    if !has_toolchain(FUZZ_TOOLCHAIN) {
        if !has_rustup() {
            return Err(Error::new(
                "fuzzing needs a nightly toolchain, and rustup is not here to install one",
            ));
        }
        console::run_checked(
            Command::new("rustup").args([
                "toolchain",
                "install",
                FUZZ_TOOLCHAIN,
                "--profile",
                "minimal",
            ]),
            "installing the nightly toolchain",
        )?;
    }
    if !has_cargo_fuzz() {
        console::run_quiet(
            Command::new("cargo").args(["install", "--locked", "cargo-fuzz"]),
            "installing cargo-fuzz",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_is_read_from_the_toolchain_file() {
        let file = "[toolchain]\nchannel = \"1.95.0\"\ncomponents = [\"rustfmt\"]\n";
        assert_eq!(parse_channel(file).as_deref(), Some("1.95.0"));
        assert_eq!(parse_channel("[toolchain]\nprofile = \"minimal\"\n"), None);
        assert_eq!(parse_channel("channel = \"\"\n"), None);
    }
}
