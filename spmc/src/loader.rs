//! Boot-time configuration from what BL2 loaded: the SPMC manifest (TOS_FW_CONFIG) and, for
//! each of its `vmN` nodes, the SPKG package at the node's load address (header, then the
//! partition manifest DTB it points at). Memory is read through [`Platform`], so the same code
//! runs on the host over a fake memory.
//!
//! Boot goes in two steps. [`plan`] parses the SPMC manifest and checks each `vmN` node's
//! memory against the memory map: only admitted packages may be mapped and read. [`load`]
//! reads those packages and [`Plan::assemble`] completes the configuration, leaving out the
//! partitions whose regions break the map. Refused partitions are listed in
//! [`SpmcConfig::refused`]; the others boot.

use core::fmt;

use heapless::Vec;

use crate::boot_info::{PackageError, SPKG_HEADER_SIZE, parse_spkg_header};
use crate::manifest::{
    ConfigError, MAX_PARTITIONS, ManifestError, PartitionConfig, SpmcAttributes, SpmcConfig,
    SpmcManifest, VmNode, apply_vm_nodes, parse_partition, parse_spmc_manifest,
};
use crate::memory_map::{
    ManifestMemory, MemoryMap, PlatformMemory, Refusal, Refused, Unloadable, Violation,
};
use crate::platform::{Platform, Space};
use ffa::EndpointId;

/// Largest partition manifest read: it sits between the package's header page and its image
/// (SPKG v2: page 1 up to the image at 0x4000 in our packages).
pub const MAX_PARTITION_MANIFEST: usize = 0x3000;

/// Why the configuration could not be built. Any of these fails the SPMC's initialisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The SPMC manifest is invalid.
    SpmcManifest(ManifestError),
    /// A package's header could not be read or is invalid.
    Package {
        /// The `vmN` node.
        vm: u16,
        /// Its load address.
        load_address: u64,
        /// Why.
        error: PackageError,
    },
    /// A package's partition manifest is larger than [`MAX_PARTITION_MANIFEST`].
    ManifestTooLarge {
        /// The `vmN` node.
        vm: u16,
        /// The manifest size its header gives.
        size: u32,
    },
    /// A package's partition manifest could not be read.
    ManifestUnreadable {
        /// The `vmN` node.
        vm: u16,
    },
    /// A partition manifest is invalid.
    PartitionManifest {
        /// The `vmN` node.
        vm: u16,
        /// Why.
        error: ManifestError,
    },
    /// The partitions cannot be hosted together.
    Config(ConfigError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SpmcManifest(e) => write!(f, "SPMC manifest: {e}"),
            Self::Package {
                vm,
                load_address,
                error,
            } => write!(f, "vm{vm}: package at {load_address:#x}: {error:?}"),
            Self::ManifestTooLarge { vm, size } => write!(
                f,
                "vm{vm}: partition manifest of {size:#x} bytes (at most {MAX_PARTITION_MANIFEST:#x})"
            ),
            Self::ManifestUnreadable { vm } => write!(f, "vm{vm}: partition manifest unreadable"),
            Self::PartitionManifest { vm, error } => {
                write!(f, "vm{vm}: partition manifest: {error}")
            }
            Self::Config(e) => write!(f, "{e}"),
        }
    }
}

/// Reads the package of `vm` and parses its partition manifest.
pub fn load_partition<P: Platform>(
    platform: &P,
    vm: &VmNode,
) -> Result<PartitionConfig, LoadError> {
    let mut header = [0u8; SPKG_HEADER_SIZE];
    let package_error = |error| LoadError::Package {
        vm: vm.index,
        load_address: vm.load_address,
        error,
    };
    platform
        .read(Space::Secure, vm.load_address, &mut header)
        .map_err(|_| package_error(PackageError::Unreadable))?;
    let h = parse_spkg_header(&header, vm.mem_size).map_err(package_error)?;
    let size = usize::try_from(h.pm_size)
        .ok()
        .filter(|&n| n <= MAX_PARTITION_MANIFEST)
        .ok_or(LoadError::ManifestTooLarge {
            vm: vm.index,
            size: h.pm_size,
        })?;
    let mut dtb = [0u8; MAX_PARTITION_MANIFEST];
    let dtb = dtb
        .get_mut(..size)
        .ok_or(LoadError::ManifestUnreadable { vm: vm.index })?;
    // In range: the header check keeps the manifest inside the partition's memory.
    let at = vm
        .load_address
        .checked_add(u64::from(h.pm_offset))
        .ok_or(LoadError::ManifestUnreadable { vm: vm.index })?;
    platform
        .read(Space::Secure, at, dtb)
        .map_err(|_| LoadError::ManifestUnreadable { vm: vm.index })?;
    parse_partition(dtb).map_err(|error| LoadError::PartitionManifest {
        vm: vm.index,
        error,
    })
}

/// The SPMC manifest, parsed and checked against the memory map.
#[derive(Clone, Debug)]
pub struct Plan<'a> {
    /// The manifest.
    pub manifest: SpmcManifest,
    /// The memory map of the manifest and the platform.
    pub map: MemoryMap<'a>,
    /// The `vmN` nodes whose package and memory lie in secure memory away from the SPMC: the
    /// packages to map and read.
    pub admitted: Vec<VmNode, MAX_PARTITIONS>,
    /// The other `vmN` nodes.
    pub refused: Vec<Refusal, MAX_PARTITIONS>,
}

/// Parses the SPMC manifest `spmc_manifest` and checks its `vmN` nodes against the memory map
/// it and `platform` describe.
pub fn plan<'a>(
    spmc_manifest: &[u8],
    platform: &PlatformMemory<'a>,
) -> Result<Plan<'a>, LoadError> {
    let manifest = parse_spmc_manifest(spmc_manifest).map_err(LoadError::SpmcManifest)?;
    let map = MemoryMap::new(&manifest.memory, manifest.image, platform);
    let (admitted, refused) = map.admit_vms(&manifest.vms);
    Ok(Plan {
        manifest,
        map,
        admitted,
        refused,
    })
}

/// The plan of an SPMC whose manifest (or its CPU list) cannot be used: no partition, SPMC ID
/// 0x8000 at our FF-A version, and only the platform's default normal-world window. The SPMC
/// still completes the SPMD's initialisation with it, so that the normal world gets FF-A
/// answers (no partition to reach) instead of a parked SPMC.
pub fn fallback_plan<'a>(platform: &PlatformMemory<'a>) -> Plan<'a> {
    let manifest = SpmcManifest {
        attributes: SpmcAttributes {
            spmc_id: EndpointId(FALLBACK_SPMC_ID),
            version: ffa::version::OURS,
        },
        image: None,
        vms: Vec::new(),
        memory: ManifestMemory::default(),
        cpus: None,
    };
    let map = MemoryMap::new(&manifest.memory, manifest.image, platform);
    Plan {
        manifest,
        map,
        admitted: Vec::new(),
        refused: Vec::new(),
    }
}

/// The SPMC ID [`fallback_plan`] assumes: the one FF-A and TF-A's manifests use.
pub const FALLBACK_SPMC_ID: u16 = 0x8000;

impl Plan<'_> {
    /// The configuration of `partitions` (one per admitted `vmN` node): nodes applied, IDs
    /// settled, and the partitions whose regions break the map left out
    /// ([`SpmcConfig::enforce_memory_map`]).
    pub fn assemble(
        &self,
        partitions: impl IntoIterator<Item = PartitionConfig>,
    ) -> Result<SpmcConfig, LoadError> {
        self.assemble_loaded(partitions, &self.admitted, &[])
    }

    /// [`Plan::assemble`] for the partitions of `vms` (the admitted nodes whose packages
    /// loaded), with `unloaded` (the others) added to the refusals.
    fn assemble_loaded(
        &self,
        partitions: impl IntoIterator<Item = PartitionConfig>,
        vms: &[VmNode],
        unloaded: &[Refusal],
    ) -> Result<SpmcConfig, LoadError> {
        let mut configs: Vec<PartitionConfig, MAX_PARTITIONS> = Vec::new();
        for config in partitions {
            configs.push(config).map_err(|_| {
                LoadError::Config(ConfigError::TooManyPartitions {
                    max: MAX_PARTITIONS,
                })
            })?;
        }
        apply_vm_nodes(&mut configs, vms).map_err(LoadError::Config)?;
        let mut config = SpmcConfig::new(self.manifest.attributes.clone(), configs)
            .map_err(LoadError::Config)?;
        config.refused = self.refused.clone();
        for refusal in unloaded {
            // At most MAX_PARTITIONS vm nodes in all: it fits.
            let _ = config.refused.push(refusal.clone());
        }
        config.enforce_memory_map(&self.map, &self.manifest.vms);
        Ok(config)
    }
}

/// Reads the admitted packages of `plan` and assembles the configuration. A package that
/// cannot be loaded (unreadable, invalid header or manifest) is refused alone, as a `vmN`
/// node: the others boot.
pub fn load<P: Platform>(platform: &P, plan: &Plan<'_>) -> Result<SpmcConfig, LoadError> {
    let mut partitions: Vec<PartitionConfig, MAX_PARTITIONS> = Vec::new();
    let mut loaded: Vec<VmNode, MAX_PARTITIONS> = Vec::new();
    let mut unloaded: Vec<Refusal, MAX_PARTITIONS> = Vec::new();
    for vm in &plan.admitted {
        // At most MAX_PARTITIONS vm nodes: every push fits.
        match load_partition(platform, vm) {
            Ok(config) => {
                let _ = partitions.push(config);
                let _ = loaded.push(vm.clone());
            }
            Err(e) => {
                let _ = unloaded.push(Refusal {
                    partition: Refused::Vm {
                        index: vm.index,
                        name: vm.debug_name.clone(),
                    },
                    why: Violation::Unloadable(unloadable(e)),
                });
            }
        }
    }
    plan.assemble_loaded(partitions, &loaded, &unloaded)
}

/// What [`load_partition`] failed at, without the node (the refusal names it).
fn unloadable(e: LoadError) -> Unloadable {
    match e {
        LoadError::Package { error, .. } => Unloadable::Package(error),
        LoadError::ManifestTooLarge { size, .. } => Unloadable::ManifestTooLarge(size),
        LoadError::PartitionManifest { error, .. } => Unloadable::Manifest(error),
        LoadError::ManifestUnreadable { .. }
        | LoadError::SpmcManifest(_)
        | LoadError::Config(_) => Unloadable::ManifestUnreadable,
    }
}

/// [`plan`] then [`load`], in one step.
pub fn load_config<P: Platform>(
    platform: &P,
    spmc_manifest: &[u8],
    memory: &PlatformMemory<'_>,
) -> Result<SpmcConfig, LoadError> {
    load(platform, &plan(spmc_manifest, memory)?)
}
