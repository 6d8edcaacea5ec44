//! FFA_PARTITION_INFO_GET and FFA_PARTITION_INFO_GET_REGS.
//!
//! Rules chosen where the references differ:
//! - Which descriptors: the nil UUID lists every partition; a caller at v1.1 or later gets one
//!   descriptor per (partition, UUID) (TF-A's EL3 SPMC; Hafnium does so only from v1.2), a
//!   v1.0 caller one per partition (its descriptors carry no UUID). A named UUID lists each
//!   partition that declares it once, with the UUID field zero (FF-A: filled only for the nil
//!   UUID; Hafnium and TF-A agree). An unknown UUID is INVALID_PARAMETERS.
//! - Properties (FF-A v1.2 Table 6.2): receive/send direct requests from the manifest's
//!   messaging method, send bits only to secure callers (partitions cannot message the normal
//!   world, Hafnium), indirect messaging, a PE endpoint ID type (bits 5:4 = 0), AArch64, and
//!   the REQ2 bits for v1.2 partitions; cut to the bits the caller's version defines.
//! - RX buffer: not mapped or not the SPMC's → BUSY (Hafnium's `vm_is_mailbox_busy`); too
//!   small → NO_MEMORY; a write the platform refuses → ABORTED (Hafnium's trapped copy). On
//!   success the caller owns RX until FFA_RX_RELEASE; w2 = count, w3 = descriptor size (0 for
//!   v1.0 callers and for the count-only flag).
//! - FFA_PARTITION_INFO_GET_REGS (v1.2 layout): x2 = last index | current index << 16 |
//!   tag << 32 | descriptor size (24) << 48, up to 5 descriptors of 3 registers from x3. A
//!   nonzero tag is RETRY (tags are not supported, as in Hafnium); a start index past the last
//!   descriptor is INVALID_PARAMETERS.

use ffa::call::encode;
use ffa::{
    EndpointId, FfaError, Interface, PartitionInfoGetFlags, SuccessArgs, TargetInfo, Uuid,
    UuidHelper, Version,
};
use heapless::Vec;

use crate::manifest::{MAX_PARTITIONS, MAX_UUIDS, MessagingMethod};
use crate::partition::{Partition, PartitionTable};
use crate::platform::{Platform, Space};
use crate::spmc::{Call, Endpoint, Outcome, Spmc};

/// Size of a v1.0 descriptor.
const DESC_SIZE_V1_0: usize = 8;
/// Size of a v1.1 and v1.2 descriptor.
const DESC_SIZE_V1_1: usize = 24;
/// Most descriptors one query can produce.
const MAX_DESCRIPTORS: usize = MAX_PARTITIONS * MAX_UUIDS;
/// Descriptors per FFA_PARTITION_INFO_GET_REGS answer (3 registers each in x3..x17).
const REGS_PER_CALL: usize = 5;

mod props {
    pub const DIRECT_REQ_RECV: u32 = 1 << 0;
    pub const DIRECT_REQ_SEND: u32 = 1 << 1;
    pub const INDIRECT_MSG: u32 = 1 << 2;
    pub const AARCH64: u32 = 1 << 8;
    pub const DIRECT_REQ2_RECV: u32 = 1 << 9;
    pub const DIRECT_REQ2_SEND: u32 = 1 << 10;
    /// Bits each version defines.
    pub const DEFINED_V1_0: u32 = 0x007;
    pub const DEFINED_V1_1: u32 = 0x1ff;
    pub const DEFINED_V1_2: u32 = 0x7ff;
}

/// One partition-information descriptor, before encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Info {
    id: EndpointId,
    exec_ctx_count: u16,
    properties: u32,
    uuid: Uuid,
}

/// The property bits of `p` for a caller at `version`, secure or not.
fn properties(p: &Partition, caller_secure: bool, version: Version) -> u32 {
    let m = p.config.messaging;
    let mut bits = props::AARCH64;
    if m.has(MessagingMethod::DIRECT_REQ_RECV) {
        bits |= props::DIRECT_REQ_RECV;
    }
    if caller_secure && m.has(MessagingMethod::DIRECT_REQ_SEND) {
        bits |= props::DIRECT_REQ_SEND;
    }
    if m.has(MessagingMethod::INDIRECT) {
        bits |= props::INDIRECT_MSG;
    }
    if p.version.version() >= Version(1, 2) {
        if m.has(MessagingMethod::DIRECT_REQ2_RECV) {
            bits |= props::DIRECT_REQ2_RECV;
        }
        if caller_secure && m.has(MessagingMethod::DIRECT_REQ2_SEND) {
            bits |= props::DIRECT_REQ2_SEND;
        }
    }
    let defined = if version < Version(1, 1) {
        props::DEFINED_V1_0
    } else if version < Version(1, 2) {
        props::DEFINED_V1_1
    } else {
        props::DEFINED_V1_2
    };
    bits & defined
}

/// The descriptors a query for `uuid` yields for a caller at `version`.
fn collect(
    table: &PartitionTable,
    uuid: Uuid,
    caller_secure: bool,
    version: Version,
) -> Result<Vec<Info, MAX_DESCRIPTORS>, FfaError> {
    let mut out = Vec::new();
    for p in table.iter() {
        let info = |uuid| Info {
            id: p.id,
            exec_ctx_count: p.config.execution_ctx_count,
            properties: properties(p, caller_secure, version),
            uuid,
        };
        if uuid.is_nil() {
            if version < Version(1, 1) {
                out.push(info(Uuid::nil()))
                    .map_err(|_| FfaError::NoMemory)?;
            } else {
                for &u in &p.config.uuids {
                    out.push(info(u)).map_err(|_| FfaError::NoMemory)?;
                }
            }
        } else if p.config.uuids.contains(&uuid) {
            out.push(info(Uuid::nil()))
                .map_err(|_| FfaError::NoMemory)?;
        }
    }
    if out.is_empty() {
        return Err(FfaError::InvalidParameters);
    }
    Ok(out)
}

fn descriptor_size(version: Version) -> usize {
    if version < Version(1, 1) {
        DESC_SIZE_V1_0
    } else {
        DESC_SIZE_V1_1
    }
}

/// Writes `infos` in the layout of `version` into `buf`; the bytes written.
fn write_descriptors(version: Version, infos: &[Info], buf: &mut [u8]) -> Option<usize> {
    let size = descriptor_size(version);
    let len = infos.len().checked_mul(size)?;
    let out = buf.get_mut(..len)?;
    for (chunk, info) in out.chunks_exact_mut(size).zip(infos) {
        let mut desc = [0u8; DESC_SIZE_V1_1];
        desc[0..2].copy_from_slice(&info.id.0.to_le_bytes());
        desc[2..4].copy_from_slice(&info.exec_ctx_count.to_le_bytes());
        desc[4..8].copy_from_slice(&info.properties.to_le_bytes());
        desc[8..24].copy_from_slice(&UuidHelper::to_bytes(info.uuid));
        chunk.copy_from_slice(desc.get(..size)?);
    }
    Some(len)
}

impl<P: Platform> Spmc<P> {
    pub(crate) fn partition_info_get(
        &mut self,
        call: &Call,
        uuid: Uuid,
        flags: PartitionInfoGetFlags,
    ) -> Outcome {
        match self.partition_info_into_rx(call, uuid, flags) {
            Ok((count, size)) => self.succeed(call, [count, size, 0, 0, 0, 0]),
            Err(code) => self.fail(call, code),
        }
    }

    /// Finds the descriptors and, unless only the count is wanted, writes them to the caller's
    /// RX buffer: (count, descriptor size).
    fn partition_info_into_rx(
        &mut self,
        call: &Call,
        uuid: Uuid,
        flags: PartitionInfoGetFlags,
    ) -> Result<(u32, u32), FfaError> {
        let version = self.version_of(call.from);
        let secure = call.from != Endpoint::NormalWorld;
        let infos = collect(&self.partitions, uuid, secure, version)?;
        let count = infos.len() as u32;
        if flags.count_only {
            return Ok((count, 0));
        }
        let (mailbox, space) = match call.from {
            Endpoint::NormalWorld => (&mut self.normal_world.mailbox, Space::NonSecure),
            Endpoint::Partition(ctx) => (
                &mut self
                    .partitions
                    .get_mut(ctx.partition)
                    .ok_or(FfaError::InvalidParameters)?
                    .mailbox,
                Space::Secure,
            ),
        };
        let buffers = mailbox.buffers().ok_or(FfaError::Busy)?;
        let mut bytes = [0u8; MAX_DESCRIPTORS * DESC_SIZE_V1_1];
        let len = write_descriptors(version, &infos, &mut bytes).ok_or(FfaError::NoMemory)?;
        if len as u64 > buffers.len() {
            return Err(FfaError::NoMemory);
        }
        let rx = mailbox.rx_for_producer()?;
        let data = bytes.get(..len).ok_or(FfaError::NoMemory)?;
        self.platform
            .write(space, rx.rx, data)
            .map_err(|_| FfaError::Aborted)?;
        // Re-borrow: the platform write needed `self`.
        let mailbox = match call.from {
            Endpoint::NormalWorld => &mut self.normal_world.mailbox,
            Endpoint::Partition(ctx) => {
                &mut self
                    .partitions
                    .get_mut(ctx.partition)
                    .ok_or(FfaError::InvalidParameters)?
                    .mailbox
            }
        };
        mailbox.producer_take()?;
        let size = if version < Version(1, 1) {
            0
        } else {
            DESC_SIZE_V1_1 as u32
        };
        Ok((count, size))
    }

    pub(crate) fn partition_info_get_regs(
        &self,
        call: &Call,
        uuid: Uuid,
        start_index: u16,
        tag: u16,
    ) -> Outcome {
        if tag != 0 {
            return self.fail(call, FfaError::Retry);
        }
        let version = self.version_of(call.from);
        let secure = call.from != Endpoint::NormalWorld;
        let infos = match collect(&self.partitions, uuid, secure, version) {
            Ok(infos) => infos,
            Err(code) => return self.fail(call, code),
        };
        let start = usize::from(start_index);
        let Some(last) = infos.len().checked_sub(1) else {
            return self.fail(call, FfaError::InvalidParameters);
        };
        if start > last {
            return self.fail(call, FfaError::InvalidParameters);
        }
        let current = last.min(start + REGS_PER_CALL - 1);
        let mut args = [0u64; 16];
        // x2 is args[0]; descriptors from x3.
        args[0] = (last as u64) | ((current as u64) << 16) | ((DESC_SIZE_V1_1 as u64) << 48);
        let chosen = infos.get(start..=current).unwrap_or(&[]);
        for (slot, info) in args[1..].chunks_exact_mut(3).zip(chosen) {
            let [lo, hi] = UuidHelper::to_u64_regs(info.uuid);
            slot[0] = u64::from(info.id.0)
                | (u64::from(info.exec_ctx_count) << 16)
                | (u64::from(info.properties) << 32);
            slot[1] = lo;
            slot[2] = hi;
        }
        let regs = encode(&Interface::Success {
            target_info: TargetInfo::default(),
            args: SuccessArgs::Args64(args),
        });
        self.reply_full(call, regs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_layouts() {
        let infos = [
            Info {
                id: EndpointId(0x8001),
                exec_ctx_count: 2,
                properties: 0x301,
                uuid: Uuid::from_u128(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff),
            },
            Info {
                id: EndpointId(0x8002),
                exec_ctx_count: 1,
                properties: 0x3,
                uuid: Uuid::nil(),
            },
        ];
        let mut buf = [0xaau8; 64];
        assert_eq!(write_descriptors(Version(1, 0), &infos, &mut buf), Some(16));
        assert_eq!(
            &buf[..16],
            &[1, 0x80, 2, 0, 1, 3, 0, 0, 2, 0x80, 1, 0, 3, 0, 0, 0]
        );
        assert_eq!(buf[16], 0xaa);
        assert_eq!(write_descriptors(Version(1, 2), &infos, &mut buf), Some(48));
        assert_eq!(&buf[..8], &[1, 0x80, 2, 0, 1, 3, 0, 0]);
        assert_eq!(buf[8], 0x00);
        assert_eq!(buf[9], 0x11);
        assert_eq!(buf[23], 0xff);
        assert_eq!(&buf[32..48], &[0; 16]);
        assert_eq!(
            write_descriptors(Version(1, 1), &infos, &mut buf[..47]),
            None
        );
    }
}
