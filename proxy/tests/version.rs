//! Init against EL3 and the host's one-time version negotiation.

mod common;

use common::*;
use ffa::{FfaError, FuncId, Version};
use proxy::Proxy;

fn version_call(v: u64) -> proxy::Regs {
    regs(&[fid(FuncId::Version), v])
}

#[test]
fn init_asks_for_v1_2_and_keeps_an_older_spmc_version() {
    let mut el3 = FakeEl3::new();
    el3.then(version_reply(Version(1, 1)));
    let mut proxy = Proxy::new(config());
    assert_eq!(proxy.init(&mut el3), Ok(Version(1, 1)));
    assert_eq!(el3.calls, vec![version_call(0x1_0002)]);
    assert!(proxy.ffa_available());
    assert_eq!(proxy.negotiated_version(), None);

    // A newer SPMC is spoken to at ours.
    let mut el3 = FakeEl3::new();
    el3.then(version_reply(Version(1, 3)));
    let mut proxy = Proxy::new(config());
    assert_eq!(proxy.init(&mut el3), Ok(Version(1, 2)));
}

#[test]
fn init_twice_is_denied_without_calling_el3() {
    let mut rig = Rig::initialised(Version(1, 2));
    let before = rig.el3.calls.len();
    assert_eq!(rig.proxy.init(&mut rig.el3), Err(FfaError::Denied));
    assert_eq!(rig.el3.calls.len(), before);
    assert!(rig.proxy.ffa_available());
}

#[test]
fn init_rejects_a_config_whose_buffers_overlap_host_ram_or_each_other() {
    for bad in [
        proxy::ProxyConfig {
            tx: HOST_RAM.0,
            ..config()
        },
        proxy::ProxyConfig {
            rx: HOST_RAM.1 - 0x1000,
            ..config()
        },
        proxy::ProxyConfig {
            rx: PROXY_TX + 0x1000,
            ..config()
        },
        proxy::ProxyConfig {
            tx: PROXY_TX + 1,
            ..config()
        },
        proxy::ProxyConfig {
            pages: 0,
            ..config()
        },
        proxy::ProxyConfig {
            tx: 0xffff_ffff_ffff_f000,
            ..config()
        },
    ] {
        let mut el3 = FakeEl3::new();
        let mut proxy = Proxy::new(bad);
        assert_eq!(
            proxy.init(&mut el3),
            Err(FfaError::InvalidParameters),
            "{bad:x?}"
        );
        assert!(el3.calls.is_empty());
        assert!(!proxy.ffa_available());
    }
}

#[test]
fn without_ffa_at_el3_every_ffa_call_is_not_supported_and_others_pass() {
    for answer in [
        version_refused(),
        regs(&[0xffff_fffe]),
        version_reply(Version(2, 0)),
    ] {
        let mut el3 = FakeEl3::new();
        el3.then(answer);
        let mut proxy = Proxy::new(config());
        assert_eq!(proxy.init(&mut el3), Err(FfaError::NotSupported));
        assert!(!proxy.ffa_available());
        let mut mem = FakeMemory::new();
        let v = proxy.handle_host_call(&version_call(0x1_0002), &mut el3, &mut mem);
        assert_eq!(v[0], u64::MAX);
        let id = proxy.handle_host_call(&regs(&[fid(FuncId::IdGet)]), &mut el3, &mut mem);
        assert_error(&id, FfaError::NotSupported);
        assert_eq!(el3.calls.len(), 1);
        // PSCI_VERSION still reaches EL3.
        el3.then(regs(&[0x1_0001]));
        let psci = proxy.handle_host_call(&regs(&[0x8400_0000]), &mut el3, &mut mem);
        assert_eq!(psci[0], 0x1_0001);
    }
}

#[test]
fn before_init_ffa_is_not_supported() {
    let mut el3 = FakeEl3::new();
    let mut mem = FakeMemory::new();
    let mut proxy = Proxy::new(config());
    let v = proxy.handle_host_call(&version_call(0x1_0002), &mut el3, &mut mem);
    assert_eq!(v[0], u64::MAX);
    assert!(el3.calls.is_empty());
}

#[test]
fn every_call_but_version_before_negotiation_is_invalid_parameters() {
    let mut rig = Rig::initialised(Version(1, 2));
    for call in [
        regs(&[fid(FuncId::IdGet)]),
        regs(&[fid(FuncId::Features), fid(FuncId::RxTxMap64)]),
        rxtx_map(HOST_TX, HOST_RX, 1),
        regs(&[fid(FuncId::MsgSendDirectReq32), u64::from(SP1)]),
        regs(&[fid(FuncId::MemShare64)]),
        regs(&[0x8400_00fe]), // unknown, inside FF-A's range
    ] {
        let answer = rig.call_local(&call);
        assert_error(&answer, FfaError::InvalidParameters);
    }
    // Outside FF-A's range the host is not held back.
    rig.el3.then(regs(&[0x1_0002]));
    assert_eq!(rig.call(&regs(&[0x8400_0000]))[0], 0x1_0002);
}

#[test]
fn first_version_locks_after_pkvm_post_checks() {
    let mut rig = Rig::initialised(Version(1, 2));
    let from = rig.el3.calls.len();
    rig.el3.then(success(0, 0)).then(success(0, 0));
    let mut call = version_call(0x1_0002);
    call[9] = 0x99;
    let answer = rig.call(&call);
    assert_eq!(answer[0], 0x1_0002);
    assert_eq!(&answer[1..8], &[0; 7]);
    assert_eq!(answer[9], 0x99, "x8..x17 are preserved");
    assert_eq!(
        rig.el3.calls[from..],
        [
            regs(&[fid(FuncId::IdGet)]),
            regs(&[fid(FuncId::Features), fid(FuncId::RxTxMap64)]),
        ]
    );
    assert_eq!(rig.proxy.negotiated_version(), Some(Version(1, 2)));
}

#[test]
fn newer_minor_gets_the_proxy_version_without_a_downgrade() {
    let mut rig = Rig::initialised(Version(1, 2));
    rig.el3.then(success(0, 0)).then(success(0, 0));
    assert_eq!(rig.call(&version_call(0x1_0007))[0], 0x1_0002);
    assert_eq!(rig.el3.calls.len(), 3);
}

#[test]
fn an_older_spmc_sets_what_the_host_gets() {
    let mut rig = Rig::initialised(Version(1, 1));
    rig.el3.then(success(0, 0)).then(success(0, 0));
    assert_eq!(rig.call(&version_call(0x1_0002))[0], 0x1_0001);
    assert_eq!(rig.proxy.negotiated_version(), Some(Version(1, 1)));
}

#[test]
fn wrong_major_or_bit_31_is_not_supported_and_does_not_lock() {
    let mut rig = Rig::initialised(Version(1, 2));
    for v in [0x2_0000, 0x0_0009, 0x8001_0002, 0xffff_ffff] {
        let answer = rig.call_local(&version_call(v));
        assert_eq!(answer[0], u64::MAX, "{v:x}");
    }
    assert_eq!(rig.proxy.negotiated_version(), None);
    rig.el3.then(success(0, 0)).then(success(0, 0));
    assert_eq!(rig.call(&version_call(0x1_0002))[0], 0x1_0002);
}

#[test]
fn downgrade_before_lock_is_asked_of_el3() {
    let mut rig = Rig::initialised(Version(1, 2));
    let from = rig.el3.calls.len();
    rig.el3
        .then(version_reply(Version(1, 2)))
        .then(success(0, 0))
        .then(success(0, 0));
    assert_eq!(rig.call(&version_call(0x1_0001))[0], 0x1_0001);
    assert_eq!(rig.el3.calls[from], version_call(0x1_0001));
    assert_eq!(rig.proxy.negotiated_version(), Some(Version(1, 1)));
    // Asking for more afterwards gets the negotiated version, as in pKVM.
    assert_eq!(rig.call_local(&version_call(0x1_0002))[0], 0x1_0001);
}

#[test]
fn downgrade_refused_by_el3_is_not_supported_and_leaves_the_host_free() {
    for refusal in [
        version_refused(),
        version_reply(Version(1, 0)),
        version_reply(Version(2, 0)),
    ] {
        let mut rig = Rig::initialised(Version(1, 2));
        rig.el3.then(refusal);
        assert_eq!(rig.call(&version_call(0x1_0001))[0], u64::MAX);
        assert_eq!(rig.proxy.negotiated_version(), None);
        rig.el3.then(success(0, 0)).then(success(0, 0));
        assert_eq!(rig.call(&version_call(0x1_0002))[0], 0x1_0002);
    }
}

#[test]
fn downgrade_after_lock_is_refused_without_asking_el3() {
    let mut rig = Rig::negotiated(Version(1, 2));
    assert_eq!(rig.call_local(&version_call(0x1_0001))[0], u64::MAX);
    assert_eq!(rig.call_local(&version_call(0x1_0000))[0], u64::MAX);
    assert_eq!(rig.proxy.negotiated_version(), Some(Version(1, 2)));
}

#[test]
fn version_queries_after_lock_get_the_negotiated_version() {
    let mut rig = Rig::negotiated(Version(1, 1));
    assert_eq!(rig.call_local(&version_call(0x1_0001))[0], 0x1_0001);
    assert_eq!(rig.call_local(&version_call(0x1_0003))[0], 0x1_0001);
    assert_eq!(rig.call_local(&version_call(0x2_0001))[0], u64::MAX);
    assert_eq!(rig.call_local(&version_call(0x1_0000))[0], u64::MAX);
}

#[test]
fn failed_post_checks_refuse_negotiation() {
    // EL3 names another ID for the normal world.
    let mut rig = Rig::initialised(Version(1, 2));
    rig.el3.then(success(5, 0));
    assert_eq!(rig.call(&version_call(0x1_0002))[0], u64::MAX);
    // EL3 has no RXTX_MAP.
    rig.el3
        .then(success(0, 0))
        .then(error(FfaError::NotSupported));
    assert_eq!(rig.call(&version_call(0x1_0002))[0], u64::MAX);
    // The SPMC wants 64 KiB buffers, the proxy has 8 KiB.
    rig.el3.then(success(0, 0)).then(success(1, 0));
    assert_eq!(rig.call(&version_call(0x1_0002))[0], u64::MAX);
    // Reserved minimum-size encoding.
    rig.el3.then(success(0, 0)).then(success(3, 0));
    assert_eq!(rig.call(&version_call(0x1_0002))[0], u64::MAX);
    assert_eq!(rig.proxy.negotiated_version(), None);
    // 16 KiB is still too big; 4 KiB with other bits set is fine.
    rig.el3.then(success(0, 0)).then(success(2, 0));
    assert_eq!(rig.call(&version_call(0x1_0002))[0], u64::MAX);
    rig.el3.then(success(0, 0)).then(success(0x0004_0000, 0));
    assert_eq!(rig.call(&version_call(0x1_0002))[0], 0x1_0002);
    rig.el3.assert_script_done();
}

#[test]
fn a_downgrade_accepted_by_el3_sticks_even_if_post_checks_fail() {
    let mut rig = Rig::initialised(Version(1, 2));
    rig.el3
        .then(version_reply(Version(1, 2)))
        .then(error(FfaError::NotSupported));
    assert_eq!(rig.call(&version_call(0x1_0001))[0], u64::MAX);
    // The SPMC now holds v1.1 for the normal world: asking v1.1 again needs no new downgrade.
    rig.el3.then(success(0, 0)).then(success(0, 0));
    assert_eq!(rig.call(&version_call(0x1_0001))[0], 0x1_0001);
    assert_eq!(
        rig.el3.fids_since(rig.el3.calls.len() - 2),
        vec![fid(FuncId::IdGet), fid(FuncId::Features)]
    );
}
