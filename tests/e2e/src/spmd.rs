//! A model of TF-A v2.12's SPMD (`services/std_svc/spmd/spmd_main.c`) with an S-EL2 SPMC, and of
//! the secure CPU under it: the SPMC core's outcomes drive the partitions.
//!
//! [`Spmd::boot`] cold-boots the SPMC on the primary CPU, [`Spmd::cpu_on`] and
//! [`Spmd::cpu_off`] play PSCI CPU_ON and CPU_OFF of a CPU (`spmd_pm.c`). Normal-world SMCs
//! come in through [`Spmd::nwd_call`]. The SPMD answers some at EL3, refuses
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
use crate::memory::PartitionMemory;
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

/// The framework-message bit of w2, the two VERSION framework messages and the PSCI one.
const FWK_MSG_BIT: u64 = 1 << 31;
const FWK_PSCI: u64 = FWK_MSG_BIT;
const PSCI_CPU_OFF: u64 = 0x8400_0002;
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
    /// Warm boot of a secondary CPU (entered at the registered secondary entry point).
    fn cpu_on(&mut self, cpu: CpuId) -> Outcome;
    /// One call from the SPMD or from the partition running on `cpu`.
    fn handle(&mut self, cpu: CpuId, caller: Caller, regs: &Regs) -> Outcome;
    /// The context running on `cpu` took a fault it cannot handle.
    fn abort_running(&mut self, cpu: CpuId) -> Outcome;
    /// The next finished FFA_CONSOLE_LOG line, with the partition that logged it.
    fn take_console_line(&mut self) -> Option<(EndpointId, String)> {
        None
    }
}

impl<P: Platform> SecureCore for Spmc<P> {
    fn boot(&mut self, cpu: CpuId) -> Outcome {
        Spmc::boot(self, cpu)
    }

    fn cpu_on(&mut self, cpu: CpuId) -> Outcome {
        Spmc::cpu_on(self, cpu)
    }

    fn handle(&mut self, cpu: CpuId, caller: Caller, regs: &Regs) -> Outcome {
        Spmc::handle(self, cpu, caller, regs)
    }

    fn abort_running(&mut self, cpu: CpuId) -> Outcome {
        Spmc::abort_running(self, cpu)
    }

    fn take_console_line(&mut self) -> Option<(EndpointId, String)> {
        // No clock in-process: a partition prints at most its burst per stack, which no
        // scenario comes near.
        Spmc::take_console_line(self, 0).map(|line| {
            (
                line.partition,
                String::from_utf8_lossy(&line.text).into_owned(),
            )
        })
    }
}

/// A partition the secure CPU can run: the behaviour of each execution context and the
/// memory they reach. A context the SPMC starts afresh is told so ([`TestPartition::start`]);
/// one that takes a fault it cannot handle (`SpEnv::crash`) is reported to the SPMC with
/// `abort_running` instead of its call, as the arch layer does on a real fault.
pub struct HostedPartition {
    /// What each execution context does when entered, by index.
    pub contexts: Vec<Box<dyn TestPartition>>,
    /// Its memory (own window `[load_address, +memory_size)` and manifest regions).
    pub env: PartitionMemory,
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
    /// Powered off (CPU_OFF), or its warm boot failed.
    Off,
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
    /// Where the SPMC started it afresh (`None`: resumed).
    pub start: Option<u64>,
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
    /// Boxed: the SPMC core is tens of KiB, moved around by value otherwise.
    core: Box<S>,
    partitions: BTreeMap<EndpointId, HostedPartition>,
    attrs: SpmcManifestAttributes,
    cpus: Vec<CoreState>,
    secondary_ep: Option<u64>,
    image_secondary_ep: Option<u64>,
    log: Vec<String>,
    console: Vec<String>,
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
            core: Box::new(core),
            partitions,
            attrs,
            cpus: vec![CoreState::Reset; usize::from(cpu_count)],
            secondary_ep: None,
            image_secondary_ep: None,
            log: Vec::new(),
            console: Vec::new(),
            entries: Vec::new(),
            trace,
            step_limit: DEFAULT_STEP_LIMIT,
        }
    }

    /// The warm-boot entry the SPMC image registers with FFA_SECONDARY_EP_REGISTER_64 before
    /// its core initialises (its arch layer does; the core has no address of its own). With
    /// none, TF-A enters a powered-on CPU at the cold-boot entry again.
    pub fn set_image_secondary_entry(&mut self, ep: Option<u64>) {
        self.image_secondary_ep = ep;
    }

    /// Changes the hop bound of one secure-side run.
    pub fn set_step_limit(&mut self, limit: usize) {
        self.step_limit = limit;
    }

    /// TF-A's log lines (ERROR and WARN) so far.
    pub fn log(&self) -> &[String] {
        &self.log
    }

    /// The partitions' console lines so far (`[id cpu] text`, as the secure UART shows them).
    pub fn console(&self) -> &[String] {
        &self.console
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
        if let Some(ep) = self.image_secondary_ep {
            let mut register = [0u64; 18];
            register[0] = u64::from(FFA_SECONDARY_EP_REGISTER_SMC64);
            register[1] = ep;
            self.trace.hop(cpu, Agent::Spmc, Agent::El3, &register);
            let answer = match self.secure_smc(cpu, &register)? {
                FromSecure::Reply(answer) => answer,
                FromSecure::Exit(exit) => {
                    return Err(HarnessError::Protocol(format!(
                        "FFA_SECONDARY_EP_REGISTER_64 ended the SPMC's entry: {exit:?}"
                    )));
                }
            };
            self.trace.hop(cpu, Agent::El3, Agent::Spmc, &answer);
            if answer[0] != u64::from(FFA_SUCCESS_SMC64) {
                return Err(HarnessError::Protocol(format!(
                    "the SPMC image's secondary entry {ep:#x} was refused"
                )));
            }
        }
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

    /// PSCI CPU_ON of a secondary CPU, as `spmd_cpu_on_finish_handler` follows it: the SPMC
    /// is entered on that CPU at its registered secondary entry (at its cold-boot entry if it
    /// registered none) and runs until FFA_MSG_WAIT (ON) or FFA_ERROR (the CPU's SPMC state
    /// is OFF, an error is logged).
    pub fn cpu_on(&mut self, cpu: u16) -> Result<(), HarnessError> {
        let state = self.state_mut(cpu)?;
        if !matches!(*state, CoreState::Reset | CoreState::Off) {
            return Err(HarnessError::Protocol(format!(
                "PSCI CPU_ON of cpu{cpu}, which is {state:?}"
            )));
        }
        *state = CoreState::OnPending;
        let first = match self.secondary_ep {
            Some(ep) => {
                self.trace
                    .note(format!("[cpu{cpu}] EL3 -> SPMC: warm boot at {ep:#x}"));
                self.core.cpu_on(CpuId(cpu))
            }
            None => {
                self.trace.note(format!(
                    "[cpu{cpu}] EL3 -> SPMC: cold-boot entry (none registered)"
                ));
                self.core.boot(CpuId(cpu))
            }
        };
        match self.run_secure(cpu, first)? {
            SecureExit::InitDone => {
                *self.state_mut(cpu)? = CoreState::On;
                Ok(())
            }
            SecureExit::InitFailed(code) => {
                *self.state_mut(cpu)? = CoreState::Off;
                self.log.push(format!(
                    "ERROR: spmd_cpu_on_finish_handler failed ({code:#x}) on CPU{cpu}"
                ));
                Err(HarnessError::InitFailed { code })
            }
            SecureExit::Framework(regs) | SecureExit::ToNwd(regs) => {
                Err(HarnessError::Protocol(format!(
                    "SPMC sent {} to EL3 before finishing its warm boot on cpu{cpu}",
                    crate::trace::describe(&regs)
                )))
            }
        }
    }

    /// PSCI CPU_OFF of `cpu`, as `spmd_cpu_off_handler` sends it to the SPMC: a PSCI framework
    /// message (x8..x17 cleared) that must be answered by FFA_MSG_SEND_DIRECT_RESP_SMC32
    /// (only x0 is checked). Any other answer is logged and the CPU stays on (PSCI then
    /// refuses the CPU_OFF).
    pub fn cpu_off(&mut self, cpu: u16) -> Result<(), HarnessError> {
        self.state_mut(cpu)?;
        let mut request = [0u64; 18];
        request[0] = u64::from(FFA_MSG_SEND_DIRECT_REQ_SMC32);
        request[1] = (u64::from(EndpointId::SPMD.0) << 16) | u64::from(self.attrs.spmc_id.0);
        request[2] = FWK_PSCI;
        request[3] = PSCI_CPU_OFF;
        self.trace
            .note(format!("[cpu{cpu}] EL3 -> SPMC: PSCI CPU_OFF"));
        match self.enter_spmc(cpu, &request)? {
            SecureExit::Framework(answer) | SecureExit::ToNwd(answer)
                if answer[0] == u64::from(FFA_MSG_SEND_DIRECT_RESP_SMC32) =>
            {
                *self.state_mut(cpu)? = CoreState::Off;
                Ok(())
            }
            other => {
                self.log.push(format!(
                    "ERROR: spmd_cpu_off_handler invalid SPMC response ({other:?})"
                ));
                Err(HarnessError::Protocol(format!(
                    "CPU_OFF of cpu{cpu} answered {other:?}"
                )))
            }
        }
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
            // SMC_RET1: the caller's own x1..x17 come back, whatever width the handler read.
            return Ok(el3_services::answer(fid, regs));
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
                    start,
                } => {
                    let hosted = self.partitions.get_mut(&partition);
                    let Some((context, env)) = hosted.and_then(|p| {
                        p.contexts
                            .get_mut(usize::from(vcpu))
                            .map(|c| (c, &mut p.env))
                    }) else {
                        return Err(HarnessError::UnknownPartition {
                            id: partition.0,
                            vcpu,
                        });
                    };
                    self.entries.push(Entry {
                        cpu,
                        partition,
                        vcpu,
                        start,
                    });
                    let sp = Agent::Partition(partition.0, vcpu);
                    if let Some(pc) = start {
                        self.trace
                            .note(format!("[cpu{cpu}] {sp} starts at {pc:#x}"));
                        context.start(pc);
                    }
                    self.trace.hop(cpu, Agent::Spmc, sp, &regs);
                    let call = context.step(&regs, env);
                    let next = if env.take_crash() {
                        self.trace
                            .note(format!("[cpu{cpu}] {sp} faults with no vector: abort"));
                        self.core.abort_running(CpuId(cpu))
                    } else {
                        self.trace.hop(cpu, sp, Agent::Spmc, &call);
                        self.core
                            .handle(CpuId(cpu), Caller::Partition(partition), &call)
                    };
                    self.drain_console(cpu);
                    next
                }
                // Only an interrupt's preemption is resumed this way, and nothing interrupts a
                // partition in-process.
                Outcome::Resume {
                    partition, vcpu, ..
                } => {
                    return Err(HarnessError::Protocol(format!(
                        "SPMC resumed {:#06x}/{vcpu} after an interrupt, and none happened",
                        partition.0
                    )));
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
            return Ok(FromSecure::Reply(el3_services::answer(fid, regs)));
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

    fn drain_console(&mut self, cpu: u16) {
        while let Some((id, text)) = self.core.take_console_line() {
            let line = format!("[{:#06x} {cpu}] {text}", id.0);
            self.trace.note(format!("console {line}"));
            self.console.push(line);
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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::memory::{SimMemory, Space};

    const SP: EndpointId = EndpointId(0x8001);

    type Handler = Box<dyn FnMut(CpuId, Caller, &Regs) -> Outcome>;

    /// A stand-in for the SPMC core: boots by entering [`SP`], then does what `handler` says;
    /// records every call it gets.
    struct ScriptedCore {
        handler: Handler,
        seen: Rc<RefCell<Vec<(Caller, Regs)>>>,
        /// CPUs `abort_running` was called on.
        aborts: Vec<CpuId>,
    }

    impl SecureCore for ScriptedCore {
        fn boot(&mut self, _cpu: CpuId) -> Outcome {
            Outcome::Enter {
                partition: SP,
                vcpu: 0,
                regs: regs(&[]),
                start: Some(0x0e30_4000),
            }
        }

        /// Nothing to start on secondary CPUs: initialised at once.
        fn cpu_on(&mut self, _cpu: CpuId) -> Outcome {
            Outcome::ToSpmd(msg_wait())
        }

        fn handle(&mut self, cpu: CpuId, caller: Caller, r: &Regs) -> Outcome {
            self.seen.borrow_mut().push((caller, *r));
            (self.handler)(cpu, caller, r)
        }

        /// The requester (always the normal world here) gets ABORTED.
        fn abort_running(&mut self, cpu: CpuId) -> Outcome {
            self.aborts.push(cpu);
            Outcome::ToSpmd(ffa::call::error(ffa::FfaError::Aborted))
        }
    }

    /// A partition that makes the same call whenever it runs.
    struct Repeats(Regs);

    impl TestPartition for Repeats {
        fn step(&mut self, _entry: &Regs, _env: &mut dyn test_partitions::SpEnv) -> Regs {
            self.0
        }
    }

    fn regs(x: &[u64]) -> Regs {
        let mut r = [0u64; 18];
        r[..x.len()].copy_from_slice(x);
        r
    }

    fn with_upper(mut r: Regs, marker: u64) -> Regs {
        for (i, x) in r[8..].iter_mut().enumerate() {
            *x = marker + i as u64;
        }
        r
    }

    fn msg_wait() -> Regs {
        regs(&[u64::from(FFA_MSG_WAIT)])
    }

    type Seen = Rc<RefCell<Vec<(Caller, Regs)>>>;

    /// An SPMD over a scripted core whose single partition calls `sp_call` on every entry.
    fn model(sp_call: Regs, handler: Handler) -> (Spmd<ScriptedCore>, Seen) {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let memory = SimMemory::new();
        let mut partitions = BTreeMap::new();
        partitions.insert(
            SP,
            HostedPartition {
                contexts: vec![Box::new(Repeats(sp_call))],
                env: PartitionMemory::new(
                    memory.range_view(Space::Secure, 0x0e30_0000..0x0e40_0000),
                    Vec::new(),
                ),
            },
        );
        let core = ScriptedCore {
            handler,
            seen: seen.clone(),
            aborts: Vec::new(),
        };
        let attrs = SpmcManifestAttributes::qemu(EndpointId(0x8000), ffa::Version(1, 2));
        (
            Spmd::new(core, attrs, partitions, 4, Trace::new(false)),
            seen,
        )
    }

    /// A booted model: the partition's MSG_WAIT ends init; later SPMD calls go to `runtime`.
    fn booted(mut runtime: Handler) -> (Spmd<ScriptedCore>, Seen) {
        let (mut spmd, seen) = model(
            msg_wait(),
            Box::new(move |cpu, caller, r| match caller {
                Caller::Partition(_) => Outcome::ToSpmd(*r),
                Caller::Spmd => runtime(cpu, caller, r),
            }),
        );
        spmd.set_image_secondary_entry(Some(0x0e10_0800));
        spmd.boot(0).unwrap();
        for cpu in 1..4 {
            spmd.cpu_on(cpu).unwrap();
        }
        seen.borrow_mut().clear();
        (spmd, seen)
    }

    fn never_called() -> Handler {
        Box::new(|_, _, r| panic!("the SPMC was entered with {r:x?}"))
    }

    #[test]
    fn boot_ends_at_the_first_msg_wait() {
        let (spmd, _) = booted(never_called());
        assert_eq!(spmd.core_state(0), Some(CoreState::On));
        assert_eq!(
            spmd.entries(),
            &[Entry {
                cpu: 0,
                partition: SP,
                vcpu: 0,
                start: Some(0x0e30_4000),
            }]
        );
        assert!(spmd.log().is_empty());
    }

    #[test]
    fn cpu_off_is_a_psci_framework_message() {
        let reply = |regs: Regs| -> Handler { Box::new(move |_, _, _| Outcome::ToSpmd(regs)) };
        let response = regs(&[
            u64::from(FFA_MSG_SEND_DIRECT_RESP_SMC32),
            0x8000_ffff,
            0x8000_0002,
        ]);
        let (mut spmd, seen) = booted(reply(response));
        spmd.cpu_off(2).unwrap();
        assert_eq!(
            seen.borrow().as_slice(),
            &[(
                Caller::Spmd,
                regs(&[
                    u64::from(FFA_MSG_SEND_DIRECT_REQ_SMC32),
                    0xffff_8000,
                    0x8000_0000,
                    0x8400_0002
                ])
            )]
        );
        assert_eq!(spmd.core_state(2), Some(CoreState::Off));
        // Off: no calls there, and a second CPU_OFF is a protocol error; CPU_ON brings it back.
        assert!(matches!(
            spmd.nwd_call(2, Agent::Host, &regs(&[u64::from(FFA_FEATURES)])),
            Err(HarnessError::Protocol(_))
        ));
        assert!(spmd.cpu_off(2).is_err());
        spmd.cpu_on(2).unwrap();
        assert_eq!(spmd.core_state(2), Some(CoreState::On));
        assert!(matches!(spmd.cpu_on(2), Err(HarnessError::Protocol(_))));
        // Any other answer than DIRECT_RESP_SMC32 keeps the CPU on, with TF-A's error.
        let (mut spmd, _) = booted(reply(regs(&[u64::from(FFA_ERROR), 0, 0xffff_ffff])));
        assert!(matches!(spmd.cpu_off(1), Err(HarnessError::Protocol(_))));
        assert_eq!(spmd.core_state(1), Some(CoreState::On));
        assert!(spmd.log()[0].contains("spmd_cpu_off_handler invalid SPMC response"));
    }

    #[test]
    fn boot_error_is_init_failure() {
        let (mut spmd, _) = model(
            regs(&[u64::from(FFA_ERROR), 0, INVALID_PARAMETERS as u32 as u64]),
            Box::new(|_, _, r| Outcome::ToSpmd(*r)),
        );
        assert_eq!(
            spmd.boot(0),
            Err(HarnessError::InitFailed {
                code: INVALID_PARAMETERS as u32 as u64
            })
        );
        assert_eq!(spmd.log(), ["ERROR: SPMC initialisation failed 0xfffffffe"]);
    }

    #[test]
    fn boot_may_ask_el3_first() {
        // The SPMC asks EL3 for its ID, registers its secondary entry, then waits.
        let step = Rc::new(RefCell::new(0));
        let (mut spmd, seen) = model(
            msg_wait(),
            Box::new(move |_, caller, _| {
                let mut n = step.borrow_mut();
                *n += 1;
                match (*n, caller) {
                    (1, Caller::Partition(_)) => Outcome::ToSpmd(regs(&[u64::from(FFA_ID_GET)])),
                    (2, Caller::Spmd) => Outcome::ToSpmd(regs(&[
                        u64::from(FFA_SECONDARY_EP_REGISTER_SMC64),
                        0x0e10_1000,
                    ])),
                    (3, Caller::Spmd) => Outcome::ToSpmd(regs(&[
                        u64::from(FFA_SECONDARY_EP_REGISTER_SMC64),
                        0x0e10_2000,
                    ])),
                    _ => Outcome::ToSpmd(msg_wait()),
                }
            }),
        );
        spmd.boot(0).unwrap();
        let seen = seen.borrow();
        assert_eq!(seen[1].1[..3], [u64::from(FFA_SUCCESS_SMC32), 0, 0x8000]);
        assert_eq!(seen[2].1[0], u64::from(FFA_SUCCESS_SMC64));
        assert_eq!(seen[3].1[0], 0xc400_0060, "the entry point is write-once");
        assert_eq!(seen[3].1[2], INVALID_PARAMETERS as u32 as u64);
        assert_eq!(spmd.secondary_ep(), Some(0x0e10_1000));
    }

    #[test]
    fn secondary_ep_outside_the_image_is_refused() {
        let (mut spmd, seen) = model(
            regs(&[u64::from(FFA_SECONDARY_EP_REGISTER_SMC64), 0x0e30_0000]),
            Box::new(|_, caller, r| match caller {
                Caller::Partition(_) => Outcome::ToSpmd(*r),
                Caller::Spmd => Outcome::ToSpmd(msg_wait()),
            }),
        );
        spmd.boot(0).unwrap();
        assert_eq!(seen.borrow()[1].1[2], INVALID_PARAMETERS as u32 as u64);
        assert_eq!(spmd.secondary_ep(), None);
        assert!(spmd.log()[0].contains("not within image boundaries"));
    }

    #[test]
    fn version_is_a_framework_round_trip() {
        let (mut spmd, seen) = booted(Box::new(|_, _, r| {
            let mut answer = *r;
            answer[..8].copy_from_slice(&[
                u64::from(FFA_MSG_SEND_DIRECT_RESP_SMC32),
                0x8000_ffff,
                FWK_VERSION_RESP,
                0x1_0002,
                0,
                0,
                0,
                0,
            ]);
            Outcome::ToSpmd(answer)
        }));
        let call = with_upper(regs(&[u64::from(FFA_VERSION), 0x1_0001]), 0x100);
        let answer = spmd.nwd_call(0, Agent::Host, &call).unwrap();
        let expected_request = with_upper(
            regs(&[
                u64::from(FFA_MSG_SEND_DIRECT_REQ_SMC32),
                0xffff_8000,
                FWK_VERSION_REQ,
                0x1_0001,
            ]),
            0x100,
        );
        assert_eq!(
            seen.borrow().as_slice(),
            &[(Caller::Spmd, expected_request)]
        );
        assert_eq!(answer, with_upper(regs(&[0x1_0002]), 0x100));
        assert!(spmd.log().is_empty());
    }

    #[test]
    fn version_with_a_wrong_reply_is_not_supported() {
        let bad_replies: [Regs; 5] = [
            // x2 is not the VERSION response.
            regs(&[
                u64::from(FFA_MSG_SEND_DIRECT_RESP_SMC32),
                0x8000_ffff,
                0x8000_0002,
                0x1_0002,
            ]),
            // Endpoints swapped: not a framework response, the SPMD would forward it.
            regs(&[
                u64::from(FFA_MSG_SEND_DIRECT_RESP_SMC32),
                0xffff_8000,
                FWK_VERSION_RESP,
                0x1_0002,
            ]),
            // SMC64 response.
            regs(&[
                u64::from(FFA_MSG_SEND_DIRECT_RESP_SMC64),
                0x8000_ffff,
                FWK_VERSION_RESP,
                0x1_0002,
            ]),
            // An error instead.
            regs(&[u64::from(FFA_ERROR), 0, NOT_SUPPORTED as u32 as u64]),
            // A plain success, which the SPMD would forward to the normal world.
            regs(&[u64::from(FFA_SUCCESS_SMC32), 0, 0x1_0002]),
        ];
        for bad in bad_replies {
            let (mut spmd, _) = booted(Box::new(move |_, _, _| Outcome::ToSpmd(bad)));
            let answer = spmd
                .nwd_call(0, Agent::Host, &regs(&[u64::from(FFA_VERSION), 0x1_0002]))
                .unwrap();
            assert_eq!(answer[0], 0xffff_ffff, "reply {bad:x?}");
            assert_eq!(&answer[1..8], &[0; 7]);
            assert_eq!(spmd.log(), ["ERROR: Failed to forward FFA_VERSION"]);
        }
    }

    #[test]
    fn version_bit31_or_before_boot_is_refused_at_el3() {
        let (mut spmd, _) = booted(never_called());
        let answer = spmd
            .nwd_call(
                0,
                Agent::Host,
                &regs(&[u64::from(FFA_VERSION), 0x8001_0002]),
            )
            .unwrap();
        assert_eq!(answer[0], 0xffff_ffff);
        let (mut unbooted, _) = model(msg_wait(), never_called());
        let answer = unbooted
            .nwd_call(0, Agent::Host, &regs(&[u64::from(FFA_VERSION), 0x1_0002]))
            .unwrap();
        assert_eq!(answer[0], 0xffff_ffff);
    }

    #[test]
    fn spmc_manifest_v1_0_makes_el3_answer_version() {
        let (mut spmd, _) = booted(never_called());
        spmd.attrs.version = ffa::Version(1, 0);
        let answer = spmd
            .nwd_call(0, Agent::Host, &regs(&[u64::from(FFA_VERSION), 0x1_0002]))
            .unwrap();
        assert_eq!(answer[0], 0x1_0000);
    }

    #[test]
    fn id_get_and_spm_id_get_are_answered_at_el3() {
        let (mut spmd, _) = booted(never_called());
        let call = with_upper(regs(&[u64::from(FFA_ID_GET), 5, 6, 7]), 0x40);
        let answer = spmd.nwd_call(2, Agent::Host, &call).unwrap();
        assert_eq!(
            answer,
            with_upper(regs(&[u64::from(FFA_SUCCESS_SMC32)]), 0x40)
        );
        let answer = spmd
            .nwd_call(1, Agent::Host, &regs(&[u64::from(FFA_SPM_ID_GET)]))
            .unwrap();
        assert_eq!(answer[..3], [u64::from(FFA_SUCCESS_SMC32), 0, 0x8000]);
    }

    #[test]
    fn spoofed_secure_source_is_rejected_at_el3() {
        let (mut spmd, seen) = booted(Box::new(|_, _, r| {
            let mut answer = *r;
            answer[0] = u64::from(FFA_MSG_SEND_DIRECT_RESP_SMC32);
            answer[1] = 0x8001_0001;
            Outcome::ToSpmd(answer)
        }));
        for fid in [
            FFA_MSG_SEND_DIRECT_REQ_SMC32,
            FFA_MSG_SEND_DIRECT_REQ_SMC64,
            FFA_MSG_SEND_DIRECT_REQ2_SMC64,
        ] {
            let answer = spmd
                .nwd_call(0, Agent::Host, &regs(&[u64::from(fid), 0x8002_8001, 0, 1]))
                .unwrap();
            assert_eq!(
                answer[..3],
                [u64::from(FFA_ERROR), 0, 0xffff_fffe],
                "{fid:#x}"
            );
        }
        assert!(seen.borrow().is_empty(), "nothing reached the SPMC");
        // A normal-world source goes through.
        let answer = spmd
            .nwd_call(
                0,
                Agent::Host,
                &regs(&[u64::from(FFA_MSG_SEND_DIRECT_REQ_SMC32), 0x0001_8001, 0, 1]),
            )
            .unwrap();
        assert_eq!(
            answer[..2],
            [u64::from(FFA_MSG_SEND_DIRECT_RESP_SMC32), 0x8001_0001]
        );
        assert_eq!(seen.borrow().len(), 1);
    }

    #[test]
    fn secure_only_calls_from_the_normal_world_are_refused() {
        let (mut spmd, seen) = booted(never_called());
        let cases = [
            (FFA_MSG_WAIT, NOT_SUPPORTED),
            (FFA_MSG_YIELD, NOT_SUPPORTED),
            (FFA_INTERRUPT, NOT_SUPPORTED),
            (FFA_SECONDARY_EP_REGISTER_SMC64, NOT_SUPPORTED),
            (FFA_CONSOLE_LOG_SMC32, NOT_SUPPORTED),
            (FFA_EL3_INTR_HANDLE, NOT_SUPPORTED),
            (FFA_NORMAL_WORLD_RESUME, DENIED),
            // MEM_OP_RESUME: in FF-A's range, unknown to TF-A v2.12.
            (0x8400_0079, NOT_SUPPORTED),
        ];
        for (fid, code) in cases {
            let answer = spmd
                .nwd_call(0, Agent::Host, &regs(&[u64::from(fid)]))
                .unwrap();
            assert_eq!(
                answer[..3],
                [u64::from(FFA_ERROR), 0, code as u32 as u64],
                "{fid:#x}"
            );
        }
        assert!(seen.borrow().is_empty());
        assert_eq!(spmd.log(), ["WARNING: SPM: Unsupported call 0x84000079"]);
    }

    #[test]
    fn non_ffa_smcs_go_to_other_services() {
        let (mut spmd, seen) = booted(never_called());
        let answer = spmd
            .nwd_call(0, Agent::Host, &regs(&[0x8400_0000, 9]))
            .unwrap();
        assert_eq!(answer[..2], [0x1_0001, 9]);
        // Function number 0x8f is past FF-A's range in TF-A v2.12: an unknown standard call.
        let answer = spmd
            .nwd_call(0, Agent::Host, &regs(&[0x8400_008f]))
            .unwrap();
        assert_eq!(answer[0], u64::MAX);
        assert!(seen.borrow().is_empty());
    }

    #[test]
    fn forwarding_passes_x0_x17_and_the_sve_hint() {
        let (mut spmd, seen) = booted(Box::new(|_, _, r| {
            let mut answer = *r;
            answer[0] = u64::from(FFA_SUCCESS_SMC64) | SVE_HINT;
            answer[7] = 0x77;
            Outcome::ToSpmd(answer)
        }));
        let call = with_upper(
            regs(&[
                u64::from(FFA_RXTX_MAP_SMC64) | SVE_HINT,
                0x1_4800_0000,
                0x1_4800_1000,
                1,
                4,
                5,
                6,
                7,
            ]),
            0x200,
        );
        let answer = spmd.nwd_call(3, Agent::Proxy, &call).unwrap();
        assert_eq!(
            seen.borrow()[0],
            (Caller::Spmd, call),
            "the SPMC sees the hint"
        );
        let mut expected = call;
        expected[0] = u64::from(FFA_SUCCESS_SMC64);
        expected[7] = 0x77;
        assert_eq!(
            answer, expected,
            "x0 without the hint, x1..x17 as the SPMC left them"
        );
    }

    #[test]
    fn smc32_calls_lose_the_upper_halves_of_x1_x4() {
        let (mut spmd, seen) = booted(Box::new(|_, _, r| {
            let mut answer = *r;
            answer[0] = u64::from(FFA_SUCCESS_SMC32);
            answer[1] = 0xdead_0000_0000_0001;
            Outcome::ToSpmd(answer)
        }));
        let call = regs(&[
            u64::from(FFA_FEATURES),
            0xffff_0000_8400_0063,
            0x1_0000_0002,
            3,
            4,
            0x5_0000_0005,
        ]);
        let answer = spmd.nwd_call(0, Agent::Host, &call).unwrap();
        let to_spmc = seen.borrow()[0].1;
        assert_eq!(to_spmc[1..6], [0x8400_0063, 2, 3, 4, 0x5_0000_0005]);
        assert_eq!(answer[1], 1);
    }

    /// A partition that makes the scripted calls in turn, then repeats the last one.
    struct Script(Vec<Regs>, usize);

    impl TestPartition for Script {
        fn step(&mut self, _entry: &Regs, _env: &mut dyn test_partitions::SpEnv) -> Regs {
            let call = self.0[self.1.min(self.0.len() - 1)];
            self.1 += 1;
            call
        }
    }

    /// The SPMC resumes a partition that yields, forever: the secure side never answers.
    fn resumes_on_yield() -> Handler {
        Box::new(|_, caller, r| match caller {
            Caller::Partition(_) if r[0] == u64::from(FFA_MSG_WAIT) => Outcome::ToSpmd(*r),
            _ => Outcome::Enter {
                partition: SP,
                vcpu: 0,
                regs: regs(&[u64::from(FFA_SUCCESS_SMC32)]),
                start: None,
            },
        })
    }

    #[test]
    fn a_partition_that_never_answers_is_a_hang() {
        let (mut spmd, _) = model(msg_wait(), resumes_on_yield());
        // Boot with a partition that yields instead of finishing its initialisation.
        spmd.partitions.get_mut(&SP).unwrap().contexts[0] =
            Box::new(Script(vec![regs(&[u64::from(FFA_MSG_YIELD)])], 0));
        spmd.set_step_limit(300);
        assert_eq!(spmd.boot(0), Err(HarnessError::Hang { cpu: 0, steps: 300 }));

        // At run time: the partition initialises, then yields whenever it is asked anything.
        let (mut spmd, _) = model(msg_wait(), resumes_on_yield());
        spmd.partitions.get_mut(&SP).unwrap().contexts[0] = Box::new(Script(
            vec![msg_wait(), regs(&[u64::from(FFA_MSG_YIELD)])],
            0,
        ));
        spmd.set_step_limit(500);
        spmd.set_image_secondary_entry(Some(0x0e10_0800));
        spmd.boot(0).unwrap();
        spmd.cpu_on(1).unwrap();
        let call = regs(&[u64::from(FFA_MSG_SEND_DIRECT_REQ_SMC32), 0x0000_8001]);
        assert_eq!(
            spmd.nwd_call(1, Agent::Host, &call),
            Err(HarnessError::Hang { cpu: 1, steps: 500 })
        );
    }

    /// Waits at boot, then crashes on the first request it gets (making `call` afterwards).
    struct CrashesOnRequest(bool, Regs);

    impl TestPartition for CrashesOnRequest {
        fn step(&mut self, _entry: &Regs, env: &mut dyn test_partitions::SpEnv) -> Regs {
            if std::mem::replace(&mut self.0, true) {
                env.crash();
                self.1
            } else {
                msg_wait()
            }
        }
    }

    #[test]
    fn a_partition_fault_it_cannot_handle_is_reported_instead_of_its_call() {
        let enter = |_: CpuId, caller: Caller, r: &Regs| match caller {
            Caller::Spmd => Outcome::Enter {
                partition: SP,
                vcpu: 0,
                regs: *r,
                start: None,
            },
            Caller::Partition(_) => Outcome::ToSpmd(*r),
        };
        let (mut spmd, seen) = model(msg_wait(), Box::new(enter));
        let never_made = regs(&[u64::from(FFA_MSG_SEND_DIRECT_RESP_SMC32), 0x8001_0000, 0, 7]);
        spmd.partitions.get_mut(&SP).unwrap().contexts[0] =
            Box::new(CrashesOnRequest(false, never_made));
        spmd.set_image_secondary_entry(Some(0x0e10_0800));
        spmd.boot(0).unwrap();
        spmd.cpu_on(2).unwrap();
        seen.borrow_mut().clear();
        let call = regs(&[u64::from(FFA_MSG_SEND_DIRECT_REQ_SMC32), 0x0000_8001]);
        let answer = spmd.nwd_call(2, Agent::Host, &call).unwrap();
        assert_eq!(
            answer[..3],
            [u64::from(FFA_ERROR), 0, 0xffff_fff8],
            "ABORTED"
        );
        assert_eq!(spmd.core().aborts, [CpuId(2)]);
        assert!(
            seen.borrow().iter().all(|(_, r)| *r != never_made),
            "the SPMC never sees the call the crashed step returned"
        );
    }

    #[test]
    fn entering_an_unknown_partition_or_vcpu_is_an_error() {
        for (partition, vcpu) in [(EndpointId(0x8009), 0), (SP, 1)] {
            let (mut spmd, _) = booted(Box::new(move |_, _, r| Outcome::Enter {
                partition,
                vcpu,
                regs: *r,
                start: None,
            }));
            let call = regs(&[u64::from(FFA_MSG_SEND_DIRECT_REQ_SMC32), 0x0000_8001]);
            assert_eq!(
                spmd.nwd_call(0, Agent::Host, &call),
                Err(HarnessError::UnknownPartition {
                    id: partition.0,
                    vcpu
                })
            );
        }
    }

    #[test]
    fn framework_response_outside_a_framework_request_is_a_protocol_error() {
        let (mut spmd, _) = booted(Box::new(|_, _, _| {
            Outcome::ToSpmd(regs(&[
                u64::from(FFA_MSG_SEND_DIRECT_RESP_SMC32),
                0x8000_ffff,
            ]))
        }));
        let call = regs(&[u64::from(FFA_MSG_SEND_DIRECT_REQ_SMC32), 0x0000_8001]);
        assert!(matches!(
            spmd.nwd_call(0, Agent::Host, &call),
            Err(HarnessError::Protocol(_))
        ));
    }

    #[test]
    fn spmc_calls_that_el3_answers_return_to_the_spmc() {
        // At run time the SPMC asks EL3 a few things, then answers the normal world.
        let asks = [
            (regs(&[u64::from(FFA_VERSION), 0x1_0002]), 0x1_0002u64),
            (
                regs(&[u64::from(FFA_SPM_ID_GET)]),
                u64::from(FFA_SUCCESS_SMC32),
            ),
            (
                regs(&[u64::from(FFA_FEATURES), 0x8400_0063]),
                u64::from(FFA_SUCCESS_SMC32),
            ),
            (regs(&[u64::from(FFA_RXTX_MAP_SMC64)]), u64::from(FFA_ERROR)),
            (
                regs(&[u64::from(FFA_MSG_SEND_DIRECT_REQ_SMC32), 0x8000_ffff]),
                u64::from(FFA_ERROR),
            ),
            (
                regs(&[u64::from(FFA_NORMAL_WORLD_RESUME)]),
                u64::from(FFA_ERROR),
            ),
        ];
        let n = Rc::new(RefCell::new(0usize));
        let (mut spmd, seen) = booted(Box::new(move |_, _, _| {
            let mut i = n.borrow_mut();
            *i += 1;
            match asks.get(*i - 1) {
                Some((ask, _)) => Outcome::ToSpmd(*ask),
                None => Outcome::ToSpmd(regs(&[u64::from(FFA_SUCCESS_SMC32)])),
            }
        }));
        let answer = spmd
            .nwd_call(0, Agent::Host, &regs(&[u64::from(FFA_RX_RELEASE)]))
            .unwrap();
        assert_eq!(answer[0], u64::from(FFA_SUCCESS_SMC32));
        let seen = seen.borrow();
        for (i, (_, expected_x0)) in asks.iter().enumerate() {
            assert_eq!(seen[i + 1].1[0], *expected_x0, "ask {i}");
        }
        assert_eq!(
            seen[2].1[2], 0xffff,
            "SPM_ID_GET from the SPMC names the SPMD"
        );
        assert_eq!(
            seen[5].1[2], DENIED as u32 as u64,
            "direct request to the SPMD"
        );
    }

    #[test]
    fn calls_need_a_cpu_that_exists_and_is_on() {
        let (mut spmd, _) = model(msg_wait(), never_called());
        assert_eq!(
            spmd.nwd_call(4, Agent::Host, &regs(&[u64::from(FFA_ID_GET)])),
            Err(HarnessError::NoSuchCpu(4))
        );
        assert!(matches!(
            spmd.nwd_call(0, Agent::Host, &regs(&[u64::from(FFA_FEATURES)])),
            Err(HarnessError::Protocol(_))
        ));
    }
}
