//! Hafnium paravirtual calls: IDs and argument decoding.

use ffa::Regs;
use ffa::hafnium::{BadArguments, HfCall, HfRequest, InterruptType, Reconfigure, decode, retired};

fn regs(x: &[u64]) -> Regs {
    let mut r = [0; 18];
    r[..x.len()].copy_from_slice(x);
    r
}

#[test]
fn call_ids_match_hafnium() {
    for (fid, call) in [
        (0xff03, HfCall::InterruptEnable),
        (0xff04, HfCall::InterruptGet),
        (0xff08, HfCall::InterruptDeactivate),
        (0xff09, HfCall::InterruptReconfigure),
        (0xff0a, HfCall::InterruptSendIpi),
    ] {
        assert_eq!(HfCall::from_fid(fid), Some(call));
        assert_eq!(call.fid(), fid);
    }
    for fid in [
        retired::MAILBOX_WRITABLE_GET,
        retired::MAILBOX_WAITER_GET,
        retired::INTERRUPT_INJECT,
        ffa::hafnium::RUN_WAIT_FOR_INTERRUPT,
        0xff07,
        0x8400_0063,
    ] {
        assert_eq!(HfCall::from_fid(fid), None, "{fid:#x}");
    }
}

#[test]
fn decodes_the_calls_optee_makes() {
    // hf_interrupt_enable(intid, true, INTERRUPT_TYPE_FIQ)
    assert_eq!(
        decode(&regs(&[0xff03, 35, 1, 1])),
        Some(Ok(HfRequest::InterruptEnable {
            intid: 35,
            enable: true,
            kind: InterruptType::Fiq,
        }))
    );
    assert_eq!(
        decode(&regs(&[0xff04, 0, 0, 0])),
        Some(Ok(HfRequest::InterruptGet))
    );
    // hf_interrupt_deactivate(intid) passes the ID twice.
    assert_eq!(
        decode(&regs(&[0xff08, 35, 35])),
        Some(Ok(HfRequest::InterruptDeactivate {
            physical: 35,
            virtual_id: 35,
        }))
    );
    assert_eq!(
        decode(&regs(&[0xff0a, 3])),
        Some(Ok(HfRequest::InterruptSendIpi { vcpu: 3 }))
    );
}

#[test]
fn decodes_every_reconfiguration() {
    for (cmd, value, change) in [
        (0, 2, Reconfigure::TargetPe(2)),
        (1, 0, Reconfigure::Secure(false)),
        (1, 1, Reconfigure::Secure(true)),
        (2, 0, Reconfigure::Enable(false)),
        (2, 1, Reconfigure::Enable(true)),
    ] {
        assert_eq!(
            decode(&regs(&[0xff09, 40, cmd, value])),
            Some(Ok(HfRequest::InterruptReconfigure { intid: 40, change }))
        );
    }
}

#[test]
fn out_of_range_arguments_are_refused() {
    for (r, call) in [
        (regs(&[0xff03, 35, 2, 0]), HfCall::InterruptEnable), // enable not 0/1
        (regs(&[0xff03, 35, 1, 2]), HfCall::InterruptEnable), // no such type
        (regs(&[0xff03, 1 << 32, 1, 0]), HfCall::InterruptEnable), // INTID past 32 bits
        (regs(&[0xff08, 35, 1 << 40]), HfCall::InterruptDeactivate),
        (regs(&[0xff09, 40, 3, 0]), HfCall::InterruptReconfigure), // no such command
        (regs(&[0xff09, 40, 1, 2]), HfCall::InterruptReconfigure), // no such state
        (regs(&[0xff0a, 0x1_0000]), HfCall::InterruptSendIpi),     // vCPU past 16 bits
    ] {
        assert_eq!(decode(&r), Some(Err(BadArguments(call))), "{r:x?}");
    }
}

#[test]
fn other_calls_are_not_hafnium_calls() {
    assert_eq!(decode(&regs(&[0x1_0000_ff03])), None);
    assert_eq!(decode(&regs(&[0x8400_0063])), None);
    assert_eq!(decode(&regs(&[0xff05, 1])), None);
}
