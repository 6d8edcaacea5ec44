//! FFA_PARTITION_INFO_GET: forwarded, then copied from the proxy's RX to the host's.

mod common;

use common::*;
use ffa::{FfaError, FuncId, Version};

fn get(flags: u64) -> proxy::Regs {
    regs(&[fid(FuncId::PartitionInfoGet), 0, 0, 0, 0, flags])
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

/// A rig with the host's buffers mapped, the proxy's RX full of a pattern and the host's RX
/// full of 0xee.
fn rig(host: Version, pages: u32) -> Rig {
    let mut rig = Rig::mapped(host, pages);
    let proxy_rx = pattern(PROXY_PAGES as usize * ffa::PAGE_SIZE);
    rig.mem.fill(PROXY_RX, &proxy_rx);
    rig.mem
        .fill(HOST_RX, &vec![0xee; pages as usize * ffa::PAGE_SIZE]);
    rig
}

fn host_rx(rig: &Rig, len: usize) -> Vec<u8> {
    rig.mem.bytes(HOST_RX, len)
}

#[test]
fn without_host_buffers_it_is_busy() {
    let mut rig = Rig::negotiated(Version(1, 2));
    assert_error(&rig.call_local(&get(0)), FfaError::Busy);
    assert_error(&rig.call_local(&get(1)), FfaError::Busy);
}

#[test]
fn descriptors_are_copied_count_times_size_bytes() {
    let mut rig = rig(Version(1, 2), 1);
    let mut call = get(0);
    call[1] = 0x1234_5678; // a UUID goes along as sent
    call[15] = 0x77;
    let reply = success(2, 24);
    rig.el3.then(reply);
    assert_eq!(
        rig.call(&call),
        reply,
        "the SPMC's answer goes back as it is"
    );
    assert_eq!(rig.el3.calls.last(), Some(&call));
    let copied = host_rx(&rig, 64);
    assert_eq!(&copied[..48], &pattern(48)[..]);
    assert_eq!(&copied[48..], &[0xee; 16], "nothing beyond count x size");
}

#[test]
fn a_copy_larger_than_one_chunk_is_complete() {
    let mut rig = rig(Version(1, 2), 2);
    rig.el3.then(success(300, 24)); // 7200 bytes, across both pages
    assert_success(&rig.call(&get(0)));
    assert_eq!(host_rx(&rig, 7200), pattern(7200));
    assert_eq!(rig.mem.bytes(HOST_RX + 7200, 1), [0xee]);
}

#[test]
fn count_only_copies_nothing() {
    let mut rig = rig(Version(1, 2), 1);
    let reply = success(5, 0);
    rig.el3.then(reply);
    assert_eq!(rig.call(&get(1)), reply);
    assert_eq!(host_rx(&rig, 4096), vec![0xee; 4096]);
}

#[test]
fn at_v1_0_descriptors_are_8_bytes_whatever_w3_says() {
    let mut rig = rig(Version(1, 0), 1);
    rig.el3.then(success(3, 0xffff_ffff));
    assert_success(&rig.call(&get(0)));
    let copied = host_rx(&rig, 32);
    assert_eq!(&copied[..24], &pattern(24)[..]);
    assert_eq!(&copied[24..], &[0xee; 8]);
}

#[test]
fn at_v1_0_the_count_only_flag_is_invalid_parameters() {
    let mut rig = rig(Version(1, 0), 1);
    assert_error(&rig.call_local(&get(1)), FfaError::InvalidParameters);
}

#[test]
fn reserved_flag_bits_are_invalid_parameters() {
    let mut rig = rig(Version(1, 2), 1);
    for flags in [2, 0x8000_0000, 0xffff_ffff] {
        assert_error(&rig.call_local(&get(flags)), FfaError::InvalidParameters);
    }
}

#[test]
fn more_than_the_host_buffer_is_aborted_and_the_proxy_rx_released() {
    for (count, size) in [
        (171, 24),                  // 4104 bytes > one page
        (1, 4097),                  // one oversized descriptor
        (0xffff_ffff, 0xffff_ffff), // as large as the registers allow
        (0x1_0000, 0x1_0000),       // exactly 2^32
    ] {
        let mut rig = rig(Version(1, 2), 1);
        rig.el3.then(success(count, size)).then(success(0, 0));
        let from = rig.el3.calls.len();
        let answer = rig.call(&get(0));
        assert_error(&answer, FfaError::Aborted);
        assert_eq!(
            rig.el3.calls[from..],
            [get(0), regs(&[fid(FuncId::RxRelease), 0])],
            "{count:x} x {size:x}"
        );
        assert_eq!(host_rx(&rig, 4096), vec![0xee; 4096]);
    }
}

#[test]
fn exactly_the_host_buffer_fits() {
    let mut rig = rig(Version(1, 2), 1);
    rig.el3.then(success(512, 8));
    assert_success(&rig.call(&get(0)));
    assert_eq!(host_rx(&rig, 4096), pattern(4096));
}

#[test]
fn only_the_low_32_bits_of_count_and_size_count() {
    let mut rig = rig(Version(1, 2), 1);
    rig.el3
        .then(success(0xffff_ffff_0000_0002, 0xffff_ffff_0000_0008));
    assert_success(&rig.call(&get(0)));
    assert_eq!(
        &host_rx(&rig, 17)[..],
        &[&pattern(16)[..], &[0xee]].concat()[..]
    );
}

#[test]
fn el3_errors_and_empty_answers_copy_nothing() {
    let mut rig = rig(Version(1, 2), 1);
    for reply in [
        error(FfaError::InvalidParameters),
        success(0, 24),
        regs(&[0x5555]),
    ] {
        rig.el3.then(reply);
        let from = rig.el3.calls.len();
        assert_eq!(rig.call(&get(0)), reply);
        assert_eq!(rig.el3.calls.len(), from + 1, "no release");
        assert_eq!(host_rx(&rig, 4096), vec![0xee; 4096]);
    }
}

#[test]
fn a_memory_fault_is_aborted_and_the_proxy_rx_released() {
    let mut rig = rig(Version(1, 2), 1);
    rig.mem.faulty = true;
    rig.el3.then(success(2, 24)).then(success(0, 0));
    assert_error(&rig.call(&get(0)), FfaError::Aborted);
    assert_eq!(
        rig.el3.calls.last(),
        Some(&regs(&[fid(FuncId::RxRelease), 0]))
    );
}

#[test]
fn the_host_then_releases_through_the_proxy() {
    let mut rig = rig(Version(1, 2), 1);
    rig.el3.then(success(1, 24));
    assert_success(&rig.call(&get(0)));
    rig.el3.then(success(0, 0));
    let release = regs(&[fid(FuncId::RxRelease), 0]);
    assert_success(&rig.call(&release));
    assert_eq!(rig.el3.calls.last(), Some(&release));
}
