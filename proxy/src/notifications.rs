//! Notifications (FF-A v1.1+) between the host and secure partitions.
//!
//! pKVM blocks all of these: passed straight through they would let the host act as any
//! endpoint. The proxy relays them instead, the SPMC keeping every bitmap, and only makes sure
//! the host acts as itself (ID 0), answering INVALID_PARAMETERS to a spoofed ID as pKVM does
//! for the IDs it checks:
//! - FFA_NOTIFICATION_BITMAP_CREATE/DESTROY: forwarded when they name the host's VM ID. The
//!   proxy is the hypervisor, and Hafnium's hypervisor creates a VM's bitmap itself; the host
//!   is the only VM here and Linux's driver asks for its own bitmap at probe, so the proxy
//!   forwards that request instead of making it at first use: the SPMC's answer (success,
//!   DENIED for a second create, NO_MEMORY) reaches the host as it is. The vCPU count of a
//!   created bitmap is kept to check FFA_NOTIFICATION_GET's vCPU ID.
//! - BIND/UNBIND: the caller is the receiver, so the receiver must be the host; SET: the
//!   caller is the sender, so the sender must be the host. The other side must be a secure
//!   endpoint: the proxy hosts no other VM, so VM-to-VM notifications (which Hafnium's
//!   hypervisor keeps itself) do not exist here.
//! - GET: the receiver must be the host and the vCPU ID below the bitmap's vCPU count; the
//!   answer may report a message in the proxy's RX buffer (see `indirect_msg`).
//! - INFO_GET (32, 64) carries no ID and no memory: passed through (`route`).
//!
//! Not relayed: the notification pending interrupt (the proxy injects no virtual interrupt:
//! the host runs with the physical GIC and learns of its notifications from the SRI, which the
//! SPMC pends on the core as a Non-secure SGI, and FFA_NOTIFICATION_INFO_GET), and the
//! hypervisor's own framework notifications (no VM-to-VM messages).

use ffa::{EndpointId, FfaError, Regs};

use crate::{Conduit, HOST_ID, HostMemory, Proxy, reply};

/// The receiver of a bind or unbind the host makes must be the host, the sender secure.
pub(crate) fn check_bind(sender: u16, receiver: u16) -> Result<(), FfaError> {
    if EndpointId(receiver) != HOST_ID || !EndpointId(sender).is_secure() {
        return Err(FfaError::InvalidParameters);
    }
    Ok(())
}

/// The sender of a notification the host sets must be the host, the receiver secure.
pub(crate) fn check_set(sender: u16, receiver: u16) -> Result<(), FfaError> {
    if EndpointId(sender) != HOST_ID || !EndpointId(receiver).is_secure() {
        return Err(FfaError::InvalidParameters);
    }
    Ok(())
}

impl Proxy {
    /// The host's FFA_NOTIFICATION_BITMAP_CREATE for `vm_id` with `vcpus` vCPUs.
    pub(crate) fn bitmap_create<C: Conduit>(
        &mut self,
        vm_id: u16,
        vcpus: u32,
        regs: &Regs,
        conduit: &mut C,
    ) -> Regs {
        if EndpointId(vm_id) != HOST_ID {
            return reply::error(FfaError::InvalidParameters, regs);
        }
        let answer = conduit.call(regs);
        if ffa::call::is_success(&answer) {
            self.notification_vcpus = Some(vcpus);
        }
        answer
    }

    /// The host's FFA_NOTIFICATION_BITMAP_DESTROY for `vm_id`.
    pub(crate) fn bitmap_destroy<C: Conduit>(
        &mut self,
        vm_id: u16,
        regs: &Regs,
        conduit: &mut C,
    ) -> Regs {
        if EndpointId(vm_id) != HOST_ID {
            return reply::error(FfaError::InvalidParameters, regs);
        }
        let answer = conduit.call(regs);
        if ffa::call::is_success(&answer) {
            self.notification_vcpus = None;
        }
        answer
    }

    /// The host's FFA_NOTIFICATION_GET for `receiver` on vCPU `vcpu`.
    pub(crate) fn notification_get<C: Conduit, M: HostMemory>(
        &mut self,
        vcpu: u16,
        receiver: u16,
        regs: &Regs,
        conduit: &mut C,
        mem: &mut M,
    ) -> Regs {
        if EndpointId(receiver) != HOST_ID {
            return reply::error(FfaError::InvalidParameters, regs);
        }
        // Without a bitmap the SPMC refuses on its own; with one, its vCPU count is the range.
        if let Some(vcpus) = self.notification_vcpus
            && u32::from(vcpu) >= vcpus
        {
            return reply::error(FfaError::InvalidParameters, regs);
        }
        let answer = conduit.call(regs);
        self.deliver_message(answer, conduit, mem)
    }
}
