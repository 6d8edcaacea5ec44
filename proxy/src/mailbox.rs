//! The host's RX/TX buffers (FFA_RXTX_MAP, FFA_RXTX_UNMAP, FFA_RX_RELEASE).
//!
//! The SPMC never sees the host's pages: the proxy maps its own buffers with EL3 and copies
//! between the two pairs. The host's pages are pinned in the ledger while mapped, so they can
//! never also be shared or lent.

use ffa::{EndpointId, FfaError, Regs};

use crate::host_pages::{Hold, PageError, PageRange};
use crate::{Conduit, HOST_ID, Proxy, el3, reply};

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
