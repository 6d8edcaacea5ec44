//! FF-A notifications (FF-A v1.2, "Notifications"): FFA_NOTIFICATION_BITMAP_CREATE/_DESTROY,
//! _BIND/_UNBIND, _SET, _GET and _INFO_GET (SMC32 and SMC64), the schedule receiver interrupt
//! (SRI) and the notification pending interrupt (NPI). Submodules: [`bitmap`], one receiver's
//! bindings and pending bits; [`info`], the INFO_GET ID lists.
//!
//! Receivers: the partitions whose manifest has `notification-support` (a bitmap from boot),
//! and normal-world VMs whose bitmap the normal world created (at most [`MAX_VMS`]; ID 0 is the
//! OS kernel when there is no hypervisor). Rules, Hafnium's (`src/api.c`,
//! `src/ffa/spmc/notifications.c`, `src/vm.c`) unless said otherwise:
//! - BITMAP_CREATE/DESTROY: the normal world only (partitions: NOT_SUPPORTED); a secure ID is
//!   INVALID_PARAMETERS, as is a vCPU count of 0 or above [`bitmap::MAX_VCPUS`] (Hafnium takes
//!   any count); creating one that exists or destroying one that does not, or that has
//!   notifications pending, is DENIED; a full table is NO_MEMORY.
//! - BIND/UNBIND: the caller is the receiver (a partition), or the normal world binds for a VM
//!   with a partition as sender; a sender equal to the receiver is INVALID_PARAMETERS, and so
//!   are flags other than bit 0 (per-vCPU), an empty bitmap, an unknown receiver, an unknown
//!   partition sender (BIND). A partition receiver without notification support, or below
//!   v1.1, is NOT_SUPPORTED. BIND needs every bit unbound, UNBIND every bit bound to that
//!   sender, and neither may touch a pending bit: DENIED otherwise.
//! - SET: the caller is the sender (a partition), or the normal world sets for a VM sender
//!   towards a partition; sender = receiver, an empty bitmap, the delay-SRI flag from a VM
//!   sender, an unknown receiver, a vCPU ID past the receiver's vCPUs, and a per-vCPU flag
//!   that does not match how the bits were bound are INVALID_PARAMETERS; bits not all bound to
//!   the sender, or a partition receiver without notification support, DENIED.
//! - GET: a partition for itself (the vCPU ID must be the calling vCPU's: our choice, the
//!   per-vCPU bits are that vCPU's), or the normal world for a VM; flags bits 31:4 set, the
//!   VM or hypervisor bitmap asked for a VM, an unknown receiver or a vCPU ID past its vCPUs
//!   are INVALID_PARAMETERS. Returns the asked bitmaps (global and that vCPU's bits) and clears
//!   them: w2/w3 from partitions, w4/w5 from VMs, w6 SPM framework, w7 hypervisor framework
//!   (always 0 here).
//! - INFO_GET (the normal world's scheduler; partitions: NOT_SUPPORTED): partitions first, in
//!   table order, then VMs; for each, framework, partition-sent then VM-sent notifications;
//!   each reported once until the receiver gets them ([`info`]). NO_DATA when nothing is to be
//!   reported. The SMC32 form answers FFA_SUCCESS_32 with 10 IDs, the SMC64 form
//!   FFA_SUCCESS_64 with 20 (Hafnium implements only the SMC64 form).
//!
//! Per-vCPU notifications follow the FF-A spec; Hafnium refuses the per-vCPU flag
//! (INVALID_PARAMETERS) since it dropped them. We keep them, as the spec defines them.
//!
//! SRI (Hafnium's `HF_SCHEDULE_RECEIVER_INTID`, SGI 8, Non-secure Group 1): a successful SET
//! pends it on the current core at once, or, with the delay flag (partition senders only), at
//! the core's next return to the normal world (`Spmc::after_outcome`). NPI (Hafnium's
//! virtual INTID 5, enabled as vIRQ on every vCPU of a partition with notification support):
//! per-vCPU notifications inject it into that vCPU at once; pending global ones (framework
//! ones included) inject it into the partition's context the next time the SPMC switches to
//! it from another endpoint, as Hafnium does when it runs or messages a partition.

pub mod bitmap;
pub mod info;

/// The SRI's GIC priority (Hafnium's): the lowest, as for any normal-world interrupt.
const SRI_PRIORITY: u8 = 0xf0;

use ffa::hafnium::{InterruptType, NOTIFICATION_PENDING_INTID, SCHEDULE_RECEIVER_INTID};
use ffa::{EndpointId, FfaError, Interface, SuccessArgs, TargetInfo, Version};
use heapless::Vec;

use crate::interrupts::GicSetting;
use crate::interrupts::declared::{IntId, SecurityState, Trigger};
use crate::manifest::MAX_PARTITIONS;
use crate::partition::MAX_CPUS;
use crate::platform::Platform;
use crate::spmc::{Call, CpuId, Endpoint, Next, Spmc};
use crate::vcpu::CtxRef;
use bitmap::{Bitmap, HYP_RX_BUFFER_FULL, MAX_VCPUS, RX_BUFFER_FULL, SenderKind};
use info::{Cursor, InfoLists};

/// Most normal-world VMs with a notification bitmap.
pub const MAX_VMS: usize = 16;

/// FFA_NOTIFICATION_BIND flags: bit 0 per-vCPU, the rest MBZ.
const BIND_PER_VCPU: u32 = 1;
/// FFA_NOTIFICATION_GET flags: the four bitmaps, bits 31:4 MBZ.
const GET_FLAGS: u32 = 0xf;
const GET_SP: u32 = 1 << 0;
const GET_VM: u32 = 1 << 1;
const GET_SPM: u32 = 1 << 2;
const GET_HYP: u32 = 1 << 3;

/// Every receiver's notifications, and the delayed SRIs.
#[derive(Clone, Debug)]
pub struct Notifications {
    /// By partition table index: `Some` for partitions with notification support.
    partitions: [Option<Bitmap>; MAX_PARTITIONS],
    /// Normal-world VMs with a bitmap.
    vms: Vec<(EndpointId, Bitmap), MAX_VMS>,
    /// Per CPU: an SRI to pend at the next return to the normal world.
    sri_delayed: [bool; MAX_CPUS],
}

impl Default for Notifications {
    fn default() -> Self {
        Self::new()
    }
}

impl Notifications {
    /// No receivers.
    pub const fn new() -> Self {
        Self {
            partitions: [const { None }; MAX_PARTITIONS],
            vms: Vec::new(),
            sri_delayed: [false; MAX_CPUS],
        }
    }

    /// Whether an SRI waits for the next return to the normal world on CPU `index`.
    pub fn sri_delayed(&self, index: usize) -> bool {
        self.sri_delayed.get(index).copied().unwrap_or(false)
    }

    /// Gives the partition at table index `index` (with `vcpu_count` vCPUs) a bitmap.
    pub fn enable_partition(&mut self, index: usize, vcpu_count: u16) {
        if let Some(slot) = self.partitions.get_mut(index) {
            *slot = Some(Bitmap::new(vcpu_count));
        }
    }

    fn vm(&self, id: EndpointId) -> Option<&Bitmap> {
        self.vms.iter().find(|(v, _)| *v == id).map(|(_, b)| b)
    }

    fn vm_mut(&mut self, id: EndpointId) -> Option<&mut Bitmap> {
        self.vms.iter_mut().find(|(v, _)| *v == id).map(|(_, b)| b)
    }

    /// Whether anything is pending that INFO_GET has not reported.
    fn any_unreported(&self) -> bool {
        self.partitions.iter().flatten().any(Bitmap::any_unreported)
            || self.vms.iter().any(|(_, b)| b.any_unreported())
    }
}

/// A receiver, found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Receiver {
    /// A partition, by table index.
    Partition(usize),
    /// A VM with a bitmap.
    Vm(EndpointId),
}

impl<P: Platform> Spmc<P> {
    /// Bitmaps for the partitions whose manifest asks for notifications, and their NPI enabled
    /// (as a vIRQ) on every vCPU. Called once, when the SPMC is built.
    pub(crate) fn init_notifications(&mut self) {
        for index in 0..self.partitions.len() {
            let Some(p) = self.partitions.get_mut(index) else {
                break;
            };
            if !p.config.notification_support {
                continue;
            }
            let count = p.contexts.len() as u16;
            for v in p.virtual_interrupts.iter_mut() {
                v.set_enabled(NOTIFICATION_PENDING_INTID, true, InterruptType::Irq);
            }
            self.notifications.enable_partition(index, count);
        }
    }

    /// The framework notification "RX buffer full" for `receiver` (a partition with
    /// notification support or a VM with a bitmap; nothing for others): the hypervisor
    /// framework's for a message from a normal-world VM, the SPM framework's for one from a
    /// partition (Hafnium's choice); then the SRI on `cpu`: at once, or with `delay_sri` at the
    /// core's next return to the normal world. A partition receiver is told by the NPI when it
    /// next runs.
    pub(crate) fn notify_rx_buffer_full(
        &mut self,
        cpu: CpuId,
        sender: EndpointId,
        receiver: EndpointId,
        delay_sri: bool,
    ) {
        let Some(found) = self.find_receiver(receiver) else {
            return;
        };
        let Some(b) = self.bitmap_mut(found) else {
            return;
        };
        b.set_framework(if sender.is_secure() {
            RX_BUFFER_FULL
        } else {
            HYP_RX_BUFFER_FULL
        });
        self.schedule_receiver(cpu, delay_sri);
    }

    /// Hands the SRI's SGI to the normal world on `cpu` (each core, at its cold or warm boot):
    /// Non-secure Group 1, edge, Hafnium's priority 0xf0, enabled. Platforms may have claimed
    /// SGIs 8..15 for the secure world (TF-A's QEMU port makes them Secure Group 1), where an
    /// SGI from ICC_ASGI1R_EL1 would be dropped.
    pub(crate) fn configure_sri(&mut self, cpu: CpuId) {
        let Some(intid) = IntId::sgi(SCHEDULE_RECEIVER_INTID) else {
            return;
        };
        self.platform.gic_configure(&GicSetting {
            intid,
            priority: SRI_PRIORITY,
            security: SecurityState::NonSecure,
            trigger: Trigger::Edge,
            target: cpu,
            enabled: true,
        });
    }

    /// The SRI for `cpu`: pended now, or at its next return to the normal world.
    fn schedule_receiver(&mut self, cpu: CpuId, delay: bool) {
        let Some(index) = self.cpu_index(cpu) else {
            return;
        };
        if delay {
            if let Some(d) = self.notifications.sri_delayed.get_mut(index) {
                *d = true;
            }
        } else {
            if let Some(d) = self.notifications.sri_delayed.get_mut(index) {
                *d = false;
            }
            self.platform.send_ns_sgi(cpu, SCHEDULE_RECEIVER_INTID);
        }
    }

    /// What every entry point does with the outcome it is about to return for `cpu`, whose
    /// call or event came from `from` (`None`: the normal world or no context): a return to
    /// the normal world pends a delayed SRI; a switch into a partition's context from another
    /// endpoint gives it the NPI if global notifications are pending for it.
    pub(crate) fn after_outcome(&mut self, cpu: CpuId, from: Option<CtxRef>, next: Next) {
        match next {
            Next::ToSpmd => {
                let delayed = self
                    .cpu_index(cpu)
                    .and_then(|i| self.notifications.sri_delayed.get(i))
                    .copied()
                    .unwrap_or(false);
                if delayed {
                    self.schedule_receiver(cpu, false);
                }
            }
            // The context entered is the one now running on `cpu` (no search by ID).
            Next::Enter { .. } | Next::Resume { .. } => {
                if let Some(ctx) = self.running_ctx(cpu)
                    && from != Some(ctx)
                {
                    self.deliver_npi(ctx);
                }
            }
        }
    }

    /// Whether the partition at `index` has global notifications pending (entering one of
    /// its contexts injects the NPI).
    pub(crate) fn global_notifications_pending(&self, index: usize) -> bool {
        self.notifications
            .partitions
            .get(index)
            .and_then(Option::as_ref)
            .is_some_and(Bitmap::global_pending)
    }

    /// Injects the NPI into `ctx` if its partition has global notifications pending.
    fn deliver_npi(&mut self, ctx: CtxRef) {
        if self.global_notifications_pending(ctx.partition) {
            self.inject_npi(ctx);
        }
    }

    fn inject_npi(&mut self, ctx: CtxRef) {
        if let Some(v) = self
            .partitions
            .get_mut(ctx.partition)
            .and_then(|p| p.virtual_interrupts.get_mut(usize::from(ctx.vcpu)))
        {
            v.inject(NOTIFICATION_PENDING_INTID);
        }
    }

    fn caller_id(&self, call: &Call) -> Option<EndpointId> {
        match call.from {
            Endpoint::NormalWorld => None,
            Endpoint::Partition(ctx) => self.partitions.id_of(ctx),
        }
    }

    /// The receiver `id` names: a partition (with or without notification support) or a VM
    /// with a bitmap.
    fn find_receiver(&self, id: EndpointId) -> Option<Receiver> {
        if id.is_secure() {
            self.partitions.find(id).map(Receiver::Partition)
        } else {
            self.notifications.vm(id).map(|_| Receiver::Vm(id))
        }
    }

    /// Whether the caller of `call` has framework notifications (RX buffer full) it has not
    /// taken: its RX buffer still holds a message it was not told of, so it cannot be given
    /// back (FFA_RX_RELEASE, FFA_MSG_WAIT), as Hafnium keeps it.
    pub(crate) fn framework_notifications_pending(&self, call: &Call) -> bool {
        let receiver = match call.from {
            Endpoint::NormalWorld => Receiver::Vm(EndpointId(0)),
            Endpoint::Partition(ctx) => Receiver::Partition(ctx.partition),
        };
        let b = match receiver {
            Receiver::Partition(i) => self
                .notifications
                .partitions
                .get(i)
                .and_then(Option::as_ref),
            Receiver::Vm(id) => self.notifications.vm(id),
        };
        b.is_some_and(|b| b.framework != 0)
    }

    fn bitmap_mut(&mut self, r: Receiver) -> Option<&mut Bitmap> {
        match r {
            Receiver::Partition(i) => self.notifications.partitions.get_mut(i)?.as_mut(),
            Receiver::Vm(id) => self.notifications.vm_mut(id),
        }
    }

    pub(crate) fn notification_bitmap_create(
        &mut self,
        call: &Call,
        vm_id: u16,
        vcpu_count: u32,
    ) -> Next {
        if call.from != Endpoint::NormalWorld {
            return self.fail(call, FfaError::NotSupported);
        }
        let id = EndpointId(vm_id);
        if id.is_secure() {
            return self.fail(call, FfaError::InvalidParameters);
        }
        let count = match u16::try_from(vcpu_count) {
            Ok(c) if c != 0 && usize::from(c) <= MAX_VCPUS => c,
            _ => return self.fail(call, FfaError::InvalidParameters),
        };
        if self.notifications.vm(id).is_some() {
            return self.fail(call, FfaError::Denied);
        }
        if self
            .notifications
            .vms
            .push((id, Bitmap::new(count)))
            .is_err()
        {
            return self.fail(call, FfaError::NoMemory);
        }
        self.succeed(call, [0; 6])
    }

    pub(crate) fn notification_bitmap_destroy(&mut self, call: &Call, vm_id: u16) -> Next {
        if call.from != Endpoint::NormalWorld {
            return self.fail(call, FfaError::NotSupported);
        }
        let id = EndpointId(vm_id);
        if id.is_secure() {
            return self.fail(call, FfaError::InvalidParameters);
        }
        let Some(at) = self.notifications.vms.iter().position(|(v, _)| *v == id) else {
            return self.fail(call, FfaError::Denied);
        };
        if self
            .notifications
            .vms
            .get(at)
            .is_some_and(|(_, b)| b.any_pending())
        {
            return self.fail(call, FfaError::Denied);
        }
        self.notifications.vms.swap_remove(at);
        self.succeed(call, [0; 6])
    }

    /// FFA_NOTIFICATION_BIND (`bind`) or _UNBIND.
    pub(crate) fn notification_bind(
        &mut self,
        call: &Call,
        sender: EndpointId,
        receiver: EndpointId,
        bits: u64,
        bind: bool,
    ) -> Next {
        match self.update_bindings(call, sender, receiver, bits, bind) {
            Ok(()) => self.succeed(call, [0; 6]),
            Err(code) => self.fail(call, code),
        }
    }

    fn update_bindings(
        &mut self,
        call: &Call,
        sender: EndpointId,
        receiver: EndpointId,
        bits: u64,
        bind: bool,
    ) -> Result<(), FfaError> {
        use FfaError::{Denied, InvalidParameters, NotSupported};
        let flags = call.regs[2] as u32;
        if bind && flags & !BIND_PER_VCPU != 0 {
            return Err(InvalidParameters);
        }
        let per_vcpu = bind && flags & BIND_PER_VCPU != 0;
        if sender == receiver {
            return Err(InvalidParameters);
        }
        match self.caller_id(call) {
            Some(caller) if receiver != caller => return Err(InvalidParameters),
            Some(_) => {}
            // The normal world binds a partition sender for a VM.
            None if !sender.is_secure() || receiver.is_secure() => return Err(InvalidParameters),
            None => {}
        }
        if bits == 0 {
            return Err(InvalidParameters);
        }
        // The normal world itself (ID 0) exists without a bitmap: its notifications are off.
        let found = match self.find_receiver(receiver) {
            Some(found) => found,
            None if receiver == EndpointId(0) => return Err(NotSupported),
            None => return Err(InvalidParameters),
        };
        if let Receiver::Partition(i) = found {
            let old = self
                .partitions
                .get(i)
                .is_none_or(|p| p.version.version() < Version(1, 1));
            if old {
                return Err(NotSupported);
            }
        }
        if bind && sender.is_secure() && self.partitions.find(sender).is_none() {
            return Err(InvalidParameters);
        }
        let b = self.bitmap_mut(found).ok_or(NotSupported)?;
        let source = b.source_mut(SenderKind::of(sender));
        let allowed = if bind {
            source.all_unbound(bits)
        } else {
            source.all_bound_to(bits, sender)
        };
        if !allowed || source.any_pending(bits) {
            return Err(Denied);
        }
        if bind {
            source.bind(bits, sender, per_vcpu);
        } else {
            source.unbind(bits);
        }
        Ok(())
    }

    pub(crate) fn notification_set(
        &mut self,
        call: &Call,
        sender: EndpointId,
        receiver: EndpointId,
        flags: ffa::NotificationSetFlags,
        bits: u64,
    ) -> Next {
        match self.set_pending(call, sender, receiver, flags, bits) {
            Ok(()) => self.succeed(call, [0; 6]),
            Err(code) => self.fail(call, code),
        }
    }

    fn set_pending(
        &mut self,
        call: &Call,
        sender: EndpointId,
        receiver: EndpointId,
        flags: ffa::NotificationSetFlags,
        bits: u64,
    ) -> Result<(), FfaError> {
        use FfaError::{Denied, InvalidParameters};
        if sender == receiver {
            return Err(InvalidParameters);
        }
        match self.caller_id(call) {
            Some(caller) if sender != caller => return Err(InvalidParameters),
            Some(_) => {}
            // The normal world sets for a VM sender towards a partition.
            None if sender.is_secure() || !receiver.is_secure() => return Err(InvalidParameters),
            None => {}
        }
        if bits == 0 {
            return Err(InvalidParameters);
        }
        // Delaying the SRI is for senders in the secure world.
        if flags.delay_schedule_receiver && !sender.is_secure() {
            return Err(InvalidParameters);
        }
        // The normal world itself (ID 0, the SPMC's other world) always exists, a VM without
        // a bitmap has notifications disabled (DENIED); any other VM is unknown (Hafnium).
        let found = match self.find_receiver(receiver) {
            Some(found) => found,
            None if receiver == EndpointId(0) => return Err(Denied),
            None => return Err(InvalidParameters),
        };
        let b = self.bitmap_mut(found).ok_or(Denied)?;
        let vcpu_count = b.vcpu_count;
        let source = b.source_mut(SenderKind::of(sender));
        if !source.all_bound_to(bits, sender) {
            return Err(Denied);
        }
        if !source.all_bound_as(bits, flags.vcpu_id.is_some()) {
            return Err(InvalidParameters);
        }
        if flags.vcpu_id.is_some_and(|v| v >= vcpu_count) {
            return Err(InvalidParameters);
        }
        if !source.set(bits, flags.vcpu_id) {
            return Err(InvalidParameters);
        }
        if let (Receiver::Partition(partition), Some(vcpu)) = (found, flags.vcpu_id) {
            self.inject_npi(CtxRef { partition, vcpu });
        }
        self.schedule_receiver(call.cpu, flags.delay_schedule_receiver);
        Ok(())
    }

    pub(crate) fn notification_get(
        &mut self,
        call: &Call,
        vcpu: u16,
        receiver: EndpointId,
    ) -> Next {
        match self.get_pending(call, vcpu, receiver) {
            Ok(args) => self.succeed(call, args),
            Err(code) => self.fail(call, code),
        }
    }

    fn get_pending(
        &mut self,
        call: &Call,
        vcpu: u16,
        receiver: EndpointId,
    ) -> Result<[u32; 6], FfaError> {
        use FfaError::{InvalidParameters, NotSupported};
        let flags = call.regs[2] as u32;
        if flags & !GET_FLAGS != 0 {
            return Err(InvalidParameters);
        }
        match call.from {
            Endpoint::Partition(ctx) => {
                if self.partitions.id_of(ctx) != Some(receiver) || vcpu != ctx.vcpu {
                    return Err(InvalidParameters);
                }
            }
            Endpoint::NormalWorld => {
                // A VM's notifications from VMs and the hypervisor are the hypervisor's.
                if receiver.is_secure() || flags & (GET_VM | GET_HYP) != 0 {
                    return Err(InvalidParameters);
                }
            }
        }
        let found = self.find_receiver(receiver).ok_or(InvalidParameters)?;
        let b = self.bitmap_mut(found).ok_or(NotSupported)?;
        if vcpu >= b.vcpu_count {
            return Err(InvalidParameters);
        }
        let from_sp = if flags & GET_SP != 0 {
            b.from_sp.take(vcpu)
        } else {
            0
        };
        let from_vm = if flags & GET_VM != 0 {
            b.from_vm.take(vcpu)
        } else {
            0
        };
        // Either framework flag takes both framework bitmaps (Hafnium); the normal world
        // cannot name the hypervisor's (refused above).
        let framework = if flags & (GET_SPM | GET_HYP) != 0 {
            b.take_framework()
        } else {
            0
        };
        Ok([
            from_sp as u32,
            (from_sp >> 32) as u32,
            from_vm as u32,
            (from_vm >> 32) as u32,
            framework as u32,
            (framework >> 32) as u32,
        ])
    }

    pub(crate) fn notification_info_get(&mut self, call: &Call, is_32bit: bool) -> Next {
        if call.from != Endpoint::NormalWorld {
            return self.fail(call, FfaError::NotSupported);
        }
        let mut lists = InfoLists::new(is_32bit);
        let ids: Vec<EndpointId, MAX_PARTITIONS> = self.partitions.iter().map(|p| p.id).collect();
        for (index, id) in ids.iter().enumerate() {
            if let Some(Some(b)) = self.notifications.partitions.get_mut(index) {
                report(&mut lists, *id, b);
            }
        }
        for (id, b) in self.notifications.vms.iter_mut() {
            report(&mut lists, *id, b);
        }
        if lists.is_empty() {
            return self.fail(call, FfaError::NoData);
        }
        let flags = lists.flags(self.notifications.any_unreported());
        let ids = lists.registers();
        if is_32bit {
            let mut args = [flags as u32, 0, 0, 0, 0, 0];
            for (a, r) in args.iter_mut().skip(1).zip(ids) {
                *a = r as u32;
            }
            return self.succeed(call, args);
        }
        let mut args = [0u64; 16];
        args[0] = flags;
        for (a, r) in args.iter_mut().skip(1).zip(ids) {
            *a = r;
        }
        let regs = ffa::call::encode(&Interface::Success {
            target_info: TargetInfo::default(),
            args: SuccessArgs::Args64(args),
        });
        // x8..x17 are not part of the answer: the caller's are kept.
        self.reply(call, regs)
    }
}

/// Adds what `b` (receiver `id`) has pending and unreported to `lists`, marking what fits as
/// reported: framework, then partition-sent, then VM-sent notifications; global ones before
/// each vCPU's.
fn report(lists: &mut InfoLists, id: EndpointId, b: &mut Bitmap) {
    let mut cursor = Cursor::NewList;
    if b.framework != 0 && !b.framework_retrieved && lists.insert(&mut cursor, id.0, None) {
        b.framework_retrieved = true;
    }
    let count = b.vcpu_count;
    for kind in [SenderKind::Partition, SenderKind::Vm] {
        let source = b.source_mut(kind);
        if source.global_unreported() && lists.insert(&mut cursor, id.0, None) {
            source.report_global();
        }
        for vcpu in 0..count {
            if source.vcpu_unreported(vcpu) && lists.insert(&mut cursor, id.0, Some(vcpu)) {
                source.report_vcpu(vcpu);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Partition, SpmcAttributes, SpmcConfig};
    use crate::platform::{MemFault, Space};

    /// No memory; records the SGIs.
    #[derive(Default)]
    struct Sgis(Vec<(CpuId, u32), 8>);

    impl Platform for Sgis {
        fn read(&self, _: Space, _: u64, _: &mut [u8]) -> Result<(), MemFault> {
            Err(MemFault)
        }
        fn write(&mut self, _: Space, _: u64, _: &[u8]) -> Result<(), MemFault> {
            Err(MemFault)
        }
        fn covers(&self, _: Space, _: u64, _: u64) -> bool {
            false
        }
        fn map_for(
            &mut self,
            _: EndpointId,
            _: Space,
            _: u64,
            _: u64,
            _: u8,
        ) -> Result<(), MemFault> {
            Err(MemFault)
        }
        fn unmap_for(&mut self, _: EndpointId, _: Space, _: u64, _: u64) {}
        fn clean_to_poc(&mut self, _: Space, _: u64, _: usize) {}
        fn send_ns_sgi(&mut self, cpu: CpuId, intid: u32) {
            let _ = self.0.push((cpu, intid));
        }
    }

    fn spmc() -> Spmc<Sgis> {
        let mut c = crate::partition::tests::config(1, 1, 0x1000_0000);
        c.notification_support = true;
        let plain = crate::partition::tests::config(2, 1, 0x1100_0000);
        let mut partitions = Vec::new();
        for (id, config) in [(0x8001, c), (0x8002, plain)] {
            let _ = partitions.push(Partition {
                id: EndpointId(id),
                config,
            });
        }
        let config = SpmcConfig {
            attributes: SpmcAttributes {
                spmc_id: EndpointId(0x8000),
                version: Version(1, 2),
            },
            partitions,
            refused: Vec::new(),
        };
        Spmc::new(config, Sgis::default(), 2)
    }

    #[test]
    fn rx_buffer_full_sets_the_framework_bit_and_the_sri() {
        let mut s = spmc();
        s.notify_rx_buffer_full(CpuId(1), EndpointId(0x8002), EndpointId(0x8001), false);
        assert_eq!(
            s.platform().0.as_slice(),
            &[(CpuId(1), SCHEDULE_RECEIVER_INTID)]
        );
        let b = s.notifications.partitions[0].as_ref().unwrap();
        assert_eq!(b.framework, RX_BUFFER_FULL);
        assert!(b.global_pending());
        // Delayed: at the next return to the normal world on that CPU.
        s.notify_rx_buffer_full(CpuId(0), EndpointId(0), EndpointId(0x8001), true);
        assert_eq!(s.platform().0.len(), 1);
        s.after_outcome(CpuId(0), None, Next::ToSpmd);
        assert_eq!(s.platform().0[1], (CpuId(0), SCHEDULE_RECEIVER_INTID));
        // No bitmap: nothing (a partition without notification support, an unknown VM).
        s.notify_rx_buffer_full(CpuId(0), EndpointId(0x8001), EndpointId(0x8002), false);
        s.notify_rx_buffer_full(CpuId(0), EndpointId(0x8001), EndpointId(3), false);
        assert_eq!(s.platform().0.len(), 2);
        // A VM with a bitmap: its SPM framework bitmap.
        let _ = s.notifications.vms.push((EndpointId(3), Bitmap::new(1)));
        s.notify_rx_buffer_full(CpuId(0), EndpointId(0x8001), EndpointId(3), false);
        assert_eq!(
            s.notifications.vm(EndpointId(3)).unwrap().framework,
            RX_BUFFER_FULL
        );
        assert_eq!(s.platform().0.len(), 3);
        // The NPI when the partition is next switched to (the handler marked it running).
        s.set_running(
            CpuId(0),
            Some(CtxRef {
                partition: 0,
                vcpu: 0,
            }),
        );
        let o = Next::Enter {
            partition: EndpointId(0x8001),
            vcpu: 0,
            start: None,
        };
        s.after_outcome(CpuId(0), None, o);
        let v = &s.partitions.get(0).unwrap().virtual_interrupts[0];
        assert!(v.is_pending(NOTIFICATION_PENDING_INTID));
    }
}
