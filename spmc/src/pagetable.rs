//! Translation tables (4 KiB granule, 32-bit input addresses, walks starting at level 1) for
//! the SPMC's own stage-1 map at S-EL2 and the partitions' stage-2 maps.
//!
//! Tables live in a pool of pages the caller hands over with the physical address of its first
//! page; this module only fills arrays of descriptors with plain stores, so the arch layer can
//! build its stage-1 map before its MMU is on (no atomics, which the MMU-off Device memory
//! does not support). Ranges are mapped once: mapping over a valid entry is refused, so two
//! windows can never silently alias. What may be unmapped at run time (memory lent by or to a
//! partition) is mapped by pages, so unmapping never splits a block.

/// Entries per table.
pub const ENTRIES: usize = 512;
/// The granule.
pub const PAGE_SIZE: u64 = 4096;
/// Input addresses are below 4 GiB (TCR/VTCR/VSTCR T0SZ = 32: a level-1 root).
pub const INPUT_LIMIT: u64 = 1 << 32;
/// TnSZ for [`INPUT_LIMIT`].
pub const T0SZ: u64 = 32;
/// Highest output address bit + 1 (PS = 0b001, 36 bits).
pub const OUTPUT_BITS: u32 = 36;

/// One translation table page.
#[derive(Clone)]
#[repr(C, align(4096))]
pub struct TablePage(pub [u64; ENTRIES]);

impl TablePage {
    /// An all-invalid table.
    pub const EMPTY: Self = Self([0; ENTRIES]);
}

/// Which descriptor format a table uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regime {
    /// EL2 stage 1 (single privilege level): MAIR_EL2 index [`MAIR_EL2`], NS bit honoured.
    El2,
    /// Stage 2 (secure or non-secure IPA space).
    Stage2,
}

/// Memory type of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemType {
    /// Normal, write-back cacheable, inner shareable.
    Normal,
    /// Device-nGnRE.
    Device,
}

/// What a mapping allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attributes {
    /// Memory type.
    pub mem: MemType,
    /// Writable.
    pub write: bool,
    /// Executable (never for device memory).
    pub exec: bool,
    /// Output in the non-secure physical address space (EL2 stage 1 only).
    pub non_secure: bool,
}

impl Attributes {
    /// Read-only, executable normal memory (code).
    pub const CODE: Self = Self {
        mem: MemType::Normal,
        write: false,
        exec: true,
        non_secure: false,
    };
    /// Read-only data.
    pub const RODATA: Self = Self {
        mem: MemType::Normal,
        write: false,
        exec: false,
        non_secure: false,
    };
    /// Read-write data, never executed.
    pub const DATA: Self = Self {
        mem: MemType::Normal,
        write: true,
        exec: false,
        non_secure: false,
    };
    /// Read-write, executable normal memory (a partition's own memory at stage 2).
    pub const RWX: Self = Self {
        mem: MemType::Normal,
        write: true,
        exec: true,
        non_secure: false,
    };
    /// Read-write device memory.
    pub const DEVICE: Self = Self {
        mem: MemType::Device,
        write: true,
        exec: false,
        non_secure: false,
    };
}

/// MAIR_EL2 for [`Regime::El2`]: index 0 = Device-nGnRE, index 1 = Normal write-back.
pub const MAIR_EL2: u64 = 0x04 | (0xff << 8);

/// Why a mapping was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// An address or size is not page aligned, or the size is 0.
    Unaligned,
    /// The range reaches past [`INPUT_LIMIT`] or the output past [`OUTPUT_BITS`].
    OutOfRange,
    /// Part of the range is mapped already.
    Overlap,
    /// The pool has no free table left.
    PoolExhausted,
    /// The attributes do not exist in this regime (NS at stage 2).
    BadAttributes,
    /// Part of the range to unmap is not mapped by pages.
    NotMapped,
}

/// A pool of table pages at a known physical address.
pub struct Pool<'a> {
    pages: &'a mut [TablePage],
    base: u64,
    used: usize,
}

/// A translation table tree: its root's index in the pool and its format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tables {
    root: usize,
    regime: Regime,
}

const VALID: u64 = 1;
const TABLE: u64 = 1 << 1;
const AF: u64 = 1 << 10;
const SH_INNER: u64 = 3 << 8;
const XN: u64 = 1 << 54;
const ADDRESS_MASK: u64 = 0x0000_ffff_ffff_f000;

impl<'a> Pool<'a> {
    /// A pool over `pages`, the first at physical address `base` (page aligned; the others
    /// follow it contiguously).
    pub fn new(pages: &'a mut [TablePage], base: u64) -> Self {
        Self {
            pages,
            base,
            used: 0,
        }
    }

    /// Tables in use.
    pub fn used(&self) -> usize {
        self.used
    }

    /// A new, empty tree.
    pub fn new_tables(&mut self, regime: Regime) -> Result<Tables, MapError> {
        Ok(Tables {
            root: self.alloc()?,
            regime,
        })
    }

    /// Physical address of the root table (for TTBR0_EL2, VTTBR_EL2, VSTTBR_EL2).
    pub fn root_address(&self, tables: &Tables) -> u64 {
        self.address(tables.root)
    }

    fn address(&self, index: usize) -> u64 {
        self.base + (index as u64) * PAGE_SIZE
    }

    fn index_of(&self, address: u64) -> Option<usize> {
        let offset = address.checked_sub(self.base)?;
        let index = usize::try_from(offset / PAGE_SIZE).ok()?;
        (offset.is_multiple_of(PAGE_SIZE) && index < self.used).then_some(index)
    }

    fn alloc(&mut self) -> Result<usize, MapError> {
        let index = self.used;
        let page = self.pages.get_mut(index).ok_or(MapError::PoolExhausted)?;
        page.0.fill(0);
        self.used += 1;
        Ok(index)
    }

    /// Maps `[input, input + len)` to `[output, ...)` with `attributes`, with the largest
    /// blocks alignment allows.
    pub fn map(
        &mut self,
        tables: &Tables,
        input: u64,
        output: u64,
        len: u64,
        attributes: Attributes,
    ) -> Result<(), MapError> {
        self.map_with(tables, input, output, len, attributes, false)
    }

    /// As [`Pool::map`], with 4 KiB pages only: what may later be unmapped page by page
    /// ([`Pool::unmap`]) without splitting a block under a running partition.
    pub fn map_pages(
        &mut self,
        tables: &Tables,
        input: u64,
        output: u64,
        len: u64,
        attributes: Attributes,
    ) -> Result<(), MapError> {
        self.map_with(tables, input, output, len, attributes, true)
    }

    /// Unmaps `[input, input + len)`, which must be mapped by pages (not blocks) throughout;
    /// nothing changes otherwise. Table pages stay allocated; the caller invalidates TLBs.
    pub fn unmap(&mut self, tables: &Tables, input: u64, len: u64) -> Result<(), MapError> {
        if len == 0 || !input.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Unaligned);
        }
        let end = input.checked_add(len).ok_or(MapError::OutOfRange)?;
        if end > INPUT_LIMIT {
            return Err(MapError::OutOfRange);
        }
        let mut at = input;
        while at < end {
            self.page_slot(tables, at)?;
            at += PAGE_SIZE;
        }
        let mut at = input;
        while at < end {
            let (table, slot) = self.page_slot(tables, at)?;
            self.set_entry(table, slot, 0)?;
            at += PAGE_SIZE;
        }
        Ok(())
    }

    /// The level-3 table and slot of the page mapping `input`: `NotMapped` if it has none, or
    /// a block maps it.
    fn page_slot(&self, tables: &Tables, input: u64) -> Result<(usize, usize), MapError> {
        let mut table = tables.root;
        for level in 1..=3 {
            let size = block_size(level);
            let slot = ((input / size) % ENTRIES as u64) as usize;
            let entry = self.entry(table, slot)?;
            if entry & VALID == 0 {
                return Err(MapError::NotMapped);
            }
            if level == 3 {
                return Ok((table, slot));
            }
            if entry & TABLE == 0 {
                return Err(MapError::NotMapped);
            }
            table = self
                .index_of(entry & ADDRESS_MASK)
                .ok_or(MapError::NotMapped)?;
        }
        Err(MapError::NotMapped)
    }

    fn map_with(
        &mut self,
        tables: &Tables,
        input: u64,
        output: u64,
        len: u64,
        attributes: Attributes,
        pages_only: bool,
    ) -> Result<(), MapError> {
        if len == 0
            || !input.is_multiple_of(PAGE_SIZE)
            || !output.is_multiple_of(PAGE_SIZE)
            || !len.is_multiple_of(PAGE_SIZE)
        {
            return Err(MapError::Unaligned);
        }
        let end = input.checked_add(len).ok_or(MapError::OutOfRange)?;
        let out_end = output.checked_add(len).ok_or(MapError::OutOfRange)?;
        if end > INPUT_LIMIT || out_end > 1 << OUTPUT_BITS {
            return Err(MapError::OutOfRange);
        }
        if tables.regime == Regime::Stage2 && attributes.non_secure {
            return Err(MapError::BadAttributes);
        }
        // Refuse before writing anything, so a failed map leaves no partial mapping.
        let mut at = input;
        while at < end {
            match self.walk(tables, at) {
                Ok(_) => return Err(MapError::Overlap),
                // Skip the whole unmapped block the walk stopped at.
                Err(span) => at = (at / span + 1) * span,
            }
        }
        let leaf = leaf_bits(tables.regime, attributes);
        let mut offset = 0;
        while offset < len {
            let (va, pa) = (input + offset, output + offset);
            let left = len - offset;
            offset += self.map_one(tables.root, 1, va, pa, left, leaf, pages_only)?;
        }
        Ok(())
    }

    /// Maps the largest block that fits at `va` from level `level` down; returns its size.
    #[allow(clippy::too_many_arguments)]
    fn map_one(
        &mut self,
        table: usize,
        level: u32,
        va: u64,
        pa: u64,
        left: u64,
        leaf: u64,
        pages_only: bool,
    ) -> Result<u64, MapError> {
        let size = block_size(level);
        let slot = ((va / size) % ENTRIES as u64) as usize;
        let entry = self.entry(table, slot)?;
        let fits =
            !pages_only && va.is_multiple_of(size) && pa.is_multiple_of(size) && left >= size;
        if entry & VALID == 0 && (level == 3 || fits) {
            let kind = if level == 3 { TABLE | VALID } else { VALID };
            self.set_entry(table, slot, (pa & ADDRESS_MASK) | leaf | kind)?;
            return Ok(size);
        }
        if level == 3 || entry & (TABLE | VALID) == VALID {
            return Err(MapError::Overlap);
        }
        let next = if entry & VALID == 0 {
            let next = self.alloc()?;
            let address = self.address(next);
            self.set_entry(table, slot, address | TABLE | VALID)?;
            next
        } else {
            self.index_of(entry & ADDRESS_MASK)
                .ok_or(MapError::Overlap)?
        };
        self.map_one(next, level + 1, va, pa, left, leaf, pages_only)
    }

    fn entry(&self, table: usize, slot: usize) -> Result<u64, MapError> {
        self.pages
            .get(table)
            .and_then(|t| t.0.get(slot))
            .copied()
            .ok_or(MapError::PoolExhausted)
    }

    fn set_entry(&mut self, table: usize, slot: usize, value: u64) -> Result<(), MapError> {
        let e = self
            .pages
            .get_mut(table)
            .and_then(|t| t.0.get_mut(slot))
            .ok_or(MapError::PoolExhausted)?;
        *e = value;
        Ok(())
    }

    /// The output address and leaf descriptor `input` translates to, if mapped.
    pub fn translate(&self, tables: &Tables, input: u64) -> Option<(u64, u64)> {
        self.walk(tables, input).ok()
    }

    /// The translation of `input`, or the size of the unmapped block it lies in.
    fn walk(&self, tables: &Tables, input: u64) -> Result<(u64, u64), u64> {
        if input >= INPUT_LIMIT {
            return Err(PAGE_SIZE);
        }
        let mut table = tables.root;
        for level in 1..=3 {
            let size = block_size(level);
            let slot = ((input / size) % ENTRIES as u64) as usize;
            let entry = self.entry(table, slot).map_err(|_| size)?;
            if entry & VALID == 0 {
                return Err(size);
            }
            let is_table = entry & TABLE != 0 && level < 3;
            if !is_table {
                let base = entry & ADDRESS_MASK & !(size - 1);
                return Ok((base + input % size, entry));
            }
            table = self.index_of(entry & ADDRESS_MASK).ok_or(size)?;
        }
        Err(PAGE_SIZE)
    }
}

/// Bytes one entry maps at `level` (1: 1 GiB, 2: 2 MiB, 3: 4 KiB).
const fn block_size(level: u32) -> u64 {
    PAGE_SIZE << (9 * (3 - level))
}

/// The attribute bits of a block or page descriptor.
fn leaf_bits(regime: Regime, a: Attributes) -> u64 {
    let exec = a.exec && a.mem == MemType::Normal;
    let xn = if exec { 0 } else { XN };
    match regime {
        Regime::El2 => {
            let index: u64 = match a.mem {
                MemType::Device => 0,
                MemType::Normal => 1,
            };
            let sh = if a.mem == MemType::Normal {
                SH_INNER
            } else {
                0
            };
            // AP[1] is RES1 at EL2; AP[2] set = read-only.
            let ap = (1 << 6) | if a.write { 0 } else { 1 << 7 };
            let ns = if a.non_secure { 1 << 5 } else { 0 };
            (index << 2) | ns | ap | sh | AF | xn
        }
        Regime::Stage2 => {
            let (mem_attr, sh) = match a.mem {
                // Outer and inner write-back.
                MemType::Normal => (0b1111, SH_INNER),
                // Device-nGnRE.
                MemType::Device => (0b0001, 0),
            };
            // S2AP: bit 6 read, bit 7 write.
            let s2ap = (1 << 6) | if a.write { 1 << 7 } else { 0 };
            (mem_attr << 2) | s2ap | sh | AF | xn
        }
    }
}

/// Stage-1 descriptor fields, for tests and diagnostics.
pub mod fields {
    /// Whether a leaf descriptor forbids execution.
    pub const fn execute_never(desc: u64) -> bool {
        desc & super::XN != 0
    }
    /// Whether a stage-1 leaf is read-only (AP\[2\]).
    pub const fn el2_read_only(desc: u64) -> bool {
        desc & (1 << 7) != 0
    }
    /// A stage-1 leaf's MAIR index.
    pub const fn el2_attr_index(desc: u64) -> u64 {
        (desc >> 2) & 7
    }
    /// Whether a stage-1 leaf outputs to the non-secure space.
    pub const fn el2_non_secure(desc: u64) -> bool {
        desc & (1 << 5) != 0
    }
    /// A stage-2 leaf's MemAttr.
    pub const fn s2_mem_attr(desc: u64) -> u64 {
        (desc >> 2) & 0xf
    }
    /// Whether a stage-2 leaf is writable (S2AP\[1\]).
    pub const fn s2_writable(desc: u64) -> bool {
        desc & (1 << 7) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec;

    const BASE: u64 = 0x0e20_0000;

    fn pool(pages: &mut [TablePage]) -> Pool<'_> {
        Pool::new(pages, BASE)
    }

    #[test]
    fn page_mappings_unmap_and_map_again() {
        let mut pages = vec![TablePage::EMPTY; 16];
        let mut p = pool(&mut pages);
        let t = p.new_tables(Regime::Stage2).unwrap();
        p.map_pages(&t, 0x0e30_0000, 0x0e30_0000, 0x10_0000, Attributes::RWX)
            .unwrap();
        let used = p.used();
        p.unmap(&t, 0x0e3a_0000, 0x2000).unwrap();
        assert_eq!(p.translate(&t, 0x0e3a_0000), None);
        assert_eq!(p.translate(&t, 0x0e3a_1000), None);
        assert_eq!(p.translate(&t, 0x0e3a_2000).map(|x| x.0), Some(0x0e3a_2000));
        assert_eq!(p.translate(&t, 0x0e39_f000).map(|x| x.0), Some(0x0e39_f000));
        // Unmapping what is not mapped changes nothing.
        assert_eq!(p.unmap(&t, 0x0e39_f000, 0x2000), Err(MapError::NotMapped));
        assert_eq!(p.translate(&t, 0x0e39_f000).map(|x| x.0), Some(0x0e39_f000));
        // A page back, read-only; no new table needed.
        let ro = Attributes {
            write: false,
            ..Attributes::DATA
        };
        p.map_pages(&t, 0x0e3a_0000, 0x0e3a_0000, 0x1000, ro)
            .unwrap();
        let (_, d) = p.translate(&t, 0x0e3a_0000).unwrap();
        assert!(!fields::s2_writable(d));
        assert_eq!(p.used(), used);
        // Blocks are never unmapped piecewise.
        let blocks = p.new_tables(Regime::Stage2).unwrap();
        p.map(
            &blocks,
            0x4000_0000,
            0x4000_0000,
            0x20_0000,
            Attributes::DATA,
        )
        .unwrap();
        assert_eq!(
            p.unmap(&blocks, 0x4000_0000, 0x1000),
            Err(MapError::NotMapped)
        );
    }

    #[test]
    fn pages_and_blocks_translate_back() {
        let mut pages = vec![TablePage::EMPTY; 16];
        let mut p = pool(&mut pages);
        let t = p.new_tables(Regime::El2).unwrap();
        // Unaligned to 2 MiB: pages, then a 2 MiB block, then pages.
        p.map(&t, 0x0e10_0000, 0x0e10_0000, 0x0040_0000, Attributes::DATA)
            .unwrap();
        let ns = Attributes {
            non_secure: true,
            ..Attributes::DATA
        };
        p.map(&t, 0x4000_0000, 0x4000_0000, 0x4000_0000, ns)
            .unwrap();
        for va in [
            0x0e10_0000u64,
            0x0e1f_f000,
            0x0e20_0000,
            0x0e3f_f123,
            0x0e4f_f000,
        ] {
            assert_eq!(p.translate(&t, va).map(|x| x.0), Some(va), "{va:#x}");
        }
        assert_eq!(p.translate(&t, 0x0e0f_f000), None);
        assert_eq!(p.translate(&t, 0x0e50_0000), None);
        let (_, d) = p.translate(&t, 0x4800_0000).unwrap();
        assert!(fields::el2_non_secure(d));
        assert!(fields::execute_never(d));
        let (_, d) = p.translate(&t, 0x0e10_0000).unwrap();
        assert!(!fields::el2_non_secure(d));
        assert_eq!(fields::el2_attr_index(d), 1);
        // root + L2 for the first GiB + L3 for 0x0e0.. and 0x0e4..; the NS GiB is one block.
        assert_eq!(p.used(), 4);
    }

    #[test]
    fn attributes_land_in_the_descriptors() {
        let mut pages = vec![TablePage::EMPTY; 8];
        let mut p = pool(&mut pages);
        let t = p.new_tables(Regime::El2).unwrap();
        p.map(&t, 0x1000, 0x1000, 0x1000, Attributes::CODE).unwrap();
        p.map(&t, 0x2000, 0x2000, 0x1000, Attributes::RODATA)
            .unwrap();
        p.map(&t, 0x0904_0000, 0x0904_0000, 0x1000, Attributes::DEVICE)
            .unwrap();
        let d = |va| p.translate(&t, va).unwrap().1;
        assert!(!fields::execute_never(d(0x1000)) && fields::el2_read_only(d(0x1000)));
        assert!(fields::execute_never(d(0x2000)) && fields::el2_read_only(d(0x2000)));
        let uart = d(0x0904_0000);
        assert_eq!(fields::el2_attr_index(uart), 0);
        assert!(fields::execute_never(uart) && !fields::el2_read_only(uart));
        assert_eq!(
            (MAIR_EL2 >> (8 * fields::el2_attr_index(uart))) & 0xff,
            0x04
        );

        let s = p.new_tables(Regime::Stage2).unwrap();
        p.map(&s, 0x0e30_0000, 0x0e30_0000, 0x10_0000, Attributes::RWX)
            .unwrap();
        p.map(&s, 0x0904_0000, 0x0904_0000, 0x1000, Attributes::DEVICE)
            .unwrap();
        let mem = p.translate(&s, 0x0e30_4000).unwrap().1;
        assert_eq!(fields::s2_mem_attr(mem), 0b1111);
        assert!(fields::s2_writable(mem) && !fields::execute_never(mem));
        let dev = p.translate(&s, 0x0904_0000).unwrap().1;
        assert_eq!(fields::s2_mem_attr(dev), 0b0001);
        assert!(fields::execute_never(dev));
        // Nothing else of the partition's neighbours.
        assert_eq!(p.translate(&s, 0x0e40_0000), None);
        assert_eq!(p.translate(&s, 0x0e2f_f000), None);
        let ns = Attributes {
            non_secure: true,
            ..Attributes::DATA
        };
        assert_eq!(
            p.map(&s, 0x4000_0000, 0x4000_0000, 0x1000, ns),
            Err(MapError::BadAttributes)
        );
    }

    #[test]
    fn bad_ranges_and_overlaps_are_refused_without_partial_maps() {
        let mut pages = vec![TablePage::EMPTY; 8];
        let mut p = pool(&mut pages);
        let t = p.new_tables(Regime::Stage2).unwrap();
        let a = Attributes::DATA;
        assert_eq!(
            p.map(&t, 0x1001, 0x1000, 0x1000, a),
            Err(MapError::Unaligned)
        );
        assert_eq!(p.map(&t, 0x1000, 0x1000, 0, a), Err(MapError::Unaligned));
        assert_eq!(
            p.map(&t, 0x1000, 0x1000, 0x800, a),
            Err(MapError::Unaligned)
        );
        assert_eq!(
            p.map(&t, 0xffff_f000, 0xffff_f000, 0x2000, a),
            Err(MapError::OutOfRange)
        );
        assert_eq!(
            p.map(&t, u64::MAX - 0xfff, 0, 0x2000, a),
            Err(MapError::OutOfRange)
        );
        assert_eq!(
            p.map(&t, 0x1000, 1 << 36, 0x1000, a),
            Err(MapError::OutOfRange)
        );
        p.map(&t, 0x0020_0000, 0x0020_0000, 0x0020_0000, a).unwrap();
        // Overlapping the block's last page: refused, and its first page stays unmapped.
        assert_eq!(
            p.map(&t, 0x001f_f000, 0x001f_f000, 0x2000, a),
            Err(MapError::Overlap)
        );
        assert_eq!(p.translate(&t, 0x001f_f000), None);
        p.map(&t, 0x001f_f000, 0x001f_f000, 0x1000, a).unwrap();
        assert_eq!(p.translate(&t, 0x001f_f000).unwrap().0, 0x001f_f000);
    }

    #[test]
    fn pool_exhaustion_is_an_error() {
        let mut pages = vec![TablePage::EMPTY; 2];
        let mut p = pool(&mut pages);
        let t = p.new_tables(Regime::El2).unwrap();
        assert_eq!(
            p.map(&t, 0x1000, 0x1000, 0x1000, Attributes::DATA),
            Err(MapError::PoolExhausted)
        );
        let mut none: [TablePage; 0] = [];
        assert_eq!(
            Pool::new(&mut none, BASE).new_tables(Regime::El2),
            Err(MapError::PoolExhausted)
        );
    }

    #[test]
    fn tables_are_zeroed_when_taken_and_roots_addressed_from_the_base() {
        let mut pages = vec![TablePage([0xdead; ENTRIES]); 4];
        let mut p = pool(&mut pages);
        let a = p.new_tables(Regime::El2).unwrap();
        let b = p.new_tables(Regime::Stage2).unwrap();
        assert_eq!(p.root_address(&a), BASE);
        assert_eq!(p.root_address(&b), BASE + 0x1000);
        assert_eq!(p.translate(&b, 0), None);
    }
}
