//! SMCCC register conventions across the stack: an SMC32 call's x8..x17 belong to the caller
//! (SMCCC v1.2 §2.6, which pKVM's `ffa_set_retval` cites), whoever answers it: the SPMC
//! itself, or a partition through the SPMC. And they stay the caller's: a DIRECT_REQ (32 or
//! 64) carries x0..x7 only, so its receiver finds in x8..x17 what it last had there itself.

use ffa::call::encode;
use ffa::{DirectMsgArgs, FfaError, FuncId, Interface, Regs, Version};
use test_partitions::protocol::{Command, Status};
use test_partitions::{ECHO_ID, RELAY_ID};

use crate::Client;
use crate::calls::{HOST_ID, start};
use crate::check::{Failure, expect_eq, expect_error, expect_status, expect_success, expect_words};
use crate::sp::{response32, response64};

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
/// every SVE register: the SPMC loads the partitions' FP/SIMD registers, which on its own
/// would zero everything above bit 127 of each Z register, so it must save and restore the
/// normal world's whole SVE state. With the SVE hint the caller promises nothing beyond
/// FP/SIMD is live, and only that part must come back. Where the CPU has no SVE (in-process)
/// there is nothing to check; the scenario machine on QEMU has SVE.
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
