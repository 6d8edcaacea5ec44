//! FF-A partition manifests and the SPMC manifest, parsed into typed configuration.
//!
//! Manifests come from the boot chain (TOS_FW_CONFIG and the SP packages), but a partition
//! package may have been built by anyone: every value is range-checked before it becomes a
//! typed field, and no input makes the parsers panic.

use core::fmt;

use dtoolkit::fdt::{Fdt, FdtNode};
use dtoolkit::{Node, Property};
use ffa::{EndpointId, Uuid, UuidHelper, Version};
use heapless::{String, Vec};

use crate::cpu_map::{Affinity, CpuList, MAX_CPUS};
use crate::interrupts::declared::{BadInterrupt, DeclaredInterrupt, MAX_INTERRUPTS};
use crate::memory_map::{
    MAX_MEMORY_RANGES, ManifestMemory, MemoryKind, MemoryMap, Range, Refusal, Refused, Violation,
};

/// Most partitions one SPMC hosts (TF-A loads at most 8 SP packages).
pub const MAX_PARTITIONS: usize = 8;
/// Most UUIDs one partition may declare.
pub const MAX_UUIDS: usize = 4;
/// Most memory (or device) regions one partition may declare.
pub const MAX_REGIONS: usize = 16;

/// The unit of `pages-count` (we support the 4 KiB translation granule only).
const PAGE_SIZE: u64 = 4096;

/// The exception level a partition runs at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionLevel {
    /// S-EL1.
    SEl1,
    /// S-EL0.
    SEl0,
}

impl ExceptionLevel {
    /// The FF-A manifest binding's `exception-level` value (0 is a normal-world EL1 VM, which
    /// an SPMC does not host).
    const fn from_binding(value: u64) -> Option<Self> {
        match value {
            1 => Some(Self::SEl0),
            2 => Some(Self::SEl1),
            _ => None,
        }
    }
}

/// The manifest's `messaging-method` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MessagingMethod(pub u32);

impl MessagingMethod {
    /// Receives DIRECT_REQ.
    pub const DIRECT_REQ_RECV: u32 = 1 << 0;
    /// Sends DIRECT_REQ.
    pub const DIRECT_REQ_SEND: u32 = 1 << 1;
    /// Indirect messaging (MSG_SEND2).
    pub const INDIRECT: u32 = 1 << 2;
    /// Receives DIRECT_REQ2.
    pub const DIRECT_REQ2_RECV: u32 = 1 << 9;
    /// Sends DIRECT_REQ2.
    pub const DIRECT_REQ2_SEND: u32 = 1 << 10;
    /// Every bit the binding defines; others are rejected, since PARTITION_INFO_GET reports
    /// these bits as partition properties.
    pub const ALL: u32 = Self::DIRECT_REQ_RECV
        | Self::DIRECT_REQ_SEND
        | Self::INDIRECT
        | Self::DIRECT_REQ2_RECV
        | Self::DIRECT_REQ2_SEND;

    /// Whether every bit of `bits` is set.
    pub const fn has(self, bits: u32) -> bool {
        self.0 & bits == bits
    }
}

/// A memory or device region from a partition manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// The region's `description` (its node name when absent), truncated.
    pub name: String<32>,
    /// Base address (IPA == PA for our partitions): `base-address`, or `load-address` plus
    /// `load-address-relative-offset`. `None` when the manifest leaves the placement to the
    /// SPMC (neither property given; memory regions only).
    pub base: Option<u64>,
    /// Size in 4 KiB pages.
    pub pages: u32,
    /// The manifest's `attributes` read/write/execute bits ([`Region::READ`] ...).
    pub attributes: u32,
    /// Whether the region is in the non-secure address space (`nonsecure` attribute bit).
    pub non_secure: bool,
}

impl Region {
    /// `attributes` bit: readable.
    pub const READ: u32 = 1 << 0;
    /// `attributes` bit: writable.
    pub const WRITE: u32 = 1 << 1;
    /// `attributes` bit: executable.
    pub const EXECUTE: u32 = 1 << 2;
    /// `attributes` bit: the region is non-secure memory.
    pub const NON_SECURE: u32 = 1 << 3;

    /// The region's size in bytes.
    pub const fn size(&self) -> u64 {
        self.pages as u64 * PAGE_SIZE
    }
}

/// One partition, as its FF-A manifest describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionConfig {
    /// The manifest's `description`, truncated.
    pub name: String<32>,
    /// The manifest's `id`, if any. Honoured when it is a secure-world ID; partitions without
    /// one get a free ID at boot.
    pub id: Option<EndpointId>,
    /// A manifest `id` that is not a secure-world ID (OP-TEE/build's `id = <1>`): Hafnium
    /// ignores it and gives the partition `0x8000 + N` of its `vmN` node, and so do we
    /// ([`PartitionConfig::apply_vm_node`]); kept to say so in the boot log.
    pub replaced_id: Option<EndpointId>,
    /// One or more UUIDs; the first is the partition's primary UUID.
    pub uuids: Vec<Uuid, MAX_UUIDS>,
    /// The FF-A version the partition was built for (`ffa-version`).
    pub ffa_version: Version,
    /// `exception-level`.
    pub exception_level: ExceptionLevel,
    /// `execution-ctx-count`: 1 for a UP partition, the CPU count for an MP one.
    pub execution_ctx_count: u16,
    /// `messaging-method`.
    pub messaging: MessagingMethod,
    /// `boot-order`, lower first; partitions without one boot after those with one.
    pub boot_order: Option<u16>,
    /// `load-address`; 0 when the manifest has none (the SPMC manifest's `vmN/load_address`
    /// then decides, see [`PartitionConfig::apply_vm_node`]).
    pub load_address: u64,
    /// `entrypoint-offset`.
    pub entrypoint_offset: u64,
    /// Bytes of secure memory the partition owns from `load_address` (its package, image and
    /// the memory its image uses): the SPMC manifest's `vmN/mem_size`.
    pub memory_size: u64,
    /// `gp-register-num`: which register carries the boot-info blob, if any.
    pub gp_register_num: Option<u8>,
    /// `memory-regions`.
    pub memory_regions: Vec<Region, MAX_REGIONS>,
    /// `device-regions`.
    pub device_regions: Vec<Region, MAX_REGIONS>,
    /// The interrupts the device regions declare (`interrupts`), in manifest order; each
    /// INTID once.
    pub interrupts: Vec<DeclaredInterrupt, MAX_INTERRUPTS>,
    /// What a non-secure interrupt does while the partition runs (`ns-interrupts-action`,
    /// or FF-A v1.0's `managed-exit` flag).
    pub ns_interrupts: NsInterruptsAction,
    /// `notification-support`: the partition receives FF-A notifications (it gets a
    /// notification bitmap at boot).
    pub notification_support: bool,
}

/// What a non-secure interrupt does to a partition it interrupts (FF-A v1.2 §9.3, the
/// manifest's `ns-interrupts-action`; Signaled when absent, as in Hafnium).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NsInterruptsAction {
    /// 0: the interrupt waits until the partition gives the CPU back.
    Queued,
    /// 1: the partition is told (managed exit: Hafnium's virtual INTID 4, as a vFIQ, or a
    /// vIRQ with the `managed-exit-virq` flag) and gives the CPU back by answering its
    /// request; the interrupt waits until then.
    ManagedExit {
        /// Signalled as a vIRQ (`managed-exit-virq`) rather than a vFIQ.
        virq: bool,
    },
    /// 2: the partition is preempted; the normal world gets FFA_INTERRUPT.
    #[default]
    Signaled,
}

/// The SPMC's own manifest attributes (TOS_FW_CONFIG `/attribute`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpmcAttributes {
    /// `spmc_id`.
    pub spmc_id: EndpointId,
    /// `maj_ver`.`min_ver`.
    pub version: Version,
}

/// A partition with its endpoint ID settled (manifest ID or assigned at boot).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Its endpoint ID.
    pub id: EndpointId,
    /// Its manifest.
    pub config: PartitionConfig,
}

/// Everything the SPMC core needs to know at boot, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpmcConfig {
    /// The SPMC's attributes.
    pub attributes: SpmcAttributes,
    /// The partitions, sorted by boot order (then by ID).
    pub partitions: Vec<Partition, MAX_PARTITIONS>,
    /// Partitions left out because their memory breaks the memory map
    /// ([`SpmcConfig::enforce_memory_map`], [`MemoryMap::admit_vms`]).
    pub refused: Vec<Refusal, MAX_PARTITIONS>,
}

/// The SPMC manifest (TOS_FW_CONFIG), parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpmcManifest {
    /// `/attribute`.
    pub attributes: SpmcAttributes,
    /// `/attribute` `load_address` and `binary_size`: the SPMC's image window (its code,
    /// data, stacks and page tables), when both are given.
    pub image: Option<Range>,
    /// The `/hypervisor/vmN` nodes, sorted by `N`.
    pub vms: Vec<VmNode, MAX_PARTITIONS>,
    /// The memory nodes (`device_type` "memory", "ns-memory", "device-memory",
    /// "ns-device-memory").
    pub memory: ManifestMemory,
    /// The cores `/cpus` lists; `None` without a `/cpus` node.
    pub cpus: Option<CpuList>,
}

/// One `/hypervisor/vmN` node of the SPMC manifest (Hafnium's format): where BL2 put a
/// partition's package and how much memory the partition owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmNode {
    /// The `N` of `vmN`.
    pub index: u16,
    /// `debug_name`, truncated.
    pub debug_name: String<32>,
    /// `load_address`: where the partition's package is.
    pub load_address: u64,
    /// `vcpu_count`. Informational: the partition manifest's `execution-ctx-count` decides,
    /// as in Hafnium.
    pub vcpu_count: u16,
    /// `mem_size`: bytes from `load_address` the partition owns.
    pub mem_size: u64,
}

/// The manifest node a [`ManifestError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestNode {
    /// The root node.
    Root,
    /// The SPMC manifest's `/attribute`.
    Attribute,
    /// The SPMC manifest's `/hypervisor`.
    Hypervisor,
    /// `/hypervisor/vmN`.
    Vm(u16),
    /// The `memory-regions` container.
    MemoryRegions,
    /// The `device-regions` container.
    DeviceRegions,
    /// The n-th (from 0) child of `memory-regions`.
    MemoryRegion(usize),
    /// The n-th (from 0) child of `device-regions`.
    DeviceRegion(usize),
    /// The SPMC manifest's memory nodes of one `device_type`.
    Memory(MemoryKind),
    /// The SPMC manifest's `/cpus`.
    Cpus,
    /// The n-th (from 0) child of `/cpus`.
    Cpu(usize),
}

impl fmt::Display for ManifestNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root => f.write_str("/"),
            Self::Attribute => f.write_str("/attribute"),
            Self::Hypervisor => f.write_str("/hypervisor"),
            Self::Vm(n) => write!(f, "/hypervisor/vm{n}"),
            Self::MemoryRegions => f.write_str("/memory-regions"),
            Self::DeviceRegions => f.write_str("/device-regions"),
            Self::MemoryRegion(i) => write!(f, "/memory-regions, region {i}"),
            Self::DeviceRegion(i) => write!(f, "/device-regions, region {i}"),
            Self::Memory(kind) => write!(f, "memory node (device_type \"{}\")", kind.device_type()),
            Self::Cpus => f.write_str("/cpus"),
            Self::Cpu(i) => write!(f, "/cpus, child {i}"),
        }
    }
}

/// Why a manifest was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestError {
    /// Not a well-formed flattened device tree.
    InvalidDtb,
    /// The node lacks the `compatible` string its binding requires.
    NotCompatible {
        /// The node.
        node: ManifestNode,
        /// The string it must list.
        expected: &'static str,
    },
    /// A mandatory node is absent.
    MissingNode(ManifestNode),
    /// A mandatory property is absent.
    Missing {
        /// Where.
        node: ManifestNode,
        /// The property.
        property: &'static str,
    },
    /// A property has the wrong size or encoding (integers are 1 or 2 cells, strings are
    /// NUL-terminated UTF-8, flags are empty).
    Malformed {
        /// Where.
        node: ManifestNode,
        /// The property.
        property: &'static str,
    },
    /// A property's value is outside what the binding (or this SPMC) allows.
    OutOfRange {
        /// Where.
        node: ManifestNode,
        /// The property.
        property: &'static str,
        /// The value found (the first 8 bytes for lists).
        value: u64,
    },
    /// Two properties that exclude each other are both present.
    Conflict {
        /// Where.
        node: ManifestNode,
        /// One property.
        property: &'static str,
        /// The other.
        other: &'static str,
    },
    /// More entries than the SPMC's bounded tables hold.
    TooMany {
        /// Where.
        node: ManifestNode,
        /// What there are too many of.
        what: &'static str,
        /// The most accepted.
        max: usize,
    },
    /// Two address ranges overlap (regions of one partition, two `vmN` nodes, or two memory
    /// ranges of the SPMC manifest).
    Overlap {
        /// One.
        first: ManifestNode,
        /// The other.
        second: ManifestNode,
    },
    /// A value that must be unique appears twice (a core in `/cpus`).
    Duplicate {
        /// Where.
        node: ManifestNode,
        /// The property.
        property: &'static str,
        /// The value.
        value: u64,
    },
}

impl ManifestError {
    /// The property the error names, if it names one.
    pub const fn property(&self) -> Option<&'static str> {
        match self {
            Self::Missing { property, .. }
            | Self::Malformed { property, .. }
            | Self::OutOfRange { property, .. }
            | Self::Conflict { property, .. }
            | Self::Duplicate { property, .. } => Some(property),
            _ => None,
        }
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidDtb => f.write_str("not a valid device tree blob"),
            Self::NotCompatible { node, expected } => {
                write!(f, "{node}: compatible must list \"{expected}\"")
            }
            Self::MissingNode(node) => write!(f, "{node}: node missing"),
            Self::Missing { node, property } => {
                write!(f, "{node}: mandatory property `{property}` missing")
            }
            Self::Malformed { node, property } => {
                write!(
                    f,
                    "{node}: property `{property}` has the wrong size or encoding"
                )
            }
            Self::OutOfRange {
                node,
                property,
                value,
            } => write!(f, "{node}: `{property}` = {value:#x} is not allowed"),
            Self::Conflict {
                node,
                property,
                other,
            } => write!(f, "{node}: `{property}` and `{other}` exclude each other"),
            Self::TooMany { node, what, max } => {
                write!(f, "{node}: more than {max} {what}")
            }
            Self::Overlap { first, second } => {
                write!(f, "{first} and {second} overlap")
            }
            Self::Duplicate {
                node,
                property,
                value,
            } => write!(f, "{node}: `{property}` value {value:#x} appears twice"),
        }
    }
}

impl core::error::Error for ManifestError {}

/// A partition named in a [`ConfigError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionRef {
    /// Its name (`description`).
    pub name: String<32>,
    /// Its load address, which tells unnamed partitions apart.
    pub load_address: u64,
}

impl PartitionRef {
    fn of(config: &PartitionConfig) -> Self {
        Self {
            name: config.name.clone(),
            load_address: config.load_address,
        }
    }
}

impl fmt::Display for PartitionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "partition \"{}\" at {:#x}", self.name, self.load_address)
    }
}

/// Why a set of partitions cannot be hosted together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// More partitions than [`MAX_PARTITIONS`].
    TooManyPartitions {
        /// The most accepted.
        max: usize,
    },
    /// The SPMC's own ID is not a secure ID, or is the SPMD's.
    InvalidSpmcId(EndpointId),
    /// A manifest ID is not a secure-world ID (bit 15 clear).
    NotSecure {
        /// The partition.
        partition: PartitionRef,
        /// Its ID.
        id: EndpointId,
    },
    /// A manifest ID is the SPMC's or the SPMD's.
    ReservedId {
        /// The partition.
        partition: PartitionRef,
        /// Its ID.
        id: EndpointId,
    },
    /// Two partitions claim the same ID.
    DuplicateId {
        /// The ID.
        id: EndpointId,
        /// The partition that claimed it first.
        first: PartitionRef,
        /// The partition that claimed it again.
        second: PartitionRef,
    },
    /// No secure ID above the SPMC's is left for a partition without one.
    NoFreeId {
        /// The partition.
        partition: PartitionRef,
    },
    /// Two partitions' memory (`load_address` + `memory_size`) overlaps.
    MemoryOverlap {
        /// One.
        first: PartitionRef,
        /// The other.
        second: PartitionRef,
    },
    /// No `vmN` node has the partition's load address.
    NoVmNode {
        /// The partition.
        partition: PartitionRef,
    },
    /// A `vmN` node names a load address no partition has.
    NoPartitionForVm {
        /// The node's `N`.
        index: u16,
        /// Its `load_address`.
        load_address: u64,
    },
    /// The partition manifest's `load-address` differs from its `vmN/load_address`.
    LoadAddressMismatch {
        /// The partition.
        partition: PartitionRef,
        /// The `vmN` node's load address.
        vm_load_address: u64,
    },
    /// The entry point (`entrypoint-offset`) lies outside the partition's memory.
    EntrypointOutsideMemory {
        /// The partition.
        partition: PartitionRef,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyPartitions { max } => {
                write!(f, "more than {max} partitions")
            }
            Self::InvalidSpmcId(id) => write!(f, "SPMC ID {:#06x} is not a usable secure ID", id.0),
            Self::NotSecure { partition, id } => write!(
                f,
                "{partition}: ID {:#06x} is not a secure-world ID (bit 15 clear)",
                id.0
            ),
            Self::ReservedId { partition, id } => write!(
                f,
                "{partition}: ID {:#06x} is reserved for the SPMC or the SPMD",
                id.0
            ),
            Self::DuplicateId { id, first, second } => write!(
                f,
                "{first} and {second} both claim endpoint ID {:#06x}",
                id.0
            ),
            Self::NoFreeId { partition } => write!(f, "{partition}: no free endpoint ID left"),
            Self::MemoryOverlap { first, second } => {
                write!(f, "memory of {first} overlaps memory of {second}")
            }
            Self::NoVmNode { partition } => write!(
                f,
                "{partition}: no vmN node of the SPMC manifest has this load address"
            ),
            Self::NoPartitionForVm {
                index,
                load_address,
            } => write!(
                f,
                "vm{index} (load address {load_address:#x}) matches no partition"
            ),
            Self::LoadAddressMismatch {
                partition,
                vm_load_address,
            } => write!(
                f,
                "{partition}: its vmN node says load address {vm_load_address:#x}"
            ),
            Self::EntrypointOutsideMemory { partition } => {
                write!(f, "{partition}: entry point outside the partition's memory")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

/// Parses an FF-A partition manifest (`arm,ffa-manifest-1.0`).
///
/// `dtb` may be longer than the blob (e.g. the rest of a page): the header's `totalsize`
/// decides. `memory_size` is 0 here; it comes from the SPMC manifest
/// ([`PartitionConfig::apply_vm_node`]).
pub fn parse_partition(dtb: &[u8]) -> Result<PartitionConfig, ManifestError> {
    let fdt = open(dtb)?;
    let root = Props::new(fdt.root(), ManifestNode::Root);
    root.require_compatible("arm,ffa-manifest-1.0")?;

    let uuids = root.uuids()?;
    let ffa_version = root.ffa_version()?;
    let exception_level = {
        let value = root.require_int("exception-level")?;
        ExceptionLevel::from_binding(value).ok_or(root.out_of_range("exception-level", value))?
    };
    let execution_ctx_count = root.require_ranged("execution-ctx-count", 1, u16::MAX.into())?;
    let execution_ctx_count = u16::try_from(execution_ctx_count)
        .map_err(|_| root.out_of_range("execution-ctx-count", execution_ctx_count))?;
    if exception_level == ExceptionLevel::SEl0 && execution_ctx_count != 1 {
        // An S-EL0 partition has one context, run on whichever core needs it.
        return Err(root.out_of_range("execution-ctx-count", execution_ctx_count.into()));
    }
    let messaging = root.messaging_method(ffa_version)?;

    // Only AArch64 and the 4 KiB granule are supported.
    root.expect_if_present("execution-state", 0)?;
    root.expect_if_present("xlat-granule", 0)?;

    let id = root
        .ranged("id", 0, u16::MAX.into())?
        .map(|id| EndpointId(id as u16));
    let boot_order = root
        .ranged("boot-order", 0, u16::MAX.into())?
        .map(|order| order as u16);
    let gp_register_num = root.ranged("gp-register-num", 0, 3)?.map(|reg| reg as u8);
    let load_address = root.int("load-address")?.unwrap_or(0);
    if !load_address.is_multiple_of(PAGE_SIZE) {
        return Err(root.out_of_range("load-address", load_address));
    }
    let entrypoint_offset = root.int("entrypoint-offset")?.unwrap_or(0);

    let memory_regions = RegionKind::Memory.parse_all(&fdt, load_address)?;
    let device_regions = RegionKind::Device.parse_all(&fdt, load_address)?;
    check_regions_disjoint(&memory_regions, &device_regions)?;
    let interrupts = parse_interrupts(&fdt)?;
    let managed_exit = NsInterruptsAction::ManagedExit {
        virq: root.flag("managed-exit-virq")?,
    };
    let ns_interrupts = match root.ranged("ns-interrupts-action", 0, 2)? {
        // FF-A v1.0's flag wins, as in Hafnium.
        _ if root.flag("managed-exit")? => managed_exit,
        Some(0) => NsInterruptsAction::Queued,
        Some(1) => managed_exit,
        _ => NsInterruptsAction::Signaled,
    };

    Ok(PartitionConfig {
        name: root
            .string("description")?
            .map(truncate)
            .unwrap_or_default(),
        id,
        replaced_id: None,
        uuids,
        ffa_version,
        exception_level,
        execution_ctx_count,
        messaging,
        boot_order,
        load_address,
        entrypoint_offset,
        memory_size: 0,
        gp_register_num,
        memory_regions,
        device_regions,
        interrupts,
        ns_interrupts,
        notification_support: root.flag("notification-support")?,
    })
}

/// Each device region's `interrupts`: (INTID, attributes) pairs, decoded and validated
/// ([`DeclaredInterrupt::from_manifest`]); an INTID declared twice is refused.
/// `interrupts-target` is not read: interrupts go to the boot CPU until reconfigured.
fn parse_interrupts(
    fdt: &Fdt<'_>,
) -> Result<Vec<DeclaredInterrupt, MAX_INTERRUPTS>, ManifestError> {
    let mut declared: Vec<DeclaredInterrupt, MAX_INTERRUPTS> = Vec::new();
    let Some(container) = fdt.find_node("/device-regions") else {
        return Ok(declared);
    };
    for (index, child) in container.children().enumerate() {
        let props = Props::new(child, ManifestNode::DeviceRegion(index));
        let Some(bytes) = props.bytes("interrupts") else {
            continue;
        };
        if !bytes.len().is_multiple_of(8) {
            return Err(props.malformed("interrupts"));
        }
        for pair in bytes.chunks_exact(8) {
            let cell = |at: usize| {
                pair.get(at..at + 4)
                    .and_then(|c| <[u8; 4]>::try_from(c).ok())
                    .map(u32::from_be_bytes)
                    .ok_or(props.malformed("interrupts"))
            };
            let (intid, attributes) = (cell(0)?, cell(4)?);
            let interrupt = DeclaredInterrupt::from_manifest(intid, attributes).map_err(|e| {
                let value = match e {
                    BadInterrupt::IntId(v) | BadInterrupt::Attributes(v) => v,
                };
                props.out_of_range("interrupts", value.into())
            })?;
            if declared.iter().any(|d| d.intid == interrupt.intid) {
                return Err(ManifestError::Duplicate {
                    node: props.at,
                    property: "interrupts",
                    value: intid.into(),
                });
            }
            declared
                .push(interrupt)
                .map_err(|_| ManifestError::TooMany {
                    node: ManifestNode::DeviceRegions,
                    what: "interrupts",
                    max: MAX_INTERRUPTS,
                })?;
        }
    }
    Ok(declared)
}

/// Parses the SPMC manifest (TOS_FW_CONFIG, `arm,ffa-core-manifest-1.0`, Hafnium's format):
/// the SPMC's attributes and image window, the `/hypervisor/vmN` nodes sorted by `N`, the
/// memory nodes and the `/cpus` node.
///
/// A manifest without `/hypervisor` has no partitions. Every `vmN` node must be an FF-A
/// partition (`is_ffa_partition`): this SPMC loads nothing else.
pub fn parse_spmc_manifest(dtb: &[u8]) -> Result<SpmcManifest, ManifestError> {
    let fdt = open(dtb)?;
    let root = Props::new(fdt.root(), ManifestNode::Root);
    root.require_compatible("arm,ffa-core-manifest-1.0")?;

    let attribute = fdt
        .find_node("/attribute")
        .ok_or(ManifestError::MissingNode(ManifestNode::Attribute))?;
    let attribute = Props::new(attribute, ManifestNode::Attribute);
    let attributes = parse_attributes(&attribute)?;
    let image = parse_image(&attribute)?;

    let mut vms: Vec<VmNode, MAX_PARTITIONS> = Vec::new();
    if let Some(hypervisor) = fdt.find_node("/hypervisor") {
        let props = Props::new(hypervisor, ManifestNode::Hypervisor);
        props.require_compatible("hafnium,hafnium")?;
        for child in hypervisor.children() {
            let Some(index) = vm_index(child.name()) else {
                continue;
            };
            let vm = parse_vm(&Props::new(child, ManifestNode::Vm(index)), index)?;
            if let Some(other) = vms.iter().find(|other| other.index == index) {
                // "vm1" and "vm01" are distinct node names but the same VM.
                return Err(ManifestError::Overlap {
                    first: ManifestNode::Vm(other.index),
                    second: ManifestNode::Vm(index),
                });
            }
            if let Some(other) = vms
                .iter()
                .find(|other| ranges_overlap(other.range(), vm.range()))
            {
                return Err(ManifestError::Overlap {
                    first: ManifestNode::Vm(other.index),
                    second: ManifestNode::Vm(index),
                });
            }
            vms.push(vm).map_err(|_| ManifestError::TooMany {
                node: ManifestNode::Hypervisor,
                what: "vmN nodes",
                max: MAX_PARTITIONS,
            })?;
        }
    }
    vms.sort_unstable_by_key(|vm| vm.index);
    Ok(SpmcManifest {
        attributes,
        image,
        vms,
        memory: parse_memory(&fdt, &root)?,
        cpus: parse_cpus(&fdt)?,
    })
}

/// `load_address` and `binary_size`: both or neither (the SPMD treats them as optional).
fn parse_image(props: &Props<'_>) -> Result<Option<Range>, ManifestError> {
    match (props.int("load_address")?, props.int("binary_size")?) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(props.missing("binary_size")),
        (None, Some(_)) => Err(props.missing("load_address")),
        (Some(base), Some(size)) => Range::new(base, size)
            .map(Some)
            .ok_or(props.out_of_range("binary_size", size)),
    }
}

/// `#address-cells` or `#size-cells` of a node: 1 or 2 (a 64-bit value at most), `default`
/// when absent.
fn cell_count(
    props: &Props<'_>,
    property: &'static str,
    default: u64,
) -> Result<usize, ManifestError> {
    Ok(props.ranged(property, 1, 2)?.unwrap_or(default) as usize)
}

/// A big-endian number of one or two cells.
fn read_cells(bytes: &[u8]) -> Option<u64> {
    if let Ok(cell) = <[u8; 4]>::try_from(bytes) {
        Some(u32::from_be_bytes(cell).into())
    } else {
        <[u8; 8]>::try_from(bytes).ok().map(u64::from_be_bytes)
    }
}

/// The memory nodes: root children whose `device_type` names a [`MemoryKind`], each `reg` a
/// list of (address, size) pairs in the root's `#address-cells` and `#size-cells` (2 and 1
/// when absent, the devicetree defaults). Ranges must be page aligned and disjoint.
fn parse_memory(fdt: &Fdt<'_>, root: &Props<'_>) -> Result<ManifestMemory, ManifestError> {
    let address_bytes = cell_count(root, "#address-cells", 2)? * 4;
    let entry = address_bytes + cell_count(root, "#size-cells", 1)? * 4;
    let mut memory = ManifestMemory::default();
    for child in fdt.root().children() {
        let kind = Props::new(child, ManifestNode::Root)
            .bytes("device_type")
            .and_then(|name| name.strip_suffix(&[0]))
            .and_then(MemoryKind::from_device_type);
        let Some(kind) = kind else { continue };
        let props = Props::new(child, ManifestNode::Memory(kind));
        let reg = props.bytes("reg").ok_or(props.missing("reg"))?;
        if reg.is_empty() || !reg.len().is_multiple_of(entry) {
            return Err(props.malformed("reg"));
        }
        memory.declare(kind);
        for pair in reg.chunks_exact(entry) {
            let (base, size) = pair.split_at(address_bytes);
            let base = read_cells(base).ok_or(props.malformed("reg"))?;
            let size = read_cells(size).ok_or(props.malformed("reg"))?;
            if !base.is_multiple_of(PAGE_SIZE) {
                return Err(props.out_of_range("reg", base));
            }
            let range = Range::new(base, size)
                .filter(|_| size.is_multiple_of(PAGE_SIZE))
                .ok_or(props.out_of_range("reg", size))?;
            if let Some((other, _)) = memory.iter().find(|(_, r)| r.overlaps(&range)) {
                return Err(ManifestError::Overlap {
                    first: ManifestNode::Memory(other),
                    second: ManifestNode::Memory(kind),
                });
            }
            memory
                .push(kind, range)
                .map_err(|_| ManifestError::TooMany {
                    node: ManifestNode::Memory(kind),
                    what: "ranges",
                    max: MAX_MEMORY_RANGES,
                })?;
        }
    }
    Ok(memory)
}

/// `/cpus`: the children with `device_type = "cpu"`, each `reg` one or more MPIDR affinity
/// values in the node's `#address-cells` (2 when absent). Other children are skipped.
fn parse_cpus(fdt: &Fdt<'_>) -> Result<Option<CpuList>, ManifestError> {
    let Some(node) = fdt.find_node("/cpus") else {
        return Ok(None);
    };
    let value_bytes = cell_count(&Props::new(node, ManifestNode::Cpus), "#address-cells", 2)? * 4;
    let mut cores: Vec<Affinity, MAX_CPUS> = Vec::new();
    for (i, child) in node.children().enumerate() {
        let props = Props::new(child, ManifestNode::Cpu(i));
        if props.bytes("device_type") != Some(b"cpu\0") {
            continue;
        }
        let reg = props.bytes("reg").ok_or(props.missing("reg"))?;
        if reg.is_empty() || !reg.len().is_multiple_of(value_bytes) {
            return Err(props.malformed("reg"));
        }
        for value in reg.chunks_exact(value_bytes) {
            let value = read_cells(value).ok_or(props.malformed("reg"))?;
            let core = Affinity::from_mpidr(value).ok_or(props.out_of_range("reg", value))?;
            if cores.contains(&core) {
                return Err(ManifestError::Duplicate {
                    node: ManifestNode::Cpu(i),
                    property: "reg",
                    value,
                });
            }
            cores.push(core).map_err(|_| ManifestError::TooMany {
                node: ManifestNode::Cpus,
                what: "CPUs",
                max: MAX_CPUS,
            })?;
        }
    }
    CpuList::new(&cores)
        .map(Some)
        .ok_or(ManifestError::MissingNode(ManifestNode::Cpu(0)))
}

impl VmNode {
    /// `[load_address, load_address + mem_size)`; parsing checked that it does not wrap.
    fn range(&self) -> (u64, u64) {
        (
            self.load_address,
            self.load_address.saturating_add(self.mem_size),
        )
    }
}

impl PartitionConfig {
    /// Completes a partition manifest with its SPMC-manifest `vmN` node: the memory it owns,
    /// its load address when its own manifest has none, and its name when it has no
    /// `description`.
    pub fn apply_vm_node(&mut self, vm: &VmNode) -> Result<(), ConfigError> {
        if self.load_address != 0 && self.load_address != vm.load_address {
            return Err(ConfigError::LoadAddressMismatch {
                partition: PartitionRef::of(self),
                vm_load_address: vm.load_address,
            });
        }
        if self.entrypoint_offset >= vm.mem_size {
            return Err(ConfigError::EntrypointOutsideMemory {
                partition: PartitionRef::of(self),
            });
        }
        self.load_address = vm.load_address;
        self.memory_size = vm.mem_size;
        if self.name.is_empty() {
            self.name = vm.debug_name.clone();
        }
        if let Some(id) = self.id.filter(|id| !id.is_secure()) {
            // Hafnium's rule for every partition: 0x8000 (its ID base) + N of vmN.
            self.replaced_id = Some(id);
            self.id = vm
                .index
                .checked_add(EndpointId::DEFAULT_SPMC.0)
                .map(EndpointId)
                .filter(|id| *id != EndpointId::DEFAULT_SPMC && *id != EndpointId::SPMD);
        }
        Ok(())
    }
}

/// Completes each partition with the `vmN` node of the same load address
/// ([`PartitionConfig::apply_vm_node`]). Every partition needs a node and every node a
/// partition: a mismatch means the SPMC manifest and the packages disagree.
pub fn apply_vm_nodes(
    partitions: &mut [PartitionConfig],
    vm_nodes: &[VmNode],
) -> Result<(), ConfigError> {
    for vm in vm_nodes {
        if !partitions.iter().any(|p| p.load_address == vm.load_address) {
            return Err(ConfigError::NoPartitionForVm {
                index: vm.index,
                load_address: vm.load_address,
            });
        }
    }
    for partition in partitions.iter_mut() {
        let vm = vm_nodes
            .iter()
            .find(|vm| vm.load_address == partition.load_address)
            .ok_or_else(|| ConfigError::NoVmNode {
                partition: PartitionRef::of(partition),
            })?;
        partition.apply_vm_node(vm)?;
    }
    // An ID given in place of a non-secure one yields to a partition's own: that partition
    // gets the next free ID instead.
    for i in 0..partitions.len() {
        let Some(p) = partitions.get(i) else { continue };
        if p.replaced_id.is_none() {
            continue;
        }
        let claimed = partitions
            .iter()
            .enumerate()
            .any(|(j, o)| j != i && o.replaced_id.is_none() && o.id.is_some() && o.id == p.id);
        if claimed && let Some(p) = partitions.get_mut(i) {
            p.id = None;
        }
    }
    Ok(())
}

impl SpmcConfig {
    /// Validates a set of partitions and settles their endpoint IDs.
    ///
    /// Manifest IDs are honoured; they must be secure, unique, and neither the SPMC's nor the
    /// SPMD's. Partitions without one get, in the order given, the lowest free secure ID above
    /// the SPMC's. Partitions' memory must not overlap. The result is sorted by boot order,
    /// partitions without one last, ties by ID.
    pub fn new(
        attributes: SpmcAttributes,
        partitions: impl IntoIterator<Item = PartitionConfig>,
    ) -> Result<SpmcConfig, ConfigError> {
        let spmc_id = attributes.spmc_id;
        if !spmc_id.is_secure() || spmc_id == EndpointId::SPMD {
            return Err(ConfigError::InvalidSpmcId(spmc_id));
        }

        let mut configs: Vec<PartitionConfig, MAX_PARTITIONS> = Vec::new();
        for config in partitions {
            configs
                .push(config)
                .map_err(|_| ConfigError::TooManyPartitions {
                    max: MAX_PARTITIONS,
                })?;
        }

        // Manifest IDs first, so that assigned IDs skip all of them.
        let mut manifest_ids: Vec<EndpointId, MAX_PARTITIONS> = Vec::new();
        for (i, config) in configs.iter().enumerate() {
            let Some(id) = config.id else { continue };
            if !id.is_secure() {
                return Err(ConfigError::NotSecure {
                    partition: PartitionRef::of(config),
                    id,
                });
            }
            if id == spmc_id || id == EndpointId::SPMD {
                return Err(ConfigError::ReservedId {
                    partition: PartitionRef::of(config),
                    id,
                });
            }
            if let Some(first) = configs.iter().take(i).find(|c| c.id == Some(id)) {
                return Err(ConfigError::DuplicateId {
                    id,
                    first: PartitionRef::of(first),
                    second: PartitionRef::of(config),
                });
            }
            manifest_ids
                .push(id)
                .map_err(|_| ConfigError::TooManyPartitions {
                    max: MAX_PARTITIONS,
                })?;
        }

        for (i, a) in configs.iter().enumerate() {
            for b in configs.iter().skip(i + 1) {
                if a.memory_size != 0
                    && b.memory_size != 0
                    && ranges_overlap(memory_range(a), memory_range(b))
                {
                    return Err(ConfigError::MemoryOverlap {
                        first: PartitionRef::of(a),
                        second: PartitionRef::of(b),
                    });
                }
            }
        }

        let mut settled: Vec<Partition, MAX_PARTITIONS> = Vec::new();
        for config in configs {
            let id = match config.id {
                Some(id) => id,
                None => (spmc_id.0.saturating_add(1)..EndpointId::SPMD.0)
                    .map(EndpointId)
                    .find(|candidate| {
                        !manifest_ids.contains(candidate)
                            && !settled.iter().any(|p| p.id == *candidate)
                    })
                    .ok_or_else(|| ConfigError::NoFreeId {
                        partition: PartitionRef::of(&config),
                    })?,
            };
            settled
                .push(Partition { id, config })
                .map_err(|_| ConfigError::TooManyPartitions {
                    max: MAX_PARTITIONS,
                })?;
        }
        settled
            .sort_unstable_by_key(|p| (p.config.boot_order.is_none(), p.config.boot_order, p.id));
        Ok(SpmcConfig {
            attributes,
            partitions: settled,
            refused: Vec::new(),
        })
    }
}

impl SpmcConfig {
    /// Leaves out, into [`SpmcConfig::refused`], every partition whose memory or device
    /// regions break `map` ([`MemoryMap::check_regions`]). `packages` are all the `vmN` nodes:
    /// BL2 loaded each package whether or not its partition is hosted. Partitions are checked
    /// in boot order, so of two that claim the same memory the later one is refused.
    pub fn enforce_memory_map(&mut self, map: &MemoryMap<'_>, packages: &[VmNode]) {
        // In place: the partitions before `next` are the hosted ones.
        let mut next = 0;
        while let Some(partition) = self.partitions.get(next) {
            let hosted = self.partitions[..next].iter().map(|p| (p.id, &p.config));
            let checked = map
                .check_regions(&partition.config, packages, hosted.clone())
                .and_then(|()| interrupts_free(&partition.config, hosted));
            match checked {
                Ok(()) => next += 1,
                Err(why) => {
                    let partition = self.partitions.remove(next);
                    // Both lists together hold at most the MAX_PARTITIONS vmN nodes.
                    let _ = self.refused.push(Refusal {
                        partition: Refused::Partition {
                            id: partition.id,
                            name: partition.config.name,
                        },
                        why,
                    });
                }
            }
        }
    }
}

/// Refuses a partition declaring an interrupt a partition hosted before it declared: one
/// physical interrupt has one owner.
fn interrupts_free<'p>(
    config: &PartitionConfig,
    mut hosted: impl Iterator<Item = (EndpointId, &'p PartitionConfig)>,
) -> Result<(), Violation> {
    hosted.try_for_each(|(owner, other)| {
        match config
            .interrupts
            .iter()
            .find(|d| other.interrupts.iter().any(|o| o.intid == d.intid))
        {
            Some(d) => Err(Violation::InterruptTaken {
                intid: d.intid.get(),
                owner,
            }),
            None => Ok(()),
        }
    })
}

fn memory_range(config: &PartitionConfig) -> (u64, u64) {
    (
        config.load_address,
        config.load_address.saturating_add(config.memory_size),
    )
}

/// Whether two half-open ranges `[start, end)` share a byte.
fn ranges_overlap(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Opens the blob at the start of `data`, whose header gives its length.
fn open(data: &[u8]) -> Result<Fdt<'_>, ManifestError> {
    let total = data
        .get(4..8)
        .and_then(|bytes| <[u8; 4]>::try_from(bytes).ok())
        .map(u32::from_be_bytes)
        .ok_or(ManifestError::InvalidDtb)?;
    let blob = usize::try_from(total)
        .ok()
        .and_then(|total| data.get(..total))
        .ok_or(ManifestError::InvalidDtb)?;
    Fdt::new(blob).map_err(|_| ManifestError::InvalidDtb)
}

/// `vmN` → `N`.
fn vm_index(name: &str) -> Option<u16> {
    let digits = name.strip_prefix("vm")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn parse_attributes(props: &Props<'_>) -> Result<SpmcAttributes, ManifestError> {
    let spmc_id = props.require_ranged("spmc_id", 0, u16::MAX.into())?;
    let spmc_id = EndpointId(spmc_id as u16);
    // The SPMD rejects the same (plat_spmd_manifest.c): a secure ID, not its own.
    if !spmc_id.is_secure() || spmc_id == EndpointId::SPMD {
        return Err(props.out_of_range("spmc_id", spmc_id.0.into()));
    }
    let major = props.require_int("maj_ver")?;
    if major != ffa::version::OURS.0.into() {
        return Err(props.out_of_range("maj_ver", major));
    }
    let minor = props.require_ranged("min_ver", 0, ffa::version::OURS.1.into())?;
    props.expect_if_present("exec_state", 0)?;
    Ok(SpmcAttributes {
        spmc_id,
        version: Version(ffa::version::OURS.0, minor as u16),
    })
}

fn parse_vm(props: &Props<'_>, index: u16) -> Result<VmNode, ManifestError> {
    if !props.flag("is_ffa_partition")? {
        return Err(props.missing("is_ffa_partition"));
    }
    let debug_name = truncate(
        props
            .string("debug_name")?
            .ok_or(props.missing("debug_name"))?,
    );
    let load_address = props.require_int("load_address")?;
    if load_address == 0 || !load_address.is_multiple_of(PAGE_SIZE) {
        return Err(props.out_of_range("load_address", load_address));
    }
    let vcpu_count = props.require_ranged("vcpu_count", 1, u16::MAX.into())? as u16;
    let mem_size = props.require_int("mem_size")?;
    if mem_size == 0 || load_address.checked_add(mem_size).is_none() {
        return Err(props.out_of_range("mem_size", mem_size));
    }
    Ok(VmNode {
        index,
        debug_name,
        load_address,
        vcpu_count,
        mem_size,
    })
}

#[derive(Clone, Copy)]
enum RegionKind {
    Memory,
    Device,
}

impl RegionKind {
    fn container(self) -> (&'static str, ManifestNode, &'static str) {
        match self {
            Self::Memory => (
                "/memory-regions",
                ManifestNode::MemoryRegions,
                "arm,ffa-manifest-memory-regions",
            ),
            Self::Device => (
                "/device-regions",
                ManifestNode::DeviceRegions,
                "arm,ffa-manifest-device-regions",
            ),
        }
    }

    fn node(self, index: usize) -> ManifestNode {
        match self {
            Self::Memory => ManifestNode::MemoryRegion(index),
            Self::Device => ManifestNode::DeviceRegion(index),
        }
    }

    fn parse_all(
        self,
        fdt: &Fdt<'_>,
        load_address: u64,
    ) -> Result<Vec<Region, MAX_REGIONS>, ManifestError> {
        let mut regions = Vec::new();
        let (path, node, compatible) = self.container();
        let Some(container) = fdt.find_node(path) else {
            return Ok(regions);
        };
        Props::new(container, node).require_compatible(compatible)?;
        for (index, child) in container.children().enumerate() {
            let region = self.parse(
                &Props::new(child, self.node(index)),
                child.name(),
                load_address,
            )?;
            regions.push(region).map_err(|_| ManifestError::TooMany {
                node,
                what: "regions",
                max: MAX_REGIONS,
            })?;
        }
        Ok(regions)
    }

    fn parse(
        self,
        props: &Props<'_>,
        node_name: &str,
        load_address: u64,
    ) -> Result<Region, ManifestError> {
        let name = truncate(props.string("description")?.unwrap_or(node_name));
        let pages = props.require_ranged("pages-count", 1, u32::MAX.into())? as u32;

        let raw = props.require_ranged("attributes", 0, u32::MAX.into())? as u32;
        let permissions = raw & (Region::READ | Region::WRITE | Region::EXECUTE);
        let allowed: &[u32] = match self {
            // Readable, and never both writable and executable.
            Self::Memory => &[
                Region::READ,
                Region::READ | Region::WRITE,
                Region::READ | Region::EXECUTE,
            ],
            Self::Device => &[Region::READ, Region::READ | Region::WRITE],
        };
        let known = Region::READ | Region::WRITE | Region::EXECUTE | Region::NON_SECURE;
        if raw & !known != 0 || !allowed.contains(&permissions) {
            return Err(props.out_of_range("attributes", raw.into()));
        }

        let absolute = props.int("base-address")?;
        let base = match self {
            Self::Device => Some(absolute.ok_or(props.missing("base-address"))?),
            Self::Memory => match (absolute, props.int("load-address-relative-offset")?) {
                (Some(_), Some(_)) => {
                    return Err(ManifestError::Conflict {
                        node: props.at,
                        property: "base-address",
                        other: "load-address-relative-offset",
                    });
                }
                (Some(base), None) => Some(base),
                (None, Some(offset)) => {
                    if load_address == 0 {
                        return Err(ManifestError::Missing {
                            node: ManifestNode::Root,
                            property: "load-address",
                        });
                    }
                    Some(
                        load_address
                            .checked_add(offset)
                            .ok_or(props.out_of_range("load-address-relative-offset", offset))?,
                    )
                }
                (None, None) => None,
            },
        };
        if let Some(base) = base {
            let property = if absolute.is_some() {
                "base-address"
            } else {
                "load-address-relative-offset"
            };
            let fits = u64::from(pages)
                .checked_mul(PAGE_SIZE)
                .and_then(|size| base.checked_add(size))
                .is_some();
            if !base.is_multiple_of(PAGE_SIZE) || !fits {
                return Err(props.out_of_range(property, base));
            }
        }

        Ok(Region {
            name,
            base,
            pages,
            attributes: permissions,
            non_secure: raw & Region::NON_SECURE != 0,
        })
    }
}

/// Rejects a partition whose placed regions share memory: one page mapped twice, with
/// possibly different permissions, is a manifest error.
fn check_regions_disjoint(memory: &[Region], device: &[Region]) -> Result<(), ManifestError> {
    let placed = memory
        .iter()
        .enumerate()
        .map(|(i, r)| (ManifestNode::MemoryRegion(i), r))
        .chain(
            device
                .iter()
                .enumerate()
                .map(|(i, r)| (ManifestNode::DeviceRegion(i), r)),
        )
        .filter_map(|(node, r)| {
            let base = r.base?;
            // Parsing checked that the end does not wrap.
            Some((node, r.non_secure, (base, base.saturating_add(r.size()))))
        });
    for (i, (first, first_ns, a)) in placed.clone().enumerate() {
        for (second, second_ns, b) in placed.clone().skip(i + 1) {
            // Secure and non-secure addresses live in different spaces.
            if first_ns == second_ns && ranges_overlap(a, b) {
                return Err(ManifestError::Overlap { first, second });
            }
        }
    }
    Ok(())
}

/// Truncates to the capacity of a name, on a character boundary.
fn truncate(text: &str) -> String<32> {
    let mut name = String::new();
    for c in text.chars() {
        if name.push(c).is_err() {
            break;
        }
    }
    name
}

/// One node's properties, read with the binding's rules, errors naming the node.
struct Props<'a> {
    node: FdtNode<'a>,
    at: ManifestNode,
}

impl<'a> Props<'a> {
    fn new(node: FdtNode<'a>, at: ManifestNode) -> Self {
        Self { node, at }
    }

    fn missing(&self, property: &'static str) -> ManifestError {
        ManifestError::Missing {
            node: self.at,
            property,
        }
    }

    fn malformed(&self, property: &'static str) -> ManifestError {
        ManifestError::Malformed {
            node: self.at,
            property,
        }
    }

    fn out_of_range(&self, property: &'static str, value: u64) -> ManifestError {
        ManifestError::OutOfRange {
            node: self.at,
            property,
            value,
        }
    }

    fn bytes(&self, property: &str) -> Option<&'a [u8]> {
        self.node
            .property(property)
            .and_then(|p| p.value_as::<&'a [u8]>().ok())
    }

    fn require_compatible(&self, expected: &'static str) -> Result<(), ManifestError> {
        let listed = self
            .bytes("compatible")
            .is_some_and(|list| list.split(|b| *b == 0).any(|s| s == expected.as_bytes()));
        if listed {
            Ok(())
        } else {
            Err(ManifestError::NotCompatible {
                node: self.at,
                expected,
            })
        }
    }

    /// An integer of one or two cells.
    fn int(&self, property: &'static str) -> Result<Option<u64>, ManifestError> {
        let Some(bytes) = self.bytes(property) else {
            return Ok(None);
        };
        if let Ok(cell) = <[u8; 4]>::try_from(bytes) {
            Ok(Some(u32::from_be_bytes(cell).into()))
        } else if let Ok(cells) = <[u8; 8]>::try_from(bytes) {
            Ok(Some(u64::from_be_bytes(cells)))
        } else {
            Err(self.malformed(property))
        }
    }

    fn require_int(&self, property: &'static str) -> Result<u64, ManifestError> {
        self.int(property)?.ok_or(self.missing(property))
    }

    fn ranged(
        &self,
        property: &'static str,
        min: u64,
        max: u64,
    ) -> Result<Option<u64>, ManifestError> {
        match self.int(property)? {
            Some(value) if !(min..=max).contains(&value) => Err(self.out_of_range(property, value)),
            value => Ok(value),
        }
    }

    fn require_ranged(
        &self,
        property: &'static str,
        min: u64,
        max: u64,
    ) -> Result<u64, ManifestError> {
        self.ranged(property, min, max)?
            .ok_or(self.missing(property))
    }

    /// Rejects a property whose value is not the only one this SPMC supports.
    fn expect_if_present(
        &self,
        property: &'static str,
        expected: u64,
    ) -> Result<(), ManifestError> {
        match self.int(property)? {
            Some(value) if value != expected => Err(self.out_of_range(property, value)),
            _ => Ok(()),
        }
    }

    /// A flag: present and empty.
    fn flag(&self, property: &'static str) -> Result<bool, ManifestError> {
        match self.bytes(property) {
            None => Ok(false),
            Some([]) => Ok(true),
            Some(_) => Err(self.malformed(property)),
        }
    }

    fn string(&self, property: &'static str) -> Result<Option<&'a str>, ManifestError> {
        let Some(bytes) = self.bytes(property) else {
            return Ok(None);
        };
        let text = bytes
            .strip_suffix(&[0])
            .and_then(|text| core::str::from_utf8(text).ok())
            .filter(|text| !text.contains('\0'))
            .ok_or(self.malformed(property))?;
        Ok(Some(text))
    }

    /// `uuid`: one or more UUIDs, each four cells in SMCCC register order.
    fn uuids(&self) -> Result<Vec<Uuid, MAX_UUIDS>, ManifestError> {
        let bytes = self.bytes("uuid").ok_or(self.missing("uuid"))?;
        if bytes.is_empty() || !bytes.len().is_multiple_of(16) {
            return Err(self.malformed("uuid"));
        }
        let mut uuids = Vec::new();
        for chunk in bytes.chunks_exact(16) {
            let mut words = [0u32; 4];
            for (word, cell) in words.iter_mut().zip(chunk.chunks_exact(4)) {
                let cell = <[u8; 4]>::try_from(cell).map_err(|_| self.malformed("uuid"))?;
                *word = u32::from_be_bytes(cell);
            }
            let uuid = UuidHelper::from_u32_regs(words);
            if uuid.is_nil() {
                // The nil UUID means "all partitions" to PARTITION_INFO_GET.
                return Err(self.out_of_range("uuid", 0));
            }
            uuids.push(uuid).map_err(|_| ManifestError::TooMany {
                node: self.at,
                what: "UUIDs",
                max: MAX_UUIDS,
            })?;
        }
        Ok(uuids)
    }

    /// `ffa-version`: a v1.x this SPMC implements.
    fn ffa_version(&self) -> Result<Version, ManifestError> {
        let raw = self.require_int("ffa-version")?;
        let version = u32::try_from(raw)
            .ok()
            .and_then(|raw| Version::try_from(raw).ok())
            .filter(|v| *v >= ffa::version::OLDEST && *v <= ffa::version::OURS)
            .ok_or(self.out_of_range("ffa-version", raw))?;
        Ok(version)
    }

    /// `messaging-method`: only the defined bits, DIRECT_REQ2 only from v1.2.
    fn messaging_method(&self, version: Version) -> Result<MessagingMethod, ManifestError> {
        let raw = self.require_int("messaging-method")?;
        let req2 = u64::from(MessagingMethod::DIRECT_REQ2_RECV | MessagingMethod::DIRECT_REQ2_SEND);
        if raw & !u64::from(MessagingMethod::ALL) != 0
            || (raw & req2 != 0 && version < Version(1, 2))
        {
            return Err(self.out_of_range("messaging-method", raw));
        }
        Ok(MessagingMethod(raw as u32))
    }
}
