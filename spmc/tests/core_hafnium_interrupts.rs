//! Hafnium's paravirtual interrupt calls and the delivery of partitions' secure interrupts
//! (`spmc::interrupts::{paravirt, secure}`), over the fake GIC of `core_support`.

mod core_support;

use core_support::*;
use ffa::FfaError;
use ffa::hafnium::INVALID_INTID;
use spmc::interrupts::GicSetting;
use spmc::interrupts::declared::{DeclaredInterrupt, IntId, SecurityState, Trigger};
use spmc::interrupts::virtual_state::VirtualLines;
use spmc::manifest::SpmcConfig;
use spmc::vcpu::RuntimeState;
use spmc::{CpuId, Outcome};

const ENABLE: u64 = 0xff03;
const GET: u64 = 0xff04;
const DEACTIVATE: u64 = 0xff08;
const RECONFIGURE: u64 = 0xff09;
const SEND_IPI: u64 = 0xff0a;
const FAILED: u64 = u64::MAX;
const NORMAL_WORLD_RESUME: u64 = 0x8400_007c;
/// OP-TEE/build's UART1 interrupt: SPI 40, priority 1, secure, edge.
const UART1: u32 = 40;
/// SP2's: SPI 41, priority 0x20, secure, level.
const SP2_INT: u32 = 41;

/// [`config`] with SP1 declaring INTID 40 as OP-TEE/build does, SP2 (MP) INTID 41.
fn config_with_interrupts() -> SpmcConfig {
    let mut c = config();
    c.partitions[0]
        .config
        .interrupts
        .push(DeclaredInterrupt::from_manifest(UART1, 0x901).unwrap())
        .unwrap();
    c.partitions[1]
        .config
        .interrupts
        .push(DeclaredInterrupt::from_manifest(SP2_INT, 0xb20).unwrap())
        .unwrap();
    c
}

fn setting(intid: u32, priority: u8, trigger: Trigger, cpu: u16, enabled: bool) -> GicSetting {
    GicSetting {
        intid: IntId::new(intid).unwrap(),
        priority,
        security: SecurityState::Secure,
        trigger,
        target: CpuId(cpu),
        enabled,
    }
}

fn uart(cpu: u16, enabled: bool) -> GicSetting {
    setting(UART1, 1, Trigger::Edge, cpu, enabled)
}

/// The answer (x0) to a Hafnium call `r` from `id` running on `cpu`; the rest of the
/// registers come back as they were.
#[track_caller]
fn hf(s: &mut TestSpmc, cpu: u16, id: ffa::EndpointId, vcpu: u16, r: &[u64]) -> u64 {
    let call = regs_tagged(r, 0x700);
    let answer = resumed(sp(s, cpu, id, &call), id, vcpu);
    assert_eq!(answer[1..], call[1..], "registers other than x0 changed");
    answer[0]
}

/// SP1 is handling a direct request from the normal world on CPU 0.
fn sp1_in_request(s: &mut TestSpmc) {
    entered(nwd(s, 0, &req32(0, SP1, [0; 5])), SP1, 0);
}

/// The schedule-receiver SGI handed to the normal world on `cpu`.
fn sri(cpu: u16) -> GicSetting {
    GicSetting {
        intid: IntId::sgi(8).unwrap(),
        priority: 0xf0,
        security: SecurityState::NonSecure,
        trigger: Trigger::Edge,
        target: CpuId(cpu),
        enabled: true,
    }
}

#[test]
fn boot_programs_every_declared_interrupt_disabled_on_the_boot_cpu() {
    let s = booted_with(config_with_interrupts(), 2);
    assert_eq!(
        s.platform().gic,
        [
            uart(0, false),
            setting(SP2_INT, 0x20, Trigger::Level, 0, false),
            sri(0)
        ]
    );
}

#[test]
fn each_core_hands_the_schedule_receiver_sgi_to_the_normal_world_at_its_boot() {
    let mut s = booted_with(config_with_interrupts(), 2);
    s.platform_mut().gic.clear();
    let _ = s.cpu_on(CpuId(1));
    assert_eq!(s.platform().gic, [sri(1)]);
}

#[test]
fn enable_programs_the_gic_for_declared_interrupts_only() {
    let mut s = booted_with(config_with_interrupts(), 2);
    sp1_in_request(&mut s);
    s.platform_mut().gic.clear();
    assert_eq!(hf(&mut s, 0, SP1, 0, &[ENABLE, 40, 1, 0]), 0);
    assert_eq!(s.platform().gic, [uart(0, true)]);
    assert_eq!(hf(&mut s, 0, SP1, 0, &[ENABLE, 40, 0, 0]), 0);
    assert_eq!(s.platform().gic.last(), Some(&uart(0, false)));
    // Another partition's interrupt, one nobody declared, an SGI, out of range, a bad type,
    // a bad enable value: -1 and nothing programmed.
    s.platform_mut().gic.clear();
    for call in [
        [ENABLE, 41, 1, 0],
        [ENABLE, 50, 1, 0],
        [ENABLE, 1, 1, 0],
        [ENABLE, 1 << 32 | 40, 1, 0],
        [ENABLE, 40, 1, 2],
        [ENABLE, 40, 2, 0],
    ] {
        assert_eq!(hf(&mut s, 0, SP1, 0, &call), FAILED, "{call:x?}");
    }
    assert!(s.platform().gic.is_empty());
    // Hafnium's maintenance interrupts are virtual only.
    for id in [3, 4, 5, 9] {
        assert_eq!(hf(&mut s, 0, SP1, 0, &[ENABLE, id, 1, 1]), 0);
    }
    assert!(s.platform().gic.is_empty());
    // Not supported here.
    assert_eq!(hf(&mut s, 0, SP1, 0, &[SEND_IPI, 0]), FAILED);
}

#[test]
fn optee_enables_at_boot_as_it_does_under_hafnium() {
    // OP-TEE's hfic: ENABLE(40, 1, IRQ), then RECONFIGURE(40, STATUS, 1), while initialising.
    let mut s = new_spmc(config_with_interrupts(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    assert_eq!(hf(&mut s, 0, SP1, 0, &[ENABLE, 40, 1, 0]), 0);
    assert_eq!(hf(&mut s, 0, SP1, 0, &[RECONFIGURE, 40, 2, 1]), 0);
    assert_eq!(s.platform().gic.last(), Some(&uart(0, true)));
    // Its first FFA_MSG_WAIT goes on booting the others.
    entered(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])), SP2, 0);
}

#[test]
fn get_with_nothing_pending_answers_invalid_intid() {
    let mut s = booted_with(config_with_interrupts(), 2);
    sp1_in_request(&mut s);
    assert_eq!(hf(&mut s, 0, SP1, 0, &[GET]), u64::from(INVALID_INTID));
    assert_eq!(s.virtual_lines(SP1, 0), VirtualLines::default());
}

#[test]
fn reconfigure_changes_declared_interrupts_within_the_rules() {
    let mut s = booted_with(config_with_interrupts(), 2);
    sp1_in_request(&mut s);
    s.platform_mut().gic.clear();
    assert_eq!(hf(&mut s, 0, SP1, 0, &[RECONFIGURE, 40, 2, 1]), 0);
    assert_eq!(s.platform().gic.last(), Some(&uart(0, true)));
    // A UP partition may route its interrupt to the CPU it runs on only.
    assert_eq!(hf(&mut s, 0, SP1, 0, &[RECONFIGURE, 40, 0, 1]), FAILED);
    assert_eq!(hf(&mut s, 0, SP1, 0, &[RECONFIGURE, 40, 0, 0]), 0);
    // Non-secure, then secure again.
    assert_eq!(hf(&mut s, 0, SP1, 0, &[RECONFIGURE, 40, 1, 0]), 0);
    assert_eq!(
        s.platform().gic.last().map(|g| g.security),
        Some(SecurityState::NonSecure)
    );
    assert_eq!(hf(&mut s, 0, SP1, 0, &[RECONFIGURE, 40, 1, 1]), 0);
    let programmed = s.platform().gic.len();
    // Unknown command, bad values, someone else's or an undeclared interrupt.
    for call in [
        [RECONFIGURE, 40, 3, 0],
        [RECONFIGURE, 40, 2, 2],
        [RECONFIGURE, 40, 1, 2],
        [RECONFIGURE, 41, 2, 1],
        [RECONFIGURE, 77, 2, 1],
    ] {
        assert_eq!(hf(&mut s, 0, SP1, 0, &call), FAILED, "{call:x?}");
    }
    assert_eq!(s.platform().gic.len(), programmed);
    to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 0, [0; 5])));
    // An MP partition routes to any CPU the SPMC has, not past them.
    entered(nwd(&mut s, 0, &req32(0, SP2, [0; 5])), SP2, 0);
    assert_eq!(hf(&mut s, 0, SP2, 0, &[RECONFIGURE, 41, 0, 1]), 0);
    assert_eq!(
        s.platform().gic.last(),
        Some(&setting(SP2_INT, 0x20, Trigger::Level, 1, false))
    );
    assert_eq!(hf(&mut s, 0, SP2, 0, &[RECONFIGURE, 41, 0, 2]), FAILED);
}

#[test]
fn deactivate_accepts_the_partitions_own_interrupts() {
    let mut s = booted_with(config_with_interrupts(), 2);
    sp1_in_request(&mut s);
    assert_eq!(hf(&mut s, 0, SP1, 0, &[DEACTIVATE, 40, 40]), 0);
    assert_eq!(hf(&mut s, 0, SP1, 0, &[DEACTIVATE, 4, 4]), 0);
    assert_eq!(hf(&mut s, 0, SP1, 0, &[DEACTIVATE, 40, 41]), FAILED);
    assert_eq!(hf(&mut s, 0, SP1, 0, &[DEACTIVATE, 41, 41]), FAILED);
}

/// SP1 enables its interrupt while handling a request, then waits again.
fn sp1_enabled_and_waiting() -> TestSpmc {
    let mut s = booted_with(config_with_interrupts(), 2);
    sp1_in_request(&mut s);
    assert_eq!(hf(&mut s, 0, SP1, 0, &[ENABLE, 40, 1, 0]), 0);
    to_spmd(sp(&mut s, 0, SP1, &resp32(SP1, 0, [0; 5])));
    s
}

#[test]
fn an_interrupt_while_the_normal_world_runs_runs_its_waiting_owner() {
    let mut s = sp1_enabled_and_waiting();
    s.platform_mut().gic_pending.push_back(UART1);
    // The SPMD's FFA_INTERRUPT: x1..x7 zero.
    let r = resumed(nwd(&mut s, 0, &regs(&[fid::INTERRUPT])), SP1, 0);
    assert_eq!(r[0], fid::INTERRUPT);
    assert_eq!(r[2], 40);
    assert_eq!(s.platform().gic_ended, [UART1]);
    assert_eq!(
        s.virtual_lines(SP1, 0),
        VirtualLines {
            irq: true,
            fiq: false
        }
    );
    assert_eq!(s.running_on(CpuId(0)), Some((SP1, 0)));
    // Its handler: GET takes it (the line drops), DEACTIVATE, then FFA_MSG_WAIT.
    assert_eq!(hf(&mut s, 0, SP1, 0, &[GET]), 40);
    assert_eq!(s.virtual_lines(SP1, 0), VirtualLines::default());
    assert_eq!(hf(&mut s, 0, SP1, 0, &[GET]), u64::from(INVALID_INTID));
    assert_eq!(hf(&mut s, 0, SP1, 0, &[DEACTIVATE, 40, 40]), 0);
    // While it handles it: no direct messages; a non-secure interrupt does not preempt it.
    assert_error(
        &resumed(sp(&mut s, 0, SP1, &req32(0x8001, SP3, [0; 5])), SP1, 0),
        FfaError::Denied,
    );
    assert!(matches!(
        s.ns_interrupt(CpuId(0)),
        Outcome::Resume {
            mask_ns_interrupts: true,
            ..
        }
    ));
    let r = to_spmd(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])));
    assert_eq!(r[0], NORMAL_WORLD_RESUME);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Waiting));
    assert_eq!(s.running_on(CpuId(0)), None);
    // The normal world goes on.
    entered(nwd(&mut s, 0, &req32(0, SP1, [0; 5])), SP1, 0);
}

#[test]
fn nothing_to_run_for_an_interrupt_resumes_the_normal_world_at_once() {
    // Spurious: nothing pending at the GIC, nothing ended.
    let mut s = sp1_enabled_and_waiting();
    assert_eq!(
        to_spmd(nwd(&mut s, 0, &regs(&[fid::INTERRUPT])))[0],
        NORMAL_WORLD_RESUME
    );
    assert!(s.platform().gic_ended.is_empty());
    // No partition's: ended and dropped.
    s.platform_mut().gic_pending.push_back(50);
    assert_eq!(
        to_spmd(nwd(&mut s, 0, &regs(&[fid::INTERRUPT])))[0],
        NORMAL_WORLD_RESUME
    );
    assert_eq!(s.platform().gic_ended, [50]);
    // SP2's, which SP2 never enabled on its vCPU: queued until it does.
    s.platform_mut().gic_pending.push_back(SP2_INT);
    assert_eq!(
        to_spmd(nwd(&mut s, 0, &regs(&[fid::INTERRUPT])))[0],
        NORMAL_WORLD_RESUME
    );
    assert_eq!(s.context_state(SP2, 0), Some(RuntimeState::Waiting));
    entered(nwd(&mut s, 0, &req32(0, SP2, [0; 5])), SP2, 0);
    assert_eq!(s.virtual_lines(SP2, 0), VirtualLines::default());
    assert_eq!(hf(&mut s, 0, SP2, 0, &[ENABLE, 41, 1, 1]), 0);
    assert_eq!(
        s.virtual_lines(SP2, 0),
        VirtualLines {
            irq: false,
            fiq: true
        }
    );
    assert_eq!(hf(&mut s, 0, SP2, 0, &[GET]), 41);
}

#[test]
fn an_interrupt_for_the_running_partition_resumes_it_with_the_line_up() {
    let mut s = sp1_enabled_and_waiting();
    sp1_in_request(&mut s);
    s.platform_mut().gic_pending.push_back(UART1);
    match s.physical_interrupt(CpuId(0)) {
        Outcome::Resume {
            partition: SP1,
            vcpu: 0,
            mask_ns_interrupts: false,
        } => {}
        other => panic!("{other:x?}"),
    }
    assert!(s.virtual_lines(SP1, 0).irq);
    assert_eq!(hf(&mut s, 0, SP1, 0, &[GET]), 40);
    assert!(!s.virtual_lines(SP1, 0).irq);
}

#[test]
fn an_interrupt_preempts_another_partition_until_its_owner_waits() {
    let mut s = sp1_enabled_and_waiting();
    entered(
        nwd(&mut s, 0, &regs_tagged(&req32(0, SP3, [0; 5])[..8], 0x100)),
        SP3,
        0,
    );
    s.platform_mut().gic_pending.push_back(UART1);
    let r = resumed(s.physical_interrupt(CpuId(0)), SP1, 0);
    assert_eq!((r[0], r[2]), (fid::INTERRUPT, 40));
    assert_eq!(s.context_state(SP3, 0), Some(RuntimeState::Preempted));
    // A second interrupt meanwhile is queued, not nested.
    s.platform_mut().gic_pending.push_back(UART1);
    assert!(matches!(
        s.physical_interrupt(CpuId(0)),
        Outcome::Resume { partition: SP1, .. }
    ));
    assert_eq!(hf(&mut s, 0, SP1, 0, &[GET]), 40);
    match sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])) {
        Outcome::Resume {
            partition: SP3,
            vcpu: 0,
            mask_ns_interrupts: false,
        } => {}
        other => panic!("{other:x?}"),
    }
    assert_eq!(s.context_state(SP3, 0), Some(RuntimeState::Running));
    assert_eq!(s.running_on(CpuId(0)), Some((SP3, 0)));
    // Its response reaches the normal world with the request's x8..x17.
    let r = to_spmd(sp(&mut s, 0, SP3, &resp32(SP3, 0, [5, 0, 0, 0, 0])));
    assert_eq!(r[3], 5);
    assert_eq!(r[8..], tagged(0x100));
}

#[test]
fn an_interrupt_handler_that_faults_gives_the_cpu_back() {
    let mut s = sp1_enabled_and_waiting();
    s.platform_mut().gic_pending.push_back(UART1);
    resumed(nwd(&mut s, 0, &regs(&[fid::INTERRUPT])), SP1, 0);
    assert_eq!(to_spmd(s.abort_running(CpuId(0)))[0], NORMAL_WORLD_RESUME);
    assert_eq!(s.context_state(SP1, 0), Some(RuntimeState::Aborted));
    // Its interrupt now belongs to no one alive: ended and dropped.
    s.platform_mut().gic_pending.push_back(UART1);
    assert_eq!(
        to_spmd(nwd(&mut s, 0, &regs(&[fid::INTERRUPT])))[0],
        NORMAL_WORLD_RESUME
    );
}
