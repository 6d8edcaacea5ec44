//! The calls the proxy makes to EL3 on its own behalf, and how it reads EL3's answers.
//!
//! EL3's answers are data like any other: only the fields needed are read, and anything that is
//! neither FFA_SUCCESS nor a well-formed FFA_ERROR counts as a failure.

use ffa::{FfaError, FuncId, Regs, Version};

use crate::HOST_ID;

fn call(func: FuncId, args: &[u64]) -> Regs {
    let mut regs = [0u64; 18];
    regs[0] = u64::from(u32::from(func));
    for (reg, arg) in regs[1..].iter_mut().zip(args) {
        *reg = *arg;
    }
    regs
}

/// FFA_VERSION asking for `v`.
pub(crate) fn version(v: Version) -> Regs {
    call(FuncId::Version, &[u64::from(ffa::version::to_u32(v))])
}

/// FFA_ID_GET.
pub(crate) fn id_get() -> Regs {
    call(FuncId::IdGet, &[])
}

/// FFA_FEATURES for function `func`.
pub(crate) fn features(func: FuncId) -> Regs {
    call(FuncId::Features, &[u64::from(u32::from(func))])
}

/// FFA_RXTX_MAP_64 of the proxy's own buffers.
pub(crate) fn rxtx_map(tx: u64, rx: u64, pages: u32) -> Regs {
    call(FuncId::RxTxMap64, &[tx, rx, u64::from(pages)])
}

/// FFA_RXTX_UNMAP of the proxy's own buffers (ID in w1[31:16]).
pub(crate) fn rxtx_unmap() -> Regs {
    call(FuncId::RxTxUnmap, &[u64::from(HOST_ID.0) << 16])
}

/// FFA_RX_RELEASE of the proxy's RX buffer.
pub(crate) fn rx_release() -> Regs {
    call(FuncId::RxRelease, &[u64::from(HOST_ID.0)])
}

/// The version in an FFA_VERSION answer, or `None` for NOT_SUPPORTED (any w0 with bit 31 set).
pub(crate) fn version_answer(answer: &Regs) -> Option<Version> {
    let w0 = answer[0] as u32;
    if w0 & (1 << 31) != 0 {
        return None;
    }
    Some(Version((w0 >> 16) as u16, w0 as u16))
}

/// Success, or the error EL3 reported (ABORTED when the answer is neither).
pub(crate) fn outcome(answer: &Regs) -> Result<(), FfaError> {
    if ffa::call::is_success(answer) {
        Ok(())
    } else {
        Err(ffa::call::error_code(answer).unwrap_or(FfaError::Aborted))
    }
}
