//! Input shapes shared by the fuzz targets.
//!
//! Uniformly random registers almost never hold an FF-A function ID or an endpoint ID the
//! cores know, so the targets build their registers from these choices: mostly plausible
//! values, sometimes raw ones.

use std::collections::HashMap;
use std::sync::OnceLock;

use ffa::call::Regs;
use ffa::hafnium::HfCall;
use ffa::{FuncId, Version};
use libfuzzer_sys::arbitrary::{self, Arbitrary};

/// The FF-A versions callers may negotiate.
pub const VERSIONS: [Version; 3] = [Version(1, 0), Version(1, 1), Version(1, 2)];

/// SMCCC's "no live SVE state" hint bit of a function ID.
const SVE_HINT: u64 = 1 << 16;

/// Every function ID `arm-ffa` knows, SMC32 and SMC64.
pub fn ffa_function_ids() -> &'static [u32] {
    static IDS: OnceLock<Vec<u32>> = OnceLock::new();
    IDS.get_or_init(|| {
        [0x8400_0000u32, 0xc400_0000]
            .into_iter()
            .flat_map(|base| (0x60..=0xff).map(move |n| base | n))
            .filter(|&fid| FuncId::try_from(fid).is_ok())
            .collect()
    })
}

/// The Hafnium paravirtual calls partitions make.
pub const HAFNIUM_CALLS: [HfCall; 5] = [
    HfCall::InterruptEnable,
    HfCall::InterruptGet,
    HfCall::InterruptDeactivate,
    HfCall::InterruptReconfigure,
    HfCall::InterruptSendIpi,
];

/// What goes in x0.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Function {
    /// A known FF-A function, by index into [`ffa_function_ids`], maybe with the SVE hint.
    Ffa {
        /// Index, taken modulo the table length.
        index: u8,
        /// Set SMCCC's SVE hint bit.
        sve_hint: bool,
    },
    /// A Hafnium paravirtual call, by index into [`HAFNIUM_CALLS`].
    Hafnium(u8),
    /// Anything at all.
    Raw(u64),
}

impl Function {
    /// The x0 value.
    pub fn x0(self) -> u64 {
        match self {
            Self::Ffa { index, sve_hint } => {
                let ids = ffa_function_ids();
                let fid = ids
                    .get(usize::from(index) % ids.len().max(1))
                    .copied()
                    .unwrap_or(0x8400_0063);
                u64::from(fid) | if sve_hint { SVE_HINT } else { 0 }
            }
            Self::Hafnium(index) => {
                let call = HAFNIUM_CALLS[usize::from(index) % HAFNIUM_CALLS.len()];
                u64::from(call.fid())
            }
            Self::Raw(x0) => x0,
        }
    }
}

/// An endpoint ID: one the configuration knows (by index into a list the target supplies),
/// or any.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Endpoint {
    /// The `n`th (modulo) of the target's known IDs.
    Known(u8),
    /// Any 16-bit ID.
    Raw(u16),
}

impl Endpoint {
    /// The ID, picking known ones from `known`.
    pub fn id(self, known: &[u16]) -> u16 {
        match self {
            Self::Known(n) => known
                .get(usize::from(n) % known.len().max(1))
                .copied()
                .unwrap_or(0),
            Self::Raw(id) => id,
        }
    }
}

/// An address: inside one of the target's memory windows (page-aligned or not), or any.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Address {
    /// Page `page` (modulo the window's size) of window `window` (modulo the window count),
    /// plus `offset` bytes (0 for most inputs).
    InWindow {
        /// Which window.
        window: u8,
        /// Which page of it.
        page: u16,
        /// Bytes past the page start.
        offset: u16,
    },
    /// Any address.
    Raw(u64),
}

impl Address {
    /// The address, with windows given as (base, length) pairs.
    pub fn value(self, windows: &[(u64, u64)]) -> u64 {
        match self {
            Self::InWindow {
                window,
                page,
                offset,
            } => {
                let Some(&(base, len)) = windows.get(usize::from(window) % windows.len().max(1))
                else {
                    return 0;
                };
                let pages = (len / 4096).max(1);
                base.wrapping_add((u64::from(page) % pages) * 4096)
                    .wrapping_add(u64::from(offset))
            }
            Self::Raw(a) => a,
        }
    }
}

/// One call's registers: x0 from [`Function`], optionally w1 as a (source, destination) pair
/// and x1..x3 as addresses, everything else raw.
#[derive(Arbitrary, Debug, Clone)]
pub struct Call {
    /// x0.
    pub function: Function,
    /// When set, w1 holds `source << 16 | destination`.
    pub endpoints: Option<(Endpoint, Endpoint)>,
    /// When set, replaces x1, x2 and x3 in turn (a `None` leaves the raw value).
    pub addresses: [Option<Address>; 3],
    /// The raw registers underneath.
    pub regs: Regs,
}

impl Call {
    /// The registers, given the target's known endpoint IDs and memory windows.
    pub fn regs(&self, known_ids: &[u16], windows: &[(u64, u64)]) -> Regs {
        let mut regs = self.regs;
        regs[0] = self.function.x0();
        for (reg, address) in regs[1..4].iter_mut().zip(self.addresses) {
            if let Some(address) = address {
                *reg = address.value(windows);
            }
        }
        if let Some((src, dst)) = self.endpoints {
            let w1 = (u64::from(src.id(known_ids)) << 16) | u64::from(dst.id(known_ids));
            regs[1] = (regs[1] & !0xffff_ffff) | w1;
        }
        regs
    }
}

/// A byte-addressed memory window whose initial contents repeat a fuzzed seed; reads and writes
/// outside it fail. Pages are materialised only when written, so a large window costs nothing
/// per input.
#[derive(Debug, Clone)]
pub struct Window {
    base: u64,
    len: u64,
    seed: Vec<u8>,
    written: HashMap<u64, Box<[u8; PAGE]>>,
}

const PAGE: usize = 4096;

impl Window {
    /// A window of `len` bytes at `base`, filled from `seed` (repeated), zero if `seed` is empty.
    pub fn new(base: u64, len: u64, seed: &[u8]) -> Self {
        Self {
            base,
            len,
            seed: seed.to_vec(),
            written: HashMap::new(),
        }
    }

    /// (base, length) for [`Address::value`].
    pub fn span(&self) -> (u64, u64) {
        (self.base, self.len)
    }

    /// The offset of `[addr, addr + len)` in the window, if it lies inside.
    fn offset(&self, addr: u64, len: usize) -> Option<u64> {
        let start = addr.checked_sub(self.base)?;
        let end = start.checked_add(u64::try_from(len).ok()?)?;
        (end <= self.len).then_some(start)
    }

    fn initial(&self, offset: u64) -> u8 {
        if self.seed.is_empty() {
            0
        } else {
            self.seed[(offset % self.seed.len() as u64) as usize]
        }
    }

    /// Copies out; false if out of range.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        let Some(start) = self.offset(addr, buf.len()) else {
            return false;
        };
        for (i, byte) in buf.iter_mut().enumerate() {
            let offset = start + i as u64;
            *byte = match self.written.get(&(offset / PAGE as u64)) {
                Some(page) => page[(offset % PAGE as u64) as usize],
                None => self.initial(offset),
            };
        }
        true
    }

    /// Copies in; false if out of range.
    pub fn write(&mut self, addr: u64, data: &[u8]) -> bool {
        let Some(start) = self.offset(addr, data.len()) else {
            return false;
        };
        for (i, &byte) in data.iter().enumerate() {
            let offset = start + i as u64;
            let page_index = offset / PAGE as u64;
            if !self.written.contains_key(&page_index) {
                let mut page = Box::new([0u8; PAGE]);
                for (j, b) in page.iter_mut().enumerate() {
                    *b = self.initial(page_index * PAGE as u64 + j as u64);
                }
                self.written.insert(page_index, page);
            }
            if let Some(page) = self.written.get_mut(&page_index) {
                page[(offset % PAGE as u64) as usize] = byte;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_table_holds_both_widths() {
        let ids = ffa_function_ids();
        assert!(ids.contains(&0x8400_0063)); // FFA_VERSION
        assert!(ids.contains(&0xc400_008d)); // FFA_MSG_SEND_DIRECT_REQ2
        assert!(ids.iter().all(|&fid| ffa::call::is_ffa(fid)));
    }

    #[test]
    fn window_bounds() {
        let mut w = Window::new(0x1000, 16, &[1, 2]);
        let mut buf = [0u8; 4];
        assert!(w.read(0x1000, &mut buf));
        assert_eq!(buf, [1, 2, 1, 2]);
        assert!(!w.read(0x100d, &mut buf));
        assert!(!w.read(0xfff, &mut buf));
        assert!(!w.read(u64::MAX, &mut buf));
        assert!(w.write(0x100c, &[9; 4]));
        assert!(!w.write(0x100d, &[9; 4]));
        assert!(w.read(0x100a, &mut buf));
        assert_eq!(buf, [1, 2, 9, 9]);
        let big = Window::new(0, 1 << 40, &[]);
        assert!(big.read((1 << 40) - 4, &mut buf));
        assert_eq!(buf, [0; 4]);
    }
}
