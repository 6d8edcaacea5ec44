//! Partition-information descriptors and the FFA_PARTITION_INFO_GET_REGS packing, against
//! golden bytes and against arm-ffa's own decoders.

mod fixtures;

use arm_ffa::interface_args::SuccessArgs;
use arm_ffa::partition_info::{PartitionInfoIterator, SuccessArgsPartitionInfoGetRegs};
use ffa::partition_info::{
    DESC_SIZE_V1_0, DESC_SIZE_V1_1, MAX_DESCRIPTORS_PER_REGS, PartitionInfo, PartitionInfoError,
    descriptor_size, pack_regs, properties, properties_for_version, read_descriptors, unpack_regs,
    write_descriptors,
};
use ffa::{EndpointId, FfaError, Uuid, UuidHelper, Version};
use fixtures::{OPTEE_UUID_BYTES, OPTEE_UUID_WORDS, PARTITION_INFO_V1_0, PARTITION_INFO_V1_1};

fn optee() -> PartitionInfo {
    PartitionInfo {
        id: EndpointId(0x8001),
        exec_ctx_count: 4,
        properties: properties::DIRECT_REQ_RECV | properties::DIRECT_REQ_SEND | properties::AARCH64,
        uuid: Uuid::from_bytes(OPTEE_UUID_BYTES),
    }
}

fn numbered(n: u16) -> PartitionInfo {
    PartitionInfo {
        id: EndpointId(0x8000 + n),
        exec_ctx_count: n,
        properties: properties::DIRECT_REQ_RECV | properties::AARCH64,
        uuid: Uuid::from_u128(0x1111_2222_3333_4444_5555_6666_7777_0000 + u128::from(n)),
    }
}

#[test]
fn property_bit_positions() {
    assert_eq!(properties::DIRECT_REQ_RECV, 0x001);
    assert_eq!(properties::DIRECT_REQ_SEND, 0x002);
    assert_eq!(properties::INDIRECT_MSG, 0x004);
    assert_eq!(properties::NOTIFICATION_RECV, 0x008);
    assert_eq!(properties::ID_TYPE_SEPID_INDEPENDENT, 0x010);
    assert_eq!(properties::ID_TYPE_SEPID_DEPENDENT, 0x020);
    assert_eq!(properties::ID_TYPE_AUXILIARY, 0x030);
    assert_eq!(properties::VM_CREATED, 0x040);
    assert_eq!(properties::VM_DESTROYED, 0x080);
    assert_eq!(properties::AARCH64, 0x100);
    assert_eq!(properties::DIRECT_REQ2_RECV, 0x200);
    assert_eq!(properties::DIRECT_REQ2_SEND, 0x400);
}

#[test]
fn uuid_byte_order_matches_the_register_words() {
    // The manifest's 32-bit cells and the descriptor's bytes name the same UUID.
    let uuid = Uuid::from_bytes(OPTEE_UUID_BYTES);
    assert_eq!(UuidHelper::from_u32_regs(OPTEE_UUID_WORDS), uuid);
    assert_eq!(uuid.to_string(), "486178e0-e7f8-11e3-bc5e-0002a5d5c51b");
}

#[test]
fn golden_v1_1_descriptor() {
    let mut buf = [0u8; 64];
    assert_eq!(
        write_descriptors(Version(1, 1), &[optee()], &mut buf),
        Ok(DESC_SIZE_V1_1)
    );
    assert_eq!(buf[..24], PARTITION_INFO_V1_1);
    let back: Vec<_> = read_descriptors(Version(1, 1), &PARTITION_INFO_V1_1, 1)
        .unwrap()
        .collect();
    assert_eq!(back, [optee()]);
}

#[test]
fn golden_v1_0_descriptor_drops_uuid_and_later_properties() {
    let mut buf = [0xaau8; 16];
    assert_eq!(
        write_descriptors(Version(1, 0), &[optee()], &mut buf),
        Ok(DESC_SIZE_V1_0)
    );
    assert_eq!(buf[..8], PARTITION_INFO_V1_0);
    assert!(buf[8..].iter().all(|&b| b == 0xaa));
    let back: Vec<_> = read_descriptors(Version(1, 0), &PARTITION_INFO_V1_0, 1)
        .unwrap()
        .collect();
    assert_eq!(
        back,
        [PartitionInfo {
            properties: 0x3,
            uuid: Uuid::nil(),
            ..optee()
        }]
    );
}

#[test]
fn arm_ffa_reads_our_v1_1_and_v1_2_descriptors() {
    let all: Vec<_> = (1..=3).map(numbered).collect();
    for version in [Version(1, 1), Version(1, 2)] {
        let mut buf = [0u8; 3 * DESC_SIZE_V1_1];
        write_descriptors(version, &all, &mut buf).unwrap();
        let theirs: Vec<_> = PartitionInfoIterator::new(version, &buf, 3)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (ours, theirs) in all.iter().zip(&theirs) {
            assert_eq!(theirs.partition_id, ours.id.0);
            assert_eq!(theirs.uuid, ours.uuid);
            assert!(theirs.props.support_direct_req_rec);
            assert!(theirs.props.is_aarch64);
            assert!(!theirs.props.support_direct_req_send);
        }
    }
}

#[test]
fn descriptor_sizes() {
    assert_eq!(descriptor_size(Version(1, 0)), 8);
    assert_eq!(descriptor_size(Version(1, 1)), 24);
    assert_eq!(descriptor_size(Version(1, 2)), 24);
}

#[test]
fn properties_are_cut_to_the_callers_version() {
    let all = 0xffff_ffff;
    assert_eq!(properties_for_version(all, Version(1, 0)), 0x007);
    assert_eq!(properties_for_version(all, Version(1, 1)), 0x1ff);
    assert_eq!(properties_for_version(all, Version(1, 2)), 0x7ff);
    let req2 = PartitionInfo {
        properties: properties::DIRECT_REQ2_RECV | properties::DIRECT_REQ_RECV,
        ..optee()
    };
    let mut buf = [0u8; 24];
    write_descriptors(Version(1, 1), &[req2], &mut buf).unwrap();
    assert_eq!(buf[4..8], [0x01, 0, 0, 0]);
    write_descriptors(Version(1, 2), &[req2], &mut buf).unwrap();
    assert_eq!(buf[4..8], [0x01, 0x02, 0, 0]);
}

#[test]
fn descriptors_that_do_not_fit_are_no_memory() {
    let all: Vec<_> = (0..3).map(numbered).collect();
    let mut buf = [0x55u8; 3 * 24 - 1];
    let e = write_descriptors(Version(1, 2), &all, &mut buf).unwrap_err();
    assert_eq!(e, PartitionInfoError::BufferTooSmall);
    assert_eq!(FfaError::from(e), FfaError::NoMemory);
    assert!(buf.iter().all(|&b| b == 0x55));
    // The same three fit at v1.0.
    assert_eq!(write_descriptors(Version(1, 0), &all, &mut buf), Ok(24));
}

#[test]
fn reading_more_than_the_buffer_holds() {
    assert_eq!(
        read_descriptors(Version(1, 1), &PARTITION_INFO_V1_1, 2).unwrap_err(),
        PartitionInfoError::Truncated
    );
    assert_eq!(
        read_descriptors(Version(1, 1), &PARTITION_INFO_V1_1, usize::MAX).unwrap_err(),
        PartitionInfoError::Truncated
    );
    assert_eq!(
        read_descriptors(Version(1, 1), &PARTITION_INFO_V1_1, 0)
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn golden_regs_packing() {
    let regs = pack_regs(&[optee()], 0, 0).unwrap();
    assert_eq!(regs[0], 24 << 48); // last 0, current 0, tag 0, size 24
    assert_eq!(regs[1], 0x0000_0103_0004_8001);
    // Hafnium packs the manifest words pairwise: lo = w1 << 32 | w0, hi = w3 << 32 | w2.
    assert_eq!(regs[2], 0xe311_f8e7_e078_6148);
    assert_eq!(regs[3], 0x1bc5_d5a5_0200_5ebc);
    assert!(regs[4..].iter().all(|&r| r == 0));
}

#[test]
fn regs_packing_pages_through_the_list() {
    let all: Vec<_> = (0..7).map(numbered).collect();
    let first = pack_regs(&all, 0, 9).unwrap();
    assert_eq!(first[0], 6 | 4 << 16 | 9 << 32 | 24 << 48);
    let second = pack_regs(&all, 5, 9).unwrap();
    assert_eq!(second[0], 6 | 6 << 16 | 9 << 32 | 24 << 48);
    assert!(second[7..].iter().all(|&r| r == 0));

    let a = unpack_regs(&first, 0).unwrap();
    assert_eq!((a.last_index, a.current_index, a.tag), (6, 4, 9));
    assert_eq!(a.infos(), &all[..MAX_DESCRIPTORS_PER_REGS]);
    let b = unpack_regs(&second, 5).unwrap();
    assert_eq!(b.infos(), &all[5..]);
}

#[test]
fn regs_packing_agrees_with_the_buffer_descriptors_and_arm_ffa() {
    let all: Vec<_> = (0..5).map(numbered).collect();
    let regs = pack_regs(&all, 0, 0).unwrap();
    let theirs = SuccessArgsPartitionInfoGetRegs::try_from(SuccessArgs::Args64(regs)).unwrap();
    assert_eq!((theirs.last_index, theirs.current_index), (4, 4));
    let mut buf = [0u8; 5 * 24];
    write_descriptors(Version(1, 2), &all, &mut buf).unwrap();
    assert_eq!(theirs.descriptor_data[..], buf[..]);
}

#[test]
fn regs_packing_rejects_bad_indices() {
    let all: Vec<_> = (0..3).map(numbered).collect();
    assert_eq!(pack_regs(&all, 3, 0), Err(PartitionInfoError::BadIndex));
    assert_eq!(pack_regs(&[], 0, 0), Err(PartitionInfoError::BadIndex));
    assert_eq!(
        FfaError::from(PartitionInfoError::BadIndex),
        FfaError::InvalidParameters
    );
    let many = vec![numbered(1); 0x1_0001];
    assert_eq!(
        pack_regs(&many, 0, 0),
        Err(PartitionInfoError::TooManyPartitions)
    );
}

#[test]
fn unpacking_rejects_malformed_answers() {
    let all: Vec<_> = (0..7).map(numbered).collect();
    let good = pack_regs(&all, 0, 0).unwrap();
    let with_head = |head: u64| {
        let mut r = good;
        r[0] = head;
        r
    };
    for (regs, start) in [
        (with_head(6 | 4 << 16 | 8 << 48), 0),  // descriptor size 8
        (with_head(3 | 4 << 16 | 24 << 48), 0), // current past last
        (with_head(6 | 5 << 16 | 24 << 48), 0), // six descriptors
        (good, 5),                              // current before start
    ] {
        assert_eq!(
            unpack_regs(&regs, start),
            Err(PartitionInfoError::MalformedRegs)
        );
    }
}
