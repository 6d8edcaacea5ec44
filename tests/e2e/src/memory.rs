//! Simulated physical memory: a secure and a non-secure address space, each with the RAM ranges
//! of QEMU virt that this project uses, stored sparsely one 4 KiB page at a time.
//!
//! One [`SimMemory`] is shared by every agent of a stack; each agent sees it through a view that
//! only reaches what that agent's hardware would let it reach:
//! [`SecureView`] (the SPMC, both spaces), [`NsView`] (the proxy at NS-EL2, NS RAM),
//! [`RangeView`] (a host or a partition, one range of one space).

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

impl test_partitions::SpEnv for RangeView {
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        RangeView::read(self, addr, buf).is_ok()
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> bool {
        RangeView::write(self, addr, data).is_ok()
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
    fn views_reach_only_their_part() {
        let mem = SimMemory::new();
        let mut spmc = mem.secure_view();
        let mut proxy = mem.ns_view();
        let mut sp = mem.range_view(Space::Secure, 0x0e30_0000..0x0e40_0000);
        let mut buf = [0; 2];
        assert!(spmc.write(Space::NonSecure, 0x6100_0000, &[7, 8]).is_ok());
        assert!(proxy.read(0x6100_0000, &mut buf).is_ok());
        assert_eq!(buf, [7, 8]);
        assert!(
            proxy.write(0x0e30_0000, &[1]).is_err(),
            "secure RAM is not NS RAM"
        );
        assert!(SpEnv::write(&mut sp, 0x0e3f_ffff, &[9]));
        assert!(
            !SpEnv::write(&mut sp, 0x0e3f_ffff, &[9, 9]),
            "crosses the end"
        );
        assert!(!SpEnv::read(&sp, 0x0e2f_ffff, &mut buf), "before the start");
        let mut one = [0];
        spmc.read(Space::Secure, 0x0e3f_ffff, &mut one).unwrap();
        assert_eq!(one, [9]);
    }
}
