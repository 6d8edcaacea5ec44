//! What the core asks of the machine: copies to and from physical memory, cache cleaning, the
//! stage-2 mappings memory sharing makes, and the GIC programming of partitions' interrupts.

use ffa::EndpointId;

use crate::interrupts::GicSetting;

/// A physical address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// Secure physical address space.
    Secure,
    /// Non-secure physical address space.
    NonSecure,
}

/// A range the platform refused to copy (outside memory the SPMC may access).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemFault;

/// Physical memory as the SPMC sees it.
pub trait Platform {
    /// Copies `buf.len()` bytes starting at `addr` in `space` into `buf`.
    fn read(&self, space: Space, addr: u64, buf: &mut [u8]) -> Result<(), MemFault>;
    /// Copies `data` to `addr` in `space`.
    fn write(&mut self, space: Space, addr: u64, data: &[u8]) -> Result<(), MemFault>;
    /// Whether `[addr, addr + len)` of `space` is memory the SPMC may copy (for the normal
    /// world: inside the SPMC manifest's `ns-memory`), without touching it.
    fn covers(&self, space: Space, addr: u64, len: u64) -> bool;
    /// Gives partition `partition` access to `[addr, addr + len)` of `space` at the same
    /// address of its IPA space of that security state (the normal world's memory in its
    /// non-secure IPA space), as `permissions` (`ffa::memory::permissions`) allow: a borrower
    /// that retrieved memory. Err if the platform cannot map it.
    fn map_for(
        &mut self,
        partition: EndpointId,
        space: Space,
        addr: u64,
        len: u64,
        permissions: u8,
    ) -> Result<(), MemFault>;
    /// Takes that access away again, from every core's TLBs too.
    fn unmap_for(&mut self, partition: EndpointId, space: Space, addr: u64, len: u64);
    /// Makes what was written to `[addr, addr + len)` of `space` visible to a reader with its
    /// caches off (cleans it to the point of coherency): partitions start, and may run, with
    /// their caches off. Called by the core after each write into partition memory.
    fn clean_to_poc(&mut self, space: Space, addr: u64, len: usize);

    /// Programs one partition interrupt in the GIC as `setting` says: group, priority,
    /// trigger, routing (SPIs) or redistributor (PPIs), then enabled or disabled. The
    /// defaults do nothing: a platform without partition interrupts.
    fn gic_configure(&mut self, setting: &GicSetting) {
        let _ = setting;
    }
    /// Acknowledges the highest-priority pending Secure Group 1 interrupt of this CPU: its
    /// INTID, or `None` when nothing is pending (spurious).
    fn gic_acknowledge(&mut self) -> Option<u32> {
        None
    }
    /// Pends the Non-secure Group 1 SGI `intid` on core `cpu` (the schedule receiver
    /// interrupt): the normal world takes it when it next runs there.
    fn send_ns_sgi(&mut self, cpu: crate::spmc::CpuId, intid: u32);
    /// Ends an acknowledged interrupt (priority drop and deactivation together).
    fn gic_end(&mut self, intid: u32) {
        let _ = intid;
    }
}

/// The start of every cache line of `line` bytes (a power of two) that `[addr, addr + len)`
/// touches: what cleaning that range to the point of coherency walks (the arch layer cleans
/// what the SPMC writes into a partition that starts with its caches off).
pub fn cache_lines(addr: u64, len: usize, line: u64) -> impl Iterator<Item = u64> {
    let line = line.max(1);
    let end = addr.saturating_add(len as u64);
    let first = addr & !(line - 1);
    let count = if len == 0 {
        0
    } else {
        end.saturating_sub(first).div_ceil(line)
    };
    (0..count).map(move |i| first + i * line)
}

#[cfg(test)]
mod tests {
    use super::cache_lines;

    #[test]
    fn cache_lines_cover_partial_first_and_last_lines() {
        let lines: heapless::Vec<u64, 8> = cache_lines(0x1030, 0x60, 64).collect();
        assert_eq!(lines.as_slice(), &[0x1000, 0x1040, 0x1080]);
        let one: heapless::Vec<u64, 8> = cache_lines(0x1000, 1, 64).collect();
        assert_eq!(one.as_slice(), &[0x1000]);
        let exact: heapless::Vec<u64, 8> = cache_lines(0x1000, 128, 64).collect();
        assert_eq!(exact.as_slice(), &[0x1000, 0x1040]);
        assert_eq!(cache_lines(0x1000, 0, 64).count(), 0);
        // A blob of a partition's boot information: one 4 KiB page, 64-byte lines.
        assert_eq!(cache_lines(0x0e30_0000, 4096, 64).count(), 64);
    }
}
