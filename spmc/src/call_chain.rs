//! Call chains: the contexts linked by direct requests (A asked B, B asked C...).
//!
//! Each context handling a request from a partition points back at the requester's context.
//! The requester is Blocked while its callee runs; when the callee yields (FFA_YIELD) the
//! cycles go back to the requester, which runs again while the callee stays Preempted and
//! linked to it ([`yielded_to_requester`]) until the requester resumes it with FFA_RUN. A
//! context has at most one callee: while it has one it may not send another request.
//! A chain starts at a context the normal world entered (a direct request or FFA_RUN); FF-A
//! forbids a request to a partition already in the chain (a loop: DENIED, Hafnium's
//! `ffa_direct_msg_precedes_in_call_chain`). A chain never spans CPUs.

use crate::manifest::MAX_PARTITIONS;
use crate::partition::PartitionTable;
use crate::vcpu::{CtxRef, Requester, RuntimeModel, RuntimeState};

/// The context that sent the request `ctx` is handling, if a partition did.
pub fn requester(table: &PartitionTable, ctx: CtxRef) -> Option<CtxRef> {
    match table.with(ctx, |c| c.request)??.from {
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

/// The context handling a request `ctx` sent, if any.
pub fn callee(table: &PartitionTable, ctx: CtxRef) -> Option<CtxRef> {
    (0..table.len()).find_map(|partition| {
        let count = table.get(partition).map_or(0, |p| p.contexts.len());
        (0..count)
            .filter_map(|vcpu| u16::try_from(vcpu).ok())
            .map(|vcpu| CtxRef { partition, vcpu })
            .find(|&c| requester(table, c) == Some(ctx))
    })
}

/// The requester `ctx` yielded its cycles back to, if it did: `ctx` is Preempted (by
/// FFA_YIELD, not an interrupt) and its requester is no longer blocked on it. Only that
/// requester may FFA_RUN it.
pub fn yielded_to_requester(table: &PartitionTable, ctx: CtxRef) -> Option<CtxRef> {
    let yielded = table.with(ctx, |c| {
        c.state == RuntimeState::Preempted && !c.interrupted
    })?;
    if !yielded {
        return None;
    }
    let from = requester(table, ctx)?;
    let blocked = table.with(from, |c| c.state == RuntimeState::Blocked)?;
    (!blocked).then_some(from)
}

/// The callee that yielded back to `ctx` and waits for it to FFA_RUN it, if any.
pub fn yielded_callee(table: &PartitionTable, ctx: CtxRef) -> Option<CtxRef> {
    // Only FFA_YIELD puts a callee in that state, and it records the callee in its requester:
    // checking that one is enough.
    table
        .with(ctx, |c| c.yielded_callee)?
        .filter(|&c| yielded_to_requester(table, c) == Some(ctx))
}

/// Contexts handling a request from `gone` (powered off or aborted) lose it: they go on in
/// the Run model, so their response is refused and FFA_MSG_WAIT ends their run. One that had
/// yielded back to `gone` stays Preempted, a chain root the normal world may FFA_RUN.
pub fn release_callees(table: &mut PartitionTable, gone: CtxRef) {
    for partition in 0..table.len() {
        let count = table.get(partition).map_or(0, |p| p.contexts.len());
        for vcpu in (0..count).filter_map(|v| u16::try_from(v).ok()) {
            let ctx = CtxRef { partition, vcpu };
            if requester(table, ctx) != Some(gone) {
                continue;
            }
            if let Some(c) = table.ctx_mut(ctx) {
                c.request = None;
                c.model = Some(RuntimeModel::Run);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::SpmcAttributes;
    use crate::partition::tests::config;
    use crate::spmc::CpuId;
    use crate::vcpu::{PendingRequest, RequestKind, Width};
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
    fn a_callee_that_yielded_is_linked_to_its_running_requester() {
        let mut t = table();
        link(&mut t, 0, Requester::NormalWorld(EndpointId(0)));
        link(&mut t, 1, Requester::Partition(EndpointId(0x8001), at(0)));
        t.ctx_mut(at(0)).unwrap().state = RuntimeState::Blocked;
        assert_eq!(callee(&t, at(0)), Some(at(1)));
        assert_eq!(callee(&t, at(1)), None);
        // Running, or Preempted by an interrupt with its requester blocked: not yielded.
        assert_eq!(yielded_to_requester(&t, at(1)), None);
        t.ctx_mut(at(1)).unwrap().state = RuntimeState::Preempted;
        t.ctx_mut(at(1)).unwrap().interrupted = true;
        assert_eq!(yielded_to_requester(&t, at(1)), None);
        t.ctx_mut(at(1)).unwrap().interrupted = false;
        t.ctx_mut(at(0)).unwrap().state = RuntimeState::Running;
        assert_eq!(yielded_to_requester(&t, at(1)), Some(at(0)));
        // FFA_YIELD records the callee in its requester; without that record, none.
        assert_eq!(yielded_callee(&t, at(0)), None);
        t.ctx_mut(at(0)).unwrap().yielded_callee = Some(at(1));
        assert_eq!(yielded_callee(&t, at(0)), Some(at(1)));
        // A stale record is checked: another context named there is no yielded callee.
        t.ctx_mut(at(0)).unwrap().yielded_callee = Some(at(2));
        assert_eq!(yielded_callee(&t, at(0)), None);
        t.ctx_mut(at(0)).unwrap().yielded_callee = Some(at(1));
        release_callees(&mut t, at(0));
        assert_eq!(callee(&t, at(0)), None);
        let c = t.ctx(at(1)).unwrap();
        assert_eq!(
            (c.state, c.model),
            (RuntimeState::Preempted, Some(RuntimeModel::Run))
        );
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
