//! The outstanding memory transactions, by handle: what was lent, shared or donated, by whom, to
//! whom, and whether each borrower holds it now.
//!
//! Handles are allocated here, counting up with bit 63 set (FF-A's "allocated by the SPMC"), so
//! the table stays sorted by handle and a lookup is a binary search. The constituents of every
//! transaction live in one pool, each transaction's together and in handle order; a second,
//! sorted index of every committed range makes "is this page in a transaction already" a
//! binary search. A page of one address space is in at most one outstanding transaction.
//!
//! A transaction is opened with room for all its constituents (a send's first fragment says
//! how many), filled as fragments arrive, and committed once whole: only then are its ranges
//! checked against each other and the index, and only a committed transaction can be
//! retrieved or reclaimed.

use ffa::EndpointId;
use ffa::memory::{AddressRange, MAX_RECEIVERS};
use heapless::Vec;

use crate::platform::Space;

/// Most outstanding transactions. A send past it gets NO_MEMORY.
pub const MAX_TRANSACTIONS: usize = 64;

/// Most constituents of all outstanding transactions together (16 bytes each in the pool and
/// in the index). A send past it gets NO_MEMORY.
pub const MAX_RANGES: usize = 4096;

/// Bit 63 of a handle: the SPMC allocated it (FF-A v1.2 §11.2).
pub const HANDLE_ALLOCATED_BY_SPMC: u64 = 1 << 63;

/// A memory region handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Handle(pub u64);

/// How the memory was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// FFA_MEM_SHARE: the lender keeps access.
    Share,
    /// FFA_MEM_LEND: the lender loses access until it reclaims.
    Lend,
    /// FFA_MEM_DONATE: ownership moves to the one borrower.
    Donate,
}

/// Where one borrower is with the memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holding {
    /// Named in the transaction, not retrieved (or relinquished since).
    Granted,
    /// Retrieved and mapped.
    Retrieved,
}

/// One borrower of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Borrower {
    /// The borrowing endpoint.
    pub id: EndpointId,
    /// The access the lender granted it (`ffa::memory::permissions`).
    pub permissions: u8,
    /// Whether it holds the memory now.
    pub holding: Holding,
    /// Bytes of its retrieve response delivered so far (FFA_MEM_FRAG_RX continues there);
    /// equal to the response's length once it has all of it.
    pub delivered: u32,
}

/// A send still arriving in fragments (FFA_MEM_FRAG_TX).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arriving {
    /// Bytes of the descriptor received so far.
    pub received: u32,
    /// The descriptor's whole length.
    pub total: u32,
    /// The page count its composite states (checked against the constituents at the end).
    pub stated_pages: u32,
    /// The pages of the constituents received so far.
    pub pages: u64,
    /// Whether the sender asked for the memory to be zeroed.
    pub clear: bool,
}

/// One outstanding transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// Its handle.
    pub handle: Handle,
    /// Share, lend or donate.
    pub kind: Kind,
    /// The endpoint that gave the memory.
    pub lender: EndpointId,
    /// The address space of its ranges.
    pub space: Space,
    /// Memory region attributes as the lender sent them.
    pub attributes: u16,
    /// The lender's tag.
    pub tag: u64,
    /// The borrowers, each once.
    pub borrowers: Vec<Borrower, MAX_RECEIVERS>,
    /// `Some` until its last fragment has arrived and it was committed.
    pub arriving: Option<Arriving>,
    /// Bytes of a hypervisor retrieve response delivered so far.
    pub hypervisor_delivered: u32,
    /// The pages of all its constituents (once committed).
    pub pages: u32,
    /// Where its constituents start in the pool.
    first: usize,
    /// Room reserved for its constituents.
    count: usize,
    /// Constituents filled in so far.
    filled: usize,
}

impl Transaction {
    /// A transaction of `kind` from `lender`, with no borrowers and no ranges yet.
    pub fn new(kind: Kind, lender: EndpointId, space: Space, attributes: u16, tag: u64) -> Self {
        Self {
            handle: Handle(0),
            kind,
            lender,
            space,
            attributes,
            tag,
            borrowers: Vec::new(),
            arriving: None,
            hypervisor_delivered: 0,
            pages: 0,
            first: 0,
            count: 0,
            filled: 0,
        }
    }

    /// Whether any borrower holds the memory.
    pub fn held(&self) -> bool {
        self.borrowers
            .iter()
            .any(|b| b.holding == Holding::Retrieved)
    }

    /// The borrower `id`, if it is one.
    pub fn borrower_mut(&mut self, id: EndpointId) -> Option<&mut Borrower> {
        self.borrowers.iter_mut().find(|b| b.id == id)
    }

    /// The number of its constituents.
    pub fn range_count(&self) -> usize {
        self.count
    }
}

/// Why the ledger refused a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerError {
    /// [`MAX_TRANSACTIONS`] transactions or [`MAX_RANGES`] ranges are outstanding.
    Full,
    /// A range is already in an outstanding transaction of the same space.
    AlreadyShared,
    /// Two ranges of the transaction overlap each other.
    Overlapping,
    /// Handles ran out (never, in practice: 2^63 of them).
    NoHandle,
    /// No such transaction (or not one in that state).
    Unknown,
    /// More constituents than the transaction said it has, or fewer at commit.
    CountMismatch,
}

/// A committed range in the index: `[start, end)` of one space, the space in bit 63 of both
/// (addresses are below 2^52), so one ordering sorts by space, then address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Taken {
    start: u64,
    end: u64,
}

const NON_SECURE_KEY: u64 = 1 << 63;

fn taken(space: Space, r: &AddressRange) -> Taken {
    let tag = match space {
        Space::Secure => 0,
        Space::NonSecure => NON_SECURE_KEY,
    };
    let len = u64::from(r.pages).saturating_mul(ffa::PAGE_SIZE as u64);
    let start = r.address & !NON_SECURE_KEY;
    Taken {
        start: tag | start,
        end: tag | start.saturating_add(len).min(!NON_SECURE_KEY),
    }
}

/// The outstanding transactions, sorted by handle.
#[derive(Debug)]
pub struct Ledger {
    transactions: Vec<Transaction, MAX_TRANSACTIONS>,
    /// Every transaction's constituents, in handle order.
    pool: Vec<AddressRange, MAX_RANGES>,
    /// Every committed constituent, sorted; no two overlap.
    index: Vec<Taken, MAX_RANGES>,
    /// The counter part of the next handle.
    next: u64,
}

impl Default for Ledger {
    fn default() -> Self {
        Self::new()
    }
}

impl Ledger {
    /// Nothing outstanding.
    pub const fn new() -> Self {
        Self {
            transactions: Vec::new(),
            pool: Vec::new(),
            index: Vec::new(),
            next: 1,
        }
    }

    /// How many transactions are outstanding (committed or arriving).
    pub fn len(&self) -> usize {
        self.transactions.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }

    /// Every outstanding transaction, by handle.
    pub fn iter(&self) -> impl Iterator<Item = &Transaction> {
        self.transactions.iter()
    }

    /// Opens `transaction` with room for `count` constituents under a new handle, which it
    /// returns. `arriving` says whether more fragments follow.
    pub fn open(
        &mut self,
        mut transaction: Transaction,
        count: usize,
        arriving: Option<Arriving>,
    ) -> Result<Handle, LedgerError> {
        if self.transactions.is_full() || count > self.pool.capacity() - self.pool.len() {
            return Err(LedgerError::Full);
        }
        if self.next >= HANDLE_ALLOCATED_BY_SPMC {
            return Err(LedgerError::NoHandle);
        }
        let handle = Handle(HANDLE_ALLOCATED_BY_SPMC | self.next);
        self.next += 1;
        transaction.handle = handle;
        transaction.arriving = arriving;
        // The newest handle: its ranges go at the end of the pool.
        transaction.first = self.pool.len();
        transaction.count = count;
        transaction.filled = 0;
        self.pool
            .resize(self.pool.len() + count, AddressRange::default())
            .map_err(|_| LedgerError::Full)?;
        // Handles only grow: pushing keeps the table sorted.
        self.transactions
            .push(transaction)
            .map_err(|_| LedgerError::Full)?;
        Ok(handle)
    }

    /// Adds constituents to the open transaction `handle`.
    pub fn fill(
        &mut self,
        handle: Handle,
        ranges: impl IntoIterator<Item = AddressRange>,
    ) -> Result<(), LedgerError> {
        let at = self.position(handle).ok_or(LedgerError::Unknown)?;
        let t = self.transactions.get_mut(at).ok_or(LedgerError::Unknown)?;
        for r in ranges {
            if t.filled >= t.count {
                return Err(LedgerError::CountMismatch);
            }
            let slot = self
                .pool
                .get_mut(t.first + t.filled)
                .ok_or(LedgerError::Unknown)?;
            *slot = r;
            t.filled += 1;
        }
        Ok(())
    }

    /// Commits the open transaction `handle` once every constituent is in: its ranges must
    /// overlap neither each other nor a committed transaction of its space. On error the
    /// transaction stays open (the caller forgets it).
    pub fn commit(&mut self, handle: Handle) -> Result<(), LedgerError> {
        let t = self.get_any(handle).ok_or(LedgerError::Unknown)?;
        if t.filled != t.count {
            return Err(LedgerError::CountMismatch);
        }
        let (space, first, count) = (t.space, t.first, t.count);
        let ranges = self.pool.get(first..first + count).unwrap_or(&[]);
        let before = self.index.len();
        if count > self.index.capacity() - before {
            return Err(LedgerError::Full);
        }
        for r in ranges {
            let _ = self.index.push(taken(space, r));
        }
        let (old, new) = self.index.split_at_mut(before);
        new.sort_unstable();
        let mut verdict = Ok(());
        if new.windows(2).any(|w| w[0].end > w[1].start) {
            verdict = Err(LedgerError::Overlapping);
        } else if new.iter().any(|n| overlaps_any(old, n)) {
            verdict = Err(LedgerError::AlreadyShared);
        }
        if verdict.is_err() {
            self.index.truncate(before);
            return verdict;
        }
        self.index.sort_unstable();
        if let Some(t) = self.get_mut_any(handle) {
            t.arriving = None;
        }
        Ok(())
    }

    fn position(&self, handle: Handle) -> Option<usize> {
        self.transactions
            .binary_search_by(|t| t.handle.cmp(&handle))
            .ok()
    }

    /// The committed transaction `handle`.
    pub fn get(&self, handle: Handle) -> Option<&Transaction> {
        self.get_any(handle).filter(|t| t.arriving.is_none())
    }

    /// The committed transaction `handle`, to change a borrower's holding.
    pub fn get_mut(&mut self, handle: Handle) -> Option<&mut Transaction> {
        self.get_mut_any(handle).filter(|t| t.arriving.is_none())
    }

    /// The transaction `handle`, committed or arriving.
    pub fn get_any(&self, handle: Handle) -> Option<&Transaction> {
        self.transactions.get(self.position(handle)?)
    }

    /// The transaction `handle`, committed or arriving, mutably.
    pub fn get_mut_any(&mut self, handle: Handle) -> Option<&mut Transaction> {
        let at = self.position(handle)?;
        self.transactions.get_mut(at)
    }

    /// The constituents of `handle` filled in so far.
    pub fn ranges(&self, handle: Handle) -> &[AddressRange] {
        match self.get_any(handle) {
            Some(t) => self.pool.get(t.first..t.first + t.filled).unwrap_or(&[]),
            None => &[],
        }
    }

    /// Forgets the transaction `handle` (committed or arriving); false if there is none.
    pub fn forget(&mut self, handle: Handle) -> bool {
        let Some(at) = self.position(handle) else {
            return false;
        };
        let t = self.transactions.remove(at);
        if t.arriving.is_none() {
            // Its ranges leave the index: found by binary search, marked, then swept once.
            let ranges = self.pool.get(t.first..t.first + t.count).unwrap_or(&[]);
            for r in ranges {
                let key = taken(t.space, r);
                if let Ok(i) = self.index.binary_search(&key)
                    && let Some(e) = self.index.get_mut(i)
                {
                    e.end = 0;
                }
            }
            self.index.retain(|e| e.end != 0);
        }
        // Its pool segment closes up; later transactions' segments move down.
        let (first, count) = (t.first, t.count);
        let len = self.pool.len();
        if let Some(tail) = self.pool.get_mut(first..len) {
            tail.copy_within(count.min(tail.len()).., 0);
        }
        self.pool.truncate(len.saturating_sub(count));
        for later in self.transactions.iter_mut().skip(at) {
            later.first -= count;
        }
        true
    }
}

/// Whether `n` overlaps a range of the sorted, disjoint `index`.
fn overlaps_any(index: &[Taken], n: &Taken) -> bool {
    // The first range starting at or after n, and the one before it, are the only candidates.
    let i = index.partition_point(|e| e.start < n.start);
    let next = index.get(i).is_some_and(|e| e.start < n.end);
    let prev = i
        .checked_sub(1)
        .and_then(|p| index.get(p))
        .is_some_and(|e| e.end > n.start);
    next || prev
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    fn range(address: u64, pages: u32) -> AddressRange {
        AddressRange { address, pages }
    }

    fn txn(space: Space) -> Transaction {
        let mut t = Transaction::new(Kind::Share, EndpointId(1), space, 0, 7);
        t.borrowers
            .push(Borrower {
                id: EndpointId(0x8001),
                permissions: 0b10,
                holding: Holding::Granted,
                delivered: 0,
            })
            .unwrap();
        t
    }

    fn insert(
        l: &mut Ledger,
        space: Space,
        ranges: &[AddressRange],
    ) -> Result<Handle, LedgerError> {
        let h = l.open(txn(space), ranges.len(), None)?;
        l.fill(h, ranges.iter().copied())?;
        match l.commit(h) {
            Ok(()) => Ok(h),
            Err(e) => {
                l.forget(h);
                Err(e)
            }
        }
    }

    #[test]
    fn handles_are_the_spmcs_increasing_and_found_again() {
        let mut l = Ledger::new();
        let a = insert(&mut l, Space::NonSecure, &[range(0x6000_0000, 1)]).unwrap();
        let b = insert(&mut l, Space::NonSecure, &[range(0x6000_1000, 2)]).unwrap();
        assert_eq!(a, Handle(HANDLE_ALLOCATED_BY_SPMC | 1));
        assert!(b > a);
        assert_eq!(l.ranges(b)[0].pages, 2);
        assert!(l.forget(a));
        assert_eq!(l.get(a), None);
        assert_eq!(l.get(b).unwrap().handle, b);
        assert_eq!(l.ranges(b), &[range(0x6000_1000, 2)]);
        // A removed handle is never handed out again, and its pages are free again.
        let c = insert(&mut l, Space::NonSecure, &[range(0x6000_0000, 1)]).unwrap();
        assert!(c > b);
    }

    #[test]
    fn a_page_is_in_one_transaction_per_space() {
        let mut l = Ledger::new();
        insert(&mut l, Space::NonSecure, &[range(0x6000_0000, 4)]).unwrap();
        assert_eq!(
            insert(&mut l, Space::NonSecure, &[range(0x6000_3000, 1)]),
            Err(LedgerError::AlreadyShared)
        );
        assert_eq!(
            insert(&mut l, Space::NonSecure, &[range(0x5fff_f000, 2)]),
            Err(LedgerError::AlreadyShared)
        );
        // Next to it, or the same address in the other space, is fine.
        insert(&mut l, Space::NonSecure, &[range(0x6000_4000, 1)]).unwrap();
        insert(&mut l, Space::Secure, &[range(0x6000_0000, 1)]).unwrap();
        assert_eq!(
            insert(
                &mut l,
                Space::NonSecure,
                &[range(0x7000_0000, 2), range(0x7000_1000, 1)]
            ),
            Err(LedgerError::Overlapping)
        );
        assert_eq!(l.len(), 3);
    }

    #[test]
    fn the_table_fills_up() {
        let mut l = Ledger::new();
        for i in 0..MAX_TRANSACTIONS as u64 {
            insert(
                &mut l,
                Space::NonSecure,
                &[range(0x6000_0000 + i * 0x1000, 1)],
            )
            .unwrap();
        }
        assert_eq!(
            insert(&mut l, Space::NonSecure, &[range(0x7000_0000, 1)]),
            Err(LedgerError::Full)
        );
        let mut l = Ledger::new();
        assert_eq!(
            l.open(txn(Space::NonSecure), MAX_RANGES + 1, None),
            Err(LedgerError::Full)
        );
    }

    #[test]
    fn an_arriving_transaction_is_filled_in_pieces_and_hidden_until_committed() {
        let mut l = Ledger::new();
        let arriving = Arriving {
            received: 0,
            total: 0,
            stated_pages: 3,
            pages: 0,
            clear: false,
        };
        let a = l.open(txn(Space::NonSecure), 3, Some(arriving)).unwrap();
        // A newer transaction after it in the pool.
        let b = insert(&mut l, Space::NonSecure, &[range(0x9000_0000, 1)]).unwrap();
        l.fill(a, [range(0x6000_0000, 1)]).unwrap();
        assert!(l.get(a).is_none() && l.get_any(a).is_some());
        assert_eq!(l.commit(a), Err(LedgerError::CountMismatch));
        l.fill(a, [range(0x6000_2000, 1), range(0x6000_4000, 1)])
            .unwrap();
        assert_eq!(
            l.fill(a, [range(0x6000_6000, 1)]),
            Err(LedgerError::CountMismatch)
        );
        l.commit(a).unwrap();
        assert_eq!(l.ranges(a).len(), 3);
        assert_eq!(l.ranges(b), &[range(0x9000_0000, 1)]);
        assert!(l.forget(a));
        assert_eq!(l.ranges(b), &[range(0x9000_0000, 1)]);
        assert_eq!(l.pool.len(), 1);
        assert_eq!(l.index.len(), 1);
    }

    #[test]
    fn thousands_of_ranges_are_checked_by_the_index() {
        let mut l = Ledger::new();
        let scattered: std::vec::Vec<AddressRange> = (0..1500u64)
            .map(|i| range(0x4000_0000 + i * 0x2000, 1))
            .collect();
        let a = insert(&mut l, Space::NonSecure, &scattered).unwrap();
        // The gaps between them are free; any page of them is not.
        let gaps: std::vec::Vec<AddressRange> = (0..1500u64)
            .map(|i| range(0x4000_1000 + i * 0x2000, 1))
            .collect();
        insert(&mut l, Space::NonSecure, &gaps).unwrap();
        assert_eq!(
            insert(
                &mut l,
                Space::NonSecure,
                &[range(0x4000_0000 + 1000 * 0x2000, 1)]
            ),
            Err(LedgerError::AlreadyShared)
        );
        assert!(l.forget(a));
        insert(
            &mut l,
            Space::NonSecure,
            &[range(0x4000_0000 + 1000 * 0x2000, 1)],
        )
        .unwrap();
    }
}
