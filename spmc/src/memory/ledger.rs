//! The outstanding memory transactions, by handle: what was lent, shared or donated, by whom, to
//! whom, and whether each borrower holds it now.
//!
//! Handles are allocated here, counting up with bit 63 set (FF-A's "allocated by the SPMC"), so
//! the table stays sorted by handle and a lookup is a binary search. A page of one address
//! space is in at most one outstanding transaction.

use ffa::memory::{AddressRange, BoundedVec, MAX_RANGES, MAX_RECEIVERS};
use ffa::{EndpointId, PAGE_SIZE};
use heapless::Vec;

use crate::platform::Space;

/// Most outstanding transactions. A send past it gets NO_MEMORY.
pub const MAX_TRANSACTIONS: usize = 16;

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
    /// The constituents, none overlapping another.
    pub ranges: BoundedVec<AddressRange, MAX_RANGES>,
}

impl Transaction {
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
}

/// Why the ledger refused a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerError {
    /// [`MAX_TRANSACTIONS`] are outstanding.
    Full,
    /// A range is already in an outstanding transaction of the same space.
    AlreadyShared,
    /// Two ranges of the transaction overlap each other.
    Overlapping,
    /// Handles ran out (never, in practice: 2^63 of them).
    NoHandle,
}

/// The outstanding transactions, sorted by handle.
#[derive(Debug, Default)]
pub struct Ledger {
    transactions: Vec<Transaction, MAX_TRANSACTIONS>,
    /// The counter part of the next handle.
    next: u64,
}

/// `[start, end)` of a range (ranges are validated: no overflow, at least one page).
fn bounds(r: &AddressRange) -> (u64, u64) {
    let len = u64::from(r.pages).saturating_mul(PAGE_SIZE as u64);
    (r.address, r.address.saturating_add(len))
}

fn overlap(a: &AddressRange, b: &AddressRange) -> bool {
    let (a0, a1) = bounds(a);
    let (b0, b1) = bounds(b);
    a0 < b1 && b0 < a1
}

impl Ledger {
    /// Nothing outstanding.
    pub const fn new() -> Self {
        Self {
            transactions: Vec::new(),
            next: 1,
        }
    }

    /// How many transactions are outstanding.
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

    /// Checks that `ranges` overlap neither each other nor an outstanding transaction of
    /// `space`.
    pub fn check_ranges(&self, space: Space, ranges: &[AddressRange]) -> Result<(), LedgerError> {
        for (i, r) in ranges.iter().enumerate() {
            if ranges
                .get(i + 1..)
                .unwrap_or(&[])
                .iter()
                .any(|o| overlap(r, o))
            {
                return Err(LedgerError::Overlapping);
            }
            let taken = self
                .transactions
                .iter()
                .filter(|t| t.space == space)
                .any(|t| t.ranges.iter().any(|o| overlap(r, o)));
            if taken {
                return Err(LedgerError::AlreadyShared);
            }
        }
        Ok(())
    }

    /// Records `transaction` (its handle is replaced by a new one) and returns the handle.
    pub fn insert(&mut self, mut transaction: Transaction) -> Result<Handle, LedgerError> {
        self.check_ranges(transaction.space, &transaction.ranges)?;
        if self.transactions.is_full() {
            return Err(LedgerError::Full);
        }
        if self.next >= HANDLE_ALLOCATED_BY_SPMC {
            return Err(LedgerError::NoHandle);
        }
        let handle = Handle(HANDLE_ALLOCATED_BY_SPMC | self.next);
        self.next += 1;
        transaction.handle = handle;
        // Handles only grow: pushing keeps the table sorted.
        self.transactions
            .push(transaction)
            .map_err(|_| LedgerError::Full)?;
        Ok(handle)
    }

    fn position(&self, handle: Handle) -> Option<usize> {
        self.transactions
            .binary_search_by(|t| t.handle.cmp(&handle))
            .ok()
    }

    /// The transaction `handle`.
    pub fn get(&self, handle: Handle) -> Option<&Transaction> {
        self.transactions.get(self.position(handle)?)
    }

    /// The transaction `handle`, to change a borrower's holding.
    pub fn get_mut(&mut self, handle: Handle) -> Option<&mut Transaction> {
        let at = self.position(handle)?;
        self.transactions.get_mut(at)
    }

    /// Forgets the transaction `handle`.
    pub fn remove(&mut self, handle: Handle) -> Option<Transaction> {
        let at = self.position(handle)?;
        Some(self.transactions.remove(at))
    }

    /// Forgets the transaction `handle` without handing it back; false if there is none.
    pub fn forget(&mut self, handle: Handle) -> bool {
        match self.position(handle) {
            Some(at) => {
                self.transactions.remove(at);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(address: u64, pages: u32) -> AddressRange {
        AddressRange { address, pages }
    }

    fn txn(space: Space, ranges: &[AddressRange]) -> Transaction {
        let mut list = BoundedVec::new();
        for r in ranges {
            list.push(*r).unwrap();
        }
        let mut borrowers = Vec::new();
        borrowers
            .push(Borrower {
                id: EndpointId(0x8001),
                permissions: 0b10,
                holding: Holding::Granted,
            })
            .unwrap();
        Transaction {
            handle: Handle(0),
            kind: Kind::Share,
            lender: EndpointId(1),
            space,
            attributes: 0,
            tag: 7,
            borrowers,
            ranges: list,
        }
    }

    #[test]
    fn handles_are_the_spmcs_increasing_and_found_again() {
        let mut l = Ledger::new();
        let a = l
            .insert(txn(Space::NonSecure, &[range(0x6000_0000, 1)]))
            .unwrap();
        let b = l
            .insert(txn(Space::NonSecure, &[range(0x6000_1000, 2)]))
            .unwrap();
        assert_eq!(a, Handle(HANDLE_ALLOCATED_BY_SPMC | 1));
        assert!(b > a);
        assert_eq!(l.get(b).unwrap().ranges[0].pages, 2);
        assert_eq!(l.remove(a).unwrap().handle, a);
        assert_eq!(l.get(a), None);
        assert_eq!(l.get(b).unwrap().handle, b);
        // A removed handle is never handed out again.
        let c = l
            .insert(txn(Space::NonSecure, &[range(0x6000_0000, 1)]))
            .unwrap();
        assert!(c > b);
    }

    #[test]
    fn a_page_is_in_one_transaction_per_space() {
        let mut l = Ledger::new();
        l.insert(txn(Space::NonSecure, &[range(0x6000_0000, 4)]))
            .unwrap();
        assert_eq!(
            l.insert(txn(Space::NonSecure, &[range(0x6000_3000, 1)])),
            Err(LedgerError::AlreadyShared)
        );
        // Next to it, or the same address in the other space, is fine.
        l.insert(txn(Space::NonSecure, &[range(0x6000_4000, 1)]))
            .unwrap();
        l.insert(txn(Space::Secure, &[range(0x6000_0000, 1)]))
            .unwrap();
        assert_eq!(
            l.insert(txn(
                Space::NonSecure,
                &[range(0x7000_0000, 2), range(0x7000_1000, 1)]
            )),
            Err(LedgerError::Overlapping)
        );
        assert_eq!(l.len(), 3);
    }

    #[test]
    fn the_table_fills_up() {
        let mut l = Ledger::new();
        for i in 0..MAX_TRANSACTIONS as u64 {
            l.insert(txn(Space::NonSecure, &[range(0x6000_0000 + i * 0x1000, 1)]))
                .unwrap();
        }
        assert_eq!(
            l.insert(txn(Space::NonSecure, &[range(0x7000_0000, 1)])),
            Err(LedgerError::Full)
        );
    }
}
