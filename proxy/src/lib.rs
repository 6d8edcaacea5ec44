//! The pKVM-style FF-A proxy at NS-EL2.
//!
//! The core decides every host FF-A call: [`Proxy::handle_host_call`] answers it locally, or
//! validates, rewrites and forwards it through a [`Conduit`] and post-processes the answer. It
//! touches host memory only through [`HostMemory`]. Which FF-A function goes which way is
//! decided in one table, [`route::route`]; calls outside FF-A's range pass through untouched.
#![no_std]
#![deny(unsafe_code)]

mod direct_msg;
mod el3;
mod features;
pub mod host_pages;
mod indirect_msg;
mod mailbox;
pub mod memory;
pub mod memory_windows;
mod notifications;
mod partition_info;
pub mod psci;
mod reply;
pub mod route;
pub mod trap;
mod version;

#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod arch;

use ffa::id::EndpointId;
use ffa::{Decoded, FfaError, FuncId, Interface, RxTxAddr};

pub use ffa::Regs;
pub use host_pages::{Hold, HostPages, PageError, PageRange};
pub use mailbox::HostMailbox;

/// The host's FF-A ID: it shares ID 0 with the hypervisor, as under pKVM.
pub const HOST_ID: EndpointId = EndpointId::HOST;

/// How many page ranges the proxy can hold at once (mailbox pages and the ranges of every
/// outstanding transaction): 24 bytes each.
pub const HOST_HOLDS: usize = 2048;

/// The proxy's way to EL3: an SMC with x0..x17, returning x0..x17.
pub trait Conduit {
    /// Issues the call and returns what EL3 (or the SPMC behind it) answered.
    fn call(&mut self, regs: &Regs) -> Regs;
}

/// A range the proxy may not copy (outside normal-world memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemFault;

/// Normal-world physical memory: the host's pages and the proxy's own mailbox.
pub trait HostMemory {
    /// Copies from physical `addr` into `buf`.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemFault>;
    /// Copies `data` to physical `addr`.
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemFault>;
    /// Takes the `pages` pages of host RAM at `addr` out of the host's stage 2 (`on` false:
    /// no core of the host reaches them once this returns) or gives them back (`on` true).
    fn host_access(&mut self, addr: u64, pages: u64, on: bool) -> Result<(), MemFault>;
}

/// Where the proxy's own RX/TX buffers live (pages it owns, the host cannot reach).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    /// The proxy's TX buffer (what it sends to the SPMC).
    pub tx: u64,
    /// The proxy's RX buffer (what the SPMC writes for it).
    pub rx: u64,
    /// Size of each buffer in 4 KiB pages.
    pub pages: u32,
    /// First and last+1 address of host memory the host may hand to the proxy.
    pub host_ram: (u64, u64),
}

impl ProxyConfig {
    /// Page-aligned, non-empty, non-overlapping proxy buffers outside host RAM.
    fn check(&self) -> Result<(), FfaError> {
        let pages = u64::from(self.pages);
        let tx = PageRange::new(self.tx, pages).map_err(|_| FfaError::InvalidParameters)?;
        let rx = PageRange::new(self.rx, pages).map_err(|_| FfaError::InvalidParameters)?;
        let (start, end) = self.host_ram;
        if tx.overlaps(&rx) || tx.touches(start, end) || rx.touches(start, end) {
            return Err(FfaError::InvalidParameters);
        }
        Ok(())
    }
}

/// The proxy core.
pub struct Proxy {
    config: ProxyConfig,
    link: version::Link,
    mailbox: Option<HostMailbox>,
    pages: HostPages<HOST_HOLDS>,
    /// The host's send arriving in fragments, if any.
    arriving: Option<memory::Arriving>,
    /// The vCPU count of the host's notification bitmap, once the SPMC created it.
    notification_vcpus: Option<u32>,
}

impl Proxy {
    /// A proxy that has not seen the host yet; call [`Proxy::init`] before the host runs.
    pub const fn new(config: ProxyConfig) -> Self {
        Self {
            config,
            link: version::Link::Unprobed,
            mailbox: None,
            pages: HostPages::new(config.host_ram),
            arriving: None,
            notification_vcpus: None,
        }
    }

    /// The configuration the proxy was built with.
    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// The host pages the proxy holds.
    pub fn host_pages(&self) -> &HostPages<HOST_HOLDS> {
        &self.pages
    }

    /// Size of each of the proxy's own buffers, in bytes.
    fn mailbox_bytes(&self) -> u64 {
        u64::from(self.config.pages) * ffa::PAGE_SIZE as u64
    }

    /// Handles one SMC the host made; the return value is what the host sees in x0..x17.
    pub fn handle_host_call<C: Conduit, M: HostMemory>(
        &mut self,
        regs: &Regs,
        conduit: &mut C,
        mem: &mut M,
    ) -> Regs {
        match self.first_step(regs) {
            HostStep::Answer(answer) => answer,
            HostStep::Forward => conduit.call(regs),
            HostStep::Version => self.host_version(regs, conduit),
            HostStep::Stateful(version) => match ffa::call::decode(regs, version) {
                Decoded::Call(call) => self.stateful_call(version, &call, regs, conduit, mem),
                // `first_step` decoded it already; this cannot be reached.
                _ => reply::error(FfaError::NotSupported, regs),
            },
        }
    }

    /// What a host call needs, judged from the proxy's state without changing it: an answer
    /// of its own, a forward whose answer goes back untouched (so the arch layer can make it
    /// without holding the proxy: a direct request may run a partition for long), or the
    /// stateful handling of [`Proxy::handle_host_call`].
    pub fn first_step(&self, regs: &Regs) -> HostStep {
        let fid = ffa::call::function_id(regs);
        if !ffa::call::is_ffa(fid) {
            // PSCI, SMCCC arch, vendor services: not ours to judge (as pKVM).
            return HostStep::Forward;
        }
        if fid == u32::from(FuncId::Version) {
            return HostStep::Version;
        }
        let version = match self.link {
            version::Link::Up {
                version,
                locked: true,
            } => version,
            version::Link::Up { locked: false, .. } => {
                return HostStep::Answer(reply::error(FfaError::InvalidParameters, regs));
            }
            version::Link::Unprobed | version::Link::Disabled => {
                return HostStep::Answer(reply::error(FfaError::NotSupported, regs));
            }
        };
        let Ok(func) = FuncId::try_from(fid) else {
            return HostStep::Answer(reply::error(FfaError::NotSupported, regs));
        };
        let route = route::route(func);
        if route == route::Route::Block {
            return HostStep::Answer(reply::error(FfaError::NotSupported, regs));
        }
        let call = match ffa::call::decode(regs, version) {
            Decoded::Call(call) => call,
            Decoded::Malformed(_, e) => return HostStep::Answer(reply::error(e, regs)),
            Decoded::NotAtVersion(_) | Decoded::UnknownFfa(_) | Decoded::NotFfa(_) => {
                return HostStep::Answer(reply::error(FfaError::NotSupported, regs));
            }
        };
        let checked = match call {
            Interface::IdGet => {
                let answer = reply::success([u32::from(HOST_ID.0), 0, 0, 0, 0, 0], regs);
                return HostStep::Answer(answer);
            }
            Interface::MsgSendDirectReq {
                src_id,
                dst_id,
                args,
            } => direct_msg::check(src_id, dst_id, Some(&args)),
            Interface::MsgSendDirectReq2 { src_id, dst_id, .. } => {
                direct_msg::check(src_id, dst_id, None)
            }
            Interface::NotificationBind {
                sender_id,
                receiver_id,
                ..
            }
            | Interface::NotificationUnbind {
                sender_id,
                receiver_id,
                ..
            } => notifications::check_bind(sender_id, receiver_id),
            Interface::NotificationSet {
                sender_id,
                receiver_id,
                ..
            } => notifications::check_set(sender_id, receiver_id),
            _ if route == route::Route::Forward => Ok(()),
            _ => return HostStep::Stateful(version),
        };
        match checked {
            Ok(()) => HostStep::Forward,
            Err(e) => HostStep::Answer(reply::error(e, regs)),
        }
    }

    /// The calls that read or change the proxy's state: version, features, the mailbox and
    /// what goes through it, the host's notification bitmap.
    fn stateful_call<C: Conduit, M: HostMemory>(
        &mut self,
        version: ffa::Version,
        call: &Interface,
        regs: &Regs,
        conduit: &mut C,
        mem: &mut M,
    ) -> Regs {
        match *call {
            Interface::Features { feat_id, .. } => {
                self.host_features(feat_id, version, regs, conduit)
            }
            Interface::RxTxMap {
                addr: RxTxAddr::Addr64 { rx, tx },
                page_cnt,
            } => self.rxtx_map(tx, rx, page_cnt, regs, conduit),
            Interface::RxTxUnmap { id } => self.rxtx_unmap(id, regs, conduit),
            Interface::RxRelease { vm_id } => self.rx_release(vm_id, regs, conduit),
            Interface::PartitionInfoGet { flags, .. } => {
                self.partition_info_get(flags, version, regs, conduit, mem)
            }
            Interface::MemShare { .. } | Interface::MemLend { .. } => {
                self.host_mem_send(call, version, regs, conduit, mem)
            }
            Interface::MemFragTx { .. } => self.host_mem_frag_tx(regs, conduit, mem),
            Interface::MemReclaim { .. } => self.host_mem_reclaim(version, regs, conduit, mem),
            Interface::MsgSend2 { sender_vm_id, .. } => {
                self.host_msg_send2(sender_vm_id, version, regs, conduit, mem)
            }
            Interface::NotificationBitmapCreate { vm_id, vcpu_cnt } => {
                self.bitmap_create(vm_id, vcpu_cnt, regs, conduit)
            }
            Interface::NotificationBitmapDestroy { vm_id } => {
                self.bitmap_destroy(vm_id, regs, conduit)
            }
            Interface::NotificationGet {
                vcpu_id,
                endpoint_id,
                ..
            } => self.notification_get(vcpu_id, endpoint_id, regs, conduit, mem),
            // A routed-to-proxy call without a handler: refuse rather than pass it on.
            _ => reply::error(FfaError::NotSupported, regs),
        }
    }
}

/// The first step of a host call: see [`Proxy::first_step`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostStep {
    /// The proxy's own answer.
    Answer(Regs),
    /// Forward the host's registers as they are; the answer goes back untouched.
    Forward,
    /// FFA_VERSION: the proxy's version negotiation.
    Version,
    /// A call that reads or changes the proxy's state, decoded at this negotiated version.
    /// (The step carries no decoded call: it stays small on the direct-request path.)
    Stateful(ffa::Version),
}
