//! FF-A versions this implementation speaks, and the negotiation rule both cores apply.

use arm_ffa::Version;

/// The highest version we implement; answered to every FFA_VERSION caller.
pub const OURS: Version = Version(1, 2);

/// The lowest version a caller may negotiate.
pub const OLDEST: Version = Version(1, 0);

/// The version an endpoint uses when it called FFA_VERSION with `requested` and we implement
/// `ours`, or `None` when the two cannot interoperate (a different major version).
///
/// A caller asking for a newer minor than ours falls back to ours; an older minor is honoured.
pub fn negotiate(requested: Version, ours: Version) -> Option<Version> {
    if requested.0 != ours.0 || requested < OLDEST {
        return None;
    }
    Some(if requested.1 > ours.1 {
        ours
    } else {
        requested
    })
}

/// The 32-bit register form of a version.
pub const fn to_u32(v: Version) -> u32 {
    ((v.0 as u32) << 16) | v.1 as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_minor_falls_back_older_minor_honoured() {
        assert_eq!(negotiate(Version(1, 3), OURS), Some(Version(1, 2)));
        assert_eq!(negotiate(Version(1, 1), OURS), Some(Version(1, 1)));
        assert_eq!(negotiate(Version(1, 0), OURS), Some(Version(1, 0)));
        assert_eq!(negotiate(Version(2, 0), OURS), None);
        assert_eq!(negotiate(Version(0, 9), OURS), None);
        assert_eq!(to_u32(Version(1, 2)), 0x0001_0002);
    }
}
