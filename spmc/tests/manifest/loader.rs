//! loader: the SPMC manifest and SP packages read from (fake) memory, as the SPMC does at boot.

use crate::dts;
use ffa::EndpointId;
use spmc::boot_info::PackageError;
use spmc::loader::{LoadError, MAX_PARTITION_MANIFEST, load_config};
use spmc::manifest::ConfigError;
use spmc::platform::{MemFault, Platform, Space};
use std::path::PathBuf;

/// Secure memory from 0x0e30_0000 to 0x0e60_0000, as BL2 leaves it.
struct Memory {
    base: u64,
    bytes: Vec<u8>,
}

impl Memory {
    fn new() -> Self {
        Self {
            base: 0x0e30_0000,
            bytes: vec![0; 0x30_0000],
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

    fn write(&mut self, _: Space, _: u64, _: &[u8]) -> Result<(), MemFault> {
        Err(MemFault)
    }
}

fn dtb(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../sp-manifests")
        .join(name);
    dts::compile(&std::fs::read_to_string(path).unwrap()).to_dtb()
}

fn loaded() -> Memory {
    let mut m = Memory::new();
    for (at, name) in [
        (0x0e30_0000, "echo.dts"),
        (0x0e40_0000, "relay.dts"),
        (0x0e50_0000, "legacy.dts"),
    ] {
        let d = dtb(name);
        m.package(at, &d, d.len() as u32);
    }
    m
}

#[test]
fn the_project_packages_load() {
    let m = loaded();
    let (config, vms) = load_config(&m, &dtb("spmc_manifest.dts")).unwrap();
    assert_eq!(vms.len(), 3);
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
        ]
    );
    assert_eq!(config.attributes.spmc_id, EndpointId(0x8000));
}

#[test]
fn a_bad_package_names_its_vm_node() {
    let mut m = loaded();
    m.put(0x0e40_0000, b"SPKX");
    let e = load_config(&m, &dtb("spmc_manifest.dts")).unwrap_err();
    assert!(
        matches!(
            e,
            LoadError::Package {
                vm: 2,
                load_address: 0x0e40_0000,
                error: PackageError::BadMagic(_)
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().starts_with("vm2: package at 0xe400000"),
        "{e}"
    );
}

#[test]
fn oversized_unreadable_or_invalid_manifests_are_refused() {
    let mut m = loaded();
    let big = (MAX_PARTITION_MANIFEST + 1) as u32;
    m.put(0x0e50_000c, &big.to_le_bytes());
    // The header check itself refuses a manifest running into the image first.
    let e = load_config(&m, &dtb("spmc_manifest.dts")).unwrap_err();
    assert!(matches!(e, LoadError::Package { vm: 3, .. }), "{e:?}");
    // With the image further on, the size limit of the copy applies.
    m.put(0x0e50_0010, &0x8000u32.to_le_bytes());
    let e = load_config(&m, &dtb("spmc_manifest.dts")).unwrap_err();
    assert_eq!(e, LoadError::ManifestTooLarge { vm: 3, size: big });

    let mut m = loaded();
    m.put(0x0e50_1000, &[0xff; 64]);
    let e = load_config(&m, &dtb("spmc_manifest.dts")).unwrap_err();
    assert!(
        matches!(e, LoadError::PartitionManifest { vm: 3, .. }),
        "{e:?}"
    );

    // A vm node whose package lies outside readable memory.
    let manifest = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sp-manifests/spmc_manifest.dts"),
    )
    .unwrap()
    .replace("load_address = <0xe500000>", "load_address = <0xe700000>");
    let e = load_config(&loaded(), &dts::compile(&manifest).to_dtb()).unwrap_err();
    assert!(
        matches!(
            e,
            LoadError::Package {
                vm: 3,
                error: PackageError::Unreadable,
                ..
            }
        ),
        "{e:?}"
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
    let e = load_config(&m, &dtb("spmc_manifest.dts")).unwrap_err();
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
        load_config(&loaded(), b"not a dtb"),
        Err(LoadError::SpmcManifest(_))
    ));
}
