//! Untrusted input never makes the parsers panic: arbitrary bytes, damaged valid blobs, and
//! valid blobs whose known properties hold arbitrary values.

use crate::builder::*;
use proptest::prelude::*;
use spmc::cpu_map::MAX_CPUS;
use spmc::manifest::{MAX_UUIDS, PartitionConfig, parse_partition, parse_spmc_manifest};

/// What every accepted partition manifest guarantees.
fn check_invariants(config: &PartitionConfig) {
    assert!(!config.uuids.is_empty() && config.uuids.len() <= MAX_UUIDS);
    assert!(config.execution_ctx_count >= 1);
    assert!(config.load_address.is_multiple_of(4096));
    for region in config.memory_regions.iter().chain(&config.device_regions) {
        assert!(region.pages >= 1);
        if let Some(base) = region.base {
            assert!(base.is_multiple_of(4096));
            assert!(base.checked_add(region.size()).is_some());
        }
    }
}

const PARTITION_PROPERTIES: &[&str] = &[
    "compatible",
    "description",
    "ffa-version",
    "uuid",
    "id",
    "execution-ctx-count",
    "exception-level",
    "execution-state",
    "load-address",
    "entrypoint-offset",
    "xlat-granule",
    "boot-order",
    "messaging-method",
    "gp-register-num",
];

const REGION_PROPERTIES: &[&str] = &[
    "description",
    "pages-count",
    "attributes",
    "base-address",
    "load-address-relative-offset",
];

const SPMC_PROPERTIES: &[(&str, &str)] = &[
    ("attribute", "spmc_id"),
    ("attribute", "maj_ver"),
    ("attribute", "min_ver"),
    ("attribute", "exec_state"),
    ("hypervisor", "compatible"),
    ("hypervisor/vm1", "is_ffa_partition"),
    ("hypervisor/vm1", "debug_name"),
    ("hypervisor/vm1", "load_address"),
    ("hypervisor/vm1", "vcpu_count"),
    ("hypervisor/vm2", "mem_size"),
    ("memory@e100000", "device_type"),
    ("memory@e100000", "reg"),
    ("memory@40000000", "reg"),
    ("cpus", "#address-cells"),
    ("cpus/cpu@1", "device_type"),
    ("cpus/cpu@1", "reg"),
];

/// Small values are likelier to pass the size checks and reach the range checks.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<u32>().prop_map(|v| v.to_be_bytes().to_vec()),
        (0u32..16).prop_map(|v| v.to_be_bytes().to_vec()),
        any::<u64>().prop_map(|v| v.to_be_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..40),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_partition(&bytes);
        let _ = parse_spmc_manifest(&bytes);
    }

    #[test]
    fn damaged_blobs_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        for blob in [full_partition().dtb(), spmc_manifest().dtb()] {
            let mut blob = blob;
            for (at, byte) in &edits {
                let i = at.index(blob.len());
                blob[i] = *byte;
            }
            if truncate {
                blob.truncate(cut.index(blob.len()));
            }
            if let Ok(config) = parse_partition(&blob) {
                check_invariants(&config);
            }
            let _ = parse_spmc_manifest(&blob);
        }
    }

    #[test]
    fn arbitrary_property_values_never_panic(
        root in prop::collection::vec((prop::sample::select(PARTITION_PROPERTIES), value()), 1..6),
        region in prop::collection::vec((prop::sample::select(REGION_PROPERTIES), value()), 0..4),
        device in prop::collection::vec((prop::sample::select(REGION_PROPERTIES), value()), 0..4),
    ) {
        let mut tree = full_partition();
        for (name, bytes) in &root {
            tree = tree.set(name, Bytes(bytes));
        }
        for (name, bytes) in &region {
            tree = tree.edit("memory-regions/rx-tx", |n| n.set(name, Bytes(bytes)));
        }
        for (name, bytes) in &device {
            tree = tree.edit("device-regions/uart1", |n| n.set(name, Bytes(bytes)));
        }
        if let Ok(config) = parse_partition(&tree.dtb()) {
            check_invariants(&config);
        }
    }

    #[test]
    fn arbitrary_spmc_manifest_values_never_panic(
        edits in prop::collection::vec((prop::sample::select(SPMC_PROPERTIES), value()), 1..6),
    ) {
        let mut tree = spmc_manifest();
        for ((node, name), bytes) in &edits {
            tree = tree.edit(node, |n| n.set(name, Bytes(bytes)));
        }
        if let Ok(manifest) = parse_spmc_manifest(&tree.dtb()) {
            prop_assert!(manifest.attributes.spmc_id.is_secure());
            for vm in &manifest.vms {
                prop_assert!(vm.vcpu_count >= 1 && vm.mem_size >= 1);
                prop_assert!(vm.load_address.checked_add(vm.mem_size).is_some());
            }
            let ranges: Vec<_> = manifest.memory.iter().collect();
            for (i, (_, r)) in ranges.iter().enumerate() {
                prop_assert!(r.start().is_multiple_of(4096) && r.len().is_multiple_of(4096));
                prop_assert!(ranges[i + 1..].iter().all(|(_, o)| !o.overlaps(r)));
            }
            if let Some(cpus) = &manifest.cpus {
                let cores = cpus.as_slice();
                prop_assert!(!cores.is_empty() && cores.len() <= MAX_CPUS);
            }
        }
    }
}
