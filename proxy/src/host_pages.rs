//! The host pages the proxy holds a claim on.
//!
//! A page nobody holds belongs to the host alone. The proxy takes a hold on host pages when it
//! pins the host's RX/TX buffers (and, later, when the host shares or lends them to the secure
//! world), so that one page can never be in two roles at once. The ledger is bounded; every
//! operation is all-or-nothing: on error nothing changes.

use heapless::Vec;

/// FF-A's page size, in which the ledger counts.
const PAGE: u64 = ffa::PAGE_SIZE as u64;

/// Frame numbers must stay below this so that every address in a range fits in a `u64`.
const FRAME_LIMIT: u64 = u64::MAX / PAGE + 1;

/// Why a ledger operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageError {
    /// The address is not 4 KiB aligned.
    Misaligned,
    /// A range of zero pages.
    Empty,
    /// The range runs past the end of the address space.
    Overflow,
    /// Some page lies outside host RAM.
    OutsideRam,
    /// Some page is already held (or the request names a page twice).
    AlreadyHeld,
    /// The ledger has no room for more holds.
    TableFull,
    /// A release that does not match a hold exactly.
    NotHeld,
    /// Two ranges of one transaction overlap.
    Overlapping,
}

/// A non-empty run of whole 4 KiB pages, by frame number; its addresses never overflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRange {
    first: u64,
    count: u64,
}

impl PageRange {
    /// The `pages` pages starting at physical `addr`.
    pub const fn new(addr: u64, pages: u64) -> Result<Self, PageError> {
        if !addr.is_multiple_of(PAGE) {
            return Err(PageError::Misaligned);
        }
        if pages == 0 {
            return Err(PageError::Empty);
        }
        let first = addr / PAGE;
        match first.checked_add(pages) {
            Some(end) if end <= FRAME_LIMIT => Ok(Self {
                first,
                count: pages,
            }),
            _ => Err(PageError::Overflow),
        }
    }

    /// Physical address of the first page.
    pub const fn base(&self) -> u64 {
        self.first * PAGE
    }

    /// Number of pages.
    pub const fn pages(&self) -> u64 {
        self.count
    }

    /// One past the last frame number (cannot overflow: checked at construction).
    const fn end(&self) -> u64 {
        self.first + self.count
    }

    /// Whether the two ranges share a page.
    pub const fn overlaps(&self, other: &Self) -> bool {
        self.first < other.end() && other.first < self.end()
    }

    /// Whether any address in `[start, end)` lies in one of the range's pages.
    pub const fn touches(&self, start: u64, end: u64) -> bool {
        start < end && self.first < end.div_ceil(PAGE) && start / PAGE < self.end()
    }

    /// Whether physical `addr` lies in one of the range's pages.
    pub const fn contains(&self, addr: u64) -> bool {
        let frame = addr / PAGE;
        self.first <= frame && frame < self.end()
    }
}

/// Why the proxy holds a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// Shared with the proxy and pinned: one of the host's RX/TX buffers.
    Mailbox,
    /// Shared with the secure world by FFA_MEM_SHARE.
    SharedWithSecure,
    /// Lent to the secure world by FFA_MEM_LEND.
    LentToSecure,
}

/// The tag of holds that belong to no memory transaction (the host's mailbox).
pub const UNTAGGED: u64 = 0;

/// The ledger: at most `N` holds, none overlapping, all inside host RAM. Each hold carries a
/// tag: the handle of the memory transaction it belongs to ([`UNTAGGED`] for the mailbox).
#[derive(Clone, Debug)]
pub struct HostPages<const N: usize> {
    ram_first: u64,
    ram_end: u64,
    holds: Vec<(PageRange, Hold, u64), N>,
}

impl<const N: usize> HostPages<N> {
    /// An empty ledger over host RAM `[ram.0, ram.1)`; partial pages at either end are not RAM.
    pub const fn new(ram: (u64, u64)) -> Self {
        let mut ram_first = ram.0.div_ceil(PAGE);
        if ram_first > FRAME_LIMIT {
            ram_first = FRAME_LIMIT;
        }
        let mut ram_end = ram.1 / PAGE;
        if ram_end < ram_first {
            ram_end = ram_first;
        }
        Self {
            ram_first,
            ram_end,
            holds: Vec::new(),
        }
    }

    /// Whether every page of `range` is host RAM.
    pub fn in_ram(&self, range: &PageRange) -> bool {
        self.ram_first <= range.first && range.end() <= self.ram_end
    }

    /// Takes `hold` on every range, or on none of them.
    pub fn claim(&mut self, ranges: &[PageRange], hold: Hold) -> Result<(), PageError> {
        self.claim_tagged(ranges, hold, UNTAGGED)
    }

    /// Takes `hold` on every range for transaction `tag`, or on none of them. A range that
    /// overlaps another of the request, or a hold of the same transaction, is
    /// [`PageError::Overlapping`]; one that overlaps any other hold is
    /// [`PageError::AlreadyHeld`].
    pub fn claim_tagged(
        &mut self,
        ranges: &[PageRange],
        hold: Hold,
        tag: u64,
    ) -> Result<(), PageError> {
        for (i, range) in ranges.iter().enumerate() {
            if !self.in_ram(range) {
                return Err(PageError::OutsideRam);
            }
            if ranges.iter().skip(i + 1).any(|r| r.overlaps(range)) {
                return Err(if tag == UNTAGGED {
                    PageError::AlreadyHeld
                } else {
                    PageError::Overlapping
                });
            }
            if let Some((_, _, t)) = self.holds.iter().find(|(held, _, _)| held.overlaps(range)) {
                return Err(if *t == tag && tag != UNTAGGED {
                    PageError::Overlapping
                } else {
                    PageError::AlreadyHeld
                });
            }
        }
        if ranges.len() > N - self.holds.len() {
            return Err(PageError::TableFull);
        }
        let before = self.holds.len();
        for range in ranges {
            if self.holds.push((*range, hold, tag)).is_err() {
                // Unreachable after the room check; undo rather than leave half a claim.
                self.holds.truncate(before);
                return Err(PageError::TableFull);
            }
        }
        Ok(())
    }

    /// Drops `hold` from every range, or from none; each range must match one untagged hold
    /// exactly.
    pub fn release(&mut self, ranges: &[PageRange], hold: Hold) -> Result<(), PageError> {
        for (i, range) in ranges.iter().enumerate() {
            let twice = ranges.iter().skip(i + 1).any(|r| r == range);
            if twice || !self.holds.contains(&(*range, hold, UNTAGGED)) {
                return Err(PageError::NotHeld);
            }
        }
        self.holds
            .retain(|(held, h, t)| !(*h == hold && *t == UNTAGGED && ranges.contains(held)));
        Ok(())
    }

    /// Drops every hold of transaction `tag`; returns how many there were.
    pub fn release_tagged(&mut self, tag: u64) -> usize {
        let before = self.holds.len();
        self.holds.retain(|(_, _, t)| *t != tag);
        before - self.holds.len()
    }

    /// Moves every hold of transaction `from` to transaction `to`.
    pub fn retag(&mut self, from: u64, to: u64) {
        for (_, _, t) in self.holds.iter_mut().filter(|(_, _, t)| *t == from) {
            *t = to;
        }
    }

    /// The holds of transaction `tag`.
    pub fn tagged(&self, tag: u64) -> impl Iterator<Item = (PageRange, Hold)> + '_ {
        self.holds
            .iter()
            .filter(move |(_, _, t)| *t == tag)
            .map(|(r, h, _)| (*r, *h))
    }

    /// What holds the page at physical `addr`; `None` means the host alone owns it.
    pub fn holder(&self, addr: u64) -> Option<Hold> {
        self.holds
            .iter()
            .find(|(range, _, _)| range.contains(addr))
            .map(|(_, hold, _)| *hold)
    }

    /// Every hold, in no particular order.
    pub fn holds(&self) -> impl Iterator<Item = (PageRange, Hold)> + '_ {
        self.holds.iter().map(|(r, h, _)| (*r, *h))
    }

    /// Whether the proxy holds no page at all.
    pub fn is_empty(&self) -> bool {
        self.holds.is_empty()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec as StdVec;

    const RAM: (u64, u64) = (0x4000_0000, 0x4010_0000); // 256 pages

    fn range(addr: u64, pages: u64) -> PageRange {
        PageRange::new(addr, pages).unwrap()
    }

    #[test]
    fn range_rejects_misaligned_empty_and_overflowing() {
        assert_eq!(PageRange::new(0x1001, 1), Err(PageError::Misaligned));
        assert_eq!(PageRange::new(0x1000, 0), Err(PageError::Empty));
        assert_eq!(
            PageRange::new(0xffff_ffff_ffff_f000, 2),
            Err(PageError::Overflow)
        );
        assert_eq!(PageRange::new(0x1000, u64::MAX), Err(PageError::Overflow));
        // The very last page of the address space is representable.
        let last = range(0xffff_ffff_ffff_f000, 1);
        assert!(last.contains(u64::MAX));
    }

    #[test]
    fn claim_outside_ram_or_twice_is_refused() {
        let mut pages = HostPages::<4>::new(RAM);
        assert_eq!(
            pages.claim(&[range(0x3fff_f000, 2)], Hold::Mailbox),
            Err(PageError::OutsideRam)
        );
        assert_eq!(
            pages.claim(&[range(0x400f_f000, 2)], Hold::Mailbox),
            Err(PageError::OutsideRam)
        );
        pages
            .claim(&[range(0x4000_0000, 2)], Hold::Mailbox)
            .unwrap();
        assert_eq!(
            pages.claim(&[range(0x4000_1000, 1)], Hold::SharedWithSecure),
            Err(PageError::AlreadyHeld)
        );
        // Overlap within one request.
        assert_eq!(
            pages.claim(
                &[range(0x4001_0000, 2), range(0x4001_1000, 1)],
                Hold::Mailbox
            ),
            Err(PageError::AlreadyHeld)
        );
        assert_eq!(pages.holds().count(), 1);
        assert_eq!(pages.holder(0x4000_1fff), Some(Hold::Mailbox));
        assert_eq!(pages.holder(0x4000_2000), None);
    }

    #[test]
    fn claim_is_all_or_nothing_when_full() {
        let mut pages = HostPages::<2>::new(RAM);
        pages
            .claim(&[range(0x4000_0000, 1)], Hold::Mailbox)
            .unwrap();
        assert_eq!(
            pages.claim(
                &[range(0x4000_1000, 1), range(0x4000_2000, 1)],
                Hold::Mailbox
            ),
            Err(PageError::TableFull)
        );
        assert_eq!(pages.holds().count(), 1);
        assert_eq!(pages.holder(0x4000_1000), None);
    }

    #[test]
    fn release_must_match_exactly() {
        let mut pages = HostPages::<4>::new(RAM);
        let a = range(0x4000_0000, 2);
        let b = range(0x4000_4000, 1);
        pages.claim(&[a, b], Hold::Mailbox).unwrap();
        assert_eq!(
            pages.release(&[range(0x4000_0000, 1)], Hold::Mailbox),
            Err(PageError::NotHeld)
        );
        assert_eq!(
            pages.release(&[a], Hold::LentToSecure),
            Err(PageError::NotHeld)
        );
        assert_eq!(
            pages.release(&[a, a], Hold::Mailbox),
            Err(PageError::NotHeld)
        );
        assert_eq!(pages.holds().count(), 2);
        pages.release(&[b, a], Hold::Mailbox).unwrap();
        assert!(pages.is_empty());
    }

    #[test]
    fn ram_bounds_round_inwards() {
        let pages = HostPages::<1>::new((0x1800, 0x4800));
        assert!(pages.in_ram(&range(0x2000, 2)));
        assert!(!pages.in_ram(&range(0x1000, 1)));
        assert!(!pages.in_ram(&range(0x4000, 1)));
        let inverted = HostPages::<1>::new((0x9000, 0x1000));
        assert!(!inverted.in_ram(&range(0x1000, 1)));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Claim(StdVec<(u64, u64)>, Hold),
        ReleaseHeld(usize),
        ReleaseAny(u64, u64, Hold),
    }

    fn hold() -> impl Strategy<Value = Hold> {
        prop_oneof![
            Just(Hold::Mailbox),
            Just(Hold::SharedWithSecure),
            Just(Hold::LentToSecure)
        ]
    }

    // Addresses mostly in and around RAM, sometimes anywhere (overflow, misalignment).
    fn addr() -> impl Strategy<Value = u64> {
        prop_oneof![
            4 => (0x3_fff0u64..0x4_0110).prop_map(|f| f * PAGE),
            1 => any::<u64>(),
            1 => Just(0xffff_ffff_ffff_f000u64),
        ]
    }

    fn count() -> impl Strategy<Value = u64> {
        prop_oneof![4 => 0u64..6, 1 => any::<u64>()]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (proptest::collection::vec((addr(), count()), 0..4), hold())
                .prop_map(|(r, h)| Op::Claim(r, h)),
            2 => any::<usize>().prop_map(Op::ReleaseHeld),
            1 => (addr(), count(), hold()).prop_map(|(a, c, h)| Op::ReleaseAny(a, c, h)),
        ]
    }

    fn snapshot<const N: usize>(pages: &HostPages<N>) -> StdVec<(PageRange, Hold)> {
        pages.holds().collect()
    }

    fn check_invariants<const N: usize>(pages: &HostPages<N>) {
        let holds = snapshot(pages);
        assert!(holds.len() <= N);
        for (i, (a, _)) in holds.iter().enumerate() {
            assert!(pages.in_ram(a), "hold outside RAM: {a:?}");
            for (b, _) in &holds[i + 1..] {
                assert!(!a.overlaps(b), "pages held twice: {a:?} {b:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn random_claims_and_releases_keep_the_ledger_sound(
            ops in proptest::collection::vec(op(), 0..64)
        ) {
            let mut pages = HostPages::<8>::new(RAM);
            for op in ops {
                let before = snapshot(&pages);
                let result = match op {
                    Op::Claim(raw, hold) => {
                        let ranges: Result<StdVec<_>, _> =
                            raw.iter().map(|&(a, c)| PageRange::new(a, c)).collect();
                        match ranges {
                            Ok(ranges) => {
                                let r = pages.claim(&ranges, hold);
                                if r.is_ok() {
                                    prop_assert_eq!(snapshot(&pages).len(), before.len() + ranges.len());
                                    for range in &ranges {
                                        prop_assert_eq!(pages.holder(range.base()), Some(hold));
                                    }
                                }
                                r
                            }
                            Err(e) => Err(e),
                        }
                    }
                    Op::ReleaseHeld(i) => match before.get(i % before.len().max(1)) {
                        Some(&(range, hold)) => pages.release(&[range], hold),
                        None => pages.release(&[], Hold::Mailbox),
                    },
                    Op::ReleaseAny(a, c, hold) => match PageRange::new(a, c) {
                        Ok(range) => pages.release(&[range], hold),
                        Err(e) => Err(e),
                    },
                };
                if result.is_err() {
                    prop_assert_eq!(snapshot(&pages), before);
                }
                check_invariants(&pages);
            }
            for (range, hold) in snapshot(&pages) {
                pages.release(&[range], hold).unwrap();
            }
            prop_assert!(pages.is_empty());
        }
    }
}
