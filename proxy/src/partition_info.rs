//! FFA_PARTITION_INFO_GET: the SPMC writes the descriptors into the proxy's RX buffer, the
//! proxy copies them into the host's.
//!
//! The SPMC's count and descriptor size are data too: their product is overflow-checked and
//! bounded by the host's buffer before anything is copied.

use ffa::{FfaError, PartitionInfoGetFlags, Regs, Version};

use crate::mailbox::copy;
use crate::{Conduit, HostMemory, Proxy, el3, reply};

/// A v1.0 descriptor: ID, execution context count, properties (v1.0 answers carry no size).
const V1_0_DESCRIPTOR_SIZE: u64 = 8;

impl Proxy {
    /// The host's FFA_PARTITION_INFO_GET.
    pub(crate) fn partition_info_get<C: Conduit, M: HostMemory>(
        &mut self,
        flags: PartitionInfoGetFlags,
        version: Version,
        regs: &Regs,
        conduit: &mut C,
        mem: &mut M,
    ) -> Regs {
        // As pKVM: no host RX buffer, no partition info, whatever the flags.
        let Some(mailbox) = self.mailbox else {
            return reply::error(FfaError::Busy, regs);
        };
        // w5 is reserved at v1.0: a count-only request there would leave the proxy unsure
        // whether the SPMC wrote into its RX buffer.
        if version == Version(1, 0) && flags.count_only {
            return reply::error(FfaError::InvalidParameters, regs);
        }
        let answer = conduit.call(regs);
        if !ffa::call::is_success(&answer) || flags.count_only {
            return answer;
        }
        let count = u64::from(answer[2] as u32);
        if count == 0 {
            return answer;
        }
        let size = if version > Version(1, 0) {
            u64::from(answer[3] as u32)
        } else {
            V1_0_DESCRIPTOR_SIZE
        };
        let copied = match count.checked_mul(size) {
            Some(bytes) if bytes <= mailbox.bytes() => {
                copy(mem, self.config.rx, mailbox.rx.base(), bytes)
            }
            _ => Err(FfaError::Aborted),
        };
        match copied {
            Ok(()) => answer,
            Err(e) => {
                // The host will not release a buffer it was told nothing about: hand the
                // proxy's RX back to the SPMC now.
                let _ = conduit.call(&el3::rx_release());
                reply::error(e, regs)
            }
        }
    }
}
