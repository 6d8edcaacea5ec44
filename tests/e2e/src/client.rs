//! The normal-world clients the scenarios drive: a host behind the EL2 proxy, and a host that
//! calls EL3 directly (Linux without pKVM).
//!
//! A harness failure (a hang, a protocol violation, a memory fault) cannot be expressed as an
//! FF-A answer: the client keeps the first one, answers every later call with
//! FFA_ERROR(ABORTED) without touching the stack, and the runner reports it.

use std::cell::RefCell;
use std::ops::Range;

use ffa::{FfaError, Regs};
use proxy::{Conduit, Proxy, ProxyConfig};
use scenarios::Client;

use crate::error::HarnessError;
use crate::memory::{NsView, RangeView, Space};
use crate::stack::{CPU_COUNT, Stack};
use crate::trace::Agent;

/// Host RAM behind the proxy (the host may hand these pages to FF-A).
pub const HOST_RAM: Range<u64> = 0x4000_0000..0x6000_0000;
/// The host's TX and RX buffers.
pub const HOST_TX: u64 = 0x4800_0000;
/// The host's RX buffer.
pub const HOST_RX: u64 = 0x4800_1000;
/// Pages per host buffer.
pub const HOST_MAILBOX_PAGES: u32 = 1;
/// The proxy's own TX buffer (NS memory outside host RAM).
pub const PROXY_TX: u64 = 0x6100_0000;
/// The proxy's own RX buffer.
pub const PROXY_RX: u64 = 0x6100_1000;

/// Which client a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// Host → proxy core → SPMD model → SPMC.
    Proxied,
    /// Host → SPMD model → SPMC.
    Direct,
}

impl ClientKind {
    /// Both clients.
    pub const ALL: [ClientKind; 2] = [ClientKind::Proxied, ClientKind::Direct];

    /// The name in result lines.
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Proxied => "proxied",
            ClientKind::Direct => "direct",
        }
    }
}

/// The first harness failure a client ran into.
#[derive(Default)]
pub struct Fault(RefCell<Option<HarnessError>>);

impl Fault {
    fn record(&self, error: HarnessError) {
        let mut slot = self.0.borrow_mut();
        if slot.is_none() {
            *slot = Some(error);
        }
    }

    fn is_set(&self) -> bool {
        self.0.borrow().is_some()
    }

    fn get(&self) -> Option<HarnessError> {
        self.0.borrow().clone()
    }
}

fn aborted(regs: &Regs) -> Regs {
    ffa::call::encode_preserving(&ffa::Interface::error(FfaError::Aborted, true), regs)
}

/// What a scenario sees of a client besides [`Client`]: the stack and the first failure.
pub trait HarnessClient: Client {
    /// The first harness failure, if any (it fails the scenario whatever it checked).
    fn fault(&self) -> Option<HarnessError>;
    /// The stack under the client.
    fn stack(&self) -> &Stack;
    /// Which client this is.
    fn kind(&self) -> ClientKind;
}

fn check_cpu(cpu: u16) -> Result<(), HarnessError> {
    if cpu < CPU_COUNT {
        Ok(())
    } else {
        Err(HarnessError::NoSuchCpu(cpu))
    }
}

/// A host on a booted stack, reaching EL3 along route `R`.
pub struct HostClient<R> {
    stack: Stack,
    route: R,
    host: RangeView,
    fault: Fault,
}

/// A host that calls EL3 itself, as Linux does without pKVM.
pub type DirectClient = HostClient<ToEl3>;
/// A host whose SMCs trap to the pKVM-style proxy at NS-EL2.
pub type ProxiedClient = HostClient<ThroughProxy>;

/// How a host's SMC reaches EL3.
pub trait Route {
    /// Which client this route makes.
    const KIND: ClientKind;
    /// Carries `regs` from the host on `cpu` to EL3 and back; harness failures go to `fault`.
    fn call(&mut self, stack: &mut Stack, fault: &Fault, cpu: u16, regs: &Regs) -> Regs;
}

/// Straight to EL3.
pub struct ToEl3;

impl Route for ToEl3 {
    const KIND: ClientKind = ClientKind::Direct;

    fn call(&mut self, stack: &mut Stack, fault: &Fault, cpu: u16, regs: &Regs) -> Regs {
        stack.nwd_call(cpu, Agent::Host, regs).unwrap_or_else(|e| {
            fault.record(e);
            aborted(regs)
        })
    }
}

/// Trapped by the proxy core, which forwards what it lets through.
pub struct ThroughProxy {
    proxy: Proxy,
    proxy_memory: NsView,
}

impl Route for ThroughProxy {
    const KIND: ClientKind = ClientKind::Proxied;

    fn call(&mut self, stack: &mut Stack, fault: &Fault, cpu: u16, regs: &Regs) -> Regs {
        let trace = stack.trace().clone();
        trace.hop(cpu, Agent::Host, Agent::Proxy, regs);
        let mut conduit = El3Conduit { stack, cpu, fault };
        let answer = self
            .proxy
            .handle_host_call(regs, &mut conduit, &mut self.proxy_memory);
        trace.hop(cpu, Agent::Proxy, Agent::Host, &answer);
        answer
    }
}

/// The proxy's SMC to EL3 on one CPU.
struct El3Conduit<'a> {
    stack: &'a mut Stack,
    cpu: u16,
    fault: &'a Fault,
}

impl Conduit for El3Conduit<'_> {
    fn call(&mut self, regs: &Regs) -> Regs {
        if self.fault.is_set() {
            return aborted(regs);
        }
        self.stack
            .nwd_call(self.cpu, Agent::Proxy, regs)
            .unwrap_or_else(|e| {
                self.fault.record(e);
                aborted(regs)
            })
    }
}

impl<R> HostClient<R> {
    fn with_route(stack: Stack, route: R, fault: Fault) -> Self {
        let host = stack.memory().range_view(Space::NonSecure, HOST_RAM);
        Self {
            stack,
            route,
            host,
            fault,
        }
    }
}

impl DirectClient {
    /// A client on a booted stack.
    pub fn new(stack: Stack) -> Self {
        Self::with_route(stack, ToEl3, Fault::default())
    }
}

impl ProxiedClient {
    /// A client on a booted stack; the proxy probes EL3 (its init) on the primary CPU first.
    pub fn new(mut stack: Stack) -> Result<Self, HarnessError> {
        let mut proxy = Proxy::new(ProxyConfig {
            tx: PROXY_TX,
            rx: PROXY_RX,
            pages: HOST_MAILBOX_PAGES,
            host_ram: (HOST_RAM.start, HOST_RAM.end),
        });
        let fault = Fault::default();
        let init = proxy.init(&mut El3Conduit {
            stack: &mut stack,
            cpu: crate::stack::PRIMARY_CPU,
            fault: &fault,
        });
        if let Some(e) = fault.get() {
            return Err(e);
        }
        init.map_err(|e| HarnessError::Protocol(format!("proxy init failed: {e:?}")))?;
        let proxy_memory = stack.memory().ns_view();
        let route = ThroughProxy {
            proxy,
            proxy_memory,
        };
        Ok(Self::with_route(stack, route, fault))
    }

    /// The proxy core.
    pub fn proxy(&self) -> &Proxy {
        &self.route.proxy
    }
}

impl<R: Route> Client for HostClient<R> {
    fn call_on(&mut self, cpu: u16, regs: &Regs) -> Regs {
        if self.fault.is_set() {
            return aborted(regs);
        }
        if let Err(e) = check_cpu(cpu) {
            self.fault.record(e);
            return aborted(regs);
        }
        self.route.call(&mut self.stack, &self.fault, cpu, regs)
    }

    fn tx_addr(&self) -> u64 {
        HOST_TX
    }

    fn rx_addr(&self) -> u64 {
        HOST_RX
    }

    fn mailbox_pages(&self) -> u32 {
        HOST_MAILBOX_PAGES
    }

    fn write(&mut self, addr: u64, data: &[u8]) {
        if let Err(e) = self.host.write(addr, data) {
            self.fault.record(HarnessError::Memory(e));
        }
    }

    fn read(&self, addr: u64, buf: &mut [u8]) {
        if let Err(e) = self.host.read(addr, buf) {
            self.fault.record(HarnessError::Memory(e));
            buf.fill(0);
        }
    }

    fn probe(&mut self, addr: u64) -> Option<u64> {
        if !self.stack.memory().host_reaches(addr) {
            return None;
        }
        let mut word = [0u8; 8];
        self.read(addr, &mut word);
        Some(u64::from_le_bytes(word))
    }

    fn behind_proxy(&self) -> bool {
        R::KIND == ClientKind::Proxied
    }

    /// The non-secure SGIs the SPMC pended on `cpu` (its schedule receiver interrupt): the
    /// only interrupts the in-process normal world has.
    fn take_interrupt(&mut self, cpu: u16) -> Option<u32> {
        self.stack.memory().take_ns_sgi(cpu)
    }
}

impl<R: Route> HarnessClient for HostClient<R> {
    fn fault(&self) -> Option<HarnessError> {
        self.fault.get()
    }

    fn stack(&self) -> &Stack {
        &self.stack
    }

    fn kind(&self) -> ClientKind {
        R::KIND
    }
}
