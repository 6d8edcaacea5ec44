//! FF-A conformance scenarios, written once and run by two runners: the in-process harness
//! (host client → proxy core → SPMD model → SPMC core → test partitions) and, on QEMU, the
//! NS-EL1 client. Each scenario drives a [`Client`] and checks exact answers.
#![no_std]
#![forbid(unsafe_code)]

pub use ffa::Regs;

/// What a scenario needs from the normal-world side it runs on.
pub trait Client {
    /// Issues an SMC with x0..x17 on CPU `cpu` and returns x0..x17.
    fn call_on(&mut self, cpu: u16, regs: &Regs) -> Regs;
    /// Physical address of this client's TX buffer (page aligned, `mailbox_pages` long).
    fn tx_addr(&self) -> u64;
    /// Physical address of this client's RX buffer.
    fn rx_addr(&self) -> u64;
    /// Size of each buffer, in 4 KiB pages.
    fn mailbox_pages(&self) -> u32;
    /// Copies into this client's memory at physical `addr` (its TX buffer, say).
    fn write(&mut self, addr: u64, data: &[u8]);
    /// Copies from this client's memory at physical `addr` (its RX buffer, say).
    fn read(&self, addr: u64, buf: &mut [u8]);
    /// Whether the client's calls go through the EL2 proxy (some answers differ: the proxy
    /// answers FFA_ID_GET itself and refuses what it blocks).
    fn behind_proxy(&self) -> bool;
}
