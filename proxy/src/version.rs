//! FF-A versions: the proxy's link with the SPMC, and the host's one-time negotiation.
//!
//! The rules follow pKVM's `do_ffa_version`: the host negotiates once; a first request for an
//! older minor is a downgrade the SPMC must accept; after that a lower minor is NOT_SUPPORTED
//! and anything else gets the negotiated version back.

use ffa::{Decoded, FfaError, Interface, Regs, Version};

use crate::{Conduit, HOST_ID, Proxy, el3, features, reply};

/// What the proxy knows of FF-A at EL3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    /// [`Proxy::init`] has not run.
    Unprobed,
    /// No usable FF-A below us: every FF-A call is refused.
    Disabled,
    /// The version the proxy speaks with the SPMC, fixed for the host once `locked`.
    Up { version: Version, locked: bool },
}

impl Proxy {
    /// Probes EL3 for FF-A before the host runs; returns the version the proxy will offer.
    ///
    /// Without FF-A v1.x at EL3 (or with an unusable [`crate::ProxyConfig`]) the proxy refuses
    /// every FF-A call with NOT_SUPPORTED and still forwards every other SMC. Runs once: a
    /// second call is DENIED and changes nothing.
    pub fn init<C: Conduit>(&mut self, conduit: &mut C) -> Result<Version, FfaError> {
        if self.link != Link::Unprobed {
            return Err(FfaError::Denied);
        }
        self.link = Link::Disabled;
        self.config.check()?;
        let answer = conduit.call(&el3::version(ffa::version::OURS));
        let spmc = el3::version_answer(&answer).ok_or(FfaError::NotSupported)?;
        if spmc.0 != ffa::version::OURS.0 {
            return Err(FfaError::NotSupported);
        }
        let version = spmc.min(ffa::version::OURS);
        self.link = Link::Up {
            version,
            locked: false,
        };
        Ok(version)
    }

    /// The version the host negotiated, once it has.
    pub fn negotiated_version(&self) -> Option<Version> {
        match self.link {
            Link::Up {
                version,
                locked: true,
            } => Some(version),
            _ => None,
        }
    }

    /// Whether FF-A is usable at all (init found a v1.x SPMC).
    pub fn ffa_available(&self) -> bool {
        matches!(self.link, Link::Up { .. })
    }

    /// The host's FFA_VERSION.
    pub(crate) fn host_version<C: Conduit>(&mut self, regs: &Regs, conduit: &mut C) -> Regs {
        let Link::Up { version, locked } = self.link else {
            return reply::version_not_supported(regs);
        };
        let requested = match ffa::call::decode(regs, version) {
            Decoded::Call(Interface::Version { input_version, .. }) => input_version,
            _ => return reply::version_not_supported(regs),
        };
        if requested.0 != version.0 {
            return reply::version_not_supported(regs);
        }
        if locked {
            return if requested.1 < version.1 {
                reply::version_not_supported(regs)
            } else {
                reply::version(ffa::version::to_u32(version), regs)
            };
        }
        let mut version = version;
        if requested.1 < version.1 {
            // A downgrade: the SPMC must accept the older version for the host's calls.
            let answer = conduit.call(&el3::version(requested));
            match el3::version_answer(&answer) {
                Some(spmc) if spmc.0 == requested.0 && spmc.1 >= requested.1 => {
                    version = requested;
                    // Kept even if the checks below fail, as the SPMC now expects it.
                    self.link = Link::Up {
                        version,
                        locked: false,
                    };
                }
                _ => return reply::version_not_supported(regs),
            }
        }
        if !self.spmc_suits_host(conduit) {
            return reply::version_not_supported(regs);
        }
        self.link = Link::Up {
            version,
            locked: true,
        };
        reply::version(ffa::version::to_u32(version), regs)
    }

    /// pKVM's post-negotiation checks: EL3 agrees the host is endpoint 0, and the SPMC's
    /// smallest RX/TX buffer fits the proxy's mailbox. Made after the host's version is known,
    /// since an SPMC may fix the version at the first call other than FFA_VERSION.
    fn spmc_suits_host<C: Conduit>(&self, conduit: &mut C) -> bool {
        let id = conduit.call(&el3::id_get());
        if el3::outcome(&id).is_err() || id[2] as u32 != u32::from(HOST_ID.0) {
            return false;
        }
        let rxtx = conduit.call(&el3::features(ffa::FuncId::RxTxMap64));
        if el3::outcome(&rxtx).is_err() {
            return false;
        }
        features::rxtx_min_bytes(rxtx[2] as u32).is_some_and(|min| min <= self.mailbox_bytes())
    }
}
