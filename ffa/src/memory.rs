//! Memory transaction descriptors in the v1.0, v1.1 and v1.2 layouts.
//!
//! One descriptor shape serves FFA_MEM_SHARE, FFA_MEM_LEND, FFA_MEM_DONATE, FFA_MEM_RETRIEVE_REQ
//! and FFA_MEM_RETRIEVE_RESP. [`MemTransaction`] is its version-independent model; translating
//! between versions is [`MemTransaction::parse`] in one [`Layout`] and
//! [`MemTransaction::write`] in another.
//!
//! The three layouts (byte offsets, little-endian):
//!
//! ```text
//! v1.0 header (32 bytes)             v1.1 / v1.2 header (48 bytes)
//!  0 u16 sender                       0 u16 sender
//!  2 u8  attributes                   2 u16 attributes
//!  3 u8  reserved (MBZ)               4 u32 flags
//!  4 u32 flags                        8 u64 handle
//!  8 u64 handle                      16 u64 tag
//! 16 u64 tag                         24 u32 endpoint memory access descriptor size
//! 24 u32 reserved (MBZ)              28 u32 receiver count
//! 28 u32 receiver count              32 u32 offset of the access descriptor array
//! 32 access descriptors              36 12 bytes reserved (MBZ)
//!
//! endpoint memory access descriptor: v1.0 and v1.1 16 bytes, v1.2 32 bytes
//!  0 u16 receiver ID, 2 u8 permissions, 3 u8 receiver flags, 4 u32 composite offset,
//!  v1.0/v1.1: 8 u64 reserved (MBZ)
//!  v1.2:      8 16 bytes implementation defined, 24 u64 reserved (MBZ)
//!
//! composite memory region descriptor (16 bytes), then its constituents (16 bytes each)
//!  0 u32 total page count, 4 u32 constituent count, 8 u64 reserved (MBZ)
//!  constituent: 0 u64 address, 8 u32 page count, 12 u32 reserved (MBZ)
//! ```
//!
//! Every receiver names the same composite descriptor; offset 0 means "no composite" (the shape
//! of a retrieve request), which the model holds as an empty [`MemTransaction::ranges`].

use core::fmt;
use core::ops::Deref;

use arm_ffa::{FfaError, Version};

use crate::id::EndpointId;

/// Most receivers of one transaction we hold. FF-A sets no limit; the SPMC and proxy keep
/// bounded tables, and real clients (Linux, OP-TEE, the ACS) name one or two.
pub const MAX_RECEIVERS: usize = 8;

/// Most constituent address ranges of one transaction we hold. A larger transaction is answered
/// with NO_MEMORY.
pub const MAX_RANGES: usize = 64;

/// FF-A's page for constituent addresses and counts, whatever the translation granule.
const PAGE: u64 = 4096;

/// The most bytes [`MemTransaction::write`] ever produces (v1.2, full tables).
pub const MAX_ENCODED_LEN: usize =
    HEADER_V1_1 + MAX_RECEIVERS * EMAD_V1_2 + COMPOSITE_SIZE + MAX_RANGES * CONSTITUENT_SIZE;

const HEADER_V1_0: usize = 32;
const HEADER_V1_1: usize = 48;
const EMAD_V1_0: usize = 16;
const EMAD_V1_2: usize = 32;
const COMPOSITE_SIZE: usize = 16;
/// The composite offset's alignment (Hafnium and TF-A both require 16).
const COMPOSITE_ALIGN: usize = 16;
/// The access descriptor array offset's alignment (the spec's "16-byte aligned offset").
const EMAD_OFFSET_ALIGN: usize = 16;

/// Memory region attributes (the 8-bit v1.0 and 16-bit v1.1+ field).
pub mod attributes {
    /// Shareability, bits \[1:0\].
    pub const SHAREABILITY_MASK: u16 = 0b11;
    /// Non-shareable.
    pub const NON_SHAREABLE: u16 = 0b00;
    /// Outer shareable.
    pub const OUTER_SHAREABLE: u16 = 0b10;
    /// Inner shareable.
    pub const INNER_SHAREABLE: u16 = 0b11;
    /// Cacheability (normal memory) or device attributes (device memory), bits \[3:2\].
    pub const CACHEABILITY_MASK: u16 = 0b11 << 2;
    /// Normal memory, non-cacheable.
    pub const NON_CACHEABLE: u16 = 0b01 << 2;
    /// Normal memory, write-back cacheable.
    pub const WRITE_BACK: u16 = 0b11 << 2;
    /// Device-nGnRnE.
    pub const DEVICE_NGNRNE: u16 = 0b00 << 2;
    /// Device-nGnRE.
    pub const DEVICE_NGNRE: u16 = 0b01 << 2;
    /// Device-nGRE.
    pub const DEVICE_NGRE: u16 = 0b10 << 2;
    /// Device-GRE.
    pub const DEVICE_GRE: u16 = 0b11 << 2;
    /// Memory type, bits \[5:4\].
    pub const TYPE_MASK: u16 = 0b11 << 4;
    /// Type not specified.
    pub const TYPE_NOT_SPECIFIED: u16 = 0b00 << 4;
    /// Device memory.
    pub const TYPE_DEVICE: u16 = 0b01 << 4;
    /// Normal memory.
    pub const TYPE_NORMAL: u16 = 0b10 << 4;
    /// Bit 6: the region is in the non-secure address space (retrieve responses to a partition).
    pub const NON_SECURE: u16 = 1 << 6;
    /// Every bit any version defines; the rest are MBZ.
    pub const DEFINED: u16 = 0x7f;
}

/// Memory access permissions of a receiver.
pub mod permissions {
    /// Data access, bits \[1:0\].
    pub const DATA_MASK: u8 = 0b11;
    /// Data access not specified.
    pub const DATA_NOT_SPECIFIED: u8 = 0b00;
    /// Read-only.
    pub const DATA_RO: u8 = 0b01;
    /// Read-write.
    pub const DATA_RW: u8 = 0b10;
    /// Instruction access, bits \[3:2\].
    pub const INSTRUCTION_MASK: u8 = 0b11 << 2;
    /// Instruction access not specified.
    pub const INSTRUCTION_NOT_SPECIFIED: u8 = 0b00 << 2;
    /// Not executable.
    pub const INSTRUCTION_NX: u8 = 0b01 << 2;
    /// Executable.
    pub const INSTRUCTION_X: u8 = 0b10 << 2;
    /// Every defined bit; bits \[7:4\] are MBZ.
    pub const DEFINED: u8 = 0x0f;
}

/// Per-receiver flags of an endpoint memory access descriptor.
pub mod receiver_flags {
    /// Retrieve request/response: this receiver is a non-retrieval borrower.
    pub const NON_RETRIEVAL_BORROWER: u8 = 1 << 0;
    /// Every defined bit; bits \[7:1\] are MBZ.
    pub const DEFINED: u8 = 0x01;
}

/// Transaction flags (meaning depends on the operation; the caller validates them).
pub mod flags {
    /// Zero the memory (send: before mapping it to receivers; retrieve: before mapping it).
    pub const CLEAR: u32 = 1 << 0;
    /// The operation may be time sliced.
    pub const TIME_SLICE: u32 = 1 << 1;
    /// Zero the memory after the receiver relinquishes it.
    pub const CLEAR_RELINQUISH: u32 = 1 << 2;
    /// Retrieve: transaction type, bits \[4:3\].
    pub const TYPE_MASK: u32 = 0b11 << 3;
    /// Retrieve: type given in the response.
    pub const TYPE_IN_RESPONSE: u32 = 0b00 << 3;
    /// Retrieve: share.
    pub const TYPE_SHARE: u32 = 0b01 << 3;
    /// Retrieve: lend.
    pub const TYPE_LEND: u32 = 0b10 << 3;
    /// Retrieve: donate.
    pub const TYPE_DONATE: u32 = 0b11 << 3;
    /// Retrieve: address range alignment hint, bits \[8:5\].
    pub const ALIGNMENT_HINT_MASK: u32 = 0b1111 << 5;
    /// Retrieve: the alignment hint is valid.
    pub const ALIGNMENT_HINT_VALID: u32 = 1 << 9;
}

/// Why a descriptor was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescError {
    /// The buffer ends before something the descriptor says is there.
    Truncated,
    /// Bytes follow the last constituent (the total length must match the descriptor).
    TrailingBytes,
    /// A reserved (MBZ) field or bit is set.
    ReservedNonZero,
    /// The access descriptor size is not the layout's (v1.1: 16; v1.2: 32, or 16 as v1.1 sent).
    BadEmadSize,
    /// The access descriptor array offset is unaligned or overlaps the header.
    BadEmadOffset,
    /// The receiver count is zero.
    NoReceivers,
    /// More receivers than [`MAX_RECEIVERS`].
    TooManyReceivers,
    /// One receiver appears twice.
    DuplicateReceiver,
    /// Receivers name different composite descriptors.
    CompositeOffsetMismatch,
    /// The composite offset is unaligned or overlaps the header or access descriptors.
    BadCompositeOffset,
    /// The composite descriptor does not lie inside the buffer.
    CompositeOutOfRange,
    /// A composite descriptor with no constituents.
    NoRanges,
    /// More constituents than [`MAX_RANGES`].
    TooManyRanges,
    /// The total page count is not the sum of the constituents' page counts.
    PageCountMismatch,
    /// The constituents' page counts add up to more than 32 bits hold.
    PageCountOverflow,
    /// A constituent address is not 4 KiB aligned.
    UnalignedAddress,
    /// A constituent of zero pages.
    EmptyRange,
    /// A constituent runs past the end of the 64-bit address space.
    RangeOverflow,
    /// The output buffer is too small.
    BufferTooSmall,
}

impl From<DescError> for FfaError {
    fn from(e: DescError) -> Self {
        match e {
            // Our bounded tables, or the caller's buffer, cannot hold it.
            DescError::TooManyReceivers | DescError::TooManyRanges | DescError::BufferTooSmall => {
                FfaError::NoMemory
            }
            _ => FfaError::InvalidParameters,
        }
    }
}

/// The descriptor layout of an FF-A version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// FF-A v1.0: 32-byte header, 16-byte access descriptors at offset 32.
    V1_0,
    /// FF-A v1.1: 48-byte header, 16-byte access descriptors.
    V1_1,
    /// FF-A v1.2: 48-byte header, 32-byte access descriptors with implementation-defined data.
    V1_2,
}

impl Layout {
    /// The layout an endpoint that negotiated `version` uses (1.2 for anything newer).
    pub fn for_version(version: Version) -> Self {
        if version < Version(1, 1) {
            Self::V1_0
        } else if version < Version(1, 2) {
            Self::V1_1
        } else {
            Self::V1_2
        }
    }

    /// Size of the transaction header.
    pub const fn header_size(self) -> usize {
        match self {
            Self::V1_0 => HEADER_V1_0,
            Self::V1_1 | Self::V1_2 => HEADER_V1_1,
        }
    }

    /// Size of one endpoint memory access descriptor this layout writes.
    pub const fn emad_size(self) -> usize {
        match self {
            Self::V1_0 | Self::V1_1 => EMAD_V1_0,
            Self::V1_2 => EMAD_V1_2,
        }
    }

    /// Whether a header's access descriptor size is acceptable. A v1.2 endpoint may send the
    /// 16-byte form (Hafnium accepts descriptors of any version up to the caller's).
    const fn accepts_emad_size(self, size: u32) -> bool {
        match self {
            Self::V1_0 | Self::V1_1 => size as usize == EMAD_V1_0,
            Self::V1_2 => size as usize == EMAD_V1_0 || size as usize == EMAD_V1_2,
        }
    }
}

/// A fixed-capacity list: the model's receiver and range tables.
#[derive(Clone, Copy)]
pub struct BoundedVec<T: Copy, const N: usize> {
    items: [T; N],
    len: usize,
}

impl<T: Copy + Default, const N: usize> BoundedVec<T, N> {
    /// An empty list.
    pub fn new() -> Self {
        Self {
            items: [T::default(); N],
            len: 0,
        }
    }

    /// A list holding `items`, or `None` if there are more than `N`.
    pub fn from_slice(items: &[T]) -> Option<Self> {
        let mut list = Self::new();
        list.items.get_mut(..items.len())?.copy_from_slice(items);
        list.len = items.len();
        Some(list)
    }
}

impl<T: Copy, const N: usize> BoundedVec<T, N> {
    /// The capacity.
    pub const CAPACITY: usize = N;

    /// Appends `item`, or gives it back when the list is full.
    pub fn push(&mut self, item: T) -> Result<(), T> {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = item;
                self.len += 1;
                Ok(())
            }
            None => Err(item),
        }
    }

    /// Empties the list.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The items.
    pub fn as_slice(&self) -> &[T] {
        self.items.get(..self.len).unwrap_or(&[])
    }

    /// The items, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self.items.get_mut(..self.len).unwrap_or(&mut [])
    }
}

impl<T: Copy + Default, const N: usize> Default for BoundedVec<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy, const N: usize> Deref for BoundedVec<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: Copy + PartialEq, const N: usize> PartialEq for BoundedVec<T, N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Copy + Eq, const N: usize> Eq for BoundedVec<T, N> {}

impl<T: Copy + fmt::Debug, const N: usize> fmt::Debug for BoundedVec<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// One receiver of a transaction (an endpoint memory access descriptor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receiver {
    /// The receiving endpoint.
    pub id: EndpointId,
    /// Access permissions (see [`permissions`]).
    pub permissions: u8,
    /// Receiver flags (see [`receiver_flags`]).
    pub flags: u8,
    /// v1.2's implementation-defined 16 bytes as two little-endian words; dropped by the v1.0
    /// and v1.1 layouts, which read back as zero.
    pub impdef: [u64; 2],
}

impl Default for Receiver {
    fn default() -> Self {
        Self {
            id: EndpointId(0),
            permissions: 0,
            flags: 0,
            impdef: [0; 2],
        }
    }
}

/// One constituent memory region: `pages` 4 KiB pages from `address`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddressRange {
    /// Base address (IPA or PA), 4 KiB aligned.
    pub address: u64,
    /// Number of 4 KiB pages, at least one.
    pub pages: u32,
}

impl AddressRange {
    /// The first address past the range, or `None` if it passes the end of the address space.
    pub fn end(&self) -> Option<u64> {
        u64::from(self.pages)
            .checked_mul(PAGE)
            .and_then(|len| self.address.checked_add(len))
    }
}

/// A composite memory region descriptor's header: how many constituents follow it, where, and
/// the page count they add up to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Composite {
    /// The total page count the descriptor states.
    pub total_pages: u32,
    /// The number of constituents, at least one.
    pub count: u32,
    /// Byte offset of the first constituent in the descriptor.
    pub constituents_at: usize,
}

impl Composite {
    /// The descriptor's length: it ends with its last constituent.
    pub fn end(&self) -> Option<usize> {
        to_usize(self.count)
            .ok()?
            .checked_mul(CONSTITUENT_SIZE)?
            .checked_add(self.constituents_at)
    }
}

/// Everything of a descriptor but its constituents: what the first fragment of a transaction
/// holds at least (FFA_MEM_FRAG_TX and FFA_MEM_FRAG_RX carry constituents only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescriptorHead {
    /// The owner of the memory.
    pub sender: EndpointId,
    /// Memory region attributes (see [`attributes`]).
    pub attributes: u16,
    /// Transaction flags (see [`flags`]).
    pub flags: u32,
    /// The memory region's handle (0 in a send).
    pub handle: u64,
    /// The sender's tag.
    pub tag: u64,
    /// The receivers, each named once; none only in a hypervisor retrieve request.
    pub receivers: BoundedVec<Receiver, MAX_RECEIVERS>,
    /// The composite descriptor; `None` in a retrieve request.
    pub composite: Option<Composite>,
}

impl DescriptorHead {
    /// Parses and validates the head of a descriptor of `layout` that is `total_len` bytes
    /// long, from `buf`, its first fragment (which must hold the header, the access
    /// descriptors and the composite header). A descriptor with a composite must end with its
    /// last constituent; one without (a retrieve request) may be followed by bytes that are
    /// ignored, as Hafnium allows.
    pub fn parse(buf: &[u8], total_len: usize, layout: Layout) -> Result<Self, DescError> {
        let head = Self::parse_any(buf, total_len, layout)?;
        if head.receivers.is_empty() {
            return Err(DescError::NoReceivers);
        }
        Ok(head)
    }

    /// [`parse`](Self::parse), but also taking a descriptor that names no receiver: the
    /// hypervisor retrieve request (FF-A v1.1+ §11.4.3), which gives only the handle.
    pub fn parse_any(buf: &[u8], total_len: usize, layout: Layout) -> Result<Self, DescError> {
        if total_len < buf.len() {
            return Err(DescError::TrailingBytes);
        }
        let sender = EndpointId(rd_u16(buf, 0)?);
        let flags = rd_u32(buf, 4)?;
        let handle = rd_u64(buf, 8)?;
        let tag = rd_u64(buf, 16)?;
        let (attributes, emad_size, count, emad_offset) = match layout {
            Layout::V1_0 => {
                if rd_u8(buf, 3)? != 0 || rd_u32(buf, 24)? != 0 {
                    return Err(DescError::ReservedNonZero);
                }
                let attributes = u16::from(rd_u8(buf, 2)?);
                (attributes, EMAD_V1_0, rd_u32(buf, 28)?, HEADER_V1_0)
            }
            Layout::V1_1 | Layout::V1_2 => {
                if rd_bytes(buf, 36, 12)?.iter().any(|&b| b != 0) {
                    return Err(DescError::ReservedNonZero);
                }
                let count = rd_u32(buf, 28)?;
                if count == 0 {
                    // A hypervisor retrieve request names no receiver, so its access-descriptor
                    // size and offset describe nothing: pKVM leaves them zero, and Hafnium
                    // does not look at them.
                    let attributes = rd_u16(buf, 2)?;
                    (attributes, EMAD_V1_2, 0, HEADER_V1_1)
                } else {
                    let emad_size = rd_u32(buf, 24)?;
                    if !layout.accepts_emad_size(emad_size) {
                        return Err(DescError::BadEmadSize);
                    }
                    let offset = to_usize(rd_u32(buf, 32)?)?;
                    if offset < HEADER_V1_1 || !offset.is_multiple_of(EMAD_OFFSET_ALIGN) {
                        return Err(DescError::BadEmadOffset);
                    }
                    let attributes = rd_u16(buf, 2)?;
                    (attributes, to_usize(emad_size)?, count, offset)
                }
            }
        };
        let count = to_usize(count)?;
        let receivers_end = count
            .checked_mul(emad_size)
            .and_then(|n| n.checked_add(emad_offset))
            .ok_or(DescError::Truncated)?;
        if receivers_end > buf.len() {
            return Err(DescError::Truncated);
        }
        if count > MAX_RECEIVERS {
            return Err(DescError::TooManyReceivers);
        }

        let mut receivers = BoundedVec::new();
        let mut composite_offset = None;
        for i in 0..count {
            let at = i
                .checked_mul(emad_size)
                .and_then(|n| n.checked_add(emad_offset))
                .ok_or(DescError::Truncated)?;
            let (impdef, reserved) = if emad_size == EMAD_V1_2 {
                (
                    [rd_u64(buf, at + 8)?, rd_u64(buf, at + 16)?],
                    rd_u64(buf, at + 24)?,
                )
            } else {
                ([0; 2], rd_u64(buf, at + 8)?)
            };
            if reserved != 0 {
                return Err(DescError::ReservedNonZero);
            }
            let offset = rd_u32(buf, at + 4)?;
            if *composite_offset.get_or_insert(offset) != offset {
                return Err(DescError::CompositeOffsetMismatch);
            }
            let receiver = Receiver {
                id: EndpointId(rd_u16(buf, at)?),
                permissions: rd_u8(buf, at + 2)?,
                flags: rd_u8(buf, at + 3)?,
                impdef,
            };
            receivers
                .push(receiver)
                .map_err(|_| DescError::TooManyReceivers)?;
        }

        let composite = match composite_offset {
            None | Some(0) => None,
            Some(offset) => Some(parse_composite(
                buf,
                total_len,
                to_usize(offset)?,
                receivers_end,
            )?),
        };
        let head = Self {
            sender,
            attributes,
            flags,
            handle,
            tag,
            receivers,
            composite,
        };
        head.validate()?;
        Ok(head)
    }

    /// The rules every head obeys whatever its layout and operation.
    fn validate(&self) -> Result<(), DescError> {
        if self.attributes & !attributes::DEFINED != 0 {
            return Err(DescError::ReservedNonZero);
        }
        for (i, r) in self.receivers.iter().enumerate() {
            if r.permissions & !permissions::DEFINED != 0 || r.flags & !receiver_flags::DEFINED != 0
            {
                return Err(DescError::ReservedNonZero);
            }
            let later = self.receivers.get(i + 1..).unwrap_or(&[]);
            if later.iter().any(|o| o.id == r.id) {
                return Err(DescError::DuplicateReceiver);
            }
        }
        Ok(())
    }

    /// The length of the head in `layout`: where the first constituent goes.
    pub fn len(&self, layout: Layout) -> usize {
        let composite = if self.composite.is_some() {
            COMPOSITE_SIZE
        } else {
            0
        };
        layout.header_size() + self.receivers.len() * layout.emad_size() + composite
    }

    /// The whole descriptor's length in `layout`, constituents included.
    pub fn total_len(&self, layout: Layout) -> usize {
        let count = self.composite.map_or(0, |c| c.count as usize);
        self.len(layout) + count * CONSTITUENT_SIZE
    }

    /// Writes the head in `layout` at the start of `buf` (the composite's page and constituent
    /// counts as `composite` says; its offset is this layout's) and returns its length, where
    /// the constituents follow ([`write_constituent`]).
    pub fn write(&self, buf: &mut [u8], layout: Layout) -> Result<usize, DescError> {
        self.validate()?;
        if self.receivers.is_empty() {
            return Err(DescError::NoReceivers);
        }
        let len = self.len(layout);
        let out = buf.get_mut(..len).ok_or(DescError::BufferTooSmall)?;
        out.fill(0);

        wr(out, 0, &self.sender.0.to_le_bytes())?;
        wr(out, 4, &self.flags.to_le_bytes())?;
        wr(out, 8, &self.handle.to_le_bytes())?;
        wr(out, 16, &self.tag.to_le_bytes())?;
        let count = self.receivers.len() as u32;
        let emad_offset = layout.header_size();
        let emad_size = layout.emad_size();
        match layout {
            Layout::V1_0 => {
                // validate() keeps attributes within bits [6:0].
                wr(out, 2, &[self.attributes as u8])?;
                wr(out, 28, &count.to_le_bytes())?;
            }
            Layout::V1_1 | Layout::V1_2 => {
                wr(out, 2, &self.attributes.to_le_bytes())?;
                wr(out, 24, &(emad_size as u32).to_le_bytes())?;
                wr(out, 28, &count.to_le_bytes())?;
                wr(out, 32, &(emad_offset as u32).to_le_bytes())?;
            }
        }

        let composite_offset = emad_offset + self.receivers.len() * emad_size;
        let composite_field = if self.composite.is_some() {
            composite_offset as u32
        } else {
            0
        };
        for (i, r) in self.receivers.iter().enumerate() {
            let at = emad_offset + i * emad_size;
            wr(out, at, &r.id.0.to_le_bytes())?;
            wr(out, at + 2, &[r.permissions, r.flags])?;
            wr(out, at + 4, &composite_field.to_le_bytes())?;
            if layout == Layout::V1_2 {
                wr(out, at + 8, &r.impdef[0].to_le_bytes())?;
                wr(out, at + 16, &r.impdef[1].to_le_bytes())?;
            }
        }
        if let Some(c) = self.composite {
            wr(out, composite_offset, &c.total_pages.to_le_bytes())?;
            wr(out, composite_offset + 4, &c.count.to_le_bytes())?;
        }
        Ok(len)
    }
}

/// Size of one constituent in every layout.
pub const CONSTITUENT_SIZE: usize = 16;

/// Reads the constituents in `bytes`, which must be a whole number of them; each is checked as
/// [`AddressRange::check`] does.
pub fn constituents(
    bytes: &[u8],
) -> Result<impl Iterator<Item = Result<AddressRange, DescError>> + '_, DescError> {
    if !bytes.len().is_multiple_of(CONSTITUENT_SIZE) {
        return Err(DescError::Truncated);
    }
    Ok(bytes.chunks_exact(CONSTITUENT_SIZE).map(|c| {
        if rd_u32(c, 12)? != 0 {
            return Err(DescError::ReservedNonZero);
        }
        let range = AddressRange {
            address: rd_u64(c, 0)?,
            pages: rd_u32(c, 8)?,
        };
        range.check()?;
        Ok(range)
    }))
}

/// Writes `range` as a constituent at the start of `out` (16 bytes).
pub fn write_constituent(out: &mut [u8], range: &AddressRange) -> Result<(), DescError> {
    wr(out, 0, &range.address.to_le_bytes())?;
    wr(out, 8, &range.pages.to_le_bytes())?;
    wr(out, 12, &0u32.to_le_bytes())
}

impl AddressRange {
    /// The rules every constituent obeys: 4 KiB aligned, at least one page, inside the 64-bit
    /// address space.
    pub fn check(&self) -> Result<(), DescError> {
        if !self.address.is_multiple_of(PAGE) {
            return Err(DescError::UnalignedAddress);
        }
        if self.pages == 0 {
            return Err(DescError::EmptyRange);
        }
        if self.end().is_none() {
            return Err(DescError::RangeOverflow);
        }
        Ok(())
    }
}

/// A memory transaction descriptor, whatever its layout, held whole: up to [`MAX_RANGES`]
/// constituents (the proxy's and the test partitions' model; the SPMC streams larger ones
/// through [`DescriptorHead`] and [`constituents`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemTransaction {
    /// The owner of the memory.
    pub sender: EndpointId,
    /// Memory region attributes (see [`attributes`]).
    pub attributes: u16,
    /// Transaction flags (see [`flags`]).
    pub flags: u32,
    /// The memory region's handle (0 in a send).
    pub handle: u64,
    /// The sender's tag.
    pub tag: u64,
    /// The receivers, at least one, each named once.
    pub receivers: BoundedVec<Receiver, MAX_RECEIVERS>,
    /// The constituents; empty when the descriptor has no composite (a retrieve request).
    pub ranges: BoundedVec<AddressRange, MAX_RANGES>,
}

impl MemTransaction {
    /// Parses and validates a descriptor of `layout` occupying exactly `buf` (the transaction's
    /// total length). A descriptor without a composite (a retrieve request) may be followed by
    /// bytes that are ignored, as Hafnium allows.
    pub fn parse(buf: &[u8], layout: Layout) -> Result<Self, DescError> {
        let head = DescriptorHead::parse(buf, buf.len(), layout)?;
        let mut ranges = BoundedVec::new();
        if let Some(c) = head.composite {
            if to_usize(c.count)? > MAX_RANGES {
                return Err(DescError::TooManyRanges);
            }
            let mut sum = 0u64;
            for range in constituents(buf.get(c.constituents_at..).unwrap_or(&[]))? {
                let range = range?;
                sum += u64::from(range.pages);
                ranges.push(range).map_err(|_| DescError::TooManyRanges)?;
            }
            if sum != u64::from(c.total_pages) {
                return Err(DescError::PageCountMismatch);
            }
        }
        Ok(Self {
            sender: head.sender,
            attributes: head.attributes,
            flags: head.flags,
            handle: head.handle,
            tag: head.tag,
            receivers: head.receivers,
            ranges,
        })
    }

    /// The head of this descriptor (its composite placed as `layout` places it).
    pub fn head(&self, layout: Layout) -> Result<DescriptorHead, DescError> {
        let mut head = DescriptorHead {
            sender: self.sender,
            attributes: self.attributes,
            flags: self.flags,
            handle: self.handle,
            tag: self.tag,
            receivers: self.receivers,
            composite: None,
        };
        if !self.ranges.is_empty() {
            let placeholder = Composite {
                total_pages: self.total_pages()?,
                count: self.ranges.len() as u32,
                constituents_at: 0,
            };
            head.composite = Some(placeholder);
            let at = head.len(layout);
            head.composite = Some(Composite {
                constituents_at: at,
                ..placeholder
            });
        }
        Ok(head)
    }

    /// Writes the descriptor in `layout` at the start of `buf` and returns its length. The
    /// value is validated as [`parse`](Self::parse) would; nothing is written on error.
    pub fn write(&self, buf: &mut [u8], layout: Layout) -> Result<usize, DescError> {
        self.validate()?;
        let len = self.encoded_len(layout);
        let out = buf.get_mut(..len).ok_or(DescError::BufferTooSmall)?;
        let at = self.head(layout)?.write(out, layout)?;
        for (i, r) in self.ranges.iter().enumerate() {
            let slot = out
                .get_mut(at + i * CONSTITUENT_SIZE..)
                .ok_or(DescError::BufferTooSmall)?;
            write_constituent(slot, r)?;
        }
        Ok(len)
    }

    /// The number of bytes [`write`](Self::write) produces in `layout`.
    pub fn encoded_len(&self, layout: Layout) -> usize {
        let composite = if self.ranges.is_empty() {
            0
        } else {
            COMPOSITE_SIZE + self.ranges.len() * CONSTITUENT_SIZE
        };
        layout.header_size() + self.receivers.len() * layout.emad_size() + composite
    }

    /// The sum of the constituents' page counts.
    pub fn total_pages(&self) -> Result<u32, DescError> {
        self.ranges.iter().try_fold(0u32, |sum, r| {
            sum.checked_add(r.pages).ok_or(DescError::PageCountOverflow)
        })
    }

    /// Whether the descriptor carries a composite (send, retrieve response) or not (retrieve
    /// request).
    pub fn has_composite(&self) -> bool {
        !self.ranges.is_empty()
    }

    /// The access descriptor for `id`, if it is a receiver.
    pub fn receiver(&self, id: EndpointId) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.id == id)
    }

    /// The rules every descriptor obeys whatever its layout and operation.
    pub fn validate(&self) -> Result<(), DescError> {
        if self.receivers.is_empty() {
            return Err(DescError::NoReceivers);
        }
        self.head(Layout::V1_2)?.validate()?;
        for r in self.ranges.iter() {
            r.check()?;
        }
        self.total_pages().map(|_| ())
    }
}

/// Reads the composite header at `offset` of the first fragment `buf` of a descriptor
/// `total_len` bytes long, which must end with the composite's last constituent.
fn parse_composite(
    buf: &[u8],
    total_len: usize,
    offset: usize,
    receivers_end: usize,
) -> Result<Composite, DescError> {
    if offset < receivers_end || !offset.is_multiple_of(COMPOSITE_ALIGN) {
        return Err(DescError::BadCompositeOffset);
    }
    let first = offset
        .checked_add(COMPOSITE_SIZE)
        .ok_or(DescError::CompositeOutOfRange)?;
    if first > buf.len() {
        return Err(DescError::CompositeOutOfRange);
    }
    let total_pages = rd_u32(buf, offset)?;
    let count = rd_u32(buf, offset + 4)?;
    if rd_u64(buf, offset + 8)? != 0 {
        return Err(DescError::ReservedNonZero);
    }
    if count == 0 {
        return Err(DescError::NoRanges);
    }
    let composite = Composite {
        total_pages,
        count,
        constituents_at: first,
    };
    let end = composite.end().ok_or(DescError::Truncated)?;
    if end > total_len {
        return Err(DescError::Truncated);
    }
    if end < total_len {
        return Err(DescError::TrailingBytes);
    }
    Ok(composite)
}

fn to_usize(v: u32) -> Result<usize, DescError> {
    usize::try_from(v).map_err(|_| DescError::Truncated)
}

fn rd_bytes(buf: &[u8], at: usize, len: usize) -> Result<&[u8], DescError> {
    let end = at.checked_add(len).ok_or(DescError::Truncated)?;
    buf.get(at..end).ok_or(DescError::Truncated)
}

fn rd_array<const N: usize>(buf: &[u8], at: usize) -> Result<[u8; N], DescError> {
    rd_bytes(buf, at, N)?
        .try_into()
        .map_err(|_| DescError::Truncated)
}

fn rd_u8(buf: &[u8], at: usize) -> Result<u8, DescError> {
    buf.get(at).copied().ok_or(DescError::Truncated)
}

fn rd_u16(buf: &[u8], at: usize) -> Result<u16, DescError> {
    rd_array(buf, at).map(u16::from_le_bytes)
}

fn rd_u32(buf: &[u8], at: usize) -> Result<u32, DescError> {
    rd_array(buf, at).map(u32::from_le_bytes)
}

fn rd_u64(buf: &[u8], at: usize) -> Result<u64, DescError> {
    rd_array(buf, at).map(u64::from_le_bytes)
}

fn wr(out: &mut [u8], at: usize, bytes: &[u8]) -> Result<(), DescError> {
    let end = at
        .checked_add(bytes.len())
        .ok_or(DescError::BufferTooSmall)?;
    out.get_mut(at..end)
        .ok_or(DescError::BufferTooSmall)?
        .copy_from_slice(bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MemTransaction {
        MemTransaction {
            sender: EndpointId(0x8001),
            attributes: attributes::TYPE_NORMAL | attributes::WRITE_BACK,
            flags: 0,
            handle: 0,
            tag: 0,
            receivers: BoundedVec::from_slice(&[Receiver {
                id: EndpointId(0x8002),
                permissions: permissions::DATA_RW,
                flags: 0,
                impdef: [0; 2],
            }])
            .unwrap(),
            ranges: BoundedVec::from_slice(&[AddressRange {
                address: 0x1000,
                pages: 1,
            }])
            .unwrap(),
        }
    }

    #[test]
    fn encoded_len_matches_write() {
        let t = sample();
        let mut buf = [0u8; MAX_ENCODED_LEN];
        for layout in [Layout::V1_0, Layout::V1_1, Layout::V1_2] {
            assert_eq!(t.write(&mut buf, layout), Ok(t.encoded_len(layout)));
        }
    }

    #[test]
    fn bounded_vec_capacity() {
        let mut v: BoundedVec<u8, 2> = BoundedVec::new();
        assert_eq!(v.push(1), Ok(()));
        assert_eq!(v.push(2), Ok(()));
        assert_eq!(v.push(3), Err(3));
        assert_eq!(v.as_slice(), &[1, 2]);
        assert!(BoundedVec::<u8, 2>::from_slice(&[1, 2, 3]).is_none());
        v.clear();
        assert!(v.is_empty());
    }

    #[test]
    fn layout_for_version() {
        assert_eq!(Layout::for_version(Version(1, 0)), Layout::V1_0);
        assert_eq!(Layout::for_version(Version(1, 1)), Layout::V1_1);
        assert_eq!(Layout::for_version(Version(1, 2)), Layout::V1_2);
        assert_eq!(Layout::for_version(Version(1, 3)), Layout::V1_2);
    }
}
