//! `ffa::call::decode` on arbitrary registers at every version we speak. Every call it accepts
//! must encode without panicking and decode back to the same call.
#![no_main]

use ffa::call::{Decoded, decode, encode};
use ffa_stack_fuzz::{Call, VERSIONS};
use libfuzzer_sys::fuzz_target;

/// Host, SPMC, a partition, SPMD.
const IDS: [u16; 4] = [0, 0x8000, 0x8001, 0xffff];

fuzz_target!(|call: Call| {
    let regs = call.regs(&IDS, &[]);
    for version in VERSIONS {
        if let Decoded::Call(decoded) = decode(&regs, version) {
            let encoded = encode(&decoded);
            assert_eq!(
                decode(&encoded, version),
                Decoded::Call(decoded),
                "round trip at v{}.{} of {regs:x?} through {encoded:x?}",
                version.0,
                version.1
            );
        }
    }
});
