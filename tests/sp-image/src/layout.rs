//! Where an image keeps its stacks, and which execution context an entry runs.
//!
//! A partition's window is `[load_address, load_address + 1 MiB)`: package header and
//! boot-information blob, manifest (+0x1000), image (+0x4000 up to +0x80000), RX and TX
//! buffers (+0x80000, +0x81000). The stacks take the top of the window, one per execution
//! context, context 0 highest.

use test_partitions::Definition;

/// Bytes of one execution context's stack.
pub const STACK_SIZE: u64 = 0x8000;
/// Execution contexts an image can host (the CPUs of the machine).
pub const MAX_CONTEXTS: u64 = 4;
/// Offset of the top of context 0's stack from the load address (the window's end).
pub const STACK_TOP_OFFSET: u64 = 0x10_0000;

/// Top of context `index`'s stack in the partition `def`, if it has that context.
pub fn stack_top(def: &Definition, index: u64) -> Option<u64> {
    if index >= MAX_CONTEXTS || index >= u64::from(def.exec_ctx_count) {
        return None;
    }
    def.load_address
        .checked_add(STACK_TOP_OFFSET)?
        .checked_sub(index.checked_mul(STACK_SIZE)?)
}

/// The execution-context index an MPIDR_EL1 value names: its Aff0 (the SPMC sets each
/// context's virtual MPIDR to its index).
pub const fn context_of_mpidr(mpidr: u64) -> u64 {
    mpidr & 0xff
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_partitions::DEFINITIONS;
    use test_partitions::definitions::{ECHO, RELAY, TX_OFFSET};

    #[test]
    fn stacks_fit_above_the_buffers_inside_the_window() {
        for def in DEFINITIONS {
            assert!(
                u64::from(def.exec_ctx_count) <= MAX_CONTEXTS,
                "{}",
                def.name
            );
            assert_eq!(def.memory_size, STACK_TOP_OFFSET, "{}", def.name);
            for i in 0..u64::from(def.exec_ctx_count) {
                let top = stack_top(def, i).unwrap();
                let bottom = top - STACK_SIZE;
                assert!(
                    bottom >= def.load_address + TX_OFFSET + 0x1000,
                    "{}",
                    def.name
                );
                assert!(def.contains(bottom, STACK_SIZE), "{}", def.name);
                assert_eq!(top % 16, 0);
            }
        }
    }

    #[test]
    fn contexts_beyond_the_partition_have_no_stack() {
        assert_eq!(stack_top(&ECHO, 0), Some(0x0e40_0000));
        assert_eq!(stack_top(&ECHO, 1), None);
        assert_eq!(stack_top(&RELAY, 3), Some(0x0e50_0000 - 3 * STACK_SIZE));
        assert_eq!(stack_top(&RELAY, 4), None);
        assert_eq!(stack_top(&RELAY, u64::MAX), None);
        assert_eq!(context_of_mpidr(0x8100_0102), 2);
    }
}
