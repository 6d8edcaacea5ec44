//! The proxy core's two ways out: SMCs to EL3 and copies of normal-world memory.

use crate::memory_windows::MemoryWindows;
use crate::{Conduit, HostMemory, MemFault, ProxyConfig, Regs};

/// SMC to EL3 with x0..x17 both ways (SMCCC 1.2; x18.. are not part of the call).
pub struct SmcConduit;

impl Conduit for SmcConduit {
    fn call(&mut self, regs: &Regs) -> Regs {
        let mut args = [0u64; 17];
        args.copy_from_slice(&regs[1..]);
        // Function IDs are 32 bits (SMCCC); EL3 reads w0.
        smccc::smc64(regs[0] as u32, args)
    }
}

/// A conduit that counts the calls made through it (to tell the proxy's own refusals from
/// EL3's answers).
pub struct CountingConduit {
    /// Calls forwarded so far.
    pub calls: u32,
}

impl Conduit for CountingConduit {
    fn call(&mut self, regs: &Regs) -> Regs {
        self.calls = self.calls.saturating_add(1);
        SmcConduit.call(regs)
    }
}

/// Physical memory through the proxy's identity stage-1, limited to host RAM and the proxy's
/// own mailbox.
pub struct PhysMemory {
    windows: MemoryWindows,
}

impl PhysMemory {
    /// Copies allowed inside `config`'s host RAM and mailbox.
    pub fn new(config: &ProxyConfig) -> Self {
        Self {
            windows: MemoryWindows::new(config),
        }
    }
}

impl HostMemory for PhysMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemFault> {
        if !self.windows.allows(addr, buf.len() as u64) {
            return Err(MemFault);
        }
        for (i, byte) in buf.iter_mut().enumerate() {
            // SAFETY: the whole range lies in host RAM or the proxy's mailbox, both mapped
            // read-write in the proxy's stage-1 and never behind a Rust reference; volatile,
            // because the host may change its memory at any time (the core copies once, then
            // checks the copy).
            *byte = unsafe { ((addr as usize + i) as *const u8).read_volatile() };
        }
        Ok(())
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        if !self.windows.allows(addr, data.len() as u64) {
            return Err(MemFault);
        }
        for (i, byte) in data.iter().enumerate() {
            // SAFETY: as in `read`: a checked range of host RAM or mailbox, mapped read-write.
            unsafe { ((addr as usize + i) as *mut u8).write_volatile(*byte) };
        }
        Ok(())
    }

    fn host_access(&mut self, addr: u64, pages: u64, on: bool) -> Result<(), MemFault> {
        let end = pages
            .checked_mul(ffa::PAGE_SIZE as u64)
            .and_then(|len| addr.checked_add(len))
            .ok_or(MemFault)?;
        super::mmu::host_pages(addr, end, on)
    }
}
