//! FFA_PARTITION_INFO_GET and FFA_PARTITION_INFO_GET_REGS.
//!
//! Rules chosen where the references differ:
//! - Which descriptors (Hafnium's `api_ffa_fill_partitions_info_array`): the nil UUID lists
//!   every partition; a caller at v1.2 or later gets one descriptor per (partition, UUID), a
//!   caller below v1.2 one per partition, carrying its first UUID (in the v1.1 layout; v1.0
//!   descriptors have no UUID field): partitions with several UUIDs are a v1.2 notion. A
//!   named UUID lists each partition that declares it, whichever of its UUIDs it is, once,
//!   with the UUID field zero (FF-A: filled only for the nil UUID; Hafnium and TF-A agree),
//!   at every version. An unknown UUID is INVALID_PARAMETERS. (TF-A's EL3 SPMC lists every
//!   UUID from v1.1; Hafnium is the reference here.)
//! - Properties (FF-A v1.2 Table 6.2): receive/send direct requests from the manifest's
//!   messaging method, send bits only to secure callers (partitions cannot message the normal
//!   world, Hafnium), indirect messaging, notification support (bit 3, the manifest's
//!   `notification-support`, for v1.1+ partitions), a PE endpoint ID type (bits 5:4 = 0),
//!   AArch64 (bit 8), and the REQ2 bits for v1.2 partitions; cut to the bits the caller's
//!   version defines (v1.0: bits 2:0; v1.1: 8:0; v1.2: 10:0).
//! - RX buffer: not mapped or not the SPMC's → BUSY (Hafnium's `vm_is_mailbox_busy`); too
//!   small → NO_MEMORY; a write the platform refuses → ABORTED (Hafnium's trapped copy). On
//!   success the caller owns RX until FFA_RX_RELEASE; w2 = count, w3 = descriptor size (0 for
//!   v1.0 callers and for the count-only flag).
//! - FFA_PARTITION_INFO_GET_REGS (v1.2 layout): x2 = last index | current index << 16 |
//!   tag << 32 | descriptor size (24) << 48, up to 5 descriptors of 3 registers from x3. A
//!   nonzero tag is RETRY (tags are not supported, as in Hafnium); a start index past the last
//!   descriptor is INVALID_PARAMETERS.

use ffa::call::encode;
use ffa::partition_info::{
    DESC_SIZE_V1_1, PartitionInfo, pack_regs, properties as props, properties_for_version,
    write_descriptors,
};
use ffa::{FfaError, Interface, PartitionInfoGetFlags, SuccessArgs, TargetInfo, Uuid, Version};
use heapless::Vec;

use crate::manifest::{MAX_PARTITIONS, MAX_UUIDS, MessagingMethod};
use crate::partition::{Partition, PartitionTable};
use crate::platform::{Platform, Space};
use crate::spmc::{Call, Endpoint, Next, Spmc};

/// Most descriptors one query can produce.
const MAX_DESCRIPTORS: usize = MAX_PARTITIONS * MAX_UUIDS;

/// The property bits of `p` for a caller at `version`, secure or not.
fn properties(p: &Partition, caller_secure: bool, version: Version) -> u32 {
    let m = p.config.messaging;
    // A PE endpoint ID (bits 5:4 = 0) of an AArch64 partition.
    let mut bits = props::ID_TYPE_PE_ENDPOINT | props::AARCH64;
    if m.has(MessagingMethod::DIRECT_REQ_RECV) {
        bits |= props::DIRECT_REQ_RECV;
    }
    if caller_secure && m.has(MessagingMethod::DIRECT_REQ_SEND) {
        bits |= props::DIRECT_REQ_SEND;
    }
    if m.has(MessagingMethod::INDIRECT) {
        bits |= props::INDIRECT_MSG;
    }
    // Notifications came with v1.1: a v1.0 partition has no bitmap to bind.
    if p.config.notification_support && p.version.version() >= Version(1, 1) {
        bits |= props::NOTIFICATION_RECV;
    }
    if p.version.version() >= Version(1, 2) {
        if m.has(MessagingMethod::DIRECT_REQ2_RECV) {
            bits |= props::DIRECT_REQ2_RECV;
        }
        if caller_secure && m.has(MessagingMethod::DIRECT_REQ2_SEND) {
            bits |= props::DIRECT_REQ2_SEND;
        }
    }
    properties_for_version(bits, version)
}

/// How many descriptors [`collect`] yields, without building them (a count-only query).
fn count(table: &PartitionTable, uuid: Uuid, version: Version) -> Result<u32, FfaError> {
    let shown = if version < Version(1, 2) {
        1
    } else {
        MAX_UUIDS
    };
    let count: usize = table
        .iter()
        .map(|p| {
            if uuid.is_nil() {
                p.config.uuids.len().min(shown)
            } else {
                usize::from(p.config.uuids.contains(&uuid))
            }
        })
        .sum();
    match count {
        0 => Err(FfaError::InvalidParameters),
        n if n > MAX_DESCRIPTORS => Err(FfaError::NoMemory),
        n => Ok(n as u32),
    }
}

/// The descriptors a query for `uuid` yields for a caller at `version`.
fn collect(
    table: &PartitionTable,
    uuid: Uuid,
    caller_secure: bool,
    version: Version,
) -> Result<Vec<PartitionInfo, MAX_DESCRIPTORS>, FfaError> {
    let mut out = Vec::new();
    for p in table.iter() {
        let info = |uuid| PartitionInfo {
            id: p.id,
            exec_ctx_count: p.config.execution_ctx_count,
            properties: properties(p, caller_secure, version),
            uuid,
        };
        if uuid.is_nil() {
            let shown = if version < Version(1, 2) {
                1
            } else {
                MAX_UUIDS
            };
            for &u in p.config.uuids.iter().take(shown) {
                out.push(info(u)).map_err(|_| FfaError::NoMemory)?;
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

impl<P: Platform> Spmc<P> {
    pub(crate) fn partition_info_get(
        &mut self,
        call: &Call,
        uuid: Uuid,
        flags: PartitionInfoGetFlags,
    ) -> Next {
        match self.partition_info_into_rx(call, uuid, flags) {
            Ok((count, size)) => self.succeed(call, [count, size, 0, 0, 0, 0]),
            Err(code) => self.fail(call, code),
        }
    }

    /// The count-only answer: how many partitions (or UUIDs of them) `uuid` names, as the
    /// caller's version counts them.
    pub(crate) fn partition_count(&self, call: &Call, uuid: Uuid) -> Result<u32, FfaError> {
        count(&self.partitions, uuid, self.version_of(call.from))
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
        if flags.count_only {
            return Ok((self.partition_count(call, uuid)?, 0));
        }
        let secure = call.from != Endpoint::NormalWorld;
        let infos = collect(&self.partitions, uuid, secure, version)?;
        let count = infos.len() as u32;
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
        let len = write_descriptors(version, &infos, &mut bytes)?;
        if len as u64 > buffers.len() {
            return Err(FfaError::NoMemory);
        }
        let rx = mailbox.rx_for_producer()?;
        let data = bytes.get(..len).ok_or(FfaError::NoMemory)?;
        self.platform
            .write(space, rx.rx, data)
            .map_err(|_| FfaError::Aborted)?;
        if space == Space::Secure {
            // A partition may read its RX buffer with its caches off.
            self.platform.clean_to_poc(space, rx.rx, data.len());
        }
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
        &mut self,
        call: &Call,
        uuid: Uuid,
        start_index: u16,
        tag: u16,
    ) -> Next {
        if tag != 0 {
            return self.fail(call, FfaError::Retry);
        }
        let version = self.version_of(call.from);
        let secure = call.from != Endpoint::NormalWorld;
        let infos = match collect(&self.partitions, uuid, secure, version) {
            Ok(infos) => infos,
            Err(code) => return self.fail(call, code),
        };
        let args = match pack_regs(&infos, start_index, tag) {
            Ok(args) => args,
            Err(e) => return self.fail(call, e.into()),
        };
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
    use crate::manifest::SpmcAttributes;
    use crate::partition::tests::config;
    use ffa::EndpointId;

    fn table(messaging: u32, version: Version) -> PartitionTable {
        let mut c = config(1, 1, 0x1000_0000);
        c.messaging = MessagingMethod(messaging);
        c.ffa_version = version;
        let attributes = SpmcAttributes {
            spmc_id: EndpointId(0x8000),
            version: Version(1, 2),
        };
        PartitionTable::new(&attributes, [(EndpointId(0x8001), c)])
    }

    #[test]
    fn properties_follow_manifest_caller_and_version() {
        let all = MessagingMethod::DIRECT_REQ_RECV
            | MessagingMethod::DIRECT_REQ_SEND
            | MessagingMethod::INDIRECT
            | MessagingMethod::DIRECT_REQ2_RECV
            | MessagingMethod::DIRECT_REQ2_SEND;
        let t = table(all, Version(1, 2));
        let p = t.get(0).unwrap();
        assert_eq!(properties(p, true, Version(1, 2)), 0x707);
        assert_eq!(properties(p, false, Version(1, 2)), 0x305);
        assert_eq!(properties(p, true, Version(1, 1)), 0x107);
        assert_eq!(properties(p, true, Version(1, 0)), 0x007);
        // A v1.1 partition does not take REQ2, whatever its manifest says.
        let t = table(all, Version(1, 1));
        assert_eq!(properties(t.get(0).unwrap(), true, Version(1, 2)), 0x107);
        let t = table(0, Version(1, 2));
        assert_eq!(properties(t.get(0).unwrap(), true, Version(1, 2)), 0x100);
    }

    #[test]
    fn notification_support_is_bit_3_from_v1_1() {
        let mut t = table(MessagingMethod::DIRECT_REQ_RECV, Version(1, 2));
        if let Some(p) = t.get_mut(0) {
            p.config.notification_support = true;
        }
        let p = t.get(0).unwrap();
        assert_eq!(properties(p, false, Version(1, 2)), 0x109);
        assert_eq!(properties(p, true, Version(1, 1)), 0x109);
        // A v1.0 caller sees bits 2:0 only.
        assert_eq!(properties(p, false, Version(1, 0)), 0x001);
        let mut t = table(MessagingMethod::DIRECT_REQ_RECV, Version(1, 0));
        if let Some(p) = t.get_mut(0) {
            p.config.notification_support = true;
        }
        assert_eq!(properties(t.get(0).unwrap(), false, Version(1, 2)), 0x101);
    }

    #[test]
    fn count_agrees_with_collect() {
        let mut t = table(1, Version(1, 2));
        let first = t.get(0).unwrap().config.uuids[0];
        let second = Uuid::from_u128(2);
        if let Some(p) = t.get_mut(0) {
            let _ = p.config.uuids.push(second);
        }
        for uuid in [Uuid::nil(), first, second, Uuid::from_u128(3)] {
            for version in [Version(1, 0), Version(1, 1), Version(1, 2)] {
                let listed = collect(&t, uuid, false, version).map(|v| v.len() as u32);
                assert_eq!(count(&t, uuid, version), listed, "{uuid} at {version:?}");
            }
        }
    }

    #[test]
    fn collect_lists_every_uuid_only_from_v1_2() {
        let mut t = table(1, Version(1, 2));
        let second = Uuid::from_u128(2);
        if let Some(p) = t.get_mut(0) {
            let _ = p.config.uuids.push(second);
        }
        let uuids = |version| {
            collect(&t, Uuid::nil(), false, version)
                .unwrap()
                .iter()
                .map(|i| i.uuid)
                .collect::<Vec<_, 4>>()
        };
        assert_eq!(uuids(Version(1, 0))[..], [Uuid::from_u128(1)]);
        assert_eq!(uuids(Version(1, 1))[..], [Uuid::from_u128(1)]);
        assert_eq!(uuids(Version(1, 2))[..], [Uuid::from_u128(1), second]);
        // The second UUID finds the partition at every version, UUID field zero.
        for version in [Version(1, 0), Version(1, 1), Version(1, 2)] {
            let found = collect(&t, second, false, version).unwrap();
            assert_eq!((found.len(), found[0].uuid), (1, Uuid::nil()));
        }
        let found = collect(&t, Uuid::from_u128(1), false, Version(1, 2)).unwrap();
        assert_eq!(found[0].uuid, Uuid::nil());
        assert_eq!(
            collect(&t, Uuid::from_u128(3), false, Version(1, 2)),
            Err(FfaError::InvalidParameters)
        );
    }
}
