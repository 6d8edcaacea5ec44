//! The proxy core driven by arbitrary host calls, with EL3's answers and the contents of host
//! memory taken from the input. It must never panic, and it must hold only host RAM.
#![no_main]

use ffa::call::Regs;
use ffa::{FfaError, Version};
use ffa_stack_fuzz::{Call, Window};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use proxy::{Conduit, HostMemory, MemFault, Proxy, ProxyConfig};

/// Host RAM.
const RAM_BASE: u64 = 0x8000_0000;
const RAM_SIZE: u64 = 0x1_0000;
/// The proxy's own TX and RX pages, outside host RAM.
const PROXY_TX: u64 = 0x7000_0000;
const PROXY_RX: u64 = 0x7000_1000;
/// The host, the SPMC, partitions, the SPMD, and IDs nobody has.
const IDS: [u16; 7] = [0, 0x8000, 0x8001, 0x8002, 0xffff, 1, 0x8009];

/// One answer from EL3.
#[derive(Arbitrary, Debug)]
enum Answer {
    /// FFA_VERSION's answer: a bare version number in w0.
    Version(u16, u16),
    /// FFA_SUCCESS_32 with w2..w7.
    Success([u32; 6]),
    /// FFA_ERROR with a code, known or not.
    Error(i8),
    /// Anything.
    Raw(Call),
}

impl Answer {
    fn regs(&self, windows: &[(u64, u64)]) -> Regs {
        match self {
            Self::Version(major, minor) => {
                let mut regs = [0; 18];
                regs[0] = u64::from(ffa::version::to_u32(Version(*major, *minor)));
                regs
            }
            Self::Success(args) => ffa::call::success32(*args),
            Self::Error(code) => {
                let mut regs = ffa::call::error(FfaError::NotSupported);
                regs[2] = u64::from(i32::from(*code) as u32);
                regs
            }
            Self::Raw(call) => call.regs(&IDS, windows),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    ram_seed: Vec<u8>,
    mailbox_seed: Vec<u8>,
    init: bool,
    answers: Vec<Answer>,
    calls: Vec<Call>,
}

/// EL3 as the input scripts it; once the script runs out, every call is NOT_SUPPORTED.
struct ScriptedEl3<'a> {
    answers: std::slice::Iter<'a, Answer>,
    windows: [(u64, u64); 2],
}

impl Conduit for ScriptedEl3<'_> {
    fn call(&mut self, _regs: &Regs) -> Regs {
        match self.answers.next() {
            Some(answer) => answer.regs(&self.windows),
            None => ffa::call::error(FfaError::NotSupported),
        }
    }
}

struct Memory {
    ram: Window,
    mailbox: Window,
    /// Host pages out of the host's stage 2.
    withdrawn: std::collections::BTreeSet<u64>,
}

impl HostMemory for Memory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemFault> {
        (self.ram.read(addr, buf) || self.mailbox.read(addr, buf))
            .then_some(())
            .ok_or(MemFault)
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        (self.ram.write(addr, data) || self.mailbox.write(addr, data))
            .then_some(())
            .ok_or(MemFault)
    }

    fn host_access(&mut self, addr: u64, pages: u64, on: bool) -> Result<(), MemFault> {
        for page in (0..pages).map(|i| addr + i * 0x1000) {
            if on {
                self.withdrawn.remove(&page);
            } else {
                self.withdrawn.insert(page);
            }
        }
        Ok(())
    }
}

fuzz_target!(|input: Input| {
    let mut mem = Memory {
        ram: Window::new(RAM_BASE, RAM_SIZE, &input.ram_seed),
        mailbox: Window::new(PROXY_TX, 0x2000, &input.mailbox_seed),
        withdrawn: Default::default(),
    };
    let windows = [mem.ram.span(), mem.mailbox.span()];
    let mut el3 = ScriptedEl3 {
        answers: input.answers.iter(),
        windows,
    };
    let config = ProxyConfig {
        tx: PROXY_TX,
        rx: PROXY_RX,
        pages: 1,
        host_ram: (RAM_BASE, RAM_BASE + RAM_SIZE),
    };
    let mut proxy = Proxy::new(config);
    if input.init {
        let _ = proxy.init(&mut el3);
    }
    for call in input.calls.iter().take(64) {
        let regs = call.regs(&IDS, &windows);
        let _ = proxy.handle_host_call(&regs, &mut el3, &mut mem);
        for (range, hold) in proxy.host_pages().holds() {
            assert!(
                proxy.host_pages().in_ram(&range),
                "{hold:?} holds {range:?} outside host RAM"
            );
        }
        // A page out of the host's stage 2 is exactly a page the proxy holds as lent.
        for page in &mem.withdrawn {
            assert_eq!(
                proxy.host_pages().holder(*page),
                Some(proxy::Hold::LentToSecure),
                "{page:#x} withdrawn from the host"
            );
        }
        for (range, hold) in proxy.host_pages().holds() {
            if hold == proxy::Hold::LentToSecure {
                assert!(
                    mem.withdrawn.contains(&range.base()),
                    "{range:?} lent but mapped"
                );
            }
        }
    }
});
