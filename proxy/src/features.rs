//! FFA_FEATURES: the host only hears of what it can actually use through the proxy.

use ffa::{Feature, FeatureId, FfaError, FuncId, Regs, Version};

use crate::route::{Route, route};
use crate::{Conduit, Proxy, reply};

/// FFA_FEATURES(RXTX_MAP) w2 bits[1:0]: the smallest buffer the callee accepts.
const RXTX_MIN_SIZE: u32 = 0b11;
/// FFA_FEATURES(RXTX_MAP) w2 bits[31:16] (v1.2): the largest buffer, in pages, 0 = no limit.
const RXTX_MAX_PAGES_SHIFT: u32 = 16;

/// The minimum RX/TX buffer size an FFA_FEATURES(RXTX_MAP) answer names, in bytes.
pub(crate) fn rxtx_min_bytes(w2: u32) -> Option<u64> {
    match w2 & RXTX_MIN_SIZE {
        0 => Some(4 << 10),
        1 => Some(64 << 10),
        2 => Some(16 << 10),
        _ => None,
    }
}

impl Proxy {
    /// The host's FFA_FEATURES for `feature`.
    pub(crate) fn host_features<C: Conduit>(
        &mut self,
        feature: Feature,
        version: Version,
        regs: &Regs,
        conduit: &mut C,
    ) -> Regs {
        let func = match feature {
            Feature::FuncId(func) => func,
            // The SRI is the SPMC's own SGI, pended on the core for the host: its number is the
            // SPMC's to tell (a v1.1 feature, like the notifications it serves).
            // The codec reads only w1[7:0]; reserved bits set are no feature ID.
            Feature::FeatureId(id @ FeatureId::ScheduleReceiverInterrupt)
                if version >= Version(1, 1) && regs[1] as u32 == u32::from(u8::from(id)) =>
            {
                return conduit.call(regs);
            }
            // The proxy injects no notification pending interrupt (see `notifications`), and
            // managed exit is a partition's.
            _ => return reply::error(FfaError::NotSupported, regs),
        };
        if func.minimum_ffa_version() > version || route(func) == Route::Block {
            return reply::error(FfaError::NotSupported, regs);
        }
        let answer = conduit.call(regs);
        if func != FuncId::RxTxMap64 || !ffa::call::is_success(&answer) {
            return answer;
        }
        self.rxtx_properties(answer[2] as u32, version, regs)
    }

    /// The SPMC's RXTX_MAP properties, limited to what the proxy's mailbox can back: the
    /// minimum size is kept, the maximum is at most the proxy's buffer, everything else is
    /// dropped.
    fn rxtx_properties(&self, w2: u32, version: Version, regs: &Regs) -> Regs {
        match rxtx_min_bytes(w2) {
            Some(min) if min <= self.mailbox_bytes() => {}
            _ => return reply::error(FfaError::NotSupported, regs),
        }
        let mut props = w2 & RXTX_MIN_SIZE;
        if version >= Version(1, 2) {
            let ours = self.config.pages.min(u32::from(u16::MAX));
            let theirs = w2 >> RXTX_MAX_PAGES_SHIFT;
            let max = if theirs == 0 { ours } else { theirs.min(ours) };
            props |= max << RXTX_MAX_PAGES_SHIFT;
        }
        reply::success([props, 0, 0, 0, 0, 0], regs)
    }
}
