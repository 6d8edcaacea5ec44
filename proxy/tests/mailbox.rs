//! FFA_RXTX_MAP / FFA_RXTX_UNMAP / FFA_RX_RELEASE.

mod common;

use common::*;
use ffa::{FfaError, FuncId, Version};
use proxy::{Hold, PageRange};

fn unmap(id: u16) -> proxy::Regs {
    regs(&[fid(FuncId::RxTxUnmap), u64::from(id) << 16])
}

#[track_caller]
fn assert_unchanged(rig: &Rig) {
    assert_eq!(rig.proxy.host_mailbox(), None);
    assert!(rig.proxy.host_pages().is_empty());
}

#[test]
fn map_registers_the_proxy_buffers_and_pins_the_host_pages() {
    for pages in 1..=PROXY_PAGES {
        let mut rig = Rig::negotiated(Version(1, 2));
        rig.el3.then(success(0, 0));
        let mut call = rxtx_map(HOST_TX, HOST_RX, pages);
        call[10] = 0x42;
        let answer = rig.call(&call);
        assert_success(&answer);
        assert_eq!(answer[10], 0x42);
        assert_eq!(
            rig.el3.calls.last(),
            Some(&regs(&[
                fid(FuncId::RxTxMap64),
                PROXY_TX,
                PROXY_RX,
                u64::from(pages)
            ])),
            "EL3 only ever sees the proxy's own buffers"
        );
        let mailbox = rig.proxy.host_mailbox().expect("mapped");
        assert_eq!(mailbox.tx, PageRange::new(HOST_TX, pages.into()).unwrap());
        assert_eq!(mailbox.rx, PageRange::new(HOST_RX, pages.into()).unwrap());
        assert_eq!(rig.proxy.host_pages().holder(HOST_TX), Some(Hold::Mailbox));
        assert_eq!(rig.proxy.host_pages().holder(HOST_RX), Some(Hold::Mailbox));
        assert_eq!(rig.proxy.host_pages().holds().count(), 2);
    }
}

#[test]
fn misaligned_buffers_are_invalid_parameters() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for (tx, rx) in [(HOST_TX + 8, HOST_RX), (HOST_TX, HOST_RX + 0x800)] {
        assert_error(
            &rig.call_local(&rxtx_map(tx, rx, 1)),
            FfaError::InvalidParameters,
        );
    }
    assert_unchanged(&rig);
}

#[test]
fn page_counts_outside_one_to_the_proxy_mailbox_are_invalid_parameters() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for pages in [0, PROXY_PAGES + 1, 64, u32::MAX] {
        let answer = rig.call_local(&rxtx_map(HOST_TX, HOST_RX, pages));
        assert_error(&answer, FfaError::InvalidParameters);
    }
    // Only w3's low 32 bits count: a count in the upper half is still 0.
    let mut call = rxtx_map(HOST_TX, HOST_RX, 0);
    call[3] = 1 << 32;
    assert_error(&rig.call_local(&call), FfaError::InvalidParameters);
    assert_unchanged(&rig);
}

#[test]
fn overlapping_buffers_are_invalid_parameters() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for (tx, rx) in [
        (HOST_TX, HOST_TX),
        (HOST_TX, HOST_TX + 0x1000),
        (HOST_TX + 0x1000, HOST_TX),
    ] {
        assert_error(
            &rig.call_local(&rxtx_map(tx, rx, 2)),
            FfaError::InvalidParameters,
        );
    }
    assert_unchanged(&rig);
}

#[test]
fn buffers_outside_host_ram_are_invalid_parameters() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for (tx, rx) in [
        (HOST_RAM.0 - 0x1000, HOST_RX), // below RAM
        (HOST_TX, HOST_RAM.1 - 0x1000), // straddles the end (2 pages)
        (HOST_TX, HOST_RAM.1),          // just past the end
        (PROXY_TX, HOST_RX),            // the proxy's own buffers
        (HOST_TX, PROXY_RX),
        (0xffff_ffff_ffff_f000, HOST_RX), // runs off the address space
        (HOST_TX, 0xffff_ffff_ffff_e000),
    ] {
        let answer = rig.call_local(&rxtx_map(tx, rx, 2));
        assert_error(&answer, FfaError::InvalidParameters);
    }
    assert_unchanged(&rig);
}

#[test]
fn a_second_map_is_denied() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    let answer = rig.call_local(&rxtx_map(HOST_TX + 0x10_000, HOST_RX + 0x10_000, 1));
    assert_error(&answer, FfaError::Denied);
    assert_eq!(rig.proxy.host_mailbox().unwrap().tx.base(), HOST_TX);
    assert_eq!(rig.proxy.host_pages().holds().count(), 2);
}

#[test]
fn an_el3_refusal_is_returned_and_changes_nothing() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for (reply, code) in [
        (error(FfaError::NoMemory), FfaError::NoMemory),
        (error(FfaError::Denied), FfaError::Denied),
        (regs(&[0x1234_5678]), FfaError::Aborted), // neither success nor error
        (regs(&[fid(FuncId::Error32), 0, 0x55]), FfaError::Aborted), // unknown error code
    ] {
        rig.el3.then(reply);
        let answer = rig.call(&rxtx_map(HOST_TX, HOST_RX, 1));
        assert_error(&answer, code);
        assert_unchanged(&rig);
    }
    // The host can try again.
    rig.el3.then(success(0, 0));
    assert_success(&rig.call(&rxtx_map(HOST_TX, HOST_RX, 1)));
}

#[test]
fn the_32_bit_map_is_not_supported() {
    let mut rig = Rig::negotiated(Version(1, 2));
    let call = regs(&[fid(FuncId::RxTxMap32), HOST_TX, HOST_RX, 1]);
    assert_error(&rig.call_local(&call), FfaError::NotSupported);
    assert_unchanged(&rig);
}

#[test]
fn unmap_unmaps_at_el3_and_unpins() {
    let mut rig = Rig::mapped(Version(1, 2), 2);
    rig.el3.then(success(0, 0));
    assert_success(&rig.call(&unmap(0)));
    assert_eq!(
        rig.el3.calls.last(),
        Some(&regs(&[fid(FuncId::RxTxUnmap), 0]))
    );
    assert_unchanged(&rig);
    // And the host can map again, elsewhere.
    rig.el3.then(success(0, 0));
    assert_success(&rig.call(&rxtx_map(HOST_RX, HOST_TX, 1)));
}

#[test]
fn unmap_of_another_id_is_invalid_parameters() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    for id in [1, 0x8001, 0xffff] {
        assert_error(&rig.call_local(&unmap(id)), FfaError::InvalidParameters);
    }
    assert!(rig.proxy.host_mailbox().is_some());
}

#[test]
fn unmap_when_nothing_is_mapped_is_invalid_parameters() {
    let mut rig = Rig::negotiated(Version(1, 2));
    assert_error(&rig.call_local(&unmap(0)), FfaError::InvalidParameters);
}

#[test]
fn unmap_refused_by_el3_keeps_the_mapping() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    rig.el3.then(error(FfaError::Denied));
    assert_error(&rig.call(&unmap(0)), FfaError::Denied);
    assert!(rig.proxy.host_mailbox().is_some());
    assert_eq!(rig.proxy.host_pages().holds().count(), 2);
}

#[test]
fn rx_release_is_forwarded_for_the_host_only() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    let call = regs(&[fid(FuncId::RxRelease), 0]);
    rig.el3.then(success(0, 0));
    assert_eq!(rig.call(&call), success(0, 0));
    assert_eq!(rig.el3.calls.last(), Some(&call));
    rig.el3.then(error(FfaError::Denied));
    assert_eq!(rig.call(&call), error(FfaError::Denied));
    let spoofed = regs(&[fid(FuncId::RxRelease), 3]);
    assert_error(&rig.call_local(&spoofed), FfaError::InvalidParameters);
}
