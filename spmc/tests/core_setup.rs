//! FFA_SECONDARY_EP_REGISTER and FFA_CONSOLE_LOG.

mod core_support;

use core_support::*;
use ffa::FfaError;
use spmc::CpuId;

/// SPMC with SP2 (MP) initialising on CPU 0.
fn sp2_initialising() -> TestSpmc {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    entered(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])), SP2, 0);
    s
}

#[test]
fn mp_partition_registers_its_secondary_entry_while_initialising() {
    let mut s = sp2_initialising();
    for bad in [SP1_LOAD, SP2_LOAD + SP_MEM, SP2_LOAD + SP_MEM - 2, u64::MAX] {
        let r = entered(sp(&mut s, 0, SP2, &regs(&[fid::SEC_EP64, bad])), SP2, 0);
        assert_error(&r, FfaError::InvalidParameters);
    }
    // Nothing registered yet: the primary entry point stands in (Hafnium's load.c).
    assert_eq!(s.entry_point(SP2, 1), Some(SP2_LOAD + 0x4000));
    let r = entered(
        sp(
            &mut s,
            0,
            SP2,
            &regs_tagged(&[fid::SEC_EP64, SP2_LOAD + 0x4100], 1),
        ),
        SP2,
        0,
    );
    assert_success(&r);
    assert_eq!(&r[8..], &tagged(1));
    assert_eq!(s.entry_point(SP2, 1), Some(SP2_LOAD + 0x4100));
    // The last registration wins; the 32-bit form works too.
    let r = entered(
        sp(&mut s, 0, SP2, &regs(&[fid::SEC_EP32, SP2_LOAD + 0x4200])),
        SP2,
        0,
    );
    assert_success(&r);
    assert_eq!(s.entry_point(SP2, 1), Some(SP2_LOAD + 0x4200));
    entered(sp(&mut s, 0, SP2, &regs(&[fid::MSG_WAIT])), SP3, 0);
    to_spmd(sp(&mut s, 0, SP3, &regs(&[fid::MSG_WAIT])));
    // After initialisation: DENIED.
    entered(nwd(&mut s, 0, &req32(0, SP2, [0; 5])), SP2, 0);
    let r = entered(
        sp(&mut s, 0, SP2, &regs(&[fid::SEC_EP64, SP2_LOAD + 0x4000])),
        SP2,
        0,
    );
    assert_error(&r, FfaError::Denied);
    assert_eq!(s.entry_point(SP2, 1), Some(SP2_LOAD + 0x4200));
}

#[test]
fn up_partitions_have_no_secondary_entry() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    let r = entered(
        sp(&mut s, 0, SP1, &regs(&[fid::SEC_EP64, SP1_LOAD + 0x4000])),
        SP1,
        0,
    );
    assert_error(&r, FfaError::NotSupported);
}

fn chars32(count: u64, text: &[u8]) -> spmc::Regs {
    let mut r = regs(&[fid::CONSOLE32, count]);
    for (i, chunk) in text.chunks(4).enumerate() {
        let mut w = [0u8; 4];
        w[..chunk.len()].copy_from_slice(chunk);
        r[2 + i] = u64::from(u32::from_le_bytes(w)) | 0xdead_0000_0000_0000;
    }
    r
}

fn chars64(count: u64, text: &[u8]) -> spmc::Regs {
    let mut r = regs(&[fid::CONSOLE64, count]);
    for (i, chunk) in text.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        r[2 + i] = u64::from_le_bytes(w);
    }
    r
}

#[test]
fn console_lines_are_buffered_per_partition() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    for c in b"hi " {
        assert_success(&entered(sp(&mut s, 0, SP1, &chars32(1, &[*c])), SP1, 0));
    }
    assert_eq!(s.take_console_line(0), None);
    let text = b"there, this line is longer than forty-eight bytes of text\nnext";
    assert_success(&entered(
        sp(&mut s, 0, SP1, &chars64(text.len() as u64, text)),
        SP1,
        0,
    ));
    let line = s.take_console_line(0).unwrap();
    assert_eq!(line.partition, SP1);
    assert_eq!(
        &line.text[..],
        &b"hi there, this line is longer than forty-eight bytes of text"[..]
    );
    assert_eq!(s.take_console_line(0), None);
    // Counts outside 1..=capacity.
    for bad in [chars32(0, b""), chars32(25, b"x"), chars64(129, b"x")] {
        let r = entered(sp(&mut s, 0, SP1, &bad), SP1, 0);
        assert_error(&r, FfaError::InvalidParameters);
    }
}

#[test]
fn older_partitions_log_through_six_registers() {
    let mut s = new_spmc(config(), 2);
    entered(s.boot(CpuId(0)), SP1, 0);
    entered(sp(&mut s, 0, SP1, &regs(&[fid::MSG_WAIT])), SP2, 0);
    entered(sp(&mut s, 0, SP2, &regs(&[fid::MSG_WAIT])), SP3, 0);
    // SP3 is v1.1: FFA_CONSOLE_LOG_64 carries at most 48 characters in x2..x7.
    let r = entered(sp(&mut s, 0, SP3, &chars64(49, &[b'a'; 49])), SP3, 0);
    assert_error(&r, FfaError::InvalidParameters);
    let r = entered(sp(&mut s, 0, SP3, &chars64(3, b"ok\n")), SP3, 0);
    assert_success(&r);
    let line = s.take_console_line(0).unwrap();
    assert_eq!((line.partition, &line.text[..]), (SP3, &b"ok"[..]));
}
