//! FFA_FEATURES, FFA_ID_GET, FFA_SPM_ID_GET, and the answer to everything we do not implement.

mod core_support;

use core_support::*;
use ffa::FfaError;
use spmc::CpuId;

fn features(id: u64) -> spmc::Regs {
    regs_tagged(&[fid::FEATURES, id], 0x50)
}

#[test]
fn features_from_the_normal_world() {
    let mut s = booted();
    for f in [
        fid::ERROR,
        fid::SUCCESS32,
        fid::SUCCESS64,
        fid::VERSION,
        fid::FEATURES,
        fid::RX_RELEASE,
        fid::RXTX_UNMAP,
        fid::PARTITION_INFO_GET,
        fid::ID_GET,
        fid::SPM_ID_GET,
        fid::REQ32,
        fid::REQ64,
        fid::REQ2,
        fid::GET_REGS,
        fid::RX_ACQUIRE,
        fid::RUN,
        fid::MSG_SEND2,
        fid::INTERRUPT,
        fid::MEM_SHARE32,
        // FFA_MEM_LEND_64, FFA_MEM_DONATE_32, FFA_MEM_RECLAIM, FFA_MEM_FRAG_RX,
        // FFA_MEM_FRAG_TX.
        0xc400_0072,
        0x8400_0071,
        0x8400_0077,
        0x8400_007a,
        0x8400_007b,
        // Notifications: every ABI, BITMAP_CREATE/DESTROY and INFO_GET included.
        0x8400_007d,
        0x8400_007e,
        0x8400_007f,
        0x8400_0080,
        fid::NOTIFICATION_SET,
        0x8400_0082,
        0x8400_0083,
        0xc400_0083,
    ] {
        let r = to_spmd(nwd(&mut s, 0, &features(f)));
        assert_success(&r);
        assert_eq!(&r[1..8], &[0; 7], "{f:#x}");
        assert_eq!(&r[8..], &tagged(0x50));
    }
    for f in [
        fid::MSG_WAIT,
        fid::YIELD,
        fid::RESP32,
        fid::RESP64,
        fid::RESP2,
        fid::SEC_EP64,
        fid::CONSOLE32,
        fid::CONSOLE64,
        // FFA_MEM_RELINQUISH (the normal world borrows nothing).
        0x8400_0076,
        0x8400_00fe,
        0x8401_0063,
        // NPI and MEI are the partitions' interrupts.
        0x1,
        0x3,
        // Bits 30:8 of a feature ID MBZ; bit 31 names a function (none has that number).
        0x102,
        0x8000_0002,
        0x4,
    ] {
        let r = to_spmd(nwd(&mut s, 0, &features(f)));
        assert_error(&r, FfaError::NotSupported);
        assert_eq!(&r[8..], &tagged(0x50));
    }
}

#[test]
fn the_normal_world_is_told_of_the_hypervisor_retrieve_request() {
    let mut s = booted();
    for f in [0x8400_0074, 0xc400_0074] {
        let r = to_spmd(nwd(&mut s, 0, &features(f)));
        assert_success(&r);
        // Bit 1: the NS bit in responses; bit 2: the hypervisor retrieve request.
        assert_eq!(r[2], 0b110, "{f:#x}");
    }
}

#[test]
fn rxtx_map_features_report_size_limits_by_version() {
    let mut s = booted();
    for f in [fid::RXTX_MAP32, fid::RXTX_MAP64] {
        let r = to_spmd(nwd(&mut s, 0, &features(f)));
        assert_success(&r);
        assert_eq!(r[2], 4 << 16);
    }
}

#[test]
fn features_from_partitions_follow_world_version_and_shape() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    // SP1: v1.2, UP.
    for f in [
        fid::MSG_WAIT,
        fid::YIELD,
        fid::RESP32,
        fid::RESP64,
        fid::RESP2,
        fid::CONSOLE32,
        fid::CONSOLE64,
        fid::REQ2,
        fid::GET_REGS,
        fid::SPM_ID_GET,
        // Of its callees that yielded back to it.
        fid::RUN,
        fid::INTERRUPT,
    ] {
        assert_success(&entered(sp(&mut s, 0, SP1, &features(f)), SP1, 0));
    }
    // FFA_MSG_SEND2 too: SP1's manifest does not declare indirect messaging.
    for f in [
        fid::RX_ACQUIRE,
        fid::SEC_EP64,
        fid::SEC_EP32,
        fid::MSG_SEND2,
    ] {
        let r = entered(sp(&mut s, 0, SP1, &features(f)), SP1, 0);
        assert_error(&r, FfaError::NotSupported);
    }
    let r = entered(sp(&mut s, 0, SP1, &features(fid::RXTX_MAP64)), SP1, 0);
    assert_eq!(r[2], 4 << 16);
    // Retrieving: a v1.1+ partition must say it handles the NS bit (input bit 1), and is
    // told the SPMC sets it.
    let retrieve = regs(&[fid::FEATURES, 0x8400_0074, 0b10]);
    let r = entered(sp(&mut s, 0, SP1, &retrieve), SP1, 0);
    assert_success(&r);
    assert_eq!(r[2], 0b10);
    let r = entered(sp(&mut s, 0, SP1, &features(0x8400_0074)), SP1, 0);
    assert_error(&r, FfaError::NotSupported);
    assert_success(&entered(sp(&mut s, 0, SP1, &features(0x8400_0076)), SP1, 0));
    // SP2: MP, may register a secondary entry point; declares indirect messaging.
    entered(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])), SP2, 0);
    for f in [fid::SEC_EP64, fid::MSG_SEND2] {
        assert_success(&entered(sp(&mut s, 0, SP2, &features(f)), SP2, 0));
    }
    // SP3: v1.1: no v1.2 functions, and RXTX_MAP without the maximum.
    entered(sp(&mut s, 0, SP2, &regs(&[fid::MSG_WAIT])), SP3, 0);
    for f in [fid::REQ2, fid::RESP2, fid::GET_REGS] {
        let r = entered(sp(&mut s, 0, SP3, &features(f)), SP3, 0);
        assert_error(&r, FfaError::NotSupported);
    }
    let r = entered(sp(&mut s, 0, SP3, &features(fid::RXTX_MAP32)), SP3, 0);
    assert_success(&r);
    assert_eq!(r[2], 0);
    // Console logging is accepted from older partitions too (a Hafnium extension).
    assert_success(&entered(
        sp(&mut s, 0, SP3, &features(fid::CONSOLE32)),
        SP3,
        0,
    ));
    assert_success(&entered(
        sp(&mut s, 0, SP3, &features(fid::SPM_ID_GET)),
        SP3,
        0,
    ));
}

#[test]
fn features_at_v1_0_hide_v1_1_functions() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    entered(sp(&mut s, 0, SP1, &regs(&[fid::VERSION, 0x1_0000])), SP1, 0);
    for f in [fid::SPM_ID_GET, fid::RX_ACQUIRE, fid::REQ2, fid::GET_REGS] {
        let r = entered(sp(&mut s, 0, SP1, &features(f)), SP1, 0);
        assert_error(&r, FfaError::NotSupported);
    }
    assert_success(&entered(sp(&mut s, 0, SP1, &features(fid::REQ64)), SP1, 0));
}

#[test]
fn id_get_and_spm_id_get() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    let r = entered(
        sp(&mut s, 0, SP1, &regs_tagged(&[fid::ID_GET], 0x30)),
        SP1,
        0,
    );
    assert_eq!(&r[..8], &regs(&[fid::SUCCESS32, 0, 0x8001])[..8]);
    assert_eq!(&r[8..], &tagged(0x30));
    let r = entered(sp(&mut s, 0, SP1, &regs(&[fid::SPM_ID_GET])), SP1, 0);
    assert_eq!((r[0], r[2]), (fid::SUCCESS32, 0x8000));
    entered(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])), SP2, 0);
    let r = entered(sp(&mut s, 0, SP2, &regs(&[fid::ID_GET])), SP2, 0);
    assert_eq!(r[2], 0x8002);
    let mut s = booted();
    let r = to_spmd(nwd(&mut s, 0, &regs(&[fid::ID_GET])));
    assert_eq!((r[0], r[2]), (fid::SUCCESS32, 0));
    let r = to_spmd(nwd(&mut s, 1, &regs(&[fid::SPM_ID_GET])));
    assert_eq!((r[0], r[2]), (fid::SUCCESS32, 0x8000));
}

#[test]
fn unimplemented_and_misplaced_calls_are_not_supported() {
    let mut s = booted();
    for call in [
        // FFA_MEM_PERM_GET: not implemented.
        regs(&[0x8400_0088]),
        regs(&[fid::MSG_WAIT]),
        regs(&[fid::YIELD]),
        regs(&[fid::SEC_EP64, SP1_LOAD]),
        regs(&[fid::CONSOLE32, 1, 0x41]),
        regs(&[fid::ERROR, 0, 0xffff_ffff]),
        regs(&[fid::SUCCESS32]),
        regs(&[0x8400_00fe]),
        regs(&[0xc400_006b]),
        regs(&[0xc400_0003]),
    ] {
        let r = to_spmd(nwd(&mut s, 0, &call));
        assert_error(&r, FfaError::NotSupported);
    }
    // Direct responses from the normal world: it never handles secure requests.
    let r = to_spmd(nwd(&mut s, 0, &regs(&[fid::RESP32, w1(0, 0x8001)])));
    assert_error(&r, FfaError::NotSupported);
}
