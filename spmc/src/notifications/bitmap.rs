//! One receiver's notification bitmaps: for each kind of sender (partitions, normal-world
//! VMs) the binding of each of the 64 bits and what is pending, globally and per vCPU; and the
//! framework notifications (SPM's in the low 32 bits, the hypervisor's in the high 32).

use ffa::EndpointId;

/// Most vCPUs a receiver's per-vCPU notifications are tracked for: partitions have at most one
/// per CPU, and so, here, do normal-world VMs (the table lives in the SPMC's fixed memory).
pub const MAX_VCPUS: usize = crate::partition::MAX_CPUS;

/// The SPM framework notification "RX buffer full" (bit 0 of the SPM framework bitmap): a
/// partition's message.
pub const RX_BUFFER_FULL: u64 = 1 << 0;
/// The hypervisor framework notification "RX buffer full" (bit 0 of the hypervisor framework
/// bitmap, bit 32 here): a normal-world VM's message, which a hypervisor would deliver (the
/// SPMC signals it itself when the VM's message comes without one, as Hafnium does).
pub const HYP_RX_BUFFER_FULL: u64 = 1 << 32;

/// Where a set of notifications comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SenderKind {
    /// A secure partition.
    Partition,
    /// A normal-world VM (or the OS kernel, ID 0).
    Vm,
}

impl SenderKind {
    /// The kind of `id`.
    pub fn of(id: EndpointId) -> Self {
        if id.is_secure() {
            Self::Partition
        } else {
            Self::Vm
        }
    }
}

/// Notifications from one kind of sender.
#[derive(Clone, Debug)]
pub struct Source {
    /// Bits bound to a sender.
    bound: u64,
    /// Of those, the bits bound as per-vCPU notifications.
    per_vcpu: u64,
    /// The sender each bound bit is bound to.
    senders: [u16; 64],
    /// Pending global notifications.
    global: u64,
    /// Global notifications whose receiver the scheduler was told of (FFA_NOTIFICATION_INFO_GET).
    global_retrieved: u64,
    /// Pending per-vCPU notifications, by vCPU.
    vcpu: [u64; MAX_VCPUS],
    /// vCPUs whose pending per-vCPU notifications the scheduler was told of.
    vcpu_retrieved: u32,
}

impl Source {
    const fn new() -> Self {
        Self {
            bound: 0,
            per_vcpu: 0,
            senders: [0; 64],
            global: 0,
            global_retrieved: 0,
            vcpu: [0; MAX_VCPUS],
            vcpu_retrieved: 0,
        }
    }

    /// Whether every bit of `bits` is unbound.
    pub fn all_unbound(&self, bits: u64) -> bool {
        self.bound & bits == 0
    }

    /// Whether every bit of `bits` is bound to `sender`.
    pub fn all_bound_to(&self, bits: u64, sender: EndpointId) -> bool {
        self.bound & bits == bits && bits_of(bits).all(|i| self.senders.get(i) == Some(&sender.0))
    }

    /// Whether every bit of `bits` is bound per-vCPU (`true`) or global (`false`).
    pub fn all_bound_as(&self, bits: u64, per_vcpu: bool) -> bool {
        if per_vcpu {
            self.per_vcpu & bits == bits
        } else {
            self.per_vcpu & bits == 0
        }
    }

    /// Whether any bit of `bits` is pending, globally or for any vCPU.
    pub fn any_pending(&self, bits: u64) -> bool {
        self.global & bits != 0 || self.vcpu.iter().any(|v| v & bits != 0)
    }

    /// Binds `bits` to `sender`.
    pub fn bind(&mut self, bits: u64, sender: EndpointId, per_vcpu: bool) {
        self.bound |= bits;
        if per_vcpu {
            self.per_vcpu |= bits;
        } else {
            self.per_vcpu &= !bits;
        }
        for i in bits_of(bits) {
            if let Some(s) = self.senders.get_mut(i) {
                *s = sender.0;
            }
        }
    }

    /// Unbinds `bits`.
    pub fn unbind(&mut self, bits: u64) {
        self.bound &= !bits;
        self.per_vcpu &= !bits;
        for i in bits_of(bits) {
            if let Some(s) = self.senders.get_mut(i) {
                *s = 0;
            }
        }
    }

    /// Makes `bits` pending, globally (`None`) or for one vCPU. False for a vCPU past the table.
    pub fn set(&mut self, bits: u64, vcpu: Option<u16>) -> bool {
        match vcpu {
            None => self.global |= bits,
            Some(v) => match self.vcpu.get_mut(usize::from(v)) {
                Some(p) => {
                    if *p & bits != bits {
                        // New bits: the scheduler is to hear of this vCPU again.
                        self.vcpu_retrieved &= !bit32(v);
                    }
                    *p |= bits;
                }
                None => return false,
            },
        }
        true
    }

    /// Takes the global notifications and those of `vcpu`.
    pub fn take(&mut self, vcpu: u16) -> u64 {
        let mut out = core::mem::take(&mut self.global);
        self.global_retrieved = 0;
        if let Some(p) = self.vcpu.get_mut(usize::from(vcpu)) {
            out |= core::mem::take(p);
            self.vcpu_retrieved &= !bit32(vcpu);
        }
        out
    }

    /// Pending global notifications.
    pub fn global(&self) -> u64 {
        self.global
    }

    /// Pending notifications of `vcpu`.
    pub fn of_vcpu(&self, vcpu: u16) -> u64 {
        self.vcpu.get(usize::from(vcpu)).copied().unwrap_or(0)
    }

    /// Whether global notifications are pending that the scheduler was not told of.
    pub fn global_unreported(&self) -> bool {
        self.global & !self.global_retrieved != 0
    }

    /// Marks the pending global notifications as reported to the scheduler.
    pub fn report_global(&mut self) {
        self.global_retrieved = self.global;
    }

    /// Whether `vcpu` has pending per-vCPU notifications the scheduler was not told of.
    pub fn vcpu_unreported(&self, vcpu: u16) -> bool {
        self.of_vcpu(vcpu) != 0 && self.vcpu_retrieved & bit32(vcpu) == 0
    }

    /// Marks `vcpu`'s pending notifications as reported.
    pub fn report_vcpu(&mut self, vcpu: u16) {
        self.vcpu_retrieved |= bit32(vcpu);
    }

    /// Whether anything is pending the scheduler was not told of.
    pub fn any_unreported(&self) -> bool {
        self.global_unreported() || (0..MAX_VCPUS as u16).any(|v| self.vcpu_unreported(v))
    }
}

/// One receiver: its vCPU count and its notifications.
#[derive(Clone, Debug)]
pub struct Bitmap {
    /// Its vCPU count.
    pub vcpu_count: u16,
    /// From partitions.
    pub from_sp: Source,
    /// From normal-world VMs (used for partition receivers only).
    pub from_vm: Source,
    /// Pending framework notifications: SPM's in bits 31:0, the hypervisor's in 63:32.
    pub framework: u64,
    /// Whether the scheduler was told of the pending framework notifications.
    pub framework_retrieved: bool,
}

impl Bitmap {
    /// An empty bitmap for a receiver with `vcpu_count` vCPUs.
    pub const fn new(vcpu_count: u16) -> Self {
        Self {
            vcpu_count,
            from_sp: Source::new(),
            from_vm: Source::new(),
            framework: 0,
            framework_retrieved: false,
        }
    }

    /// The notifications from senders of `kind`.
    pub fn source(&self, kind: SenderKind) -> &Source {
        match kind {
            SenderKind::Partition => &self.from_sp,
            SenderKind::Vm => &self.from_vm,
        }
    }

    /// The notifications from senders of `kind`, mutably.
    pub fn source_mut(&mut self, kind: SenderKind) -> &mut Source {
        match kind {
            SenderKind::Partition => &mut self.from_sp,
            SenderKind::Vm => &mut self.from_vm,
        }
    }

    /// Whether global notifications (from anyone, framework ones included) are pending: what
    /// makes the partition's next run carry the notification pending interrupt.
    pub fn global_pending(&self) -> bool {
        self.from_sp.global() != 0 || self.from_vm.global() != 0 || self.framework != 0
    }

    /// Whether anything at all is pending (a VM's bitmap cannot be destroyed then).
    pub fn any_pending(&self) -> bool {
        self.from_sp.any_pending(u64::MAX)
            || self.from_vm.any_pending(u64::MAX)
            || self.framework != 0
    }

    /// Sets framework notifications.
    pub fn set_framework(&mut self, bits: u64) {
        if self.framework & bits != bits {
            self.framework_retrieved = false;
        }
        self.framework |= bits;
    }

    /// Takes the framework notifications.
    pub fn take_framework(&mut self) -> u64 {
        self.framework_retrieved = false;
        core::mem::take(&mut self.framework)
    }

    /// Whether anything is pending the scheduler was not told of.
    pub fn any_unreported(&self) -> bool {
        (self.framework != 0 && !self.framework_retrieved)
            || self.from_sp.any_unreported()
            || self.from_vm.any_unreported()
    }
}

/// The indices of the set bits of `bits`.
fn bits_of(bits: u64) -> impl Iterator<Item = usize> {
    (0..64).filter(move |i| bits & (1 << i) != 0)
}

fn bit32(vcpu: u16) -> u32 {
    1u32.checked_shl(u32::from(vcpu)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_pending_and_reporting() {
        let mut s = Source::new();
        let a = EndpointId(0x8001);
        assert!(s.all_unbound(0b11));
        s.bind(0b01, a, false);
        s.bind(0b10, a, true);
        assert!(!s.all_unbound(0b11));
        assert!(s.all_bound_to(0b11, a));
        assert!(!s.all_bound_to(0b111, a));
        assert!(s.all_bound_as(0b01, false));
        assert!(s.all_bound_as(0b10, true));
        assert!(!s.all_bound_as(0b11, true));
        assert!(s.set(0b01, None));
        assert!(s.set(0b10, Some(3)));
        assert!(!s.set(0b10, Some(MAX_VCPUS as u16)));
        assert!(s.any_pending(0b10));
        assert!(s.global_unreported() && s.vcpu_unreported(3));
        s.report_global();
        s.report_vcpu(3);
        assert!(!s.any_unreported());
        assert_eq!(s.take(0), 0b01);
        assert_eq!(s.take(3), 0b10);
        assert!(!s.any_pending(u64::MAX));
        s.unbind(0b11);
        assert!(s.all_unbound(0b11));
    }
}
