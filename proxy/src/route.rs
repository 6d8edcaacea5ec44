//! The one table that decides, per FF-A function, what the proxy does with a host call.
//!
//! The match is exhaustive so that a new function in `arm-ffa` cannot slip through unnoticed;
//! function IDs the codec does not know at all are blocked by the caller.

use ffa::FuncId;

/// What happens to a host call of one function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The proxy answers it, or checks (and may rewrite) it before forwarding.
    Proxy,
    /// Passed to EL3 untouched, answer returned untouched.
    Forward,
    /// Refused with NOT_SUPPORTED, never reaching EL3.
    Block,
}

/// The route of host calls to `func`.
pub const fn route(func: FuncId) -> Route {
    use FuncId as F;
    match func {
        F::Version
        | F::IdGet
        | F::Features
        | F::RxTxMap64
        | F::RxTxUnmap
        | F::RxRelease
        | F::PartitionInfoGet
        | F::MsgSendDirectReq32
        | F::MsgSendDirectReq64
        | F::MsgSendDirectReq64_2
        | F::MemShare32
        | F::MemShare64
        | F::MemLend32
        | F::MemLend64
        | F::MemFragTx
        | F::MemReclaim
        // Indirect messages go through the proxy's mailbox; notification calls have their
        // endpoint IDs checked (and GET may carry a message into the host's RX buffer).
        | F::MsgSend2
        | F::NotificationBitmapCreate
        | F::NotificationBitmapDestroy
        | F::NotificationBind
        | F::NotificationUnbind
        | F::NotificationSet
        | F::NotificationGet => Route::Proxy,

        // Scheduling and plain answers carry no host memory (pKVM passes them through too).
        F::Run32 | F::Run64 | F::SpmIdGet | F::Success32 | F::Success64 | F::Error32 | F::Error64 => {
            Route::Forward
        }
        // Carries no endpoint ID and no memory: the SPMC's list of who has notifications pending.
        F::NotificationInfoGet32 | F::NotificationInfoGet64 => Route::Forward,

        // One form of the map is enough; the proxy reissues it as RXTX_MAP_64 (pKVM blocks it too).
        F::RxTxMap32
        // Donating gives pages away for good (the host would need them out of its stage 2);
        // retrieving, relinquishing and asking for retrieve fragments are the borrowers'
        // (partitions'), and the proxy's own.
        | F::MemDonate32
        | F::MemDonate64
        | F::MemRetrieveReq32
        | F::MemRetrieveReq64
        | F::MemRetrieveResp
        | F::MemRelinquish
        | F::MemOpPause
        | F::MemOpResume
        | F::MemFragRx
        // Optional v1.2 interfaces pKVM leaves out as well.
        | F::PartitionInfoGetRegs
        | F::ConsoleLog32
        | F::ConsoleLog64
        // The hypervisor's own call: the proxy is the hypervisor (it hands the host a message
        // on FFA_NOTIFICATION_GET instead, see `indirect_msg`).
        | F::RxAcquire
        // Calls only a secure endpoint or the SPMC makes.
        | F::MsgWait32
        | F::MsgWait64
        | F::Yield32
        | F::Yield64
        | F::Interrupt32
        | F::Interrupt64
        | F::NormalWorldResume32
        | F::NormalWorldResume64
        | F::MsgSendDirectResp32
        | F::MsgSendDirectResp64
        | F::MsgSendDirectResp64_2
        | F::SecondaryEpRegister32
        | F::SecondaryEpRegister64
        | F::El3IntrHandle
        | F::MemPermGet32
        | F::MemPermGet64
        | F::MemPermSet32
        | F::MemPermSet64 => Route::Block,
    }
}
