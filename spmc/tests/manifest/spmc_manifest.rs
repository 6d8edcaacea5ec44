//! `parse_spmc_manifest`: the SPMC manifest (TOS_FW_CONFIG, Hafnium's format).

use crate::builder::*;
use ffa::{EndpointId, Version};
use spmc::manifest::{MAX_PARTITIONS, ManifestError, ManifestNode, VmNode, parse_spmc_manifest};

fn err(tree: TreeBuilder) -> ManifestError {
    parse_spmc_manifest(&tree.dtb()).expect_err("manifest must be rejected")
}

const ATTRIBUTE: ManifestNode = ManifestNode::Attribute;

#[test]
fn attributes_and_vm_nodes() {
    let (attributes, vms) = parse_spmc_manifest(&spmc_manifest().dtb()).unwrap();
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
    let (_, vms) = parse_spmc_manifest(&tree.dtb()).unwrap();
    let indexes: Vec<u16> = vms.iter().map(|vm| vm.index).collect();
    assert_eq!(indexes, [3, 10]);
    assert_eq!(vms[1].load_address, 0x1_0000_0000);
    assert_eq!(vms[1].mem_size, 0x2_0000_0000);
}

#[test]
fn no_hypervisor_node_means_no_partitions() {
    let (attributes, vms) =
        parse_spmc_manifest(&spmc_manifest().without_child("hypervisor").dtb()).unwrap();
    assert_eq!(attributes.spmc_id, EndpointId(0x8000));
    assert!(vms.is_empty());
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
    let (attributes, _) = parse_spmc_manifest(
        &spmc_manifest()
            .edit("attribute", |n| n.remove("exec_state"))
            .dtb(),
    )
    .unwrap();
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
    let (attributes, _) = parse_spmc_manifest(
        &spmc_manifest()
            .edit("attribute", |n| {
                n.set("spmc_id", Cell(0x8010)).set("min_ver", Cell(0))
            })
            .dtb(),
    )
    .unwrap();
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
    let (_, vms) = parse_spmc_manifest(&build(MAX_PARTITIONS as u16).dtb()).unwrap();
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
