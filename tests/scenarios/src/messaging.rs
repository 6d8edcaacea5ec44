//! Direct messages from the normal world: FFA_MSG_SEND_DIRECT_REQ (32 and 64) and
//! FFA_MSG_SEND_DIRECT_REQ2, their routing and their rejections.
//!
//! Codes (FF-A v1.2 §15–16; Hafnium's `api_ffa_msg_send_direct_req` and TF-A's SPMD agree): a
//! source ID that is not the caller's, an unknown or non-secure destination, a UUID the
//! destination does not have, or reserved w2 bits are INVALID_PARAMETERS; a DIRECT_REQ2 to a
//! partition that does not receive it is DENIED.

use ffa::{FfaError, Version};
use test_partitions::definitions::DIRECT_REQ2_RECV;
use test_partitions::protocol::{Command, Transport, uuid_index};
use test_partitions::{
    DEFINITIONS, ECHO_ID, ECHO_UUID, FOREIGN_UUID, LEGACY_ID, LEGACY_UUID, RELAY_ID, RELAY_UUID_A,
};

use crate::calls::{HOST_ID, direct_req2, direct_req32, direct_req64, negotiate, raw};
use crate::check::{Failure, expect_eq, expect_error, expect_words};
use crate::sp::{command2, command32, command32_on, command64};
use crate::{Client, context_on};

const V1_2: Version = Version(1, 2);

/// A partition that does not exist.
const NOBODY: u16 = 0x8009;

/// ECHO and WHO_AM_I over DIRECT_REQ (SMC32) to every partition.
pub fn direct_req32_echo(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let args = [1, 0xdead_beef, 3, 0xffff_ffff];
    for d in DEFINITIONS {
        let id = d.endpoint_id;
        let words = command32(c, "ECHO over DIRECT_REQ_32", id, Command::Echo, &args)?;
        expect_words("ECHO over DIRECT_REQ_32", &args, &words[1..])?;
        let words = command32(c, "WHO_AM_I over DIRECT_REQ_32", id, Command::WhoAmI, &[])?;
        let expected = [
            u64::from(id) << 16 | u64::from(context_on(c, d, 0)),
            Transport::Req32.word(),
            uuid_index::NONE,
            u64::from(HOST_ID),
        ];
        expect_words("WHO_AM_I over DIRECT_REQ_32", &expected, &words[1..])?;
    }
    Ok(())
}

/// ECHO of 64-bit values over DIRECT_REQ (SMC64) to every partition.
pub fn direct_req64_echo(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let args = [0x1_0000_0001, 0xfedc_ba98_7654_3210, 0, u64::MAX];
    for d in DEFINITIONS {
        let words = command64(
            c,
            "ECHO over DIRECT_REQ_64",
            d.endpoint_id,
            Command::Echo,
            &args,
        )?;
        expect_words("ECHO over DIRECT_REQ_64", &args, &words[1..])?;
    }
    Ok(())
}

/// DIRECT_REQ2 reaches each UUID of each partition that receives it (relay has two), and
/// carries all 14 payload registers.
pub fn direct_req2_by_each_uuid(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    for d in DEFINITIONS
        .iter()
        .filter(|d| d.messaging & DIRECT_REQ2_RECV != 0)
    {
        for (index, uuid) in d.uuids.iter().enumerate() {
            let words = command2(
                c,
                "WHO_AM_I over DIRECT_REQ2",
                d.endpoint_id,
                *uuid,
                &[Command::WhoAmI.code()],
            )?;
            let expected = [
                u64::from(d.endpoint_id) << 16 | u64::from(context_on(c, d, 0)),
                Transport::Req2.word(),
                index as u64,
                u64::from(HOST_ID),
            ];
            expect_words("WHO_AM_I over DIRECT_REQ2", &expected, &words[1..5])?;
            let mut payload = [0u64; 14];
            payload[0] = Command::Echo.code();
            for (i, w) in payload.iter_mut().enumerate().skip(1) {
                *w = 0x0101_0101_0101_0101 * i as u64;
            }
            let words = command2(c, "ECHO over DIRECT_REQ2", d.endpoint_id, *uuid, &payload)?;
            expect_words("ECHO over DIRECT_REQ2, x5..x17", &payload[1..], &words[1..])?;
        }
    }
    Ok(())
}

/// DIRECT_REQ2 naming a UUID its destination does not have.
pub fn direct_req2_unknown_uuid(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let cases = [
        (
            "DIRECT_REQ2 to relay with an unknown UUID",
            RELAY_ID,
            FOREIGN_UUID,
        ),
        ("DIRECT_REQ2 to relay with echo's UUID", RELAY_ID, ECHO_UUID),
        (
            "DIRECT_REQ2 to a partition that does not exist",
            NOBODY,
            ECHO_UUID,
        ),
    ];
    for (what, dst, uuid) in cases {
        let answer = direct_req2(c, HOST_ID, dst, uuid, &[Command::Echo.code()]);
        expect_error(what, &answer, FfaError::InvalidParameters)?;
    }
    // relay is still there.
    command2(
        c,
        "ECHO over DIRECT_REQ2 after refusals",
        RELAY_ID,
        RELAY_UUID_A,
        &[Command::Echo.code()],
    )?;
    Ok(())
}

/// legacy (v1.1, messaging 0x3) does not receive DIRECT_REQ2.
pub fn direct_req2_to_legacy(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let answer = direct_req2(c, HOST_ID, LEGACY_ID, LEGACY_UUID, &[Command::Echo.code()]);
    expect_error("DIRECT_REQ2 to legacy", &answer, FfaError::Denied)?;
    command32(
        c,
        "ECHO to legacy over DIRECT_REQ_32",
        LEGACY_ID,
        Command::Echo,
        &[],
    )?;
    Ok(())
}

/// The normal world may not send as a secure endpoint (nor, through the proxy, as another
/// normal-world endpoint than the host).
pub fn spoofed_source_from_normal_world(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let echo = [Command::Echo.code(), 0, 0, 0, 0];
    let answer = direct_req32(c, ECHO_ID, RELAY_ID, echo);
    expect_error(
        "DIRECT_REQ_32 claiming echo's ID",
        &answer,
        FfaError::InvalidParameters,
    )?;
    let answer = direct_req64(c, 0x8000, RELAY_ID, echo);
    expect_error(
        "DIRECT_REQ_64 claiming the SPMC's ID",
        &answer,
        FfaError::InvalidParameters,
    )?;
    let answer = direct_req2(c, LEGACY_ID, RELAY_ID, RELAY_UUID_A, &echo);
    expect_error(
        "DIRECT_REQ2 claiming legacy's ID",
        &answer,
        FfaError::InvalidParameters,
    )?;
    if c.behind_proxy() {
        // The proxy knows the host is endpoint 0; EL3 cannot tell normal-world IDs apart.
        let answer = direct_req32(c, 5, RELAY_ID, echo);
        expect_error(
            "DIRECT_REQ_32 claiming another normal-world ID",
            &answer,
            FfaError::InvalidParameters,
        )?;
    }
    command32(c, "ECHO after refused spoofs", RELAY_ID, Command::Echo, &[])?;
    Ok(())
}

/// Destinations that are not partitions.
pub fn unknown_destination(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let echo = [Command::Echo.code(), 0, 0, 0, 0];
    let answer = direct_req32(c, HOST_ID, NOBODY, echo);
    expect_error(
        "DIRECT_REQ_32 to a partition that does not exist",
        &answer,
        FfaError::InvalidParameters,
    )?;
    let answer = direct_req64(c, HOST_ID, NOBODY, echo);
    expect_error(
        "DIRECT_REQ_64 to a partition that does not exist",
        &answer,
        FfaError::InvalidParameters,
    )?;
    let answer = direct_req32(c, HOST_ID, 3, echo);
    expect_error(
        "DIRECT_REQ_32 to a normal-world ID",
        &answer,
        FfaError::InvalidParameters,
    )
}

/// w2 of a partition message is reserved (FF-A v1.2 Table 16.6), and the framework-message
/// bit is not the normal world's to set.
pub fn direct_req_reserved_bits(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let w1 = u64::from(HOST_ID) << 16 | u64::from(ECHO_ID);
    let echo = Command::Echo.code();
    let answer = raw(c, &[0x8400_006f, w1, 1, echo]);
    expect_error(
        "DIRECT_REQ_32 with w2 bit 0 set",
        &answer,
        FfaError::InvalidParameters,
    )?;
    let answer = raw(c, &[0x8400_006f, w1, 0x8000_0008, 0x1_0002]);
    expect_error(
        "a framework message from the normal world",
        &answer,
        FfaError::InvalidParameters,
    )?;
    command32(
        c,
        "ECHO after refused requests",
        ECHO_ID,
        Command::Echo,
        &[],
    )?;
    Ok(())
}

/// relay is MP: the request on CPU 1 runs its execution context 1. echo is UP and runs
/// wherever it is called.
pub fn mp_partition_on_each_cpu(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    for cpu in [0u16, 1] {
        let words = command32_on(c, cpu, "WHO_AM_I to relay", RELAY_ID, Command::WhoAmI, &[])?;
        expect_words(
            "relay's ID and execution context",
            &[u64::from(RELAY_ID) << 16 | u64::from(c.core(cpu))],
            &words[1..2],
        )?;
        let words = command32_on(c, cpu, "WHO_AM_I to echo", ECHO_ID, Command::WhoAmI, &[])?;
        expect_words(
            "echo's ID and execution context",
            &[u64::from(ECHO_ID) << 16],
            &words[1..2],
        )?;
    }
    Ok(())
}

/// Requests each core makes in [`direct_requests_from_every_core_at_once`], to each partition.
const AT_ONCE_REQUESTS: u32 = 300;

/// Every core sends ECHO direct requests at the same moment, first to relay (a context per
/// core: never busy), then to echo (one context for all: each request finds it free or BUSY).
/// Every answer must be the right one for its core: relay answers every request, echo each
/// request or BUSY, nothing else; afterwards each core reaches both.
pub fn direct_requests_from_every_core_at_once(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let cpus: [u16; crate::CPUS as usize] = core::array::from_fn(|i| i as u16);
    let relay = c.at_once(&cpus, RELAY_ID, AT_ONCE_REQUESTS);
    for tally in &relay {
        expect_eq(
            "relay's answers from one core, all at once",
            u64::from(AT_ONCE_REQUESTS),
            u64::from(tally.answered),
        )?;
        expect_eq(
            "BUSY from relay (a context per core)",
            0,
            u64::from(tally.busy),
        )?;
        expect_eq("wrong answers from relay", 0, u64::from(tally.wrong))?;
    }
    let echo = c.at_once(&cpus, ECHO_ID, AT_ONCE_REQUESTS);
    let mut answered = 0;
    for tally in &echo {
        expect_eq("wrong answers from echo", 0, u64::from(tally.wrong))?;
        expect_eq(
            "echo's answers and BUSY from one core",
            u64::from(AT_ONCE_REQUESTS),
            u64::from(tally.answered) + u64::from(tally.busy),
        )?;
        answered += u64::from(tally.answered);
    }
    // Echo is free whenever no request holds it: only a stack that refuses everything
    // answers none.
    expect_eq("echo answered any request", 1, u64::from(answered > 0))?;
    for cpu in cpus {
        for (id, what) in [
            (RELAY_ID, "ECHO to relay afterwards"),
            (ECHO_ID, "ECHO to echo afterwards"),
        ] {
            let words = command32_on(c, cpu, what, id, Command::Echo, &[u64::from(cpu)])?;
            expect_words(what, &[u64::from(cpu)], &words[1..2])?;
        }
    }
    Ok(())
}
