//! loader: the SPMC manifest and SP packages read from (fake) memory, as the SPMC does at boot.

use crate::dts;
use crate::sources::qemu_platform;
use ffa::EndpointId;
use spmc::boot_info::PackageError;
use spmc::loader::{LoadError, MAX_PARTITION_MANIFEST, load_config};
use spmc::manifest::{ConfigError, SpmcConfig};
use spmc::memory_map::{
    Claim, MemoryKind, PlatformMemory, Range, Refusal, Refused, SpmcResource, Unloadable, Violation,
};
use spmc::platform::{MemFault, Platform, Space};
use spmc::{CpuId, Outcome, Spmc};
use std::path::PathBuf;

/// Secure memory from 0x0e30_0000 to 0x0e70_0000, as BL2 leaves it.
struct Memory {
    base: u64,
    bytes: Vec<u8>,
}

impl Memory {
    fn new() -> Self {
        Self {
            base: 0x0e30_0000,
            bytes: vec![0; 0x40_0000],
        }
    }

    fn put(&mut self, at: u64, data: &[u8]) {
        let o = (at - self.base) as usize;
        self.bytes[o..o + data.len()].copy_from_slice(data);
    }

    /// An SPKG v2 package at `at` with manifest `dtb` and `img_size` bytes of image.
    fn package(&mut self, at: u64, dtb: &[u8], pm_size: u32) {
        let words = [
            u32::from_le_bytes(*b"SPKG"),
            2,
            0x1000,
            pm_size,
            0x4000,
            0x100,
        ];
        let header: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.put(at, &header);
        self.put(at + 0x1000, dtb);
    }
}

impl Platform for Memory {
    fn read(&self, space: Space, addr: u64, buf: &mut [u8]) -> Result<(), MemFault> {
        let o = addr.checked_sub(self.base).ok_or(MemFault)? as usize;
        let src = self.bytes.get(o..o + buf.len()).ok_or(MemFault)?;
        if space != Space::Secure {
            return Err(MemFault);
        }
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write(&mut self, space: Space, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        let o = addr.checked_sub(self.base).ok_or(MemFault)? as usize;
        let dst = self.bytes.get_mut(o..o + data.len()).ok_or(MemFault)?;
        if space != Space::Secure {
            return Err(MemFault);
        }
        dst.copy_from_slice(data);
        Ok(())
    }

    fn covers(&self, space: Space, addr: u64, len: u64) -> bool {
        let end = self.base + self.bytes.len() as u64;
        space == Space::Secure
            && addr >= self.base
            && addr.checked_add(len).is_some_and(|e| e <= end)
    }

    // No partition runs here.
    fn map_for(
        &mut self,
        _partition: EndpointId,
        _space: Space,
        _addr: u64,
        _len: u64,
        _permissions: u8,
    ) -> Result<(), MemFault> {
        Err(MemFault)
    }

    fn unmap_for(&mut self, _partition: EndpointId, _space: Space, _addr: u64, _len: u64) {}

    // No caches modelled: what is written is what a reader sees.
    fn clean_to_poc(&mut self, _space: Space, _addr: u64, _len: usize) {}

    // No normal world here.
    fn send_ns_sgi(&mut self, _cpu: spmc::CpuId, _intid: u32) {}
}

fn dtb(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../sp-manifests")
        .join(name);
    dts::compile(&std::fs::read_to_string(path).unwrap()).to_dtb()
}

const PACKAGES: [(u64, &str); 4] = [
    (0x0e30_0000, "echo.dts"),
    (0x0e40_0000, "relay.dts"),
    (0x0e50_0000, "legacy.dts"),
    (0x0e60_0000, "hostile.dts"),
];

fn loaded() -> Memory {
    let mut m = Memory::new();
    for (at, name) in PACKAGES {
        let d = dtb(name);
        m.package(at, &d, d.len() as u32);
    }
    m
}

/// The SPMC's configuration from `spmc_manifest` and the packages in `m`, on QEMU's platform.
fn load(m: &Memory, spmc_manifest: &[u8]) -> Result<SpmcConfig, LoadError> {
    load_config(m, spmc_manifest, &qemu_platform())
}

#[test]
fn the_project_packages_load() {
    let m = loaded();
    let config = load(&m, &dtb("spmc_manifest.dts")).unwrap();
    assert_eq!(config.refused, []);
    let got: Vec<_> = config
        .partitions
        .iter()
        .map(|p| {
            (
                p.id,
                p.config.name.as_str().to_owned(),
                p.config.load_address,
                p.config.memory_size,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (EndpointId(0x8001), "echo".into(), 0x0e30_0000, 0x10_0000),
            (EndpointId(0x8002), "relay".into(), 0x0e40_0000, 0x10_0000),
            (EndpointId(0x8003), "legacy".into(), 0x0e50_0000, 0x10_0000),
            (EndpointId(0x8004), "hostile".into(), 0x0e60_0000, 0x10_0000),
        ]
    );
    assert_eq!(config.attributes.spmc_id, EndpointId(0x8000));
}

/// The one refusal of `config`, for `vmN` node `vm`: why.
fn only_refusal(config: &SpmcConfig, vm: u16) -> Violation {
    assert_eq!(config.refused.len(), 1, "{:?}", config.refused);
    let r = &config.refused[0];
    assert!(
        matches!(r.partition, Refused::Vm { index, .. } if index == vm),
        "{r:?}"
    );
    r.why
}

#[test]
fn a_bad_package_is_refused_alone_and_names_its_vm_node() {
    let mut m = loaded();
    m.put(0x0e40_0000, b"SPKX");
    let config = load(&m, &dtb("spmc_manifest.dts")).unwrap();
    assert!(matches!(
        only_refusal(&config, 2),
        Violation::Unloadable(Unloadable::Package(PackageError::BadMagic(_)))
    ));
    assert!(
        config.refused[0]
            .to_string()
            .starts_with("vm2 refused: its package: BadMagic"),
        "{}",
        config.refused[0]
    );
    // The others boot.
    assert_eq!(names(&config), ["echo", "legacy", "hostile"]);
}

#[test]
fn oversized_unreadable_or_invalid_manifests_are_refused() {
    let mut m = loaded();
    let big = (MAX_PARTITION_MANIFEST + 1) as u32;
    m.put(0x0e50_000c, &big.to_le_bytes());
    // The header check itself refuses a manifest running into the image first.
    let config = load(&m, &dtb("spmc_manifest.dts")).unwrap();
    assert!(matches!(
        only_refusal(&config, 3),
        Violation::Unloadable(Unloadable::Package(_))
    ));
    // With the image further on, the size limit of the copy applies.
    m.put(0x0e50_0010, &0x8000u32.to_le_bytes());
    let config = load(&m, &dtb("spmc_manifest.dts")).unwrap();
    assert_eq!(
        only_refusal(&config, 3),
        Violation::Unloadable(Unloadable::ManifestTooLarge(big))
    );

    let mut m = loaded();
    m.put(0x0e50_1000, &[0xff; 64]);
    let config = load(&m, &dtb("spmc_manifest.dts")).unwrap();
    assert!(matches!(
        only_refusal(&config, 3),
        Violation::Unloadable(Unloadable::Manifest(_))
    ));
    assert_eq!(names(&config), ["echo", "relay", "hostile"]);

    // A vm node whose package lies outside readable memory.
    let manifest = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sp-manifests/spmc_manifest.dts"),
    )
    .unwrap()
    .replace("load_address = <0xe500000>", "load_address = <0xe700000>");
    let config = load(&loaded(), &dts::compile(&manifest).to_dtb()).unwrap();
    assert_eq!(
        only_refusal(&config, 3),
        Violation::Unloadable(Unloadable::Package(PackageError::Unreadable))
    );
}

#[test]
fn packages_and_spmc_manifest_must_agree() {
    let mut m = loaded();
    let relay = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sp-manifests/relay.dts"),
    )
    .unwrap()
    .replace("load-address = <0xe400000>", "load-address = <0xe480000>");
    let d = dts::compile(&relay).to_dtb();
    m.package(0x0e40_0000, &d, d.len() as u32);
    let e = load(&m, &dtb("spmc_manifest.dts")).unwrap_err();
    assert!(
        matches!(
            e,
            LoadError::Config(ConfigError::LoadAddressMismatch { .. })
                | LoadError::Config(ConfigError::NoVmNode { .. })
                | LoadError::Config(ConfigError::NoPartitionForVm { .. })
        ),
        "{e:?}"
    );
    assert!(matches!(
        load(&loaded(), b"not a dtb"),
        Err(LoadError::SpmcManifest(_))
    ));
}

fn source(name: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../sp-manifests")
            .join(name),
    )
    .unwrap()
}

/// The project's packages, with `extra` (DTS text of child nodes) added to the manifest in
/// `file`.
fn loaded_with(changes: &[(&str, String)]) -> Memory {
    let mut m = loaded();
    for (file, extra) in changes {
        let (at, _) = PACKAGES.iter().find(|(_, f)| f == file).unwrap();
        let text = source(file);
        let end = text.rfind("};").unwrap();
        let text = format!("{}{extra}\n{}", &text[..end], &text[end..]);
        let d = dts::compile(&text).to_dtb();
        m.package(*at, &d, d.len() as u32);
    }
    m
}

fn cells(value: u64) -> String {
    format!("<{:#x} {:#x}>", value >> 32, value as u32)
}

fn memory_region(base: u64, pages: u32, non_secure: bool) -> String {
    let attributes = 0x3 | if non_secure { 0x8 } else { 0 };
    format!(
        "memory-regions {{ compatible = \"arm,ffa-manifest-memory-regions\";
            r {{ base-address = {}; pages-count = <{pages}>; attributes = <{attributes:#x}>; }}; }};",
        cells(base)
    )
}

fn device_regions(bases: &[u64]) -> String {
    let mut text =
        String::from("device-regions { compatible = \"arm,ffa-manifest-device-regions\";");
    for (i, base) in bases.iter().enumerate() {
        text += &format!(
            " d{i} {{ base-address = {}; pages-count = <1>; attributes = <0x3>; }};",
            cells(*base)
        );
    }
    text + " };"
}

/// The project's SPMC manifest with `edit` applied to its text.
fn spmc_manifest_with(edit: impl FnOnce(String) -> String) -> Vec<u8> {
    dts::compile(&edit(source("spmc_manifest.dts"))).to_dtb()
}

fn names(config: &SpmcConfig) -> Vec<&str> {
    config
        .partitions
        .iter()
        .map(|p| p.config.name.as_str())
        .collect()
}

fn range(start: u64, len: u64) -> Range {
    Range::new(start, len).unwrap()
}

fn refused(id: u16, name: &str, why: Violation) -> Refusal {
    Refusal {
        partition: Refused::Partition {
            id: EndpointId(id),
            name: name.try_into().unwrap(),
        },
        why,
    }
}

#[test]
fn a_region_over_the_spmc_image_is_refused_and_the_others_boot() {
    // Inside secure memory, but in the SPMC's window: its code, stacks and page tables.
    let m = loaded_with(&[("relay.dts", memory_region(0x0e1f_0000, 1, false))]);
    let config = load(&m, &dtb("spmc_manifest.dts")).unwrap();
    assert_eq!(names(&config), ["echo", "legacy", "hostile"]);
    let why = Violation::Spmc {
        claim: Claim::MemoryRegion(0),
        range: range(0x0e1f_0000, 0x1000),
        resource: SpmcResource::Image,
    };
    assert_eq!(config.refused, [refused(0x8002, "relay", why)]);
    assert_eq!(
        config.refused[0].to_string(),
        "partition 0x8002 refused: memory region 0 [0xe1f0000, 0xe1f1000) overlaps the SPMC \
         image (\"relay\")"
    );
    // IDs were settled with relay still there: legacy keeps the one it always gets.
    assert_eq!(config.partitions[1].id, EndpointId(0x8003));

    // Boot goes on with the other two, and the SPMC reports the refusal.
    let mut s = Spmc::new(config, m, 4);
    assert_eq!(s.refused_partitions().len(), 1);
    let enter = |o: Outcome| match o {
        Outcome::Enter {
            partition, start, ..
        } => (partition.0, start),
        other => panic!("{other:?}"),
    };
    let msg_wait = [
        0x8400_006b,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ];
    assert_eq!(enter(s.boot(CpuId(0))), (0x8001, Some(0x0e30_4000)));
    let next = s.handle(
        CpuId(0),
        spmc::Caller::Partition(EndpointId(0x8001)),
        &msg_wait,
    );
    assert_eq!(enter(next), (0x8003, Some(0x0e50_4000)));
    let next = s.handle(
        CpuId(0),
        spmc::Caller::Partition(EndpointId(0x8003)),
        &msg_wait,
    );
    assert_eq!(enter(next), (0x8004, Some(0x0e60_4000)));
    let done = s.handle(
        CpuId(0),
        spmc::Caller::Partition(EndpointId(0x8004)),
        &msg_wait,
    );
    assert!(
        matches!(done, Outcome::ToSpmd(r) if r[0] == 0x8400_006b),
        "{done:?}"
    );
}

#[test]
fn a_region_over_a_package_is_refused() {
    // echo claims relay's package; legacy claims a page of its own (stage 2 maps a page once).
    let m = loaded_with(&[
        ("echo.dts", memory_region(0x0e40_0000, 1, false)),
        ("legacy.dts", memory_region(0x0e5f_f000, 1, false)),
    ]);
    let config = load(&m, &dtb("spmc_manifest.dts")).unwrap();
    assert_eq!(names(&config), ["relay", "hostile"]);
    assert_eq!(
        config.refused,
        [
            refused(
                0x8001,
                "echo",
                Violation::Package {
                    claim: Claim::MemoryRegion(0),
                    range: range(0x0e40_0000, 0x1000),
                    vm: 2
                }
            ),
            refused(
                0x8003,
                "legacy",
                Violation::Package {
                    claim: Claim::MemoryRegion(0),
                    range: range(0x0e5f_f000, 0x1000),
                    vm: 3
                }
            ),
        ]
    );
}

#[test]
fn of_two_partitions_claiming_a_region_the_later_is_refused() {
    let m = loaded_with(&[
        ("echo.dts", memory_region(0x0e80_0000, 2, false)),
        ("relay.dts", memory_region(0x0e80_1000, 1, false)),
    ]);
    let config = load(&m, &dtb("spmc_manifest.dts")).unwrap();
    assert_eq!(names(&config), ["echo", "legacy", "hostile"]);
    assert_eq!(
        config.refused,
        [refused(
            0x8002,
            "relay",
            Violation::Region {
                claim: Claim::MemoryRegion(0),
                range: range(0x0e80_1000, 0x1000),
                owner: EndpointId(0x8001)
            }
        )]
    );
}

#[test]
fn device_regions_need_device_memory_and_never_get_the_spmcs_devices() {
    // The project's manifest has no device-memory: no device at all.
    let m = loaded_with(&[("echo.dts", device_regions(&[0x0904_0000]))]);
    let config = load(&m, &dtb("spmc_manifest.dts")).unwrap();
    assert_eq!(names(&config), ["relay", "legacy", "hostile"]);
    assert_eq!(
        config.refused[0].why,
        Violation::OutsideMap {
            claim: Claim::DeviceRegion(0),
            range: range(0x0904_0000, 0x1000),
            kind: MemoryKind::Device
        }
    );

    // With all of QEMU's device space described, the SPMC's own devices stay its own.
    let spmc = spmc_manifest_with(|text| {
        let end = text.rfind("};").unwrap();
        format!(
            "{}memory@8000000 {{ device_type = \"device-memory\"; reg = <0x0 0x8000000 0x2000000>; }};\n{}",
            &text[..end],
            &text[end..]
        )
    });
    // More than the UART's page: not the console shared, an overlap.
    let uart_and_next = "device-regions { compatible = \"arm,ffa-manifest-device-regions\";
        d0 { base-address = <0x0 0x9100000>; pages-count = <1>; attributes = <0x3>; };
        d1 { base-address = <0x0 0x9040000>; pages-count = <2>; attributes = <0x3>; }; };";
    let m = loaded_with(&[
        ("echo.dts", uart_and_next.to_string()),
        ("relay.dts", device_regions(&[0x0800_0000])),
        ("legacy.dts", device_regions(&[0x0810_0000])),
    ]);
    let config = load(&m, &spmc).unwrap();
    assert_eq!(names(&config), ["hostile"]);
    let why: Vec<_> = config.refused.iter().map(|r| r.why).collect();
    assert_eq!(
        why,
        [
            Violation::Spmc {
                claim: Claim::DeviceRegion(1),
                range: range(0x0904_0000, 0x2000),
                resource: SpmcResource::Uart
            },
            Violation::Spmc {
                claim: Claim::DeviceRegion(0),
                range: range(0x0800_0000, 0x1000),
                resource: SpmcResource::GicDistributor
            },
            Violation::Spmc {
                claim: Claim::DeviceRegion(0),
                range: range(0x0810_0000, 0x1000),
                resource: SpmcResource::GicRedistributors
            },
        ]
    );
    // A device nobody else uses is fine.
    let m = loaded_with(&[("echo.dts", device_regions(&[0x0910_0000]))]);
    let config = load(&m, &spmc).unwrap();
    assert_eq!(names(&config), ["echo", "relay", "legacy", "hostile"]);
}

/// A device region with `interrupts` = `pairs`.
fn device_with_interrupts(base: u64, pairs: &[(u32, u32)]) -> String {
    let list: Vec<String> = pairs
        .iter()
        .map(|(id, attr)| format!("{id:#x} {attr:#x}"))
        .collect();
    format!(
        "device-regions {{ compatible = \"arm,ffa-manifest-device-regions\";
            d0 {{ base-address = {}; pages-count = <1>; attributes = <0x3>; interrupts = <{}>; }}; }};",
        cells(base),
        list.join(" ")
    )
}

/// The project's SPMC manifest with all of QEMU's device space as device-memory.
fn spmc_with_devices() -> Vec<u8> {
    spmc_manifest_with(|text| {
        let end = text.rfind("};").unwrap();
        format!(
            "{}memory@8000000 {{ device_type = \"device-memory\"; reg = <0x0 0x8000000 0x2000000>; }};\n{}",
            &text[..end],
            &text[end..]
        )
    })
}

#[test]
fn the_console_uart_is_shared_with_one_partition_as_optee_declares_it() {
    // OP-TEE/build's uart1: exactly the SPMC's console page, with its interrupt 40.
    let spmc = spmc_with_devices();
    let m = loaded_with(&[(
        "echo.dts",
        device_with_interrupts(0x0904_0000, &[(40, 0x901)]),
    )]);
    let config = load(&m, &spmc).unwrap();
    assert_eq!(names(&config), ["echo", "relay", "legacy", "hostile"]);
    let echo = &config.partitions[0].config;
    assert_eq!(echo.interrupts.len(), 1);
    assert_eq!(echo.interrupts[0].intid.get(), 40);
    assert_eq!(
        spmc::memory_map::console_shares(echo, &spmc::memory_map::qemu_virt::RESERVED)
            .collect::<Vec<_>>(),
        [range(0x0904_0000, 0x1000)]
    );
    // A second partition claiming it overlaps the first one's region.
    let m = loaded_with(&[
        ("echo.dts", device_regions(&[0x0904_0000])),
        ("relay.dts", device_regions(&[0x0904_0000])),
    ]);
    let config = load(&m, &spmc).unwrap();
    assert_eq!(names(&config), ["echo", "legacy", "hostile"]);
    assert_eq!(
        config.refused[0].why,
        Violation::Region {
            claim: Claim::DeviceRegion(0),
            range: range(0x0904_0000, 0x1000),
            owner: EndpointId(0x8001)
        }
    );
}

#[test]
fn an_interrupt_declared_by_an_earlier_partition_refuses_the_later_one_alone() {
    let spmc = spmc_with_devices();
    let m = loaded_with(&[
        (
            "echo.dts",
            device_with_interrupts(0x0910_0000, &[(40, 0x901)]),
        ),
        (
            "relay.dts",
            device_with_interrupts(0x0911_0000, &[(41, 0x901), (40, 0xa01)]),
        ),
        (
            "legacy.dts",
            device_with_interrupts(0x0912_0000, &[(41, 0x901)]),
        ),
    ]);
    let config = load(&m, &spmc).unwrap();
    assert_eq!(names(&config), ["echo", "legacy", "hostile"]);
    assert_eq!(config.refused.len(), 1);
    assert_eq!(
        config.refused[0].why,
        Violation::InterruptTaken {
            intid: 40,
            owner: EndpointId(0x8001)
        }
    );
    assert_eq!(
        config.refused[0].to_string(),
        "partition 0x8002 refused: interrupt 40 is already partition 0x8001's (\"relay\")"
    );
}

#[test]
fn secure_regions_outside_secure_memory_are_refused() {
    for (base, pages) in [
        // Past the end, across the end, in TF-A's secure SRAM, in normal-world RAM.
        (0x0f00_0000, 1),
        (0x0eff_f000, 2),
        (0x0e04_0000, 1),
        (0x4800_0000, 1),
    ] {
        let m = loaded_with(&[("legacy.dts", memory_region(base, pages, false))]);
        let config = load(&m, &dtb("spmc_manifest.dts")).unwrap();
        assert_eq!(names(&config), ["echo", "relay", "hostile"], "{base:#x}");
        assert_eq!(
            config.refused[0].why,
            Violation::OutsideMap {
                claim: Claim::MemoryRegion(0),
                range: range(base, u64::from(pages) * 0x1000),
                kind: MemoryKind::Secure
            }
        );
    }
}

#[test]
fn ns_regions_must_lie_in_ns_memory() {
    let m = loaded_with(&[
        ("echo.dts", memory_region(0x4800_0000, 1, true)),
        ("legacy.dts", memory_region(0x8010_0000, 1, true)),
    ]);
    let config = load(&m, &dtb("spmc_manifest.dts")).unwrap();
    assert_eq!(names(&config), ["echo", "relay", "hostile"]);
    assert_eq!(
        config.refused[0].why,
        Violation::OutsideMap {
            claim: Claim::MemoryRegion(0),
            range: range(0x8010_0000, 0x1000),
            kind: MemoryKind::NonSecure
        }
    );

    // A smaller ns-memory node is what counts...
    let small = spmc_manifest_with(|t| t.replace("0x40000000 0x40000000", "0x40000000 0x8000000"));
    let config = load(&m, &small).unwrap();
    assert_eq!(names(&config), ["relay", "hostile"]);
    // ... and without one, the platform's default window.
    let plan = spmc::loader::plan(
        &spmc_manifest_with(|t| t.replace("\"ns-memory\"", "\"unused\"")),
        &PlatformMemory {
            default_non_secure: range(0x4800_0000, 0x1000),
            ..qemu_platform()
        },
    )
    .unwrap();
    assert!(plan.map.non_secure_is_default());
    assert_eq!(
        plan.map.ranges(MemoryKind::NonSecure),
        [range(0x4800_0000, 0x1000)]
    );
    let config = spmc::loader::load(&m, &plan).unwrap();
    assert_eq!(names(&config), ["echo", "relay", "hostile"]);
}

#[test]
fn vm_nodes_outside_secure_memory_or_over_the_spmc_are_refused_unread() {
    // The fake memory holds nothing below 0x0e30_0000: reading these packages would fail.
    for (address, why) in [
        (
            "0xe200000",
            Violation::Spmc {
                claim: Claim::Package,
                range: range(0x0e20_0000, 0x10_0000),
                resource: SpmcResource::Image,
            },
        ),
        (
            "0xe000000",
            Violation::OutsideMap {
                claim: Claim::Package,
                range: range(0x0e00_0000, 0x10_0000),
                kind: MemoryKind::Secure,
            },
        ),
        (
            "0x48000000",
            Violation::OutsideMap {
                claim: Claim::Package,
                range: range(0x4800_0000, 0x10_0000),
                kind: MemoryKind::Secure,
            },
        ),
    ] {
        let spmc = spmc_manifest_with(|t| {
            t.replace(
                "load_address = <0xe500000>",
                &format!("load_address = <{address}>"),
            )
        });
        let config = load(&loaded(), &spmc).unwrap();
        assert_eq!(names(&config), ["echo", "relay", "hostile"], "{address}");
        assert_eq!(
            config.refused,
            [Refusal {
                partition: Refused::Vm {
                    index: 3,
                    name: "legacy".try_into().unwrap()
                },
                why
            }]
        );
        assert!(
            config.refused[0]
                .to_string()
                .starts_with("vm3 refused: package ["),
            "{}",
            config.refused[0]
        );
    }
    // The manifest page too, even where the map would allow it.
    let platform = PlatformMemory {
        reserved: &[(SpmcResource::Manifest, range(0x0e50_2000, 0x1000))],
        ..qemu_platform()
    };
    let config = load_config(&loaded(), &dtb("spmc_manifest.dts"), &platform).unwrap();
    assert_eq!(names(&config), ["echo", "relay", "hostile"]);
    assert!(matches!(
        config.refused[0].why,
        Violation::Spmc {
            resource: SpmcResource::Manifest,
            ..
        }
    ));
}

/// The project's packages with `from` replaced by `to` in the manifest text of `file`.
fn loaded_replacing(changes: &[(&str, &str, &str)]) -> Memory {
    let mut m = loaded();
    for (file, from, to) in changes {
        let (at, _) = PACKAGES.iter().find(|(_, f)| f == file).unwrap();
        let text = source(file);
        assert!(text.contains(from), "{file} has no {from}");
        let d = dts::compile(&text.replace(from, to)).to_dtb();
        m.package(*at, &d, d.len() as u32);
    }
    m
}

#[test]
fn a_manifest_id_outside_the_secure_world_gets_hafniums_id() {
    // OP-TEE/build's manifest says `id = <1>`: Hafnium ignores it and numbers the partition
    // after its vmN node (0x8000 + N); so do we, and the boot goes on.
    let m = loaded_replacing(&[("hostile.dts", "id = <0x8004>", "id = <1>")]);
    let config = load(&m, &dtb("spmc_manifest.dts")).unwrap();
    let hostile = config
        .partitions
        .iter()
        .find(|p| p.config.name.as_str() == "hostile")
        .unwrap();
    assert_eq!(hostile.id, EndpointId(0x8004));
    assert_eq!(hostile.config.replaced_id, Some(EndpointId(1)));
    assert_eq!(config.partitions.len(), 4);

    // That ID yields to a partition that claims it in its own manifest: the next free one.
    let m = loaded_replacing(&[
        ("echo.dts", "id = <0x8001>", "id = <0x8002>"),
        ("relay.dts", "id = <0x8002>", "id = <0x0002>"),
    ]);
    let config = load(&m, &dtb("spmc_manifest.dts")).unwrap();
    let ids: Vec<(String, u16)> = config
        .partitions
        .iter()
        .map(|p| (p.config.name.to_string(), p.id.0))
        .collect();
    assert!(ids.contains(&("echo".into(), 0x8002)), "{ids:x?}");
    assert!(ids.contains(&("relay".into(), 0x8001)), "{ids:x?}");
}

#[test]
fn the_fallback_plan_hosts_no_partition_and_answers_as_spmc_0x8000() {
    let memory = qemu_platform();
    let plan = spmc::loader::fallback_plan(&memory);
    assert!(plan.admitted.is_empty() && plan.refused.is_empty());
    assert!(plan.manifest.cpus.is_none());
    let config = plan.assemble([]).unwrap();
    assert!(config.partitions.is_empty());
    assert_eq!(config.attributes.spmc_id, EndpointId(0x8000));
    assert_eq!(config.attributes.version, ffa::version::OURS);
    // Normal-world buffers still have the platform's default window.
    assert!(plan.map.non_secure_is_default());
}
