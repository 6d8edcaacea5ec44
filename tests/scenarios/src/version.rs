//! FFA_VERSION: negotiation, the lock after the first other call, and the calls the proxy
//! refuses before any negotiation.
//!
//! The SPMC's rule (as Hafnium's `api_ffa_version`): a newer minor than ours is NOT_SUPPORTED;
//! the caller's version may change until its first call other than FFA_VERSION; afterwards a
//! request for a different version is NOT_SUPPORTED. The proxy's rule (pKVM's `do_ffa_version`): the host negotiates once, at its
//! first FFA_VERSION; afterwards an older minor is NOT_SUPPORTED and anything else is answered
//! with the negotiated version. Where the two legitimately differ the scenario asks
//! [`Client::behind_proxy`].

use ffa::{FfaError, FuncId, Version};

use crate::Client;
use crate::calls::{direct_req32, features, first_version_answer, id_get, version, version_word};
use crate::check::{Failure, expect_error, expect_success, expect_success_w2, expect_version};

const V1_0: Version = Version(1, 0);
const V1_1: Version = Version(1, 1);
const V1_2: Version = Version(1, 2);
const V1_3: Version = Version(1, 3);

/// A call other than FFA_VERSION that reaches the SPMC (EL3 answers FFA_ID_GET itself, so that
/// one would not lock anything there).
fn lock(c: &mut dyn Client) -> Result<(), Failure> {
    let answer = features(c, u32::from(FuncId::Version));
    expect_success("FFA_FEATURES(FFA_VERSION)", &answer)
}

/// Negotiation of the newest version, malformed requests, and the lock.
pub fn version_negotiation(c: &mut dyn Client) -> Result<(), Failure> {
    // A newer minor than ours: the SPMC finds it incompatible (Hafnium's
    // `ffa_versions_are_compatible`); the proxy falls back to ours (pKVM's rule,
    // `ffa::version::negotiate`).
    let answer = version(c, V1_3);
    let expected = if c.behind_proxy() { Some(V1_2) } else { None };
    expect_version("FFA_VERSION(1.3)", &answer, expected)?;
    let answer = version(c, V1_2);
    expect_version("FFA_VERSION(1.2)", &answer, Some(V1_2))?;
    // Another major version cannot interoperate; bit 31 must be zero.
    let answer = version(c, Version(2, 0));
    expect_version("FFA_VERSION(2.0)", &answer, None)?;
    let answer = version_word(c, 0x8001_0002);
    expect_version("FFA_VERSION with bit 31 set", &answer, None)?;
    // The first other call locks the version.
    lock(c)?;
    let answer = version(c, V1_2);
    expect_version("FFA_VERSION(1.2) again after the lock", &answer, Some(V1_2))?;
    let answer = version(c, V1_1);
    expect_version("FFA_VERSION(1.1) after the lock", &answer, None)?;
    let answer = version(c, V1_0);
    expect_version("FFA_VERSION(1.0) after the lock", &answer, None)
}

/// A client that settled on v1.1 cannot go lower later, nor (at the SPMC) change at all.
pub fn version_downgrade_after_lock(c: &mut dyn Client) -> Result<(), Failure> {
    let answer = version(c, V1_1);
    expect_version("FFA_VERSION(1.1)", &answer, first_version_answer(c, V1_1))?;
    lock(c)?;
    let answer = version(c, V1_0);
    expect_version("FFA_VERSION(1.0) after the lock", &answer, None)?;
    // Asking for a newer version again: the SPMC refuses any change; the proxy answers the
    // version it settled on (pKVM answers anything but an older minor that way).
    let expected = if c.behind_proxy() { Some(V1_1) } else { None };
    let answer = version(c, V1_2);
    expect_version("FFA_VERSION(1.2) after locking 1.1", &answer, expected)?;
    let answer = version(c, V1_1);
    let expected = if c.behind_proxy() {
        Some(V1_1)
    } else {
        Some(V1_2)
    };
    expect_version("FFA_VERSION(1.1) again", &answer, expected)
}

/// Behind the proxy every FF-A call but FFA_VERSION is refused until the host negotiated
/// (pKVM's gate). Straight to EL3 there is no gate to test: EL3 answers FFA_ID_GET itself.
pub fn calls_before_negotiation(c: &mut dyn Client) -> Result<(), Failure> {
    if c.behind_proxy() {
        expect_error(
            "FFA_ID_GET before FFA_VERSION",
            &id_get(c),
            FfaError::InvalidParameters,
        )?;
        let answer = features(c, u32::from(FuncId::Version));
        expect_error(
            "FFA_FEATURES before FFA_VERSION",
            &answer,
            FfaError::InvalidParameters,
        )?;
        let answer = direct_req32(c, 0, test_partitions::ECHO_ID, [0; 5]);
        expect_error(
            "FFA_MSG_SEND_DIRECT_REQ before FFA_VERSION",
            &answer,
            FfaError::InvalidParameters,
        )?;
    } else {
        expect_success_w2("FFA_ID_GET answered at EL3", &id_get(c), 0)?;
    }
    let answer = version(c, V1_2);
    expect_version("FFA_VERSION(1.2)", &answer, Some(V1_2))?;
    expect_success_w2("FFA_ID_GET after FFA_VERSION", &id_get(c), 0)
}
