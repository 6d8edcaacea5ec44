//! For the bare-metal target, links each partition image with its own linker script
//! (linker/sp-<bin>.ld: its load address decides where it runs). Host builds of the bins stay
//! plain programs.

use std::env;
use std::path::PathBuf;

const IMAGES: [&str; 4] = ["echo", "relay", "legacy", "hostile"];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    for bin in IMAGES {
        let script = manifest.join(format!("../../linker/sp-{bin}.ld"));
        println!("cargo:rerun-if-changed={}", script.display());
        println!("cargo:rustc-link-arg-bin={bin}=-T{}", script.display());
    }
}
