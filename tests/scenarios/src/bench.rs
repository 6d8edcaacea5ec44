//! The benchmark mode (`cargo xtask bench`, docs: performance.md §Method): which calls are
//! timed, how their answers are checked, the statistics, and the `bench` lines xtask reads.
//!
//! Pure: the proxy's image uses it for its rows ([`PROXY_ROWS`]) at NS-EL2 and the client for
//! row (d) at NS-EL1, so both sides build the same requests, apply the same checks and print
//! the same lines. The arch layers supply the timed call (`isb; mrs cntvct_el0; isb; smc #0;
//! isb; mrs cntvct_el0; isb`, in the profile boot `smc #<mark>` for the timed calls: see
//! [`PROFILE_SELECTOR`]), the sample buffer, and access to their mailbox.
//!
//! The bench's further boots, which the proxy times alone: the concurrency boot
//! ([`SELECTOR_CORES`]: ECHO to relay from one core, then from [`CORES`] at once, reported as
//! [`Throughput`]s over one clock) and the OP-TEE boot ([`SELECTOR_OPTEE`]:
//! [`DIRECT_REQ_OPTEE_EL2`]; its profile boot: [`SELECTOR_OPTEE_PROFILE`]).

use core::fmt;

use ffa::partition_info::{DESC_SIZE_V1_1, read_descriptors};
use ffa::{FfaError, FuncId, Regs, Version};
use test_partitions::protocol::{Command, Status};

/// The selector word (at 0x4700_0000) that asks for the benchmark instead of a scenario.
pub const SELECTOR: u32 = 0xBEEF_0001;
/// Timed calls per row.
pub const ITERATIONS: usize = 1000;
/// Calls made before the timed ones and not counted (checked all the same).
pub const WARM_UP: u32 = 8;

/// The echo test partition's endpoint ID.
pub const ECHO_ID: u16 = test_partitions::ECHO_ID;
/// The test partitions' ECHO command word.
pub const ECHO_COMMAND: u32 = Command::Echo as u32;
/// The status word of a successful test-partition response.
pub const STATUS_OK: u32 = Status::OK.word() as u32;
/// The sender of the timed direct requests: the host (and hypervisor) ID.
pub const HOST_ID: u16 = 0;
/// The relay test partition's endpoint ID (one execution context per core).
pub const RELAY_ID: u16 = test_partitions::RELAY_ID;
/// OP-TEE OS's endpoint ID on the OP-TEE stack.
pub const OPTEE_ID: u16 = crate::optee::OPTEE_ID;
/// OP-TEE's GET_API_VERSION: blocking service 0 in w3 (`optee_ffa.h`).
pub const OPTEE_GET_API_VERSION: u32 = 0;
/// The API version OP-TEE answers it with in w3 (major) and w4 (minor).
pub const OPTEE_API_VERSION: (u32, u32) = (1, 0);

/// An FF-A call that is timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// FFA_ID_GET: answered by the SPMD at EL3 for a normal-world caller.
    IdGet,
    /// FFA_FEATURES(FFA_MSG_SEND_DIRECT_REQ_32): forwarded to and answered by the SPMC.
    FeaturesDirectReq32,
    /// FFA_MSG_SEND_DIRECT_REQ_32 from [`HOST_ID`] to the echo partition with ECHO: a round
    /// trip through the SPMC and the partition.
    DirectReqEcho,
    /// FFA_MEM_SHARE_32 of the descriptor the caller put in its TX buffer
    /// ([`share_descriptor`]) to echo; reclaimed after each call, untimed.
    MemShare,
    /// FFA_MEM_RECLAIM of a share made just before it, untimed.
    MemReclaim,
    /// FFA_VERSION(1.2), which the SPMD forwards to the SPMC: the answer must be v1.2.
    Version,
    /// FFA_PARTITION_INFO_GET(nil UUID) with the count-only flag: the count in w2, nothing
    /// written to the RX buffer.
    PartitionCount,
    /// FFA_PARTITION_INFO_GET(nil UUID): the descriptors written to the caller's RX buffer
    /// (checked one by one, outside the timing), which FFA_RX_RELEASE hands back after each
    /// call, untimed.
    PartitionInfo,
    /// FFA_RXTX_MAP_64 of the caller's [`Mailbox`]; unmapped after each call, untimed.
    RxTxMap,
    /// FFA_RXTX_UNMAP of the caller's [`Mailbox`], mapped before each call, untimed.
    RxTxUnmap,
    /// FFA_MSG_SEND_DIRECT_REQ_32 from [`HOST_ID`] to the relay partition with ECHO: relay
    /// has an execution context per core, so every core reaches its own.
    DirectReqRelayEcho,
    /// FFA_MSG_SEND_DIRECT_REQ_32 from [`HOST_ID`] to OP-TEE OS with its GET_API_VERSION
    /// service (a blocking call OP-TEE answers at once).
    DirectReqOpteeApiVersion,
}

/// The mailbox state a row needs when it starts (and leaves behind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailboxState {
    /// Either will do.
    Any,
    /// The caller's RX/TX pair mapped at the SPMC.
    Mapped,
    /// No pair mapped: the row maps and unmaps it itself.
    Unmapped,
}

/// The caller's RX/TX pair: TX, RX, pages each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mailbox {
    /// The TX buffer's address.
    pub tx: u64,
    /// The RX buffer's address.
    pub rx: u64,
    /// Pages in each buffer.
    pub pages: u32,
}

/// What a row needs from its caller besides the calls themselves.
#[derive(Default)]
pub struct Setup<'a> {
    /// Bytes of the share descriptor the caller put in its TX buffer (memory rows).
    pub share_len: u32,
    /// The caller's RX/TX pair (the mailbox rows map and unmap it).
    pub mailbox: Mailbox,
    /// Reads the start of the caller's RX buffer into the slice (the full partition-info
    /// row checks the descriptors there); false when it cannot.
    pub read_rx: Option<ReadRx<'a>>,
}

/// Reads the start of the caller's RX buffer into the slice; false when it cannot.
pub type ReadRx<'a> = &'a mut dyn FnMut(&mut [u8]) -> bool;

/// Which call of a row [`measure_with`] is making, so that the caller can mark the timed
/// ones for the profile boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// An untimed call that sets up or undoes a timed one (a share before a reclaim, a release
    /// after a partition-info call).
    Setup,
    /// A warm-up call: timed and checked, not counted.
    WarmUp,
    /// A timed call.
    Timed,
}

/// Pages of the normal world's memory the memory rows share: 16, each 2 MiB from the last
/// (scattered: one range each), from 0x5000_0000 (host RAM the client does not use).
pub const SHARE_BASE: u64 = 0x5000_0000;
/// The distance between the scattered pages.
pub const SHARE_STRIDE: u64 = 0x20_0000;

/// The transaction descriptor (v1.2 layout) of a share of `pages` scattered pages from
/// [`HOST_ID`] to echo, read-write, into `buf`; returns its length.
pub fn share_descriptor(pages: u32, buf: &mut [u8]) -> Option<usize> {
    use ffa::memory::{
        AddressRange, BoundedVec, Layout, MemTransaction, Receiver, attributes, permissions,
    };
    let mut receivers = BoundedVec::new();
    receivers
        .push(Receiver {
            id: ffa::EndpointId(ECHO_ID),
            permissions: permissions::DATA_RW | permissions::INSTRUCTION_NX,
            ..Receiver::default()
        })
        .ok()?;
    let mut ranges = BoundedVec::new();
    for i in 0..u64::from(pages) {
        ranges
            .push(AddressRange {
                address: SHARE_BASE + i * SHARE_STRIDE,
                pages: 1,
            })
            .ok()?;
    }
    let txn = MemTransaction {
        sender: ffa::EndpointId(HOST_ID),
        attributes: attributes::TYPE_NORMAL | attributes::WRITE_BACK | attributes::INNER_SHAREABLE,
        flags: 0,
        handle: 0,
        tag: 0,
        receivers,
        ranges,
    };
    txn.write(buf, Layout::V1_2).ok()
}

/// One row of the table: its name in the `bench` line and what it times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// The name xtask looks for.
    pub name: &'static str,
    /// The call.
    pub operation: Operation,
}

/// Row (a), timed by the proxy at NS-EL2.
pub const ID_GET_EL3: Row = Row {
    name: "id_get_el3",
    operation: Operation::IdGet,
};
/// Row (b), timed by the proxy at NS-EL2.
pub const FEATURES_SPMC: Row = Row {
    name: "features_spmc",
    operation: Operation::FeaturesDirectReq32,
};
/// Row (c), timed by the proxy at NS-EL2.
pub const DIRECT_REQ_ECHO_EL2: Row = Row {
    name: "direct_req_echo_el2",
    operation: Operation::DirectReqEcho,
};
/// Row (d), timed by the client at NS-EL1 through the proxy.
pub const DIRECT_REQ_ECHO_EL1: Row = Row {
    name: "direct_req_echo_el1",
    operation: Operation::DirectReqEcho,
};
/// Row (g), timed by the proxy: a share of 1 page.
pub const MEM_SHARE_1: Row = Row {
    name: "mem_share_1",
    operation: Operation::MemShare,
};
/// Row (h), timed by the proxy: the reclaim of a share of 1 page.
pub const MEM_RECLAIM_1: Row = Row {
    name: "mem_reclaim_1",
    operation: Operation::MemReclaim,
};
/// Row (i), timed by the proxy: a share of 16 scattered pages.
pub const MEM_SHARE_16: Row = Row {
    name: "mem_share_16",
    operation: Operation::MemShare,
};
/// Row (j), timed by the proxy: FFA_VERSION answered by the SPMC.
pub const VERSION_SPMC: Row = Row {
    name: "version_spmc",
    operation: Operation::Version,
};
/// Row (k), timed by the proxy: the partition count.
pub const PARTITION_COUNT: Row = Row {
    name: "partition_info_count",
    operation: Operation::PartitionCount,
};
/// Row (l), timed by the proxy: the partition descriptors into its RX buffer.
pub const PARTITION_INFO: Row = Row {
    name: "partition_info_full",
    operation: Operation::PartitionInfo,
};
/// Row (m), timed by the proxy: mapping its RX/TX pair.
pub const RXTX_MAP: Row = Row {
    name: "rxtx_map",
    operation: Operation::RxTxMap,
};
/// Row (n), timed by the proxy: unmapping it.
pub const RXTX_UNMAP: Row = Row {
    name: "rxtx_unmap",
    operation: Operation::RxTxUnmap,
};

/// A row the proxy times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyRow {
    /// The row.
    pub row: Row,
    /// Pages of the share a memory row puts in the TX buffer first (0: none).
    pub pages: u32,
}

/// The rows the proxy times, in the order it times them: the mailbox rows leave the pair
/// unmapped as they found it, then the rows that need the pair mapped follow (see
/// [`Operation::mailbox`]).
pub const PROXY_ROWS: [ProxyRow; 11] = [
    ProxyRow {
        row: ID_GET_EL3,
        pages: 0,
    },
    ProxyRow {
        row: FEATURES_SPMC,
        pages: 0,
    },
    ProxyRow {
        row: DIRECT_REQ_ECHO_EL2,
        pages: 0,
    },
    ProxyRow {
        row: VERSION_SPMC,
        pages: 0,
    },
    ProxyRow {
        row: PARTITION_COUNT,
        pages: 0,
    },
    ProxyRow {
        row: RXTX_MAP,
        pages: 0,
    },
    ProxyRow {
        row: RXTX_UNMAP,
        pages: 0,
    },
    ProxyRow {
        row: PARTITION_INFO,
        pages: 0,
    },
    ProxyRow {
        row: MEM_SHARE_1,
        pages: 1,
    },
    ProxyRow {
        row: MEM_RECLAIM_1,
        pages: 1,
    },
    ProxyRow {
        row: MEM_SHARE_16,
        pages: 16,
    },
];

/// The selector word that asks for the profile boot: the bench rows again with
/// [`PROFILE_ITERATIONS`] timed calls each (after the same warm-up), each timed call made as
/// `smc #imm` with the row's mark in the immediate (EL3 ignores it; QEMU's exception log shows
/// it in the ESR), and no cycle table.
pub const PROFILE_SELECTOR: u32 = 0xBEEF_0002;
/// Timed calls per row in the profile boot: QEMU's execution log of every instruction is large.
pub const PROFILE_ITERATIONS: usize = 16;

/// The rows the profile boots mark, by mark: a timed call of `PROFILED[i]` is `smc #(base + i)`
/// (the base is the SMC crate's). The OP-TEE row's profile boot is the OP-TEE stack's
/// ([`SELECTOR_OPTEE_PROFILE`]); the others' the scenarios stack's.
pub const PROFILED: [&str; 13] = [
    ID_GET_EL3.name,
    FEATURES_SPMC.name,
    DIRECT_REQ_ECHO_EL2.name,
    DIRECT_REQ_ECHO_EL1.name,
    MEM_SHARE_1.name,
    MEM_RECLAIM_1.name,
    MEM_SHARE_16.name,
    VERSION_SPMC.name,
    PARTITION_COUNT.name,
    PARTITION_INFO.name,
    RXTX_MAP.name,
    RXTX_UNMAP.name,
    DIRECT_REQ_OPTEE_EL2.name,
];

/// The mark of the row called `name` in the profile boot.
pub fn mark_of(name: &str) -> Option<u16> {
    let index = PROFILED.iter().position(|n| *n == name)?;
    u16::try_from(index).ok()
}

fn regs(func: FuncId, args: &[u64]) -> Regs {
    let mut regs = [0u64; 18];
    regs[0] = u64::from(u32::from(func));
    for (reg, arg) in regs[1..].iter_mut().zip(args) {
        *reg = *arg;
    }
    regs
}

/// The 32-bit register `w<n>` of a set of registers.
fn w(regs: &Regs, n: usize) -> u32 {
    regs.get(n).map_or(0, |r| *r as u32)
}

/// What was wrong with one answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wrong {
    /// FFA_ERROR with this w2.
    Error(u32),
    /// Another function than the one expected in w0.
    Function {
        /// The function expected.
        expected: u32,
        /// What w0 held.
        got: u32,
    },
    /// A register (32-bit view) with another value than expected.
    Register {
        /// Which register.
        index: u8,
        /// The value expected.
        expected: u32,
        /// What it held.
        got: u32,
    },
    /// A partition descriptor in the RX buffer that is not the one expected at its place.
    Descriptor {
        /// Its index.
        index: u8,
        /// The partition ID it carries.
        id: u16,
    },
    /// The RX buffer could not be read back.
    RxUnreadable,
}

impl fmt::Display for Wrong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Wrong::Error(code) => match FfaError::try_from(code as i32) {
                Ok(e) => write!(f, "FFA_ERROR {e:?}"),
                Err(_) => write!(f, "FFA_ERROR with code {code:#x}"),
            },
            Wrong::Function { expected, got } => {
                write!(f, "answered function {got:#x}, expected {expected:#x}")
            }
            Wrong::Register {
                index,
                expected,
                got,
            } => write!(f, "w{index} is {got:#x}, expected {expected:#x}"),
            Wrong::Descriptor { index, id } => write!(
                f,
                "partition descriptor {index} (ID {id:#x}) differs from the manifests'"
            ),
            Wrong::RxUnreadable => f.write_str("the RX buffer could not be read back"),
        }
    }
}

/// Why a row has no numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Call number `call` (counting from 0, warm-up calls included) was answered wrongly.
    Answer {
        /// Which call.
        call: u32,
        /// What was wrong.
        wrong: Wrong,
    },
    /// FFA_VERSION(1.2) was answered with this w0 instead of v1.2.
    Version(u32),
    /// No sample buffer to time into.
    NoSamples,
    /// The mailbox the row needs could not be mapped (or written, or unmapped).
    NoMailbox,
    /// The row reads the RX buffer back and was given no way to.
    NoRx,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Answer { call, wrong } => write!(f, "call {call}: {wrong}"),
            Failure::Version(w0) => write!(f, "FFA_VERSION(1.2) answered {w0:#x}"),
            Failure::NoSamples => f.write_str("no samples to time"),
            Failure::NoMailbox => {
                f.write_str("the mailbox the row needs could not be mapped, written or unmapped")
            }
            Failure::NoRx => f.write_str("no way to read the RX buffer back"),
        }
    }
}

/// Checks that w0 is `expected`, telling FFA_ERROR apart.
fn expect_function(answer: &Regs, expected: FuncId) -> Result<(), Wrong> {
    let got = ffa::call::function_id(answer);
    if got == u32::from(expected) {
        return Ok(());
    }
    if got == u32::from(FuncId::Error32) || got == u32::from(FuncId::Error64) {
        return Err(Wrong::Error(w(answer, 2)));
    }
    Err(Wrong::Function {
        expected: u32::from(expected),
        got,
    })
}

fn expect_register(answer: &Regs, index: u8, expected: u32) -> Result<(), Wrong> {
    let got = w(answer, usize::from(index));
    if got == expected {
        Ok(())
    } else {
        Err(Wrong::Register {
            index,
            expected,
            got,
        })
    }
}

impl Operation {
    /// The mailbox state the row needs when it starts; it leaves the same state behind.
    pub fn mailbox(self) -> MailboxState {
        match self {
            Operation::MemShare | Operation::MemReclaim | Operation::PartitionInfo => {
                MailboxState::Mapped
            }
            Operation::RxTxMap | Operation::RxTxUnmap => MailboxState::Unmapped,
            Operation::IdGet
            | Operation::FeaturesDirectReq32
            | Operation::DirectReqEcho
            | Operation::DirectReqRelayEcho
            | Operation::DirectReqOpteeApiVersion
            | Operation::Version
            | Operation::PartitionCount => MailboxState::Any,
        }
    }

    /// The untimed call made before each timed one, if any: the share a reclaim undoes, the
    /// map an unmap undoes.
    fn before(self, mailbox: &Mailbox) -> Option<Regs> {
        match self {
            Operation::MemReclaim => Some(self.share()),
            Operation::RxTxUnmap => Some(map(mailbox)),
            _ => None,
        }
    }

    /// FFA_MEM_SHARE_32 of the descriptor in the TX buffer (its length is the caller's: see
    /// [`measure`]).
    fn share(self) -> Regs {
        regs(FuncId::MemShare32, &[])
    }

    /// The untimed call made after each timed one, if any: the reclaim of what it shared,
    /// the release of the RX buffer it filled, the unmap of the pair it mapped.
    fn after(self, answer: &Regs) -> Option<Regs> {
        match self {
            Operation::MemShare => Some(reclaim(answer)),
            Operation::PartitionInfo => Some(regs(FuncId::RxRelease, &[u64::from(HOST_ID)])),
            Operation::RxTxMap => Some(unmap()),
            _ => None,
        }
    }

    /// The registers of timed call number `call` (payloads differ from call to call, so a
    /// stale answer cannot pass the check).
    pub fn request(self, call: u32) -> Regs {
        self.request_after(call, None, &Mailbox::default())
    }

    fn request_after(self, call: u32, before: Option<&Regs>, mailbox: &Mailbox) -> Regs {
        match self {
            Operation::MemShare => self.share(),
            Operation::MemReclaim => reclaim(before.unwrap_or(&[0; 18])),
            Operation::IdGet => regs(FuncId::IdGet, &[]),
            Operation::FeaturesDirectReq32 => regs(
                FuncId::Features,
                &[u64::from(u32::from(FuncId::MsgSendDirectReq32))],
            ),
            Operation::DirectReqEcho => echo_request(ECHO_ID, call),
            Operation::DirectReqRelayEcho => echo_request(RELAY_ID, call),
            Operation::DirectReqOpteeApiVersion => regs(
                FuncId::MsgSendDirectReq32,
                &[
                    u64::from(HOST_ID) << 16 | u64::from(OPTEE_ID),
                    0,
                    u64::from(OPTEE_GET_API_VERSION),
                ],
            ),
            Operation::Version => version_request(),
            // The nil UUID in w1..w4; w5 is the flags word.
            Operation::PartitionCount => regs(FuncId::PartitionInfoGet, &[0, 0, 0, 0, COUNT_ONLY]),
            Operation::PartitionInfo => regs(FuncId::PartitionInfoGet, &[0, 0, 0, 0, 0]),
            Operation::RxTxMap => map(mailbox),
            Operation::RxTxUnmap => unmap(),
        }
    }

    /// Checks the answer to `request` (only the 32-bit views of SMC32 answers count).
    pub fn check(self, request: &Regs, answer: &Regs) -> Result<(), Wrong> {
        match self {
            Operation::IdGet => {
                expect_function(answer, FuncId::Success32)?;
                // The ID of the normal-world caller: the host's, shared with the hypervisor.
                expect_register(answer, 2, u32::from(HOST_ID))
            }
            Operation::FeaturesDirectReq32
            | Operation::MemShare
            | Operation::MemReclaim
            | Operation::RxTxMap
            | Operation::RxTxUnmap => expect_function(answer, FuncId::Success32),
            Operation::DirectReqEcho => check_echo(ECHO_ID, request, answer),
            Operation::DirectReqRelayEcho => check_echo(RELAY_ID, request, answer),
            Operation::DirectReqOpteeApiVersion => {
                expect_function(answer, FuncId::MsgSendDirectResp32)?;
                expect_register(answer, 1, u32::from(OPTEE_ID) << 16 | u32::from(HOST_ID))?;
                expect_register(answer, 2, 0)?;
                expect_register(answer, 3, OPTEE_API_VERSION.0)?;
                expect_register(answer, 4, OPTEE_API_VERSION.1)?;
                // w5..w7 must be zero (optee_ffa.h).
                for index in 5..8u8 {
                    expect_register(answer, index, 0)?;
                }
                Ok(())
            }
            Operation::Version => expect_register(answer, 0, V1_2),
            Operation::PartitionCount => {
                expect_function(answer, FuncId::Success32)?;
                expect_register(answer, 2, partition_count())?;
                // No descriptor size when only the count is asked for.
                expect_register(answer, 3, 0)
            }
            Operation::PartitionInfo => {
                expect_function(answer, FuncId::Success32)?;
                expect_register(answer, 2, partition_count())?;
                expect_register(answer, 3, DESC_SIZE_V1_1 as u32)
            }
        }
    }
}

/// FFA_PARTITION_INFO_GET's count-only flag (w5 bit 0).
const COUNT_ONLY: u64 = 1;
/// FF-A v1.2's version word.
const V1_2: u32 = 0x0001_0002;

/// How many descriptors FFA_PARTITION_INFO_GET(nil) gives a v1.2 normal-world caller: one per
/// UUID of each partition the scenarios stack hosts.
pub fn partition_count() -> u32 {
    crate::discovery::expected_all(Version(1, 2)).count() as u32
}

/// Checks the descriptors FFA_PARTITION_INFO_GET(nil) wrote to the RX buffer, read through
/// `read_rx`, against every partition the scenarios stack hosts, field by field.
fn check_descriptors(read_rx: &mut dyn FnMut(&mut [u8]) -> bool) -> Result<(), Wrong> {
    let expected = crate::discovery::expected_all(Version(1, 2));
    let count = expected.clone().count();
    let mut buf = [0u8; MAX_DESCRIPTORS * DESC_SIZE_V1_1];
    let bytes = buf
        .get_mut(..count * DESC_SIZE_V1_1)
        .ok_or(Wrong::RxUnreadable)?;
    if !read_rx(bytes) {
        return Err(Wrong::RxUnreadable);
    }
    let got = read_descriptors(Version(1, 2), bytes, count).map_err(|_| Wrong::RxUnreadable)?;
    for (index, (got, want)) in got.zip(expected).enumerate() {
        if got != want {
            return Err(Wrong::Descriptor {
                index: index as u8,
                id: got.id.0,
            });
        }
    }
    Ok(())
}

/// Most descriptors the full partition-info row reads back.
const MAX_DESCRIPTORS: usize = 8;

/// FFA_RXTX_MAP_64 of `mailbox`.
fn map(mailbox: &Mailbox) -> Regs {
    regs(
        FuncId::RxTxMap64,
        &[mailbox.tx, mailbox.rx, u64::from(mailbox.pages)],
    )
}

/// FFA_RXTX_UNMAP of the caller's own pair (ID 0 in w1[31:16]).
fn unmap() -> Regs {
    regs(FuncId::RxTxUnmap, &[u64::from(HOST_ID) << 16])
}

/// ECHO to test partition `target`, call number `call`'s payload.
fn echo_request(target: u16, call: u32) -> Regs {
    let payload = echo_payload(call);
    regs(
        FuncId::MsgSendDirectReq32,
        &[
            u64::from(HOST_ID) << 16 | u64::from(target),
            0,
            u64::from(ECHO_COMMAND),
            u64::from(payload[0]),
            u64::from(payload[1]),
            u64::from(payload[2]),
            u64::from(payload[3]),
        ],
    )
}

/// Checks `target`'s answer to [`echo_request`]: its payload back, from it to the host.
fn check_echo(target: u16, request: &Regs, answer: &Regs) -> Result<(), Wrong> {
    expect_function(answer, FuncId::MsgSendDirectResp32)?;
    // Sender in w1[31:16], receiver in w1[15:0]: from the partition back to the host.
    expect_register(answer, 1, u32::from(target) << 16 | u32::from(HOST_ID))?;
    // No framework-message flag, no reserved bits.
    expect_register(answer, 2, 0)?;
    expect_register(answer, 3, STATUS_OK)?;
    for index in 4..8u8 {
        expect_register(answer, index, w(request, usize::from(index)))?;
    }
    Ok(())
}

/// FFA_MEM_RECLAIM of the handle a share was answered with (w2, w3).
fn reclaim(share: &Regs) -> Regs {
    regs(
        FuncId::MemReclaim,
        &[u64::from(w(share, 2)), u64::from(w(share, 3)), 0],
    )
}

/// ECHO's four argument words for call number `call`.
fn echo_payload(call: u32) -> [u32; 4] {
    [
        call,
        !call,
        call.rotate_left(16) ^ 0x5a5a_5a5a,
        0xec40_0000 | (call & 0xffff),
    ]
}

/// FFA_VERSION asking for v1.2.
pub fn version_request() -> Regs {
    regs(FuncId::Version, &[0x0001_0002])
}

/// Checks that FFA_VERSION agreed on v1.2.
pub fn check_version(answer: &Regs) -> Result<(), Failure> {
    match w(answer, 0) {
        0x0001_0002 => Ok(()),
        other => Err(Failure::Version(other)),
    }
}

/// Median, minimum and count of a row's timed calls, in counter ticks (guest instructions
/// under `-icount shift=0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The middle value; for an even count, the mean of the two middle values, rounded down.
    pub median: u64,
    /// The smallest value.
    pub min: u64,
    /// How many values.
    pub iterations: usize,
}

impl Summary {
    /// Sorts `ticks` in place and summarises it; `None` when it is empty.
    pub fn of(ticks: &mut [u64]) -> Option<Summary> {
        ticks.sort_unstable();
        let min = *ticks.first()?;
        let upper = *ticks.get(ticks.len() / 2)?;
        let median = if ticks.len() % 2 == 1 {
            upper
        } else {
            let lower = *ticks.get(ticks.len() / 2 - 1)?;
            // Sorted, so lower <= upper: no overflow, unlike (lower + upper) / 2.
            lower + (upper - lower) / 2
        };
        Some(Summary {
            median,
            min,
            iterations: ticks.len(),
        })
    }
}

/// Times `operation` once per element of `ticks`, after [`WARM_UP`] uncounted calls, through
/// `timed` (which makes the call and returns the answer and the ticks it took), checking every
/// answer outside the timed bracket. A memory row's share names a descriptor of `share_len`
/// bytes the caller put in its TX buffer. Stops at the first wrong answer. [`measure_with`]
/// with only that set up.
pub fn measure(
    operation: Operation,
    share_len: u32,
    ticks: &mut [u64],
    mut timed: impl FnMut(&Regs) -> (Regs, u64),
) -> Result<Summary, Failure> {
    let mut setup = Setup {
        share_len,
        ..Setup::default()
    };
    measure_with(operation, &mut setup, ticks, |regs, _| timed(regs))
}

/// Times `operation` once per element of `ticks`, after [`WARM_UP`] uncounted calls, through
/// `timed` (which makes the call, told which kind it is, and returns the answer and the ticks
/// it took), checking every answer outside the timed bracket against what `setup` describes.
/// The untimed calls around a timed one ([`Call::Setup`]: the share a reclaim undoes, the
/// reclaim, release or unmap that undoes a timed call) go through `timed` too, their ticks
/// dropped. Stops at the first wrong answer.
pub fn measure_with(
    operation: Operation,
    setup: &mut Setup<'_>,
    ticks: &mut [u64],
    mut timed: impl FnMut(&Regs, Call) -> (Regs, u64),
) -> Result<Summary, Failure> {
    if ticks.is_empty() {
        return Err(Failure::NoSamples);
    }
    let share_len = setup.share_len;
    let with_len = |mut regs: Regs| {
        if ffa::call::function_id(&regs) == u32::from(FuncId::MemShare32) {
            regs[1] = u64::from(share_len);
            regs[2] = u64::from(share_len);
        }
        regs
    };
    let mailbox = setup.mailbox;
    let mut made = |call: u32, kind: Call| -> Result<u64, Failure> {
        let wrong = |wrong| Failure::Answer { call, wrong };
        let before = match operation.before(&mailbox) {
            Some(first) => {
                let (answer, _) = timed(&with_len(first), Call::Setup);
                expect_function(&answer, FuncId::Success32).map_err(wrong)?;
                Some(answer)
            }
            None => None,
        };
        let request = with_len(operation.request_after(call, before.as_ref(), &mailbox));
        let (answer, took) = timed(&request, kind);
        operation.check(&request, &answer).map_err(wrong)?;
        if operation == Operation::PartitionInfo {
            let read_rx = setup.read_rx.as_mut().ok_or(Failure::NoRx)?;
            check_descriptors(&mut **read_rx).map_err(wrong)?;
        }
        if let Some(undo) = operation.after(&answer) {
            let (answer, _) = timed(&undo, Call::Setup);
            expect_function(&answer, FuncId::Success32).map_err(wrong)?;
        }
        Ok(took)
    };
    let mut call = 0u32;
    for _ in 0..WARM_UP {
        made(call, Call::WarmUp)?;
        call = call.wrapping_add(1);
    }
    for slot in ticks.iter_mut() {
        *slot = made(call, Call::Timed)?;
        call = call.wrapping_add(1);
    }
    Summary::of(ticks).ok_or(Failure::NoSamples)
}

/// One share + retrieve + relinquish + reclaim cycle of the cycle table: FFA_MEM_SHARE_32 of
/// `pages` pages from 0x5000_0000 to echo (FFA_MEM_FRAG_TX for what does not fit the TX
/// buffer), echo's RETRIEVE command (FFA_MEM_RETRIEVE_REQ, FFA_MEM_FRAG_RX for the rest of
/// the response, FFA_MEM_RELINQUISH, inside one direct request), FFA_MEM_RECLAIM. The ticks
/// of every call are added; what the caller does between calls (writing fragments) is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cycle {
    /// The name in the `bench` line.
    pub name: &'static str,
    /// Pages shared.
    pub pages: u32,
    /// One range per page, every other page (or one contiguous range).
    pub scattered: bool,
}

/// The cycle table's rows.
pub const CYCLES: [Cycle; 7] = [
    Cycle {
        name: "cycle_1",
        pages: 1,
        scattered: false,
    },
    Cycle {
        name: "cycle_16_contiguous",
        pages: 16,
        scattered: false,
    },
    Cycle {
        name: "cycle_16_scattered",
        pages: 16,
        scattered: true,
    },
    Cycle {
        name: "cycle_256_contiguous",
        pages: 256,
        scattered: false,
    },
    Cycle {
        name: "cycle_256_scattered",
        pages: 256,
        scattered: true,
    },
    Cycle {
        name: "cycle_4096_contiguous",
        pages: 4096,
        scattered: false,
    },
    Cycle {
        name: "cycle_4096_scattered",
        pages: 4096,
        scattered: true,
    },
];

/// Timed cycles per row (after [`CYCLE_WARM_UP`]): a 4096-range cycle takes millions of
/// instructions.
pub const CYCLE_ITERATIONS: usize = 16;
/// Cycles made before the timed ones.
pub const CYCLE_WARM_UP: u32 = 2;

impl Cycle {
    /// Its constituents.
    pub fn ranges(self) -> u32 {
        if self.scattered { self.pages } else { 1 }
    }

    /// Constituent `i`.
    fn range(self, i: u32) -> ffa::memory::AddressRange {
        if self.scattered {
            ffa::memory::AddressRange {
                address: SHARE_BASE + 2 * u64::from(i) * 0x1000,
                pages: 1,
            }
        } else {
            ffa::memory::AddressRange {
                address: SHARE_BASE,
                pages: self.pages,
            }
        }
    }

    /// The share's head (v1.2): where the constituents start, and the whole length.
    fn head(self, buf: &mut [u8]) -> Option<(usize, usize)> {
        use ffa::memory::{CONSTITUENT_SIZE, Composite, DescriptorHead, Layout};
        let len = share_descriptor(1, buf)?;
        let mut head = DescriptorHead::parse(buf.get(..len)?, len, Layout::V1_2).ok()?;
        let at = len - CONSTITUENT_SIZE;
        head.composite = Some(Composite {
            total_pages: self.pages,
            count: self.ranges(),
            constituents_at: at,
        });
        head.write(buf, Layout::V1_2).ok()?;
        Some((at, at + self.ranges() as usize * CONSTITUENT_SIZE))
    }
}

/// Times `cycle` once per element of `ticks` (after [`CYCLE_WARM_UP`]): the caller's TX
/// buffer of `tx_len` bytes is written through `write_tx(offset, bytes)`; every answer is
/// checked (echo must count every constituent of its retrieve response).
pub fn measure_cycle(
    cycle: Cycle,
    tx_len: usize,
    write_tx: &mut dyn FnMut(usize, &[u8]) -> bool,
    ticks: &mut [u64],
    mut timed: impl FnMut(&Regs) -> (Regs, u64),
) -> Result<Summary, Failure> {
    use ffa::memory::CONSTITUENT_SIZE;
    use test_partitions::protocol::CallStatus;
    if ticks.is_empty() {
        return Err(Failure::NoSamples);
    }
    let mut head = [0u8; 256];
    let (at, total) = cycle.head(&mut head).ok_or(Failure::NoMailbox)?;
    let ranges = cycle.ranges() as usize;
    // Fills the TX buffer with constituents [from, from + n) at `offset`.
    let put = |write_tx: &mut dyn FnMut(usize, &[u8]) -> bool,
               offset: usize,
               from: usize,
               n: usize|
     -> Result<(), Failure> {
        let mut bytes = [0u8; CONSTITUENT_SIZE];
        for i in 0..n {
            let r = cycle.range((from + i) as u32);
            let _ = ffa::memory::write_constituent(&mut bytes, &r);
            if !write_tx(offset + i * CONSTITUENT_SIZE, &bytes) {
                return Err(Failure::NoMailbox);
            }
        }
        Ok(())
    };
    let per_buffer = tx_len / CONSTITUENT_SIZE;
    let first = ((tx_len - at) / CONSTITUENT_SIZE).min(ranges);
    let mut one = |call: u32| -> Result<u64, Failure> {
        let wrong = |wrong| Failure::Answer { call, wrong };
        let mut spent = 0;
        if !write_tx(0, head.get(..at).unwrap_or(&[])) {
            return Err(Failure::NoMailbox);
        }
        put(write_tx, at, 0, first)?;
        let mut share = regs(
            FuncId::MemShare32,
            &[total as u64, (at + first * 16) as u64],
        );
        let mut sent = first;
        let answer = loop {
            let (answer, took) = timed(&share);
            spent += took;
            if sent >= ranges {
                break answer;
            }
            expect_function(&answer, FuncId::MemFragRx).map_err(wrong)?;
            let n = (ranges - sent).min(per_buffer);
            put(write_tx, 0, sent, n)?;
            share = regs(
                FuncId::MemFragTx,
                &[answer[1], answer[2], (n * CONSTITUENT_SIZE) as u64],
            );
            sent += n;
        };
        expect_function(&answer, FuncId::Success32).map_err(wrong)?;
        let (lo, hi) = (u64::from(w(&answer, 2)), u64::from(w(&answer, 3)));
        let retrieve = regs(
            FuncId::MsgSendDirectReq32,
            &[
                u64::from(HOST_ID) << 16 | u64::from(ECHO_ID),
                0,
                u64::from(Command::Retrieve as u32),
                lo,
                hi,
                u64::from(HOST_ID),
                0,
            ],
        );
        let (answer, took) = timed(&retrieve);
        spent += took;
        expect_function(&answer, FuncId::MsgSendDirectResp32).map_err(wrong)?;
        expect_register(&answer, 3, STATUS_OK).map_err(wrong)?;
        let ok = CallStatus::Success.word() as u32;
        expect_register(&answer, 4, ok).map_err(wrong)?;
        expect_register(&answer, 6, cycle.ranges()).map_err(wrong)?;
        expect_register(&answer, 7, ok).map_err(wrong)?;
        let (answer, took) = timed(&regs(FuncId::MemReclaim, &[lo, hi, 0]));
        spent += took;
        expect_function(&answer, FuncId::Success32).map_err(wrong)?;
        Ok(spent)
    };
    let mut call = 0u32;
    for _ in 0..CYCLE_WARM_UP {
        one(call)?;
        call += 1;
    }
    for slot in ticks.iter_mut() {
        *slot = one(call)?;
        call += 1;
    }
    Summary::of(ticks).ok_or(Failure::NoSamples)
}

/// One `bench` line: `bench <name> median <n> min <n> iterations <n>` or
/// `bench <name> FAIL <reason>`.
pub struct Line<'a> {
    /// The row's name.
    pub name: &'a str,
    /// Its numbers or why there are none.
    pub result: &'a Result<Summary, Failure>,
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.result {
            Ok(s) => write!(
                f,
                "bench {} median {} min {} iterations {}",
                self.name, s.median, s.min, s.iterations
            ),
            Err(why) => write!(f, "bench {} FAIL {why}", self.name),
        }
    }
}

/// The selector word of the concurrency boot (4 CPUs): the proxy times direct requests to
/// relay from one core, then from all four at once, and the client only reports.
pub const SELECTOR_CORES: u32 = 0xBEEF_0C04;
/// The selector word of the OP-TEE boot (the stack with OP-TEE OS): the proxy times
/// [`DIRECT_REQ_OPTEE_EL2`], and the client only reports.
pub const SELECTOR_OPTEE: u32 = 0xBEEF_07EE;
/// The selector word of the OP-TEE stack's profile boot: [`DIRECT_REQ_OPTEE_EL2`] with
/// [`PROFILE_ITERATIONS`] timed calls, each marked as in [`PROFILE_SELECTOR`]'s boot.
pub const SELECTOR_OPTEE_PROFILE: u32 = 0xBEEF_07EF;

/// Whether `selector` names a bench boot whose rows the proxy times alone, before the client
/// runs (which then only reports the verdict).
pub fn proxy_only(selector: u32) -> bool {
    matches!(
        selector,
        SELECTOR_CORES | SELECTOR_OPTEE | SELECTOR_OPTEE_PROFILE
    )
}

/// The OP-TEE boot's row, timed by the proxy at NS-EL2 as row (c).
pub const DIRECT_REQ_OPTEE_EL2: Row = Row {
    name: "direct_req_optee_el2",
    operation: Operation::DirectReqOpteeApiVersion,
};

/// Cores of the concurrency boot.
pub const CORES: usize = 4;
/// Direct requests each core makes in a concurrency row, after [`WARM_UP`] untimed ones.
pub const CORE_REQUESTS: u32 = 1000;
/// What the concurrency rows time: ECHO to relay, which runs on every core.
pub const CORES_OPERATION: Operation = Operation::DirectReqRelayEcho;
/// The concurrency row with core 0 alone (the other cores not started yet).
pub const RELAY_ONE_CORE: &str = "direct_req_relay_1core";
/// The concurrency row with every core at once.
pub const RELAY_ALL_CORES: &str = "direct_req_relay_4cores";

/// The first call number of `core`'s requests: each core's payloads differ from every other
/// core's, so an answer delivered to the wrong core fails its check.
pub fn first_call(core: usize) -> u32 {
    (core as u32) << 20
}

/// Makes calls `first..first + count` of `operation` through `call` (which returns the
/// answer), checking each; stops at the first wrong answer.
pub fn run_requests(
    operation: Operation,
    first: u32,
    count: u32,
    mut call: impl FnMut(&Regs) -> Regs,
) -> Result<(), Failure> {
    for n in first..first.wrapping_add(count) {
        let request = operation.request(n);
        let answer = call(&request);
        operation
            .check(&request, &answer)
            .map_err(|wrong| Failure::Answer { call: n, wrong })?;
    }
    Ok(())
}

/// Requests completed by several cores over one clock (docs: performance.md §Measuring
/// several cores at once under `-icount`): under `-icount` the counter advances with every
/// core's instructions, so `ticks / requests` is the cost of a request summed over the cores,
/// equal to the one-core cost under perfect scaling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throughput {
    /// Cores that made requests.
    pub cores: u32,
    /// Requests completed, all cores together.
    pub requests: u64,
    /// Counter ticks from the start line to the last core's last answer.
    pub ticks: u64,
}

impl Throughput {
    /// Ticks per request, rounded down (0 without requests).
    pub fn per_request(&self) -> u64 {
        self.ticks.checked_div(self.requests).unwrap_or(0)
    }
}

/// Why a concurrency row has no numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoresFailure {
    /// PSCI CPU_ON of this core answered this (not SUCCESS).
    CpuOn {
        /// The core.
        core: u8,
        /// PSCI's answer.
        code: i32,
    },
    /// This core did not report in time (at the start line or at the end).
    Late {
        /// The core.
        core: u8,
    },
    /// A request on this core failed.
    Request {
        /// The core.
        core: u8,
        /// How.
        failure: Failure,
    },
}

impl fmt::Display for CoresFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoresFailure::CpuOn { core, code } => {
                write!(f, "CPU_ON of core {core} answered {code}")
            }
            CoresFailure::Late { core } => write!(f, "core {core} did not report in time"),
            CoresFailure::Request { core, failure } => write!(f, "core {core}: {failure}"),
        }
    }
}

/// One concurrency line: `bench-cores <name> cores <n> requests <n> ticks <n>`, or
/// `bench <name> FAIL <reason>` (the ordinary failure line).
pub struct CoresLine<'a> {
    /// The row's name.
    pub name: &'a str,
    /// Its numbers or why there are none.
    pub result: &'a Result<Throughput, CoresFailure>,
}

impl fmt::Display for CoresLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.result {
            Ok(t) => write!(
                f,
                "bench-cores {} cores {} requests {} ticks {}",
                self.name, t.cores, t.requests, t.ticks
            ),
            Err(why) => write!(f, "bench {} FAIL {why}", self.name),
        }
    }
}

/// When one core made its requests, in ticks from the start line: shows how the cores'
/// runs overlapped (QEMU runs one vCPU at a time under `-icount`).
pub struct Span {
    /// The core.
    pub core: usize,
    /// Its first request, from the start line.
    pub begin: u64,
    /// Its last answer, from the start line.
    pub end: u64,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bench-span core {} from {} to {}",
            self.core, self.begin, self.end
        )
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::string::ToString;
    use std::vec::Vec;

    use super::*;

    #[test]
    fn median_and_min_of_odd_and_even_counts() {
        let mut odd = [9, 3, 7, 3, 5];
        assert_eq!(
            Summary::of(&mut odd),
            Some(Summary {
                median: 5,
                min: 3,
                iterations: 5
            })
        );
        let mut even = [10, 4, 8, 6];
        assert_eq!(
            Summary::of(&mut even),
            Some(Summary {
                median: 7,
                min: 4,
                iterations: 4
            })
        );
        let mut rounded_down = [2, 1];
        assert_eq!(Summary::of(&mut rounded_down).map(|s| s.median), Some(1));
        let mut one = [42];
        assert_eq!(
            Summary::of(&mut one),
            Some(Summary {
                median: 42,
                min: 42,
                iterations: 1
            })
        );
        assert_eq!(Summary::of(&mut []), None);
    }

    #[test]
    fn median_of_the_largest_values_does_not_overflow() {
        let mut top = [u64::MAX, u64::MAX - 2];
        assert_eq!(Summary::of(&mut top).map(|s| s.median), Some(u64::MAX - 1));
    }

    #[test]
    fn median_of_a_thousand_is_the_mean_of_the_middle_two() {
        // 1..=1000 shuffled by a fixed stride: the middle two are 500 and 501.
        let mut ticks: Vec<u64> = (0..1000u64).map(|i| (i * 7919) % 1000 + 1).collect();
        let s = Summary::of(&mut ticks).expect("values");
        assert_eq!((s.median, s.min, s.iterations), (500, 1, 1000));
        assert!(ticks.windows(2).all(|p| p[0] <= p[1]), "sorted in place");
    }

    /// A fake EL3 and echo partition: answers every operation correctly, optionally wrongly
    /// from call `bad` on, and takes `100 + call % 3` ticks.
    fn fake(bad: Option<u32>) -> impl FnMut(&Regs) -> (Regs, u64) {
        let mut call = 0u32;
        move |req: &Regs| {
            let mut answer = [0u64; 18];
            let fid = req[0] as u32;
            if fid == u32::from(FuncId::MsgSendDirectReq32) {
                answer[0] = u64::from(u32::from(FuncId::MsgSendDirectResp32));
                answer[1] = u64::from(ECHO_ID) << 16;
                answer[4..8].copy_from_slice(&req[4..8]);
            } else {
                answer[0] = u64::from(u32::from(FuncId::Success32));
            }
            if bad.is_some_and(|b| call >= b) {
                answer[5] ^= 1;
                answer[2] = 1;
            }
            let took = 100 + u64::from(call % 3);
            call += 1;
            (answer, took)
        }
    }

    #[test]
    fn measuring_skips_the_warm_up_and_summarises_the_rest() {
        let mut ticks = [0u64; 10];
        let mut seen = Vec::new();
        let mut timed = fake(None);
        let result = measure(Operation::DirectReqEcho, 0, &mut ticks, |req| {
            seen.push(req[4] as u32);
            timed(req)
        });
        // Calls 8..18 took 100 + call % 3: 102 100 101 102 100 101 102 100 101 102.
        assert_eq!(
            result,
            Ok(Summary {
                median: 101,
                min: 100,
                iterations: 10
            })
        );
        assert_eq!(seen, (0..18).collect::<Vec<u32>>(), "one payload per call");
    }

    #[test]
    fn a_wrong_answer_stops_the_row_and_names_the_call() {
        let mut ticks = [0u64; 10];
        let result = measure(Operation::DirectReqEcho, 0, &mut ticks, fake(Some(12)));
        let failure = result.expect_err("call 12 answers wrongly");
        assert_eq!(
            failure,
            Failure::Answer {
                call: 12,
                wrong: Wrong::Register {
                    index: 2,
                    expected: 0,
                    got: 1
                }
            }
        );
        let line = Line {
            name: "direct_req_echo_el2",
            result: &Err(failure),
        }
        .to_string();
        assert_eq!(
            line,
            "bench direct_req_echo_el2 FAIL call 12: w2 is 0x1, expected 0x0"
        );
        // A warm-up call's failure counts too.
        assert!(measure(Operation::IdGet, 0, &mut ticks, fake(Some(0))).is_err());
        assert_eq!(
            measure(Operation::IdGet, 0, &mut [], fake(None)),
            Err(Failure::NoSamples)
        );
    }

    #[test]
    fn echo_answers_are_checked_word_by_word() {
        let op = Operation::DirectReqEcho;
        let req = op.request(3);
        assert_eq!(req[0], 0x8400_006f);
        assert_eq!(req[1], 0x8001);
        assert_eq!(req[3], u64::from(ECHO_COMMAND));
        let mut good = [0u64; 18];
        good[0] = 0x8400_0070;
        good[1] = 0x8001_0000;
        good[4..8].copy_from_slice(&req[4..8]);
        assert_eq!(op.check(&req, &good), Ok(()));
        // The upper halves of an SMC32 answer do not count.
        let mut upper = good;
        upper[4] |= 0xffff_ffff_0000_0000;
        assert_eq!(op.check(&req, &upper), Ok(()));

        let mut stale = good;
        stale[4..8].copy_from_slice(&op.request(2)[4..8]);
        assert!(matches!(
            op.check(&req, &stale),
            Err(Wrong::Register { index: 4, .. })
        ));
        let mut swapped = good;
        swapped[1] = 0x0000_8001;
        assert!(matches!(
            op.check(&req, &swapped),
            Err(Wrong::Register { index: 1, .. })
        ));
        let mut failed = good;
        failed[3] = 0x1_0001;
        assert!(matches!(
            op.check(&req, &failed),
            Err(Wrong::Register { index: 3, .. })
        ));
        let mut error = [0u64; 18];
        error[0] = 0x8400_0060;
        error[2] = (-2i32) as u32 as u64;
        assert_eq!(op.check(&req, &error), Err(Wrong::Error(0xffff_fffe)));
        assert_eq!(
            Wrong::Error(0xffff_fffe).to_string(),
            "FFA_ERROR InvalidParameters"
        );
        assert_eq!(
            Wrong::Error(0x7).to_string(),
            "FFA_ERROR with code 0x7",
            "not an FF-A error code"
        );
        let mut other = good;
        other[0] = 0x8400_0061;
        assert_eq!(
            op.check(&req, &other).map_err(|w| w.to_string()),
            Err("answered function 0x84000061, expected 0x84000070".to_string())
        );
    }

    #[test]
    fn id_get_and_features_want_success() {
        let id = Operation::IdGet;
        let req = id.request(0);
        assert_eq!(req, {
            let mut r = [0u64; 18];
            r[0] = 0x8400_0069;
            r
        });
        let mut ok = [0u64; 18];
        ok[0] = 0x8400_0061;
        assert_eq!(id.check(&req, &ok), Ok(()));
        let mut other_id = ok;
        other_id[2] = 0x8001;
        assert!(id.check(&req, &other_id).is_err());

        let features = Operation::FeaturesDirectReq32;
        let req = features.request(0);
        assert_eq!((req[0], req[1]), (0x8400_0064, 0x8400_006f));
        assert_eq!(features.check(&req, &ok), Ok(()));
        let mut error = [0u64; 18];
        error[0] = 0x8400_0060;
        error[2] = (-1i32) as u32 as u64;
        assert_eq!(features.check(&req, &error), Err(Wrong::Error(0xffff_ffff)));
    }

    #[test]
    fn version_and_lines() {
        assert_eq!(version_request()[..2], [0x8400_0063, 0x1_0002]);
        let mut answer = [0u64; 18];
        answer[0] = 0x1_0002;
        assert_eq!(check_version(&answer), Ok(()));
        answer[0] = 0xffff_ffff;
        assert_eq!(check_version(&answer), Err(Failure::Version(0xffff_ffff)));
        assert_eq!(
            Failure::Version(0x1_0001).to_string(),
            "FFA_VERSION(1.2) answered 0x10001"
        );
        let ok = Ok(Summary {
            median: 296,
            min: 292,
            iterations: 1000,
        });
        assert_eq!(
            Line {
                name: "id_get_el3",
                result: &ok
            }
            .to_string(),
            "bench id_get_el3 median 296 min 292 iterations 1000"
        );
        let names: Vec<&str> = PROXY_ROWS.iter().map(|r| r.row.name).collect();
        assert_eq!(
            names,
            [
                "id_get_el3",
                "features_spmc",
                "direct_req_echo_el2",
                "version_spmc",
                "partition_info_count",
                "rxtx_map",
                "rxtx_unmap",
                "partition_info_full",
                "mem_share_1",
                "mem_reclaim_1",
                "mem_share_16"
            ]
        );
    }

    #[test]
    fn the_proxy_needs_one_map_for_its_rows() {
        // Once a row needs the pair mapped, none after it needs it unmapped: the proxy maps
        // it once, and the mailbox rows leave it as they found it.
        let first_mapped = PROXY_ROWS
            .iter()
            .position(|r| r.row.operation.mailbox() == MailboxState::Mapped)
            .expect("memory rows");
        assert!(
            PROXY_ROWS[first_mapped..]
                .iter()
                .all(|r| r.row.operation.mailbox() != MailboxState::Unmapped)
        );
        // Every marked row is a row, each once, within the SMC crate's marks.
        for (mark, name) in PROFILED.iter().enumerate() {
            assert_eq!(mark_of(name), Some(mark as u16));
        }
        assert!(PROXY_ROWS.iter().all(|r| mark_of(r.row.name).is_some()));
        assert!(mark_of(DIRECT_REQ_ECHO_EL1.name).is_some());
        assert_eq!(mark_of(DIRECT_REQ_OPTEE_EL2.name), Some(12));
        assert_eq!(mark_of("cycle_1"), None);
        assert_ne!(PROFILE_SELECTOR, SELECTOR);
        assert_ne!(SELECTOR_OPTEE_PROFILE, SELECTOR_OPTEE);
    }

    #[test]
    fn version_partition_info_and_mailbox_requests_and_checks() {
        let mut success = [0u64; 18];
        success[0] = 0x8400_0061;

        let version = Operation::Version;
        let req = version.request(0);
        assert_eq!(req[..2], [0x8400_0063, 0x1_0002]);
        let mut v1_2 = [0u64; 18];
        v1_2[0] = 0x1_0002;
        assert_eq!(version.check(&req, &v1_2), Ok(()));
        let mut v1_1 = v1_2;
        v1_1[0] = 0x1_0001;
        assert!(version.check(&req, &v1_1).is_err());

        // One descriptor per UUID: relay has two.
        assert_eq!(partition_count(), 5);
        let count = Operation::PartitionCount;
        let req = count.request(0);
        assert_eq!(req[..6], [0x8400_0068, 0, 0, 0, 0, 1]);
        let mut answer = success;
        answer[2] = 5;
        assert_eq!(count.check(&req, &answer), Ok(()));
        answer[2] = 4;
        assert!(matches!(
            count.check(&req, &answer),
            Err(Wrong::Register { index: 2, .. })
        ));
        answer[2] = 5;
        answer[3] = 24;
        assert!(matches!(
            count.check(&req, &answer),
            Err(Wrong::Register { index: 3, .. })
        ));

        let full = Operation::PartitionInfo;
        let req = full.request(0);
        assert_eq!(req[..6], [0x8400_0068, 0, 0, 0, 0, 0]);
        assert_eq!(full.check(&req, &answer), Ok(()));
        answer[3] = 8;
        assert!(full.check(&req, &answer).is_err());
        assert_eq!(
            full.after(&answer).map(|r| (r[0], r[1])),
            Some((0x8400_0065, 0))
        );

        let mailbox = Mailbox {
            tx: 0x6100_0000,
            rx: 0x6100_1000,
            pages: 1,
        };
        let map = Operation::RxTxMap.request_after(0, None, &mailbox);
        assert_eq!(map[..4], [0xc400_0066, 0x6100_0000, 0x6100_1000, 1]);
        assert_eq!(Operation::RxTxUnmap.before(&mailbox), Some(map));
        let unmap = Operation::RxTxUnmap.request(0);
        assert_eq!(unmap[..2], [0x8400_0067, 0]);
        assert_eq!(Operation::RxTxMap.after(&success), Some(unmap));
        assert_eq!(Operation::RxTxMap.check(&map, &success), Ok(()));
        let mut error = [0u64; 18];
        error[0] = 0x8400_0060;
        error[2] = (-4i32) as u32 as u64;
        assert_eq!(
            Operation::RxTxUnmap.check(&unmap, &error),
            Err(Wrong::Error(0xffff_fffc))
        );
    }

    /// The descriptors the scenarios stack's SPMC writes for a v1.2 normal-world caller.
    fn rx_of_the_stack() -> Vec<u8> {
        let infos: Vec<_> = crate::discovery::expected_all(Version(1, 2)).collect();
        let mut bytes = std::vec![0u8; infos.len() * DESC_SIZE_V1_1];
        let len = ffa::partition_info::write_descriptors(Version(1, 2), &infos, &mut bytes)
            .expect("fits");
        assert_eq!(len, bytes.len());
        bytes
    }

    /// A fake EL3 for the partition-info and mailbox rows, recording each call's kind and
    /// function.
    fn mailbox_fake(seen: &mut Vec<(Call, u32)>) -> impl FnMut(&Regs, Call) -> (Regs, u64) + '_ {
        move |req: &Regs, kind: Call| {
            seen.push((kind, req[0] as u32));
            let mut answer = [0u64; 18];
            answer[0] = 0x8400_0061;
            if req[0] == 0x8400_0068 {
                answer[2] = 5;
                answer[3] = if req[5] == 1 { 0 } else { 24 };
            }
            (answer, 50)
        }
    }

    #[test]
    fn the_full_partition_info_row_reads_the_rx_buffer_and_releases_it() {
        let rx = rx_of_the_stack();
        let mut read = |buf: &mut [u8]| {
            let n = buf.len();
            buf.copy_from_slice(&rx[..n]);
            true
        };
        let mut seen = Vec::new();
        let mut setup = Setup {
            read_rx: Some(&mut read),
            ..Setup::default()
        };
        let mut ticks = [0u64; 4];
        let result = measure_with(
            Operation::PartitionInfo,
            &mut setup,
            &mut ticks,
            mailbox_fake(&mut seen),
        );
        assert_eq!(result.map(|s| s.median), Ok(50));
        // Each call, then its release; warm-up first.
        assert_eq!(seen.len(), 2 * (WARM_UP as usize + 4));
        assert_eq!(seen[0], (Call::WarmUp, 0x8400_0068));
        assert_eq!(seen[1], (Call::Setup, 0x8400_0065));
        assert_eq!(seen[2 * WARM_UP as usize], (Call::Timed, 0x8400_0068));

        // A descriptor that is not the manifests' (relay's ID in echo's place).
        let mut wrong = rx.clone();
        wrong[0..2].copy_from_slice(&0x8002u16.to_le_bytes());
        let mut read = |buf: &mut [u8]| {
            let n = buf.len();
            buf.copy_from_slice(&wrong[..n]);
            true
        };
        let mut setup = Setup {
            read_rx: Some(&mut read),
            ..Setup::default()
        };
        let mut seen = Vec::new();
        let result = measure_with(
            Operation::PartitionInfo,
            &mut setup,
            &mut ticks,
            mailbox_fake(&mut seen),
        );
        assert_eq!(
            result,
            Err(Failure::Answer {
                call: 0,
                wrong: Wrong::Descriptor {
                    index: 0,
                    id: 0x8002
                }
            })
        );
        let mut seen = Vec::new();
        let result = measure_with(
            Operation::PartitionInfo,
            &mut Setup::default(),
            &mut ticks,
            mailbox_fake(&mut seen),
        );
        assert_eq!(result, Err(Failure::NoRx));
        let mut unreadable = |_: &mut [u8]| false;
        let mut setup = Setup {
            read_rx: Some(&mut unreadable),
            ..Setup::default()
        };
        let result = measure_with(
            Operation::PartitionInfo,
            &mut setup,
            &mut ticks,
            mailbox_fake(&mut seen),
        );
        assert!(matches!(
            result,
            Err(Failure::Answer {
                wrong: Wrong::RxUnreadable,
                ..
            })
        ));
    }

    #[test]
    fn the_mailbox_rows_undo_each_call_untimed() {
        let mailbox = Mailbox {
            tx: 0x6100_0000,
            rx: 0x6100_1000,
            pages: 1,
        };
        let mut seen = Vec::new();
        let mut setup = Setup {
            mailbox,
            ..Setup::default()
        };
        let result = measure_with(
            Operation::RxTxMap,
            &mut setup,
            &mut [0u64; 2],
            mailbox_fake(&mut seen),
        );
        assert!(result.is_ok());
        let timed: Vec<u32> = seen
            .iter()
            .filter(|(k, _)| *k == Call::Timed)
            .map(|(_, f)| *f)
            .collect();
        assert_eq!(timed, [0xc400_0066, 0xc400_0066]);
        assert_eq!(seen.last(), Some(&(Call::Setup, 0x8400_0067)));

        let mut seen = Vec::new();
        let result = measure_with(
            Operation::RxTxUnmap,
            &mut setup,
            &mut [0u64; 2],
            mailbox_fake(&mut seen),
        );
        assert!(result.is_ok());
        assert_eq!(seen[0], (Call::Setup, 0xc400_0066));
        assert_eq!(seen[1], (Call::WarmUp, 0x8400_0067));
        assert_eq!(seen.last(), Some(&(Call::Timed, 0x8400_0067)));
    }

    /// A fake relay: answers ECHO from the partition the request names, with its payload.
    fn relay(req: &Regs) -> Regs {
        let mut answer = [0u64; 18];
        answer[0] = u64::from(u32::from(FuncId::MsgSendDirectResp32));
        answer[1] = (req[1] & 0xffff) << 16 | req[1] >> 16;
        answer[3] = u64::from(STATUS_OK);
        answer[4..8].copy_from_slice(&req[4..8]);
        answer
    }

    #[test]
    fn relay_echo_goes_to_relay_and_wants_its_own_payload_back() {
        let op = Operation::DirectReqRelayEcho;
        let req = op.request(first_call(2) + 7);
        assert_eq!(
            (req[0], req[1], req[3]),
            (0x8400_006f, 0x8002, u64::from(ECHO_COMMAND))
        );
        assert_eq!(req[4], u64::from(first_call(2) + 7));
        assert_eq!(op.check(&req, &relay(&req)), Ok(()));
        // Echo's answer (another sender) and another core's payload are both refused.
        let mut from_echo = relay(&req);
        from_echo[1] = u64::from(ECHO_ID) << 16;
        assert!(matches!(
            op.check(&req, &from_echo),
            Err(Wrong::Register { index: 1, .. })
        ));
        let other_core = relay(&op.request(first_call(1) + 7));
        assert!(matches!(
            op.check(&req, &other_core),
            Err(Wrong::Register { index: 4, .. })
        ));
    }

    #[test]
    fn optee_api_version_is_checked_word_by_word() {
        let op = Operation::DirectReqOpteeApiVersion;
        let req = op.request(5);
        assert_eq!(req[..4], [0x8400_006f, 0x8005, 0, 0]);
        assert_eq!(req, op.request(6), "the service takes no payload");
        let mut good = [0u64; 18];
        good[0] = 0x8400_0070;
        good[1] = 0x8005_0000;
        good[3] = 1;
        assert_eq!(op.check(&req, &good), Ok(()));
        for (index, value) in [(1, 0x8001_0000), (2, 1), (3, 2), (4, 1), (5, 1), (7, 1)] {
            let mut bad = good;
            bad[index] = value;
            assert!(
                matches!(op.check(&req, &bad), Err(Wrong::Register { index: i, .. }) if usize::from(i) == index),
                "w{index} = {value:#x}"
            );
        }
        let mut error = [0u64; 18];
        error[0] = 0x8400_0060;
        error[2] = (-3i32) as u32 as u64;
        assert!(matches!(op.check(&req, &error), Err(Wrong::Error(_))));
    }

    #[test]
    fn requests_are_numbered_per_core_and_all_checked() {
        let mut seen = Vec::new();
        let op = CORES_OPERATION;
        let ok = run_requests(op, first_call(3), 5, |req| {
            seen.push(req[4] as u32);
            relay(req)
        });
        assert_eq!(ok, Ok(()));
        assert_eq!(seen, (0..5).map(|i| first_call(3) + i).collect::<Vec<_>>());
        let mut n = 0;
        let failed = run_requests(op, first_call(1), 5, |req| {
            n += 1;
            let mut answer = relay(req);
            if n == 3 {
                answer[6] ^= 1;
            }
            answer
        });
        assert!(matches!(
            failed,
            Err(Failure::Answer { call, wrong: Wrong::Register { index: 6, .. } }) if call == first_call(1) + 2
        ));
        assert_eq!(n, 3, "stops at the first wrong answer");
    }

    #[test]
    fn concurrency_lines() {
        let t = Throughput {
            cores: 4,
            requests: 4000,
            ticks: 31_522_001,
        };
        assert_eq!(t.per_request(), 7880);
        assert_eq!(Throughput { requests: 0, ..t }.per_request(), 0);
        assert_eq!(
            CoresLine {
                name: RELAY_ALL_CORES,
                result: &Ok(t)
            }
            .to_string(),
            "bench-cores direct_req_relay_4cores cores 4 requests 4000 ticks 31522001"
        );
        let failed = Err(CoresFailure::Request {
            core: 2,
            failure: Failure::Answer {
                call: first_call(2) + 4,
                wrong: Wrong::Error(0xffff_fffe),
            },
        });
        assert_eq!(
            CoresLine {
                name: RELAY_ALL_CORES,
                result: &failed
            }
            .to_string(),
            "bench direct_req_relay_4cores FAIL core 2: call 2097156: FFA_ERROR InvalidParameters"
        );
        assert_eq!(
            CoresFailure::CpuOn { core: 1, code: -4 }.to_string(),
            "CPU_ON of core 1 answered -4"
        );
        assert_eq!(
            Span {
                core: 3,
                begin: 10,
                end: 20
            }
            .to_string(),
            "bench-span core 3 from 10 to 20"
        );
        assert!(proxy_only(SELECTOR_CORES) && proxy_only(SELECTOR_OPTEE));
        assert!(proxy_only(SELECTOR_OPTEE_PROFILE));
        assert!(!proxy_only(SELECTOR) && !proxy_only(PROFILE_SELECTOR));
        for word in [SELECTOR_CORES, SELECTOR_OPTEE, SELECTOR_OPTEE_PROFILE] {
            assert_eq!(
                crate::selector::decode(word),
                crate::selector::Selection::Invalid,
                "{word:#x} names no scenario"
            );
        }
    }
}
