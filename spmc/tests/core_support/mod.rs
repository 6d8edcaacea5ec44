//! Shared by the core_* tests: a fake platform over a small map of both address spaces, a
//! three-partition configuration, and helpers to drive the SPMC.
#![allow(dead_code)]

use std::collections::HashMap;

use ffa::{EndpointId, FfaError, Uuid, UuidHelper, Version};
use heapless::Vec;
use spmc::interrupts::GicSetting;
use spmc::manifest::{
    ExceptionLevel, MessagingMethod, Partition, PartitionConfig, SpmcAttributes, SpmcConfig,
};
use spmc::platform::{MemFault, Platform, Space};
use spmc::{Caller, CpuId, Outcome, Regs, Spmc};

pub mod fid {
    pub const ERROR: u64 = 0x8400_0060;
    pub const SUCCESS32: u64 = 0x8400_0061;
    pub const SUCCESS64: u64 = 0xc400_0061;
    pub const INTERRUPT: u64 = 0x8400_0062;
    pub const VERSION: u64 = 0x8400_0063;
    pub const FEATURES: u64 = 0x8400_0064;
    pub const RX_RELEASE: u64 = 0x8400_0065;
    pub const RXTX_MAP32: u64 = 0x8400_0066;
    pub const RXTX_MAP64: u64 = 0xc400_0066;
    pub const RXTX_UNMAP: u64 = 0x8400_0067;
    pub const PARTITION_INFO_GET: u64 = 0x8400_0068;
    pub const ID_GET: u64 = 0x8400_0069;
    pub const MSG_WAIT: u64 = 0x8400_006b;
    pub const YIELD: u64 = 0x8400_006c;
    pub const RUN: u64 = 0x8400_006d;
    pub const REQ32: u64 = 0x8400_006f;
    pub const REQ64: u64 = 0xc400_006f;
    pub const RESP32: u64 = 0x8400_0070;
    pub const RESP64: u64 = 0xc400_0070;
    pub const MEM_SHARE32: u64 = 0x8400_0073;
    pub const NOTIFICATION_BITMAP_CREATE: u64 = 0x8400_007d;
    pub const NOTIFICATION_SET: u64 = 0x8400_0081;
    pub const NOTIFICATION_GET: u64 = 0x8400_0082;
    pub const NOTIFICATION_INFO_GET64: u64 = 0xc400_0083;
    pub const RX_ACQUIRE: u64 = 0x8400_0084;
    pub const SPM_ID_GET: u64 = 0x8400_0085;
    pub const MSG_SEND2: u64 = 0x8400_0086;
    pub const SEC_EP32: u64 = 0x8400_0087;
    pub const SEC_EP64: u64 = 0xc400_0087;
    pub const CONSOLE32: u64 = 0x8400_008a;
    pub const CONSOLE64: u64 = 0xc400_008a;
    pub const GET_REGS: u64 = 0xc400_008b;
    pub const REQ2: u64 = 0xc400_008d;
    pub const RESP2: u64 = 0xc400_008e;
}

pub const SPMC_ID: EndpointId = EndpointId(0x8000);
pub const SP1: EndpointId = EndpointId(0x8001);
pub const SP2: EndpointId = EndpointId(0x8002);
pub const SP3: EndpointId = EndpointId(0x8003);

pub const SP1_LOAD: u64 = 0x0e30_0000;
pub const SP2_LOAD: u64 = 0x0e40_0000;
pub const SP3_LOAD: u64 = 0x0e50_0000;
pub const SP_MEM: u64 = 0x10_0000;
/// A secure memory region of SP1's manifest, outside its package memory.
pub const SP1_REGION: u64 = 0x0e80_0000;

/// Normal-world memory the SPMC may reach.
pub const NS_BASE: u64 = 0x6000_0000;
pub const NS_LEN: u64 = 0x100_0000;
pub const NWD_TX: u64 = NS_BASE;
pub const NWD_RX: u64 = NS_BASE + 0x1000;

pub const U1: Uuid = Uuid::from_u128(0x1111_1111_2222_3333_4444_5555_5555_5555);
pub const U2A: Uuid = Uuid::from_u128(0x2a2a_2a2a_0000_1111_2222_3333_3333_3333);
pub const U2B: Uuid = Uuid::from_u128(0x2b2b_2b2b_0000_1111_2222_3333_3333_3333);
pub const U3: Uuid = Uuid::from_u128(0x3333_3333_0000_1111_2222_4444_4444_4444);
pub const UNKNOWN: Uuid = Uuid::from_u128(0xdead_beef_0000_1111_2222_5555_5555_5555);

/// Both physical address spaces: byte maps over the ranges the SPMC may reach.
#[derive(Default)]
pub struct FakeMemory {
    ranges: std::vec::Vec<(Space, u64, u64)>,
    bytes: HashMap<(bool, u64), u8>,
    /// Secure bytes written and not cleaned to the point of coherency yet: a partition
    /// running with its caches off would not see them.
    dirty: std::collections::BTreeSet<u64>,
    /// Refuse every write (to test the SPMC's answer when the platform faults).
    pub fail_writes: bool,
    /// Pages mapped for borrowers: (partition, secure, page address) → permissions.
    pub mapped: std::collections::BTreeMap<(EndpointId, bool, u64), u8>,
    /// Refuse every mapping.
    pub fail_maps: bool,
    /// Fake GIC: every programming the core asked for, in order.
    pub gic: std::vec::Vec<GicSetting>,
    /// Fake GIC: interrupts pending at the CPU interface, acknowledged first to last.
    pub gic_pending: std::collections::VecDeque<u32>,
    /// Fake GIC: interrupts ended, in order.
    pub gic_ended: std::vec::Vec<u32>,
    /// Fake GIC: non-secure SGIs pended, (CPU, INTID) in order.
    pub ns_sgis: std::vec::Vec<(spmc::CpuId, u32)>,
}

impl FakeMemory {
    pub fn new() -> Self {
        let mut m = Self::default();
        for (base, len) in [
            (SP1_LOAD, SP_MEM),
            (SP2_LOAD, SP_MEM),
            (SP3_LOAD, SP_MEM),
            (SP1_REGION, 0x4000),
        ] {
            m.ranges.push((Space::Secure, base, len));
        }
        m.ranges.push((Space::NonSecure, NS_BASE, NS_LEN));
        m
    }

    fn reachable(&self, space: Space, addr: u64, len: usize) -> bool {
        let Some(end) = addr.checked_add(len as u64) else {
            return false;
        };
        self.ranges
            .iter()
            .any(|&(s, base, size)| s == space && addr >= base && end <= base + size)
    }

    /// Secure bytes written but never cleaned (what a partition with its caches off would
    /// miss), lowest first.
    pub fn dirty(&self) -> std::vec::Vec<u64> {
        self.dirty.iter().copied().collect()
    }

    pub fn peek(&self, space: Space, addr: u64, len: usize) -> std::vec::Vec<u8> {
        (0..len as u64)
            .map(|i| {
                *self
                    .bytes
                    .get(&(space == Space::Secure, addr + i))
                    .unwrap_or(&0)
            })
            .collect()
    }
}

impl Platform for FakeMemory {
    fn read(&self, space: Space, addr: u64, buf: &mut [u8]) -> Result<(), MemFault> {
        if !self.reachable(space, addr, buf.len()) {
            return Err(MemFault);
        }
        for (i, b) in buf.iter_mut().enumerate() {
            *b = *self
                .bytes
                .get(&(space == Space::Secure, addr + i as u64))
                .unwrap_or(&0);
        }
        Ok(())
    }

    fn write(&mut self, space: Space, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        if self.fail_writes || !self.reachable(space, addr, data.len()) {
            return Err(MemFault);
        }
        for (i, b) in data.iter().enumerate() {
            self.bytes
                .insert((space == Space::Secure, addr + i as u64), *b);
            if space == Space::Secure {
                self.dirty.insert(addr + i as u64);
            }
        }
        Ok(())
    }

    fn covers(&self, space: Space, addr: u64, len: u64) -> bool {
        usize::try_from(len).is_ok_and(|len| self.reachable(space, addr, len))
    }

    fn map_for(
        &mut self,
        partition: EndpointId,
        space: Space,
        addr: u64,
        len: u64,
        permissions: u8,
    ) -> Result<(), MemFault> {
        if self.fail_maps {
            return Err(MemFault);
        }
        for page in (addr..addr + len).step_by(0x1000) {
            let key = (partition, space == Space::Secure, page);
            assert!(
                self.mapped.insert(key, permissions).is_none(),
                "{key:x?} mapped twice"
            );
        }
        Ok(())
    }

    fn unmap_for(&mut self, partition: EndpointId, space: Space, addr: u64, len: u64) {
        for page in (addr..addr + len).step_by(0x1000) {
            self.mapped
                .remove(&(partition, space == Space::Secure, page));
        }
    }

    fn clean_to_poc(&mut self, space: Space, addr: u64, len: usize) {
        if space == Space::Secure {
            for a in addr..addr.saturating_add(len as u64) {
                self.dirty.remove(&a);
            }
        }
    }

    fn gic_configure(&mut self, setting: &GicSetting) {
        self.gic.push(*setting);
    }

    fn gic_acknowledge(&mut self) -> Option<u32> {
        self.gic_pending.pop_front()
    }

    fn gic_end(&mut self, intid: u32) {
        self.gic_ended.push(intid);
    }

    fn send_ns_sgi(&mut self, cpu: spmc::CpuId, intid: u32) {
        self.ns_sgis.push((cpu, intid));
    }
}

fn uuids(list: &[Uuid]) -> Vec<Uuid, { spmc::manifest::MAX_UUIDS }> {
    let mut v = Vec::new();
    for u in list {
        v.push(*u).unwrap();
    }
    v
}

pub fn partition(
    id: EndpointId,
    uuid_list: &[Uuid],
    version: Version,
    contexts: u16,
    messaging: u32,
    load: u64,
) -> Partition {
    Partition {
        id,
        config: PartitionConfig {
            name: heapless::String::new(),
            id: Some(id),
            replaced_id: None,
            uuids: uuids(uuid_list),
            ffa_version: version,
            exception_level: ExceptionLevel::SEl1,
            execution_ctx_count: contexts,
            messaging: MessagingMethod(messaging),
            boot_order: None,
            load_address: load,
            entrypoint_offset: 0x4000,
            memory_size: SP_MEM,
            gp_register_num: None,
            ns_interrupts: Default::default(),
            notification_support: false,
            memory_regions: Vec::new(),
            device_regions: Vec::new(),
            interrupts: Vec::new(),
        },
    }
}

pub const ALL_MSG: u32 = MessagingMethod::DIRECT_REQ_RECV
    | MessagingMethod::DIRECT_REQ_SEND
    | MessagingMethod::DIRECT_REQ2_RECV
    | MessagingMethod::DIRECT_REQ2_SEND;

/// SP1: UP, v1.2, sends and receives both kinds, with a secure memory region.
/// SP2: MP (2 contexts), v1.2, two UUIDs, receives both kinds, sends none, indirect messaging.
/// SP3: UP, v1.1, sends and receives REQ only.
pub fn config() -> SpmcConfig {
    let mut sp1 = partition(SP1, &[U1], Version(1, 2), 1, ALL_MSG, SP1_LOAD);
    sp1.config
        .memory_regions
        .push(spmc::manifest::Region {
            name: heapless::String::new(),
            base: Some(SP1_REGION),
            pages: 4,
            attributes: 3,
            non_secure: false,
        })
        .unwrap();
    let sp2 = partition(
        SP2,
        &[U2A, U2B],
        Version(1, 2),
        2,
        MessagingMethod::DIRECT_REQ_RECV
            | MessagingMethod::DIRECT_REQ2_RECV
            | MessagingMethod::INDIRECT,
        SP2_LOAD,
    );
    let sp3 = partition(
        SP3,
        &[U3],
        Version(1, 1),
        1,
        MessagingMethod::DIRECT_REQ_RECV | MessagingMethod::DIRECT_REQ_SEND,
        SP3_LOAD,
    );
    config_of([sp1, sp2, sp3])
}

pub fn config_of<const N: usize>(partitions: [Partition; N]) -> SpmcConfig {
    let mut list = Vec::new();
    for p in partitions {
        list.push(p).unwrap();
    }
    SpmcConfig {
        attributes: SpmcAttributes {
            spmc_id: SPMC_ID,
            version: Version(1, 2),
        },
        partitions: list,
        refused: Vec::new(),
    }
}

pub type TestSpmc = Spmc<FakeMemory>;

pub fn new_spmc(config: SpmcConfig, cpus: u16) -> TestSpmc {
    Spmc::new(config, FakeMemory::new(), cpus)
}

/// Registers from a prefix.
pub fn regs(x: &[u64]) -> Regs {
    let mut r = [0; 18];
    r[..x.len()].copy_from_slice(x);
    r
}

/// Registers from a prefix, with x8..x17 set to a recognisable pattern.
pub fn regs_tagged(x: &[u64], tag: u64) -> Regs {
    let mut r = regs(x);
    for (i, v) in r[8..].iter_mut().enumerate() {
        *v = tag + i as u64;
    }
    r
}

pub fn tagged(tag: u64) -> [u64; 10] {
    core::array::from_fn(|i| tag + i as u64)
}

pub fn nwd(s: &mut TestSpmc, cpu: u16, r: &Regs) -> Outcome {
    s.handle(CpuId(cpu), Caller::Spmd, r)
}

pub fn sp(s: &mut TestSpmc, cpu: u16, id: EndpointId, r: &Regs) -> Outcome {
    s.handle(CpuId(cpu), Caller::Partition(id), r)
}

#[track_caller]
pub fn to_spmd(o: Outcome) -> Regs {
    match o {
        Outcome::ToSpmd(r) => r,
        other => panic!("expected ToSpmd, got {other:x?}"),
    }
}

#[track_caller]
pub fn entered(o: Outcome, id: EndpointId, vcpu: u16) -> Regs {
    match o {
        Outcome::Enter {
            partition,
            vcpu: v,
            regs,
            ..
        } if partition == id && v == vcpu => regs,
        other => panic!("expected Enter {id:x?}/{vcpu}, got {other:x?}"),
    }
}

/// The registers of a fresh start of `id`'s context `vcpu` at `pc`.
#[track_caller]
pub fn started(o: Outcome, id: EndpointId, vcpu: u16, pc: u64) -> Regs {
    match o {
        Outcome::Enter {
            partition,
            vcpu: v,
            regs,
            start: Some(at),
        } if partition == id && v == vcpu && at == pc => regs,
        other => panic!("expected a start of {id:x?}/{vcpu} at {pc:#x}, got {other:x?}"),
    }
}

/// The registers of a resumption (not a start) of `id`'s context `vcpu`.
#[track_caller]
pub fn resumed(o: Outcome, id: EndpointId, vcpu: u16) -> Regs {
    match o {
        Outcome::Enter {
            partition,
            vcpu: v,
            regs,
            start: None,
        } if partition == id && v == vcpu => regs,
        other => panic!("expected a resumption of {id:x?}/{vcpu}, got {other:x?}"),
    }
}

#[track_caller]
pub fn assert_error(r: &Regs, code: FfaError) {
    assert_eq!(r[0], fid::ERROR, "not FFA_ERROR: {r:x?}");
    assert_eq!(
        r[2],
        u64::from(i32::from(code) as u32),
        "wrong error: {r:x?}"
    );
}

#[track_caller]
pub fn assert_success(r: &Regs) {
    assert_eq!(r[0], fid::SUCCESS32, "not FFA_SUCCESS: {r:x?}");
}

pub fn uuid_w(u: Uuid) -> [u64; 4] {
    UuidHelper::to_u32_regs(u).map(u64::from)
}

pub fn uuid_x(u: Uuid) -> [u64; 2] {
    UuidHelper::to_u64_regs(u)
}

/// Boots all three partitions of [`config`]: each answers its entry with FFA_MSG_WAIT.
pub fn booted() -> TestSpmc {
    booted_with(config(), 2)
}

pub fn booted_with(config: SpmcConfig, cpus: u16) -> TestSpmc {
    let ids: std::vec::Vec<EndpointId> = config.partitions.iter().map(|p| p.id).collect();
    let mut s = new_spmc(config, cpus);
    let mut o = s.boot(CpuId(0));
    for id in ids {
        entered(o, id, 0);
        o = sp(&mut s, 0, id, &regs(&[fid::MSG_WAIT]));
    }
    assert_eq!(to_spmd(o)[0], fid::MSG_WAIT);
    s
}

/// NWd direct request REQ32 from `src` to `dst` with payload w3..w7.
pub fn req32(src: u16, dst: EndpointId, payload: [u64; 5]) -> Regs {
    let mut r = regs(&[fid::REQ32, (u64::from(src) << 16) | u64::from(dst.0), 0]);
    r[3..8].copy_from_slice(&payload);
    r
}

pub fn resp32(src: EndpointId, dst: u16, payload: [u64; 5]) -> Regs {
    let mut r = regs(&[fid::RESP32, (u64::from(src.0) << 16) | u64::from(dst), 0]);
    r[3..8].copy_from_slice(&payload);
    r
}

pub fn w1(src: u16, dst: u16) -> u64 {
    (u64::from(src) << 16) | u64::from(dst)
}
