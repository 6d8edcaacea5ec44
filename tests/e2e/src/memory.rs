//! Simulated physical memory: a secure and a non-secure address space, each with the RAM ranges
//! of QEMU virt that this project uses, stored sparsely one 4 KiB page at a time.
//!
//! One [`SimMemory`] is shared by every agent of a stack; each agent sees it through a view that
//! only reaches what that agent's hardware would let it reach:
//! [`SecureView`] (the SPMC, both spaces), [`NsView`] (the proxy at NS-EL2, NS RAM),
//! [`RangeView`] (a host, one range of one space), [`PartitionMemory`] (a partition: its own
//! memory, and what its stage-2 tables would map for a raw load).

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;

pub use spmc::platform::Space;

/// Bytes per simulated page.
pub const PAGE: u64 = 4096;
/// Secure RAM (QEMU virt's VIRT_SECURE_MEM).
pub const SECURE_RAM: Range<u64> = 0x0e00_0000..0x0f00_0000;
/// Non-secure RAM the harness models (the first GiB of QEMU virt's DRAM).
pub const NS_RAM: Range<u64> = 0x4000_0000..0x8000_0000;

/// An access outside the RAM of its space (or outside the range a view allows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The space accessed.
    pub space: Space,
    /// First byte of the access.
    pub addr: u64,
    /// Length of the access.
    pub len: usize,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} access of {} bytes at {:#x} outside memory",
            self.space, self.len, self.addr
        )
    }
}

struct Pages {
    pages: HashMap<(SpaceKey, u64), Box<[u8; PAGE as usize]>>,
    /// Secure pages the SPMC mapped for a partition at run time (memory it retrieved), by
    /// (partition, page): writable or not.
    shared: std::collections::BTreeMap<(u16, u64), bool>,
    /// Pages of a partition's own window the SPMC took away (memory it lent).
    withdrawn: std::collections::BTreeSet<(u16, u64)>,
    /// Non-secure pages the SPMC mapped for a partition (normal-world memory it retrieved),
    /// by (partition, page): writable or not.
    shared_ns: std::collections::BTreeMap<(u16, u64), bool>,
    /// Host pages the proxy took out of the host's stage 2 (memory it lent).
    host_withdrawn: std::collections::BTreeSet<u64>,
    /// Non-secure SGIs the SPMC pended (the schedule receiver interrupt), by core, oldest
    /// first: what the normal world takes there.
    ns_sgis: std::collections::BTreeMap<u16, std::collections::VecDeque<u32>>,
}

// `Space` does not implement Hash; this mirrors it for the page map key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum SpaceKey {
    Secure,
    NonSecure,
}

fn key(space: Space) -> SpaceKey {
    match space {
        Space::Secure => SpaceKey::Secure,
        Space::NonSecure => SpaceKey::NonSecure,
    }
}

/// The RAM of one space.
pub fn ram(space: Space) -> Range<u64> {
    match space {
        Space::Secure => SECURE_RAM,
        Space::NonSecure => NS_RAM,
    }
}

/// Whether `[addr, addr + len)` lies inside `range` (no overflow).
pub fn contains(range: &Range<u64>, addr: u64, len: usize) -> bool {
    let Ok(len) = u64::try_from(len) else {
        return false;
    };
    match addr.checked_add(len) {
        Some(end) => addr >= range.start && end <= range.end,
        None => false,
    }
}

/// Shared handle to the simulated memory. Cloning shares the same pages.
#[derive(Clone)]
pub struct SimMemory {
    inner: Rc<RefCell<Pages>>,
}

impl Default for SimMemory {
    fn default() -> Self {
        Self::new()
    }
}

impl SimMemory {
    /// Empty (all-zero) memory.
    pub fn new() -> Self {
        Self {
            inner: Rc::new(RefCell::new(Pages {
                pages: HashMap::new(),
                shared: Default::default(),
                withdrawn: Default::default(),
                shared_ns: Default::default(),
                host_withdrawn: Default::default(),
                ns_sgis: Default::default(),
            })),
        }
    }

    /// Copies from `addr` in `space` into `buf`; faults outside that space's RAM.
    pub fn read(&self, space: Space, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        self.check(space, addr, buf.len())?;
        let pages = self.inner.borrow();
        let mut done = 0usize;
        while done < buf.len() {
            let (page, offset, n) = chunk(addr, done, buf.len());
            let dst = &mut buf[done..done + n];
            match pages.pages.get(&(key(space), page)) {
                Some(p) => dst.copy_from_slice(&p[offset..offset + n]),
                None => dst.fill(0),
            }
            done += n;
        }
        Ok(())
    }

    /// Copies `data` to `addr` in `space`; faults outside that space's RAM.
    pub fn write(&self, space: Space, addr: u64, data: &[u8]) -> Result<(), Fault> {
        self.check(space, addr, data.len())?;
        let mut pages = self.inner.borrow_mut();
        let mut done = 0usize;
        while done < data.len() {
            let (page, offset, n) = chunk(addr, done, data.len());
            let p = pages
                .pages
                .entry((key(space), page))
                .or_insert_with(|| Box::new([0; PAGE as usize]));
            p[offset..offset + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// Pages that have been written at least once (for tests of the memory itself).
    pub fn resident_pages(&self) -> usize {
        self.inner.borrow().pages.len()
    }

    /// Takes the oldest non-secure SGI the SPMC pended on `core` (an SGI pends once: the same
    /// INTID pended twice before it is taken is one interrupt).
    pub fn take_ns_sgi(&self, core: u16) -> Option<u32> {
        self.inner.borrow_mut().ns_sgis.get_mut(&core)?.pop_front()
    }

    /// A view for the SPMC: both spaces, all RAM.
    pub fn secure_view(&self) -> SecureView {
        SecureView { mem: self.clone() }
    }

    /// A view for the EL2 proxy: all non-secure RAM.
    pub fn ns_view(&self) -> NsView {
        NsView { mem: self.clone() }
    }

    /// A view limited to `range` of `space` (a host's RAM, a partition's memory).
    pub fn range_view(&self, space: Space, range: Range<u64>) -> RangeView {
        RangeView {
            mem: self.clone(),
            space,
            range,
        }
    }

    fn check(&self, space: Space, addr: u64, len: usize) -> Result<(), Fault> {
        if contains(&ram(space), addr, len) {
            Ok(())
        } else {
            Err(Fault { space, addr, len })
        }
    }
}

/// The page, the offset in it and the byte count of the next piece of an access that has
/// already moved `done` of `total` bytes. Callers checked the whole range first.
fn chunk(addr: u64, done: usize, total: usize) -> (u64, usize, usize) {
    let at = addr + done as u64;
    let offset = (at % PAGE) as usize;
    let n = (PAGE as usize - offset).min(total - done);
    (at / PAGE, offset, n)
}

/// The SPMC's view: `spmc::platform::Platform` over both spaces.
#[derive(Clone)]
pub struct SecureView {
    mem: SimMemory,
}

impl spmc::platform::Platform for SecureView {
    fn read(
        &self,
        space: Space,
        addr: u64,
        buf: &mut [u8],
    ) -> Result<(), spmc::platform::MemFault> {
        self.mem
            .read(space, addr, buf)
            .map_err(|_| spmc::platform::MemFault)
    }

    fn write(
        &mut self,
        space: Space,
        addr: u64,
        data: &[u8],
    ) -> Result<(), spmc::platform::MemFault> {
        self.mem
            .write(space, addr, data)
            .map_err(|_| spmc::platform::MemFault)
    }

    fn covers(&self, space: Space, addr: u64, len: u64) -> bool {
        usize::try_from(len).is_ok_and(|len| contains(&ram(space), addr, len))
    }

    // The harness's partitions run with stage 1 off, as on QEMU: they reach the secure IPA
    // space only, so only secure mappings are recorded for them (see `PartitionMemory`).
    fn map_for(
        &mut self,
        partition: ffa::EndpointId,
        space: Space,
        addr: u64,
        len: u64,
        permissions: u8,
    ) -> Result<(), spmc::platform::MemFault> {
        let write =
            permissions & ffa::memory::permissions::DATA_MASK == ffa::memory::permissions::DATA_RW;
        let mut pages = self.mem.inner.borrow_mut();
        for page in (addr..addr.saturating_add(len)).step_by(PAGE as usize) {
            if space == Space::NonSecure {
                pages.shared_ns.insert((partition.0, page), write);
            } else if !pages.withdrawn.remove(&(partition.0, page)) {
                // A lender's own page comes back; anything else is mapped for it.
                pages.shared.insert((partition.0, page), write);
            }
        }
        Ok(())
    }

    fn unmap_for(&mut self, partition: ffa::EndpointId, space: Space, addr: u64, len: u64) {
        let mut pages = self.mem.inner.borrow_mut();
        for page in (addr..addr.saturating_add(len)).step_by(PAGE as usize) {
            if space == Space::NonSecure {
                pages.shared_ns.remove(&(partition.0, page));
            } else if pages.shared.remove(&(partition.0, page)).is_none() {
                pages.withdrawn.insert((partition.0, page));
            }
        }
    }

    // No caches modelled: partitions read what was written.
    fn clean_to_poc(&mut self, _space: Space, _addr: u64, _len: usize) {}

    fn send_ns_sgi(&mut self, cpu: spmc::CpuId, intid: u32) {
        let mut pages = self.mem.inner.borrow_mut();
        let pending = pages.ns_sgis.entry(cpu.0).or_default();
        if !pending.contains(&intid) {
            pending.push_back(intid);
        }
    }
}

/// The proxy's view: `proxy::HostMemory` over non-secure RAM.
#[derive(Clone)]
pub struct NsView {
    mem: SimMemory,
}

impl proxy::HostMemory for NsView {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), proxy::MemFault> {
        self.mem
            .read(Space::NonSecure, addr, buf)
            .map_err(|_| proxy::MemFault)
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), proxy::MemFault> {
        self.mem
            .write(Space::NonSecure, addr, data)
            .map_err(|_| proxy::MemFault)
    }

    fn host_access(&mut self, addr: u64, pages: u64, on: bool) -> Result<(), proxy::MemFault> {
        let mut inner = self.mem.inner.borrow_mut();
        for page in (0..pages).map(|i| addr + i * PAGE) {
            if on {
                inner.host_withdrawn.remove(&page);
            } else {
                inner.host_withdrawn.insert(page);
            }
        }
        Ok(())
    }
}

impl SimMemory {
    /// Whether the host's stage 2 still maps the page of `addr` (the proxy takes lent pages
    /// out of it).
    pub fn host_reaches(&self, addr: u64) -> bool {
        !self
            .inner
            .borrow()
            .host_withdrawn
            .contains(&(addr & !(PAGE - 1)))
    }
}

/// One range of one space: a host's RAM, or a partition's own memory (`test_partitions::SpEnv`).
#[derive(Clone)]
pub struct RangeView {
    mem: SimMemory,
    space: Space,
    range: Range<u64>,
}

impl RangeView {
    /// The range this view reaches.
    pub fn range(&self) -> Range<u64> {
        self.range.clone()
    }

    /// Copies from `addr`; faults outside the view's range.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        self.check(addr, buf.len())?;
        self.mem.read(self.space, addr, buf)
    }

    /// Copies to `addr`; faults outside the view's range.
    pub fn write(&self, addr: u64, data: &[u8]) -> Result<(), Fault> {
        self.check(addr, data.len())?;
        self.mem.write(self.space, addr, data)
    }

    fn check(&self, addr: u64, len: usize) -> Result<(), Fault> {
        if contains(&self.range, addr, len) {
            Ok(())
        } else {
            Err(Fault {
                space: self.space,
                addr,
                len,
            })
        }
    }
}

/// A partition's memory as it reaches it (`test_partitions::SpEnv`): its own window for its
/// checked accesses; for a raw load (PROBE), whatever its stage-2 tables would map (the window
/// and its manifest's regions), with a data abort everywhere else; and the mark a fault it
/// cannot handle (CRASH) leaves for the secure CPU to act on.
#[derive(Clone)]
pub struct PartitionMemory {
    own: RangeView,
    regions: Vec<(Space, Range<u64>)>,
    crashed: bool,
    /// Its endpoint ID, for what the SPMC maps or takes away at run time (None: nothing).
    id: Option<u16>,
}

impl PartitionMemory {
    /// The partition whose own memory is `own`, with its manifest's memory and device regions.
    pub fn new(own: RangeView, regions: Vec<(Space, Range<u64>)>) -> Self {
        Self {
            own,
            regions,
            crashed: false,
            id: None,
        }
    }

    /// The same for partition `id`: what the SPMC maps for it or takes away from its window
    /// at run time (memory sharing) applies to its raw loads and stores.
    pub fn with_id(mut self, id: u16) -> Self {
        self.id = Some(id);
        self
    }

    /// Whether the SPMC took the page of `addr` away from it, and whether (and how) it mapped
    /// that page for it: (withdrawn, Some(writable)).
    fn run_time(&self, addr: u64) -> (bool, Option<bool>) {
        let Some(id) = self.id else {
            return (false, None);
        };
        let page = addr & !(PAGE - 1);
        let pages = self.own.mem.inner.borrow();
        (
            pages.withdrawn.contains(&(id, page)),
            pages.shared.get(&(id, page)).copied(),
        )
    }

    /// For an address of its non-secure window (its stage 1 sends it to the non-secure IPA
    /// space): whether the SPMC mapped that page for it, and writable.
    fn non_secure(&self, addr: u64) -> Option<Option<bool>> {
        let (start, end) = test_partitions::definitions::NON_SECURE_WINDOW;
        if !(start..end).contains(&addr) {
            return None;
        }
        let id = self.id?;
        let page = addr & !(PAGE - 1);
        Some(
            self.own
                .mem
                .inner
                .borrow()
                .shared_ns
                .get(&(id, page))
                .copied(),
        )
    }

    /// Its own memory.
    pub fn own(&self) -> &RangeView {
        &self.own
    }

    /// Whether the partition took a fault it cannot handle since the last call; clears it.
    pub fn take_crash(&mut self) -> bool {
        std::mem::take(&mut self.crashed)
    }

    /// What a mapped load of 8 bytes at `addr` reads, if stage 2 maps it. Device regions are
    /// mapped but the harness simulates no device: a load there faults as unbacked memory.
    fn load(&self, addr: u64) -> Option<u64> {
        let mut word = [0u8; 8];
        if let Some(mapped) = self.non_secure(addr) {
            mapped?;
            self.own.mem.read(Space::NonSecure, addr, &mut word).ok()?;
            return Some(u64::from_le_bytes(word));
        }
        let (withdrawn, shared) = self.run_time(addr);
        if withdrawn {
            return None;
        }
        if shared.is_some() {
            self.own.mem.read(Space::Secure, addr, &mut word).ok()?;
            return Some(u64::from_le_bytes(word));
        }
        if self.own.read(addr, &mut word).is_ok() {
            return Some(u64::from_le_bytes(word));
        }
        let (space, _) = self
            .regions
            .iter()
            .find(|(_, range)| contains(range, addr, word.len()))?;
        self.own.mem.read(*space, addr, &mut word).ok()?;
        Some(u64::from_le_bytes(word))
    }
}

impl test_partitions::SpEnv for PartitionMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        self.own.read(addr, buf).is_ok()
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> bool {
        self.own.write(addr, data).is_ok()
    }

    fn probe(&mut self, addr: u64) -> Result<u64, test_partitions::Fault> {
        self.load(addr)
            .ok_or(test_partitions::Fault::unmapped_read(addr))
    }

    fn poke(&mut self, addr: u64, value: u64) -> Result<(), test_partitions::Fault> {
        let bytes = value.to_le_bytes();
        if let Some(mapped) = self.non_secure(addr) {
            let stored =
                mapped == Some(true) && self.own.mem.write(Space::NonSecure, addr, &bytes).is_ok();
            return stored
                .then_some(())
                .ok_or(test_partitions::Fault::unmapped_read(addr));
        }
        let stored = match self.run_time(addr) {
            (true, _) => false,
            (false, Some(write)) => {
                write && self.own.mem.write(Space::Secure, addr, &bytes).is_ok()
            }
            (false, None) => self.own.write(addr, &bytes).is_ok(),
        };
        // A refused store: the abort its handler would take (reported as a read's shape).
        stored
            .then_some(())
            .ok_or(test_partitions::Fault::unmapped_read(addr))
    }

    fn crash(&mut self) {
        self.crashed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proxy::HostMemory;
    use spmc::platform::Platform;
    use test_partitions::SpEnv;

    #[test]
    fn spaces_are_separate_and_sparse() {
        let mem = SimMemory::new();
        mem.write(Space::Secure, 0x0e30_0ffe, &[1, 2, 3, 4])
            .unwrap();
        let mut buf = [0xaa; 4];
        mem.read(Space::Secure, 0x0e30_0ffe, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4]);
        assert_eq!(mem.resident_pages(), 2, "the write crossed a page boundary");
        // The same address in the other space is not RAM at all.
        assert!(mem.read(Space::NonSecure, 0x0e30_0ffe, &mut buf).is_err());
        // Unwritten RAM reads as zero.
        mem.read(Space::NonSecure, 0x4000_0000, &mut buf).unwrap();
        assert_eq!(buf, [0; 4]);
    }

    #[test]
    fn faults_outside_ram_and_on_overflow() {
        let mem = SimMemory::new();
        let mut buf = [0; 8];
        assert!(mem.read(Space::Secure, 0x0eff_fffc, &mut buf).is_err());
        assert!(mem.read(Space::NonSecure, 0x3fff_fff8, &mut buf).is_err());
        assert!(mem.read(Space::NonSecure, u64::MAX - 3, &mut buf).is_err());
        assert!(mem.write(Space::NonSecure, 0x7fff_fff8, &buf).is_ok());
        assert!(mem.write(Space::NonSecure, 0x7fff_fff9, &buf).is_err());
        assert_eq!(mem.resident_pages(), 1);
    }

    #[test]
    fn partitions_probe_what_stage_2_maps_and_fault_elsewhere() {
        let mem = SimMemory::new();
        mem.write(Space::Secure, 0x0e30_8000, &7u64.to_le_bytes())
            .unwrap();
        mem.write(Space::Secure, 0x0e40_0000, &9u64.to_le_bytes())
            .unwrap();
        mem.write(Space::NonSecure, 0x4800_0000, &5u64.to_le_bytes())
            .unwrap();
        let own = mem.range_view(Space::Secure, 0x0e30_0000..0x0e40_0000);
        let regions = vec![
            (Space::NonSecure, 0x4800_0000..0x4800_1000),
            (Space::Secure, 0x0904_0000..0x0904_1000),
        ];
        let mut sp = PartitionMemory::new(own, regions);
        assert_eq!(sp.probe(0x0e30_8000), Ok(7));
        assert_eq!(sp.probe(0x4800_0000), Ok(5), "a non-secure memory region");
        let fault = sp.probe(0x0e40_0000).unwrap_err();
        assert_eq!(fault, test_partitions::Fault::unmapped_read(0x0e40_0000));
        assert!(sp.probe(0x0e3f_fffc).is_err(), "runs past the window");
        assert!(sp.probe(0x0904_0000).is_err(), "devices are not simulated");
        assert!(
            !sp.read(0x4800_0000, &mut [0; 8]),
            "checked reads: own memory only"
        );
        assert!(!sp.take_crash());
        sp.crash();
        assert!(sp.take_crash());
        assert!(!sp.take_crash(), "taken once");
    }

    #[test]
    fn views_reach_only_their_part() {
        let mem = SimMemory::new();
        let mut spmc = mem.secure_view();
        let mut proxy = mem.ns_view();
        let sp = mem.range_view(Space::Secure, 0x0e30_0000..0x0e40_0000);
        let mut buf = [0; 2];
        assert!(spmc.write(Space::NonSecure, 0x6100_0000, &[7, 8]).is_ok());
        assert!(proxy.read(0x6100_0000, &mut buf).is_ok());
        assert_eq!(buf, [7, 8]);
        assert!(
            proxy.write(0x0e30_0000, &[1]).is_err(),
            "secure RAM is not NS RAM"
        );
        assert!(sp.write(0x0e3f_ffff, &[9]).is_ok());
        assert!(sp.write(0x0e3f_ffff, &[9, 9]).is_err(), "crosses the end");
        assert!(sp.read(0x0e2f_ffff, &mut buf).is_err(), "before the start");
        let mut one = [0];
        spmc.read(Space::Secure, 0x0e3f_ffff, &mut one).unwrap();
        assert_eq!(one, [9]);
    }
}
