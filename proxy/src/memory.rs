//! The host's FFA_MEM_SHARE, FFA_MEM_LEND, FFA_MEM_FRAG_TX and FFA_MEM_RECLAIM.
//!
//! A send's descriptor is copied from the host's TX buffer into the proxy's own, a chunk at a
//! time, and each chunk is checked as it is copied: the head (in the host's negotiated layout)
//! names the host as sender, and every constituent is host RAM held by nobody (not a pinned
//! mailbox page, not in another transaction). The proxy holds the pages
//! ([`Hold::SharedWithSecure`] or [`Hold::LentToSecure`]) before it forwards the call from its
//! own TX buffer (the SPMC never sees the host's pages), tagged with the transaction's handle
//! once the SPMC names it. A descriptor larger than one buffer comes in fragments: the SPMC
//! answers FFA_MEM_FRAG_RX, the host sends the rest with FFA_MEM_FRAG_TX, each fragment
//! checked and held the same way. If the SPMC refuses any fragment, or the proxy refuses one
//! (the SPMC is then told to drop the transaction), every hold of that transaction is dropped.
//!
//! FFA_MEM_RECLAIM first asks the SPMC for the transaction with the hypervisor retrieve
//! request (reading every fragment of the answer, as pKVM does) and checks that its ranges are
//! exactly the ones the proxy holds for that handle; only then is the reclaim forwarded, and on
//! success the pages are the host's again.
//!
//! Errors: no mailbox → DENIED; a buffer other than the TX buffer, a length past either TX
//! buffer, a malformed descriptor or fragment, another sender, a range outside host RAM,
//! ranges that overlap each other → INVALID_PARAMETERS; a page held by something else →
//! DENIED; no room in the ledger → NO_MEMORY; a second fragmented send while one is arriving
//! → BUSY.
//!
//! Lent pages leave the host's stage 2 (`HostMemory::host_access`) as each fragment is
//! checked, before the SPMC hears of them, and come back when the lend is refused or
//! reclaimed: the host's accesses to them meanwhile fault (the arch layer injects the abort
//! into the host, as pKVM does).

use ffa::memory::{CONSTITUENT_SIZE, DescriptorHead, Layout, constituents};
use ffa::{FfaError, FuncId, Interface, MemOpBuf, Regs, Version};
use heapless::Vec;

use crate::host_pages::{Hold, PageError, PageRange};
use crate::{Conduit, HOST_ID, HostMemory, Proxy, reply};

/// Bytes copied (and checked) at a time: a whole number of constituents, and room for any
/// descriptor head.
const CHUNK: usize = 512;

/// The tag of holds taken for a first fragment whose handle the SPMC has not named yet
/// (never a handle: the SPMC's have bit 63 set).
const UNNAMED: u64 = 1;

/// A fragmented send under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arriving {
    /// The SPMC's handle for it.
    pub handle: u64,
    /// Bytes forwarded so far.
    pub received: u32,
    /// The whole descriptor's length.
    pub total: u32,
    /// The hold its pages take.
    pub hold: Hold,
}

fn page_error(e: PageError) -> FfaError {
    match e {
        PageError::AlreadyHeld => FfaError::Denied,
        PageError::TableFull => FfaError::NoMemory,
        _ => FfaError::InvalidParameters,
    }
}

fn handle_of(lo: u64, hi: u64) -> u64 {
    (lo & 0xffff_ffff) | (hi & 0xffff_ffff) << 32
}

impl Proxy {
    /// The host's FFA_MEM_SHARE or FFA_MEM_LEND (32 or 64).
    pub(crate) fn host_mem_send<C: Conduit, M: HostMemory>(
        &mut self,
        call: &Interface,
        version: Version,
        regs: &Regs,
        conduit: &mut C,
        mem: &mut M,
    ) -> Regs {
        match self.try_mem_send(call, version, regs, conduit, mem) {
            Ok(answer) => answer,
            Err(e) => reply::error(e, regs),
        }
    }

    fn try_mem_send<C: Conduit, M: HostMemory>(
        &mut self,
        call: &Interface,
        version: Version,
        regs: &Regs,
        conduit: &mut C,
        mem: &mut M,
    ) -> Result<Regs, FfaError> {
        let (total_len, frag_len, buf, hold) = match *call {
            Interface::MemShare {
                total_len,
                frag_len,
                buf,
            } => (total_len, frag_len, buf, Hold::SharedWithSecure),
            Interface::MemLend {
                total_len,
                frag_len,
                buf,
            } => (total_len, frag_len, buf, Hold::LentToSecure),
            _ => return Err(FfaError::InvalidParameters),
        };
        let in_tx_buffer = match buf {
            None => true,
            Some(MemOpBuf::Buf32 { addr, page_cnt }) => addr == 0 && page_cnt == 0,
            Some(MemOpBuf::Buf64 { addr, page_cnt }) => addr == 0 && page_cnt == 0,
        };
        if !in_tx_buffer || frag_len == 0 || frag_len > total_len {
            return Err(FfaError::InvalidParameters);
        }
        if frag_len < total_len && self.arriving.is_some() {
            return Err(FfaError::Busy);
        }
        let total = usize::try_from(total_len).map_err(|_| FfaError::InvalidParameters)?;
        let layout = Layout::for_version(version);
        let copied = self.copy_fragment(frag_len, hold, UNNAMED, mem, |first| {
            let head = DescriptorHead::parse(first, total, layout)?;
            if head.sender != HOST_ID {
                return Err(FfaError::InvalidParameters);
            }
            Ok(head
                .composite
                .ok_or(FfaError::InvalidParameters)?
                .constituents_at)
        });
        if let Err(e) = copied {
            self.drop_holds(UNNAMED, mem);
            return Err(e);
        }
        let answer = conduit.call(regs);
        let handle = handle_of(answer[1], answer[2]);
        if answer[0] == u64::from(u32::from(FuncId::MemFragRx)) {
            self.pages.retag(UNNAMED, handle);
            self.arriving = Some(Arriving {
                handle,
                received: frag_len,
                total: total_len,
                hold,
            });
        } else if ffa::call::is_success(&answer) {
            self.pages.retag(UNNAMED, handle_of(answer[2], answer[3]));
        } else {
            // The SPMC refused (or answered nonsense): the pages are the host's again.
            self.drop_holds(UNNAMED, mem);
        }
        Ok(answer)
    }

    /// The host's FFA_MEM_FRAG_TX: the next fragment of the send under way.
    pub(crate) fn host_mem_frag_tx<C: Conduit, M: HostMemory>(
        &mut self,
        regs: &Regs,
        conduit: &mut C,
        mem: &mut M,
    ) -> Regs {
        let handle = handle_of(regs[1], regs[2]);
        let frag_len = (regs[3] & 0xffff_ffff) as u32;
        let Some(arriving) = self.arriving.filter(|a| a.handle == handle) else {
            return reply::error(FfaError::InvalidParameters, regs);
        };
        let fits = arriving
            .received
            .checked_add(frag_len)
            .is_some_and(|n| n <= arriving.total);
        let copied = if fits && frag_len != 0 {
            self.copy_fragment(frag_len, arriving.hold, handle, mem, |_| Ok(0))
        } else {
            Err(FfaError::InvalidParameters)
        };
        let answer = match copied {
            Ok(()) => {
                // Forwarded as the proxy's own: w4 (the sender, for a hypervisor) is ours to set.
                let mut forward = *regs;
                forward[4] = 0;
                conduit.call(&forward)
            }
            Err(e) => {
                // The SPMC drops a transaction whose fragment it refuses: an empty one.
                let mut drop = *regs;
                drop[3] = 0;
                drop[4] = 0;
                let _ = conduit.call(&drop);
                reply::error(e, regs)
            }
        };
        if answer[0] == u64::from(u32::from(FuncId::MemFragRx)) {
            self.arriving = Some(Arriving {
                received: arriving.received + frag_len,
                ..arriving
            });
        } else {
            self.arriving = None;
            if !ffa::call::is_success(&answer) {
                self.drop_holds(handle, mem);
            }
        }
        answer
    }

    /// Copies a fragment of `len` bytes from the host's TX buffer to the proxy's, checking it
    /// on the way: `head` reads the first chunk and says where constituents start (0: all of
    /// the fragment); every constituent is held as `hold` for `tag`.
    fn copy_fragment<M: HostMemory>(
        &mut self,
        len: u32,
        hold: Hold,
        tag: u64,
        mem: &mut M,
        head: impl FnOnce(&[u8]) -> Result<usize, FfaError>,
    ) -> Result<(), FfaError> {
        let mailbox = self.mailbox.ok_or(FfaError::Denied)?;
        let len = usize::try_from(len).map_err(|_| FfaError::InvalidParameters)?;
        if len as u64 > mailbox.bytes() || len as u64 > self.mailbox_bytes() {
            return Err(FfaError::InvalidParameters);
        }
        let mut chunk = [0u8; CHUNK];
        let mut head = Some(head);
        let mut start = 0;
        let mut from = 0;
        while start < len {
            let end = (start + CHUNK).min(len);
            let bytes = chunk.get_mut(..end - start).ok_or(FfaError::NoMemory)?;
            // Copied out of the host's buffer before anything is checked.
            mem.read(mailbox.tx.base() + start as u64, bytes)
                .map_err(|_| FfaError::InvalidParameters)?;
            if let Some(parse) = head.take() {
                from = parse(bytes)?;
                if from > len || !(len - from).is_multiple_of(CONSTITUENT_SIZE) {
                    return Err(FfaError::InvalidParameters);
                }
            }
            let skip = from.saturating_sub(start).min(bytes.len());
            let mut ranges: Vec<PageRange, { CHUNK / CONSTITUENT_SIZE }> = Vec::new();
            for r in constituents(bytes.get(skip..).unwrap_or(&[]))? {
                let r = r?;
                let range = PageRange::new(r.address, u64::from(r.pages)).map_err(page_error)?;
                ranges.push(range).map_err(|_| FfaError::NoMemory)?;
            }
            self.pages
                .claim_tagged(&ranges, hold, tag)
                .map_err(page_error)?;
            if hold == Hold::LentToSecure {
                // Lent pages leave the host before the SPMC hears of them.
                for r in &ranges {
                    mem.host_access(r.base(), r.pages(), false)
                        .map_err(|_| FfaError::Aborted)?;
                }
            }
            mem.write(self.config.tx + start as u64, bytes)
                .map_err(|_| FfaError::Aborted)?;
            start = end;
        }
        Ok(())
    }

    /// The host's FFA_MEM_RECLAIM: the ranges checked through the hypervisor retrieve
    /// request, then the reclaim forwarded; on success the pages are the host's again.
    pub(crate) fn host_mem_reclaim<C: Conduit, M: HostMemory>(
        &mut self,
        version: Version,
        regs: &Regs,
        conduit: &mut C,
        mem: &mut M,
    ) -> Regs {
        let handle = handle_of(regs[1], regs[2]);
        if self.pages.tagged(handle).next().is_none() {
            // Not a transaction of the host's that is complete: the SPMC says why.
            return conduit.call(regs);
        }
        if let Err(e) = self.check_ranges_with_spmc(handle, version, conduit, mem) {
            return reply::error(e, regs);
        }
        let answer = conduit.call(regs);
        if ffa::call::is_success(&answer) {
            self.drop_holds(handle, mem);
        }
        answer
    }

    /// Drops every hold of transaction `tag`, giving lent pages back to the host's stage 2.
    fn drop_holds<M: HostMemory>(&mut self, tag: u64, mem: &mut M) {
        for (range, hold) in self.pages.tagged(tag) {
            if hold == Hold::LentToSecure {
                // Mapping a page back cannot need a table the boot did not build.
                let _ = mem.host_access(range.base(), range.pages(), true);
            }
        }
        self.pages.release_tagged(tag);
    }

    /// Asks the SPMC for transaction `handle` (the hypervisor retrieve request, from the
    /// proxy's TX buffer, answered in its RX buffer in fragments) and checks that its ranges
    /// are exactly the ones held for it.
    fn check_ranges_with_spmc<C: Conduit, M: HostMemory>(
        &mut self,
        handle: u64,
        version: Version,
        conduit: &mut C,
        mem: &mut M,
    ) -> Result<(), FfaError> {
        let layout = Layout::for_version(version);
        let mut request = [0u8; 48];
        request[8..16].copy_from_slice(&handle.to_le_bytes());
        let len = layout.header_size();
        if layout != Layout::V1_0 {
            request[24..28].copy_from_slice(&(layout.emad_size() as u32).to_le_bytes());
            request[32..36].copy_from_slice(&(len as u32).to_le_bytes());
        }
        mem.write(self.config.tx, request.get(..len).unwrap_or(&[]))
            .map_err(|_| FfaError::Aborted)?;
        let mut call = [0u64; 18];
        call[0] = u64::from(u32::from(FuncId::MemRetrieveReq32));
        call[1] = len as u64;
        call[2] = len as u64;
        let answer = conduit.call(&call);
        if answer[0] != u64::from(u32::from(FuncId::MemRetrieveResp)) {
            return Err(ffa::call::error_code(&answer).unwrap_or(FfaError::Aborted));
        }
        let total = (answer[1] & 0xffff_ffff) as usize;
        let mut fragment = (answer[2] & 0xffff_ffff) as usize;
        let mut delivered = 0usize;
        let mut from = None;
        let mut matched = 0usize;
        let mut verdict = Ok(());
        loop {
            if fragment == 0 || fragment as u64 > self.mailbox_bytes() {
                verdict = Err(FfaError::Aborted);
            }
            let mut start = 0;
            let mut chunk = [0u8; CHUNK];
            while verdict.is_ok() && start < fragment {
                let end = (start + CHUNK).min(fragment);
                let bytes = chunk.get_mut(..end - start).ok_or(FfaError::NoMemory)?;
                if mem.read(self.config.rx + start as u64, bytes).is_err() {
                    verdict = Err(FfaError::Aborted);
                    break;
                }
                if from.is_none() {
                    let at = DescriptorHead::parse(bytes, total, layout)
                        .ok()
                        .and_then(|h| h.composite)
                        .map(|c| c.constituents_at);
                    from = Some(at.ok_or(FfaError::Aborted)?);
                }
                let skip = from.unwrap_or(0).saturating_sub(start).min(bytes.len());
                for r in constituents(bytes.get(skip..).unwrap_or(&[]))?.flatten() {
                    let held = PageRange::new(r.address, u64::from(r.pages))
                        .is_ok_and(|range| self.pages.tagged(handle).any(|(h, _)| h == range));
                    if !held {
                        verdict = Err(FfaError::Aborted);
                    }
                    matched += 1;
                }
                start = end;
            }
            // The RX buffer goes back to the SPMC after each fragment.
            let mut release = [0u64; 18];
            release[0] = u64::from(u32::from(FuncId::RxRelease));
            let _ = conduit.call(&release);
            delivered += fragment;
            if verdict.is_err() || delivered >= total {
                break;
            }
            let mut next = [0u64; 18];
            next[0] = u64::from(u32::from(FuncId::MemFragRx));
            next[1] = handle & 0xffff_ffff;
            next[2] = handle >> 32;
            next[3] = delivered as u64;
            let answer = conduit.call(&next);
            if answer[0] != u64::from(u32::from(FuncId::MemFragTx)) {
                return Err(FfaError::Aborted);
            }
            fragment = (answer[3] & 0xffff_ffff) as usize;
            // Subsequent fragments hold constituents only.
            from = Some(0);
        }
        verdict?;
        if matched != self.pages.tagged(handle).count() {
            return Err(FfaError::Aborted);
        }
        Ok(())
    }

    /// The send under way in fragments, if any.
    pub fn arriving(&self) -> Option<Arriving> {
        self.arriving
    }
}
