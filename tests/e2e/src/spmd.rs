//! A model of TF-A v2.12's SPMD (`services/std_svc/spmd/spmd_main.c`) with an S-EL2 SPMC, and of
//! the secure CPU under it: the SPMC core's outcomes drive the partitions.
//!
//! Normal-world SMCs come in through [`Spmd::nwd_call`]. The SPMD answers some at EL3, refuses
//! some, wraps FFA_VERSION in a framework direct request, and forwards the rest (x0..x17) to the
//! SPMC. The SPMC's outcomes are then played out: [`Outcome::Enter`] runs a partition's
//! [`TestPartition::step`] and hands its call back to the SPMC; [`Outcome::ToSpmd`] is an SMC
//! to EL3, which the SPMD treats as TF-A does: end of initialisation, a framework response, an
//! answer for the normal world, or a call it answers itself and returns to the SPMC.
//!
//! Every run of the secure side is bounded: a runaway is a [`HarnessError::Hang`].

use std::collections::BTreeMap;

use ffa::{EndpointId, Regs};
use spmc::platform::Platform;
use spmc::{Caller, CpuId, Outcome, Spmc};
use test_partitions::TestPartition;

use crate::el3_services;
use crate::error::HarnessError;
use crate::memory::RangeView;
use crate::trace::{Agent, Trace};

/// Hops the secure side may take for one entry from EL3 before it counts as a hang.
pub const DEFAULT_STEP_LIMIT: usize = 10_000;

// Function IDs as TF-A v2.12 spells them (`include/services/ffa_svc.h`).
const FFA_ERROR: u32 = 0x8400_0060;
const FFA_SUCCESS_SMC32: u32 = 0x8400_0061;
const FFA_SUCCESS_SMC64: u32 = 0xc400_0061;
const FFA_INTERRUPT: u32 = 0x8400_0062;
const FFA_VERSION: u32 = 0x8400_0063;
const FFA_FEATURES: u32 = 0x8400_0064;
const FFA_RX_RELEASE: u32 = 0x8400_0065;
const FFA_RXTX_MAP_SMC32: u32 = 0x8400_0066;
const FFA_RXTX_MAP_SMC64: u32 = 0xc400_0066;
const FFA_RXTX_UNMAP: u32 = 0x8400_0067;
const FFA_PARTITION_INFO_GET: u32 = 0x8400_0068;
const FFA_ID_GET: u32 = 0x8400_0069;
const FFA_MSG_WAIT: u32 = 0x8400_006b;
const FFA_MSG_YIELD: u32 = 0x8400_006c;
const FFA_MSG_RUN: u32 = 0x8400_006d;
const FFA_MSG_SEND: u32 = 0x8400_006e;
const FFA_MSG_SEND_DIRECT_REQ_SMC32: u32 = 0x8400_006f;
const FFA_MSG_SEND_DIRECT_REQ_SMC64: u32 = 0xc400_006f;
const FFA_MSG_SEND_DIRECT_RESP_SMC32: u32 = 0x8400_0070;
const FFA_MSG_SEND_DIRECT_RESP_SMC64: u32 = 0xc400_0070;
const FFA_MEM_DONATE_SMC32: u32 = 0x8400_0071;
const FFA_MEM_DONATE_SMC64: u32 = 0xc400_0071;
const FFA_MEM_LEND_SMC32: u32 = 0x8400_0072;
const FFA_MEM_LEND_SMC64: u32 = 0xc400_0072;
const FFA_MEM_SHARE_SMC32: u32 = 0x8400_0073;
const FFA_MEM_SHARE_SMC64: u32 = 0xc400_0073;
const FFA_MEM_RETRIEVE_REQ_SMC32: u32 = 0x8400_0074;
const FFA_MEM_RETRIEVE_REQ_SMC64: u32 = 0xc400_0074;
const FFA_MEM_RETRIEVE_RESP: u32 = 0x8400_0075;
const FFA_MEM_RELINQUISH: u32 = 0x8400_0076;
const FFA_MEM_RECLAIM: u32 = 0x8400_0077;
const FFA_MEM_FRAG_RX: u32 = 0x8400_007a;
const FFA_MEM_FRAG_TX: u32 = 0x8400_007b;
const FFA_NORMAL_WORLD_RESUME: u32 = 0x8400_007c;
const FFA_NOTIFICATION_BITMAP_CREATE: u32 = 0x8400_007d;
const FFA_NOTIFICATION_BITMAP_DESTROY: u32 = 0x8400_007e;
const FFA_NOTIFICATION_BIND: u32 = 0x8400_007f;
const FFA_NOTIFICATION_UNBIND: u32 = 0x8400_0080;
const FFA_NOTIFICATION_SET: u32 = 0x8400_0081;
const FFA_NOTIFICATION_GET: u32 = 0x8400_0082;
const FFA_NOTIFICATION_INFO_GET: u32 = 0x8400_0083;
const FFA_NOTIFICATION_INFO_GET_SMC64: u32 = 0xc400_0083;
const FFA_RX_ACQUIRE: u32 = 0x8400_0084;
const FFA_SPM_ID_GET: u32 = 0x8400_0085;
const FFA_MSG_SEND2: u32 = 0x8400_0086;
const FFA_SECONDARY_EP_REGISTER_SMC64: u32 = 0xc400_0087;
const FFA_CONSOLE_LOG_SMC32: u32 = 0x8400_008a;
const FFA_CONSOLE_LOG_SMC64: u32 = 0xc400_008a;
const FFA_PARTITION_INFO_GET_REGS_SMC64: u32 = 0xc400_008b;
const FFA_EL3_INTR_HANDLE: u32 = 0x8400_008c;
const FFA_MSG_SEND_DIRECT_REQ2_SMC64: u32 = 0xc400_008d;
const FFA_MSG_SEND_DIRECT_RESP2_SMC64: u32 = 0xc400_008e;

/// FF-A error codes as the SPMD writes them into w2 (and, for FFA_VERSION, w0).
const NOT_SUPPORTED: i32 = -1;
const INVALID_PARAMETERS: i32 = -2;
const DENIED: i32 = -6;

/// The framework-message bit of w2 and the two VERSION framework messages.
const FWK_MSG_BIT: u64 = 1 << 31;
const FWK_VERSION_REQ: u64 = FWK_MSG_BIT | 0x8;
const FWK_VERSION_RESP: u64 = FWK_MSG_BIT | 0x9;

/// SMCCC's "no live SVE state" hint in x0.
const SVE_HINT: u64 = 1 << 16;
/// Function numbers TF-A's `is_ffa_fid` routes to the SPMD.
const FFA_FNUM_MIN: u32 = 0x60;
const FFA_FNUM_MAX: u32 = 0x8e;
/// Owning-entity number of the standard secure service (PSCI, FF-A).
const OEN_STANDARD: u32 = 4;

/// The SPMC manifest attributes the SPMD reads (TOS_FW_CONFIG `/attribute`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpmcManifestAttributes {
    /// `spmc_id`.
    pub spmc_id: EndpointId,
    /// `maj_ver`.`min_ver`.
    pub version: ffa::Version,
    /// `load_address`.
    pub load_address: u64,
    /// `binary_size`: the secondary entry point must lie in `[load_address, +binary_size)`.
    pub binary_size: u64,
}

impl SpmcManifestAttributes {
    /// This project's SPMC manifest on QEMU: 2 MiB at 0x0e10_0000 (sp-manifests/spmc_manifest.dts).
    pub fn qemu(spmc_id: EndpointId, version: ffa::Version) -> Self {
        Self {
            spmc_id,
            version,
            load_address: 0x0e10_0000,
            binary_size: 0x20_0000,
        }
    }
}

/// What sits at S-EL2: the SPMC core (or, in the model's own tests, a scripted stand-in).
pub trait SecureCore {
    /// Cold boot on the primary CPU.
    fn boot(&mut self, cpu: CpuId) -> Outcome;
    /// One call from the SPMD or from the partition running on `cpu`.
    fn handle(&mut self, cpu: CpuId, caller: Caller, regs: &Regs) -> Outcome;
}

impl<P: Platform> SecureCore for Spmc<P> {
    fn boot(&mut self, cpu: CpuId) -> Outcome {
        Spmc::boot(self, cpu)
    }

    fn handle(&mut self, cpu: CpuId, caller: Caller, regs: &Regs) -> Outcome {
        Spmc::handle(self, cpu, caller, regs)
    }
}

/// A partition the secure CPU can run: its behaviour and the memory it reaches.
pub struct HostedPartition {
    /// What it does when entered.
    pub behaviour: Box<dyn TestPartition>,
    /// Its own memory (secure space, `[load_address, +memory_size)`).
    pub env: RangeView,
    /// Its execution-context count.
    pub vcpus: u16,
}

/// The SPMD's view of the SPMC on one CPU (`spmc_state` in TF-A).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreState {
    /// Never entered on this CPU.
    Reset,
    /// Entered for initialisation; its first FFA_MSG_WAIT (or FFA_ERROR) is awaited.
    OnPending,
    /// Initialised.
    On,
}

/// One entry of a partition, as the SPMC asked for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The CPU.
    pub cpu: u16,
    /// The partition.
    pub partition: EndpointId,
    /// The execution context.
    pub vcpu: u16,
}

/// How a run of the secure side ended, as the SPMD sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SecureExit {
    /// First FFA_MSG_WAIT in ON_PENDING.
    InitDone,
    /// FFA_ERROR in ON_PENDING, with w2.
    InitFailed(u64),
    /// A direct response from the SPMC to the SPMD (a framework message answer).
    Framework(Regs),
    /// Something the SPMD forwards to the normal world.
    ToNwd(Regs),
}

/// What the SPMD does with one SMC from the SPMC.
enum FromSecure {
    /// The synchronous entry is over.
    Exit(SecureExit),
    /// EL3 answers the SPMC itself; its SMC returns with these registers.
    Reply(Regs),
}

/// TF-A's SPMD with an S-EL2 SPMC, and the secure CPU under it.
pub struct Spmd<S: SecureCore> {
    core: S,
    partitions: BTreeMap<EndpointId, HostedPartition>,
    attrs: SpmcManifestAttributes,
    cpus: Vec<CoreState>,
    secondary_ep: Option<u64>,
    log: Vec<String>,
    entries: Vec<Entry>,
    trace: Trace,
    step_limit: usize,
}

impl<S: SecureCore> Spmd<S> {
    /// An SPMD for `core` on a machine with `cpu_count` CPUs.
    pub fn new(
        core: S,
        attrs: SpmcManifestAttributes,
        partitions: BTreeMap<EndpointId, HostedPartition>,
        cpu_count: u16,
        trace: Trace,
    ) -> Self {
        Self {
            core,
            partitions,
            attrs,
            cpus: vec![CoreState::Reset; usize::from(cpu_count)],
            secondary_ep: None,
            log: Vec::new(),
            entries: Vec::new(),
            trace,
            step_limit: DEFAULT_STEP_LIMIT,
        }
    }

    /// Changes the hop bound of one secure-side run.
    pub fn set_step_limit(&mut self, limit: usize) {
        self.step_limit = limit;
    }

    /// TF-A's log lines (ERROR and WARN) so far.
    pub fn log(&self) -> &[String] {
        &self.log
    }

    /// Every partition entry so far, in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The SPMC state on `cpu`.
    pub fn core_state(&self, cpu: u16) -> Option<CoreState> {
        self.cpus.get(usize::from(cpu)).copied()
    }

    /// The entry point the SPMC registered for secondary CPUs, if any.
    pub fn secondary_ep(&self) -> Option<u64> {
        self.secondary_ep
    }

    /// The secure core.
    pub fn core(&self) -> &S {
        &self.core
    }

    /// The secure core, mutably.
    pub fn core_mut(&mut self) -> &mut S {
        &mut self.core
    }

    /// The hop recorder.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// `spmd_init` on the primary CPU: enters the SPMC and runs it until its first
    /// FFA_MSG_WAIT (success) or FFA_ERROR (failure).
    pub fn boot(&mut self, cpu: u16) -> Result<(), HarnessError> {
        let state = self.state_mut(cpu)?;
        *state = CoreState::OnPending;
        self.trace
            .note(format!("[cpu{cpu}] EL3 -> SPMC: cold boot"));
        let first = self.core.boot(CpuId(cpu));
        match self.run_secure(cpu, first)? {
            SecureExit::InitDone => {
                *self.state_mut(cpu)? = CoreState::On;
                Ok(())
            }
            SecureExit::InitFailed(code) => {
                self.log
                    .push(format!("ERROR: SPMC initialisation failed {code:#x}"));
                Err(HarnessError::InitFailed { code })
            }
            SecureExit::Framework(regs) | SecureExit::ToNwd(regs) => {
                Err(HarnessError::Protocol(format!(
                    "SPMC sent {} to EL3 before finishing its initialisation",
                    crate::trace::describe(&regs)
                )))
            }
        }
    }

    /// A secondary CPU the normal world powered on. The SPMC core has no warm-boot entry
    /// yet, so its state there becomes ON without an entry.
    pub fn cpu_on(&mut self, cpu: u16) -> Result<(), HarnessError> {
        *self.state_mut(cpu)? = CoreState::On;
        Ok(())
    }

    /// An SMC from the normal world (`caller` is who made it, for the trace) on `cpu`; the
    /// return value is what that caller sees in x0..x17.
    pub fn nwd_call(&mut self, cpu: u16, caller: Agent, regs: &Regs) -> Result<Regs, HarnessError> {
        self.state_mut(cpu)?;
        self.trace.hop(cpu, caller, Agent::El3, regs);
        let answer = self.nwd_smc(cpu, regs)?;
        self.trace.hop(cpu, Agent::El3, caller, &answer);
        Ok(answer)
    }

    fn nwd_smc(&mut self, cpu: u16, regs: &Regs) -> Result<Regs, HarnessError> {
        let hint = regs[0] & SVE_HINT;
        let (fid, r) = normalise(regs);
        if !is_ffa_fid(fid) {
            return Ok(el3_services::answer(fid, &r));
        }
        match fid {
            FFA_VERSION => self.nwd_version(cpu, &r),
            FFA_ID_GET => Ok(ret8(
                &r,
                [u64::from(FFA_SUCCESS_SMC32), 0, 0, 0, 0, 0, 0, 0],
            )),
            FFA_SPM_ID_GET => Ok(ret8(
                &r,
                [
                    u64::from(FFA_SUCCESS_SMC32),
                    0,
                    u64::from(self.attrs.spmc_id.0),
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )),
            FFA_SECONDARY_EP_REGISTER_SMC64
            | FFA_MSG_WAIT
            | FFA_INTERRUPT
            | FFA_MSG_YIELD
            | FFA_CONSOLE_LOG_SMC32
            | FFA_CONSOLE_LOG_SMC64
            | FFA_EL3_INTR_HANDLE => Ok(error_return(&r, NOT_SUPPORTED)),
            FFA_NORMAL_WORLD_RESUME => Ok(error_return(&r, DENIED)),
            FFA_MSG_SEND_DIRECT_REQ_SMC32
            | FFA_MSG_SEND_DIRECT_REQ_SMC64
            | FFA_MSG_SEND_DIRECT_REQ2_SMC64 => {
                let (source, _) = ffa::id::unpack_src_dst(r[1] as u32);
                if source.is_secure() {
                    Ok(error_return(&r, INVALID_PARAMETERS))
                } else {
                    self.forward(cpu, &r, hint)
                }
            }
            FFA_ERROR
            | FFA_FEATURES
            | FFA_MSG_SEND_DIRECT_RESP_SMC32
            | FFA_MSG_SEND_DIRECT_RESP_SMC64
            | FFA_MSG_SEND_DIRECT_RESP2_SMC64
            | FFA_PARTITION_INFO_GET_REGS_SMC64 => self.forward(cpu, &r, hint),
            _ if is_nwd_only(fid) || is_forwarded_both_ways(fid) => self.forward(cpu, &r, hint),
            _ => {
                self.log
                    .push(format!("WARNING: SPM: Unsupported call {fid:#010x}"));
                Ok(error_return(&r, NOT_SUPPORTED))
            }
        }
    }

    /// FFA_VERSION from the normal world: a framework request to the SPMC, unless the SPMC
    /// manifest says v1.0 (then EL3 answers).
    fn nwd_version(&mut self, cpu: u16, r: &Regs) -> Result<Regs, HarnessError> {
        let requested = r[1] as u32;
        let not_supported = NOT_SUPPORTED as u32 as u64;
        if requested & (1 << 31) != 0 || self.cpus[usize::from(cpu)] == CoreState::Reset {
            return Ok(ret8(r, [not_supported, 0, 0, 0, 0, 0, 0, 0]));
        }
        if self.attrs.version == ffa::Version(1, 0) {
            return Ok(ret8(r, [0x1_0000, 0, 0, 0, 0, 0, 0, 0]));
        }
        let mut request = [0u64; 18];
        request[0] = u64::from(FFA_MSG_SEND_DIRECT_REQ_SMC32);
        request[1] = (u64::from(EndpointId::SPMD.0) << 16) | u64::from(self.attrs.spmc_id.0);
        request[2] = FWK_VERSION_REQ;
        request[3] = u64::from(requested);
        request[8..].copy_from_slice(&r[8..]);
        let reply = self.enter_spmc(cpu, &request)?;
        let expected_ep = (u64::from(self.attrs.spmc_id.0) << 16) | u64::from(EndpointId::SPMD.0);
        let (version, upper) = match reply {
            SecureExit::Framework(a)
                if a[0] == u64::from(FFA_MSG_SEND_DIRECT_RESP_SMC32)
                    && a[1] == expected_ep
                    && a[2] == FWK_VERSION_RESP =>
            {
                (u64::from(a[3] as u32), a)
            }
            other => {
                self.log.push("ERROR: Failed to forward FFA_VERSION".into());
                self.trace.note(format!(
                    "[cpu{cpu}] EL3: bad VERSION framework reply {other:?}"
                ));
                let upper = match other {
                    SecureExit::Framework(a) | SecureExit::ToNwd(a) => a,
                    _ => request,
                };
                (not_supported, upper)
            }
        };
        // x1..x7 are zero; x8..x17 come back from the SPMC's context.
        let mut out = [0u64; 18];
        out[0] = version;
        out[8..].copy_from_slice(&upper[8..]);
        Ok(out)
    }

    /// Passes a normal-world call to the SPMC and returns what it sends back.
    fn forward(&mut self, cpu: u16, r: &Regs, hint: u64) -> Result<Regs, HarnessError> {
        let mut to_spmc = *r;
        // With an S-EL2 SPMC the SPMD passes the caller's SVE hint on.
        to_spmc[0] |= hint;
        match self.enter_spmc(cpu, &to_spmc)? {
            SecureExit::ToNwd(answer) => Ok(answer),
            other => Err(HarnessError::Protocol(format!(
                "SPMC ended a forwarded {} with {other:?}",
                crate::trace::describe(r)
            ))),
        }
    }

    /// Enters the (initialised) SPMC on `cpu` with `regs` and runs the secure side.
    fn enter_spmc(&mut self, cpu: u16, regs: &Regs) -> Result<SecureExit, HarnessError> {
        if self.cpus[usize::from(cpu)] != CoreState::On {
            return Err(HarnessError::Protocol(format!(
                "normal-world call on cpu{cpu}, where the SPMC is {:?}",
                self.cpus[usize::from(cpu)]
            )));
        }
        self.trace.hop(cpu, Agent::El3, Agent::Spmc, regs);
        let first = self.core.handle(CpuId(cpu), Caller::Spmd, regs);
        self.run_secure(cpu, first)
    }

    /// Plays out the SPMC's outcomes on `cpu` until it hands control back to EL3 for good.
    fn run_secure(&mut self, cpu: u16, first: Outcome) -> Result<SecureExit, HarnessError> {
        let mut outcome = first;
        for _ in 0..self.step_limit {
            outcome = match outcome {
                Outcome::Enter {
                    partition,
                    vcpu,
                    regs,
                } => {
                    let hosted = self
                        .partitions
                        .get_mut(&partition)
                        .filter(|p| vcpu < p.vcpus)
                        .ok_or(HarnessError::UnknownPartition {
                            id: partition.0,
                            vcpu,
                        })?;
                    self.entries.push(Entry {
                        cpu,
                        partition,
                        vcpu,
                    });
                    let sp = Agent::Partition(partition.0, vcpu);
                    self.trace.hop(cpu, Agent::Spmc, sp, &regs);
                    let call = hosted.behaviour.step(&regs, &mut hosted.env);
                    self.trace.hop(cpu, sp, Agent::Spmc, &call);
                    self.core
                        .handle(CpuId(cpu), Caller::Partition(partition), &call)
                }
                Outcome::ToSpmd(regs) => {
                    self.trace.hop(cpu, Agent::Spmc, Agent::El3, &regs);
                    match self.secure_smc(cpu, &regs)? {
                        FromSecure::Exit(exit) => return Ok(exit),
                        FromSecure::Reply(answer) => {
                            self.trace.hop(cpu, Agent::El3, Agent::Spmc, &answer);
                            self.core.handle(CpuId(cpu), Caller::Spmd, &answer)
                        }
                    }
                }
            };
        }
        self.trace
            .note(format!("[cpu{cpu}] hang after {} hops", self.step_limit));
        Err(HarnessError::Hang {
            cpu,
            steps: self.step_limit,
        })
    }

    /// An SMC from the SPMC, as `spmd_smc_handler` treats a secure-origin call.
    fn secure_smc(&mut self, cpu: u16, regs: &Regs) -> Result<FromSecure, HarnessError> {
        let (fid, r) = normalise(regs);
        if !is_ffa_fid(fid) {
            return Ok(FromSecure::Reply(el3_services::answer(fid, &r)));
        }
        let pending = self.cpus[usize::from(cpu)] == CoreState::OnPending;
        let exit = |e| Ok(FromSecure::Exit(e));
        let reply = |regs| Ok(FromSecure::Reply(regs));
        match fid {
            FFA_ERROR if pending => exit(SecureExit::InitFailed(r[2])),
            FFA_MSG_WAIT if pending => exit(SecureExit::InitDone),
            FFA_ERROR | FFA_MSG_WAIT | FFA_INTERRUPT | FFA_MSG_YIELD => exit(SecureExit::ToNwd(r)),
            FFA_VERSION => reply(ret8(&r, [0x1_0002, 0, 0, 0, 0, 0, 0, 0])),
            FFA_FEATURES => {
                let mut answer = r;
                answer[0] = u64::from(FFA_SUCCESS_SMC32);
                reply(answer)
            }
            FFA_ID_GET => reply(ret8(
                &r,
                [
                    u64::from(FFA_SUCCESS_SMC32),
                    0,
                    u64::from(self.attrs.spmc_id.0),
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )),
            FFA_SPM_ID_GET => reply(ret8(
                &r,
                [
                    u64::from(FFA_SUCCESS_SMC32),
                    0,
                    u64::from(EndpointId::SPMD.0),
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )),
            FFA_SECONDARY_EP_REGISTER_SMC64 => reply(self.register_secondary_ep(&r)),
            FFA_MSG_SEND_DIRECT_REQ_SMC32
            | FFA_MSG_SEND_DIRECT_REQ_SMC64
            | FFA_MSG_SEND_DIRECT_REQ2_SMC64 => {
                if self.is_spmc_message(r[1]) {
                    reply(error_return(&r, DENIED))
                } else {
                    exit(SecureExit::ToNwd(r))
                }
            }
            FFA_MSG_SEND_DIRECT_RESP_SMC32
            | FFA_MSG_SEND_DIRECT_RESP_SMC64
            | FFA_MSG_SEND_DIRECT_RESP2_SMC64 => {
                if self.is_spmc_message(r[1]) {
                    exit(SecureExit::Framework(r))
                } else {
                    exit(SecureExit::ToNwd(r))
                }
            }
            FFA_NORMAL_WORLD_RESUME => reply(error_return(&r, DENIED)),
            FFA_PARTITION_INFO_GET_REGS_SMC64 | FFA_CONSOLE_LOG_SMC32 | FFA_CONSOLE_LOG_SMC64 => {
                reply(error_return(&r, NOT_SUPPORTED))
            }
            FFA_EL3_INTR_HANDLE => Err(HarnessError::El3Panic(
                "FFA_EL3_INTR_HANDLE with no Group 0 interrupt pending".into(),
            )),
            _ if is_nwd_only(fid) => reply(error_return(&r, NOT_SUPPORTED)),
            _ if is_forwarded_both_ways(fid) => exit(SecureExit::ToNwd(r)),
            _ => {
                self.log
                    .push(format!("WARNING: SPM: Unsupported call {fid:#010x}"));
                reply(error_return(&r, NOT_SUPPORTED))
            }
        }
    }

    /// `spmd_pm_secondary_ep_register`: once, and only inside the SPMC image.
    fn register_secondary_ep(&mut self, r: &Regs) -> Regs {
        let ep = r[1];
        let inside = ep >= self.attrs.load_address
            && self
                .attrs
                .load_address
                .checked_add(self.attrs.binary_size)
                .is_some_and(|end| ep < end);
        if self.secondary_ep.is_some() || !inside {
            if !inside {
                self.log.push(
                    "ERROR: spmd_pm_secondary_ep_register entry point is not within image boundaries"
                        .into(),
                );
            }
            let mut out = ret8(r, [0; 8]);
            out[0] = 0xc400_0060;
            out[2] = INVALID_PARAMETERS as u32 as u64;
            return out;
        }
        self.secondary_ep = Some(ep);
        ret8(r, [u64::from(FFA_SUCCESS_SMC64), 0, 0, 0, 0, 0, 0, 0])
    }

    /// `spmd_is_spmc_message`: source is the SPMC, destination the SPMD.
    fn is_spmc_message(&self, x1: u64) -> bool {
        let (source, destination) = ffa::id::unpack_src_dst(x1 as u32);
        source == self.attrs.spmc_id && destination == EndpointId::SPMD
    }

    fn state_mut(&mut self, cpu: u16) -> Result<&mut CoreState, HarnessError> {
        self.cpus
            .get_mut(usize::from(cpu))
            .ok_or(HarnessError::NoSuchCpu(cpu))
    }
}

/// The function ID with bit 16 cleared, and the registers as the SPMD's handler sees them:
/// x0 without the hint and, for an SMC32 standard-service call, w1..w4 only.
fn normalise(regs: &Regs) -> (u32, Regs) {
    let fid = (regs[0] as u32) & !(SVE_HINT as u32);
    let mut r = *regs;
    r[0] = u64::from(fid);
    let smc32 = fid & (1 << 30) == 0;
    let standard = (fid >> 24) & 0x3f == OEN_STANDARD;
    if smc32 && standard {
        for x in &mut r[1..=4] {
            *x &= u64::from(u32::MAX);
        }
    }
    (fid, r)
}

/// TF-A's `is_ffa_fid` within the standard service: fast calls numbered 0x60..=0x8E.
fn is_ffa_fid(fid: u32) -> bool {
    let fast = fid & (1 << 31) != 0;
    let standard = (fid >> 24) & 0x3f == OEN_STANDARD;
    let num = fid & 0xffff;
    fast && standard && (FFA_FNUM_MIN..=FFA_FNUM_MAX).contains(&num)
}

/// Calls only the normal world may make: forwarded from it, NOT_SUPPORTED from the SPMC.
fn is_nwd_only(fid: u32) -> bool {
    matches!(
        fid,
        FFA_RX_RELEASE
            | FFA_RXTX_MAP_SMC32
            | FFA_RXTX_MAP_SMC64
            | FFA_RXTX_UNMAP
            | FFA_PARTITION_INFO_GET
            | FFA_NOTIFICATION_BITMAP_CREATE
            | FFA_NOTIFICATION_BITMAP_DESTROY
            | FFA_NOTIFICATION_BIND
            | FFA_NOTIFICATION_UNBIND
            | FFA_NOTIFICATION_SET
            | FFA_NOTIFICATION_GET
            | FFA_NOTIFICATION_INFO_GET
            | FFA_NOTIFICATION_INFO_GET_SMC64
            | FFA_MSG_SEND2
            | FFA_RX_ACQUIRE
            | FFA_MSG_RUN
    )
}

/// Calls forwarded to the other world whichever side makes them.
fn is_forwarded_both_ways(fid: u32) -> bool {
    matches!(
        fid,
        FFA_MSG_SEND
            | FFA_MEM_DONATE_SMC32
            | FFA_MEM_DONATE_SMC64
            | FFA_MEM_LEND_SMC32
            | FFA_MEM_LEND_SMC64
            | FFA_MEM_SHARE_SMC32
            | FFA_MEM_SHARE_SMC64
            | FFA_MEM_RETRIEVE_REQ_SMC32
            | FFA_MEM_RETRIEVE_REQ_SMC64
            | FFA_MEM_RETRIEVE_RESP
            | FFA_MEM_RELINQUISH
            | FFA_MEM_RECLAIM
            | FFA_MEM_FRAG_TX
            | FFA_MEM_FRAG_RX
            | FFA_SUCCESS_SMC32
            | FFA_SUCCESS_SMC64
    )
}

/// `SMC_RET8`: x0..x7 written, x8..x17 keep the caller's values.
fn ret8(caller: &Regs, x0_x7: [u64; 8]) -> Regs {
    let mut out = *caller;
    out[..8].copy_from_slice(&x0_x7);
    out
}

/// `spmd_ffa_error_return`: FFA_ERROR with `code` in w2.
fn error_return(caller: &Regs, code: i32) -> Regs {
    ret8(
        caller,
        [
            u64::from(FFA_ERROR),
            0,
            u64::from(code as u32),
            0,
            0,
            0,
            0,
            0,
        ],
    )
}
