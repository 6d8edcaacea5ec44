//! The bare-metal image (BL32, built for aarch64-unknown-none-softfloat): the SPMC at S-EL2.
//! Everything lives in the library's arch layer; the entry point is `spmc_entry`, at the
//! start of the image (linker/spmc.ld).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    spmc::arch::aarch64::panicked(info)
}
