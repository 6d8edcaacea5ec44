//! The boot-information blob: golden bytes, arm-ffa's reader, and our own finder.

mod fixtures;

use arm_ffa::boot_info::{
    BootInfo, BootInfoContents, BootInfoIterator, BootInfoName, BootInfoStdId, BootInfoType,
};
use ffa::boot_info::{
    BootInfoError, MANIFEST_BLOB_SIZE, ManifestRef, find_manifest, write_manifest_blob,
};
use ffa::{FfaError, Version};
use fixtures::BOOT_INFO_V1_1;

#[test]
fn golden_v1_1_blob() {
    let mut buf = [0u8; 128];
    assert_eq!(
        write_manifest_blob(Version(1, 1), 0x0610_1000, 0x1000, &mut buf),
        Ok(64)
    );
    assert_eq!(buf[..64], BOOT_INFO_V1_1);
    assert!(buf[64..].iter().all(|&b| b == 0));
}

#[test]
fn v1_2_blob_differs_only_in_its_version() {
    let mut buf = [0u8; 64];
    write_manifest_blob(Version(1, 2), 0x0610_1000, 0x1000, &mut buf).unwrap();
    assert_eq!(buf[4..8], [0x02, 0x00, 0x01, 0x00]);
    assert_eq!(buf[..4], BOOT_INFO_V1_1[..4]);
    assert_eq!(buf[8..], BOOT_INFO_V1_1[8..]);
}

#[test]
fn arm_ffa_reads_the_blob() {
    // arm-ffa follows an address only into the slice it is given, so place a fake manifest in
    // the same allocation as the blob and pass its real address.
    let mut mem = vec![0u8; 8192];
    mem[4096..4100].copy_from_slice(&[0xd0, 0x0d, 0xfe, 0xed]);
    let manifest_addr = mem.as_ptr() as u64 + 4096;
    for version in [Version(1, 1), Version(1, 2)] {
        write_manifest_blob(version, manifest_addr, 4, &mut mem).unwrap();
        assert_eq!(
            BootInfo::get_blob_size(version, &mem),
            Ok(MANIFEST_BLOB_SIZE)
        );
        let descs: Vec<_> = BootInfoIterator::new(version, &mem)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(descs.len(), 1);
        let BootInfoName::NullTermString(name) = &descs[0].name else {
            panic!("name is not a string");
        };
        assert_eq!(name.to_bytes(), b"FF-A manifest");
        assert_eq!(descs[0].typ, BootInfoType::Std(BootInfoStdId::Fdt));
        let BootInfoContents::Address { content_buf } = descs[0].contents else {
            panic!("contents are not an address");
        };
        assert_eq!(content_buf, &[0xd0, 0x0d, 0xfe, 0xed]);
    }
}

#[test]
fn find_manifest_reads_our_blob_and_a_nameless_one() {
    assert_eq!(
        find_manifest(&BOOT_INFO_V1_1),
        Ok(ManifestRef {
            version: Version(1, 1),
            address: 0x0610_1000,
            size: 0x1000,
        })
    );
    // Hafnium and OP-TEE leave the name zero.
    let mut nameless = BOOT_INFO_V1_1;
    nameless[32..48].fill(0);
    assert_eq!(find_manifest(&nameless).unwrap().address, 0x0610_1000);
}

#[test]
fn find_manifest_rejects_malformed_blobs() {
    let cases: [(usize, u8, BootInfoError); 6] = [
        (0, 0xfb, BootInfoError::Malformed),   // signature
        (7, 0x80, BootInfoError::Malformed),   // version bit 31
        (24, 0x01, BootInfoError::Malformed),  // reserved
        (12, 0x10, BootInfoError::Malformed),  // descriptor size 16
        (20, 0x24, BootInfoError::Malformed),  // array offset 36, unaligned
        (48, 0x80, BootInfoError::NoManifest), // implementation-defined type
    ];
    for (at, value, expected) in cases {
        let mut b = BOOT_INFO_V1_1;
        b[at] = value;
        assert_eq!(find_manifest(&b), Err(expected), "byte {at}");
    }
    // Contents given by value, not address.
    let mut b = BOOT_INFO_V1_1;
    b[50] = 0x04;
    assert_eq!(find_manifest(&b), Err(BootInfoError::NoManifest));
    // A huge descriptor count runs off the end.
    let mut b = BOOT_INFO_V1_1;
    b[48] = 0x80;
    b[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(find_manifest(&b), Err(BootInfoError::Malformed));
    for len in 0..64 {
        assert!(
            find_manifest(&BOOT_INFO_V1_1[..len]).is_err(),
            "{len} bytes"
        );
    }
}

#[test]
fn write_manifest_blob_rejects_bad_requests() {
    let mut buf = [0xaau8; 64];
    for v in [Version(1, 0), Version(1, 3), Version(2, 0)] {
        assert_eq!(
            write_manifest_blob(v, 0x1000, 0x1000, &mut buf),
            Err(BootInfoError::UnsupportedVersion)
        );
    }
    assert_eq!(
        write_manifest_blob(Version(1, 1), 0x1000, 0, &mut buf),
        Err(BootInfoError::EmptyManifest)
    );
    assert_eq!(
        write_manifest_blob(Version(1, 1), 0x1000, 0x1000, &mut buf[..63]),
        Err(BootInfoError::BufferTooSmall)
    );
    assert!(buf.iter().all(|&b| b == 0xaa));
    assert_eq!(
        FfaError::from(BootInfoError::BufferTooSmall),
        FfaError::NoMemory
    );
}
