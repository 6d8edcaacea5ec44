//! Notifications (FF-A v1.2 §10): the normal world's bitmap, bind/unbind/set/get between the
//! normal world and partitions and between partitions, global and per-vCPU, the schedule
//! receiver interrupt (SRI), FFA_NOTIFICATION_INFO_GET and the notification pending interrupt
//! (NPI) a partition sees when the normal world runs it.
//!
//! Codes follow Hafnium's SPMC (`api_ffa_notification_*`, `src/ffa/spmc/notifications.c`):
//! - BITMAP_CREATE/DESTROY are the normal world's (a partition's call is NOT_SUPPORTED), for a
//!   normal-world ID only (else INVALID_PARAMETERS); a second create, a destroy of no bitmap
//!   or of one with notifications pending, are DENIED.
//! - BIND/UNBIND: the caller must be the receiver, and the normal world binds only partitions
//!   as senders (INVALID_PARAMETERS); sender = receiver, no bits, an unknown sender,
//!   reserved flags: INVALID_PARAMETERS; a receiver without notifications (no bitmap, or a
//!   manifest without `notification-support`): NOT_SUPPORTED; bits bound to anyone (for
//!   UNBIND: to anyone but this sender) or still pending: DENIED.
//! - SET: the caller must be the sender, the normal world sets only partitions' bits
//!   (INVALID_PARAMETERS); no bits, reserved flags, a vCPU ID with a global set, the delay-SRI
//!   flag from the normal world, an unknown receiver, per-vCPU vs global not as bound, a vCPU
//!   the receiver does not have: INVALID_PARAMETERS; a receiver without notifications or bits
//!   not bound to this sender: DENIED.
//! - GET: the caller must be the receiver (the normal world: a normal-world ID, partition and
//!   SPM-framework bitmaps only), flags \[31:4\] zero, a vCPU it has: else INVALID_PARAMETERS.
//!   It returns and clears the bitmaps asked for.
//! - INFO_GET: the normal world's (a partition's call is NOT_SUPPORTED); NO_DATA when nothing
//!   is pending that an earlier INFO_GET did not already report.
//! - A successful SET pends the SRI (Hafnium's SGI 8, [`SRI_INTID`]) on the caller's core, at
//!   once or, with the delay-SRI flag, when that core next returns to the normal world.
//!
//! Per-vCPU notifications follow FF-A v1.2 (Hafnium's SPMC has dropped them since, as FF-A
//! v1.3 does): bound with the per-vCPU flag, set for one vCPU, listed with that vCPU by
//! INFO_GET, got by that vCPU.

use ffa::{FfaError, FuncId, Regs, Version};
use test_partitions::definitions::RELAY;
use test_partitions::protocol::{CallStatus, Command, NPI_INTID};
use test_partitions::{ECHO_ID, HOSTILE_ID, LEGACY_ID, RELAY_ID};

use crate::calls::{HOST_ID, negotiate, raw, run_on};
use crate::check::{
    Failure, Value, expect_call, expect_eq, expect_error, expect_function, expect_success,
    expect_success_w2,
};
use crate::sp::{command32, command32_on};
use crate::{CPUS, Client, context_on};

const V1_2: Version = Version(1, 2);

/// The schedule receiver interrupt: the non-secure SGI the SPMC pends (Hafnium's INTID).
pub const SRI_INTID: u32 = 8;
/// FFA_FEATURES' feature ID of the SRI.
pub const FEATURE_SRI: u32 = 2;

/// BIND/SET flags: per-vCPU.
pub const PER_VCPU: u64 = 1 << 0;
/// SET flags: delay the SRI.
pub const DELAY_SRI: u64 = 1 << 1;
/// GET flags: the bitmaps.
pub mod get {
    /// From partitions.
    pub const SP: u64 = 1 << 0;
    /// From the normal world.
    pub const VM: u64 = 1 << 1;
    /// The SPM framework's.
    pub const SPM: u64 = 1 << 2;
    /// The hypervisor framework's.
    pub const HYP: u64 = 1 << 3;
}

fn fid(f: FuncId) -> u64 {
    u64::from(u32::from(f))
}

/// w1 of BIND/UNBIND/SET: sender and receiver.
pub fn ids(sender: u16, receiver: u16) -> u64 {
    u64::from(sender) << 16 | u64::from(receiver)
}

/// w1 of GET: receiver and vCPU.
pub fn get_ids(receiver: u16, vcpu: u16) -> u64 {
    u64::from(vcpu) << 16 | u64::from(receiver)
}

/// FFA_NOTIFICATION_BITMAP_CREATE from the normal world.
pub fn bitmap_create(c: &mut dyn Client, vm: u16, vcpus: u32) -> Regs {
    raw(
        c,
        &[
            fid(FuncId::NotificationBitmapCreate),
            u64::from(vm),
            u64::from(vcpus),
        ],
    )
}

/// FFA_NOTIFICATION_BITMAP_DESTROY from the normal world.
pub fn bitmap_destroy(c: &mut dyn Client, vm: u16) -> Regs {
    raw(c, &[fid(FuncId::NotificationBitmapDestroy), u64::from(vm)])
}

/// FFA_NOTIFICATION_BIND from the normal world.
pub fn bind(c: &mut dyn Client, sender: u16, receiver: u16, flags: u64, bits: u64) -> Regs {
    raw(
        c,
        &[
            fid(FuncId::NotificationBind),
            ids(sender, receiver),
            flags,
            bits & 0xffff_ffff,
            bits >> 32,
        ],
    )
}

/// FFA_NOTIFICATION_UNBIND from the normal world.
pub fn unbind(c: &mut dyn Client, sender: u16, receiver: u16, bits: u64) -> Regs {
    raw(
        c,
        &[
            fid(FuncId::NotificationUnbind),
            ids(sender, receiver),
            0,
            bits & 0xffff_ffff,
            bits >> 32,
        ],
    )
}

/// FFA_NOTIFICATION_SET from the normal world, on `cpu`.
pub fn set_on(
    c: &mut dyn Client,
    cpu: u16,
    sender: u16,
    receiver: u16,
    flags: u64,
    bits: u64,
) -> Regs {
    let mut regs = [0; 18];
    regs[..5].copy_from_slice(&[
        fid(FuncId::NotificationSet),
        ids(sender, receiver),
        flags,
        bits & 0xffff_ffff,
        bits >> 32,
    ]);
    c.call_on(cpu, &regs)
}

/// FFA_NOTIFICATION_GET from the normal world.
pub fn get_nwd(c: &mut dyn Client, receiver: u16, vcpu: u16, flags: u64) -> Regs {
    raw(
        c,
        &[fid(FuncId::NotificationGet), get_ids(receiver, vcpu), flags],
    )
}

/// FFA_NOTIFICATION_INFO_GET (32 or 64).
pub fn info_get(c: &mut dyn Client, wide: bool) -> Regs {
    let f = if wide {
        FuncId::NotificationInfoGet64
    } else {
        FuncId::NotificationInfoGet32
    };
    raw(c, &[fid(f)])
}

/// Checks that the SRI is pending on the scenario's `cpu`, and takes it.
pub fn expect_sri(c: &mut dyn Client, cpu: u16, what: &'static str) -> Result<(), Failure> {
    let got = c.take_interrupt(cpu);
    if got == Some(SRI_INTID) {
        Ok(())
    } else {
        Err(Failure::new(
            what,
            Value::Word(u64::from(SRI_INTID)),
            Value::Word(got.map_or(u64::MAX, u64::from)),
        ))
    }
}

/// Checks that no interrupt is pending on `cpu`.
pub fn expect_no_interrupt(
    c: &mut dyn Client,
    cpu: u16,
    what: &'static str,
) -> Result<(), Failure> {
    let got = c.take_interrupt(cpu);
    expect_eq(what, u64::MAX, got.map_or(u64::MAX, u64::from))
}

/// One list of an INFO_GET answer: an endpoint and the vCPUs named with it (at most 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct InfoList {
    /// The endpoint.
    pub id: u16,
    /// How many vCPU IDs follow it.
    pub count: u8,
    /// The vCPU IDs.
    pub vcpus: [u16; 3],
}

impl InfoList {
    /// A list of `id` with `vcpus`.
    pub fn new(id: u16, vcpus: &[u16]) -> Self {
        let mut l = InfoList {
            id,
            count: vcpus.len() as u8,
            vcpus: [0; 3],
        };
        for (slot, v) in l.vcpus.iter_mut().zip(vcpus) {
            *slot = *v;
        }
        l.sorted()
    }

    /// The same list, its vCPUs in ascending order (the order within a list is free).
    fn sorted(mut self) -> Self {
        let n = usize::from(self.count).min(3);
        self.vcpus[..n].sort_unstable();
        self
    }
}

/// Checks an INFO_GET answer: SUCCESS of the width asked, the more-pending flag clear, and
/// exactly `expected` lists in any order, the IDs packed 16 bits each from w3 (two per
/// register for INFO_GET_32, four for INFO_GET_64).
pub fn expect_info(
    what: &'static str,
    answer: &Regs,
    wide: bool,
    expected: &[InfoList],
) -> Result<(), Failure> {
    let success = if wide {
        FuncId::Success64
    } else {
        FuncId::Success32
    };
    expect_function(what, answer, success)?;
    let w2 = answer[2] & 0xffff_ffff;
    expect_eq(what, 0, w2 & 1)?;
    let lists = (w2 >> 7) & 0x1f;
    expect_eq(what, expected.len() as u64, lists)?;
    let per_reg = if wide { 4 } else { 2 };
    let id_at = |i: usize| -> u16 {
        let reg = answer.get(3 + i / per_reg).copied().unwrap_or(0);
        (reg >> (16 * (i % per_reg))) as u16
    };
    let mut at = 0;
    let mut seen = [false; 20];
    for l in 0..lists as usize {
        let count = ((w2 >> (12 + 2 * l)) & 3) as u8;
        let mut got = InfoList {
            id: id_at(at),
            count,
            vcpus: [0; 3],
        };
        for v in 0..usize::from(count) {
            got.vcpus[v] = id_at(at + 1 + v);
        }
        at += 1 + usize::from(count);
        let got = got.sorted();
        let found = expected
            .iter()
            .enumerate()
            .position(|(i, e)| *e == got && !seen[i]);
        match found {
            Some(i) => seen[i] = true,
            None => {
                return Err(Failure::new(
                    what,
                    Value::Word(expected.first().map_or(0, |e| u64::from(e.id))),
                    Value::Word(u64::from(got.id) << 16 | u64::from(got.count)),
                ));
            }
        }
    }
    Ok(())
}

/// A partition's command answered with one [`CallStatus`] word.
pub fn sp_call(
    c: &mut dyn Client,
    what: &'static str,
    sp: u16,
    command: Command,
    args: &[u64],
    expected: CallStatus,
) -> Result<(), Failure> {
    let words = command32(c, what, sp, command, args)?;
    expect_call(what, words[1], expected)
}

/// A raw call by partition `sp` (CALL), expected to be FFA_ERROR with `code`.
fn sp_raw_error(
    c: &mut dyn Client,
    what: &'static str,
    sp: u16,
    call: &[u64; 4],
    code: FfaError,
) -> Result<(), Failure> {
    let words = command32(c, what, sp, Command::Call, call)?;
    let mut answer = [0; 18];
    answer[..4].copy_from_slice(&words[1..]);
    expect_error(what, &answer, code)
}

/// NOTIFY_GET by partition `sp` (its context for CPU 0) with `flags`: checks the call's status
/// and returns w2 (partition bits \[31:0\]) and w4 (normal-world bits \[31:0\]).
pub fn sp_get(
    c: &mut dyn Client,
    what: &'static str,
    sp: u16,
    vcpu: u16,
    flags: u64,
) -> Result<(u64, u64), Failure> {
    let words = command32(c, what, sp, Command::NotifyGet, &[get_ids(sp, vcpu), flags])?;
    expect_call(what, words[1], CallStatus::Success)?;
    Ok((words[2], words[4]))
}

/// Checks WOKEN's report from `sp` (asked on `cpu`): one run, the NPI, these bits.
pub fn expect_woken(
    c: &mut dyn Client,
    cpu: u16,
    what: &'static str,
    sp: u16,
    sp_bits: u64,
    vm_bits: u64,
) -> Result<(), Failure> {
    let w = command32_on(c, cpu, what, sp, Command::Woken, &[])?;
    expect_eq(what, 1, w[1])?;
    expect_eq(what, NPI_INTID, w[2])?;
    expect_eq(what, sp_bits, w[3])?;
    expect_eq(what, vm_bits, w[4])
}

/// The normal world's bitmap: created once (for every CPU), refused twice, for a partition's
/// ID, and from a partition; destroyed once, refused with nothing to destroy or with
/// notifications pending; created again after.
pub fn notification_bitmap_create_destroy(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let cpus = u32::from(CPUS);
    expect_success("BITMAP_CREATE(0)", &bitmap_create(c, HOST_ID, cpus))?;
    expect_error(
        "BITMAP_CREATE(0) again",
        &bitmap_create(c, HOST_ID, cpus),
        FfaError::Denied,
    )?;
    expect_error(
        "BITMAP_CREATE of a partition's ID",
        &bitmap_create(c, ECHO_ID, 1),
        FfaError::InvalidParameters,
    )?;
    let create = [fid(FuncId::NotificationBitmapCreate), 0, 1, 0];
    sp_raw_error(
        c,
        "BITMAP_CREATE from a partition",
        ECHO_ID,
        &create,
        FfaError::NotSupported,
    )?;
    // A notification pending from echo keeps the bitmap.
    expect_success("BIND(echo → 0)", &bind(c, ECHO_ID, HOST_ID, 0, 1 << 5))?;
    sp_call(
        c,
        "echo's SET for the normal world",
        ECHO_ID,
        Command::NotifySet,
        &[ids(ECHO_ID, HOST_ID), 0, 1 << 5, 0],
        CallStatus::Success,
    )?;
    expect_sri(c, 0, "the SRI after echo's SET")?;
    expect_error(
        "BITMAP_DESTROY with a notification pending",
        &bitmap_destroy(c, HOST_ID),
        FfaError::Denied,
    )?;
    let core = c.core(0);
    let got = get_nwd(c, HOST_ID, core, get::SP);
    expect_success_w2("GET of the pending notification", &got, 1 << 5)?;
    expect_success("BITMAP_DESTROY(0)", &bitmap_destroy(c, HOST_ID))?;
    expect_error(
        "BITMAP_DESTROY(0) again",
        &bitmap_destroy(c, HOST_ID),
        FfaError::Denied,
    )?;
    expect_success(
        "BITMAP_CREATE(0) after the destroy",
        &bitmap_create(c, HOST_ID, cpus),
    )?;
    // The new bitmap starts with no bindings: echo's SET of its old bit is refused.
    sp_call(
        c,
        "echo's SET of a binding the destroy dropped",
        ECHO_ID,
        Command::NotifySet,
        &[ids(ECHO_ID, HOST_ID), 0, 1 << 5, 0],
        CallStatus::error(FfaError::Denied),
    )?;
    expect_no_interrupt(c, 0, "no SRI after a refused SET")
}

/// The normal world notifies echo (global): SET pends the SRI on the calling core; INFO_GET
/// lists echo once; FFA_RUN gives echo cycles, it sees the NPI and gets the bits; they are
/// then gone. FFA_FEATURES names the SRI's INTID.
pub fn notifications_normal_world_to_partition(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    expect_success_w2(
        "FFA_FEATURES(SRI)",
        &crate::calls::features(c, FEATURE_SRI),
        SRI_INTID,
    )?;
    expect_error(
        "INFO_GET with nothing pending",
        &info_get(c, true),
        FfaError::NoData,
    )?;
    let bits = 0b1010 | 1 << 40;
    sp_call(
        c,
        "echo binds bits to the normal world",
        ECHO_ID,
        Command::NotifyBind,
        &[ids(HOST_ID, ECHO_ID), 0, bits & 0xffff_ffff, bits >> 32],
        CallStatus::Success,
    )?;
    expect_no_interrupt(c, 0, "no SRI before any SET")?;
    expect_success(
        "SET of echo's bits",
        &set_on(c, 0, HOST_ID, ECHO_ID, 0, 0b10 | 1 << 40),
    )?;
    expect_sri(c, 0, "the SRI after SET")?;
    expect_info(
        "INFO_GET_64 lists echo",
        &info_get(c, true),
        true,
        &[InfoList::new(ECHO_ID, &[])],
    )?;
    expect_error(
        "INFO_GET again: already reported",
        &info_get(c, true),
        FfaError::NoData,
    )?;
    let answer = run_on(c, 0, ECHO_ID, 0);
    expect_function("FFA_RUN of echo", &answer, FuncId::MsgWait32)?;
    expect_woken(c, 0, "echo's WOKEN after FFA_RUN", ECHO_ID, 0, 0b10)?;
    let (sp, vm) = sp_get(c, "echo's GET after its own", ECHO_ID, 0, get::SP | get::VM)?;
    expect_eq("partition bits left", 0, sp)?;
    expect_eq("normal-world bits left", 0, vm)?;
    // Bit 40 went with the rest (w5, which WOKEN does not report): nothing was left above.
    expect_success("SET of bit 3", &set_on(c, 0, HOST_ID, ECHO_ID, 0, 0b1000))?;
    expect_sri(c, 0, "the SRI after the second SET")?;
    let (sp, vm) = sp_get(c, "echo's GET", ECHO_ID, 0, get::VM)?;
    expect_eq("no partition bits asked", 0, sp)?;
    expect_eq("bit 3 from the normal world", 0b1000, vm)?;
    expect_error(
        "INFO_GET after echo got everything",
        &info_get(c, false),
        FfaError::NoData,
    )
}

/// relay binds a per-vCPU notification from the normal world: SET for relay's context of the
/// home core lists relay with that vCPU in INFO_GET; FFA_RUN of that context shows the NPI
/// and the bit. A global SET of the per-vCPU bit, a per-vCPU SET of a global one, and a vCPU
/// relay lacks are refused.
pub fn notifications_per_vcpu(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let vcpu = context_on(c, &RELAY, 0);
    sp_call(
        c,
        "relay binds bit 7 per vCPU",
        RELAY_ID,
        Command::NotifyBind,
        &[ids(HOST_ID, RELAY_ID), PER_VCPU, 1 << 7, 0],
        CallStatus::Success,
    )?;
    sp_call(
        c,
        "relay binds bit 8 global",
        RELAY_ID,
        Command::NotifyBind,
        &[ids(HOST_ID, RELAY_ID), 0, 1 << 8, 0],
        CallStatus::Success,
    )?;
    let per_vcpu = |v: u16| PER_VCPU | u64::from(v) << 16;
    expect_error(
        "a global SET of a per-vCPU bit",
        &set_on(c, 0, HOST_ID, RELAY_ID, 0, 1 << 7),
        FfaError::InvalidParameters,
    )?;
    expect_error(
        "a per-vCPU SET of a global bit",
        &set_on(c, 0, HOST_ID, RELAY_ID, per_vcpu(vcpu), 1 << 8),
        FfaError::InvalidParameters,
    )?;
    expect_error(
        "a per-vCPU SET for a vCPU relay lacks",
        &set_on(
            c,
            0,
            HOST_ID,
            RELAY_ID,
            per_vcpu(RELAY.exec_ctx_count),
            1 << 7,
        ),
        FfaError::InvalidParameters,
    )?;
    expect_no_interrupt(c, 0, "no SRI after refused SETs")?;
    expect_success(
        "a per-vCPU SET for relay's context of the home core",
        &set_on(c, 0, HOST_ID, RELAY_ID, per_vcpu(vcpu), 1 << 7),
    )?;
    expect_sri(c, 0, "the SRI after a per-vCPU SET")?;
    expect_info(
        "INFO_GET_32 lists relay and its vCPU",
        &info_get(c, false),
        false,
        &[InfoList::new(RELAY_ID, &[vcpu])],
    )?;
    let answer = run_on(c, 0, RELAY_ID, vcpu);
    expect_function("FFA_RUN of relay's context", &answer, FuncId::MsgWait32)?;
    expect_woken(c, 0, "relay's WOKEN", RELAY_ID, 0, 1 << 7)
}

/// echo notifies the normal world: the normal world binds echo to bit 2 of its bitmap, echo's
/// SET pends the SRI on the core of its request, the normal world's GET returns the bit once.
pub fn notifications_partition_to_normal_world(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let core = c.core(0);
    let set = [ids(ECHO_ID, HOST_ID), 0, 1 << 2, 0];
    sp_call(
        c,
        "echo's SET before the normal world has a bitmap",
        ECHO_ID,
        Command::NotifySet,
        &set,
        CallStatus::error(FfaError::Denied),
    )?;
    expect_error(
        "BIND before the normal world has a bitmap",
        &bind(c, ECHO_ID, HOST_ID, 0, 1 << 2),
        FfaError::NotSupported,
    )?;
    expect_success(
        "BITMAP_CREATE(0)",
        &bitmap_create(c, HOST_ID, u32::from(CPUS)),
    )?;
    expect_success(
        "BIND(echo → 0, bit 2)",
        &bind(c, ECHO_ID, HOST_ID, 0, 1 << 2),
    )?;
    sp_call(
        c,
        "echo's SET for the normal world",
        ECHO_ID,
        Command::NotifySet,
        &set,
        CallStatus::Success,
    )?;
    expect_sri(c, 0, "the SRI on the core of echo's SET")?;
    let got = get_nwd(c, HOST_ID, core, get::SP | get::SPM);
    expect_success_w2("the normal world's GET", &got, 1 << 2)?;
    expect_eq("no SPM framework bits", 0, got[6] & 0xffff_ffff)?;
    expect_success_w2(
        "the normal world's GET again",
        &get_nwd(c, HOST_ID, core, get::SP),
        0,
    )?;
    expect_error(
        "UNBIND of a bit bound to echo, named as relay's",
        &unbind(c, RELAY_ID, HOST_ID, 1 << 2),
        FfaError::Denied,
    )?;
    expect_success("UNBIND(echo, bit 2)", &unbind(c, ECHO_ID, HOST_ID, 1 << 2))?;
    sp_call(
        c,
        "echo's SET after the unbind",
        ECHO_ID,
        Command::NotifySet,
        &set,
        CallStatus::error(FfaError::Denied),
    )?;
    expect_no_interrupt(c, 0, "no SRI after a refused SET")
}

/// echo notifies relay and legacy (a v1.1 partition): each SET pends the SRI (with the delay
/// flag too, by the time echo's response is back), INFO_GET lists both, each gets its bits.
pub fn notifications_partition_to_partition(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let vcpu = context_on(c, &RELAY, 0);
    for sp in [RELAY_ID, LEGACY_ID] {
        sp_call(
            c,
            "binds bit 12 to echo",
            sp,
            Command::NotifyBind,
            &[ids(ECHO_ID, sp), 0, 1 << 12, 0],
            CallStatus::Success,
        )?;
    }
    sp_call(
        c,
        "echo's SET for relay",
        ECHO_ID,
        Command::NotifySet,
        &[ids(ECHO_ID, RELAY_ID), 0, 1 << 12, 0],
        CallStatus::Success,
    )?;
    expect_sri(c, 0, "the SRI after echo's SET")?;
    sp_call(
        c,
        "echo's SET for legacy, SRI delayed",
        ECHO_ID,
        Command::NotifySet,
        &[ids(ECHO_ID, LEGACY_ID), DELAY_SRI, 1 << 12, 0],
        CallStatus::Success,
    )?;
    expect_sri(c, 0, "the delayed SRI, once back in the normal world")?;
    expect_info(
        "INFO_GET_64 lists relay and legacy",
        &info_get(c, true),
        true,
        &[InfoList::new(RELAY_ID, &[]), InfoList::new(LEGACY_ID, &[])],
    )?;
    let (sp, vm) = sp_get(c, "relay's GET", RELAY_ID, vcpu, get::SP | get::VM)?;
    expect_eq("relay's bits from echo", 1 << 12, sp)?;
    expect_eq("relay's bits from the normal world", 0, vm)?;
    let (sp, _) = sp_get(c, "legacy's GET", LEGACY_ID, 0, get::SP)?;
    expect_eq("legacy's bits from echo", 1 << 12, sp)?;
    let (sp, _) = sp_get(c, "relay's GET again", RELAY_ID, vcpu, get::SP)?;
    expect_eq("relay's bits got", 0, sp)?;
    // relay may not set legacy's bit: it is echo's.
    sp_call(
        c,
        "relay's SET of a bit bound to echo",
        RELAY_ID,
        Command::NotifySet,
        &[ids(RELAY_ID, LEGACY_ID), 0, 1 << 12, 0],
        CallStatus::error(FfaError::Denied),
    )?;
    expect_no_interrupt(c, 0, "no SRI after a refused SET")
}

/// BIND and UNBIND refused, from the normal world and from partitions.
pub fn notification_bind_rejections(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    expect_success(
        "BITMAP_CREATE(0)",
        &bitmap_create(c, HOST_ID, u32::from(CPUS)),
    )?;
    let nwd = [
        (
            "BIND naming a partition as receiver",
            bind(c, HOST_ID, ECHO_ID, 0, 1),
            FfaError::InvalidParameters,
        ),
        (
            "BIND naming the normal world as sender",
            bind(c, HOST_ID, HOST_ID, 0, 1),
            FfaError::InvalidParameters,
        ),
        (
            "BIND of no bits",
            bind(c, ECHO_ID, HOST_ID, 0, 0),
            FfaError::InvalidParameters,
        ),
        (
            "BIND with reserved flags",
            bind(c, ECHO_ID, HOST_ID, 1 << 1, 1),
            FfaError::InvalidParameters,
        ),
        (
            "BIND to a sender that does not exist",
            bind(c, 0x80ff, HOST_ID, 0, 1),
            FfaError::InvalidParameters,
        ),
    ];
    for (what, answer, code) in nwd {
        expect_error(what, &answer, code)?;
    }
    expect_success("BIND(echo, bit 0)", &bind(c, ECHO_ID, HOST_ID, 0, 1))?;
    expect_error(
        "BIND of echo's bit to relay",
        &bind(c, RELAY_ID, HOST_ID, 0, 0b11),
        FfaError::Denied,
    )?;
    expect_error(
        "UNBIND of unbound bits",
        &unbind(c, ECHO_ID, HOST_ID, 0b10),
        FfaError::Denied,
    )?;
    let sp = [
        (
            "a partition's BIND for another receiver",
            ECHO_ID,
            [ids(HOST_ID, RELAY_ID), 0, 1, 0],
            FfaError::InvalidParameters,
        ),
        (
            "a partition's BIND naming itself as sender",
            ECHO_ID,
            [ids(ECHO_ID, ECHO_ID), 0, 1, 0],
            FfaError::InvalidParameters,
        ),
        (
            "BIND by a partition without notification support",
            HOSTILE_ID,
            [ids(HOST_ID, HOSTILE_ID), 0, 1, 0],
            FfaError::NotSupported,
        ),
    ];
    for (what, by, args, code) in sp {
        sp_call(
            c,
            what,
            by,
            Command::NotifyBind,
            &args,
            CallStatus::error(code),
        )?;
    }
    sp_call(
        c,
        "echo binds bit 1 to relay",
        ECHO_ID,
        Command::NotifyBind,
        &[ids(RELAY_ID, ECHO_ID), 0, 0b10, 0],
        CallStatus::Success,
    )?;
    sp_call(
        c,
        "echo binds bit 1 again, to legacy",
        ECHO_ID,
        Command::NotifyBind,
        &[ids(LEGACY_ID, ECHO_ID), 0, 0b10, 0],
        CallStatus::error(FfaError::Denied),
    )?;
    sp_call(
        c,
        "echo unbinds bit 1 as legacy's",
        ECHO_ID,
        Command::NotifyUnbind,
        &[ids(LEGACY_ID, ECHO_ID), 0b10, 0],
        CallStatus::error(FfaError::Denied),
    )?;
    // Pending bits stay bound.
    sp_call(
        c,
        "relay's SET of echo's bit 1",
        RELAY_ID,
        Command::NotifySet,
        &[ids(RELAY_ID, ECHO_ID), 0, 0b10, 0],
        CallStatus::Success,
    )?;
    expect_sri(c, 0, "the SRI after relay's SET")?;
    sp_call(
        c,
        "echo unbinds a pending bit",
        ECHO_ID,
        Command::NotifyUnbind,
        &[ids(RELAY_ID, ECHO_ID), 0b10, 0],
        CallStatus::error(FfaError::Denied),
    )?;
    let (bits, _) = sp_get(c, "echo's GET", ECHO_ID, 0, get::SP)?;
    expect_eq("echo's bit from relay", 0b10, bits)?;
    sp_call(
        c,
        "echo unbinds bit 1 once got",
        ECHO_ID,
        Command::NotifyUnbind,
        &[ids(RELAY_ID, ECHO_ID), 0b10, 0],
        CallStatus::Success,
    )
}

/// SET, GET and INFO_GET refused.
pub fn notification_set_get_rejections(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    sp_call(
        c,
        "echo binds bit 0 to the normal world",
        ECHO_ID,
        Command::NotifyBind,
        &[ids(HOST_ID, ECHO_ID), 0, 1, 0],
        CallStatus::Success,
    )?;
    let nwd_set = [
        (
            "SET claiming a partition as sender",
            ECHO_ID,
            RELAY_ID,
            0,
            1,
            FfaError::InvalidParameters,
        ),
        (
            "SET for the normal world itself",
            HOST_ID,
            HOST_ID,
            0,
            1,
            FfaError::InvalidParameters,
        ),
        (
            "SET of no bits",
            HOST_ID,
            ECHO_ID,
            0,
            0,
            FfaError::InvalidParameters,
        ),
        (
            "SET with the delay-SRI flag from the normal world",
            HOST_ID,
            ECHO_ID,
            DELAY_SRI,
            1,
            FfaError::InvalidParameters,
        ),
        (
            "SET with reserved flags",
            HOST_ID,
            ECHO_ID,
            1 << 2,
            1,
            FfaError::InvalidParameters,
        ),
        (
            "a global SET naming a vCPU",
            HOST_ID,
            ECHO_ID,
            1 << 16,
            1,
            FfaError::InvalidParameters,
        ),
        (
            "SET for a partition that does not exist",
            HOST_ID,
            0x80ff,
            0,
            1,
            FfaError::InvalidParameters,
        ),
        (
            "SET of unbound bits",
            HOST_ID,
            ECHO_ID,
            0,
            0b10,
            FfaError::Denied,
        ),
        (
            "SET for a partition without notification support",
            HOST_ID,
            HOSTILE_ID,
            0,
            1,
            FfaError::Denied,
        ),
    ];
    for (what, sender, receiver, flags, bits, code) in nwd_set {
        expect_error(what, &set_on(c, 0, sender, receiver, flags, bits), code)?;
    }
    sp_call(
        c,
        "relay's SET of echo's bit bound to the normal world",
        RELAY_ID,
        Command::NotifySet,
        &[ids(RELAY_ID, ECHO_ID), 0, 1, 0],
        CallStatus::error(FfaError::Denied),
    )?;
    sp_call(
        c,
        "relay's SET claiming echo as sender",
        RELAY_ID,
        Command::NotifySet,
        &[ids(ECHO_ID, LEGACY_ID), 0, 1, 0],
        CallStatus::error(FfaError::InvalidParameters),
    )?;
    expect_no_interrupt(c, 0, "no SRI after refused SETs")?;
    let sp_get_cases = [
        (
            "a partition's GET for another receiver",
            ECHO_ID,
            get_ids(RELAY_ID, 0),
            get::SP,
        ),
        (
            "GET with flags [31:4]",
            ECHO_ID,
            get_ids(ECHO_ID, 0),
            1 << 4,
        ),
        (
            "GET for a vCPU echo lacks",
            ECHO_ID,
            get_ids(ECHO_ID, 1),
            get::SP,
        ),
    ];
    for (what, by, w1, flags) in sp_get_cases {
        sp_call(
            c,
            what,
            by,
            Command::NotifyGet,
            &[w1, flags],
            CallStatus::error(FfaError::InvalidParameters),
        )?;
    }
    expect_success(
        "BITMAP_CREATE(0)",
        &bitmap_create(c, HOST_ID, u32::from(CPUS)),
    )?;
    let core = c.core(0);
    let nwd_get = [
        (
            "the normal world's GET of a partition's bitmap",
            ECHO_ID,
            core,
            get::SP,
        ),
        (
            "the normal world's GET of the VM bitmap",
            HOST_ID,
            core,
            get::VM,
        ),
        (
            "the normal world's GET of the hypervisor framework",
            HOST_ID,
            core,
            get::HYP,
        ),
    ];
    for (what, receiver, vcpu, flags) in nwd_get {
        expect_error(
            what,
            &get_nwd(c, receiver, vcpu, flags),
            FfaError::InvalidParameters,
        )?;
    }
    sp_raw_error(
        c,
        "INFO_GET from a partition",
        ECHO_ID,
        &[fid(FuncId::NotificationInfoGet32), 0, 0, 0],
        FfaError::NotSupported,
    )?;
    expect_error(
        "INFO_GET with nothing pending",
        &info_get(c, false),
        FfaError::NoData,
    )
}

/// INFO_GET packs its lists: echo and legacy global, relay per vCPU for two cores' contexts;
/// INFO_GET_32 packs two IDs a register, and after new SETs INFO_GET_64 four.
pub fn notification_info_get_packing(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, V1_2)?;
    let v0 = context_on(c, &RELAY, 0);
    let v1 = context_on(c, &RELAY, 1);
    for (sp, flags, bits) in [
        (ECHO_ID, 0, 0b11u64),
        (LEGACY_ID, 0, 0b11),
        (RELAY_ID, PER_VCPU, 0b11),
    ] {
        sp_call(
            c,
            "binds bits 0 and 1 to the normal world",
            sp,
            Command::NotifyBind,
            &[ids(HOST_ID, sp), flags, bits, 0],
            CallStatus::Success,
        )?;
    }
    let per_vcpu = |v: u16| PER_VCPU | u64::from(v) << 16;
    let sets = [
        (ECHO_ID, 0u64),
        (LEGACY_ID, 0),
        (RELAY_ID, per_vcpu(v0)),
        (RELAY_ID, per_vcpu(v1)),
    ];
    for (sp, flags) in sets {
        expect_success("SET of bit 0", &set_on(c, 0, HOST_ID, sp, flags, 1))?;
        expect_sri(c, 0, "the SRI after a SET")?;
    }
    let relay = InfoList::new(RELAY_ID, &[v0, v1]);
    let expected = [
        InfoList::new(ECHO_ID, &[]),
        InfoList::new(LEGACY_ID, &[]),
        relay,
    ];
    expect_info("INFO_GET_32", &info_get(c, false), false, &expected)?;
    for (sp, flags) in sets {
        expect_success("SET of bit 1", &set_on(c, 0, HOST_ID, sp, flags, 0b10))?;
        expect_sri(c, 0, "the SRI after a SET")?;
    }
    expect_info("INFO_GET_64", &info_get(c, true), true, &expected)?;
    expect_error("INFO_GET after both", &info_get(c, true), FfaError::NoData)
}
