//! Calls that are not the SPMC's: non-FF-A SMCs pass through every layer untouched, and the
//! FF-A calls only secure endpoints make are refused to the normal world.

use ffa::{FfaError, FuncId, Version};

use crate::Client;
use crate::calls::{negotiate, raw};
use crate::check::{Failure, expect_eq, expect_error, expect_words};

/// PSCI_VERSION's function ID.
pub const PSCI_VERSION: u32 = 0x8400_0000;
/// What PSCI_VERSION answers on the target (TF-A v2.12 implements PSCI 1.1; the harness's EL3
/// model answers the same).
pub const PSCI_VERSION_1_1: u64 = 0x1_0001;

/// SMCCC's "unknown function" answer, -1 in x0.
pub const SMC_UNKNOWN: u64 = u64::MAX;
/// A function ID in FF-A's range (function number 0xfe) that no FF-A version defines.
pub const UNDEFINED_FFA_FUNCTION: u64 = 0x8400_00fe;

/// PSCI_VERSION with every argument register set: x0 is EL3's answer and x1..x17 come back
/// as they went (TF-A answers with `SMC_RET1`; the proxy must neither filter nor rewrite),
/// before and after FF-A negotiation.
pub fn non_ffa_call_untouched(c: &mut dyn Client) -> Result<(), Failure> {
    let mut regs = [0u64; 18];
    regs[0] = u64::from(PSCI_VERSION);
    for (i, r) in regs.iter_mut().enumerate().skip(1) {
        *r = 0x5a5a_0000_0000_0000 | (i as u64) << 32 | i as u64;
    }
    let answer = c.call_on(0, &regs);
    expect_eq(
        "PSCI_VERSION before FFA_VERSION",
        PSCI_VERSION_1_1,
        answer[0],
    )?;
    expect_words("x1..x17 after PSCI_VERSION", &regs[1..], &answer[1..])?;
    negotiate(c, Version(1, 2))?;
    let answer = c.call_on(0, &regs);
    expect_eq(
        "PSCI_VERSION after FFA_VERSION",
        PSCI_VERSION_1_1,
        answer[0],
    )?;
    expect_words("x1..x17 after PSCI_VERSION", &regs[1..], &answer[1..])
}

/// FF-A calls only a partition or the SPMC makes are NOT_SUPPORTED from the normal world
/// (TF-A's SPMD refuses them; the proxy blocks them), and so is a function FF-A does not
/// define.
pub fn secure_only_calls_from_normal_world(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, Version(1, 2))?;
    let fid = |f: FuncId| u64::from(u32::from(f));
    let cases = [
        ("FFA_MSG_WAIT from the normal world", fid(FuncId::MsgWait32)),
        ("FFA_YIELD from the normal world", fid(FuncId::Yield32)),
        (
            "FFA_SECONDARY_EP_REGISTER from the normal world",
            fid(FuncId::SecondaryEpRegister64),
        ),
        (
            "FFA_CONSOLE_LOG from the normal world",
            fid(FuncId::ConsoleLog32),
        ),
    ];
    for (what, x0) in cases {
        expect_error(what, &raw(c, &[x0]), FfaError::NotSupported)?;
    }
    // A function number FF-A reserves but nobody defines: the proxy refuses it as FF-A; EL3
    // knows FF-A only up to the last function it implements, so its dispatcher answers
    // SMCCC's "unknown function" (-1 in x0) instead.
    let answer = raw(c, &[UNDEFINED_FFA_FUNCTION]);
    if c.behind_proxy() {
        expect_error(
            "an undefined FF-A function",
            &answer,
            FfaError::NotSupported,
        )
    } else {
        expect_eq("an undefined FF-A function", SMC_UNKNOWN, answer[0])
    }
}
