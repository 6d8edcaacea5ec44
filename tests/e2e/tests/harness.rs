//! The harness itself on the real SPMC core: boot order, the SPMD's own answers, and hang
//! detection with a partition that never finishes.

use e2e::HarnessError;
use e2e::client::{DirectClient, ProxiedClient};
use e2e::config::ManifestSpec;
use e2e::spmd::CoreState;
use e2e::stack::{Stack, standard_partitions};
use e2e::trace::{Agent, Trace};
use ffa::Regs;
use scenarios::Client;
use spmc::boot_info::{BootInfoFailure, PackageError};
use spmc::partition::AbortReason;
use spmc::vcpu::RuntimeState;
use test_partitions::definitions::RELAY;
use test_partitions::{
    DEFINITIONS, ECHO_ID, HOSTILE_ID, LEGACY_ID, RELAY_ID, SpEnv, TestPartition,
};

fn regs(x: &[u64]) -> Regs {
    let mut r = [0u64; 18];
    r[..x.len()].copy_from_slice(x);
    r
}

fn stack() -> Stack {
    Stack::standard(Trace::from_env()).expect("the standard stack boots")
}

#[test]
fn boot_enters_echo_relay_legacy_in_order_then_waits() {
    let stack = stack();
    let spmd = stack.spmd();
    for cpu in 0..e2e::stack::CPU_COUNT {
        assert_eq!(
            spmd.core_state(cpu),
            Some(CoreState::On),
            "the SPMD saw FFA_MSG_WAIT on cpu{cpu}"
        );
    }
    // Cold boot on CPU 0 starts each partition at its entry point, in boot order.
    let starts: Vec<_> = spmd
        .entries()
        .iter()
        .filter_map(|e| e.start.map(|pc| (e.cpu, e.partition.0, e.vcpu, pc)))
        .collect();
    let cold: Vec<_> = DEFINITIONS
        .iter()
        .map(|d| (0, d.endpoint_id, 0, d.entry_point()))
        .collect();
    assert_eq!(starts[..DEFINITIONS.len()], cold[..]);
    assert_eq!(
        starts.len(),
        DEFINITIONS.len() + 3,
        "then one start per secondary CPU"
    );
    let mut first_entries: Vec<u16> = Vec::new();
    for entry in spmd.entries().iter().filter(|e| e.cpu == 0) {
        if first_entries.last() != Some(&entry.partition.0) {
            first_entries.push(entry.partition.0);
        }
    }
    assert_eq!(first_entries, [ECHO_ID, RELAY_ID, LEGACY_ID, HOSTILE_ID]);
    assert!(spmd.log().is_empty(), "{:?}", spmd.log());
    assert_eq!(stack.partition_id("legacy").map(|id| id.0), Some(LEGACY_ID));
}

#[test]
fn the_spmc_was_built_from_parsed_manifests() {
    let stack = stack();
    let ids: Vec<u16> = stack.config().partitions.iter().map(|p| p.id.0).collect();
    let expected: Vec<u16> = DEFINITIONS.iter().map(|d| d.endpoint_id).collect();
    assert_eq!(ids, expected);
    // BL2's images are in secure memory: each package's manifest, and over its SPKG header
    // the boot-information blob the SPMC wrote, pointing at that manifest.
    for def in DEFINITIONS {
        let fdt = read_secure(&stack, def.manifest_address(), 8);
        assert_eq!(fdt[..4], 0xd00d_feed_u32.to_be_bytes());
        let total = u32::from_be_bytes([fdt[4], fdt[5], fdt[6], fdt[7]]);
        let blob = read_secure(&stack, def.load_address, 64);
        assert_eq!(
            ffa::boot_info::find_manifest(&blob),
            Ok(ffa::boot_info::ManifestRef {
                version: def.ffa_version,
                address: def.manifest_address(),
                size: total,
            }),
            "{}",
            def.name
        );
    }
    let mut magic = [0u8; 4];
    // And TOS_FW_CONFIG, where BL2 puts it.
    stack
        .memory()
        .read(
            e2e::memory::Space::Secure,
            e2e::stack::TOS_FW_CONFIG,
            &mut magic,
        )
        .unwrap();
    assert_eq!(magic, 0xd00d_feed_u32.to_be_bytes());
}

fn read_secure(stack: &Stack, addr: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    stack
        .memory()
        .read(e2e::memory::Space::Secure, addr, &mut buf)
        .unwrap();
    buf
}

#[test]
fn bl2_leaves_real_spkg_headers_until_the_spmc_boots() {
    let stack = Stack::new(standard_partitions(), Trace::new(false)).unwrap();
    for def in DEFINITIONS {
        let bytes: [u8; 24] = read_secure(&stack, def.load_address, 24)
            .try_into()
            .unwrap();
        let header = spmc::boot_info::parse_spkg_header(&bytes, def.memory_size).unwrap();
        assert_eq!(&bytes[..4], b"SPKG");
        assert_eq!((header.pm_offset, header.img_offset), (0x1000, 0x4000));
        let fdt = read_secure(&stack, def.manifest_address(), 8);
        let total = u32::from_be_bytes([fdt[4], fdt[5], fdt[6], fdt[7]]);
        assert_eq!(
            header.pm_size, total,
            "{}: pm_size is the DTB's size",
            def.name
        );
    }
}

#[test]
fn version_is_negotiated_through_the_framework_message() {
    let mut client = DirectClient::new(stack());
    let mut call = regs(&[0x8400_0063, 0x1_0002]);
    call[9] = 0x99;
    let answer = client.call_on(0, &call);
    assert_eq!(answer[0], 0x1_0002);
    assert_eq!(&answer[1..8], &[0; 7]);
    assert_eq!(answer[9], 0x99, "x8..x17 come back");
    assert!(
        e2e::client::HarnessClient::stack(&client)
            .spmd()
            .log()
            .is_empty()
    );
}

#[test]
fn id_get_is_answered_at_el3() {
    let mut stack = stack();
    let before = stack.spmd().entries().len();
    let answer = stack
        .nwd_call(1, Agent::Host, &regs(&[0x8400_0069]))
        .unwrap();
    assert_eq!(answer[..3], [0x8400_0061, 0, 0]);
    let answer = stack
        .nwd_call(2, Agent::Host, &regs(&[0x8400_0085]))
        .unwrap();
    assert_eq!(answer[..3], [0x8400_0061, 0, 0x8000]);
    assert_eq!(stack.spmd().entries().len(), before, "no partition ran");
}

#[test]
fn a_spoofed_secure_source_is_rejected_at_el3() {
    let mut stack = stack();
    let before = stack.spmd().entries().len();
    let spoofed = regs(&[
        0x8400_006f,
        (u64::from(RELAY_ID) << 16) | u64::from(ECHO_ID),
        0,
    ]);
    let answer = stack.nwd_call(0, Agent::Host, &spoofed).unwrap();
    assert_eq!(answer[..3], [0x8400_0060, 0, 0xffff_fffe]);
    assert_eq!(
        stack.spmd().entries().len(),
        before,
        "the SPMC never saw it"
    );
}

#[test]
fn the_proxy_initialises_against_the_spmd_model() {
    let client = ProxiedClient::new(stack()).expect("proxy init");
    assert!(client.proxy().ffa_available());
}

/// A partition that keeps asking for its ID and never reaches FFA_MSG_WAIT.
struct NeverReady;

impl TestPartition for NeverReady {
    fn step(&mut self, _entry: &Regs, _env: &mut dyn SpEnv) -> Regs {
        regs(&[0x8400_0069])
    }
}

#[test]
fn a_partition_that_never_finishes_booting_is_a_hang() {
    let mut partitions = standard_partitions();
    let echo = &mut partitions[0];
    assert_eq!(echo.manifest.name, "echo");
    echo.contexts = vec![Box::new(NeverReady)];
    let result = Stack::boot(partitions, Trace::new(false));
    assert!(
        matches!(result, Err(HarnessError::Hang { cpu: 0, .. })),
        "{:?}",
        result.err()
    );
}

/// A partition that boots, then answers every message by asking for its ID again.
struct Unresponsive {
    booted: bool,
}

impl TestPartition for Unresponsive {
    fn step(&mut self, _entry: &Regs, _env: &mut dyn SpEnv) -> Regs {
        if !self.booted {
            self.booted = true;
            return regs(&[0x8400_006b]);
        }
        regs(&[0x8400_0069])
    }
}

#[test]
fn a_partition_that_never_answers_a_request_is_a_hang() {
    let mut partitions = standard_partitions();
    partitions[0].contexts = vec![Box::new(Unresponsive { booted: false })];
    let mut stack = Stack::boot(partitions, Trace::new(false)).expect("boots");
    stack.spmd_mut().set_step_limit(1000);
    let request = regs(&[0x8400_006f, u64::from(ECHO_ID), 0, 0x5350_0001]);
    let result = stack.nwd_call(0, Agent::Host, &request);
    assert_eq!(
        result,
        Err(HarnessError::Hang {
            cpu: 0,
            steps: 1000
        })
    );
    // The client turns it into a failure it remembers, and stops calling.
    let mut partitions = standard_partitions();
    partitions[0].contexts = vec![Box::new(Unresponsive { booted: false })];
    let mut client = DirectClient::new(Stack::boot(partitions, Trace::new(false)).unwrap());
    let answer = client.call_on(0, &request);
    assert_eq!(answer[..3], [0x8400_0060, 0, 0xffff_fff8], "ABORTED");
    assert!(matches!(
        e2e::client::HarnessClient::fault(&client),
        Some(HarnessError::Hang { .. })
    ));
}

#[test]
fn a_manifest_the_parser_refuses_stops_the_stack() {
    let mut partitions = standard_partitions();
    // The ID of the partition before it (echo's).
    partitions[1].manifest = ManifestSpec {
        id: Some(0x8001),
        ..partitions[1].manifest.clone()
    };
    assert!(matches!(
        Stack::boot(partitions, Trace::new(false)),
        Err(HarnessError::Config(_))
    ));
}

/// A partition that says hello on the console, then waits.
struct Greeter {
    said: bool,
}

impl TestPartition for Greeter {
    fn step(&mut self, _entry: &Regs, _env: &mut dyn SpEnv) -> Regs {
        if self.said {
            return regs(&[0x8400_006b]);
        }
        self.said = true;
        // FFA_CONSOLE_LOG_32: w1 = character count, characters packed from w2 up.
        regs(&[0x8400_008a, 3, u64::from(u32::from_le_bytes(*b"hi\n\0"))])
    }
}

#[test]
fn console_lines_are_collected_with_their_partition() {
    let mut partitions = standard_partitions();
    partitions[0].contexts = vec![Box::new(Greeter { said: false })];
    let stack = Stack::boot(partitions, Trace::new(false)).expect("boots");
    assert_eq!(stack.spmd().console(), ["[0x8001 0] hi"]);
}

/// WHO_AM_I to `dst` on `cpu`: the status word and own ID << 16 | vCPU.
fn who_am_i(stack: &mut Stack, cpu: u16, dst: u16) -> (u64, u64) {
    let request = regs(&[0x8400_006f, u64::from(dst), 0, 0x5350_0002]);
    let answer = stack.nwd_call(cpu, Agent::Host, &request).unwrap();
    assert_eq!(answer[0], 0x8400_0070, "{answer:x?}");
    (answer[3], answer[4])
}

#[test]
fn secondary_cpus_start_relays_contexts_at_its_warm_entry() {
    let mut stack = stack();
    assert_eq!(
        stack.spmd().secondary_ep(),
        Some(e2e::stack::SPMC_SECONDARY_ENTRY),
        "the SPMC image registered its own warm entry"
    );
    let warm = RELAY.secondary_entry_point().unwrap();
    let starts: Vec<_> = stack
        .spmd()
        .entries()
        .iter()
        .filter(|e| e.cpu != 0)
        .filter_map(|e| e.start.map(|pc| (e.cpu, e.partition.0, e.vcpu, pc)))
        .collect();
    assert_eq!(
        starts,
        [
            (1, RELAY_ID, 1, warm),
            (2, RELAY_ID, 2, warm),
            (3, RELAY_ID, 3, warm)
        ]
    );
    for cpu in 0..e2e::stack::CPU_COUNT {
        let (status, who) = who_am_i(&mut stack, cpu, RELAY_ID);
        assert_eq!(status, 0, "no fault on cpu{cpu}");
        assert_eq!(who, u64::from(RELAY_ID) << 16 | u64::from(cpu));
    }
}

#[test]
fn cpu_off_then_on_restarts_relay_and_keeps_the_up_partitions() {
    let mut stack = stack();
    // relay's context 1 and echo (UP) are both yielded on CPU 1 when it goes off.
    for dst in [RELAY_ID, ECHO_ID] {
        let request = regs(&[0x8400_006f, u64::from(dst), 0, 0x5350_0006, 7]);
        let answer = stack.nwd_call(1, Agent::Host, &request).unwrap();
        assert_eq!(answer[0], 0x8400_006c, "FFA_YIELD");
    }
    stack.spmd_mut().cpu_off(1).unwrap();
    assert_eq!(stack.spmd().core_state(1), Some(CoreState::Off));
    let core = stack.spmd().core();
    let relay = ffa::EndpointId(RELAY_ID);
    let echo = ffa::EndpointId(ECHO_ID);
    assert_eq!(core.context_state(relay, 1), Some(RuntimeState::Off));
    assert_eq!(core.context_state(relay, 0), Some(RuntimeState::Waiting));
    assert_eq!(core.context_state(echo, 0), Some(RuntimeState::Preempted));
    assert!(matches!(
        stack.nwd_call(1, Agent::Host, &regs(&[0x8400_0064, 0x8400_0063])),
        Err(HarnessError::Protocol(_))
    ));
    // echo finishes its request from CPU 0.
    let answer = stack
        .nwd_call(
            0,
            Agent::Host,
            &regs(&[0x8400_006d, u64::from(ECHO_ID) << 16]),
        )
        .unwrap();
    assert_eq!(answer[..4], [0x8400_0070, u64::from(ECHO_ID) << 16, 0, 0]);
    assert_eq!(answer[5], 7, "the yielded request's words");
    // CPU_ON starts relay's context 1 again, fresh, at its warm entry.
    let before = stack.spmd().entries().len();
    stack.spmd_mut().cpu_on(1).unwrap();
    let restarted = &stack.spmd().entries()[before];
    assert_eq!(
        (
            restarted.cpu,
            restarted.partition,
            restarted.vcpu,
            restarted.start
        ),
        (1, relay, 1, RELAY.secondary_entry_point())
    );
    assert_eq!(
        who_am_i(&mut stack, 1, RELAY_ID),
        (0, u64::from(RELAY_ID) << 16 | 1)
    );
    assert!(stack.spmd().log().is_empty(), "{:?}", stack.spmd().log());
}

#[test]
fn without_a_registered_warm_entry_secondary_cpus_fail_to_start() {
    let mut stack = Stack::new(standard_partitions(), Trace::new(false)).unwrap();
    stack.spmd_mut().set_image_secondary_entry(None);
    stack.spmd_mut().boot(0).unwrap();
    // TF-A enters the cold-boot entry again; the SPMC refuses a second cold boot.
    assert_eq!(
        stack.spmd_mut().cpu_on(1),
        Err(HarnessError::InitFailed { code: 0xffff_fffa })
    );
    assert_eq!(stack.spmd().core_state(1), Some(CoreState::Off));
    assert!(stack.spmd().log()[0].contains("spmd_cpu_on_finish_handler failed"));
    // CPU 0 is unaffected.
    assert_eq!(who_am_i(&mut stack, 0, RELAY_ID).0, 0);
}

#[test]
fn a_partition_with_a_broken_package_header_is_aborted_and_the_rest_boot() {
    let mut stack = Stack::new(standard_partitions(), Trace::new(false)).unwrap();
    let echo = &DEFINITIONS[0];
    stack
        .memory()
        .write(e2e::memory::Space::Secure, echo.load_address, b"KGPS")
        .unwrap();
    stack.spmd_mut().boot(0).unwrap();
    assert_eq!(
        stack.spmd().core().abort_reason(ffa::EndpointId(ECHO_ID)),
        Some(AbortReason::BootInfo(BootInfoFailure::Package(
            PackageError::BadMagic(u32::from_le_bytes(*b"KGPS"))
        )))
    );
    assert!(
        stack
            .spmd()
            .entries()
            .iter()
            .all(|e| e.partition.0 != ECHO_ID),
        "echo never ran"
    );
    let request = regs(&[0x8400_006f, u64::from(ECHO_ID), 0, 0x5350_0001]);
    let answer = stack.nwd_call(0, Agent::Host, &request).unwrap();
    assert_eq!(answer[..3], [0x8400_0060, 0, 0xffff_fff8], "ABORTED");
    assert_eq!(
        who_am_i(&mut stack, 0, RELAY_ID),
        (0, u64::from(RELAY_ID) << 16)
    );
}

#[test]
fn a_crash_aborts_the_partition_in_the_spmc_and_leaves_the_others_running() {
    use test_partitions::protocol::{Command, request};
    let mut stack = stack();
    for id in [ECHO_ID, RELAY_ID, LEGACY_ID] {
        assert_eq!(stack.spmd().core().abort_reason(ffa::EndpointId(id)), None);
    }
    let version = stack
        .nwd_call(0, Agent::Host, &regs(&[0x8400_0063, 0x1_0002]))
        .unwrap();
    assert_eq!(version[0], 0x1_0002);
    let crash = request(Command::Crash, &[]);
    let call = regs(&[0x8400_006f, u64::from(LEGACY_ID), 0, crash[0]]);
    let answer = stack.nwd_call(0, Agent::Host, &call).unwrap();
    assert_eq!(answer[..3], [0x8400_0060, 0, 0xffff_fff8], "ABORTED");
    let core = stack.spmd().core();
    let legacy = ffa::EndpointId(LEGACY_ID);
    assert_eq!(core.abort_reason(legacy), Some(AbortReason::Fault));
    assert_eq!(core.context_state(legacy, 0), Some(RuntimeState::Aborted));
    assert_eq!(
        core.running_on(spmc::CpuId(0)),
        None,
        "the normal world has CPU 0"
    );
    for cpu in 0..e2e::stack::CPU_COUNT {
        assert_eq!(
            core.context_state(ffa::EndpointId(RELAY_ID), cpu),
            Some(RuntimeState::Waiting)
        );
    }
    assert_eq!(
        core.context_state(ffa::EndpointId(ECHO_ID), 0),
        Some(RuntimeState::Waiting)
    );
}

/// A partition that, asked anything, sets notification 0 for VM 0 (as sender 0x8001) and
/// answers with FFA_NOTIFICATION_SET's w0 and w2.
struct Notifier {
    state: u8,
}

impl TestPartition for Notifier {
    fn step(&mut self, entry: &Regs, _env: &mut dyn SpEnv) -> Regs {
        self.state += 1;
        match self.state {
            // Boot, then a request: set.
            1 => regs(&[0x8400_006b]),
            2 => regs(&[0x8400_0081, u64::from(ECHO_ID) << 16, 0, 1, 0]),
            // The answer to the set, back to the normal world.
            _ => {
                self.state = 1;
                regs(&[0x8400_0070, u64::from(ECHO_ID) << 16, 0, entry[0], entry[2]])
            }
        }
    }
}

#[test]
fn the_schedule_receiver_interrupt_reaches_the_in_process_normal_world() {
    let mut partitions = standard_partitions();
    partitions[0].contexts = vec![Box::new(Notifier { state: 0 })];
    let mut client = DirectClient::new(Stack::boot(partitions, Trace::new(false)).unwrap());
    assert_eq!(client.take_interrupt(0), None);
    // VM 0 (the OS kernel) gets a bitmap and binds notification 0 to echo.
    let create = client.call_on(0, &regs(&[0x8400_007d, 0, 1]));
    assert_eq!(create[0], 0x8400_0061, "{create:x?}");
    let bind = client.call_on(0, &regs(&[0x8400_007f, u64::from(ECHO_ID) << 16, 0, 1, 0]));
    assert_eq!(bind[0], 0x8400_0061, "{bind:x?}");
    let answer = client.call_on(1, &regs(&[0x8400_006f, u64::from(ECHO_ID), 0, 0]));
    assert_eq!(
        (answer[0], answer[3]),
        (0x8400_0070, 0x8400_0061),
        "{answer:x?}"
    );
    // The SRI (SGI 8) is pending on the core the set was made on, once.
    assert_eq!(client.take_interrupt(0), None);
    assert_eq!(client.take_interrupt(1), Some(8));
    assert_eq!(client.take_interrupt(1), None);
    // The scheduler finds VM 0, which gets its notification.
    let info = client.call_on(1, &regs(&[0xc400_0083]));
    assert_eq!(
        (info[0], info[2], info[3]),
        (0xc400_0061, 1 << 7, 0),
        "{info:x?}"
    );
    let get = client.call_on(1, &regs(&[0x8400_0082, 0, 1]));
    assert_eq!((get[0], get[2]), (0x8400_0061, 1), "{get:x?}");
}
