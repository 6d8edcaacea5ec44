//! The FF-A boot-information blob (FF-A v1.1 §5.4) each test partition asks for with
//! `gp-register-num`.
//!
//! Every partition reads its blob on its first entry and sets a fault bit (reported in every
//! status word) if it is missing, malformed, not of its manifest's FF-A version, or names no
//! device tree. Here each reports what it found: the blob where Hafnium puts it for SPKG
//! packages (the package's first page, at the load address), one manifest descriptor for the
//! manifest at `load_address + 0x1000`, in the layout of the partition's own version.

use ffa::Version;
use test_partitions::DEFINITIONS;
use test_partitions::protocol::Command;

use crate::calls::negotiate;
use crate::check::{Failure, Value, expect_eq, expect_words};
use crate::sp::{command32, command32_on};
use crate::{Client, cpu_on_core};

/// Each partition got its blob at its load address, naming its manifest, at its version, in
/// the execution context that booted first (core 0's: the SPMC initialises every partition on
/// the primary core). An MP partition's contexts on the other cores start at its warm entry
/// with no blob, and report none.
pub fn boot_info_blob(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, Version(1, 2))?;
    let Some(primary) = cpu_on_core(c, 0) else {
        return Err(Failure::new(
            "a scenario CPU on core 0",
            Value::Word(0),
            Value::Word(u64::from(c.core(0))),
        ));
    };
    for def in DEFINITIONS {
        if def.exec_ctx_count > 1 && c.core(0) != 0 {
            let words = command32(c, "BOOT_INFO", def.endpoint_id, Command::BootInfo, &[])?;
            expect_words(
                "boot information of a context started on a secondary core (none)",
                &[0; 4],
                &words[1..],
            )?;
        }
        let words = command32_on(
            c,
            primary,
            "BOOT_INFO",
            def.endpoint_id,
            Command::BootInfo,
            &[],
        )?;
        expect_eq(
            "boot-information blob address (the package start)",
            def.load_address,
            words[1],
        )?;
        expect_eq(
            "manifest address in the blob",
            def.manifest_address(),
            words[2],
        )?;
        if words[3] == 0 {
            return Err(Failure::new(
                "manifest size in the blob",
                Value::Word(1),
                Value::Word(0),
            ));
        }
        expect_eq(
            "blob version (the partition's manifest ffa-version)",
            u64::from(ffa::version::to_u32(def.ffa_version)),
            words[4],
        )?;
    }
    Ok(())
}
