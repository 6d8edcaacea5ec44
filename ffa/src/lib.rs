//! The FF-A vocabulary both sides share.
//!
//! A thin, version-aware facade over the `arm-ffa` crate: register decode and encode that never
//! panic on untrusted input, endpoint-ID rules, memory transaction descriptors in every layout
//! (v1.0, v1.1, v1.2), partition-info descriptors, the boot-info blob and the Hafnium
//! paravirtual call IDs.
#![no_std]
#![forbid(unsafe_code)]

pub mod boot_info;
pub mod call;
pub mod hafnium;
pub mod id;
pub mod memory;
pub mod partition_info;
pub mod version;

pub use arm_ffa::interface_args::{
    DirectMsg2Args, DirectMsgArgs, Feature, FeatureId, MemOpBuf, MsgWaitFlags, RxTxAddr,
    SecondaryEpRegisterAddr, SuccessArgs, TargetInfo, VersionFlags, VersionQueryType,
};
pub use arm_ffa::notification::NotificationSetFlags;
pub use arm_ffa::partition_info::PartitionInfoGetFlags;
pub use arm_ffa::{FfaError, FuncId, Interface, Uuid, UuidHelper, Version};
pub use call::{Decoded, Regs};
pub use id::EndpointId;

/// FF-A's unit of memory for buffer and region sizes, whatever the translation granule.
pub const PAGE_SIZE: usize = 4096;
