//! The FF-A boot-information blob: written over the SPKG header of partitions whose manifest
//! has `gp-register-num`, its address in that register; bad package headers abort the
//! partition and boot goes on.

mod core_support;

use core_support::*;
use ffa::boot_info::{MANIFEST_BLOB_SIZE, ManifestRef, find_manifest};
use ffa::{FfaError, Version};
use spmc::CpuId;
use spmc::boot_info::{BootInfoFailure, PackageError};
use spmc::manifest::SpmcConfig;
use spmc::partition::AbortReason;
use spmc::platform::{Platform, Space};
use spmc::vcpu::RuntimeState;

/// An SPKG v2 header: manifest of `pm_size` bytes at 0x1000, image at 0x4000.
fn spkg(pm_size: u32) -> Vec<u8> {
    [
        u32::from_le_bytes(*b"SPKG"),
        2,
        0x1000,
        pm_size,
        0x4000,
        0x2000,
    ]
    .iter()
    .flat_map(|w| w.to_le_bytes())
    .collect()
}

/// SP1 (v1.2, blob in x0), SP2 (MP v1.2, blob in x2), SP3 (v1.1, blob in x1).
fn config_with_blobs() -> SpmcConfig {
    let mut c = config();
    for (p, reg) in c.partitions.iter_mut().zip([0, 2, 1]) {
        p.config.gp_register_num = Some(reg);
    }
    c
}

fn spmc_with_packages(config: SpmcConfig, headers: [Vec<u8>; 3]) -> TestSpmc {
    let mut s = new_spmc(config, 2);
    for (load, header) in [SP1_LOAD, SP2_LOAD, SP3_LOAD].into_iter().zip(headers) {
        s.platform_mut()
            .write(Space::Secure, load, &header)
            .unwrap();
        // BL2 cleans what it loads.
        s.platform_mut()
            .clean_to_poc(Space::Secure, load, header.len());
    }
    s
}

fn blob_at(s: &TestSpmc, addr: u64) -> Vec<u8> {
    s.platform().peek(Space::Secure, addr, MANIFEST_BLOB_SIZE)
}

#[test]
fn the_blob_replaces_the_package_header_and_its_register_points_at_it() {
    let mut s = spmc_with_packages(config_with_blobs(), [spkg(0x200), spkg(0x300), spkg(0x400)]);
    let cases = [
        (SP1, SP1_LOAD, 0, Version(1, 2), 0x200),
        (SP2, SP2_LOAD, 2, Version(1, 2), 0x300),
        (SP3, SP3_LOAD, 1, Version(1, 1), 0x400),
    ];
    let mut o = s.boot(CpuId(0));
    for (id, load, reg, version, size) in cases {
        let r = started(o, id, 0, load + 0x4000);
        let mut want = regs(&[]);
        want[reg] = load;
        assert_eq!(r, want, "{id:x?}: x{reg} = the blob, the rest 0");
        assert_eq!(
            s.platform().dirty(),
            [],
            "{id:x?} starts with its caches off: the blob must be cleaned before"
        );
        let blob = blob_at(&s, load);
        assert_eq!(
            find_manifest(&blob),
            Ok(ManifestRef {
                version,
                address: load + 0x1000,
                size,
            }),
            "{id:x?}"
        );
        assert_eq!(&blob[..4], &0x0ffa_u32.to_le_bytes(), "signature");
        assert_eq!(&blob[8..12], &64u32.to_le_bytes(), "blob size");
        assert_eq!(&blob[32..46], b"FF-A manifest\0");
        o = sp(&mut s, 0, id, &regs(&[fid::MSG_WAIT]));
    }
    assert_eq!(to_spmd(o)[0], fid::MSG_WAIT);
    // Warm starts carry no blob (Hafnium passes it on the primary CPU only).
    let r = started(s.cpu_on(CpuId(1)), SP2, 1, SP2_LOAD + 0x4000);
    assert_eq!(r, regs(&[]));
}

#[test]
fn without_gp_register_num_nothing_is_written() {
    let mut s = spmc_with_packages(config(), [spkg(0x200), spkg(0x300), spkg(0x400)]);
    let r = started(s.boot(CpuId(0)), SP1, 0, SP1_LOAD + 0x4000);
    assert_eq!(r, regs(&[SP1_LOAD + 0x1000]));
    assert_eq!(s.platform().peek(Space::Secure, SP1_LOAD, 24), spkg(0x200));
}

#[test]
fn a_bad_package_header_aborts_the_partition_and_boot_goes_on() {
    let mut bad_version = spkg(0x200);
    bad_version[4] = 1;
    let mut overlapping = spkg(0x200);
    overlapping[12..16].copy_from_slice(&0x3001u32.to_le_bytes());
    let cases = [
        (vec![0; 24], PackageError::BadMagic(0)),
        (bad_version, PackageError::UnsupportedVersion(1)),
        (spkg(0), PackageError::EmptyManifest),
        (overlapping, PackageError::ManifestOverlapsImage),
    ];
    for (header, why) in cases {
        let mut s = spmc_with_packages(config_with_blobs(), [header, spkg(0x300), spkg(0x400)]);
        // SP1 is never entered: SP2 starts first.
        let r = started(s.boot(CpuId(0)), SP2, 0, SP2_LOAD + 0x4000);
        assert_eq!(r[2], SP2_LOAD);
        assert_eq!(
            s.abort_reason(SP1),
            Some(AbortReason::BootInfo(BootInfoFailure::Package(why)))
        );
        assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Aborted));
        assert_eq!(s.abort_reason(SP2), None);
        started(
            sp(&mut s, 0, SP2, &regs(&[fid::MSG_WAIT])),
            SP3,
            0,
            SP3_LOAD + 0x4000,
        );
        assert_eq!(
            to_spmd(sp(&mut s, 0, SP3, &regs(&[fid::MSG_WAIT])))[0],
            fid::MSG_WAIT
        );
        let r = to_spmd(nwd(&mut s, 0, &req32(1, SP1, [0; 5])));
        assert_error(&r, FfaError::Aborted);
    }
}

#[test]
fn memory_the_platform_refuses_aborts_the_partition() {
    let mut s = spmc_with_packages(config_with_blobs(), [spkg(0x200), spkg(0x300), spkg(0x400)]);
    s.platform_mut().fail_writes = true;
    // Every partition wants a blob and none can be written: boot ends at once.
    assert_eq!(to_spmd(s.boot(CpuId(0)))[0], fid::MSG_WAIT);
    for id in [SP1, SP2, SP3] {
        assert_eq!(
            s.abort_reason(id),
            Some(AbortReason::BootInfo(BootInfoFailure::Unwritable))
        );
    }
    // A package outside the memory the platform lets the SPMC read.
    let mut c = config_with_blobs();
    c.partitions[0].config.load_address = 0x1_0000_0000;
    let mut s = spmc_with_packages(c, [vec![], spkg(0x300), spkg(0x400)]);
    started(s.boot(CpuId(0)), SP2, 0, SP2_LOAD + 0x4000);
    assert_eq!(
        s.abort_reason(SP1),
        Some(AbortReason::BootInfo(BootInfoFailure::Package(
            PackageError::Unreadable
        )))
    );
}

#[test]
fn init_failures_say_why() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    entered(
        sp(&mut s, 0, SP1, &regs(&[fid::ERROR, 0, 0xffff_fffe])),
        SP2,
        0,
    );
    entered(sp(&mut s, 0, SP2, &regs(&[fid::YIELD])), SP3, 0);
    assert_eq!(s.abort_reason(SP1), Some(AbortReason::InitError));
    assert_eq!(
        s.abort_reason(SP2),
        Some(AbortReason::ForbiddenInitCall(fid::YIELD as u32))
    );
    assert_eq!(s.abort_reason(SP3), None);
}
