//! FF-A conformance scenarios, written once and run by two runners: the in-process harness
//! (host client → proxy core → SPMD model → SPMC core → test partitions) and, on QEMU, the
//! NS-EL1 client. Each scenario drives a [`Client`] and checks exact answers.
//!
//! Every scenario assumes a freshly booted stack: the FF-A version locks per client and the
//! mailbox and partitions keep state, so a runner boots a new stack for each entry of [`ALL`]
//! (or reboots the machine between them). A scenario uses CPU 0 unless it says otherwise
//! (`mp_partition_on_each_cpu` and `aborted_partition` also use CPU 1). Those numbers are
//! relative to a home core: runners run every scenario once per home core 0..[`CPUS`] through
//! [`OnCore`], and name each run [`RunKey`] (`<name>@cpu<home>`).
//!
//! The expected answers are FF-A v1.2's, with Hafnium (the reference S-EL2 SPMC), TF-A's SPMD
//! and pKVM's proxy (`arch/arm64/kvm/hyp/nvhe/ffa.c`) as the tie-breakers the module docs name.
//! Where the proxy and the SPMC legitimately differ, a scenario asks
//! [`Client::behind_proxy`]:
//! - the first FFA_VERSION: the SPMC answers its own version, the proxy the version it settled
//!   on for the host; after the lock, a request for a newer version is NOT_SUPPORTED at the
//!   SPMC and answered with the settled version by the proxy (pKVM's `do_ffa_version`);
//! - calls before FFA_VERSION: the proxy refuses them (INVALID_PARAMETERS), EL3 answers
//!   FFA_ID_GET itself;
//! - FFA_PARTITION_INFO_GET_REGS: the proxy blocks it (NOT_SUPPORTED), as pKVM does;
//! - a direct request claiming another normal-world ID: only the proxy can tell;
//! - a function ID in FF-A's range that no version defines: the proxy answers FFA_ERROR
//!   (NOT_SUPPORTED), EL3's dispatcher SMCCC's unknown-function -1.
//!
//! Where the references disagree with each other, the scenarios follow the choice the SPMC
//! core documents (one partition-information descriptor per UUID from v1.2 and one per
//! partition below, as Hafnium; a yield inside a call chain gives the cycles back to the
//! requesting partition, as Hafnium does, and only that partition may FFA_RUN the yielded
//! callee, which Hafnium does not enforce).
//!
//! `tests/reference_model.rs` runs every scenario against a plain model of these rules around
//! the real test partitions, so the scenarios are checked before any stack runs them.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod at_once;
pub mod bench;
pub mod boot_info;
pub mod calls;
pub mod check;
pub mod discovery;
pub mod hypervisor;
pub mod indirect_msg;
pub mod interrupts;
pub mod isolation;
pub mod mailbox;
pub mod memory;
pub mod messaging;
pub mod notifications;
pub mod optee;
pub mod partition_calls;
pub mod passthrough;
pub mod registers;
pub mod scheduling;
pub mod selector;
pub mod sp;
pub mod version;

pub use check::{Failure, Value};
pub use ffa::Regs;
pub use passthrough::{PSCI_VERSION, PSCI_VERSION_1_1};

/// What a scenario needs from the normal-world side it runs on.
pub trait Client {
    /// Issues an SMC with x0..x17 on CPU `cpu` and returns x0..x17.
    fn call_on(&mut self, cpu: u16, regs: &Regs) -> Regs;
    /// Physical address of this client's TX buffer (page aligned, `mailbox_pages` long).
    fn tx_addr(&self) -> u64;
    /// Physical address of this client's RX buffer.
    fn rx_addr(&self) -> u64;
    /// Size of each buffer, in 4 KiB pages.
    fn mailbox_pages(&self) -> u32;
    /// Copies into this client's memory at physical `addr` (its TX buffer, say).
    fn write(&mut self, addr: u64, data: &[u8]);
    /// Copies from this client's memory at physical `addr` (its RX buffer, say).
    fn read(&self, addr: u64, buf: &mut [u8]);
    /// Loads the word at `addr` as the host: `None` if the access faulted (a page its
    /// hypervisor took away, such as one it lent). Without a hypervisor every load succeeds.
    fn probe(&mut self, addr: u64) -> Option<u64> {
        let mut word = [0u8; 8];
        self.read(addr, &mut word);
        Some(u64::from_le_bytes(word))
    }
    /// Whether the client's calls go through the EL2 proxy (some answers differ: the proxy
    /// answers FFA_ID_GET itself and refuses what it blocks).
    fn behind_proxy(&self) -> bool;
    /// The machine's number of the core a call on the scenario's CPU `cpu` runs on (MP
    /// partitions answer with the execution context of that core). The same number unless a
    /// wrapper such as [`OnCore`] moves the scenario.
    fn core(&self, cpu: u16) -> u16 {
        cpu
    }
    /// Whether the stack runs on a (virtual) machine, where partitions execute on a real CPU:
    /// false in-process, where what only hardware shows cannot be checked.
    fn on_hardware(&self) -> bool {
        false
    }
    /// Arms this client's own EL1 virtual timer on CPU `cpu` to expire shortly (its interrupt
    /// masked at the timer); false where the client has no timer (in-process).
    fn arm_timer(&mut self, _cpu: u16) -> bool {
        false
    }
    /// After [`Client::arm_timer`] on `cpu`: waits past the deadline and says whether the
    /// timer kept its settings and expired. None where the client has no timer.
    fn timer_expired(&mut self, _cpu: u16) -> Option<bool> {
        None
    }
    /// Makes a non-secure interrupt pending on CPU `cpu` that the client does not take (its
    /// interrupts stay masked), so the next partition run there is interrupted; false where
    /// the client has no interrupt controller (in-process).
    fn pend_interrupt(&mut self, _cpu: u16) -> bool {
        false
    }
    /// Acknowledges and ends the interrupt pending on CPU `cpu`: its INTID, or None if none
    /// was (or there is no interrupt controller).
    fn take_interrupt(&mut self, _cpu: u16) -> Option<u32> {
        None
    }
    /// Makes the FF-A call `regs` on CPU `cpu` with known values in every SVE register, FPCR
    /// and FPSR, and returns which did not come back (bit n: Z<n>, bit 32 + n: P<n>, bit 48:
    /// FFR, bit 49: FPCR, bit 50: FPSR; with the SVE hint in `regs`, only the low 128 bits of
    /// Z count) and the call's answer (x0..x16). None where the CPU has no SVE (in-process).
    fn sve_call(&mut self, _cpu: u16, _regs: &Regs) -> Option<(u64, Regs)> {
        None
    }
    /// Has each CPU of `cpus` make its share of [`at_once::run`] (`count` ECHO requests to
    /// `target`) at the same moment, and returns their tallies in the order of `cpus`. By
    /// default one CPU after the other (in-process, where one thread runs every CPU).
    fn at_once(
        &mut self,
        cpus: &[u16],
        target: u16,
        count: u32,
    ) -> [at_once::Tally; CPUS as usize] {
        let mut tallies = [at_once::Tally::default(); CPUS as usize];
        for (tally, &cpu) in tallies.iter_mut().zip(cpus) {
            let core = self.core(cpu);
            *tally = at_once::run(core, target, count, |regs| self.call_on(cpu, regs));
        }
        tallies
    }
    /// What the hypervisor reported of its hostile-buffer check at boot
    /// ([`hypervisor::report`]), where it made one (on QEMU, when that scenario runs).
    fn hypervisor_report(&self) -> Option<u64> {
        None
    }
}

/// The scenario CPU that is the machine's core `core` under `c`, if any of 0..[`CPUS`] is.
pub fn cpu_on_core(c: &dyn Client, core: u16) -> Option<u16> {
    (0..CPUS).find(|&cpu| c.core(cpu) == core)
}

/// The execution context of `def` that serves calls on the scenario's CPU `cpu`: the core's
/// own for an MP partition (pinned one per core), the only one for a UP partition.
pub fn context_on(c: &dyn Client, def: &test_partitions::Definition, cpu: u16) -> u16 {
    if def.exec_ctx_count > 1 {
        c.core(cpu)
    } else {
        0
    }
}

/// Cores of the machines the scenarios run on (QEMU's `-smp 4`, the in-process stack's CPUs):
/// each scenario runs once with each of them as its home core.
pub const CPUS: u16 = 4;

/// A client seen from home core `home`: a scenario's CPU `n` is core `(n + home) % cpus`, so
/// its CPU 0 calls come from `home` and a scenario that also uses CPU 1 gets the next core
/// (wrapping). A CPU number past the machine goes through unchanged, so the client underneath
/// still reports it as the scenario's bug. Everything else goes to `inner` unchanged.
pub struct OnCore<'a> {
    /// The client underneath, numbering cores as the machine does.
    pub inner: &'a mut dyn Client,
    /// The core that is the scenario's CPU 0.
    pub home: u16,
    /// Cores of the machine (0: no remapping).
    pub cpus: u16,
}

impl OnCore<'_> {
    fn moved(&self, cpu: u16) -> u16 {
        if cpu >= self.cpus {
            return cpu;
        }
        // In u32: no overflow whatever the numbers; the remainder is below `cpus`, a u16.
        (u32::from(cpu) + u32::from(self.home))
            .checked_rem(u32::from(self.cpus))
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(cpu)
    }
}

impl Client for OnCore<'_> {
    fn call_on(&mut self, cpu: u16, regs: &Regs) -> Regs {
        let core = self.moved(cpu);
        self.inner.call_on(core, regs)
    }
    fn core(&self, cpu: u16) -> u16 {
        self.inner.core(self.moved(cpu))
    }
    fn tx_addr(&self) -> u64 {
        self.inner.tx_addr()
    }
    fn rx_addr(&self) -> u64 {
        self.inner.rx_addr()
    }
    fn mailbox_pages(&self) -> u32 {
        self.inner.mailbox_pages()
    }
    fn write(&mut self, addr: u64, data: &[u8]) {
        self.inner.write(addr, data)
    }
    fn read(&self, addr: u64, buf: &mut [u8]) {
        self.inner.read(addr, buf)
    }
    fn probe(&mut self, addr: u64) -> Option<u64> {
        self.inner.probe(addr)
    }
    fn behind_proxy(&self) -> bool {
        self.inner.behind_proxy()
    }
    fn on_hardware(&self) -> bool {
        self.inner.on_hardware()
    }
    fn arm_timer(&mut self, cpu: u16) -> bool {
        let core = self.moved(cpu);
        self.inner.arm_timer(core)
    }
    fn timer_expired(&mut self, cpu: u16) -> Option<bool> {
        let core = self.moved(cpu);
        self.inner.timer_expired(core)
    }
    fn pend_interrupt(&mut self, cpu: u16) -> bool {
        let core = self.moved(cpu);
        self.inner.pend_interrupt(core)
    }
    fn hypervisor_report(&self) -> Option<u64> {
        self.inner.hypervisor_report()
    }
    fn sve_call(&mut self, cpu: u16, regs: &Regs) -> Option<(u64, Regs)> {
        let core = self.moved(cpu);
        self.inner.sve_call(core, regs)
    }
    fn at_once(
        &mut self,
        cpus: &[u16],
        target: u16,
        count: u32,
    ) -> [at_once::Tally; CPUS as usize] {
        let mut moved = [0; CPUS as usize];
        for (core, &cpu) in moved.iter_mut().zip(cpus) {
            *core = self.moved(cpu);
        }
        let moved = moved.get(..cpus.len()).unwrap_or(&moved);
        self.inner.at_once(moved, target, count)
    }
    fn take_interrupt(&mut self, cpu: u16) -> Option<u32> {
        let core = self.moved(cpu);
        self.inner.take_interrupt(core)
    }
}

/// One run of a scenario: its name and home core, written `<name>@cpu<home>` in result lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunKey<'a> {
    /// The scenario's name.
    pub name: &'a str,
    /// Its home core.
    pub home: u16,
}

impl<'a> RunKey<'a> {
    /// Reads `<name>@cpu<home>`; None for anything else.
    pub fn parse(text: &'a str) -> Option<Self> {
        let (name, home) = text.rsplit_once("@cpu")?;
        // Digits only: `u16::from_str` would also take a sign.
        if name.is_empty() || home.is_empty() || !home.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            name,
            home: home.parse().ok()?,
        })
    }
}

impl core::fmt::Display for RunKey<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}@cpu{}", self.name, self.home)
    }
}

/// A fault the SPMC reports on its console that a scenario provokes on purpose. On QEMU, any
/// other fault report fails the run, and a provoked one that is never reported does too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provoked {
    /// A partition's stage-2 abort, injected at its own exception vector (it runs on).
    InjectedAbort,
    /// A partition the SPMC aborted: a fault it could not hand to the partition.
    PartitionAborted,
}

/// One conformance scenario.
#[derive(Clone, Copy)]
pub struct Scenario {
    /// Its name (snake_case, unique), as runners print it.
    pub name: &'static str,
    /// Runs it against a freshly booted stack.
    pub run: fn(&mut dyn Client) -> Result<(), Failure>,
    /// The faults it makes the SPMC report (none for most).
    pub provokes: &'static [Provoked],
    /// The secure world it needs.
    pub stack: Stack,
}

/// The secure world a scenario runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    /// The four test partitions (QEMU and in-process).
    TestPartitions,
    /// The test partitions and OP-TEE OS (QEMU only: the in-process stack has no OP-TEE).
    Optee,
}

impl core::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name)
    }
}

macro_rules! scenarios {
    (@stack) => { Stack::TestPartitions };
    (@stack $stack:ident) => { Stack::$stack };
    ($($module:ident :: $name:ident $(provokes [$($fault:ident),+])? $(on $stack:ident)?),* $(,)?) => {
        &[$(Scenario {
            name: stringify!($name),
            run: $module::$name,
            provokes: &[$($(Provoked::$fault),+)?],
            stack: scenarios!(@stack $($stack)?),
        }),*]
    };
}

/// Every scenario, each to be run on its own freshly booted stack.
pub const ALL: &[Scenario] = scenarios![
    passthrough::non_ffa_call_untouched,
    boot_info::boot_info_blob,
    version::version_negotiation,
    version::version_downgrade_after_lock,
    version::calls_before_negotiation,
    discovery::features_of_functions,
    discovery::features_of_feature_ids,
    discovery::id_get_and_spm_id_get,
    discovery::partition_info_get_all,
    discovery::partition_info_get_by_uuid,
    discovery::partition_info_get_rejections,
    discovery::partition_info_get_count_only,
    discovery::partition_info_get_v1_0,
    discovery::partition_info_get_v1_1,
    discovery::partition_info_get_regs,
    discovery::v1_2_calls_at_v1_1,
    mailbox::rx_buffer_busy_until_released,
    mailbox::rx_release_not_owned,
    mailbox::partition_info_get_unmapped,
    mailbox::rxtx_map_rejections,
    mailbox::rxtx_unmap,
    messaging::direct_req32_echo,
    messaging::direct_req64_echo,
    messaging::direct_req2_by_each_uuid,
    messaging::direct_req2_unknown_uuid,
    messaging::direct_req2_to_legacy,
    messaging::spoofed_source_from_normal_world,
    messaging::unknown_destination,
    messaging::direct_req_reserved_bits,
    messaging::mp_partition_on_each_cpu,
    messaging::direct_requests_from_every_core_at_once,
    scheduling::busy_partition_yield_and_run,
    scheduling::run_waiting_partition,
    scheduling::run_rejections,
    scheduling::run_busy_target,
    scheduling::partition_runs_its_yielded_callee,
    scheduling::requester_waits_for_its_yielded_callee,
    scheduling::partition_run_rejections,
    scheduling::call_chains,
    scheduling::partition_request_rejections,
    scheduling::spoofed_source_from_partition,
    scheduling::wrong_responder,
    scheduling::msg_wait_while_busy,
    partition_calls::partition_info_from_partitions,
    partition_calls::partition_mailbox_rejections,
    partition_calls::partition_discovery_calls,
    passthrough::secure_only_calls_from_normal_world,
    registers::smc32_calls_preserve_x8_to_x17,
    registers::direct_req_receiver_sees_its_own_x8_to_x17,
    registers::normal_world_sve_state_survives,
    registers::partition_fp_state_follows_its_context,
    isolation::isolation_read_other_partition provokes [InjectedAbort],
    isolation::isolation_read_spmc provokes [InjectedAbort],
    isolation::isolation_read_own_memory,
    isolation::partition_timer_writes_stay_in_the_partition,
    isolation::partition_register_accesses_trap,
    isolation::aborted_partition provokes [PartitionAborted],
    isolation::aborted_partition_in_chain provokes [PartitionAborted],
    isolation::aborted_partition_deep_in_chain provokes [PartitionAborted],
    isolation::hostile_partition_is_contained provokes [InjectedAbort],
    interrupts::spinning_partition_is_preempted,
    hypervisor::hostile_hypervisor_buffers,
    memory::partitions_lend_and_share_memory provokes [InjectedAbort],
    memory::normal_world_shares_memory,
    memory::normal_world_shares_memory_v1_1,
    memory::normal_world_shares_memory_v1_0,
    memory::memory_sharing_rejections,
    memory::normal_world_shares_600_ranges_in_fragments,
    memory::normal_world_shares_600_ranges_in_fragments_v1_1,
    memory::normal_world_shares_600_ranges_in_fragments_v1_0,
    memory::partition_writes_normal_world_memory provokes [InjectedAbort],
    memory::normal_world_lends_memory,
    memory::normal_world_lends_memory_v1_1,
    memory::normal_world_lends_memory_v1_0,
    memory::partition_donates_memory provokes [InjectedAbort],
    optee::optee_answers_the_driver_probe on Optee,
    indirect_msg::msg_send2_normal_world_to_partition,
    indirect_msg::msg_send2_v1_1_header,
    indirect_msg::msg_send2_v1_1_header_at_v1_2,
    indirect_msg::msg_send2_partition_to_partition,
    indirect_msg::msg_send2_partition_to_normal_world,
    indirect_msg::msg_send2_rx_buffer_full,
    indirect_msg::msg_send2_rejections,
    notifications::notification_bitmap_create_destroy,
    notifications::notifications_normal_world_to_partition,
    notifications::notifications_per_vcpu,
    notifications::notifications_partition_to_normal_world,
    notifications::notifications_partition_to_partition,
    notifications::notification_bind_rejections,
    notifications::notification_set_get_rejections,
    notifications::notification_info_get_packing,
];

/// The scenario called `name`.
pub fn by_name(name: &str) -> Option<&'static Scenario> {
    ALL.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests;
