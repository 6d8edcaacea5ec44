//! FFA_PARTITION_INFO_GET and FFA_PARTITION_INFO_GET_REGS.

mod core_support;

use core_support::*;
use ffa::{FfaError, Uuid, UuidHelper, Version};
use spmc::CpuId;
use spmc::platform::Space;

fn map_nwd(s: &mut TestSpmc) {
    let r = to_spmd(nwd(s, 0, &regs(&[fid::RXTX_MAP64, NWD_TX, NWD_RX, 1])));
    assert_success(&r);
}

fn get(uuid: Uuid, flags: u64) -> spmc::Regs {
    let [a, b, c, d] = uuid_w(uuid);
    regs_tagged(&[fid::PARTITION_INFO_GET, a, b, c, d, flags], 0x80)
}

fn set_nwd_version(s: &mut TestSpmc, v: u64) {
    let r = to_spmd(nwd(s, 0, &regs(&[fid::REQ32, 0xffff_8000, 0x8000_0008, v])));
    assert_eq!(r[3], 0x1_0002);
}

/// Descriptors as (id, count, properties, uuid) from `bytes`.
fn parse(bytes: &[u8], size: usize) -> Vec<(u16, u16, u32, Uuid)> {
    bytes
        .chunks_exact(size)
        .map(|d| {
            let uuid = if size >= 24 {
                UuidHelper::from_bytes(d[8..24].try_into().unwrap())
            } else {
                Uuid::nil()
            };
            (
                u16::from_le_bytes([d[0], d[1]]),
                u16::from_le_bytes([d[2], d[3]]),
                u32::from_le_bytes(d[4..8].try_into().unwrap()),
                uuid,
            )
        })
        .collect()
}

fn nwd_rx(s: &TestSpmc, len: usize) -> Vec<u8> {
    s.platform().peek(Space::NonSecure, NWD_RX, len)
}

#[test]
fn all_partitions_for_a_v1_2_normal_world() {
    let mut s = booted();
    map_nwd(&mut s);
    let r = to_spmd(nwd(&mut s, 0, &get(Uuid::nil(), 0)));
    assert_eq!(&r[..8], &regs(&[fid::SUCCESS32, 0, 4, 24])[..8]);
    assert_eq!(&r[8..], &tagged(0x80));
    assert_eq!(
        parse(&nwd_rx(&s, 96), 24),
        [
            (0x8001, 1, 0x301, U1),
            (0x8002, 2, 0x305, U2A),
            (0x8002, 2, 0x305, U2B),
            (0x8003, 1, 0x101, U3),
        ]
    );
    // The normal world owns RX now: a second query is BUSY until it releases it.
    assert_error(
        &to_spmd(nwd(&mut s, 0, &get(Uuid::nil(), 0))),
        FfaError::Busy,
    );
    assert_success(&to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_RELEASE]))));
    assert_success(&to_spmd(nwd(&mut s, 0, &get(Uuid::nil(), 0))));
}

#[test]
fn older_normal_world_layouts() {
    let mut s = booted();
    set_nwd_version(&mut s, 0x1_0000);
    map_nwd(&mut s);
    let r = to_spmd(nwd(&mut s, 0, &get(Uuid::nil(), 0)));
    assert_eq!((r[0], r[2], r[3]), (fid::SUCCESS32, 3, 0));
    assert_eq!(
        parse(&nwd_rx(&s, 24), 8),
        [
            (0x8001, 1, 0x1, Uuid::nil()),
            (0x8002, 2, 0x5, Uuid::nil()),
            (0x8003, 1, 0x1, Uuid::nil()),
        ]
    );

    // Below v1.2 a partition with several UUIDs shows once, with its first (Hafnium).
    let mut s = booted();
    set_nwd_version(&mut s, 0x1_0001);
    map_nwd(&mut s);
    let r = to_spmd(nwd(&mut s, 0, &get(Uuid::nil(), 0)));
    assert_eq!((r[2], r[3]), (3, 24));
    assert_eq!(
        parse(&nwd_rx(&s, 72), 24),
        [
            (0x8001, 1, 0x101, U1),
            (0x8002, 2, 0x105, U2A),
            (0x8003, 1, 0x101, U3),
        ]
    );
    assert_success(&to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_RELEASE]))));
    let r = to_spmd(nwd(&mut s, 0, &get(Uuid::nil(), 1)));
    assert_eq!((r[0], r[2]), (fid::SUCCESS32, 3), "count only");
    // Its second UUID still finds it, once, UUID field zero.
    let r = to_spmd(nwd(&mut s, 0, &get(U2B, 0)));
    assert_eq!((r[2], r[3]), (1, 24));
    assert_eq!(
        parse(&nwd_rx(&s, 24), 24),
        [(0x8002, 2, 0x105, Uuid::nil())]
    );
}

#[test]
fn a_v1_1_partition_sees_one_descriptor_per_partition() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    entered(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])), SP2, 0);
    entered(sp(&mut s, 0, SP2, &regs(&[fid::MSG_WAIT])), SP3, 0);
    // SP3's manifest says v1.1.
    let tx = SP3_LOAD + 0x8000;
    let map = regs(&[fid::RXTX_MAP64, tx, tx + 0x1000, 1]);
    assert_success(&entered(sp(&mut s, 0, SP3, &map), SP3, 0));
    let r = entered(sp(&mut s, 0, SP3, &get(Uuid::nil(), 0)), SP3, 0);
    assert_eq!((r[2], r[3]), (3, 24));
    // SP3 may read its RX buffer with its caches off.
    assert_eq!(s.platform().dirty(), []);
    let d = parse(&s.platform().peek(Space::Secure, tx + 0x1000, 72), 24);
    assert_eq!(
        d,
        [
            (0x8001, 1, 0x103, U1),
            (0x8002, 2, 0x105, U2A),
            (0x8003, 1, 0x103, U3),
        ]
    );
}

#[test]
fn named_uuid_lists_its_partitions_without_the_uuid() {
    let mut s = booted();
    map_nwd(&mut s);
    let r = to_spmd(nwd(&mut s, 0, &get(U2B, 0)));
    assert_eq!((r[2], r[3]), (1, 24));
    assert_eq!(
        parse(&nwd_rx(&s, 24), 24),
        [(0x8002, 2, 0x305, Uuid::nil())]
    );
    let r = to_spmd(nwd(&mut s, 0, &get(UNKNOWN, 0)));
    assert_error(&r, FfaError::InvalidParameters);
}

#[test]
fn count_only_needs_no_buffer() {
    let mut s = booted();
    let r = to_spmd(nwd(&mut s, 0, &get(Uuid::nil(), 1)));
    assert_eq!(&r[..8], &regs(&[fid::SUCCESS32, 0, 4, 0])[..8]);
    let r = to_spmd(nwd(&mut s, 0, &get(U3, 1)));
    assert_eq!(r[2], 1);
    assert_error(
        &to_spmd(nwd(&mut s, 0, &get(UNKNOWN, 1))),
        FfaError::InvalidParameters,
    );
    // Flags other than bit 0 are MBZ.
    assert_error(
        &to_spmd(nwd(&mut s, 0, &get(Uuid::nil(), 2))),
        FfaError::InvalidParameters,
    );
}

#[test]
fn rx_must_be_mapped_and_free_and_writable() {
    let mut s = booted();
    assert_error(
        &to_spmd(nwd(&mut s, 0, &get(Uuid::nil(), 0))),
        FfaError::Busy,
    );
    map_nwd(&mut s);
    s.platform_mut().fail_writes = true;
    assert_error(
        &to_spmd(nwd(&mut s, 0, &get(Uuid::nil(), 0))),
        FfaError::Aborted,
    );
    s.platform_mut().fail_writes = false;
    // The failed write did not hand RX over.
    assert_error(
        &to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_RELEASE]))),
        FfaError::Denied,
    );
    assert_success(&to_spmd(nwd(&mut s, 0, &get(Uuid::nil(), 0))));
}

#[test]
fn partitions_see_send_capabilities_in_their_rx() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    let tx = SP1_LOAD + 0x8000;
    let map = regs(&[fid::RXTX_MAP64, tx, tx + 0x1000, 1]);
    assert_success(&entered(sp(&mut s, 0, SP1, &map), SP1, 0));
    let r = entered(sp(&mut s, 0, SP1, &get(Uuid::nil(), 0)), SP1, 0);
    assert_eq!((r[2], r[3]), (4, 24));
    let d = parse(&s.platform().peek(Space::Secure, tx + 0x1000, 96), 24);
    assert_eq!(d[0], (0x8001, 1, 0x703, U1));
    assert_eq!(d[1], (0x8002, 2, 0x305, U2A));
    assert_eq!(d[3], (0x8003, 1, 0x103, U3));
    let r = entered(sp(&mut s, 0, SP1, &get_regs(U1, 0, 0)), SP1, 0);
    assert_eq!(
        &r[..6],
        &[
            fid::SUCCESS64,
            0,
            24 << 48,
            0x8001 | (1 << 16) | (0x703 << 32),
            0,
            0
        ]
    );
}

fn get_regs(uuid: Uuid, start: u64, tag: u64) -> spmc::Regs {
    let [lo, hi] = uuid_x(uuid);
    regs_tagged(&[fid::GET_REGS, lo, hi, start | (tag << 16)], 0xa0)
}

#[test]
fn partition_info_get_regs_pages_through_descriptors() {
    let sp1 = partition(
        SP1,
        &[U1, UNKNOWN, Uuid::from_u128(7)],
        Version(1, 2),
        1,
        ALL_MSG,
        SP1_LOAD,
    );
    let mut c = config();
    c.partitions[0] = sp1;
    let mut s = booted_with(c, 2);
    let r = to_spmd(nwd(&mut s, 0, &get_regs(Uuid::nil(), 0, 0)));
    assert_eq!(r[0], fid::SUCCESS64);
    assert_eq!(r[2], 5 | (4 << 16) | (24 << 48));
    let [lo, hi] = uuid_x(U1);
    assert_eq!(&r[3..6], &[0x8001 | (1 << 16) | (0x301 << 32), lo, hi]);
    let [lo, hi] = uuid_x(U2B);
    assert_eq!(&r[15..18], &[0x8002 | (2 << 16) | (0x305 << 32), lo, hi]);
    let r = to_spmd(nwd(&mut s, 0, &get_regs(Uuid::nil(), 5, 0)));
    assert_eq!(r[2], 5 | (5 << 16) | (24 << 48));
    let [lo, hi] = uuid_x(U3);
    assert_eq!(&r[3..6], &[0x8003 | (1 << 16) | (0x101 << 32), lo, hi]);
    assert_eq!(&r[6..], &[0; 12]);
    // A named UUID: one descriptor, UUID zero.
    let r = to_spmd(nwd(&mut s, 0, &get_regs(U3, 0, 0)));
    assert_eq!(
        &r[2..6],
        &[24 << 48, 0x8003 | (1 << 16) | (0x101 << 32), 0, 0]
    );
}

#[test]
fn partition_info_get_regs_rejections() {
    let mut s = booted();
    let r = to_spmd(nwd(&mut s, 0, &get_regs(Uuid::nil(), 4, 0)));
    assert_error(&r, FfaError::InvalidParameters);
    assert_eq!(&r[8..], &tagged(0xa0));
    let r = to_spmd(nwd(&mut s, 0, &get_regs(UNKNOWN, 0, 0)));
    assert_error(&r, FfaError::InvalidParameters);
    for (start, tag) in [(0, 1), (1, 3)] {
        let r = to_spmd(nwd(&mut s, 0, &get_regs(Uuid::nil(), start, tag)));
        assert_error(&r, FfaError::Retry);
    }
    // v1.1 callers do not have it.
    let mut s = booted();
    set_nwd_version(&mut s, 0x1_0001);
    let r = to_spmd(nwd(&mut s, 0, &get_regs(Uuid::nil(), 0, 0)));
    assert_error(&r, FfaError::NotSupported);
}

#[test]
fn notification_support_is_shown_from_v1_1_partitions() {
    // SP1 (v1.2) and SP3 (v1.1) receive notifications; SP2 does not.
    let config = || {
        let mut c = config();
        for p in c.partitions.iter_mut() {
            p.config.notification_support = p.id != SP2;
        }
        c
    };
    let mut s = booted_with(config(), 2);
    map_nwd(&mut s);
    assert_success(&to_spmd(nwd(&mut s, 0, &get(Uuid::nil(), 0))));
    assert_eq!(
        parse(&nwd_rx(&s, 96), 24),
        [
            (0x8001, 1, 0x309, U1),
            (0x8002, 2, 0x305, U2A),
            (0x8002, 2, 0x305, U2B),
            (0x8003, 1, 0x109, U3),
        ]
    );
    // A v1.0 normal world sees bits 2:0 only.
    let mut s = booted_with(config(), 2);
    set_nwd_version(&mut s, 0x1_0000);
    map_nwd(&mut s);
    assert_success(&to_spmd(nwd(&mut s, 0, &get(Uuid::nil(), 0))));
    let got = parse(&nwd_rx(&s, 24), 8);
    assert_eq!(got[0].2, 0x1);
}
