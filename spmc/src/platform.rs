//! What the core asks of the machine: copies to and from physical memory.

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
}
