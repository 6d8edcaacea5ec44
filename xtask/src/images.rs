//! The bare-metal images: cargo builds for the softfloat target, then raw binaries under
//! `build/` with aarch64-linux-gnu-objcopy.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::console::{self, Error, Event, Result};
use crate::toolchain::BARE_METAL_TARGET;

/// The SP images, in `sp_layout.json` order.
pub const SP_IMAGES: &[&str] = &["echo", "relay", "legacy", "hostile"];

/// SPMC image window (manifest binary_size).
const SPMC_WINDOW: u64 = 0x20_0000;
/// Above this the SPMC no longer fits below OP-TEE's package in a peer layout (performance.md).
const SPMC_AIM: u64 = 256 * 1024;
/// A partition's image starts at +0x4000 of its package and its RX buffer at +0x80000.
const SP_IMAGE_LIMIT: u64 = 0x8_0000 - 0x4000;
/// The client's window at 0x4400_0000.
const CLIENT_LIMIT: u64 = 0x10_0000;
/// BL33's window at 0x6000_0000.
const BL33_LIMIT: u64 = 0x100_0000;

/// The built images.
#[derive(Clone, Debug)]
pub struct Images {
    /// BL32.
    pub spmc: PathBuf,
    /// BL33 (the proxy, client inside).
    pub bl33: PathBuf,
    /// The NS client (also inside BL33).
    pub ns_client: PathBuf,
    /// The SP images, in [`SP_IMAGES`] order.
    pub sp: Vec<PathBuf>,
    /// ELF files by binary name, for gdb.
    pub elves: Vec<(String, PathBuf)>,
}

/// Builds every image.
pub fn build(root: &Path) -> Result<Images> {
    let out = root.join("build");
    let sp_dir = out.join("sp");
    std::fs::create_dir_all(&sp_dir)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", sp_dir.display())))?;

    let mut first = cargo_build(root);
    first.args(["-p", "spmc", "-p", "sp-image", "-p", "ns-client"]);
    for bin in ["spmc", "ns-client"].iter().chain(SP_IMAGES) {
        first.args(["--bin", bin]);
    }
    let mut elves = run_cargo(&mut first, "building the SPMC, partitions and NS client")?;

    let spmc = out.join("spmc.bin");
    let ns_client = out.join("ns-client.bin");
    objcopy(&elf(&elves, "spmc")?, &spmc)?;
    objcopy(&elf(&elves, "ns-client")?, &ns_client)?;
    let mut sp = Vec::new();
    for name in SP_IMAGES {
        let bin = sp_dir.join(format!("{name}.bin"));
        objcopy(&elf(&elves, name)?, &bin)?;
        sp.push(bin);
    }

    // The proxy's build script embeds the client named here.
    let mut second = cargo_build(root);
    second
        .args(["-p", "proxy", "--bin", "proxy"])
        .env("NS_CLIENT_BIN", &ns_client);
    elves.extend(run_cargo(&mut second, "building the proxy (BL33)")?);
    let bl33 = out.join("bl33.bin");
    objcopy(&elf(&elves, "proxy")?, &bl33)?;

    Ok(Images {
        spmc,
        bl33,
        ns_client,
        sp,
        elves,
    })
}

fn cargo_build(root: &Path) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root).args([
        "build",
        "--release",
        "--target",
        BARE_METAL_TARGET,
        "--message-format=json-render-diagnostics",
    ]);
    cmd
}

/// Runs a cargo build whose stdout is JSON messages; returns the executables it produced.
fn run_cargo(cmd: &mut Command, what: &str) -> Result<Vec<(String, PathBuf)>> {
    console::note(&format!("$ {}", console::describe(cmd)));
    let bar = console::spinner(what);
    let mut found = Vec::new();
    let mut diagnostics = Vec::new();
    let status = console::run_streamed(cmd, &bar, |bar, event| match event {
        Event::Line(console::Stream::Stdout, line) => {
            if let Some(path) = executable(line) {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                found.push((name, path));
            }
        }
        Event::Line(console::Stream::Stderr, line) => {
            let shown = line.trim();
            if !shown.is_empty() {
                bar.set_message(format!("{what}: {}", console::shorten(shown, 60)));
            }
            diagnostics.push(line.to_owned());
        }
        Event::Tick => {}
    })?;
    bar.finish_and_clear();
    if !status.success() {
        for line in &diagnostics {
            eprintln!("{line}");
        }
        return Err(Error::new(format!(
            "`{}` failed ({status})",
            console::describe(cmd)
        )));
    }
    // Warnings still show, without cargo's progress lines.
    if diagnostics.iter().any(|l| l.starts_with("warning")) {
        for line in diagnostics.iter().filter(|l| !is_progress(l)) {
            eprintln!("{line}");
        }
    }
    Ok(found)
}

/// Whether a cargo stderr line only reports progress (`Compiling x`, `Finished ...`).
fn is_progress(line: &str) -> bool {
    let word = line.split_whitespace().next().unwrap_or("");
    matches!(
        word,
        "Compiling"
            | "Finished"
            | "Blocking"
            | "Fresh"
            | "Checking"
            | "Updating"
            | "Locking"
            | "Downloaded"
            | "Downloading"
    )
}

/// The `"executable"` path of a cargo JSON message, if it names one.
pub fn executable(json: &str) -> Option<PathBuf> {
    let start = json.find("\"executable\":\"")? + "\"executable\":\"".len();
    let mut path = String::new();
    let mut chars = json[start..].chars();
    loop {
        match chars.next()? {
            '"' => break,
            '\\' => match chars.next()? {
                'n' => path.push('\n'),
                't' => path.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    path.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => path.push(other),
            },
            c => path.push(c),
        }
    }
    Some(PathBuf::from(path))
}

fn elf(elves: &[(String, PathBuf)], name: &str) -> Result<PathBuf> {
    elves
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, p)| p.clone())
        .ok_or_else(|| Error::new(format!("cargo produced no `{name}` executable")))
}

fn objcopy(elf: &Path, bin: &Path) -> Result<()> {
    let status = Command::new("aarch64-linux-gnu-objcopy")
        .args(["-O", "binary"])
        .arg(elf)
        .arg(bin)
        .status()
        .map_err(|e| Error::new(format!("cannot run aarch64-linux-gnu-objcopy: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "objcopy of {} failed ({status})",
            elf.display()
        )))
    }
}

/// How an image's size compares with its window.
#[derive(Debug, PartialEq, Eq)]
pub enum Fit {
    /// Fine.
    Ok,
    /// Fits, but above what we aim for.
    Warn(String),
    /// Does not fit.
    TooBig(String),
    /// Empty: a placeholder that cannot boot.
    Empty,
}

/// Checks one image's size.
pub fn fit(name: &str, bytes: u64) -> Fit {
    let (limit, aim) = match name {
        "spmc" => (SPMC_WINDOW, Some(SPMC_AIM)),
        "bl33" => (BL33_LIMIT, None),
        "ns-client" => (CLIENT_LIMIT, None),
        _ => (SP_IMAGE_LIMIT, None),
    };
    if bytes == 0 {
        Fit::Empty
    } else if bytes > limit {
        Fit::TooBig(format!(
            "{} exceeds its {} window",
            console::size(bytes),
            console::size(limit)
        ))
    } else if let Some(aim) = aim.filter(|aim| bytes > *aim) {
        Fit::Warn(format!("above the {} aim", console::size(aim)))
    } else {
        Fit::Ok
    }
}

/// Prints each image's size and fails when one does not fit its window.
pub fn report_sizes(images: &Images) -> Result<()> {
    let mut rows: Vec<(String, &PathBuf)> = vec![
        ("spmc".into(), &images.spmc),
        ("bl33".into(), &images.bl33),
        ("ns-client".into(), &images.ns_client),
    ];
    for (name, path) in SP_IMAGES.iter().zip(&images.sp) {
        rows.push(((*name).to_owned(), path));
    }
    let mut too_big = Vec::new();
    for (name, path) in rows {
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let verdict = match fit(&name, bytes) {
            Fit::Ok => String::new(),
            Fit::Warn(why) => format!("  warning: {why}"),
            Fit::Empty => "  warning: empty (a placeholder image cannot boot)".into(),
            Fit::TooBig(why) => {
                too_big.push(format!("{name}: {why}"));
                format!("  ERROR: {why}")
            }
        };
        console::note(&format!(
            "{:<10} {:>10}  {}{verdict}",
            name,
            console::size(bytes),
            path.display()
        ));
    }
    if too_big.is_empty() {
        Ok(())
    } else {
        Err(Error::new(too_big.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_are_read_from_cargo_json() {
        let line = r#"{"reason":"compiler-artifact","target":{"name":"spmc"},"executable":"/w/target/x/release/spmc","fresh":true}"#;
        assert_eq!(
            executable(line),
            Some(PathBuf::from("/w/target/x/release/spmc"))
        );
        let escaped = r#"{"executable":"/a \"b\"\\c\u0041"}"#;
        assert_eq!(executable(escaped), Some(PathBuf::from("/a \"b\"\\cA")));
        assert_eq!(executable(r#"{"executable":null}"#), None);
        assert_eq!(
            executable(r#"{"reason":"build-finished","success":true}"#),
            None
        );
    }

    #[test]
    fn sizes_against_windows() {
        assert_eq!(fit("spmc", 100 * 1024), Fit::Ok);
        assert!(matches!(fit("spmc", 300 * 1024), Fit::Warn(_)));
        assert!(matches!(fit("spmc", 0x20_0001), Fit::TooBig(_)));
        assert!(matches!(fit("spmc", 0x20_0000), Fit::Warn(_)));
        assert!(matches!(fit("echo", 0x7_c001), Fit::TooBig(_)));
        assert_eq!(fit("echo", 0x7_c000), Fit::Ok);
        assert_eq!(fit("legacy", 0), Fit::Empty);
        assert!(matches!(fit("ns-client", 0x10_0001), Fit::TooBig(_)));
        assert_eq!(fit("bl33", 0x10_0001), Fit::Ok);
    }
}
