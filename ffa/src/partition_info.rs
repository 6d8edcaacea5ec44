//! Partition-information descriptors in the v1.0 and v1.1+ sizes, and the
//! FFA_PARTITION_INFO_GET_REGS register packing.
//!
//! ```text
//! v1.0 (8 bytes)                     v1.1+ (24 bytes)
//!  0 u16 partition ID                 0..8 as v1.0
//!  2 u16 execution context count      8 16 bytes UUID
//!  4 u32 properties
//! ```
//!
//! The UUID is stored in its RFC 4122 byte order (`Uuid::as_bytes`): Hafnium and Linux both
//! treat the 16 bytes as four little-endian words whose bytes spell the UUID in order, so
//! `486178e0-e7f8-11e3-bc5e-0002a5d5c51b` is stored `48 61 78 e0 e7 f8 ...`.

use arm_ffa::{FfaError, Uuid, Version};

use crate::id::EndpointId;

/// Size of a v1.0 descriptor.
pub const DESC_SIZE_V1_0: usize = 8;
/// Size of a v1.1 and later descriptor.
pub const DESC_SIZE_V1_1: usize = 24;

/// Partition property bits (FF-A v1.2 Table 6.2 "Partition properties").
pub mod properties {
    /// Receives direct requests (FFA_MSG_SEND_DIRECT_REQ).
    pub const DIRECT_REQ_RECV: u32 = 1 << 0;
    /// Sends direct requests (FFA_MSG_SEND_DIRECT_REQ).
    pub const DIRECT_REQ_SEND: u32 = 1 << 1;
    /// Sends and receives indirect messages.
    pub const INDIRECT_MSG: u32 = 1 << 2;
    /// Receives notifications (v1.1).
    pub const NOTIFICATION_RECV: u32 = 1 << 3;
    /// Partition ID type, bits \[5:4\] (v1.1).
    pub const ID_TYPE_MASK: u32 = 0b11 << 4;
    /// The ID is a PE endpoint ID.
    pub const ID_TYPE_PE_ENDPOINT: u32 = 0b00 << 4;
    /// The ID is the SEPID of an independent peripheral device.
    pub const ID_TYPE_SEPID_INDEPENDENT: u32 = 0b01 << 4;
    /// The ID is the SEPID of a dependent peripheral device (the context count field then holds
    /// its proxy endpoint's ID).
    pub const ID_TYPE_SEPID_DEPENDENT: u32 = 0b10 << 4;
    /// The ID is an auxiliary ID.
    pub const ID_TYPE_AUXILIARY: u32 = 0b11 << 4;
    /// Wants a framework message for each VM the hypervisor creates (v1.1).
    pub const VM_CREATED: u32 = 1 << 6;
    /// Wants a framework message for each VM the hypervisor destroys (v1.1).
    pub const VM_DESTROYED: u32 = 1 << 7;
    /// Runs in AArch64 (v1.1).
    pub const AARCH64: u32 = 1 << 8;
    /// Receives direct requests through FFA_MSG_SEND_DIRECT_REQ2 (v1.2).
    pub const DIRECT_REQ2_RECV: u32 = 1 << 9;
    /// Sends direct requests through FFA_MSG_SEND_DIRECT_REQ2 (v1.2).
    pub const DIRECT_REQ2_SEND: u32 = 1 << 10;

    /// Bits a v1.0 caller may see (Hafnium clears bits \[31:3\] for v1.0).
    pub const DEFINED_V1_0: u32 = 0x007;
    /// Bits a v1.1 caller may see.
    pub const DEFINED_V1_1: u32 = 0x1ff;
    /// Bits a v1.2 caller may see.
    pub const DEFINED_V1_2: u32 = 0x7ff;
}

/// Why partition information could not be written or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionInfoError {
    /// The descriptors do not fit the output buffer (answered NO_MEMORY, as Hafnium does when
    /// they do not fit the caller's RX buffer).
    BufferTooSmall,
    /// The input is shorter than the descriptor count says.
    Truncated,
    /// A register-interface start index past the last partition, or an empty list.
    BadIndex,
    /// More partitions than a 16-bit register-interface index can name.
    TooManyPartitions,
    /// A register-interface answer that is not well formed.
    MalformedRegs,
}

impl From<PartitionInfoError> for FfaError {
    fn from(e: PartitionInfoError) -> Self {
        match e {
            PartitionInfoError::BufferTooSmall => FfaError::NoMemory,
            _ => FfaError::InvalidParameters,
        }
    }
}

/// What FFA_PARTITION_INFO_GET tells about one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The partition's endpoint ID.
    pub id: EndpointId,
    /// Execution context count (or a dependent device's proxy ID, see [`properties`]).
    pub exec_ctx_count: u16,
    /// Property bits (see [`properties`]).
    pub properties: u32,
    /// The partition's UUID; nil where the spec wants the field zero (the caller named a UUID).
    /// Not carried by v1.0 descriptors.
    pub uuid: Uuid,
}

/// Size of one descriptor for a caller at `version`.
pub fn descriptor_size(version: Version) -> usize {
    if version < Version(1, 1) {
        DESC_SIZE_V1_0
    } else {
        DESC_SIZE_V1_1
    }
}

/// The property bits a caller at `version` may see: later versions' bits cleared.
pub fn properties_for_version(props: u32, version: Version) -> u32 {
    let defined = if version < Version(1, 1) {
        properties::DEFINED_V1_0
    } else if version < Version(1, 2) {
        properties::DEFINED_V1_1
    } else {
        properties::DEFINED_V1_2
    };
    props & defined
}

/// Writes `infos` as descriptors for a caller at `version` at the start of `buf` and returns the
/// bytes written. Properties are cut to what `version` defines. Nothing is written on error.
pub fn write_descriptors(
    version: Version,
    infos: &[PartitionInfo],
    buf: &mut [u8],
) -> Result<usize, PartitionInfoError> {
    let size = descriptor_size(version);
    let len = infos
        .len()
        .checked_mul(size)
        .ok_or(PartitionInfoError::BufferTooSmall)?;
    let out = buf
        .get_mut(..len)
        .ok_or(PartitionInfoError::BufferTooSmall)?;
    for (chunk, info) in out.chunks_exact_mut(size).zip(infos) {
        let props = properties_for_version(info.properties, version);
        let mut desc = [0u8; DESC_SIZE_V1_1];
        desc[0..2].copy_from_slice(&info.id.0.to_le_bytes());
        desc[2..4].copy_from_slice(&info.exec_ctx_count.to_le_bytes());
        desc[4..8].copy_from_slice(&props.to_le_bytes());
        desc[8..24].copy_from_slice(info.uuid.as_bytes());
        // `size` is 8 or 24, so the prefix always exists.
        chunk.copy_from_slice(desc.get(..size).unwrap_or(&[]));
    }
    Ok(len)
}

/// Reads `count` descriptors of a callee at `version` from `buf`.
pub fn read_descriptors(
    version: Version,
    buf: &[u8],
    count: usize,
) -> Result<Descriptors<'_>, PartitionInfoError> {
    let size = descriptor_size(version);
    let len = count
        .checked_mul(size)
        .ok_or(PartitionInfoError::Truncated)?;
    let bytes = buf.get(..len).ok_or(PartitionInfoError::Truncated)?;
    Ok(Descriptors {
        chunks: bytes.chunks_exact(size),
    })
}

/// The descriptors [`read_descriptors`] found.
#[derive(Clone, Debug)]
pub struct Descriptors<'a> {
    chunks: core::slice::ChunksExact<'a, u8>,
}

impl Iterator for Descriptors<'_> {
    type Item = PartitionInfo;

    fn next(&mut self) -> Option<PartitionInfo> {
        self.chunks.next().map(decode_descriptor)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for Descriptors<'_> {}

/// Decodes one 8- or 24-byte descriptor; missing UUID bytes read as nil.
fn decode_descriptor(desc: &[u8]) -> PartitionInfo {
    let mut full = [0u8; DESC_SIZE_V1_1];
    let n = desc.len().min(DESC_SIZE_V1_1);
    if let (Some(dst), Some(src)) = (full.get_mut(..n), desc.get(..n)) {
        dst.copy_from_slice(src);
    }
    let [i0, i1, c0, c1, p0, p1, p2, p3, uuid @ ..] = full;
    PartitionInfo {
        id: EndpointId(u16::from_le_bytes([i0, i1])),
        exec_ctx_count: u16::from_le_bytes([c0, c1]),
        properties: u32::from_le_bytes([p0, p1, p2, p3]),
        uuid: Uuid::from_bytes(uuid),
    }
}

/// Registers one descriptor takes in an FFA_PARTITION_INFO_GET_REGS answer.
pub const REGS_PER_DESCRIPTOR: usize = 3;
/// Most descriptors one FFA_PARTITION_INFO_GET_REGS answer carries (x3..x17).
pub const MAX_DESCRIPTORS_PER_REGS: usize = 5;

/// One FFA_PARTITION_INFO_GET_REGS answer, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegsChunk {
    /// Index of the last partition of the whole list.
    pub last_index: u16,
    /// Index of the last partition in this answer.
    pub current_index: u16,
    /// The information tag.
    pub tag: u16,
    infos: [PartitionInfo; MAX_DESCRIPTORS_PER_REGS],
    count: usize,
}

impl RegsChunk {
    /// The partitions this answer carries.
    pub fn infos(&self) -> &[PartitionInfo] {
        self.infos.get(..self.count).unwrap_or(&[])
    }
}

/// Packs x2..x17 of the FFA_SUCCESS64 answer to FFA_PARTITION_INFO_GET_REGS for the list `all`,
/// starting at `start_index`, with information `tag`: x2 holds the last index \[15:0\], the
/// current index \[31:16\], the tag \[47:32\] and the descriptor size \[63:48\]; each descriptor then
/// takes three registers: ID | context count << 16 | properties << 32, and the UUID's bytes
/// 0..8 and 8..16 as little-endian words. Properties are cut to v1.2, the only version with
/// this call.
pub fn pack_regs(
    all: &[PartitionInfo],
    start_index: u16,
    tag: u16,
) -> Result<[u64; 16], PartitionInfoError> {
    let last = all
        .len()
        .checked_sub(1)
        .ok_or(PartitionInfoError::BadIndex)?;
    let last = u16::try_from(last).map_err(|_| PartitionInfoError::TooManyPartitions)?;
    if start_index > last {
        return Err(PartitionInfoError::BadIndex);
    }
    let start = usize::from(start_index);
    let chunk = all
        .get(start..)
        .ok_or(PartitionInfoError::BadIndex)?
        .iter()
        .take(MAX_DESCRIPTORS_PER_REGS);
    let mut regs = [0u64; 16];
    let mut current = start_index;
    for (i, info) in chunk.enumerate() {
        // i < 5 and start + i <= last, which fits u16.
        current = start_index.saturating_add(i as u16);
        let props = properties_for_version(info.properties, Version(1, 2));
        let bytes = info.uuid.as_bytes();
        let (lo, hi) = bytes.split_at(8);
        let words = [
            u64::from(info.id.0) | u64::from(info.exec_ctx_count) << 16 | u64::from(props) << 32,
            u64::from_le_bytes(lo.try_into().unwrap_or([0; 8])),
            u64::from_le_bytes(hi.try_into().unwrap_or([0; 8])),
        ];
        let at = 1 + i * REGS_PER_DESCRIPTOR;
        if let Some(dst) = regs.get_mut(at..at + REGS_PER_DESCRIPTOR) {
            dst.copy_from_slice(&words);
        }
    }
    regs[0] = u64::from(last)
        | u64::from(current) << 16
        | u64::from(tag) << 32
        | (DESC_SIZE_V1_1 as u64) << 48;
    Ok(regs)
}

/// Decodes x2..x17 of an FFA_PARTITION_INFO_GET_REGS answer to a request that started at
/// `start_index`.
pub fn unpack_regs(regs: &[u64; 16], start_index: u16) -> Result<RegsChunk, PartitionInfoError> {
    let head = regs[0];
    let last_index = head as u16;
    let current_index = (head >> 16) as u16;
    let tag = (head >> 32) as u16;
    let size = (head >> 48) as u16;
    if usize::from(size) != DESC_SIZE_V1_1
        || current_index > last_index
        || current_index < start_index
    {
        return Err(PartitionInfoError::MalformedRegs);
    }
    let count = usize::from(current_index - start_index) + 1;
    if count > MAX_DESCRIPTORS_PER_REGS {
        return Err(PartitionInfoError::MalformedRegs);
    }
    let empty = PartitionInfo {
        id: EndpointId(0),
        exec_ctx_count: 0,
        properties: 0,
        uuid: Uuid::nil(),
    };
    let mut infos = [empty; MAX_DESCRIPTORS_PER_REGS];
    let descs = regs
        .get(1..)
        .unwrap_or(&[])
        .chunks_exact(REGS_PER_DESCRIPTOR);
    for (slot, words) in infos.iter_mut().zip(descs).take(count) {
        let &[w0, w1, w2] = words else {
            continue;
        };
        let mut uuid = [0u8; 16];
        uuid[..8].copy_from_slice(&w1.to_le_bytes());
        uuid[8..].copy_from_slice(&w2.to_le_bytes());
        *slot = PartitionInfo {
            id: EndpointId(w0 as u16),
            exec_ctx_count: (w0 >> 16) as u16,
            properties: (w0 >> 32) as u32,
            uuid: Uuid::from_bytes(uuid),
        };
    }
    Ok(RegsChunk {
        last_index,
        current_index,
        tag,
        infos,
        count,
    })
}
