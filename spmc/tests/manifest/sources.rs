//! The project's manifest sources (sp-manifests/): compiled with the DTS subset compiler and
//! fed to the real parsers, checked against the fixed partition set, and checked for the
//! text rules TF-A's build scripts impose (boot-chain.md P4-P6).

use crate::dts;
use ffa::{EndpointId, Uuid, Version};
use spmc::cpu_map::{Affinity, CpuMap};
use spmc::loader::plan;
use spmc::manifest::{
    ExceptionLevel, MessagingMethod, PartitionConfig, parse_partition, parse_spmc_manifest,
};
use spmc::memory_map::{MemoryKind, PlatformMemory, Range, SpmcResource, qemu_virt};
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sp-manifests")
}

fn source(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn dtb(name: &str) -> Vec<u8> {
    dts::compile(&source(name)).to_dtb()
}

/// What the arch layer reserves on QEMU virt: the manifest page, the secure UART, the GIC.
pub const QEMU_RESERVED: [(SpmcResource, Range); 4] = qemu_virt::RESERVED;

/// [`QEMU_RESERVED`] and the default NS window the arch layer falls back to.
pub fn qemu_platform() -> PlatformMemory<'static> {
    PlatformMemory {
        reserved: &QEMU_RESERVED,
        default_non_secure: qemu_virt::DEFAULT_NS_RAM,
    }
}

struct Expected {
    file: &'static str,
    name: &'static str,
    id: Option<u16>,
    uuids: &'static [&'static str],
    version: Version,
    contexts: u16,
    load_address: u64,
    boot_order: u16,
    messaging: u32,
}

const PARTITIONS: [Expected; 4] = [
    Expected {
        file: "echo.dts",
        name: "echo",
        id: Some(0x8001),
        uuids: &["2f6d6c1a-9b3e-4c4f-8e2a-5d7b1c0a9e31"],
        version: Version(1, 2),
        contexts: 1,
        load_address: 0x0e30_0000,
        boot_order: 0,
        messaging: 0x607,
    },
    Expected {
        file: "relay.dts",
        name: "relay",
        id: Some(0x8002),
        uuids: &[
            "7c1f3a2e-5d4b-4e6a-9f80-1b2c3d4e5f60",
            "a9e8d7c6-b5a4-4392-8170-6f5e4d3c2b1a",
        ],
        version: Version(1, 2),
        contexts: 4,
        load_address: 0x0e40_0000,
        boot_order: 1,
        messaging: 0x607,
    },
    Expected {
        file: "legacy.dts",
        name: "legacy",
        id: None,
        uuids: &["0d1e2f30-4152-4637-8899-aabbccddeeff"],
        version: Version(1, 1),
        contexts: 1,
        load_address: 0x0e50_0000,
        boot_order: 2,
        messaging: 0x7,
    },
    Expected {
        file: "hostile.dts",
        name: "hostile",
        id: Some(0x8004),
        uuids: &["6b0571e0-3c2d-4a9b-b1f4-0d6e8a7c5b13"],
        version: Version(1, 2),
        contexts: 1,
        load_address: 0x0e60_0000,
        boot_order: 3,
        messaging: 0x3,
    },
];

fn parsed(expected: &Expected) -> PartitionConfig {
    parse_partition(&dtb(expected.file)).unwrap_or_else(|e| panic!("{}: {e}", expected.file))
}

#[test]
fn partition_manifests_hold_the_fixed_values() {
    for expected in &PARTITIONS {
        let config = parsed(expected);
        let file = expected.file;
        assert_eq!(config.name.as_str(), expected.name, "{file}");
        assert_eq!(config.id, expected.id.map(EndpointId), "{file}");
        let uuids: Vec<Uuid> = expected
            .uuids
            .iter()
            .map(|u| Uuid::parse_str(u).unwrap())
            .collect();
        assert_eq!(config.uuids.as_slice(), uuids.as_slice(), "{file}");
        assert_eq!(config.ffa_version, expected.version, "{file}");
        assert_eq!(config.exception_level, ExceptionLevel::SEl1, "{file}");
        assert_eq!(config.execution_ctx_count, expected.contexts, "{file}");
        assert_eq!(config.load_address, expected.load_address, "{file}");
        assert_eq!(config.entrypoint_offset, 0x4000, "{file}");
        assert_eq!(config.boot_order, Some(expected.boot_order), "{file}");
        assert_eq!(
            config.messaging,
            MessagingMethod(expected.messaging),
            "{file}"
        );
        assert_eq!(config.gp_register_num, Some(0), "{file}");
        assert!(config.memory_regions.is_empty(), "{file}");
        // They print through FFA_CONSOLE_LOG: the secure UART is the SPMC's alone.
        assert!(config.device_regions.is_empty(), "{file}");
    }
}

#[test]
fn partition_manifests_follow_the_sp_mk_generator_rules() {
    for expected in &PARTITIONS {
        let file = expected.file;
        let text = source(file);
        let (code, comments) = dts::split_comments(&text);
        assert!(
            text.starts_with("/*"),
            "{file}: starts with a comment saying what it is for"
        );
        assert!(
            !comments.contains("uuid"),
            "{file}: a comment mentions uuid"
        );
        assert!(
            !comments.contains("load-address"),
            "{file}: a comment mentions load-address"
        );

        // Exactly one line holds the UUIDs, as lowercase 8-digit words; TF-A takes the
        // first four as the FIP blob UUID.
        let uuid_lines: Vec<&str> = text.lines().filter(|l| l.contains("uuid")).collect();
        assert_eq!(uuid_lines.len(), 1, "{file}: {uuid_lines:?}");
        let words: Vec<&str> = uuid_lines[0]
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| w.starts_with("0x"))
            .collect();
        assert_eq!(words.len(), 4 * expected.uuids.len(), "{file}");
        for word in &words {
            let digits = &word[2..];
            assert!(
                digits.len() == 8
                    && digits
                        .chars()
                        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
                "{file}: {word}"
            );
        }
        let first: Vec<u8> = words[..4]
            .iter()
            .flat_map(|w| u32::from_str_radix(&w[2..], 16).unwrap().to_le_bytes())
            .collect();
        assert_eq!(
            Uuid::from_slice(&first).unwrap().to_string(),
            expected.uuids[0],
            "{file}"
        );

        // One load-address line, lowercase hex.
        let load_lines: Vec<&str> = code
            .lines()
            .filter(|l| l.contains("load-address"))
            .collect();
        assert_eq!(load_lines.len(), 1, "{file}");
        assert_eq!(
            load_lines[0].trim(),
            format!("load-address = <{:#x}>;", expected.load_address),
            "{file}"
        );
    }
}

#[test]
fn spmc_manifest_matches_the_partitions() {
    let blob = dtb("spmc_manifest.dts");
    assert!(
        blob.len() <= 4096,
        "TOS_FW_CONFIG is {} bytes; the SPMD maps one page",
        blob.len()
    );
    let manifest = parse_spmc_manifest(&blob).unwrap();
    assert_eq!(manifest.attributes.spmc_id, EndpointId(0x8000));
    assert_eq!(manifest.attributes.version, Version(1, 2));
    assert_eq!(manifest.image, Range::new(0x0e10_0000, 0x20_0000));
    assert_eq!(manifest.vms.len(), PARTITIONS.len());
    for (vm, expected) in manifest.vms.iter().zip(&PARTITIONS) {
        assert_eq!(vm.debug_name.as_str(), expected.name);
        assert_eq!(vm.load_address, expected.load_address);
        assert_eq!(vm.vcpu_count, expected.contexts);
        assert_eq!(vm.mem_size, 0x10_0000);
    }

    // What the TF-A side reads (the SPMD's attribute parser, boot-chain.md section 2).
    let tree = dts::compile(&source("spmc_manifest.dts"));
    let attribute = tree.find_node("/attribute").unwrap();
    use dtoolkit::{Node, Property};
    let cells = |name: &str| attribute.property(name).unwrap().value().to_vec();
    assert_eq!(cells("load_address"), 0x0e10_0000u64.to_be_bytes());
    assert_eq!(cells("entrypoint"), 0x0e10_0000u64.to_be_bytes());
    assert_eq!(cells("binary_size"), 0x20_0000u32.to_be_bytes());
    assert_eq!(cells("exec_state"), 0u32.to_be_bytes());
    let cpus: Vec<String> = tree
        .find_node("/cpus")
        .unwrap()
        .children()
        .map(|c| c.name().to_string())
        .collect();
    // Hafnium's order: the boot core, then the others in reverse.
    assert_eq!(cpus, ["cpu@0", "cpu@3", "cpu@2", "cpu@1"]);
    // Each core's index is its Aff0, as TF-A numbers QEMU's cores.
    let map = CpuMap::new(manifest.cpus.as_ref(), Affinity::aff0(0)).unwrap();
    assert!(!map.is_default());
    let by_index: Vec<_> = map.iter().map(|(cpu, a)| (cpu.0, a.to_mpidr())).collect();
    assert_eq!(by_index, [(0, 0), (1, 1), (2, 2), (3, 3)]);

    // TF-A's secure DRAM (the first MiB of secure RAM is EL3's), 1 GiB of NS RAM and the
    // unbacked MiB past it (scenario hostile_hypervisor_buffers), no device.
    let memory = &manifest.memory;
    assert_eq!(
        memory.ranges(MemoryKind::Secure),
        Some(&[Range::new(0x0e10_0000, 0xf0_0000).unwrap()][..])
    );
    assert_eq!(
        memory.ranges(MemoryKind::NonSecure),
        Some(
            &[
                Range::new(0x4000_0000, 0x4000_0000).unwrap(),
                Range::new(0x8000_0000, 0x10_0000).unwrap()
            ][..]
        )
    );
    assert_eq!(memory.ranges(MemoryKind::Device), None);
    assert_eq!(memory.ranges(MemoryKind::NonSecureDevice), None);
}

#[test]
fn the_whole_set_boots_with_the_documented_ids() {
    let plan = plan(&dtb("spmc_manifest.dts"), &qemu_platform()).unwrap();
    assert!(plan.refused.is_empty());
    let config = plan.assemble(PARTITIONS.iter().map(parsed)).unwrap();
    assert_eq!(config.refused, []);
    let booted: Vec<(&str, u16, u64)> = config
        .partitions
        .iter()
        .map(|p| (p.config.name.as_str(), p.id.0, p.config.memory_size))
        .collect();
    assert_eq!(
        booted,
        [
            ("echo", 0x8001, 0x10_0000),
            ("relay", 0x8002, 0x10_0000),
            ("legacy", 0x8003, 0x10_0000),
            ("hostile", 0x8004, 0x10_0000)
        ]
    );
}

#[test]
fn tb_fw_config_lists_the_packages() {
    let tree = dts::compile(&source("tb_fw_config.dts"));
    use dtoolkit::{Node, Property};
    let sps = tree.find_node("/secure-partitions").unwrap();
    assert_eq!(sps.property("compatible").unwrap().value(), b"arm,sp\0");
    let children: Vec<_> = sps.children().collect();
    assert_eq!(children.len(), PARTITIONS.len());
    for (i, (sp, expected)) in children.iter().zip(&PARTITIONS).enumerate() {
        assert_eq!(sp.name(), format!("sp{}", i + 1));
        let uuid = format!("{}\0", expected.uuids[0]);
        assert_eq!(
            sp.property("uuid").unwrap().value(),
            uuid.as_bytes(),
            "{}",
            sp.name()
        );
        // BL2 reads one cell.
        let load = u32::try_from(expected.load_address).unwrap().to_be_bytes();
        assert_eq!(
            sp.property("load-address").unwrap().value(),
            load,
            "{}",
            sp.name()
        );
    }
}

/// The value of `"key": "value"` inside the object of `"sp"`; the layout file is flat and
/// small, so plain text search is enough.
fn layout_entry(json: &str, sp: &str, key: &str) -> String {
    let object_start = json
        .find(&format!("\"{sp}\""))
        .unwrap_or_else(|| panic!("{sp} missing"));
    let object = &json[object_start..];
    let object = &object[..object.find('}').unwrap()];
    let key_at = object
        .find(&format!("\"{key}\""))
        .unwrap_or_else(|| panic!("{sp}.{key} missing"));
    let value = object[key_at + key.len() + 2..].split('"').nth(1).unwrap();
    value.to_string()
}

#[test]
fn sp_layout_maps_packages_to_images_and_manifests() {
    let json = source("sp_layout.json");
    let images = ["echo", "relay", "legacy", "hostile"];
    for (i, (expected, image)) in PARTITIONS.iter().zip(images).enumerate() {
        let sp = format!("sp{}", i + 1);
        assert_eq!(
            layout_entry(&json, &sp, "image"),
            format!("../build/sp/{image}.bin")
        );
        let pm = layout_entry(&json, &sp, "pm");
        assert_eq!(pm, expected.file);
        assert!(dir().join(&pm).is_file(), "{pm}");
    }
    assert!(!json.contains("\"sp5\""));
}
