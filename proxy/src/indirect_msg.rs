//! Indirect messages (FFA_MSG_SEND2, FF-A v1.1+) between the host and secure partitions.
//!
//! The SPMC knows only the proxy's buffers (see `mailbox`), so every message crosses a copy.
//! (pKVM passes FFA_MSG_SEND2 through, so the SPMC would read pKVM's own, unfilled TX buffer.)
//!
//! Host to partition: the proxy copies the header from the host's TX buffer into its own, reads
//! it back from its own copy (the host cannot change it any more), checks that the sender is
//! the host (ID 0), the receiver a secure endpoint (the proxy hosts no other VM to deliver to),
//! and that the payload lies inside the buffer past the header, then copies the payload and
//! forwards the host's call. The SPMC checks the rest (flags, reserved fields, receiver state),
//! and its answer goes back untouched. As in Hafnium, w1's sender-VM field is the hypervisor's:
//! the host's must name itself (0), which is also what the proxy would put there.
//!
//! Partition to host: the SPMC writes the message into the proxy's RX buffer and raises the
//! SPM's "RX buffer full" framework notification for ID 0 (its SRI reaches the host without
//! the proxy). The proxy copies its RX buffer into the host's when the host's
//! FFA_NOTIFICATION_GET answer reports that notification: that answer is the host's first news
//! of the message (Linux's driver reads its RX buffer on exactly that report), the proxy needs
//! no interrupt of its own, and the buffer's ownership stays as the SPMC sees it: the host's
//! FFA_RX_RELEASE, forwarded, frees the proxy's buffer. FFA_RX_ACQUIRE is not used: Hafnium's
//! hypervisor acquires a VM's buffer that the SPMC shares with it, but the proxy's RX buffer is
//! the one the SPMC writes, already owned by the receiver once full. The whole mapped buffer is
//! copied without reading the SPMC's header: nothing to trust or parse, and the host checks the
//! header it receives. If the copy faults the host hears nothing of the message: the bit is
//! cleared from the answer and the proxy's RX buffer handed back to the SPMC (the message is
//! dropped rather than half delivered).

use ffa::{EndpointId, FfaError, Regs, Version};

use crate::mailbox::copy;
use crate::{Conduit, HOST_ID, HostMemory, Proxy, el3, reply};

/// An FF-A v1.1 message header: flags, reserved, offset, receiver and sender IDs, size.
const HEADER_V1_1: usize = 20;
/// FF-A v1.2 adds a reserved word and a UUID.
const HEADER_V1_2: usize = 40;
/// Byte offsets of the header fields the proxy checks.
const OFFSET_AT: usize = 8;
const RECEIVER_AT: usize = 12;
const SENDER_AT: usize = 14;
const SIZE_AT: usize = 16;

/// FFA_NOTIFICATION_GET's w6 (the SPM's framework notifications) bit 0: RX buffer full.
pub(crate) const SPM_RX_FULL: u64 = 1;

/// The header size a caller at `version` writes.
fn header_len(version: Version) -> usize {
    if version >= Version(1, 2) {
        HEADER_V1_2
    } else {
        HEADER_V1_1
    }
}

fn field<const N: usize>(header: &[u8], at: usize) -> Result<[u8; N], FfaError> {
    header
        .get(at..at + N)
        .and_then(|b| b.try_into().ok())
        .ok_or(FfaError::InvalidParameters)
}

impl Proxy {
    /// The host's FFA_MSG_SEND2 with w1's sender-VM field `sender_vm_id`.
    pub(crate) fn host_msg_send2<C: Conduit, M: HostMemory>(
        &mut self,
        sender_vm_id: u16,
        version: Version,
        regs: &Regs,
        conduit: &mut C,
        mem: &mut M,
    ) -> Regs {
        match self.stage_message(sender_vm_id, version, mem) {
            Ok(()) => conduit.call(regs),
            Err(e) => reply::error(e, regs),
        }
    }

    /// Copies the host's message into the proxy's TX buffer, checked from the copy.
    fn stage_message<M: HostMemory>(
        &self,
        sender_vm_id: u16,
        version: Version,
        mem: &mut M,
    ) -> Result<(), FfaError> {
        if EndpointId(sender_vm_id) != HOST_ID {
            return Err(FfaError::InvalidParameters);
        }
        // As Hafnium: a sender without a TX buffer is denied.
        let mailbox = self.mailbox.ok_or(FfaError::Denied)?;
        let len = header_len(version);
        copy(mem, mailbox.tx.base(), self.config.tx, len as u64)?;
        let mut buf = [0u8; HEADER_V1_2];
        let header = buf.get_mut(..len).ok_or(FfaError::Aborted)?;
        mem.read(self.config.tx, header)
            .map_err(|_| FfaError::Aborted)?;
        let offset = u64::from(u32::from_le_bytes(field(header, OFFSET_AT)?));
        let size = u64::from(u32::from_le_bytes(field(header, SIZE_AT)?));
        let receiver = EndpointId(u16::from_le_bytes(field(header, RECEIVER_AT)?));
        let sender = EndpointId(u16::from_le_bytes(field(header, SENDER_AT)?));
        if sender != HOST_ID || !receiver.is_secure() {
            return Err(FfaError::InvalidParameters);
        }
        let end = offset
            .checked_add(size)
            .filter(|end| offset >= len as u64 && *end <= mailbox.bytes())
            .ok_or(FfaError::InvalidParameters)?;
        let (from, to) = (mailbox.tx.base(), self.config.tx);
        let skip = len as u64;
        copy(
            mem,
            from.checked_add(skip).ok_or(FfaError::Aborted)?,
            to.checked_add(skip).ok_or(FfaError::Aborted)?,
            end - skip,
        )
    }

    /// Post-processes a successful FFA_NOTIFICATION_GET `answer`: a message for the host in the
    /// proxy's RX buffer is copied into the host's.
    pub(crate) fn deliver_message<C: Conduit, M: HostMemory>(
        &mut self,
        mut answer: Regs,
        conduit: &mut C,
        mem: &mut M,
    ) -> Regs {
        if !ffa::call::is_success(&answer) || answer[6] & SPM_RX_FULL == 0 {
            return answer;
        }
        // Without a host mailbox the proxy's buffers are unmapped too: the SPMC wrote nothing.
        let Some(mailbox) = self.mailbox else {
            return answer;
        };
        if copy(mem, self.config.rx, mailbox.rx.base(), mailbox.bytes()).is_err() {
            let _ = conduit.call(&el3::rx_release());
            answer[6] &= !SPM_RX_FULL;
        }
        answer
    }
}
