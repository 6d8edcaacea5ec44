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

use ffa::memory::{
    BoundedVec, CONSTITUENT_SIZE, Composite, DescriptorHead, Layout, Receiver, attributes, flags,
    permissions, write_constituent,
};
use ffa::{EndpointId, FfaError, FuncId, Interface, MemOpBuf, PAGE_SIZE};

use super::CHUNK;
use super::ledger::{Handle, Holding, Kind, Transaction};
use crate::platform::{Platform, Space};
use crate::spmc::{Call, Endpoint, Next, Spmc};
use crate::vcpu::CtxRef;

/// The flags a retrieve request may set: the transaction type and "zero before mapping".
const RETRIEVE_FLAGS: u32 = flags::TYPE_MASK | flags::CLEAR;

/// The relinquish descriptor: handle (u64), flags (u32), endpoint count (u32), then IDs.
const RELINQUISH_HEADER: usize = 16;
/// Relinquish flags: zero the memory after unmapping it.
const RELINQUISH_ZERO: u32 = 1 << 0;

/// Where a retrieve response goes: an RX buffer of some address space.
#[derive(Clone, Copy)]
struct Rx {
    space: Space,
    addr: u64,
    len: u64,
}

impl<P: Platform> Spmc<P> {
    /// FFA_MEM_RETRIEVE_REQ (either width).
    pub(crate) fn mem_retrieve(&mut self, call: &Call, interface: &Interface) -> Next {
        let answer = match call.from {
            Endpoint::Partition(ctx) => self.retrieve(ctx, interface),
            Endpoint::NormalWorld => self.hypervisor_retrieve(interface),
        };
        match answer {
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

    /// Copies the retrieve request in the caller's TX buffer out and parses its head.
    fn read_request(
        &self,
        from: Endpoint,
        interface: &Interface,
    ) -> Result<(DescriptorHead, Layout), FfaError> {
        let Interface::MemRetrieveReq {
            total_len,
            frag_len,
            buf,
        } = *interface
        else {
            return Err(FfaError::InvalidParameters);
        };
        check_in_tx(buf, total_len, frag_len)?;
        let (tx, space, version) = self.tx_of(from)?;
        let total = usize::try_from(total_len).map_err(|_| FfaError::InvalidParameters)?;
        if total as u64 > tx.len() {
            return Err(FfaError::InvalidParameters);
        }
        let mut chunk = [0u8; CHUNK];
        let bytes = chunk
            .get_mut(..total.min(CHUNK))
            .ok_or(FfaError::InvalidParameters)?;
        self.platform
            .read(space, tx.tx, bytes)
            .map_err(|_| FfaError::InvalidParameters)?;
        let layout = Layout::for_version(version);
        Ok((DescriptorHead::parse_any(bytes, total, layout)?, layout))
    }

    fn retrieve(&mut self, ctx: CtxRef, interface: &Interface) -> Result<(u32, u32), FfaError> {
        let caller = self
            .partitions
            .id_of(ctx)
            .ok_or(FfaError::InvalidParameters)?;
        let (request, layout) = self.read_request(Endpoint::Partition(ctx), interface)?;
        let handle = Handle(request.handle);
        let txn = self.ledger.get(handle).ok_or(FfaError::InvalidParameters)?;
        let access = check_request(txn, &request, caller)?;
        let head = response_head(txn, layout, txn.space == Space::NonSecure);
        let (space, kind) = (txn.space, txn.kind);
        let rx = self
            .partitions
            .get(ctx.partition)
            .ok_or(FfaError::InvalidParameters)?
            .mailbox
            .rx_for_producer()?;
        if request.flags & flags::CLEAR != 0 {
            if kind == Kind::Share {
                return Err(FfaError::InvalidParameters);
            }
            self.zero(space, handle)?;
        }
        self.map_all(caller, space, handle, access)?;
        let to = Rx {
            space: Space::Secure,
            addr: rx.rx,
            len: rx.len(),
        };
        let fragment = match self.write_fragment(handle, &head, layout, to, 0) {
            Ok(n) => n,
            Err(e) => {
                self.unmap_all(caller, space, handle, usize::MAX);
                return Err(e);
            }
        };
        if let Some(p) = self.partitions.get_mut(ctx.partition) {
            p.mailbox.producer_take()?;
        }
        if let Some(b) = self
            .ledger
            .get_mut(handle)
            .and_then(|t| t.borrower_mut(caller))
        {
            b.holding = Holding::Retrieved;
            b.delivered = fragment;
        }
        let total = head.total_len(layout) as u32;
        self.settle_donation(handle, kind, fragment >= total);
        Ok((total, fragment))
    }

    /// A donation whose borrower has the whole retrieve response is the borrower's: the
    /// transaction ends (its handle goes stale; nothing to relinquish or reclaim) and the
    /// memory stays mapped for the borrower alone.
    fn settle_donation(&mut self, handle: Handle, kind: Kind, whole: bool) {
        if kind == Kind::Donate && whole {
            self.ledger.forget(handle);
        }
    }

    /// The hypervisor retrieve request: the normal world (pKVM's proxy, before it reclaims)
    /// asks for a transaction it lent by handle alone; nothing is mapped.
    fn hypervisor_retrieve(&mut self, interface: &Interface) -> Result<(u32, u32), FfaError> {
        let (request, layout) = self.read_request(Endpoint::NormalWorld, interface)?;
        if !request.receivers.is_empty() || request.composite.is_some() {
            // The normal world borrows nothing from partitions.
            return Err(FfaError::InvalidParameters);
        }
        let handle = Handle(request.handle);
        let txn = self.ledger.get(handle).ok_or(FfaError::InvalidParameters)?;
        let sender_ok = request.sender == txn.lender || request.sender == EndpointId(0);
        if txn.lender.is_secure() || !sender_ok {
            return Err(FfaError::InvalidParameters);
        }
        let head = response_head(txn, layout, false);
        let rx = self.normal_world.mailbox.rx_for_producer()?;
        let to = Rx {
            space: Space::NonSecure,
            addr: rx.rx,
            len: rx.len(),
        };
        let fragment = self.write_fragment(handle, &head, layout, to, 0)?;
        self.normal_world.mailbox.producer_take()?;
        if let Some(t) = self.ledger.get_mut(handle) {
            t.hypervisor_delivered = fragment;
        }
        Ok((head.total_len(layout) as u32, fragment))
    }

    /// FFA_MEM_FRAG_RX: the next fragment of a retrieve response, into the caller's RX buffer
    /// (which it must have released), answered FFA_MEM_FRAG_TX.
    pub(crate) fn mem_frag_rx(&mut self, call: &Call, interface: &Interface) -> Next {
        match self.frag_rx(call, interface) {
            Ok((handle, fragment)) => {
                let mut regs = [0; 18];
                regs[0] = u64::from(u32::from(FuncId::MemFragTx));
                regs[1] = handle.0 & 0xffff_ffff;
                regs[2] = handle.0 >> 32;
                regs[3] = u64::from(fragment);
                self.reply(call, regs)
            }
            Err(code) => self.fail(call, code),
        }
    }

    fn frag_rx(&mut self, call: &Call, interface: &Interface) -> Result<(Handle, u32), FfaError> {
        let Interface::MemFragRx {
            handle,
            frag_offset,
            ..
        } = *interface
        else {
            return Err(FfaError::InvalidParameters);
        };
        let handle = Handle(handle.0);
        let txn = self.ledger.get(handle).ok_or(FfaError::InvalidParameters)?;
        let (caller, delivered) = match call.from {
            Endpoint::Partition(ctx) => {
                let id = self
                    .partitions
                    .id_of(ctx)
                    .ok_or(FfaError::InvalidParameters)?;
                let b = txn
                    .borrowers
                    .iter()
                    .find(|b| b.id == id && b.holding == Holding::Retrieved)
                    .ok_or(FfaError::InvalidParameters)?;
                (Some((ctx, id)), b.delivered)
            }
            Endpoint::NormalWorld if !txn.lender.is_secure() => (None, txn.hypervisor_delivered),
            Endpoint::NormalWorld => return Err(FfaError::InvalidParameters),
        };
        let (layout, for_partition) = match caller {
            Some((ctx, _)) => (self.layout_of(ctx), true),
            None => (
                Layout::for_version(self.normal_world.version.version()),
                false,
            ),
        };
        let head = response_head(txn, layout, for_partition && txn.space == Space::NonSecure);
        let total = head.total_len(layout) as u32;
        if delivered == 0 || frag_offset != delivered || frag_offset >= total {
            return Err(FfaError::InvalidParameters);
        }
        let mailbox = match caller {
            Some((ctx, _)) => {
                &self
                    .partitions
                    .get(ctx.partition)
                    .ok_or(FfaError::InvalidParameters)?
                    .mailbox
            }
            None => &self.normal_world.mailbox,
        };
        let rx = mailbox.rx_for_producer()?;
        let to = Rx {
            space: if for_partition {
                Space::Secure
            } else {
                Space::NonSecure
            },
            addr: rx.rx,
            len: rx.len(),
        };
        let kind = txn.kind;
        let fragment = self.write_fragment(handle, &head, layout, to, frag_offset)?;
        match caller {
            Some((ctx, id)) => {
                if let Some(p) = self.partitions.get_mut(ctx.partition) {
                    p.mailbox.producer_take()?;
                }
                if let Some(b) = self.ledger.get_mut(handle).and_then(|t| t.borrower_mut(id)) {
                    b.delivered += fragment;
                }
                self.settle_donation(handle, kind, frag_offset + fragment >= total);
            }
            None => {
                self.normal_world.mailbox.producer_take()?;
                if let Some(t) = self.ledger.get_mut(handle) {
                    t.hypervisor_delivered += fragment;
                }
            }
        }
        Ok((handle, fragment))
    }

    /// Writes the fragment of `handle`'s retrieve response (`head`, then its constituents)
    /// that starts at byte `offset` into `rx`: as many whole constituents as fit. Returns its
    /// length.
    fn write_fragment(
        &mut self,
        handle: Handle,
        head: &DescriptorHead,
        layout: Layout,
        rx: Rx,
        offset: u32,
    ) -> Result<u32, FfaError> {
        let head_len = head.len(layout);
        let total = head.total_len(layout);
        let offset = offset as usize;
        let capacity = usize::try_from(rx.len).unwrap_or(usize::MAX);
        if offset != 0
            && (offset < head_len || !(offset - head_len).is_multiple_of(CONSTITUENT_SIZE))
        {
            return Err(FfaError::InvalidParameters);
        }
        let end = total.min(offset.saturating_add(capacity));
        if end < head_len {
            // Not even the head fits the buffer.
            return Err(FfaError::NoMemory);
        }
        let end = head_len + (end - head_len) / CONSTITUENT_SIZE * CONSTITUENT_SIZE;
        let mut chunk = [0u8; CHUNK];
        let mut filled = 0;
        if offset == 0 {
            filled = head.write(&mut chunk, layout)?;
        }
        let first = (offset.max(head_len) - head_len) / CONSTITUENT_SIZE;
        let last = (end - head_len) / CONSTITUENT_SIZE;
        let Self {
            ledger, platform, ..
        } = self;
        let ranges = ledger.ranges(handle).get(first..last).unwrap_or(&[]);
        let mut written = 0u64;
        let mut flush = |chunk: &[u8], written: &mut u64| -> Result<(), FfaError> {
            platform
                .write(rx.space, rx.addr + *written, chunk)
                .map_err(|_| FfaError::Aborted)?;
            if rx.space == Space::Secure {
                platform.clean_to_poc(rx.space, rx.addr + *written, chunk.len());
            }
            *written += chunk.len() as u64;
            Ok(())
        };
        for r in ranges {
            if filled + CONSTITUENT_SIZE > CHUNK {
                flush(chunk.get(..filled).unwrap_or(&[]), &mut written)?;
                filled = 0;
            }
            let slot = chunk.get_mut(filled..).ok_or(FfaError::NoMemory)?;
            write_constituent(slot, r)?;
            filled += CONSTITUENT_SIZE;
        }
        flush(chunk.get(..filled).unwrap_or(&[]), &mut written)?;
        Ok((end - offset) as u32)
    }

    /// FFA_MEM_RELINQUISH.
    pub(crate) fn mem_relinquish(&mut self, call: &Call) -> Next {
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
        let space = txn.space;
        self.unmap_all(caller, space, handle, usize::MAX);
        if zero {
            self.zero(space, handle)?;
        }
        if let Some(b) = self
            .ledger
            .get_mut(handle)
            .and_then(|t| t.borrower_mut(caller))
        {
            b.holding = Holding::Granted;
            b.delivered = 0;
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

    /// Maps every range of `handle` for `borrower`, or none (undoing what was mapped) and
    /// NO_MEMORY.
    fn map_all(
        &mut self,
        borrower: EndpointId,
        space: Space,
        handle: Handle,
        access: u8,
    ) -> Result<(), FfaError> {
        let Self {
            ledger, platform, ..
        } = self;
        let mut failed = None;
        for (i, r) in ledger.ranges(handle).iter().enumerate() {
            let len = u64::from(r.pages) * PAGE_SIZE as u64;
            if platform
                .map_for(borrower, space, r.address, len, access)
                .is_err()
            {
                failed = Some(i);
                break;
            }
        }
        match failed {
            None => Ok(()),
            Some(i) => {
                self.unmap_all(borrower, space, handle, i);
                Err(FfaError::NoMemory)
            }
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
        // A retrieve request is a few dozen bytes: never sent in fragments here.
        return Err(FfaError::NotSupported);
    }
    Ok(())
}

/// Checks `request` by `caller` against `txn`; returns the access to map with.
fn check_request(
    txn: &Transaction,
    request: &DescriptorHead,
    caller: EndpointId,
) -> Result<u8, FfaError> {
    if request.receivers.is_empty() {
        return Err(FfaError::InvalidParameters);
    }
    if request.sender != txn.lender || request.tag != txn.tag || request.composite.is_some() {
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

/// The head of the retrieve response: the whole transaction in `layout`, with the NS bit where
/// the layout has it and a partition receives the normal world's memory.
fn response_head(txn: &Transaction, layout: Layout, ns_bit: bool) -> DescriptorHead {
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
    if ns_bit && layout != Layout::V1_0 {
        attrs |= attributes::NON_SECURE;
    }
    let kind_flag = match txn.kind {
        Kind::Share => flags::TYPE_SHARE,
        Kind::Lend => flags::TYPE_LEND,
        Kind::Donate => flags::TYPE_DONATE,
    };
    let mut head = DescriptorHead {
        sender: txn.lender,
        attributes: attrs,
        flags: kind_flag,
        handle: txn.handle.0,
        tag: txn.tag,
        receivers,
        composite: None,
    };
    let composite = Composite {
        total_pages: txn.pages,
        count: txn.range_count() as u32,
        constituents_at: 0,
    };
    head.composite = Some(composite);
    head.composite = Some(Composite {
        constituents_at: head.len(layout),
        ..composite
    });
    head
}
