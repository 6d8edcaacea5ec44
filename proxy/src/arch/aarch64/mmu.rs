//! The proxy's own stage-1 (EL2) and the host's stage-2, both identity maps built with
//! aarch64-paging from static pools (no heap).
//!
//! Memory types: the proxy's image and mailbox are Normal write-back. Host RAM is Normal
//! non-cacheable in the proxy's stage-1: the host (the test client) runs with its MMU off, so
//! every access it makes is non-cacheable, and the proxy's copies must see the same bytes
//! without cache maintenance. (A host with caches on would need write-back here.)

use core::arch::asm;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};

use aarch64_paging::MapError;
use aarch64_paging::descriptor::{
    El23Attributes, PagingAttributes, PhysicalAddress, Stage2Attributes,
};
use aarch64_paging::paging::{
    Constraints, El2, MemoryRegion, PageTable, RootTable, Stage2, Translation,
};

use spin::Mutex;

use super::entry::WARM_PARAMS;
use super::layout;

/// MAIR_EL2: 0 = Device-nGnRE, 1 = Normal write-back RW-allocate, 2 = Normal non-cacheable.
const MAIR: u64 = 0x04 | 0xff << 8 | 0x44 << 16;

/// TCR_EL2: 39-bit VA (T0SZ 25, start at level 1), 4 KiB granule, walks inner-shareable
/// write-back, 40-bit PA, RES1 bits 23 and 31.
const TCR: u64 = 25 | 1 << 8 | 1 << 10 | 3 << 12 | 2 << 16 | 1 << 23 | 1 << 31;

/// SCTLR_EL2: MMU, D-cache, SP alignment check, I-cache, write-implies-XN, over the RES1
/// bits (little-endian, no alignment fault for data).
const SCTLR: u64 = 0x30c5_0830 | 1 | 1 << 2 | 1 << 3 | 1 << 12 | 1 << 19;

/// VTCR_EL2: 39-bit IPA starting at level 1 (SL0 = 1), 4 KiB granule, walks inner-shareable
/// write-back, 40-bit PA, RES1 bit 31.
pub const VTCR: u64 = 25 | 1 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 2 << 16 | 1 << 31;

const NORMAL: El23Attributes = El23Attributes::VALID
    .union(El23Attributes::ATTRIBUTE_INDEX_1)
    .union(El23Attributes::INNER_SHAREABLE)
    .union(El23Attributes::ACCESSED)
    .union(El23Attributes::USER_RES1);
const NORMAL_NC: El23Attributes = El23Attributes::VALID
    .union(El23Attributes::ATTRIBUTE_INDEX_2)
    .union(El23Attributes::INNER_SHAREABLE)
    .union(El23Attributes::ACCESSED)
    .union(El23Attributes::USER_RES1)
    .union(El23Attributes::XN);
const DEVICE: El23Attributes = El23Attributes::VALID
    .union(El23Attributes::ATTRIBUTE_INDEX_0)
    .union(El23Attributes::ACCESSED)
    .union(El23Attributes::USER_RES1)
    .union(El23Attributes::XN);

const HOST_NORMAL: Stage2Attributes = Stage2Attributes::VALID
    .union(Stage2Attributes::MEMATTR_NORMAL_INNER_WB)
    .union(Stage2Attributes::MEMATTR_NORMAL_OUTER_WB)
    .union(Stage2Attributes::S2AP_ACCESS_RW)
    .union(Stage2Attributes::SH_INNER)
    .union(Stage2Attributes::ACCESS_FLAG);
const HOST_DEVICE: Stage2Attributes = Stage2Attributes::VALID
    .union(Stage2Attributes::MEMATTR_DEVICE_nGnRE)
    .union(Stage2Attributes::S2AP_ACCESS_RW)
    .union(Stage2Attributes::ACCESS_FLAG)
    .union(Stage2Attributes::XN);

static mut STAGE1_TABLES: [PageTable<El23Attributes>; 16] = [PageTable::EMPTY; 16];
/// The host's stage-2 tables: host RAM is mapped by pages (256 level-3 tables for its 512 MiB),
/// so that a page can leave and come back without splitting a block under a running host.
static mut STAGE2_TABLES: [PageTable<Stage2Attributes>; 272] = [PageTable::EMPTY; 272];
static STAGE1_TAKEN: AtomicBool = AtomicBool::new(false);
static STAGE2_TAKEN: AtomicBool = AtomicBool::new(false);

/// Hands out the zeroed tables of one static pool, each once; tables are never freed (the maps
/// live as long as the proxy).
struct TablePool<A: PagingAttributes> {
    next: NonNull<PageTable<A>>,
    left: usize,
}

impl<A: PagingAttributes> TablePool<A> {
    /// A pool over `tables`, which nothing else may use.
    fn new<const N: usize>(tables: *mut [PageTable<A>; N]) -> Self {
        let next = NonNull::new(tables.cast::<PageTable<A>>()).expect("pool is a static");
        Self { next, left: N }
    }
}

impl<A: PagingAttributes> Translation<A> for TablePool<A> {
    fn allocate_table(&mut self) -> (NonNull<PageTable<A>>, PhysicalAddress) {
        // Running out is a build-time sizing error of the maps below.
        assert!(self.left > 0, "page-table pool exhausted");
        let table = self.next;
        // SAFETY: `left > 0` tables remain from `next` on, so `next + 1` is inside the pool or
        // one past its end.
        self.next = unsafe { table.add(1) };
        self.left -= 1;
        // Identity map: a table's address is its physical address.
        (table, PhysicalAddress(table.as_ptr() as usize))
    }

    unsafe fn deallocate_table(&mut self, _table: NonNull<PageTable<A>>) {}

    fn physical_to_virtual(&self, pa: PhysicalAddress) -> NonNull<PageTable<A>> {
        NonNull::new(pa.0 as *mut PageTable<A>).expect("no table at address 0")
    }
}

fn map<R: aarch64_paging::paging::TranslationRegime, T: Translation<R::Attributes>>(
    table: &mut RootTable<R, T>,
    (start, end): (u64, u64),
    flags: R::Attributes,
) -> Result<(), MapError> {
    map_with(table, (start, end), flags, Constraints::empty())
}

fn map_with<R: aarch64_paging::paging::TranslationRegime, T: Translation<R::Attributes>>(
    table: &mut RootTable<R, T>,
    (start, end): (u64, u64),
    flags: R::Attributes,
    constraints: Constraints,
) -> Result<(), MapError> {
    let region = MemoryRegion::new(start as usize, end as usize);
    table.map_range(&region, PhysicalAddress(start as usize), flags, constraints)
}

/// The host's stage-2, kept to take pages away and give them back.
struct HostStage2(RootTable<Stage2, TablePool<Stage2Attributes>>);

// SAFETY: the tables are statics reached only through this value, which lives in a lock.
unsafe impl Send for HostStage2 {}

static HOST_STAGE2: Mutex<Option<HostStage2>> = Mutex::new(None);

/// Takes host RAM `[start, end)` (whole pages) out of the host's stage-2 (`on` false: every
/// core's TLBs forget it before this returns) or puts it back (`on` true). Host RAM is mapped
/// by pages from boot, so no table is allocated or split here.
pub fn host_pages(start: u64, end: u64, on: bool) -> Result<(), crate::MemFault> {
    let (ram_start, ram_end) = layout::HOST_RAM;
    let pages = start.is_multiple_of(4096) && end.is_multiple_of(4096);
    if start >= end || start < ram_start || end > ram_end || !pages {
        return Err(crate::MemFault);
    }
    let mut guard = HOST_STAGE2.lock();
    let Some(HostStage2(table)) = guard.as_mut() else {
        return Err(crate::MemFault);
    };
    let flags = if on {
        HOST_NORMAL
    } else {
        Stage2Attributes::empty()
    };
    map_with(table, (start, end), flags, Constraints::NO_BLOCK_MAPPINGS)
        .map_err(|_| crate::MemFault)?;
    if on {
        // Invalid to valid: no stale entry to remove; the walker must see the new one.
        // SAFETY: barriers only.
        unsafe { asm!("dsb ishst", "isb", options(nostack, preserves_flags)) };
    } else {
        for page in (start..end).step_by(4096) {
            // SAFETY: TLB maintenance by IPA for the current VMID (the host's, VTTBR_EL2 is
            // set once at boot), broadcast to every core; touches no memory.
            unsafe {
                asm!(
                    "dsb ishst",
                    "tlbi ipas2e1is, {ipa}",
                    ipa = in(reg) page >> 12,
                    options(nostack, preserves_flags)
                )
            };
        }
        // SAFETY: completes the invalidations, then drops combined stage-1+2 entries.
        unsafe {
            asm!(
                "dsb ish",
                "tlbi vmalle1is",
                "dsb ish",
                "isb",
                options(nostack, preserves_flags)
            )
        };
    }
    Ok(())
}

/// Builds the proxy's stage-1 and turns it on with caches, on the primary core (MMU still
/// off: the table writes are plain stores). Publishes the values warm cores load.
///
/// TF-A cleans and invalidates BL33's image to the point of coherency before entering it, and
/// .bss was zeroed with the MMU off (straight to memory), so no stale line hides anything.
pub fn enable_stage1() -> Result<(), MapError> {
    assert!(
        !STAGE1_TAKEN.load(Ordering::Relaxed),
        "stage-1 is built once"
    );
    STAGE1_TAKEN.store(true, Ordering::Relaxed);
    let pool = TablePool::new(&raw mut STAGE1_TABLES);
    let mut table = RootTable::new(pool, 1, El2);
    let image = layout::image();
    map(
        &mut table,
        (image.text, image.rodata),
        NORMAL.union(El23Attributes::READ_ONLY),
    )?;
    map(
        &mut table,
        (image.rodata, image.data),
        NORMAL
            .union(El23Attributes::READ_ONLY)
            .union(El23Attributes::XN),
    )?;
    map(
        &mut table,
        (image.data, image.end),
        NORMAL.union(El23Attributes::XN),
    )?;
    map(&mut table, layout::UART0, DEVICE)?;
    map(&mut table, layout::HOST_RAM, NORMAL_NC)?;
    map(
        &mut table,
        layout::MAILBOX,
        NORMAL.union(El23Attributes::XN),
    )?;
    let root = table.to_physical().0 as u64;
    // The tables stay in use for good.
    core::mem::forget(table);

    for (param, value) in WARM_PARAMS.0.iter().zip([MAIR, TCR, root, SCTLR]) {
        param.store(value, Ordering::Relaxed);
    }
    // SAFETY: the map covers the code, data and stack this core runs on, identity-mapped, so
    // execution continues unchanged once translation is on; the sequence is the architected
    // one (registers, TLB invalidation, then SCTLR with barriers).
    unsafe {
        asm!(
            "dsb sy",
            "msr mair_el2, {mair}",
            "msr tcr_el2, {tcr}",
            "msr ttbr0_el2, {root}",
            "isb",
            "tlbi alle2",
            "dsb nsh",
            "isb",
            "msr sctlr_el2, {sctlr}",
            "isb",
            mair = in(reg) MAIR,
            tcr = in(reg) TCR,
            root = in(reg) root,
            sctlr = in(reg) SCTLR,
            options(nostack),
        );
    }
    Ok(())
}

/// Builds the host's stage-2: host RAM (Normal, RW, executable), UART0 and the GIC's
/// distributor and redistributors (Device), nothing of the proxy's own memory. Returns the VTTBR_EL2 value (VMID 0).
pub fn build_stage2() -> Result<u64, MapError> {
    assert!(
        !STAGE2_TAKEN.swap(true, Ordering::AcqRel),
        "stage-2 is built once"
    );
    let pool = TablePool::new(&raw mut STAGE2_TABLES);
    let mut table = RootTable::new(pool, 1, Stage2);
    map_with(
        &mut table,
        layout::HOST_RAM,
        HOST_NORMAL,
        Constraints::NO_BLOCK_MAPPINGS,
    )?;
    map(&mut table, layout::UART0, HOST_DEVICE)?;
    map(&mut table, layout::GICD, HOST_DEVICE)?;
    map(&mut table, layout::GICR, HOST_DEVICE)?;
    let root = table.to_physical().0 as u64;
    *HOST_STAGE2.lock() = Some(HostStage2(table));
    // Make the tables visible to every core's walker before any core uses them.
    aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::ISH);
    Ok(root)
}
