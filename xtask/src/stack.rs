//! `cargo xtask build`: host tools, the images, TF-A and the flash image, each step timed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::console::{self, Result};
use crate::images::{self, Images};
use crate::toolchain::{self, BARE_METAL_TARGET};
use crate::{prereq, tfa};

/// Options of `cargo xtask build`.
#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// Build TF-A with the bench flag set (DEBUG=0, the peers' features) instead of debug.
    #[arg(long)]
    pub bench: bool,
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
    let built = prepare(root, profile, false)?;
    console::header("built");
    console::note(&format!("flash image: {}", built.bios.display()));
    Ok(())
}

/// Everything a boot needs: host tools, images (unless `reuse_images`), TF-A.
pub fn prepare(root: &Path, profile: tfa::Profile, reuse_images: bool) -> Result<Built> {
    let mut timings = Vec::new();
    let start = Instant::now();
    prereq::ensure()?;
    timings.push(("host tools", start.elapsed()));

    let start = Instant::now();
    let images = if reuse_images {
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

    let start = Instant::now();
    console::header(&format!("TF-A {} ({})", source.version, profile.name()));
    let inputs = tfa::Inputs {
        bl32: images.spmc.clone(),
        bl33: images.bl33.clone(),
        sp_images: images.sp.clone(),
        manifests: root.join("sp-manifests"),
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
