//! CPU cycles and call chains: FFA_YIELD, FFA_RUN, busy partitions, requests between
//! partitions and the runtime-model rules the SPMC enforces on them.
//!
//! Codes (FF-A v1.2 §8.3 runtime-model rules; Hafnium's `api_ffa_run`, `api_yield`,
//! `api_ffa_msg_send_direct_resp`, `api_ffa_msg_wait`): a request to a partition already
//! handling one is BUSY; a request or FFA_RUN that would loop back into the call chain is
//! DENIED; a response to anyone but the requester, and FFA_MSG_WAIT while handling a request,
//! are DENIED; FFA_RUN of something that is not a partition's execution context is
//! INVALID_PARAMETERS. A yielded partition resumed by FFA_RUN sees FFA_SUCCESS from FFA_YIELD.
//!
//! Cycles go back to whoever gave them (FF-A v1.2 §8.3, Hafnium's
//! `ffa_cpu_cycles_yield_prepare`): a partition handling another partition's request that
//! yields hands them to that partition, which gets FFA_YIELD naming it and resumes it with
//! FFA_RUN; only the root of a chain yields to the normal world. A partition may FFA_RUN only
//! its own callee that yielded to it (DENIED otherwise, stricter than Hafnium), and while that
//! callee waits it may not send a request, respond or FFA_MSG_WAIT (DENIED); it may yield
//! itself. The normal world may not run a callee a partition's request holds (DENIED), nor
//! move a chain to another core (DENIED).

use ffa::{FfaError, FuncId, Version};
use test_partitions::protocol::{
    CallStatus, Command, Reply, Status, Transport, request, run_probe, uuid_selector,
};
use test_partitions::{ECHO_ID, LEGACY_ID, RELAY_ID};

use crate::calls::{HOST_ID, direct_req2, direct_req32, negotiate, run, run_on};
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

/// echo asks relay to yield and, when relay yields back to it, yields itself: the normal
/// world gets FFA_YIELD naming echo. relay, yielded to echo, is echo's to run: FFA_RUN of it
/// is DENIED, requests to either are BUSY, FFA_RUN of echo from another core is DENIED (the
/// chain stays on its core). FFA_RUN of echo on the home core resumes it; echo runs relay,
/// whose response completes the chain.
pub fn run_busy_target(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let forward = request(
        Command::RunForward,
        &[
            u64::from(RELAY_ID),
            Command::Yield.code(),
            7,
            run_probe::YIELD_ITSELF,
        ],
    );
    let answer = direct_req32(c, HOST_ID, ECHO_ID, forward);
    expect_function(
        "a chain whose partitions yield one after the other",
        &answer,
        FuncId::Yield32,
    )?;
    expect_eq(
        "FFA_YIELD names echo, the root of the chain",
        u64::from(ECHO_ID) << 16,
        answer[1] & 0xffff_ffff,
    )?;
    // The chain runs on the home core, so relay's context is that core's.
    let relay_ctx = c.core(0);
    expect_error(
        "FFA_RUN of relay, yielded to echo",
        &run(c, RELAY_ID, relay_ctx),
        FfaError::Denied,
    )?;
    expect_error(
        "FFA_RUN of echo from another core",
        &run_on(c, 1, ECHO_ID, 0),
        FfaError::Denied,
    )?;
    let echo = [Command::Echo.code(), 0, 0, 0, 0];
    for (what, dst) in [
        ("DIRECT_REQ to echo, yielded", ECHO_ID),
        ("DIRECT_REQ to relay, yielded to echo", RELAY_ID),
    ] {
        expect_error(what, &direct_req32(c, HOST_ID, dst, echo), FfaError::Busy)?;
    }
    let answer = run(c, ECHO_ID, 0);
    let words = response32("FFA_RUN of the yielded echo", &answer, ECHO_ID)?;
    expect_status("echo's response", words[0], Status::OK)?;
    expect_reply("relay's response", words[1], Reply::Response(Status::OK))?;
    expect_eq("FFA_YIELDs echo saw from relay", 1, words[2])?;
    expect_call(
        "relay's FFA_YIELD when echo resumed it",
        words[3],
        CallStatus::Success,
    )?;
    expect_call(
        "echo's own FFA_YIELD when resumed",
        words[4],
        CallStatus::Success,
    )?;
    command32(
        c,
        "ECHO to echo after the chain",
        ECHO_ID,
        Command::Echo,
        &[],
    )?;
    command32(
        c,
        "ECHO to relay after the chain",
        RELAY_ID,
        Command::Echo,
        &[],
    )?;
    Ok(())
}

/// A partition's request answered with FFA_YIELD: the callee yielded its cycles back to the
/// requester, which runs it with FFA_RUN until it responds. relay (the home core's context)
/// runs echo through three yields; echo runs relay through one.
pub fn partition_runs_its_yielded_callee(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let words = command32(
        c,
        "relay forwards YIELD_TIMES 3 to echo and runs it at each yield",
        RELAY_ID,
        Command::RunForward,
        &[u64::from(ECHO_ID), Command::YieldTimes.code(), 3],
    )?;
    expect_reply(
        "echo's response to relay",
        words[1],
        Reply::Response(Status::OK),
    )?;
    expect_eq("FFA_YIELDs relay saw from echo", 3, words[2])?;
    expect_eq("echo's FFA_YIELDs that returned FFA_SUCCESS", 3, words[3])?;
    expect_call("no probe", words[4], CallStatus::NotCalled)?;
    let words = command32(
        c,
        "echo forwards YIELD to relay and runs it at its yield",
        ECHO_ID,
        Command::RunForward,
        &[u64::from(RELAY_ID), Command::Yield.code(), 5],
    )?;
    expect_reply(
        "relay's response to echo",
        words[1],
        Reply::Response(Status::OK),
    )?;
    expect_eq("FFA_YIELDs echo saw from relay", 1, words[2])?;
    expect_call(
        "relay's FFA_YIELD when echo resumed it",
        words[3],
        CallStatus::Success,
    )?;
    command32(c, "ECHO to echo afterwards", ECHO_ID, Command::Echo, &[])?;
    command32(c, "ECHO to relay afterwards", RELAY_ID, Command::Echo, &[])?;
    Ok(())
}

/// While its callee waits for it to FFA_RUN it, a partition may not ask it (or anyone) again,
/// respond to its own requester or FFA_MSG_WAIT: each is DENIED, and the chain then completes.
pub fn requester_waits_for_its_yielded_callee(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    for (what, probe) in [
        ("relay asks echo again", run_probe::REQUEST_CALLEE),
        ("relay responds to the normal world", run_probe::RESPOND),
        ("relay calls FFA_MSG_WAIT", run_probe::MSG_WAIT),
    ] {
        let words = command32(
            c,
            what,
            RELAY_ID,
            Command::RunForward,
            &[u64::from(ECHO_ID), Command::Yield.code(), 0, probe],
        )?;
        expect_reply(what, words[1], Reply::Response(Status::OK))?;
        expect_eq(what, 1, words[2])?;
        expect_call(what, words[4], CallStatus::error(FfaError::Denied))?;
    }
    command32(c, "ECHO to echo afterwards", ECHO_ID, Command::Echo, &[])?;
    Ok(())
}

/// FFA_RUN from a partition of anything but its own callee that yielded to it: a context
/// that is waiting, one that yielded to the normal world, itself, one before it in its chain,
/// a normal-world ID (DENIED), no partition or another core's context (INVALID_PARAMETERS).
pub fn partition_run_rejections(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let relay_ctx = c.core(0);
    let other_core = (relay_ctx + 1) % CPUS;
    let run_fid = u64::from(u32::from(FuncId::Run32));
    let target = |id: u16, vcpu: u16| u64::from(id) << 16 | u64::from(vcpu);
    let cases = [
        (
            "echo runs relay, which waits",
            target(RELAY_ID, relay_ctx),
            FfaError::Denied,
        ),
        ("echo runs itself", target(ECHO_ID, 0), FfaError::Denied),
        (
            "echo runs a normal-world ID",
            target(HOST_ID, 0),
            FfaError::Denied,
        ),
        (
            "echo runs no partition",
            target(0x8009, 0),
            FfaError::InvalidParameters,
        ),
        (
            "echo runs relay's context of another core",
            target(RELAY_ID, other_core),
            FfaError::InvalidParameters,
        ),
    ];
    let what = "echo's FFA_FEATURES(FFA_RUN)";
    let features = u64::from(u32::from(FuncId::Features));
    let words = command32(c, what, ECHO_ID, Command::Call, &[features, run_fid])?;
    expect_eq(what, u64::from(u32::from(FuncId::Success32)), words[1])?;
    for (what, w1, code) in cases {
        let words = command32(c, what, ECHO_ID, Command::Call, &[run_fid, w1])?;
        expect_eq(what, u64::from(u32::from(FuncId::Error32)), words[1])?;
        expect_eq(what, u64::from(i32::from(code) as u32), words[3])?;
    }
    // relay yields to the normal world: it is not echo's to run.
    let answer = direct_req32(c, HOST_ID, RELAY_ID, request(Command::Yield, &[1]));
    expect_function("relay yields to the normal world", &answer, FuncId::Yield32)?;
    let what = "echo runs relay, yielded to the normal world";
    let words = command32(
        c,
        what,
        ECHO_ID,
        Command::Call,
        &[run_fid, target(RELAY_ID, relay_ctx)],
    )?;
    expect_eq(
        what,
        u64::from(i32::from(FfaError::Denied) as u32),
        words[3],
    )?;
    let words = response32(
        "FFA_RUN of relay by the normal world",
        &run(c, RELAY_ID, relay_ctx),
        RELAY_ID,
    )?;
    expect_call("relay's FFA_YIELD", words[1], CallStatus::Success)?;
    // NWd → echo → relay, which tries to run echo, before it in its chain.
    let what = "relay runs echo, its requester";
    let words = command32(
        c,
        what,
        ECHO_ID,
        Command::Forward,
        &[
            u64::from(RELAY_ID),
            Command::Call.code(),
            run_fid,
            target(ECHO_ID, 0),
        ],
    )?;
    expect_reply(what, words[1], Reply::Response(Status::OK))?;
    expect_eq(what, u64::from(u32::from(FuncId::Error32)), words[2])?;
    expect_eq(
        what,
        u64::from(i32::from(FfaError::Denied) as u32),
        words[4],
    )?;
    command32(c, "ECHO to relay afterwards", RELAY_ID, Command::Echo, &[])?;
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
