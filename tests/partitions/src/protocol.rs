//! The command protocol every test partition serves over direct messages, shared with the
//! scenarios that drive it.
//!
//! A request's payload word 0 is a [`Command`], words 1..=4 its arguments; the response's
//! word 0 is a [`Status`] word, words 1..=4 its results. Payload words are w3..w7 of
//! FFA_MSG_SEND_DIRECT_REQ/RESP (both widths; x8..x17 stay zero, as FF-A v1.2 reserves them)
//! and x4..x17 of FFA_MSG_SEND_DIRECT_REQ2/RESP2. Every value fits in 32 bits, so every
//! transport carries the whole protocol. Only ECHO over DIRECT_REQ2 uses more than five words.
//!
//! | Command | Arguments | Results (after the status word) |
//! |---|---|---|
//! | ECHO | any | the arguments, in place (4 words; 13 over DIRECT_REQ2) |
//! | WHO_AM_I | – | own ID << 16 \| vCPU, [`Transport`], [`UuidIndex`], requester ID |
//! | FORWARD | dst, inner command, 2 inner arguments | [`Reply`], inner results 1..=3 |
//! | FORWARD2 | dst, [`UuidSelector`], inner command, 1 inner argument | as FORWARD |
//! | SPOOF | dst, source ID to claim | [`CallStatus`] of the DIRECT_REQ (ECHO) sent as that source |
//! | YIELD | 3 words | [`CallStatus`] FFA_YIELD returned with when resumed, the 3 words |
//! | RESPOND_TO_WRONG | endpoint ID | [`CallStatus`] of a response sent to that endpoint (then the real response follows) |
//! | PARTITION_INFO | UUID as 4 register words | [`CallStatus`], count \| descriptor size << 16, first descriptor's ID, [`CallStatus`] of RX_RELEASE |
//! | RXTX | – | [`CallStatus`] of: RXTX_MAP again, RX_RELEASE while not owned, RXTX_UNMAP, RXTX_UNMAP again (then it maps its buffers back; a failure sets [`fault::REMAP`]) |
//! | MSG_WAIT_WHILE_BUSY | – | [`CallStatus`] of FFA_MSG_WAIT made while handling the request |
//! | CALL | function ID, w1, w2, w3 | w0..w3 of the answer to that raw call (w4..w7 and x8..x17 zero) |
//! | BOOT_INFO | – | address of the boot-information blob it was started with, the manifest address and size the blob gave, the blob's version (FFA_VERSION encoding); all 0 if it got none (a warm start) |
//! | PROBE | address bits \[31:0\], \[63:32\] (8-byte aligned) | [`probe::READ`], the word read (bits \[31:0\], \[63:32\]); or [`probe::FAULTED`], the fault address (FAR, same split), the syndrome (ESR bits \[31:0\]) |
//! | CRASH | – | none: the partition takes a fault it has no vector for, and the SPMC aborts it (should it come back, status [`code::CRASH_SURVIVED`]) |
//! | UPPER | – | which of x8..x17 the request entered with differ from the partition's own (a bit per register) |
//! | CLOBBER | – | none: it overwrites the EL1 timers first |
//! | TRAPPED_REGISTERS | – | which register accesses took an Unknown exception (a bit each), or [`NOT_ON_THIS_CPU`] |
//! | SPIN | milliseconds (at most [`MAX_SPIN_MS`]) | how many of x1..x15 changed across the spin, or [`NOT_ON_THIS_CPU`]; 1 if its ICC_PMR_EL1 = 0 write first faulted |
//! | FLOOD | lines (at most [`MAX_FLOOD_LINES`]) | how many of its FFA_CONSOLE_LOG calls (one line each) were refused |
//! | LEND | [`lend`] kind, page index below [`SHARE_PAGES`], borrower ID | [`CallStatus`] of its FFA_MEM_SHARE/LEND/DONATE_32 of that page of its own memory ([`SHARE_OFFSET`]), the handle (w2, w3) |
//! | RETRIEVE | handle \[31:0\], \[63:32\], lender ID (\| [`RETRIEVE_KEEP`]: no relinquish), a value (0: store nothing) | [`CallStatus`] of FFA_MEM_RETRIEVE_REQ_32, the first range's address, the value read back after storing it there, [`CallStatus`] of FFA_MEM_RELINQUISH (after FFA_RX_RELEASE; NOT_CALLED when kept) |
//! | RELINQUISH | handle \[31:0\], \[63:32\] | [`CallStatus`] of FFA_MEM_RELINQUISH |
//! | RUN_FORWARD | dst, inner command, 1 inner argument, [`run_probe`] | [`Reply`] (the final answer), FFA_YIELDs seen from dst, inner result 1, [`CallStatus`] of the probe made at the first FFA_YIELD (NOT_CALLED without one) |
//! | YIELD_TIMES | n (at most [`MAX_YIELDS`]) | how many of its n FFA_YIELDs returned FFA_SUCCESS, [`CallStatus`] of the last (NOT_CALLED for n = 0) |
//! | SEND2 | receiver, MSG_SEND2 w2 flags, [`send2`] bits, payload word | [`CallStatus`] of FFA_MSG_SEND2 of `[word, own ID, SEND2_TAG]` (v1.2 header with its own UUID, v1.1 header for a v1.1 partition) |
//! | READ2 | – | FFA_NOTIFICATION_GET of the SPM and hypervisor framework bitmaps: w6 \[7:0\] \| w7 \[7:0\] << 8, or its [`CallStatus`] if refused; the header's sender << 16 \| size; the first payload word; [`CallStatus`] of FFA_RX_RELEASE |
//! | NOTIFY_BIND | w1 (sender << 16 \| receiver), flags, bitmap \[31:0\], \[63:32\] | [`CallStatus`] of FFA_NOTIFICATION_BIND |
//! | NOTIFY_UNBIND | w1, bitmap \[31:0\], \[63:32\] | [`CallStatus`] of FFA_NOTIFICATION_UNBIND |
//! | NOTIFY_SET | w1 (sender << 16 \| receiver), flags, bitmap \[31:0\], \[63:32\] | [`CallStatus`] of FFA_NOTIFICATION_SET |
//! | NOTIFY_GET | w1 (vCPU << 16 \| receiver), flags | [`CallStatus`] of FFA_NOTIFICATION_GET, w2, w3 (from partitions), w4 (from the normal world) |
//! | WOKEN | – | how many FFA_RUNs it was given since last asked, the INTID HF_INTERRUPT_GET gave at the latest, the partition (w2) and normal-world (w4) bits its FFA_NOTIFICATION_GET then got (all 0 if none) |
//! | FP | seed (nonzero) | which of V0..V31 no longer held the [`fp_pattern`] of the seed it gave the previous FP (a bit each), FPCR (bit 0) and FPSR (bit 1) likewise, that seed (0: none since the context started, nothing checked); both masks [`NOT_ON_THIS_CPU`] where there is no CPU; then the registers hold this seed's pattern |
//!
//! Given cycles by FFA_RUN while waiting, a partition asks HF_INTERRUPT_GET for its pending
//! virtual interrupt; on the notification pending interrupt ([`NPI_INTID`]) it gets its
//! partition and normal-world notifications (FFA_NOTIFICATION_GET), remembers what it saw for
//! WOKEN, and waits again (FFA_MSG_WAIT).
//!
//! FORWARD sends FFA_MSG_SEND_DIRECT_REQ (SMC32), FORWARD2 FFA_MSG_SEND_DIRECT_REQ2, each with
//! payload `[inner command, inner arguments…, 0…]`, from the partition's own ID.
//!
//! RUN_FORWARD sends FFA_MSG_SEND_DIRECT_REQ (SMC32) like FORWARD and, each time dst answers
//! with FFA_YIELD (it yielded its cycles back to the partition), resumes it with FFA_RUN of
//! the execution context the FFA_YIELD names, until any other answer: that one is reported
//! (an FFA_RUN the SPMC refuses ends the loop with its FFA_ERROR). At the first FFA_YIELD it
//! first makes the [`run_probe`] call: one the SPMC should refuse while its callee waits
//! for it, or its own FFA_YIELD. To have a partition try an FFA_RUN of its own choosing, send it CALL with
//! FFA_RUN's function ID and target.
//!
//! PROBE loads from any address ([`crate::SpEnv::probe`]): the isolation scenarios use it to
//! show that another partition's or the SPMC's memory faults and that the partition's own
//! handler recovers. CRASH ([`crate::SpEnv::crash`]) shows what an unrecoverable fault does.

use ffa::{FuncId, Regs};

/// Payload words of a request or response over FFA_MSG_SEND_DIRECT_REQ/RESP.
pub const WORDS: usize = 5;
/// Payload words over FFA_MSG_SEND_DIRECT_REQ2/RESP2.
pub const WORDS2: usize = 14;

/// What a request asks of a partition (payload word 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Command {
    /// Answer the arguments back.
    Echo = 0x5350_0001,
    /// Report own ID and vCPU, the transport, which UUID the request named, the requester.
    WhoAmI = 0x5350_0002,
    /// Send a DIRECT_REQ to another endpoint and report its answer.
    Forward = 0x5350_0003,
    /// Send a DIRECT_REQ2 (by UUID) to another endpoint and report its answer.
    Forward2 = 0x5350_0004,
    /// Send a DIRECT_REQ claiming another source ID and report the answer.
    Spoof = 0x5350_0005,
    /// Call FFA_YIELD, then answer when resumed.
    Yield = 0x5350_0006,
    /// Send a DIRECT_RESP to an endpoint that did not send the request, then answer properly.
    RespondToWrong = 0x5350_0007,
    /// Call FFA_PARTITION_INFO_GET from the partition, read its RX buffer, release it.
    PartitionInfo = 0x5350_0008,
    /// Exercise the rejections of the partition's own RX/TX buffer calls.
    Rxtx = 0x5350_0009,
    /// Call FFA_MSG_WAIT while handling the request.
    MsgWaitWhileBusy = 0x5350_000a,
    /// Make a raw FF-A call (x0..x3 from the arguments) and report w0..w3 of its answer.
    Call = 0x5350_000b,
    /// Report the boot-information blob it was started with.
    BootInfo = 0x5350_000c,
    /// Load a word from an address of the caller's choice and report it or the fault.
    Probe = 0x5350_000d,
    /// Take a fault the partition cannot handle.
    Crash = 0x5350_000e,
    /// Report which of x8..x17 a DIRECT_REQ (32/64) entered with differ from what the
    /// partition itself last had in them (a bit per register, x8 = bit 0): the ABI gives the
    /// receiver nothing of the sender's there.
    Upper = 0x5350_000f,
    /// Overwrite the CPU state the normal world shares with partitions unless the SPMC
    /// switches it (`SpEnv::clobber_cpu_state`), then answer.
    Clobber = 0x5350_0010,
    /// Try the register accesses the SPMC traps (`SpEnv::trapped_registers`) and report the
    /// mask, or [`NOT_ON_THIS_CPU`] where they cannot be tried.
    TrappedRegisters = 0x5350_0011,
    /// Write ICC_PMR_EL1 = 0 (masking every interrupt, were it the physical mask), then spin
    /// on the counter with known values in x1..x15 (`SpEnv::spin`), then answer.
    Spin = 0x5350_0012,
    /// Send that many console lines with FFA_CONSOLE_LOG as fast as it can.
    Flood = 0x5350_0013,
    /// Share, lend or donate one page of its own memory to another partition.
    Lend = 0x5350_0014,
    /// Retrieve memory, store a value in its first page, read it back, relinquish it.
    Retrieve = 0x5350_0015,
    /// Relinquish memory it retrieved and kept.
    Relinquish = 0x5350_0016,
    /// Forward a request and FFA_RUN the destination each time it yields back.
    RunForward = 0x5350_0030,
    /// Call FFA_YIELD n times, then answer.
    YieldTimes = 0x5350_0031,
    // Indirect messages and notifications (FF-A v1.1+).
    /// Send an indirect message (FFA_MSG_SEND2).
    Send2 = 0x5350_0017,
    /// Get the framework notifications, read the indirect message in the RX buffer, release it.
    Read2 = 0x5350_0018,
    /// FFA_NOTIFICATION_BIND.
    NotifyBind = 0x5350_0019,
    /// FFA_NOTIFICATION_UNBIND.
    NotifyUnbind = 0x5350_001a,
    /// FFA_NOTIFICATION_SET.
    NotifySet = 0x5350_001b,
    /// FFA_NOTIFICATION_GET.
    NotifyGet = 0x5350_001c,
    /// Report what it saw when last given cycles by FFA_RUN.
    Woken = 0x5350_001d,
    /// Check the FP/SIMD pattern it left at its previous FP, then leave a new one.
    Fp = 0x5350_0032,
}

/// Hafnium's notification pending interrupt, the virtual INTID HF_INTERRUPT_GET answers.
pub const NPI_INTID: u64 = 5;

/// The third word of every SEND2 payload ("SND2").
pub const SEND2_TAG: u32 = 0x3244_4e53;

/// SEND2's header choices (argument 3).
pub mod send2 {
    /// The header names another sender than the partition (its own ID + 1).
    pub const WRONG_SENDER: u64 = 1 << 0;
    /// The header's size makes offset + size one byte past a page.
    pub const TOO_BIG: u64 = 1 << 1;
    /// The header's offset points into the header.
    pub const OFFSET_IN_HEADER: u64 = 1 << 2;
}

/// FF-A's partition message header of an indirect message (FF-A v1.2 Table 7.1; Hafnium's
/// `ffa_partition_rxtx_header`): flags, reserved, payload offset, receiver, sender, size, and
/// from v1.2 a reserved word and a UUID.
pub mod message {
    use ffa::{Uuid, UuidHelper};

    /// Bytes of the v1.1 header (the payload offset a v1.1 endpoint uses).
    pub const HEADER_V1_1: usize = 20;
    /// Bytes of the v1.2 header.
    pub const HEADER_V1_2: usize = 40;

    /// The fields of a header.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Header {
        /// Offset of the payload from the start of the buffer.
        pub offset: u32,
        /// Receiver endpoint ID.
        pub receiver: u16,
        /// Sender endpoint ID.
        pub sender: u16,
        /// Payload bytes.
        pub size: u32,
        /// The protocol's UUID (v1.2 headers; nil otherwise).
        pub uuid: Uuid,
    }

    impl Header {
        /// The header's bytes (a v1.1 header is the first [`HEADER_V1_1`] of them).
        pub fn bytes(&self) -> [u8; HEADER_V1_2] {
            let mut b = [0u8; HEADER_V1_2];
            b[8..12].copy_from_slice(&self.offset.to_le_bytes());
            b[12..14].copy_from_slice(&self.receiver.to_le_bytes());
            b[14..16].copy_from_slice(&self.sender.to_le_bytes());
            b[16..20].copy_from_slice(&self.size.to_le_bytes());
            let words = UuidHelper::to_u32_regs(self.uuid);
            for (i, w) in words.iter().enumerate() {
                b[24 + 4 * i..28 + 4 * i].copy_from_slice(&w.to_le_bytes());
            }
            b
        }

        /// The header in `b` (copied out first by the caller).
        pub fn parse(b: &[u8; HEADER_V1_2]) -> Self {
            let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            Self {
                offset: u32_at(8),
                receiver: u16::from_le_bytes([b[12], b[13]]),
                sender: u16::from_le_bytes([b[14], b[15]]),
                size: u32_at(16),
                uuid: UuidHelper::from_u32_regs([u32_at(24), u32_at(28), u32_at(32), u32_at(36)]),
            }
        }
    }
}

/// RETRIEVE's lender argument with this bit: keep the memory (relinquish it later).
pub const RETRIEVE_KEEP: u64 = 1 << 16;

/// Where in a partition's own memory LEND's pages are (after its image and buffers, below its
/// stacks).
pub const SHARE_OFFSET: u64 = 0xa_0000;
/// How many pages LEND may give.
pub const SHARE_PAGES: u64 = 16;

/// LEND's kinds (argument 1).
pub mod lend {
    /// FFA_MEM_SHARE: the partition keeps its access.
    pub const SHARE: u64 = 0;
    /// FFA_MEM_LEND: its access goes until it reclaims.
    pub const LEND: u64 = 1;
    /// FFA_MEM_DONATE: its access goes for good once the borrower retrieves it.
    pub const DONATE: u64 = 2;
}

/// The most FFA_YIELDs one YIELD_TIMES makes.
pub const MAX_YIELDS: u64 = 16;

/// RUN_FORWARD's probe (argument 4): the call it makes at its callee's first FFA_YIELD, before
/// resuming it.
pub mod run_probe {
    /// None.
    pub const NONE: u64 = 0;
    /// FFA_MSG_SEND_DIRECT_REQ (ECHO) to the yielded callee.
    pub const REQUEST_CALLEE: u64 = 1;
    /// FFA_MSG_SEND_DIRECT_RESP to its own requester (an OK status, no results).
    pub const RESPOND: u64 = 2;
    /// FFA_MSG_WAIT.
    pub const MSG_WAIT: u64 = 3;
    /// FFA_YIELD: the partition gives its own cycles back (allowed); when resumed it runs
    /// its callee on.
    pub const YIELD_ITSELF: u64 = 4;
}

/// The most lines one FLOOD sends.
pub const MAX_FLOOD_LINES: u64 = 2000;

/// The longest SPIN a request may ask for.
pub const MAX_SPIN_MS: u64 = 1000;

/// TRAPPED_REGISTERS' answer where there is no CPU to try the accesses on (in-process).
pub const NOT_ON_THIS_CPU: u64 = 0xffff_ffff;

/// FP/SIMD registers as FP writes and reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FpRegs {
    /// V0..V31.
    pub v: [u128; 32],
    /// FPCR.
    pub fpcr: u64,
    /// FPSR.
    pub fpsr: u64,
}

/// What FP found of the pattern it left last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FpSeen {
    /// V<n> no longer held it (bit n).
    pub vectors: u32,
    /// FPCR (bit 0), FPSR (bit 1) no longer held it.
    pub control: u32,
}

impl FpSeen {
    /// Compares `found` with the pattern of `seed`.
    pub fn compare(found: &FpRegs, seed: u32) -> Self {
        let want = fp_pattern(seed);
        let vectors = (0..32)
            .filter(|&n| found.v[n] != want.v[n])
            .fold(0, |mask, n| mask | 1 << n);
        let control = u32::from(found.fpcr != want.fpcr) | u32::from(found.fpsr != want.fpsr) << 1;
        Self { vectors, control }
    }
}

/// The FP/SIMD pattern of `seed`: each V register names the seed and itself, FPCR a rounding
/// mode, flush-to-zero and half-precision choice from the seed's low bits with default NaN
/// on, FPSR the seed's low bits as cumulative exception flags (no saturation flag).
pub fn fp_pattern(seed: u32) -> FpRegs {
    let mut v = [0; 32];
    for (n, reg) in (0u64..).zip(v.iter_mut()) {
        let low = u64::from(seed) << 32 | n << 8 | 0xa5;
        *reg = u128::from(!low) << 64 | u128::from(low);
    }
    let s = u64::from(seed);
    // FPCR: RMode [23:22], FZ [24], DN [25], AHP [26].
    let fpcr = (s & 3) << 22 | (s >> 2 & 1) << 24 | 1 << 25 | (s >> 3 & 1) << 26;
    // FPSR: IOC, DZC, OFC, UFC, IXC [4:0], IDC [7].
    let fpsr = (s & 0x1f) | (s >> 5 & 1) << 7;
    FpRegs { v, fpcr, fpsr }
}

impl Command {
    const ALL: [Command; 32] = [
        Command::Echo,
        Command::WhoAmI,
        Command::Forward,
        Command::Forward2,
        Command::Spoof,
        Command::Yield,
        Command::RespondToWrong,
        Command::PartitionInfo,
        Command::Rxtx,
        Command::MsgWaitWhileBusy,
        Command::Call,
        Command::BootInfo,
        Command::Probe,
        Command::Crash,
        Command::Upper,
        Command::Clobber,
        Command::TrappedRegisters,
        Command::Spin,
        Command::Flood,
        Command::Lend,
        Command::Retrieve,
        Command::Relinquish,
        Command::RunForward,
        Command::YieldTimes,
        Command::Send2,
        Command::Read2,
        Command::NotifyBind,
        Command::NotifyUnbind,
        Command::NotifySet,
        Command::NotifyGet,
        Command::Woken,
        Command::Fp,
    ];

    /// Its payload word.
    pub const fn code(self) -> u64 {
        self as u32 as u64
    }

    /// The command a payload word names, if any.
    pub fn from_word(word: u64) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == word)
    }
}

/// Status codes (bits [15:0] of a [`Status`] word).
pub mod code {
    /// Done; the results follow.
    pub const OK: u16 = 0;
    /// Payload word 0 named no command; word 1 repeats it.
    pub const UNKNOWN_COMMAND: u16 = 1;
    /// An argument is out of range (a destination ID above 0xffff, an unknown UUID selector).
    pub const BAD_ARGUMENT: u16 = 2;
    /// The partition could not read its own RX buffer.
    pub const MEMORY_FAULT: u16 = 3;
    /// The request named another destination; word 1 holds it.
    pub const MISDELIVERED: u16 = 4;
    /// A forwarded request was answered by a direct response from the wrong endpoint, to the
    /// wrong endpoint, or of the wrong kind; the words are still reported.
    pub const UNEXPECTED_RESPONSE: u16 = 5;
    /// CRASH came back: the fault that should have ended the partition did not.
    pub const CRASH_SURVIVED: u16 = 6;
}

/// PROBE's outcome (results word 1).
pub mod probe {
    /// The load returned a value.
    pub const READ: u64 = 0;
    /// The load faulted and the partition's own handler took the abort.
    pub const FAULTED: u64 = 1;
}

/// Sticky failures (bits [23:16] of a [`Status`] word), reported in every response after
/// they happen so any scenario notices them.
pub mod fault {
    /// FFA_VERSION at init did not answer a version compatible with the manifest's.
    pub const VERSION: u8 = 1 << 0;
    /// FFA_ID_GET at init failed or named another ID than the definition's.
    pub const ID: u8 = 1 << 1;
    /// FFA_RXTX_MAP at init failed.
    pub const RXTX_MAP: u8 = 1 << 2;
    /// A response or FFA_MSG_WAIT of the partition was answered with FFA_ERROR.
    pub const WAIT_REJECTED: u8 = 1 << 3;
    /// After the RXTX command the buffers could not be mapped back.
    pub const REMAP: u8 = 1 << 4;
    /// The context was started at an address that is not an entry point for it: neither
    /// its cold-boot entry (context 0) nor the warm-boot entry it registered (or, if it
    /// registered none, the cold-boot one).
    pub const ENTRY: u8 = 1 << 5;
    /// FFA_SECONDARY_EP_REGISTER at init failed.
    pub const SECONDARY_EP: u8 = 1 << 6;
    /// Cold-started with a manifest asking for the boot-information blob, it found none in
    /// its register, or one that is not well formed, not of its FF-A version, or whose
    /// manifest descriptor points at no device tree of at most the size it gives.
    pub const BOOT_INFO: u8 = 1 << 7;
}

/// Response payload word 0: a status code and the sticky faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// One of [`code`].
    pub code: u16,
    /// Bits of [`fault`].
    pub faults: u8,
}

impl Status {
    /// Everything fine.
    pub const OK: Status = Status {
        code: code::OK,
        faults: 0,
    };

    /// Its payload word.
    pub const fn word(self) -> u64 {
        ((self.faults as u64) << 16) | self.code as u64
    }

    /// The status a payload word holds, or `None` if it has bits a status never sets.
    pub fn from_word(word: u64) -> Option<Self> {
        if word >> 24 != 0 {
            return None;
        }
        Some(Status {
            code: word as u16,
            faults: (word >> 16) as u8,
        })
    }
}

/// How one FF-A call a partition made was answered, as one payload word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallStatus {
    /// FFA_SUCCESS (either width). Word 0.
    Success,
    /// The call was not made (an earlier step failed). Word 1.
    NotCalled,
    /// FFA_ERROR with this code. Word: the code as a two's-complement 32-bit value.
    Error(i32),
    /// Anything else: its function ID (w0). Word: that ID.
    Other(u32),
}

/// Lowest error code a [`CallStatus`] word can carry (FF-A defines -1..=-9).
const LOWEST_ERROR: i32 = -255;

impl CallStatus {
    /// How `answer` answered a call.
    pub fn of(answer: &Regs) -> Self {
        let fid = ffa::call::function_id(answer);
        if ffa::call::is_success(answer) {
            CallStatus::Success
        } else if fid == u32::from(FuncId::Error32) || fid == u32::from(FuncId::Error64) {
            CallStatus::Error(answer[2] as u32 as i32)
        } else {
            CallStatus::Other(fid)
        }
    }

    /// FFA_ERROR with an FF-A error code.
    pub fn error(code: ffa::FfaError) -> Self {
        CallStatus::Error(i32::from(code))
    }

    /// Its payload word.
    pub const fn word(self) -> u64 {
        match self {
            CallStatus::Success => 0,
            CallStatus::NotCalled => 1,
            CallStatus::Error(code) => code as u32 as u64,
            CallStatus::Other(fid) => fid as u64,
        }
    }

    /// The status a payload word holds (only its low 32 bits count).
    pub fn from_word(word: u64) -> Self {
        let word = word as u32;
        match word {
            0 => CallStatus::Success,
            1 => CallStatus::NotCalled,
            _ if (LOWEST_ERROR..0).contains(&(word as i32)) => CallStatus::Error(word as i32),
            _ => CallStatus::Other(word),
        }
    }
}

/// How a forwarded request (FORWARD, FORWARD2) was answered, as one payload word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A direct response came back; word: its status word (< 2^24).
    Response(Status),
    /// FFA_ERROR with this code; word: the code as a two's-complement 32-bit value.
    Error(i32),
    /// Anything else (FFA_SUCCESS, FFA_YIELD, FFA_INTERRUPT…); word: its function ID.
    Other(u32),
}

impl Reply {
    /// Its payload word.
    pub const fn word(self) -> u64 {
        match self {
            Reply::Response(status) => status.word(),
            Reply::Error(code) => code as u32 as u64,
            Reply::Other(fid) => fid as u64,
        }
    }

    /// The reply a payload word holds (only its low 32 bits count).
    pub fn from_word(word: u64) -> Self {
        let word = word as u32;
        if (LOWEST_ERROR..0).contains(&(word as i32)) {
            return Reply::Error(word as i32);
        }
        match Status::from_word(u64::from(word)) {
            Some(status) => Reply::Response(status),
            None => Reply::Other(word),
        }
    }
}

/// Which transport a request came through (WHO_AM_I word 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Transport {
    /// FFA_MSG_SEND_DIRECT_REQ (SMC32).
    Req32 = 1,
    /// FFA_MSG_SEND_DIRECT_REQ (SMC64).
    Req64 = 2,
    /// FFA_MSG_SEND_DIRECT_REQ2.
    Req2 = 3,
}

impl Transport {
    /// Its payload word.
    pub const fn word(self) -> u64 {
        self as u32 as u64
    }

    /// How many payload words it carries.
    pub const fn payload_words(self) -> usize {
        match self {
            Transport::Req32 | Transport::Req64 => WORDS,
            Transport::Req2 => WORDS2,
        }
    }
}

/// Which of its UUIDs a request named (WHO_AM_I word 3): an index into the partition's UUIDs,
/// or one of these markers.
pub mod uuid_index {
    /// The request was not a DIRECT_REQ2, so it named no UUID.
    pub const NONE: u64 = 0xffff_fffd;
    /// The DIRECT_REQ2 named the nil UUID.
    pub const NIL: u64 = 0xffff_fffe;
    /// The DIRECT_REQ2 named a UUID the partition does not have.
    pub const FOREIGN: u64 = 0xffff_ffff;
}

/// Which UUID a FORWARD2 names (argument 2): an index into the destination's UUIDs (from
/// [`crate::DEFINITIONS`]), or one of these markers.
pub mod uuid_selector {
    /// The nil UUID.
    pub const NIL: u64 = 0xffff_fffe;
    /// [`crate::FOREIGN_UUID`], which no partition has.
    pub const FOREIGN: u64 = 0xffff_ffff;
}

/// A request payload: `command` then `args`, zero-padded.
pub fn request(command: Command, args: &[u64]) -> [u64; WORDS] {
    let mut words = [0; WORDS];
    words[0] = command.code();
    for (slot, arg) in words[1..].iter_mut().zip(args) {
        *slot = *arg;
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use ffa::FfaError;

    #[test]
    fn command_words_round_trip() {
        for c in Command::ALL {
            assert_eq!(Command::from_word(c.code()), Some(c));
        }
        assert_eq!(Command::from_word(0), None);
        assert_eq!(Command::from_word(0x1_5350_0001), None);
    }

    #[test]
    fn status_words_round_trip_and_reject_high_bits() {
        let s = Status {
            code: code::MISDELIVERED,
            faults: fault::ID | fault::REMAP,
        };
        assert_eq!(s.word(), 0x12_0004);
        assert_eq!(Status::from_word(s.word()), Some(s));
        assert_eq!(Status::from_word(0x100_0000), None);
    }

    #[test]
    fn call_status_words_are_distinct() {
        let all = [
            CallStatus::Success,
            CallStatus::NotCalled,
            CallStatus::error(FfaError::Denied),
            CallStatus::error(FfaError::NoData),
            CallStatus::Other(0x8400_006c),
            CallStatus::Other(0xc400_0070),
        ];
        for s in all {
            assert_eq!(CallStatus::from_word(s.word()), s);
        }
        assert_eq!(CallStatus::error(FfaError::Denied).word(), 0xffff_fffa);
        let mut answer = [0u64; 18];
        answer[0] = 0x8400_0060;
        answer[2] = 0xffff_fffc;
        assert_eq!(CallStatus::of(&answer), CallStatus::error(FfaError::Busy));
        answer[0] = 0xc400_0061;
        assert_eq!(CallStatus::of(&answer), CallStatus::Success);
        answer[0] = 0x8400_006b;
        assert_eq!(CallStatus::of(&answer), CallStatus::Other(0x8400_006b));
    }

    #[test]
    fn replies_tell_responses_from_errors_and_calls() {
        for r in [
            Reply::Response(Status::OK),
            Reply::Response(Status {
                code: code::UNKNOWN_COMMAND,
                faults: fault::VERSION,
            }),
            Reply::Error(i32::from(FfaError::InvalidParameters)),
            Reply::Other(0x8400_0061),
        ] {
            assert_eq!(Reply::from_word(r.word()), r);
        }
    }

    #[test]
    fn request_pads_and_truncates() {
        assert_eq!(
            request(Command::Forward, &[0x8002, 7]),
            [Command::Forward.code(), 0x8002, 7, 0, 0]
        );
        assert_eq!(request(Command::Echo, &[1, 2, 3, 4, 5, 6])[4], 4);
    }
}
