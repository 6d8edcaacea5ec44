//! The host's FFA_MEM_SHARE and FFA_MEM_RECLAIM through the proxy.

mod common;

use common::*;
use ffa::memory::{
    AddressRange, BoundedVec, Layout, MemTransaction, Receiver, attributes, permissions,
};
use ffa::{EndpointId, FfaError, FuncId, Version};
use proxy::Hold;

/// Host RAM the tests share (away from the host's buffers at its start).
const PAGE_A: u64 = HOST_RAM.0 + 0x1_0000;

fn share_of(sender: u16, ranges: &[(u64, u32)]) -> MemTransaction {
    let mut receivers = BoundedVec::new();
    receivers
        .push(Receiver {
            id: EndpointId(SP1),
            permissions: permissions::DATA_RW,
            ..Receiver::default()
        })
        .unwrap();
    let mut list = BoundedVec::new();
    for &(address, pages) in ranges {
        list.push(AddressRange { address, pages }).unwrap();
    }
    MemTransaction {
        sender: EndpointId(sender),
        attributes: attributes::TYPE_NORMAL | attributes::WRITE_BACK | attributes::INNER_SHAREABLE,
        flags: 0,
        handle: 0,
        tag: 3,
        receivers,
        ranges: list,
    }
}

/// Puts `t` in the host's TX buffer; returns FFA_MEM_SHARE_64 for it.
fn put(rig: &mut Rig, t: &MemTransaction) -> proxy::Regs {
    let mut buf = [0u8; ffa::memory::MAX_ENCODED_LEN];
    let len = t.write(&mut buf, Layout::V1_2).unwrap();
    rig.mem.fill(HOST_TX, &buf[..len]);
    regs(&[fid(FuncId::MemShare64), len as u64, len as u64, 0, 0])
}

fn reclaim(handle: u64) -> proxy::Regs {
    regs(&[
        fid(FuncId::MemReclaim),
        handle & 0xffff_ffff,
        handle >> 32,
        0,
    ])
}

const HANDLE: u64 = 0x8000_0000_0000_0007;

#[test]
fn a_share_holds_the_pages_until_the_host_reclaims_it() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    let t = share_of(0, &[(PAGE_A, 2), (PAGE_A + 0x8000, 1)]);
    let call = put(&mut rig, &t);
    rig.el3.then(success(HANDLE & 0xffff_ffff, HANDLE >> 32));
    let answer = rig.call(&call);
    assert_success(&answer);
    // EL3 got the host's call, and the descriptor in the proxy's own TX buffer.
    assert_eq!(rig.el3.calls.last(), Some(&call));
    let len = call[1] as usize;
    assert_eq!(rig.mem.bytes(PROXY_TX, len), rig.mem.bytes(HOST_TX, len));
    for page in [PAGE_A, PAGE_A + 0x1000, PAGE_A + 0x8000] {
        assert_eq!(
            rig.proxy.host_pages().holder(page),
            Some(Hold::SharedWithSecure)
        );
    }
    assert_eq!(rig.proxy.host_shares().len(), 2, "a range each");
    assert!(rig.proxy.host_shares().iter().all(|s| s.handle == HANDLE));
    // The same page again: the proxy refuses without asking EL3.
    let again = put(&mut rig, &share_of(0, &[(PAGE_A + 0x1000, 1)]));
    assert_error(&rig.call_local(&again), FfaError::Denied);
    // Reclaim: forwarded; on success the pages are the host's again.
    rig.el3.then(success(0, 0));
    assert_success(&rig.call(&reclaim(HANDLE)));
    assert_eq!(rig.proxy.host_pages().holder(PAGE_A), None);
    assert!(rig.proxy.host_shares().is_empty());
    rig.el3.assert_script_done();
}

#[test]
fn a_refused_share_gives_the_pages_back() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    let call = put(&mut rig, &share_of(0, &[(PAGE_A, 1)]));
    rig.el3.then(error(FfaError::InvalidParameters));
    assert_error(&rig.call(&call), FfaError::InvalidParameters);
    assert_eq!(rig.proxy.host_pages().holder(PAGE_A), None);
    assert!(rig.proxy.host_shares().is_empty());
    // A refused reclaim keeps them held.
    rig.el3.then(success(HANDLE, 0));
    assert_success(&rig.call(&call));
    rig.el3.then(error(FfaError::Denied));
    assert_error(&rig.call(&reclaim(HANDLE)), FfaError::Denied);
    assert_eq!(
        rig.proxy.host_pages().holder(PAGE_A),
        Some(Hold::SharedWithSecure)
    );
}

#[test]
fn shares_the_proxy_refuses_itself() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    let cases = [
        (
            "another sender",
            share_of(SP1, &[(PAGE_A, 1)]),
            FfaError::InvalidParameters,
        ),
        (
            "the host's own TX buffer",
            share_of(0, &[(HOST_TX, 1)]),
            FfaError::Denied,
        ),
        (
            "outside host RAM",
            share_of(0, &[(HOST_RAM.1, 1)]),
            FfaError::InvalidParameters,
        ),
        (
            "the proxy's buffer",
            share_of(0, &[(PROXY_TX, 1)]),
            FfaError::InvalidParameters,
        ),
        (
            "a page twice",
            share_of(0, &[(PAGE_A, 2), (PAGE_A + 0x1000, 1)]),
            FfaError::InvalidParameters,
        ),
    ];
    for (what, t, code) in cases {
        let call = put(&mut rig, &t);
        assert_error(&rig.call_local(&call), code);
        assert_eq!(
            rig.proxy.host_pages().holds().count(),
            2,
            "{what}: only the mailbox"
        );
    }
    // A fragment, or a buffer of its own: not taken.
    let call = put(&mut rig, &share_of(0, &[(PAGE_A, 1)]));
    let mut fragment = call;
    fragment[1] += 16;
    assert_error(&rig.call_local(&fragment), FfaError::InvalidParameters);
    let mut elsewhere = call;
    elsewhere[3] = PAGE_A;
    elsewhere[4] = 1;
    assert_error(&rig.call_local(&elsewhere), FfaError::InvalidParameters);
    // Lending and donating stay blocked.
    for f in [FuncId::MemLend64, FuncId::MemDonate64] {
        let mut lend = call;
        lend[0] = fid(f);
        assert_error(&rig.call_local(&lend), FfaError::NotSupported);
    }
}

#[test]
fn no_mailbox_no_share() {
    let mut rig = Rig::negotiated(Version(1, 2));
    let call = regs(&[fid(FuncId::MemShare64), 96, 96, 0, 0]);
    assert_error(&rig.call_local(&call), FfaError::Denied);
}
