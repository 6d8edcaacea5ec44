//! Fakes shared by the proxy's integration tests: a scripted EL3 that records every call, and
//! host memory made of a few byte regions.
#![allow(dead_code)]

use std::collections::VecDeque;

use ffa::{FfaError, FuncId, Version};
use proxy::{Conduit, HostMemory, MemFault, Proxy, ProxyConfig, Regs};

pub const HOST_RAM: (u64, u64) = (0x8000_0000, 0x8010_0000);
pub const PROXY_TX: u64 = 0x9000_0000;
pub const PROXY_RX: u64 = 0x9000_2000;
/// The proxy's mailbox size in pages.
pub const PROXY_PAGES: u32 = 2;
pub const HOST_TX: u64 = 0x8000_0000;
pub const HOST_RX: u64 = 0x8000_4000;
pub const SP1: u16 = 0x8001;

pub fn config() -> ProxyConfig {
    ProxyConfig {
        tx: PROXY_TX,
        rx: PROXY_RX,
        pages: PROXY_PAGES,
        host_ram: HOST_RAM,
    }
}

/// x0..x17 from a prefix.
pub fn regs(prefix: &[u64]) -> Regs {
    let mut r = [0u64; 18];
    r[..prefix.len()].copy_from_slice(prefix);
    r
}

pub fn fid(f: FuncId) -> u64 {
    u64::from(u32::from(f))
}

/// Registers with distinctive values in every x1..x17, for pass-through checks.
pub fn marked(x0: u64) -> Regs {
    let mut r = [0u64; 18];
    r[0] = x0;
    for (i, reg) in r.iter_mut().enumerate().skip(1) {
        *reg = 0x1111_0000_0000_0000 * (i as u64 % 15 + 1) + i as u64;
    }
    r
}

pub fn version_word(v: Version) -> u64 {
    u64::from(ffa::version::to_u32(v))
}

/// What EL3 answers.
pub fn success(w2: u64, w3: u64) -> Regs {
    regs(&[fid(FuncId::Success32), 0, w2, w3])
}

pub fn error(code: FfaError) -> Regs {
    ffa::call::error(code)
}

pub fn version_reply(v: Version) -> Regs {
    regs(&[version_word(v)])
}

/// FFA_VERSION's NOT_SUPPORTED, as TF-A's SPMD returns it.
pub fn version_refused() -> Regs {
    regs(&[u64::MAX])
}

/// Asserts `answer` is FFA_ERROR with `code`.
#[track_caller]
pub fn assert_error(answer: &Regs, code: FfaError) {
    assert_eq!(
        answer[0],
        fid(FuncId::Error32),
        "not FFA_ERROR: {answer:x?}"
    );
    assert_eq!(ffa::call::error_code(answer), Some(code), "{answer:x?}");
}

/// Asserts `answer` is FFA_SUCCESS.
#[track_caller]
pub fn assert_success(answer: &Regs) {
    assert!(
        ffa::call::is_success(answer),
        "not FFA_SUCCESS: {answer:x?}"
    );
}

/// Answers an EL3 call.
pub type Answerer = Box<dyn FnMut(&Regs) -> Regs>;

/// EL3 (the SPMD and the SPMC behind it), played from a script.
#[derive(Default)]
pub struct FakeEl3 {
    /// Every call the proxy made, in order.
    pub calls: Vec<Regs>,
    script: VecDeque<Regs>,
    /// Answers calls the script does not cover; without it such a call fails the test.
    pub fallback: Option<Answerer>,
}

impl FakeEl3 {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues the answer to the next call.
    pub fn then(&mut self, answer: Regs) -> &mut Self {
        self.script.push_back(answer);
        self
    }

    /// The function IDs of the calls made since `from`.
    pub fn fids_since(&self, from: usize) -> Vec<u64> {
        self.calls[from..].iter().map(|r| r[0]).collect()
    }

    #[track_caller]
    pub fn assert_script_done(&self) {
        assert!(
            self.script.is_empty(),
            "EL3 answers left: {:x?}",
            self.script
        );
    }
}

impl Conduit for FakeEl3 {
    fn call(&mut self, regs: &Regs) -> Regs {
        self.calls.push(*regs);
        if let Some(answer) = self.script.pop_front() {
            return answer;
        }
        match &mut self.fallback {
            Some(f) => f(regs),
            None => panic!("unexpected EL3 call {regs:x?}"),
        }
    }
}

/// Normal-world memory: the host's RAM and the proxy's buffers, nothing else.
pub struct FakeMemory {
    regions: Vec<(u64, Vec<u8>)>,
    /// Makes every access fault.
    pub faulty: bool,
    /// Host pages out of the host's stage 2.
    pub withdrawn: std::collections::BTreeSet<u64>,
}

impl FakeMemory {
    pub fn new() -> Self {
        let host_len = (HOST_RAM.1 - HOST_RAM.0) as usize;
        let proxy_len = 2 * PROXY_PAGES as usize * ffa::PAGE_SIZE;
        Self {
            regions: vec![
                (HOST_RAM.0, vec![0; host_len]),
                (PROXY_TX, vec![0; proxy_len]),
            ],
            faulty: false,
            withdrawn: Default::default(),
        }
    }

    fn find(&self, addr: u64, len: usize) -> Option<(usize, usize)> {
        self.regions
            .iter()
            .enumerate()
            .find_map(|(i, (base, bytes))| {
                let off = usize::try_from(addr.checked_sub(*base)?).ok()?;
                (off.checked_add(len)? <= bytes.len()).then_some((i, off))
            })
    }

    /// Test-side access (panics outside the regions).
    pub fn bytes(&self, addr: u64, len: usize) -> Vec<u8> {
        let (i, off) = self
            .find(addr, len)
            .expect("test reads outside fake memory");
        self.regions[i].1[off..off + len].to_vec()
    }

    pub fn fill(&mut self, addr: u64, data: &[u8]) {
        let (i, off) = self
            .find(addr, data.len())
            .expect("test writes outside fake memory");
        self.regions[i].1[off..off + data.len()].copy_from_slice(data);
    }
}

impl HostMemory for FakeMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemFault> {
        let (i, off) = self
            .find(addr, buf.len())
            .filter(|_| !self.faulty)
            .ok_or(MemFault)?;
        buf.copy_from_slice(&self.regions[i].1[off..off + buf.len()]);
        Ok(())
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        let (i, off) = self
            .find(addr, data.len())
            .filter(|_| !self.faulty)
            .ok_or(MemFault)?;
        self.regions[i].1[off..off + data.len()].copy_from_slice(data);
        Ok(())
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

/// A proxy, its EL3 and memory, with init done against an SPMC at `spmc`.
pub struct Rig {
    pub proxy: Proxy,
    pub el3: FakeEl3,
    pub mem: FakeMemory,
}

impl Rig {
    pub fn initialised(spmc: Version) -> Self {
        let mut el3 = FakeEl3::new();
        el3.then(version_reply(spmc));
        let mut proxy = Proxy::new(config());
        proxy.init(&mut el3).expect("init");
        Self {
            proxy,
            el3,
            mem: FakeMemory::new(),
        }
    }

    /// Initialised against a v1.2 SPMC, with the host negotiated at `host` (the script covers
    /// the downgrade and the post-negotiation checks).
    pub fn negotiated(host: Version) -> Self {
        let mut rig = Self::initialised(Version(1, 2));
        if host < Version(1, 2) {
            rig.el3.then(version_reply(Version(1, 2)));
        }
        rig.el3.then(success(0, 0)).then(success(0, 0));
        let answer = rig.call(&regs(&[fid(FuncId::Version), version_word(host)]));
        assert_eq!(answer[0], version_word(host));
        assert_eq!(rig.proxy.negotiated_version(), Some(host));
        rig.el3.assert_script_done();
        rig
    }

    /// Negotiated at `host` with the host's buffers mapped (`pages` each).
    pub fn mapped(host: Version, pages: u32) -> Self {
        let mut rig = Self::negotiated(host);
        rig.el3.then(success(0, 0));
        let answer = rig.call(&rxtx_map(HOST_TX, HOST_RX, pages));
        assert_success(&answer);
        rig
    }

    pub fn call(&mut self, regs: &Regs) -> Regs {
        self.proxy
            .handle_host_call(regs, &mut self.el3, &mut self.mem)
    }

    /// Calls and checks that EL3 was not involved.
    #[track_caller]
    pub fn call_local(&mut self, regs: &Regs) -> Regs {
        let before = self.el3.calls.len();
        let answer = self.call(regs);
        assert_eq!(
            self.el3.calls.len(),
            before,
            "EL3 was called: {:x?}",
            &self.el3.calls[before..]
        );
        answer
    }
}

pub fn rxtx_map(tx: u64, rx: u64, pages: u32) -> Regs {
    regs(&[fid(FuncId::RxTxMap64), tx, rx, u64::from(pages)])
}
