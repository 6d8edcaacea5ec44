//! The SPMC core driven by arbitrary calls, cold and warm boots: from the SPMD or any partition
//! (known or not), on any CPU (including ones the machine lacks), over memory whose contents
//! come from the input. It must never panic, and what it asks the arch layer to do must name a
//! real execution context, recorded as running there, started inside its partition's memory.
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
    /// The partition running on this CPU (the SPMD if none).
    Running,
    Spmd,
    /// A partition ID from `IDS`, known or not.
    Known(u8),
    Raw(u16),
}

#[derive(Arbitrary, Debug)]
enum Action {
    /// A call by `who`.
    Call(Who, Box<Call>),
    /// The SPMD's warm boot of the CPU after PSCI CPU_ON.
    CpuOn,
    /// A cold boot (only the first is accepted).
    Boot,
}

#[derive(Arbitrary, Debug)]
struct Step {
    /// CPU index, including two the machine does not have.
    cpu: u8,
    action: Action,
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

    fn covers(&self, space: Space, addr: u64, len: u64) -> bool {
        let window = match space {
            Space::Secure => &self.secure,
            Space::NonSecure => &self.non_secure,
        };
        let (base, size) = window.span();
        addr >= base && addr.checked_add(len).is_some_and(|end| end <= base + size)
    }

    // Mappings are the arch layer's; the fuzzer checks the core's bookkeeping.
    fn map_for(
        &mut self,
        _partition: ffa::EndpointId,
        _space: Space,
        _addr: u64,
        _len: u64,
        _permissions: u8,
    ) -> Result<(), MemFault> {
        Ok(())
    }

    fn unmap_for(&mut self, _partition: ffa::EndpointId, _space: Space, _addr: u64, _len: u64) {}

    // No caches modelled.
    fn clean_to_poc(&mut self, _space: Space, _addr: u64, _len: usize) {}

    fn send_ns_sgi(&mut self, _cpu: spmc::CpuId, _intid: u32) {}
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
            replaced_id: None,
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
            ns_interrupts: Default::default(),
            notification_support: false,
            memory_regions,
            device_regions: Vec::new(),
            interrupts: Vec::new(),
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
        refused: Vec::new(),
    }
}

/// What the SPMC asks of the arch layer must be possible: enter a context that exists, that the
/// SPMC records as running on this CPU, starting (if afresh) inside the partition's own memory.
fn check(spmc: &Spmc<FakePlatform>, outcome: &Outcome, cpu: CpuId) {
    let Outcome::Enter {
        partition,
        vcpu,
        start,
        ..
    } = *outcome
    else {
        return;
    };
    let index = PARTITION_IDS
        .iter()
        .position(|&id| id == partition.0)
        .unwrap_or_else(|| panic!("entered unknown partition {partition:?}"));
    let contexts = if index == 0 { CPUS } else { 1 };
    assert!(
        vcpu < contexts,
        "{partition:?} has no execution context {vcpu}"
    );
    assert_eq!(
        spmc.running_on(cpu),
        Some((partition, vcpu)),
        "entered {partition:?}.{vcpu} on {cpu:?} without recording it"
    );
    if let Some(pc) = start {
        let base = SECURE_BASE + index as u64 * SP_SIZE;
        assert!(
            (base..base + SP_SIZE).contains(&pc),
            "{partition:?} started at {pc:#x}, outside its memory"
        );
    }
}

fuzz_target!(|input: Input| {
    let platform = FakePlatform {
        secure: Window::new(SECURE_BASE, SP_SIZE * 3, &input.secure_seed),
        non_secure: Window::new(NS_BASE, NS_SIZE, &input.ns_seed),
    };
    let windows = [platform.non_secure.span(), platform.secure.span()];
    let mut spmc = Spmc::new(config(), platform, CPUS);
    if input.boot {
        let outcome = spmc.boot(CpuId(0));
        check(&spmc, &outcome, CpuId(0));
    }
    for step in input.steps.iter().take(64) {
        let cpu = CpuId(u16::from(step.cpu) % (CPUS + 2));
        let outcome = match &step.action {
            Action::Call(who, call) => {
                let caller = match who {
                    Who::Running => spmc
                        .running_on(cpu)
                        .map_or(Caller::Spmd, |(id, _)| Caller::Partition(id)),
                    Who::Spmd => Caller::Spmd,
                    Who::Known(n) => {
                        Caller::Partition(EndpointId(IDS[usize::from(*n) % IDS.len()]))
                    }
                    Who::Raw(id) => Caller::Partition(EndpointId(*id)),
                };
                spmc.handle(cpu, caller, &call.regs(&IDS, &windows))
            }
            Action::CpuOn => spmc.cpu_on(cpu),
            Action::Boot => spmc.boot(cpu),
        };
        check(&spmc, &outcome, cpu);
    }
});
