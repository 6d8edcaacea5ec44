//! The host's FFA_MEM_SHARE and FFA_MEM_RECLAIM.
//!
//! A share's descriptor is copied from the host's TX buffer before anything is checked, parsed
//! in the host's negotiated layout, and checked: the sender must be the host, every range must
//! be host RAM held by nobody (not a pinned mailbox page, not already shared). The proxy then
//! holds the pages ([`Hold::SharedWithSecure`]), copies the descriptor into its own TX buffer
//! (the SPMC never sees the host's pages) and forwards the call; if the SPMC refuses, the hold
//! is dropped again. The handle it answers names the ranges until the host reclaims them:
//! a successful FFA_MEM_RECLAIM drops the hold. Errors: no mailbox → DENIED; a buffer other
//! than the TX buffer, a length past either TX buffer, a fragment of a longer descriptor (not
//! yet: FFA_MEM_FRAG_TX), a malformed descriptor, another sender, a range outside host RAM,
//! ranges that overlap each other → INVALID_PARAMETERS; a page already held → DENIED; no room
//! in the ledgers → NO_MEMORY.
//!
//! FFA_MEM_LEND and FFA_MEM_DONATE stay blocked: lent pages must leave the host's stage 2
//! until they are reclaimed, which the proxy cannot do yet.

use ffa::memory::{Layout, MAX_ENCODED_LEN, MemTransaction};
use ffa::{FfaError, Interface, MemOpBuf, Regs, Version};
use heapless::Vec;

use crate::host_pages::{Hold, PageError, PageRange};
use crate::{Conduit, HOST_HOLDS, HOST_ID, HostMemory, Proxy, reply};

/// One range of a share the host made and has not reclaimed, with the SPMC's handle for it.
/// (One entry per range: the ledger holds at most [`HOST_HOLDS`] ranges in all, and the proxy
/// lives on a small boot stack.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostShare {
    /// The SPMC's handle.
    pub handle: u64,
    /// The range, as held in the ledger.
    pub range: PageRange,
}

/// Outstanding host shares, range by range.
pub type HostShares = Vec<HostShare, HOST_HOLDS>;

fn page_error(e: PageError) -> FfaError {
    match e {
        PageError::AlreadyHeld => FfaError::Denied,
        PageError::TableFull => FfaError::NoMemory,
        _ => FfaError::InvalidParameters,
    }
}

impl Proxy {
    /// The host's FFA_MEM_SHARE (32 or 64).
    pub(crate) fn host_mem_share<C: Conduit, M: HostMemory>(
        &mut self,
        call: &Interface,
        version: Version,
        regs: &Regs,
        conduit: &mut C,
        mem: &mut M,
    ) -> Regs {
        match self.try_mem_share(call, version, regs, conduit, mem) {
            Ok(answer) => answer,
            Err(e) => reply::error(e, regs),
        }
    }

    fn try_mem_share<C: Conduit, M: HostMemory>(
        &mut self,
        call: &Interface,
        version: Version,
        regs: &Regs,
        conduit: &mut C,
        mem: &mut M,
    ) -> Result<Regs, FfaError> {
        let Interface::MemShare {
            total_len,
            frag_len,
            buf,
        } = *call
        else {
            return Err(FfaError::InvalidParameters);
        };
        let in_tx_buffer = match buf {
            None => true,
            Some(MemOpBuf::Buf32 { addr, page_cnt }) => addr == 0 && page_cnt == 0,
            Some(MemOpBuf::Buf64 { addr, page_cnt }) => addr == 0 && page_cnt == 0,
        };
        if !in_tx_buffer || frag_len != total_len {
            return Err(FfaError::InvalidParameters);
        }
        let mailbox = self.mailbox.ok_or(FfaError::Denied)?;
        let len = usize::try_from(total_len).map_err(|_| FfaError::InvalidParameters)?;
        if len == 0
            || len as u64 > mailbox.bytes()
            || len as u64 > self.mailbox_bytes()
            || len > MAX_ENCODED_LEN
        {
            return Err(FfaError::InvalidParameters);
        }
        // Copied out of the host's buffer before anything is checked.
        let mut bytes = [0u8; MAX_ENCODED_LEN];
        let copy = bytes.get_mut(..len).ok_or(FfaError::InvalidParameters)?;
        mem.read(mailbox.tx.base(), copy)
            .map_err(|_| FfaError::InvalidParameters)?;
        let txn = MemTransaction::parse(copy, Layout::for_version(version))?;
        if txn.sender != HOST_ID {
            return Err(FfaError::InvalidParameters);
        }
        let mut ranges: Vec<PageRange, HOST_HOLDS> = Vec::new();
        for r in txn.ranges.iter() {
            let range = PageRange::new(r.address, u64::from(r.pages)).map_err(page_error)?;
            ranges.push(range).map_err(|_| FfaError::NoMemory)?;
        }
        // Ranges of one share that overlap each other are a malformed request (as the SPMC
        // answers it); a page some other hold has is taken (DENIED, below).
        for (i, r) in ranges.iter().enumerate() {
            if ranges.iter().skip(i + 1).any(|o| o.overlaps(r)) {
                return Err(FfaError::InvalidParameters);
            }
        }
        if ranges.len() > self.shares.capacity() - self.shares.len() {
            return Err(FfaError::NoMemory);
        }
        self.pages
            .claim(&ranges, Hold::SharedWithSecure)
            .map_err(page_error)?;
        let forwarded = mem
            .write(self.config.tx, copy)
            .map_err(|_| FfaError::Aborted)
            .map(|()| conduit.call(regs));
        let answer = match forwarded {
            Ok(answer) if ffa::call::is_success(&answer) => answer,
            other => {
                // The SPMC refused (or nothing was sent): the pages are the host's again.
                let _ = self.pages.release(&ranges, Hold::SharedWithSecure);
                return other;
            }
        };
        let handle = (answer[2] & 0xffff_ffff) | (answer[3] & 0xffff_ffff) << 32;
        for range in ranges {
            // Room checked above; were it not there, the pages would merely stay held.
            let _ = self.shares.push(HostShare { handle, range });
        }
        Ok(answer)
    }

    /// The host's FFA_MEM_RECLAIM: forwarded; on success the pages of that share are the
    /// host's again.
    pub(crate) fn host_mem_reclaim<C: Conduit>(&mut self, regs: &Regs, conduit: &mut C) -> Regs {
        let answer = conduit.call(regs);
        if ffa::call::is_success(&answer) {
            let handle = (regs[1] & 0xffff_ffff) | (regs[2] & 0xffff_ffff) << 32;
            let ranges: Vec<PageRange, HOST_HOLDS> = self
                .shares
                .iter()
                .filter(|s| s.handle == handle)
                .map(|s| s.range)
                .collect();
            let _ = self.pages.release(&ranges, Hold::SharedWithSecure);
            self.shares.retain(|s| s.handle != handle);
        }
        answer
    }

    /// The host's outstanding shares.
    pub fn host_shares(&self) -> &HostShares {
        &self.shares
    }
}
