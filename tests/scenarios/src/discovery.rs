//! Discovery: FFA_FEATURES, FFA_ID_GET, FFA_SPM_ID_GET, FFA_PARTITION_INFO_GET and
//! FFA_PARTITION_INFO_GET_REGS.
//!
//! Partition information is derived from `test_partitions::DEFINITIONS`: partitions in boot
//! order; when every partition is asked for, one descriptor per UUID for a caller at v1.2 or
//! later and one per partition, with its first UUID, below v1.2 (several UUIDs per partition
//! are a v1.2 notion: Hafnium's `api_ffa_fill_partitions_info_array`; v1.0 descriptors carry
//! no UUID); a named UUID, whichever of its partition's UUIDs it is, finds that partition
//! once at every version; the UUID field filled only when the nil UUID was asked for (FF-A
//! v1.2 Table 6.1, Hafnium and TF-A); properties from the manifest as
//! `Definition::properties` shows them to the normal world, cut to the caller's version.

use ffa::partition_info::{
    DESC_SIZE_V1_1, PartitionInfo, RegsChunk, read_descriptors, unpack_regs,
};
use ffa::{EndpointId, FfaError, FuncId, Uuid, Version};
use test_partitions::{DEFINITIONS, FOREIGN_UUID, RELAY_ID, RELAY_UUID_A, RELAY_UUID_B, SPMC_ID};

use crate::Client;
use crate::calls::{
    self, HOST_ID, direct_req2, features, id_get, negotiate, partition_info_get,
    partition_info_get_flags, read_rx, rx_release, spm_id_get, start,
};
use crate::check::{
    Failure, Value, expect_eq, expect_error, expect_function, expect_success, expect_success_w2,
};

const V1_0: Version = Version(1, 0);
const V1_1: Version = Version(1, 1);
const V1_2: Version = Version(1, 2);

/// Most descriptors a scenario reads back at once.
const MAX_DESCRIPTORS: usize = 8;

/// What FFA_PARTITION_INFO_GET(nil) tells a caller at `version`, in order.
pub(crate) fn expected_all(version: Version) -> impl Iterator<Item = PartitionInfo> + Clone {
    let per_partition = if version >= V1_2 { usize::MAX } else { 1 };
    DEFINITIONS.iter().flat_map(move |d| {
        d.uuids
            .iter()
            .take(per_partition)
            .map(move |uuid| PartitionInfo {
                id: EndpointId(d.endpoint_id),
                exec_ctx_count: d.exec_ctx_count,
                properties: d.properties(version, false),
                // v1.0 descriptors carry no UUID.
                uuid: if version >= V1_1 { *uuid } else { Uuid::nil() },
            })
    })
}

/// What FFA_PARTITION_INFO_GET(`uuid`) tells a caller at `version`: the one partition with
/// that UUID, UUID field nil.
fn expected_one(uuid: Uuid, version: Version) -> Option<PartitionInfo> {
    let d = DEFINITIONS.iter().find(|d| d.uuids.contains(&uuid))?;
    Some(PartitionInfo {
        id: EndpointId(d.endpoint_id),
        exec_ctx_count: d.exec_ctx_count,
        properties: d.properties(version, false),
        uuid: Uuid::nil(),
    })
}

/// Compares one descriptor field by field.
fn expect_descriptor(got: &PartitionInfo, want: &PartitionInfo) -> Result<(), Failure> {
    expect_eq("partition ID", u64::from(want.id.0), u64::from(got.id.0))?;
    expect_eq(
        "execution context count",
        u64::from(want.exec_ctx_count),
        u64::from(got.exec_ctx_count),
    )?;
    expect_eq(
        "partition properties",
        u64::from(want.properties),
        u64::from(got.properties),
    )?;
    expect_eq(
        "UUID field, high half",
        (want.uuid.as_u128() >> 64) as u64,
        (got.uuid.as_u128() >> 64) as u64,
    )?;
    expect_eq(
        "UUID field, low half",
        want.uuid.as_u128() as u64,
        got.uuid.as_u128() as u64,
    )
}

/// FFA_PARTITION_INFO_GET(nil) lists every partition as a `version` caller sees them; the RX
/// buffer is released after.
fn expect_all_listed(
    c: &mut dyn Client,
    what: &'static str,
    version: Version,
) -> Result<(), Failure> {
    let answer = partition_info_get(c, Uuid::nil(), false);
    expect_partition_info(c, what, &answer, version, expected_all(version))?;
    expect_success("FFA_RX_RELEASE", &rx_release(c, 0))
}

/// Checks a successful FFA_PARTITION_INFO_GET answer and the descriptors in the RX buffer.
pub(crate) fn expect_partition_info(
    c: &mut dyn Client,
    what: &'static str,
    answer: &ffa::Regs,
    version: Version,
    expected: impl Iterator<Item = PartitionInfo> + Clone,
) -> Result<(), Failure> {
    let count = expected.clone().count();
    expect_success_w2(what, answer, count as u32)?;
    // v1.0 answers carry no size in w3.
    if version >= V1_1 {
        expect_eq(
            "descriptor size in w3",
            DESC_SIZE_V1_1 as u64,
            answer[3] & 0xffff_ffff,
        )?;
    }
    let buf = read_rx::<{ MAX_DESCRIPTORS * DESC_SIZE_V1_1 }>(c);
    let got = read_descriptors(version, &buf, count).map_err(|_| {
        Failure::new(
            "descriptors fit the read-back",
            Value::Word(MAX_DESCRIPTORS as u64),
            Value::Word(count as u64),
        )
    })?;
    for (got, want) in got.zip(expected) {
        expect_descriptor(&got, &want)?;
    }
    Ok(())
}

/// Checks an FFA_PARTITION_INFO_GET_REGS answer is FFA_SUCCESS_64 and decodes it.
fn regs_chunk(what: &'static str, answer: &ffa::Regs, start: u16) -> Result<RegsChunk, Failure> {
    expect_function(what, answer, FuncId::Success64)?;
    let mut x2_x17 = [0u64; 16];
    x2_x17.copy_from_slice(&answer[2..]);
    unpack_regs(&x2_x17, start).map_err(|_| {
        Failure::new(
            what,
            Value::Word((DESC_SIZE_V1_1 as u64) << 48),
            Value::Word(answer[2]),
        )
    })
}

/// FFA_FEATURES for the functions every client uses, an unknown one, and the blocked ones.
pub fn features_of_functions(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    for func in [
        FuncId::Version,
        FuncId::Features,
        FuncId::IdGet,
        FuncId::SpmIdGet,
        FuncId::RxRelease,
        FuncId::RxTxUnmap,
        FuncId::PartitionInfoGet,
        FuncId::MsgSendDirectReq32,
        FuncId::MsgSendDirectReq64,
        FuncId::MsgSendDirectReq64_2,
        FuncId::Run32,
    ] {
        let answer = features(c, u32::from(func));
        expect_success("FFA_FEATURES of a supported function", &answer)?;
    }
    // RXTX_MAP's properties: bits [1:0] give the smallest buffer; ours are 4 KiB (0b00).
    let answer = features(c, u32::from(FuncId::RxTxMap64));
    expect_success("FFA_FEATURES(FFA_RXTX_MAP_64)", &answer)?;
    expect_eq("RXTX_MAP minimum buffer size field", 0, answer[2] & 0b11)?;
    for unknown in [0x8400_00fe, 0x8400_0000] {
        let answer = features(c, unknown);
        expect_error(
            "FFA_FEATURES of an unknown function",
            &answer,
            FfaError::NotSupported,
        )?;
    }
    // The proxy blocks PARTITION_INFO_GET_REGS, as pKVM does; the SPMC implements it.
    let answer = features(c, u32::from(FuncId::PartitionInfoGetRegs));
    if c.behind_proxy() {
        expect_error(
            "FFA_FEATURES of a function the proxy blocks",
            &answer,
            FfaError::NotSupported,
        )
    } else {
        expect_success("FFA_FEATURES(FFA_PARTITION_INFO_GET_REGS)", &answer)
    }
}

/// FFA_FEATURES of feature IDs: the notification-pending and managed-exit interrupts are for
/// partitions only (FF-A v1.2 §13.3; Hafnium answers NOT_SUPPORTED to the normal world), and
/// unknown or malformed IDs are not supported.
pub fn features_of_feature_ids(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    for id in [0x1, 0x3, 0x7f, 0x103] {
        let answer = features(c, id);
        expect_error(
            "FFA_FEATURES of a feature ID the normal world cannot use",
            &answer,
            FfaError::NotSupported,
        )?;
    }
    Ok(())
}

/// FFA_ID_GET is 0 for the normal world; FFA_SPM_ID_GET names the SPMC.
pub fn id_get_and_spm_id_get(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    expect_success_w2("FFA_ID_GET", &id_get(c), 0)?;
    expect_success_w2("FFA_SPM_ID_GET", &spm_id_get(c), u32::from(SPMC_ID))
}

/// Every partition, one descriptor per UUID, at v1.2.
pub fn partition_info_get_all(c: &mut dyn Client) -> Result<(), Failure> {
    start(c, V1_2)?;
    expect_all_listed(c, "FFA_PARTITION_INFO_GET(nil)", V1_2)
}

/// Each UUID of each partition (both of relay's) finds its partition alone.
pub fn partition_info_get_by_uuid(c: &mut dyn Client) -> Result<(), Failure> {
    start(c, V1_2)?;
    for d in DEFINITIONS {
        for uuid in d.uuids {
            let answer = partition_info_get(c, *uuid, false);
            let want = expected_one(*uuid, V1_2);
            expect_partition_info(
                c,
                "FFA_PARTITION_INFO_GET(uuid)",
                &answer,
                V1_2,
                want.into_iter(),
            )?;
            expect_success("FFA_RX_RELEASE", &rx_release(c, 0))?;
        }
    }
    Ok(())
}

/// An unknown UUID and reserved flags are refused, and leave the RX buffer free.
pub fn partition_info_get_rejections(c: &mut dyn Client) -> Result<(), Failure> {
    start(c, V1_2)?;
    let answer = partition_info_get(c, FOREIGN_UUID, false);
    expect_error(
        "FFA_PARTITION_INFO_GET(unknown UUID)",
        &answer,
        FfaError::InvalidParameters,
    )?;
    let answer = partition_info_get_flags(c, Uuid::nil(), 0b10);
    expect_error(
        "FFA_PARTITION_INFO_GET with reserved flag bits",
        &answer,
        FfaError::InvalidParameters,
    )?;
    expect_all_listed(c, "FFA_PARTITION_INFO_GET after refusals", V1_2)
}

/// The count-only flag answers the count and hands no buffer over.
pub fn partition_info_get_count_only(c: &mut dyn Client) -> Result<(), Failure> {
    start(c, V1_2)?;
    let all = expected_all(V1_2).count() as u32;
    let answer = partition_info_get(c, Uuid::nil(), true);
    expect_success_w2("FFA_PARTITION_INFO_GET(nil, count only)", &answer, all)?;
    let answer = partition_info_get(c, RELAY_UUID_B, true);
    expect_success_w2("FFA_PARTITION_INFO_GET(relay, count only)", &answer, 1)?;
    expect_error(
        "FFA_RX_RELEASE after count-only queries",
        &rx_release(c, 0),
        FfaError::Denied,
    )?;
    expect_all_listed(c, "FFA_PARTITION_INFO_GET(nil)", V1_2)
}

/// A v1.0 caller gets 8-byte descriptors, one per partition, with v1.0 properties.
pub fn partition_info_get_v1_0(c: &mut dyn Client) -> Result<(), Failure> {
    start(c, V1_0)?;
    expect_all_listed(c, "FFA_PARTITION_INFO_GET at v1.0", V1_0)
}

/// A v1.1 caller gets 24-byte descriptors, one per partition with its first UUID (relay's
/// second UUID is a v1.2 matter), with v1.1 properties; relay's second UUID still finds it.
pub fn partition_info_get_v1_1(c: &mut dyn Client) -> Result<(), Failure> {
    start(c, V1_1)?;
    expect_all_listed(c, "FFA_PARTITION_INFO_GET at v1.1", V1_1)?;
    let answer = partition_info_get(c, RELAY_UUID_B, false);
    expect_partition_info(
        c,
        "FFA_PARTITION_INFO_GET(relay's second UUID) at v1.1",
        &answer,
        V1_1,
        expected_one(RELAY_UUID_B, V1_1).into_iter(),
    )?;
    expect_success("FFA_RX_RELEASE", &rx_release(c, 0))?;
    let answer = partition_info_get(c, Uuid::nil(), true);
    expect_success_w2(
        "FFA_PARTITION_INFO_GET(nil, count only) at v1.1",
        &answer,
        DEFINITIONS.len() as u32,
    )
}

/// FFA_PARTITION_INFO_GET_REGS: the whole list, a later start, one UUID, and its rejections.
/// The proxy blocks the call (as pKVM), so behind it the only answer is NOT_SUPPORTED.
pub fn partition_info_get_regs(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    if c.behind_proxy() {
        let answer = calls::partition_info_get_regs(c, Uuid::nil(), 0, 0);
        return expect_error(
            "FFA_PARTITION_INFO_GET_REGS through the proxy",
            &answer,
            FfaError::NotSupported,
        );
    }
    let all = expected_all(V1_2).count();
    let last = all as u64 - 1;
    // A later start index carries the tag the first answer gave (whatever its value).
    let mut tag = 0;
    for start_index in [0u16, 2] {
        let answer = calls::partition_info_get_regs(c, Uuid::nil(), start_index, tag);
        let chunk = regs_chunk("FFA_PARTITION_INFO_GET_REGS(nil)", &answer, start_index)?;
        expect_eq("last index", last, u64::from(chunk.last_index))?;
        expect_eq("current index", last, u64::from(chunk.current_index))?;
        tag = chunk.tag;
        // The indices fix how many descriptors the answer holds.
        for (got, want) in chunk
            .infos()
            .iter()
            .zip(expected_all(V1_2).skip(start_index.into()))
        {
            expect_descriptor(got, &want)?;
        }
    }
    let answer = calls::partition_info_get_regs(c, RELAY_UUID_B, 0, 0);
    let chunk = regs_chunk("FFA_PARTITION_INFO_GET_REGS(uuid)", &answer, 0)?;
    expect_eq("last index for one UUID", 0, u64::from(chunk.last_index))?;
    let want = expected_one(RELAY_UUID_B, V1_2);
    match (chunk.infos().first(), want) {
        (Some(got), Some(want)) => expect_descriptor(got, &want)?,
        _ => {
            return Err(Failure::new(
                "one descriptor",
                Value::Word(1),
                Value::Word(0),
            ));
        }
    }
    let answer = calls::partition_info_get_regs(c, Uuid::nil(), all as u16, 0);
    expect_error(
        "FFA_PARTITION_INFO_GET_REGS past the last index",
        &answer,
        FfaError::InvalidParameters,
    )?;
    let answer = calls::partition_info_get_regs(c, FOREIGN_UUID, 0, 0);
    expect_error(
        "FFA_PARTITION_INFO_GET_REGS(unknown UUID)",
        &answer,
        FfaError::InvalidParameters,
    )?;
    // A tag the callee never issued (start index 0 must have tag 0): RETRY, as arm-ffa's
    // decoder and Hafnium answer.
    let answer = calls::partition_info_get_regs(c, Uuid::nil(), 0, 7);
    expect_error(
        "FFA_PARTITION_INFO_GET_REGS with a stale tag",
        &answer,
        FfaError::Retry,
    )
}

/// Functions added in v1.2 do not exist for a v1.1 caller, and FFA_FEATURES says so.
pub fn v1_2_calls_at_v1_1(c: &mut dyn Client) -> Result<(), Failure> {
    start(c, V1_1)?;
    let answer = direct_req2(c, HOST_ID, RELAY_ID, RELAY_UUID_A, &[0]);
    expect_error(
        "FFA_MSG_SEND_DIRECT_REQ2 at v1.1",
        &answer,
        FfaError::NotSupported,
    )?;
    let answer = calls::partition_info_get_regs(c, Uuid::nil(), 0, 0);
    expect_error(
        "FFA_PARTITION_INFO_GET_REGS at v1.1",
        &answer,
        FfaError::NotSupported,
    )?;
    for func in [FuncId::MsgSendDirectReq64_2, FuncId::PartitionInfoGetRegs] {
        let answer = features(c, u32::from(func));
        expect_error(
            "FFA_FEATURES of a v1.2 function at v1.1",
            &answer,
            FfaError::NotSupported,
        )?;
    }
    // v1.1 functions are there.
    expect_success_w2("FFA_SPM_ID_GET at v1.1", &spm_id_get(c), u32::from(SPMC_ID))
}
