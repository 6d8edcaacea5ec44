//! The host's RX/TX buffers (FFA_RXTX_MAP, FFA_RXTX_UNMAP, FFA_RX_RELEASE).
//!
//! The SPMC never sees the host's pages: the proxy maps its own buffers with EL3 and copies
//! between the two pairs. The host's pages are pinned in the ledger while mapped, so they can
//! never also be shared or lent.

use ffa::{EndpointId, FfaError, Regs};

use crate::host_pages::{Hold, PageError, PageRange};
use crate::{Conduit, HOST_ID, HostMemory, Proxy, el3, reply};

/// Bytes moved per step of a copy (the stack stays small).
const COPY_CHUNK: usize = 256;

/// Copies `len` bytes from physical `from` to physical `to`, in chunks.
pub(crate) fn copy<M: HostMemory>(
    mem: &mut M,
    from: u64,
    to: u64,
    len: u64,
) -> Result<(), FfaError> {
    let mut buf = [0u8; COPY_CHUNK];
    let mut done = 0u64;
    while done < len {
        let step = (len - done).min(COPY_CHUNK as u64) as usize;
        let chunk = buf.get_mut(..step).ok_or(FfaError::Aborted)?;
        let src = from.checked_add(done).ok_or(FfaError::Aborted)?;
        let dst = to.checked_add(done).ok_or(FfaError::Aborted)?;
        mem.read(src, chunk).map_err(|_| FfaError::Aborted)?;
        mem.write(dst, chunk).map_err(|_| FfaError::Aborted)?;
        done += step as u64;
    }
    Ok(())
}

/// The host's registered buffer pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostMailbox {
    /// The host's TX buffer.
    pub tx: PageRange,
    /// The host's RX buffer.
    pub rx: PageRange,
}

impl HostMailbox {
    /// Size of each buffer in bytes.
    pub const fn bytes(&self) -> u64 {
        // Cannot overflow: a PageRange's addresses fit in a u64.
        self.rx.pages() * ffa::PAGE_SIZE as u64
    }
}

/// The FF-A error for a host range the ledger refused (pKVM answers INVALID_PARAMETERS when
/// it cannot pin the pages).
fn page_error(e: PageError) -> FfaError {
    match e {
        PageError::TableFull => FfaError::NoMemory,
        _ => FfaError::InvalidParameters,
    }
}

impl Proxy {
    /// The host's FFA_RXTX_MAP_64.
    pub(crate) fn rxtx_map<C: Conduit>(
        &mut self,
        tx: u64,
        rx: u64,
        pages: u32,
        regs: &Regs,
        conduit: &mut C,
    ) -> Regs {
        match self.try_rxtx_map(tx, rx, pages, conduit) {
            Ok(()) => reply::success([0; 6], regs),
            Err(e) => reply::error(e, regs),
        }
    }

    fn try_rxtx_map<C: Conduit>(
        &mut self,
        tx: u64,
        rx: u64,
        pages: u32,
        conduit: &mut C,
    ) -> Result<(), FfaError> {
        // The host's buffer may be smaller than the proxy's, never larger: the proxy registers
        // its own buffers with the host's page count, so the SPMC writes no more than fits.
        if pages == 0 || pages > self.config.pages {
            return Err(FfaError::InvalidParameters);
        }
        let tx = PageRange::new(tx, u64::from(pages)).map_err(page_error)?;
        let rx = PageRange::new(rx, u64::from(pages)).map_err(page_error)?;
        if !self.pages.in_ram(&tx) || !self.pages.in_ram(&rx) || tx.overlaps(&rx) {
            return Err(FfaError::InvalidParameters);
        }
        if self.mailbox.is_some() {
            return Err(FfaError::Denied);
        }
        // Map the proxy's buffers first: if EL3 refuses, nothing has changed yet.
        let answer = conduit.call(&el3::rxtx_map(self.config.tx, self.config.rx, pages));
        el3::outcome(&answer)?;
        if let Err(e) = self.pages.claim(&[tx, rx], Hold::Mailbox) {
            // Roll back; if EL3 fails to unmap there is nothing better to do than report the
            // pinning error, which is what the host needs to know.
            let _ = conduit.call(&el3::rxtx_unmap());
            return Err(page_error(e));
        }
        self.mailbox = Some(HostMailbox { tx, rx });
        Ok(())
    }

    /// The host's FFA_RXTX_UNMAP for endpoint `id`.
    pub(crate) fn rxtx_unmap<C: Conduit>(&mut self, id: u16, regs: &Regs, conduit: &mut C) -> Regs {
        match self.try_rxtx_unmap(id, conduit) {
            Ok(()) => reply::success([0; 6], regs),
            Err(e) => reply::error(e, regs),
        }
    }

    fn try_rxtx_unmap<C: Conduit>(&mut self, id: u16, conduit: &mut C) -> Result<(), FfaError> {
        if EndpointId(id) != HOST_ID {
            return Err(FfaError::InvalidParameters);
        }
        let mailbox = self.mailbox.ok_or(FfaError::InvalidParameters)?;
        // Keep the proxy's view equal to EL3's: if EL3 keeps the buffers mapped, so do we.
        el3::outcome(&conduit.call(&el3::rxtx_unmap()))?;
        self.mailbox = None;
        self.pages
            .release(&[mailbox.tx, mailbox.rx], Hold::Mailbox)
            .map_err(page_error)
    }

    /// The host's FFA_RX_RELEASE for endpoint `id`: forwarded, as the SPMC lent the proxy's RX
    /// buffer (whose contents the host got a copy of) to the normal world.
    pub(crate) fn rx_release<C: Conduit>(&mut self, id: u16, regs: &Regs, conduit: &mut C) -> Regs {
        if EndpointId(id) != HOST_ID {
            return reply::error(FfaError::InvalidParameters, regs);
        }
        conduit.call(regs)
    }

    /// The host's registered buffers, if any.
    pub fn host_mailbox(&self) -> Option<HostMailbox> {
        self.mailbox
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use ffa::{FfaError, FuncId, Version};

    use super::*;
    use crate::version::Link;
    use crate::{MemFault, ProxyConfig};

    const HOST_TX: u64 = 0x8000_0000;
    const HOST_RX: u64 = 0x8000_2000;

    /// EL3 that answers SUCCESS to everything and records the function IDs.
    struct Recorder(Vec<u64>);

    impl Conduit for Recorder {
        fn call(&mut self, regs: &Regs) -> Regs {
            self.0.push(regs[0]);
            ffa::call::success32([0; 6])
        }
    }

    struct NoMemory;

    impl crate::HostMemory for NoMemory {
        fn read(&self, _: u64, _: &mut [u8]) -> Result<(), MemFault> {
            Err(MemFault)
        }
        fn write(&mut self, _: u64, _: &[u8]) -> Result<(), MemFault> {
            Err(MemFault)
        }
        fn host_access(&mut self, _: u64, _: u64, _: bool) -> Result<(), MemFault> {
            Err(MemFault)
        }
    }

    fn negotiated() -> Proxy {
        let mut proxy = Proxy::new(ProxyConfig {
            tx: 0x9000_0000,
            rx: 0x9000_1000,
            pages: 1,
            host_ram: (0x8000_0000, 0x8100_0000),
        });
        proxy.link = Link::Up {
            version: Version(1, 2),
            locked: true,
        };
        proxy
    }

    fn map(proxy: &mut Proxy, el3: &mut Recorder) -> Regs {
        let mut call = [0u64; 18];
        call[..4].copy_from_slice(&[u64::from(u32::from(FuncId::RxTxMap64)), HOST_TX, HOST_RX, 1]);
        proxy.handle_host_call(&call, el3, &mut NoMemory)
    }

    fn fid(f: FuncId) -> u64 {
        u64::from(u32::from(f))
    }

    #[test]
    fn pages_held_elsewhere_roll_the_el3_mapping_back() {
        let mut proxy = negotiated();
        let lent = PageRange::new(HOST_RX, 1).unwrap();
        proxy.pages.claim(&[lent], Hold::LentToSecure).unwrap();
        let mut el3 = Recorder(Vec::new());
        let answer = map(&mut proxy, &mut el3);
        assert_eq!(
            ffa::call::error_code(&answer),
            Some(FfaError::InvalidParameters)
        );
        assert_eq!(el3.0, [fid(FuncId::RxTxMap64), fid(FuncId::RxTxUnmap)]);
        assert_eq!(proxy.mailbox, None);
        let holds: Vec<_> = proxy.pages.holds().collect();
        assert_eq!(
            holds,
            [(lent, Hold::LentToSecure)],
            "TX was not left pinned"
        );
    }

    #[test]
    fn a_full_ledger_rolls_back_with_no_memory() {
        let mut proxy = negotiated();
        for i in 0..crate::HOST_HOLDS as u64 - 1 {
            let range = PageRange::new(0x8080_0000 + i * 0x1000, 1).unwrap();
            proxy.pages.claim(&[range], Hold::SharedWithSecure).unwrap();
        }
        let mut el3 = Recorder(Vec::new());
        let answer = map(&mut proxy, &mut el3);
        assert_eq!(ffa::call::error_code(&answer), Some(FfaError::NoMemory));
        assert_eq!(el3.0, [fid(FuncId::RxTxMap64), fid(FuncId::RxTxUnmap)]);
        assert_eq!(proxy.mailbox, None);
        assert_eq!(proxy.pages.holder(HOST_TX), None);
    }
}
