//! Links the bare-metal image with linker/spmc.ld (host builds of the placeholder main keep
//! the default link).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        let script = std::path::Path::new(&dir).join("../linker/spmc.ld");
        println!("cargo:rerun-if-changed={}", script.display());
        println!("cargo:rustc-link-arg-bin=spmc=-T{}", script.display());
    }
}
