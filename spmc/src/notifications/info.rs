//! The ID lists FFA_NOTIFICATION_INFO_GET returns (FF-A v1.2, FFA_NOTIFICATION_INFO_GET: its
//! flags and ID lists).
//!
//! Each list is an endpoint ID followed by 0 to 3 vCPU IDs. An endpoint with pending global
//! notifications gets a list with its ID alone; its vCPUs with pending per-vCPU notifications
//! are added to its current list, a new list (the endpoint ID again) starting after three.
//! The lists are packed one after the other, 16 bits per ID, from the low half of w3/x3: 10
//! IDs in the SMC32 form (w3..w7), 20 in the SMC64 form (x3..x7). w2/x2: bit 0 = more pending
//! (info that did not fit, or was not asked for), bits 11:7 = the number of lists, and from
//! bit 12, two bits per list, its number of vCPU IDs.

/// Most IDs the SMC64 form carries.
pub const MAX_IDS_64: usize = 20;
/// Most IDs the SMC32 form carries.
pub const MAX_IDS_32: usize = 10;

const MORE_PENDING: u64 = 1 << 0;
const LIST_COUNT_SHIFT: u32 = 7;
const LIST_SIZES_SHIFT: u32 = 12;
/// Most vCPU IDs one list holds.
const MAX_VCPUS_PER_LIST: u8 = 3;

/// Where the insertion for one endpoint is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// The endpoint has no list yet, or its last list is full.
    NewList,
    /// The endpoint's list is the last one and has room.
    InList,
}

/// The lists being built.
#[derive(Clone, Debug)]
pub struct InfoLists {
    max: usize,
    ids: [u16; MAX_IDS_64],
    count: usize,
    sizes: [u8; MAX_IDS_64],
    lists: usize,
    full: bool,
}

impl InfoLists {
    /// Empty lists for the SMC32 (`is_32bit`) or SMC64 form.
    pub const fn new(is_32bit: bool) -> Self {
        Self {
            max: if is_32bit { MAX_IDS_32 } else { MAX_IDS_64 },
            ids: [0; MAX_IDS_64],
            count: 0,
            sizes: [0; MAX_IDS_64],
            lists: 0,
            full: false,
        }
    }

    /// Adds `endpoint` (global notifications: `vcpu` None) or one of its vCPUs. False when it
    /// does not fit: the caller keeps that information for a later call.
    pub fn insert(&mut self, cursor: &mut Cursor, endpoint: u16, vcpu: Option<u16>) -> bool {
        if self.full || self.count >= self.max {
            self.full = true;
            return false;
        }
        match *cursor {
            Cursor::NewList => {
                let needed = if vcpu.is_some() { 2 } else { 1 };
                if self.max - self.count < needed {
                    self.full = true;
                    return false;
                }
                self.push(endpoint);
                let size = match vcpu {
                    Some(v) => {
                        self.push(v);
                        1
                    }
                    None => 0,
                };
                if let Some(s) = self.sizes.get_mut(self.lists) {
                    *s = size;
                }
                self.lists += 1;
                *cursor = Cursor::InList;
            }
            Cursor::InList => {
                // The endpoint is listed already: nothing more for its global ones.
                let Some(v) = vcpu else {
                    return true;
                };
                self.push(v);
                let Some(size) = self
                    .lists
                    .checked_sub(1)
                    .and_then(|i| self.sizes.get_mut(i))
                else {
                    return false;
                };
                *size += 1;
                if *size >= MAX_VCPUS_PER_LIST {
                    *cursor = Cursor::NewList;
                }
            }
        }
        true
    }

    fn push(&mut self, id: u16) {
        if let Some(slot) = self.ids.get_mut(self.count) {
            *slot = id;
            self.count += 1;
        }
    }

    /// Whether no ID was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The IDs, in order.
    pub fn ids(&self) -> &[u16] {
        self.ids.get(..self.count).unwrap_or(&[])
    }

    /// w2/x2 with the "more pending" bit as given.
    pub fn flags(&self, more_pending: bool) -> u64 {
        let mut flags = if more_pending { MORE_PENDING } else { 0 };
        flags |= (self.lists as u64) << LIST_COUNT_SHIFT;
        for (i, size) in self.sizes.iter().take(self.lists).enumerate() {
            flags |= u64::from(*size) << (LIST_SIZES_SHIFT + 2 * i as u32);
        }
        flags
    }

    /// w3..w7 / x3..x7: the IDs packed from the low bits, 2 (SMC32) or 4 (SMC64) per register.
    pub fn registers(&self) -> [u64; 5] {
        let per = if self.max == MAX_IDS_32 { 2 } else { 4 };
        let mut regs = [0u64; 5];
        for (i, id) in self.ids().iter().enumerate() {
            if let Some(r) = regs.get_mut(i / per) {
                *r |= u64::from(*id) << (16 * (i % per));
            }
        }
        regs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_after_three_vcpus_and_stop_when_full() {
        let mut l = InfoLists::new(true);
        let mut c = Cursor::NewList;
        assert!(l.insert(&mut c, 0x8001, None));
        assert!(l.insert(&mut c, 0x8001, None));
        for v in 0..4 {
            assert!(l.insert(&mut c, 0x8001, Some(v)));
        }
        // [8001 0 1 2] [8001 3]
        assert_eq!(l.ids(), &[0x8001, 0, 1, 2, 0x8001, 3]);
        assert_eq!(l.flags(false), (2 << 7) | (3 << 12) | (1 << 14));
        let mut c = Cursor::NewList;
        assert!(l.insert(&mut c, 0x8002, None));
        assert!(l.insert(&mut c, 0x8002, Some(0)));
        assert!(l.insert(&mut c, 0x8002, Some(1)));
        // Ten IDs: full.
        assert_eq!(l.ids().len(), 9);
        let mut c = Cursor::NewList;
        assert!(!l.insert(&mut c, 0x8003, Some(0)));
        assert!(!l.insert(&mut c, 0x8003, None));
        assert_eq!(
            l.registers(),
            [
                0x0000_8001,
                0x0002_0001,
                0x0003_8001,
                0x0000_8002,
                0x0000_0001
            ]
        );
        assert_eq!(l.flags(true) & 1, 1);
    }

    #[test]
    fn smc64_packs_four_ids_a_register() {
        let mut l = InfoLists::new(false);
        for id in 0..6u16 {
            let mut c = Cursor::NewList;
            assert!(l.insert(&mut c, 0x10 + id, None));
        }
        assert_eq!(
            l.registers(),
            [0x0013_0012_0011_0010, 0x0000_0000_0015_0014, 0, 0, 0]
        );
        assert_eq!(l.flags(false), 6 << 7);
    }
}
