//! TF-A: Debian's `arm-trusted-firmware` source package of trixie, fetched with `apt-get source`
//! through a private APT configuration in `build/apt/`, built with the SPMD at EL3 and our
//! SPMC as BL32, and cached by its inputs. The output is the QEMU flash image `qemu_fw.bios`
//! (BL1, then the FIP at 0x40000).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::console::{self, Error, Result};
use crate::files::{mkdir, read_bytes, read_text, write};
use crate::{apt, prereq};

/// The Debian source package.
pub const SOURCE_PACKAGE: &str = "arm-trusted-firmware";
/// The suite it is taken from.
pub const SOURCE_SUITE: &str = "trixie";
/// The upstream series the stack is written against (boot-chain facts are TF-A v2.12.1's).
pub const UPSTREAM_SERIES: &str = "2.12.";

/// Which TF-A build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// `run` and `test`: a debug build that logs at VERBOSE.
    Debug,
    /// `bench`: the flag set the peers were measured with (docs: performance.md), DEBUG=0.
    Bench,
}

impl Profile {
    /// The directory under `build/tf-a/` it builds in.
    pub fn name(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Bench => "bench",
        }
    }

    /// The profile's own flags (the inputs and `CROSS_COMPILE` come on top).
    pub fn flags(self) -> &'static [&'static str] {
        match self {
            Self::Debug => &[
                "PLAT=qemu",
                "DEBUG=1",
                "LOG_LEVEL=40",
                "SPD=spmd",
                "SPMD_SPM_AT_SEL2=1",
                "ENABLE_FEAT_SEL2=1",
                "QEMU_USE_GIC_DRIVER=QEMU_GICV3",
                "BL32_RAM_LOCATION=tdram",
                // SVE for the normal world where the CPU has it, and for S-EL2, which saves
                // the normal world's SVE state (without it EL3 traps FP/SIMD in the secure
                // world on a CPU with SVE).
                "ENABLE_SVE_FOR_NS=2",
                "ENABLE_SVE_FOR_SWD=1",
            ],
            Self::Bench => &[
                "PLAT=qemu",
                "DEBUG=0",
                "LOG_LEVEL=30",
                "SPD=spmd",
                "ENABLE_FEAT_SEL2=1",
                "NEED_FDT=yes",
                "QEMU_USE_GIC_DRIVER=QEMU_GICV3",
                "BL32_RAM_LOCATION=tdram",
                "ENABLE_SME_FOR_NS=2",
                "ENABLE_SME_FOR_SWD=1",
                "ENABLE_SVE_FOR_NS=2",
                "ENABLE_SVE_FOR_SWD=1",
                "ENABLE_FEAT_FGT=2",
                "ENABLE_FEAT_HCX=2",
                "ENABLE_FEAT_ECV=2",
                "BRANCH_PROTECTION=1",
                "ARM_ARCH_MAJOR=8",
                "ARM_ARCH_MINOR=3",
                "ENABLE_FEAT_MTE2=2",
            ],
        }
    }

    /// The subdirectory of `BUILD_BASE/qemu/` TF-A writes to (it follows DEBUG).
    fn output_dir(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Bench => "release",
        }
    }
}

/// The unpacked TF-A source.
#[derive(Clone, Debug)]
pub struct Source {
    /// Its directory.
    pub dir: PathBuf,
    /// The Debian version (`2.12.1+dfsg-1`).
    pub version: String,
}

/// `build/tf-a`.
fn tfa_dir(root: &Path) -> PathBuf {
    root.join("build").join("tf-a")
}

/// The marker written once the source is unpacked: `<debian version>\t<directory name>`.
const SOURCE_MARKER: &str = ".xtask-source";

/// The TF-A source, fetched and unpacked on first use.
pub fn source(root: &Path) -> Result<Source> {
    debian_source(
        root,
        &Wanted {
            title: "TF-A",
            package: SOURCE_PACKAGE,
            suite: SOURCE_SUITE,
            src: tfa_dir(root).join("src"),
            check: check_series,
        },
    )
}

/// A Debian source package to fetch with `apt-get source` through the private configuration.
pub struct Wanted<'a> {
    /// What it is, for messages (`TF-A`).
    pub title: &'a str,
    /// The source package.
    pub package: &'a str,
    /// The suite.
    pub suite: &'a str,
    /// Where it is unpacked.
    pub src: PathBuf,
    /// Refuses a Debian version the stack is not written for.
    pub check: fn(&str) -> Result<()>,
}

/// `wanted`, fetched and unpacked on first use (reused while its marker says it is there).
pub fn debian_source(root: &Path, wanted: &Wanted<'_>) -> Result<Source> {
    let src = &wanted.src;
    if let Some(found) = unpacked(src, wanted.check) {
        return Ok(found);
    }
    let (title, package, suite) = (wanted.title, wanted.package, wanted.suite);
    console::header(&format!("{title} source: apt-get source {package}/{suite}"));
    let apt_conf = private_apt(root)?;
    let apt = |args: &[&str]| {
        let mut cmd = Command::new("apt-get");
        cmd.args(args).env("APT_CONFIG", &apt_conf);
        cmd
    };
    console::run_quiet(
        &mut apt(&["-q", "update"]),
        &format!("reading the {suite} source index"),
    )?;
    if src.exists() {
        std::fs::remove_dir_all(src)
            .map_err(|e| Error::new(format!("cannot clear {}: {e}", src.display())))?;
    }
    mkdir(src)?;
    let mut get = apt(&["-q", "source", &format!("{package}/{suite}")]);
    get.current_dir(src);
    console::run_quiet(&mut get, "downloading and unpacking").map_err(|e| {
        Error::new(format!(
            "{e}\nno `{package}` source in {suite} on this machine's mirror?"
        ))
    })?;
    let dsc = std::fs::read_dir(src)
        .map_err(|e| Error::new(format!("cannot list {}: {e}", src.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "dsc"))
        .ok_or_else(|| Error::new("apt-get source left no .dsc file"))?;
    let text = read_text(&dsc)?;
    let version = dsc_version(&text).ok_or_else(|| Error::new("the .dsc names no Version"))?;
    (wanted.check)(&version)?;
    let dir_name = format!("{package}-{}", upstream_version(&version));
    if !src.join(&dir_name).join("Makefile").is_file() {
        return Err(Error::new(format!(
            "apt-get source did not unpack {dir_name} (is dpkg-dev installed?)"
        )));
    }
    write(
        &src.join(SOURCE_MARKER),
        &format!("{version}\t{dir_name}\n"),
    )?;
    console::note(&format!("{title} {version} from {suite}"));
    Ok(Source {
        dir: src.join(dir_name),
        version,
    })
}

/// The source already unpacked under `src`, if its marker says so and `check` takes it.
fn unpacked(src: &Path, check: fn(&str) -> Result<()>) -> Option<Source> {
    let marker = std::fs::read_to_string(src.join(SOURCE_MARKER)).ok()?;
    let (version, dir) = marker.trim().split_once('\t')?;
    let dir = src.join(dir);
    (check(version).is_ok() && dir.join("Makefile").is_file()).then(|| Source {
        dir,
        version: version.to_owned(),
    })
}

/// The suites whose sources the private APT configuration lists: TF-A's, and sid for OP-TEE
/// OS (the newest `optee-os`).
const SOURCE_SUITES: &[&str] = &[SOURCE_SUITE, "sid"];

/// Writes `build/apt/` (configuration, deb-src entries of [`SOURCE_SUITES`] from the machine's
/// mirror, empty state) and returns the configuration file's path.
pub fn private_apt(root: &Path) -> Result<PathBuf> {
    let dir = root.join("build").join("apt");
    for sub in apt::PRIVATE_DIRS {
        mkdir(&dir.join(sub))?;
    }
    let codename = prereq::host_codename()?;
    let sources = apt::read_sources(Path::new("/etc/apt"));
    let mirror = apt::debian_mirror(&sources, &codename).ok_or_else(|| {
        Error::new(format!(
            "no Debian mirror for `{codename}` in /etc/apt/sources.list(.d): \
             TF-A's source cannot be fetched"
        ))
    })?;
    write(&dir.join("sources.list"), "")?;
    for suite in SOURCE_SUITES {
        write(
            &dir.join("sources.list.d")
                .join(format!("{suite}-src.sources")),
            &mirror.entry("deb-src", suite),
        )?;
    }
    write(&dir.join("status"), "")?;
    let conf = dir.join("apt.conf");
    write(&conf, &apt::private_config(&dir, prereq::is_root()))?;
    Ok(conf)
}

/// `Version:` of a .dsc file.
fn dsc_version(dsc: &str) -> Option<String> {
    dsc.lines()
        .find_map(|line| line.strip_prefix("Version:"))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The upstream part of a Debian version: `2.12.1+dfsg` of `2.12.1+dfsg-1` (epoch and Debian
/// revision dropped).
pub fn upstream_version(debian: &str) -> &str {
    let no_epoch = debian.split_once(':').map_or(debian, |(_, rest)| rest);
    no_epoch.rsplit_once('-').map_or(no_epoch, |(up, _)| up)
}

fn check_series(debian_version: &str) -> Result<()> {
    if upstream_version(debian_version).starts_with(UPSTREAM_SERIES) {
        Ok(())
    } else {
        Err(Error::new(format!(
            "TF-A {debian_version} from {SOURCE_SUITE}: the stack is written for {UPSTREAM_SERIES}x"
        )))
    }
}

/// What TF-A is built from, besides the source and the flags.
pub struct Inputs {
    /// BL32: the SPMC image.
    pub bl32: PathBuf,
    /// BL33: the proxy image (with the client inside).
    pub bl33: PathBuf,
    /// The SP images `sp_layout.json` names.
    pub sp_images: Vec<PathBuf>,
    /// `sp-manifests/`.
    pub manifests: PathBuf,
    /// Which of its sets: the layout, SPMC manifest and TB_FW_CONFIG file names.
    pub set: ManifestSet,
    /// The build's directory under `build/tf-a/` (the profile's name for the scenario stack).
    pub name: String,
    /// Flags on top of the profile's.
    pub extra_flags: &'static [&'static str],
}

/// The files of one stack's partitions in `sp-manifests/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManifestSet {
    /// The SP layout (`SP_LAYOUT_FILE`).
    pub layout: &'static str,
    /// The SPMC manifest (`QEMU_TOS_FW_CONFIG_DTS`).
    pub spmc_manifest: &'static str,
    /// BL2's list of packages (`QEMU_TB_FW_CONFIG_DTS`).
    pub tb_fw_config: &'static str,
}

impl ManifestSet {
    /// The test partitions the scenarios run against.
    pub const SCENARIOS: Self = Self {
        layout: "sp_layout.json",
        spmc_manifest: "spmc_manifest.dts",
        tb_fw_config: "tb_fw_config.dts",
    };
    /// The same partitions and OP-TEE OS.
    pub const CLIENTS: Self = Self {
        layout: "clients_sp_layout.json",
        spmc_manifest: "clients_spmc_manifest.dts",
        tb_fw_config: "clients_tb_fw_config.dts",
    };
}

/// The full `make` argument list.
fn make_args(profile: Profile, inputs: &Inputs, build_base: &Path, jobs: usize) -> Vec<String> {
    let m = &inputs.manifests;
    let mut args = vec![
        format!("-j{jobs}"),
        "CROSS_COMPILE=aarch64-linux-gnu-".into(),
    ];
    args.extend(profile.flags().iter().map(|f| (*f).to_owned()));
    args.extend(inputs.extra_flags.iter().map(|f| (*f).to_owned()));
    args.push(format!("BUILD_BASE={}", build_base.display()));
    args.push(format!("BL32={}", inputs.bl32.display()));
    args.push(format!("BL33={}", inputs.bl33.display()));
    args.push(format!(
        "SP_LAYOUT_FILE={}",
        m.join(inputs.set.layout).display()
    ));
    args.push(format!(
        "QEMU_TOS_FW_CONFIG_DTS={}",
        m.join(inputs.set.spmc_manifest).display()
    ));
    args.push(format!(
        "QEMU_TB_FW_CONFIG_DTS={}",
        m.join(inputs.set.tb_fw_config).display()
    ));
    args.extend(["all".into(), "fip".into()]);
    args
}

/// FNV-1a, 64 bits: a stable content hash for the cache key (not a security boundary).
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    /// Hashes `bytes` with its length first, so field boundaries count.
    fn field(&mut self, bytes: &[u8]) {
        for b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The cache key of one TF-A build: what forces a clean build (source version, flags,
/// manifests) and what only needs TF-A's incremental make (the images).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    /// Source version, make arguments and every file of sp-manifests/.
    pub config: u64,
    /// BL32, BL33 and SP image contents.
    pub images: u64,
}

impl Key {
    /// The key of these inputs (files as `(name, contents)`).
    pub fn of(
        version: &str,
        args: &[String],
        manifests: &[(String, Vec<u8>)],
        images: &[(String, Vec<u8>)],
    ) -> Self {
        let mut config = Fnv::new();
        config.field(version.as_bytes());
        for arg in args {
            config.field(arg.as_bytes());
        }
        for (name, bytes) in manifests {
            config.field(name.as_bytes());
            config.field(bytes);
        }
        let mut image = Fnv::new();
        for (name, bytes) in images {
            image.field(name.as_bytes());
            image.field(bytes);
        }
        Self {
            config: config.0,
            images: image.0,
        }
    }

    fn render(&self) -> String {
        format!("config {:016x}\nimages {:016x}\n", self.config, self.images)
    }

    fn parse(text: &str) -> Option<Self> {
        let mut config = None;
        let mut images = None;
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("config", v)) => config = u64::from_str_radix(v.trim(), 16).ok(),
                Some(("images", v)) => images = u64::from_str_radix(v.trim(), 16).ok(),
                _ => {}
            }
        }
        Some(Self {
            config: config?,
            images: images?,
        })
    }
}

/// What a build has to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Nothing changed and the flash image is there.
    UpToDate,
    /// Only images changed: TF-A's make repacks what depends on them.
    Incremental,
    /// First build, or the source, flags or manifests changed: build from clean.
    Clean,
}

/// What to do given the key of the last successful build (if any) and today's.
pub fn work(last: Option<Key>, now: Key, output_exists: bool) -> Work {
    match last {
        Some(last) if last.config == now.config && output_exists => {
            if last.images == now.images {
                Work::UpToDate
            } else {
                Work::Incremental
            }
        }
        _ => Work::Clean,
    }
}

/// A finished TF-A build.
pub struct Built {
    /// The flash image for `-bios`.
    pub bios: PathBuf,
}

const KEY_FILE: &str = "xtask-inputs";

/// Builds (or reuses) TF-A for `profile` around `inputs`.
pub fn build(root: &Path, source: &Source, profile: Profile, inputs: &Inputs) -> Result<Built> {
    let build_base = tfa_dir(root).join(&inputs.name);
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let args = make_args(profile, inputs, &build_base, jobs);
    // -jN does not change the output: keep it out of the key.
    let keyed: Vec<String> = args.iter().skip(1).cloned().collect();
    let mut manifests = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&inputs.manifests)
        .map_err(|e| Error::new(format!("cannot list {}: {e}", inputs.manifests.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    for path in names {
        manifests.push((file_name(&path), read_bytes(&path)?));
    }
    let mut images = Vec::new();
    for path in [&inputs.bl32, &inputs.bl33]
        .into_iter()
        .chain(&inputs.sp_images)
    {
        images.push((path.display().to_string(), read_bytes(path)?));
    }
    let now = Key::of(&source.version, &keyed, &manifests, &images);
    let bios = build_base
        .join("qemu")
        .join(profile.output_dir())
        .join("qemu_fw.bios");
    let key_path = build_base.join(KEY_FILE);
    let last = std::fs::read_to_string(&key_path)
        .ok()
        .and_then(|t| Key::parse(&t));
    let work = work(last, now, bios.is_file());
    match work {
        Work::UpToDate => {
            console::note(&format!(
                "TF-A {} ({}) up to date: {}",
                source.version,
                inputs.name,
                bios.display()
            ));
            return Ok(Built { bios });
        }
        Work::Clean if build_base.exists() => {
            std::fs::remove_dir_all(&build_base)
                .map_err(|e| Error::new(format!("cannot clear {}: {e}", build_base.display())))?;
        }
        Work::Clean | Work::Incremental => {}
    }
    mkdir(&build_base)?;
    let _ = std::fs::remove_file(&key_path);
    let mut make = Command::new("make");
    make.current_dir(&source.dir).args(&args);
    // Debian's python3 has pyelftools and cryptography; a pyenv or venv python may not.
    let path = std::env::var("PATH").unwrap_or_default();
    make.env("PATH", format!("/usr/bin:{path}"));
    let what = match work {
        Work::Incremental => "TF-A: repacking the FIP",
        _ => "TF-A: building BL1, BL2, BL31, tools and FIP",
    };
    console::run_quiet(&mut make, what)?;
    if !bios.is_file() {
        return Err(Error::new(format!(
            "TF-A's make succeeded but left no {}",
            bios.display()
        )));
    }
    write(&key_path, &now.render())?;
    Ok(Built { bios })
}

/// The TF-A make command line of `profile`, for the record (README, bench output).
pub fn describe_flags(profile: Profile) -> String {
    let mut text = String::from("CROSS_COMPILE=aarch64-linux-gnu-");
    for flag in profile.flags() {
        let _ = write!(text, " {flag}");
    }
    text
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            bl32: "/r/build/spmc.bin".into(),
            bl33: "/r/build/bl33.bin".into(),
            sp_images: vec!["/r/build/sp/echo.bin".into()],
            manifests: "/r/sp-manifests".into(),
            set: ManifestSet::SCENARIOS,
            name: "debug".into(),
            extra_flags: &[],
        }
    }

    #[test]
    fn debug_make_line_has_the_spmd_flags_and_inputs() {
        let args = make_args(
            Profile::Debug,
            &inputs(),
            Path::new("/r/build/tf-a/debug"),
            2,
        );
        let line = args.join(" ");
        for flag in [
            "-j2",
            "CROSS_COMPILE=aarch64-linux-gnu-",
            "PLAT=qemu",
            "DEBUG=1",
            "LOG_LEVEL=40",
            "SPD=spmd",
            "SPMD_SPM_AT_SEL2=1",
            "QEMU_USE_GIC_DRIVER=QEMU_GICV3",
            "BL32_RAM_LOCATION=tdram",
            "ENABLE_SVE_FOR_NS=2",
            "ENABLE_SVE_FOR_SWD=1",
            "BUILD_BASE=/r/build/tf-a/debug",
            "BL32=/r/build/spmc.bin",
            "BL33=/r/build/bl33.bin",
            "SP_LAYOUT_FILE=/r/sp-manifests/sp_layout.json",
            "QEMU_TOS_FW_CONFIG_DTS=/r/sp-manifests/spmc_manifest.dts",
            "QEMU_TB_FW_CONFIG_DTS=/r/sp-manifests/tb_fw_config.dts",
        ] {
            assert!(args.iter().any(|a| a == flag), "{flag} missing from {line}");
        }
        assert!(line.ends_with("all fip"));
    }

    #[test]
    fn bench_make_line_is_the_peer_set_without_debug() {
        let args = make_args(Profile::Bench, &inputs(), Path::new("/b"), 2);
        for flag in [
            "DEBUG=0",
            "LOG_LEVEL=30",
            "NEED_FDT=yes",
            "ENABLE_SVE_FOR_SWD=1",
            "BRANCH_PROTECTION=1",
            "ARM_ARCH_MINOR=3",
            "ENABLE_FEAT_MTE2=2",
        ] {
            assert!(args.iter().any(|a| a == flag), "{flag}");
        }
        assert!(!args.iter().any(|a| a == "DEBUG=1"));
        assert_eq!(Profile::Bench.output_dir(), "release");
    }

    #[test]
    fn debian_versions() {
        assert_eq!(upstream_version("2.12.1+dfsg-1"), "2.12.1+dfsg");
        assert_eq!(upstream_version("1:2.12.0-2~bpo12+1"), "2.12.0");
        assert_eq!(upstream_version("2.12.1"), "2.12.1");
        assert!(check_series("2.12.1+dfsg-1").is_ok());
        assert!(check_series("2.13.0+dfsg-1").is_err());
        assert!(check_series("2.1.0-1").is_err());
        let dsc = "Format: 3.0 (quilt)\nSource: arm-trusted-firmware\nVersion: 2.12.1+dfsg-1\n";
        assert_eq!(dsc_version(dsc).as_deref(), Some("2.12.1+dfsg-1"));
        assert_eq!(dsc_version("Source: x\n"), None);
    }

    fn files(list: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(n, b)| ((*n).to_owned(), b.to_vec()))
            .collect()
    }

    #[test]
    fn key_separates_config_from_images() {
        let args = vec!["PLAT=qemu".to_owned()];
        let manifests = files(&[("spmc_manifest.dts", b"a")]);
        let images = files(&[("spmc.bin", b"x"), ("bl33.bin", b"y")]);
        let base = Key::of("2.12.1+dfsg-1", &args, &manifests, &images);
        assert_eq!(base, Key::of("2.12.1+dfsg-1", &args, &manifests, &images));

        let new_image = Key::of(
            "2.12.1+dfsg-1",
            &args,
            &manifests,
            &files(&[("spmc.bin", b"x2"), ("bl33.bin", b"y")]),
        );
        assert_eq!(new_image.config, base.config);
        assert_ne!(new_image.images, base.images);

        let new_version = Key::of("2.12.2+dfsg-1", &args, &manifests, &images);
        let new_flags = Key::of("2.12.1+dfsg-1", &["DEBUG=0".into()], &manifests, &images);
        let new_manifest = Key::of(
            "2.12.1+dfsg-1",
            &args,
            &files(&[("spmc_manifest.dts", b"b")]),
            &images,
        );
        for changed in [new_version, new_flags, new_manifest] {
            assert_ne!(changed.config, base.config);
            assert_eq!(changed.images, base.images);
        }
        // Moving bytes from one file to the next is a change too.
        let shifted = Key::of(
            "2.12.1+dfsg-1",
            &args,
            &manifests,
            &files(&[("spmc.bin", b"xy"), ("bl33.bin", b"")]),
        );
        assert_ne!(shifted.images, base.images);
    }

    #[test]
    fn key_round_trips_through_its_file() {
        let key = Key {
            config: 0x0123_4567_89ab_cdef,
            images: 7,
        };
        assert_eq!(Key::parse(&key.render()), Some(key));
        assert_eq!(Key::parse("config 12\n"), None);
        assert_eq!(Key::parse("garbage"), None);
    }

    #[test]
    fn work_follows_the_key() {
        let key = Key {
            config: 1,
            images: 2,
        };
        assert_eq!(work(None, key, false), Work::Clean);
        assert_eq!(work(None, key, true), Work::Clean);
        assert_eq!(work(Some(key), key, true), Work::UpToDate);
        assert_eq!(work(Some(key), key, false), Work::Clean);
        let images = Key { images: 3, ..key };
        assert_eq!(work(Some(key), images, true), Work::Incremental);
        let config = Key { config: 9, ..key };
        assert_eq!(work(Some(key), config, true), Work::Clean);
    }
}
