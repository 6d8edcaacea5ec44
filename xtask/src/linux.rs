//! The normal world of the "real clients" stack, from Debian's archive (docs: real-clients.md
//! §2, §3): a cloud-flavour arm64 Linux ≥ 7.2 with the FF-A transport and the OP-TEE driver as
//! modules, U-Boot for QEMU as BL33, and the user space of the initramfs (busybox,
//! tee-supplicant, xtest and their libraries). Binary packages come through a private APT
//! configuration for arm64 in `build/linux/apt/` (the mirror is the machine's own), are resolved
//! at build time, recorded in `build/linux/resolved.txt`, downloaded with `apt-get download`
//! and unpacked with `dpkg-deb -x` into `build/linux/pkgs/<name>/`, once per version.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use crate::console::{self, Error, Result};
use crate::files::{mkdir, write};
use crate::{apt, initramfs, prereq};

/// The suite everything is taken from: the newest kernel, OP-TEE client and xtest.
pub const SUITE: &str = "sid";
/// Where the kernel is taken from when sid has none new enough.
pub const KERNEL_FALLBACK_SUITE: &str = "trixie-backports";
/// The kernel's meta-package: it names the versioned image package.
pub const KERNEL_META: &str = "linux-image-cloud-arm64";
/// The oldest kernel series the stack is written against (pKVM's FF-A proxy and `arm_ffa` of
/// 7.2, docs: real-clients.md §2).
pub const OLDEST_KERNEL: (u32, u32) = (7, 2);
/// The modules the initramfs loads, in load order (each depends on the ones before it).
pub const MODULES: &[&str] = &["ffa-core", "ffa-module", "tee", "optee"];
/// U-Boot for QEMU's `virt` machine: BL33 behind TF-A.
pub const UBOOT_PACKAGE: &str = "u-boot-qemu";
/// BL33 in [`UBOOT_PACKAGE`].
pub const UBOOT_BIN: &str = "usr/lib/u-boot/qemu_arm64/u-boot.bin";
/// The initramfs' user space; their `Depends` are followed (first alternative) for the
/// libraries.
pub const USERLAND: &[&str] = &[
    "busybox-static",
    "tee-supplicant",
    "libteec2",
    "optee-test-qemu",
    "libc6",
];

/// `build/linux`.
pub fn linux_dir(root: &Path) -> PathBuf {
    root.join("build").join("linux")
}

/// Writes `build/linux/apt/` (configuration for arm64 binary packages, deb entries of sid and
/// trixie-backports from the machine's mirror, empty dpkg status) and returns the
/// configuration file's path.
pub fn private_apt(root: &Path) -> Result<PathBuf> {
    let dir = linux_dir(root).join("apt");
    for sub in apt::PRIVATE_DIRS {
        mkdir(&dir.join(sub))?;
    }
    let codename = prereq::host_codename()?;
    let sources = apt::read_sources(Path::new("/etc/apt"));
    let mirror = apt::debian_mirror(&sources, &codename).ok_or_else(|| {
        Error::new(format!(
            "no Debian mirror for `{codename}` in /etc/apt/sources.list(.d): the normal \
             world's packages cannot be fetched"
        ))
    })?;
    write(&dir.join("sources.list"), "")?;
    for suite in [SUITE, KERNEL_FALLBACK_SUITE] {
        write(
            &dir.join("sources.list.d").join(format!("{suite}.sources")),
            &mirror.entry("deb", suite),
        )?;
    }
    write(&dir.join("status"), "")?;
    let conf = dir.join("apt.conf");
    let mut text = apt::private_config(&dir, prereq::is_root());
    text.push_str(&apt::architecture_config("arm64"));
    write(&conf, &text)?;
    Ok(conf)
}

/// One resolved and unpacked binary package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    /// Its name.
    pub name: String,
    /// The Debian version.
    pub version: String,
    /// The suite it came from.
    pub suite: String,
    /// Where it is unpacked (`build/linux/pkgs/<name>`).
    pub dir: PathBuf,
}

/// The kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kernel {
    /// `uname -r`: `7.2.13+deb14-cloud-arm64`.
    pub release: String,
    /// The Debian version of its packages (`7.2.13-1`).
    pub version: String,
    /// The suite it came from.
    pub suite: String,
    /// `vmlinuz`: an uncompressed arm64 `Image` (QEMU's `-kernel`, U-Boot's `booti`).
    pub image: PathBuf,
    /// The `.ko.xz` files of [`MODULES`], in load order.
    pub modules: Vec<PathBuf>,
}

/// Everything the normal world is made of, unpacked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalWorld {
    /// The kernel.
    pub kernel: Kernel,
    /// U-Boot's `u-boot.bin` (BL33).
    pub u_boot: PathBuf,
    /// Every package resolved, kernel and U-Boot included, in name order.
    pub packages: Vec<Package>,
}

impl NormalWorld {
    /// The package `name`, if resolved.
    pub fn package(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.name == name)
    }
}

/// The normal world ready to boot.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The kernel image (QEMU's `-kernel`).
    pub kernel: PathBuf,
    /// The initramfs (QEMU's `-initrd`).
    pub initrd: PathBuf,
    /// U-Boot (TF-A's `BL33`).
    pub u_boot: PathBuf,
    /// What it was made from.
    pub world: NormalWorld,
}

/// Fetches the normal world ([`fetch`]) and builds its initramfs with `extra_tas` (OP-TEE's own
/// TAs that Debian's xtest lacks, e.g. pkcs11) in `/usr/lib/optee_armtz`.
pub fn prepare(root: &Path, extra_tas: &[PathBuf]) -> Result<Prepared> {
    let world = fetch(root)?;
    let initrd = initramfs::build(root, &world, extra_tas)?;
    Ok(Prepared {
        kernel: world.kernel.image.clone(),
        initrd,
        u_boot: world.u_boot.clone(),
        world,
    })
}

/// The kernel command line of a boot in `mode` (`xtest`: xtest's arguments, none for its
/// default run, e.g. `["-t", "regression", "1004"]`), with `kvm-arm.mode=` set to `kvm`
/// (`protected` for pKVM, `nvhe`) or left to the kernel.
pub fn command_line(mode: initramfs::Mode, xtest: &[&str], kvm: Option<&str>) -> String {
    let mut line = String::new();
    if let Some(kvm) = kvm {
        line.push_str(&format!("kvm-arm.mode={kvm} "));
    }
    // panic=-1: a panic reboots, which ends QEMU under -no-reboot instead of hanging.
    line.push_str("console=ttyAMA0 panic=-1 rdinit=/init ");
    line.push_str(&initramfs::mode_args(mode, xtest));
    line
}

/// How old the package lists may be before a build reads them again.
const LISTS_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// The file beside `lists/` touched when they were read.
const LISTS_READ: &str = "lists-read";

/// `apt-get`/`apt-cache` under the private configuration.
struct Apt {
    conf: PathBuf,
    lists: PathBuf,
}

impl Apt {
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args).env("APT_CONFIG", &self.conf);
        cmd
    }

    /// `apt-cache` output; its complaints about unknown names go to a log line, not an error.
    fn cache(&self, args: &[&str]) -> Result<String> {
        let mut cmd = self.command("apt-cache", args);
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::new(format!("cannot start apt-cache: {e}")))?;
        if !out.status.success() {
            return Err(Error::new(format!(
                "`{}` failed: {}",
                console::describe(&cmd),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The newest `Release` file's time: when the lists were last read.
    fn lists_stamp(&self) -> Option<SystemTime> {
        std::fs::read_dir(&self.lists)
            .ok()?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with("Release"))
            .filter_map(|e| e.metadata().ok()?.modified().ok())
            .max()
    }

    /// When the lists were last read here (the lists' own times are the mirror's).
    fn read_at(&self) -> Option<SystemTime> {
        std::fs::metadata(self.lists.with_file_name(LISTS_READ))
            .ok()?
            .modified()
            .ok()
    }

    fn update(&self) -> Result<()> {
        console::run_quiet(
            &mut self.command("apt-get", &["-q", "update"]),
            &format!("reading the {SUITE} and {KERNEL_FALLBACK_SUITE} arm64 package lists"),
        )?;
        write(&self.lists.with_file_name(LISTS_READ), "")
    }
}

fn stamp_secs(stamp: Option<SystemTime>) -> u64 {
    stamp
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// The kernel, U-Boot and user space: resolved against the package lists (read again when
/// older than a day), recorded in `build/linux/resolved.txt`, and unpacked where not yet at
/// that version. A download that fails (sid drops old versions) reads the lists again and
/// resolves once more.
pub fn fetch(root: &Path) -> Result<NormalWorld> {
    let dir = linux_dir(root);
    let apt = Apt {
        conf: private_apt(root)?,
        lists: dir.join("apt").join("lists"),
    };
    let mut updated = false;
    let fresh = apt
        .read_at()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < LISTS_MAX_AGE);
    if !fresh {
        console::header("Normal world: Debian arm64 package lists");
        match apt.update() {
            Ok(()) => updated = true,
            // Offline with lists already there: build from them.
            Err(e) if apt.lists_stamp().is_some() => {
                console::note(&format!("{e}; using the package lists already read"));
            }
            Err(e) => return Err(e),
        }
    }
    loop {
        let resolution = resolve_or_reuse(&apt, &dir)?;
        match unpack_all(&apt, &dir, &resolution) {
            Ok(world) => return Ok(world),
            Err(e) if !updated => {
                console::note(&format!("{e}\n    reading the package lists again"));
                apt.update()?;
                updated = true;
            }
            Err(e) => return Err(e),
        }
    }
}

/// What [`resolve`] chose: the kernel's packages and version, and every package to unpack.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Resolution {
    /// `resolved.txt`'s stamp: the lists it was resolved from.
    stamp: u64,
    /// Every package (name, version, suite), in name order.
    packages: Vec<(String, String, String)>,
    /// The packages holding the kernel image and its modules.
    kernel_packages: Vec<String>,
}

impl Resolution {
    fn to_text(&self) -> String {
        let mut text = format!("# lists {}\n", self.stamp);
        for (name, version, suite) in &self.packages {
            let role = if self.kernel_packages.contains(name) {
                "\tkernel"
            } else {
                ""
            };
            let _ = writeln!(text, "{name}\t{version}\t{suite}{role}");
        }
        text
    }

    /// Whether every package of `roots` is in it (a record from before a root was added is
    /// not).
    fn covers(&self, roots: &[&str]) -> bool {
        roots
            .iter()
            .all(|r| self.packages.iter().any(|(name, _, _)| name == r))
    }

    fn from_text(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        let stamp = lines
            .next()?
            .strip_prefix("# lists ")?
            .trim()
            .parse()
            .ok()?;
        let mut r = Self {
            stamp,
            ..Self::default()
        };
        for line in lines {
            let mut cols = line.split('\t');
            let (name, version, suite) = (cols.next()?, cols.next()?, cols.next()?);
            if cols.next() == Some("kernel") {
                r.kernel_packages.push(name.to_owned());
            }
            r.packages
                .push((name.to_owned(), version.to_owned(), suite.to_owned()));
        }
        (!r.kernel_packages.is_empty()).then_some(r)
    }
}

/// The recorded resolution when the lists have not changed since, else a new one (printed and
/// recorded).
fn resolve_or_reuse(apt: &Apt, dir: &Path) -> Result<Resolution> {
    let record = dir.join("resolved.txt");
    let stamp = stamp_secs(apt.lists_stamp());
    if let Some(old) = std::fs::read_to_string(&record)
        .ok()
        .and_then(|t| Resolution::from_text(&t))
        .filter(|r| r.stamp == stamp && r.covers(&roots()))
    {
        return Ok(old);
    }
    console::header("Normal world: resolving Debian arm64 packages");
    let mut resolution = resolve(apt)?;
    resolution.stamp = stamp;
    for (name, version, suite) in &resolution.packages {
        console::note(&format!("{name} {version} ({suite})"));
    }
    write(&record, &resolution.to_text())?;
    console::note(&format!("recorded in {}", record.display()));
    Ok(resolution)
}

/// Upstream `major.minor` of a kernel package's Debian version (`7.3` of `7.3.4-1~bpo13+1`).
fn kernel_series(version: &str) -> Option<(u32, u32)> {
    let upstream = version.split_once(':').map_or(version, |(_, v)| v);
    let mut parts = upstream.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The kernel meta-package version to use: the newest at least `oldest` of the first suite in
/// `suites` that has one.
fn choose_kernel(offers: &[apt::Offer], suites: &[&str], oldest: (u32, u32)) -> Option<apt::Offer> {
    suites.iter().find_map(|suite| {
        offers
            .iter()
            .filter(|o| o.suite == *suite)
            .filter(|o| kernel_series(&o.version).is_some_and(|s| s >= oldest))
            .max_by(|a, b| apt::compare_versions(&a.version, &b.version))
            .cloned()
    })
}

/// The packages of a versioned image package's `Depends` that hold the image and the modules
/// (sid's split packaging: `linux-binary-*`, `linux-modules-*`); empty for the older
/// packaging, where the image package holds both.
fn kernel_parts(depends: &[Vec<String>]) -> Vec<String> {
    depends
        .iter()
        .filter_map(|alts| alts.first())
        .filter(|name| {
            (name.starts_with("linux-binary-") && !name.starts_with("linux-binary-unsigned-"))
                || name.starts_with("linux-modules-")
        })
        .cloned()
        .collect()
}

/// The candidate paragraphs of `names` (`apt-cache show --no-all-versions`), by package.
fn show(apt: &Apt, names: &[String]) -> Result<BTreeMap<String, Vec<(String, String)>>> {
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut args = vec!["show", "--no-all-versions"];
    args.extend(names.iter().map(String::as_str));
    let text = apt.cache(&args)?;
    Ok(apt::control_paragraphs(&text)
        .into_iter()
        .filter_map(|p| Some((apt::field(&p, "package")?.to_owned(), p)))
        .collect())
}

/// The packages `roots` need, following `Depends` and `Pre-Depends` (the first alternative that
/// exists), as (name, version); `show` gives the candidate paragraphs of names.
fn closure(
    roots: &[&str],
    mut show: impl FnMut(&[String]) -> Result<BTreeMap<String, Vec<(String, String)>>>,
) -> Result<BTreeMap<String, String>> {
    let mut chosen: BTreeMap<String, String> = BTreeMap::new();
    let mut wanted: Vec<Vec<String>> = roots.iter().map(|r| vec![(*r).to_owned()]).collect();
    while !wanted.is_empty() {
        let names: BTreeSet<String> = wanted.iter().flatten().cloned().collect();
        let names: Vec<String> = names.into_iter().collect();
        let found = show(&names)?;
        let mut next = Vec::new();
        for alts in &wanted {
            if alts.iter().any(|a| chosen.contains_key(a)) {
                continue;
            }
            let Some((name, paragraph)) = alts
                .iter()
                .find_map(|a| found.get(a).map(|p| (a.clone(), p)))
            else {
                return Err(Error::new(format!(
                    "no arm64 package `{}` in {SUITE} on this machine's mirror",
                    alts.join(" | ")
                )));
            };
            let version = apt::field(paragraph, "version").unwrap_or_default();
            chosen.insert(name, version.to_owned());
            for key in ["pre-depends", "depends"] {
                if let Some(value) = apt::field(paragraph, key) {
                    next.extend(apt::dependency_names(value));
                }
            }
        }
        next.retain(|alts| !alts.iter().any(|a| chosen.contains_key(a)));
        wanted = next;
    }
    Ok(chosen)
}

/// The packages resolved with their `Depends`: the user space and U-Boot.
fn roots() -> Vec<&'static str> {
    let mut roots = USERLAND.to_vec();
    roots.push(UBOOT_PACKAGE);
    roots
}

/// Resolves the kernel (sid, else trixie-backports), U-Boot and the user space.
fn resolve(apt: &Apt) -> Result<Resolution> {
    let suites = [SUITE, KERNEL_FALLBACK_SUITE];
    let offers = apt::parse_madison(&apt.cache(&["madison", KERNEL_META])?);
    let meta = choose_kernel(&offers, &suites, OLDEST_KERNEL).ok_or_else(|| {
        Error::new(format!(
            "no `{KERNEL_META}` of Linux ≥ {}.{} in {} on this machine's mirror (found: {})",
            OLDEST_KERNEL.0,
            OLDEST_KERNEL.1,
            suites.join(" or "),
            if offers.is_empty() {
                "none".to_owned()
            } else {
                offers
                    .iter()
                    .map(|o| format!("{} in {}", o.version, o.suite))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))
    })?;
    let exact = |name: &str| -> Result<Vec<(String, String)>> {
        let text = apt.cache(&["show", &format!("{name}={}", meta.version)])?;
        apt::control_paragraphs(&text)
            .into_iter()
            .next()
            .ok_or_else(|| {
                Error::new(format!(
                    "no `{name}` {} in {} on this machine's mirror",
                    meta.version, meta.suite
                ))
            })
    };
    let depends =
        |p: &[(String, String)]| apt::dependency_names(apt::field(p, "depends").unwrap_or(""));
    let image = depends(&exact(KERNEL_META)?)
        .iter()
        .filter_map(|alts| alts.first())
        .find(|n| n.starts_with("linux-image-"))
        .cloned()
        .ok_or_else(|| {
            Error::new(format!(
                "`{KERNEL_META}` {} names no linux-image package",
                meta.version
            ))
        })?;
    let mut kernel_packages = kernel_parts(&depends(&exact(&image)?));
    if kernel_packages.is_empty() {
        kernel_packages.push(image);
    }
    let mut packages: BTreeMap<String, (String, String)> = kernel_packages
        .iter()
        .map(|n| (n.clone(), (meta.version.clone(), meta.suite.clone())))
        .collect();
    let user = closure(&roots(), |names| show(apt, names))?;
    // Which suite each candidate is from, for the record.
    let names: Vec<&str> = user.keys().map(String::as_str).collect();
    let mut args = vec!["madison"];
    args.extend(&names);
    let offers = apt::parse_madison(&apt.cache(&args)?);
    for (name, version) in user {
        let suite = offers
            .iter()
            .find(|o| o.package == name && o.version == version)
            .map_or_else(|| SUITE.to_owned(), |o| o.suite.clone());
        packages.insert(name, (version, suite));
    }
    Ok(Resolution {
        stamp: 0,
        packages: packages
            .into_iter()
            .map(|(name, (version, suite))| (name, version, suite))
            .collect(),
        kernel_packages,
    })
}

/// The marker in an unpacked package's directory: the version unpacked there.
const VERSION_MARKER: &str = ".xtask-version";

/// Downloads and unpacks what is not unpacked at its resolved version, then finds the kernel,
/// its modules and U-Boot.
fn unpack_all(apt: &Apt, dir: &Path, resolution: &Resolution) -> Result<NormalWorld> {
    let pkgs = dir.join("pkgs");
    let debs = dir.join("debs");
    let unpacked = |name: &str, version: &str| {
        std::fs::read_to_string(pkgs.join(name).join(VERSION_MARKER))
            .is_ok_and(|v| v.trim() == version)
    };
    let missing: Vec<String> = resolution
        .packages
        .iter()
        .filter(|(name, version, _)| !unpacked(name, version))
        .map(|(name, version, _)| format!("{name}={version}"))
        .collect();
    if !missing.is_empty() {
        console::header(&format!(
            "Normal world: downloading {} Debian arm64 packages",
            missing.len()
        ));
        if debs.exists() {
            std::fs::remove_dir_all(&debs)
                .map_err(|e| Error::new(format!("cannot clear {}: {e}", debs.display())))?;
        }
        mkdir(&debs)?;
        let mut args = vec!["-q", "download"];
        args.extend(missing.iter().map(String::as_str));
        let mut get = apt.command("apt-get", &args);
        get.current_dir(&debs);
        console::run_quiet(&mut get, "downloading")?;
        for (name, version, _) in &resolution.packages {
            if !unpacked(name, version) {
                unpack(&debs, &pkgs, name, version)?;
            }
        }
        let _ = std::fs::remove_dir_all(&debs);
    }
    let packages: Vec<Package> = resolution
        .packages
        .iter()
        .map(|(name, version, suite)| Package {
            name: name.clone(),
            version: version.clone(),
            suite: suite.clone(),
            dir: pkgs.join(name),
        })
        .collect();
    let kernel_dirs: Vec<&Package> = packages
        .iter()
        .filter(|p| resolution.kernel_packages.contains(&p.name))
        .collect();
    let kernel = find_kernel(&kernel_dirs)?;
    let u_boot = pkgs.join(UBOOT_PACKAGE).join(UBOOT_BIN);
    if !u_boot.is_file() {
        return Err(Error::new(format!(
            "`{UBOOT_PACKAGE}` has no {UBOOT_BIN}: Debian's packaging changed"
        )));
    }
    Ok(NormalWorld {
        kernel,
        u_boot,
        packages,
    })
}

/// Unpacks the downloaded `.deb` of `name` into `pkgs/<name>` and marks it with `version`.
fn unpack(debs: &Path, pkgs: &Path, name: &str, version: &str) -> Result<()> {
    let prefix = format!("{name}_");
    let deb = std::fs::read_dir(debs)
        .map_err(|e| Error::new(format!("cannot list {}: {e}", debs.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with(&prefix))
                && p.extension().is_some_and(|x| x == "deb")
        })
        .ok_or_else(|| Error::new(format!("apt-get download left no .deb of `{name}`")))?;
    let target = pkgs.join(name);
    if target.exists() {
        std::fs::remove_dir_all(&target)
            .map_err(|e| Error::new(format!("cannot clear {}: {e}", target.display())))?;
    }
    mkdir(&target)?;
    let mut cmd = Command::new("dpkg-deb");
    cmd.arg("-x").arg(&deb).arg(&target);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::new(format!("cannot start dpkg-deb: {e}")))?;
    if !out.status.success() {
        return Err(Error::new(format!(
            "`{}` failed: {}",
            console::describe(&cmd),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    // Written last: an interrupted unpack is redone.
    write(&target.join(VERSION_MARKER), &format!("{version}\n"))
}

/// The kernel image and [`MODULES`] in the kernel's unpacked packages.
fn find_kernel(packages: &[&Package]) -> Result<Kernel> {
    let names = || {
        packages
            .iter()
            .map(|p| format!("`{}` {}", p.name, p.version))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut image = None;
    let mut modules: BTreeMap<&str, PathBuf> = BTreeMap::new();
    for package in packages {
        let Ok(releases) = std::fs::read_dir(package.dir.join("usr/lib/modules")) else {
            continue;
        };
        for release in releases.filter_map(|e| e.ok()) {
            let dir = release.path();
            let name = release.file_name().to_string_lossy().into_owned();
            if dir.join("vmlinuz").is_file() {
                image = Some((name.clone(), dir.join("vmlinuz")));
            }
            find_modules(&dir.join("kernel"), &mut modules);
        }
    }
    let (release, image) = image.ok_or_else(|| {
        Error::new(format!(
            "no usr/lib/modules/<release>/vmlinuz in {}",
            names()
        ))
    })?;
    let mut ordered = Vec::new();
    for module in MODULES {
        let path = modules.remove(module).ok_or_else(|| {
            Error::new(format!(
                "no {module}.ko.xz in {}: the kernel is built without the FF-A transport or \
                 the OP-TEE driver as modules",
                names()
            ))
        })?;
        ordered.push(path);
    }
    Ok(Kernel {
        release,
        version: packages[0].version.clone(),
        suite: packages[0].suite.clone(),
        image,
        modules: ordered,
    })
}

/// Adds the `.ko.xz` files of [`MODULES`] under `dir` to `found`.
fn find_modules(dir: &Path, found: &mut BTreeMap<&'static str, PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            find_modules(&path, found);
        } else if let Some(stem) = entry
            .file_name()
            .to_str()
            .and_then(|f| f.strip_suffix(".ko.xz"))
            && let Some(module) = MODULES.iter().find(|m| **m == stem)
        {
            found.insert(module, path);
        }
    }
}

/// `cargo xtask normal-world`: fetch and build the normal world, and optionally boot it on
/// QEMU directly, without TF-A or the secure world (real-clients.md §2.3).
#[derive(clap::Args, Debug)]
pub struct NormalWorldArgs {
    /// Boot the kernel and initramfs directly on QEMU in this mode (`shell` is interactive).
    #[arg(long, value_enum)]
    pub boot: Option<initramfs::Mode>,
    /// xtest's arguments in `smoke` and `xtest` modes (default: 1001, and the full run).
    #[arg(long = "xtest-arg", allow_hyphen_values = true)]
    pub xtest: Vec<String>,
    /// Boot without pKVM (`kvm-arm.mode` left to the kernel's default).
    #[arg(long)]
    pub no_pkvm: bool,
    /// Seconds before a non-interactive boot is stopped.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
}

/// Runs `cargo xtask normal-world`.
pub fn command(root: &Path, args: &NormalWorldArgs) -> Result<()> {
    let started = Instant::now();
    let prepared = prepare(root, &[])?;
    console::header("Normal world");
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let k = &prepared.world.kernel;
    console::note(&format!(
        "kernel {} ({} {}): {} ({})",
        k.release,
        k.version,
        k.suite,
        prepared.kernel.display(),
        console::size(size(&prepared.kernel))
    ));
    console::note(&format!(
        "initramfs: {} ({})",
        prepared.initrd.display(),
        console::size(size(&prepared.initrd))
    ));
    console::note(&format!(
        "U-Boot: {} ({})",
        prepared.u_boot.display(),
        console::size(size(&prepared.u_boot))
    ));
    console::note(&format!(
        "ready in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    let Some(mode) = args.boot else {
        return Ok(());
    };
    let xtest: Vec<&str> = args.xtest.iter().map(String::as_str).collect();
    let append = command_line(mode, &xtest, (!args.no_pkvm).then_some("protected"));
    let mut qemu = Command::new("qemu-system-aarch64");
    qemu.args([
        "-machine",
        "virt,virtualization=on,gic-version=3",
        "-cpu",
        "max,pauth-impdef=on",
        "-smp",
        "2",
        "-m",
        "2G",
        "-nographic",
        "-no-reboot",
        "-nic",
        "none",
        "-kernel",
    ])
    .arg(&prepared.kernel)
    .arg("-initrd")
    .arg(&prepared.initrd)
    .args(["-append", &append]);
    console::header(&format!(
        "Booting without TF-A: {}",
        console::describe(&qemu)
    ));
    if mode == initramfs::Mode::Shell {
        let status = qemu
            .status()
            .map_err(|e| Error::new(format!("cannot start qemu-system-aarch64: {e}")))?;
        return if status.success() {
            Ok(())
        } else {
            Err(Error::new(format!("QEMU ended: {status}")))
        };
    }
    boot_watched(&mut qemu, Duration::from_secs(args.timeout))
}

/// Runs a non-interactive boot, passing its console through, and reports what the init said.
fn boot_watched(qemu: &mut Command, timeout: Duration) -> Result<()> {
    let started = Instant::now();
    let mut child = qemu
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Error::new(format!("cannot start qemu-system-aarch64: {e}")))?;
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(out).split(b'\n').map_while(|l| l.ok()) {
                let line = String::from_utf8_lossy(&line).trim_end().to_owned();
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let mut markers = Vec::new();
    let mut timed_out = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(line) => {
                println!("{line}");
                if let Some(marker) = initramfs::Marker::parse(&line) {
                    markers.push((started.elapsed(), marker));
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) if started.elapsed() > timeout => {
                timed_out = true;
                let _ = child.kill();
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child.wait();
    let wall = started.elapsed();
    console::header("Boot summary");
    for (at, marker) in &markers {
        console::note(&format!("{:>6.2} s  {marker:?}", at.as_secs_f64()));
    }
    console::note(&format!("wall time {:.2} s", wall.as_secs_f64()));
    if timed_out {
        return Err(Error::new(format!(
            "the boot did not end within {} s",
            timeout.as_secs()
        )));
    }
    let result = markers.iter().find_map(|(_, m)| match m {
        initramfs::Marker::Result { passed, .. } => Some(*passed),
        _ => None,
    });
    match (status, result) {
        (Ok(s), Some(_)) if s.success() => Ok(()),
        (Ok(s), _) => Err(Error::new(format!(
            "QEMU ended ({s}) without the init's result"
        ))),
        (Err(e), _) => Err(Error::new(format!("cannot wait for QEMU: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(version: &str, suite: &str) -> apt::Offer {
        apt::Offer {
            package: KERNEL_META.into(),
            version: version.into(),
            suite: suite.into(),
        }
    }

    #[test]
    fn kernel_from_sid_else_backports_and_at_least_7_2() {
        let suites = [SUITE, KERNEL_FALLBACK_SUITE];
        let offers = [
            offer("7.3.4-1~bpo13+1", "trixie-backports"),
            offer("7.2.13-1", "sid"),
            offer("7.2.9-2", "sid"),
        ];
        let chosen = choose_kernel(&offers, &suites, OLDEST_KERNEL).expect("a kernel");
        assert_eq!(
            (chosen.version.as_str(), chosen.suite.as_str()),
            ("7.2.13-1", "sid")
        );
        // sid too old: the backport.
        let offers = [
            offer("7.1.13-1", "sid"),
            offer("7.3.4-1~bpo13+1", "trixie-backports"),
        ];
        let chosen = choose_kernel(&offers, &suites, OLDEST_KERNEL).expect("a kernel");
        assert_eq!(chosen.suite, "trixie-backports");
        // Versions compare as Debian's, not as text.
        let offers = [offer("7.10.1-1", "sid"), offer("7.9.20-1", "sid")];
        let chosen = choose_kernel(&offers, &suites, OLDEST_KERNEL).expect("a kernel");
        assert_eq!(chosen.version, "7.10.1-1");
        assert_eq!(
            choose_kernel(&[offer("6.12.117-1", "sid")], &suites, OLDEST_KERNEL),
            None
        );
        assert_eq!(kernel_series("8.0-1"), Some((8, 0)));
        assert_eq!(kernel_series("1:7.2.13-1"), Some((7, 2)));
    }

    #[test]
    fn split_kernel_packaging_names_binary_and_modules() {
        let depends = apt::dependency_names(
            "dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, \
             linux-base-7.2.13+deb14-cloud-arm64 (= 7.2.13-1), \
             linux-binary-7.2.13+deb14-cloud-arm64 (= 7.2.13-1), \
             linux-modules-7.2.13+deb14-cloud-arm64 (= 7.2.13-1)",
        );
        assert_eq!(
            kernel_parts(&depends),
            [
                "linux-binary-7.2.13+deb14-cloud-arm64",
                "linux-modules-7.2.13+deb14-cloud-arm64"
            ]
        );
        assert!(kernel_parts(&apt::dependency_names("kmod, linux-base (>= 4.3~)")).is_empty());
    }

    fn paragraph(name: &str, version: &str, depends: &str) -> Vec<(String, String)> {
        let text = format!("Package: {name}\nVersion: {version}\nDepends: {depends}\n");
        apt::control_paragraphs(&text).remove(0)
    }

    #[test]
    fn closure_follows_first_existing_alternatives() {
        let archive = [
            paragraph("xtest", "4.10.0-1", "libc6 (>= 2.38), libssl3t64, libteec2"),
            paragraph(
                "libssl3t64",
                "3.6.5-1",
                "libc6, zlib1g, virtual-only | libzstd1",
            ),
            paragraph("libteec2", "4.11.0-1", "libc6"),
            paragraph("libc6", "2.43-7", "libgcc-s1"),
            paragraph("libgcc-s1", "16.2.0-4", "libc6"),
            paragraph("zlib1g", "1:1.3-4", "libc6"),
            paragraph("libzstd1", "1.5.7-4", "libc6"),
        ];
        let mut calls = 0;
        let show = |names: &[String]| {
            calls += 1;
            Ok(archive
                .iter()
                .filter(|p| {
                    names
                        .iter()
                        .any(|n| Some(n.as_str()) == apt::field(p, "package"))
                })
                .map(|p| (apt::field(p, "package").unwrap_or("").to_owned(), p.clone()))
                .collect())
        };
        let chosen = closure(&["xtest"], show).expect("closure");
        assert_eq!(
            chosen.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "libc6",
                "libgcc-s1",
                "libssl3t64",
                "libteec2",
                "libzstd1",
                "xtest",
                "zlib1g"
            ]
        );
        assert_eq!(chosen["zlib1g"], "1:1.3-4");
        assert!(calls <= 4, "one apt-cache call per level, {calls}");
        let err = closure(&["nothing-here"], |_| Ok(BTreeMap::new())).expect_err("missing");
        assert!(err.0.contains("`nothing-here`"), "{err}");
    }

    #[test]
    fn resolution_record_round_trips() {
        let r = Resolution {
            stamp: 1234,
            packages: vec![
                ("libc6".into(), "2.43-7".into(), "sid".into()),
                (
                    "linux-binary-7.2.13+deb14-cloud-arm64".into(),
                    "7.2.13-1".into(),
                    "sid".into(),
                ),
            ],
            kernel_packages: vec!["linux-binary-7.2.13+deb14-cloud-arm64".into()],
        };
        assert_eq!(Resolution::from_text(&r.to_text()).as_ref(), Some(&r));
        assert!(r.covers(&["libc6"]));
        assert!(!r.covers(&["libc6", "busybox-static"]));
        assert_eq!(Resolution::from_text("libc6\t1\tsid\n"), None);
    }

    #[test]
    fn command_lines() {
        assert_eq!(
            command_line(initramfs::Mode::Smoke, &[], Some("protected")),
            "kvm-arm.mode=protected console=ttyAMA0 panic=-1 rdinit=/init xtask.mode=smoke"
        );
        assert_eq!(
            command_line(initramfs::Mode::Xtest, &["-t", "regression", "1004"], None),
            "console=ttyAMA0 panic=-1 rdinit=/init xtask.mode=xtest xtask.xtest=-t,regression,1004"
        );
    }

    #[test]
    fn private_apt_is_for_arm64_binaries_inside_build() {
        let root = std::env::temp_dir().join(format!("xtask-linux-{}", std::process::id()));
        // Needs the machine's own mirror; skipped where /etc/apt names none.
        if let Ok(conf) = private_apt(&root) {
            let text = std::fs::read_to_string(&conf).unwrap_or_default();
            assert!(
                text.contains("APT::Architectures { \"arm64\"; };"),
                "{text}"
            );
            let sid =
                std::fs::read_to_string(linux_dir(&root).join("apt/sources.list.d/sid.sources"))
                    .unwrap_or_default();
            assert!(
                sid.starts_with("Types: deb\n") && sid.contains("Suites: sid\n"),
                "{sid}"
            );
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}
