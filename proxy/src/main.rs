//! The proxy's BL33 image (built for aarch64-unknown-none-softfloat): the entry, the boot flow
//! and the trap handling live in the library's arch layer (`proxy::arch::aarch64`), next to the
//! only `unsafe` code; this binary links them and handles panics.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    proxy::arch::aarch64::fatal(format_args!("panic: {info}"))
}
