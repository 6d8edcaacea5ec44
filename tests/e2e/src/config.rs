//! The SPMC's configuration, built the way firmware gets it: each partition's FF-A manifest and
//! the SPMC manifest are written as DTBs, then parsed by the SPMC's own manifest parser.

use dtoolkit::model::{DeviceTree, DeviceTreeNode, DeviceTreeProperty};
use ffa::{Uuid, UuidHelper, Version};
use spmc::loader;
use spmc::manifest::{self, PartitionConfig, SpmcConfig};
use spmc::memory_map::{PlatformMemory, Range, SpmcResource, qemu_virt};

use crate::error::HarnessError;

/// What one partition manifest says, in the binding's own terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestSpec {
    /// `description`.
    pub name: String,
    /// `id`, if the manifest has one.
    pub id: Option<u16>,
    /// `uuid` (one or more).
    pub uuids: Vec<Uuid>,
    /// `ffa-version`.
    pub ffa_version: Version,
    /// `exception-level` (1 = S-EL0, 2 = S-EL1).
    pub exception_level: u32,
    /// `execution-ctx-count`.
    pub execution_ctx_count: u16,
    /// `messaging-method`.
    pub messaging_method: u32,
    /// `boot-order`, if any.
    pub boot_order: Option<u16>,
    /// `load-address` (also the `vmN/load_address` of the SPMC manifest).
    pub load_address: u64,
    /// `entrypoint-offset`.
    pub entrypoint_offset: u64,
    /// The SPMC manifest's `vmN/mem_size`.
    pub memory_size: u64,
    /// `gp-register-num`, if any (the boot-info blob's register; the manifest then also gets
    /// a `boot-info` node asking for the manifest in it).
    pub gp_register_num: Option<u8>,
    /// `device-regions`.
    pub device_regions: Vec<DeviceRegionSpec>,
    /// `notification-support`.
    pub notification_support: bool,
}

/// One `device-regions` child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRegionSpec {
    /// Node name and `description`.
    pub name: String,
    /// `base-address`.
    pub base: u64,
    /// `pages-count`.
    pub pages: u32,
    /// `attributes`.
    pub attributes: u32,
}

impl ManifestSpec {
    /// The manifest of a test partition, as `sp-manifests/<name>.dts` writes it.
    pub fn from_definition(def: &test_partitions::Definition) -> Self {
        Self {
            name: def.name.into(),
            id: def.id,
            uuids: def.uuids.to_vec(),
            ffa_version: def.ffa_version,
            exception_level: 2,
            execution_ctx_count: def.exec_ctx_count,
            messaging_method: def.messaging,
            boot_order: Some(def.boot_order),
            load_address: def.load_address,
            entrypoint_offset: def.entrypoint_offset,
            memory_size: def.memory_size,
            gp_register_num: def.boot_info_register,
            // They print through FFA_CONSOLE_LOG: no device.
            device_regions: Vec::new(),
            notification_support: def.notifications,
        }
    }
}

fn prop<T: dtoolkit::ToPropertyValue>(
    name: &str,
    value: T,
) -> Result<DeviceTreeProperty, HarnessError> {
    DeviceTreeProperty::new(name, value).map_err(|e| HarnessError::Config(format!("{name}: {e}")))
}

fn node(name: &str) -> Result<DeviceTreeNode, HarnessError> {
    DeviceTreeNode::new(name).map_err(|e| HarnessError::Config(format!("node {name}: {e}")))
}

fn cells64(value: u64) -> [u32; 2] {
    [(value >> 32) as u32, value as u32]
}

/// One cell when the value fits, as hand-written manifests do; two otherwise.
fn int_cells(value: u64) -> Vec<u32> {
    match u32::try_from(value) {
        Ok(small) => vec![small],
        Err(_) => cells64(value).to_vec(),
    }
}

fn version_cell(v: Version) -> u32 {
    ffa::version::to_u32(v)
}

/// The FF-A partition manifest (`arm,ffa-manifest-1.0`) of `spec`, as a DTB.
pub fn partition_manifest_dtb(spec: &ManifestSpec) -> Result<Vec<u8>, HarnessError> {
    let mut tree = DeviceTree::new();
    let root = &mut tree.root;
    root.add_property(prop("compatible", "arm,ffa-manifest-1.0")?);
    root.add_property(prop("description", spec.name.as_str())?);
    root.add_property(prop("ffa-version", version_cell(spec.ffa_version))?);
    let uuid_cells: Vec<u32> = spec
        .uuids
        .iter()
        .flat_map(|u| UuidHelper::to_u32_regs(*u))
        .collect();
    root.add_property(prop("uuid", uuid_cells)?);
    if let Some(id) = spec.id {
        root.add_property(prop("id", u32::from(id))?);
    }
    root.add_property(prop(
        "execution-ctx-count",
        u32::from(spec.execution_ctx_count),
    )?);
    root.add_property(prop("exception-level", spec.exception_level)?);
    root.add_property(prop("execution-state", 0u32)?);
    root.add_property(prop("load-address", int_cells(spec.load_address))?);
    root.add_property(prop(
        "entrypoint-offset",
        int_cells(spec.entrypoint_offset),
    )?);
    root.add_property(prop("xlat-granule", 0u32)?);
    if let Some(order) = spec.boot_order {
        root.add_property(prop("boot-order", u32::from(order))?);
    }
    root.add_property(prop("messaging-method", spec.messaging_method)?);
    if spec.notification_support {
        root.add_property(prop("notification-support", Vec::<u8>::new())?);
    }
    if let Some(reg) = spec.gp_register_num {
        root.add_property(prop("gp-register-num", u32::from(reg))?);
        let mut boot_info = node("boot-info")?;
        boot_info.add_property(prop("compatible", "arm,ffa-manifest-boot-info")?);
        boot_info.add_property(prop("ffa_manifest", Vec::<u8>::new())?);
        root.add_child(boot_info);
    }
    if !spec.device_regions.is_empty() {
        let mut regions = node("device-regions")?;
        regions.add_property(prop("compatible", "arm,ffa-manifest-device-regions")?);
        for region in &spec.device_regions {
            let mut child = node(&region.name)?;
            child.add_property(prop("description", region.name.as_str())?);
            child.add_property(prop("base-address", cells64(region.base))?);
            child.add_property(prop("pages-count", region.pages)?);
            child.add_property(prop("attributes", region.attributes)?);
            regions.add_child(child);
        }
        root.add_child(regions);
    }
    Ok(tree.to_dtb())
}

/// The SPMC manifest (TOS_FW_CONFIG, Hafnium's `vmN` format) for these partitions, as a DTB.
pub fn spmc_manifest_dtb(
    spmc_id: u16,
    version: Version,
    specs: &[ManifestSpec],
) -> Result<Vec<u8>, HarnessError> {
    let mut tree = DeviceTree::new();
    let root = &mut tree.root;
    root.add_property(prop("compatible", "arm,ffa-core-manifest-1.0")?);
    root.add_property(prop("#address-cells", 2u32)?);
    root.add_property(prop("#size-cells", 1u32)?);
    let mut attribute = node("attribute")?;
    attribute.add_property(prop("spmc_id", u32::from(spmc_id))?);
    attribute.add_property(prop("maj_ver", u32::from(version.0))?);
    attribute.add_property(prop("min_ver", u32::from(version.1))?);
    attribute.add_property(prop("exec_state", 0u32)?);
    attribute.add_property(prop("load_address", cells64(0x0e10_0000))?);
    attribute.add_property(prop("entrypoint", cells64(0x0e10_0000))?);
    attribute.add_property(prop("binary_size", 0x20_0000u32)?);
    root.add_child(attribute);
    let mut hypervisor = node("hypervisor")?;
    hypervisor.add_property(prop("compatible", "hafnium,hafnium")?);
    for (i, spec) in specs.iter().enumerate() {
        let mut vm = node(&format!("vm{}", i + 1))?;
        vm.add_property(prop("is_ffa_partition", Vec::<u8>::new())?);
        vm.add_property(prop("debug_name", spec.name.as_str())?);
        vm.add_property(prop("load_address", int_cells(spec.load_address))?);
        vm.add_property(prop("vcpu_count", u32::from(spec.execution_ctx_count))?);
        vm.add_property(prop("mem_size", int_cells(spec.memory_size))?);
        hypervisor.add_child(vm);
    }
    root.add_child(hypervisor);
    // The boot core first, then the others in reverse: index = Aff0.
    let mut cpus = node("cpus")?;
    cpus.add_property(prop("#address-cells", 2u32)?);
    cpus.add_property(prop("#size-cells", 0u32)?);
    for aff0 in [0u32, 3, 2, 1] {
        let mut cpu = node(&format!("cpu@{aff0}"))?;
        cpu.add_property(prop("device_type", "cpu")?);
        cpu.add_property(prop("reg", [0, aff0])?);
        cpus.add_child(cpu);
    }
    root.add_child(cpus);
    for (name, device_type, range) in [
        ("memory@e100000", "memory", SECURE_MEMORY),
        ("memory@40000000", "ns-memory", NS_MEMORY),
    ] {
        let mut memory = node(name)?;
        memory.add_property(prop("device_type", device_type)?);
        let (start, len) = (range.start(), range.len());
        memory.add_property(prop(
            "reg",
            [(start >> 32) as u32, start as u32, len as u32],
        )?);
        root.add_child(memory);
    }
    Ok(tree.to_dtb())
}

/// The secure memory partitions may have, as sp-manifests/spmc_manifest.dts says: TF-A's
/// secure DRAM.
pub const SECURE_MEMORY: Range = range(0x0e10_0000, 0xf0_0000);
/// Normal-world RAM (QEMU's `-m 1024`).
pub const NS_MEMORY: Range = qemu_virt::DEFAULT_NS_RAM;

/// What the SPMC image reserves on QEMU (spmc/src/arch): its manifest page, the secure UART,
/// the GIC distributor and redistributors.
pub const QEMU_RESERVED: [(SpmcResource, Range); 4] = qemu_virt::RESERVED;

const fn range(start: u64, len: u64) -> Range {
    match Range::new(start, len) {
        Some(r) => r,
        None => panic!("empty range"),
    }
}

/// Writes every manifest, parses them with the SPMC's parser and validates the set.
pub fn build_spmc_config(
    spmc_id: u16,
    version: Version,
    specs: &[ManifestSpec],
) -> Result<SpmcConfig, HarnessError> {
    let spmc_dtb = spmc_manifest_dtb(spmc_id, version, specs)?;
    let platform = PlatformMemory {
        reserved: &QEMU_RESERVED,
        default_non_secure: NS_MEMORY,
    };
    let plan = loader::plan(&spmc_dtb, &platform)
        .map_err(|e| HarnessError::Config(format!("SPMC manifest: {e}")))?;
    // The packages the SPMC would read: those of admitted vmN nodes.
    let mut partitions: Vec<PartitionConfig> = Vec::with_capacity(specs.len());
    for spec in specs {
        if !plan
            .admitted
            .iter()
            .any(|vm| vm.load_address == spec.load_address)
        {
            continue;
        }
        let dtb = partition_manifest_dtb(spec)?;
        let parsed = manifest::parse_partition(&dtb)
            .map_err(|e| HarnessError::Config(format!("manifest of {}: {e}", spec.name)))?;
        partitions.push(parsed);
    }
    plan.assemble(partitions)
        .map_err(|e| HarnessError::Config(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spmc::manifest::{ExceptionLevel, MessagingMethod};

    fn spec(name: &str, id: Option<u16>, order: Option<u16>, load: u64) -> ManifestSpec {
        ManifestSpec {
            name: name.into(),
            id,
            uuids: vec![Uuid::from_u128(
                0x5e2c8a16_3f3b_4a57_9c0d_7b1e2f3a4c5d + load as u128,
            )],
            ffa_version: Version(1, 2),
            exception_level: 2,
            execution_ctx_count: 1,
            messaging_method: MessagingMethod::DIRECT_REQ_RECV | MessagingMethod::DIRECT_REQ_SEND,
            boot_order: order,
            load_address: load,
            entrypoint_offset: 0x4000,
            memory_size: 0x10_0000,
            gp_register_num: None,
            notification_support: false,
            device_regions: Vec::new(),
        }
    }

    #[test]
    fn uuid_cells_use_the_register_order() {
        let mut s = spec("echo", Some(0x8001), Some(0), 0x0e30_0000);
        s.uuids = vec![Uuid::parse_str("5e2c8a16-3f3b-4a57-9c0d-7b1e2f3a4c5d").unwrap()];
        let dtb = partition_manifest_dtb(&s).unwrap();
        let fdt = dtoolkit::fdt::Fdt::new(&dtb).unwrap();
        let uuid = dtoolkit::Node::property(&fdt.root(), "uuid").unwrap();
        let bytes = dtoolkit::Property::value(&uuid);
        // The documented cells of this UUID: <0x168a2c5e 0x574a3b3f 0x1e7b0d9c 0x5d4c3a2f>.
        assert_eq!(&bytes[..4], &0x168a_2c5e_u32.to_be_bytes());
        assert_eq!(&bytes[12..], &0x5d4c_3a2f_u32.to_be_bytes());
    }

    #[test]
    fn parses_back_and_assigns_missing_ids() {
        let specs = [
            spec("echo", Some(0x8001), Some(0), 0x0e30_0000),
            spec("relay", Some(0x8002), Some(1), 0x0e40_0000),
            spec("legacy", None, Some(2), 0x0e50_0000),
        ];
        let config = build_spmc_config(0x8000, Version(1, 2), &specs).unwrap();
        let ids: Vec<u16> = config.partitions.iter().map(|p| p.id.0).collect();
        assert_eq!(ids, [0x8001, 0x8002, 0x8003]);
        let legacy = &config.partitions[2].config;
        assert_eq!(legacy.name.as_str(), "legacy");
        assert_eq!(legacy.memory_size, 0x10_0000);
        assert_eq!(legacy.exception_level, ExceptionLevel::SEl1);
        assert_eq!(legacy.uuids[0], specs[2].uuids[0]);
        assert_eq!(config.attributes.spmc_id.0, 0x8000);
    }

    #[test]
    fn test_partitions_parse_as_their_definitions_say() {
        let specs: Vec<ManifestSpec> = test_partitions::DEFINITIONS
            .iter()
            .map(ManifestSpec::from_definition)
            .collect();
        let config = build_spmc_config(test_partitions::SPMC_ID, Version(1, 2), &specs).unwrap();
        assert_eq!(config.partitions.len(), test_partitions::DEFINITIONS.len());
        for (def, p) in test_partitions::DEFINITIONS.iter().zip(&config.partitions) {
            assert_eq!(p.id.0, def.endpoint_id, "{}", def.name);
            assert_eq!(p.config.name.as_str(), def.name);
            assert_eq!(p.config.uuids.as_slice(), def.uuids);
            assert_eq!(p.config.ffa_version, def.ffa_version);
            assert_eq!(p.config.execution_ctx_count, def.exec_ctx_count);
            assert_eq!(p.config.messaging.0, def.messaging);
            assert_eq!(p.config.boot_order, Some(def.boot_order));
            assert_eq!(p.config.load_address, def.load_address);
            assert_eq!(p.config.memory_size, def.memory_size);
            assert_eq!(p.config.entrypoint_offset, def.entrypoint_offset);
            assert_eq!(p.config.gp_register_num, Some(0));
            assert!(p.config.device_regions.is_empty());
        }
        assert_eq!(
            config.partitions[2].config.id, None,
            "legacy has no manifest ID"
        );
        assert_eq!(config.partitions[2].id.0, 0x8003);
        assert!(config.refused.is_empty());
    }

    #[test]
    fn a_partition_given_the_secure_uart_is_refused() {
        let mut specs: Vec<ManifestSpec> = test_partitions::DEFINITIONS
            .iter()
            .map(ManifestSpec::from_definition)
            .collect();
        specs[1].device_regions.push(DeviceRegionSpec {
            name: "uart1".into(),
            base: 0x0904_0000,
            pages: 1,
            attributes: 0x3,
        });
        let config = build_spmc_config(test_partitions::SPMC_ID, Version(1, 2), &specs).unwrap();
        let hosted: Vec<&str> = config
            .partitions
            .iter()
            .map(|p| p.config.name.as_str())
            .collect();
        assert_eq!(hosted, ["echo", "legacy", "hostile"]);
        assert_eq!(config.refused.len(), 1);
        assert!(
            config.refused[0]
                .to_string()
                .contains("refused: device region 0"),
            "{}",
            config.refused[0]
        );
    }

    #[test]
    fn the_parser_rejects_what_the_writer_got_wrong() {
        // The SPMC's own ID.
        let bad = spec("echo", Some(0x8000), Some(0), 0x0e30_0000);
        let err = build_spmc_config(0x8000, Version(1, 2), &[bad]).unwrap_err();
        assert!(matches!(err, HarnessError::Config(_)), "{err:?}");
        // A normal-world ID is replaced as Hafnium numbers partitions (vm1: 0x8001).
        let ns = spec("echo", Some(0x0001), Some(0), 0x0e30_0000);
        let config = build_spmc_config(0x8000, Version(1, 2), &[ns]).unwrap();
        assert_eq!(config.partitions[0].id.0, 0x8001);
    }
}
