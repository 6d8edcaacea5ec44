//! The core's [`Platform`]: copies to and from physical memory through the stage-1 identity
//! map, only inside the windows that map holds for that purpose (admitted partitions' memory
//! in the secure space, the manifest's `ns-memory` ranges in the non-secure one). Copies go
//! through `spmc_copy`, which survives a synchronous external abort: memory the platform
//! protects inside a window answers the caller with an FF-A error instead of parking the core.

use core::arch::asm;

use aarch64_cpu::asm::barrier;
use ffa::EndpointId;
use heapless::Vec;

use crate::manifest::MAX_PARTITIONS;
use crate::memory_map::MAX_MEMORY_RANGES;
use crate::platform::{MemFault, Platform, Space, cache_lines};

use super::asm::spmc_copy;
use super::gic;
use super::mmu::{map_shared, unmap_shared};
use super::run::{affinity_of, mpidr_of, stage2_of};
use crate::interrupts::GicSetting;
use crate::pagetable::{Attributes, MemType};
use crate::spmc::CpuId;
use ffa::memory::permissions as perm;

/// One window: a physical range of one space the stage-1 map covers (identity, RW).
#[derive(Clone, Copy, Debug)]
struct Window {
    space: Space,
    base: u64,
    len: u64,
}

/// Physical memory the SPMC may copy.
#[derive(Debug, Default)]
pub struct ArchPlatform {
    windows: Vec<Window, { MAX_PARTITIONS + MAX_MEMORY_RANGES }>,
}

impl ArchPlatform {
    /// No window yet.
    pub const fn new() -> Self {
        Self {
            windows: Vec::new(),
        }
    }

    /// Allows copies in `[base, base + len)` of `space`. The caller has mapped it RW in the
    /// stage-1 map (non-secure windows with the NS bit), at the same address.
    pub fn add_window(&mut self, space: Space, base: u64, len: u64) -> Result<(), MemFault> {
        base.checked_add(len).ok_or(MemFault)?;
        self.windows
            .push(Window { space, base, len })
            .map_err(|_| MemFault)
    }

    /// Checks that `[addr, addr + len)` lies in one window of `space`.
    fn check(&self, space: Space, addr: u64, len: usize) -> Result<(), MemFault> {
        let end = addr.checked_add(len as u64).ok_or(MemFault)?;
        let inside = self
            .windows
            .iter()
            .any(|w| w.space == space && addr >= w.base && end <= w.base + w.len);
        if inside { Ok(()) } else { Err(MemFault) }
    }
}

impl Platform for ArchPlatform {
    fn read(&self, space: Space, addr: u64, buf: &mut [u8]) -> Result<(), MemFault> {
        self.check(space, addr, buf.len())?;
        // SAFETY: `check` put [addr, addr + len) inside a window the stage-1 map holds as
        // readable normal memory at that address (NS windows in the NS space); `buf` is ours.
        // Other cores (partitions, the normal world) may write the window meanwhile: the
        // copy's byte loads give whatever is there, and the core checks the copy, never the
        // source. A load that aborts (memory the platform protects) ends the copy with 1.
        let failed = unsafe { spmc_copy(buf.as_mut_ptr(), addr as *const u8, buf.len()) };
        if failed == 0 { Ok(()) } else { Err(MemFault) }
    }

    fn write(&mut self, space: Space, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        self.check(space, addr, data.len())?;
        // SAFETY: as for `read`; the windows are mapped writable and never hold the SPMC's
        // own memory (the stage-1 map refuses overlaps with the image).
        let failed = unsafe { spmc_copy(addr as *mut u8, data.as_ptr(), data.len()) };
        if failed == 0 { Ok(()) } else { Err(MemFault) }
    }

    fn covers(&self, space: Space, addr: u64, len: u64) -> bool {
        usize::try_from(len).is_ok_and(|len| self.check(space, addr, len).is_ok())
    }

    fn map_for(
        &mut self,
        partition: EndpointId,
        space: Space,
        addr: u64,
        len: u64,
        permissions: u8,
    ) -> Result<(), MemFault> {
        let s2 = stage2_of(partition).ok_or(MemFault)?;
        let attributes = Attributes {
            mem: MemType::Normal,
            write: permissions & perm::DATA_MASK == perm::DATA_RW,
            exec: permissions & perm::INSTRUCTION_MASK == perm::INSTRUCTION_X,
            non_secure: false,
        };
        map_shared(&s2, space == Space::NonSecure, addr, len, attributes).map_err(|_| MemFault)
    }

    fn unmap_for(&mut self, partition: EndpointId, space: Space, addr: u64, len: u64) {
        // The core unmaps only what it mapped, or a lender's own window (mapped by pages).
        if let Some(s2) = stage2_of(partition) {
            let _ = unmap_shared(&s2, space == Space::NonSecure, addr, len);
        }
    }

    fn clean_to_poc(&mut self, space: Space, addr: u64, len: usize) {
        // Only a range the SPMC may copy (it just wrote it).
        if self.check(space, addr, len).is_ok() {
            clean_lines(addr, len);
        }
    }

    fn gic_configure(&mut self, setting: &GicSetting) {
        if let Some(mpidr) = mpidr_of(setting.target) {
            gic::configure(setting, mpidr);
        }
    }

    fn gic_acknowledge(&mut self) -> Option<u32> {
        gic::acknowledge()
    }

    fn gic_end(&mut self, intid: u32) {
        gic::end(intid);
    }

    fn send_ns_sgi(&mut self, cpu: CpuId, intid: u32) {
        if let Some(core) = affinity_of(cpu) {
            gic::send_ns_sgi(intid, core);
        }
    }
}

/// The smallest data cache line of this core, in bytes (CTR_EL0.DminLine).
fn data_cache_line() -> u64 {
    let ctr: u64;
    // SAFETY: reads an ID register; no memory or state changes.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
    4 << ((ctr >> 16) & 0xf)
}

/// Cleans `[addr, addr + len)` to the point of coherency. A partition may run with its caches
/// off (as it starts): it then reads memory, and must find there what the SPMC wrote through
/// its cacheable map (the boot-information blob, its RX buffer).
fn clean_lines(addr: u64, len: usize) {
    for at in cache_lines(addr, len, data_cache_line()) {
        // SAFETY: `at` starts a line of a range in a window the caller checked, mapped by the
        // stage-1 map; DC CVAC writes a cache line back to memory and changes no data.
        unsafe { asm!("dc cvac, {}", in(reg) at, options(nostack, preserves_flags)) };
    }
    barrier::dsb(barrier::SY);
}
