//! FFA_FEATURES, FFA_ID_GET and FFA_SPM_ID_GET.
//!
//! FFA_FEATURES reports SUCCESS for exactly the functions this SPMC implements for the
//! caller's world at the caller's version, NOT_SUPPORTED for everything else: functions not
//! implemented yet, functions newer than the caller's version and unknown IDs. FFA_INTERRUPT is
//! SUCCESS for both worlds (it is how the SPMC tells each of an interrupt), as Hafnium answers.
//! FFA_MSG_SEND2 (v1.1+) is SUCCESS for the normal world and for partitions whose manifest
//! declares indirect messaging, and NOT_SUPPORTED for other partitions (every send of theirs is
//! DENIED); Hafnium answers SUCCESS to every v1.1+ caller. Notifications: BIND/UNBIND/SET/GET
//! for both worlds, BITMAP_CREATE/DESTROY and INFO_GET (both widths) for the normal world only.
//! Feature IDs (v1.1+ callers, bits 30:8 and the input properties zero, as Hafnium checks): SRI
//! answers its INTID (8) to the normal world only; NPI (5) to S-EL1 partitions; MEI (4) to S-EL1
//! partitions whose manifest asks for managed exit (Hafnium answers it to every S-EL1 partition;
//! a partition without managed exit never gets that interrupt, so we say so). The other world
//! gets NOT_SUPPORTED. Input properties:
//! FF-A defines them only for FFA_MEM_RETRIEVE_REQ, where a v1.1+ caller must set bit 1 (it
//! handles the NS bit) as Hafnium requires; for other functions they are SBZ, and we ignore
//! them as Hafnium does (TF-A's EL3 SPMC answers NOT_SUPPORTED instead).

use ffa::hafnium;
use ffa::{Feature, FeatureId, FfaError, FuncId, Version};

use crate::mailbox::MAX_MAILBOX_PAGES;
use crate::manifest::{ExceptionLevel, NsInterruptsAction};
use crate::platform::Platform;
use crate::spmc::{Call, Endpoint, Next, Spmc};

/// FFA_FEATURES(FFA_MEM_RETRIEVE_REQ) bit 1, in the input and the answer: the NS bit in
/// retrieve responses.
const RETRIEVE_NS_BIT: u32 = 1 << 1;
/// FFA_FEATURES(FFA_MEM_RETRIEVE_REQ) w2 bit 2: the hypervisor retrieve request is supported.
const RETRIEVE_HYPERVISOR_BIT: u32 = 1 << 2;

/// FFA_FEATURES w1 for a feature ID: bits 30:8 MBZ, and bit 31 clear (set, it names a
/// function, and no function has that number).
const FEATURE_ID_MBZ: u32 = 0xffff_ff00;

/// Which world may use a function.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Worlds {
    Both,
    NormalOnly,
    PartitionsOnly,
    /// Only MP partitions (FFA_SECONDARY_EP_REGISTER).
    MpPartitionsOnly,
    /// The normal world and partitions with indirect messaging in their manifest.
    IndirectMessaging,
}

/// The functions this SPMC implements, and for whom.
fn implemented(func: FuncId) -> Option<Worlds> {
    use FuncId as F;
    Some(match func {
        F::Error32
        | F::Success32
        | F::Success64
        | F::Version
        | F::Features
        | F::RxRelease
        | F::RxTxMap32
        | F::RxTxMap64
        | F::RxTxUnmap
        | F::PartitionInfoGet
        | F::PartitionInfoGetRegs
        | F::IdGet
        | F::SpmIdGet
        | F::MsgSendDirectReq32
        | F::MsgSendDirectReq64
        | F::MsgSendDirectReq64_2
        | F::MemShare32
        | F::MemShare64
        | F::MemLend32
        | F::MemLend64
        | F::MemDonate32
        | F::MemDonate64
        | F::MemReclaim
        | F::MemFragTx
        | F::MemFragRx
        | F::MemRetrieveReq32
        | F::MemRetrieveReq64
        | F::NotificationBind
        | F::NotificationUnbind
        | F::NotificationSet
        | F::NotificationGet
        // Delivered to both: the normal world's preemption, a waiting partition's interrupt.
        | F::Interrupt32
        // Partitions run their callees that yielded back to them.
        | F::Run32 => Worlds::Both,
        F::RxAcquire
        | F::NotificationBitmapCreate
        | F::NotificationBitmapDestroy
        | F::NotificationInfoGet32
        | F::NotificationInfoGet64 => Worlds::NormalOnly,
        F::MsgWait32
        | F::Yield32
        | F::MsgSendDirectResp32
        | F::MsgSendDirectResp64
        | F::MsgSendDirectResp64_2
        | F::ConsoleLog32
        | F::ConsoleLog64
        | F::MemRelinquish => Worlds::PartitionsOnly,
        F::SecondaryEpRegister32 | F::SecondaryEpRegister64 => Worlds::MpPartitionsOnly,
        F::MsgSend2 => Worlds::IndirectMessaging,
        _ => return None,
    })
}

impl<P: Platform> Spmc<P> {
    pub(crate) fn ffa_features(&mut self, call: &Call, feature: Feature, input: u32) -> Next {
        match self.features_w2(call, feature, input) {
            Ok(w2) => self.succeed(call, [w2, 0, 0, 0, 0, 0]),
            Err(code) => self.fail(call, code),
        }
    }

    /// FFA_FEATURES: w2 of its FFA_SUCCESS (w3..w7 are 0), or the error to answer.
    pub(crate) fn features_w2(
        &self,
        call: &Call,
        feature: Feature,
        input: u32,
    ) -> Result<u32, FfaError> {
        let func = match feature {
            Feature::FuncId(func) => func,
            Feature::FeatureId(id) => return self.feature_id_w2(call, id, input),
            Feature::Unknown(_) => return Err(FfaError::NotSupported),
        };
        let version = self.version_of(call.from);
        // Console logging is a Hafnium extension partitions of any version use.
        let console = matches!(func, FuncId::ConsoleLog32 | FuncId::ConsoleLog64);
        if func.minimum_ffa_version() > version && !console {
            return Err(FfaError::NotSupported);
        }
        let allowed = match (implemented(func), call.from) {
            (None, _) => false,
            (Some(Worlds::Both), _) => true,
            (Some(Worlds::NormalOnly), from) => from == Endpoint::NormalWorld,
            (Some(Worlds::PartitionsOnly), from) => from != Endpoint::NormalWorld,
            (Some(Worlds::MpPartitionsOnly), Endpoint::Partition(ctx)) => self
                .partitions
                .get(ctx.partition)
                .is_some_and(|p| p.is_mp()),
            (Some(Worlds::MpPartitionsOnly), Endpoint::NormalWorld) => false,
            (Some(Worlds::IndirectMessaging), Endpoint::NormalWorld) => true,
            (Some(Worlds::IndirectMessaging), Endpoint::Partition(ctx)) => {
                self.partitions.get(ctx.partition).is_some_and(|p| {
                    p.config
                        .messaging
                        .has(crate::manifest::MessagingMethod::INDIRECT)
                })
            }
        };
        if !allowed {
            return Err(FfaError::NotSupported);
        }
        let retrieve = matches!(func, FuncId::MemRetrieveReq32 | FuncId::MemRetrieveReq64);
        let partition = call.from != Endpoint::NormalWorld;
        if retrieve && partition && version >= ffa::Version(1, 1) && input & RETRIEVE_NS_BIT == 0 {
            // A v1.1 caller must say it handles the NS bit in retrieve responses (Hafnium).
            return Err(FfaError::NotSupported);
        }
        let w2 = match func {
            // w2[1:0] = 0: 4 KiB minimum size and alignment; v1.2 adds the maximum page
            // count in w2[31:16].
            FuncId::RxTxMap32 | FuncId::RxTxMap64 if version >= ffa::Version(1, 2) => {
                MAX_MAILBOX_PAGES << 16
            }
            // The TX buffer only (bit 0 clear), the NS bit set in responses from v1.1, and
            // for the normal world the hypervisor retrieve request (bit 2).
            _ if retrieve && version >= ffa::Version(1, 1) => match call.from {
                Endpoint::NormalWorld => RETRIEVE_NS_BIT | RETRIEVE_HYPERVISOR_BIT,
                Endpoint::Partition(_) => RETRIEVE_NS_BIT,
            },
            _ => 0,
        };
        Ok(w2)
    }

    /// FFA_FEATURES for a feature ID: the interrupt ID in w2 (Hafnium's values), to the world
    /// that takes that interrupt.
    fn feature_id_w2(&self, call: &Call, id: FeatureId, input: u32) -> Result<u32, FfaError> {
        // The decoder looks at bits 7:0 only; input properties MBZ.
        let raw = call.regs[1] as u32;
        if raw & FEATURE_ID_MBZ != 0 || input != 0 || self.version_of(call.from) < Version(1, 1) {
            return Err(FfaError::NotSupported);
        }
        let partition = match call.from {
            Endpoint::Partition(ctx) => self.partitions.get(ctx.partition),
            Endpoint::NormalWorld => None,
        };
        // S-EL0 partitions have no virtual interrupts (Hafnium).
        let sel1 = partition.filter(|p| p.config.exception_level == ExceptionLevel::SEl1);
        let intid = match id {
            FeatureId::ScheduleReceiverInterrupt => {
                (call.from == Endpoint::NormalWorld).then_some(hafnium::SCHEDULE_RECEIVER_INTID)
            }
            FeatureId::NotificationPendingInterrupt => {
                sel1.map(|_| hafnium::NOTIFICATION_PENDING_INTID)
            }
            FeatureId::ManagedExitInterrupt => sel1
                .filter(|p| {
                    matches!(
                        p.config.ns_interrupts,
                        NsInterruptsAction::ManagedExit { .. }
                    )
                })
                .map(|_| hafnium::MANAGED_EXIT_INTID),
        };
        intid.ok_or(FfaError::NotSupported)
    }

    pub(crate) fn id_get(&mut self, call: &Call) -> Next {
        self.succeed(call, [self.id_get_w2(call), 0, 0, 0, 0, 0])
    }

    /// FFA_ID_GET's answer: the caller's ID.
    pub(crate) fn id_get_w2(&self, call: &Call) -> u32 {
        // The SPMD answers the normal world's FFA_ID_GET itself (0); we agree if it forwards.
        let id = match call.from {
            Endpoint::NormalWorld => 0,
            Endpoint::Partition(ctx) => self.partitions.id_of(ctx).map_or(0, |id| id.0),
        };
        u32::from(id)
    }

    pub(crate) fn spm_id_get(&mut self, call: &Call) -> Next {
        let id = self.attributes.spmc_id.0;
        self.succeed(call, [u32::from(id), 0, 0, 0, 0, 0])
    }
}
