//! Links the bare-metal client with linker/ns-client.ld (host builds need nothing).

use std::env;
use std::path::PathBuf;

fn main() {
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
        let script = manifest.join("../../linker/ns-client.ld");
        println!("cargo:rerun-if-changed={}", script.display());
        println!("cargo:rustc-link-arg-bin=ns-client=-T{}", script.display());
    }
}
