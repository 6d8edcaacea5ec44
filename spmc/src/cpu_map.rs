//! The cores the SPMC serves and the index ([`CpuId`]) each one has: its stack and per-core
//! state in the arch layer, and the execution context of a multi-core partition it runs. They
//! come from the SPMC manifest's `cpus` node (Hafnium's binding: `cpu@N` children with
//! `device_type = "cpu"` and `reg` = the core's MPIDR affinity).
//!
//! As in Hafnium, the core cold boot runs on takes index 0 and the other listed cores take the
//! remaining indices from the highest down, in the order the manifest lists them; a manifest
//! that lists the boot core first and the others in reverse order so gets indices in natural
//! order.

use core::fmt;

use heapless::Vec;

use crate::spmc::CpuId;

/// Most cores the SPMC serves (stacks, per-core state, contexts of an MP partition).
pub const MAX_CPUS: usize = crate::partition::MAX_CPUS;

/// A core's MPIDR_EL1 affinity fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Affinity {
    /// Aff3.
    pub aff3: u8,
    /// Aff2.
    pub aff2: u8,
    /// Aff1.
    pub aff1: u8,
    /// Aff0.
    pub aff0: u8,
}

impl Affinity {
    /// Aff0 = `aff0`, the other fields 0.
    pub const fn aff0(aff0: u8) -> Self {
        Self {
            aff3: 0,
            aff2: 0,
            aff1: 0,
            aff0,
        }
    }

    /// The fields where MPIDR_EL1 has them (Aff3 at bit 32, Aff2 at 16, Aff1 at 8, Aff0 at 0):
    /// the form of a cpu node's `reg`.
    pub const fn to_mpidr(self) -> u64 {
        ((self.aff3 as u64) << 32)
            | ((self.aff2 as u64) << 16)
            | ((self.aff1 as u64) << 8)
            | self.aff0 as u64
    }

    /// The fields of `value` in MPIDR_EL1's layout; `None` if any other bit is set (MT, U and
    /// RES1 have no place in an affinity value).
    pub const fn from_mpidr(value: u64) -> Option<Self> {
        let affinity = Self {
            aff3: (value >> 32) as u8,
            aff2: (value >> 16) as u8,
            aff1: (value >> 8) as u8,
            aff0: value as u8,
        };
        if affinity.to_mpidr() == value {
            Some(affinity)
        } else {
            None
        }
    }
}

impl fmt::Display for Affinity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MPIDR {:#x}", self.to_mpidr())
    }
}

/// The cores a `cpus` node lists, in its order: distinct, at least one, at most [`MAX_CPUS`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuList(Vec<Affinity, MAX_CPUS>);

impl CpuList {
    /// The list, if it is one: not empty, no core twice, at most [`MAX_CPUS`].
    pub fn new(cores: &[Affinity]) -> Option<Self> {
        let mut list = Vec::new();
        for (i, core) in cores.iter().enumerate() {
            if cores[..i].contains(core) {
                return None;
            }
            list.push(*core).ok()?;
        }
        (!list.is_empty()).then_some(Self(list))
    }

    /// The cores, in the manifest's order.
    pub fn as_slice(&self) -> &[Affinity] {
        &self.0
    }
}

/// Today's four QEMU cores (Aff0 0..3) when the manifest has no `cpus` node, listed as the
/// binding would: the usual boot core first, then the others in reverse.
pub const DEFAULT_CPUS: [Affinity; 4] = [
    Affinity::aff0(0),
    Affinity::aff0(3),
    Affinity::aff0(2),
    Affinity::aff0(1),
];

/// Why no CPU map could be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuMapError {
    /// The core cold boot runs on is not listed.
    BootCpuNotListed(Affinity),
}

impl fmt::Display for CpuMapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BootCpuNotListed(core) => write!(
                f,
                "the boot core ({core}) is not in the SPMC manifest's cpus node"
            ),
        }
    }
}

/// Each served core by index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuMap {
    by_index: Vec<Affinity, MAX_CPUS>,
    default: bool,
}

impl CpuMap {
    /// The map of the cores `listed` (or [`DEFAULT_CPUS`] when the manifest has no `cpus`
    /// node), cold boot running on `boot`.
    pub fn new(listed: Option<&CpuList>, boot: Affinity) -> Result<Self, CpuMapError> {
        let cores = listed.map_or(&DEFAULT_CPUS[..], CpuList::as_slice);
        if !cores.contains(&boot) {
            return Err(CpuMapError::BootCpuNotListed(boot));
        }
        let mut slots = [boot; MAX_CPUS];
        // A CpuList holds at most MAX_CPUS distinct cores, boot among them: the others fill
        // indices count - 1 down to 1.
        let mut next = cores.len();
        for core in cores.iter().filter(|c| **c != boot) {
            next -= 1;
            if let Some(slot) = slots.get_mut(next) {
                *slot = *core;
            }
        }
        let mut by_index = Vec::new();
        for core in slots.iter().take(cores.len()) {
            let _ = by_index.push(*core);
        }
        Ok(Self {
            by_index,
            default: listed.is_none(),
        })
    }

    /// How many cores.
    pub fn len(&self) -> u16 {
        self.by_index.len() as u16
    }

    /// Never: a map holds the boot core at least.
    pub fn is_empty(&self) -> bool {
        self.by_index.is_empty()
    }

    /// Whether this is [`DEFAULT_CPUS`] (the manifest has no `cpus` node).
    pub fn is_default(&self) -> bool {
        self.default
    }

    /// The index of `core`; `None` for a core the map does not list.
    pub fn index_of(&self, core: Affinity) -> Option<CpuId> {
        let index = self.by_index.iter().position(|c| *c == core)?;
        Some(CpuId(index as u16))
    }

    /// The core at `cpu`.
    pub fn affinity(&self, cpu: CpuId) -> Option<Affinity> {
        self.by_index.get(usize::from(cpu.0)).copied()
    }

    /// Every core, by index.
    pub fn iter(&self) -> impl Iterator<Item = (CpuId, Affinity)> + '_ {
        self.by_index
            .iter()
            .enumerate()
            .map(|(i, c)| (CpuId(i as u16), *c))
    }
}
