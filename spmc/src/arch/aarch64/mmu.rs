//! The SPMC's stage-1 map at S-EL2 and the partitions' stage-2 maps, in the page-table pool
//! the linker script reserves in the image window.
//!
//! Stage 1 (identity): the image (text RX, rodata R, the rest RW and never executable), the
//! SPMC manifest page (R), the secure UART (device), and, once the manifest is parsed and
//! checked, each admitted partition's window (RW) and the manifest's non-secure memory ranges
//! as non-secure memory (for mailbox copies).
//!
//! Stage 2, per partition: its secure IPA space (VSTTBR_EL2) maps exactly its own memory
//! `[load, load + mem_size)` (by pages: it may lend any of it), its manifest's memory regions
//! and its device regions (device memory) to the same addresses, all checked against the
//! memory map at boot; its non-secure IPA space (VTTBR_EL2) starts empty. Memory sharing maps
//! and unmaps pages in either at run time (`map_shared`, `unmap_shared`). Each partition has
//! its own VMID.

use core::arch::asm;
use core::ptr::addr_of;

use spin::mutex::TicketMutex;

use crate::manifest::{PartitionConfig, Region};
use crate::pagetable::{Attributes, MapError, MemType, Pool, Regime, T0SZ, TablePage, Tables};

use super::console::UART_BASE;
use crate::memory_map::qemu_virt::{GICD_BASE, GICR_BASE, GICR_STRIDE};

/// Pages the linker script reserves for translation tables.
pub const POOL_PAGES: usize = 64;
/// The SPMC manifest page (TOS_FW_CONFIG) BL2 leaves for us.
pub const MANIFEST_PAGE_SIZE: u64 = 0x1000;

unsafe extern "C" {
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __image_end: u8;
    static __pagetables_start: u8;
    static __pagetables_end: u8;
    static __stacks_start: u8;
    static __stacks_end: u8;
}

fn symbol(s: *const u8) -> u64 {
    s as u64
}

/// The tables, built by the boot core (the MMU may be off then).
pub struct Maps {
    pool: Pool<'static>,
    stage1: Tables,
}

static MAPS: TicketMutex<Option<Maps>> = TicketMutex::new(None);

/// A partition's translation regime registers, and its tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage2 {
    /// VSTTBR_EL2: the secure IPA space's root.
    pub vsttbr: u64,
    /// VTTBR_EL2: the non-secure IPA space's root and the VMID.
    pub vttbr: u64,
    /// The secure IPA space's tables.
    secure: Tables,
    /// The non-secure IPA space's tables (memory the normal world shares with it).
    non_secure: Tables,
}

/// VTCR_EL2: T0SZ = 32, level-1 start, write-back walks, inner shareable, 4 KiB granule,
/// 36-bit PA, 8-bit VMID; non-secure IPA space walks in secure memory (NSW = 0, our pool)
/// and output to the non-secure PA space (NSA = 1); RES1 bit 31.
pub const VTCR_EL2: u64 =
    T0SZ | (1 << 6) | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 16) | (1 << 30) | (1 << 31);
/// VSTCR_EL2: the secure IPA space alike; its walks and output in the secure PA space
/// (SW = SA = 0).
pub const VSTCR_EL2: u64 = T0SZ | (1 << 6);

/// Builds the stage-1 map of everything known before the manifest is parsed. Runs on the
/// boot core with the MMU off: plain stores only (the pool code uses no atomics).
/// The stage-1 root is the pool's first page, where the secondary cores' entry finds it.
///
/// # Safety
///
/// Call once, on the boot core, before any other core runs and before anything else uses the
/// page-table pool.
pub unsafe fn build_stage1(manifest: u64) -> Result<Maps, MapError> {
    let base = symbol(addr_of!(__pagetables_start));
    let end = symbol(addr_of!(__pagetables_end));
    let pages = ((end - base) / crate::pagetable::PAGE_SIZE) as usize;
    // SAFETY: the linker script reserves [__pagetables_start, __pagetables_end) for the
    // pool, page aligned, in the image's NOLOAD part; per the caller's promise nothing else
    // refers to it, and it lives as long as the image.
    let pages: &'static mut [TablePage] =
        unsafe { core::slice::from_raw_parts_mut(base as *mut TablePage, pages) };
    let mut pool = Pool::new(pages, base);
    let stage1 = pool.new_tables(Regime::El2)?;
    let text = (symbol(addr_of!(__text_start)), symbol(addr_of!(__text_end)));
    let rodata = (
        symbol(addr_of!(__rodata_start)),
        symbol(addr_of!(__rodata_end)),
    );
    let data = (
        symbol(addr_of!(__data_start)),
        symbol(addr_of!(__image_end)),
    );
    for ((start, end), attributes) in [
        (text, Attributes::CODE),
        (rodata, Attributes::RODATA),
        (data, Attributes::DATA),
    ] {
        if end > start {
            pool.map(&stage1, start, start, end - start, attributes)?;
        }
    }
    let page = manifest & !(MANIFEST_PAGE_SIZE - 1);
    pool.map(&stage1, page, page, MANIFEST_PAGE_SIZE, Attributes::RODATA)?;
    pool.map(&stage1, UART_BASE, UART_BASE, 0x1000, Attributes::DEVICE)?;
    // The GIC, for partitions' interrupts (`super::gic`): the distributor and one
    // redistributor per CPU the SPMC may serve.
    pool.map(&stage1, GICD_BASE, GICD_BASE, 0x1_0000, Attributes::DEVICE)?;
    let gicr_len = GICR_STRIDE * crate::partition::MAX_CPUS as u64;
    pool.map(&stage1, GICR_BASE, GICR_BASE, gicr_len, Attributes::DEVICE)?;
    Ok(Maps { pool, stage1 })
}

/// The image as linked: `[start, end)`, code to page tables.
pub fn image() -> (u64, u64) {
    (
        symbol(addr_of!(__text_start)),
        symbol(addr_of!(__image_end)),
    )
}

/// The cores' stacks: `[start, end)`, core 0's at the top.
pub fn stacks() -> (u64, u64) {
    (
        symbol(addr_of!(__stacks_start)),
        symbol(addr_of!(__stacks_end)),
    )
}

impl Maps {
    /// The stage-1 root, for TTBR0_EL2.
    pub fn stage1_root(&self) -> u64 {
        self.pool.root_address(&self.stage1)
    }
}

/// Once the MMU is on (the lock needs atomics): makes the tables available to the rest.
pub fn install(maps: Maps) {
    *MAPS.lock() = Some(maps);
}

/// Adds `[base, base + len)` (secure, RW, never executable) to the stage-1 map.
pub fn map_window(base: u64, len: u64) -> Result<(), MapError> {
    map_stage1(base, len, Attributes::DATA)
}

/// Adds `[base, base + len)` of the non-secure space (RW, never executable) to the stage-1 map.
pub fn map_ns_window(base: u64, len: u64) -> Result<(), MapError> {
    let ns = Attributes {
        non_secure: true,
        ..Attributes::DATA
    };
    map_stage1(base, len, ns)
}

fn map_stage1(base: u64, len: u64, attributes: Attributes) -> Result<(), MapError> {
    let mut maps = MAPS.lock();
    let maps = maps.as_mut().ok_or(MapError::PoolExhausted)?;
    let stage1 = maps.stage1;
    maps.pool.map(&stage1, base, base, len, attributes)?;
    // New mappings over invalid entries need no TLB maintenance, only ordering.
    // SAFETY: barriers only.
    unsafe { asm!("dsb ishst", "isb", options(nostack, preserves_flags)) };
    Ok(())
}

fn region_attributes(r: &Region, device: bool) -> Attributes {
    Attributes {
        mem: if device {
            MemType::Device
        } else {
            MemType::Normal
        },
        write: r.attributes & Region::WRITE != 0,
        exec: !device && r.attributes & Region::EXECUTE != 0,
        non_secure: false,
    }
}

/// Builds a partition's stage 2 with VMID `vmid`.
pub fn build_stage2(config: &PartitionConfig, vmid: u8) -> Result<Stage2, MapError> {
    let mut guard = MAPS.lock();
    let maps = guard.as_mut().ok_or(MapError::PoolExhausted)?;
    let non_secure = maps.pool.new_tables(Regime::Stage2)?;
    let secure = maps.pool.new_tables(Regime::Stage2)?;
    // By pages: the partition may lend or donate any of it later.
    maps.pool.map_pages(
        &secure,
        config.load_address,
        config.load_address,
        config.memory_size,
        Attributes::RWX,
    )?;
    for region in &config.memory_regions {
        // Regions without a fixed base, and non-secure ones, wait for memory sharing.
        let Some(base) = region.base else { continue };
        if region.non_secure {
            continue;
        }
        maps.pool.map(
            &secure,
            base,
            base,
            region.size(),
            region_attributes(region, false),
        )?;
    }
    for region in &config.device_regions {
        let Some(base) = region.base else { continue };
        // Stage 2 cannot output to the non-secure space yet: not mapped rather than mapped to
        // the secure alias the map check did not look at.
        if region.non_secure {
            continue;
        }
        maps.pool.map(
            &secure,
            base,
            base,
            region.size(),
            region_attributes(region, true),
        )?;
    }
    // SAFETY: barriers only: the tables are written before any core walks them.
    unsafe { asm!("dsb ishst", options(nostack, preserves_flags)) };
    Ok(Stage2 {
        vsttbr: maps.pool.root_address(&secure),
        vttbr: maps.pool.root_address(&non_secure) | (u64::from(vmid) << 48),
        secure,
        non_secure,
    })
}

/// Maps `[addr, addr + len)` at the same address of `s2`'s secure or non-secure IPA space, by
/// pages: memory a partition retrieved, or a lender's own memory back after a reclaim.
pub fn map_shared(
    s2: &Stage2,
    non_secure: bool,
    addr: u64,
    len: u64,
    attributes: Attributes,
) -> Result<(), MapError> {
    let mut guard = MAPS.lock();
    let maps = guard.as_mut().ok_or(MapError::PoolExhausted)?;
    let tables = if non_secure {
        &s2.non_secure
    } else {
        &s2.secure
    };
    maps.pool.map_pages(tables, addr, addr, len, attributes)?;
    // New entries replace invalid ones: no TLB entry can hold them yet. The stores reach
    // every walker before the partition runs again.
    // SAFETY: a barrier only.
    unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
    Ok(())
}

/// Unmaps `[addr, addr + len)` from `s2`'s secure or non-secure IPA space and drops every
/// TLB entry of its VMID on every core (a context of it may run on another core right now).
pub fn unmap_shared(s2: &Stage2, non_secure: bool, addr: u64, len: u64) -> Result<(), MapError> {
    let mut guard = MAPS.lock();
    let maps = guard.as_mut().ok_or(MapError::PoolExhausted)?;
    let tables = if non_secure {
        &s2.non_secure
    } else {
        &s2.secure
    };
    maps.pool.unmap(tables, addr, len)?;
    // SAFETY: the entries are invalid in memory (DSB) before the invalidation, which is
    // broadcast (IS) and waited for; TLBI by VMID takes the VMID from VTTBR_EL2, set to the
    // partition's for the invalidation and put back after. VTTBR_EL2 only matters to EL1&0
    // translations, none of which run on this core meanwhile.
    unsafe {
        asm!(
            "dsb ishst",
            "mrs {old}, vttbr_el2",
            "msr vttbr_el2, {vttbr}",
            "isb",
            "tlbi vmalls12e1is",
            "dsb ish",
            "msr vttbr_el2, {old}",
            "isb",
            old = out(reg) _,
            vttbr = in(reg) s2.vttbr,
            options(nostack, preserves_flags),
        )
    };
    Ok(())
}

/// Tables used, for the boot log.
pub fn pool_used() -> usize {
    MAPS.lock().as_ref().map_or(0, |m| m.pool.used())
}

/// Sets the stage-2 control registers of this core (VTCR_EL2, VSTCR_EL2) and drops stale
/// stage-1&2 TLB entries of the EL1&0 regime.
pub fn init_stage2_controls() {
    // SAFETY: VTCR_EL2 and VSTCR_EL2 only take effect for EL1&0 translations, which run only
    // after these writes (the ISB); the TLB invalidation removes entries from whatever ran
    // before. VSTCR_EL2 has no name in the assembler's base architecture: its encoding is
    // S3_4_C2_C6_2.
    unsafe {
        asm!(
            "msr vtcr_el2, {vtcr}",
            "msr S3_4_C2_C6_2, {vstcr}",
            "isb",
            "tlbi alle1",
            "dsb nsh",
            "isb",
            vtcr = in(reg) VTCR_EL2,
            vstcr = in(reg) VSTCR_EL2,
            options(nostack, preserves_flags),
        )
    };
}

/// Makes `s2` the current stage 2 (before entering one of its partition's contexts).
pub fn switch_stage2(s2: &Stage2) {
    // SAFETY: the roots are tables built by `build_stage2` in the pool, never freed; they
    // are used only after this core's next ERET to EL1. VSTTBR_EL2 is S3_4_C2_C6_0.
    unsafe {
        asm!(
            "msr S3_4_C2_C6_0, {vsttbr}",
            "msr vttbr_el2, {vttbr}",
            "isb",
            vsttbr = in(reg) s2.vsttbr,
            vttbr = in(reg) s2.vttbr,
            options(nostack, preserves_flags),
        )
    };
}
