//! Notification calls from the host: forwarded with the host's ID checked.

mod common;

use common::*;
use ffa::{FfaError, FuncId, Version};
use proxy::Regs;

const SP2: u16 = 0x8002;

fn ids(sender: u16, receiver: u16) -> u64 {
    u64::from(sender) << 16 | u64::from(receiver)
}

fn bitmap_create(vm: u16, vcpus: u32) -> Regs {
    regs(&[
        fid(FuncId::NotificationBitmapCreate),
        vm.into(),
        vcpus.into(),
    ])
}

fn bitmap_destroy(vm: u16) -> Regs {
    regs(&[fid(FuncId::NotificationBitmapDestroy), vm.into()])
}

fn bind(sender: u16, receiver: u16) -> Regs {
    regs(&[
        fid(FuncId::NotificationBind),
        ids(sender, receiver),
        0,
        0b101,
        0x1,
    ])
}

fn unbind(sender: u16, receiver: u16) -> Regs {
    regs(&[
        fid(FuncId::NotificationUnbind),
        ids(sender, receiver),
        0,
        0b101,
        0x1,
    ])
}

fn set(sender: u16, receiver: u16) -> Regs {
    regs(&[
        fid(FuncId::NotificationSet),
        ids(sender, receiver),
        0,
        0b100,
        0,
    ])
}

fn get(vcpu: u16, receiver: u16) -> Regs {
    regs(&[fid(FuncId::NotificationGet), ids(vcpu, receiver), 0b1111])
}

/// Calls and checks the call reached EL3 as it was and the answer came back as EL3 gave it.
#[track_caller]
fn forwarded(rig: &mut Rig, call: &Regs) {
    let reply = regs(&[fid(FuncId::Success32), 0, 0xa, 0xb, 0xc, 0xd, 0, 0]);
    rig.el3.then(reply);
    assert_eq!(rig.call(call), reply);
    assert_eq!(rig.el3.calls.last(), Some(call));
    rig.el3.assert_script_done();
}

#[test]
fn the_hosts_bitmap_is_created_and_destroyed_by_the_spmc() {
    let mut rig = Rig::negotiated(Version(1, 2));
    forwarded(&mut rig, &bitmap_create(0, 4));
    rig.el3.then(error(FfaError::Denied));
    assert_error(&rig.call(&bitmap_create(0, 4)), FfaError::Denied);
    forwarded(&mut rig, &bitmap_destroy(0));
}

#[test]
fn a_bitmap_for_another_vm_is_refused() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for vm in [1, 2, SP1, 0xffff] {
        assert_error(
            &rig.call_local(&bitmap_create(vm, 4)),
            FfaError::InvalidParameters,
        );
        assert_error(
            &rig.call_local(&bitmap_destroy(vm)),
            FfaError::InvalidParameters,
        );
    }
}

#[test]
fn bind_and_unbind_for_the_host_are_forwarded() {
    let mut rig = Rig::negotiated(Version(1, 1));
    forwarded(&mut rig, &bind(SP1, 0));
    forwarded(&mut rig, &unbind(SP2, 0));
}

#[test]
fn bind_and_unbind_for_another_receiver_are_refused() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for call in [bind, unbind] {
        // Another receiver (the host posing as a VM or a partition).
        for receiver in [1, SP1, SP2] {
            assert_error(
                &rig.call_local(&call(SP1, receiver)),
                FfaError::InvalidParameters,
            );
        }
        // A sender in the normal world: the proxy hosts no other VM.
        for sender in [0, 1] {
            assert_error(
                &rig.call_local(&call(sender, 0)),
                FfaError::InvalidParameters,
            );
        }
    }
}

#[test]
fn set_from_the_host_is_forwarded() {
    let mut rig = Rig::negotiated(Version(1, 2));
    forwarded(&mut rig, &set(0, SP1));
}

#[test]
fn set_as_another_sender_is_refused() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for sender in [1, SP1, SP2] {
        assert_error(
            &rig.call_local(&set(sender, SP2)),
            FfaError::InvalidParameters,
        );
    }
    for receiver in [0, 1] {
        assert_error(
            &rig.call_local(&set(0, receiver)),
            FfaError::InvalidParameters,
        );
    }
}

#[test]
fn get_for_another_receiver_is_refused() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for receiver in [1, SP1] {
        assert_error(
            &rig.call_local(&get(0, receiver)),
            FfaError::InvalidParameters,
        );
    }
}

#[test]
fn get_checks_the_vcpu_against_the_bitmap() {
    let mut rig = Rig::negotiated(Version(1, 2));
    // No bitmap yet: the SPMC is the one to refuse.
    rig.el3.then(error(FfaError::InvalidParameters));
    assert_error(&rig.call(&get(9, 0)), FfaError::InvalidParameters);
    forwarded(&mut rig, &bitmap_create(0, 4));
    forwarded(&mut rig, &get(3, 0));
    for vcpu in [4, 5, 0xffff] {
        assert_error(&rig.call_local(&get(vcpu, 0)), FfaError::InvalidParameters);
    }
    // A refused create changes nothing.
    rig.el3.then(error(FfaError::Denied));
    assert_error(&rig.call(&bitmap_create(0, 16)), FfaError::Denied);
    assert_error(&rig.call_local(&get(4, 0)), FfaError::InvalidParameters);
    // Destroyed, then created again with more vCPUs.
    forwarded(&mut rig, &bitmap_destroy(0));
    forwarded(&mut rig, &bitmap_create(0, 8));
    forwarded(&mut rig, &get(7, 0));
}

#[test]
fn info_get_is_passed_through() {
    let mut rig = Rig::negotiated(Version(1, 2));
    for f in [FuncId::NotificationInfoGet32, FuncId::NotificationInfoGet64] {
        let call = regs(&[fid(f)]);
        let reply = marked(fid(FuncId::Success64));
        rig.el3.then(reply);
        assert_eq!(rig.call(&call), reply);
        assert_eq!(rig.el3.calls.last(), Some(&call));
    }
}

const NOTIFICATION_FUNCS: [FuncId; 8] = [
    FuncId::NotificationBitmapCreate,
    FuncId::NotificationBitmapDestroy,
    FuncId::NotificationBind,
    FuncId::NotificationUnbind,
    FuncId::NotificationSet,
    FuncId::NotificationGet,
    FuncId::NotificationInfoGet32,
    FuncId::NotificationInfoGet64,
];

fn features(id: u64) -> Regs {
    regs(&[fid(FuncId::Features), id])
}

#[test]
fn features_of_notifications_and_the_sri_are_the_spmcs_answers() {
    for host in [Version(1, 1), Version(1, 2)] {
        let mut rig = Rig::negotiated(host);
        for f in NOTIFICATION_FUNCS {
            forwarded(&mut rig, &features(fid(f)));
        }
        // The schedule receiver interrupt: the SPMC names its SGI.
        let call = features(2);
        let reply = success(0, 8);
        rig.el3.then(reply);
        assert_eq!(rig.call(&call), reply);
        assert_eq!(rig.el3.calls.last(), Some(&call));
        // The notification pending interrupt is not the proxy's to inject.
        assert_error(&rig.call_local(&features(1)), FfaError::NotSupported);
    }
}

#[test]
fn a_host_at_v1_0_has_no_notifications() {
    let mut rig = Rig::negotiated(Version(1, 0));
    for call in [
        bitmap_create(0, 4),
        bitmap_destroy(0),
        bind(SP1, 0),
        unbind(SP1, 0),
        set(0, SP1),
        get(0, 0),
        regs(&[fid(FuncId::NotificationInfoGet32)]),
        regs(&[fid(FuncId::NotificationInfoGet64)]),
    ] {
        assert_error(&rig.call_local(&call), FfaError::NotSupported);
    }
    for f in NOTIFICATION_FUNCS {
        assert_error(&rig.call_local(&features(fid(f))), FfaError::NotSupported);
    }
    assert_error(&rig.call_local(&features(2)), FfaError::NotSupported);
}

#[test]
fn only_calls_with_proxy_state_hold_the_proxy() {
    let rig = Rig::negotiated(Version(1, 2));
    // Checked and forwarded without the proxy's state (the arch layer drops its lock).
    for call in [
        bind(SP1, 0),
        unbind(SP1, 0),
        set(0, SP1),
        regs(&[fid(FuncId::NotificationInfoGet64)]),
    ] {
        assert_eq!(rig.proxy.first_step(&call), proxy::HostStep::Forward);
    }
    assert!(matches!(
        rig.proxy.first_step(&bind(SP1, 1)),
        proxy::HostStep::Answer(_)
    ));
    for call in [bitmap_create(0, 4), bitmap_destroy(0), get(0, 0)] {
        assert_eq!(
            rig.proxy.first_step(&call),
            proxy::HostStep::Stateful(Version(1, 2))
        );
    }
}
