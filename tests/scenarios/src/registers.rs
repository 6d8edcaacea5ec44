//! SMCCC register conventions across the stack: an SMC32 call's x8..x17 belong to the caller
//! (SMCCC v1.2 §2.6, which pKVM's `ffa_set_retval` cites), whoever answers it: the SPMC
//! itself, or a partition through the SPMC. And they stay the caller's: a DIRECT_REQ (32 or
//! 64) carries x0..x7 only, so its receiver finds in x8..x17 what it last had there itself.

use ffa::call::encode;
use ffa::{DirectMsgArgs, FfaError, FuncId, Interface, Regs, Version};
use test_partitions::protocol::{Command, NOT_ON_THIS_CPU, Reply, Status};
use test_partitions::{ECHO_ID, RELAY_ID};

use crate::Client;
use crate::calls::{HOST_ID, start};
use crate::check::{
    Failure, expect_eq, expect_error, expect_reply, expect_status, expect_success, expect_words,
};
use crate::sp::{command32_on, response32, response64};

/// `regs` with x8..x17 set to a pattern nobody else writes.
fn marked(mut regs: Regs) -> Regs {
    for (i, r) in regs.iter_mut().enumerate().skip(8) {
        *r = 0xc0de_0000_0000_0000 | (i as u64) << 8 | i as u64;
    }
    regs
}

/// FFA_FEATURES (answered by the SPMC), a refused FFA_RX_RELEASE and a DIRECT_REQ_32
/// answered by echo all give the caller's x8..x17 back.
pub fn smc32_calls_preserve_x8_to_x17(c: &mut dyn Client) -> Result<(), Failure> {
    start(c, Version(1, 2))?;
    let mut features = [0; 18];
    features[0] = u64::from(u32::from(FuncId::Features));
    features[1] = u64::from(u32::from(FuncId::Version));
    let features = marked(features);
    let answer = c.call_on(0, &features);
    expect_success("FFA_FEATURES(FFA_VERSION)", &answer)?;
    expect_words("x8..x17 after FFA_FEATURES", &features[8..], &answer[8..])?;

    let release = marked(encode(&Interface::RxRelease { vm_id: 0 }));
    let answer = c.call_on(0, &release);
    expect_error("FFA_RX_RELEASE not owned", &answer, FfaError::Denied)?;
    expect_words("x8..x17 after a refusal", &release[8..], &answer[8..])?;

    let request = marked(encode(&Interface::MsgSendDirectReq {
        src_id: HOST_ID,
        dst_id: ECHO_ID,
        args: DirectMsgArgs::Args32([Command::Echo as u32, 1, 2, 3, 4]),
    }));
    let answer = c.call_on(0, &request);
    let words = response32("DIRECT_REQ_32 to echo", &answer, ECHO_ID)?;
    expect_status("echo's response", words[0], Status::OK)?;
    expect_words("x8..x17 after echo's response", &request[8..], &answer[8..])
}

/// DIRECT_REQ_32 and DIRECT_REQ_64 from the normal world, with x8..x17 full of the sender's
/// values, to echo (UP) and relay (MP): UPPER finds none of them in x8..x17, only what the
/// receiver last had there; the sender gets its own back with the response.
pub fn direct_req_receiver_sees_its_own_x8_to_x17(c: &mut dyn Client) -> Result<(), Failure> {
    start(c, Version(1, 2))?;
    for dst in [ECHO_ID, RELAY_ID] {
        for wide in [false, true] {
            let args = if wide {
                let mut words = [0; 15];
                words[0] = Command::Upper.code();
                DirectMsgArgs::Args64(words)
            } else {
                DirectMsgArgs::Args32([Command::Upper as u32, 0, 0, 0, 0])
            };
            let request = marked(encode(&Interface::MsgSendDirectReq {
                src_id: HOST_ID,
                dst_id: dst,
                args,
            }));
            let answer = c.call_on(0, &request);
            let words = if wide {
                response64("DIRECT_REQ_64 UPPER", &answer, dst)?
            } else {
                response32("DIRECT_REQ_32 UPPER", &answer, dst)?
            };
            expect_status("UPPER's response", words[0], Status::OK)?;
            expect_eq(
                "receiver's x8..x17 not its own (a bit per register, x8 = bit 0)",
                0,
                words[1],
            )?;
            if !wide {
                expect_words(
                    "x8..x17 after UPPER's response",
                    &request[8..],
                    &answer[8..],
                )?;
            }
        }
    }
    Ok(())
}

/// Bit 16 of a function ID (SMCCC, FF-A v1.2 §10.5): no SVE state beyond FP/SIMD is live.
const SVE_HINT: u64 = 1 << 16;

/// A DIRECT_REQ_32 to echo (UP, on CPUs 0 and 1) and to relay (MP) made with known values in
/// every SVE register, FPCR and FPSR: all of it must come back (with the SVE hint, which
/// promises nothing beyond FP/SIMD is live, that part). echo and relay never touch FP/SIMD
/// here: the SPMC must leave the registers alone, or save and restore them
/// (`partition_fp_state_follows_its_context` has partitions take them). Where the CPU has no
/// SVE (in-process) there is nothing to check; the scenario machine on QEMU has SVE.
pub fn normal_world_sve_state_survives(c: &mut dyn Client) -> Result<(), Failure> {
    start(c, Version(1, 2))?;
    let mut features = [0; 18];
    features[0] = u64::from(u32::from(FuncId::Features));
    features[1] = u64::from(u32::from(FuncId::Version));
    if let Some((lost, answer)) = c.sve_call(0, &features) {
        expect_success("FFA_FEATURES made with SVE state", &answer)?;
        expect_eq(
            "SVE registers lost across FFA_FEATURES (answered by the SPMC)",
            0,
            lost,
        )?;
    }
    for (cpu, dst, hint, what) in [
        (
            0,
            ECHO_ID,
            false,
            "SVE registers lost across a DIRECT_REQ to echo",
        ),
        (
            1,
            ECHO_ID,
            false,
            "SVE registers lost across a DIRECT_REQ to echo on CPU 1",
        ),
        (
            0,
            RELAY_ID,
            false,
            "SVE registers lost across a DIRECT_REQ to relay",
        ),
        (
            0,
            ECHO_ID,
            true,
            "FP/SIMD parts lost across a DIRECT_REQ to echo with the SVE hint",
        ),
    ] {
        let mut call = encode(&Interface::MsgSendDirectReq {
            src_id: HOST_ID,
            dst_id: dst,
            args: DirectMsgArgs::Args32([Command::Echo as u32, 5, 6, 7, 8]),
        });
        if hint {
            call[0] |= SVE_HINT;
        }
        let Some((lost, answer)) = c.sve_call(cpu, &call) else {
            // The scenario machine on QEMU has SVE: only in-process may it be missing.
            expect_eq(
                "a client on QEMU without SVE (1: yes)",
                0,
                u64::from(c.on_hardware()),
            )?;
            return Ok(());
        };
        let words = response32("ECHO made with SVE state", &answer, dst)?;
        expect_status("ECHO's status", words[0], Status::OK)?;
        expect_words("ECHO's words", &[5, 6, 7, 8], &words[1..])?;
        expect_eq(what, 0, lost)?;
    }
    Ok(())
}

/// echo (UP) and relay (MP) use their FP/SIMD registers (FP: check the pattern the context's
/// previous FP left in V0..V31, FPCR and FPSR, then leave a new one), each request made with
/// the normal world's SVE state, FPCR and FPSR live (with and without the SVE hint), which
/// must come back. The SPMC switches FP/SIMD state lazily, at a context's first access: each
/// context must find its own after the normal world ran, after the other partition took the
/// registers on its core, on another core (echo moves between CPUs 0 and 1), and after
/// another context took them inside one call chain (relay forwards FP to echo). In-process
/// there is no FP/SIMD: the partitions say so, and only which seed each context last left is
/// checked.
pub fn partition_fp_state_follows_its_context(c: &mut dyn Client) -> Result<(), Failure> {
    start(c, Version(1, 2))?;
    let clean = if c.on_hardware() { 0 } else { NOT_ON_THIS_CPU };
    let found = |words: &[u64], last: u64| -> Result<(), Failure> {
        expect_eq(
            "V registers that lost the context's pattern (V<n> = bit n)",
            clean,
            words[0],
        )?;
        expect_eq(
            "FPCR (bit 0) and FPSR (bit 1) that lost the context's pattern",
            clean,
            words[1],
        )?;
        expect_eq("seed of the pattern the context left last", last, words[2])
    };
    // CPU, partition, seed, the seed it left last, SVE hint.
    for (cpu, dst, seed, last, hint) in [
        (0, ECHO_ID, 1, 0, false),
        (0, RELAY_ID, 2, 0, false),
        (1, ECHO_ID, 3, 1, false),
        (1, RELAY_ID, 4, 0, true),
        (0, ECHO_ID, 5, 3, true),
        (0, RELAY_ID, 6, 2, false),
        (1, RELAY_ID, 7, 4, false),
    ] {
        let mut call = encode(&Interface::MsgSendDirectReq {
            src_id: HOST_ID,
            dst_id: dst,
            args: DirectMsgArgs::Args32([Command::Fp as u32, seed, 0, 0, 0]),
        });
        if hint {
            call[0] |= SVE_HINT;
        }
        let answer = match c.sve_call(cpu, &call) {
            Some((lost, answer)) => {
                expect_eq(
                    "normal-world registers lost across FP (Z<n> = bit n, P<n> = bit 32 + n, \
                     FFR bit 48, FPCR bit 49, FPSR bit 50)",
                    0,
                    lost,
                )?;
                answer
            }
            None => {
                expect_eq(
                    "a client on QEMU without SVE (1: yes)",
                    0,
                    u64::from(c.on_hardware()),
                )?;
                c.call_on(cpu, &call)
            }
        };
        let words = response32("FP's response", &answer, dst)?;
        expect_status("FP's status", words[0], Status::OK)?;
        found(&words[1..4], last)?;
    }
    let words = command32_on(
        c,
        0,
        "relay forwards FP to echo",
        RELAY_ID,
        Command::Forward,
        &[u64::from(ECHO_ID), Command::Fp.code(), 8],
    )?;
    expect_reply(
        "echo's answer to relay",
        words[1],
        Reply::Response(Status::OK),
    )?;
    found(&words[2..5], 5)?;
    let words = command32_on(
        c,
        0,
        "FP to relay after echo's",
        RELAY_ID,
        Command::Fp,
        &[9],
    )?;
    found(&words[1..4], 6)?;
    let words = command32_on(c, 1, "FP to echo on CPU 1", ECHO_ID, Command::Fp, &[10])?;
    found(&words[1..4], 8)
}
