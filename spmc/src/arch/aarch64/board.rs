//! QEMU virt as the SPMC sees it: the devices it keeps for itself, which no partition may be
//! given, and the normal-world RAM it assumes when the manifest has no `ns-memory` node.

use heapless::Vec;

use crate::memory_map::{Range, SpmcResource};

use super::console::UART_BASE;
use super::mmu::{self, MANIFEST_PAGE_SIZE};

/// The secure UART's register page.
const UART_SIZE: u64 = 0x1000;
/// The GICv3 distributor (QEMU virt `VIRT_GIC_DIST`).
const GICD_BASE: u64 = 0x0800_0000;
const GICD_SIZE: u64 = 0x1_0000;
/// The GICv3 redistributor region (QEMU virt `VIRT_GIC_REDIST`, room for 123 cores).
const GICR_BASE: u64 = 0x080a_0000;
const GICR_SIZE: u64 = 0xf6_0000;

/// Normal-world RAM without an `ns-memory` node: QEMU virt's RAM at 1 GiB, `-m` up to 1 GiB.
pub const DEFAULT_NS_RAM: Range = match Range::new(0x4000_0000, 0x4000_0000) {
    Some(range) => range,
    None => panic!("empty range"),
};

/// What the SPMC uses besides its manifest's image window: its image as linked (code, data,
/// stacks, page tables), the page of its manifest at `manifest`, its UART and the GIC.
pub fn reserved(manifest: u64) -> Vec<(SpmcResource, Range), 5> {
    let (image_start, image_end) = mmu::image();
    let page = manifest & !(MANIFEST_PAGE_SIZE - 1);
    let mut reserved = Vec::new();
    for (what, start, len) in [
        (
            SpmcResource::Image,
            image_start,
            image_end.saturating_sub(image_start),
        ),
        (SpmcResource::Manifest, page, MANIFEST_PAGE_SIZE),
        (SpmcResource::Uart, UART_BASE, UART_SIZE),
        (SpmcResource::GicDistributor, GICD_BASE, GICD_SIZE),
        (SpmcResource::GicRedistributors, GICR_BASE, GICR_SIZE),
    ] {
        if let Some(range) = Range::new(start, len) {
            // Five entries for five places.
            let _ = reserved.push((what, range));
        }
    }
    reserved
}
