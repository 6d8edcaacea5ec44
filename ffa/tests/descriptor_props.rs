//! Property tests: no input makes a decoder panic, and every valid value survives a write and a
//! parse in every layout.

mod fixtures;

use ffa::memory::{
    AddressRange, BoundedVec, Layout, MAX_ENCODED_LEN, MAX_RANGES, MAX_RECEIVERS, MemTransaction,
    Receiver,
};
use ffa::partition_info::{
    PartitionInfo, pack_regs, read_descriptors, unpack_regs, write_descriptors,
};
use ffa::{EndpointId, Uuid, Version};
use proptest::prelude::*;

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![Just(Layout::V1_0), Just(Layout::V1_1), Just(Layout::V1_2)]
}

fn receivers() -> impl Strategy<Value = BoundedVec<Receiver, MAX_RECEIVERS>> {
    prop::collection::btree_map(
        any::<u16>(),
        (0u8..16, 0u8..2, any::<[u64; 2]>()),
        1..=MAX_RECEIVERS,
    )
    .prop_map(|m| {
        let list: Vec<_> = m
            .into_iter()
            .map(|(id, (permissions, flags, impdef))| Receiver {
                id: EndpointId(id),
                permissions,
                flags,
                impdef,
            })
            .collect();
        BoundedVec::from_slice(&list).unwrap()
    })
}

fn ranges() -> impl Strategy<Value = BoundedVec<AddressRange, MAX_RANGES>> {
    // Page frame numbers below 2^40 and up to 2^24 pages never overflow the address space, and
    // 64 of them never overflow the 32-bit total.
    prop::collection::vec((0u64..1 << 40, 1u32..=1 << 24), 0..=MAX_RANGES).prop_map(|v| {
        let list: Vec<_> = v
            .into_iter()
            .map(|(pfn, pages)| AddressRange {
                address: pfn << 12,
                pages,
            })
            .collect();
        BoundedVec::from_slice(&list).unwrap()
    })
}

fn transaction() -> impl Strategy<Value = MemTransaction> {
    (
        any::<u16>(),
        0u16..0x80,
        any::<u32>(),
        any::<u64>(),
        any::<u64>(),
        receivers(),
        ranges(),
    )
        .prop_map(
            |(sender, attributes, flags, handle, tag, receivers, ranges)| MemTransaction {
                sender: EndpointId(sender),
                attributes,
                flags,
                handle,
                tag,
                receivers,
                ranges,
            },
        )
}

/// What a value looks like after passing through `layout`.
fn through(mut t: MemTransaction, layout: Layout) -> MemTransaction {
    if layout != Layout::V1_2 {
        for r in t.receivers.as_mut_slice() {
            r.impdef = [0; 2];
        }
    }
    t
}

fn encode(t: &MemTransaction, layout: Layout) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_ENCODED_LEN];
    let n = t.write(&mut buf, layout).expect("valid transaction");
    buf.truncate(n);
    buf
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_on_random_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..1200),
        layout in layout(),
    ) {
        let _ = MemTransaction::parse(&bytes, layout);
    }

    #[test]
    fn parse_never_panics_on_mutated_descriptors(
        t in transaction(),
        layout in layout(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode(&t, layout);
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        // Whatever parses must be a value that writes back and parses the same.
        if let Ok(parsed) = MemTransaction::parse(&bytes, layout) {
            let again = MemTransaction::parse(&encode(&parsed, layout), layout);
            prop_assert_eq!(again, Ok(parsed));
        }
        let len = cut.index(bytes.len());
        let _ = MemTransaction::parse(&bytes[..len], layout);
    }

    #[test]
    fn write_then_parse_round_trips(t in transaction(), layout in layout()) {
        let bytes = encode(&t, layout);
        prop_assert_eq!(bytes.len(), t.encoded_len(layout));
        prop_assert_eq!(MemTransaction::parse(&bytes, layout), Ok(through(t, layout)));
    }

    #[test]
    fn translation_between_layouts(t in transaction(), from in layout(), to in layout()) {
        let parsed = MemTransaction::parse(&encode(&t, from), from).unwrap();
        let translated = MemTransaction::parse(&encode(&parsed, to), to).unwrap();
        prop_assert_eq!(translated, through(through(t, from), to));
    }

    #[test]
    fn partition_info_round_trips(
        raw in prop::collection::vec((any::<u16>(), any::<u16>(), any::<u32>(), any::<u128>()), 0..8),
        minor in 0u16..=2,
    ) {
        let version = Version(1, minor);
        let infos: Vec<_> = raw
            .iter()
            .map(|&(id, ctx, props, uuid)| PartitionInfo {
                id: EndpointId(id),
                exec_ctx_count: ctx,
                properties: props,
                uuid: Uuid::from_u128(uuid),
            })
            .collect();
        let mut buf = [0u8; 8 * 24];
        let n = write_descriptors(version, &infos, &mut buf).unwrap();
        let back: Vec<_> = read_descriptors(version, &buf[..n], infos.len()).unwrap().collect();
        for (a, b) in infos.iter().zip(&back) {
            prop_assert_eq!(a.id, b.id);
            prop_assert_eq!(a.exec_ctx_count, b.exec_ctx_count);
            prop_assert_eq!(
                b.properties,
                ffa::partition_info::properties_for_version(a.properties, version)
            );
            prop_assert_eq!(b.uuid, if minor == 0 { Uuid::nil() } else { a.uuid });
        }
        prop_assert_eq!(back.len(), infos.len());

        if !infos.is_empty() {
            let start = (raw.len() / 2) as u16;
            let regs = pack_regs(&infos, start, 3).unwrap();
            let chunk = unpack_regs(&regs, start).unwrap();
            let end = infos.len().min(usize::from(start) + 5);
            prop_assert_eq!(chunk.infos().len(), end - usize::from(start));
            for (a, b) in infos[usize::from(start)..end].iter().zip(chunk.infos()) {
                prop_assert_eq!(a.uuid, b.uuid);
                prop_assert_eq!(a.id, b.id);
            }
        }
    }

    #[test]
    fn regs_and_blob_readers_never_panic(
        regs in any::<[u64; 16]>(),
        start in any::<u16>(),
        blob in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let _ = unpack_regs(&regs, start);
        let _ = ffa::boot_info::find_manifest(&blob);
        let mut seeded = fixtures::BOOT_INFO_V1_1.to_vec();
        for (i, b) in blob.iter().enumerate().take(8) {
            let at = usize::from(*b) % seeded.len();
            seeded[at] ^= (i as u8).wrapping_add(1);
        }
        let _ = ffa::boot_info::find_manifest(&seeded);
    }
}
