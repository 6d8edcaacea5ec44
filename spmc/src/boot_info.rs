//! The FF-A boot-information blob a partition gets at cold boot, and the SPKG package header
//! it is built from.
//!
//! A partition whose manifest has `gp-register-num` = n is entered with x\[n\] = the address of
//! an FF-A boot-information blob (FF-A v1.1 §5.4) holding one "FF-A manifest" descriptor that
//! points at its manifest, in the layout of its manifest's `ffa-version`; the other registers
//! are 0. As Hafnium does for SPKG packages (`partition_pkg.c`), the blob goes in the first
//! page of the package, where the SPKG header was: the SPMC has no more use for it once the
//! package is loaded. Hafnium writes the blob when the manifest has a `boot-info` node with
//! `ffa_manifest`; we key on `gp-register-num`, the register the partition reads it from.
//!
//! The SPKG v2 header (at `load_address`; little-endian u32s): magic "SPKG", version 2,
//! manifest offset, manifest size, image offset, image size. It is untrusted data: the
//! manifest must sit at [`MANIFEST_OFFSET`] (where the SPMC reads every manifest), be
//! non-empty and end before the image; offsets are page aligned (Hafnium's `sp_pkg_init_v2`
//! checks) and the package lies inside the partition's memory.

use ffa::Version;
use ffa::boot_info::{BootInfoError, MANIFEST_BLOB_SIZE, write_manifest_blob};

use crate::partition::MANIFEST_OFFSET;
use crate::platform::{Platform, Space};
use crate::spmc::Spmc;

/// "SPKG", read as a little-endian u32.
pub const SPKG_MAGIC: u32 = u32::from_le_bytes(*b"SPKG");
/// The only package version the SPMC takes (the manifest page-aligned after a boot-info page).
pub const SPKG_VERSION: u32 = 2;
/// Size of the SPKG header.
pub const SPKG_HEADER_SIZE: usize = 24;

/// What an SPKG header says, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpkgHeader {
    /// Offset of the partition manifest from the package start.
    pub pm_offset: u32,
    /// Size of the partition manifest.
    pub pm_size: u32,
    /// Offset of the partition image.
    pub img_offset: u32,
    /// Size of the partition image.
    pub img_size: u32,
}

/// Why a package header was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackageError {
    /// The platform could not read the header.
    Unreadable,
    /// No "SPKG" magic.
    BadMagic(u32),
    /// A version other than 2.
    UnsupportedVersion(u32),
    /// The manifest or image offset is not page aligned.
    Misaligned,
    /// The manifest is not at `load_address + 0x1000`, where the SPMC reads it.
    ManifestOffset(u32),
    /// A manifest of zero bytes.
    EmptyManifest,
    /// The manifest runs into the image.
    ManifestOverlapsImage,
    /// The package reaches past the partition's memory.
    OutsideMemory,
}

/// Why a partition could not get its boot-information blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootInfoFailure {
    /// Its SPKG header is not valid.
    Package(PackageError),
    /// The blob could not be built (its FF-A version has no blob layout).
    Blob(BootInfoError),
    /// The platform refused the write into the partition's memory.
    Unwritable,
}

/// Validates the header bytes of a package of a partition owning `memory_size` bytes.
pub fn parse_spkg_header(
    bytes: &[u8; SPKG_HEADER_SIZE],
    memory_size: u64,
) -> Result<SpkgHeader, PackageError> {
    let word = |i: usize| {
        let mut w = [0u8; 4];
        if let Some(b) = bytes.get(i * 4..i * 4 + 4) {
            w.copy_from_slice(b);
        }
        u32::from_le_bytes(w)
    };
    let [magic, version, pm_offset, pm_size, img_offset, img_size] = [0, 1, 2, 3, 4, 5].map(word);
    if magic != SPKG_MAGIC {
        return Err(PackageError::BadMagic(magic));
    }
    if version != SPKG_VERSION {
        return Err(PackageError::UnsupportedVersion(version));
    }
    let page = ffa::PAGE_SIZE as u32;
    if !pm_offset.is_multiple_of(page) || !img_offset.is_multiple_of(page) {
        return Err(PackageError::Misaligned);
    }
    if u64::from(pm_offset) != MANIFEST_OFFSET {
        return Err(PackageError::ManifestOffset(pm_offset));
    }
    if pm_size == 0 {
        return Err(PackageError::EmptyManifest);
    }
    if pm_offset
        .checked_add(pm_size)
        .is_none_or(|end| end > img_offset)
    {
        return Err(PackageError::ManifestOverlapsImage);
    }
    if u64::from(img_offset) + u64::from(img_size) > memory_size {
        return Err(PackageError::OutsideMemory);
    }
    Ok(SpkgHeader {
        pm_offset,
        pm_size,
        img_offset,
        img_size,
    })
}

impl<P: Platform> Spmc<P> {
    /// Writes the boot-information blob of the partition at table index `index` over its
    /// SPKG header and returns the blob's address.
    pub(crate) fn write_boot_info(&mut self, index: usize) -> Result<u64, BootInfoFailure> {
        let Some(p) = self.partitions.get(index) else {
            return Err(BootInfoFailure::Unwritable);
        };
        let load = p.config.load_address;
        let memory_size = p.config.memory_size;
        let version: Version = p.version.version();
        let mut bytes = [0u8; SPKG_HEADER_SIZE];
        self.platform
            .read(Space::Secure, load, &mut bytes)
            .map_err(|_| BootInfoFailure::Package(PackageError::Unreadable))?;
        let header = parse_spkg_header(&bytes, memory_size).map_err(BootInfoFailure::Package)?;
        // In range: the header check bounds the offset by the partition's memory.
        let manifest = load
            .checked_add(u64::from(header.pm_offset))
            .ok_or(BootInfoFailure::Package(PackageError::OutsideMemory))?;
        let mut blob = [0u8; MANIFEST_BLOB_SIZE];
        let len = write_manifest_blob(version, manifest, header.pm_size, &mut blob)
            .map_err(BootInfoFailure::Blob)?;
        let data = blob.get(..len).ok_or(BootInfoFailure::Unwritable)?;
        self.platform
            .write(Space::Secure, load, data)
            .map_err(|_| BootInfoFailure::Unwritable)?;
        // The partition reads it with its caches off.
        self.platform.clean_to_poc(Space::Secure, load, data.len());
        Ok(load)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(words: [u32; 6]) -> [u8; SPKG_HEADER_SIZE] {
        let mut out = [0u8; SPKG_HEADER_SIZE];
        for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    #[test]
    fn a_v2_header_with_the_manifest_on_page_one_is_taken() {
        let h = parse_spkg_header(
            &header([SPKG_MAGIC, 2, 0x1000, 0x300, 0x4000, 0x8000]),
            1 << 20,
        );
        assert_eq!(
            h,
            Ok(SpkgHeader {
                pm_offset: 0x1000,
                pm_size: 0x300,
                img_offset: 0x4000,
                img_size: 0x8000
            })
        );
    }

    #[test]
    fn bad_headers_say_why() {
        let m = SPKG_MAGIC;
        let cases = [
            (
                [0x474b_5053 ^ 1, 2, 0x1000, 1, 0x4000, 0],
                PackageError::BadMagic(0x474b_5052),
            ),
            (
                [m, 1, 0x1000, 1, 0x4000, 0],
                PackageError::UnsupportedVersion(1),
            ),
            ([m, 2, 0x1001, 1, 0x4000, 0], PackageError::Misaligned),
            ([m, 2, 0x1000, 1, 0x4008, 0], PackageError::Misaligned),
            (
                [m, 2, 0x2000, 1, 0x4000, 0],
                PackageError::ManifestOffset(0x2000),
            ),
            ([m, 2, 0, 1, 0x4000, 0], PackageError::ManifestOffset(0)),
            ([m, 2, 0x1000, 0, 0x4000, 0], PackageError::EmptyManifest),
            (
                [m, 2, 0x1000, 0x3001, 0x4000, 0],
                PackageError::ManifestOverlapsImage,
            ),
            (
                [m, 2, 0x1000, u32::MAX, 0x4000, 0],
                PackageError::ManifestOverlapsImage,
            ),
            (
                [m, 2, 0x1000, 1, 0x4000, u32::MAX],
                PackageError::OutsideMemory,
            ),
            ([m, 2, 0x1000, 1, 0x10_0000, 1], PackageError::OutsideMemory),
        ];
        for (words, why) in cases {
            assert_eq!(
                parse_spkg_header(&header(words), 0x10_0000),
                Err(why),
                "{words:x?}"
            );
        }
    }
}
