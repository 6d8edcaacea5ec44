//! `SpmcConfig::new` (endpoint IDs, boot order, limits) and completing partitions with
//! their `vmN` nodes.

use crate::builder::*;
use ffa::{EndpointId, Version};
use spmc::manifest::{
    ConfigError, MAX_PARTITIONS, PartitionConfig, PartitionRef, SpmcAttributes, SpmcConfig, VmNode,
    apply_vm_nodes, parse_partition,
};

fn attributes(spmc_id: u16) -> SpmcAttributes {
    SpmcAttributes {
        spmc_id: EndpointId(spmc_id),
        version: Version(1, 2),
    }
}

/// A partition named `name` at `load_address`, with an optional manifest ID and boot order.
fn partition(
    name: &str,
    load_address: u64,
    id: Option<u16>,
    boot_order: Option<u16>,
) -> PartitionConfig {
    let mut tree = minimal_partition()
        .set("description", Str(name))
        .set("load-address", Cells2(load_address));
    if let Some(id) = id {
        tree = tree.set("id", Cell(id.into()));
    }
    if let Some(order) = boot_order {
        tree = tree.set("boot-order", Cell(order.into()));
    }
    parse_partition(&tree.dtb()).unwrap()
}

fn ids(config: &SpmcConfig) -> Vec<(String, u16)> {
    config
        .partitions
        .iter()
        .map(|p| (p.config.name.to_string(), p.id.0))
        .collect()
}

fn named(pairs: &[(&str, u16)]) -> Vec<(String, u16)> {
    pairs.iter().map(|(n, id)| (n.to_string(), *id)).collect()
}

fn reference(name: &str, load_address: u64) -> PartitionRef {
    PartitionRef {
        name: name.try_into().unwrap(),
        load_address,
    }
}

#[test]
fn manifest_ids_honoured_missing_ones_assigned_upward_skipping_used() {
    let config = SpmcConfig::new(
        attributes(0x8000),
        [
            partition("a", 0x1000_0000, None, Some(0)),
            partition("b", 0x1100_0000, Some(0x8001), Some(1)),
            partition("c", 0x1200_0000, None, Some(2)),
            partition("d", 0x1300_0000, Some(0x8003), Some(3)),
            partition("e", 0x1400_0000, None, Some(4)),
        ],
    )
    .unwrap();
    assert_eq!(
        ids(&config),
        named(&[
            ("a", 0x8002),
            ("b", 0x8001),
            ("c", 0x8004),
            ("d", 0x8003),
            ("e", 0x8005)
        ])
    );
    // The manifest's own ID stays recorded as given.
    assert_eq!(config.partitions[0].config.id, None);
    assert_eq!(config.partitions[1].config.id, Some(EndpointId(0x8001)));
    assert_eq!(config.attributes, attributes(0x8000));
}

#[test]
fn assigned_ids_start_above_the_spmc_id() {
    let config = SpmcConfig::new(
        attributes(0x8010),
        [
            partition("low", 0x1000_0000, Some(0x8001), Some(0)),
            partition("free", 0x1100_0000, None, Some(1)),
        ],
    )
    .unwrap();
    assert_eq!(ids(&config), named(&[("low", 0x8001), ("free", 0x8011)]));

    // Nothing is left above 0xfffe but the SPMD's ID.
    let error = SpmcConfig::new(
        attributes(0xfffe),
        [partition("late", 0x1000_0000, None, None)],
    )
    .unwrap_err();
    assert_eq!(
        error,
        ConfigError::NoFreeId {
            partition: reference("late", 0x1000_0000)
        }
    );
}

#[test]
fn duplicate_ids_name_both_partitions() {
    let error = SpmcConfig::new(
        attributes(0x8000),
        [
            partition("echo", 0x0e30_0000, Some(0x8001), None),
            partition("other", 0x0e40_0000, None, None),
            partition("clash", 0x0e50_0000, Some(0x8001), None),
        ],
    )
    .unwrap_err();
    assert_eq!(
        error,
        ConfigError::DuplicateId {
            id: EndpointId(0x8001),
            first: reference("echo", 0x0e30_0000),
            second: reference("clash", 0x0e50_0000),
        }
    );
    assert_eq!(
        error.to_string(),
        "partition \"echo\" at 0xe300000 and partition \"clash\" at 0xe500000 both claim endpoint ID 0x8001"
    );
}

#[test]
fn ids_must_be_secure_and_not_reserved() {
    let error = SpmcConfig::new(
        attributes(0x8000),
        [partition("ns", 0x1000_0000, Some(0x0001), None)],
    )
    .unwrap_err();
    assert_eq!(
        error,
        ConfigError::NotSecure {
            partition: reference("ns", 0x1000_0000),
            id: EndpointId(1)
        }
    );
    assert!(error.to_string().contains("0x0001"), "{error}");
    for reserved in [0x8000, 0xffff] {
        let error = SpmcConfig::new(
            attributes(0x8000),
            [partition("r", 0x1000_0000, Some(reserved), None)],
        )
        .unwrap_err();
        assert_eq!(
            error,
            ConfigError::ReservedId {
                partition: reference("r", 0x1000_0000),
                id: EndpointId(reserved)
            }
        );
    }
    for spmc_id in [0x0000, 0x7fff, 0xffff] {
        assert_eq!(
            SpmcConfig::new(attributes(spmc_id), []).unwrap_err(),
            ConfigError::InvalidSpmcId(EndpointId(spmc_id))
        );
    }
}

#[test]
fn partition_count_is_bounded() {
    let many = |count: usize| {
        (0..count)
            .map(|i| partition("p", 0x1000_0000 + i as u64 * 0x10_0000, None, None))
            .collect::<Vec<_>>()
    };
    let config = SpmcConfig::new(attributes(0x8000), many(MAX_PARTITIONS)).unwrap();
    assert_eq!(config.partitions.len(), MAX_PARTITIONS);
    assert_eq!(
        SpmcConfig::new(attributes(0x8000), many(MAX_PARTITIONS + 1)).unwrap_err(),
        ConfigError::TooManyPartitions {
            max: MAX_PARTITIONS
        }
    );
    let empty = SpmcConfig::new(attributes(0x8000), []).unwrap();
    assert!(empty.partitions.is_empty());
}

#[test]
fn sorted_by_boot_order_then_id_unordered_last() {
    let config = SpmcConfig::new(
        attributes(0x8000),
        [
            partition("none-high-id", 0x1000_0000, Some(0x8009), None),
            partition("two", 0x1100_0000, Some(0x8002), Some(2)),
            partition("none-low-id", 0x1200_0000, Some(0x8004), None),
            partition("zero", 0x1300_0000, Some(0x8005), Some(0)),
            partition("two-too", 0x1400_0000, Some(0x8001), Some(2)),
            partition("max", 0x1500_0000, Some(0x8003), Some(0xffff)),
        ],
    )
    .unwrap();
    assert_eq!(
        ids(&config),
        named(&[
            ("zero", 0x8005),
            ("two-too", 0x8001),
            ("two", 0x8002),
            ("max", 0x8003),
            ("none-low-id", 0x8004),
            ("none-high-id", 0x8009),
        ])
    );
}

fn vm_node(index: u16, name: &str, load_address: u64, mem_size: u64) -> VmNode {
    VmNode {
        index,
        debug_name: name.try_into().unwrap(),
        load_address,
        vcpu_count: 1,
        mem_size,
    }
}

#[test]
fn vm_nodes_fill_memory_size_by_load_address() {
    let mut partitions = [
        partition("b", 0x0e40_0000, None, None),
        partition("a", 0x0e30_0000, None, None),
    ];
    let vms = [
        vm_node(1, "vm-a", 0x0e30_0000, 0x10_0000),
        vm_node(2, "vm-b", 0x0e40_0000, 0x20_0000),
    ];
    apply_vm_nodes(&mut partitions, &vms).unwrap();
    assert_eq!(partitions[0].memory_size, 0x20_0000);
    assert_eq!(partitions[1].memory_size, 0x10_0000);
    assert_eq!(
        partitions[0].name.as_str(),
        "b",
        "the manifest's description wins"
    );
}

#[test]
fn vm_node_supplies_missing_load_address_and_name() {
    let mut config = parse_partition(&minimal_partition().dtb()).unwrap();
    config
        .apply_vm_node(&vm_node(1, "from-vm", 0x0e30_0000, 0x10_0000))
        .unwrap();
    assert_eq!(config.load_address, 0x0e30_0000);
    assert_eq!(config.memory_size, 0x10_0000);
    assert_eq!(config.name.as_str(), "from-vm");
}

#[test]
fn vm_node_mismatches_rejected() {
    let mut config = partition("p", 0x0e30_0000, None, None);
    assert_eq!(
        config.apply_vm_node(&vm_node(1, "vm", 0x0e40_0000, 0x10_0000)),
        Err(ConfigError::LoadAddressMismatch {
            partition: reference("p", 0x0e30_0000),
            vm_load_address: 0x0e40_0000
        })
    );
    let mut entry_far = parse_partition(
        &minimal_partition()
            .set("description", Str("far"))
            .set("entrypoint-offset", Cell(0x10_0000))
            .dtb(),
    )
    .unwrap();
    assert!(matches!(
        entry_far.apply_vm_node(&vm_node(1, "vm", 0x0e30_0000, 0x10_0000)),
        Err(ConfigError::EntrypointOutsideMemory { .. })
    ));

    let mut partitions = [partition("lost", 0x0e30_0000, None, None)];
    assert_eq!(
        apply_vm_nodes(&mut partitions, &[]),
        Err(ConfigError::NoVmNode {
            partition: reference("lost", 0x0e30_0000)
        })
    );
    let vms = [
        vm_node(1, "vm", 0x0e30_0000, 0x10_0000),
        vm_node(2, "orphan", 0x0e50_0000, 0x10_0000),
    ];
    assert_eq!(
        apply_vm_nodes(&mut partitions, &vms),
        Err(ConfigError::NoPartitionForVm {
            index: 2,
            load_address: 0x0e50_0000
        })
    );
}

#[test]
fn overlapping_partition_memory_rejected() {
    let mut a = partition("a", 0x0e30_0000, None, None);
    let mut b = partition("b", 0x0e38_0000, None, None);
    a.memory_size = 0x10_0000;
    b.memory_size = 0x10_0000;
    assert_eq!(
        SpmcConfig::new(attributes(0x8000), [a.clone(), b.clone()]).unwrap_err(),
        ConfigError::MemoryOverlap {
            first: reference("a", 0x0e30_0000),
            second: reference("b", 0x0e38_0000)
        }
    );
    a.memory_size = 0x8_0000;
    assert!(SpmcConfig::new(attributes(0x8000), [a, b]).is_ok());
}
