//! Non-secure interrupts that end a partition's run (`Spmc::ns_interrupt`).

mod core_support;

use core_support::*;
use ffa::FfaError;
use spmc::manifest::NsInterruptsAction;
use spmc::vcpu::RuntimeState;
use spmc::{CpuId, Outcome};

fn with_tags(mut r: spmc::Regs, tag: u64) -> spmc::Regs {
    r[8..].copy_from_slice(&tagged(tag));
    r
}

#[track_caller]
fn resumed_untouched(o: Outcome, id: ffa::EndpointId, vcpu: u16, masked: bool) {
    match o {
        Outcome::Resume {
            partition,
            vcpu: v,
            mask_ns_interrupts,
        } if partition == id && v == vcpu && mask_ns_interrupts == masked => {}
        other => panic!("expected Resume of {id:x?}/{vcpu} (masked {masked}), got {other:x?}"),
    }
}

#[test]
fn interrupted_request_goes_to_the_normal_world_and_run_resumes_it_untouched() {
    let mut s = booted();
    entered(
        nwd(&mut s, 0, &with_tags(req32(0, SP1, [0; 5]), 0x100)),
        SP1,
        0,
    );
    let r = to_spmd(s.ns_interrupt(CpuId(0)));
    let mut expected = regs(&[fid::INTERRUPT, w1(0x8001, 0)]);
    expected[8..].copy_from_slice(&tagged(0x100));
    assert_eq!(r, expected);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Preempted));
    assert_eq!(s.running_on(CpuId(0)), None);
    // Meanwhile the CPU is the normal world's: other partitions answer, SP1 is busy.
    entered(nwd(&mut s, 0, &req32(0, SP3, [0; 5])), SP3, 0);
    to_spmd(sp(&mut s, 0, SP3, &resp32(SP3, 0, [0; 5])));
    assert_error(
        &to_spmd(nwd(&mut s, 0, &req32(0, SP1, [0; 5]))),
        FfaError::Busy,
    );
    // FFA_RUN (here from another CPU: a UP context may move) resumes it where it was.
    let run = regs_tagged(&[fid::RUN, w1(0x8001, 0)], 0x300);
    resumed_untouched(nwd(&mut s, 1, &run), SP1, 0, false);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Running));
    assert_eq!(s.running_on(CpuId(1)), Some((SP1, 0)));
    // Its response carries the x8..x17 of the FFA_RUN that resumed the chain.
    let r = to_spmd(sp(&mut s, 1, SP1, &resp32(SP1, 0, [7, 0, 0, 0, 0])));
    assert_eq!(r, with_tags(resp32(SP1, 0, [7, 0, 0, 0, 0]), 0x300));
}

#[test]
fn interrupt_in_a_chain_keeps_callers_blocked_on_their_cpu() {
    let mut s = booted();
    entered(nwd(&mut s, 0, &req32(0, SP1, [0; 5])), SP1, 0);
    entered(sp(&mut s, 0, SP1, &req32(0x8001, SP3, [0; 5])), SP3, 0);
    let r = to_spmd(s.ns_interrupt(CpuId(0)));
    assert_eq!(&r[..2], &[fid::INTERRUPT, w1(0x8003, 0)]);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Blocked));
    assert_eq!(s.context_state(SP3, 0), Some(RuntimeState::Preempted));
    let run3 = regs(&[fid::RUN, w1(0x8003, 0)]);
    assert_error(&to_spmd(nwd(&mut s, 1, &run3)), FfaError::Denied);
    resumed_untouched(nwd(&mut s, 0, &run3), SP3, 0, false);
    entered(sp(&mut s, 0, SP3, &resp32(SP3, 0x8001, [0; 5])), SP1, 0);
}

#[test]
fn interrupted_run_model_context_is_preempted_too() {
    let mut s = booted();
    let run = regs(&[fid::RUN, w1(0x8001, 0)]);
    entered(nwd(&mut s, 0, &run), SP1, 0);
    let r = to_spmd(s.ns_interrupt(CpuId(0)));
    assert_eq!(&r[..2], &[fid::INTERRUPT, w1(0x8001, 0)]);
    resumed_untouched(nwd(&mut s, 0, &run), SP1, 0, false);
    assert_eq!(
        to_spmd(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])))[0],
        fid::MSG_WAIT
    );
}

#[test]
fn initialising_context_resumes_with_ns_interrupts_masked() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    resumed_untouched(s.ns_interrupt(CpuId(0)), SP1, 0, true);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Running));
    entered(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])), SP2, 0);
}

#[test]
fn queued_partition_keeps_the_cpu() {
    let mut c = config();
    c.partitions[0].config.ns_interrupts = NsInterruptsAction::Queued;
    let mut s = booted_with(c, 2);
    entered(nwd(&mut s, 0, &req32(0, SP1, [0; 5])), SP1, 0);
    resumed_untouched(s.ns_interrupt(CpuId(0)), SP1, 0, true);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Running));
}

#[test]
fn interrupt_with_nothing_running_changes_nothing() {
    let mut s = booted();
    assert_error(&to_spmd(s.ns_interrupt(CpuId(0))), FfaError::Denied);
    assert_error(&to_spmd(s.ns_interrupt(CpuId(9))), FfaError::Denied);
    // A yielded context is not interrupted: FFA_RUN still gives it FFA_SUCCESS.
    entered(nwd(&mut s, 0, &req32(0, SP1, [0; 5])), SP1, 0);
    to_spmd(sp(&mut s, 0, SP1, &regs(&[fid::YIELD])));
    assert_error(&to_spmd(s.ns_interrupt(CpuId(0))), FfaError::Denied);
    let run = regs(&[fid::RUN, w1(0x8001, 0)]);
    assert_success(&entered(nwd(&mut s, 0, &run), SP1, 0));
}

#[test]
fn managed_exit_tells_the_partition_which_answers_its_request() {
    for virq in [false, true] {
        let mut c = config();
        c.partitions[0].config.ns_interrupts = NsInterruptsAction::ManagedExit { virq };
        let mut s = booted_with(c, 2);
        entered(nwd(&mut s, 0, &req32(0, SP1, [0; 5])), SP1, 0);
        assert_eq!(s.virtual_lines(SP1, 0), Default::default());
        // Told, and resumed with the normal world's interrupts held back.
        resumed_untouched(s.ns_interrupt(CpuId(0)), SP1, 0, true);
        let lines = s.virtual_lines(SP1, 0);
        assert_eq!((lines.irq, lines.fiq), (virq, !virq), "virq {virq}");
        assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Running));
        // Told once however often the interrupt comes back before it answers.
        resumed_untouched(s.ns_interrupt(CpuId(0)), SP1, 0, true);
        // Its answer (OP-TEE's RETURN_INTERRUPT) goes to the normal world and ends the exit.
        let answer = resp32(SP1, 0, [0, 2, 0, 0, 1]);
        assert_eq!(to_spmd(sp(&mut s, 0, SP1, &answer)), answer);
        assert_eq!(s.virtual_lines(SP1, 0), Default::default());
        assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Waiting));
    }
}

#[test]
fn managed_exit_partition_run_by_the_normal_world_is_preempted() {
    let mut c = config();
    c.partitions[0].config.ns_interrupts = NsInterruptsAction::ManagedExit { virq: false };
    let mut s = booted_with(c, 2);
    let run = regs(&[fid::RUN, w1(0x8001, 0)]);
    entered(nwd(&mut s, 0, &run), SP1, 0);
    // Outside a direct request the managed exit has no answer to give: preempted instead.
    let r = to_spmd(s.ns_interrupt(CpuId(0)));
    assert_eq!(&r[..2], &[fid::INTERRUPT, w1(0x8001, 0)]);
    assert_eq!(s.virtual_lines(SP1, 0), Default::default());
}
