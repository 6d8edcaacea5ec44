//! Register decode and encode of FF-A calls.
//!
//! Everything here treats the registers as untrusted: decoding never panics, and a caller's
//! negotiated version decides which functions exist for it. `arm-ffa` always decodes with the
//! v1.2 register convention (its only safe setting for every function we handle); the version
//! gate and the pre-v1.2 register rules are applied here.

use arm_ffa::interface_args::{DirectMsgArgs, SuccessArgs, TargetInfo};
use arm_ffa::{FfaError, FuncId, Interface, Version};

/// x0..x17 of an SMCCC 1.2 call or return.
pub type Regs = [u64; 18];

/// SMCCC's "no live SVE state" hint; callers may set it, it is not part of the function ID.
const SVE_HINT: u32 = 1 << 16;
/// SMC64 calling-convention bit of a function ID.
const SMC64: u32 = 1 << 30;

/// The version `arm-ffa` decodes and encodes with (see the module comment).
const CODEC_VERSION: Version = Version(1, 2);

/// The function ID in x0, with the SVE hint cleared.
pub const fn function_id(regs: &Regs) -> u32 {
    (regs[0] as u32) & !SVE_HINT
}

/// Whether `fid` lies in the range FF-A owns (function numbers 0x60..=0xFF of the standard
/// secure service, SMC32 or SMC64, fast call).
pub const fn is_ffa(fid: u32) -> bool {
    let base = fid & !SMC64;
    base & 0xffff_ff00 == 0x8400_0000 && (base & 0xff) >= 0x60
}

/// `FuncId::try_from(fid)`, with the calls of the SPMC's fast path compared first (the general
/// lookup costs tens of instructions).
pub fn lookup(fid: u32) -> Option<FuncId> {
    fast_path(fid).or_else(|| FuncId::try_from(fid).ok())
}

/// The function `fid` names if it is one of the SPMC's fast path (direct REQ/RESP 32 and 64,
/// FFA_FEATURES, FFA_PARTITION_INFO_GET, FFA_ID_GET), compared as constants; `None` for any
/// other.
#[inline]
pub fn fast_path(fid: u32) -> Option<FuncId> {
    const REQ32: u32 = FuncId::MsgSendDirectReq32 as u32;
    const RESP32: u32 = FuncId::MsgSendDirectResp32 as u32;
    const REQ64: u32 = FuncId::MsgSendDirectReq64 as u32;
    const RESP64: u32 = FuncId::MsgSendDirectResp64 as u32;
    const FEATURES: u32 = FuncId::Features as u32;
    const PARTITION_INFO_GET: u32 = FuncId::PartitionInfoGet as u32;
    const ID_GET: u32 = FuncId::IdGet as u32;
    match fid {
        REQ32 => Some(FuncId::MsgSendDirectReq32),
        RESP32 => Some(FuncId::MsgSendDirectResp32),
        REQ64 => Some(FuncId::MsgSendDirectReq64),
        RESP64 => Some(FuncId::MsgSendDirectResp64),
        FEATURES => Some(FuncId::Features),
        PARTITION_INFO_GET => Some(FuncId::PartitionInfoGet),
        ID_GET => Some(FuncId::IdGet),
        _ => None,
    }
}

/// What a register set means to a callee at a given negotiated version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A well-formed FF-A call.
    Call(Interface),
    /// A function ID in FF-A's range that this implementation does not know.
    UnknownFfa(u32),
    /// A known function that does not exist at the caller's negotiated version.
    NotAtVersion(FuncId),
    /// A known function whose arguments are malformed, with the error to answer.
    Malformed(FuncId, FfaError),
    /// Not an FF-A call at all (PSCI, SMCCC arch, vendor services...).
    NotFfa(u32),
}

/// Decodes `regs` as sent by an endpoint that negotiated `version`.
pub fn decode(regs: &Regs, version: Version) -> Decoded {
    let fid = function_id(regs);
    if !is_ffa(fid) {
        return Decoded::NotFfa(fid);
    }
    let Ok(func) = FuncId::try_from(fid) else {
        return Decoded::UnknownFfa(fid);
    };
    if func.minimum_ffa_version() > version {
        return Decoded::NotAtVersion(func);
    }
    let mut norm = *regs;
    norm[0] = u64::from(fid);
    if func.is_32bit() {
        // SMC32: only the low halves of w1..w7 carry arguments.
        for r in &mut norm[1..8] {
            *r &= 0xffff_ffff;
        }
    }
    if matches!(
        func,
        FuncId::MemDonate64 | FuncId::MemLend64 | FuncId::MemShare64 | FuncId::MemRetrieveReq64
    ) {
        // Lengths and the page count are 32-bit fields even in the SMC64 forms.
        for i in [1, 2, 4] {
            norm[i] &= 0xffff_ffff;
        }
    }
    if version < CODEC_VERSION {
        // Before v1.2 only x0..x7 carry arguments; x8..x17 belong to the caller.
        norm[8..].fill(0);
    }
    match Interface::from_regs(CODEC_VERSION, &norm) {
        Ok(call) => Decoded::Call(call),
        Err(e) => Decoded::Malformed(func, codec_error(e)),
    }
}

/// The FF-A error for an `arm-ffa` decode error.
///
/// arm-ffa 0.5.0's own `From<Error> for FfaError` recurses forever on its nested error
/// variants, so those are mapped here and never reach it.
fn codec_error(e: arm_ffa::Error) -> FfaError {
    match e {
        arm_ffa::Error::MemoryManagementError(_)
        | arm_ffa::Error::NotificationError(_)
        | arm_ffa::Error::PartitionInfoError(_) => FfaError::InvalidParameters,
        other => other.into(),
    }
}

/// Registers for an FF-A call or return we construct ourselves.
pub fn encode(call: &Interface) -> Regs {
    let mut regs = [0u64; 18];
    call.to_regs(CODEC_VERSION, &mut regs);
    regs
}

/// Like [`encode`], but x8..x17 keep the values of `request` whenever the answer does not use
/// them, as SMCCC 1.2 asks of a callee.
pub fn encode_preserving(call: &Interface, request: &Regs) -> Regs {
    let mut regs = encode(call);
    if uses_only_x0_x7(call) {
        regs[8..].copy_from_slice(&request[8..]);
    }
    regs
}

fn uses_only_x0_x7(call: &Interface) -> bool {
    !matches!(
        call,
        Interface::Success {
            args: SuccessArgs::Args64(_),
            ..
        } | Interface::MsgSendDirectReq {
            args: DirectMsgArgs::Args64(_),
            ..
        } | Interface::MsgSendDirectResp {
            args: DirectMsgArgs::Args64(_),
            ..
        } | Interface::MsgSendDirectReq2 { .. }
            | Interface::MsgSendDirectResp2 { .. }
            | Interface::ConsoleLog { .. }
    )
}

/// Writes FFA_ERROR (SMC32) with `code` into x0..x7, as [`error`] encodes it: the hot
/// paths answer in place instead of building and copying a whole register block.
pub fn put_error(x0_x7: &mut [u64; 8], code: FfaError) {
    *x0_x7 = [
        u64::from(u32::from(FuncId::Error32)),
        0,
        u64::from(code as i32 as u32),
        0,
        0,
        0,
        0,
        0,
    ];
}

/// Writes FFA_SUCCESS (SMC32) with w2..w7 = `args` into x0..x7, as [`success32`] encodes it.
pub fn put_success32(x0_x7: &mut [u64; 8], args: [u32; 6]) {
    let [a2, a3, a4, a5, a6, a7] = args;
    *x0_x7 = [
        u64::from(u32::from(FuncId::Success32)),
        0,
        u64::from(a2),
        u64::from(a3),
        u64::from(a4),
        u64::from(a5),
        u64::from(a6),
        u64::from(a7),
    ];
}

/// FFA_ERROR (SMC32) with `code`.
pub fn error(code: FfaError) -> Regs {
    encode(&Interface::error(code, true))
}

/// FFA_SUCCESS (SMC32) with w2..w7.
pub fn success32(args: [u32; 6]) -> Regs {
    encode(&Interface::Success {
        target_info: TargetInfo {
            endpoint_id: 0,
            vcpu_id: 0,
        },
        args: SuccessArgs::Args32(args),
    })
}

/// The FF-A error an answer carries, if it is FFA_ERROR.
pub fn error_code(regs: &Regs) -> Option<FfaError> {
    let fid = function_id(regs);
    if fid != u32::from(FuncId::Error32) && fid != u32::from(FuncId::Error64) {
        return None;
    }
    FfaError::try_from(regs[2] as u32 as i32).ok()
}

/// Whether an answer is FFA_SUCCESS (either width).
pub fn is_success(regs: &Regs) -> bool {
    let fid = function_id(regs);
    fid == u32::from(FuncId::Success32) || fid == u32::from(FuncId::Success64)
}

#[cfg(test)]
mod tests {

    #[test]
    fn lookup_agrees_with_the_codec() {
        for base in (0x60..=0xff).map(|n| 0x8400_0000 | n) {
            for fid in [base, base | SMC64, base | SVE_HINT, 0] {
                assert_eq!(lookup(fid), FuncId::try_from(fid).ok(), "{fid:#x}");
            }
        }
    }

    #[test]
    fn the_fast_path_names_its_seven_calls_only() {
        use FuncId as F;
        let seven = [
            F::MsgSendDirectReq32,
            F::MsgSendDirectReq64,
            F::MsgSendDirectResp32,
            F::MsgSendDirectResp64,
            F::Features,
            F::PartitionInfoGet,
            F::IdGet,
        ];
        for base in (0x60..=0xff).map(|n| 0x8400_0000 | n) {
            for fid in [base, base | SMC64, base | SVE_HINT] {
                let known = FuncId::try_from(fid).ok();
                let expected = known.filter(|f| seven.contains(f));
                assert_eq!(fast_path(fid), expected, "{fid:#x}");
            }
        }
    }

    #[test]
    fn in_place_answers_match_the_codec() {
        use arm_ffa::FfaError as E;
        for code in [
            E::NotSupported,
            E::InvalidParameters,
            E::NoMemory,
            E::Busy,
            E::Interrupted,
            E::Denied,
            E::Retry,
            E::Aborted,
            E::NoData,
        ] {
            let mut x = [7u64; 8];
            put_error(&mut x, code);
            assert_eq!(x[..], error(code)[..8], "{code:?}");
        }
        for args in [[0; 6], [1, 2, 3, 4, 5, 6], [u32::MAX; 6]] {
            let mut x = [7u64; 8];
            put_success32(&mut x, args);
            assert_eq!(x[..], success32(args)[..8], "{args:?}");
        }
    }

    use super::*;

    fn regs(x: &[u64]) -> Regs {
        let mut r = [0; 18];
        r[..x.len()].copy_from_slice(x);
        r
    }

    #[test]
    fn ffa_range() {
        assert!(is_ffa(0x8400_0060));
        assert!(is_ffa(0xc400_008d));
        assert!(is_ffa(0x8400_00ff));
        assert!(!is_ffa(0x8400_0000)); // PSCI_VERSION
        assert!(!is_ffa(0xc400_0003)); // PSCI CPU_ON
        assert!(!is_ffa(0x8200_0060)); // SiP
        assert!(!is_ffa(0x0400_0060)); // yielding call
    }

    #[test]
    fn sve_hint_is_masked() {
        let r = regs(&[0x8401_0069]);
        assert_eq!(decode(&r, Version(1, 2)), Decoded::Call(Interface::IdGet));
    }

    #[test]
    fn version_gates_functions() {
        let req2 = regs(&[0xc400_008d, 0x0000_8001]);
        assert_eq!(
            decode(&req2, Version(1, 1)),
            Decoded::NotAtVersion(FuncId::MsgSendDirectReq64_2)
        );
        assert!(matches!(decode(&req2, Version(1, 2)), Decoded::Call(_)));
        // v1.3-only functions never exist for us.
        let wait64 = regs(&[0xc400_006b]);
        assert_eq!(
            decode(&wait64, Version(1, 2)),
            Decoded::NotAtVersion(FuncId::MsgWait64)
        );
    }

    #[test]
    fn unknown_and_foreign_ids() {
        assert_eq!(
            decode(&regs(&[0x8400_00fe]), Version(1, 2)),
            Decoded::UnknownFfa(0x8400_00fe)
        );
        assert_eq!(
            decode(&regs(&[0xc400_0003]), Version(1, 2)),
            Decoded::NotFfa(0xc400_0003)
        );
    }

    #[test]
    fn direct_req64_before_v1_2_ignores_x8_up() {
        let mut r = regs(&[0xc400_006f, 0x0000_8001, 0, 1, 2, 3, 4, 5]);
        r[8] = 0xdead;
        let Decoded::Call(Interface::MsgSendDirectReq { args, .. }) = decode(&r, Version(1, 1))
        else {
            panic!("not a direct request");
        };
        let DirectMsgArgs::Args64(a) = args else {
            panic!("not 64-bit args")
        };
        assert_eq!(&a[..6], &[1, 2, 3, 4, 5, 0]);
    }

    #[test]
    fn smc32_ignores_upper_halves() {
        let r = regs(&[0x8400_006f, 0xffff_ffff_0000_8001, 0, 7]);
        let Decoded::Call(Interface::MsgSendDirectReq { src_id, dst_id, .. }) =
            decode(&r, Version(1, 2))
        else {
            panic!("not a direct request");
        };
        assert_eq!((src_id, dst_id), (0, 0x8001));
    }

    #[test]
    fn mem_share64_page_count_is_w4() {
        // A page count of 0 in w4 means "no buffer", whatever x4's upper half holds.
        let r = regs(&[0xc400_0073, 0x30, 0x30, 0x1000, 0x1_0000_0000]);
        let Decoded::Call(call) = decode(&r, Version(1, 2)) else {
            panic!("not decoded");
        };
        assert!(matches!(call, Interface::MemShare { buf: None, .. }));
        assert_eq!(decode(&encode(&call), Version(1, 2)), Decoded::Call(call));
    }

    #[test]
    fn nested_codec_errors_do_not_recurse() {
        // PARTITION_INFO_GET with a reserved flag bit: arm-ffa reports a nested error.
        let r = regs(&[0x8400_0068, 0, 0, 0, 0, 0x2]);
        assert_eq!(
            decode(&r, Version(1, 2)),
            Decoded::Malformed(FuncId::PartitionInfoGet, FfaError::InvalidParameters)
        );
    }

    #[test]
    fn error_round_trip_and_preservation() {
        let e = error(FfaError::Busy);
        assert_eq!(e[0], 0x8400_0060);
        assert_eq!(error_code(&e), Some(FfaError::Busy));
        let mut req = [0u64; 18];
        req[9] = 0x1234;
        let kept = encode_preserving(&Interface::error(FfaError::Denied, true), &req);
        assert_eq!(kept[9], 0x1234);
        assert!(!is_success(&kept));
        assert!(is_success(&success32([0; 6])));
    }
}
