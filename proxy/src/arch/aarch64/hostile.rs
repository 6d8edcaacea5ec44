//! The hostile-hypervisor check (`scenarios::hypervisor`): selected by the scenario selector
//! in host RAM, read once at boot, before the host runs and before the proxy maps its own
//! mailbox. The proxy then does what a hostile hypervisor could: FFA_RXTX_MAP of a pair in
//! normal-world memory nothing answers at. Its answer goes to the client (x1 at entry).

use scenarios::hypervisor;
use smc_call::smc;

use super::console::println;
use super::layout;

/// Whether the selector word names the hostile-hypervisor scenario.
pub fn selected() -> bool {
    // SAFETY: as in `bench::selected`: host RAM, written by QEMU's loader before the machine
    // started; the host has not run yet.
    let word = unsafe { (layout::SELECTOR as *const u32).read_volatile() };
    hypervisor::selected(u32::from_le(word))
}

/// Negotiates FF-A v1.2 and asks the SPMC to map the hostile pair; returns the answer word.
pub fn run() -> u64 {
    let mut version = [0u64; 18];
    version[0] = u64::from(u32::from(ffa::FuncId::Version));
    version[1] = 0x0001_0002;
    smc(&version);
    let mut map = [0u64; 18];
    map[0] = u64::from(u32::from(ffa::FuncId::RxTxMap64));
    map[1] = hypervisor::HOLE + 0x1000;
    map[2] = hypervisor::HOLE;
    map[3] = 1;
    let answer = smc(&map);
    let word = hypervisor::report(&answer);
    println!(
        "hostile-hypervisor check: FFA_RXTX_MAP of a pair at {:#x} answered {word:#x}",
        hypervisor::HOLE
    );
    word
}
