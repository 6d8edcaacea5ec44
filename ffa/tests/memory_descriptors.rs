//! Memory transaction descriptors: golden fixtures in every layout, translation between
//! layouts, and every rejection path.

mod fixtures;

use ffa::memory::{
    AddressRange, BoundedVec, DescError, Layout, MAX_ENCODED_LEN, MAX_RANGES, MAX_RECEIVERS,
    MemTransaction, Receiver, attributes, flags, permissions,
};
use ffa::{EndpointId, FfaError, Version};
use fixtures::{MEM_RETRIEVE_REQ_V1_2, MEM_RETRIEVE_RESP_V1_1, MEM_SHARE_V1_0, MEM_SHARE_V1_2};

const LAYOUTS: [Layout; 3] = [Layout::V1_0, Layout::V1_1, Layout::V1_2];

fn receiver(id: u16, permissions: u8, impdef: [u64; 2]) -> Receiver {
    Receiver {
        id: EndpointId(id),
        permissions,
        flags: 0,
        impdef,
    }
}

fn range(address: u64, pages: u32) -> AddressRange {
    AddressRange { address, pages }
}

fn txn(
    sender: u16,
    attributes: u16,
    flags: u32,
    handle: u64,
    tag: u64,
    receivers: &[Receiver],
    ranges: &[AddressRange],
) -> MemTransaction {
    MemTransaction {
        sender: EndpointId(sender),
        attributes,
        flags,
        handle,
        tag,
        receivers: BoundedVec::from_slice(receivers).unwrap(),
        ranges: BoundedVec::from_slice(ranges).unwrap(),
    }
}

fn share_v1_0() -> MemTransaction {
    txn(
        0,
        attributes::TYPE_NORMAL | attributes::WRITE_BACK | attributes::INNER_SHAREABLE,
        0,
        0,
        0xabcd,
        &[receiver(0x8001, permissions::DATA_RW, [0; 2])],
        &[range(0x8800_0000, 2), range(0x8804_0000, 1)],
    )
}

fn retrieve_resp_v1_1() -> MemTransaction {
    txn(
        0x8003,
        attributes::TYPE_NORMAL | attributes::NON_CACHEABLE | attributes::NON_SHAREABLE,
        flags::TYPE_LEND,
        0x1_0000_0042,
        7,
        &[receiver(
            0x8001,
            permissions::DATA_RO | permissions::INSTRUCTION_NX,
            [0; 2],
        )],
        &[range(0x1_2345_6000, 16)],
    )
}

fn share_v1_2() -> MemTransaction {
    txn(
        1,
        0x2f,
        0,
        0,
        0,
        &[
            receiver(
                0x8001,
                permissions::DATA_RW,
                [0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210],
            ),
            receiver(0x8002, permissions::DATA_RO, [0; 2]),
        ],
        &[range(0x8000_0000, 1), range(0x8010_0000, 2)],
    )
}

fn retrieve_req_v1_2() -> MemTransaction {
    txn(
        0,
        0x2f,
        flags::TYPE_SHARE,
        0x42,
        0,
        &[receiver(0x8001, permissions::DATA_RW, [0; 2])],
        &[],
    )
}

fn write_vec(t: &MemTransaction, layout: Layout) -> Vec<u8> {
    let mut buf = [0u8; MAX_ENCODED_LEN];
    let n = t.write(&mut buf, layout).expect("valid transaction");
    buf[..n].to_vec()
}

fn without_impdef(mut t: MemTransaction) -> MemTransaction {
    for r in t.receivers.as_mut_slice() {
        r.impdef = [0; 2];
    }
    t
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

// ---- golden fixtures ------------------------------------------------------------------------

#[test]
fn golden_v1_0_share_parses_and_writes_back() {
    assert_eq!(
        MemTransaction::parse(&MEM_SHARE_V1_0, Layout::V1_0),
        Ok(share_v1_0())
    );
    assert_eq!(write_vec(&share_v1_0(), Layout::V1_0), MEM_SHARE_V1_0);
}

#[test]
fn golden_v1_1_retrieve_response_parses_and_writes_back() {
    assert_eq!(
        MemTransaction::parse(&MEM_RETRIEVE_RESP_V1_1, Layout::V1_1),
        Ok(retrieve_resp_v1_1())
    );
    assert_eq!(
        write_vec(&retrieve_resp_v1_1(), Layout::V1_1),
        MEM_RETRIEVE_RESP_V1_1
    );
}

#[test]
fn golden_v1_2_share_parses_and_writes_back() {
    assert_eq!(
        MemTransaction::parse(&MEM_SHARE_V1_2, Layout::V1_2),
        Ok(share_v1_2())
    );
    assert_eq!(write_vec(&share_v1_2(), Layout::V1_2), MEM_SHARE_V1_2);
}

#[test]
fn golden_v1_2_retrieve_request_has_no_composite() {
    let t = MemTransaction::parse(&MEM_RETRIEVE_REQ_V1_2, Layout::V1_2).unwrap();
    assert_eq!(t, retrieve_req_v1_2());
    assert!(!t.has_composite());
    assert_eq!(write_vec(&t, Layout::V1_2), MEM_RETRIEVE_REQ_V1_2);
}

#[test]
fn v1_2_layout_accepts_v1_1_sized_access_descriptors() {
    // A v1.2 endpoint may send the 16-byte form; impdef then reads as zero.
    assert_eq!(
        MemTransaction::parse(&MEM_RETRIEVE_RESP_V1_1, Layout::V1_2),
        Ok(retrieve_resp_v1_1())
    );
}

#[test]
fn encoded_lengths_per_layout() {
    let t = share_v1_2();
    assert_eq!(t.encoded_len(Layout::V1_0), 32 + 2 * 16 + 16 + 2 * 16);
    assert_eq!(t.encoded_len(Layout::V1_1), 48 + 2 * 16 + 16 + 2 * 16);
    assert_eq!(t.encoded_len(Layout::V1_2), 160);
    assert_eq!(retrieve_req_v1_2().encoded_len(Layout::V1_0), 48);
}

#[test]
fn receiver_lookup_and_total_pages() {
    let t = share_v1_2();
    assert_eq!(t.receiver(EndpointId(0x8002)).unwrap().permissions, 1);
    assert!(t.receiver(EndpointId(0x8003)).is_none());
    assert_eq!(t.total_pages(), Ok(3));
}

// ---- translation between layouts ------------------------------------------------------------

#[test]
fn v1_0_to_v1_1_to_v1_2_and_back_is_byte_identical() {
    let t0 = MemTransaction::parse(&MEM_SHARE_V1_0, Layout::V1_0).unwrap();
    let b1 = write_vec(&t0, Layout::V1_1);
    let t1 = MemTransaction::parse(&b1, Layout::V1_1).unwrap();
    let b2 = write_vec(&t1, Layout::V1_2);
    let t2 = MemTransaction::parse(&b2, Layout::V1_2).unwrap();
    assert_eq!(t0, t1);
    assert_eq!(t1, t2);
    assert_eq!(write_vec(&t2, Layout::V1_0), MEM_SHARE_V1_0);
}

#[test]
fn v1_1_translation_puts_fields_at_the_v1_1_offsets() {
    let b = write_vec(&share_v1_0(), Layout::V1_1);
    assert_eq!(b.len(), 48 + 16 + 16 + 32);
    assert_eq!(&b[2..4], &[0x2f, 0x00]); // attributes, now 16-bit
    assert_eq!(&b[16..24], &0xabcdu64.to_le_bytes()); // tag
    assert_eq!(&b[24..28], &16u32.to_le_bytes()); // access descriptor size
    assert_eq!(&b[28..32], &1u32.to_le_bytes()); // receiver count
    assert_eq!(&b[32..36], &48u32.to_le_bytes()); // access descriptor offset
    assert_eq!(&b[52..56], &64u32.to_le_bytes()); // composite offset
    assert_eq!(&b[64..80], &MEM_SHARE_V1_0[48..64]); // same composite
    assert_eq!(&b[80..], &MEM_SHARE_V1_0[64..]); // same constituents
}

#[test]
fn impdef_is_lost_going_to_v1_0_and_v1_1_and_zero_coming_back() {
    let t2 = MemTransaction::parse(&MEM_SHARE_V1_2, Layout::V1_2).unwrap();
    assert_ne!(t2.receivers[0].impdef, [0; 2]);
    for older in [Layout::V1_0, Layout::V1_1] {
        let b = write_vec(&t2, older);
        let t = MemTransaction::parse(&b, older).unwrap();
        assert_eq!(t, without_impdef(t2.clone()));
        let back = write_vec(&t, Layout::V1_2);
        let t_back = MemTransaction::parse(&back, Layout::V1_2).unwrap();
        assert_eq!(t_back.receivers[0].impdef, [0; 2]);
        assert_eq!(t_back, without_impdef(t2.clone()));
    }
}

#[test]
fn v1_2_to_v1_0_bytes() {
    let b = write_vec(&share_v1_2(), Layout::V1_0);
    assert_eq!(b.len(), 112);
    assert_eq!(&b[0..4], &[0x01, 0x00, 0x2f, 0x00]);
    assert_eq!(&b[28..32], &2u32.to_le_bytes());
    // Both 16-byte access descriptors name the composite at 64.
    assert_eq!(
        &b[32..48],
        &[0x01, 0x80, 0x02, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        &b[48..64],
        &[0x02, 0x80, 0x01, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(&b[64..], &MEM_SHARE_V1_2[112..]);
}

#[test]
fn retrieve_request_round_trips_through_every_layout() {
    let t = retrieve_req_v1_2();
    for layout in LAYOUTS {
        let b = write_vec(&t, layout);
        assert_eq!(b.len(), layout.header_size() + layout.emad_size());
        assert_eq!(MemTransaction::parse(&b, layout), Ok(t.clone()));
    }
}

// ---- rejections ----------------------------------------------------------------------------

#[test]
fn every_truncation_is_rejected() {
    for (bytes, layout) in [
        (&MEM_SHARE_V1_0[..], Layout::V1_0),
        (&MEM_RETRIEVE_RESP_V1_1[..], Layout::V1_1),
        (&MEM_SHARE_V1_2[..], Layout::V1_2),
        (&MEM_RETRIEVE_REQ_V1_2[..], Layout::V1_2),
    ] {
        for len in 0..bytes.len() {
            assert!(
                MemTransaction::parse(&bytes[..len], layout).is_err(),
                "{layout:?} prefix of {len} bytes accepted"
            );
        }
    }
    assert_eq!(
        MemTransaction::parse(&MEM_SHARE_V1_0[..95], Layout::V1_0),
        Err(DescError::Truncated)
    );
    assert_eq!(
        MemTransaction::parse(&MEM_SHARE_V1_2[..40], Layout::V1_2),
        Err(DescError::Truncated)
    );
}

#[test]
fn bytes_after_the_last_constituent_are_rejected() {
    let mut b = MEM_SHARE_V1_0.to_vec();
    b.extend_from_slice(&[0; 16]);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_0),
        Err(DescError::TrailingBytes)
    );
}

#[test]
fn bytes_after_a_retrieve_request_are_ignored() {
    let mut b = MEM_RETRIEVE_REQ_V1_2.to_vec();
    b.extend_from_slice(&[0xff; 32]);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_2),
        Ok(retrieve_req_v1_2())
    );
}

#[test]
fn zero_receivers() {
    let mut b = MEM_SHARE_V1_0;
    put_u32(&mut b, 28, 0);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_0),
        Err(DescError::NoReceivers)
    );
    let mut t = share_v1_0();
    t.receivers.clear();
    assert_eq!(
        t.write(&mut [0u8; 256], Layout::V1_1),
        Err(DescError::NoReceivers)
    );
}

#[test]
fn receiver_count_beyond_the_buffer() {
    let mut b = MEM_RETRIEVE_RESP_V1_1;
    put_u32(&mut b, 28, 4);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_1),
        Err(DescError::Truncated)
    );
    put_u32(&mut b, 28, u32::MAX);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_1),
        Err(DescError::Truncated)
    );
}

#[test]
fn more_receivers_than_we_hold_is_no_memory() {
    let n = MAX_RECEIVERS + 1;
    let mut b = vec![0u8; 48 + n * 16];
    put_u32(&mut b, 24, 16);
    put_u32(&mut b, 28, n as u32);
    put_u32(&mut b, 32, 48);
    for i in 0..n {
        b[48 + i * 16..50 + i * 16].copy_from_slice(&(0x8001 + i as u16).to_le_bytes());
    }
    let e = MemTransaction::parse(&b, Layout::V1_1).unwrap_err();
    assert_eq!(e, DescError::TooManyReceivers);
    assert_eq!(FfaError::from(e), FfaError::NoMemory);
    // One fewer fits.
    put_u32(&mut b, 28, MAX_RECEIVERS as u32);
    assert!(MemTransaction::parse(&b[..48 + MAX_RECEIVERS * 16], Layout::V1_1).is_ok());
}

#[test]
fn duplicate_receivers() {
    let mut b = MEM_SHARE_V1_2;
    b[80..82].copy_from_slice(&0x8001u16.to_le_bytes());
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_2),
        Err(DescError::DuplicateReceiver)
    );
}

#[test]
fn receivers_naming_different_composites() {
    let mut b = MEM_SHARE_V1_2;
    put_u32(&mut b, 84, 0);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_2),
        Err(DescError::CompositeOffsetMismatch)
    );
}

#[test]
fn composite_offset_out_of_range() {
    let mut b = MEM_SHARE_V1_0;
    put_u32(&mut b, 36, 0x1000);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_0),
        Err(DescError::CompositeOutOfRange)
    );
    // Just past the end.
    put_u32(&mut b, 36, 96);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_0),
        Err(DescError::CompositeOutOfRange)
    );
    // The composite fits but names more constituents than follow it.
    let mut b = MEM_SHARE_V1_0;
    put_u32(&mut b, 52, 3);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_0),
        Err(DescError::Truncated)
    );
}

#[test]
fn composite_offset_overflow() {
    let mut b = MEM_SHARE_V1_2;
    put_u32(&mut b, 52, 0xffff_fff0);
    put_u32(&mut b, 84, 0xffff_fff0);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_2),
        Err(DescError::CompositeOutOfRange)
    );
    // A constituent count whose byte size overflows 32 bits.
    let mut b = MEM_SHARE_V1_2;
    put_u32(&mut b, 116, u32::MAX);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_2),
        Err(DescError::Truncated)
    );
}

#[test]
fn composite_offset_unaligned_or_overlapping() {
    // Overlapping the access descriptor.
    let mut b = MEM_RETRIEVE_RESP_V1_1;
    put_u32(&mut b, 52, 48);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_1),
        Err(DescError::BadCompositeOffset)
    );
    // 8 bytes past the access descriptors: not 16-byte aligned.
    let mut b = MEM_RETRIEVE_RESP_V1_1.to_vec();
    b.splice(64..64, [0u8; 8]);
    put_u32(&mut b, 52, 72);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_1),
        Err(DescError::BadCompositeOffset)
    );
    // The same gap of 16 is aligned, and allowed.
    let mut b = MEM_RETRIEVE_RESP_V1_1.to_vec();
    b.splice(64..64, [0u8; 16]);
    put_u32(&mut b, 52, 80);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_1),
        Ok(retrieve_resp_v1_1())
    );
}

#[test]
fn access_descriptor_offset() {
    for (offset, expected) in [
        (40, DescError::BadEmadOffset), // inside the header
        (56, DescError::BadEmadOffset), // unaligned
        (0x1000, DescError::Truncated), // past the end
        (0xffff_fff0, DescError::Truncated),
    ] {
        let mut b = MEM_RETRIEVE_RESP_V1_1;
        put_u32(&mut b, 32, offset);
        assert_eq!(
            MemTransaction::parse(&b, Layout::V1_1),
            Err(expected),
            "offset {offset:#x}"
        );
    }
    // A gap between header and access descriptors is allowed when everything moves along.
    let mut b = MEM_RETRIEVE_RESP_V1_1.to_vec();
    b.splice(48..48, [0u8; 16]);
    put_u32(&mut b, 32, 64);
    put_u32(&mut b, 68, 80);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_1),
        Ok(retrieve_resp_v1_1())
    );
}

#[test]
fn page_count_mismatch() {
    let mut b = MEM_SHARE_V1_0;
    put_u32(&mut b, 48, 4);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_0),
        Err(DescError::PageCountMismatch)
    );
    // Constituents that wrap a 32-bit sum to the stated total are still a mismatch.
    let mut b = MEM_SHARE_V1_0;
    put_u32(&mut b, 72, u32::MAX);
    put_u32(&mut b, 88, 3);
    put_u32(&mut b, 48, 2);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_0),
        Err(DescError::PageCountMismatch)
    );
}

#[test]
fn wrong_access_descriptor_size() {
    // 32-byte descriptors from a v1.1 endpoint.
    assert_eq!(
        MemTransaction::parse(&MEM_SHARE_V1_2, Layout::V1_1),
        Err(DescError::BadEmadSize)
    );
    for size in [0, 8, 24, 48, u32::MAX] {
        let mut b = MEM_SHARE_V1_2;
        put_u32(&mut b, 24, size);
        assert_eq!(
            MemTransaction::parse(&b, Layout::V1_2),
            Err(DescError::BadEmadSize),
            "size {size}"
        );
    }
}

#[test]
fn composite_without_constituents() {
    let mut b = MEM_RETRIEVE_RESP_V1_1[..80].to_vec();
    put_u32(&mut b, 64, 0);
    put_u32(&mut b, 68, 0);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_1),
        Err(DescError::NoRanges)
    );
}

#[test]
fn more_constituents_than_we_hold_is_no_memory() {
    let n = MAX_RANGES + 1;
    let mut t = retrieve_resp_v1_1();
    t.ranges = BoundedVec::from_slice(&[range(0x1000, 1); MAX_RANGES]).unwrap();
    let mut b = write_vec(&t, Layout::V1_1);
    put_u32(&mut b, 64, n as u32);
    put_u32(&mut b, 68, n as u32);
    let extra = b[80..96].to_vec();
    b.extend_from_slice(&extra);
    let e = MemTransaction::parse(&b, Layout::V1_1).unwrap_err();
    assert_eq!(e, DescError::TooManyRanges);
    assert_eq!(FfaError::from(e), FfaError::NoMemory);
}

#[test]
fn constituent_rules() {
    // Unaligned address.
    let mut b = MEM_SHARE_V1_0;
    put_u64(&mut b, 64, 0x8800_0800);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_0),
        Err(DescError::UnalignedAddress)
    );
    // Zero pages.
    let mut b = MEM_SHARE_V1_0;
    put_u32(&mut b, 88, 0);
    put_u32(&mut b, 48, 2);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_0),
        Err(DescError::EmptyRange)
    );
    // Past the end of the address space.
    let mut b = MEM_SHARE_V1_0;
    put_u64(&mut b, 80, 0xffff_ffff_ffff_f000);
    put_u32(&mut b, 88, 2);
    put_u32(&mut b, 48, 4);
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_0),
        Err(DescError::RangeOverflow)
    );
}

#[test]
fn reserved_fields_must_be_zero() {
    let v1_0_reserved = [3, 24, 27, 40, 47, 56, 63, 76, 79, 92, 95];
    for at in v1_0_reserved {
        let mut b = MEM_SHARE_V1_0;
        b[at] = 1;
        assert_eq!(
            MemTransaction::parse(&b, Layout::V1_0),
            Err(DescError::ReservedNonZero),
            "v1.0 byte {at}"
        );
    }
    let v1_2_reserved = (36..48).chain(72..80).chain(104..112).chain(120..128);
    for at in v1_2_reserved.chain([140, 143, 156, 159]) {
        let mut b = MEM_SHARE_V1_2;
        b[at] = 0x80;
        assert_eq!(
            MemTransaction::parse(&b, Layout::V1_2),
            Err(DescError::ReservedNonZero),
            "v1.2 byte {at}"
        );
    }
    // v1.1 reads the reserved tail of its 16-byte access descriptor.
    let mut b = MEM_RETRIEVE_RESP_V1_1;
    b[63] = 1;
    assert_eq!(
        MemTransaction::parse(&b, Layout::V1_1),
        Err(DescError::ReservedNonZero)
    );
}

#[test]
fn reserved_bits_of_attributes_permissions_and_receiver_flags() {
    for (at, bit) in [(2, 0x80), (3, 0x01), (50, 0x10), (50, 0x80), (51, 0x02)] {
        let mut b = MEM_RETRIEVE_RESP_V1_1;
        b[at] |= bit;
        assert_eq!(
            MemTransaction::parse(&b, Layout::V1_1),
            Err(DescError::ReservedNonZero),
            "byte {at} bit {bit:#x}"
        );
    }
    // Defined bits are accepted: the non-secure attribute and the non-retrieval borrower flag.
    let mut b = MEM_RETRIEVE_RESP_V1_1;
    b[2] |= 0x40;
    b[51] |= 0x01;
    let t = MemTransaction::parse(&b, Layout::V1_1).unwrap();
    assert_eq!(
        t.attributes & attributes::NON_SECURE,
        attributes::NON_SECURE
    );
    assert_eq!(t.receivers[0].flags, 1);
}

#[test]
fn write_refuses_what_parse_would_refuse() {
    let mut buf = [0u8; MAX_ENCODED_LEN];
    type Mutation = fn(&mut MemTransaction);
    let cases: [(Mutation, DescError); 6] = [
        (|t| t.attributes = 0x100, DescError::ReservedNonZero),
        (
            |t| t.receivers.as_mut_slice()[0].permissions = 0x10,
            DescError::ReservedNonZero,
        ),
        (
            |t| t.receivers.push(t.receivers[0]).unwrap(),
            DescError::DuplicateReceiver,
        ),
        (
            |t| t.ranges.as_mut_slice()[0].address |= 1,
            DescError::UnalignedAddress,
        ),
        (
            |t| t.ranges.as_mut_slice()[0].pages = 0,
            DescError::EmptyRange,
        ),
        (
            |t| {
                t.ranges =
                    BoundedVec::from_slice(&[range(0, u32::MAX), range(0x1_0000_0000_0000, 1)])
                        .unwrap()
            },
            DescError::PageCountOverflow,
        ),
    ];
    for (mutate, expected) in cases {
        let mut t = share_v1_0();
        mutate(&mut t);
        for layout in LAYOUTS {
            assert_eq!(t.write(&mut buf, layout), Err(expected));
        }
    }
}

#[test]
fn write_into_a_short_buffer_fails_and_writes_nothing() {
    let t = share_v1_2();
    for layout in LAYOUTS {
        let need = t.encoded_len(layout);
        let mut buf = vec![0xaa; need - 1];
        assert_eq!(t.write(&mut buf, layout), Err(DescError::BufferTooSmall));
        assert!(buf.iter().all(|&b| b == 0xaa));
        assert_eq!(
            FfaError::from(DescError::BufferTooSmall),
            FfaError::NoMemory
        );
        let mut buf = vec![0xaa; need + 7];
        assert_eq!(t.write(&mut buf, layout), Ok(need));
        assert!(buf[need..].iter().all(|&b| b == 0xaa));
    }
}

#[test]
fn structural_errors_are_invalid_parameters() {
    for e in [
        DescError::Truncated,
        DescError::TrailingBytes,
        DescError::ReservedNonZero,
        DescError::BadEmadSize,
        DescError::BadEmadOffset,
        DescError::NoReceivers,
        DescError::DuplicateReceiver,
        DescError::CompositeOffsetMismatch,
        DescError::BadCompositeOffset,
        DescError::CompositeOutOfRange,
        DescError::NoRanges,
        DescError::PageCountMismatch,
        DescError::PageCountOverflow,
        DescError::UnalignedAddress,
        DescError::EmptyRange,
        DescError::RangeOverflow,
    ] {
        assert_eq!(FfaError::from(e), FfaError::InvalidParameters, "{e:?}");
    }
}

#[test]
fn layout_follows_the_negotiated_version() {
    assert_eq!(Layout::for_version(Version(1, 0)), Layout::V1_0);
    assert_eq!(Layout::for_version(Version(1, 1)), Layout::V1_1);
    assert_eq!(Layout::for_version(Version(1, 2)), Layout::V1_2);
    assert_eq!(Layout::V1_0.header_size(), 32);
    assert_eq!(Layout::V1_1.header_size(), 48);
    assert_eq!(Layout::V1_2.emad_size(), 32);
}

/// A descriptor of `count` one-page constituents, streamed: the head in the first fragment, the
/// constituents in any number of whole-constituent fragments after it.
#[test]
fn a_head_parses_from_its_first_fragment_and_constituents_stream_after_it() {
    use ffa::memory::{
        CONSTITUENT_SIZE, Composite, DescriptorHead, constituents, write_constituent,
    };
    for layout in LAYOUTS {
        let count = 600u32;
        let head = DescriptorHead {
            composite: Some(Composite {
                total_pages: count,
                count,
                constituents_at: 0,
            }),
            ..share_v1_0().head(layout).unwrap()
        };
        let mut bytes = vec![0u8; head.total_len(layout)];
        let at = head.write(&mut bytes, layout).unwrap();
        assert_eq!(at, head.len(layout));
        for i in 0..count as usize {
            let r = range(0x9000_0000 + 0x2000 * i as u64, 1);
            write_constituent(&mut bytes[at + i * CONSTITUENT_SIZE..], &r).unwrap();
        }
        // The first fragment: the head and 10 constituents.
        let first = &bytes[..at + 10 * CONSTITUENT_SIZE];
        let parsed = DescriptorHead::parse(first, bytes.len(), layout).unwrap();
        let c = parsed.composite.unwrap();
        assert_eq!(
            (c.count, c.total_pages, c.constituents_at),
            (count, count, at)
        );
        assert_eq!(parsed.receivers, head.receivers);
        let all: Vec<AddressRange> = constituents(&bytes[at..])
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(all.len(), count as usize);
        assert_eq!(all[599], range(0x9000_0000 + 0x2000 * 599, 1));
        // Too short or too long a whole for the count given.
        assert_eq!(
            DescriptorHead::parse(first, bytes.len() - 16, layout),
            Err(DescError::Truncated)
        );
        assert_eq!(
            DescriptorHead::parse(first, bytes.len() + 16, layout),
            Err(DescError::TrailingBytes)
        );
        // A first fragment that stops inside the composite header.
        assert_eq!(
            DescriptorHead::parse(&bytes[..at - 8], bytes.len(), layout),
            Err(DescError::CompositeOutOfRange)
        );
        // Constituents come whole and checked.
        assert!(constituents(&bytes[at..at + 8]).is_err());
        let mut bad = bytes[at..at + 16].to_vec();
        bad[0] = 1;
        assert_eq!(
            constituents(&bad).unwrap().next(),
            Some(Err(DescError::UnalignedAddress))
        );
    }
}

#[test]
fn a_hypervisor_retrieve_request_names_no_receiver() {
    use ffa::memory::DescriptorHead;
    for layout in [Layout::V1_1, Layout::V1_2] {
        let mut bytes = [0u8; 48];
        bytes[8..16].copy_from_slice(&0x8000_0000_0000_0007u64.to_le_bytes());
        bytes[24..28].copy_from_slice(&(layout.emad_size() as u32).to_le_bytes());
        bytes[32..36].copy_from_slice(&48u32.to_le_bytes());
        let head = DescriptorHead::parse_any(&bytes, bytes.len(), layout).unwrap();
        assert_eq!(head.handle, 0x8000_0000_0000_0007);
        assert!(head.receivers.is_empty() && head.composite.is_none());
        // Not as an ordinary descriptor.
        assert_eq!(
            DescriptorHead::parse(&bytes, bytes.len(), layout),
            Err(DescError::NoReceivers)
        );
    }
}

/// pKVM's hypervisor retrieve request (`do_ffa_mem_reclaim`) sets only the sender and the
/// handle: its access-descriptor size and offset stay zero, and Hafnium accepts it so.
#[test]
fn pkvms_hypervisor_retrieve_request_with_zero_sizes_is_accepted() {
    use ffa::memory::DescriptorHead;
    for layout in [Layout::V1_1, Layout::V1_2] {
        let mut bytes = [0u8; 48];
        bytes[8..16].copy_from_slice(&0x8000_0000_0000_0002u64.to_le_bytes());
        let head = DescriptorHead::parse_any(&bytes, bytes.len(), layout).unwrap();
        assert_eq!(head.handle, 0x8000_0000_0000_0002);
        assert!(head.receivers.is_empty() && head.composite.is_none());
        // With a receiver the sizes must be right.
        bytes[28..32].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(
            DescriptorHead::parse_any(&bytes, bytes.len(), layout),
            Err(DescError::BadEmadSize)
        );
    }
}
