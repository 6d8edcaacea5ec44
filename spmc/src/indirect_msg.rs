//! Indirect messaging: FFA_MSG_SEND2 (FF-A v1.1+).
//!
//! A sender writes a partition message (header, then payload at the header's offset) into its
//! TX buffer and calls FFA_MSG_SEND2; the SPMC copies it into the receiver's RX buffer, which
//! then belongs to the receiver (consumer) until FFA_RX_RELEASE or an FFA_MSG_WAIT without the
//! retain flag ([`crate::mailbox`]), and the receiver is told its RX buffer is full
//! (`notify_rx_buffer_full`, the notifications area). Directions: normal world → partition,
//! partition → partition, partition → normal world (its RX buffer, endpoint ID 0).
//!
//! Header ([`MessageHeader`], little-endian): flags (u32), reserved (u32), payload offset
//! (u32), receiver ID (u16) then sender ID (u16) — sender in bits\[31:16\] of that word —,
//! payload size (u32): 20 bytes at v1.1; v1.2 adds a reserved u32 and the protocol UUID (40
//! bytes). The layout read is the one of the sender's negotiated version.
//!
//! Checks, in Hafnium's order (`api_ffa_msg_send2`) and with its error codes:
//! 1. w1\[31:16\] (sender VM ID) must be 0 from a partition: INVALID_PARAMETERS. From the
//!    normal world it names the sending VM; the normal world is one endpoint here (ID 0), so
//!    any other ID is a VM without buffers with us: DENIED (Hafnium's "sender not found").
//! 2. The sender's TX buffer must be mapped: DENIED.
//! 3. The header is copied out of the TX buffer before it is checked (the sender may change
//!    it meanwhile); only the copy is used, and only it is written to the receiver.
//! 4. Header sender ≠ the caller's ID: INVALID_PARAMETERS; receiver = sender:
//!    INVALID_PARAMETERS; flags (delay SRI) from the normal world: INVALID_PARAMETERS (Hafnium:
//!    only secure instances may set them); other flag bits: INVALID_PARAMETERS (decoder).
//! 5. Receiver neither a hosted partition nor, for a partition sender, the normal world (ID
//!    0): INVALID_PARAMETERS.
//! 6. Sender or receiver below v1.1, or a partition sender/receiver whose manifest lacks the
//!    indirect-messaging bit of `messaging-method`: DENIED. The normal world's capabilities
//!    are not known to us; only its version is checked (as Hafnium does for VMs).
//! 7. Receiver partition Aborted (all contexts): ABORTED. Hafnium delivers anyway; a message
//!    to an endpoint that can never read it only locks its buffer, and direct messaging
//!    answers ABORTED too.
//! 8. Receiver RX buffer not the SPMC's (full, acquired by the hypervisor, or not mapped):
//!    BUSY. Hafnium treats an unmapped RX buffer as busy too (`vm_is_mailbox_busy`); we
//!    follow it.
//! 9. Offset below the header size of the sender's version, offset + size overflowing, or
//!    the message (offset + size) larger than the sender's TX buffer or the receiver's RX
//!    buffer: INVALID_PARAMETERS (Hafnium bounds it by its mailbox size).
//! 10. A copy the platform refuses: ABORTED, nothing delivered.
//!
//! The receiver gets the header copy, then bytes \[header size, offset + size) of the TX
//! buffer as they are, and zeros up to the end of its RX buffer (as Hafnium, per FF-A v1.3
//! §4.10, so no stale data is left after the message). The header's reserved fields and flags
//! are not checked (Hafnium does not either). A v1.2 sender's header reaches a v1.1 receiver
//! unchanged (no translation, as in Hafnium).
//!
//! Release: the receiver frees its RX buffer with FFA_RX_RELEASE (the normal world with ID
//! 0, a partition with 0 or its own ID; DENIED if it holds nothing), or a partition with
//! FFA_MSG_WAIT unless it sets the retain flag (v1.2), as Hafnium does for every RX content.
//! Unmapping a pair drops a message it holds. While a message is held, calls that fill the RX
//! buffer themselves (FFA_PARTITION_INFO_GET, retrieve responses) are BUSY.
//!
//! Left to the notifications area: Hafnium refuses FFA_RX_RELEASE and keeps the buffer at
//! FFA_MSG_WAIT (DENIED) while the receiver still has the RX-buffer-full framework
//! notification pending; here a release always frees a buffer the receiver owns.

use ffa::{EndpointId, FfaError, Version};

use crate::mailbox::Buffers;
use crate::manifest::MessagingMethod;
use crate::platform::{Platform, Space};
use crate::spmc::{Call, Endpoint, Next, Spmc};

/// Header size at FF-A v1.1.
pub const HEADER_SIZE_V1_1: usize = 20;
/// Header size from FF-A v1.2 (adds a reserved word and the UUID).
pub const HEADER_SIZE_V1_2: usize = 40;

/// Bytes copied at a time between buffers.
const CHUNK: usize = 256;

/// A partition message header as copied out of a TX buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageHeader {
    /// Flags (reserved, SBZ).
    pub flags: u32,
    /// Offset of the payload from the start of the buffer.
    pub offset: u32,
    /// Receiver endpoint.
    pub receiver: EndpointId,
    /// Sender endpoint.
    pub sender: EndpointId,
    /// Payload size in bytes.
    pub size: u32,
    /// The protocol UUID's bytes (v1.2 layout only).
    pub uuid: Option<[u8; 16]>,
}

/// The header size of a sender at `version`.
pub fn header_size(version: Version) -> usize {
    if version >= Version(1, 2) {
        HEADER_SIZE_V1_2
    } else {
        HEADER_SIZE_V1_1
    }
}

fn word(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

impl MessageHeader {
    /// Parses a header copy: 20 bytes give the v1.1 layout, 40 the v1.2 one; other lengths
    /// are not headers.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let uuid = match bytes.len() {
            HEADER_SIZE_V1_1 => None,
            HEADER_SIZE_V1_2 => {
                let mut uuid = [0; 16];
                uuid.copy_from_slice(bytes.get(24..40)?);
                Some(uuid)
            }
            _ => return None,
        };
        let ids = word(bytes, 12)?;
        Some(Self {
            flags: word(bytes, 0)?,
            offset: word(bytes, 8)?,
            receiver: EndpointId(ids as u16),
            sender: EndpointId((ids >> 16) as u16),
            size: word(bytes, 16)?,
            uuid,
        })
    }

    /// Where the message ends (offset + size), if that fits in 32 bits.
    pub fn end(&self) -> Option<u32> {
        self.offset.checked_add(self.size)
    }
}

/// One side of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Party {
    NormalWorld,
    Partition(usize),
}

/// What a send was checked to do.
struct Delivery {
    space_from: Space,
    tx: Buffers,
    receiver: Party,
    sender_id: EndpointId,
    receiver_id: EndpointId,
    space_to: Space,
    rx: Buffers,
    header: [u8; HEADER_SIZE_V1_2],
    header_len: usize,
    end: u64,
}

impl<P: Platform> Spmc<P> {
    /// FFA_MSG_SEND2 with w1[31:16] = `sender_vm_id` and the delay-SRI flag of w2.
    pub(crate) fn msg_send2(&mut self, call: &Call, sender_vm_id: u16, delay_sri: bool) -> Next {
        let delivered = self
            .check_send2(call, sender_vm_id, delay_sri)
            .and_then(|d| self.deliver(&d).map(|()| (d.sender_id, d.receiver_id)));
        match delivered {
            Ok((sender, receiver)) => {
                self.notify_rx_buffer_full(call.cpu, sender, receiver, delay_sri);
                self.succeed(call, [0; 6])
            }
            Err(code) => self.fail(call, code),
        }
    }

    fn party_version(&self, party: Party) -> Option<Version> {
        match party {
            Party::NormalWorld => Some(self.normal_world.version.version()),
            Party::Partition(i) => self.partitions.get(i).map(|p| p.version.version()),
        }
    }

    /// Whether a partition party's manifest allows indirect messaging (the normal world's
    /// capabilities are not known to the SPMC).
    fn party_indirect(&self, party: Party) -> bool {
        match party {
            Party::NormalWorld => true,
            Party::Partition(i) => self
                .partitions
                .get(i)
                .is_some_and(|p| p.config.messaging.has(MessagingMethod::INDIRECT)),
        }
    }

    fn check_send2(
        &self,
        call: &Call,
        sender_vm_id: u16,
        delay_sri: bool,
    ) -> Result<Delivery, FfaError> {
        let (sender, sender_id, space_from, tx) = match call.from {
            Endpoint::Partition(ctx) => {
                if sender_vm_id != 0 {
                    return Err(FfaError::InvalidParameters);
                }
                let p = self.partitions.get(ctx.partition).ok_or(FfaError::Denied)?;
                let tx = p.mailbox.buffers().ok_or(FfaError::Denied)?;
                (Party::Partition(ctx.partition), p.id, Space::Secure, tx)
            }
            Endpoint::NormalWorld => {
                if sender_vm_id != EndpointId::HOST.0 {
                    return Err(FfaError::Denied);
                }
                let tx = self
                    .normal_world
                    .mailbox
                    .buffers()
                    .ok_or(FfaError::Denied)?;
                (Party::NormalWorld, EndpointId::HOST, Space::NonSecure, tx)
            }
        };
        let sender_version = self.party_version(sender).ok_or(FfaError::Denied)?;
        let header_len = header_size(sender_version);
        let mut header = [0u8; HEADER_SIZE_V1_2];
        let copy = header.get_mut(..header_len).ok_or(FfaError::Aborted)?;
        self.platform
            .read(space_from, tx.tx, copy)
            .map_err(|_| FfaError::Aborted)?;
        let parsed = MessageHeader::parse(copy).ok_or(FfaError::InvalidParameters)?;
        if parsed.sender != sender_id || parsed.receiver == parsed.sender {
            return Err(FfaError::InvalidParameters);
        }
        if sender == Party::NormalWorld && delay_sri {
            return Err(FfaError::InvalidParameters);
        }
        let receiver = if parsed.receiver == EndpointId::HOST {
            Party::NormalWorld
        } else {
            Party::Partition(
                self.partitions
                    .find(parsed.receiver)
                    .ok_or(FfaError::InvalidParameters)?,
            )
        };
        let receiver_version = self
            .party_version(receiver)
            .ok_or(FfaError::InvalidParameters)?;
        let v1_1 = Version(1, 1);
        if sender_version < v1_1
            || receiver_version < v1_1
            || !self.party_indirect(sender)
            || !self.party_indirect(receiver)
        {
            return Err(FfaError::Denied);
        }
        let (space_to, mailbox) = match receiver {
            Party::NormalWorld => (Space::NonSecure, &self.normal_world.mailbox),
            Party::Partition(i) => {
                let p = self.partitions.get(i).ok_or(FfaError::InvalidParameters)?;
                if p.is_aborted() {
                    return Err(FfaError::Aborted);
                }
                (Space::Secure, &p.mailbox)
            }
        };
        let rx = mailbox.rx_for_producer()?;
        let end = u64::from(parsed.end().ok_or(FfaError::InvalidParameters)?);
        if (parsed.offset as usize) < header_len || end > tx.len() || end > rx.len() {
            return Err(FfaError::InvalidParameters);
        }
        Ok(Delivery {
            space_from,
            tx,
            receiver,
            sender_id: parsed.sender,
            receiver_id: parsed.receiver,
            space_to,
            rx,
            header,
            header_len,
            end,
        })
    }

    /// Writes the checked header copy, the rest of the message from the TX buffer and zeros
    /// to the end of the RX buffer, then hands the RX buffer to the receiver.
    fn deliver(&mut self, d: &Delivery) -> Result<(), FfaError> {
        let header = d.header.get(..d.header_len).ok_or(FfaError::Aborted)?;
        self.platform
            .write(d.space_to, d.rx.rx, header)
            .map_err(|_| FfaError::Aborted)?;
        let mut chunk = [0u8; CHUNK];
        let mut at = d.header_len as u64;
        while at < d.rx.len() {
            let n = (d.rx.len() - at).min(CHUNK as u64);
            let buf = chunk.get_mut(..n as usize).ok_or(FfaError::Aborted)?;
            if at < d.end {
                // The message's bytes (up to its end, zeros past it in this chunk).
                let from_tx = (d.end - at).min(n) as usize;
                let (msg, rest) = buf.split_at_mut(from_tx);
                let from = d.tx.tx.checked_add(at).ok_or(FfaError::Aborted)?;
                self.platform
                    .read(d.space_from, from, msg)
                    .map_err(|_| FfaError::Aborted)?;
                rest.fill(0);
            } else {
                buf.fill(0);
            }
            let to = d.rx.rx.checked_add(at).ok_or(FfaError::Aborted)?;
            self.platform
                .write(d.space_to, to, buf)
                .map_err(|_| FfaError::Aborted)?;
            at += n;
        }
        if d.space_to == Space::Secure {
            self.platform
                .clean_to_poc(d.space_to, d.rx.rx, d.rx.len() as usize);
        }
        let mailbox = match d.receiver {
            Party::NormalWorld => &mut self.normal_world.mailbox,
            Party::Partition(i) => {
                &mut self.partitions.get_mut(i).ok_or(FfaError::Aborted)?.mailbox
            }
        };
        mailbox.producer_take().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1_2_header() -> [u8; HEADER_SIZE_V1_2] {
        let mut b = [0u8; HEADER_SIZE_V1_2];
        b[0..4].copy_from_slice(&7u32.to_le_bytes());
        b[8..12].copy_from_slice(&40u32.to_le_bytes());
        b[12..16].copy_from_slice(&((0x8001u32 << 16) | 0x8002).to_le_bytes());
        b[16..20].copy_from_slice(&0x10u32.to_le_bytes());
        for (i, x) in b[24..40].iter_mut().enumerate() {
            *x = i as u8;
        }
        b
    }

    #[test]
    fn parses_both_layouts() {
        let b = v1_2_header();
        let h = MessageHeader::parse(&b).unwrap();
        assert_eq!(h.flags, 7);
        assert_eq!(h.offset, 40);
        assert_eq!(h.sender, EndpointId(0x8001));
        assert_eq!(h.receiver, EndpointId(0x8002));
        assert_eq!(h.size, 0x10);
        assert_eq!(h.uuid.unwrap()[15], 15);
        let short = MessageHeader::parse(&b[..HEADER_SIZE_V1_1]).unwrap();
        assert_eq!(short.uuid, None);
        assert_eq!(short.sender, h.sender);
        assert_eq!(MessageHeader::parse(&b[..24]), None);
        assert_eq!(MessageHeader::parse(&[]), None);
    }

    #[test]
    fn end_overflow() {
        let mut h = MessageHeader::parse(&v1_2_header()).unwrap();
        assert_eq!(h.end(), Some(0x38));
        h.size = u32::MAX;
        assert_eq!(h.end(), None);
    }

    #[test]
    fn header_size_by_version() {
        assert_eq!(header_size(Version(1, 1)), 20);
        assert_eq!(header_size(Version(1, 2)), 40);
        assert_eq!(header_size(Version(1, 3)), 40);
    }
}
