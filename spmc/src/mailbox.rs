//! RX/TX buffer pairs (FFA_RXTX_MAP, FFA_RXTX_UNMAP, FFA_RX_RELEASE, FFA_RX_ACQUIRE) and who
//! owns the RX buffer.
//!
//! [`Mailbox`] is the pure ownership state: the SPMC (producer) may write an RX buffer only
//! while it owns it; writing hands it to the endpoint (consumer) until FFA_RX_RELEASE (or an
//! FFA_MSG_WAIT that does not retain it). The hypervisor side may take the normal world's RX
//! with FFA_RX_ACQUIRE and give it back with FFA_RX_RELEASE. Error codes follow Hafnium's
//! api.c: already mapped → DENIED; bad page count, misalignment or overlap →
//! INVALID_PARAMETERS; unmapping nothing → INVALID_PARAMETERS; releasing a buffer the caller
//! does not own → DENIED; acquiring an unmapped buffer → INVALID_PARAMETERS, a busy one →
//! DENIED.

use ffa::{EndpointId, FfaError, PAGE_SIZE, RxTxAddr};

use crate::platform::{Platform, Space};
use crate::spmc::{Call, Endpoint, Next, Spmc};

/// Most 4 KiB pages per buffer (FFA_FEATURES(RXTX_MAP) w2[31:16] for v1.2 callers). Linux and
/// pKVM map one page with a 4 KiB minimum; OP-TEE one page; a little headroom costs nothing.
pub const MAX_MAILBOX_PAGES: u32 = 4;

const PAGE: u64 = PAGE_SIZE as u64;

/// A mapped pair, as the endpoint gave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffers {
    /// RX buffer base (the SPMC writes, the endpoint reads).
    pub rx: u64,
    /// TX buffer base.
    pub tx: u64,
    /// Size of each, in 4 KiB pages.
    pub pages: u32,
}

impl Buffers {
    /// Size of each buffer in bytes.
    pub fn len(&self) -> u64 {
        u64::from(self.pages) * PAGE
    }

    /// Whether the buffers are empty (never, once mapped).
    pub fn is_empty(&self) -> bool {
        self.pages == 0
    }
}

/// Who may touch the RX buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxOwner {
    /// The SPMC may fill it ("empty").
    Producer,
    /// The endpoint reads it until it releases it ("full").
    Consumer,
    /// The hypervisor took it with FFA_RX_ACQUIRE (normal world only).
    OtherWorld,
}

/// One endpoint's mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Mailbox {
    mapped: Option<(Buffers, RxOwner)>,
}

/// Checks a buffer pair's shape: 1..=`MAX_MAILBOX_PAGES` pages, 4 KiB aligned, inside the
/// address space, RX and TX disjoint.
pub fn check_layout(tx: u64, rx: u64, pages: u32) -> Result<Buffers, FfaError> {
    if pages == 0 || pages > MAX_MAILBOX_PAGES {
        return Err(FfaError::InvalidParameters);
    }
    if !tx.is_multiple_of(PAGE) || !rx.is_multiple_of(PAGE) {
        return Err(FfaError::InvalidParameters);
    }
    let len = u64::from(pages) * PAGE;
    let tx_end = tx.checked_add(len).ok_or(FfaError::InvalidParameters)?;
    let rx_end = rx.checked_add(len).ok_or(FfaError::InvalidParameters)?;
    if tx < rx_end && rx < tx_end {
        return Err(FfaError::InvalidParameters);
    }
    Ok(Buffers { rx, tx, pages })
}

/// Whether `[base, base + len)` lies inside one of `ranges` (each `(start, len)`).
pub fn inside(base: u64, len: u64, ranges: &[(u64, u64)]) -> bool {
    let Some(end) = base.checked_add(len) else {
        return false;
    };
    ranges.iter().any(|&(start, size)| {
        start
            .checked_add(size)
            .is_some_and(|limit| base >= start && end <= limit)
    })
}

impl Mailbox {
    /// An unmapped mailbox.
    pub const fn new() -> Self {
        Self { mapped: None }
    }

    /// The mapped buffers, if any.
    pub fn buffers(&self) -> Option<Buffers> {
        self.mapped.map(|(b, _)| b)
    }

    /// Who owns the RX buffer, if mapped.
    pub fn rx_owner(&self) -> Option<RxOwner> {
        self.mapped.map(|(_, o)| o)
    }

    /// FFA_RXTX_MAP: records a pair; the SPMC owns the new RX buffer.
    pub fn map(&mut self, tx: u64, rx: u64, pages: u32) -> Result<(), FfaError> {
        if self.mapped.is_some() {
            return Err(FfaError::Denied);
        }
        let buffers = check_layout(tx, rx, pages)?;
        self.mapped = Some((buffers, RxOwner::Producer));
        Ok(())
    }

    /// FFA_RXTX_UNMAP: forgets the pair, whoever owned RX.
    pub fn unmap(&mut self) -> Result<Buffers, FfaError> {
        self.mapped
            .take()
            .map(|(b, _)| b)
            .ok_or(FfaError::InvalidParameters)
    }

    /// The RX buffer if the SPMC may write it now (BUSY if unmapped or not the SPMC's).
    pub fn rx_for_producer(&self) -> Result<Buffers, FfaError> {
        match self.mapped {
            Some((b, RxOwner::Producer)) => Ok(b),
            _ => Err(FfaError::Busy),
        }
    }

    /// The SPMC filled RX: ownership passes to the endpoint.
    pub fn producer_take(&mut self) -> Result<Buffers, FfaError> {
        let buffers = self.rx_for_producer()?;
        self.mapped = Some((buffers, RxOwner::Consumer));
        Ok(buffers)
    }

    /// FFA_RX_RELEASE: the endpoint (or the hypervisor, after FFA_RX_ACQUIRE) gives RX back.
    pub fn consumer_release(&mut self) -> Result<(), FfaError> {
        match self.mapped {
            Some((b, RxOwner::Consumer | RxOwner::OtherWorld)) => {
                self.mapped = Some((b, RxOwner::Producer));
                Ok(())
            }
            _ => Err(FfaError::Denied),
        }
    }

    /// FFA_RX_ACQUIRE: the hypervisor takes an RX buffer the SPMC owns.
    pub fn acquire(&mut self) -> Result<(), FfaError> {
        match self.mapped {
            None => Err(FfaError::InvalidParameters),
            Some((b, RxOwner::Producer)) => {
                self.mapped = Some((b, RxOwner::OtherWorld));
                Ok(())
            }
            Some(_) => Err(FfaError::Denied),
        }
    }
}

impl<P: Platform> Spmc<P> {
    pub(crate) fn rxtx_map(&mut self, call: &Call, addr: RxTxAddr, pages: u32) -> Next {
        let (tx, rx) = match addr {
            RxTxAddr::Addr32 { rx, tx } => (u64::from(tx), u64::from(rx)),
            RxTxAddr::Addr64 { rx, tx } => (tx, rx),
        };
        let result = match call.from {
            Endpoint::NormalWorld => self.map_normal_world(tx, rx, pages),
            Endpoint::Partition(ctx) => self.map_partition(ctx.partition, tx, rx, pages),
        };
        match result {
            Ok(()) => self.succeed(call, [0; 6]),
            Err(code) => self.fail(call, code),
        }
    }

    fn map_normal_world(&mut self, tx: u64, rx: u64, pages: u32) -> Result<(), FfaError> {
        if self.normal_world.mailbox.buffers().is_some() {
            return Err(FfaError::Denied);
        }
        let buffers = check_layout(tx, rx, pages)?;
        // The normal world's memory is not described to us: the platform decides what the
        // SPMC may reach.
        self.probe(Space::NonSecure, &buffers)?;
        self.normal_world.mailbox.map(tx, rx, pages)
    }

    fn map_partition(
        &mut self,
        index: usize,
        tx: u64,
        rx: u64,
        pages: u32,
    ) -> Result<(), FfaError> {
        let p = self
            .partitions
            .get(index)
            .ok_or(FfaError::InvalidParameters)?;
        if p.mailbox.buffers().is_some() {
            return Err(FfaError::Denied);
        }
        let buffers = check_layout(tx, rx, pages)?;
        // Hafnium: the pages must be the partition's own memory, else INVALID_PARAMETERS.
        let ranges = p.secure_ranges();
        if !inside(buffers.tx, buffers.len(), &ranges)
            || !inside(buffers.rx, buffers.len(), &ranges)
        {
            return Err(FfaError::InvalidParameters);
        }
        self.probe(Space::Secure, &buffers)?;
        self.partitions
            .get_mut(index)
            .ok_or(FfaError::InvalidParameters)?
            .mailbox
            .map(tx, rx, pages)
    }

    /// Checks the platform lets the SPMC reach both ends of both buffers.
    fn probe(&self, space: Space, buffers: &Buffers) -> Result<(), FfaError> {
        let last = buffers.len().saturating_sub(1);
        let mut byte = [0u8; 1];
        for base in [buffers.tx, buffers.rx] {
            for addr in [base, base.saturating_add(last)] {
                self.platform
                    .read(space, addr, &mut byte)
                    .map_err(|_| FfaError::InvalidParameters)?;
            }
        }
        Ok(())
    }

    /// The mailbox of the caller, if `id` names it (0 means "myself" for everyone; a partition
    /// may also use its own ID). Any other ID is INVALID_PARAMETERS: the normal world is one
    /// endpoint here and partitions cannot act for others.
    fn own_mailbox(&mut self, call: &Call, id: EndpointId) -> Result<&mut Mailbox, FfaError> {
        match call.from {
            Endpoint::NormalWorld if id == EndpointId::HOST => Ok(&mut self.normal_world.mailbox),
            Endpoint::NormalWorld => Err(FfaError::InvalidParameters),
            Endpoint::Partition(ctx) => {
                let p = self
                    .partitions
                    .get_mut(ctx.partition)
                    .ok_or(FfaError::InvalidParameters)?;
                if id == EndpointId::HOST || id == p.id {
                    Ok(&mut p.mailbox)
                } else {
                    Err(FfaError::InvalidParameters)
                }
            }
        }
    }

    pub(crate) fn rxtx_unmap(&mut self, call: &Call, id: EndpointId) -> Next {
        match self.own_mailbox(call, id).and_then(|m| m.unmap()) {
            Ok(_) => self.succeed(call, [0; 6]),
            Err(code) => self.fail(call, code),
        }
    }

    /// FFA_RX_RELEASE. A buffer holding an indirect message whose RX-buffer-full framework
    /// notification the caller has not taken yet (FFA_NOTIFICATION_GET) stays the caller's:
    /// DENIED, as Hafnium answers.
    pub(crate) fn rx_release(&mut self, call: &Call, id: EndpointId) -> Next {
        let unread = self.framework_notifications_pending(call);
        match self.own_mailbox(call, id).and_then(|m| {
            if unread && m.rx_owner() == Some(RxOwner::Consumer) {
                return Err(FfaError::Denied);
            }
            m.consumer_release()
        }) {
            Ok(()) => self.succeed(call, [0; 6]),
            Err(code) => self.fail(call, code),
        }
    }

    pub(crate) fn rx_acquire(&mut self, call: &Call, id: EndpointId) -> Next {
        // Only the hypervisor side acquires buffers (Hafnium: NOT_SUPPORTED elsewhere).
        if call.from != Endpoint::NormalWorld {
            return self.fail(call, FfaError::NotSupported);
        }
        match self.own_mailbox(call, id).and_then(|m| m.acquire()) {
            Ok(()) => self.succeed(call, [0; 6]),
            Err(code) => self.fail(call, code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn map_checks_shape() {
        let mut m = Mailbox::new();
        assert_eq!(m.map(0x1000, 0x2000, 0), Err(FfaError::InvalidParameters));
        assert_eq!(
            m.map(0x1000, 0x2000, MAX_MAILBOX_PAGES + 1),
            Err(FfaError::InvalidParameters)
        );
        assert_eq!(m.map(0x1001, 0x2000, 1), Err(FfaError::InvalidParameters));
        assert_eq!(m.map(0x1000, 0x2800, 1), Err(FfaError::InvalidParameters));
        assert_eq!(m.map(0x1000, 0x2000, 2), Err(FfaError::InvalidParameters));
        assert_eq!(m.map(0x3000, 0x1000, 3), Err(FfaError::InvalidParameters));
        assert_eq!(
            m.map(u64::MAX - 0xfff, 0x1000, 1),
            Err(FfaError::InvalidParameters)
        );
        assert_eq!(m.buffers(), None);
        assert_eq!(m.map(0x1000, 0x2000, 1), Ok(()));
        assert_eq!(
            m.buffers(),
            Some(Buffers {
                rx: 0x2000,
                tx: 0x1000,
                pages: 1
            })
        );
        assert_eq!(m.map(0x5000, 0x6000, 1), Err(FfaError::Denied));
    }

    #[test]
    fn ownership_round_trip() {
        let mut m = Mailbox::new();
        assert_eq!(m.rx_for_producer(), Err(FfaError::Busy));
        assert_eq!(m.consumer_release(), Err(FfaError::Denied));
        assert_eq!(m.acquire(), Err(FfaError::InvalidParameters));
        assert_eq!(m.unmap(), Err(FfaError::InvalidParameters));
        m.map(0x1000, 0x2000, 1).unwrap();
        assert_eq!(m.rx_owner(), Some(RxOwner::Producer));
        assert_eq!(m.consumer_release(), Err(FfaError::Denied));
        assert!(m.producer_take().is_ok());
        assert_eq!(m.rx_owner(), Some(RxOwner::Consumer));
        assert_eq!(m.producer_take(), Err(FfaError::Busy));
        assert_eq!(m.acquire(), Err(FfaError::Denied));
        assert_eq!(m.consumer_release(), Ok(()));
        assert_eq!(m.acquire(), Ok(()));
        assert_eq!(m.rx_owner(), Some(RxOwner::OtherWorld));
        assert_eq!(m.rx_for_producer(), Err(FfaError::Busy));
        assert_eq!(m.consumer_release(), Ok(()));
        assert!(m.unmap().is_ok());
        assert_eq!(m.rx_owner(), None);
    }

    #[test]
    fn inside_checks_whole_range() {
        let ranges = [(0x1000, 0x2000), (0x10_0000, 0x1000)];
        assert!(inside(0x1000, 0x1000, &ranges));
        assert!(inside(0x2000, 0x1000, &ranges));
        assert!(!inside(0x2000, 0x2000, &ranges));
        assert!(inside(0x10_0000, 0x1000, &ranges));
        assert!(!inside(0x0, 0x1000, &ranges));
        assert!(!inside(u64::MAX, 2, &ranges));
        assert!(!inside(0, 1, &[(u64::MAX, 2)]));
    }

    #[derive(Clone, Copy, Debug)]
    enum Op {
        Map(u64, u64, u32),
        Unmap,
        ProducerTake,
        Release,
        Acquire,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u64..8, 0u64..8, 0u32..6).prop_map(|(t, r, p)| Op::Map(
                t * 0x1000 + (t & 1) * 0x800,
                r * 0x1000,
                p
            )),
            Just(Op::Unmap),
            Just(Op::ProducerTake),
            Just(Op::Release),
            Just(Op::Acquire),
        ]
    }

    proptest! {
        // No sequence panics; RX has exactly one owner while mapped and none otherwise; a
        // released buffer can be filled again; unmap always ends in the unmapped state; a
        // mapped pair always has a valid shape.
        #[test]
        fn ownership_invariants(ops in proptest::collection::vec(op(), 0..64)) {
            let mut m = Mailbox::new();
            for op in ops {
                let before = m;
                match op {
                    Op::Map(t, r, p) => {
                        let res = m.map(t, r, p);
                        if before.buffers().is_some() {
                            prop_assert_eq!(res, Err(FfaError::Denied));
                            prop_assert_eq!(m, before);
                        } else if res.is_ok() {
                            prop_assert_eq!(m.rx_owner(), Some(RxOwner::Producer));
                        } else {
                            prop_assert_eq!(m.buffers(), None);
                        }
                    }
                    Op::Unmap => {
                        let res = m.unmap();
                        prop_assert_eq!(res.is_ok(), before.buffers().is_some());
                        prop_assert_eq!(m.buffers(), None);
                        prop_assert_eq!(m.rx_owner(), None);
                    }
                    Op::ProducerTake => {
                        let res = m.producer_take();
                        if before.rx_owner() == Some(RxOwner::Producer) {
                            prop_assert!(res.is_ok());
                            prop_assert_eq!(m.rx_owner(), Some(RxOwner::Consumer));
                        } else {
                            prop_assert_eq!(res, Err(FfaError::Busy));
                            prop_assert_eq!(m, before);
                        }
                    }
                    Op::Release => {
                        let res = m.consumer_release();
                        match before.rx_owner() {
                            Some(RxOwner::Consumer | RxOwner::OtherWorld) => {
                                prop_assert_eq!(res, Ok(()));
                                // Released: the SPMC can fill it again.
                                prop_assert!(m.rx_for_producer().is_ok());
                            }
                            _ => {
                                prop_assert_eq!(res, Err(FfaError::Denied));
                                prop_assert_eq!(m, before);
                            }
                        }
                    }
                    Op::Acquire => {
                        let res = m.acquire();
                        if res.is_ok() {
                            prop_assert_eq!(before.rx_owner(), Some(RxOwner::Producer));
                            prop_assert_eq!(m.rx_owner(), Some(RxOwner::OtherWorld));
                        } else {
                            prop_assert_eq!(m, before);
                        }
                    }
                }
                // The buffers never change while mapped, and a mapped pair is well formed.
                if let (Some(a), Some(b)) = (before.buffers(), m.buffers()) {
                    prop_assert_eq!(a, b);
                }
                if let Some(b) = m.buffers() {
                    prop_assert!(check_layout(b.tx, b.rx, b.pages).is_ok());
                    prop_assert!(m.rx_owner().is_some());
                }
            }
        }
    }
}
