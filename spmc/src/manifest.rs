//! FF-A partition manifests and the SPMC manifest, parsed into typed configuration.

use ffa::{EndpointId, Uuid, Version};
use heapless::{String, Vec};

/// Most partitions one SPMC hosts (TF-A loads at most 8 SP packages).
pub const MAX_PARTITIONS: usize = 8;
/// Most UUIDs one partition may declare.
pub const MAX_UUIDS: usize = 4;
/// Most memory (or device) regions one partition may declare.
pub const MAX_REGIONS: usize = 16;

/// The exception level a partition runs at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionLevel {
    /// S-EL1.
    SEl1,
    /// S-EL0.
    SEl0,
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

    /// Whether every bit of `bits` is set.
    pub const fn has(self, bits: u32) -> bool {
        self.0 & bits == bits
    }
}

/// A memory or device region from a partition manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// The region's `description`, truncated.
    pub name: String<32>,
    /// Base address (IPA == PA for our partitions); `None` when the manifest leaves it to the
    /// SPMC (relative or absent `base-address`).
    pub base: Option<u64>,
    /// Size in 4 KiB pages.
    pub pages: u32,
    /// The manifest's `attributes` (read/write/execute bits).
    pub attributes: u32,
    /// Whether the region is in the non-secure address space (`nonsecure` attribute bit).
    pub non_secure: bool,
}

/// One partition, as its FF-A manifest describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionConfig {
    /// The manifest's `description`, truncated.
    pub name: String<32>,
    /// The manifest's `id`, if any. Honoured; partitions without one get a free ID at boot.
    pub id: Option<EndpointId>,
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
    /// `load-address`.
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
}
