//! QEMU virt as the SPMC sees it (`crate::memory_map::qemu_virt`), and what only the image
//! itself knows: where it was linked and where its manifest is.

use heapless::Vec;

use crate::memory_map::{Range, SpmcResource, qemu_virt};

use super::mmu::{self, MANIFEST_PAGE_SIZE};

pub use qemu_virt::DEFAULT_NS_RAM;

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
    ] {
        if let Some(range) = Range::new(start, len) {
            let _ = reserved.push((what, range));
        }
    }
    for device in qemu_virt::DEVICES {
        // Five entries for five places.
        let _ = reserved.push(device);
    }
    reserved
}
