//! FF-A calls made by the partitions themselves, at the SPMC's secure virtual instance:
//! discovery, their own RX/TX buffers, their IDs and version.
//!
//! The partitions report what the SPMC answered them (see `test_partitions::protocol`).

use ffa::{FfaError, FuncId, Uuid, UuidHelper, Version};
use test_partitions::protocol::{CallStatus, Command};
use test_partitions::{ECHO_ID, FOREIGN_UUID, LEGACY_ID, RELAY_ID, RELAY_UUID_B, SPMC_ID};

use crate::Client;
use crate::calls::negotiate;
use crate::check::{Failure, expect_call, expect_eq, expect_words};
use crate::discovery::expected_all;
use crate::sp::command32;

const V1_1: Version = Version(1, 1);
const V1_2: Version = Version(1, 2);

/// A UUID as the four payload words PARTITION_INFO takes.
fn uuid_words(uuid: Uuid) -> [u64; 4] {
    UuidHelper::to_u32_regs(uuid).map(u64::from)
}

/// FFA_PARTITION_INFO_GET from partitions at v1.2 and v1.1 (one descriptor per partition
/// below v1.2), by nil and by UUID, and for an unknown UUID; each reads its RX buffer and
/// releases it.
pub fn partition_info_from_partitions(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let size = 24u64;
    let cases = [
        (
            "echo asks for every partition",
            ECHO_ID,
            Uuid::nil(),
            expected_all(V1_2).count(),
            ECHO_ID,
        ),
        (
            "legacy (v1.1) asks for every partition",
            LEGACY_ID,
            Uuid::nil(),
            expected_all(V1_1).count(),
            ECHO_ID,
        ),
        (
            "echo asks for relay's second UUID",
            ECHO_ID,
            RELAY_UUID_B,
            1,
            RELAY_ID,
        ),
        (
            "legacy (v1.1) asks for relay's second UUID",
            LEGACY_ID,
            RELAY_UUID_B,
            1,
            RELAY_ID,
        ),
    ];
    for (what, from, uuid, count, first) in cases {
        let words = command32(c, what, from, Command::PartitionInfo, &uuid_words(uuid))?;
        expect_call(what, words[1], CallStatus::Success)?;
        expect_eq(
            "descriptor count | size << 16",
            count as u64 | size << 16,
            words[2],
        )?;
        expect_eq("first descriptor's ID", u64::from(first), words[3])?;
        expect_call(
            "the partition's FFA_RX_RELEASE",
            words[4],
            CallStatus::Success,
        )?;
    }
    let what = "echo asks for an unknown UUID";
    let words = command32(
        c,
        what,
        ECHO_ID,
        Command::PartitionInfo,
        &uuid_words(FOREIGN_UUID),
    )?;
    expect_call(
        what,
        words[1],
        CallStatus::error(FfaError::InvalidParameters),
    )?;
    expect_call(
        "no release without a buffer",
        words[4],
        CallStatus::NotCalled,
    )
}

/// A partition's own buffer calls: mapping a second pair is DENIED, releasing an RX buffer it
/// does not own is DENIED, unmapping works once and then is INVALID_PARAMETERS; the partition
/// then maps its pair again and can use it.
pub fn partition_mailbox_rejections(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let words = command32(c, "echo exercises its buffers", ECHO_ID, Command::Rxtx, &[])?;
    let expected = [
        CallStatus::error(FfaError::Denied),
        CallStatus::error(FfaError::Denied),
        CallStatus::Success,
        CallStatus::error(FfaError::InvalidParameters),
    ];
    let steps = [
        "FFA_RXTX_MAP of a second pair",
        "FFA_RX_RELEASE of a buffer not owned",
        "FFA_RXTX_UNMAP",
        "FFA_RXTX_UNMAP twice",
    ];
    for ((what, want), word) in steps.into_iter().zip(expected).zip(&words[1..]) {
        expect_call(what, *word, want)?;
    }
    // command32 checked the status: no REMAP fault, so the pair is mapped again; use it.
    let words = command32(
        c,
        "echo uses its buffers again",
        ECHO_ID,
        Command::PartitionInfo,
        &uuid_words(Uuid::nil()),
    )?;
    expect_call(
        "FFA_PARTITION_INFO_GET after mapping again",
        words[1],
        CallStatus::Success,
    )
}

/// A partition's FFA_ID_GET, FFA_SPM_ID_GET, FFA_VERSION after its init and FFA_FEATURES; an
/// unknown function. legacy, which has no manifest ID, learns the one it was given.
pub fn partition_discovery_calls(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let fid = |f: FuncId| u64::from(u32::from(f));
    let success = fid(FuncId::Success32);
    let not_supported = u64::from(i32::from(FfaError::NotSupported) as u32);
    // (what, partition, x0 and x1 of its call, w0.. of the answer that must match)
    let cases: [(&str, u16, [u64; 2], &[u64]); 7] = [
        (
            "echo's FFA_ID_GET",
            ECHO_ID,
            [fid(FuncId::IdGet), 0],
            &[success, 0, u64::from(ECHO_ID)],
        ),
        (
            "legacy's FFA_ID_GET",
            LEGACY_ID,
            [fid(FuncId::IdGet), 0],
            &[success, 0, u64::from(LEGACY_ID)],
        ),
        (
            "relay's FFA_SPM_ID_GET",
            RELAY_ID,
            [fid(FuncId::SpmIdGet), 0],
            &[success, 0, u64::from(SPMC_ID)],
        ),
        // The version it negotiated at init, again: fine.
        (
            "echo's FFA_VERSION(1.2) after init",
            ECHO_ID,
            [fid(FuncId::Version), 0x1_0002],
            &[0x1_0002],
        ),
        // A different one after other calls: the lock.
        (
            "echo's FFA_VERSION(1.1) after init",
            ECHO_ID,
            [fid(FuncId::Version), 0x1_0001],
            &[not_supported],
        ),
        (
            "legacy's FFA_FEATURES(FFA_VERSION)",
            LEGACY_ID,
            [fid(FuncId::Features), fid(FuncId::Version)],
            &[success],
        ),
        (
            "echo calls an unknown function",
            ECHO_ID,
            [0x8400_00fe, 0],
            &[fid(FuncId::Error32), 0, not_supported],
        ),
    ];
    for (what, from, call, answer) in cases {
        let words = command32(c, what, from, Command::Call, &call)?;
        expect_words(what, answer, &words[1..1 + answer.len()])?;
    }
    Ok(())
}
