//! A hostile hypervisor's buffers: normal-world memory the SPMC manifest lists but nothing
//! answers at (on QEMU, the MiB past its RAM, standing for memory a platform protects from the
//! secure world: a TZC carve-out, Realm memory).
//!
//! The host never reaches the SPMC with its own addresses (the proxy copies its buffers), so
//! the proxy plays the hostile hypervisor once, at boot, when the selector names
//! [`hostile_hypervisor_buffers`]: before it maps its own mailbox and before the host runs,
//! it asks the SPMC for FFA_RXTX_MAP of a pair there. The SPMC reads both ends of both buffers
//! to check them; the read takes a synchronous external abort, which must become
//! FFA_ERROR(INVALID_PARAMETERS) for the caller rather than a fault that parks the core with the
//! SPMC's lock held (and so every core). The proxy hands the answer to the client, which
//! checks it, and then checks that the SPMC serves every core. In-process there is no such
//! memory: the scenario checks the service alone.

use ffa::{FfaError, Regs, Version};
use test_partitions::ECHO_ID;
use test_partitions::protocol::{CallStatus, Command};

use crate::Client;
use crate::calls::{partition_info_get, rx_release, start};
use crate::check::{Failure, expect_call, expect_success, expect_words};
use crate::sp::command32_on;
use crate::{CPUS, selector};

/// Where the hostile pair starts: RX at [`HOLE`], TX one page above.
pub const HOLE: u64 = 0x8000_0000;

/// The answer word the proxy hands the client (x1 at entry): how FFA_RXTX_MAP was answered.
pub fn report(answer: &Regs) -> u64 {
    CallStatus::of(answer).word()
}

/// Whether `selector` names this scenario (on any home core): the proxy then plays the
/// hostile hypervisor at boot.
pub fn selected(selector: u32) -> bool {
    match selector::decode(selector) {
        selector::Selection::Scenario { index, .. } => crate::ALL
            .get(index)
            .is_some_and(|s| s.name == "hostile_hypervisor_buffers"),
        _ => false,
    }
}

/// The SPMC answered the hostile pair INVALID_PARAMETERS and serves every core afterwards.
pub fn hostile_hypervisor_buffers(c: &mut dyn Client) -> Result<(), Failure> {
    if let Some(word) = c.hypervisor_report() {
        expect_call(
            "FFA_RXTX_MAP the hypervisor made with buffers in memory that aborts",
            word,
            CallStatus::error(FfaError::InvalidParameters),
        )?;
    }
    start(c, Version(1, 2))?;
    let answer = partition_info_get(c, ffa::Uuid::nil(), false);
    expect_success(
        "PARTITION_INFO_GET into the real mailbox afterwards",
        &answer,
    )?;
    expect_success("FFA_RX_RELEASE", &rx_release(c, 0))?;
    for cpu in 0..CPUS {
        let answer = c.call_on(cpu, &ffa::call::encode(&ffa::Interface::IdGet));
        expect_success("FFA_ID_GET on each core after the hostile pair", &answer)?;
        let words = command32_on(
            c,
            cpu,
            "ECHO on each core after the hostile pair",
            ECHO_ID,
            Command::Echo,
            &[1, 2, 3, 4],
        )?;
        expect_words("ECHO on each core", &[1, 2, 3, 4], &words[1..])?;
    }
    Ok(())
}
