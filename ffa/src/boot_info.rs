//! The FF-A boot-information blob handed to partitions.
//!
//! FF-A v1.1 introduced the blob (v1.0 partitions get none). The SPMC writes one whose single
//! descriptor points at the partition's FF-A manifest and passes its address in the register the
//! manifest's `gp-register-num` names.
//!
//! ```text
//! header (32 bytes)                      descriptor (32 bytes)
//!  0 u32 signature 0x0FFA                  0 16 bytes name
//!  4 u32 version (FFA_VERSION encoding)   16 u8  type: bit 7 impdef, bits [6:0] ID (0 = FDT)
//!  8 u32 blob size                        17 u8  reserved (MBZ)
//! 12 u32 descriptor size                  18 u16 flags: [1:0] name format, [3:2] contents format
//! 16 u32 descriptor count                 20 u32 size of the information
//! 20 u32 descriptor array offset          24 u64 contents (address or value)
//! 24 u64 reserved (MBZ)
//! ```
//!
//! The manifest is referenced by address and is not part of the blob, so the blob size covers
//! only the header and the descriptor, as OP-TEE's producer writes it. OP-TEE insists on
//! exactly one descriptor and a blob version equal to the partition's FF-A version.

use arm_ffa::{FfaError, Version};

/// The header signature.
pub const SIGNATURE: u32 = 0x0ffa;
/// Size of the header, which is also where our descriptor array starts (8-byte aligned).
pub const HEADER_SIZE: usize = 32;
/// Size of one descriptor.
pub const DESC_SIZE: usize = 32;
/// Size of the blob [`write_manifest_blob`] writes.
pub const MANIFEST_BLOB_SIZE: usize = HEADER_SIZE + DESC_SIZE;
/// Name of the manifest descriptor (a NUL-terminated string, name format 0).
pub const MANIFEST_NAME: &[u8] = b"FF-A manifest";

/// Type field: standard information, identifier 0 (flattened device tree).
pub const TYPE_STD_FDT: u8 = 0;
/// Type field: standard information, identifier 1 (HOB list).
pub const TYPE_STD_HOB: u8 = 1;
/// Type field bit 7: implementation-defined information.
pub const TYPE_IMPDEF: u8 = 1 << 7;
/// Flags bits \[1:0\]: the name is a UUID (else a NUL-terminated string).
pub const FLAG_NAME_UUID: u16 = 0b01;
/// Flags bits \[3:2\]: the contents field holds the value (else an address).
pub const FLAG_CONTENTS_VALUE: u16 = 0b01 << 2;

/// Why a blob could not be written or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootInfoError {
    /// FF-A v1.0 has no blob of this format; versions past v1.2 are not ours to write.
    UnsupportedVersion,
    /// A manifest of zero bytes.
    EmptyManifest,
    /// The output buffer is smaller than [`MANIFEST_BLOB_SIZE`].
    BufferTooSmall,
    /// The input is not a well-formed blob.
    Malformed,
    /// The blob has no standard FDT descriptor holding an address.
    NoManifest,
}

impl From<BootInfoError> for FfaError {
    fn from(e: BootInfoError) -> Self {
        match e {
            BootInfoError::BufferTooSmall => FfaError::NoMemory,
            BootInfoError::UnsupportedVersion => FfaError::NotSupported,
            _ => FfaError::InvalidParameters,
        }
    }
}

/// Writes a blob for a partition at `version` with one descriptor: the partition's FF-A
/// manifest, `manifest_size` bytes at `manifest_addr` (in the partition's address space).
/// Returns the blob's length.
pub fn write_manifest_blob(
    version: Version,
    manifest_addr: u64,
    manifest_size: u32,
    buf: &mut [u8],
) -> Result<usize, BootInfoError> {
    if !(Version(1, 1)..=Version(1, 2)).contains(&version) {
        return Err(BootInfoError::UnsupportedVersion);
    }
    if manifest_size == 0 {
        return Err(BootInfoError::EmptyManifest);
    }
    let out = buf
        .get_mut(..MANIFEST_BLOB_SIZE)
        .ok_or(BootInfoError::BufferTooSmall)?;
    let mut blob = [0u8; MANIFEST_BLOB_SIZE];
    let version_word = (u32::from(version.0) << 16) | u32::from(version.1);
    put(&mut blob, 0, &SIGNATURE.to_le_bytes());
    put(&mut blob, 4, &version_word.to_le_bytes());
    put(&mut blob, 8, &(MANIFEST_BLOB_SIZE as u32).to_le_bytes());
    put(&mut blob, 12, &(DESC_SIZE as u32).to_le_bytes());
    put(&mut blob, 16, &1u32.to_le_bytes());
    put(&mut blob, 20, &(HEADER_SIZE as u32).to_le_bytes());
    let desc = HEADER_SIZE;
    put(&mut blob, desc, MANIFEST_NAME);
    put(&mut blob, desc + 16, &[TYPE_STD_FDT]);
    // Flags 0: string name, address contents.
    put(&mut blob, desc + 20, &manifest_size.to_le_bytes());
    put(&mut blob, desc + 24, &manifest_addr.to_le_bytes());
    out.copy_from_slice(&blob);
    Ok(MANIFEST_BLOB_SIZE)
}

/// Where a blob says the partition's manifest is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManifestRef {
    /// The blob's version.
    pub version: Version,
    /// Address of the manifest.
    pub address: u64,
    /// Size of the manifest in bytes.
    pub size: u32,
}

/// Finds the first standard FDT descriptor holding an address in a blob (what a partition does
/// with its x0), without following the address.
pub fn find_manifest(buf: &[u8]) -> Result<ManifestRef, BootInfoError> {
    if word(buf, 0)? != SIGNATURE || dword(buf, 24)? != 0 {
        return Err(BootInfoError::Malformed);
    }
    let v = word(buf, 4)?;
    if v & (1 << 31) != 0 {
        return Err(BootInfoError::Malformed);
    }
    let version = Version((v >> 16) as u16, v as u16);
    let desc_size = index(word(buf, 12)?)?;
    let count = index(word(buf, 16)?)?;
    let offset = index(word(buf, 20)?)?;
    if desc_size < DESC_SIZE || !offset.is_multiple_of(8) || offset < HEADER_SIZE {
        return Err(BootInfoError::Malformed);
    }
    for i in 0..count {
        let at = i
            .checked_mul(desc_size)
            .and_then(|n| n.checked_add(offset))
            .ok_or(BootInfoError::Malformed)?;
        let typ = byte(buf, field(at, 16)?)?;
        let flags = u16::from_le_bytes([byte(buf, field(at, 18)?)?, byte(buf, field(at, 19)?)?]);
        // Contents format, bits [3:2], must say "address".
        if typ == TYPE_STD_FDT && (flags >> 2) & 0b11 == 0 {
            return Ok(ManifestRef {
                version,
                address: dword(buf, field(at, 24)?)?,
                size: word(buf, field(at, 20)?)?,
            });
        }
    }
    Err(BootInfoError::NoManifest)
}

fn put(blob: &mut [u8; MANIFEST_BLOB_SIZE], at: usize, bytes: &[u8]) {
    if let Some(dst) = blob.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

fn field(desc: usize, offset: usize) -> Result<usize, BootInfoError> {
    desc.checked_add(offset).ok_or(BootInfoError::Malformed)
}

fn index(v: u32) -> Result<usize, BootInfoError> {
    usize::try_from(v).map_err(|_| BootInfoError::Malformed)
}

fn byte(buf: &[u8], at: usize) -> Result<u8, BootInfoError> {
    buf.get(at).copied().ok_or(BootInfoError::Malformed)
}

fn word(buf: &[u8], at: usize) -> Result<u32, BootInfoError> {
    let b = buf
        .get(at..at.checked_add(4).ok_or(BootInfoError::Malformed)?)
        .ok_or(BootInfoError::Malformed)?;
    b.try_into()
        .map(u32::from_le_bytes)
        .map_err(|_| BootInfoError::Malformed)
}

fn dword(buf: &[u8], at: usize) -> Result<u64, BootInfoError> {
    let b = buf
        .get(at..at.checked_add(8).ok_or(BootInfoError::Malformed)?)
        .ok_or(BootInfoError::Malformed)?;
    b.try_into()
        .map(u64::from_le_bytes)
        .map_err(|_| BootInfoError::Malformed)
}
