//! The buffer decoders of the `ffa` crate on arbitrary bytes: memory transaction descriptors in
//! each layout, partition-info descriptors, FFA_PARTITION_INFO_GET_REGS answers and the
//! boot-info blob. None may panic; a memory descriptor that parses must write in every layout
//! and parse back to itself (less v1.2's implementation-defined words, which older layouts
//! drop); partition-info descriptors must survive a write and a read.
#![no_main]

use ffa::Version;
use ffa::memory::{Layout, MAX_ENCODED_LEN, MemTransaction};
use ffa::partition_info::{
    PartitionInfo, properties_for_version, read_descriptors, unpack_regs, write_descriptors,
};
use ffa_stack_fuzz::VERSIONS;
use libfuzzer_sys::fuzz_target;

const LAYOUTS: [Layout; 3] = [Layout::V1_0, Layout::V1_1, Layout::V1_2];

fn memory(bytes: &[u8]) {
    for layout in LAYOUTS {
        let Ok(txn) = MemTransaction::parse(bytes, layout) else {
            continue;
        };
        for out in LAYOUTS {
            let mut buf = [0u8; MAX_ENCODED_LEN];
            let len = txn.write(&mut buf, out).unwrap_or_else(|e| {
                panic!("{txn:?} parsed as {layout:?} but not written as {out:?}: {e:?}")
            });
            assert_eq!(len, txn.encoded_len(out));
            let back = MemTransaction::parse(&buf[..len], out)
                .unwrap_or_else(|e| panic!("{txn:?} written as {out:?} does not parse: {e:?}"));
            let mut expected = txn.clone();
            if out != Layout::V1_2 {
                for receiver in expected.receivers.as_mut_slice() {
                    receiver.impdef = [0; 2];
                }
            }
            assert_eq!(back, expected, "{layout:?} -> {out:?}");
        }
    }
}

fn partition_info(version: Version, count: usize, bytes: &[u8]) {
    let Ok(descriptors) = read_descriptors(version, bytes, count) else {
        return;
    };
    let infos: Vec<PartitionInfo> = descriptors.collect();
    assert_eq!(infos.len(), count);
    let mut out = vec![0u8; bytes.len()];
    let len = write_descriptors(version, &infos, &mut out).unwrap_or_else(|e| {
        panic!("{count} descriptors read from the buffer do not fit it: {e:?}")
    });
    let back: Vec<PartitionInfo> = read_descriptors(version, &out[..len], count)
        .unwrap_or_else(|e| panic!("written descriptors do not read: {e:?}"))
        .collect();
    let expected: Vec<PartitionInfo> = infos
        .iter()
        .map(|info| PartitionInfo {
            properties: properties_for_version(info.properties, version),
            ..*info
        })
        .collect();
    assert_eq!(back, expected);
}

fn get_regs_answer(bytes: &[u8]) {
    let mut regs = [0u64; 16];
    for (reg, chunk) in regs.iter_mut().zip(bytes.chunks(8)) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        *reg = u64::from_le_bytes(word);
    }
    let start = u16::from_le_bytes([
        bytes.first().copied().unwrap_or(0),
        bytes.get(1).copied().unwrap_or(0),
    ]);
    if let Ok(chunk) = unpack_regs(&regs, start) {
        assert!(chunk.infos().len() <= ffa::partition_info::MAX_DESCRIPTORS_PER_REGS);
        assert!(chunk.current_index <= chunk.last_index);
    }
}

fuzz_target!(|data: &[u8]| {
    memory(data);
    if let [selector, count, rest @ ..] = data {
        let version = VERSIONS[usize::from(*selector) % VERSIONS.len()];
        partition_info(version, usize::from(*count), rest);
    }
    get_regs_answer(data);
    let _ = ffa::boot_info::find_manifest(data);
});
