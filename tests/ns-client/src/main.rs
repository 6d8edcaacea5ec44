//! The NS-EL1 client image (built for aarch64-unknown-none-softfloat and embedded in the proxy):
//! the entry points and the run live in the library's arch layer (`ns_client::arch`); this
//! binary links them and handles panics.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    ns_client::arch::fail(format_args!("panic: {info}"))
}
