//! FFA_MSG_SEND2 (indirect messaging): normal world → partition, partition → partition,
//! partition → normal world; v1.1 and v1.2 headers; every rejection; RX ownership after a
//! delivery (FFA_RX_RELEASE, FFA_MSG_WAIT with and without the retain flag).

mod core_support;

use core_support::*;
use ffa::{EndpointId, FfaError, Version};
use spmc::manifest::{MessagingMethod, SpmcConfig};
use spmc::platform::{Platform, Space};
use spmc::{CpuId, Regs};

/// A: v1.2, indirect messaging. B: v1.1, indirect messaging. C: v1.2, direct messaging only.
const A: EndpointId = SP1;
const B: EndpointId = SP2;
const C: EndpointId = SP3;
const NWD: u16 = 0;
/// The normal world's RX buffer (its TX is `NWD_TX`), apart enough for 2-page buffers.
const NWD_RX2: u64 = NS_BASE + 0x4000;

fn load(id: EndpointId) -> u64 {
    match id.0 {
        0x8001 => SP1_LOAD,
        0x8002 => SP2_LOAD,
        _ => SP3_LOAD,
    }
}

fn tx(id: EndpointId) -> u64 {
    load(id) + 0x8000
}

fn rx(id: EndpointId) -> u64 {
    load(id) + 0x9000
}

fn cfg(c_indirect: bool) -> SpmcConfig {
    let ind = MessagingMethod::INDIRECT;
    let c_msg = MessagingMethod::DIRECT_REQ_RECV | if c_indirect { ind } else { 0 };
    config_of([
        partition(A, &[U1], Version(1, 2), 1, ALL_MSG | ind, SP1_LOAD),
        partition(
            B,
            &[U2A],
            Version(1, 1),
            1,
            MessagingMethod::DIRECT_REQ_RECV | ind,
            SP2_LOAD,
        ),
        partition(C, &[U3], Version(1, 2), 1, c_msg, SP3_LOAD),
    ])
}

/// Boots `config`; each partition runs `init` then maps its 1-page pair and waits (an
/// `init` returning false leaves its pair unmapped). Then the normal world asks for
/// `nwd_version` (if any) and maps a pair of `nwd_pages` pages (if not 0).
fn setup_with(
    config: SpmcConfig,
    init: &dyn Fn(&mut TestSpmc, EndpointId) -> bool,
    nwd_version: Option<u64>,
    nwd_pages: u64,
) -> TestSpmc {
    let ids: Vec<EndpointId> = config.partitions.iter().map(|p| p.id).collect();
    let mut s = new_spmc(config, 2);
    let mut o = s.boot(CpuId(0));
    for id in ids {
        entered(o, id, 0);
        if init(&mut s, id) {
            let map = regs(&[fid::RXTX_MAP64, tx(id), rx(id), 1]);
            assert_success(&entered(sp(&mut s, 0, id, &map), id, 0));
        }
        o = sp(&mut s, 0, id, &regs(&[fid::MSG_WAIT]));
    }
    assert_eq!(to_spmd(o)[0], fid::MSG_WAIT);
    if let Some(v) = nwd_version {
        to_spmd(nwd(&mut s, 0, &regs(&[fid::VERSION, v])));
    }
    if nwd_pages != 0 {
        let map = regs(&[fid::RXTX_MAP64, NWD_TX, NWD_RX2, nwd_pages]);
        assert_success(&to_spmd(nwd(&mut s, 0, &map)));
    }
    s
}

fn setup() -> TestSpmc {
    setup_with(cfg(false), &|_, _| true, None, 1)
}

const UUID_BYTES: [u8; 16] = [0x5a; 16];

/// A message as the sender lays it out: the v1.1 (20-byte) or v1.2 (40-byte) header, the
/// payload at `offset`, `size` in the header.
fn message(
    sender: u16,
    receiver: u16,
    offset: u32,
    size: u32,
    payload: &[u8],
    v1_2: bool,
) -> Vec<u8> {
    let header = if v1_2 { 40 } else { 20 };
    let mut m = vec![0u8; (offset as usize).max(header) + payload.len()];
    m[8..12].copy_from_slice(&offset.to_le_bytes());
    m[12..16].copy_from_slice(&((u32::from(sender) << 16) | u32::from(receiver)).to_le_bytes());
    m[16..20].copy_from_slice(&size.to_le_bytes());
    if v1_2 {
        m[24..40].copy_from_slice(&UUID_BYTES);
    }
    let at = offset as usize;
    m[at..at + payload.len()].copy_from_slice(payload);
    m
}

fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| seed.wrapping_add(i as u8)).collect()
}

fn space_of(id: u16) -> Space {
    if id == NWD {
        Space::NonSecure
    } else {
        Space::Secure
    }
}

fn tx_of(id: u16) -> u64 {
    if id == NWD {
        NWD_TX
    } else {
        tx(EndpointId(id))
    }
}

fn rx_of(id: u16) -> u64 {
    if id == NWD {
        NWD_RX2
    } else {
        rx(EndpointId(id))
    }
}

fn put(s: &mut TestSpmc, from: u16, bytes: &[u8]) {
    s.platform_mut()
        .write(space_of(from), tx_of(from), bytes)
        .unwrap();
}

fn send2(w1: u64, flags: u64) -> Regs {
    regs_tagged(&[fid::MSG_SEND2, w1, flags], 0x70)
}

/// The normal world calls FFA_MSG_SEND2.
fn nwd_send(s: &mut TestSpmc, w1: u64, flags: u64) -> Regs {
    let r = to_spmd(nwd(s, 0, &send2(w1, flags)));
    assert_eq!(&r[8..], &tagged(0x70), "x8..x17 kept");
    r
}

/// Runs `id` (FFA_RUN from the normal world) so that it can make calls.
fn run(s: &mut TestSpmc, id: EndpointId) {
    entered(nwd(s, 0, &regs(&[fid::RUN, w1(id.0, 0)])), id, 0);
}

/// A call by the running partition `id`, answered by re-entering it.
fn call(s: &mut TestSpmc, id: EndpointId, r: &Regs) -> Regs {
    entered(sp(s, 0, id, r), id, 0)
}

/// The running partition `id` waits (retaining its RX buffer with `retain`).
fn wait(s: &mut TestSpmc, id: EndpointId, retain: bool) {
    let r = regs(&[fid::MSG_WAIT, 0, u64::from(retain)]);
    assert_eq!(to_spmd(sp(s, 0, id, &r))[0], fid::MSG_WAIT);
}

/// `id` (running) sends the message in its TX buffer.
fn sp_send(s: &mut TestSpmc, id: EndpointId, flags: u64) -> Regs {
    call(s, id, &send2(0, flags))
}

/// The receiver's RX buffer holds exactly `msg`, then zeros to the end of `len` bytes.
#[track_caller]
fn assert_delivered(s: &TestSpmc, to: u16, msg: &[u8], len: usize) {
    let got = s.platform().peek(space_of(to), rx_of(to), len);
    assert_eq!(&got[..msg.len()], msg);
    assert!(got[msg.len()..].iter().all(|&b| b == 0), "tail not zeroed");
}

/// Fills the receiver's RX buffer with garbage (a previous message, say).
fn dirty_rx(s: &mut TestSpmc, to: u16, len: usize) {
    s.platform_mut()
        .write(space_of(to), rx_of(to), &vec![0xee; len])
        .unwrap();
}

#[test]
fn normal_world_to_partition_v1_2_header() {
    let mut s = setup();
    dirty_rx(&mut s, A.0, 0x1000);
    let msg = message(NWD, A.0, 40, 32, &payload(32, 1), true);
    put(&mut s, NWD, &msg);
    assert_success(&nwd_send(&mut s, 0, 0));
    assert_delivered(&s, A.0, &msg, 0x1000);
    // Written into a partition that may run with its caches off: cleaned.
    assert!(
        s.platform()
            .dirty()
            .iter()
            .all(|&a| a < rx(A) || a >= rx(A) + 0x1000)
    );
    // A owns its RX buffer now: a second message is BUSY until A releases it.
    assert_error(&nwd_send(&mut s, 0, 0), FfaError::Busy);
    run(&mut s, A);
    // Its RX buffer is not the SPMC's: PARTITION_INFO_GET cannot use it either.
    assert_error(
        &call(&mut s, A, &regs(&[fid::PARTITION_INFO_GET])),
        FfaError::Busy,
    );
    assert_success(&call(&mut s, A, &regs(&[fid::RX_RELEASE])));
    assert_error(
        &call(&mut s, A, &regs(&[fid::RX_RELEASE])),
        FfaError::Denied,
    );
    wait(&mut s, A, false);
    let msg = message(NWD, A.0, 64, 8, &payload(8, 9), true);
    put(&mut s, NWD, &msg);
    assert_success(&nwd_send(&mut s, 0, 0));
    assert_delivered(&s, A.0, &msg, 0x1000);
}

#[test]
fn normal_world_at_v1_1_uses_the_short_header() {
    let mut s = setup_with(cfg(false), &|_, _| true, Some(0x1_0001), 1);
    let msg = message(NWD, A.0, 20, 16, &payload(16, 3), false);
    put(&mut s, NWD, &msg);
    assert_success(&nwd_send(&mut s, 0, 0));
    assert_delivered(&s, A.0, &msg, 0x1000);
    run(&mut s, A);
    wait(&mut s, A, false);
    // A payload overlapping the v1.1 header is refused.
    put(
        &mut s,
        NWD,
        &message(NWD, A.0, 19, 16, &payload(16, 3), false),
    );
    assert_error(&nwd_send(&mut s, 0, 0), FfaError::InvalidParameters);
    // The v1.2-sized offset Linux uses is fine at v1.1 too.
    let msg = message(NWD, A.0, 40, 4, &payload(4, 7), true);
    put(&mut s, NWD, &msg);
    assert_success(&nwd_send(&mut s, 0, 0));
    assert_delivered(&s, A.0, &msg, 0x1000);
}

#[test]
fn partition_to_partition_both_header_versions() {
    let mut s = setup();
    // A (v1.2) → B (v1.1): A's header is the 40-byte one.
    run(&mut s, A);
    put(
        &mut s,
        A.0,
        &message(A.0, B.0, 20, 8, &payload(8, 1), false),
    );
    assert_error(&sp_send(&mut s, A, 0), FfaError::InvalidParameters);
    let msg = message(A.0, B.0, 40, 100, &payload(100, 1), true);
    put(&mut s, A.0, &msg);
    assert_success(&sp_send(&mut s, A, 0));
    assert_error(&sp_send(&mut s, A, 0), FfaError::Busy);
    wait(&mut s, A, false);
    assert_delivered(&s, B.0, &msg, 0x1000);
    // B (v1.1) → A with the 20-byte header, and with the delay-SRI flag.
    run(&mut s, B);
    let back = message(B.0, A.0, 20, 50, &payload(50, 2), false);
    put(&mut s, B.0, &back);
    assert_success(&sp_send(&mut s, B, 2));
    assert_success(&call(&mut s, B, &regs(&[fid::RX_RELEASE])));
    wait(&mut s, B, false);
    assert_delivered(&s, A.0, &back, 0x1000);
}

#[test]
fn partition_to_normal_world() {
    let mut s = setup();
    dirty_rx(&mut s, NWD, 0x1000);
    run(&mut s, A);
    let msg = message(A.0, NWD, 40, 200, &payload(200, 4), true);
    put(&mut s, A.0, &msg);
    assert_success(&sp_send(&mut s, A, 0));
    assert_delivered(&s, NWD, &msg, 0x1000);
    // Full until the normal world releases it.
    assert_error(&sp_send(&mut s, A, 0), FfaError::Busy);
    wait(&mut s, A, false);
    assert_success(&to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_RELEASE]))));
    assert_error(
        &to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_RELEASE]))),
        FfaError::Denied,
    );
    // Taken by the hypervisor (FFA_RX_ACQUIRE): busy as well.
    assert_success(&to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_ACQUIRE]))));
    run(&mut s, A);
    assert_error(&sp_send(&mut s, A, 0), FfaError::Busy);
    wait(&mut s, A, false);
    assert_success(&to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_RELEASE]))));
    run(&mut s, A);
    assert_success(&sp_send(&mut s, A, 2));
    wait(&mut s, A, false);
}

#[test]
fn sender_identity_is_checked() {
    let mut s = setup();
    // The normal world names another sender in the header, or a VM ID in w1.
    put(&mut s, NWD, &message(A.0, B.0, 40, 4, &payload(4, 0), true));
    assert_error(&nwd_send(&mut s, 0, 0), FfaError::InvalidParameters);
    put(&mut s, NWD, &message(5, A.0, 40, 4, &payload(4, 0), true));
    assert_error(&nwd_send(&mut s, 0, 0), FfaError::InvalidParameters);
    put(&mut s, NWD, &message(5, A.0, 40, 4, &payload(4, 0), true));
    assert_error(&nwd_send(&mut s, 5 << 16, 0), FfaError::Denied);
    // A partition names another sender, or sets w1[31:16].
    run(&mut s, A);
    put(&mut s, A.0, &message(B.0, C.0, 40, 4, &payload(4, 0), true));
    assert_error(&sp_send(&mut s, A, 0), FfaError::InvalidParameters);
    put(&mut s, A.0, &message(A.0, B.0, 40, 4, &payload(4, 0), true));
    assert_error(
        &call(&mut s, A, &send2(u64::from(A.0) << 16, 0)),
        FfaError::InvalidParameters,
    );
    // Nothing was delivered.
    assert_success(&sp_send(&mut s, A, 0));
}

#[test]
fn receivers_are_checked() {
    let mut s = setup();
    // Itself, unknown partitions, the SPMC, another normal-world VM.
    for to in [NWD, 0x8009, 0x8000, 0xffff, 5] {
        put(&mut s, NWD, &message(NWD, to, 40, 4, &payload(4, 0), true));
        assert_error(&nwd_send(&mut s, 0, 0), FfaError::InvalidParameters);
    }
    run(&mut s, A);
    for to in [A.0, 0x8009, 0x8000, 5] {
        put(&mut s, A.0, &message(A.0, to, 40, 4, &payload(4, 0), true));
        assert_error(&sp_send(&mut s, A, 0), FfaError::InvalidParameters);
    }
    // C does not declare indirect messaging: DENIED either way.
    put(&mut s, A.0, &message(A.0, C.0, 40, 4, &payload(4, 0), true));
    assert_error(&sp_send(&mut s, A, 0), FfaError::Denied);
    wait(&mut s, A, false);
    put(&mut s, NWD, &message(NWD, C.0, 40, 4, &payload(4, 0), true));
    assert_error(&nwd_send(&mut s, 0, 0), FfaError::Denied);
    run(&mut s, C);
    put(&mut s, C.0, &message(C.0, A.0, 40, 4, &payload(4, 0), true));
    assert_error(&sp_send(&mut s, C, 0), FfaError::Denied);
    // C has no partition-info or message in its RX: still the SPMC's.
    assert_error(
        &call(&mut s, C, &regs(&[fid::RX_RELEASE])),
        FfaError::Denied,
    );
    wait(&mut s, C, false);
}

#[test]
fn flags() {
    let mut s = setup();
    put(&mut s, NWD, &message(NWD, A.0, 40, 4, &payload(4, 0), true));
    // Only secure senders may delay the SRI.
    assert_error(&nwd_send(&mut s, 0, 2), FfaError::InvalidParameters);
    // Bits other than bit 1 are reserved.
    assert_error(&nwd_send(&mut s, 0, 1), FfaError::InvalidParameters);
    run(&mut s, A);
    put(&mut s, A.0, &message(A.0, B.0, 40, 4, &payload(4, 0), true));
    assert_error(&sp_send(&mut s, A, 1 << 4), FfaError::InvalidParameters);
    assert_success(&sp_send(&mut s, A, 2));
}

#[test]
fn sizes_and_offsets_must_fit_both_buffers() {
    // The normal world has 2-page buffers, A 1-page ones.
    let mut s = setup_with(cfg(false), &|_, _| true, None, 2);
    for (offset, size) in [
        (40, 0x2000 - 39),
        (0x2000, 1),
        (40, u32::MAX),
        (u32::MAX, 2),
        // Fits the normal world's TX buffer, not A's RX buffer.
        (40, 0x1000),
        (0x1001, 0),
        (39, 4),
        (0, 4),
    ] {
        let mut m = message(NWD, A.0, 40, size, &[], true);
        m[8..12].copy_from_slice(&offset.to_le_bytes());
        put(&mut s, NWD, &m);
        assert_error(&nwd_send(&mut s, 0, 0), FfaError::InvalidParameters);
    }
    // The largest message A's RX buffer takes, and an empty one.
    let msg = message(NWD, A.0, 40, 0x1000 - 40, &payload(0x1000 - 40, 5), true);
    put(&mut s, NWD, &msg);
    assert_success(&nwd_send(&mut s, 0, 0));
    assert_delivered(&s, A.0, &msg, 0x1000);
    let msg = message(NWD, B.0, 0x800, 0, &[], true);
    put(&mut s, NWD, &msg);
    assert_success(&nwd_send(&mut s, 0, 0));
    assert_delivered(&s, B.0, &msg[..0x800], 0x1000);
    // A partition's message larger than its own TX buffer, towards a larger RX.
    run(&mut s, A);
    let mut m = message(A.0, NWD, 40, 0x1000, &[], true);
    m.truncate(40);
    put(&mut s, A.0, &m);
    assert_error(&sp_send(&mut s, A, 0), FfaError::InvalidParameters);
    let msg = message(A.0, NWD, 40, 0x1000 - 40, &payload(0x1000 - 40, 6), true);
    put(&mut s, A.0, &msg);
    assert_success(&sp_send(&mut s, A, 0));
    wait(&mut s, A, true);
    assert_delivered(&s, NWD, &msg, 0x2000);
}

#[test]
fn unmapped_buffers() {
    // B maps nothing; the normal world maps nothing at first.
    let mut s = setup_with(cfg(false), &|_, id| id != B, None, 0);
    assert_error(&nwd_send(&mut s, 0, 0), FfaError::Denied);
    run(&mut s, A);
    // To the normal world without an RX buffer, and to B without one: BUSY (Hafnium).
    put(&mut s, A.0, &message(A.0, NWD, 40, 4, &payload(4, 0), true));
    assert_error(&sp_send(&mut s, A, 0), FfaError::Busy);
    put(&mut s, A.0, &message(A.0, B.0, 40, 4, &payload(4, 0), true));
    assert_error(&sp_send(&mut s, A, 0), FfaError::Busy);
    wait(&mut s, A, false);
    // B without a TX buffer cannot send.
    run(&mut s, B);
    assert_error(&sp_send(&mut s, B, 0), FfaError::Denied);
    wait(&mut s, B, false);
    // A receiver that unmaps while holding a message.
    let map = regs(&[fid::RXTX_MAP64, NWD_TX, NWD_RX2, 1]);
    assert_success(&to_spmd(nwd(&mut s, 0, &map)));
    put(&mut s, NWD, &message(NWD, A.0, 40, 4, &payload(4, 0), true));
    assert_success(&nwd_send(&mut s, 0, 0));
    run(&mut s, A);
    assert_success(&call(&mut s, A, &regs(&[fid::RXTX_UNMAP])));
    wait(&mut s, A, false);
    assert_error(&nwd_send(&mut s, 0, 0), FfaError::Busy);
}

#[test]
fn versions() {
    // B negotiates v1.0: it cannot call FFA_MSG_SEND2, nor receive indirect messages.
    let mut s = setup_with(
        cfg(false),
        &|s, id| {
            if id == B {
                call(s, B, &regs(&[fid::VERSION, 0x1_0000]));
            }
            true
        },
        None,
        1,
    );
    put(&mut s, NWD, &message(NWD, B.0, 40, 4, &payload(4, 0), true));
    assert_error(&nwd_send(&mut s, 0, 0), FfaError::Denied);
    run(&mut s, B);
    assert_error(&sp_send(&mut s, B, 0), FfaError::NotSupported);
    wait(&mut s, B, false);
    // A normal world at v1.0 neither sends nor receives.
    let mut s = setup_with(cfg(false), &|_, _| true, Some(0x1_0000), 1);
    put(&mut s, NWD, &message(NWD, A.0, 40, 4, &payload(4, 0), true));
    assert_error(&nwd_send(&mut s, 0, 0), FfaError::NotSupported);
    run(&mut s, A);
    put(&mut s, A.0, &message(A.0, NWD, 40, 4, &payload(4, 0), true));
    assert_error(&sp_send(&mut s, A, 0), FfaError::Denied);
    wait(&mut s, A, false);
}

#[test]
fn aborted_receiver() {
    // C (with indirect messaging here) fails its initialisation.
    let mut s = new_spmc(cfg(true), 2);
    let mut o = s.boot(CpuId(0));
    for id in [A, B, C] {
        entered(o, id, 0);
        let map = regs(&[fid::RXTX_MAP64, tx(id), rx(id), 1]);
        assert_success(&entered(sp(&mut s, 0, id, &map), id, 0));
        o = if id == C {
            // FFA_ERROR while initialising aborts it.
            sp(&mut s, 0, id, &regs(&[fid::ERROR, 0, 0xffff_fff9]))
        } else {
            sp(&mut s, 0, id, &regs(&[fid::MSG_WAIT]))
        };
    }
    to_spmd(o);
    assert_success(&to_spmd(nwd(
        &mut s,
        0,
        &regs(&[fid::RXTX_MAP64, NWD_TX, NWD_RX2, 1]),
    )));
    put(&mut s, NWD, &message(NWD, C.0, 40, 4, &payload(4, 0), true));
    assert_error(&nwd_send(&mut s, 0, 0), FfaError::Aborted);
}

#[test]
fn a_failed_copy_delivers_nothing() {
    let mut s = setup();
    put(&mut s, NWD, &message(NWD, A.0, 40, 4, &payload(4, 0), true));
    s.platform_mut().fail_writes = true;
    assert_error(&nwd_send(&mut s, 0, 0), FfaError::Aborted);
    s.platform_mut().fail_writes = false;
    assert_success(&nwd_send(&mut s, 0, 0));
}

#[test]
fn msg_wait_releases_a_message_unless_retained() {
    let mut s = setup();
    put(&mut s, NWD, &message(NWD, A.0, 40, 4, &payload(4, 0), true));
    assert_success(&nwd_send(&mut s, 0, 0));
    // Retained across FFA_MSG_WAIT (v1.2 flag): still A's.
    run(&mut s, A);
    wait(&mut s, A, true);
    assert_error(&nwd_send(&mut s, 0, 0), FfaError::Busy);
    // Without the flag, FFA_MSG_WAIT gives it back.
    run(&mut s, A);
    wait(&mut s, A, false);
    assert_success(&nwd_send(&mut s, 0, 0));
    // B (v1.1, no retain flag) gives it back on FFA_MSG_WAIT.
    put(&mut s, NWD, &message(NWD, B.0, 40, 4, &payload(4, 0), true));
    assert_success(&nwd_send(&mut s, 0, 0));
    assert_error(&nwd_send(&mut s, 0, 0), FfaError::Busy);
    run(&mut s, B);
    wait(&mut s, B, false);
    assert_success(&nwd_send(&mut s, 0, 0));
}

#[test]
fn partitions_may_send_while_initialising() {
    let mut s = new_spmc(cfg(false), 2);
    entered(s.boot(CpuId(0)), A, 0);
    let map = regs(&[fid::RXTX_MAP64, tx(A), rx(A), 1]);
    assert_success(&call(&mut s, A, &map));
    // B has not mapped its buffers yet.
    put(&mut s, A.0, &message(A.0, B.0, 40, 4, &payload(4, 0), true));
    assert_error(&sp_send(&mut s, A, 0), FfaError::Busy);
}

/// FFA_NOTIFICATION_GET by `receiver` (vCPU 0) with `flags`.
fn notification_get(receiver: u16, flags: u64) -> Regs {
    regs(&[fid::NOTIFICATION_GET, u64::from(receiver), flags])
}

/// GET's flag for the SPM framework bitmap (answered in w6; bit 0 there is RX buffer full for
/// a partition's message). Either framework flag takes both.
const GET_SPM_FRAMEWORK: u64 = 1 << 2;
/// GET's flag for the hypervisor framework bitmap (w7; bit 0 is RX buffer full for a
/// normal-world VM's message): partitions only.
const GET_HYP_FRAMEWORK: u64 = 1 << 3;

#[test]
fn a_delivered_message_raises_rx_buffer_full_and_the_sri() {
    let mut config = cfg(false);
    for p in config.partitions.iter_mut() {
        p.config.notification_support = p.id == A;
    }
    let mut s = setup_with(config, &|_, _| true, None, 1);
    // The normal world has a bitmap: it is told of its messages too.
    let create = regs(&[fid::NOTIFICATION_BITMAP_CREATE, 0, 1]);
    assert_success(&to_spmd(nwd(&mut s, 0, &create)));

    // Normal world → A: A's framework bit, the SRI at once (the normal world's scheduler
    // runs A).
    let msg = message(NWD, A.0, 40, 8, &payload(8, 1), true);
    put(&mut s, NWD, &msg);
    assert_success(&nwd_send(&mut s, u64::from(A.0), 0));
    assert_eq!(s.platform().ns_sgis, [(CpuId(0), 8)]);
    let info = to_spmd(nwd(&mut s, 0, &regs(&[fid::NOTIFICATION_INFO_GET64])));
    assert_eq!(info[0], fid::SUCCESS64);
    assert_eq!(info[3] & 0xffff, u64::from(A.0), "A listed first");
    run(&mut s, A);
    let got = call(&mut s, A, &notification_get(A.0, GET_HYP_FRAMEWORK));
    assert_success(&got);
    assert_eq!(
        (got[6], got[7]),
        (0, 1),
        "the hypervisor framework's RX buffer full"
    );
    let again = call(&mut s, A, &notification_get(A.0, GET_SPM_FRAMEWORK));
    assert_eq!((again[6], again[7]), (0, 0), "GET clears it");

    // A → normal world, SRI delayed: pended only when the normal world gets the CPU back.
    let msg = message(A.0, NWD, 40, 8, &payload(8, 2), true);
    put(&mut s, A.0, &msg);
    assert_success(&sp_send(&mut s, A, 2));
    assert_eq!(s.platform().ns_sgis.len(), 1, "delayed");
    wait(&mut s, A, false);
    assert_eq!(s.platform().ns_sgis, [(CpuId(0), 8), (CpuId(0), 8)]);
    let got = to_spmd(nwd(&mut s, 0, &notification_get(NWD, GET_SPM_FRAMEWORK)));
    assert_success(&got);
    assert_eq!(
        (got[6], got[7]),
        (1, 0),
        "the SPM framework's RX buffer full"
    );

    // B has no notification support: its message is delivered, no one is told.
    let msg = message(NWD, B.0, 40, 8, &payload(8, 3), true);
    put(&mut s, NWD, &msg);
    assert_success(&nwd_send(&mut s, u64::from(B.0), 0));
    assert_eq!(s.platform().ns_sgis.len(), 2);
}
