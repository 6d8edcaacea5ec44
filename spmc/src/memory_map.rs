//! The platform's memory map, as the SPMC manifest describes it (Hafnium's binding: root
//! children with `device_type` "memory", "ns-memory", "device-memory" or "ns-device-memory"),
//! and the rule every partition is held to at boot: its package, memory regions and device
//! regions lie inside the map, in the kind of memory they claim, away from what the SPMC itself
//! uses and from every other partition.
//!
//! A partition that breaks the rule is refused ([`Refusal`]); the others boot.

use core::fmt;

use ffa::EndpointId;
use heapless::{String, Vec};

use crate::manifest::{MAX_PARTITIONS, PartitionConfig, Region, VmNode};

/// Most ranges of one kind the SPMC manifest may list.
pub const MAX_MEMORY_RANGES: usize = 8;

/// A non-empty half-open physical address range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    start: u64,
    end: u64,
}

impl Range {
    /// `[start, start + len)`; `None` if empty or past the end of the address space.
    pub const fn new(start: u64, len: u64) -> Option<Self> {
        match start.checked_add(len) {
            Some(end) if len > 0 => Some(Self { start, end }),
            _ => None,
        }
    }

    /// First address.
    pub const fn start(&self) -> u64 {
        self.start
    }

    /// One past the last address.
    pub const fn end(&self) -> u64 {
        self.end
    }

    /// Length in bytes.
    pub const fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Never: a range holds a byte at least.
    pub const fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether the two share a byte.
    pub const fn overlaps(&self, other: &Range) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether `other` lies entirely inside.
    pub const fn contains(&self, other: &Range) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:#x}, {:#x})", self.start, self.end)
    }
}

/// The kinds of memory the SPMC manifest describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    /// Normal secure memory (`"memory"`).
    Secure,
    /// Normal non-secure memory (`"ns-memory"`).
    NonSecure,
    /// Secure device memory (`"device-memory"`).
    Device,
    /// Non-secure device memory (`"ns-device-memory"`).
    NonSecureDevice,
}

impl MemoryKind {
    /// Every kind.
    pub const ALL: [Self; 4] = [
        Self::Secure,
        Self::NonSecure,
        Self::Device,
        Self::NonSecureDevice,
    ];

    /// The `device_type` string naming it.
    pub const fn device_type(self) -> &'static str {
        match self {
            Self::Secure => "memory",
            Self::NonSecure => "ns-memory",
            Self::Device => "device-memory",
            Self::NonSecureDevice => "ns-device-memory",
        }
    }

    /// The kind whose `device_type` is `name`.
    pub fn from_device_type(name: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.device_type().as_bytes() == name)
    }

    const fn slot(self) -> usize {
        match self {
            Self::Secure => 0,
            Self::NonSecure => 1,
            Self::Device => 2,
            Self::NonSecureDevice => 3,
        }
    }

    /// The kind a partition region claims.
    fn of_region(region: &Region, device: bool) -> Self {
        match (device, region.non_secure) {
            (false, false) => Self::Secure,
            (false, true) => Self::NonSecure,
            (true, false) => Self::Device,
            (true, true) => Self::NonSecureDevice,
        }
    }
}

/// The ranges of each kind the SPMC manifest lists, validated: page aligned, non-empty, no two
/// overlapping. A kind is absent (`None`) when no node of its `device_type` exists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManifestMemory {
    kinds: [Option<Vec<Range, MAX_MEMORY_RANGES>>; 4],
}

impl ManifestMemory {
    /// The ranges of `kind`, `None` when the manifest has no node of that type.
    pub fn ranges(&self, kind: MemoryKind) -> Option<&[Range]> {
        self.kinds[kind.slot()].as_deref()
    }

    /// Adds a range of `kind` (the parser checks alignment and overlaps first).
    pub(crate) fn push(&mut self, kind: MemoryKind, range: Range) -> Result<(), Range> {
        self.kinds[kind.slot()]
            .get_or_insert_with(Vec::new)
            .push(range)
    }

    /// Marks `kind` present even when its node's `reg` lists nothing more.
    pub(crate) fn declare(&mut self, kind: MemoryKind) {
        self.kinds[kind.slot()].get_or_insert_with(Vec::new);
    }

    /// Every range with its kind.
    pub fn iter(&self) -> impl Iterator<Item = (MemoryKind, Range)> + '_ {
        MemoryKind::ALL.into_iter().flat_map(move |kind| {
            self.ranges(kind)
                .unwrap_or_default()
                .iter()
                .map(move |r| (kind, *r))
        })
    }
}

/// Something the SPMC itself uses, which no partition may be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpmcResource {
    /// The SPMC's image window: code, data, stacks and page tables.
    Image,
    /// The page holding the SPMC manifest.
    Manifest,
    /// The secure console UART.
    Uart,
    /// The GIC distributor.
    GicDistributor,
    /// The GIC redistributors.
    GicRedistributors,
}

impl fmt::Display for SpmcResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Image => "the SPMC image",
            Self::Manifest => "the SPMC manifest",
            Self::Uart => "the secure UART",
            Self::GicDistributor => "the GIC distributor",
            Self::GicRedistributors => "the GIC redistributors",
        })
    }
}

/// What the platform (the arch layer) knows that the manifest does not.
#[derive(Clone, Copy, Debug)]
pub struct PlatformMemory<'a> {
    /// What the SPMC uses besides the manifest's image window.
    pub reserved: &'a [(SpmcResource, Range)],
    /// The non-secure memory to assume when the manifest has no `ns-memory` node.
    pub default_non_secure: Range,
}

/// The map partitions are checked against.
#[derive(Clone, Debug)]
pub struct MemoryMap<'a> {
    memory: ManifestMemory,
    default_non_secure: Option<Range>,
    image: Option<Range>,
    reserved: &'a [(SpmcResource, Range)],
}

/// Which of a partition's ranges a [`Violation`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Its package and memory: `[load_address, load_address + mem_size)`.
    Package,
    /// The n-th (from 0) entry of its `memory-regions`.
    MemoryRegion(usize),
    /// The n-th (from 0) entry of its `device-regions`.
    DeviceRegion(usize),
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Package => f.write_str("package"),
            Self::MemoryRegion(i) => write!(f, "memory region {i}"),
            Self::DeviceRegion(i) => write!(f, "device region {i}"),
        }
    }
}

/// Why a partition's memory breaks the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// No range of the kind it claims holds it whole.
    OutsideMap {
        /// Which range of the partition.
        claim: Claim,
        /// The range.
        range: Range,
        /// The kind of memory it claims.
        kind: MemoryKind,
    },
    /// It overlaps something the SPMC uses.
    Spmc {
        /// Which range of the partition.
        claim: Claim,
        /// The range.
        range: Range,
        /// What it overlaps.
        resource: SpmcResource,
    },
    /// It overlaps the package of `vmN` (its own, for a region).
    Package {
        /// Which range of the partition.
        claim: Claim,
        /// The range.
        range: Range,
        /// The `N` of the `vmN` node.
        vm: u16,
    },
    /// It overlaps a region of a partition hosted before it.
    Region {
        /// Which range of the partition.
        claim: Claim,
        /// The range.
        range: Range,
        /// The other partition.
        owner: EndpointId,
    },
    /// Its package or partition manifest could not be loaded (refused alone: the others
    /// boot).
    Unloadable(Unloadable),
    /// It declares an interrupt a partition hosted before it declared (not memory, but
    /// refused the same way, alone).
    InterruptTaken {
        /// The INTID.
        intid: u32,
        /// The partition that owns it.
        owner: EndpointId,
    },
}

/// Why a `vmN` node's package could not be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unloadable {
    /// The package header is unreadable or invalid.
    Package(crate::boot_info::PackageError),
    /// The partition manifest is larger than the loader reads.
    ManifestTooLarge(u32),
    /// The partition manifest could not be read.
    ManifestUnreadable,
    /// The partition manifest is invalid.
    Manifest(crate::manifest::ManifestError),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutsideMap { claim, range, kind } => write!(
                f,
                "{claim} {range} lies outside the manifest's \"{}\" ranges",
                kind.device_type()
            ),
            Self::Spmc {
                claim,
                range,
                resource,
            } => write!(f, "{claim} {range} overlaps {resource}"),
            Self::Package { claim, range, vm } => {
                write!(f, "{claim} {range} overlaps the package of vm{vm}")
            }
            Self::Region {
                claim,
                range,
                owner,
            } => write!(
                f,
                "{claim} {range} overlaps a region of partition {:#06x}",
                owner.0
            ),
            Self::Unloadable(Unloadable::Package(e)) => write!(f, "its package: {e:?}"),
            Self::Unloadable(Unloadable::ManifestTooLarge(size)) => {
                write!(f, "its partition manifest of {size:#x} bytes is too large")
            }
            Self::Unloadable(Unloadable::ManifestUnreadable) => {
                f.write_str("its partition manifest is unreadable")
            }
            Self::Unloadable(Unloadable::Manifest(e)) => write!(f, "its partition manifest: {e}"),
            Self::InterruptTaken { intid, owner } => write!(
                f,
                "interrupt {intid} is already partition {:#06x}'s",
                owner.0
            ),
        }
    }
}

/// The partition a [`Refusal`] is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Refused from its `vmN` node alone, before its package was read.
    Vm {
        /// The node's `N`.
        index: u16,
        /// Its `debug_name`.
        name: String<32>,
    },
    /// Refused after its manifest was read and its endpoint ID settled.
    Partition {
        /// Its endpoint ID.
        id: EndpointId,
        /// Its name.
        name: String<32>,
    },
}

/// A partition the SPMC does not host, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Which.
    pub partition: Refused,
    /// Why.
    pub why: Violation,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match &self.partition {
            Refused::Vm { index, name } => {
                write!(f, "vm{index}")?;
                name
            }
            Refused::Partition { id, name } => {
                write!(f, "partition {:#06x}", id.0)?;
                name
            }
        };
        write!(f, " refused: {} (\"{name}\")", self.why)
    }
}

/// Whether `range`, claimed as `claim`, is the SPMC's console UART `reserved` (`what`) whole,
/// as a device region: the one SPMC resource a partition may share.
fn shares_console(claim: Claim, what: SpmcResource, reserved: Range, range: Range) -> bool {
    matches!(claim, Claim::DeviceRegion(_)) && what == SpmcResource::Uart && reserved == range
}

/// The device regions of `config` that are the SPMC's console UART in `reserved`, shared
/// with it (for the boot log).
pub fn console_shares<'c>(
    config: &'c PartitionConfig,
    reserved: &'c [(SpmcResource, Range)],
) -> impl Iterator<Item = Range> + 'c {
    region_claims(config).filter_map(move |(claim, range, _)| {
        reserved
            .iter()
            .any(|(what, r)| shares_console(claim, *what, *r, range))
            .then_some(range)
    })
}

/// The ranges of `config` that its stage 2 maps or will map: memory regions with a fixed base
/// and device regions, with what they claim.
fn region_claims(
    config: &PartitionConfig,
) -> impl Iterator<Item = (Claim, Range, MemoryKind)> + '_ {
    let memory = config
        .memory_regions
        .iter()
        .enumerate()
        .map(|(i, r)| (Claim::MemoryRegion(i), r, false));
    let device = config
        .device_regions
        .iter()
        .enumerate()
        .map(|(i, r)| (Claim::DeviceRegion(i), r, true));
    memory.chain(device).filter_map(|(claim, region, device)| {
        // Parsing checked that a placed region does not wrap.
        let range = Range::new(region.base?, region.size())?;
        Some((claim, range, MemoryKind::of_region(region, device)))
    })
}

impl<'a> MemoryMap<'a> {
    /// The map of `memory` (the manifest's nodes) and `image` (its `/attribute` window), with
    /// what `platform` reserves.
    pub fn new(
        memory: &ManifestMemory,
        image: Option<Range>,
        platform: &PlatformMemory<'a>,
    ) -> Self {
        let default_non_secure = memory
            .ranges(MemoryKind::NonSecure)
            .is_none()
            .then_some(platform.default_non_secure);
        Self {
            memory: memory.clone(),
            default_non_secure,
            image,
            reserved: platform.reserved,
        }
    }

    /// The ranges of `kind` partitions may claim (for non-secure memory, the platform's
    /// default when the manifest has no `ns-memory` node).
    pub fn ranges(&self, kind: MemoryKind) -> &[Range] {
        match (kind, &self.default_non_secure) {
            (MemoryKind::NonSecure, Some(default)) => core::slice::from_ref(default),
            _ => self.memory.ranges(kind).unwrap_or_default(),
        }
    }

    /// Whether the non-secure ranges are the platform's default (no `ns-memory` node).
    pub fn non_secure_is_default(&self) -> bool {
        self.default_non_secure.is_some()
    }

    /// What no partition may overlap: the image window, then the platform's list.
    pub fn reserved(&self) -> impl Iterator<Item = (SpmcResource, Range)> + '_ {
        self.image
            .map(|r| (SpmcResource::Image, r))
            .into_iter()
            .chain(self.reserved.iter().copied())
    }

    /// Checks one range of a partition against the map and the SPMC's own resources.
    fn check(&self, claim: Claim, range: Range, kind: MemoryKind) -> Result<(), Violation> {
        if !self.ranges(kind).iter().any(|r| r.contains(&range)) {
            return Err(Violation::OutsideMap { claim, range, kind });
        }
        // Whatever its space: the manifest's map may be wrong, the SPMC's own list is not.
        // The one exception: a device region that is exactly the SPMC's console UART (OP-TEE's
        // console), shared; the SPMC only writes its transmit register.
        if let Some((resource, _)) = self
            .reserved()
            .filter(|(what, r)| !shares_console(claim, *what, *r, range))
            .find(|(_, r)| r.overlaps(&range))
        {
            return Err(Violation::Spmc {
                claim,
                range,
                resource,
            });
        }
        Ok(())
    }

    /// Splits `vms` into those whose package and memory lie in secure memory away from the
    /// SPMC (their packages may be read) and refusals for the others.
    pub fn admit_vms(
        &self,
        vms: &[VmNode],
    ) -> (Vec<VmNode, MAX_PARTITIONS>, Vec<Refusal, MAX_PARTITIONS>) {
        let mut admitted = Vec::new();
        let mut refused = Vec::new();
        for vm in vms {
            // The parser refuses a node whose memory is empty or wraps.
            let Some(range) = Range::new(vm.load_address, vm.mem_size) else {
                continue;
            };
            // At most MAX_PARTITIONS nodes: every push fits.
            match self.check(Claim::Package, range, MemoryKind::Secure) {
                Ok(()) => {
                    let _ = admitted.push(vm.clone());
                }
                Err(why) => {
                    let _ = refused.push(Refusal {
                        partition: Refused::Vm {
                            index: vm.index,
                            name: vm.debug_name.clone(),
                        },
                        why,
                    });
                }
            }
        }
        (admitted, refused)
    }

    /// Checks the regions of `config` (its package was checked by [`MemoryMap::admit_vms`]):
    /// each inside the map and away from the SPMC, from every package in `packages` (its own
    /// included: its stage 2 maps a page once) and from the regions of `hosted`.
    pub fn check_regions<'p>(
        &self,
        config: &PartitionConfig,
        packages: &[VmNode],
        hosted: impl Iterator<Item = (EndpointId, &'p PartitionConfig)> + Clone,
    ) -> Result<(), Violation> {
        for (claim, range, kind) in region_claims(config) {
            self.check(claim, range, kind)?;
            if let Some(vm) = packages.iter().find(|vm| {
                Range::new(vm.load_address, vm.mem_size).is_some_and(|p| p.overlaps(&range))
            }) {
                return Err(Violation::Package {
                    claim,
                    range,
                    vm: vm.index,
                });
            }
            for (owner, other) in hosted.clone() {
                if region_claims(other).any(|(_, r, _)| r.overlaps(&range)) {
                    return Err(Violation::Region {
                        claim,
                        range,
                        owner,
                    });
                }
            }
        }
        Ok(())
    }
}

/// QEMU virt as the SPMC uses it: the devices it keeps for itself and the normal-world RAM it
/// assumes without an `ns-memory` node. The arch layer adds its image and manifest page; the
/// host tests and the in-process stack use the same values.
pub mod qemu_virt {
    use super::{Range, SpmcResource};

    const fn range(start: u64, len: u64) -> Range {
        match Range::new(start, len) {
            Some(r) => r,
            None => panic!("empty range"),
        }
    }

    /// The secure UART (UART1): its register page.
    pub const UART: Range = range(0x0904_0000, 0x1000);
    /// The GICv3 distributor.
    pub const GICD_BASE: u64 = 0x0800_0000;
    /// The first redistributor (each one an RD and an SGI frame, 0x20000 bytes, in core
    /// order).
    pub const GICR_BASE: u64 = 0x080a_0000;
    /// Bytes between two redistributors.
    pub const GICR_STRIDE: u64 = 0x2_0000;
    /// The devices the SPMC keeps: its UART, the GICv3 distributor (`VIRT_GIC_DIST`) and the
    /// redistributor region (`VIRT_GIC_REDIST`, room for 123 cores).
    pub const DEVICES: [(SpmcResource, Range); 3] = [
        (SpmcResource::Uart, UART),
        (SpmcResource::GicDistributor, range(GICD_BASE, 0x1_0000)),
        (
            SpmcResource::GicRedistributors,
            range(0x080a_0000, 0xf6_0000),
        ),
    ];
    /// Normal-world RAM without an `ns-memory` node: RAM at 1 GiB, `-m` up to 1 GiB.
    pub const DEFAULT_NS_RAM: Range = range(0x4000_0000, 0x4000_0000);
    /// The page BL2 loads the SPMC manifest (TOS_FW_CONFIG) to on QEMU.
    pub const MANIFEST_PAGE: Range = range(0x0e00_2000, 0x1000);
    /// What the SPMC image reserves besides its image window when its manifest is at
    /// [`MANIFEST_PAGE`] (the arch layer builds the same from the address it was given).
    pub const RESERVED: [(SpmcResource, Range); 4] = {
        let [uart, gicd, gicr] = DEVICES;
        [(SpmcResource::Manifest, MANIFEST_PAGE), uart, gicd, gicr]
    };
}
