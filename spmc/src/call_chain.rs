//! Call chains: the contexts linked by direct requests (A asked B, B asked C...).
//!
//! Each context handling a request from a partition points back at the requester's context,
//! which is Blocked. A chain starts at a context the normal world entered (a direct request
//! or FFA_RUN); FF-A forbids a request to a partition already in the chain (a loop: DENIED,
//! Hafnium's `ffa_direct_msg_precedes_in_call_chain`).

use crate::manifest::MAX_PARTITIONS;
use crate::partition::PartitionTable;
use crate::vcpu::{CtxRef, Requester};

/// The context that sent the request `ctx` is handling, if a partition did.
pub fn requester(table: &PartitionTable, ctx: CtxRef) -> Option<CtxRef> {
    match table.ctx(ctx)?.request?.from {
        Requester::Partition(_, from) => Some(from),
        Requester::NormalWorld(_) => None,
    }
}

/// Whether partition `partition` (table index) has a context in the chain ending at `ctx`
/// (`ctx` itself included).
pub fn contains(table: &PartitionTable, ctx: CtxRef, partition: usize) -> bool {
    let mut node = Some(ctx);
    // A chain never holds a partition twice, so it is at most MAX_PARTITIONS long; the bound
    // keeps a corrupted table from looping forever.
    for _ in 0..MAX_PARTITIONS {
        let Some(current) = node else {
            return false;
        };
        if current.partition == partition {
            return true;
        }
        node = requester(table, current);
    }
    false
}

/// The first context of the chain ending at `ctx`: the one the normal world entered.
pub fn root(table: &PartitionTable, ctx: CtxRef) -> CtxRef {
    let mut current = ctx;
    for _ in 0..MAX_PARTITIONS {
        match requester(table, current) {
            Some(prev) => current = prev,
            None => break,
        }
    }
    current
}

/// Whether `ctx` handles a request from another partition (so it is not the chain's root).
pub fn has_partition_requester(table: &PartitionTable, ctx: CtxRef) -> bool {
    requester(table, ctx).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::SpmcAttributes;
    use crate::partition::tests::config;
    use crate::spmc::CpuId;
    use crate::vcpu::{PendingRequest, RequestKind, RuntimeModel, Width};
    use ffa::{EndpointId, Version};

    fn table() -> PartitionTable {
        let attributes = SpmcAttributes {
            spmc_id: EndpointId(0x8000),
            version: Version(1, 2),
        };
        let configs = (0..4u16).map(|i| {
            (
                EndpointId(0x8001 + i),
                config(u128::from(i) + 1, 1, 0x1000_0000 * u64::from(i + 1)),
            )
        });
        PartitionTable::new(&attributes, configs)
    }

    fn at(partition: usize) -> CtxRef {
        CtxRef { partition, vcpu: 0 }
    }

    fn link(table: &mut PartitionTable, callee: usize, from: Requester) {
        let ctx = table.ctx_mut(at(callee)).unwrap();
        ctx.run(CpuId(0), RuntimeModel::DirectRequest);
        ctx.request = Some(PendingRequest {
            from,
            kind: RequestKind::Req,
            width: Width::W32,
        });
    }

    #[test]
    fn walks_back_to_the_normal_world() {
        let mut t = table();
        link(&mut t, 0, Requester::NormalWorld(EndpointId(0)));
        link(&mut t, 1, Requester::Partition(EndpointId(0x8001), at(0)));
        link(&mut t, 2, Requester::Partition(EndpointId(0x8002), at(1)));
        assert!(contains(&t, at(2), 0));
        assert!(contains(&t, at(2), 1));
        assert!(contains(&t, at(2), 2));
        assert!(!contains(&t, at(2), 3));
        assert!(!contains(&t, at(1), 2));
        assert_eq!(root(&t, at(2)), at(0));
        assert_eq!(root(&t, at(3)), at(3));
        assert!(has_partition_requester(&t, at(1)));
        assert!(!has_partition_requester(&t, at(0)));
        assert_eq!(requester(&t, at(2)), Some(at(1)));
    }

    #[test]
    fn corrupted_cycle_terminates() {
        let mut t = table();
        link(&mut t, 0, Requester::Partition(EndpointId(0x8002), at(1)));
        link(&mut t, 1, Requester::Partition(EndpointId(0x8001), at(0)));
        assert!(!contains(&t, at(0), 3));
        let _ = root(&t, at(0));
    }
}
