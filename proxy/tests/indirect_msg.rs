//! FFA_MSG_SEND2 through the proxy's mailbox, and messages for the host delivered on
//! FFA_NOTIFICATION_GET.

mod common;

use std::cell::RefCell;

use common::*;
use ffa::{FfaError, FuncId, Version};
use proxy::{HostMemory, MemFault, Regs};

const PAGE: usize = ffa::PAGE_SIZE;

/// A message header: offset, receiver, sender, size (v1.2 layout; v1.1 is its first 20 bytes).
fn header(offset: u32, receiver: u16, sender: u16, size: u32) -> Vec<u8> {
    let mut h = vec![0u8; 40];
    h[8..12].copy_from_slice(&offset.to_le_bytes());
    h[12..14].copy_from_slice(&receiver.to_le_bytes());
    h[14..16].copy_from_slice(&sender.to_le_bytes());
    h[16..20].copy_from_slice(&size.to_le_bytes());
    h
}

fn send2(sender_vm_id: u16) -> Regs {
    regs(&[fid(FuncId::MsgSend2), u64::from(sender_vm_id) << 16, 0])
}

fn notification_get_spm() -> Regs {
    // vCPU 0, the host, SPM framework notifications (flag bit 2).
    regs(&[fid(FuncId::NotificationGet), 0, 1 << 2])
}

/// Writes a message with `payload` at `offset` into the host's TX buffer.
fn write_message(rig: &mut Rig, offset: u32, receiver: u16, sender: u16, payload: &[u8]) {
    let h = header(offset, receiver, sender, payload.len() as u32);
    rig.mem.fill(HOST_TX, &h);
    rig.mem.fill(HOST_TX + u64::from(offset), payload);
}

#[test]
fn a_v1_2_message_is_copied_then_forwarded_untouched() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    let payload: Vec<u8> = (0..32).collect();
    write_message(&mut rig, 40, SP1, 0, &payload);
    let call = send2(0);
    let reply = success(0, 0);
    rig.el3.then(reply);
    assert_eq!(rig.call(&call), reply);
    assert_eq!(rig.el3.calls.last(), Some(&call));
    assert_eq!(rig.mem.bytes(PROXY_TX, 72), rig.mem.bytes(HOST_TX, 72));
}

#[test]
fn the_spmc_error_reaches_the_host_untouched() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    write_message(&mut rig, 40, SP1, 0, b"hi");
    rig.el3.then(error(FfaError::Busy));
    assert_error(&rig.call(&send2(0)), FfaError::Busy);
}

#[test]
fn a_v1_1_header_is_20_bytes_and_a_v1_2_header_40() {
    let mut rig = Rig::mapped(Version(1, 1), 1);
    write_message(&mut rig, 20, SP1, 0, b"payload");
    rig.el3.then(success(0, 0));
    assert_success(&rig.call(&send2(0)));
    assert_eq!(rig.mem.bytes(PROXY_TX, 27), rig.mem.bytes(HOST_TX, 27));

    // At v1.2 a payload at 20 would overlap the header's UUID.
    let mut rig = Rig::mapped(Version(1, 2), 1);
    write_message(&mut rig, 20, SP1, 0, b"payload");
    assert_error(&rig.call_local(&send2(0)), FfaError::InvalidParameters);
}

#[test]
fn a_spoofed_sender_is_refused() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    for sender in [SP1, 0x8002, 1, 0xffff] {
        write_message(&mut rig, 40, SP1, sender, b"x");
        assert_error(&rig.call_local(&send2(0)), FfaError::InvalidParameters);
    }
    // w1's sender-VM field is the hypervisor's: the host may only name itself.
    write_message(&mut rig, 40, SP1, 0, b"x");
    for vm in [1, SP1] {
        assert_error(&rig.call_local(&send2(vm)), FfaError::InvalidParameters);
    }
}

#[test]
fn a_receiver_in_the_normal_world_is_refused() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    for receiver in [0, 1, 0x7fff] {
        write_message(&mut rig, 40, receiver, 0, b"x");
        assert_error(&rig.call_local(&send2(0)), FfaError::InvalidParameters);
    }
}

#[test]
fn the_message_must_lie_inside_the_hosts_buffer() {
    let mut rig = Rig::mapped(Version(1, 2), 2);
    let end = 2 * PAGE as u32;
    for (offset, size) in [
        (40, end - 39),       // one byte past the end
        (end, 1),             // starts at the end
        (0xffff_fff0, 0x20),  // wraps in 32 bits
        (u32::MAX, u32::MAX), // both huge
        (40, u32::MAX),       // size alone
    ] {
        rig.mem.fill(HOST_TX, &header(offset, SP1, 0, size));
        assert_error(&rig.call_local(&send2(0)), FfaError::InvalidParameters);
    }
    // Up to the last byte of the buffer, across the page boundary.
    let payload: Vec<u8> = (0..(end - 40)).map(|i| i as u8 ^ 0x5a).collect();
    write_message(&mut rig, 40, SP1, 0, &payload);
    rig.el3.then(success(0, 0));
    assert_success(&rig.call(&send2(0)));
    assert_eq!(
        rig.mem.bytes(PROXY_TX, 2 * PAGE),
        rig.mem.bytes(HOST_TX, 2 * PAGE)
    );
}

#[test]
fn a_buffer_smaller_than_the_proxys_bounds_the_message() {
    // The host mapped one page; the proxy's buffers have two.
    let mut rig = Rig::mapped(Version(1, 2), 1);
    rig.mem.fill(HOST_TX, &header(40, SP1, 0, PAGE as u32));
    assert_error(&rig.call_local(&send2(0)), FfaError::InvalidParameters);
}

#[test]
fn without_a_mailbox_the_host_is_denied() {
    let mut rig = Rig::negotiated(Version(1, 2));
    assert_error(&rig.call_local(&send2(0)), FfaError::Denied);
}

#[test]
fn a_faulting_copy_is_aborted_before_forwarding() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    write_message(&mut rig, 40, SP1, 0, b"x");
    rig.mem.faulty = true;
    assert_error(&rig.call_local(&send2(0)), FfaError::Aborted);
}

/// Host memory where the host's other core rewrites its TX buffer right after the proxy
/// first reads from it.
struct Racing {
    inner: RefCell<FakeMemory>,
    rewrite: RefCell<Option<Vec<u8>>>,
}

impl HostMemory for Racing {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemFault> {
        self.inner.borrow().read(addr, buf)?;
        let in_host_tx = (HOST_TX..HOST_TX + PAGE as u64).contains(&addr);
        if in_host_tx && let Some(new) = self.rewrite.borrow_mut().take() {
            self.inner.borrow_mut().fill(HOST_TX, &new);
        }
        Ok(())
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        self.inner.get_mut().write(addr, data)
    }
    fn host_access(&mut self, addr: u64, pages: u64, on: bool) -> Result<(), MemFault> {
        self.inner.get_mut().host_access(addr, pages, on)
    }
}

#[test]
fn the_header_is_checked_from_the_proxys_copy() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    let payload = [7u8; 16];
    write_message(&mut rig, 40, SP1, 0, &payload);
    let checked = header(40, SP1, 0, 16);
    let mut mem = Racing {
        inner: RefCell::new(std::mem::replace(&mut rig.mem, FakeMemory::new())),
        // After the check would have passed, the host names another sender and a size
        // past its buffer.
        rewrite: RefCell::new(Some(header(40, SP1, 0x8002, 0x10_0000))),
    };
    rig.el3.then(success(0, 0));
    let answer = rig
        .proxy
        .handle_host_call(&send2(0), &mut rig.el3, &mut mem);
    assert_success(&answer);
    let mem = mem.inner.into_inner();
    // What the SPMC reads is what the proxy checked, and no more than it allowed.
    assert_eq!(mem.bytes(PROXY_TX, 40), checked);
    assert_eq!(mem.bytes(PROXY_TX + 40, 16), payload);
    assert_eq!(mem.bytes(PROXY_TX + 56, 8), [0; 8]);
}

#[test]
fn a_host_at_v1_0_has_no_indirect_messages() {
    let mut rig = Rig::mapped(Version(1, 0), 1);
    write_message(&mut rig, 40, SP1, 0, b"x");
    assert_error(&rig.call_local(&send2(0)), FfaError::NotSupported);
    let features = regs(&[fid(FuncId::Features), fid(FuncId::MsgSend2)]);
    assert_error(&rig.call_local(&features), FfaError::NotSupported);
}

#[test]
fn features_of_msg_send2_is_the_spmcs_answer() {
    let mut rig = Rig::negotiated(Version(1, 1));
    let call = regs(&[fid(FuncId::Features), fid(FuncId::MsgSend2)]);
    let reply = success(0, 0);
    rig.el3.then(reply);
    assert_eq!(rig.call(&call), reply);
    assert_eq!(rig.el3.calls.last(), Some(&call));
}

/// The SPMC's FFA_NOTIFICATION_GET answer with SPM framework bitmap `w6`.
fn get_answer(w6: u64) -> Regs {
    regs(&[fid(FuncId::Success32), 0, 0x11, 0x22, 0x33, 0x44, w6, 0])
}

#[test]
fn a_message_for_the_host_is_copied_when_get_reports_rx_full() {
    let mut rig = Rig::mapped(Version(1, 2), 2);
    let message: Vec<u8> = (0..2 * PAGE).map(|i| (i * 7) as u8).collect();
    rig.mem.fill(PROXY_RX, &message);
    let reply = get_answer(1);
    rig.el3.then(reply);
    assert_eq!(rig.call(&notification_get_spm()), reply);
    assert_eq!(rig.mem.bytes(HOST_RX, 2 * PAGE), message);
    // The host releases its buffer: the proxy's goes back to the SPMC.
    rig.el3.then(success(0, 0));
    assert_success(&rig.call(&regs(&[fid(FuncId::RxRelease), 0])));
    assert_eq!(
        rig.el3.fids_since(rig.el3.calls.len() - 1),
        [fid(FuncId::RxRelease)]
    );
}

#[test]
fn no_rx_full_report_leaves_the_hosts_buffer_alone() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    rig.mem.fill(PROXY_RX, &[0xee; 64]);
    for reply in [
        get_answer(0),
        get_answer(2),
        error(FfaError::InvalidParameters),
    ] {
        rig.el3.then(reply);
        assert_eq!(rig.call(&notification_get_spm()), reply);
        assert_eq!(rig.mem.bytes(HOST_RX, 64), [0; 64]);
    }
}

#[test]
fn a_failed_delivery_hides_the_message_and_frees_the_proxys_buffer() {
    let mut rig = Rig::mapped(Version(1, 2), 1);
    rig.mem.faulty = true;
    rig.el3.then(get_answer(1)).then(success(0, 0));
    let before = rig.el3.calls.len();
    let answer = rig.call(&notification_get_spm());
    assert_success(&answer);
    assert_eq!(answer[6], 0, "RX full no longer reported");
    assert_eq!(answer[2..6], [0x11, 0x22, 0x33, 0x44], "other bitmaps kept");
    assert_eq!(
        rig.el3.fids_since(before),
        [fid(FuncId::NotificationGet), fid(FuncId::RxRelease)]
    );
    rig.el3.assert_script_done();
}

#[test]
fn without_a_mailbox_an_rx_full_report_passes_through() {
    let mut rig = Rig::negotiated(Version(1, 2));
    let reply = get_answer(1);
    rig.el3.then(reply);
    assert_eq!(rig.call(&notification_get_spm()), reply);
    rig.el3.assert_script_done();
}
