//! `cargo xtask build`: host tools, the images, TF-A and the flash image, each step timed.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::console::{self, Error, Result};
use crate::images::{self, Images};
use crate::toolchain::{self, BARE_METAL_TARGET};
use crate::{optee, prereq, tfa};

/// Which secure world and BL33 a flash image holds.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    /// The test partitions under the proxy and the NS-EL1 client: the scenario matrix.
    Scenarios,
    /// The test partitions and OP-TEE OS, under the proxy and the NS-EL1 client.
    Optee,
    /// The test partitions and OP-TEE OS, under U-Boot and Debian's Linux with pKVM.
    Linux,
}

impl Stack {
    /// The stack `scenario` runs on.
    pub fn of(scenario: &scenarios::Scenario) -> Self {
        match scenario.stack {
            scenarios::Stack::TestPartitions => Self::Scenarios,
            scenarios::Stack::Optee => Self::Optee,
        }
    }

    /// What it holds, for headers.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Scenarios => "the test partitions",
            Self::Optee => "the test partitions and OP-TEE OS",
            Self::Linux => "the test partitions and OP-TEE OS under Linux with pKVM",
        }
    }

    fn manifests(self) -> tfa::ManifestSet {
        match self {
            Self::Scenarios => tfa::ManifestSet::SCENARIOS,
            Self::Optee | Self::Linux => tfa::ManifestSet::CLIENTS,
        }
    }

    /// Its TF-A build's directory name.
    fn build_name(self, profile: tfa::Profile) -> String {
        match self {
            Self::Scenarios => profile.name().to_owned(),
            Self::Optee => format!("{}-optee", profile.name()),
            Self::Linux => format!("{}-linux", profile.name()),
        }
    }

    /// TF-A flags on top of the profile's: Linux 7.x at EL2 on `-cpu max` uses features whose
    /// EL3 enables TF-A's QEMU platform leaves off (docs: real-clients.md §2.4).
    fn extra_flags(self) -> &'static [&'static str] {
        match self {
            Self::Scenarios | Self::Optee => &[],
            Self::Linux => LINUX_FEATURE_FLAGS,
        }
    }
}

/// See [`Stack::extra_flags`]: each `=2`, enabled where the CPU has it.
const LINUX_FEATURE_FLAGS: &[&str] = &[
    "ENABLE_FEAT_TCR2=2",
    "ENABLE_FEAT_S1PIE=2",
    "ENABLE_FEAT_S2PIE=2",
    "ENABLE_FEAT_S1POE=2",
    "ENABLE_FEAT_S2POE=2",
    "ENABLE_FEAT_SCTLR2=2",
    "ENABLE_FEAT_GCS=2",
    "ENABLE_FEAT_THE=2",
    "ENABLE_FEAT_FGT2=2",
    "ENABLE_FEAT_MTE2=2",
    "ENABLE_FEAT_CSV2_3=2",
    "ENABLE_FEAT_DEBUGV8P9=2",
    "ENABLE_SYS_REG_TRACE_FOR_NS=2",
    "ENABLE_FEAT_TWED=2",
];

impl Stack {
    /// Whether it has OP-TEE OS.
    fn has_optee(self) -> bool {
        matches!(self, Self::Optee | Self::Linux)
    }
}

/// Options of `cargo xtask build`.
#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// Build TF-A with the bench flag set (DEBUG=0, the peers' features) instead of debug.
    #[arg(long)]
    pub bench: bool,
    /// Which stack.
    #[arg(long, value_enum, default_value_t = Stack::Scenarios)]
    pub stack: Stack,
}

/// A built stack.
pub struct Built {
    /// The images.
    pub images: Images,
    /// The flash image.
    pub bios: PathBuf,
    /// TF-A's Debian version.
    pub tfa_version: String,
    /// How long each step took.
    pub timings: Vec<(&'static str, Duration)>,
}

/// `cargo xtask build`.
pub fn command(root: &Path, args: &BuildArgs) -> Result<()> {
    let profile = if args.bench {
        tfa::Profile::Bench
    } else {
        tfa::Profile::Debug
    };
    let built = if args.stack == Stack::Linux {
        crate::client_stack::prepare(root)?.0
    } else {
        prepare(root, profile, args.stack, false)?
    };
    console::header("built");
    console::note(&format!("flash image: {}", built.bios.display()));
    Ok(())
}

/// Everything a boot of `stack` needs: host tools, images (unless `reuse_images`), OP-TEE OS
/// where the stack has it, TF-A (BL33 the proxy, or `bl33` for the Linux stack).
pub fn prepare(
    root: &Path,
    profile: tfa::Profile,
    stack: Stack,
    reuse_images: bool,
) -> Result<Built> {
    prepare_with(root, profile, stack, reuse_images, None)
}

/// [`prepare`] with BL33 given (U-Boot, for the Linux stack).
pub fn prepare_with(
    root: &Path,
    profile: tfa::Profile,
    stack: Stack,
    reuse_images: bool,
    bl33: Option<PathBuf>,
) -> Result<Built> {
    let _lock = build_lock(root)?;
    let mut timings = Vec::new();
    let start = Instant::now();
    prereq::ensure()?;
    timings.push(("host tools", start.elapsed()));

    let start = Instant::now();
    let mut images = if reuse_images {
        existing_images(root)
    } else {
        console::header(&format!("images ({BARE_METAL_TARGET}, release)"));
        toolchain::ensure_target(root, BARE_METAL_TARGET)?;
        images::build(root)?
    };
    console::header("image sizes");
    images::report_sizes(&images)?;
    timings.push(("images", start.elapsed()));

    let start = Instant::now();
    let source = tfa::source(root)?;
    timings.push(("TF-A source", start.elapsed()));

    let mut sp_images = images.sp.clone();
    if stack.has_optee() {
        let start = Instant::now();
        let source = optee::source(root)?;
        console::header(&format!("OP-TEE OS {}", source.version));
        let built = optee::build(root, &source)?;
        console::note(&format!(
            "OP-TEE OS {}: {}",
            built.version,
            built.image.display()
        ));
        sp_images.push(built.image);
        // For the bench's flat profile of OP-TEE's row.
        images
            .elves
            .extend(built.elf.map(|elf| (optee::ELF_NAME.to_owned(), elf)));
        timings.push(("OP-TEE OS", start.elapsed()));
    }

    let start = Instant::now();
    let name = stack.build_name(profile);
    console::header(&format!("TF-A {} ({name})", source.version));
    let inputs = tfa::Inputs {
        bl32: images.spmc.clone(),
        bl33: bl33.unwrap_or_else(|| images.bl33.clone()),
        sp_images,
        manifests: root.join("sp-manifests"),
        set: stack.manifests(),
        name,
        extra_flags: stack.extra_flags(),
    };
    let built = tfa::build(root, &source, profile, &inputs)?;
    timings.push(("TF-A build", start.elapsed()));
    console::note(&format!("flash image {}", built.bios.display()));
    let summary: Vec<String> = timings
        .iter()
        .map(|(what, took)| format!("{what} {:.1} s", took.as_secs_f64()))
        .collect();
    console::note(&format!("times: {}", summary.join(", ")));
    Ok(Built {
        images,
        bios: built.bios,
        tfa_version: source.version,
        timings,
    })
}

/// Serialises builds of several xtask processes in one tree (they would overwrite each other's
/// images and TF-A output); released when dropped.
fn build_lock(root: &Path) -> Result<File> {
    let dir = root.join("build");
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(".xtask-build.lock");
    let file = File::create(&path)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", path.display())))?;
    if file.try_lock().is_err() {
        console::note("waiting for another `cargo xtask` build in this tree");
        file.lock()
            .map_err(|e| Error::new(format!("cannot lock {}: {e}", path.display())))?;
    }
    Ok(file)
}

/// A private copy of the flash image for this process's boots, so a build running meanwhile
/// in the same tree cannot change what they boot; deleted when dropped.
pub struct Flash(PathBuf);

impl Flash {
    /// Copies `built`'s flash image.
    pub fn of(root: &Path, built: &Built) -> Result<Self> {
        let dir = root.join("build").join("qemu");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(format!("flash-{}.bios", std::process::id()));
        std::fs::copy(&built.bios, &path)
            .map_err(|e| Error::new(format!("cannot copy the flash image: {e}")))?;
        Ok(Self(path))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Flash {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The images a previous build left under `build/`.
fn existing_images(root: &Path) -> Images {
    let out = root.join("build");
    let elf_dir = root.join("target").join(BARE_METAL_TARGET).join("release");
    let names = ["spmc", "proxy", "ns-client"]
        .into_iter()
        .chain(images::SP_IMAGES.iter().copied());
    Images {
        spmc: out.join("spmc.bin"),
        bl33: out.join("bl33.bin"),
        ns_client: out.join("ns-client.bin"),
        sp: images::SP_IMAGES
            .iter()
            .map(|n| out.join("sp").join(format!("{n}.bin")))
            .collect(),
        elves: names.map(|n| (n.to_owned(), elf_dir.join(n))).collect(),
    }
}
