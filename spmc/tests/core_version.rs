//! FFA_VERSION per endpoint with locking, and the SPMD's framework messages.

mod core_support;

use core_support::*;
use ffa::{FfaError, Version};
use spmc::CpuId;

const V1_0: u64 = 0x1_0000;
const V1_1: u64 = 0x1_0001;
const V1_2: u64 = 0x1_0002;
const NOT_SUPPORTED: u64 = 0xffff_ffff;

/// The SPMD's framework VERSION request for `v`.
fn fwk_version(v: u64) -> spmc::Regs {
    regs_tagged(&[fid::REQ32, 0xffff_8000, 0x8000_0008, v], 0x900)
}

#[test]
fn partition_renegotiates_until_its_first_other_call() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    assert_eq!(s.partition_version(SP1), Some(Version(1, 2)));
    let r = entered(
        sp(&mut s, 0, SP1, &regs_tagged(&[fid::VERSION, V1_0], 0x40)),
        SP1,
        0,
    );
    assert_eq!(r[0], V1_2);
    assert_eq!(&r[1..8], &[0; 7]);
    assert_eq!(&r[8..], &tagged(0x40));
    assert_eq!(s.partition_version(SP1), Some(Version(1, 0)));
    let r = entered(sp(&mut s, 0, SP1, &regs(&[fid::VERSION, V1_1])), SP1, 0);
    assert_eq!(r[0], V1_2);
    // The first other FF-A call locks v1.1.
    entered(sp(&mut s, 0, SP1, &regs(&[fid::ID_GET])), SP1, 0);
    let r = entered(sp(&mut s, 0, SP1, &regs(&[fid::VERSION, V1_2])), SP1, 0);
    assert_eq!(r[0], NOT_SUPPORTED);
    let r = entered(sp(&mut s, 0, SP1, &regs(&[fid::VERSION, V1_1])), SP1, 0);
    assert_eq!(r[0], V1_2);
    assert_eq!(s.partition_version(SP1), Some(Version(1, 1)));
}

#[test]
fn incompatible_versions_are_not_supported() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    for bad in [0x2_0000, 0x0_0001, 0x8001_0002, 0xffff_ffff] {
        let r = entered(sp(&mut s, 0, SP1, &regs(&[fid::VERSION, bad])), SP1, 0);
        assert_eq!(r[0], NOT_SUPPORTED, "{bad:#x}");
    }
    assert_eq!(s.partition_version(SP1), Some(Version(1, 2)));
    // A newer minor is not compatible (Hafnium's rule) and changes nothing.
    let r = entered(sp(&mut s, 0, SP1, &regs(&[fid::VERSION, V1_1])), SP1, 0);
    assert_eq!(r[0], V1_2);
    for newer in [0x1_0003, 0x1_0005] {
        let r = entered(sp(&mut s, 0, SP1, &regs(&[fid::VERSION, newer])), SP1, 0);
        assert_eq!(r[0], NOT_SUPPORTED, "{newer:#x}");
    }
    assert_eq!(s.partition_version(SP1), Some(Version(1, 1)));
    // From the normal world, directly and through the SPMD's framework message.
    let mut s = booted();
    let r = to_spmd(nwd(&mut s, 0, &regs(&[fid::VERSION, 0x1_0003])));
    assert_eq!(r[0], NOT_SUPPORTED);
    let r = to_spmd(nwd(&mut s, 0, &fwk_version(0x1_0003)));
    assert_eq!(r[3], NOT_SUPPORTED);
}

#[test]
fn non_ffa_calls_do_not_lock() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    // A Hafnium paravirtual call (HF_INTERRUPT_GET: nothing pending) is not FF-A.
    let r = entered(
        sp(&mut s, 0, SP1, &regs_tagged(&[0xff04, 1, 2], 0x10)),
        SP1,
        0,
    );
    assert_eq!(r[0], 0xffff_ffff);
    assert_eq!((r[1], r[2]), (1, 2));
    let r = entered(sp(&mut s, 0, SP1, &regs(&[fid::VERSION, V1_1])), SP1, 0);
    assert_eq!(r[0], V1_2);
    assert_eq!(s.partition_version(SP1), Some(Version(1, 1)));
}

#[test]
fn normal_world_version_through_the_framework_message() {
    let mut s = booted();
    let r = to_spmd(nwd(&mut s, 0, &fwk_version(V1_1)));
    assert_eq!(
        &r[..8],
        &[0x8400_0070, 0x8000_ffff, 0x8000_0009, V1_2, 0, 0, 0, 0]
    );
    assert_eq!(&r[8..], &tagged(0x900));
    assert_eq!(s.normal_world_version(), Version(1, 1));
    let r = to_spmd(nwd(&mut s, 0, &fwk_version(0x2_0000)));
    assert_eq!(r[3], NOT_SUPPORTED);
    let r = to_spmd(nwd(&mut s, 0, &fwk_version(0x8001_0001)));
    assert_eq!(
        (r[0], r[2], r[3]),
        (0x8400_0070, 0x8000_0009, NOT_SUPPORTED)
    );
    // Renegotiation is open until the normal world's first forwarded call.
    to_spmd(nwd(&mut s, 0, &fwk_version(V1_0)));
    assert_eq!(s.normal_world_version(), Version(1, 0));
    assert_success(&to_spmd(nwd(&mut s, 0, &regs(&[fid::ID_GET]))));
    let r = to_spmd(nwd(&mut s, 0, &fwk_version(V1_2)));
    assert_eq!(r[3], NOT_SUPPORTED);
    let r = to_spmd(nwd(&mut s, 0, &fwk_version(V1_0)));
    assert_eq!(r[3], V1_2);
    assert_eq!(s.normal_world_version(), Version(1, 0));
}

#[test]
fn normal_world_version_decides_what_exists_for_it() {
    let mut s = booted();
    to_spmd(nwd(&mut s, 0, &fwk_version(V1_0)));
    // FFA_SPM_ID_GET is v1.1.
    let r = to_spmd(nwd(&mut s, 0, &regs(&[fid::SPM_ID_GET])));
    assert_error(&r, FfaError::NotSupported);
}

#[test]
fn psci_framework_messages() {
    let mut s = booted();
    let off = regs_tagged(&[fid::REQ32, 0xffff_8000, 0x8000_0000, 0x8400_0002], 0x70);
    let r = to_spmd(nwd(&mut s, 1, &off));
    assert_eq!(
        &r[..8],
        &[0x8400_0070, 0x8000_ffff, 0x8000_0002, 0, 0, 0, 0, 0]
    );
    assert_eq!(&r[8..], &tagged(0x70));
    // Another PSCI function: a PSCI response with NOT_SUPPORTED.
    let suspend = regs(&[fid::REQ32, 0xffff_8000, 0x8000_0000, 0xc400_0001]);
    let r = to_spmd(nwd(&mut s, 0, &suspend));
    assert_eq!(
        (r[0], r[1], r[2], r[3]),
        (0x8400_0070, 0x8000_ffff, 0x8000_0002, 0xffff_ffff)
    );
    // Unknown framework messages and wrong destinations get FFA_ERROR.
    let odd = regs(&[fid::REQ32, 0xffff_8000, 0x8000_0004, 0]);
    assert_error(&to_spmd(nwd(&mut s, 0, &odd)), FfaError::NotSupported);
    let elsewhere = regs(&[fid::REQ32, 0xffff_8001, 0x8000_0008, V1_2]);
    assert_error(
        &to_spmd(nwd(&mut s, 0, &elsewhere)),
        FfaError::InvalidParameters,
    );
    // Framework messages do not lock the normal world's version.
    to_spmd(nwd(&mut s, 0, &fwk_version(V1_1)));
    assert_eq!(s.normal_world_version(), Version(1, 1));
}
