//! FF-A calls a scenario makes, built with the shared codec (or by hand where a scenario needs
//! registers the codec refuses to build), and the set-up steps most scenarios start with.
//!
//! Everything runs on CPU 0 unless a function takes a `cpu`.

use ffa::call::encode;
use ffa::{
    DirectMsg2Args, DirectMsgArgs, FuncId, Interface, PartitionInfoGetFlags, Regs, RxTxAddr,
    TargetInfo, Uuid, UuidHelper, Version,
};

use crate::Client;
use crate::check::{Failure, expect_success, expect_version};

/// The normal world's endpoint ID (the host, or the hypervisor standing for it).
pub const HOST_ID: u16 = 0;

/// Makes `call` on CPU 0.
pub fn call(c: &mut dyn Client, call: &Interface) -> Regs {
    c.call_on(0, &encode(call))
}

/// Makes a call from raw registers (x0.. from `x`, the rest zero) on CPU 0.
pub fn raw(c: &mut dyn Client, x: &[u64]) -> Regs {
    let mut regs = [0; 18];
    for (r, v) in regs.iter_mut().zip(x) {
        *r = *v;
    }
    c.call_on(0, &regs)
}

fn fid(func: FuncId) -> u64 {
    u64::from(u32::from(func))
}

/// FFA_VERSION asking for `v`.
pub fn version(c: &mut dyn Client, v: Version) -> Regs {
    version_word(c, ffa::version::to_u32(v))
}

/// FFA_VERSION with w1 as given (for malformed versions).
pub fn version_word(c: &mut dyn Client, w1: u32) -> Regs {
    raw(c, &[fid(FuncId::Version), u64::from(w1)])
}

/// FFA_ID_GET.
pub fn id_get(c: &mut dyn Client) -> Regs {
    call(c, &Interface::IdGet)
}

/// FFA_SPM_ID_GET.
pub fn spm_id_get(c: &mut dyn Client) -> Regs {
    call(c, &Interface::SpmIdGet)
}

/// FFA_FEATURES for a function or feature ID (raw, so unknown IDs can be asked).
pub fn features(c: &mut dyn Client, id: u32) -> Regs {
    raw(c, &[fid(FuncId::Features), u64::from(id)])
}

/// FFA_RXTX_MAP_64.
pub fn rxtx_map(c: &mut dyn Client, tx: u64, rx: u64, pages: u32) -> Regs {
    call(
        c,
        &Interface::RxTxMap {
            addr: RxTxAddr::Addr64 { rx, tx },
            page_cnt: pages,
        },
    )
}

/// FFA_RXTX_UNMAP for endpoint `id`.
pub fn rxtx_unmap(c: &mut dyn Client, id: u16) -> Regs {
    call(c, &Interface::RxTxUnmap { id })
}

/// FFA_RX_RELEASE (w1 = `vm_id`, zero for the caller's own buffer).
pub fn rx_release(c: &mut dyn Client, vm_id: u16) -> Regs {
    call(c, &Interface::RxRelease { vm_id })
}

/// FFA_PARTITION_INFO_GET for `uuid` (nil: every partition).
pub fn partition_info_get(c: &mut dyn Client, uuid: Uuid, count_only: bool) -> Regs {
    call(
        c,
        &Interface::PartitionInfoGet {
            uuid,
            flags: PartitionInfoGetFlags { count_only },
        },
    )
}

/// FFA_PARTITION_INFO_GET with w5 (flags) as given.
pub fn partition_info_get_flags(c: &mut dyn Client, uuid: Uuid, flags: u32) -> Regs {
    let [u0, u1, u2, u3] = UuidHelper::to_u32_regs(uuid).map(u64::from);
    raw(
        c,
        &[
            fid(FuncId::PartitionInfoGet),
            u0,
            u1,
            u2,
            u3,
            u64::from(flags),
        ],
    )
}

/// FFA_PARTITION_INFO_GET_REGS (raw: the codec refuses a tag with start index 0).
pub fn partition_info_get_regs(c: &mut dyn Client, uuid: Uuid, start: u16, tag: u16) -> Regs {
    let [lo, hi] = UuidHelper::to_u64_regs(uuid);
    raw(
        c,
        &[
            fid(FuncId::PartitionInfoGetRegs),
            lo,
            hi,
            u64::from(tag) << 16 | u64::from(start),
        ],
    )
}

/// FFA_MSG_SEND_DIRECT_REQ (SMC32) from `src` to `dst` on `cpu`.
pub fn direct_req32_on(c: &mut dyn Client, cpu: u16, src: u16, dst: u16, args: [u64; 5]) -> Regs {
    let call = Interface::MsgSendDirectReq {
        src_id: src,
        dst_id: dst,
        args: DirectMsgArgs::Args32(args.map(|a| a as u32)),
    };
    c.call_on(cpu, &encode(&call))
}

/// FFA_MSG_SEND_DIRECT_REQ (SMC32) from `src` to `dst` on CPU 0.
pub fn direct_req32(c: &mut dyn Client, src: u16, dst: u16, args: [u64; 5]) -> Regs {
    direct_req32_on(c, 0, src, dst, args)
}

/// FFA_MSG_SEND_DIRECT_REQ (SMC64) with payload x3..x7 (x8..x17 zero).
pub fn direct_req64(c: &mut dyn Client, src: u16, dst: u16, args: [u64; 5]) -> Regs {
    let mut all = [0; 15];
    all[..5].copy_from_slice(&args);
    call(
        c,
        &Interface::MsgSendDirectReq {
            src_id: src,
            dst_id: dst,
            args: DirectMsgArgs::Args64(all),
        },
    )
}

/// FFA_MSG_SEND_DIRECT_REQ2 naming `uuid`, with payload x4.. from `args` (zero-padded).
pub fn direct_req2(c: &mut dyn Client, src: u16, dst: u16, uuid: Uuid, args: &[u64]) -> Regs {
    let mut all = [0; 14];
    for (a, v) in all.iter_mut().zip(args) {
        *a = *v;
    }
    call(
        c,
        &Interface::MsgSendDirectReq2 {
            src_id: src,
            dst_id: dst,
            uuid,
            args: DirectMsg2Args(all),
        },
    )
}

/// FFA_RUN of execution context `vcpu` of endpoint `id`, on `cpu`.
pub fn run_on(c: &mut dyn Client, cpu: u16, id: u16, vcpu: u16) -> Regs {
    let call = Interface::Run {
        target_info: TargetInfo {
            endpoint_id: id,
            vcpu_id: vcpu,
        },
        is_32bit: true,
    };
    c.call_on(cpu, &encode(&call))
}

/// FFA_RUN on CPU 0.
pub fn run(c: &mut dyn Client, id: u16, vcpu: u16) -> Regs {
    run_on(c, 0, id, vcpu)
}

/// The first `N` bytes of the client's RX buffer.
pub fn read_rx<const N: usize>(c: &mut dyn Client) -> [u8; N] {
    let mut buf = [0; N];
    let rx = c.rx_addr();
    c.read(rx, &mut buf);
    buf
}

/// What FFA_VERSION asking for `requested` answers a client that has not negotiated yet.
///
/// Straight to EL3 the SPMC answers its own version, as FF-A v1.2 §13.2 has the callee do (the
/// caller then works at the lower of the two). Through the proxy the answer is the version the
/// proxy settled on for the host: pKVM's `do_ffa_version`, which the proxy follows, answers a
/// downgrade with the requested version once the SPMC accepted it, and anything newer with its
/// own. A different major version is NOT_SUPPORTED either way.
pub fn first_version_answer(c: &dyn Client, requested: Version) -> Option<Version> {
    let ours = ffa::version::OURS;
    if requested.0 != ours.0 {
        None
    } else if c.behind_proxy() {
        Some(requested.min(ours))
    } else {
        Some(ours)
    }
}

/// Negotiates `v` as a fresh client's first FF-A call.
pub fn negotiate(c: &mut dyn Client, v: Version) -> Result<(), Failure> {
    let answer = version(c, v);
    expect_version("FFA_VERSION", &answer, first_version_answer(c, v))
}

/// Maps the client's own RX/TX buffers.
pub fn map_mailbox(c: &mut dyn Client) -> Result<(), Failure> {
    let (tx, rx, pages) = (c.tx_addr(), c.rx_addr(), c.mailbox_pages());
    expect_success(
        "FFA_RXTX_MAP_64 of the client's buffers",
        &rxtx_map(c, tx, rx, pages),
    )
}

/// Negotiates `v` and maps the client's buffers: where most scenarios start.
pub fn start(c: &mut dyn Client, v: Version) -> Result<(), Failure> {
    negotiate(c, v)?;
    map_mailbox(c)
}
