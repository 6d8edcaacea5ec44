//! FF-A notifications: every ABI and its refusals, INFO_GET packing, the schedule receiver
//! interrupt (seen by the fake platform) and the notification pending interrupt (seen through
//! HF_INTERRUPT_GET).

mod core_support;

use core_support::*;
use ffa::{EndpointId, FfaError};
use spmc::manifest::{NsInterruptsAction, SpmcConfig};
use spmc::{CpuId, Outcome};

const CREATE: u64 = 0x8400_007d;
const DESTROY: u64 = 0x8400_007e;
const BIND: u64 = 0x8400_007f;
const UNBIND: u64 = 0x8400_0080;
const SET: u64 = fid::NOTIFICATION_SET;
const GET: u64 = 0x8400_0082;
const INFO32: u64 = 0x8400_0083;
const INFO64: u64 = 0xc400_0083;
const HF_INTERRUPT_GET: u64 = 0xff04;

const SRI: u32 = 8;
const NPI: u64 = 5;
const NO_INTID: u64 = 0xffff_ffff;

const PER_VCPU: u64 = 1;
const DELAY_SRI: u64 = 1 << 1;
const GET_SP: u64 = 1;
const GET_VM: u64 = 1 << 1;
const GET_SPM: u64 = 1 << 2;
const GET_HYP: u64 = 1 << 3;

/// SP1 (v1.2, UP) and SP2 (v1.2, 2 contexts) receive notifications; SP3 (v1.1) does not and
/// asks for managed exit.
fn notif_config() -> SpmcConfig {
    let mut c = config();
    for p in c.partitions.iter_mut() {
        p.config.notification_support = p.id != SP3;
        if p.id == SP3 {
            p.config.ns_interrupts = NsInterruptsAction::ManagedExit { virq: false };
        }
    }
    c
}

fn booted_notif() -> TestSpmc {
    booted_with(notif_config(), 2)
}

fn bits(b: u64) -> [u64; 2] {
    [b & 0xffff_ffff, b >> 32]
}

fn bind(sender: EndpointId, receiver: EndpointId, flags: u64, b: u64) -> spmc::Regs {
    let [lo, hi] = bits(b);
    regs(&[BIND, w1(sender.0, receiver.0), flags, lo, hi])
}

fn unbind(sender: EndpointId, receiver: EndpointId, b: u64) -> spmc::Regs {
    let [lo, hi] = bits(b);
    regs(&[UNBIND, w1(sender.0, receiver.0), 0, lo, hi])
}

fn set(sender: EndpointId, receiver: EndpointId, flags: u64, b: u64) -> spmc::Regs {
    let [lo, hi] = bits(b);
    regs(&[SET, w1(sender.0, receiver.0), flags, lo, hi])
}

fn get(receiver: EndpointId, vcpu: u16, flags: u64) -> spmc::Regs {
    regs(&[GET, w1(vcpu, receiver.0), flags])
}

const fn vm(id: u16) -> EndpointId {
    EndpointId(id)
}

/// The normal world sends a direct request to `id` on `cpu`: it runs.
fn run(s: &mut TestSpmc, cpu: u16, id: EndpointId, vcpu: u16) {
    entered(nwd(s, cpu, &req32(0, id, [0; 5])), id, vcpu);
}

/// `id` answers the normal world's request on `cpu`.
fn done(s: &mut TestSpmc, cpu: u16, id: EndpointId) {
    let r = to_spmd(sp(s, cpu, id, &resp32(id, 0, [0; 5])));
    assert_eq!(r[0], fid::RESP32);
}

/// A call from the running partition `id`, answered to it.
fn call(s: &mut TestSpmc, cpu: u16, id: EndpointId, vcpu: u16, r: &spmc::Regs) -> spmc::Regs {
    entered(sp(s, cpu, id, r), id, vcpu)
}

fn nwd_call(s: &mut TestSpmc, r: &spmc::Regs) -> spmc::Regs {
    to_spmd(nwd(s, 0, r))
}

fn sgis(s: &TestSpmc) -> Vec<(CpuId, u32)> {
    s.platform().ns_sgis.clone()
}

#[test]
fn bitmap_create_and_destroy_from_the_normal_world() {
    let mut s = booted_notif();
    assert_success(&nwd_call(&mut s, &regs(&[CREATE, 1, 2])));
    assert_error(&nwd_call(&mut s, &regs(&[CREATE, 1, 2])), FfaError::Denied);
    // ID 0: the OS kernel without a hypervisor.
    assert_success(&nwd_call(&mut s, &regs(&[CREATE, 0, 1])));
    for (id, count) in [(0x8001, 1), (0x8009, 1), (2, 0), (2, 9), (2, 0x1_0001)] {
        let r = nwd_call(&mut s, &regs(&[CREATE, id, count]));
        assert_error(&r, FfaError::InvalidParameters);
    }
    // Bits 31:16 of the VM ID MBZ.
    let r = nwd_call(&mut s, &regs(&[CREATE, 0x1_0002, 1]));
    assert_error(&r, FfaError::InvalidParameters);
    // A bounded table: 16 VMs.
    for id in 2..16 {
        assert_success(&nwd_call(&mut s, &regs(&[CREATE, id, 8])));
    }
    assert_error(
        &nwd_call(&mut s, &regs(&[CREATE, 16, 1])),
        FfaError::NoMemory,
    );
    assert_error(&nwd_call(&mut s, &regs(&[DESTROY, 16])), FfaError::Denied);
    assert_error(
        &nwd_call(&mut s, &regs(&[DESTROY, 0x8001])),
        FfaError::InvalidParameters,
    );
    assert_success(&nwd_call(&mut s, &regs(&[DESTROY, 1])));
    assert_error(&nwd_call(&mut s, &regs(&[DESTROY, 1])), FfaError::Denied);
    assert_success(&nwd_call(&mut s, &regs(&[CREATE, 16, 1])));
    // Partitions may not.
    run(&mut s, 0, SP1, 0);
    let r = call(&mut s, 0, SP1, 0, &regs(&[CREATE, 20, 1]));
    assert_error(&r, FfaError::NotSupported);
    let r = call(&mut s, 0, SP1, 0, &regs(&[DESTROY, 2]));
    assert_error(&r, FfaError::NotSupported);
}

#[test]
fn a_vm_with_pending_notifications_keeps_its_bitmap() {
    let mut s = booted_notif();
    assert_success(&nwd_call(&mut s, &regs(&[CREATE, 3, 1])));
    assert_success(&nwd_call(&mut s, &bind(SP1, vm(3), 0, 0b1)));
    run(&mut s, 0, SP1, 0);
    assert_success(&call(&mut s, 0, SP1, 0, &set(SP1, vm(3), 0, 0b1)));
    done(&mut s, 0, SP1);
    assert_error(&nwd_call(&mut s, &regs(&[DESTROY, 3])), FfaError::Denied);
    let r = nwd_call(&mut s, &get(vm(3), 0, GET_SP));
    assert_eq!((r[0], r[2]), (fid::SUCCESS32, 0b1));
    assert_success(&nwd_call(&mut s, &regs(&[DESTROY, 3])));
}

#[test]
fn partition_bind_and_unbind_rules() {
    let mut s = booted_notif();
    run(&mut s, 0, SP1, 0);
    let c = |s: &mut TestSpmc, r: spmc::Regs| call(s, 0, SP1, 0, &r);
    assert_success(&c(&mut s, bind(SP2, SP1, 0, 0b0110)));
    // Bound already (to anyone, the same sender included).
    assert_error(&c(&mut s, bind(SP2, SP1, 0, 0b0100)), FfaError::Denied);
    assert_error(&c(&mut s, bind(SP3, SP1, 0, 0b0011)), FfaError::Denied);
    for (r, why) in [
        (bind(SP2, SP2, 0, 0b1000), "the caller is not the receiver"),
        (bind(SP1, SP1, 0, 0b1000), "sender = receiver"),
        (bind(SP2, SP1, 0, 0), "no notification"),
        (bind(SP2, SP1, 0b10, 0b1000), "flags bits 31:1 MBZ"),
        (
            bind(EndpointId(0x8009), SP1, 0, 0b1000),
            "no such partition",
        ),
        (bind(SPMC_ID, SP1, 0, 0b1000), "the SPMC sends none"),
    ] {
        assert_error(&c(&mut s, r), FfaError::InvalidParameters);
        let _ = why;
    }
    // A VM sender needs no bitmap of its own; VM and partition senders are separate sets.
    assert_success(&c(&mut s, bind(vm(7), SP1, 0, 0b0110)));
    assert_success(&c(&mut s, bind(SP3, SP1, 0, 1 << 63)));
    // UNBIND: every bit bound to that sender.
    assert_error(&c(&mut s, unbind(SP3, SP1, 0b0110)), FfaError::Denied);
    assert_error(&c(&mut s, unbind(SP2, SP1, 0b1110)), FfaError::Denied);
    assert_error(
        &c(&mut s, unbind(SP2, SP2, 0b0110)),
        FfaError::InvalidParameters,
    );
    assert_error(&c(&mut s, unbind(SP2, SP1, 0)), FfaError::InvalidParameters);
    assert_success(&c(&mut s, unbind(SP2, SP1, 0b0110)));
    assert_success(&c(&mut s, bind(SP3, SP1, 0, 0b0010)));
    done(&mut s, 0, SP1);
    // SP3 has no notification support.
    run(&mut s, 0, SP3, 0);
    let r = call(&mut s, 0, SP3, 0, &bind(SP1, SP3, 0, 1));
    assert_error(&r, FfaError::NotSupported);
    done(&mut s, 0, SP3);
}

#[test]
fn pending_bits_cannot_be_rebound() {
    let mut s = booted_notif();
    run(&mut s, 0, SP1, 0);
    assert_success(&call(&mut s, 0, SP1, 0, &bind(SP2, SP1, 0, 0b11)));
    done(&mut s, 0, SP1);
    run(&mut s, 0, SP2, 0);
    assert_success(&call(&mut s, 0, SP2, 0, &set(SP2, SP1, 0, 0b01)));
    done(&mut s, 0, SP2);
    run(&mut s, 0, SP1, 0);
    assert_error(
        &call(&mut s, 0, SP1, 0, &unbind(SP2, SP1, 0b11)),
        FfaError::Denied,
    );
    let r = call(&mut s, 0, SP1, 0, &get(SP1, 0, GET_SP));
    assert_eq!(r[2], 0b01);
    assert_success(&call(&mut s, 0, SP1, 0, &unbind(SP2, SP1, 0b11)));
}

#[test]
fn normal_world_binds_for_vms_only() {
    let mut s = booted_notif();
    assert_success(&nwd_call(&mut s, &regs(&[CREATE, 4, 1])));
    assert_success(&nwd_call(&mut s, &bind(SP1, vm(4), 0, 0b1)));
    assert_error(
        &nwd_call(&mut s, &bind(SP2, vm(4), 0, 0b1)),
        FfaError::Denied,
    );
    for r in [
        bind(SP1, SP2, 0, 0b10),     // a partition receiver
        bind(vm(5), vm(4), 0, 0b10), // a VM sender
        bind(SP1, vm(5), 0, 0b10),   // no bitmap
        bind(EndpointId(0x8009), vm(4), 0, 0b10),
    ] {
        assert_error(&nwd_call(&mut s, &r), FfaError::InvalidParameters);
    }
    assert_success(&nwd_call(&mut s, &unbind(SP1, vm(4), 0b1)));
}

#[test]
fn set_needs_the_binding_and_raises_the_sri_at_once() {
    let mut s = booted_notif();
    run(&mut s, 0, SP1, 0);
    assert_success(&call(&mut s, 0, SP1, 0, &bind(SP2, SP1, 0, 0b1010)));
    done(&mut s, 0, SP1);
    assert!(sgis(&s).is_empty());
    run(&mut s, 0, SP2, 0);
    let c = |s: &mut TestSpmc, r: spmc::Regs| call(s, 0, SP2, 0, &r);
    for r in [
        set(SP3, SP1, 0, 0b1000), // the caller is not the sender
        set(SP2, SP2, 0, 0b1000), // sender = receiver
        set(SP2, SP1, 0, 0),
        set(SP2, EndpointId(0x8009), 0, 0b1000),
        set(SP2, vm(9), 0, 0b1000),      // a VM without a bitmap
        set(SP2, SP1, PER_VCPU, 0b1000), // bound global
        set(SP2, SP1, 0b100, 0b1000),    // flags MBZ
        set(SP2, SP1, 1 << 16, 0b1000),  // a vCPU ID for a global notification
    ] {
        assert_error(&c(&mut s, r), FfaError::InvalidParameters);
    }
    assert_error(&c(&mut s, set(SP2, SP1, 0, 0b0100)), FfaError::Denied);
    assert_error(&c(&mut s, set(SP2, SP3, 0, 0b1)), FfaError::Denied);
    assert!(sgis(&s).is_empty());
    assert_success(&c(&mut s, set(SP2, SP1, 0, 0b1000)));
    assert_eq!(sgis(&s), [(CpuId(0), SRI)]);
    done(&mut s, 0, SP2);
    // The scheduler learns who to run, once.
    let r = nwd_call(&mut s, &regs(&[INFO64]));
    assert_eq!((r[0], r[2], r[3]), (fid::SUCCESS64, 1 << 7, 0x8001));
    assert_error(&nwd_call(&mut s, &regs(&[INFO64])), FfaError::NoData);
    // Running SP1 gives it the NPI; GET returns and clears.
    run(&mut s, 0, SP1, 0);
    assert_eq!(call(&mut s, 0, SP1, 0, &regs(&[HF_INTERRUPT_GET]))[0], NPI);
    assert_eq!(
        call(&mut s, 0, SP1, 0, &regs(&[HF_INTERRUPT_GET]))[0],
        NO_INTID
    );
    let r = call(&mut s, 0, SP1, 0, &get(SP1, 0, GET_SP | GET_VM | GET_SPM));
    assert_eq!(&r[..8], &[fid::SUCCESS32, 0, 0b1000, 0, 0, 0, 0, 0]);
    let r = call(&mut s, 0, SP1, 0, &get(SP1, 0, GET_SP));
    assert_eq!(r[2], 0);
    done(&mut s, 0, SP1);
    // Nothing pending: no NPI on the next run.
    run(&mut s, 0, SP1, 0);
    assert_eq!(
        call(&mut s, 0, SP1, 0, &regs(&[HF_INTERRUPT_GET]))[0],
        NO_INTID
    );
}

#[test]
fn delayed_sri_waits_for_the_return_to_the_normal_world() {
    let mut s = booted_notif();
    run(&mut s, 0, SP1, 0);
    assert_success(&call(&mut s, 0, SP1, 0, &bind(SP2, SP1, 0, 1 << 40)));
    done(&mut s, 0, SP1);
    run(&mut s, 0, SP2, 0);
    assert_success(&call(&mut s, 0, SP2, 0, &set(SP2, SP1, DELAY_SRI, 1 << 40)));
    assert!(sgis(&s).is_empty());
    // Still in the secure world (a call answered to SP2): not yet.
    call(&mut s, 0, SP2, 0, &regs(&[fid::ID_GET]));
    assert!(sgis(&s).is_empty());
    done(&mut s, 0, SP2);
    assert_eq!(sgis(&s), [(CpuId(0), SRI)]);
    // Once.
    to_spmd(nwd(&mut s, 0, &regs(&[fid::ID_GET])));
    assert_eq!(sgis(&s).len(), 1);
    run(&mut s, 0, SP1, 0);
    let r = call(&mut s, 0, SP1, 0, &get(SP1, 0, GET_SP));
    assert_eq!((r[2], r[3]), (0, 1 << 8));
}

#[test]
fn normal_world_senders() {
    let mut s = booted_notif();
    run(&mut s, 0, SP1, 0);
    assert_success(&call(&mut s, 0, SP1, 0, &bind(vm(5), SP1, 0, 0b110)));
    done(&mut s, 0, SP1);
    for r in [
        set(vm(5), SP1, DELAY_SRI, 0b10), // only secure senders delay
        set(SP2, SP1, 0, 0b10),           // the normal world sends as a VM
        set(vm(5), vm(6), 0, 0b10),       // to a partition
        set(vm(5), vm(5), 0, 0b10),
    ] {
        assert_error(&nwd_call(&mut s, &r), FfaError::InvalidParameters);
    }
    assert_error(
        &nwd_call(&mut s, &set(vm(6), SP1, 0, 0b10)),
        FfaError::Denied,
    );
    assert_error(
        &nwd_call(&mut s, &set(vm(5), SP3, 0, 0b10)),
        FfaError::Denied,
    );
    assert_success(&nwd_call(&mut s, &set(vm(5), SP1, 0, 0b10)));
    assert_eq!(sgis(&s), [(CpuId(0), SRI)]);
    run(&mut s, 0, SP1, 0);
    let r = call(&mut s, 0, SP1, 0, &get(SP1, 0, GET_SP));
    assert_eq!(r[4], 0, "asked for partition-sent ones only");
    let r = call(&mut s, 0, SP1, 0, &get(SP1, 0, GET_VM));
    assert_eq!((r[2], r[4]), (0, 0b10));
}

#[test]
fn get_rules() {
    let mut s = booted_notif();
    assert_success(&nwd_call(&mut s, &regs(&[CREATE, 2, 2])));
    run(&mut s, 0, SP1, 0);
    for r in [
        get(SP2, 0, GET_SP), // another receiver
        get(SP1, 1, GET_SP), // not the calling vCPU
        get(SP1, 0, 1 << 4), // flags MBZ
    ] {
        assert_error(&call(&mut s, 0, SP1, 0, &r), FfaError::InvalidParameters);
    }
    assert_success(&call(&mut s, 0, SP1, 0, &get(SP1, 0, 0xf)));
    done(&mut s, 0, SP1);
    run(&mut s, 0, SP3, 0);
    let r = call(&mut s, 0, SP3, 0, &get(SP3, 0, GET_SP));
    assert_error(&r, FfaError::NotSupported);
    done(&mut s, 0, SP3);
    for r in [
        get(vm(2), 0, GET_VM),
        get(vm(2), 0, GET_HYP),
        get(vm(2), 2, GET_SP),
        get(vm(3), 0, GET_SP),
        get(SP1, 0, GET_SP),
    ] {
        assert_error(&nwd_call(&mut s, &r), FfaError::InvalidParameters);
    }
    let r = nwd_call(&mut s, &get(vm(2), 1, GET_SP | GET_SPM));
    assert_eq!(&r[..8], &[fid::SUCCESS32, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn per_vcpu_notifications_reach_their_vcpu() {
    let mut s = booted_notif();
    // SP2's second context starts on CPU 1 and waits.
    let Outcome::Enter {
        partition, vcpu, ..
    } = s.cpu_on(CpuId(1))
    else {
        panic!("SP2's context 1 did not start");
    };
    assert_eq!((partition, vcpu), (SP2, 1));
    assert_eq!(
        to_spmd(sp(&mut s, 1, SP2, &regs(&[fid::MSG_WAIT])))[0],
        fid::MSG_WAIT
    );
    run(&mut s, 0, SP2, 0);
    let r = call(&mut s, 0, SP2, 0, &bind(SP1, SP2, PER_VCPU, 1 << 5));
    assert_success(&r);
    done(&mut s, 0, SP2);
    run(&mut s, 0, SP1, 0);
    for r in [
        set(SP1, SP2, 0, 1 << 5),                    // bound per-vCPU
        set(SP1, SP2, PER_VCPU | (2 << 16), 1 << 5), // SP2 has 2 vCPUs
    ] {
        assert_error(&call(&mut s, 0, SP1, 0, &r), FfaError::InvalidParameters);
    }
    let r = call(
        &mut s,
        0,
        SP1,
        0,
        &set(SP1, SP2, PER_VCPU | (1 << 16), 1 << 5),
    );
    assert_success(&r);
    done(&mut s, 0, SP1);
    // One list: SP2 and its vCPU 1.
    let r = nwd_call(&mut s, &regs(&[INFO64]));
    assert_eq!((r[2], r[3]), ((1 << 7) | (1 << 12), 0x0001_8002));
    // vCPU 0 has nothing; vCPU 1 has the NPI and the bit.
    run(&mut s, 0, SP2, 0);
    assert_eq!(
        call(&mut s, 0, SP2, 0, &regs(&[HF_INTERRUPT_GET]))[0],
        NO_INTID
    );
    assert_eq!(call(&mut s, 0, SP2, 0, &get(SP2, 0, GET_SP))[2], 0);
    done(&mut s, 0, SP2);
    run(&mut s, 1, SP2, 1);
    assert_eq!(call(&mut s, 1, SP2, 1, &regs(&[HF_INTERRUPT_GET]))[0], NPI);
    assert_eq!(call(&mut s, 1, SP2, 1, &get(SP2, 1, GET_SP))[2], 1 << 5);
    assert_error(&nwd_call(&mut s, &regs(&[INFO64])), FfaError::NoData);
}

#[test]
fn info_get_packs_lists_and_reports_more_pending() {
    let mut s = booted_notif();
    // Twelve VMs, each with a pending global notification from SP1.
    for id in 1..=12 {
        assert_success(&nwd_call(&mut s, &regs(&[CREATE, id, 1])));
        assert_success(&nwd_call(&mut s, &bind(SP1, vm(id as u16), 0, 1)));
    }
    run(&mut s, 0, SP1, 0);
    for id in 1..=12 {
        assert_success(&call(&mut s, 0, SP1, 0, &set(SP1, vm(id), 0, 1)));
    }
    done(&mut s, 0, SP1);
    // SMC32: ten IDs, two a register; more pending.
    let r = nwd_call(&mut s, &regs(&[INFO32]));
    assert_eq!(r[0], fid::SUCCESS32);
    assert_eq!(r[2], 1 | (10 << 7));
    assert_eq!(
        &r[3..8],
        &[0x2_0001, 0x4_0003, 0x6_0005, 0x8_0007, 0xa_0009]
    );
    let r = nwd_call(&mut s, &regs(&[INFO32]));
    assert_eq!((r[2], r[3], r[4]), (2 << 7, 0xc_000b, 0));
    assert_error(&nwd_call(&mut s, &regs(&[INFO32])), FfaError::NoData);
    // Getting them and setting again reports them again, through SMC64: four a register.
    for id in 1..=12u16 {
        assert_success(&nwd_call(&mut s, &get(vm(id), 0, GET_SP)));
    }
    run(&mut s, 0, SP1, 0);
    for id in 1..=6 {
        assert_success(&call(&mut s, 0, SP1, 0, &set(SP1, vm(id), 0, 1)));
    }
    done(&mut s, 0, SP1);
    let r = nwd_call(&mut s, &regs(&[INFO64]));
    assert_eq!((r[0], r[2]), (fid::SUCCESS64, 6 << 7));
    assert_eq!(&r[3..8], &[0x0004_0003_0002_0001, 0x0006_0005, 0, 0, 0]);
    // From partitions: NOT_SUPPORTED.
    run(&mut s, 0, SP1, 0);
    for f in [INFO32, INFO64] {
        let r = call(&mut s, 0, SP1, 0, &regs(&[f]));
        assert_error(&r, FfaError::NotSupported);
    }
}

#[test]
fn features_of_notification_calls_and_interrupt_ids() {
    let mut s = booted_notif();
    let features = |f: u64, input: u64| regs(&[fid::FEATURES, f, input]);
    // SRI: its INTID, to the normal world only.
    let r = nwd_call(&mut s, &features(0x2, 0));
    assert_eq!((r[0], r[2]), (fid::SUCCESS32, 8));
    for (f, input) in [(0x1, 0), (0x3, 0), (0x2, 1), (0x202, 0)] {
        assert_error(
            &nwd_call(&mut s, &features(f, input)),
            FfaError::NotSupported,
        );
    }
    // NPI to partitions; MEI only to one that asks for managed exit (SP3).
    run(&mut s, 0, SP1, 0);
    let r = call(&mut s, 0, SP1, 0, &features(0x1, 0));
    assert_eq!((r[0], r[2]), (fid::SUCCESS32, 5));
    for f in [0x2, 0x3] {
        let r = call(&mut s, 0, SP1, 0, &features(f, 0));
        assert_error(&r, FfaError::NotSupported);
    }
    for f in [BIND, UNBIND, SET, GET] {
        assert_success(&call(&mut s, 0, SP1, 0, &features(f, 0)));
    }
    for f in [CREATE, DESTROY, INFO32, INFO64] {
        let r = call(&mut s, 0, SP1, 0, &features(f, 0));
        assert_error(&r, FfaError::NotSupported);
    }
    done(&mut s, 0, SP1);
    run(&mut s, 0, SP3, 0);
    let r = call(&mut s, 0, SP3, 0, &features(0x3, 0));
    assert_eq!((r[0], r[2]), (fid::SUCCESS32, 4));
}
