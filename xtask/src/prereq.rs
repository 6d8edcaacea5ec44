//! Host tools the QEMU stack needs (Debian packages): found quickly and silently; installed with
//! apt-get when missing and running as root, else the exact commands are printed. Then QEMU
//! must create the machines the runners boot, so a missing ROM or device fails here, naming its
//! package, rather than in every boot.

use std::path::Path;
use std::process::Command;

use crate::console::{self, Error, Result};
use crate::{apt, bench, qemu, suite};

/// Debian packages the stack's build needs, and why.
pub const PACKAGES: &[(&str, &str)] = &[
    (
        "gcc-aarch64-linux-gnu",
        "TF-A's cross compiler and objcopy for the images",
    ),
    (
        "device-tree-compiler",
        "TF-A compiles the manifests with dtc",
    ),
    ("python3-pyelftools", "TF-A's sptool"),
    ("python3-cryptography", "TF-A's sptool"),
    ("make", "TF-A's build"),
    ("gcc", "TF-A's host tools (fiptool)"),
    ("libc6-dev", "TF-A's host tools (fiptool)"),
    ("libssl-dev", "fiptool links libcrypto"),
    ("dpkg-dev", "apt-get source unpacks with dpkg-source"),
    ("xz-utils", "the TF-A source tarballs are xz"),
    ("g++", "libfuzzer-sys (the fuzz-check step) compiles C++"),
];

/// The package holding qemu-system-aarch64.
pub const QEMU_PACKAGE: &str = "qemu-system-arm";
/// The oldest QEMU major version the stack is run on.
pub const QEMU_MIN_MAJOR: u32 = 8;
/// Base suites whose QEMU is older than [`QEMU_MIN_MAJOR`] and has a new enough backport.
const QEMU_FROM_BACKPORTS: &[&str] = &["bookworm"];

/// What was found on the host.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Installed packages of [`PACKAGES`] with their versions.
    pub installed: Vec<(String, String)>,
    /// qemu-system-aarch64's version, when it runs.
    pub qemu: Option<String>,
}

impl Found {
    /// The packages of [`PACKAGES`] not installed.
    pub fn missing(&self) -> Vec<&'static str> {
        PACKAGES
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| !self.installed.iter().any(|(n, _)| n == name))
            .collect()
    }

    /// Whether qemu-system-aarch64 runs and is new enough.
    pub fn qemu_ok(&self) -> bool {
        self.qemu
            .as_deref()
            .and_then(major_version)
            .is_some_and(|major| major >= QEMU_MIN_MAJOR)
    }
}

/// Looks at the host: one dpkg-query and one `qemu-system-aarch64 --version`.
pub fn probe() -> Found {
    let mut query = Command::new("dpkg-query");
    query
        .arg("-W")
        .arg("-f=${Package}\t${db:Status-Abbrev}\t${Version}\n")
        .args(PACKAGES.iter().map(|(name, _)| *name));
    // dpkg-query exits 1 when a package is unknown yet lists the others.
    let listing = query
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    let qemu = console::output_of(Command::new("qemu-system-aarch64").arg("--version"))
        .and_then(|text| qemu_version(&text));
    Found {
        installed: installed_packages(&listing),
        qemu,
    }
}

/// `(package, version)` of every installed line of dpkg-query's
/// `${Package}\t${db:Status-Abbrev}\t${Version}` output.
fn installed_packages(listing: &str) -> Vec<(String, String)> {
    listing
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let (name, status, version) = (fields.next()?, fields.next()?, fields.next()?);
            // `ii ` = wanted install, installed, no error.
            (status.trim() == "ii").then(|| (name.to_owned(), version.to_owned()))
        })
        .collect()
}

/// `10.0.2` from `QEMU emulator version 10.0.2 (Debian ...)`.
pub fn qemu_version(text: &str) -> Option<String> {
    let rest = text.split("version").nth(1)?;
    let word = rest.split_whitespace().next()?;
    word.chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit())
        .then(|| word.to_owned())
}

/// The major number of a version like `10.0.2`.
pub fn major_version(version: &str) -> Option<u32> {
    version.split('.').next()?.parse().ok()
}

/// The commands that install what is missing, as root.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// A backports entry to write first: (path, deb822 text).
    pub source_entry: Option<(String, String)>,
    /// apt-get command lines, in order.
    pub commands: Vec<Vec<String>>,
}

impl Plan {
    /// The plan as shell lines for a person without root.
    pub fn as_shell(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some((path, text)) = &self.source_entry {
            lines.push(format!("sudo tee {path} >/dev/null <<'EOF'\n{}EOF", text));
        }
        for command in &self.commands {
            lines.push(format!("sudo {}", command.join(" ")));
        }
        lines
    }
}

/// What the host lacks and how to install it, given its base suite `codename`, its APT
/// `sources` and what [`probe`] found.
pub fn plan(found: &Found, codename: &str, sources: &[apt::Source]) -> Result<Plan> {
    let missing = found.missing();
    let qemu_ok = found.qemu_ok();
    if missing.is_empty() && qemu_ok {
        return Ok(Plan::default());
    }
    let mut plan = Plan::default();
    let apt_get = |args: &[&str]| -> Vec<String> {
        std::iter::once("apt-get")
            .chain(args.iter().copied())
            .map(str::to_owned)
            .collect()
    };
    let backports = (!qemu_ok && QEMU_FROM_BACKPORTS.contains(&codename))
        .then(|| format!("{codename}-backports"));
    if let Some(suite) = &backports
        && !apt::has_suite(sources, "deb", suite)
    {
        let mirror = apt::debian_mirror(sources, codename).ok_or_else(|| {
            Error::new(format!(
                "no Debian mirror for `{codename}` in the APT sources: cannot add {suite}"
            ))
        })?;
        plan.source_entry = Some((
            format!("/etc/apt/sources.list.d/{suite}.sources"),
            mirror.entry("deb", suite),
        ));
    }
    plan.commands.push(apt_get(&["update"]));
    let mut base: Vec<&str> = vec!["install", "-y", "--no-install-recommends"];
    base.extend(missing.iter().copied());
    if !qemu_ok && backports.is_none() {
        base.push(QEMU_PACKAGE);
    }
    if base.len() > 3 {
        plan.commands.push(apt_get(&base));
    }
    if let Some(suite) = &backports {
        plan.commands.push(apt_get(&[
            "install",
            "-y",
            "--no-install-recommends",
            "-t",
            suite,
            QEMU_PACKAGE,
        ]));
    }
    Ok(plan)
}

/// Whether this process runs as root (effective uid 0, from /proc).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            // Real, effective, saved, filesystem.
            line.split_whitespace().nth(2).map(|uid| uid == "0")
        })
        .unwrap_or(false)
}

/// The machine's base suite codename.
pub fn host_codename() -> Result<String> {
    let text = std::fs::read_to_string("/etc/os-release")
        .map_err(|e| Error::new(format!("cannot read /etc/os-release: {e}")))?;
    apt::codename(&text).ok_or_else(|| Error::new("/etc/os-release names no codename"))
}

/// Makes sure the host tools are there and QEMU starts the runners' machines: silent when all
/// is well; installs what is missing as root; otherwise prints the commands and fails.
pub fn ensure() -> Result<Found> {
    let found = install_missing()?;
    // The scenario boots' machine and the bench's two.
    qemu::check_starts(suite::SMP, false, true)?;
    qemu::check_starts(bench::SMP, true, false)?;
    qemu::check_starts(bench::SMP, true, true)?;
    Ok(found)
}

fn install_missing() -> Result<Found> {
    let found = probe();
    if found.missing().is_empty() && found.qemu_ok() {
        return Ok(found);
    }
    console::header("host tools");
    for name in found.missing() {
        let why = PACKAGES
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, why)| *why);
        console::note(&format!("missing: {name} ({why})"));
    }
    if !found.qemu_ok() {
        console::note(&format!(
            "missing: qemu-system-aarch64 >= {QEMU_MIN_MAJOR} ({}; package {QEMU_PACKAGE})",
            found.qemu.as_deref().unwrap_or("not found")
        ));
    }
    if !console::succeeds(Command::new("apt-get").arg("--version")) {
        return Err(Error::new(
            "apt-get not found: install the tools above with the system's package manager",
        ));
    }
    let codename = host_codename()?;
    let sources = apt::read_sources(Path::new("/etc/apt"));
    let plan = plan(&found, &codename, &sources)?;
    if !is_root() {
        println!("\nRun these as root, then try again:\n");
        for line in plan.as_shell() {
            println!("{line}");
        }
        println!();
        return Err(Error::new("host tools are missing (commands above)"));
    }
    if let Some((path, text)) = &plan.source_entry {
        console::note(&format!("adding {path}"));
        std::fs::write(path, text).map_err(|e| Error::new(format!("cannot write {path}: {e}")))?;
    }
    for args in &plan.commands {
        let mut cmd = Command::new(&args[0]);
        cmd.args(&args[1..])
            .env("DEBIAN_FRONTEND", "noninteractive");
        console::run_quiet(&mut cmd, &format!("running {}", args.join(" ")))?;
    }
    let found = probe();
    if !found.missing().is_empty() || !found.qemu_ok() {
        return Err(Error::new(format!(
            "still missing after apt-get: {:?}{}",
            found.missing(),
            if found.qemu_ok() {
                ""
            } else {
                " and qemu-system-aarch64 >= 8"
            }
        )));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_installed() -> Vec<(String, String)> {
        PACKAGES
            .iter()
            .map(|(n, _)| ((*n).to_owned(), "1.0".to_owned()))
            .collect()
    }

    #[test]
    fn dpkg_listing_keeps_installed_packages_only() {
        let listing =
            "make\tii \t4.3-4.1\nlibssl-dev\tun \t\ndpkg-dev\trc \t1.21\ngcc\tii \t4:12.2.0-3\n";
        assert_eq!(
            installed_packages(listing),
            [
                ("make".to_owned(), "4.3-4.1".to_owned()),
                ("gcc".to_owned(), "4:12.2.0-3".to_owned())
            ]
        );
    }

    #[test]
    fn qemu_versions() {
        let text = "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)\n\
                    Copyright (c) 2003-2025 Fabrice Bellard";
        assert_eq!(qemu_version(text).as_deref(), Some("10.0.2"));
        assert_eq!(
            qemu_version("QEMU emulator version 7.2.15 (Debian)").as_deref(),
            Some("7.2.15")
        );
        assert_eq!(qemu_version("no version here"), None);
        assert_eq!(major_version("10.0.2"), Some(10));
        let old = Found {
            installed: all_installed(),
            qemu: Some("7.2.15".into()),
        };
        assert!(!old.qemu_ok());
        let new = Found {
            installed: all_installed(),
            qemu: Some("8.0.0".into()),
        };
        assert!(new.qemu_ok());
    }

    fn bookworm_sources() -> Vec<apt::Source> {
        apt::parse_deb822(
            "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n\
             Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
        )
    }

    #[test]
    fn nothing_to_do_when_everything_is_there() {
        let found = Found {
            installed: all_installed(),
            qemu: Some("10.0.2".into()),
        };
        let plan = plan(&found, "bookworm", &bookworm_sources()).expect("plan");
        assert_eq!(plan, Plan::default());
        assert!(plan.as_shell().is_empty());
    }

    #[test]
    fn fresh_bookworm_gets_a_backports_entry_and_qemu_from_it() {
        let found = Found::default();
        let plan = plan(&found, "bookworm", &bookworm_sources()).expect("plan");
        let (path, text) = plan.source_entry.clone().expect("a backports entry");
        assert_eq!(path, "/etc/apt/sources.list.d/bookworm-backports.sources");
        assert_eq!(
            text,
            "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm-backports\n\
             Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        );
        assert_eq!(plan.commands[0], ["apt-get", "update"]);
        let base = plan.commands[1].join(" ");
        assert!(
            base.starts_with("apt-get install -y --no-install-recommends gcc-aarch64-linux-gnu")
        );
        assert!(!base.contains(QEMU_PACKAGE));
        assert_eq!(
            plan.commands[2].join(" "),
            "apt-get install -y --no-install-recommends -t bookworm-backports qemu-system-arm"
        );
        let shell = plan.as_shell();
        assert!(shell[0].starts_with(
            "sudo tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null <<'EOF'\n"
        ));
        assert!(shell[0].ends_with("debian-archive-keyring.gpg\nEOF"));
        assert_eq!(shell[1], "sudo apt-get update");
    }

    #[test]
    fn an_existing_backports_entry_is_reused() {
        let mut sources = bookworm_sources();
        sources.extend(apt::parse_one_line(
            "deb http://mirror.example/debian bookworm-backports main\n",
        ));
        let found = Found {
            installed: all_installed(),
            qemu: Some("7.2.15".into()),
        };
        let plan = plan(&found, "bookworm", &sources).expect("plan");
        assert_eq!(plan.source_entry, None);
        assert_eq!(plan.commands.len(), 2, "{:?}", plan.commands);
        assert!(plan.commands[1].contains(&"bookworm-backports".to_owned()));
    }

    #[test]
    fn newer_suites_take_qemu_from_the_base_suite() {
        let found = Found {
            installed: all_installed(),
            qemu: None,
        };
        let plan = plan(&found, "trixie", &[]).expect("plan");
        assert_eq!(plan.source_entry, None);
        assert_eq!(
            plan.commands,
            [
                vec!["apt-get", "update"],
                vec![
                    "apt-get",
                    "install",
                    "-y",
                    "--no-install-recommends",
                    QEMU_PACKAGE
                ]
            ]
        );
    }

    #[test]
    fn the_readme_says_how_to_remove_every_package() {
        let readme =
            std::fs::read_to_string(crate::workspace_root().join("README.md")).expect("README.md");
        let section = readme
            .split("#### Starting again from a fresh machine")
            .nth(1)
            .and_then(|rest| rest.split("\n#").next())
            .expect("the README's section on starting again");
        for name in PACKAGES.iter().map(|(n, _)| *n).chain([QEMU_PACKAGE]) {
            assert!(
                section.contains(&format!(" {name}")) || section.contains(&format!("`{name}`")),
                "the README does not say what becomes of {name}"
            );
        }
    }

    #[test]
    fn backports_need_a_mirror() {
        assert!(plan(&Found::default(), "bookworm", &[]).is_err());
    }
}
