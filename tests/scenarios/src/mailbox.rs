//! The normal world's RX/TX buffers: FFA_RXTX_MAP, FFA_RXTX_UNMAP, FFA_RX_RELEASE and RX
//! ownership (the caller owns its RX buffer from a successful FFA_PARTITION_INFO_GET until
//! FFA_RX_RELEASE).
//!
//! Codes (FF-A v1.2 §13.5–13.7, Hafnium and pKVM agree): a misaligned, overlapping or empty
//! pair is INVALID_PARAMETERS; mapping a second pair is DENIED; unmapping with no pair, or for
//! another endpoint, is INVALID_PARAMETERS; releasing a buffer the caller does not own is
//! DENIED; asking for partition information with no RX buffer or an RX buffer still owned is
//! BUSY.

use ffa::{FfaError, Uuid, Version};

use crate::Client;
use crate::calls::{self, map_mailbox, negotiate, partition_info_get, rx_release, rxtx_map, start};
use crate::check::{Failure, expect_error, expect_success};

const V1_2: Version = Version(1, 2);

/// A second FFA_PARTITION_INFO_GET before FFA_RX_RELEASE finds the buffer busy.
pub fn rx_buffer_busy_until_released(c: &mut dyn Client) -> Result<(), Failure> {
    start(c, V1_2)?;
    let first = partition_info_get(c, Uuid::nil(), false);
    expect_success("first FFA_PARTITION_INFO_GET", &first)?;
    let second = partition_info_get(c, Uuid::nil(), false);
    expect_error(
        "second FFA_PARTITION_INFO_GET without FFA_RX_RELEASE",
        &second,
        FfaError::Busy,
    )?;
    expect_success("FFA_RX_RELEASE", &rx_release(c, 0))?;
    let third = partition_info_get(c, Uuid::nil(), false);
    expect_success("FFA_PARTITION_INFO_GET after FFA_RX_RELEASE", &third)?;
    expect_success("FFA_RX_RELEASE", &rx_release(c, 0))
}

/// FFA_RX_RELEASE of a buffer the caller does not own, or of another endpoint's.
pub fn rx_release_not_owned(c: &mut dyn Client) -> Result<(), Failure> {
    start(c, V1_2)?;
    expect_error(
        "FFA_RX_RELEASE with nothing received",
        &rx_release(c, 0),
        FfaError::Denied,
    )?;
    let answer = partition_info_get(c, Uuid::nil(), false);
    expect_success("FFA_PARTITION_INFO_GET", &answer)?;
    expect_success("FFA_RX_RELEASE", &rx_release(c, 0))?;
    expect_error("FFA_RX_RELEASE twice", &rx_release(c, 0), FfaError::Denied)?;
    expect_error(
        "FFA_RX_RELEASE naming another endpoint",
        &rx_release(c, 5),
        FfaError::InvalidParameters,
    )
}

/// FFA_PARTITION_INFO_GET before any buffer is mapped.
pub fn partition_info_get_unmapped(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let answer = partition_info_get(c, Uuid::nil(), false);
    expect_error(
        "FFA_PARTITION_INFO_GET with no RX buffer",
        &answer,
        FfaError::Busy,
    )?;
    map_mailbox(c)?;
    let answer = partition_info_get(c, Uuid::nil(), false);
    expect_success("FFA_PARTITION_INFO_GET once mapped", &answer)
}

/// Malformed pairs are refused before anything is mapped; a second pair is DENIED.
pub fn rxtx_map_rejections(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let (tx, rx, pages) = (c.tx_addr(), c.rx_addr(), c.mailbox_pages());
    let cases = [
        (
            "FFA_RXTX_MAP with a misaligned TX buffer",
            tx + 0x10,
            rx,
            pages,
        ),
        (
            "FFA_RXTX_MAP with a misaligned RX buffer",
            tx,
            rx + 0x800,
            pages,
        ),
        ("FFA_RXTX_MAP with RX and TX the same page", tx, tx, pages),
        ("FFA_RXTX_MAP of zero pages", tx, rx, 0),
    ];
    for (what, tx, rx, pages) in cases {
        expect_error(
            what,
            &rxtx_map(c, tx, rx, pages),
            FfaError::InvalidParameters,
        )?;
    }
    // Nothing was mapped by the refusals.
    let answer = partition_info_get(c, Uuid::nil(), false);
    expect_error(
        "FFA_PARTITION_INFO_GET after refused maps",
        &answer,
        FfaError::Busy,
    )?;
    expect_success("FFA_RXTX_MAP_64", &rxtx_map(c, tx, rx, pages))?;
    expect_error(
        "FFA_RXTX_MAP of the same pair again",
        &rxtx_map(c, tx, rx, pages),
        FfaError::Denied,
    )?;
    expect_error(
        "FFA_RXTX_MAP of the pair swapped",
        &rxtx_map(c, rx, tx, pages),
        FfaError::Denied,
    )?;
    // The first pair still works.
    let answer = partition_info_get(c, Uuid::nil(), false);
    expect_success("FFA_PARTITION_INFO_GET after a refused second map", &answer)?;
    expect_success("FFA_RX_RELEASE", &rx_release(c, 0))
}

/// FFA_RXTX_UNMAP: nothing mapped, another endpoint's pair, then unmap and map again.
pub fn rxtx_unmap(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    expect_error(
        "FFA_RXTX_UNMAP with nothing mapped",
        &calls::rxtx_unmap(c, 0),
        FfaError::InvalidParameters,
    )?;
    map_mailbox(c)?;
    expect_error(
        "FFA_RXTX_UNMAP naming another endpoint",
        &calls::rxtx_unmap(c, 5),
        FfaError::InvalidParameters,
    )?;
    expect_success("FFA_RXTX_UNMAP", &calls::rxtx_unmap(c, 0))?;
    expect_error(
        "FFA_RXTX_UNMAP twice",
        &calls::rxtx_unmap(c, 0),
        FfaError::InvalidParameters,
    )?;
    let answer = partition_info_get(c, Uuid::nil(), false);
    expect_error(
        "FFA_PARTITION_INFO_GET after FFA_RXTX_UNMAP",
        &answer,
        FfaError::Busy,
    )?;
    // The same pages can be mapped again.
    map_mailbox(c)?;
    let answer = partition_info_get(c, Uuid::nil(), false);
    expect_success("FFA_PARTITION_INFO_GET after mapping again", &answer)?;
    expect_success("FFA_RX_RELEASE", &rx_release(c, 0))
}
