//! The partition's stage-1 translation: an identity map of two 1 GiB blocks, so that it can
//! reach the normal world's memory it retrieves (FF-A maps that in the partition's
//! *non-secure* IPA space, which only a stage-1 descriptor with the NS bit names).
//!
//! - `[0, 1 GiB)`: secure, Normal memory (its own window, and whatever else it tries to reach:
//!   stage 2 decides what it may touch);
//! - `[1 GiB, 2 GiB)`: non-secure, Normal memory, never executable (QEMU's DRAM: the normal
//!   world's memory).
//!
//! Caches stay off (SCTLR_EL1.C and I clear): every data access is Non-cacheable, as with the
//! MMU off, so what the SPMC and the normal world write is what the partition reads without
//! cache maintenance. Every context turns it on for itself; the table is constant.

use aarch64_cpu::registers::{MAIR_EL1, ReadWriteable, SCTLR_EL1, TCR_EL1, TTBR0_EL1, Writeable};
use aarch64_paging::descriptor::El1Attributes as A;

use test_partitions::definitions::NON_SECURE_WINDOW as NON_SECURE;

/// Level-1 table entries: 1 GiB each (39-bit VA, T0SZ = 25, the walk starts at level 1).
#[repr(C, align(4096))]
struct Level1([u64; 512]);

const SECURE_BLOCK: u64 = A::VALID
    .union(A::ATTRIBUTE_INDEX_0)
    .union(A::INNER_SHAREABLE)
    .union(A::ACCESSED)
    .bits() as u64;
const NON_SECURE_BLOCK: u64 = A::VALID
    .union(A::ATTRIBUTE_INDEX_0)
    .union(A::INNER_SHAREABLE)
    .union(A::ACCESSED)
    .union(A::NS)
    .union(A::PXN)
    .union(A::UXN)
    .bits() as u64;

static LEVEL1: Level1 = {
    let mut entries = [0u64; 512];
    entries[0] = SECURE_BLOCK;
    entries[(NON_SECURE.0 >> 30) as usize] = NON_SECURE.0 | NON_SECURE_BLOCK;
    Level1(entries)
};

/// Turns stage-1 translation on for this context (identity: the code runs on unchanged).
pub fn enable() {
    MAIR_EL1.write(
        MAIR_EL1::Attr0_Normal_Outer::NonCacheable + MAIR_EL1::Attr0_Normal_Inner::NonCacheable,
    );
    TCR_EL1.write(
        TCR_EL1::T0SZ.val(25)
            + TCR_EL1::TG0::KiB_4
            + TCR_EL1::SH0::Inner
            + TCR_EL1::ORGN0::NonCacheable
            + TCR_EL1::IRGN0::NonCacheable
            + TCR_EL1::EPD1::DisableTTBR1Walks
            + TCR_EL1::IPS::Bits_40,
    );
    TTBR0_EL1.set_baddr(&raw const LEVEL1 as u64);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    SCTLR_EL1.modify(SCTLR_EL1::M::Enable);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}
