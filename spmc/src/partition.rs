//! The partition table: each partition of the configuration with its runtime state (version,
//! mailbox, execution contexts, secondary entry point).

use core::sync::atomic::{AtomicU32, Ordering};

use ffa::{EndpointId, Version};
use heapless::Vec;

/// How many abort reasons were recorded so far, by every SPMC of this program: a hint for
/// the arch layer, which reports aborts, to look only when this changed.
pub static ABORTS_NOTED: AtomicU32 = AtomicU32::new(0);

use crate::boot_info::BootInfoFailure;
use crate::interrupts::PhysicalInterrupt;
use crate::interrupts::declared::MAX_INTERRUPTS;
use crate::interrupts::virtual_state::VirtualInterrupts;
use crate::mailbox::Mailbox;
use crate::manifest::{MAX_PARTITIONS, PartitionConfig, SpmcAttributes};
use crate::spmc::CpuId;
use crate::vcpu::{ContextCell, CtxRef, ExecutionContext, RuntimeState};
use crate::version::NegotiatedVersion;

/// Most CPUs (and so execution contexts of an MP partition) the SPMC handles.
pub const MAX_CPUS: usize = 8;

/// Offset of the partition manifest in an SPKG v2 package (x0 at the first entry).
pub const MANIFEST_OFFSET: u64 = 0x1000;

/// A partition at run time.
#[derive(Clone, Debug)]
pub struct Partition {
    /// Its endpoint ID.
    pub id: EndpointId,
    /// Its manifest.
    pub config: PartitionConfig,
    /// Its FF-A version.
    pub version: NegotiatedVersion,
    /// Its RX/TX pair (secure physical space).
    pub mailbox: Mailbox,
    /// Its execution contexts: one (UP) or one per CPU (MP).
    pub contexts: Vec<ContextCell, MAX_CPUS>,
    /// The entry point it registered for warm boots (FFA_SECONDARY_EP_REGISTER).
    pub secondary_entry: Option<u64>,
    /// Why it (or one of its contexts) was aborted, first reason first.
    pub abort_reason: Option<AbortReason>,
    /// Its physical interrupts (declared in its manifest), as it configured them.
    pub interrupts: Vec<PhysicalInterrupt, MAX_INTERRUPTS>,
    /// Each execution context's virtual interrupts, by context index.
    pub virtual_interrupts: Vec<VirtualInterrupts, MAX_CPUS>,
}

/// Why the SPMC aborted a partition, or one context of an MP partition at its warm boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortReason {
    /// It has no execution context for the CPU cold boot runs on.
    NoBootContext,
    /// Its entry point or manifest address overflows the address space.
    BadAddress,
    /// Its boot-information blob could not be written (`gp-register-num` is set).
    BootInfo(BootInfoFailure),
    /// It sent FFA_ERROR while initialising.
    InitError,
    /// It made a call the initialisation runtime model forbids (this function ID).
    ForbiddenInitCall(u32),
    /// It took an exception it could not handle at its own vector (the arch layer prints
    /// which).
    Fault,
    /// Its stage-2 tables could not be built (the SPMC's table pool ran out): it never runs.
    NoStage2,
}

/// Why a configured partition was left out of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// Not a secure ID, the SPMC's or SPMD's ID, or one used by an earlier partition.
    BadId,
    /// No UUID.
    NoUuid,
    /// Execution-context count 0 or above the CPU count.
    BadContextCount,
    /// An FF-A version we cannot speak.
    BadVersion,
    /// `gp-register-num` above 3 (Hafnium's limit: x0..x3), or with an FF-A v1.0 manifest
    /// (the boot-information blob came with v1.1).
    BadBootInfoRegister,
}

impl Partition {
    /// Whether it has one execution context per CPU.
    pub fn is_mp(&self) -> bool {
        self.contexts.len() > 1
    }

    /// The context that runs on `cpu`: 0 for UP, the CPU index for MP.
    pub fn context_for(&self, cpu: CpuId) -> Option<u16> {
        if self.is_mp() {
            let index = usize::from(cpu.0);
            (index < self.contexts.len()).then_some(cpu.0)
        } else {
            Some(0)
        }
    }

    /// Where its boot CPU's context starts at cold boot: `load_address + entrypoint_offset`.
    pub fn cold_entry(&self) -> Option<u64> {
        self.config
            .load_address
            .checked_add(self.config.entrypoint_offset)
    }

    /// Where its contexts start at a warm boot (CPU_ON): the entry it registered with
    /// FFA_SECONDARY_EP_REGISTER, else the cold-boot one (Hafnium's `load.c` reuses the
    /// primary entry point for MP partitions that register none, as FF-A advises).
    pub fn warm_entry(&self) -> Option<u64> {
        self.secondary_entry.or_else(|| self.cold_entry())
    }

    /// Its own secure memory: `[load_address, load_address + memory_size)` and its non-device
    /// secure memory regions with a fixed base, as `(start, len)`.
    pub fn secure_ranges(&self) -> Vec<(u64, u64), { 1 + crate::manifest::MAX_REGIONS }> {
        let mut ranges = Vec::new();
        let _ = ranges.push((self.config.load_address, self.config.memory_size));
        for region in &self.config.memory_regions {
            if let (Some(base), false) = (region.base, region.non_secure) {
                let len = u64::from(region.pages) * ffa::PAGE_SIZE as u64;
                let _ = ranges.push((base, len));
            }
        }
        ranges
    }

    /// Records `why` as the reason the partition (or one of its contexts) was aborted, if it
    /// has none yet.
    pub fn note_abort(&mut self, why: AbortReason) {
        if self.abort_reason.is_none() {
            self.abort_reason = Some(why);
            ABORTS_NOTED.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Marks every context Aborted, for `why`.
    pub fn abort(&mut self, why: AbortReason) {
        self.note_abort(why);
        for ctx in &mut self.contexts {
            ctx.get_mut().abort();
        }
    }

    /// Whether every context is Aborted.
    pub fn is_aborted(&self) -> bool {
        self.contexts
            .iter()
            .all(|c| c.with(|c| c.state == RuntimeState::Aborted) == Some(true))
    }
}

/// All partitions, in boot order.
#[derive(Clone, Debug, Default)]
pub struct PartitionTable {
    entries: Vec<Partition, MAX_PARTITIONS>,
    rejected: Vec<(EndpointId, Rejected), MAX_PARTITIONS>,
}

impl PartitionTable {
    /// The table for `configs`; partitions whose configuration the SPMC cannot honour are left
    /// out (see [`PartitionTable::rejected`]).
    pub fn new(
        attributes: &SpmcAttributes,
        configs: impl IntoIterator<Item = (EndpointId, PartitionConfig)>,
    ) -> Self {
        let mut table = Self::default();
        for (id, config) in configs {
            match table.check(attributes, id, &config) {
                Ok(version) => {
                    let mut contexts = Vec::new();
                    let mut virtual_interrupts = Vec::new();
                    for _ in 0..config.execution_ctx_count {
                        let _ = contexts.push(ContextCell::new());
                        let _ = virtual_interrupts
                            .push(VirtualInterrupts::for_action(config.ns_interrupts));
                    }
                    let interrupts = config
                        .interrupts
                        .iter()
                        .map(|d| PhysicalInterrupt::new(*d))
                        .collect();
                    let _ = table.entries.push(Partition {
                        id,
                        config,
                        version: NegotiatedVersion::new(version),
                        mailbox: Mailbox::new(),
                        contexts,
                        secondary_entry: None,
                        abort_reason: None,
                        interrupts,
                        virtual_interrupts,
                    });
                }
                Err(why) => {
                    let _ = table.rejected.push((id, why));
                }
            }
        }
        table
    }

    fn check(
        &self,
        attributes: &SpmcAttributes,
        id: EndpointId,
        config: &PartitionConfig,
    ) -> Result<Version, Rejected> {
        if !id.is_secure()
            || id == attributes.spmc_id
            || id == EndpointId::SPMD
            || self.find(id).is_some()
        {
            return Err(Rejected::BadId);
        }
        if config.uuids.is_empty() {
            return Err(Rejected::NoUuid);
        }
        // As Hafnium: up to MAX_CPUS contexts whatever the machine has (OP-TEE/build asks
        // for 8 on QEMU's 4 cores); a context whose CPU is absent never runs.
        let count = config.execution_ctx_count;
        if count == 0 || usize::from(count) > MAX_CPUS {
            return Err(Rejected::BadContextCount);
        }
        let version = ffa::version::negotiate(config.ffa_version, ffa::version::OURS)
            .ok_or(Rejected::BadVersion)?;
        if config
            .gp_register_num
            .is_some_and(|n| n > 3 || version < Version(1, 1))
        {
            return Err(Rejected::BadBootInfoRegister);
        }
        Ok(version)
    }

    /// Partitions the configuration named but the table left out, and why.
    pub fn rejected(&self) -> &[(EndpointId, Rejected)] {
        &self.rejected
    }

    /// Number of partitions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no partition.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All partitions, in boot order.
    pub fn iter(&self) -> impl Iterator<Item = &Partition> {
        self.entries.iter()
    }

    /// The table index of partition `id`.
    pub fn find(&self, id: EndpointId) -> Option<usize> {
        self.entries.iter().position(|p| p.id == id)
    }

    /// Partition at `index`.
    pub fn get(&self, index: usize) -> Option<&Partition> {
        self.entries.get(index)
    }

    /// Partition at `index`, mutably.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut Partition> {
        self.entries.get_mut(index)
    }

    /// A copy of a context (`None` also while another CPU's fast path holds it, which
    /// cannot be while the core is held exclusively).
    pub fn ctx(&self, r: CtxRef) -> Option<ExecutionContext> {
        self.cell(r)?.get()
    }

    /// `f` of a context, without copying it (`None` as for [`PartitionTable::ctx`]).
    pub fn with<R>(&self, r: CtxRef, f: impl FnOnce(&ExecutionContext) -> R) -> Option<R> {
        self.cell(r)?.with(f)
    }

    /// A context behind its lock.
    pub fn cell(&self, r: CtxRef) -> Option<&ContextCell> {
        self.entries
            .get(r.partition)?
            .contexts
            .get(usize::from(r.vcpu))
    }

    /// A context, mutably.
    pub fn ctx_mut(&mut self, r: CtxRef) -> Option<&mut ExecutionContext> {
        self.entries
            .get_mut(r.partition)?
            .contexts
            .get_mut(usize::from(r.vcpu))
            .map(ContextCell::get_mut)
    }

    /// The endpoint ID of the partition a context belongs to.
    pub fn id_of(&self, r: CtxRef) -> Option<EndpointId> {
        self.entries.get(r.partition).map(|p| p.id)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::manifest::{ExceptionLevel, MessagingMethod, Region};
    use ffa::Uuid;

    pub(crate) fn config(uuid: u128, ctx_count: u16, load: u64) -> PartitionConfig {
        let mut uuids = Vec::new();
        let _ = uuids.push(Uuid::from_u128(uuid));
        PartitionConfig {
            name: heapless::String::new(),
            id: None,
            replaced_id: None,
            uuids,
            ffa_version: Version(1, 2),
            exception_level: ExceptionLevel::SEl1,
            execution_ctx_count: ctx_count,
            messaging: MessagingMethod(MessagingMethod::DIRECT_REQ_RECV),
            boot_order: None,
            load_address: load,
            entrypoint_offset: 0x4000,
            memory_size: 0x10_0000,
            gp_register_num: None,
            ns_interrupts: Default::default(),
            notification_support: false,
            memory_regions: Vec::new(),
            device_regions: Vec::new(),
            interrupts: Vec::new(),
        }
    }

    fn attributes() -> SpmcAttributes {
        SpmcAttributes {
            spmc_id: EndpointId(0x8000),
            version: Version(1, 2),
        }
    }

    #[test]
    fn invalid_configurations_are_left_out() {
        let mut no_uuid = config(1, 1, 0x1000_0000);
        no_uuid.uuids.clear();
        let mut v2 = config(1, 1, 0x1000_0000);
        v2.ffa_version = Version(2, 0);
        let configs = [
            (EndpointId(0x8001), config(1, 1, 0x1000_0000)),
            (EndpointId(0x8001), config(2, 1, 0x2000_0000)),
            (EndpointId(0x0001), config(3, 1, 0x3000_0000)),
            (EndpointId(0x8000), config(3, 1, 0x3000_0000)),
            (EndpointId(0xffff), config(3, 1, 0x3000_0000)),
            (EndpointId(0x8002), no_uuid),
            (EndpointId(0x8003), config(4, 0, 0x4000_0000)),
            (EndpointId(0x8004), config(4, 9, 0x4000_0000)),
            (EndpointId(0x8005), v2),
            (EndpointId(0x8006), config(5, 2, 0x5000_0000)),
            // More contexts than the machine's 2 CPUs, as Hafnium allows: the third never runs.
            (EndpointId(0x8007), config(6, 3, 0x6000_0000)),
        ];
        let table = PartitionTable::new(&attributes(), configs);
        let ids = table.iter().map(|p| p.id);
        assert!(ids.eq([EndpointId(0x8001), EndpointId(0x8006), EndpointId(0x8007)]));
        let why = table.rejected().iter().map(|r| r.1);
        assert!(why.eq([
            Rejected::BadId,
            Rejected::BadId,
            Rejected::BadId,
            Rejected::BadId,
            Rejected::NoUuid,
            Rejected::BadContextCount,
            Rejected::BadContextCount,
            Rejected::BadVersion
        ]));
        let mp = table.get(1).unwrap();
        assert!(mp.is_mp());
        assert_eq!(mp.context_for(CpuId(1)), Some(1));
        assert_eq!(mp.context_for(CpuId(2)), None);
        let up = table.get(0).unwrap();
        assert_eq!(up.context_for(CpuId(5)), Some(0));
    }

    #[test]
    fn boot_info_needs_x0_to_x3_and_v1_1() {
        let mut x4 = config(1, 1, 0x1000_0000);
        x4.gp_register_num = Some(4);
        let mut v1_0 = config(2, 1, 0x2000_0000);
        v1_0.ffa_version = Version(1, 0);
        v1_0.gp_register_num = Some(0);
        let mut x3 = config(3, 1, 0x3000_0000);
        x3.gp_register_num = Some(3);
        let mut v1_0_plain = config(4, 1, 0x4000_0000);
        v1_0_plain.ffa_version = Version(1, 0);
        let configs = [
            (EndpointId(0x8001), x4),
            (EndpointId(0x8002), v1_0),
            (EndpointId(0x8003), x3),
            (EndpointId(0x8004), v1_0_plain),
        ];
        let table = PartitionTable::new(&attributes(), configs);
        assert!(table.iter().map(|p| p.id.0).eq([0x8003, 0x8004]));
        assert_eq!(
            table.rejected(),
            [
                (EndpointId(0x8001), Rejected::BadBootInfoRegister),
                (EndpointId(0x8002), Rejected::BadBootInfoRegister)
            ]
        );
    }

    #[test]
    fn secure_ranges_skip_ns_and_floating_regions() {
        let mut c = config(1, 1, 0x1000_0000);
        let region = |base, ns| Region {
            name: heapless::String::new(),
            base,
            pages: 2,
            attributes: 3,
            non_secure: ns,
        };
        let _ = c.memory_regions.push(region(Some(0x2000_0000), false));
        let _ = c.memory_regions.push(region(Some(0x3000_0000), true));
        let _ = c.memory_regions.push(region(None, false));
        let table = PartitionTable::new(&attributes(), [(EndpointId(0x8001), c)]);
        let ranges = table.get(0).unwrap().secure_ranges();
        assert_eq!(
            &ranges[..],
            &[(0x1000_0000, 0x10_0000), (0x2000_0000, 0x2000)]
        );
    }
}
