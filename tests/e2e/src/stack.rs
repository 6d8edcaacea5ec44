//! One machine's worth of secure side: simulated memory with the boot images BL2 would have
//! loaded, the SPMC core configured from its manifests, the partitions, and the SPMD model.

use std::collections::BTreeMap;
use std::ops::Range;

use ffa::{EndpointId, Regs, Version};
use spmc::Spmc;
use spmc::manifest::{PartitionConfig, SpmcConfig};
use test_partitions::{DEFINITIONS, Definition, Instance, TestPartition};

use crate::config::{self, ManifestSpec};
use crate::error::HarnessError;
use crate::memory::{PartitionMemory, SecureView, SimMemory, Space};
use crate::spmd::{HostedPartition, SpmcManifestAttributes, Spmd};
use crate::trace::{Agent, Trace};

/// CPUs of the simulated machine.
pub const CPU_COUNT: u16 = 4;
/// The primary CPU (the one TF-A cold-boots the SPMC on).
pub const PRIMARY_CPU: u16 = 0;
/// The SPMC's endpoint ID (`spmc_id` of sp-manifests/spmc_manifest.dts).
pub const SPMC_ID: u16 = 0x8000;
/// The FF-A version of the SPMC manifest (`maj_ver`.`min_ver`).
pub const SPMC_VERSION: Version = Version(1, 2);
/// Where BL2 puts TOS_FW_CONFIG (the SPMC manifest) on QEMU.
pub const TOS_FW_CONFIG: u64 = 0x0e00_2000;
/// The warm-boot entry the SPMC image registers with FFA_SECONDARY_EP_REGISTER_64 before its
/// core initialises: an address inside the image (`load_address` 0x0e10_0000, 2 MiB), as the
/// SPMD demands. The model only checks that TF-A would accept it.
pub const SPMC_SECONDARY_ENTRY: u64 = 0x0e10_0800;
/// Offsets inside an SP package (SPKG v2): the manifest, then the image.
const SPKG_MANIFEST_OFFSET: u32 = 0x1000;
const SPKG_IMAGE_OFFSET: u32 = 0x4000;

/// The SPMC core as the harness runs it.
pub type SpmcCore = Spmc<SecureView>;

/// A partition to host: its manifest and the behaviour of each execution context.
pub struct PartitionSetup {
    /// What its manifest says.
    pub manifest: ManifestSpec,
    /// What each execution context does when entered (as many as `execution-ctx-count`).
    pub contexts: Vec<Box<dyn TestPartition>>,
}

impl PartitionSetup {
    /// A test partition of `test_partitions::DEFINITIONS`, one instance per context.
    pub fn from_definition(def: &Definition) -> Self {
        Self {
            manifest: ManifestSpec::from_definition(def),
            contexts: (0..def.exec_ctx_count)
                .map(|vcpu| {
                    Box::new(Instance::for_execution_context(def, vcpu)) as Box<dyn TestPartition>
                })
                .collect(),
        }
    }
}

/// The test partitions (echo, relay, legacy), as the scenarios expect them.
pub fn standard_partitions() -> Vec<PartitionSetup> {
    DEFINITIONS
        .iter()
        .map(PartitionSetup::from_definition)
        .collect()
}

/// The secure side of one simulated machine, booted or not.
pub struct Stack {
    memory: SimMemory,
    spmd: Spmd<SpmcCore>,
    config: SpmcConfig,
    trace: Trace,
}

impl Stack {
    /// Loads the images, parses the manifests and builds the SPMC, without booting it.
    pub fn new(partitions: Vec<PartitionSetup>, trace: Trace) -> Result<Self, HarnessError> {
        let specs: Vec<ManifestSpec> = partitions.iter().map(|p| p.manifest.clone()).collect();
        let config = config::build_spmc_config(SPMC_ID, SPMC_VERSION, &specs)?;
        let memory = SimMemory::new();
        load_images(&memory, &specs)?;

        let mut hosted = BTreeMap::new();
        for setup in partitions {
            let settled = config
                .partitions
                .iter()
                .find(|p| p.config.load_address == setup.manifest.load_address)
                .ok_or_else(|| {
                    HarnessError::Config(format!(
                        "{} missing from the SPMC config",
                        setup.manifest.name
                    ))
                })?;
            let start = settled.config.load_address;
            let end = start
                .checked_add(settled.config.memory_size)
                .ok_or_else(|| {
                    HarnessError::Config(format!("{}: memory wraps", setup.manifest.name))
                })?;
            if setup.contexts.len() != usize::from(settled.config.execution_ctx_count) {
                return Err(HarnessError::Config(format!(
                    "{}: {} behaviours for {} execution contexts",
                    setup.manifest.name,
                    setup.contexts.len(),
                    settled.config.execution_ctx_count
                )));
            }
            hosted.insert(
                settled.id,
                HostedPartition {
                    contexts: setup.contexts,
                    env: PartitionMemory::new(
                        memory.range_view(Space::Secure, start..end),
                        stage2_regions(&settled.config),
                    )
                    .with_id(settled.id.0),
                },
            );
        }
        let attrs =
            SpmcManifestAttributes::qemu(config.attributes.spmc_id, config.attributes.version);
        let core = Spmc::new(config.clone(), memory.secure_view(), CPU_COUNT);
        let mut spmd = Spmd::new(core, attrs, hosted, CPU_COUNT, trace.clone());
        spmd.set_image_secondary_entry(Some(SPMC_SECONDARY_ENTRY));
        Ok(Self {
            memory,
            spmd,
            config,
            trace,
        })
    }

    /// A stack of `partitions`, booted: the SPMC initialised on the primary CPU (its
    /// FFA_MSG_WAIT seen by the SPMD), then the secondary CPUs powered on one by one (PSCI
    /// CPU_ON, as Linux brings them up at start-up), each warm boot starting the MP
    /// partitions' contexts for that CPU.
    pub fn boot(partitions: Vec<PartitionSetup>, trace: Trace) -> Result<Self, HarnessError> {
        let mut stack = Self::new(partitions, trace)?;
        stack.spmd.boot(PRIMARY_CPU)?;
        for cpu in 0..CPU_COUNT {
            if cpu != PRIMARY_CPU {
                stack.spmd.cpu_on(cpu)?;
            }
        }
        Ok(stack)
    }

    /// The standard stack (echo, relay, legacy), booted.
    pub fn standard(trace: Trace) -> Result<Self, HarnessError> {
        Self::boot(standard_partitions(), trace)
    }

    /// An SMC from the normal world (made by `caller`) on `cpu`.
    pub fn nwd_call(&mut self, cpu: u16, caller: Agent, regs: &Regs) -> Result<Regs, HarnessError> {
        self.spmd.nwd_call(cpu, caller, regs)
    }

    /// The simulated memory.
    pub fn memory(&self) -> &SimMemory {
        &self.memory
    }

    /// The SPMD model (its log, the partition entries, the SPMC core).
    pub fn spmd(&self) -> &Spmd<SpmcCore> {
        &self.spmd
    }

    /// The SPMD model, mutably.
    pub fn spmd_mut(&mut self) -> &mut Spmd<SpmcCore> {
        &mut self.spmd
    }

    /// The configuration the SPMC was built from.
    pub fn config(&self) -> &SpmcConfig {
        &self.config
    }

    /// The settled endpoint ID of the partition named `name`.
    pub fn partition_id(&self, name: &str) -> Option<EndpointId> {
        self.config
            .partitions
            .iter()
            .find(|p| p.config.name.as_str() == name)
            .map(|p| p.id)
    }

    /// The hop recorder.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }
}

/// What BL2 leaves in secure RAM: TOS_FW_CONFIG, and one SPKG v2 package per partition: the
/// header at the load address (magic, version 2, manifest offset and size, image offset and
/// size, as TF-A's packaging writes it; the SPMC replaces it by the boot-information blob),
/// the manifest DTB at +0x1000, and the image at +0x4000, empty: the behaviour lives in Rust.
fn load_images(memory: &SimMemory, specs: &[ManifestSpec]) -> Result<(), HarnessError> {
    let spmc_manifest = config::spmc_manifest_dtb(SPMC_ID, SPMC_VERSION, specs)?;
    if spmc_manifest.len() > 4096 {
        return Err(HarnessError::Config(format!(
            "SPMC manifest is {} bytes; the SPMD maps one 4 KiB page",
            spmc_manifest.len()
        )));
    }
    write_secure(memory, TOS_FW_CONFIG, &spmc_manifest)?;
    for spec in specs {
        let dtb = config::partition_manifest_dtb(spec)?;
        let room = (SPKG_IMAGE_OFFSET - SPKG_MANIFEST_OFFSET) as usize;
        let pm_size = u32::try_from(dtb.len())
            .ok()
            .filter(|_| dtb.len() <= room)
            .ok_or_else(|| HarnessError::Config(format!("manifest of {} too large", spec.name)))?;
        let mut header = Vec::with_capacity(24);
        for word in [
            u32::from_le_bytes(*b"SPKG"),
            2,
            SPKG_MANIFEST_OFFSET,
            pm_size,
            SPKG_IMAGE_OFFSET,
            0,
        ] {
            header.extend_from_slice(&word.to_le_bytes());
        }
        write_secure(memory, spec.load_address, &header)?;
        let manifest_at = spec.load_address + u64::from(SPKG_MANIFEST_OFFSET);
        write_secure(memory, manifest_at, &dtb)?;
    }
    Ok(())
}

/// The manifest regions the SPMC's stage-2 tables map a partition besides its own memory:
/// memory regions with a fixed base and every device region, each in its space.
fn stage2_regions(config: &PartitionConfig) -> Vec<(Space, Range<u64>)> {
    config
        .memory_regions
        .iter()
        .chain(&config.device_regions)
        .filter_map(|region| {
            let base = region.base?;
            let len = u64::from(region.pages).checked_mul(ffa::PAGE_SIZE as u64)?;
            let space = if region.non_secure {
                Space::NonSecure
            } else {
                Space::Secure
            };
            Some((space, base..base.checked_add(len)?))
        })
        .collect()
}

fn write_secure(memory: &SimMemory, addr: u64, data: &[u8]) -> Result<(), HarnessError> {
    memory
        .write(Space::Secure, addr, data)
        .map_err(|fault| HarnessError::Config(format!("loading images: {fault}")))
}
