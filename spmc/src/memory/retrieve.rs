//! FFA_MEM_RETRIEVE_REQ by a borrower partition and FFA_MEM_RELINQUISH (FF-A v1.2 §11.4, §11.5).
//!
//! A retrieve request comes in the partition's TX buffer in the layout of its FF-A version: the
//! handle, the lender and tag as the lender sent them, the partition itself among the
//! receivers with the access it asks for, no ranges. The SPMC maps every range for it
//! (`Platform::map_for`: the normal world's memory in its non-secure IPA space) with the access
//! asked for, at most what the lender granted, and answers FFA_MEM_RETRIEVE_RESP with the whole
//! transaction in its RX buffer (its layout; the NS bit set in the attributes from v1.1). Error
//! codes, as Hafnium's `ffa_memory.c` gives them:
//! - INVALID_PARAMETERS: a malformed request, an unknown handle, a lender or tag that is not the
//!   transaction's, a caller that is not one of its borrowers (or a request naming an endpoint
//!   that is not), a transaction type or memory attributes other than the transaction's,
//!   flags a retrieve does not define, ranges in the request;
//! - DENIED: more access than granted (or execute access), memory the caller already holds;
//! - BUSY: the caller's RX buffer is not free; NO_MEMORY: the platform could not map it;
//! - NOT_SUPPORTED (not yet): a request in fragments, a response larger than the RX buffer
//!   (FFA_MEM_FRAG_RX), a retrieve by the normal world (the hypervisor retrieve request).
//!
//! FFA_MEM_RELINQUISH takes a relinquish descriptor from the TX buffer (handle, flags, endpoint
//! count, endpoint IDs): exactly the caller; the SPMC unmaps the memory and the caller may
//! retrieve it again. A caller that does not hold it is DENIED; "zero the memory" is honoured
//! for a lend or donate.

use ffa::memory::{BoundedVec, permissions};
use ffa::memory::{Layout, MAX_ENCODED_LEN, MemTransaction, Receiver, attributes, flags};
use ffa::{EndpointId, FfaError, FuncId, Interface, MemOpBuf, PAGE_SIZE};

use super::ledger::{Handle, Holding, Kind, Transaction};
use crate::platform::{Platform, Space};
use crate::spmc::{Call, Endpoint, Outcome, Spmc};
use crate::vcpu::CtxRef;

/// The flags a retrieve request may set: the transaction type and "zero before mapping".
const RETRIEVE_FLAGS: u32 = flags::TYPE_MASK | flags::CLEAR;

/// The relinquish descriptor: handle (u64), flags (u32), endpoint count (u32), then IDs.
const RELINQUISH_HEADER: usize = 16;
/// Relinquish flags: zero the memory after unmapping it.
const RELINQUISH_ZERO: u32 = 1 << 0;

impl<P: Platform> Spmc<P> {
    /// FFA_MEM_RETRIEVE_REQ (either width).
    pub(crate) fn mem_retrieve(&mut self, call: &Call, interface: &Interface) -> Outcome {
        match self.retrieve(call, interface) {
            Ok((total, fragment)) => {
                let mut regs = [0; 18];
                regs[0] = u64::from(u32::from(FuncId::MemRetrieveResp));
                regs[1] = u64::from(total);
                regs[2] = u64::from(fragment);
                self.reply(call, regs)
            }
            Err(code) => self.fail(call, code),
        }
    }

    fn retrieve(&mut self, call: &Call, interface: &Interface) -> Result<(u32, u32), FfaError> {
        let Interface::MemRetrieveReq {
            total_len,
            frag_len,
            buf,
        } = *interface
        else {
            return Err(FfaError::InvalidParameters);
        };
        let Endpoint::Partition(ctx) = call.from else {
            return Err(FfaError::NotSupported);
        };
        let caller = self
            .partitions
            .id_of(ctx)
            .ok_or(FfaError::InvalidParameters)?;
        check_in_tx(buf, total_len, frag_len)?;
        let mut bytes = [0u8; MAX_ENCODED_LEN];
        let len = self.read_tx(ctx, total_len, &mut bytes)?;
        let layout = self.layout_of(ctx);
        let request = MemTransaction::parse(bytes.get(..len).unwrap_or(&[]), layout)?;
        let handle = Handle(request.handle);
        let txn = self.ledger.get(handle).ok_or(FfaError::InvalidParameters)?;
        let access = check_request(txn, &request, caller)?;
        let response = response(txn, layout);
        let (space, ranges, kind) = (txn.space, txn.ranges, txn.kind);

        let mailbox = &self
            .partitions
            .get(ctx.partition)
            .ok_or(FfaError::InvalidParameters)?
            .mailbox;
        let rx = mailbox.rx_for_producer()?;
        let mut out = [0u8; MAX_ENCODED_LEN];
        let out_len = response
            .write(&mut out, layout)
            .map_err(|_| FfaError::NotSupported)?;
        if out_len as u64 > rx.len() {
            // A response past one RX buffer needs FFA_MEM_FRAG_RX: not yet.
            return Err(FfaError::NotSupported);
        }
        if request.flags & flags::CLEAR != 0 {
            if kind == Kind::Share {
                return Err(FfaError::InvalidParameters);
            }
            self.zero(space, &ranges)?;
        }
        self.map_all(caller, space, &ranges, access)?;
        let data = out.get(..out_len).ok_or(FfaError::NoMemory)?;
        if self.platform.write(Space::Secure, rx.rx, data).is_err() {
            self.unmap_all(caller, space, &ranges);
            return Err(FfaError::Aborted);
        }
        self.platform.clean_to_poc(Space::Secure, rx.rx, out_len);
        if let Some(p) = self.partitions.get_mut(ctx.partition) {
            p.mailbox.producer_take()?;
        }
        if let Some(b) = self
            .ledger
            .get_mut(handle)
            .and_then(|t| t.borrower_mut(caller))
        {
            b.holding = Holding::Retrieved;
        }
        Ok((out_len as u32, out_len as u32))
    }

    /// FFA_MEM_RELINQUISH.
    pub(crate) fn mem_relinquish(&mut self, call: &Call) -> Outcome {
        match self.relinquish(call) {
            Ok(()) => self.succeed(call, [0; 6]),
            Err(code) => self.fail(call, code),
        }
    }

    fn relinquish(&mut self, call: &Call) -> Result<(), FfaError> {
        let Endpoint::Partition(ctx) = call.from else {
            return Err(FfaError::NotSupported);
        };
        let caller = self
            .partitions
            .id_of(ctx)
            .ok_or(FfaError::InvalidParameters)?;
        let mut bytes = [0u8; RELINQUISH_HEADER + 2];
        self.read_tx(ctx, bytes.len() as u32, &mut bytes)?;
        let word = |at: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(bytes.get(at..at + 4).unwrap_or(&[0; 4]));
            u32::from_le_bytes(w)
        };
        let handle = Handle(u64::from(word(0)) | u64::from(word(4)) << 32);
        let relinquish_flags = word(8);
        let count = word(12);
        let endpoint = EndpointId(u16::from_le_bytes([bytes[16], bytes[17]]));
        if count != 1 || endpoint != caller || relinquish_flags & !RELINQUISH_ZERO != 0 {
            return Err(FfaError::InvalidParameters);
        }
        let txn = self.ledger.get(handle).ok_or(FfaError::InvalidParameters)?;
        let borrower = txn
            .borrowers
            .iter()
            .find(|b| b.id == caller)
            .ok_or(FfaError::InvalidParameters)?;
        if borrower.holding != Holding::Retrieved {
            return Err(FfaError::Denied);
        }
        let zero = relinquish_flags & RELINQUISH_ZERO != 0;
        if zero && txn.kind == Kind::Share {
            return Err(FfaError::InvalidParameters);
        }
        let (space, ranges) = (txn.space, txn.ranges);
        self.unmap_all(caller, space, &ranges);
        if zero {
            self.zero(space, &ranges)?;
        }
        if let Some(b) = self
            .ledger
            .get_mut(handle)
            .and_then(|t| t.borrower_mut(caller))
        {
            b.holding = Holding::Granted;
        }
        Ok(())
    }

    /// Copies the first `len` bytes of `ctx`'s TX buffer into `out`; returns `len`.
    fn read_tx(&self, ctx: CtxRef, len: u32, out: &mut [u8]) -> Result<usize, FfaError> {
        let tx = self
            .partitions
            .get(ctx.partition)
            .ok_or(FfaError::InvalidParameters)?
            .mailbox
            .buffers()
            .ok_or(FfaError::Denied)?;
        let len = usize::try_from(len).map_err(|_| FfaError::InvalidParameters)?;
        if len as u64 > tx.len() {
            return Err(FfaError::InvalidParameters);
        }
        let dst = out.get_mut(..len).ok_or(FfaError::NoMemory)?;
        self.platform
            .read(Space::Secure, tx.tx, dst)
            .map_err(|_| FfaError::InvalidParameters)?;
        Ok(len)
    }

    fn layout_of(&self, ctx: CtxRef) -> Layout {
        Layout::for_version(
            self.partitions
                .get(ctx.partition)
                .map_or(ffa::version::OLDEST, |p| p.version.version()),
        )
    }

    /// Maps every range for `borrower`, or none (undoing what was mapped) and NO_MEMORY.
    fn map_all(
        &mut self,
        borrower: EndpointId,
        space: Space,
        ranges: &[ffa::memory::AddressRange],
        access: u8,
    ) -> Result<(), FfaError> {
        for (i, r) in ranges.iter().enumerate() {
            let len = u64::from(r.pages) * PAGE_SIZE as u64;
            if self
                .platform
                .map_for(borrower, space, r.address, len, access)
                .is_err()
            {
                self.unmap_all(borrower, space, ranges.get(..i).unwrap_or(&[]));
                return Err(FfaError::NoMemory);
            }
        }
        Ok(())
    }

    fn unmap_all(
        &mut self,
        borrower: EndpointId,
        space: Space,
        ranges: &[ffa::memory::AddressRange],
    ) {
        for r in ranges {
            let len = u64::from(r.pages) * PAGE_SIZE as u64;
            self.platform.unmap_for(borrower, space, r.address, len);
        }
    }
}

/// The request is in the TX buffer, whole.
fn check_in_tx(buf: Option<MemOpBuf>, total_len: u32, frag_len: u32) -> Result<(), FfaError> {
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
    Ok(())
}

/// Checks `request` by `caller` against `txn`; returns the access to map with.
fn check_request(
    txn: &Transaction,
    request: &MemTransaction,
    caller: EndpointId,
) -> Result<u8, FfaError> {
    if request.sender != txn.lender || request.tag != txn.tag || !request.ranges.is_empty() {
        return Err(FfaError::InvalidParameters);
    }
    if request.flags & !RETRIEVE_FLAGS != 0 {
        return Err(FfaError::InvalidParameters);
    }
    let kind_flag = match txn.kind {
        Kind::Share => flags::TYPE_SHARE,
        Kind::Lend => flags::TYPE_LEND,
        Kind::Donate => flags::TYPE_DONATE,
    };
    let asked_kind = request.flags & flags::TYPE_MASK;
    if asked_kind != flags::TYPE_IN_RESPONSE && asked_kind != kind_flag {
        return Err(FfaError::InvalidParameters);
    }
    if request.attributes != 0 && request.attributes != txn.attributes {
        return Err(FfaError::InvalidParameters);
    }
    // Every endpoint named must be a borrower, and the caller must be one of them.
    if request
        .receivers
        .iter()
        .any(|r| !txn.borrowers.iter().any(|b| b.id == r.id))
    {
        return Err(FfaError::InvalidParameters);
    }
    let asked = request
        .receivers
        .iter()
        .find(|r| r.id == caller)
        .ok_or(FfaError::InvalidParameters)?;
    let granted = txn
        .borrowers
        .iter()
        .find(|b| b.id == caller)
        .ok_or(FfaError::InvalidParameters)?;
    if granted.holding == Holding::Retrieved {
        return Err(FfaError::Denied);
    }
    let granted_data = granted.permissions & permissions::DATA_MASK;
    let asked_data = asked.permissions & permissions::DATA_MASK;
    let data = match (asked_data, granted_data) {
        (permissions::DATA_NOT_SPECIFIED, g) => g,
        (permissions::DATA_RO, _) => permissions::DATA_RO,
        (permissions::DATA_RW, permissions::DATA_RW) => permissions::DATA_RW,
        _ => return Err(FfaError::Denied),
    };
    if asked.permissions & permissions::INSTRUCTION_MASK == permissions::INSTRUCTION_X {
        return Err(FfaError::Denied);
    }
    Ok(data | permissions::INSTRUCTION_NX)
}

/// The retrieve response: the whole transaction, in `layout`, with the NS bit where the layout
/// has it and the memory is the normal world's.
fn response(txn: &Transaction, layout: Layout) -> MemTransaction {
    let mut receivers = BoundedVec::new();
    for b in &txn.borrowers {
        let _ = receivers.push(Receiver {
            id: b.id,
            permissions: b.permissions,
            ..Receiver::default()
        });
    }
    let mut attrs = txn.attributes;
    if attrs & attributes::TYPE_MASK == attributes::TYPE_NOT_SPECIFIED {
        // A lend or donate left the type to the SPMC: normal write-back memory.
        attrs = attributes::TYPE_NORMAL | attributes::WRITE_BACK | attributes::INNER_SHAREABLE;
    }
    if txn.space == Space::NonSecure && layout != Layout::V1_0 {
        attrs |= attributes::NON_SECURE;
    }
    let kind_flag = match txn.kind {
        Kind::Share => flags::TYPE_SHARE,
        Kind::Lend => flags::TYPE_LEND,
        Kind::Donate => flags::TYPE_DONATE,
    };
    MemTransaction {
        sender: txn.lender,
        attributes: attrs,
        flags: kind_flag,
        handle: txn.handle.0,
        tag: txn.tag,
        receivers,
        ranges: txn.ranges,
    }
}
