//! Interrupts: a partition cannot keep a CPU from the normal world.
//!
//! The client makes one of its own non-secure interrupts pending on a CPU (an SGI to itself,
//! its interrupts masked so it stays pending) and sends SPIN to a partition there: the
//! partition first writes ICC_PMR_EL1 = 0, which would silence every interrupt of the CPU were
//! it the physical mask, then spins on the counter with known values in x1..x15. The SPMC
//! owns physical interrupts while partitions run, so the run ends at once: the normal world
//! gets FFA_INTERRUPT naming the partition's context (FF-A v1.2 §9.3, `ns-interrupts-action`
//! Signaled, the default), takes its interrupt, finds the CPU its own (the preempted partition
//! is BUSY, another answers, there and on the next core), and resumes the partition with FFA_RUN, which goes on where it
//! stopped, registers untouched, and answers the request. A second round on the same CPU
//! shows the partition's priority-mask write did not outlive its run: the next interrupt
//! preempts it again. (Architecturally the write reaches only the virtual interface; QEMU
//! lets Secure EL1 reach the physical mask, so there the SPMC puts it back when each run
//! ends.) In-process nothing interrupts a partition, and SPIN says there is no CPU.

use ffa::{FfaError, FuncId, Version};
use test_partitions::definitions::{ECHO, RELAY};
use test_partitions::protocol::{Command, NOT_ON_THIS_CPU, Status, request};
use test_partitions::{Definition, ECHO_ID, RELAY_ID};

use crate::calls::{HOST_ID, direct_req32_on, negotiate, run_on};
use crate::check::{Failure, expect_eq, expect_error, expect_status, expect_words};
use crate::sp::{command32_on, response32};
use crate::{Client, context_on};

const V1_2: Version = Version(1, 2);
/// How long SPIN spins once resumed.
const SPIN_MS: u64 = 20;
/// The SGI the QEMU client sends itself.
const CLIENT_SGI: u64 = 1;
/// FFA_INTERRUPTs a run may see before the scenario gives up on it.
const MAX_INTERRUPTS: u32 = 4;

/// SPIN to echo on CPU 0 (twice: after its priority-mask write) and to relay (MP) on CPU 1,
/// each with the client's interrupt pending: preempted once, resumed untouched.
pub fn spinning_partition_is_preempted(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    for (cpu, def, other) in [
        (0, &ECHO, RELAY_ID),
        (0, &ECHO, RELAY_ID),
        (1, &RELAY, ECHO_ID),
    ] {
        spin_preempted(c, cpu, def, other)?;
    }
    Ok(())
}

pub(crate) fn spin_preempted(
    c: &mut dyn Client,
    cpu: u16,
    def: &Definition,
    other: u16,
) -> Result<(), Failure> {
    let dst = def.endpoint_id;
    let pending = c.pend_interrupt(cpu);
    if c.on_hardware() {
        expect_eq(
            "the client's SGI pending before the request (1: yes)",
            1,
            u64::from(pending),
        )?;
    }
    let ctx = context_on(c, def, cpu);
    let mut answer = direct_req32_on(c, cpu, HOST_ID, dst, request(Command::Spin, &[SPIN_MS]));
    let mut interrupts = 0;
    while ffa::call::function_id(&answer) == u32::from(FuncId::Interrupt32)
        && interrupts < MAX_INTERRUPTS
    {
        interrupts += 1;
        expect_eq(
            "FFA_INTERRUPT w1: the preempted context (ID << 16 | index)",
            u64::from(dst) << 16 | u64::from(ctx),
            answer[1] & 0xffff_ffff,
        )?;
        expect_eq(
            "the interrupt the normal world then takes is its SGI",
            CLIENT_SGI,
            c.take_interrupt(cpu).map_or(u64::MAX, u64::from),
        )?;
        let busy = direct_req32_on(c, cpu, HOST_ID, dst, request(Command::Echo, &[]));
        expect_error(
            "DIRECT_REQ to the preempted partition",
            &busy,
            FfaError::Busy,
        )?;
        let words = command32_on(
            c,
            cpu,
            "ECHO to another partition while one is preempted",
            other,
            Command::Echo,
            &[0x51, 0x52, 0x53, 0x54],
        )?;
        expect_words(
            "ECHO while one is preempted",
            &[0x51, 0x52, 0x53, 0x54],
            &words[1..],
        )?;
        let next = (cpu + 1) % crate::CPUS;
        let words = command32_on(
            c,
            next,
            "ECHO on the next core while one is preempted",
            other,
            Command::Echo,
            &[0x61, 0x62, 0x63, 0x64],
        )?;
        expect_words(
            "ECHO on the next core while one is preempted",
            &[0x61, 0x62, 0x63, 0x64],
            &words[1..],
        )?;
        answer = run_on(c, cpu, dst, ctx);
    }
    expect_eq(
        "FFA_INTERRUPTs before the response (one per pending interrupt)",
        u64::from(pending),
        u64::from(interrupts),
    )?;
    let words = response32("SPIN's response, after FFA_RUN", &answer, dst)?;
    expect_status("SPIN's status", words[0], Status::OK)?;
    let intact = if c.on_hardware() { 0 } else { NOT_ON_THIS_CPU };
    expect_eq(
        "x1..x15 changed across the preempted spin",
        intact,
        words[1],
    )
}
