//! The manifest parsers on arbitrary bytes. An input is one DTB, parsed both as a partition
//! manifest and as an SPMC manifest; when a second FDT header follows the first, the input is
//! an SPMC manifest and then partition manifests, put together as the SPMC's boot does (vmN
//! nodes applied, endpoint IDs settled). Nothing may panic, and what parses must hold the
//! invariants the parsers promise.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spmc::manifest::{
    ExceptionLevel, MAX_PARTITIONS, PartitionConfig, SpmcConfig, apply_vm_nodes, parse_partition,
    parse_spmc_manifest,
};

/// The FDT header magic, big-endian.
const FDT_MAGIC: [u8; 4] = [0xd0, 0x0d, 0xfe, 0xed];

fn check_partition(config: &PartitionConfig) {
    assert!(!config.uuids.is_empty(), "a partition without a UUID");
    assert!(config.execution_ctx_count >= 1);
    if config.exception_level == ExceptionLevel::SEl0 {
        assert_eq!(config.execution_ctx_count, 1);
    }
    for region in config.memory_regions.iter().chain(&config.device_regions) {
        if let Some(base) = region.base {
            assert!(
                base.checked_add(region.size()).is_some(),
                "{region:?} wraps the address space"
            );
        }
    }
}

/// Splits `data` at each FDT header after the first byte.
fn blobs(data: &[u8]) -> Vec<&[u8]> {
    let mut starts: Vec<usize> = vec![0];
    starts.extend(
        data.windows(FDT_MAGIC.len())
            .enumerate()
            .skip(1)
            .filter(|(_, w)| *w == FDT_MAGIC)
            .map(|(i, _)| i),
    );
    starts.push(data.len());
    starts.windows(2).map(|w| &data[w[0]..w[1]]).collect()
}

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = parse_partition(data) {
        check_partition(&config);
    }
    let _ = parse_spmc_manifest(data);

    let parts = blobs(data);
    let [spmc_blob, partition_blobs @ ..] = parts.as_slice() else {
        return;
    };
    if partition_blobs.is_empty() {
        return;
    }
    let Ok((attributes, vm_nodes)) = parse_spmc_manifest(spmc_blob) else {
        return;
    };
    let mut partitions: Vec<PartitionConfig> = Vec::new();
    for blob in partition_blobs.iter().take(MAX_PARTITIONS + 1) {
        match parse_partition(blob) {
            Ok(config) => {
                check_partition(&config);
                partitions.push(config);
            }
            Err(_) => return,
        }
    }
    if apply_vm_nodes(&mut partitions, &vm_nodes).is_err() {
        return;
    }
    let count = partitions.len();
    if let Ok(config) = SpmcConfig::new(attributes, partitions) {
        assert_eq!(config.partitions.len(), count);
        for (i, p) in config.partitions.iter().enumerate() {
            assert!(p.id.is_secure(), "{:?} got a normal-world ID", p.id);
            assert_ne!(p.id, config.attributes.spmc_id);
            assert!(
                config.partitions[i + 1..].iter().all(|q| q.id != p.id),
                "{:?} given twice",
                p.id
            );
        }
    }
});
