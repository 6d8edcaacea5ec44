//! The manifest parsers on arbitrary bytes. An input is one DTB, parsed both as a partition
//! manifest and as an SPMC manifest; when a second FDT header follows the first, the input is
//! an SPMC manifest and then partition manifests, put together as the SPMC's boot does (vmN
//! nodes checked against the memory map, vmN nodes applied, endpoint IDs settled, regions
//! checked against the map). Nothing may panic, and what parses must hold the invariants the
//! parsers promise: every hosted partition's memory inside the map and away from the SPMC.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spmc::cpu_map::{Affinity, CpuMap};
use spmc::loader::plan;
use spmc::manifest::{ExceptionLevel, MAX_PARTITIONS, PartitionConfig, parse_partition};
use spmc::memory_map::{MemoryKind, PlatformMemory, Range, SpmcResource};

const fn range(start: u64, len: u64) -> Range {
    match Range::new(start, len) {
        Some(r) => r,
        None => panic!("empty range"),
    }
}

/// What the SPMC image reserves on QEMU.
const RESERVED: [(SpmcResource, Range); 3] = [
    (SpmcResource::Manifest, range(0x0e00_2000, 0x1000)),
    (SpmcResource::Uart, range(0x0904_0000, 0x1000)),
    (SpmcResource::GicDistributor, range(0x0800_0000, 0x1_0000)),
];

const PLATFORM: PlatformMemory<'static> = PlatformMemory {
    reserved: &RESERVED,
    default_non_secure: range(0x4000_0000, 0x4000_0000),
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

/// A hosted partition's package and regions lie in the map, away from the SPMC.
fn check_memory(map: &spmc::memory_map::MemoryMap<'_>, config: &PartitionConfig) {
    let package = Range::new(config.load_address, config.memory_size).expect("package range");
    let mut claims = vec![(package, MemoryKind::Secure)];
    for (region, device) in config
        .memory_regions
        .iter()
        .map(|r| (r, false))
        .chain(config.device_regions.iter().map(|r| (r, true)))
    {
        let Some(base) = region.base else { continue };
        let kind = match (device, region.non_secure) {
            (false, false) => MemoryKind::Secure,
            (false, true) => MemoryKind::NonSecure,
            (true, false) => MemoryKind::Device,
            (true, true) => MemoryKind::NonSecureDevice,
        };
        claims.push((Range::new(base, region.size()).expect("region range"), kind));
    }
    for (range, kind) in claims {
        assert!(
            map.ranges(kind).iter().any(|r| r.contains(&range)),
            "{range} outside the {kind:?} map"
        );
        assert!(
            map.reserved().all(|(_, r)| !r.overlaps(&range)),
            "{range} overlaps the SPMC"
        );
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
    if let Ok(plan) = plan(data, &PLATFORM) {
        // Whatever the manifest lists, cores get distinct indices, the boot core 0.
        let boot = plan
            .manifest
            .cpus
            .as_ref()
            .map_or(Affinity::aff0(0), |c| c.as_slice()[0]);
        let map = CpuMap::new(plan.manifest.cpus.as_ref(), boot).expect("boot core listed");
        assert_eq!(map.index_of(boot).map(|c| c.0), Some(0));
        for (cpu, core) in map.iter() {
            assert_eq!(map.index_of(core), Some(cpu));
        }
    }

    let parts = blobs(data);
    let [spmc_blob, partition_blobs @ ..] = parts.as_slice() else {
        return;
    };
    if partition_blobs.is_empty() {
        return;
    }
    let Ok(plan) = plan(spmc_blob, &PLATFORM) else {
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
    let count = partitions.len();
    if let Ok(config) = plan.assemble(partitions) {
        assert_eq!(
            config.partitions.len() + config.refused.len(),
            count + plan.refused.len()
        );
        for (i, p) in config.partitions.iter().enumerate() {
            check_memory(&plan.map, &p.config);
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
