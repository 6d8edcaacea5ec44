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

/// Scripts the SPMC's side of the hypervisor retrieve request the proxy sends before a
/// reclaim: `t` (as transaction `HANDLE`) in the proxy's RX buffer, one fragment, then
/// FFA_RX_RELEASE.
fn spmc_describes(rig: &mut Rig, t: &MemTransaction) {
    let mut resp = t.clone();
    resp.handle = HANDLE;
    let mut buf = [0u8; ffa::memory::MAX_ENCODED_LEN];
    let len = resp.write(&mut buf, Layout::V1_2).unwrap();
    rig.mem.fill(PROXY_RX, &buf[..len]);
    rig.el3
        .then(regs(&[
            fid(FuncId::MemRetrieveResp),
            len as u64,
            len as u64,
        ]))
        .then(success(0, 0));
}

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
    assert_eq!(
        rig.proxy.host_pages().holds().count(),
        4,
        "a range each, and the mailbox"
    );
    // The same page again: the proxy refuses without asking EL3.
    let again = put(&mut rig, &share_of(0, &[(PAGE_A + 0x1000, 1)]));
    assert_error(&rig.call_local(&again), FfaError::Denied);
    // Reclaim: the ranges asked of the SPMC by handle (the hypervisor retrieve request, in
    // the proxy's own buffers), then forwarded; on success the pages are the host's again.
    spmc_describes(&mut rig, &t);
    rig.el3.then(success(0, 0));
    assert_success(&rig.call(&reclaim(HANDLE)));
    let calls = &rig.el3.calls;
    let retrieve = &calls[calls.len() - 3];
    assert_eq!(retrieve[0], fid(FuncId::MemRetrieveReq32));
    let request = rig.mem.bytes(PROXY_TX, retrieve[1] as usize);
    let head =
        ffa::memory::DescriptorHead::parse_any(&request, request.len(), Layout::V1_2).unwrap();
    assert_eq!(head.handle, HANDLE);
    assert!(
        head.receivers.is_empty(),
        "a hypervisor retrieve request names no receiver"
    );
    assert_eq!(calls[calls.len() - 2][0], fid(FuncId::RxRelease));
    assert_eq!(calls[calls.len() - 1], reclaim(HANDLE));
    assert_eq!(rig.proxy.host_pages().holder(PAGE_A), None);
    assert_eq!(
        rig.proxy.host_pages().holds().count(),
        2,
        "only the mailbox"
    );
    rig.el3.assert_script_done();
}

#[test]
fn a_refused_share_gives_the_pages_back() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    let call = put(&mut rig, &share_of(0, &[(PAGE_A, 1)]));
    rig.el3.then(error(FfaError::InvalidParameters));
    assert_error(&rig.call(&call), FfaError::InvalidParameters);
    assert_eq!(rig.proxy.host_pages().holder(PAGE_A), None);
    // A refused reclaim keeps them held.
    rig.el3.then(success(HANDLE, HANDLE >> 32));
    assert_success(&rig.call(&call));
    spmc_describes(&mut rig, &share_of(0, &[(PAGE_A, 1)]));
    rig.el3.then(error(FfaError::Denied));
    assert_error(&rig.call(&reclaim(HANDLE)), FfaError::Denied);
    assert_eq!(
        rig.proxy.host_pages().holder(PAGE_A),
        Some(Hold::SharedWithSecure)
    );
    // An SPMC that names other ranges than the proxy holds: no reclaim is sent.
    spmc_describes(&mut rig, &share_of(0, &[(PAGE_A + 0x2000, 1)]));
    assert_error(&rig.call(&reclaim(HANDLE)), FfaError::Aborted);
    assert_ne!(rig.el3.calls.last().unwrap()[0], fid(FuncId::MemReclaim));
    assert_eq!(
        rig.proxy.host_pages().holder(PAGE_A),
        Some(Hold::SharedWithSecure)
    );
    rig.el3.assert_script_done();
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
    // Donating stays blocked.
    let mut donate = call;
    donate[0] = fid(FuncId::MemDonate64);
    assert_error(&rig.call_local(&donate), FfaError::NotSupported);
}

#[test]
fn no_mailbox_no_share() {
    let mut rig = Rig::negotiated(Version(1, 2));
    let call = regs(&[fid(FuncId::MemShare64), 96, 96, 0, 0]);
    assert_error(&rig.call_local(&call), FfaError::Denied);
}

#[test]
fn a_send_in_fragments_is_checked_and_held_fragment_by_fragment() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    let ranges: Vec<(u64, u32)> = (0..6).map(|i| (PAGE_A + 0x2000 * i, 1)).collect();
    let t = share_of(0, &ranges);
    let whole = put(&mut rig, &t);
    let total = whole[1] as usize;
    let bytes = rig.mem.bytes(HOST_TX, total);
    // The head and two constituents first, as a lend.
    let first = total - 4 * 16;
    let mut call = whole;
    call[0] = fid(FuncId::MemLend64);
    call[2] = first as u64;
    rig.el3.then(regs(&[
        fid(FuncId::MemFragRx),
        HANDLE & 0xffff_ffff,
        HANDLE >> 32,
        first as u64,
    ]));
    assert_eq!(rig.call(&call)[0], fid(FuncId::MemFragRx));
    assert_eq!(rig.mem.bytes(PROXY_TX, first), bytes[..first]);
    assert_eq!(
        rig.proxy.host_pages().holder(PAGE_A),
        Some(Hold::LentToSecure)
    );
    assert_eq!(rig.proxy.host_pages().holder(PAGE_A + 0x4000), None);
    let frag_tx = |len: u64, handle: u64| {
        regs(&[
            fid(FuncId::MemFragTx),
            handle & 0xffff_ffff,
            handle >> 32,
            len,
            0,
        ])
    };
    // Another handle, or a second fragmented send, while this one arrives: refused here.
    assert_error(
        &rig.call_local(&frag_tx(32, HANDLE + 1)),
        FfaError::InvalidParameters,
    );
    assert_error(&rig.call_local(&call), FfaError::Busy);
    // Two more constituents.
    rig.mem.fill(HOST_TX, &bytes[first..first + 32]);
    rig.el3.then(regs(&[
        fid(FuncId::MemFragRx),
        HANDLE & 0xffff_ffff,
        HANDLE >> 32,
        (first + 32) as u64,
    ]));
    assert_eq!(rig.call(&frag_tx(32, HANDLE))[0], fid(FuncId::MemFragRx));
    assert_eq!(
        rig.proxy.host_pages().holder(PAGE_A + 0x4000),
        Some(Hold::LentToSecure)
    );
    // The last two name a page of the mailbox: the proxy refuses, tells the SPMC to drop the
    // transaction (an empty fragment), and every page is the host's again.
    let mut last = bytes[first + 32..].to_vec();
    last[..8].copy_from_slice(&HOST_TX.to_le_bytes());
    rig.mem.fill(HOST_TX, &last);
    rig.el3.then(error(FfaError::InvalidParameters));
    assert_error(&rig.call(&frag_tx(32, HANDLE)), FfaError::Denied);
    assert_eq!(
        rig.el3.calls.last().unwrap()[3],
        0,
        "the SPMC told to drop it"
    );
    assert_eq!(
        rig.proxy.host_pages().holds().count(),
        2,
        "only the mailbox"
    );
    assert_eq!(rig.proxy.arriving(), None);
    rig.el3.assert_script_done();
}
