//! Answers the proxy builds for the host itself.
//!
//! SMCCC 1.2 asks a callee to preserve x8..x17 unless the answer uses them; none of these does.

use ffa::{FfaError, Interface, Regs, SuccessArgs, TargetInfo};

/// FFA_ERROR with `code`.
pub(crate) fn error(code: FfaError, request: &Regs) -> Regs {
    ffa::call::encode_preserving(&Interface::error(code, true), request)
}

/// FFA_SUCCESS (SMC32) with w2..w7.
pub(crate) fn success(args: [u32; 6], request: &Regs) -> Regs {
    let answer = Interface::Success {
        target_info: TargetInfo::default(),
        args: SuccessArgs::Args32(args),
    };
    ffa::call::encode_preserving(&answer, request)
}

/// An FFA_VERSION answer: just w0 (a version, or -1 for NOT_SUPPORTED).
pub(crate) fn version(w0: u32, request: &Regs) -> Regs {
    let mut regs = *request;
    // Sign-extend: callers compare all of x0 with -1, as TF-A's SPMD returns it.
    regs[0] = i64::from(w0 as i32) as u64;
    regs[1..8].fill(0);
    regs
}

/// FFA_VERSION's NOT_SUPPORTED.
pub(crate) fn version_not_supported(request: &Regs) -> Regs {
    version(FfaError::NotSupported as i32 as u32, request)
}
