//! FFA_VERSION: per-endpoint negotiation, locked at the endpoint's first other FF-A call.
//!
//! Rule (Hafnium's, FF-A v1.2 §13.2): until an endpoint makes its first FF-A call other than
//! FFA_VERSION it may renegotiate freely; afterwards a request that would change its version is
//! answered NOT_SUPPORTED, one that keeps it gets our version. (TF-A's EL3 SPMC answers the old
//! version instead; the ACS and Hafnium expect NOT_SUPPORTED.)
//!
//! Compatibility (Hafnium's `ffa_versions_are_compatible`): the same major and a minor no
//! higher than ours. A higher minor is NOT_SUPPORTED, though FF-A lets a callee answer its own
//! version there; the SPMD's VERSION framework message follows the same rule. (The proxy
//! negotiates the host's version itself, pKVM's way, so a host behind it still gets an answer.)

use ffa::Version;
use ffa::version::{OURS, negotiate, to_u32};

/// FFA_VERSION's NOT_SUPPORTED: -1 in w0.
pub const NOT_SUPPORTED: u32 = 0xffff_ffff;

/// The version one endpoint uses, and whether it may still change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NegotiatedVersion {
    version: Version,
    locked: bool,
}

impl NegotiatedVersion {
    /// An endpoint that starts at `initial` (a partition's manifest `ffa-version`).
    pub const fn new(initial: Version) -> Self {
        Self {
            version: initial,
            locked: false,
        }
    }

    /// The version the endpoint's calls are decoded and answered at.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Whether the version can no longer change.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// Fixes the version: the endpoint made an FF-A call other than FFA_VERSION.
    pub fn lock(&mut self) {
        self.locked = true;
    }

    /// FFA_VERSION with w1 = `requested`: the value for w0 (our version or NOT_SUPPORTED).
    pub fn request(&mut self, requested: u32) -> u32 {
        // Bit 31 set is not a version (MBZ).
        let Ok(requested) = Version::try_from(requested) else {
            return NOT_SUPPORTED;
        };
        if requested.0 == OURS.0 && requested.1 > OURS.1 {
            return NOT_SUPPORTED;
        }
        let Some(agreed) = negotiate(requested, OURS) else {
            return NOT_SUPPORTED;
        };
        if self.locked && agreed != self.version {
            return NOT_SUPPORTED;
        }
        self.version = agreed;
        to_u32(OURS)
    }
}

/// Registers answering FFA_VERSION: w0 only; x8..x17 of `request` kept.
pub fn answer(w0: u32, request: &ffa::Regs) -> ffa::Regs {
    let mut regs = *request;
    regs[0] = u64::from(w0);
    regs[1..8].fill(0);
    regs
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_0: u32 = 0x1_0000;
    const V1_1: u32 = 0x1_0001;
    const V1_2: u32 = 0x1_0002;

    #[test]
    fn renegotiation_until_locked() {
        let mut v = NegotiatedVersion::new(Version(1, 1));
        assert_eq!(v.version(), Version(1, 1));
        assert_eq!(v.request(V1_0), V1_2);
        assert_eq!(v.version(), Version(1, 0));
        assert_eq!(v.request(V1_2), V1_2);
        assert_eq!(v.version(), Version(1, 2));
        // A newer minor is not compatible (Hafnium) and changes nothing.
        assert_eq!(v.request(0x1_0009), NOT_SUPPORTED);
        assert_eq!(v.request(0x1_0003), NOT_SUPPORTED);
        assert_eq!(v.version(), Version(1, 2));
    }

    #[test]
    fn locked_version_refuses_changes_but_accepts_itself() {
        let mut v = NegotiatedVersion::new(Version(1, 2));
        assert_eq!(v.request(V1_1), V1_2);
        v.lock();
        assert!(v.is_locked());
        assert_eq!(v.request(V1_2), NOT_SUPPORTED);
        assert_eq!(v.version(), Version(1, 1));
        assert_eq!(v.request(V1_1), V1_2);
        assert_eq!(v.request(V1_0), NOT_SUPPORTED);
        assert_eq!(v.version(), Version(1, 1));
    }

    #[test]
    fn incompatible_requests_change_nothing() {
        let mut v = NegotiatedVersion::new(Version(1, 1));
        assert_eq!(v.request(0x2_0000), NOT_SUPPORTED);
        assert_eq!(v.request(0x0_0009), NOT_SUPPORTED);
        assert_eq!(v.request(0x8001_0002), NOT_SUPPORTED);
        assert_eq!(v.version(), Version(1, 1));
        assert!(!v.is_locked());
    }

    #[test]
    fn answer_keeps_x8_up() {
        let mut req = [7u64; 18];
        req[0] = 0x8400_0063;
        let a = answer(NOT_SUPPORTED, &req);
        assert_eq!(a[0], 0xffff_ffff);
        assert_eq!(&a[1..8], &[0; 7]);
        assert_eq!(&a[8..], &[7; 10]);
    }
}
