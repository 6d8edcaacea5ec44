//! Indirect messages (FFA_MSG_SEND2, FF-A v1.2 §7.2): normal world → partition, partition →
//! partition, partition → normal world, with v1.1 (20-byte) and v1.2 (40-byte, UUID) headers;
//! the receiver's RX buffer held until FFA_RX_RELEASE (BUSY meanwhile), the RX-buffer-full
//! framework notification and the SRI that announce a message, and the rejections.
//!
//! Codes follow Hafnium's `api_ffa_msg_send2`: no TX buffer mapped: DENIED; a header whose
//! sender is not the caller, a receiver that is the sender or does not exist, a payload offset
//! inside the header (20 bytes at v1.1, 40 from v1.2), offset + size past a page, and flags
//! from the normal world: INVALID_PARAMETERS; a receiver without indirect messaging in its
//! manifest: DENIED; a receiver whose RX buffer is full: BUSY.
//!
//! A delivered message sets bit 0 (RX buffer full) of the receiver's framework bitmap: the
//! SPM framework bitmap (w6 of FFA_NOTIFICATION_GET) for a message from a partition, the
//! hypervisor framework bitmap (w7) for one from the normal world, as Hafnium does (it keys
//! the bitmap on whether the sender is a VM). It pends the SRI on the sender's core. A
//! receiver whose RX buffer is not mapped counts as full (BUSY), as in Hafnium.

use ffa::{FfaError, FuncId, Regs, Uuid, Version};
use test_partitions::protocol::message::{HEADER_V1_1, HEADER_V1_2, Header};
use test_partitions::protocol::{CallStatus, Command, NPI_INTID, SEND2_TAG, send2};
use test_partitions::{ECHO_ID, ECHO_UUID, HOSTILE_ID, LEGACY_ID, RELAY_ID};

use crate::calls::{HOST_ID, map_mailbox, negotiate, partition_info_get, raw, run, rx_release};
use crate::check::{
    Failure, expect_call, expect_eq, expect_error, expect_function, expect_success,
};
use crate::notifications::{
    InfoList, bitmap_create, expect_info, expect_no_interrupt, expect_sri, get, get_nwd, info_get,
};
use crate::sp::{command32, command32_on};
use crate::{CPUS, Client};

const V1_1: Version = Version(1, 1);
const V1_2: Version = Version(1, 2);

/// Framework bit READ2 reports for an RX buffer filled by a partition (SPM framework bit 0).
const FULL_FROM_SP: u64 = 1;
/// ... by the normal world (hypervisor framework bit 0, reported as bit 8).
const FULL_FROM_NWD: u64 = 1 << 8;

/// The normal world's payload: three words.
const PAYLOAD: [u32; 3] = [0x1111_2222, 0x3333_4444, 0x5555_6666];

fn payload_bytes() -> [u8; 12] {
    let mut b = [0u8; 12];
    for (chunk, w) in b.chunks_mut(4).zip(PAYLOAD) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    b
}

/// Writes a message with `header` (its first `len` bytes) and [`PAYLOAD`] at the header's
/// offset into the client's TX buffer.
fn write_message(c: &mut dyn Client, header: &Header, len: usize) {
    let tx = c.tx_addr();
    let bytes = header.bytes();
    c.write(tx, bytes.get(..len).unwrap_or(&bytes));
    c.write(tx + u64::from(header.offset), &payload_bytes());
}

/// The normal world's header to `receiver`: v1.2 with echo's UUID, or v1.1.
fn header_to(receiver: u16, v1_1: bool) -> (Header, usize) {
    let len = if v1_1 { HEADER_V1_1 } else { HEADER_V1_2 };
    let header = Header {
        offset: len as u32,
        receiver,
        sender: HOST_ID,
        size: 12,
        uuid: if v1_1 { Uuid::nil() } else { ECHO_UUID },
    };
    (header, len)
}

/// FFA_MSG_SEND2 (w1 = 0, w2 = `flags`) on CPU 0.
fn msg_send2(c: &mut dyn Client, flags: u64) -> Regs {
    raw(c, &[u64::from(u32::from(FuncId::MsgSend2)), 0, flags])
}

/// READ2 by `sp` on CPU `cpu`: checks the framework bits, the sender, size and first word of
/// the message, and that the release succeeded.
fn expect_read2(
    c: &mut dyn Client,
    cpu: u16,
    what: &'static str,
    sp: u16,
    framework: u64,
    sender: u16,
    word: u64,
) -> Result<(), Failure> {
    let w = command32_on(c, cpu, what, sp, Command::Read2, &[])?;
    expect_eq(what, framework, w[1])?;
    expect_eq(what, u64::from(sender) << 16 | 12, w[2])?;
    expect_eq(what, word, w[3])?;
    expect_call(what, w[4], CallStatus::Success)
}

/// The normal world sends echo a message with a v1.2 header: SUCCESS, the SRI on the calling
/// core, INFO_GET lists echo (its framework notification), FFA_RUN shows echo the NPI, and echo
/// reads the message, the hypervisor framework's RX-full bit, and releases its buffer.
pub fn msg_send2_normal_world_to_partition(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let (header, len) = header_to(ECHO_ID, false);
    write_message(c, &header, len);
    expect_error(
        "MSG_SEND2 before the client mapped its buffers",
        &msg_send2(c, 0),
        FfaError::Denied,
    )?;
    map_mailbox(c)?;
    write_message(c, &header, len);
    expect_success("MSG_SEND2 to echo", &msg_send2(c, 0))?;
    expect_sri(c, 0, "the SRI after MSG_SEND2")?;
    expect_info(
        "INFO_GET_64 lists echo",
        &info_get(c, true),
        true,
        &[InfoList::new(ECHO_ID, &[])],
    )?;
    let answer = run(c, ECHO_ID, 0);
    expect_function("FFA_RUN of echo", &answer, FuncId::MsgWait32)?;
    let w = command32(c, "echo's WOKEN", ECHO_ID, Command::Woken, &[])?;
    expect_eq("echo saw the NPI", NPI_INTID, w[2])?;
    expect_read2(
        c,
        0,
        "echo reads the message",
        ECHO_ID,
        FULL_FROM_NWD,
        HOST_ID,
        u64::from(PAYLOAD[0]),
    )?;
    // Released: the next message goes through.
    expect_success("MSG_SEND2 after echo's release", &msg_send2(c, 0))?;
    expect_sri(c, 0, "the SRI after the second MSG_SEND2")
}

/// A v1.1 normal world sends echo (a v1.2 partition) a message with the 20-byte header; a v1.2
/// caller's 20-byte header is refused (its offset is inside the 40-byte header).
pub fn msg_send2_v1_1_header(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_1)?;
    map_mailbox(c)?;
    let (header, len) = header_to(ECHO_ID, true);
    write_message(c, &header, len);
    expect_success("MSG_SEND2 with a v1.1 header", &msg_send2(c, 0))?;
    expect_sri(c, 0, "the SRI after MSG_SEND2")?;
    expect_read2(
        c,
        0,
        "echo reads the v1.1 message",
        ECHO_ID,
        FULL_FROM_NWD,
        HOST_ID,
        u64::from(PAYLOAD[0]),
    )?;
    // legacy (v1.1) sends echo a message with its own 20-byte header.
    let w = command32(
        c,
        "legacy's SEND2 to echo",
        LEGACY_ID,
        Command::Send2,
        &[ECHO_ID.into(), 0, 0, 0x77],
    )?;
    expect_call("legacy's SEND2 to echo", w[1], CallStatus::Success)?;
    expect_sri(c, 0, "the SRI after legacy's SEND2")?;
    expect_read2(
        c,
        0,
        "echo reads legacy's message",
        ECHO_ID,
        FULL_FROM_SP,
        LEGACY_ID,
        0x77,
    )
}

/// A v1.2 normal world's 20-byte header is refused: its offset is inside the v1.2 header.
pub fn msg_send2_v1_1_header_at_v1_2(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    map_mailbox(c)?;
    let (header, len) = header_to(ECHO_ID, true);
    write_message(c, &header, len);
    expect_error(
        "MSG_SEND2 with a v1.1 header at v1.2",
        &msg_send2(c, 0),
        FfaError::InvalidParameters,
    )?;
    expect_no_interrupt(c, 0, "no SRI after a refused MSG_SEND2")
}

/// echo sends relay a message (v1.2 header): relay's context of the home core reads it, with
/// the SPM framework's RX-full bit and echo as sender.
pub fn msg_send2_partition_to_partition(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let w = command32(
        c,
        "echo's SEND2 to relay",
        ECHO_ID,
        Command::Send2,
        &[RELAY_ID.into(), 0, 0, 0xabc],
    )?;
    expect_call("echo's SEND2 to relay", w[1], CallStatus::Success)?;
    expect_sri(c, 0, "the SRI after echo's SEND2")?;
    let w = command32(
        c,
        "echo's second SEND2 to relay",
        ECHO_ID,
        Command::Send2,
        &[RELAY_ID.into(), 0, 0, 0xabd],
    )?;
    expect_call(
        "echo's SEND2 to relay's full buffer",
        w[1],
        CallStatus::error(FfaError::Busy),
    )?;
    expect_no_interrupt(c, 0, "no SRI after a refused SEND2")?;
    expect_read2(
        c,
        0,
        "relay reads echo's message",
        RELAY_ID,
        FULL_FROM_SP,
        ECHO_ID,
        0xabc,
    )?;
    // Partitions may delay the SRI until the core returns to the normal world, which it has
    // by the time echo's response arrives.
    let w = command32(
        c,
        "echo's SEND2 to relay, SRI delayed",
        ECHO_ID,
        Command::Send2,
        &[RELAY_ID.into(), crate::notifications::DELAY_SRI, 0, 0xabe],
    )?;
    expect_call("echo's delayed SEND2", w[1], CallStatus::Success)?;
    expect_sri(c, 0, "the delayed SRI")?;
    expect_read2(
        c,
        0,
        "relay reads the second message",
        RELAY_ID,
        FULL_FROM_SP,
        ECHO_ID,
        0xabe,
    )
}

/// echo sends the normal world a message: the SRI, the SPM framework's RX-full bit in the
/// normal world's bitmap, the message in its RX buffer until FFA_RX_RELEASE; a message to
/// its full buffer (also full with partition information) is BUSY.
pub fn msg_send2_partition_to_normal_world(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let send = |c: &mut dyn Client, word: u64| {
        command32(
            c,
            "echo's SEND2 to the normal world",
            ECHO_ID,
            Command::Send2,
            &[HOST_ID.into(), 0, 0, word],
        )
    };
    let w = send(c, 1)?;
    expect_call(
        "echo's SEND2 before the normal world mapped its buffers",
        w[1],
        CallStatus::error(FfaError::Busy),
    )?;
    expect_no_interrupt(c, 0, "no SRI after a refused SEND2")?;
    map_mailbox(c)?;
    expect_success(
        "BITMAP_CREATE(0)",
        &bitmap_create(c, HOST_ID, u32::from(CPUS)),
    )?;
    let w = send(c, 0x55)?;
    expect_call("echo's SEND2", w[1], CallStatus::Success)?;
    expect_sri(c, 0, "the SRI after echo's SEND2")?;
    let core = c.core(0);
    let got = get_nwd(c, HOST_ID, core, get::SPM);
    expect_success("the normal world's GET of the SPM framework", &got)?;
    expect_eq("RX buffer full", 1, got[6] & 0xffff_ffff)?;
    let mut bytes = [0u8; HEADER_V1_2];
    let rx = c.rx_addr();
    c.read(rx, &mut bytes);
    let h = Header::parse(&bytes);
    expect_eq(
        "the header's offset",
        HEADER_V1_2 as u64,
        u64::from(h.offset),
    )?;
    expect_eq("the header's sender", ECHO_ID.into(), u64::from(h.sender))?;
    expect_eq(
        "the header's receiver",
        HOST_ID.into(),
        u64::from(h.receiver),
    )?;
    expect_eq("the header's size", 12, u64::from(h.size))?;
    let mut words = [0u8; 12];
    c.read(rx + u64::from(h.offset), &mut words);
    let word = |i: usize| {
        u64::from(u32::from_le_bytes([
            words[i],
            words[i + 1],
            words[i + 2],
            words[i + 3],
        ]))
    };
    expect_eq("payload word 0", 0x55, word(0))?;
    expect_eq("payload word 1", ECHO_ID.into(), word(4))?;
    expect_eq("payload word 2", SEND2_TAG.into(), word(8))?;
    let w = send(c, 0x56)?;
    expect_call(
        "echo's SEND2 to the normal world's full buffer",
        w[1],
        CallStatus::error(FfaError::Busy),
    )?;
    expect_success("FFA_RX_RELEASE", &rx_release(c, 0))?;
    expect_error("FFA_RX_RELEASE again", &rx_release(c, 0), FfaError::Denied)?;
    // Full with partition information: BUSY too.
    expect_success(
        "PARTITION_INFO_GET",
        &partition_info_get(c, Uuid::nil(), false),
    )?;
    let w = send(c, 0x57)?;
    expect_call(
        "echo's SEND2 while the buffer holds partition information",
        w[1],
        CallStatus::error(FfaError::Busy),
    )?;
    expect_no_interrupt(c, 0, "no SRI after a refused SEND2")?;
    expect_success("FFA_RX_RELEASE", &rx_release(c, 0))?;
    let w = send(c, 0x58)?;
    expect_call("echo's SEND2 after the release", w[1], CallStatus::Success)?;
    expect_sri(c, 0, "the SRI after the last SEND2")
}

/// The normal world fills echo's RX buffer: a second message is BUSY until echo releases it.
pub fn msg_send2_rx_buffer_full(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    map_mailbox(c)?;
    let (header, len) = header_to(ECHO_ID, false);
    write_message(c, &header, len);
    expect_success("MSG_SEND2 to echo", &msg_send2(c, 0))?;
    expect_sri(c, 0, "the SRI after MSG_SEND2")?;
    expect_error(
        "MSG_SEND2 to echo's full buffer",
        &msg_send2(c, 0),
        FfaError::Busy,
    )?;
    let w = command32(
        c,
        "relay's SEND2 to echo's full buffer",
        RELAY_ID,
        Command::Send2,
        &[ECHO_ID.into(), 0, 0, 9],
    )?;
    expect_call(
        "relay's SEND2 to echo's full buffer",
        w[1],
        CallStatus::error(FfaError::Busy),
    )?;
    expect_no_interrupt(c, 0, "no SRI after refused messages")?;
    expect_read2(
        c,
        0,
        "echo reads the message",
        ECHO_ID,
        FULL_FROM_NWD,
        HOST_ID,
        u64::from(PAYLOAD[0]),
    )?;
    let w = command32(c, "echo's second READ2", ECHO_ID, Command::Read2, &[])?;
    expect_eq("no framework bits left", 0, w[1])?;
    expect_call(
        "FFA_RX_RELEASE of an empty buffer",
        w[4],
        CallStatus::error(FfaError::Denied),
    )?;
    let w = command32(
        c,
        "relay's SEND2 to echo after the release",
        RELAY_ID,
        Command::Send2,
        &[ECHO_ID.into(), 0, 0, 9],
    )?;
    expect_call("relay's SEND2 after the release", w[1], CallStatus::Success)?;
    expect_sri(c, 0, "the SRI after relay's SEND2")?;
    expect_read2(
        c,
        0,
        "echo reads relay's message",
        ECHO_ID,
        FULL_FROM_SP,
        RELAY_ID,
        9,
    )
}

/// MSG_SEND2 refused: a payload past the page, a header naming another sender, a receiver
/// without indirect messaging, one that does not exist, the sender itself, flags from the
/// normal world; and from partitions, the same through SEND2's header choices.
pub fn msg_send2_rejections(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    map_mailbox(c)?;
    let (good, len) = header_to(ECHO_ID, false);
    let cases = [
        (
            "MSG_SEND2 of offset + size past a page",
            Header {
                size: 4096 - good.offset + 1,
                ..good
            },
            0,
            FfaError::InvalidParameters,
        ),
        (
            "MSG_SEND2 whose header names another sender",
            Header {
                sender: RELAY_ID,
                ..good
            },
            0,
            FfaError::InvalidParameters,
        ),
        (
            "MSG_SEND2 to a partition without indirect messaging",
            Header {
                receiver: HOSTILE_ID,
                ..good
            },
            0,
            FfaError::Denied,
        ),
        (
            "MSG_SEND2 to a partition that does not exist",
            Header {
                receiver: 0x80ff,
                ..good
            },
            0,
            FfaError::InvalidParameters,
        ),
        (
            "MSG_SEND2 to the sender itself",
            Header {
                receiver: HOST_ID,
                ..good
            },
            0,
            FfaError::InvalidParameters,
        ),
        (
            "MSG_SEND2 with flags from the normal world",
            good,
            crate::notifications::DELAY_SRI,
            FfaError::InvalidParameters,
        ),
    ];
    for (what, header, flags, code) in cases {
        write_message(c, &header, len);
        expect_error(what, &msg_send2(c, flags), code)?;
    }
    expect_no_interrupt(c, 0, "no SRI after refused messages")?;
    let sp_cases = [
        (
            "SEND2 of offset + size past a page",
            ECHO_ID,
            RELAY_ID,
            send2::TOO_BIG,
            FfaError::InvalidParameters,
        ),
        (
            "SEND2 with an offset inside the header",
            ECHO_ID,
            RELAY_ID,
            send2::OFFSET_IN_HEADER,
            FfaError::InvalidParameters,
        ),
        (
            "SEND2 whose header names another sender",
            ECHO_ID,
            RELAY_ID,
            send2::WRONG_SENDER,
            FfaError::InvalidParameters,
        ),
        (
            "v1.1 SEND2 whose header names another sender",
            LEGACY_ID,
            ECHO_ID,
            send2::WRONG_SENDER,
            FfaError::InvalidParameters,
        ),
        (
            "SEND2 to a partition without indirect messaging",
            ECHO_ID,
            HOSTILE_ID,
            0,
            FfaError::Denied,
        ),
        (
            "SEND2 from a partition without indirect messaging",
            HOSTILE_ID,
            ECHO_ID,
            0,
            FfaError::Denied,
        ),
        (
            "SEND2 to a partition that does not exist",
            ECHO_ID,
            0x80ff,
            0,
            FfaError::InvalidParameters,
        ),
        (
            "SEND2 to the sender itself",
            ECHO_ID,
            ECHO_ID,
            0,
            FfaError::InvalidParameters,
        ),
    ];
    for (what, by, to, choices, code) in sp_cases {
        let w = command32(c, what, by, Command::Send2, &[to.into(), 0, choices, 1])?;
        expect_call(what, w[1], CallStatus::error(code))?;
    }
    expect_no_interrupt(c, 0, "no SRI after refused SEND2s")?;
    // Nothing was delivered: echo's buffer takes a message.
    write_message(c, &good, len);
    expect_success("MSG_SEND2 to echo after the refusals", &msg_send2(c, 0))?;
    expect_sri(c, 0, "the SRI after MSG_SEND2")?;
    Ok(())
}
