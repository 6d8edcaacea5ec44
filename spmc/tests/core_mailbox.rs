//! FFA_RXTX_MAP/UNMAP, FFA_RX_RELEASE, FFA_RX_ACQUIRE for the normal world and partitions.

mod core_support;

use core_support::*;
use ffa::FfaError;
use spmc::CpuId;

fn map64(tx: u64, rx: u64, pages: u64) -> spmc::Regs {
    regs_tagged(&[fid::RXTX_MAP64, tx, rx, pages], 0x60)
}

/// A fresh SPMC with SP1 initialising on CPU 0 (so it can make calls).
fn sp1_running() -> TestSpmc {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    s
}

fn sp1(s: &mut TestSpmc, r: &spmc::Regs) -> spmc::Regs {
    entered(sp(s, 0, SP1, r), SP1, 0)
}

#[test]
fn normal_world_map_unmap() {
    let mut s = booted();
    let r = to_spmd(nwd(&mut s, 0, &map64(NWD_TX, NWD_RX, 1)));
    assert_success(&r);
    assert_eq!(&r[8..], &tagged(0x60));
    assert_error(
        &to_spmd(nwd(&mut s, 0, &map64(NWD_TX + 0x4000, NWD_RX + 0x4000, 1))),
        FfaError::Denied,
    );
    assert_success(&to_spmd(nwd(&mut s, 0, &regs(&[fid::RXTX_UNMAP, 0]))));
    assert_error(
        &to_spmd(nwd(&mut s, 0, &regs(&[fid::RXTX_UNMAP, 0]))),
        FfaError::InvalidParameters,
    );
    // 32-bit form, several pages.
    let r = to_spmd(nwd(
        &mut s,
        0,
        &regs(&[fid::RXTX_MAP32, NWD_TX, NWD_TX + 0x4000, 4]),
    ));
    assert_success(&r);
}

#[test]
fn normal_world_map_rejections() {
    let mut s = booted();
    for (tx, rx, pages) in [
        (NWD_TX, NWD_RX, 0),
        (NWD_TX, NWD_RX, 5),
        (NWD_TX, NWD_RX, 0x41),
        (NWD_TX + 0x10, NWD_RX, 1),
        (NWD_TX, NWD_RX + 0x800, 1),
        (NWD_TX, NWD_TX, 1),
        (NWD_TX, NWD_TX + 0x1000, 2),
        (!0xfff, NWD_RX, 1),
        // Not memory the SPMC may reach.
        (0x1000, NWD_RX, 1),
        (NWD_TX, NS_BASE + NS_LEN, 1),
        (NWD_TX, NS_BASE + NS_LEN - 0x1000, 2),
        // The secure range of a partition is not normal-world memory.
        (SP1_LOAD, SP1_LOAD + 0x1000, 1),
    ] {
        let r = to_spmd(nwd(&mut s, 0, &map64(tx, rx, pages)));
        assert_error(&r, FfaError::InvalidParameters);
    }
    // Nothing got mapped on the way.
    assert_success(&to_spmd(nwd(&mut s, 0, &map64(NWD_TX, NWD_RX, 1))));
}

#[test]
fn normal_world_may_only_name_itself() {
    let mut s = booted();
    assert_success(&to_spmd(nwd(&mut s, 0, &map64(NWD_TX, NWD_RX, 1))));
    for call in [
        regs(&[fid::RXTX_UNMAP, 1 << 16]),
        regs(&[fid::RX_RELEASE, 3]),
        regs(&[fid::RX_ACQUIRE, 0x8001]),
    ] {
        assert_error(&to_spmd(nwd(&mut s, 0, &call)), FfaError::InvalidParameters);
    }
}

#[test]
fn normal_world_release_and_acquire() {
    let mut s = booted();
    // Unmapped: release DENIED (nothing owned), acquire INVALID_PARAMETERS.
    assert_error(
        &to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_RELEASE]))),
        FfaError::Denied,
    );
    assert_error(
        &to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_ACQUIRE]))),
        FfaError::InvalidParameters,
    );
    assert_success(&to_spmd(nwd(&mut s, 0, &map64(NWD_TX, NWD_RX, 1))));
    // The SPMC owns the new RX: the normal world cannot release it.
    assert_error(
        &to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_RELEASE]))),
        FfaError::Denied,
    );
    assert_success(&to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_ACQUIRE]))));
    assert_error(
        &to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_ACQUIRE]))),
        FfaError::Denied,
    );
    // While acquired the SPMC cannot write it.
    let get = regs(&[fid::PARTITION_INFO_GET]);
    assert_error(&to_spmd(nwd(&mut s, 0, &get)), FfaError::Busy);
    assert_success(&to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_RELEASE]))));
    assert_success(&to_spmd(nwd(&mut s, 0, &get)));
    // Now the normal world owns it: acquire is DENIED, release works once.
    assert_error(
        &to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_ACQUIRE]))),
        FfaError::Denied,
    );
    assert_success(&to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_RELEASE]))));
    assert_error(
        &to_spmd(nwd(&mut s, 0, &regs(&[fid::RX_RELEASE]))),
        FfaError::Denied,
    );
}

#[test]
fn partition_maps_inside_its_own_memory() {
    let mut s = sp1_running();
    let tx = SP1_LOAD + 0x8000;
    let r = sp1(&mut s, &map64(tx, tx + 0x1000, 1));
    assert_success(&r);
    assert_eq!(&r[8..], &tagged(0x60));
    assert_error(
        &sp1(&mut s, &map64(tx + 0x2000, tx + 0x3000, 1)),
        FfaError::Denied,
    );
    // Unmap naming 0 or itself works; another ID does not.
    assert_error(
        &sp1(&mut s, &regs(&[fid::RXTX_UNMAP, 0x8002 << 16])),
        FfaError::InvalidParameters,
    );
    assert_success(&sp1(&mut s, &regs(&[fid::RXTX_UNMAP, 0x8001 << 16])));
    assert_error(
        &sp1(&mut s, &regs(&[fid::RXTX_UNMAP])),
        FfaError::InvalidParameters,
    );
    // Its secure memory region counts as its memory.
    assert_success(&sp1(&mut s, &map64(SP1_REGION, SP1_REGION + 0x2000, 2)));
    assert_success(&sp1(&mut s, &regs(&[fid::RXTX_UNMAP])));
}

#[test]
fn partition_map_rejections() {
    let mut s = sp1_running();
    let end = SP1_LOAD + SP_MEM;
    for (tx, rx, pages) in [
        // Another partition's memory, normal-world memory, straddling its end.
        (SP2_LOAD, SP1_LOAD + 0x1000, 1),
        (SP1_LOAD, SP2_LOAD + 0x1000, 1),
        (SP1_LOAD, NWD_RX, 1),
        (SP1_LOAD, end - 0x1000, 2),
        // Straddling its region and its package memory.
        (SP1_LOAD, SP1_REGION + 0x3000, 2),
        (SP1_LOAD, SP1_LOAD, 1),
        (SP1_LOAD + 4, SP1_LOAD + 0x1000, 1),
        (SP1_LOAD, SP1_LOAD + 0x1000, 0),
    ] {
        let r = sp1(&mut s, &map64(tx, rx, pages));
        assert_error(&r, FfaError::InvalidParameters);
    }
}

#[test]
fn partition_release_and_acquire() {
    let mut s = sp1_running();
    let tx = SP1_LOAD + 0x8000;
    assert_success(&sp1(&mut s, &map64(tx, tx + 0x1000, 1)));
    assert_error(&sp1(&mut s, &regs(&[fid::RX_RELEASE])), FfaError::Denied);
    // Partitions cannot acquire.
    assert_error(
        &sp1(&mut s, &regs(&[fid::RX_ACQUIRE])),
        FfaError::NotSupported,
    );
    // Fill its RX with partition info: now it owns it.
    assert_success(&sp1(&mut s, &regs(&[fid::PARTITION_INFO_GET])));
    assert_error(
        &sp1(&mut s, &regs(&[fid::RX_RELEASE, 0x8003])),
        FfaError::InvalidParameters,
    );
    assert_success(&sp1(&mut s, &regs(&[fid::RX_RELEASE, 0x8001])));
    assert_error(&sp1(&mut s, &regs(&[fid::RX_RELEASE])), FfaError::Denied);
    assert_success(&sp1(&mut s, &regs(&[fid::PARTITION_INFO_GET])));
    assert_success(&sp1(&mut s, &regs(&[fid::RX_RELEASE, 0])));
}

#[test]
fn msg_wait_gives_rx_back_unless_retained() {
    let mut s = sp1_running();
    let tx = SP1_LOAD + 0x8000;
    assert_success(&sp1(&mut s, &map64(tx, tx + 0x1000, 1)));
    assert_success(&sp1(&mut s, &regs(&[fid::PARTITION_INFO_GET])));
    // Init ends with MSG_WAIT keeping RX (retain flag, v1.2).
    entered(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT, 0, 1])), SP2, 0);
    entered(sp(&mut s, 0, SP2, &regs(&[fid::MSG_WAIT])), SP3, 0);
    to_spmd(sp(&mut s, 0, SP3, &regs(&[fid::MSG_WAIT])));
    // Run SP1: it still owns RX, so it can release it once; then MSG_WAIT without the flag
    // after a new fill hands it back.
    entered(nwd(&mut s, 0, &regs(&[fid::RUN, w1(0x8001, 0)])), SP1, 0);
    assert_success(&sp1(&mut s, &regs(&[fid::RX_RELEASE])));
    assert_success(&sp1(&mut s, &regs(&[fid::PARTITION_INFO_GET])));
    to_spmd(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])));
    entered(nwd(&mut s, 0, &regs(&[fid::RUN, w1(0x8001, 0)])), SP1, 0);
    assert_error(&sp1(&mut s, &regs(&[fid::RX_RELEASE])), FfaError::Denied);
}
