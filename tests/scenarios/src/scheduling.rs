//! CPU cycles and call chains: FFA_YIELD, FFA_RUN, busy partitions, requests between
//! partitions and the runtime-model rules the SPMC enforces on them.
//!
//! Codes (FF-A v1.2 §8.3 runtime-model rules; Hafnium's `api_ffa_run`, `api_yield`,
//! `api_ffa_msg_send_direct_resp`, `api_ffa_msg_wait`): a request to a partition already
//! handling one is BUSY; a request or FFA_RUN that would loop back into the call chain is
//! DENIED; a response to anyone but the requester, and FFA_MSG_WAIT while handling a request,
//! are DENIED; FFA_RUN of something that is not a partition's execution context is
//! INVALID_PARAMETERS. A yielded partition resumed by FFA_RUN sees FFA_SUCCESS from FFA_YIELD.

use ffa::{FfaError, FuncId, Version};
use test_partitions::protocol::{CallStatus, Command, Reply, Status, Transport, uuid_selector};
use test_partitions::{ECHO_ID, LEGACY_ID, RELAY_ID};

use crate::calls::{HOST_ID, direct_req2, direct_req32, negotiate, run};
use crate::check::{
    Failure, expect_call, expect_eq, expect_error, expect_function, expect_reply, expect_status,
    expect_words,
};
use crate::sp::{command32, response32};
use crate::{CPUS, Client};

const V1_2: Version = Version(1, 2);

/// echo yields while handling a request: the normal world gets FFA_YIELD, echo is busy until
/// FFA_RUN resumes it, and the original response then arrives.
pub fn busy_partition_yield_and_run(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let answer = direct_req32(c, HOST_ID, ECHO_ID, [Command::Yield.code(), 7, 8, 9, 0]);
    expect_function("DIRECT_REQ to a yielding echo", &answer, FuncId::Yield32)?;
    expect_eq(
        "FFA_YIELD names echo's execution context",
        u64::from(ECHO_ID) << 16,
        answer[1] & 0xffff_ffff,
    )?;
    let answer = direct_req32(c, HOST_ID, ECHO_ID, [Command::Echo.code(), 0, 0, 0, 0]);
    expect_error("DIRECT_REQ_32 to a yielded echo", &answer, FfaError::Busy)?;
    let answer = direct_req2(
        c,
        HOST_ID,
        ECHO_ID,
        test_partitions::ECHO_UUID,
        &[Command::Echo.code()],
    );
    expect_error("DIRECT_REQ2 to a yielded echo", &answer, FfaError::Busy)?;
    let answer = run(c, ECHO_ID, 0);
    let words = response32("FFA_RUN of the yielded echo", &answer, ECHO_ID)?;
    expect_status("echo's response after FFA_RUN", words[0], Status::OK)?;
    expect_call(
        "FFA_YIELD's answer when resumed",
        words[1],
        CallStatus::Success,
    )?;
    expect_words("echo's words after FFA_RUN", &[7, 8, 9], &words[2..])?;
    command32(c, "ECHO after the yield", ECHO_ID, Command::Echo, &[])?;
    Ok(())
}

/// FFA_RUN of a waiting partition gives it cycles it does not need: it waits again, and the
/// normal world sees its FFA_MSG_WAIT.
pub fn run_waiting_partition(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let answer = run(c, ECHO_ID, 0);
    expect_function("FFA_RUN of a waiting echo", &answer, FuncId::MsgWait32)?;
    command32(c, "ECHO after FFA_RUN", ECHO_ID, Command::Echo, &[])?;
    Ok(())
}

/// FFA_RUN of things that are not a partition's execution context the caller may run.
pub fn run_rejections(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let other_core = (c.core(0) + 1) % CPUS;
    let cases = [
        ("FFA_RUN of a partition that does not exist", 0x8009, 0),
        (
            "FFA_RUN of echo's execution context 1 (it has one)",
            ECHO_ID,
            1,
        ),
        ("FFA_RUN of a normal-world ID", 3, 0),
        // MP execution contexts are pinned to their core.
        (
            "FFA_RUN of relay's context of another core",
            RELAY_ID,
            other_core,
        ),
    ];
    for (what, id, vcpu) in cases {
        expect_error(what, &run(c, id, vcpu), FfaError::InvalidParameters)?;
    }
    command32(c, "ECHO after refused runs", ECHO_ID, Command::Echo, &[])?;
    Ok(())
}

/// relay yields while handling echo's request: the normal world gets FFA_YIELD naming relay
/// (the SPMC core gives a chain's cycles back to the normal world; Hafnium would return them
/// to echo); echo, blocked waiting for relay, is busy: FFA_RUN of it and requests to either
/// are BUSY, until FFA_RUN of relay resumes it and the chain completes.
pub fn run_busy_target(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let forward = [
        Command::Forward.code(),
        u64::from(RELAY_ID),
        Command::Yield.code(),
        7,
        8,
    ];
    let answer = direct_req32(c, HOST_ID, ECHO_ID, forward);
    expect_function(
        "a chain whose last partition yields",
        &answer,
        FuncId::Yield32,
    )?;
    // The chain runs on the home core, so relay's context is that core's.
    let relay_ctx = c.core(0);
    expect_eq(
        "FFA_YIELD names relay's execution context",
        u64::from(RELAY_ID) << 16 | u64::from(relay_ctx),
        answer[1] & 0xffff_ffff,
    )?;
    expect_error(
        "FFA_RUN of echo, blocked on relay",
        &run(c, ECHO_ID, 0),
        FfaError::Busy,
    )?;
    let echo = [Command::Echo.code(), 0, 0, 0, 0];
    for (what, dst) in [
        ("DIRECT_REQ to echo, blocked on relay", ECHO_ID),
        ("DIRECT_REQ to relay, yielded", RELAY_ID),
    ] {
        expect_error(what, &direct_req32(c, HOST_ID, dst, echo), FfaError::Busy)?;
    }
    let answer = run(c, RELAY_ID, relay_ctx);
    let words = response32("FFA_RUN of the yielded relay", &answer, ECHO_ID)?;
    expect_status("echo's response", words[0], Status::OK)?;
    expect_reply("relay's response", words[1], Reply::Response(Status::OK))?;
    expect_call(
        "relay's FFA_YIELD when resumed",
        words[2],
        CallStatus::Success,
    )?;
    expect_words("relay's words after FFA_RUN", &[7, 8], &words[3..])?;
    command32(c, "ECHO after the chain", ECHO_ID, Command::Echo, &[])?;
    Ok(())
}

/// Requests between partitions: a chain echo → relay, by DIRECT_REQ and by DIRECT_REQ2, and a
/// chain that loops back to echo.
pub fn call_chains(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let words = command32(
        c,
        "echo forwards ECHO to relay",
        ECHO_ID,
        Command::Forward,
        &[u64::from(RELAY_ID), Command::Echo.code(), 5, 6],
    )?;
    expect_reply("relay's response", words[1], Reply::Response(Status::OK))?;
    expect_words("relay's echo", &[5, 6, 0], &words[2..])?;

    let words = command32(
        c,
        "echo forwards WHO_AM_I to relay's second UUID",
        ECHO_ID,
        Command::Forward2,
        &[u64::from(RELAY_ID), 1, Command::WhoAmI.code()],
    )?;
    expect_reply("relay's response", words[1], Reply::Response(Status::OK))?;
    // The chain runs on the home core: relay (MP) answers from that core's context.
    let expected = [
        u64::from(RELAY_ID) << 16 | u64::from(c.core(0)),
        Transport::Req2.word(),
        1,
    ];
    expect_words("relay's WHO_AM_I", &expected, &words[2..])?;

    // NWd → echo → relay → echo: relay's request closes a loop.
    let words = command32(
        c,
        "echo forwards a forward back to echo",
        ECHO_ID,
        Command::Forward,
        &[
            u64::from(RELAY_ID),
            Command::Forward.code(),
            u64::from(ECHO_ID),
            Command::Echo.code(),
        ],
    )?;
    expect_reply("relay's response", words[1], Reply::Response(Status::OK))?;
    expect_reply(
        "relay's request back to echo",
        words[2],
        Reply::Error(i32::from(FfaError::Denied)),
    )?;
    command32(c, "ECHO after the loop", ECHO_ID, Command::Echo, &[])?;
    Ok(())
}

/// Requests a partition may not send: to no partition, to the normal world, to itself, by
/// DIRECT_REQ2 to a partition that does not receive it or to a UUID it lacks, and DIRECT_REQ2
/// from a v1.1 partition, for which the function does not exist.
pub fn partition_request_rejections(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let forwards: [(&str, u16, Command, u64, u64, FfaError); 6] = [
        (
            "echo forwards to no partition",
            ECHO_ID,
            Command::Forward,
            0x8009,
            0,
            FfaError::InvalidParameters,
        ),
        (
            "echo forwards to the normal world",
            ECHO_ID,
            Command::Forward,
            u64::from(HOST_ID),
            0,
            FfaError::InvalidParameters,
        ),
        (
            "echo forwards to itself",
            ECHO_ID,
            Command::Forward,
            u64::from(ECHO_ID),
            0,
            FfaError::InvalidParameters,
        ),
        (
            "echo forwards by DIRECT_REQ2 to legacy",
            ECHO_ID,
            Command::Forward2,
            u64::from(LEGACY_ID),
            0,
            FfaError::Denied,
        ),
        (
            "echo forwards by DIRECT_REQ2 to an unknown UUID",
            ECHO_ID,
            Command::Forward2,
            u64::from(RELAY_ID),
            uuid_selector::FOREIGN,
            FfaError::InvalidParameters,
        ),
        (
            "legacy forwards by DIRECT_REQ2",
            LEGACY_ID,
            Command::Forward2,
            u64::from(RELAY_ID),
            0,
            FfaError::NotSupported,
        ),
    ];
    for (what, from, command, dst, selector, code) in forwards {
        let args: &[u64] = if command == Command::Forward2 {
            &[dst, selector, Command::Echo.code()]
        } else {
            &[dst, Command::Echo.code()]
        };
        let words = command32(c, what, from, command, args)?;
        expect_reply(what, words[1], Reply::Error(i32::from(code)))?;
    }
    Ok(())
}

/// A partition claiming another source ID in its request.
pub fn spoofed_source_from_partition(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    for (what, claimed) in [
        ("echo sends as legacy", LEGACY_ID),
        ("echo sends as the normal world", HOST_ID),
    ] {
        let words = command32(
            c,
            what,
            ECHO_ID,
            Command::Spoof,
            &[u64::from(RELAY_ID), u64::from(claimed)],
        )?;
        expect_call(
            what,
            words[1],
            CallStatus::error(FfaError::InvalidParameters),
        )?;
    }
    Ok(())
}

/// A partition responding to an endpoint that did not send the request, then to the one that
/// did.
pub fn wrong_responder(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    for (what, wrong) in [
        ("echo responds to relay", RELAY_ID),
        ("echo responds to another normal-world ID", 5),
    ] {
        let words = command32(
            c,
            what,
            ECHO_ID,
            Command::RespondToWrong,
            &[u64::from(wrong)],
        )?;
        expect_call(what, words[1], CallStatus::error(FfaError::Denied))?;
    }
    Ok(())
}

/// FFA_MSG_WAIT while handling a request is refused; the request is then answered.
pub fn msg_wait_while_busy(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let words = command32(
        c,
        "echo waits while busy",
        ECHO_ID,
        Command::MsgWaitWhileBusy,
        &[],
    )?;
    expect_call(
        "FFA_MSG_WAIT while handling a request",
        words[1],
        CallStatus::error(FfaError::Denied),
    )
}
