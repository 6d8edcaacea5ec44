//! What the proxy answers itself, forwards untouched, or blocks; and FFA_FEATURES filtering.

mod common;

use common::*;
use ffa::{FfaError, FuncId, Version};

#[test]
fn id_get_is_answered_locally_with_the_host_id() {
    let mut rig = Rig::negotiated(Version(1, 2));
    let mut call = regs(&[fid(FuncId::IdGet)]);
    call[12] = 0xabc;
    let answer = rig.call_local(&call);
    assert_eq!(answer[0], fid(FuncId::Success32));
    assert_eq!(&answer[1..8], &[0; 7], "w2 = host ID 0, the rest MBZ");
    assert_eq!(answer[12], 0xabc);
}

#[test]
fn non_ffa_calls_pass_all_18_registers_both_ways() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for x0 in [
        0xc400_0003, // PSCI CPU_ON
        0x8000_0000, // SMCCC_VERSION
        0xc200_0001, // SiP
        0x8400_005f, // standard service, just below FF-A
        0x0400_0063, // yielding call with an FF-A number
        0xc300_0060, // OEM
    ] {
        let call = marked(x0);
        let mut reply = marked(0x1234_5678_9abc_def0);
        reply.reverse();
        rig.el3.then(reply);
        let answer = rig.call(&call);
        assert_eq!(rig.el3.calls.last(), Some(&call), "{x0:x}");
        assert_eq!(answer, reply, "{x0:x}");
    }
}

#[test]
fn non_ffa_calls_pass_before_negotiation_too() {
    let mut rig = Rig::initialised(Version(1, 2));
    let call = marked(0xc400_0003);
    rig.el3.then(marked(7));
    assert_eq!(rig.call(&call), marked(7));
    assert_eq!(rig.el3.calls.last(), Some(&call));
}

/// Function IDs the proxy must refuse without involving EL3.
const BLOCKED: &[u32] = &[
    0x8400_0066, // RXTX_MAP_32
    0x8400_006b, // MSG_WAIT
    0x8400_006c, // YIELD
    0x8400_0062, // INTERRUPT
    0x8400_007c, // NORMAL_WORLD_RESUME
    0x8400_0070, // MSG_SEND_DIRECT_RESP_32
    0xc400_0070, // MSG_SEND_DIRECT_RESP_64
    0xc400_008e, // MSG_SEND_DIRECT_RESP2
    0x8400_0071, // MEM_DONATE_32
    0xc400_0071, // MEM_DONATE_64
    0x8400_0074, // MEM_RETRIEVE_REQ_32
    0xc400_0074, // MEM_RETRIEVE_REQ_64
    0x8400_0075, // MEM_RETRIEVE_RESP
    0x8400_0076, // MEM_RELINQUISH
    0x8400_0078, // MEM_OP_PAUSE
    0x8400_0079, // MEM_OP_RESUME
    0x8400_007a, // MEM_FRAG_RX
    0x8400_0084, // RX_ACQUIRE
    0x8400_0087, // SECONDARY_EP_REGISTER_32
    0xc400_0087, // SECONDARY_EP_REGISTER_64
    0x8400_0088, // MEM_PERM_GET_32
    0x8400_0089, // MEM_PERM_SET_32
    0x8400_008a, // CONSOLE_LOG_32
    0xc400_008a, // CONSOLE_LOG_64
    0xc400_008b, // PARTITION_INFO_GET_REGS
    0x8400_008c, // EL3_INTR_HANDLE
    0x8400_006a, // MSG_POLL (v1.0, unknown to the codec)
    0x8400_006e, // MSG_SEND (v1.0, unknown to the codec)
    0x8400_008f, // unassigned
    0xc400_00ff, // unassigned
    0xc400_006d, // RUN_64: v1.3 only
    0xc400_006b, // MSG_WAIT_64: v1.3 only
];

#[test]
fn blocked_and_unknown_functions_are_not_supported_locally() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for &f in BLOCKED {
        // Junk in every argument must not change the answer (or panic the codec).
        let mut call = marked(u64::from(f));
        let answer = rig.call_local(&call);
        assert_error(&answer, FfaError::NotSupported);
        assert_eq!(answer[8..], call[8..], "{f:x}: x8..x17 preserved");
        call[1..].fill(0);
        assert_error(&rig.call_local(&call), FfaError::NotSupported);
    }
}

#[test]
fn the_sve_hint_does_not_unblock_or_change_routing() {
    let mut rig = Rig::negotiated(Version(1, 2));
    // MEM_DONATE_64 with the hint.
    assert_error(
        &rig.call_local(&regs(&[0xc401_0071])),
        FfaError::NotSupported,
    );
    let answer = rig.call_local(&regs(&[0x8401_0069]));
    assert_eq!(answer[0], fid(FuncId::Success32));
}

#[test]
fn run_and_spm_id_get_are_forwarded_untouched() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for call in [
        regs(&[fid(FuncId::Run32), 0x8001_0000]),
        regs(&[fid(FuncId::SpmIdGet)]),
    ] {
        let reply = marked(fid(FuncId::Success32));
        rig.el3.then(reply);
        assert_eq!(rig.call(&call), reply);
        assert_eq!(rig.el3.calls.last(), Some(&call));
    }
}

#[test]
fn functions_newer_than_the_negotiated_version_are_not_supported() {
    let mut rig = Rig::negotiated(Version(1, 0));
    for f in [FuncId::SpmIdGet, FuncId::MsgSendDirectReq64_2] {
        assert_error(&rig.call_local(&regs(&[fid(f)])), FfaError::NotSupported);
    }
}

fn features(f: u64) -> proxy::Regs {
    regs(&[fid(FuncId::Features), f])
}

#[test]
fn features_of_blocked_or_unknown_ids_is_not_supported_locally() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for &f in BLOCKED {
        assert_error(
            &rig.call_local(&features(u64::from(f))),
            FfaError::NotSupported,
        );
    }
    for f in [
        1,           // notification pending interrupt (the SRI is asked of the SPMC)
        3,           // managed exit interrupt
        0x0000_0102, // reserved bits on a feature ID
        0x8400_0000, // PSCI, not FF-A
        0x8401_0063, // an FF-A ID with the SVE hint: not a function ID
    ] {
        assert_error(&rig.call_local(&features(f)), FfaError::NotSupported);
    }
}

#[test]
fn features_is_forwarded_for_usable_functions() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for f in [
        FuncId::PartitionInfoGet,
        FuncId::MsgSendDirectReq32,
        FuncId::MsgSendDirectReq64_2,
        FuncId::RxTxUnmap,
        FuncId::Version,
    ] {
        let mut call = features(fid(f));
        call[2] = 0x77; // input properties go along
        let reply = success(0x1234, 0x5678);
        rig.el3.then(reply);
        assert_eq!(rig.call(&call), reply, "{f:?}");
        assert_eq!(rig.el3.calls.last(), Some(&call));
    }
}

#[test]
fn features_of_req2_before_v1_2_is_not_supported() {
    let mut rig = Rig::negotiated(Version(1, 1));
    let answer = rig.call_local(&features(fid(FuncId::MsgSendDirectReq64_2)));
    assert_error(&answer, FfaError::NotSupported);
}

#[test]
fn features_of_rxtx_map_is_masked_to_the_proxy_mailbox() {
    let mut rig = Rig::negotiated(Version(1, 2));
    let call = features(fid(FuncId::RxTxMap64));
    // EL3: 4 KiB minimum, no maximum, junk in reserved bits and w3.
    rig.el3.then(success(0x0000_fffc, 0xdead));
    let answer = rig.call(&call);
    assert_eq!(rig.el3.calls.last(), Some(&call));
    assert_eq!(answer[0], fid(FuncId::Success32));
    assert_eq!(answer[2], u64::from(PROXY_PAGES) << 16);
    assert_eq!(&answer[3..8], &[0; 5]);
    // EL3's maximum is kept when smaller than the proxy's buffer.
    rig.el3.then(success(0x0001_0000, 0));
    assert_eq!(rig.call(&call)[2], 0x0001_0000);
    // A minimum larger than the proxy's buffer is useless to the host.
    rig.el3.then(success(1, 0));
    assert_error(&rig.call(&call), FfaError::NotSupported);
    // EL3's errors go back as they are.
    rig.el3.then(error(FfaError::Denied));
    assert_eq!(rig.call(&call), error(FfaError::Denied));
}

#[test]
fn features_of_rxtx_map_has_no_maximum_before_v1_2() {
    let mut rig = Rig::negotiated(Version(1, 1));
    rig.el3.then(success(0x0040_0000, 0));
    assert_eq!(rig.call(&features(fid(FuncId::RxTxMap64)))[2], 0);
}

#[test]
fn malformed_arguments_get_the_codec_error() {
    let mut rig = Rig::negotiated(Version(1, 2));
    // FFA_ERROR with an unknown error code.
    let answer = rig.call_local(&regs(&[fid(FuncId::Error32), 0, 0x1234]));
    assert_error(&answer, FfaError::InvalidParameters);
}
