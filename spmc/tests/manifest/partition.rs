//! `parse_partition`: FF-A partition manifests.

use crate::builder::*;
use ffa::{EndpointId, Uuid, Version};
use spmc::manifest::{
    ExceptionLevel, MAX_REGIONS, ManifestError, ManifestNode, MessagingMethod, NsInterruptsAction,
    Region, parse_partition,
};

fn uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).unwrap()
}

fn err(tree: TreeBuilder) -> ManifestError {
    parse_partition(&tree.dtb()).expect_err("manifest must be rejected")
}

fn out_of_range(node: ManifestNode, property: &'static str, value: u64) -> ManifestError {
    ManifestError::OutOfRange {
        node,
        property,
        value,
    }
}

const ROOT: ManifestNode = ManifestNode::Root;

#[test]
fn full_manifest() {
    let config = parse_partition(&full_partition().dtb()).unwrap();
    assert_eq!(config.name.as_str(), "full");
    assert_eq!(config.id, Some(EndpointId(0x8005)));
    assert_eq!(config.uuids.as_slice(), &[uuid(DOC_UUID)]);
    assert_eq!(config.ffa_version, Version(1, 2));
    assert_eq!(config.exception_level, ExceptionLevel::SEl1);
    assert_eq!(config.execution_ctx_count, 4);
    assert_eq!(config.messaging, MessagingMethod(0x603));
    assert!(config.messaging.has(
        MessagingMethod::DIRECT_REQ_RECV
            | MessagingMethod::DIRECT_REQ_SEND
            | MessagingMethod::DIRECT_REQ2_RECV
            | MessagingMethod::DIRECT_REQ2_SEND
    ));
    assert!(!config.messaging.has(MessagingMethod::INDIRECT));
    assert_eq!(config.boot_order, Some(3));
    assert_eq!(config.load_address, 0x0e30_0000);
    assert_eq!(config.entrypoint_offset, 0x4000);
    assert_eq!(
        config.memory_size, 0,
        "memory size comes from the SPMC manifest"
    );
    assert_eq!(config.gp_register_num, Some(1));
    assert_eq!(
        config.memory_regions.as_slice(),
        &[Region {
            name: "rxtx".try_into().unwrap(),
            base: Some(0x0e36_0000),
            pages: 2,
            attributes: Region::READ | Region::WRITE,
            non_secure: false,
        }]
    );
    assert_eq!(
        config.device_regions.as_slice(),
        &[Region {
            name: "secure-uart".try_into().unwrap(),
            base: Some(0x0904_0000),
            pages: 1,
            attributes: Region::READ | Region::WRITE,
            non_secure: false,
        }]
    );
}

#[test]
fn minimal_manifest_leaves_optional_fields_empty() {
    let config = parse_partition(&minimal_partition().dtb()).unwrap();
    assert_eq!(config.name.as_str(), "");
    assert_eq!(config.id, None);
    assert_eq!(config.boot_order, None);
    assert_eq!(config.gp_register_num, None);
    assert_eq!(config.load_address, 0);
    assert_eq!(config.entrypoint_offset, 0);
    assert!(config.memory_regions.is_empty());
    assert!(config.device_regions.is_empty());
}

#[test]
fn uuid_cells_are_in_smccc_word_order() {
    let config = parse_partition(&minimal_partition().dtb()).unwrap();
    assert_eq!(config.uuids[0].to_string(), DOC_UUID);
}

#[test]
fn addresses_take_one_or_two_cells() {
    let one = parse_partition(
        &full_partition()
            .set("load-address", Cell(0x0e30_0000))
            .dtb(),
    )
    .unwrap();
    let two = parse_partition(
        &full_partition()
            .set("load-address", Cells2(0x0e30_0000))
            .dtb(),
    )
    .unwrap();
    assert_eq!(one.load_address, 0x0e30_0000);
    assert_eq!(one, two);

    let high = full_partition()
        .set("load-address", Cells2(0x1_0000_0000))
        .set("entrypoint-offset", Cells2(0x1_0000))
        .edit("memory-regions/rx-tx", |n| {
            n.set("base-address", Cell(0x0e36_0000))
        });
    let high = parse_partition(&high.dtb()).unwrap();
    assert_eq!(high.load_address, 0x1_0000_0000);
    assert_eq!(high.entrypoint_offset, 0x1_0000);
    assert_eq!(high.memory_regions[0].base, Some(0x0e36_0000));

    for bad in [Cells(&[0, 0, 0x1000]), Bytes(&[0, 0x10]), FLAG] {
        assert_eq!(
            err(full_partition().set("load-address", bad)),
            ManifestError::Malformed {
                node: ROOT,
                property: "load-address"
            }
        );
    }
}

#[test]
fn several_uuids_in_order() {
    let second = [0x2e3a1f7c, 0x6a4e4b5d, 0x2c1b809f, 0x605f4e3d];
    let mut cells = DOC_UUID_CELLS.to_vec();
    cells.extend_from_slice(&second);
    let config = parse_partition(&minimal_partition().set("uuid", Cells(&cells)).dtb()).unwrap();
    assert_eq!(
        config.uuids.as_slice(),
        &[uuid(DOC_UUID), uuid("7c1f3a2e-5d4b-4e6a-9f80-1b2c3d4e5f60")]
    );

    // Four is the most a partition may declare.
    let mut four = Vec::new();
    for i in 1..=4u32 {
        four.extend_from_slice(&[i, 0, 0, 0]);
    }
    let config = parse_partition(&minimal_partition().set("uuid", Cells(&four)).dtb()).unwrap();
    assert_eq!(config.uuids.len(), 4);
    // The first cell holds the first four bytes, least significant first.
    assert_eq!(
        config.uuids[3].to_string(),
        "04000000-0000-0000-0000-000000000000"
    );
    four.extend_from_slice(&[5, 0, 0, 0]);
    assert!(matches!(
        err(minimal_partition().set("uuid", Cells(&four))),
        ManifestError::TooMany {
            what: "UUIDs",
            max: 4,
            ..
        }
    ));
}

#[test]
fn malformed_or_nil_uuid_rejected() {
    for cells in [&[1u32, 2, 3][..], &[1, 2, 3, 4, 5], &[]] {
        assert_eq!(
            err(minimal_partition().set("uuid", Cells(cells))),
            ManifestError::Malformed {
                node: ROOT,
                property: "uuid"
            },
            "{cells:?}"
        );
    }
    assert_eq!(
        err(minimal_partition().set("uuid", Cells(&[1, 2, 3, 4, 0, 0, 0, 0]))),
        out_of_range(ROOT, "uuid", 0)
    );
}

#[test]
fn each_missing_mandatory_property_is_named() {
    for property in [
        "uuid",
        "ffa-version",
        "execution-ctx-count",
        "exception-level",
        "messaging-method",
    ] {
        let error = err(full_partition().remove(property));
        assert_eq!(
            error,
            ManifestError::Missing {
                node: ROOT,
                property
            }
        );
        assert_eq!(error.property(), Some(property));
        assert!(error.to_string().contains(property), "{error}");
    }
}

#[test]
fn compatible_is_required() {
    let expected = ManifestError::NotCompatible {
        node: ROOT,
        expected: "arm,ffa-manifest-1.0",
    };
    assert_eq!(err(full_partition().remove("compatible")), expected);
    assert_eq!(
        err(full_partition().set("compatible", Str("arm,ffa-core-manifest-1.0"))),
        expected
    );
    // A list that includes it is fine.
    let list = b"vendor,sp\0arm,ffa-manifest-1.0\0";
    assert!(parse_partition(&full_partition().set("compatible", Bytes(list)).dtb()).is_ok());
}

#[test]
fn legacy_and_unused_properties_are_tolerated() {
    let plain = parse_partition(&full_partition().dtb()).unwrap();
    let tree = full_partition()
        .set("auxiliary-id", Cell(0xae))
        .set("stream-endpoint-ids", Cells(&[0, 1, 2, 3]))
        .set("managed-exit", FLAG)
        .set("managed-exit-virq", FLAG)
        .set("ns-interrupts-action", Cell(1))
        .set("other-s-interrupts-action", Cell(1))
        .set("notification-support", FLAG)
        .set("run-time-model", Cell(1))
        .set("power-management-messages", Cell(0x9))
        .set("vm-availability-messages", Cell(0))
        .set("time-slice-mem", FLAG)
        .set("has-primary-scheduler", FLAG)
        .set("debug_name", Str("hafnium-style"))
        .set("vendor,private", Bytes(&[1, 2, 3]))
        .child(
            NodeBuilder::new("boot-info")
                .set("compatible", Str("arm,ffa-manifest-boot-info"))
                .set("ffa_manifest", FLAG),
        )
        .child(
            NodeBuilder::new("rx_tx-info")
                .set("compatible", Str("arm,ffa-manifest-rx_tx-buffer"))
                .set("rx-buffer", Cell(1))
                .set("tx-buffer", Cell(2)),
        )
        .child(NodeBuilder::new("vendor-node").set("anything", Cells(&[7; 9])));
    let mut expected = plain;
    expected.ns_interrupts = spmc::manifest::NsInterruptsAction::ManagedExit { virq: true };
    expected.notification_support = true;
    assert_eq!(parse_partition(&tree.dtb()).unwrap(), expected);
}

#[test]
fn exception_level_values() {
    let sel0 = parse_partition(&minimal_partition().set("exception-level", Cell(1)).dtb()).unwrap();
    assert_eq!(sel0.exception_level, ExceptionLevel::SEl0);
    let sel1 = parse_partition(&minimal_partition().set("exception-level", Cell(2)).dtb()).unwrap();
    assert_eq!(sel1.exception_level, ExceptionLevel::SEl1);
    // 0 is a normal-world EL1 VM; 3 and up are AArch32 modes or unknown.
    for value in [0, 3, 6, 0xffff_ffff] {
        assert_eq!(
            err(minimal_partition().set("exception-level", Cell(value))),
            out_of_range(ROOT, "exception-level", value.into())
        );
    }
    // An S-EL0 partition has exactly one execution context.
    assert_eq!(
        err(full_partition().set("exception-level", Cell(1))),
        out_of_range(ROOT, "execution-ctx-count", 4)
    );
}

#[test]
fn out_of_range_values_rejected() {
    let cases: &[(&str, u32)] = &[
        ("execution-ctx-count", 0),
        ("execution-ctx-count", 0x1_0000),
        ("ffa-version", 0x0002_0000),
        ("ffa-version", 0x0001_0003),
        ("ffa-version", 0x0000_0009),
        ("ffa-version", 0x8001_0002),
        ("messaging-method", 0x8),
        ("messaging-method", 0x803),
        ("messaging-method", 0x1_0003),
        ("id", 0x1_0000),
        ("boot-order", 0x1_0000),
        ("gp-register-num", 4),
        ("execution-state", 1),
        ("xlat-granule", 2),
        ("load-address", 0x0e30_0800),
    ];
    for &(property, value) in cases {
        assert_eq!(
            err(full_partition().set(property, Cell(value))),
            out_of_range(ROOT, property, value.into()),
            "{property} = {value:#x}"
        );
    }
}

#[test]
fn direct_req2_needs_v1_2() {
    assert_eq!(
        err(full_partition().set("ffa-version", Cell(0x0001_0001))),
        out_of_range(ROOT, "messaging-method", 0x603)
    );
    let v1_1 = full_partition()
        .set("ffa-version", Cell(0x0001_0001))
        .set("messaging-method", Cell(0x7));
    let config = parse_partition(&v1_1.dtb()).unwrap();
    assert_eq!(config.ffa_version, Version(1, 1));
    assert_eq!(config.messaging, MessagingMethod(0x7));
    let v1_0 = minimal_partition().set("ffa-version", Cell(0x0001_0000));
    assert_eq!(
        parse_partition(&v1_0.dtb()).unwrap().ffa_version,
        Version(1, 0)
    );
}

#[test]
fn description_is_truncated_and_must_be_a_string() {
    let long = "a-very-long-partition-description-indeed";
    let config = parse_partition(&minimal_partition().set("description", Str(long)).dtb()).unwrap();
    assert_eq!(config.name.as_str(), &long[..32]);
    // Truncation keeps whole characters.
    let wide = "ééééééééééééééééé"; // 17 two-byte characters
    let config = parse_partition(&minimal_partition().set("description", Str(wide)).dtb()).unwrap();
    assert_eq!(config.name.as_str(), &wide[..32]);
    for bad in [
        Bytes(b"no-nul"),
        Bytes(b"\xff\xfe\0"),
        Bytes(b"two\0parts\0"),
    ] {
        assert_eq!(
            err(minimal_partition().set("description", bad)),
            ManifestError::Malformed {
                node: ROOT,
                property: "description"
            }
        );
    }
}

fn with_memory_region(region: NodeBuilder) -> TreeBuilder {
    full_partition().without_child("memory-regions").child(
        NodeBuilder::new("memory-regions")
            .set("compatible", Str("arm,ffa-manifest-memory-regions"))
            .child(region),
    )
}

fn region(name: &str) -> NodeBuilder {
    NodeBuilder::new(name)
        .set("pages-count", Cell(4))
        .set("attributes", Cell(0x3))
}

#[test]
fn memory_region_placements() {
    let tree = full_partition().without_child("memory-regions").child(
        NodeBuilder::new("memory-regions")
            .set("compatible", Str("arm,ffa-manifest-memory-regions"))
            .child(region("absolute").set("base-address", Cells2(0x0e3c_0000)))
            .child(region("relative").set("load-address-relative-offset", Cells2(0x8_0000)))
            .child(region("anywhere"))
            .child(
                region("shared")
                    .set("base-address", Cells2(0x8800_0000))
                    .set("attributes", Cell(0x8 | 0x1)),
            ),
    );
    let config = parse_partition(&tree.dtb()).unwrap();
    let regions = &config.memory_regions;
    assert_eq!(regions.len(), 4);
    assert_eq!(regions[0].base, Some(0x0e3c_0000));
    assert_eq!(regions[1].base, Some(0x0e30_0000 + 0x8_0000));
    assert_eq!(regions[2].base, None);
    assert_eq!(
        regions[0].name.as_str(),
        "absolute",
        "node name when no description"
    );
    assert_eq!(regions[3].base, Some(0x8800_0000));
    assert!(regions[3].non_secure);
    assert_eq!(regions[3].attributes, Region::READ);
    assert!(!regions[0].non_secure);
    assert_eq!(regions[0].size(), 4 * 4096);
}

#[test]
fn memory_region_errors() {
    let at = ManifestNode::MemoryRegion(0);
    let cases: Vec<(NodeBuilder, ManifestError)> = vec![
        (
            region("r").remove("pages-count"),
            ManifestError::Missing {
                node: at,
                property: "pages-count",
            },
        ),
        (
            region("r").remove("attributes"),
            ManifestError::Missing {
                node: at,
                property: "attributes",
            },
        ),
        (
            region("r").set("pages-count", Cell(0)),
            out_of_range(at, "pages-count", 0),
        ),
        // Write-only, write+execute, no access, an undefined bit.
        (
            region("r").set("attributes", Cell(0x2)),
            out_of_range(at, "attributes", 0x2),
        ),
        (
            region("r").set("attributes", Cell(0x7)),
            out_of_range(at, "attributes", 0x7),
        ),
        (
            region("r").set("attributes", Cell(0x0)),
            out_of_range(at, "attributes", 0x0),
        ),
        (
            region("r").set("attributes", Cell(0x13)),
            out_of_range(at, "attributes", 0x13),
        ),
        (
            region("r")
                .set("base-address", Cells2(0x0e38_0000))
                .set("load-address-relative-offset", Cell(0x1000)),
            ManifestError::Conflict {
                node: at,
                property: "base-address",
                other: "load-address-relative-offset",
            },
        ),
        (
            region("r").set("base-address", Cells2(0x0e38_0010)),
            out_of_range(at, "base-address", 0x0e38_0010),
        ),
        (
            region("r").set("base-address", Cells2(0xffff_ffff_ffff_f000)),
            out_of_range(at, "base-address", 0xffff_ffff_ffff_f000),
        ),
        (
            region("r").set("load-address-relative-offset", Cells2(u64::MAX)),
            out_of_range(at, "load-address-relative-offset", u64::MAX),
        ),
        (
            region("r").set("base-address", Cells(&[0, 0, 0])),
            ManifestError::Malformed {
                node: at,
                property: "base-address",
            },
        ),
    ];
    for (node, expected) in cases {
        assert_eq!(err(with_memory_region(node)), expected);
    }

    // A relative region needs the partition's load address.
    let relative = with_memory_region(region("r").set("load-address-relative-offset", Cell(0)))
        .remove("load-address");
    assert_eq!(
        err(relative),
        ManifestError::Missing {
            node: ROOT,
            property: "load-address"
        }
    );
}

#[test]
fn region_containers_need_their_compatible() {
    let tree = full_partition().edit("memory-regions", |n| n.remove("compatible"));
    assert_eq!(
        err(tree),
        ManifestError::NotCompatible {
            node: ManifestNode::MemoryRegions,
            expected: "arm,ffa-manifest-memory-regions"
        }
    );
    let tree = full_partition().edit("device-regions", |n| {
        n.set("compatible", Str("arm,ffa-manifest-memory-regions"))
    });
    assert_eq!(
        err(tree),
        ManifestError::NotCompatible {
            node: ManifestNode::DeviceRegions,
            expected: "arm,ffa-manifest-device-regions"
        }
    );
}

#[test]
fn device_regions() {
    let at = ManifestNode::DeviceRegion(0);
    let device =
        |f: fn(NodeBuilder) -> NodeBuilder| full_partition().edit("device-regions/uart1", f);
    assert_eq!(
        err(device(|n| n.remove("base-address"))),
        ManifestError::Missing {
            node: at,
            property: "base-address"
        }
    );
    // Device memory is never executable.
    assert_eq!(
        err(device(|n| n.set("attributes", Cell(0x5)))),
        out_of_range(at, "attributes", 0x5)
    );
    // A relative offset is a memory-region property; on a device it is just unknown.
    assert!(
        parse_partition(&device(|n| n.set("load-address-relative-offset", Cell(0))).dtb()).is_ok()
    );
    let ns = parse_partition(&device(|n| n.set("attributes", Cell(0x9))).dtb()).unwrap();
    assert_eq!(ns.device_regions[0].attributes, Region::READ);
    assert!(ns.device_regions[0].non_secure);
}

#[test]
fn device_region_interrupts() {
    use spmc::interrupts::declared::{SecurityState, Trigger};
    let at = ManifestNode::DeviceRegion(0);
    let with = |cells: &'static [u32]| {
        full_partition().edit("device-regions/uart1", move |n| {
            n.set("interrupts", Cells(cells))
        })
    };
    // OP-TEE/build's UART1 and a level PPI.
    let parsed = parse_partition(&with(&[0x28, 0x901, 27, 0x680]).dtb()).unwrap();
    let got: Vec<_> = parsed
        .interrupts
        .iter()
        .map(|d| (d.intid.get(), d.priority, d.security, d.trigger))
        .collect();
    assert_eq!(
        got,
        [
            (40, 1, SecurityState::Secure, Trigger::Edge),
            (27, 0x80, SecurityState::NonSecure, Trigger::Level)
        ]
    );
    assert!(
        parse_partition(&full_partition().dtb())
            .unwrap()
            .interrupts
            .is_empty()
    );
    // An odd cell count, an SGI, a special INTID, a type against the range, unknown bits.
    assert_eq!(
        err(with(&[0x28, 0x901, 0x29])),
        ManifestError::Malformed {
            node: at,
            property: "interrupts"
        }
    );
    assert_eq!(err(with(&[8, 0x100])), out_of_range(at, "interrupts", 8));
    assert_eq!(
        err(with(&[1023, 0x900])),
        out_of_range(at, "interrupts", 1023)
    );
    assert_eq!(
        err(with(&[40, 0x501])),
        out_of_range(at, "interrupts", 0x501)
    );
    assert_eq!(
        err(with(&[40, 0x1_0901])),
        out_of_range(at, "interrupts", 0x1_0901)
    );
    // One INTID once.
    assert_eq!(
        err(with(&[40, 0x901, 40, 0x902])),
        ManifestError::Duplicate {
            node: at,
            property: "interrupts",
            value: 40
        }
    );
    // At most 32.
    static MANY: [u32; 66] = {
        let mut cells = [0u32; 66];
        let mut i = 0;
        while i < 33 {
            cells[2 * i] = 32 + i as u32;
            cells[2 * i + 1] = 0x900;
            i += 1;
        }
        cells
    };
    assert!(matches!(
        err(with(&MANY)),
        ManifestError::TooMany { max: 32, .. }
    ));
}

#[test]
fn overlapping_regions_rejected() {
    // The device region overlaps the memory region.
    let tree = full_partition().edit("device-regions/uart1", |n| {
        n.set("base-address", Cells2(0x0e36_1000))
    });
    assert_eq!(
        err(tree),
        ManifestError::Overlap {
            first: ManifestNode::MemoryRegion(0),
            second: ManifestNode::DeviceRegion(0),
        }
    );
    // Touching is not overlapping.
    let tree = full_partition().edit("device-regions/uart1", |n| {
        n.set("base-address", Cells2(0x0e36_2000))
    });
    assert!(parse_partition(&tree.dtb()).is_ok());
    // The same address in the other security state is another page.
    let tree = full_partition().edit("device-regions/uart1", |n| {
        n.set("base-address", Cells2(0x0e36_0000))
            .set("attributes", Cell(0xb))
    });
    assert!(parse_partition(&tree.dtb()).is_ok());
}

#[test]
fn too_many_regions() {
    let build = |count: usize| {
        let mut container = NodeBuilder::new("memory-regions")
            .set("compatible", Str("arm,ffa-manifest-memory-regions"));
        for i in 0..count {
            container = container.child(region(&format!("r{i}")));
        }
        full_partition()
            .without_child("memory-regions")
            .child(container)
    };
    let config = parse_partition(&build(MAX_REGIONS).dtb()).unwrap();
    assert_eq!(config.memory_regions.len(), MAX_REGIONS);
    assert!(matches!(
        err(build(MAX_REGIONS + 1)),
        ManifestError::TooMany {
            node: ManifestNode::MemoryRegions,
            what: "regions",
            max: MAX_REGIONS
        }
    ));
}

#[test]
fn blob_boundaries() {
    let dtb = full_partition().dtb();
    // The rest of a page after the blob is ignored.
    let mut page = dtb.clone();
    page.resize(4096, 0xa5);
    assert_eq!(
        parse_partition(&page).unwrap(),
        parse_partition(&dtb).unwrap()
    );
    // A blob cut short is not.
    assert_eq!(
        parse_partition(&dtb[..dtb.len() - 1]),
        Err(ManifestError::InvalidDtb)
    );
    assert_eq!(parse_partition(&[]), Err(ManifestError::InvalidDtb));
    assert_eq!(
        parse_partition(&[0xd0, 0x0d, 0xfe, 0xed]),
        Err(ManifestError::InvalidDtb)
    );
    let mut bad_magic = dtb.clone();
    bad_magic[0] = 0;
    assert_eq!(parse_partition(&bad_magic), Err(ManifestError::InvalidDtb));
}

#[test]
fn errors_display_where_and_what() {
    let error = err(with_memory_region(region("r").set("pages-count", Cell(0))));
    assert_eq!(
        error.to_string(),
        "/memory-regions, region 0: `pages-count` = 0x0 is not allowed"
    );
    let error = err(full_partition().remove("uuid"));
    assert_eq!(error.to_string(), "/: mandatory property `uuid` missing");
}

#[test]
fn ns_interrupts_action_default_values_and_managed_exit_flag() {
    let action = |tree: TreeBuilder| parse_partition(&tree.dtb()).unwrap().ns_interrupts;
    assert_eq!(action(minimal_partition()), NsInterruptsAction::Signaled);
    for (value, expected) in [
        (0, NsInterruptsAction::Queued),
        (1, NsInterruptsAction::ManagedExit { virq: false }),
        (2, NsInterruptsAction::Signaled),
    ] {
        let tree = minimal_partition().set("ns-interrupts-action", Cell(value));
        assert_eq!(action(tree), expected, "ns-interrupts-action = {value}");
    }
    let tree = minimal_partition()
        .set("ns-interrupts-action", Cell(0))
        .set("managed-exit", FLAG);
    assert_eq!(
        action(tree),
        NsInterruptsAction::ManagedExit { virq: false }
    );
    let tree = minimal_partition()
        .set("ns-interrupts-action", Cell(1))
        .set("managed-exit-virq", FLAG);
    assert_eq!(action(tree), NsInterruptsAction::ManagedExit { virq: true });
    assert_eq!(
        err(minimal_partition().set("ns-interrupts-action", Cell(3))),
        out_of_range(ROOT, "ns-interrupts-action", 3)
    );
}
