//! Where things are on QEMU virt (the memory map) and in the proxy's own image.

use crate::ProxyConfig;

/// UART0, the normal world's PL011 (one page).
pub const UART0: (u64, u64) = (0x0900_0000, 0x0900_1000);
/// The GICv3 distributor: the host owns the interrupt controller, as under pKVM.
pub const GICD: (u64, u64) = (0x0800_0000, 0x0801_0000);
/// The four cores' GICv3 redistributors (two 64 KiB frames each).
pub const GICR: (u64, u64) = (0x080a_0000, 0x080a_0000 + 4 * 0x2_0000);
/// The memory the host runs in and may hand the proxy (QEMU's DTB sits at its start).
pub const HOST_RAM: (u64, u64) = (0x4000_0000, 0x6000_0000);
/// Where QEMU puts its DTB (the host gets this address in x0, as from a boot loader).
pub const QEMU_DTB: u64 = 0x4000_0000;
/// Where the embedded client is copied and entered.
pub const CLIENT_LOAD: u64 = 0x4400_0000;
/// The most client image the memory map leaves room for.
pub const CLIENT_MAX: usize = 0x10_0000;
/// The scenario selector word (u32, little endian) QEMU's loader writes in host RAM; the
/// proxy reads it only to see whether the benchmark is asked for.
pub const SELECTOR: u64 = 0x4700_0000;
/// The proxy's own RX/TX buffers (one page each), outside the host's stage-2.
pub const MAILBOX: (u64, u64) = (0x6100_0000, 0x6100_2000);

/// The proxy core's configuration.
pub const CONFIG: ProxyConfig = ProxyConfig {
    tx: 0x6100_0000,
    rx: 0x6100_1000,
    pages: 1,
    host_ram: HOST_RAM,
};

unsafe extern "C" {
    static __text_start: u8;
    static __rodata_start: u8;
    static __data_start: u8;
    static __image_end: u8;
}

/// Page-aligned boundaries of the proxy's image (linker script).
pub struct Image {
    /// Code (read-only, executable).
    pub text: u64,
    /// Read-only data (the embedded client too).
    pub rodata: u64,
    /// Data, .bss, page tables and stacks, up to `end`.
    pub data: u64,
    /// End of the image.
    pub end: u64,
}

/// The proxy's image as linked.
pub fn image() -> Image {
    // Only the symbols' addresses are taken; nothing is read through them.
    Image {
        text: &raw const __text_start as u64,
        rodata: &raw const __rodata_start as u64,
        data: &raw const __data_start as u64,
        end: &raw const __image_end as u64,
    }
}
