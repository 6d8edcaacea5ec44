//! Memory management (FF-A v1.2 §11): FFA_MEM_SHARE, FFA_MEM_LEND and FFA_MEM_DONATE from the
//! normal world, FFA_MEM_RECLAIM, and the borrowers' side ([`retrieve`]: FFA_MEM_RETRIEVE_REQ,
//! FFA_MEM_RELINQUISH).
//!
//! A send reads the transaction descriptor from the caller's TX buffer (in the layout of the
//! caller's FF-A version), copies it before checking anything, and records it in the
//! [`ledger::Ledger`] under a handle the SPMC allocates, answered in FFA_SUCCESS w2 (low half)
//! and w3 (high half). Error codes, as Hafnium's `ffa_memory.c` gives them:
//! - INVALID_PARAMETERS: a malformed descriptor (`ffa::memory::DescError`); a buffer address
//!   other than the TX buffer; a length beyond the TX buffer or a fragment longer than the
//!   whole; a sender that is not the caller; a nonzero handle; a receiver that is not a hosted
//!   partition, or the sender itself; DONATE to more than one receiver; permissions that grant
//!   no data access or grant execution; memory attributes a send may not use (device memory, the
//!   NS bit, anything but unspecified or normal write-back memory for a lend or donate, anything
//!   but normal write-back inner shareable memory for a share); flags a send does not define,
//!   or "zero the memory" on a share; overlapping ranges; a range outside the lender's memory.
//! - DENIED: a range already in an outstanding transaction; no TX buffer mapped.
//! - NO_MEMORY: more ranges or receivers than the SPMC's tables hold, or the ledger is full.
//! - NOT_SUPPORTED (not yet): a descriptor sent in fragments (FFA_MEM_FRAG_TX).
//!
//! A partition may give memory of its own window (its secure memory) to other partitions; a
//! lend or donate takes the lender's own access away (`Platform::unmap_for`) until it
//! reclaims.
//!
//! FFA_MEM_RECLAIM (w1/w2 = the handle, w3 = flags) by the lender (the normal world, or the
//! partition that sent it) forgets the transaction once
//! no borrower holds the memory (DENIED otherwise); an unknown handle, another lender's handle
//! or undefined flags are INVALID_PARAMETERS; "zero the memory" is honoured for a lend or
//! donate (INVALID_PARAMETERS for a share).

pub mod ledger;
pub mod retrieve;

use ffa::memory::{
    AddressRange, CONSTITUENT_SIZE, DescriptorHead, Layout, attributes, constituents, flags,
    permissions,
};
use ffa::{EndpointId, FfaError, FuncId, Interface, MemOpBuf, PAGE_SIZE};

use crate::platform::{Platform, Space};
use crate::spmc::{Call, Endpoint, Next, Spmc};
use ledger::{Arriving, Borrower, Handle, Holding, Kind, LedgerError, Transaction};

/// The flags a send may set: zero the memory before a borrower maps it (lend and donate only).
const SEND_FLAGS: u32 = flags::CLEAR;

/// FFA_MEM_RECLAIM's flags: zero the memory before the lender gets it back.
const RECLAIM_ZERO: u32 = 1 << 0;

/// Descriptors are copied out of a TX buffer, and written into an RX buffer, this many bytes at
/// a time (a whole number of constituents; the head of a descriptor must fit in the first).
pub(crate) const CHUNK: usize = 512;

impl From<LedgerError> for FfaError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Full | LedgerError::NoHandle => FfaError::NoMemory,
            LedgerError::AlreadyShared => FfaError::Denied,
            LedgerError::Overlapping | LedgerError::Unknown | LedgerError::CountMismatch => {
                FfaError::InvalidParameters
            }
        }
    }
}

/// Where a send stands after one fragment.
enum Progress {
    /// Committed under this handle.
    Done(Handle),
    /// More fragments to come; this many bytes have arrived.
    More(Handle, u32),
}

impl<P: Platform> Spmc<P> {
    /// FFA_MEM_SHARE, FFA_MEM_LEND or FFA_MEM_DONATE (either width).
    pub(crate) fn mem_send(&mut self, call: &Call, kind: Kind, interface: &Interface) -> Next {
        let progress = self.send(call, kind, interface);
        self.answer_send(call, progress)
    }

    /// FFA_MEM_FRAG_TX: the next fragment of a send.
    pub(crate) fn mem_frag_tx(&mut self, call: &Call, interface: &Interface) -> Next {
        let progress = self.frag_tx(call, interface);
        self.answer_send(call, progress)
    }

    fn answer_send(&mut self, call: &Call, progress: Result<Progress, FfaError>) -> Next {
        match progress {
            Ok(Progress::Done(handle)) => {
                let h = handle.0;
                self.succeed(call, [h as u32, (h >> 32) as u32, 0, 0, 0, 0])
            }
            Ok(Progress::More(handle, received)) => {
                // The normal world is told whose transaction it is (Hafnium does the same).
                let sender = match (call.from, self.ledger.get_any(handle)) {
                    (Endpoint::NormalWorld, Some(t)) => u64::from(t.lender.0) << 16,
                    _ => 0,
                };
                let mut regs = [0; 18];
                regs[0] = u64::from(u32::from(FuncId::MemFragRx));
                regs[1] = handle.0 & 0xffff_ffff;
                regs[2] = handle.0 >> 32;
                regs[3] = u64::from(received);
                regs[4] = sender;
                self.reply(call, regs)
            }
            Err(code) => self.fail(call, code),
        }
    }

    fn send(
        &mut self,
        call: &Call,
        kind: Kind,
        interface: &Interface,
    ) -> Result<Progress, FfaError> {
        let (total_len, frag_len, buf) = match *interface {
            Interface::MemShare {
                total_len,
                frag_len,
                buf,
            }
            | Interface::MemLend {
                total_len,
                frag_len,
                buf,
            }
            | Interface::MemDonate {
                total_len,
                frag_len,
                buf,
            } => (total_len, frag_len, buf),
            _ => return Err(FfaError::InvalidParameters),
        };
        let in_tx_buffer = match buf {
            None => true,
            Some(MemOpBuf::Buf32 { addr, page_cnt }) => addr == 0 && page_cnt == 0,
            Some(MemOpBuf::Buf64 { addr, page_cnt }) => addr == 0 && page_cnt == 0,
        };
        if !in_tx_buffer || frag_len > total_len || frag_len == 0 {
            return Err(FfaError::InvalidParameters);
        }
        let (tx, space, version) = self.tx_of(call.from)?;
        let frag = usize::try_from(frag_len).map_err(|_| FfaError::InvalidParameters)?;
        let total = usize::try_from(total_len).map_err(|_| FfaError::InvalidParameters)?;
        if frag as u64 > tx.len() {
            return Err(FfaError::InvalidParameters);
        }
        // Copied out of the shared buffer before anything is checked.
        let mut chunk = [0u8; CHUNK];
        let first = chunk
            .get_mut(..frag.min(CHUNK))
            .ok_or(FfaError::InvalidParameters)?;
        self.platform
            .read(space, tx.tx, first)
            .map_err(|_| FfaError::InvalidParameters)?;
        let layout = Layout::for_version(version);
        let head = DescriptorHead::parse(first, total, layout)?;
        let composite = head.composite.ok_or(FfaError::InvalidParameters)?;
        let transaction = self.check_send(call.from, kind, &head)?;
        let arriving = Arriving {
            received: 0,
            total: total_len,
            stated_pages: composite.total_pages,
            pages: 0,
            clear: head.flags & flags::CLEAR != 0,
        };
        let count = composite.count as usize;
        let handle = self.ledger.open(transaction, count, Some(arriving))?;
        let at = composite.constituents_at;
        let loaded = frag.min(CHUNK);
        let progress = self.take_fragment(handle, tx.tx, (at, frag), &mut chunk, loaded);
        self.after_fragment(handle, progress)
    }

    fn frag_tx(&mut self, call: &Call, interface: &Interface) -> Result<Progress, FfaError> {
        let Interface::MemFragTx {
            handle, frag_len, ..
        } = *interface
        else {
            return Err(FfaError::InvalidParameters);
        };
        let handle = Handle(handle.0);
        let t = self
            .ledger
            .get_any(handle)
            .ok_or(FfaError::InvalidParameters)?;
        let arriving = t.arriving.ok_or(FfaError::InvalidParameters)?;
        if !self.is_lender(call.from, t.lender) {
            // Not the sender's transaction: left alone.
            return Err(FfaError::InvalidParameters);
        }
        let (tx, _, _) = self.tx_of(call.from)?;
        let frag = usize::try_from(frag_len).map_err(|_| FfaError::InvalidParameters)?;
        let fits = frag != 0
            && frag as u64 <= tx.len()
            && arriving
                .received
                .checked_add(frag_len)
                .is_some_and(|n| n <= arriving.total);
        let progress = if fits {
            let mut chunk = [0u8; CHUNK];
            self.take_fragment(handle, tx.tx, (0, frag), &mut chunk, 0)
        } else {
            Err(FfaError::InvalidParameters)
        };
        self.after_fragment(handle, progress)
    }

    /// Reads the constituents at `[from, to)` of the fragment in the caller's TX buffer at
    /// `tx` into the open transaction `handle`; `chunk` holds the fragment's first `loaded`
    /// bytes already.
    fn take_fragment(
        &mut self,
        handle: Handle,
        tx: u64,
        (from, to): (usize, usize),
        chunk: &mut [u8; CHUNK],
        loaded: usize,
    ) -> Result<(), FfaError> {
        if from > to || !(to - from).is_multiple_of(CONSTITUENT_SIZE) {
            // A fragment ends with a whole constituent.
            return Err(FfaError::InvalidParameters);
        }
        let t = self
            .ledger
            .get_any(handle)
            .ok_or(FfaError::InvalidParameters)?;
        let (space, lender) = (t.space, t.lender);
        let window = if lender.is_secure() {
            let p = self
                .partitions
                .find(lender)
                .and_then(|i| self.partitions.get(i))
                .ok_or(FfaError::InvalidParameters)?;
            Some((p.config.load_address, p.config.memory_size))
        } else {
            None
        };
        let Self {
            ledger, platform, ..
        } = self;
        let mut pages = 0u64;
        let mut start = 0;
        while start < to {
            let end = (start + CHUNK).min(to);
            let bytes = chunk.get_mut(..end - start).ok_or(FfaError::NoMemory)?;
            if start != 0 || loaded < end {
                platform
                    .read(space, tx + start as u64, bytes)
                    .map_err(|_| FfaError::InvalidParameters)?;
            }
            let skip = from.saturating_sub(start).min(bytes.len());
            let mut refused = Ok(());
            let checked = constituents(bytes.get(skip..).unwrap_or(&[]))?.map_while(|r| {
                let inside = |r: &AddressRange| {
                    let len = u64::from(r.pages) * PAGE_SIZE as u64;
                    match window {
                        None => platform.covers(Space::NonSecure, r.address, len),
                        Some((base, size)) => {
                            r.address >= base
                                && r.address
                                    .checked_add(len)
                                    .is_some_and(|end| end <= base.saturating_add(size))
                        }
                    }
                };
                match r {
                    Ok(r) if inside(&r) => {
                        pages += u64::from(r.pages);
                        Some(r)
                    }
                    Ok(_) => {
                        refused = Err(FfaError::InvalidParameters);
                        None
                    }
                    Err(e) => {
                        refused = Err(e.into());
                        None
                    }
                }
            });
            ledger.fill(handle, checked)?;
            refused?;
            start = end;
        }
        let t = ledger
            .get_mut_any(handle)
            .ok_or(FfaError::InvalidParameters)?;
        let a = t.arriving.as_mut().ok_or(FfaError::InvalidParameters)?;
        a.received = a.received.saturating_add(to as u32);
        a.pages = a.pages.saturating_add(pages);
        Ok(())
    }

    /// After a fragment: more to come, or the send is whole and committed; on any error the
    /// transaction is forgotten (the sender starts again).
    fn after_fragment(
        &mut self,
        handle: Handle,
        taken: Result<(), FfaError>,
    ) -> Result<Progress, FfaError> {
        let result = taken.and_then(|()| {
            let arriving = self
                .ledger
                .get_any(handle)
                .and_then(|t| t.arriving)
                .ok_or(FfaError::InvalidParameters)?;
            if arriving.received < arriving.total {
                return Ok(Progress::More(handle, arriving.received));
            }
            self.complete_send(handle, arriving)?;
            Ok(Progress::Done(handle))
        });
        if result.is_err() {
            self.ledger.forget(handle);
        }
        result
    }

    /// The last fragment arrived: the page count checked, the ranges committed, the memory
    /// zeroed if asked, and a partition's lent or donated memory taken from it.
    fn complete_send(&mut self, handle: Handle, arriving: Arriving) -> Result<(), FfaError> {
        if arriving.pages != u64::from(arriving.stated_pages) {
            return Err(FfaError::InvalidParameters);
        }
        // Ranges and ledger first: nothing is zeroed or unmapped for a send that is refused.
        self.ledger.commit(handle)?;
        let t = self
            .ledger
            .get_mut(handle)
            .ok_or(FfaError::InvalidParameters)?;
        t.pages = arriving.stated_pages;
        let (space, lender, kind) = (t.space, t.lender, t.kind);
        if arriving.clear {
            self.zero(space, handle)?;
        }
        if lender.is_secure() && kind != Kind::Share {
            // A partition that lends or donates loses its own access.
            for r in self.ledger.ranges(handle) {
                let len = u64::from(r.pages) * PAGE_SIZE as u64;
                self.platform
                    .unmap_for(lender, Space::Secure, r.address, len);
            }
        }
        Ok(())
    }

    /// The caller's TX buffer, its address space and its FF-A version.
    fn tx_of(
        &self,
        from: Endpoint,
    ) -> Result<(crate::mailbox::Buffers, Space, ffa::Version), FfaError> {
        let (mailbox, space, version) = match from {
            Endpoint::NormalWorld => (
                &self.normal_world.mailbox,
                Space::NonSecure,
                self.normal_world.version.version(),
            ),
            Endpoint::Partition(ctx) => {
                let p = self
                    .partitions
                    .get(ctx.partition)
                    .ok_or(FfaError::InvalidParameters)?;
                (&p.mailbox, Space::Secure, p.version.version())
            }
        };
        let tx = mailbox.buffers().ok_or(FfaError::Denied)?;
        Ok((tx, space, version))
    }

    /// Whether `from` is `lender` (the normal world stands for every non-secure endpoint).
    fn is_lender(&self, from: Endpoint, lender: EndpointId) -> bool {
        match from {
            Endpoint::NormalWorld => !lender.is_secure(),
            Endpoint::Partition(ctx) => self.partitions.id_of(ctx) == Some(lender),
        }
    }

    /// The checks of a send's head that need the SPMC's state (its ranges are checked as they
    /// arrive): the sender is the caller, the borrowers are hosted partitions.
    fn check_send(
        &self,
        from: Endpoint,
        kind: Kind,
        head: &DescriptorHead,
    ) -> Result<Transaction, FfaError> {
        let space = match from {
            Endpoint::NormalWorld => Space::NonSecure,
            Endpoint::Partition(_) => Space::Secure,
        };
        let sender_ok = match from {
            Endpoint::NormalWorld => !head.sender.is_secure(),
            Endpoint::Partition(ctx) => self.partitions.id_of(ctx) == Some(head.sender),
        };
        if !sender_ok || head.handle != 0 {
            return Err(FfaError::InvalidParameters);
        }
        if head.flags & !SEND_FLAGS != 0 || (kind == Kind::Share && head.flags & flags::CLEAR != 0)
        {
            return Err(FfaError::InvalidParameters);
        }
        if !attributes_allowed(kind, head.attributes) {
            return Err(FfaError::InvalidParameters);
        }
        if kind == Kind::Donate && head.receivers.len() != 1 {
            return Err(FfaError::InvalidParameters);
        }
        let mut t = Transaction::new(kind, head.sender, space, head.attributes, head.tag);
        for r in head.receivers.iter() {
            if r.id == head.sender || self.partitions.find(r.id).is_none() {
                return Err(FfaError::InvalidParameters);
            }
            let data = r.permissions & permissions::DATA_MASK;
            let instruction = r.permissions & permissions::INSTRUCTION_MASK;
            if data == permissions::DATA_NOT_SPECIFIED || instruction == permissions::INSTRUCTION_X
            {
                return Err(FfaError::InvalidParameters);
            }
            t.borrowers
                .push(Borrower {
                    id: r.id,
                    permissions: r.permissions,
                    holding: Holding::Granted,
                    delivered: 0,
                })
                .map_err(|_| FfaError::NoMemory)?;
        }
        Ok(t)
    }

    /// Writes zeros over the ranges of transaction `handle`.
    pub(crate) fn zero(&mut self, space: Space, handle: Handle) -> Result<(), FfaError> {
        const ZEROS: [u8; PAGE_SIZE] = [0; PAGE_SIZE];
        let Self {
            ledger, platform, ..
        } = self;
        for r in ledger.ranges(handle) {
            for page in 0..u64::from(r.pages) {
                let at = r.address + page * PAGE_SIZE as u64;
                platform
                    .write(space, at, &ZEROS)
                    .map_err(|_| FfaError::Aborted)?;
            }
        }
        Ok(())
    }

    /// FFA_MEM_RECLAIM.
    pub(crate) fn mem_reclaim(&mut self, call: &Call) -> Next {
        match self.reclaim(call) {
            Ok(()) => self.succeed(call, [0; 6]),
            Err(code) => self.fail(call, code),
        }
    }

    fn reclaim(&mut self, call: &Call) -> Result<(), FfaError> {
        let handle = Handle((call.regs[1] & 0xffff_ffff) | (call.regs[2] & 0xffff_ffff) << 32);
        let reclaim_flags = (call.regs[3] & 0xffff_ffff) as u32;
        if reclaim_flags & !RECLAIM_ZERO != 0 {
            return Err(FfaError::InvalidParameters);
        }
        let txn = self.ledger.get(handle).ok_or(FfaError::InvalidParameters)?;
        if !self.is_lender(call.from, txn.lender) {
            return Err(FfaError::InvalidParameters);
        }
        if txn.held() {
            return Err(FfaError::Denied);
        }
        let zero = reclaim_flags & RECLAIM_ZERO != 0;
        if zero && txn.kind == Kind::Share {
            return Err(FfaError::InvalidParameters);
        }
        let (kind, lender, space) = (txn.kind, txn.lender, txn.space);
        if zero {
            self.zero(space, handle)?;
        }
        if lender.is_secure() && kind != Kind::Share {
            // The lender's own access comes back, as its window had it.
            let own = permissions::DATA_RW | permissions::INSTRUCTION_X;
            let Self {
                ledger, platform, ..
            } = self;
            for r in ledger.ranges(handle) {
                let len = u64::from(r.pages) * PAGE_SIZE as u64;
                platform
                    .map_for(lender, Space::Secure, r.address, len, own)
                    .map_err(|_| FfaError::NoMemory)?;
            }
        }
        self.ledger.forget(handle);
        Ok(())
    }

    /// A partition that dies gives back what it retrieved: unmapped, no longer held.
    pub(crate) fn release_memory_of(&mut self, borrower: EndpointId) {
        let mut held: heapless::Vec<Handle, { ledger::MAX_TRANSACTIONS }> = heapless::Vec::new();
        for t in self.ledger.iter() {
            if t.borrowers
                .iter()
                .any(|b| b.id == borrower && b.holding == Holding::Retrieved)
            {
                let _ = held.push(t.handle);
            }
        }
        for handle in held {
            let Some(t) = self.ledger.get_mut(handle) else {
                continue;
            };
            if let Some(b) = t.borrower_mut(borrower) {
                b.holding = Holding::Granted;
                b.delivered = 0;
            }
            let space = t.space;
            self.unmap_all(borrower, space, handle, usize::MAX);
        }
    }

    /// Unmaps the first `count` ranges of `handle` from `borrower`.
    pub(crate) fn unmap_all(
        &mut self,
        borrower: EndpointId,
        space: Space,
        handle: Handle,
        count: usize,
    ) {
        let Self {
            ledger, platform, ..
        } = self;
        for r in ledger.ranges(handle).iter().take(count) {
            let len = u64::from(r.pages) * PAGE_SIZE as u64;
            platform.unmap_for(borrower, space, r.address, len);
        }
    }

    /// The outstanding memory transactions (for tests and the arch layer's log).
    pub fn memory_transactions(&self) -> impl Iterator<Item = &Transaction> {
        self.ledger.iter()
    }

    /// The constituents of transaction `handle` (for tests).
    pub fn memory_ranges(&self, handle: u64) -> &[AddressRange] {
        self.ledger.ranges(Handle(handle))
    }
}

/// Whether a send of `kind` may carry `attrs` (FF-A v1.2 §11.10.1): no device memory and no NS
/// bit from a sender; a share names normal write-back inner-shareable memory (the borrower must
/// not map it any other way while the lender has it too); a lend or donate may leave the type
/// to the borrower, or name the same.
fn attributes_allowed(kind: Kind, attrs: u16) -> bool {
    let normal_wb_inner =
        attributes::TYPE_NORMAL | attributes::WRITE_BACK | attributes::INNER_SHAREABLE;
    if attrs & attributes::NON_SECURE != 0 {
        return false;
    }
    match kind {
        Kind::Share => attrs == normal_wb_inner,
        Kind::Lend | Kind::Donate => {
            attrs & attributes::TYPE_MASK == attributes::TYPE_NOT_SPECIFIED
                || attrs == normal_wb_inner
        }
    }
}
