//! Embeds the NS-EL1 client image and, for the bare-metal target, links with linker/proxy.ld.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let image = out.join("ns-client.bin");
    println!("cargo:rerun-if-env-changed=NS_CLIENT_BIN");
    match env::var_os("NS_CLIENT_BIN") {
        Some(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            fs::copy(&path, &image)
                .unwrap_or_else(|e| panic!("NS_CLIENT_BIN={}: {e}", path.display()));
        }
        // No client: the proxy boots and says so.
        _ => fs::write(&image, []).expect("write an empty client image"),
    }

    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
        let script = manifest.join("../linker/proxy.ld");
        println!("cargo:rerun-if-changed={}", script.display());
        println!("cargo:rustc-link-arg-bin=proxy=-T{}", script.display());
    }
}
