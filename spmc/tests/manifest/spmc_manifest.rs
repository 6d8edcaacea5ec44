//! `parse_spmc_manifest`: the SPMC manifest (TOS_FW_CONFIG, Hafnium's format).

use crate::builder::*;
use ffa::{EndpointId, Version};
use spmc::CpuId;
use spmc::cpu_map::{Affinity, CpuMap, CpuMapError, MAX_CPUS};
use spmc::manifest::{MAX_PARTITIONS, ManifestError, ManifestNode, VmNode, parse_spmc_manifest};
use spmc::memory_map::{MAX_MEMORY_RANGES, MemoryKind, Range};

fn err(tree: TreeBuilder) -> ManifestError {
    parse_spmc_manifest(&tree.dtb()).expect_err("manifest must be rejected")
}

const ATTRIBUTE: ManifestNode = ManifestNode::Attribute;

#[test]
fn attributes_and_vm_nodes() {
    let manifest = parse_spmc_manifest(&spmc_manifest().dtb()).unwrap();
    let (attributes, vms) = (manifest.attributes, manifest.vms);
    assert_eq!(attributes.spmc_id, EndpointId(0x8000));
    assert_eq!(attributes.version, Version(1, 2));
    assert_eq!(
        vms.as_slice(),
        &[
            VmNode {
                index: 1,
                debug_name: "first".try_into().unwrap(),
                load_address: 0x0e30_0000,
                vcpu_count: 1,
                mem_size: 0x10_0000,
            },
            VmNode {
                index: 2,
                debug_name: "second".try_into().unwrap(),
                load_address: 0x0e40_0000,
                vcpu_count: 4,
                mem_size: 0x10_0000,
            },
        ]
    );
}

#[test]
fn vm_nodes_sorted_by_index_two_cell_values_and_other_children_ignored() {
    let tree = spmc_manifest().without_child("hypervisor").child(
        NodeBuilder::new("hypervisor")
            .set("compatible", Str("hafnium,hafnium"))
            .set("ffa_tee_enabled", FLAG)
            .child(
                vm(10, "ten", 0, 2, 0)
                    .set("load_address", Cells2(0x1_0000_0000))
                    .set("mem_size", Cells2(0x2_0000_0000)),
            )
            .child(vm(3, "three", 0x0e50_0000, 1, 0x1000))
            .child(NodeBuilder::new("vmx").set("whatever", Cell(1)))
            .child(NodeBuilder::new("other")),
    );
    let vms = parse_spmc_manifest(&tree.dtb()).unwrap().vms;
    let indexes: Vec<u16> = vms.iter().map(|vm| vm.index).collect();
    assert_eq!(indexes, [3, 10]);
    assert_eq!(vms[1].load_address, 0x1_0000_0000);
    assert_eq!(vms[1].mem_size, 0x2_0000_0000);
}

#[test]
fn no_hypervisor_node_means_no_partitions() {
    let manifest = parse_spmc_manifest(&spmc_manifest().without_child("hypervisor").dtb()).unwrap();
    assert_eq!(manifest.attributes.spmc_id, EndpointId(0x8000));
    assert!(manifest.vms.is_empty());
}

#[test]
fn compatibles_required() {
    assert_eq!(
        err(spmc_manifest().set("compatible", Str("arm,ffa-manifest-1.0"))),
        ManifestError::NotCompatible {
            node: ManifestNode::Root,
            expected: "arm,ffa-core-manifest-1.0"
        }
    );
    assert_eq!(
        err(spmc_manifest().edit("hypervisor", |n| n.remove("compatible"))),
        ManifestError::NotCompatible {
            node: ManifestNode::Hypervisor,
            expected: "hafnium,hafnium"
        }
    );
}

#[test]
fn attribute_node_and_properties_required() {
    assert_eq!(
        err(spmc_manifest().without_child("attribute")),
        ManifestError::MissingNode(ATTRIBUTE)
    );
    for property in ["spmc_id", "maj_ver", "min_ver"] {
        assert_eq!(
            err(spmc_manifest().edit("attribute", |n| n.remove(property))),
            ManifestError::Missing {
                node: ATTRIBUTE,
                property
            }
        );
    }
    // exec_state is optional (the SPMD requires it, we do not).
    let attributes = parse_spmc_manifest(
        &spmc_manifest()
            .edit("attribute", |n| n.remove("exec_state"))
            .dtb(),
    )
    .unwrap()
    .attributes;
    assert_eq!(attributes.version, Version(1, 2));
}

#[test]
fn attribute_values_checked() {
    let cases: &[(&str, u32)] = &[
        ("spmc_id", 0x7fff),
        ("spmc_id", 0xffff),
        ("spmc_id", 0x1_8000),
        ("maj_ver", 2),
        ("maj_ver", 0),
        ("min_ver", 3),
        ("exec_state", 1),
    ];
    for &(property, value) in cases {
        assert_eq!(
            err(spmc_manifest().edit("attribute", |n| n.set(property, Cell(value)))),
            ManifestError::OutOfRange {
                node: ATTRIBUTE,
                property,
                value: value.into()
            },
            "{property} = {value:#x}"
        );
    }
    let attributes = parse_spmc_manifest(
        &spmc_manifest()
            .edit("attribute", |n| {
                n.set("spmc_id", Cell(0x8010)).set("min_ver", Cell(0))
            })
            .dtb(),
    )
    .unwrap()
    .attributes;
    assert_eq!(attributes.spmc_id, EndpointId(0x8010));
    assert_eq!(attributes.version, Version(1, 0));
}

#[test]
fn vm_node_properties_required() {
    let at = ManifestNode::Vm(2);
    for property in [
        "is_ffa_partition",
        "debug_name",
        "load_address",
        "vcpu_count",
        "mem_size",
    ] {
        let error = err(spmc_manifest().edit("hypervisor/vm2", |n| n.remove(property)));
        assert_eq!(error, ManifestError::Missing { node: at, property });
        assert!(error.to_string().contains("vm2"), "{error}");
    }
    assert_eq!(
        err(spmc_manifest().edit("hypervisor/vm2", |n| n.set("is_ffa_partition", Cell(1)))),
        ManifestError::Malformed {
            node: at,
            property: "is_ffa_partition"
        }
    );
}

#[test]
fn vm_node_values_checked() {
    let at = ManifestNode::Vm(1);
    let cases: &[(&str, u32)] = &[
        ("load_address", 0),
        ("load_address", 0x0e30_0100),
        ("vcpu_count", 0),
        ("vcpu_count", 0x1_0000),
        ("mem_size", 0),
    ];
    for &(property, value) in cases {
        assert_eq!(
            err(spmc_manifest().edit("hypervisor/vm1", |n| n.set(property, Cell(value)))),
            ManifestError::OutOfRange {
                node: at,
                property,
                value: value.into()
            },
            "{property} = {value:#x}"
        );
    }
    let wraps = spmc_manifest().edit("hypervisor/vm1", |n| {
        n.set("load_address", Cells2(0xffff_ffff_ffff_0000))
            .set("mem_size", Cells2(0x1_0000))
    });
    assert_eq!(
        err(wraps),
        ManifestError::OutOfRange {
            node: at,
            property: "mem_size",
            value: 0x1_0000
        }
    );
}

#[test]
fn overlapping_or_repeated_vm_nodes_rejected() {
    let overlap = spmc_manifest().edit("hypervisor/vm2", |n| {
        n.set("load_address", Cell(0x0e3f_f000))
    });
    assert_eq!(
        err(overlap),
        ManifestError::Overlap {
            first: ManifestNode::Vm(1),
            second: ManifestNode::Vm(2)
        }
    );
    let repeated = spmc_manifest().edit("hypervisor", |n| {
        n.child(vm_named("vm01", "again", 0x0e60_0000, 1, 0x1000))
    });
    assert_eq!(
        err(repeated),
        ManifestError::Overlap {
            first: ManifestNode::Vm(1),
            second: ManifestNode::Vm(1)
        }
    );
}

#[test]
fn too_many_vm_nodes() {
    let build = |count: u16| {
        let mut hypervisor =
            NodeBuilder::new("hypervisor").set("compatible", Str("hafnium,hafnium"));
        for i in 1..=count {
            hypervisor = hypervisor.child(vm(
                i,
                "p",
                0x1000_0000 + u64::from(i) * 0x10_0000,
                1,
                0x10_0000,
            ));
        }
        spmc_manifest()
            .without_child("hypervisor")
            .child(hypervisor)
    };
    let vms = parse_spmc_manifest(&build(MAX_PARTITIONS as u16).dtb())
        .unwrap()
        .vms;
    assert_eq!(vms.len(), MAX_PARTITIONS);
    assert_eq!(
        err(build(MAX_PARTITIONS as u16 + 1)),
        ManifestError::TooMany {
            node: ManifestNode::Hypervisor,
            what: "vmN nodes",
            max: MAX_PARTITIONS
        }
    );
}

fn range(start: u64, len: u64) -> Range {
    Range::new(start, len).unwrap()
}

#[test]
fn memory_nodes_by_device_type_with_several_ranges_each() {
    let tree = spmc_manifest()
        .without_child("memory@40000000")
        .child(memory_node(
            "memory@1",
            "ns-memory",
            &[0, 0x4000_0000, 0x1000_0000, 0x8, 0x8000_0000, 0x4000_0000],
        ))
        .child(memory_node(
            "memory@2",
            "device-memory",
            &[0, 0x0904_0000, 0x1000, 0, 0x0a00_0000, 0x2000],
        ))
        .child(memory_node(
            "memory@3",
            "ns-device-memory",
            &[0, 0x0900_0000, 0x1000],
        ))
        // Other device types (a plain "cpu", a misspelt one) are not memory nodes.
        .child(memory_node("odd", "nsmemory", &[0, 0, 0x1000]));
    let manifest = parse_spmc_manifest(&tree.dtb()).unwrap();
    let memory = &manifest.memory;
    assert_eq!(
        memory.ranges(MemoryKind::Secure),
        Some(&[range(0x0e10_0000, 0xf0_0000)][..])
    );
    assert_eq!(
        memory.ranges(MemoryKind::NonSecure),
        Some(
            &[
                range(0x4000_0000, 0x1000_0000),
                range(0x8_8000_0000, 0x4000_0000)
            ][..]
        )
    );
    assert_eq!(
        memory.ranges(MemoryKind::Device),
        Some(&[range(0x0904_0000, 0x1000), range(0x0a00_0000, 0x2000)][..])
    );
    assert_eq!(
        memory.ranges(MemoryKind::NonSecureDevice),
        Some(&[range(0x0900_0000, 0x1000)][..])
    );
    assert_eq!(manifest.image, Some(range(0x0e10_0000, 0x20_0000)));

    // The root's cell counts decide the layout: one cell each here, then one and two.
    let tree = spmc_manifest()
        .set("#address-cells", Cell(1))
        .without_child("memory@e100000")
        .without_child("memory@40000000")
        .child(memory_node("memory@0", "memory", &[0x0e10_0000, 0xf0_0000]));
    let memory = parse_spmc_manifest(&tree.dtb()).unwrap().memory;
    assert_eq!(
        memory.ranges(MemoryKind::Secure),
        Some(&[range(0x0e10_0000, 0xf0_0000)][..])
    );
    let tree = spmc_manifest()
        .set("#address-cells", Cell(1))
        .set("#size-cells", Cell(2))
        .without_child("memory@e100000")
        .child(memory_node(
            "memory@0",
            "memory",
            &[0x0e10_0000, 0, 0xf0_0000],
        ))
        .without_child("memory@40000000");
    let memory = parse_spmc_manifest(&tree.dtb()).unwrap().memory;
    assert_eq!(
        memory.ranges(MemoryKind::Secure),
        Some(&[range(0x0e10_0000, 0xf0_0000)][..])
    );
    // No ns-memory node: absent, not empty (the platform's default applies).
    assert_eq!(memory.ranges(MemoryKind::NonSecure), None);
}

#[test]
fn bad_memory_nodes_rejected() {
    let at = ManifestNode::Memory(MemoryKind::Secure);
    let with = |reg: &[u32]| {
        spmc_manifest()
            .without_child("memory@e100000")
            .child(memory_node("memory@0", "memory", reg))
    };
    // Unaligned base or size, empty, wrapping.
    for (reg, value) in [
        (&[0, 0x0e10_0800, 0x1000][..], 0x0e10_0800),
        (&[0, 0x0e10_0000, 0x800][..], 0x800),
        (&[0, 0x0e10_0000, 0][..], 0),
        (&[0xffff_ffff, 0xffff_f000, 0x2000][..], 0x2000),
    ] {
        assert_eq!(
            err(with(reg)),
            ManifestError::OutOfRange {
                node: at,
                property: "reg",
                value
            },
            "{reg:x?}"
        );
    }
    // A reg that is not whole (address, size) pairs, or none at all.
    for reg in [&[0, 0x0e10_0000][..], &[][..]] {
        assert_eq!(
            err(with(reg)),
            ManifestError::Malformed {
                node: at,
                property: "reg"
            }
        );
    }
    assert_eq!(
        err(with(&[]).edit("memory@0", |n| n.remove("reg"))),
        ManifestError::Missing {
            node: at,
            property: "reg"
        }
    );
    // Two ranges, or two kinds, claiming the same page.
    assert_eq!(
        err(with(&[0, 0x0e10_0000, 0x2000, 0, 0x0e10_1000, 0x1000])),
        ManifestError::Overlap {
            first: at,
            second: at
        }
    );
    assert_eq!(
        err(spmc_manifest().child(memory_node(
            "memory@9",
            "device-memory",
            &[0, 0x4000_0000, 0x1000]
        ))),
        ManifestError::Overlap {
            first: ManifestNode::Memory(MemoryKind::NonSecure),
            second: ManifestNode::Memory(MemoryKind::Device)
        }
    );
    // More ranges than the map holds.
    let many: Vec<u32> = (0..=MAX_MEMORY_RANGES as u32)
        .flat_map(|i| [0, 0x1000_0000 + i * 0x10_0000, 0x1000])
        .collect();
    assert_eq!(
        err(spmc_manifest().child(memory_node("memory@9", "device-memory", &many))),
        ManifestError::TooMany {
            node: ManifestNode::Memory(MemoryKind::Device),
            what: "ranges",
            max: MAX_MEMORY_RANGES
        }
    );
    // Cell counts other than 1 or 2.
    assert_eq!(
        err(spmc_manifest().set("#size-cells", Cell(3))),
        ManifestError::OutOfRange {
            node: ManifestNode::Root,
            property: "#size-cells",
            value: 3
        }
    );
}

#[test]
fn image_window_needs_both_properties() {
    let manifest = parse_spmc_manifest(
        &spmc_manifest()
            .edit("attribute", |n| {
                n.remove("load_address").remove("binary_size")
            })
            .dtb(),
    )
    .unwrap();
    assert_eq!(manifest.image, None);
    assert_eq!(
        err(spmc_manifest().edit("attribute", |n| n.remove("binary_size"))),
        ManifestError::Missing {
            node: ATTRIBUTE,
            property: "binary_size"
        }
    );
    assert_eq!(
        err(spmc_manifest().edit("attribute", |n| n.set("binary_size", Cell(0)))),
        ManifestError::OutOfRange {
            node: ATTRIBUTE,
            property: "binary_size",
            value: 0
        }
    );
}

/// MT-style cores: two threads per core (Aff0), two cores per cluster (Aff1), two clusters
/// (Aff2). Aff0 alone would give four cores each index 0 or 1.
const MT_CORES: [u64; 8] = [
    0x00_0000, 0x01_0101, 0x01_0100, 0x01_0001, 0x01_0000, 0x00_0101, 0x00_0100, 0x00_0001,
];

#[test]
fn cpus_node_gives_each_core_its_own_index() {
    let manifest = parse_spmc_manifest(
        &spmc_manifest()
            .without_child("cpus")
            .child(cpus_node(&MT_CORES))
            .dtb(),
    )
    .unwrap();
    let listed: Vec<u64> = manifest
        .cpus
        .as_ref()
        .unwrap()
        .as_slice()
        .iter()
        .map(|a| a.to_mpidr())
        .collect();
    assert_eq!(listed, MT_CORES);
    let map = CpuMap::new(manifest.cpus.as_ref(), Affinity::aff0(0)).unwrap();
    assert_eq!(map.len(), 8);
    // Boot core first, the others listed in reverse: index order is the natural one.
    let by_index: Vec<u64> = map.iter().map(|(_, a)| a.to_mpidr()).collect();
    assert_eq!(
        by_index,
        [
            0x00_0000, 0x00_0001, 0x00_0100, 0x00_0101, 0x01_0000, 0x01_0001, 0x01_0100, 0x01_0101
        ]
    );
    for (cpu, core) in map.iter() {
        assert_eq!(map.index_of(core), Some(cpu));
        assert_eq!(map.affinity(cpu), Some(core));
    }
    // Same Aff0, different cores: distinct indices.
    let thread1 = |aff1, aff2| Affinity {
        aff3: 0,
        aff2,
        aff1,
        aff0: 1,
    };
    let indices: Vec<u16> = [thread1(0, 0), thread1(1, 0), thread1(0, 1), thread1(1, 1)]
        .iter()
        .map(|a| map.index_of(*a).unwrap().0)
        .collect();
    assert_eq!(indices, [1, 3, 5, 7]);

    // A core the manifest does not list has no index (warm boot refuses it).
    assert_eq!(map.index_of(Affinity::aff0(2)), None);
    assert_eq!(
        map.index_of(Affinity::from_mpidr(0x1_0000_0000).unwrap()),
        None
    );
    // Nor does cold boot start on one.
    assert_eq!(
        CpuMap::new(manifest.cpus.as_ref(), Affinity::aff0(2)),
        Err(CpuMapError::BootCpuNotListed(Affinity::aff0(2)))
    );
    // Booting elsewhere: that core is index 0, the others fill from the top in list order.
    let map = CpuMap::new(manifest.cpus.as_ref(), thread1(1, 1)).unwrap();
    assert_eq!(map.index_of(thread1(1, 1)), Some(CpuId(0)));
    assert_eq!(map.index_of(Affinity::aff0(0)), Some(CpuId(7)));
    assert_eq!(map.index_of(Affinity::aff0(1)), Some(CpuId(1)));
}

#[test]
fn without_cpus_node_the_four_aff0_cores() {
    let manifest = parse_spmc_manifest(&spmc_manifest().without_child("cpus").dtb()).unwrap();
    assert_eq!(manifest.cpus, None);
    let map = CpuMap::new(None, Affinity::aff0(0)).unwrap();
    assert!(map.is_default());
    let by_index: Vec<u64> = map.iter().map(|(_, a)| a.to_mpidr()).collect();
    assert_eq!(by_index, [0, 1, 2, 3]);
    assert_eq!(map.index_of(Affinity::aff0(4)), None);
    assert_eq!(map.index_of(Affinity::from_mpidr(0x100).unwrap()), None);
}

#[test]
fn bad_cpus_nodes_rejected() {
    let with = |cpus: NodeBuilder| spmc_manifest().without_child("cpus").child(cpus);
    // More cores than the SPMC has stacks for: refused, not truncated.
    let nine: Vec<u64> = (0..=MAX_CPUS as u64).collect();
    assert_eq!(
        err(with(cpus_node(&nine))),
        ManifestError::TooMany {
            node: ManifestNode::Cpus,
            what: "CPUs",
            max: MAX_CPUS
        }
    );
    // The same limit counts every value of a multi-value reg.
    let packed = NodeBuilder::new("cpus")
        .set("#address-cells", Cell(2))
        .child(cpu_node("cpu@0", &nine));
    assert!(matches!(err(with(packed)), ManifestError::TooMany { .. }));
    // Bits outside the affinity fields (MT, U, RES1, above Aff3).
    for mpidr in [1 << 24, 1 << 30, 1 << 31, 1 << 40] {
        assert_eq!(
            err(with(cpus_node(&[0, mpidr]))),
            ManifestError::OutOfRange {
                node: ManifestNode::Cpu(1),
                property: "reg",
                value: mpidr
            }
        );
    }
    assert_eq!(
        err(with(
            cpus_node(&[0, 0x100]).child(cpu_node("cpu@again", &[0x100]))
        )),
        ManifestError::Duplicate {
            node: ManifestNode::Cpu(2),
            property: "reg",
            value: 0x100
        }
    );
    assert_eq!(
        err(with(
            NodeBuilder::new("cpus").set("#address-cells", Cell(2))
        )),
        ManifestError::MissingNode(ManifestNode::Cpu(0))
    );
    assert_eq!(
        err(with(cpus_node(&[0]).child(
            NodeBuilder::new("cpu@1").set("device_type", Str("cpu"))
        ))),
        ManifestError::Missing {
            node: ManifestNode::Cpu(1),
            property: "reg"
        }
    );
    assert_eq!(
        err(with(cpus_node(&[0]).child(
            cpu_node("cpu@1", &[]).set("reg", Cells(&[0, 0, 1]))
        ))),
        ManifestError::Malformed {
            node: ManifestNode::Cpu(1),
            property: "reg"
        }
    );
    // One-cell values, and children that are not cores, are fine.
    let one_cell = NodeBuilder::new("cpus")
        .set("#address-cells", Cell(1))
        .child(
            NodeBuilder::new("cpu@0")
                .set("device_type", Str("cpu"))
                .set("reg", Cells(&[0x0, 0x101])),
        )
        .child(NodeBuilder::new("cpu-map"));
    let cpus = parse_spmc_manifest(&with(one_cell).dtb())
        .unwrap()
        .cpus
        .unwrap();
    let listed: Vec<u64> = cpus.as_slice().iter().map(|a| a.to_mpidr()).collect();
    assert_eq!(listed, [0, 0x101]);
}
