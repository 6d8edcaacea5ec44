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

use ffa::memory::{Layout, MAX_ENCODED_LEN, MemTransaction, attributes, flags, permissions};
use ffa::{FfaError, Interface, MemOpBuf, PAGE_SIZE};
use heapless::Vec;

use crate::platform::{Platform, Space};
use crate::spmc::{Call, Endpoint, Outcome, Spmc};
use ledger::{Borrower, Handle, Holding, Kind, LedgerError, Transaction};

/// The flags a send may set: zero the memory before a borrower maps it (lend and donate only).
const SEND_FLAGS: u32 = flags::CLEAR;

/// FFA_MEM_RECLAIM's flags: zero the memory before the lender gets it back.
const RECLAIM_ZERO: u32 = 1 << 0;

impl From<LedgerError> for FfaError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Full | LedgerError::NoHandle => FfaError::NoMemory,
            LedgerError::AlreadyShared => FfaError::Denied,
            LedgerError::Overlapping => FfaError::InvalidParameters,
        }
    }
}

impl<P: Platform> Spmc<P> {
    /// FFA_MEM_SHARE, FFA_MEM_LEND or FFA_MEM_DONATE (either width).
    pub(crate) fn mem_send(&mut self, call: &Call, kind: Kind, interface: &Interface) -> Outcome {
        match self.send(call, kind, interface) {
            Ok(handle) => {
                let h = handle.0;
                self.succeed(call, [h as u32, (h >> 32) as u32, 0, 0, 0, 0])
            }
            Err(code) => self.fail(call, code),
        }
    }

    fn send(&mut self, call: &Call, kind: Kind, interface: &Interface) -> Result<Handle, FfaError> {
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
        if frag_len != total_len {
            return Err(FfaError::NotSupported);
        }
        let (mailbox, space, version) = match call.from {
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
        let len = usize::try_from(total_len).map_err(|_| FfaError::InvalidParameters)?;
        if len as u64 > tx.len() {
            return Err(FfaError::InvalidParameters);
        }
        if len > MAX_ENCODED_LEN {
            return Err(FfaError::NoMemory);
        }
        // Copied out of the shared buffer before anything is checked.
        let mut bytes = [0u8; MAX_ENCODED_LEN];
        let copy = bytes.get_mut(..len).ok_or(FfaError::InvalidParameters)?;
        self.platform
            .read(space, tx.tx, copy)
            .map_err(|_| FfaError::InvalidParameters)?;
        let layout = Layout::for_version(version);
        let txn = MemTransaction::parse(copy, layout)?;
        let transaction = self.check_send(call.from, kind, &txn)?;
        let clear = txn.flags & flags::CLEAR != 0;
        // Ranges and ledger first: nothing is zeroed or unmapped for a send that is refused.
        self.ledger
            .check_ranges(transaction.space, &transaction.ranges)?;
        if clear {
            self.zero(transaction.space, &transaction.ranges)?;
        }
        if transaction.lender.is_secure() && kind != Kind::Share {
            // A partition that lends or donates loses its own access.
            for r in transaction.ranges.iter() {
                let len = u64::from(r.pages) * PAGE_SIZE as u64;
                self.platform
                    .unmap_for(transaction.lender, Space::Secure, r.address, len);
            }
        }
        Ok(self.ledger.insert(transaction)?)
    }

    /// The checks of a send that need the SPMC's state: the normal world gives its own memory
    /// (inside `ns-memory`), a partition memory of its own window.
    fn check_send(
        &self,
        from: Endpoint,
        kind: Kind,
        txn: &MemTransaction,
    ) -> Result<Transaction, FfaError> {
        let (space, own) = match from {
            Endpoint::NormalWorld => (Space::NonSecure, None),
            Endpoint::Partition(ctx) => {
                let p = self
                    .partitions
                    .get(ctx.partition)
                    .ok_or(FfaError::InvalidParameters)?;
                (Space::Secure, Some(p))
            }
        };
        let sender_ok = match own {
            None => !txn.sender.is_secure(),
            Some(p) => txn.sender == p.id,
        };
        if !sender_ok || txn.handle != 0 {
            return Err(FfaError::InvalidParameters);
        }
        if txn.flags & !SEND_FLAGS != 0 || (kind == Kind::Share && txn.flags & flags::CLEAR != 0) {
            return Err(FfaError::InvalidParameters);
        }
        if !attributes_allowed(kind, txn.attributes) {
            return Err(FfaError::InvalidParameters);
        }
        if kind == Kind::Donate && txn.receivers.len() != 1 {
            return Err(FfaError::InvalidParameters);
        }
        let mut borrowers = Vec::new();
        for r in txn.receivers.iter() {
            if r.id == txn.sender || self.partitions.find(r.id).is_none() {
                return Err(FfaError::InvalidParameters);
            }
            let data = r.permissions & permissions::DATA_MASK;
            let instruction = r.permissions & permissions::INSTRUCTION_MASK;
            if data == permissions::DATA_NOT_SPECIFIED || instruction == permissions::INSTRUCTION_X
            {
                return Err(FfaError::InvalidParameters);
            }
            borrowers
                .push(Borrower {
                    id: r.id,
                    permissions: r.permissions,
                    holding: Holding::Granted,
                })
                .map_err(|_| FfaError::NoMemory)?;
        }
        if txn.ranges.is_empty() {
            return Err(FfaError::InvalidParameters);
        }
        for r in txn.ranges.iter() {
            let len = u64::from(r.pages).saturating_mul(PAGE_SIZE as u64);
            let inside = match own {
                None => self.platform.covers(Space::NonSecure, r.address, len),
                Some(p) => {
                    let (start, size) = (p.config.load_address, p.config.memory_size);
                    r.address >= start
                        && r.address
                            .checked_add(len)
                            .is_some_and(|end| end <= start.saturating_add(size))
                }
            };
            if !inside {
                return Err(FfaError::InvalidParameters);
            }
        }
        Ok(Transaction {
            handle: Handle(0),
            kind,
            lender: txn.sender,
            space,
            attributes: txn.attributes,
            tag: txn.tag,
            borrowers,
            ranges: txn.ranges,
        })
    }

    /// Writes zeros over `ranges` of `space`.
    pub(crate) fn zero(
        &mut self,
        space: Space,
        ranges: &[ffa::memory::AddressRange],
    ) -> Result<(), FfaError> {
        const ZEROS: [u8; PAGE_SIZE] = [0; PAGE_SIZE];
        for r in ranges {
            for page in 0..u64::from(r.pages) {
                let at = r.address + page * PAGE_SIZE as u64;
                self.platform
                    .write(space, at, &ZEROS)
                    .map_err(|_| FfaError::Aborted)?;
            }
        }
        Ok(())
    }

    /// FFA_MEM_RECLAIM.
    pub(crate) fn mem_reclaim(&mut self, call: &Call) -> Outcome {
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
        let caller = match call.from {
            Endpoint::NormalWorld => None,
            Endpoint::Partition(ctx) => Some(
                self.partitions
                    .id_of(ctx)
                    .ok_or(FfaError::InvalidParameters)?,
            ),
        };
        let txn = self.ledger.get(handle).ok_or(FfaError::InvalidParameters)?;
        let own = match caller {
            None => !txn.lender.is_secure(),
            Some(id) => txn.lender == id,
        };
        if !own {
            return Err(FfaError::InvalidParameters);
        }
        if txn.held() {
            return Err(FfaError::Denied);
        }
        let zero = reclaim_flags & RECLAIM_ZERO != 0;
        if zero && txn.kind == Kind::Share {
            return Err(FfaError::InvalidParameters);
        }
        let (kind, lender) = (txn.kind, txn.lender);
        let restore = lender.is_secure() && kind != Kind::Share;
        if !zero && !restore {
            // The common case: nothing to do with the ranges (no copy of them either).
            self.ledger.forget(handle);
            return Ok(());
        }
        let (space, ranges) = (txn.space, txn.ranges);
        if zero {
            self.zero(space, &ranges)?;
        }
        if restore {
            // The lender's own access comes back, as its window had it.
            let own = permissions::DATA_RW | permissions::INSTRUCTION_X;
            for r in ranges.iter() {
                let len = u64::from(r.pages) * PAGE_SIZE as u64;
                self.platform
                    .map_for(lender, Space::Secure, r.address, len, own)
                    .map_err(|_| FfaError::NoMemory)?;
            }
        }
        self.ledger.forget(handle);
        Ok(())
    }

    /// A partition that dies gives back what it retrieved: unmapped, no longer held.
    pub(crate) fn release_memory_of(&mut self, borrower: ffa::EndpointId) {
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
            }
            let (space, ranges) = (t.space, t.ranges);
            for r in ranges.iter() {
                let len = u64::from(r.pages) * PAGE_SIZE as u64;
                self.platform.unmap_for(borrower, space, r.address, len);
            }
        }
    }

    /// The outstanding memory transactions (for tests and the arch layer's log).
    pub fn memory_transactions(&self) -> impl Iterator<Item = &Transaction> {
        self.ledger.iter()
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
