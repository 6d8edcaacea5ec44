//! Direct requests: forwarded untouched when the host sends as itself to a secure endpoint.

mod common;

use common::*;
use ffa::{FfaError, FuncId, Version};
use proxy::HostStep;

fn request(f: FuncId, src: u16, dst: u16) -> proxy::Regs {
    let mut call = marked(fid(f));
    call[1] = u64::from(src) << 16 | u64::from(dst);
    call[2] = 0; // not a framework message
    call
}

const REQUESTS: [FuncId; 3] = [
    FuncId::MsgSendDirectReq32,
    FuncId::MsgSendDirectReq64,
    FuncId::MsgSendDirectReq64_2,
];

#[test]
fn requests_and_every_kind_of_answer_pass_untouched() {
    let mut rig = Rig::negotiated(Version(1, 2));
    let answers = [
        marked(fid(FuncId::MsgSendDirectResp32)),
        marked(fid(FuncId::MsgSendDirectResp64)),
        marked(fid(FuncId::MsgSendDirectResp64_2)),
        regs(&[fid(FuncId::Yield32), 0x8001_0000]),
        regs(&[fid(FuncId::Interrupt32), 0x8001_0000, 7]),
        error(FfaError::Busy),
    ];
    for f in REQUESTS {
        for reply in answers {
            let call = request(f, 0, SP1);
            rig.el3.then(reply);
            assert_eq!(rig.call(&call), reply, "{f:?}");
            assert_eq!(
                rig.el3.calls.last(),
                Some(&call),
                "{f:?}: all 18 registers go to EL3"
            );
        }
    }
}

#[test]
fn a_spoofed_source_is_invalid_parameters() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for f in REQUESTS {
        for src in [1, 0x7fff, 0x8002, 0xffff] {
            let answer = rig.call_local(&request(f, src, SP1));
            assert_error(&answer, FfaError::InvalidParameters);
        }
    }
}

#[test]
fn a_normal_world_destination_is_invalid_parameters() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for f in REQUESTS {
        for dst in [0, 1, 0x7fff] {
            let answer = rig.call_local(&request(f, 0, dst));
            assert_error(&answer, FfaError::InvalidParameters);
        }
    }
}

#[test]
fn req2_before_v1_2_is_not_supported() {
    for v in [Version(1, 0), Version(1, 1)] {
        let mut rig = Rig::negotiated(v);
        let answer = rig.call_local(&request(FuncId::MsgSendDirectReq64_2, 0, SP1));
        assert_error(&answer, FfaError::NotSupported);
        // DIRECT_REQ still works there.
        let reply = marked(fid(FuncId::MsgSendDirectResp32));
        rig.el3.then(reply);
        assert_eq!(
            rig.call(&request(FuncId::MsgSendDirectReq32, 0, SP1)),
            reply
        );
    }
}

#[test]
fn framework_messages_from_the_host_are_invalid_parameters() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for w2 in [
        0x8000_0008, // FFA_VERSION request
        0x8000_0000, // PSCI power message
        0x8000_0004, // VM created
        0x8000_1234, // unknown framework message
    ] {
        let mut call = request(FuncId::MsgSendDirectReq32, 0, SP1);
        call[2] = w2;
        call[3] = 0x1_0002;
        call[4] = 0;
        call[5] = 0;
        let answer = rig.call_local(&call);
        assert_error(&answer, FfaError::InvalidParameters);
    }
}

#[test]
fn smc32_requests_ignore_the_upper_halves_of_w1() {
    let mut rig = Rig::negotiated(Version(1, 2));
    let mut call = request(FuncId::MsgSendDirectReq32, 0, SP1);
    call[1] |= 0xffff_ffff_0000_0000;
    let reply = marked(fid(FuncId::MsgSendDirectResp32));
    rig.el3.then(reply);
    assert_eq!(rig.call(&call), reply);
}

#[test]
fn direct_requests_and_run_are_forwarded_without_the_proxys_state() {
    // The arch layer makes these calls without holding the proxy, so a partition that runs
    // long on one core does not hold up the others' calls.
    let rig = Rig::mapped(Version(1, 2), 1);
    for f in REQUESTS {
        assert_eq!(
            rig.proxy.first_step(&request(f, 0, SP1)),
            HostStep::Forward,
            "{f:?}"
        );
        // A spoofed source is answered at once, still without EL3.
        let spoofed = rig.proxy.first_step(&request(f, 0x8002, SP1));
        assert!(matches!(spoofed, HostStep::Answer(r) if r[0] == fid(FuncId::Error32)));
    }
    let run = regs(&[fid(FuncId::Run32), u64::from(SP1) << 16]);
    assert_eq!(rig.proxy.first_step(&run), HostStep::Forward);
    // The mailbox and the version are the proxy's state.
    for stateful in [
        regs(&[fid(FuncId::RxRelease), 0]),
        rxtx_map(HOST_TX, HOST_RX, 1),
        regs(&[fid(FuncId::RxTxUnmap), 0]),
        regs(&[fid(FuncId::PartitionInfoGet), 0, 0, 0, 0, 0]),
    ] {
        assert!(
            matches!(rig.proxy.first_step(&stateful), HostStep::Stateful(..)),
            "{:#x}",
            stateful[0]
        );
    }
    assert_eq!(
        rig.proxy
            .first_step(&regs(&[fid(FuncId::Version), 0x1_0002])),
        HostStep::Version
    );
}
