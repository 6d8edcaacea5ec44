//! The SPMC core driven by arbitrary calls: from the SPMD or any partition (known or not), on
//! any CPU, over memory whose contents come from the input. It must never panic, and what it
//! asks the arch layer to do must name a real partition and execution context.
#![no_main]

use ffa::{EndpointId, Uuid, Version};
use ffa_stack_fuzz::{Call, Window};
use heapless::{String, Vec};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use spmc::manifest::{
    ExceptionLevel, MessagingMethod, Partition, PartitionConfig, Region, SpmcAttributes, SpmcConfig,
};
use spmc::platform::{MemFault, Platform, Space};
use spmc::{Caller, CpuId, Outcome, Spmc};

const CPUS: u16 = 4;
/// Secure memory: the three partitions' images, 64 KiB each.
const SECURE_BASE: u64 = 0x0620_0000;
const SP_SIZE: u64 = 0x1_0000;
/// Normal-world memory the host's buffers and shares live in.
const NS_BASE: u64 = 0x8800_0000;
const NS_SIZE: u64 = 0x1_0000;
/// Partitions, the SPMC, the host, the SPMD, and IDs nobody has.
const IDS: [u16; 8] = [0x8001, 0x8002, 0x8003, 0x8000, 0, 0xffff, 0x8004, 1];
const PARTITION_IDS: [u16; 3] = [0x8001, 0x8002, 0x8003];

#[derive(Arbitrary, Debug)]
enum Who {
    /// The partition the SPMC last entered on this CPU (the SPMD if none).
    Running,
    Spmd,
    /// A partition ID from `IDS`, known or not.
    Known(u8),
    Raw(u16),
}

#[derive(Arbitrary, Debug)]
struct Step {
    cpu: u8,
    who: Who,
    call: Call,
}

#[derive(Arbitrary, Debug)]
struct Input {
    secure_seed: std::vec::Vec<u8>,
    ns_seed: std::vec::Vec<u8>,
    boot: bool,
    steps: std::vec::Vec<Step>,
}

struct FakePlatform {
    secure: Window,
    non_secure: Window,
}

impl Platform for FakePlatform {
    fn read(&self, space: Space, addr: u64, buf: &mut [u8]) -> Result<(), MemFault> {
        let window = match space {
            Space::Secure => &self.secure,
            Space::NonSecure => &self.non_secure,
        };
        window.read(addr, buf).then_some(()).ok_or(MemFault)
    }

    fn write(&mut self, space: Space, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        let window = match space {
            Space::Secure => &mut self.secure,
            Space::NonSecure => &mut self.non_secure,
        };
        window.write(addr, data).then_some(()).ok_or(MemFault)
    }
}

fn name(text: &str) -> String<32> {
    String::try_from(text).unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn partition(
    id: u16,
    uuids: &[u128],
    ffa_version: Version,
    exception_level: ExceptionLevel,
    execution_ctx_count: u16,
    messaging: u32,
    boot_order: Option<u16>,
    index: u64,
) -> Partition {
    let load_address = SECURE_BASE + index * SP_SIZE;
    let mut memory_regions = Vec::new();
    // A 4 KiB region at the end of the image, as partitions declare for their RX/TX buffers.
    let _ = memory_regions.push(Region {
        name: name("rxtx"),
        base: Some(load_address + SP_SIZE - 0x2000),
        pages: 2,
        // Read-write, as the manifest binding spells it (bit 0 read, bit 1 write).
        attributes: 0b011,
        non_secure: false,
    });
    Partition {
        id: EndpointId(id),
        config: PartitionConfig {
            name: name("fuzz-sp"),
            id: Some(EndpointId(id)),
            uuids: uuids.iter().map(|&u| Uuid::from_u128(u)).collect(),
            ffa_version,
            exception_level,
            execution_ctx_count,
            messaging: MessagingMethod(messaging),
            boot_order,
            load_address,
            entrypoint_offset: 0x4000,
            memory_size: SP_SIZE,
            gp_register_num: Some(0),
            memory_regions,
            device_regions: Vec::new(),
        },
    }
}

fn config() -> SpmcConfig {
    use MessagingMethod as M;
    let partitions = [
        // A multi-core S-EL1 partition speaking v1.2 with every messaging method.
        partition(
            0x8001,
            &[0x1e67_b5b4_e14f_904a_1311_9b5a_0a02_c9a4],
            Version(1, 2),
            ExceptionLevel::SEl1,
            CPUS,
            M::DIRECT_REQ_RECV | M::DIRECT_REQ_SEND | M::INDIRECT | M::DIRECT_REQ2_RECV,
            Some(0),
            0,
        ),
        // A single-core v1.1 partition with two services.
        partition(
            0x8002,
            &[
                0x092e_8c7a_2b48_4c39_a6b6_6f5b_d7e5_3c01,
                0x5a6f_8e91_0c2d_4b71_9e3a_8d04_b2c6_1f07,
            ],
            Version(1, 1),
            ExceptionLevel::SEl1,
            1,
            M::DIRECT_REQ_RECV | M::DIRECT_REQ2_RECV,
            Some(1),
            1,
        ),
        // A single-core S-EL0 partition built for v1.0.
        partition(
            0x8003,
            &[0x7c3f_a2e0_95d1_4e6b_8a40_3b19_f0c8_d2a5],
            Version(1, 0),
            ExceptionLevel::SEl0,
            1,
            M::DIRECT_REQ_RECV | M::DIRECT_REQ_SEND,
            None,
            2,
        ),
    ];
    SpmcConfig {
        attributes: SpmcAttributes {
            spmc_id: EndpointId::DEFAULT_SPMC,
            version: Version(1, 2),
        },
        partitions: partitions.into_iter().collect(),
    }
}

fn check(outcome: &Outcome, running: &mut [Option<u16>], cpu: u16) {
    if let Outcome::Enter {
        partition, vcpu, ..
    } = *outcome
    {
        let index = PARTITION_IDS.iter().position(|&id| id == partition.0);
        let contexts = match index {
            Some(0) => CPUS,
            Some(_) => 1,
            None => panic!("entered unknown partition {partition:?}"),
        };
        assert!(
            vcpu < contexts,
            "{partition:?} has no execution context {vcpu}"
        );
        running[usize::from(cpu)] = Some(partition.0);
    } else {
        running[usize::from(cpu)] = None;
    }
}

fuzz_target!(|input: Input| {
    let platform = FakePlatform {
        secure: Window::new(SECURE_BASE, SP_SIZE * 3, &input.secure_seed),
        non_secure: Window::new(NS_BASE, NS_SIZE, &input.ns_seed),
    };
    let windows = [platform.non_secure.span(), platform.secure.span()];
    let mut spmc = Spmc::new(config(), platform, CPUS);
    let mut running = [None; CPUS as usize];
    if input.boot {
        let outcome = spmc.boot(CpuId(0));
        check(&outcome, &mut running, 0);
    }
    for step in input.steps.iter().take(64) {
        let cpu = u16::from(step.cpu) % CPUS;
        let caller = match step.who {
            Who::Running => running[usize::from(cpu)]
                .map_or(Caller::Spmd, |id| Caller::Partition(EndpointId(id))),
            Who::Spmd => Caller::Spmd,
            Who::Known(n) => Caller::Partition(EndpointId(IDS[usize::from(n) % IDS.len()])),
            Who::Raw(id) => Caller::Partition(EndpointId(id)),
        };
        let regs = step.call.regs(&IDS, &windows);
        let outcome = spmc.handle(CpuId(cpu), caller, &regs);
        check(&outcome, &mut running, cpu);
    }
});
