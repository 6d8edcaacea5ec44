//! FFA_MEM_SHARE, FFA_MEM_LEND, FFA_MEM_DONATE from the normal world and FFA_MEM_RECLAIM.

mod core_support;

use core_support::*;
use ffa::memory::{
    AddressRange, BoundedVec, Layout, MemTransaction, Receiver, attributes, flags, permissions,
};
use ffa::{EndpointId, FfaError, Version};
use proptest::prelude::*;
use spmc::memory::ledger::{HANDLE_ALLOCATED_BY_SPMC, Kind};
use spmc::platform::{Platform, Space};
use spmc::{CpuId, Regs};

const MEM_LEND32: u64 = 0x8400_0072;
const MEM_DONATE32: u64 = 0x8400_0071;
const MEM_SHARE64: u64 = 0xc400_0073;
const MEM_RECLAIM: u64 = 0x8400_0077;
/// The normal world's sender ID (pKVM's host, or a host without hypervisor).
const HOST: EndpointId = EndpointId(0);
/// Normal-world memory the tests give away (inside the SPMC's NS window, away from the
/// mailbox at its start).
const BASE: u64 = NS_BASE + 0x1_0000;
const PAGE: u64 = 0x1000;

const SHARE_ATTRS: u16 =
    attributes::TYPE_NORMAL | attributes::WRITE_BACK | attributes::INNER_SHAREABLE;
const RW: u8 = permissions::DATA_RW | permissions::INSTRUCTION_NX;

fn range(address: u64, pages: u32) -> AddressRange {
    AddressRange { address, pages }
}

fn txn(receivers: &[EndpointId], ranges: &[AddressRange]) -> MemTransaction {
    let mut rs = BoundedVec::new();
    for id in receivers {
        rs.push(Receiver {
            id: *id,
            permissions: RW,
            ..Receiver::default()
        })
        .unwrap();
    }
    let mut list = BoundedVec::new();
    for r in ranges {
        list.push(*r).unwrap();
    }
    MemTransaction {
        sender: HOST,
        attributes: SHARE_ATTRS,
        flags: 0,
        handle: 0,
        tag: 0x7a6,
        receivers: rs,
        ranges: list,
    }
}

/// A booted SPMC whose normal world negotiated `version` and mapped its pair.
fn ready(version: Version) -> TestSpmc {
    let mut s = booted();
    let v = (u64::from(version.0) << 16) | u64::from(version.1);
    to_spmd(nwd(&mut s, 0, &regs(&[fid::VERSION, v])));
    let r = to_spmd(nwd(&mut s, 0, &regs(&[fid::RXTX_MAP64, NWD_TX, NWD_RX, 1])));
    assert_success(&r);
    s
}

/// Writes `t` into the normal world's TX buffer in `layout`; returns its length.
fn put(s: &mut TestSpmc, t: &MemTransaction, layout: Layout) -> u64 {
    let mut buf = [0u8; ffa::memory::MAX_ENCODED_LEN];
    let len = t.write(&mut buf, layout).unwrap();
    s.platform_mut()
        .write(Space::NonSecure, NWD_TX, &buf[..len])
        .unwrap();
    len as u64
}

fn send(s: &mut TestSpmc, fid: u64, t: &MemTransaction, layout: Layout) -> Regs {
    let len = put(s, t, layout);
    to_spmd(nwd(s, 0, &regs(&[fid, len, len, 0, 0])))
}

fn handle_of(r: &Regs) -> u64 {
    assert_success(r);
    (r[2] & 0xffff_ffff) | (r[3] & 0xffff_ffff) << 32
}

fn reclaim(s: &mut TestSpmc, handle: u64, flags: u64) -> Regs {
    to_spmd(nwd(
        s,
        0,
        &regs(&[MEM_RECLAIM, handle & 0xffff_ffff, handle >> 32, flags]),
    ))
}

#[test]
fn share_and_reclaim_in_every_layout() {
    for (version, layout) in [
        (Version(1, 0), Layout::V1_0),
        (Version(1, 1), Layout::V1_1),
        (Version(1, 2), Layout::V1_2),
    ] {
        let mut s = ready(version);
        let r = send(
            &mut s,
            fid::MEM_SHARE32,
            &txn(&[SP1], &[range(BASE, 1)]),
            layout,
        );
        let handle = handle_of(&r);
        assert_ne!(handle & HANDLE_ALLOCATED_BY_SPMC, 0, "{version:?}");
        let recorded: Vec<_> = s.memory_transactions().collect();
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].kind, Kind::Share);
        assert_eq!(recorded[0].lender, HOST);
        assert_eq!(recorded[0].tag, 0x7a6);
        assert_eq!(recorded[0].borrowers[0].id, SP1);
        assert_success(&reclaim(&mut s, handle, 0));
        assert_eq!(s.memory_transactions().count(), 0);
        // A reclaimed handle is stale.
        assert_error(&reclaim(&mut s, handle, 0), FfaError::InvalidParameters);
    }
}

#[test]
fn lend_and_donate_with_several_ranges_and_borrowers() {
    let mut s = ready(Version(1, 2));
    let mut lend = txn(&[SP1, SP2], &[range(BASE, 2), range(BASE + 0x8000, 1)]);
    lend.attributes = attributes::TYPE_NOT_SPECIFIED;
    let a = handle_of(&send(&mut s, MEM_LEND32, &lend, Layout::V1_2));
    let donate = txn(&[SP3], &[range(BASE + 0x1_0000, 4)]);
    let b = handle_of(&send(&mut s, MEM_DONATE32, &donate, Layout::V1_2));
    assert_ne!(a, b);
    let kinds: Vec<_> = s.memory_transactions().map(|t| t.kind).collect();
    assert_eq!(kinds, [Kind::Lend, Kind::Donate]);
    // 64-bit SHARE with the TX buffer named by address 0.
    let c = handle_of(&send(
        &mut s,
        MEM_SHARE64,
        &txn(&[SP2], &[range(BASE + 0x2_0000, 1)]),
        Layout::V1_2,
    ));
    assert_eq!(s.memory_transactions().count(), 3);
    for h in [b, a, c] {
        assert_success(&reclaim(&mut s, h, 0));
    }
}

#[test]
fn clear_flags_zero_the_memory() {
    let mut s = ready(Version(1, 2));
    let pattern = [0xa5u8; 0x2000];
    s.platform_mut()
        .write(Space::NonSecure, BASE, &pattern)
        .unwrap();
    let mut lend = txn(&[SP1], &[range(BASE, 1)]);
    lend.flags = flags::CLEAR;
    let h = handle_of(&send(&mut s, MEM_LEND32, &lend, Layout::V1_2));
    assert!(
        s.platform()
            .peek(Space::NonSecure, BASE, 0x1000)
            .iter()
            .all(|b| *b == 0)
    );
    assert_eq!(
        s.platform().peek(Space::NonSecure, BASE + 0x1000, 1),
        [0xa5]
    );
    s.platform_mut()
        .write(Space::NonSecure, BASE, &pattern[..0x1000])
        .unwrap();
    assert_success(&reclaim(&mut s, h, 1));
    assert!(
        s.platform()
            .peek(Space::NonSecure, BASE, 0x1000)
            .iter()
            .all(|b| *b == 0)
    );
    // Neither for a share.
    let mut share = txn(&[SP1], &[range(BASE, 1)]);
    share.flags = flags::CLEAR;
    assert_error(
        &send(&mut s, fid::MEM_SHARE32, &share, Layout::V1_2),
        FfaError::InvalidParameters,
    );
    let h = handle_of(&send(
        &mut s,
        fid::MEM_SHARE32,
        &txn(&[SP1], &[range(BASE, 1)]),
        Layout::V1_2,
    ));
    assert_error(&reclaim(&mut s, h, 1), FfaError::InvalidParameters);
    assert_error(&reclaim(&mut s, h, 4), FfaError::InvalidParameters);
    assert_success(&reclaim(&mut s, h, 0));
}

#[test]
fn sends_the_spmc_refuses() {
    let mut s = ready(Version(1, 2));
    let one = || txn(&[SP1], &[range(BASE, 1)]);
    let mut cases: Vec<(&str, MemTransaction, FfaError)> = vec![
        (
            "overlapping ranges",
            txn(&[SP1], &[range(BASE, 2), range(BASE + PAGE, 1)]),
            FfaError::InvalidParameters,
        ),
        (
            "outside the normal world's memory",
            txn(&[SP1], &[range(NS_BASE + NS_LEN, 1)]),
            FfaError::InvalidParameters,
        ),
        (
            "secure memory",
            txn(&[SP1], &[range(SP2_LOAD, 1)]),
            FfaError::InvalidParameters,
        ),
        (
            "an unknown borrower",
            txn(&[EndpointId(0x8009)], &[range(BASE, 1)]),
            FfaError::InvalidParameters,
        ),
        (
            "the sender as borrower",
            txn(&[HOST], &[range(BASE, 1)]),
            FfaError::InvalidParameters,
        ),
    ];
    let mut wrong_sender = one();
    wrong_sender.sender = SP2;
    cases.push((
        "a partition's ID as sender",
        wrong_sender,
        FfaError::InvalidParameters,
    ));
    let mut handle = one();
    handle.handle = 5;
    cases.push(("a handle in a send", handle, FfaError::InvalidParameters));
    let mut device = one();
    device.attributes = attributes::TYPE_DEVICE;
    cases.push(("device memory", device, FfaError::InvalidParameters));
    let mut ns = one();
    ns.attributes |= attributes::NON_SECURE;
    cases.push(("the NS bit", ns, FfaError::InvalidParameters));
    let mut no_access = one();
    no_access.receivers = {
        let mut r = BoundedVec::new();
        r.push(Receiver {
            id: SP1,
            permissions: permissions::INSTRUCTION_NX,
            ..Receiver::default()
        })
        .unwrap();
        r
    };
    cases.push(("no data access", no_access, FfaError::InvalidParameters));
    let mut exec = one();
    exec.receivers = {
        let mut r = BoundedVec::new();
        r.push(Receiver {
            id: SP1,
            permissions: permissions::DATA_RO | permissions::INSTRUCTION_X,
            ..Receiver::default()
        })
        .unwrap();
        r
    };
    cases.push(("execute access", exec, FfaError::InvalidParameters));
    let mut undefined_flag = one();
    undefined_flag.flags = flags::TIME_SLICE;
    cases.push((
        "a flag a send does not define",
        undefined_flag,
        FfaError::InvalidParameters,
    ));
    for (what, t, code) in cases {
        assert_error(&send(&mut s, fid::MEM_SHARE32, &t, Layout::V1_2), code);
        assert_eq!(s.memory_transactions().count(), 0, "{what}");
    }
    assert_error(
        &send(
            &mut s,
            MEM_DONATE32,
            &txn(&[SP1, SP2], &[range(BASE, 1)]),
            Layout::V1_2,
        ),
        FfaError::InvalidParameters,
    );
    // Zero pages and misalignment are refused by the descriptor check: write them by hand.
    let len = put(&mut s, &one(), Layout::V1_2);
    let constituent = NWD_TX + len - 16;
    for (offset, bytes, what) in [
        (8u64, 0u32.to_le_bytes(), "zero pages"),
        (0, 0x0600_0800u32.to_le_bytes(), "misaligned"),
    ] {
        let _ = put(&mut s, &one(), Layout::V1_2);
        s.platform_mut()
            .write(Space::NonSecure, constituent + offset, &bytes)
            .unwrap();
        let r = to_spmd(nwd(&mut s, 0, &regs(&[fid::MEM_SHARE32, len, len, 0, 0])));
        assert_error(&r, FfaError::InvalidParameters);
        assert_eq!(s.memory_transactions().count(), 0, "{what}");
    }
}

#[test]
fn buffers_and_lengths_the_spmc_refuses() {
    let mut s = booted();
    // No TX buffer mapped.
    let t = txn(&[SP1], &[range(BASE, 1)]);
    let r = to_spmd(nwd(&mut s, 0, &regs(&[fid::MEM_SHARE32, 96, 96, 0, 0])));
    assert_error(&r, FfaError::Denied);
    let mut s = ready(Version(1, 2));
    let len = put(&mut s, &t, Layout::V1_2);
    for (call, code) in [
        // A buffer other than the TX buffer.
        (
            regs(&[fid::MEM_SHARE32, len, len, NS_BASE + 0x8000, 1]),
            FfaError::InvalidParameters,
        ),
        // A fragment longer than the whole, an empty one, a length past the TX buffer.
        (
            regs(&[fid::MEM_SHARE32, len, len + 16, 0, 0]),
            FfaError::InvalidParameters,
        ),
        (
            regs(&[fid::MEM_SHARE32, len, 0, 0, 0]),
            FfaError::InvalidParameters,
        ),
        (
            regs(&[fid::MEM_SHARE32, 0x2000, 0x2000, 0, 0]),
            FfaError::InvalidParameters,
        ),
        // A total length the descriptor does not have (its composite ends it).
        (
            regs(&[fid::MEM_SHARE32, len + 16, len, 0, 0]),
            FfaError::InvalidParameters,
        ),
    ] {
        assert_error(&to_spmd(nwd(&mut s, 0, &call)), code);
    }
    assert_eq!(s.memory_transactions().count(), 0);
    // A partition without a TX buffer.
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    let r = entered(
        sp(&mut s, 0, SP1, &regs(&[fid::MEM_SHARE32, len, len, 0, 0])),
        SP1,
        0,
    );
    assert_error(&r, FfaError::Denied);
}

#[test]
fn a_page_is_shared_once_and_only_its_lender_reclaims() {
    let mut s = ready(Version(1, 2));
    let h = handle_of(&send(
        &mut s,
        fid::MEM_SHARE32,
        &txn(&[SP1], &[range(BASE, 4)]),
        Layout::V1_2,
    ));
    assert_error(
        &send(
            &mut s,
            MEM_LEND32,
            &txn(&[SP2], &[range(BASE + 3 * PAGE, 1)]),
            Layout::V1_2,
        ),
        FfaError::Denied,
    );
    assert_error(&reclaim(&mut s, h ^ 1, 0), FfaError::InvalidParameters);
    // A partition cannot reclaim the normal world's memory.
    let mut s2 = new_spmc(config(), 2);
    entered(s2.boot(CpuId(0)), SP1, 0);
    let r = entered(
        sp(
            &mut s2,
            0,
            SP1,
            &regs(&[MEM_RECLAIM, h & 0xffff_ffff, h >> 32, 0]),
        ),
        SP1,
        0,
    );
    assert_error(&r, FfaError::InvalidParameters);
    assert_success(&reclaim(&mut s, h, 0));
    // Free again.
    handle_of(&send(
        &mut s,
        MEM_LEND32,
        &txn(&[SP2], &[range(BASE + 3 * PAGE, 1)]),
        Layout::V1_2,
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    /// Random shares and reclaims: every page the SPMC accepted is in one outstanding
    /// transaction, every handle it returned is reclaimable once, and a send is accepted
    /// exactly when its pages are free.
    #[test]
    fn random_shares_and_reclaims_keep_pages_owned_once(
        steps in proptest::collection::vec((0u32..24, 1u32..4, any::<bool>(), 0usize..8), 1..40)
    ) {
        let mut s = ready(Version(1, 2));
        let mut owned: std::collections::BTreeMap<u64, Vec<u32>> = Default::default();
        for (first, pages, is_send, pick) in steps {
            if is_send || owned.is_empty() {
                let pages_list: Vec<u32> = (first..first + pages).collect();
                let free = pages_list.iter().all(|p| owned.values().all(|o| !o.contains(p)));
                let t = txn(&[SP1], &[range(BASE + u64::from(first) * PAGE, pages)]);
                let r = send(&mut s, fid::MEM_SHARE32, &t, Layout::V1_2);
                if free && owned.len() < spmc::memory::ledger::MAX_TRANSACTIONS {
                    let h = handle_of(&r);
                    prop_assert!(owned.insert(h, pages_list).is_none());
                } else {
                    prop_assert_eq!(r[0], fid::ERROR);
                }
            } else {
                let h = *owned.keys().nth(pick % owned.len()).unwrap();
                assert_success(&reclaim(&mut s, h, 0));
                owned.remove(&h);
                assert_error(&reclaim(&mut s, h, 0), FfaError::InvalidParameters);
            }
            let recorded: Vec<u64> = s.memory_transactions().map(|t| t.handle.0).collect();
            let expected: Vec<u64> = owned.keys().copied().collect();
            prop_assert_eq!(recorded, expected);
        }
    }
}

const MEM_RETRIEVE_REQ32: u64 = 0x8400_0074;
const MEM_RETRIEVE_RESP: u64 = 0x8400_0075;
const MEM_RELINQUISH: u64 = 0x8400_0076;

/// A partition's buffers in these tests (inside its memory).
fn sp_tx(load: u64) -> u64 {
    load + 0x8000
}

fn sp_rx(load: u64) -> u64 {
    load + 0x9000
}

/// The normal world sends `id` a direct request; `id` maps its pair. Leaves `id` running.
fn run_partition(s: &mut TestSpmc, id: EndpointId, load: u64) {
    entered(nwd(s, 0, &req32(0, id, [0; 5])), id, 0);
    let map = regs(&[fid::RXTX_MAP64, sp_tx(load), sp_rx(load), 1]);
    assert_success(&entered(sp(s, 0, id, &map), id, 0));
}

/// A retrieve request for `handle` by `who` asking `access`.
fn request(handle: u64, who: EndpointId, access: u8) -> MemTransaction {
    let mut t = txn(&[who], &[]);
    t.handle = handle;
    t.attributes = 0;
    t.receivers = {
        let mut r = BoundedVec::new();
        r.push(Receiver {
            id: who,
            permissions: access,
            ..Receiver::default()
        })
        .unwrap();
        r
    };
    t
}

fn retrieve(s: &mut TestSpmc, id: EndpointId, load: u64, req: &MemTransaction) -> Regs {
    retrieve_in(s, id, load, req, Layout::V1_2)
}

fn retrieve_in(
    s: &mut TestSpmc,
    id: EndpointId,
    load: u64,
    req: &MemTransaction,
    layout: Layout,
) -> Regs {
    let mut buf = [0u8; ffa::memory::MAX_ENCODED_LEN];
    let len = req.write(&mut buf, layout).unwrap();
    s.platform_mut()
        .write(Space::Secure, sp_tx(load), &buf[..len])
        .unwrap();
    // The partition's own stores: not the SPMC's to clean.
    s.platform_mut()
        .clean_to_poc(Space::Secure, sp_tx(load), len);
    let len = len as u64;
    entered(
        sp(s, 0, id, &regs(&[MEM_RETRIEVE_REQ32, len, len, 0, 0])),
        id,
        0,
    )
}

fn relinquish(s: &mut TestSpmc, id: EndpointId, load: u64, handle: u64, flags: u32) -> Regs {
    let mut d = Vec::new();
    d.extend_from_slice(&handle.to_le_bytes());
    d.extend_from_slice(&flags.to_le_bytes());
    d.extend_from_slice(&1u32.to_le_bytes());
    d.extend_from_slice(&id.0.to_le_bytes());
    s.platform_mut()
        .write(Space::Secure, sp_tx(load), &d)
        .unwrap();
    entered(sp(s, 0, id, &regs(&[MEM_RELINQUISH])), id, 0)
}

fn mapped_pages(s: &TestSpmc, id: EndpointId) -> Vec<(u64, u8)> {
    s.platform()
        .mapped
        .iter()
        .filter(|((p, secure, _), _)| *p == id && !*secure)
        .map(|((_, _, page), perms)| (*page, *perms))
        .collect()
}

#[test]
fn a_borrower_retrieves_relinquishes_and_the_lender_reclaims() {
    let mut s = ready(Version(1, 2));
    let ranges = [range(BASE, 2), range(BASE + 0x8000, 1)];
    let h = handle_of(&send(
        &mut s,
        fid::MEM_SHARE32,
        &txn(&[SP1, SP3], &ranges),
        Layout::V1_2,
    ));
    run_partition(&mut s, SP1, SP1_LOAD);
    let r = retrieve(
        &mut s,
        SP1,
        SP1_LOAD,
        &request(h, SP1, permissions::DATA_RW),
    );
    assert_eq!(r[0], MEM_RETRIEVE_RESP, "{r:x?}");
    assert_eq!(r[1], r[2], "one fragment");
    // The whole transaction in its RX buffer, the memory marked non-secure.
    let rx = s
        .platform()
        .peek(Space::Secure, sp_rx(SP1_LOAD), r[1] as usize);
    let resp = MemTransaction::parse(&rx, Layout::V1_2).unwrap();
    assert_eq!((resp.handle, resp.sender, resp.tag), (h, HOST, 0x7a6));
    assert_eq!(resp.ranges.as_ref(), &ranges);
    assert_eq!(resp.receivers.len(), 2);
    assert_ne!(resp.attributes & attributes::NON_SECURE, 0);
    assert_eq!(resp.flags & flags::TYPE_MASK, flags::TYPE_SHARE);
    let rw_nx = permissions::DATA_RW | permissions::INSTRUCTION_NX;
    assert_eq!(
        mapped_pages(&s, SP1),
        [
            (BASE, rw_nx),
            (BASE + 0x1000, rw_nx),
            (BASE + 0x8000, rw_nx)
        ]
    );
    assert_eq!(
        s.platform().dirty(),
        [],
        "the response is cleaned for a caches-off reader"
    );
    // Held: no reclaim (from the normal world on CPU 1: CPU 0 is SP1's); no second retrieve.
    let r = to_spmd(nwd(
        &mut s,
        1,
        &regs(&[MEM_RECLAIM, h & 0xffff_ffff, h >> 32, 0]),
    ));
    assert_error(&r, FfaError::Denied);
    let r = retrieve(
        &mut s,
        SP1,
        SP1_LOAD,
        &request(h, SP1, permissions::DATA_RW),
    );
    assert_error(&r, FfaError::Denied);
    assert_success(&relinquish(&mut s, SP1, SP1_LOAD, h, 0));
    assert_eq!(mapped_pages(&s, SP1), []);
    assert_error(&relinquish(&mut s, SP1, SP1_LOAD, h, 0), FfaError::Denied);
    to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 0, [0; 5])));
    assert_success(&reclaim(&mut s, h, 0));
    assert!(s.platform().mapped.is_empty());
}

#[test]
fn retrieves_the_spmc_refuses() {
    let mut s = ready(Version(1, 2));
    let mut t = txn(&[SP1], &[range(BASE, 1)]);
    t.receivers = {
        let mut r = BoundedVec::new();
        r.push(Receiver {
            id: SP1,
            permissions: permissions::DATA_RO | permissions::INSTRUCTION_NX,
            ..Receiver::default()
        })
        .unwrap();
        r
    };
    let h = handle_of(&send(&mut s, MEM_LEND32, &t, Layout::V1_2));
    run_partition(&mut s, SP1, SP1_LOAD);
    let cases: Vec<(&str, MemTransaction, FfaError)> = vec![
        (
            "a stale handle",
            request(h ^ 1, SP1, 0),
            FfaError::InvalidParameters,
        ),
        (
            "more access than granted",
            request(h, SP1, permissions::DATA_RW),
            FfaError::Denied,
        ),
        (
            "execute access",
            request(h, SP1, permissions::DATA_RO | permissions::INSTRUCTION_X),
            FfaError::Denied,
        ),
        (
            "another borrower named",
            request(h, SP2, 0),
            FfaError::InvalidParameters,
        ),
        {
            let mut r = request(h, SP1, 0);
            r.sender = EndpointId(5);
            ("another lender", r, FfaError::InvalidParameters)
        },
        {
            let mut r = request(h, SP1, 0);
            r.tag = 1;
            ("another tag", r, FfaError::InvalidParameters)
        },
        {
            let mut r = request(h, SP1, 0);
            r.flags = flags::TYPE_SHARE;
            ("the wrong transaction type", r, FfaError::InvalidParameters)
        },
    ];
    for (what, req, code) in cases {
        let r = retrieve(&mut s, SP1, SP1_LOAD, &req);
        assert_error(&r, code);
        assert_eq!(mapped_pages(&s, SP1), [], "{what}");
    }
    // A mapping the platform refuses leaves nothing mapped and the memory not held.
    s.platform_mut().fail_maps = true;
    assert_error(
        &retrieve(&mut s, SP1, SP1_LOAD, &request(h, SP1, 0)),
        FfaError::NoMemory,
    );
    s.platform_mut().fail_maps = false;
    // Read-only, as granted (no data access asked: what was granted).
    let r = retrieve(&mut s, SP1, SP1_LOAD, &request(h, SP1, 0));
    assert_eq!(r[0], MEM_RETRIEVE_RESP);
    assert_eq!(
        mapped_pages(&s, SP1),
        [(BASE, permissions::DATA_RO | permissions::INSTRUCTION_NX)]
    );
    // A non-borrower, from its own context.
    to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 0, [0; 5])));
    run_partition(&mut s, SP3, SP3_LOAD);
    let mut by_sp3 = request(h, SP3, 0);
    by_sp3.receivers = {
        let mut r = BoundedVec::new();
        r.push(Receiver {
            id: SP3,
            permissions: permissions::DATA_RO,
            ..Receiver::default()
        })
        .unwrap();
        r
    };
    let mut buf = [0u8; ffa::memory::MAX_ENCODED_LEN];
    let len = by_sp3.write(&mut buf, Layout::V1_1).unwrap();
    s.platform_mut()
        .write(Space::Secure, sp_tx(SP3_LOAD), &buf[..len])
        .unwrap();
    let len = len as u64;
    let r = entered(
        sp(&mut s, 0, SP3, &regs(&[MEM_RETRIEVE_REQ32, len, len, 0, 0])),
        SP3,
        0,
    );
    assert_error(&r, FfaError::InvalidParameters);
    // The normal world retrieves only as the hypervisor (naming no receiver).
    to_spmd(sp(&mut s, 0, SP3, &resp32(SP3, 0, [0; 5])));
    let r = to_spmd(nwd(&mut s, 0, &regs(&[MEM_RETRIEVE_REQ32, 64, 64, 0, 0])));
    assert_error(&r, FfaError::InvalidParameters);
}

/// `t` from partition `id` (running, its pair mapped), by `fid`, in `layout`.
fn send_from(s: &mut TestSpmc, id: EndpointId, load: u64, fid: u64, t: &MemTransaction) -> Regs {
    let mut buf = [0u8; ffa::memory::MAX_ENCODED_LEN];
    let len = t.write(&mut buf, Layout::V1_2).unwrap();
    s.platform_mut()
        .write(Space::Secure, sp_tx(load), &buf[..len])
        .unwrap();
    s.platform_mut()
        .clean_to_poc(Space::Secure, sp_tx(load), len);
    let len = len as u64;
    entered(sp(s, 0, id, &regs(&[fid, len, len, 0, 0])), id, 0)
}

#[test]
fn a_partition_lends_its_own_memory_to_another() {
    let mut s = ready(Version(1, 2));
    run_partition(&mut s, SP1, SP1_LOAD);
    let page = SP1_LOAD + 0xa_0000;
    let mut lend = txn(&[SP3], &[range(page, 1)]);
    lend.sender = SP1;
    lend.attributes = attributes::TYPE_NOT_SPECIFIED;
    // Not its memory, or not its name.
    let mut elsewhere = lend.clone();
    elsewhere.ranges = {
        let mut r = BoundedVec::new();
        r.push(range(SP2_LOAD, 1)).unwrap();
        r
    };
    assert_error(
        &send_from(&mut s, SP1, SP1_LOAD, MEM_LEND32, &elsewhere),
        FfaError::InvalidParameters,
    );
    let mut as_sp2 = lend.clone();
    as_sp2.sender = SP2;
    assert_error(
        &send_from(&mut s, SP1, SP1_LOAD, MEM_LEND32, &as_sp2),
        FfaError::InvalidParameters,
    );
    let h = handle_of(&send_from(&mut s, SP1, SP1_LOAD, MEM_LEND32, &lend));
    let t = s.memory_transactions().next().unwrap().clone();
    assert_eq!(
        (t.lender, t.space, t.kind),
        (SP1, Space::Secure, Kind::Lend)
    );
    to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 0, [0; 5])));

    // SP3 retrieves it into its secure IPA space, without the NS bit.
    run_partition(&mut s, SP3, SP3_LOAD);
    let mut req = request(h, SP3, 0);
    req.sender = SP1;
    // SP3 speaks v1.1, the version of its manifest.
    let r = retrieve_in(&mut s, SP3, SP3_LOAD, &req, Layout::V1_1);
    assert_eq!(r[0], MEM_RETRIEVE_RESP, "{r:x?}");
    let rx = s
        .platform()
        .peek(Space::Secure, sp_rx(SP3_LOAD), r[1] as usize);
    let resp = MemTransaction::parse(&rx, Layout::V1_1).unwrap();
    assert_eq!(resp.attributes & attributes::NON_SECURE, 0);
    let key = (SP3, true, page);
    assert_eq!(
        s.platform().mapped.get(&key),
        Some(&(permissions::DATA_RW | permissions::INSTRUCTION_NX))
    );
    assert_success(&relinquish(&mut s, SP3, SP3_LOAD, h, 0));
    assert_eq!(s.platform().mapped.get(&key), None);
    to_spmd(sp(&mut s, 0, SP3, &resp32(SP3, 0, [0; 5])));

    // Only SP1 reclaims it, and gets its access back.
    assert_error(&reclaim(&mut s, h, 0), FfaError::InvalidParameters);
    entered(nwd(&mut s, 0, &req32(0, SP1, [0; 5])), SP1, 0);
    let r = entered(
        sp(
            &mut s,
            0,
            SP1,
            &regs(&[MEM_RECLAIM, h & 0xffff_ffff, h >> 32, 0]),
        ),
        SP1,
        0,
    );
    assert_success(&r);
    assert!(s.platform().mapped.contains_key(&(SP1, true, page)));
    assert_eq!(s.memory_transactions().count(), 0);
}

#[test]
fn a_borrower_that_dies_gives_the_memory_back() {
    let mut s = ready(Version(1, 2));
    let h = handle_of(&send(
        &mut s,
        fid::MEM_SHARE32,
        &txn(&[SP1], &[range(BASE, 2)]),
        Layout::V1_2,
    ));
    run_partition(&mut s, SP1, SP1_LOAD);
    let r = retrieve(&mut s, SP1, SP1_LOAD, &request(h, SP1, 0));
    assert_eq!(r[0], MEM_RETRIEVE_RESP);
    assert_eq!(mapped_pages(&s, SP1).len(), 2);
    // SP1 faults with no way to handle it: its request is answered ABORTED.
    assert_error(&to_spmd(s.abort_running(CpuId(0))), FfaError::Aborted);
    assert_eq!(mapped_pages(&s, SP1), []);
    assert_success(&reclaim(&mut s, h, 0));
}

const MEM_FRAG_RX: u64 = 0x8400_007a;
const MEM_FRAG_TX: u64 = 0x8400_007b;

/// `count` one-page ranges two pages apart from `base`, in the normal world's layout `layout`,
/// to SP1: the whole descriptor's bytes.
fn scattered_share(count: u32, base: u64, layout: Layout) -> (Vec<u8>, Vec<AddressRange>) {
    use ffa::memory::{CONSTITUENT_SIZE, Composite, write_constituent};
    let ranges: Vec<AddressRange> = (0..u64::from(count))
        .map(|i| range(base + 2 * i * PAGE, 1))
        .collect();
    let mut head = txn(&[SP1], &[range(base, 1)]).head(layout).unwrap();
    head.composite = Some(Composite {
        total_pages: count,
        count,
        constituents_at: 0,
    });
    let mut bytes = vec![0u8; head.total_len(layout)];
    let at = head.write(&mut bytes, layout).unwrap();
    for (i, r) in ranges.iter().enumerate() {
        write_constituent(&mut bytes[at + i * CONSTITUENT_SIZE..], r).unwrap();
    }
    (bytes, ranges)
}

/// Sends `bytes` from the normal world in fragments of at most one TX buffer (whole
/// constituents after the head), as Linux does; returns the last answer.
fn send_in_fragments(s: &mut TestSpmc, fid: u64, bytes: &[u8], head_len: usize) -> Regs {
    let total = bytes.len();
    let first = head_len + (0x1000 - head_len) / 16 * 16;
    let first = first.min(total);
    s.platform_mut()
        .write(Space::NonSecure, NWD_TX, &bytes[..first])
        .unwrap();
    let mut r = to_spmd(nwd(s, 0, &regs(&[fid, total as u64, first as u64, 0, 0])));
    let mut sent = first;
    while r[0] == MEM_FRAG_RX {
        assert_eq!(r[3] as usize, sent, "the offset received so far");
        let n = (total - sent).min(0x1000);
        s.platform_mut()
            .write(Space::NonSecure, NWD_TX, &bytes[sent..sent + n])
            .unwrap();
        let handle = (r[1] & 0xffff_ffff) | (r[2] & 0xffff_ffff) << 32;
        r = to_spmd(nwd(
            s,
            0,
            &regs(&[MEM_FRAG_TX, handle & 0xffff_ffff, handle >> 32, n as u64, 0]),
        ));
        sent += n;
    }
    r
}

/// Reads a retrieve response of `total` bytes whose first `first` bytes are in the RX buffer
/// at `rx`, releasing RX and asking FFA_MEM_FRAG_RX for the rest, through `call`.
fn gather_response(
    s: &mut TestSpmc,
    space: Space,
    rx: u64,
    handle: u64,
    total: usize,
    first: usize,
    call: &mut dyn FnMut(&mut TestSpmc, &Regs) -> Regs,
) -> Vec<u8> {
    let mut bytes = s.platform().peek(space, rx, first);
    while bytes.len() < total {
        assert_success(&call(s, &regs(&[fid::RX_RELEASE])));
        let r = call(
            s,
            &regs(&[
                MEM_FRAG_RX,
                handle & 0xffff_ffff,
                handle >> 32,
                bytes.len() as u64,
                0,
            ]),
        );
        assert_eq!(r[0], MEM_FRAG_TX, "{r:x?}");
        assert_eq!((r[1] | r[2] << 32), handle);
        let n = r[3] as usize;
        assert!(n > 0 && n <= 0x1000 && n.is_multiple_of(16), "{n:#x}");
        bytes.extend(s.platform().peek(space, rx, n));
    }
    assert_eq!(bytes.len(), total);
    bytes
}

fn parse_whole(bytes: &[u8], layout: Layout) -> (ffa::memory::DescriptorHead, Vec<AddressRange>) {
    let head = ffa::memory::DescriptorHead::parse(bytes, bytes.len(), layout).unwrap();
    let at = head.composite.unwrap().constituents_at;
    let ranges = ffa::memory::constituents(&bytes[at..])
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (head, ranges)
}

#[test]
fn six_hundred_ranges_arrive_in_fragments_and_are_retrieved_in_fragments() {
    for (version, layout) in [
        (Version(1, 0), Layout::V1_0),
        (Version(1, 1), Layout::V1_1),
        (Version(1, 2), Layout::V1_2),
    ] {
        let mut s = ready(version);
        let (bytes, ranges) = scattered_share(600, BASE, layout);
        let head_len = bytes.len() - 600 * 16;
        let r = send_in_fragments(&mut s, fid::MEM_SHARE32, &bytes, head_len);
        let h = handle_of(&r);
        assert_eq!(s.memory_ranges(h), ranges.as_slice());

        // The hypervisor learns the ranges by handle alone, in fragments of its RX buffer.
        let mut req = [0u8; 48];
        req[8..16].copy_from_slice(&h.to_le_bytes());
        if layout != Layout::V1_0 {
            req[24..28].copy_from_slice(&(layout.emad_size() as u32).to_le_bytes());
            req[32..36].copy_from_slice(&48u32.to_le_bytes());
        }
        let req_len: u64 = if layout == Layout::V1_0 { 32 } else { 48 };
        s.platform_mut()
            .write(Space::NonSecure, NWD_TX, &req[..req_len as usize])
            .unwrap();
        let r = to_spmd(nwd(
            &mut s,
            0,
            &regs(&[MEM_RETRIEVE_REQ32, req_len, req_len, 0, 0]),
        ));
        assert_eq!(r[0], MEM_RETRIEVE_RESP, "{r:x?}");
        assert!(r[2] < r[1], "in fragments");
        let whole = gather_response(
            &mut s,
            Space::NonSecure,
            NWD_RX,
            h,
            r[1] as usize,
            r[2] as usize,
            &mut |s, call| to_spmd(nwd(s, 0, call)),
        );
        let (head, got) = parse_whole(&whole, layout);
        assert_eq!((head.handle, head.sender), (h, HOST));
        assert_eq!(head.receivers[0].id, SP1);
        assert_eq!(got, ranges);
        assert_success(&to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_RELEASE]))));

        // SP1 retrieves it: every page mapped, the response in fragments of its RX buffer.
        run_partition(&mut s, SP1, SP1_LOAD);
        let sp_layout = Layout::V1_2;
        let r = retrieve_in(
            &mut s,
            SP1,
            SP1_LOAD,
            &request(h, SP1, permissions::DATA_RW),
            sp_layout,
        );
        assert_eq!(r[0], MEM_RETRIEVE_RESP, "{r:x?}");
        assert!(r[2] < r[1]);
        // Asking for the next fragment before releasing RX is BUSY; a wrong offset is refused.
        let next = |offset: u64| regs(&[MEM_FRAG_RX, h & 0xffff_ffff, h >> 32, offset, 0]);
        assert_error(
            &entered(sp(&mut s, 0, SP1, &next(r[2])), SP1, 0),
            FfaError::Busy,
        );
        assert_success(&entered(
            sp(&mut s, 0, SP1, &regs(&[fid::RX_RELEASE])),
            SP1,
            0,
        ));
        assert_error(
            &entered(sp(&mut s, 0, SP1, &next(r[2] + 16)), SP1, 0),
            FfaError::InvalidParameters,
        );
        let first = s
            .platform()
            .peek(Space::Secure, sp_rx(SP1_LOAD), r[2] as usize);
        let mut whole = first;
        while whole.len() < r[1] as usize {
            let f = entered(sp(&mut s, 0, SP1, &next(whole.len() as u64)), SP1, 0);
            assert_eq!(f[0], MEM_FRAG_TX, "{f:x?}");
            whole.extend(
                s.platform()
                    .peek(Space::Secure, sp_rx(SP1_LOAD), f[3] as usize),
            );
            assert_success(&entered(
                sp(&mut s, 0, SP1, &regs(&[fid::RX_RELEASE])),
                SP1,
                0,
            ));
        }
        let (head, got) = parse_whole(&whole, sp_layout);
        assert_ne!(head.attributes & attributes::NON_SECURE, 0);
        assert_eq!(got, ranges);
        assert_eq!(mapped_pages(&s, SP1).len(), 600);
        // Past the end: nothing more.
        assert_error(
            &entered(sp(&mut s, 0, SP1, &next(whole.len() as u64)), SP1, 0),
            FfaError::InvalidParameters,
        );
        assert_success(&relinquish(&mut s, SP1, SP1_LOAD, h, 0));
        assert_eq!(mapped_pages(&s, SP1), []);
        to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 0, [0; 5])));
        assert_success(&reclaim(&mut s, h, 0));
        assert_eq!(s.memory_transactions().count(), 0);
        // A stale handle.
        assert_error(&reclaim(&mut s, h, 0), FfaError::InvalidParameters);
    }
}

#[test]
fn fragments_the_spmc_refuses() {
    let layout = Layout::V1_2;
    let mut s = ready(Version(1, 2));
    let (bytes, _) = scattered_share(400, BASE, layout);
    let head_len = bytes.len() - 400 * 16;
    let first = head_len + (0x1000 - head_len) / 16 * 16;
    let start = |s: &mut TestSpmc, bytes: &[u8]| {
        s.platform_mut()
            .write(Space::NonSecure, NWD_TX, &bytes[..first])
            .unwrap();
        let total = bytes.len() as u64;
        let r = to_spmd(nwd(
            s,
            0,
            &regs(&[fid::MEM_SHARE32, total, first as u64, 0, 0]),
        ));
        assert_eq!(r[0], MEM_FRAG_RX, "{r:x?}");
        assert_eq!(r[4], 0, "the host's ID in w4[31:16]");
        (r[1] & 0xffff_ffff) | (r[2] & 0xffff_ffff) << 32
    };
    let frag_tx = |s: &mut TestSpmc, h: u64, len: u64| {
        to_spmd(nwd(
            s,
            0,
            &regs(&[MEM_FRAG_TX, h & 0xffff_ffff, h >> 32, len, 0]),
        ))
    };
    // A fragment that runs past the length the first one announced: refused, and the
    // transaction is gone.
    let h = start(&mut s, &bytes);
    let rest = (bytes.len() - first) as u64;
    assert_error(&frag_tx(&mut s, h, rest + 16), FfaError::InvalidParameters);
    assert_error(&frag_tx(&mut s, h, 16), FfaError::InvalidParameters);
    assert_eq!(s.memory_transactions().count(), 0);
    // A fragment that is not a whole number of constituents.
    let h = start(&mut s, &bytes);
    assert_error(&frag_tx(&mut s, h, 24), FfaError::InvalidParameters);
    assert_eq!(s.memory_transactions().count(), 0);
    // Another endpoint's FRAG_TX leaves the transaction alone; an unknown handle is refused.
    let h = start(&mut s, &bytes);
    run_partition(&mut s, SP1, SP1_LOAD);
    let r = entered(
        sp(
            &mut s,
            0,
            SP1,
            &regs(&[MEM_FRAG_TX, h & 0xffff_ffff, h >> 32, 16, 0]),
        ),
        SP1,
        0,
    );
    assert_error(&r, FfaError::InvalidParameters);
    to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 0, [0; 5])));
    assert_error(&frag_tx(&mut s, h + 1, 16), FfaError::InvalidParameters);
    assert_eq!(s.memory_transactions().count(), 1);
    // An arriving transaction cannot be reclaimed or retrieved.
    assert_error(&reclaim(&mut s, h, 0), FfaError::InvalidParameters);
    // The rest arrives: done.
    let mut sent = first;
    let mut r = [0; 18];
    while sent < bytes.len() {
        let n = (bytes.len() - sent).min(0x1000);
        s.platform_mut()
            .write(Space::NonSecure, NWD_TX, &bytes[sent..sent + n])
            .unwrap();
        r = frag_tx(&mut s, h, n as u64);
        sent += n;
    }
    assert_eq!(handle_of(&r), h);
    assert_success(&reclaim(&mut s, h, 0));

    // The last fragment repeats a page of the first: overlapping, refused at the end.
    let mut overlapping = bytes.clone();
    let last = overlapping.len() - 16;
    overlapping.copy_within(head_len..head_len + 16, last);
    let h = start(&mut s, &overlapping);
    let rest = &overlapping[first..];
    s.platform_mut()
        .write(Space::NonSecure, NWD_TX, rest)
        .unwrap();
    assert_error(
        &frag_tx(&mut s, h, rest.len() as u64),
        FfaError::InvalidParameters,
    );
    // A total page count the constituents do not add up to.
    let mut miscounted = bytes.clone();
    let composite_at = head_len - 16;
    miscounted[composite_at..composite_at + 4].copy_from_slice(&401u32.to_le_bytes());
    let h = start(&mut s, &miscounted);
    s.platform_mut()
        .write(Space::NonSecure, NWD_TX, &miscounted[first..])
        .unwrap();
    assert_error(
        &frag_tx(&mut s, h, (miscounted.len() - first) as u64),
        FfaError::InvalidParameters,
    );
    assert_eq!(s.memory_transactions().count(), 0);
    // Pages already shared, found when the last fragment commits the transaction: DENIED.
    let first_page = handle_of(&send(
        &mut s,
        fid::MEM_SHARE32,
        &txn(&[SP1], &[range(BASE + 2 * 399 * PAGE, 1)]),
        Layout::V1_2,
    ));
    let h = start(&mut s, &bytes);
    s.platform_mut()
        .write(Space::NonSecure, NWD_TX, &bytes[first..])
        .unwrap();
    assert_error(
        &frag_tx(&mut s, h, (bytes.len() - first) as u64),
        FfaError::Denied,
    );
    assert_eq!(s.memory_transactions().count(), 1);
    assert_success(&reclaim(&mut s, first_page, 0));
}

/// One step of the random memory-sharing sequences.
#[derive(Clone, Debug)]
enum Step {
    /// The normal world shares `count` one-page ranges `stride` pages apart from page
    /// `first`, in fragments of its 4 KiB TX buffer when the descriptor is longer.
    Share { first: u64, count: u32, stride: u64 },
    /// A fragmented share whose second fragment runs past the whole: dropped.
    BrokenFragments { first: u64 },
    /// SP1 retrieves transaction number `pick` (reading every fragment of the response).
    Retrieve { pick: usize },
    /// SP1 relinquishes transaction number `pick`.
    Relinquish { pick: usize },
    /// The normal world reclaims transaction number `pick`.
    Reclaim { pick: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u64..2048, 1u32..400, 1u64..4).prop_map(|(first, count, stride)| Step::Share {
            first,
            count,
            stride
        }),
        (0u64..2048).prop_map(|first| Step::BrokenFragments { first }),
        any::<usize>().prop_map(|pick| Step::Retrieve { pick }),
        any::<usize>().prop_map(|pick| Step::Relinquish { pick }),
        any::<usize>().prop_map(|pick| Step::Reclaim { pick }),
    ]
}

/// The normal world (on CPU 1) sends `bytes` in fragments of at most 4 KiB; returns the last
/// answer. With `overrun`, the second fragment claims 16 bytes more than are left.
fn share_from_cpu1(s: &mut TestSpmc, bytes: &[u8], head_len: usize, overrun: bool) -> Regs {
    let total = bytes.len();
    let first = (head_len + (0x1000 - head_len) / 16 * 16).min(total);
    s.platform_mut()
        .write(Space::NonSecure, NWD_TX, &bytes[..first])
        .unwrap();
    let mut r = to_spmd(nwd(
        s,
        1,
        &regs(&[fid::MEM_SHARE32, total as u64, first as u64, 0, 0]),
    ));
    let mut sent = first;
    while r[0] == MEM_FRAG_RX {
        let n = (total - sent).min(0x1000);
        s.platform_mut()
            .write(Space::NonSecure, NWD_TX, &bytes[sent..sent + n])
            .unwrap();
        let claimed = if overrun { total - sent + 16 } else { n };
        let h = (r[1] & 0xffff_ffff) | (r[2] & 0xffff_ffff) << 32;
        r = to_spmd(nwd(
            s,
            1,
            &regs(&[MEM_FRAG_TX, h & 0xffff_ffff, h >> 32, claimed as u64, 0]),
        ));
        sent += n;
    }
    r
}

/// SP1 (running on CPU 0) retrieves `h` read-write and reads every fragment of the response;
/// returns the first answer and the constituents it read.
fn retrieve_whole(s: &mut TestSpmc, h: u64) -> (Regs, Vec<AddressRange>) {
    let r = retrieve(s, SP1, SP1_LOAD, &request(h, SP1, permissions::DATA_RW));
    if r[0] != MEM_RETRIEVE_RESP {
        return (r, Vec::new());
    }
    let mut whole = s
        .platform()
        .peek(Space::Secure, sp_rx(SP1_LOAD), r[2] as usize);
    loop {
        assert_success(&entered(sp(s, 0, SP1, &regs(&[fid::RX_RELEASE])), SP1, 0));
        if whole.len() >= r[1] as usize {
            break;
        }
        let next = regs(&[MEM_FRAG_RX, h & 0xffff_ffff, h >> 32, whole.len() as u64, 0]);
        let f = entered(sp(s, 0, SP1, &next), SP1, 0);
        assert_eq!(f[0], MEM_FRAG_TX, "{f:x?}");
        whole.extend(
            s.platform()
                .peek(Space::Secure, sp_rx(SP1_LOAD), f[3] as usize),
        );
    }
    (r, parse_whole(&whole, Layout::V1_2).1)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Random sequences of shares (whole and in fragments), broken fragments, retrieves (with
    /// fragmented responses), relinquishes and reclaims: no page is in two transactions, the
    /// borrower has exactly the pages of what it holds mapped, nothing is mapped for a
    /// reclaimed transaction, every handle the SPMC returned is accounted for, and each call
    /// is refused exactly when the model says so.
    #[test]
    fn random_sequences_keep_pages_owned_once_and_mappings_exact(
        steps in proptest::collection::vec(step(), 1..24)
    ) {
        let mut s = ready(Version(1, 2));
        run_partition(&mut s, SP1, SP1_LOAD);
        // handle -> (pages, held by SP1)
        let mut model: std::collections::BTreeMap<u64, (Vec<u64>, bool)> = Default::default();
        for step in steps {
            match step {
                Step::Share { first, count, stride } => {
                    let ranges: Vec<AddressRange> = (0..u64::from(count))
                        .map(|i| range(BASE + (first + i * stride) * PAGE, 1))
                        .collect();
                    let pages: Vec<u64> = ranges.iter().map(|r| r.address).collect();
                    let (bytes, _) = {
                        use ffa::memory::{Composite, write_constituent};
                        let mut head = txn(&[SP1], &ranges[..1]).head(Layout::V1_2).unwrap();
                        head.composite = Some(Composite { total_pages: count, count, constituents_at: 0 });
                        let mut bytes = vec![0u8; head.total_len(Layout::V1_2)];
                        let at = head.write(&mut bytes, Layout::V1_2).unwrap();
                        for (i, r) in ranges.iter().enumerate() {
                            write_constituent(&mut bytes[at + i * 16..], r).unwrap();
                        }
                        (bytes, at)
                    };
                    let head_len = bytes.len() - ranges.len() * 16;
                    let inside = pages.iter().all(|p| p + PAGE <= NS_BASE + NS_LEN);
                    let free = pages.iter().all(|p| model.values().all(|(o, _)| !o.contains(p)));
                    let room = model.len() < spmc::memory::ledger::MAX_TRANSACTIONS
                        && model.values().map(|(o, _)| o.len()).sum::<usize>() + pages.len()
                            <= spmc::memory::ledger::MAX_RANGES;
                    let r = share_from_cpu1(&mut s, &bytes, head_len, false);
                    if inside && free && room {
                        let h = handle_of(&r);
                        prop_assert!(model.insert(h, (pages, false)).is_none());
                    } else {
                        prop_assert_eq!(r[0], fid::ERROR, "{:x?}", r);
                    }
                }
                Step::BrokenFragments { first } => {
                    let ranges: Vec<AddressRange> =
                        (0..300u64).map(|i| range(BASE + (first + i) * PAGE, 1)).collect();
                    let mut bytes = Vec::new();
                    {
                        use ffa::memory::{Composite, write_constituent};
                        let mut head = txn(&[SP1], &ranges[..1]).head(Layout::V1_2).unwrap();
                        head.composite = Some(Composite { total_pages: 300, count: 300, constituents_at: 0 });
                        bytes.resize(head.total_len(Layout::V1_2), 0);
                        let at = head.write(&mut bytes, Layout::V1_2).unwrap();
                        for (i, r) in ranges.iter().enumerate() {
                            write_constituent(&mut bytes[at + i * 16..], r).unwrap();
                        }
                    }
                    let head_len = bytes.len() - 300 * 16;
                    let r = share_from_cpu1(&mut s, &bytes, head_len, true);
                    prop_assert_eq!(r[0], fid::ERROR, "{:x?}", r);
                }
                Step::Retrieve { pick } if !model.is_empty() => {
                    let h = *model.keys().nth(pick % model.len()).unwrap();
                    let (r, got) = retrieve_whole(&mut s, h);
                    let entry = model.get_mut(&h).unwrap();
                    if entry.1 {
                        assert_error(&r, FfaError::Denied);
                    } else {
                        prop_assert_eq!(r[0], MEM_RETRIEVE_RESP);
                        let addresses: Vec<u64> = got.iter().map(|r| r.address).collect();
                        prop_assert_eq!(&addresses, &entry.0);
                        entry.1 = true;
                    }
                }
                Step::Relinquish { pick } if !model.is_empty() => {
                    let h = *model.keys().nth(pick % model.len()).unwrap();
                    let r = relinquish(&mut s, SP1, SP1_LOAD, h, 0);
                    let entry = model.get_mut(&h).unwrap();
                    if entry.1 {
                        assert_success(&r);
                        entry.1 = false;
                    } else {
                        assert_error(&r, FfaError::Denied);
                    }
                }
                Step::Reclaim { pick } if !model.is_empty() => {
                    let h = *model.keys().nth(pick % model.len()).unwrap();
                    let r = to_spmd(nwd(&mut s, 1, &regs(&[MEM_RECLAIM, h & 0xffff_ffff, h >> 32, 0])));
                    if model[&h].1 {
                        assert_error(&r, FfaError::Denied);
                    } else {
                        assert_success(&r);
                        model.remove(&h);
                        let again = to_spmd(nwd(&mut s, 1, &regs(&[MEM_RECLAIM, h & 0xffff_ffff, h >> 32, 0])));
                        assert_error(&again, FfaError::InvalidParameters);
                    }
                }
                _ => {}
            }
            // Every handle accounted for, no page owned twice, mappings exactly what SP1 holds.
            let recorded: Vec<u64> = s.memory_transactions().map(|t| t.handle.0).collect();
            let expected: Vec<u64> = model.keys().copied().collect();
            prop_assert_eq!(recorded, expected);
            let mut all: Vec<u64> = model
                .keys()
                .flat_map(|h| s.memory_ranges(*h).iter().map(|r| r.address))
                .collect();
            let n = all.len();
            all.sort_unstable();
            all.dedup();
            prop_assert_eq!(all.len(), n, "a page in two transactions");
            let mut held: Vec<u64> = model
                .values()
                .filter(|(_, held)| *held)
                .flat_map(|(pages, _)| pages.iter().copied())
                .collect();
            held.sort_unstable();
            let mut mapped: Vec<u64> = mapped_pages(&s, SP1).into_iter().map(|(p, _)| p).collect();
            mapped.sort_unstable();
            prop_assert_eq!(mapped, held);
        }
    }
}

#[test]
fn a_retrieved_donation_is_the_borrowers() {
    let mut s = ready(Version(1, 2));
    let mut t = txn(&[SP1], &[range(BASE, 2)]);
    t.attributes = 0;
    // Before anyone retrieves it, the donor may take it back.
    let h = handle_of(&send(&mut s, MEM_DONATE32, &t, Layout::V1_2));
    assert_success(&reclaim(&mut s, h, 0));
    let h = handle_of(&send(&mut s, MEM_DONATE32, &t, Layout::V1_2));
    run_partition(&mut s, SP1, SP1_LOAD);
    let r = retrieve(
        &mut s,
        SP1,
        SP1_LOAD,
        &request(h, SP1, permissions::DATA_RW),
    );
    assert_eq!(r[0], MEM_RETRIEVE_RESP, "{r:x?}");
    let resp = MemTransaction::parse(
        &s.platform()
            .peek(Space::Secure, sp_rx(SP1_LOAD), r[1] as usize),
        Layout::V1_2,
    )
    .unwrap();
    assert_eq!(resp.flags & flags::TYPE_MASK, flags::TYPE_DONATE);
    // Retrieved whole: the transaction is over, the pages stay the borrower's.
    assert_eq!(s.memory_transactions().count(), 0);
    assert_eq!(mapped_pages(&s, SP1).len(), 2);
    assert_error(
        &relinquish(&mut s, SP1, SP1_LOAD, h, 0),
        FfaError::InvalidParameters,
    );
    to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 0, [0; 5])));
    assert_error(&reclaim(&mut s, h, 0), FfaError::InvalidParameters);
    assert_eq!(mapped_pages(&s, SP1).len(), 2);
}

#[test]
fn a_partition_of_each_version_retrieves_in_its_own_layout_and_fragments() {
    for (version, layout) in [
        (Version(1, 0), Layout::V1_0),
        (Version(1, 1), Layout::V1_1),
        (Version(1, 2), Layout::V1_2),
    ] {
        // SP1 at `version`; the normal world at v1.2.
        let mut cfg = config();
        cfg.partitions[0].config.ffa_version = version;
        let mut s = booted_with(cfg, 2);
        to_spmd(nwd(&mut s, 0, &regs(&[fid::VERSION, 0x1_0002])));
        assert_success(&to_spmd(nwd(
            &mut s,
            0,
            &regs(&[fid::RXTX_MAP64, NWD_TX, NWD_RX, 1]),
        )));
        let (bytes, ranges) = scattered_share(300, BASE, Layout::V1_2);
        let head_len = bytes.len() - 300 * 16;
        let h = handle_of(&send_in_fragments(
            &mut s,
            fid::MEM_SHARE32,
            &bytes,
            head_len,
        ));
        run_partition(&mut s, SP1, SP1_LOAD);
        let r = retrieve_in(
            &mut s,
            SP1,
            SP1_LOAD,
            &request(h, SP1, permissions::DATA_RW),
            layout,
        );
        assert_eq!(r[0], MEM_RETRIEVE_RESP, "{version:?}: {r:x?}");
        assert!(r[2] < r[1], "{version:?}: in fragments");
        let next = |offset: u64| regs(&[MEM_FRAG_RX, h & 0xffff_ffff, h >> 32, offset, 0]);
        let mut whole = s
            .platform()
            .peek(Space::Secure, sp_rx(SP1_LOAD), r[2] as usize);
        while whole.len() < r[1] as usize {
            assert_success(&entered(
                sp(&mut s, 0, SP1, &regs(&[fid::RX_RELEASE])),
                SP1,
                0,
            ));
            let f = entered(sp(&mut s, 0, SP1, &next(whole.len() as u64)), SP1, 0);
            assert_eq!(f[0], MEM_FRAG_TX, "{version:?}: {f:x?}");
            whole.extend(
                s.platform()
                    .peek(Space::Secure, sp_rx(SP1_LOAD), f[3] as usize),
            );
        }
        let (head, got) = parse_whole(&whole, layout);
        assert_eq!(got, ranges, "{version:?}");
        // v1.0's 8-bit attributes have no NS bit; later layouts carry it.
        let ns = head.attributes & attributes::NON_SECURE != 0;
        assert_eq!(ns, layout != Layout::V1_0, "{version:?}");
        assert_eq!(mapped_pages(&s, SP1).len(), 300, "{version:?}");
        assert_success(&relinquish(&mut s, SP1, SP1_LOAD, h, 0));
        to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 0, [0; 5])));
        assert_success(&reclaim(&mut s, h, 0));
    }
}
