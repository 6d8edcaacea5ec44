//! The pKVM-style FF-A proxy at NS-EL2.
//!
//! The core decides every host FF-A call: [`Proxy::handle_host_call`] answers it locally, or
//! validates, rewrites and forwards it through a [`Conduit`] and post-processes the answer. It
//! touches host memory only through [`HostMemory`].
#![no_std]
#![deny(unsafe_code)]

pub use ffa::Regs;

/// The proxy's way to EL3: an SMC with x0..x17, returning x0..x17.
pub trait Conduit {
    /// Issues the call and returns what EL3 (or the SPMC behind it) answered.
    fn call(&mut self, regs: &Regs) -> Regs;
}

/// A range the proxy may not copy (outside normal-world memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemFault;

/// Normal-world physical memory: the host's pages and the proxy's own mailbox.
pub trait HostMemory {
    /// Copies from physical `addr` into `buf`.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemFault>;
    /// Copies `data` to physical `addr`.
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemFault>;
}

/// Where the proxy's own RX/TX buffers live (pages it owns, the host cannot reach).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    /// The proxy's TX buffer (what it sends to the SPMC).
    pub tx: u64,
    /// The proxy's RX buffer (what the SPMC writes for it).
    pub rx: u64,
    /// Size of each buffer in 4 KiB pages.
    pub pages: u32,
    /// First and last+1 address of host memory the host may hand to the proxy.
    pub host_ram: (u64, u64),
}

/// The proxy core.
pub struct Proxy {
    config: ProxyConfig,
}

impl Proxy {
    /// A proxy that has not seen the host yet.
    pub fn new(config: ProxyConfig) -> Self {
        Self { config }
    }

    /// Handles one SMC the host made; the return value is what the host sees in x0..x17.
    pub fn handle_host_call<C: Conduit, M: HostMemory>(
        &mut self,
        regs: &Regs,
        conduit: &mut C,
        mem: &mut M,
    ) -> Regs {
        let _ = (&self.config, mem);
        conduit.call(regs)
    }
}
