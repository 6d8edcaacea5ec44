//! The behaviour every test partition shares: initialisation, then a loop serving the commands
//! of [`crate::protocol`]. Each step takes the registers the partition was entered (or resumed)
//! with, the answer to its previous call, and returns its next FF-A call.
//!
//! Everything the SPMC hands a partition is decoded with [`ffa::call::decode`] at the
//! partition's own version; nothing here panics on any input, and anything unexpected is
//! reported in the next response instead of stopping the loop.

use ffa::call::{decode, encode, function_id};
use ffa::{
    Decoded, DirectMsg2Args, DirectMsgArgs, FuncId, Interface, MsgWaitFlags, PartitionInfoGetFlags,
    Regs, RxTxAddr, SecondaryEpRegisterAddr, Uuid, UuidHelper, Version,
};

use crate::definitions::{self, Definition, FOREIGN_UUID, MAILBOX_PAGES};
use crate::protocol::{
    CallStatus, Command, Reply, Status, Transport, WORDS, WORDS2, code, fault, probe, uuid_index,
    uuid_selector,
};
use crate::{Fault, SpEnv};
use ffa::memory::{
    AddressRange, BoundedVec, DescriptorHead, Layout, MemTransaction, Receiver,
    attributes as mem_attributes, permissions as mem_permissions,
};

/// PSCI_E_SUCCESS, the answer to a PSCI power-management framework message.
const PSCI_SUCCESS: i32 = 0;

/// The init call whose answer the partition waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InitStep {
    Version,
    IdGet,
    RxTxMap,
    SecondaryEp,
}

/// How a context starts: the partition's initialisation, or a context of an initialised
/// partition (warm boot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Boot {
    /// Context 0 at the cold-boot entry: version, ID, buffers, warm-boot entry.
    Cold,
    /// At the warm-boot entry: check the ID, then wait.
    Warm,
}

/// A direct request being served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Request {
    src: u16,
    dst: u16,
    transport: Transport,
    /// The UUID a DIRECT_REQ2 named (nil otherwise).
    uuid: Uuid,
    /// Payload words (only the first [`WORDS`] for DIRECT_REQ).
    payload: [u64; WORDS2],
    /// Which of x8..x17 the request entered with differ from the context's own (UPPER).
    foreign_upper: u16,
}

/// The steps of the RXTX command, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RxtxStep {
    MapAgain,
    ReleaseUnowned,
    Unmap,
    UnmapAgain,
    Remap,
}

/// The call a partition made while serving a request, whose answer it waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    Forward {
        dst: u16,
        req2: bool,
    },
    /// A call whose answer is reported as one [`CallStatus`] (SPOOF, RESPOND_TO_WRONG,
    /// MSG_WAIT_WHILE_BUSY).
    Report,
    Yield,
    /// RUN_FORWARD: its request to `dst` (or an FFA_RUN of it) is out; `probe` is the call
    /// still to make at the first FFA_YIELD, `probe_status` how the one made was answered.
    RunForward {
        dst: u16,
        yields: u32,
        probe: u64,
        probe_status: u64,
    },
    /// RUN_FORWARD: the probe call is out; then `target` (w1 of the FFA_YIELD) is run.
    RunProbe {
        dst: u16,
        target: u32,
    },
    /// YIELD_TIMES: FFA_YIELDs still to make, and how many returned FFA_SUCCESS so far.
    YieldTimes {
        left: u32,
        successes: u32,
    },
    InfoGet,
    InfoRelease {
        code: u16,
        info: u64,
        count_size: u64,
        first_id: u64,
    },
    Rxtx {
        step: RxtxStep,
        results: [u64; 4],
    },
    Call,
    /// FLOOD: console lines still to send, and how many were refused so far.
    Flood {
        left: u32,
        refused: u32,
    },
    /// LEND: its FFA_MEM_SHARE/LEND.
    Lend,
    /// RETRIEVE: its FFA_MEM_RETRIEVE_REQ, with the value to store, and whether to keep the
    /// memory (no relinquish).
    Retrieve {
        value: u64,
        keep: bool,
    },
    /// RETRIEVE: the FFA_RX_RELEASE after reading a fragment of the response.
    RetrieveRelease(Retrieving),
    /// RETRIEVE: the FFA_MEM_FRAG_RX for the next fragment of the response.
    RetrieveFragment(Retrieving),
    /// RETRIEVE: the FFA_MEM_RELINQUISH.
    Relinquish {
        address: u64,
        readback: u64,
    },
    /// READ2, NOTIFY_GET ([`indirect`]).
    Indirect(indirect::IndirectStep),
}

/// A retrieve response being read, fragment by fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retrieving {
    handle: u64,
    /// The first constituent's address.
    address: u64,
    /// The value read back (or, for a retrieve without a store, the constituents counted).
    readback: u64,
    /// Count the constituents into `readback` (a retrieve without a store).
    count: bool,
    keep: bool,
    /// Bytes of the response read so far, of `total`.
    delivered: u64,
    total: u64,
}

/// The line FLOOD sends, one FFA_CONSOLE_LOG_32 each (newline included).
const FLOOD_LINE: &[u8] = b"hostile: flood\n";

/// FFA_CONSOLE_LOG_32 of `chars` (at most 24), packed four to a register, first in the low
/// byte.
fn console_log(chars: &[u8]) -> Regs {
    let mut regs = [0; 18];
    regs[0] = u64::from(u32::from(FuncId::ConsoleLog32));
    regs[1] = chars.len().min(24) as u64;
    for (reg, word) in regs[2..8].iter_mut().zip(chars.chunks(4)) {
        *reg = word
            .iter()
            .rev()
            .fold(0u64, |acc, &b| acc << 8 | u64::from(b));
    }
    regs
}

/// Where the partition is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Not entered yet.
    Boot,
    /// Waiting for the answer to an init call.
    Init(InitStep),
    /// In FFA_MSG_WAIT, or just responded: the next entry is a new message.
    Waiting,
    /// Serving `request`, with `pending` in flight.
    Serving { request: Request, pending: Pending },
    /// Given cycles by FFA_RUN while waiting ([`indirect`]).
    Woken(indirect::WakeStep),
}

/// The boot-information blob a cold-started context found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootInfoSeen {
    /// Where the blob was (the register's value).
    pub blob: u64,
    /// The manifest address its descriptor gave.
    pub manifest: u64,
    /// The manifest size its descriptor gave.
    pub size: u32,
    /// The blob's version.
    pub version: Version,
}

/// The DTB header's magic (big-endian at offset 0; the total size follows it).
const FDT_MAGIC: u32 = 0xd00d_feed;

/// One execution context of a test partition.
#[derive(Clone, Debug)]
pub struct Machine {
    def: Definition,
    vcpu: u16,
    /// The ID the SPMC says it has (the definition's until FFA_ID_GET answers).
    own_id: u16,
    /// Bits of [`fault`].
    faults: u8,
    boot: Boot,
    boot_info: Option<BootInfoSeen>,
    state: State,
    /// x8..x17 of its latest call: what it had in them when it last stopped running.
    last_upper: [u64; 10],
    /// What it saw when last given cycles by FFA_RUN (WOKEN).
    woken: indirect::Woken,
    /// The seed of the pattern FP last left in its FP/SIMD registers (0: none since it
    /// started).
    fp_seed: u32,
}

impl Machine {
    /// Execution context `vcpu` of the partition `def`, as if started at its entry point
    /// (see [`Machine::start`]): context 0 runs the full init (FFA_VERSION, FFA_ID_GET,
    /// FFA_RXTX_MAP, FFA_SECONDARY_EP_REGISTER for an MP partition that has a warm-boot
    /// entry); the other contexts only check their ID, as version and buffers belong to the
    /// whole partition.
    pub fn new(def: &Definition, vcpu: u16) -> Self {
        Self {
            def: *def,
            vcpu,
            own_id: def.endpoint_id,
            faults: 0,
            boot: if vcpu == 0 { Boot::Cold } else { Boot::Warm },
            boot_info: None,
            state: State::Boot,
            last_upper: [0; 10],
            woken: indirect::Woken::default(),
            fp_seed: 0,
        }
    }

    /// The context starts afresh at `pc`: context 0 at the cold-boot entry initialises the
    /// partition; at the warm-boot entry it registered (or, if it registered none, at the
    /// cold-boot entry) any context only checks its ID. Any other address is a fault
    /// ([`fault::ENTRY`]), after which it behaves as warm-booted.
    pub fn start(&mut self, pc: u64) {
        *self = Self::new(&self.def, self.vcpu);
        let cold = self.def.entry_point();
        let warm = self.def.secondary_entry_point();
        self.boot = if pc == cold && self.vcpu == 0 {
            Boot::Cold
        } else if Some(pc) == warm || (pc == cold && warm.is_none()) {
            Boot::Warm
        } else {
            self.faults |= fault::ENTRY;
            Boot::Warm
        };
    }

    /// The partition's definition.
    pub fn definition(&self) -> &Definition {
        &self.def
    }

    /// Its execution-context index.
    pub fn vcpu(&self) -> u16 {
        self.vcpu
    }

    /// The sticky faults it reports (bits of [`fault`]).
    pub fn faults(&self) -> u8 {
        self.faults
    }

    /// The boot-information blob it found at its cold start, if any.
    pub fn boot_info(&self) -> Option<BootInfoSeen> {
        self.boot_info
    }

    /// Whether its last call was FFA_MSG_WAIT or a response (it waits for a new message).
    pub fn is_waiting(&self) -> bool {
        self.state == State::Waiting
    }

    /// Given the registers the context was entered or resumed with, its next call.
    pub fn step(&mut self, entry: &Regs, env: &mut dyn SpEnv) -> Regs {
        let (state, call) = match self.state {
            State::Boot => {
                if self.boot == Boot::Cold
                    && let Some(reg) = self.def.boot_info_register
                {
                    self.read_boot_info(entry, usize::from(reg), env);
                }
                self.boot()
            }
            State::Init(step) => self.init(step, entry),
            State::Waiting => self.on_message(entry, env),
            State::Serving { request, pending } => self.resume(request, pending, entry, env),
            State::Woken(step) => self.wake_step(step, entry),
        };
        self.state = state;
        self.last_upper.copy_from_slice(&call[8..]);
        call
    }

    fn boot(&mut self) -> (State, Regs) {
        if self.boot == Boot::Cold {
            // Built by hand: the codec asserts on a version with bit 31 set, and the
            // definition is the caller's data.
            let mut regs = [0; 18];
            regs[0] = u64::from(u32::from(FuncId::Version));
            regs[1] = u64::from(ffa::version::to_u32(self.def.ffa_version));
            (State::Init(InitStep::Version), regs)
        } else {
            (State::Init(InitStep::IdGet), encode(&Interface::IdGet))
        }
    }

    /// Reads the boot-information blob x\[`reg`\] points at, and the device tree its manifest
    /// descriptor names; anything missing or wrong is [`fault::BOOT_INFO`].
    fn read_boot_info(&mut self, entry: &Regs, reg: usize, env: &mut dyn SpEnv) {
        let blob = entry.get(reg).copied().unwrap_or(0);
        let mut bytes = [0u8; ffa::boot_info::MANIFEST_BLOB_SIZE];
        let found = if env.read(blob, &mut bytes) {
            ffa::boot_info::find_manifest(&bytes).ok()
        } else {
            None
        };
        let Some(manifest) = found else {
            self.faults |= fault::BOOT_INFO;
            return;
        };
        let mut fdt = [0u8; 8];
        let [m0, m1, m2, m3, t0, t1, t2, t3] = if env.read(manifest.address, &mut fdt) {
            fdt
        } else {
            [0; 8]
        };
        let is_fdt = u32::from_be_bytes([m0, m1, m2, m3]) == FDT_MAGIC;
        let total = u32::from_be_bytes([t0, t1, t2, t3]);
        if manifest.version != self.def.ffa_version
            || !is_fdt
            || total == 0
            || total > manifest.size
        {
            self.faults |= fault::BOOT_INFO;
        }
        self.boot_info = Some(BootInfoSeen {
            blob,
            manifest: manifest.address,
            size: manifest.size,
            version: manifest.version,
        });
    }

    fn init(&mut self, step: InitStep, answer: &Regs) -> (State, Regs) {
        match step {
            InitStep::Version => {
                let w0 = answer[0] as u32;
                let wanted = self.def.ffa_version;
                let got = Version((w0 >> 16) as u16, w0 as u16);
                // Compatible: bit 31 clear, same major, at least our minor.
                if w0 >> 31 != 0 || got.0 != wanted.0 || got.1 < wanted.1 {
                    self.faults |= fault::VERSION;
                }
                (State::Init(InitStep::IdGet), encode(&Interface::IdGet))
            }
            InitStep::IdGet => {
                let id = answer[2] as u32;
                if ffa::call::is_success(answer)
                    && let Ok(id) = u16::try_from(id)
                {
                    self.own_id = id;
                }
                if !ffa::call::is_success(answer) || id != u32::from(self.def.endpoint_id) {
                    self.faults |= fault::ID;
                }
                if self.boot == Boot::Cold {
                    (State::Init(InitStep::RxTxMap), self.rxtx_map())
                } else {
                    self.wait()
                }
            }
            InitStep::RxTxMap => {
                if !ffa::call::is_success(answer) {
                    self.faults |= fault::RXTX_MAP;
                }
                match self.def.secondary_entry_point() {
                    Some(entry) => {
                        let call = Interface::SecondaryEpRegister {
                            entrypoint: SecondaryEpRegisterAddr::Addr64(entry),
                        };
                        (State::Init(InitStep::SecondaryEp), encode(&call))
                    }
                    None => self.wait(),
                }
            }
            InitStep::SecondaryEp => {
                if !ffa::call::is_success(answer) {
                    self.faults |= fault::SECONDARY_EP;
                }
                self.wait()
            }
        }
    }

    fn wait(&self) -> (State, Regs) {
        let call = Interface::MsgWait {
            flags: MsgWaitFlags::default(),
            is_32bit: true,
        };
        (State::Waiting, encode(&call))
    }

    fn rxtx_map(&self) -> Regs {
        encode(&Interface::RxTxMap {
            addr: RxTxAddr::Addr64 {
                rx: self.def.rx_buffer(),
                tx: self.def.tx_buffer(),
            },
            page_cnt: MAILBOX_PAGES,
        })
    }

    fn status(&self, code: u16) -> u64 {
        Status {
            code,
            faults: self.faults,
        }
        .word()
    }

    /// A bit per register of x8..x17 in `entry` (x8 = bit 0) that differs from what the
    /// context last had there.
    fn foreign_upper(&self, entry: &Regs) -> u16 {
        entry[8..]
            .iter()
            .zip(&self.last_upper)
            .enumerate()
            .filter(|(_, (got, had))| got != had)
            .fold(0, |mask, (i, _)| mask | 1 << i)
    }

    /// A new message arrived while waiting.
    fn on_message(&mut self, entry: &Regs, env: &mut dyn SpEnv) -> (State, Regs) {
        let request = match decode(entry, self.def.ffa_version) {
            Decoded::Call(Interface::MsgSendDirectReq {
                src_id,
                dst_id,
                args,
            }) => {
                let (transport, words) = match args {
                    DirectMsgArgs::Args32(w) => (Transport::Req32, w.map(u64::from)),
                    DirectMsgArgs::Args64(x) => (Transport::Req64, first::<WORDS>(&x)),
                    DirectMsgArgs::PowerPsciReq32 { .. } | DirectMsgArgs::PowerPsciReq64 { .. } => {
                        // Nothing to power down; acknowledge so the SPMC can go on.
                        let ack = Interface::MsgSendDirectResp {
                            src_id: self.own_id,
                            dst_id: src_id,
                            args: DirectMsgArgs::PowerPsciResp {
                                psci_status: PSCI_SUCCESS,
                            },
                        };
                        return (State::Waiting, encode(&ack));
                    }
                    // Other framework messages need a subscription these partitions lack.
                    _ => return self.wait(),
                };
                let mut payload = [0; WORDS2];
                payload[..WORDS].copy_from_slice(&words);
                Request {
                    src: src_id,
                    dst: dst_id,
                    transport,
                    uuid: Uuid::nil(),
                    payload,
                    foreign_upper: self.foreign_upper(entry),
                }
            }
            Decoded::Call(Interface::MsgSendDirectReq2 {
                src_id,
                dst_id,
                uuid,
                args,
            }) => Request {
                src: src_id,
                dst: dst_id,
                transport: Transport::Req2,
                uuid,
                payload: args.0,
                foreign_upper: self.foreign_upper(entry),
            },
            Decoded::Call(Interface::Error { .. }) => {
                // The SPMC refused our response or FFA_MSG_WAIT.
                self.faults |= fault::WAIT_REJECTED;
                return self.wait();
            }
            Decoded::Call(Interface::Run { .. }) => return self.woken(),
            // FFA_INTERRUPT, anything else: wait again.
            _ => return self.wait(),
        };
        self.serve(request, env)
    }

    /// Starts serving `req`.
    fn serve(&mut self, req: Request, env: &mut dyn SpEnv) -> (State, Regs) {
        let p = req.payload;
        if req.dst != self.own_id {
            return self.respond(&req, &[self.status(code::MISDELIVERED), u64::from(req.dst)]);
        }
        let Some(command) = Command::from_word(p[0]) else {
            return self.respond(&req, &[self.status(code::UNKNOWN_COMMAND), p[0]]);
        };
        let bad_argument = |m: &Self| m.respond(&req, &[m.status(code::BAD_ARGUMENT), p[0]]);
        let serving = |pending| State::Serving {
            request: req,
            pending,
        };
        match command {
            Command::Echo => {
                let mut words = p;
                words[0] = self.status(code::OK);
                self.respond(&req, &words)
            }
            Command::TrappedRegisters => {
                let mask = env
                    .trapped_registers()
                    .map_or(crate::protocol::NOT_ON_THIS_CPU, u64::from);
                self.respond(&req, &[self.status(code::OK), mask])
            }
            Command::Spin => {
                let ms = p[1].min(crate::protocol::MAX_SPIN_MS);
                let (changed, faulted) = env
                    .spin(ms)
                    .map_or((crate::protocol::NOT_ON_THIS_CPU, 0), |spin| {
                        (spin.changed_registers, u64::from(spin.pmr_write_faulted))
                    });
                self.respond(&req, &[self.status(code::OK), changed, faulted])
            }
            Command::Clobber => {
                env.clobber_cpu_state();
                self.respond(&req, &[self.status(code::OK)])
            }
            Command::Fp => {
                let Ok(seed @ 1..) = u32::try_from(p[1]) else {
                    return bad_argument(self);
                };
                let last = self.fp_seed;
                let (vectors, control) = env.fp_pattern(last, seed).map_or(
                    (
                        crate::protocol::NOT_ON_THIS_CPU,
                        crate::protocol::NOT_ON_THIS_CPU,
                    ),
                    |seen| (u64::from(seen.vectors), u64::from(seen.control)),
                );
                self.fp_seed = seed;
                self.respond(
                    &req,
                    &[self.status(code::OK), vectors, control, u64::from(last)],
                )
            }
            Command::Upper => {
                self.respond(&req, &[self.status(code::OK), u64::from(req.foreign_upper)])
            }
            Command::WhoAmI => {
                let index = match req.transport {
                    Transport::Req2 if req.uuid.is_nil() => uuid_index::NIL,
                    Transport::Req2 => self
                        .def
                        .uuid_index(&req.uuid)
                        .map_or(uuid_index::FOREIGN, |i| i as u64),
                    _ => uuid_index::NONE,
                };
                let words = [
                    self.status(code::OK),
                    u64::from(self.own_id) << 16 | u64::from(self.vcpu),
                    req.transport.word(),
                    index,
                    u64::from(req.src),
                ];
                self.respond(&req, &words)
            }
            Command::Forward => {
                let Some(dst) = endpoint(p[1]) else {
                    return bad_argument(self);
                };
                let call = Interface::MsgSendDirectReq {
                    src_id: self.own_id,
                    dst_id: dst,
                    args: DirectMsgArgs::Args32([p[2] as u32, p[3] as u32, p[4] as u32, 0, 0]),
                };
                (
                    serving(Pending::Forward { dst, req2: false }),
                    encode(&call),
                )
            }
            Command::Forward2 => {
                let Some(dst) = endpoint(p[1]) else {
                    return bad_argument(self);
                };
                let uuid = match p[2] {
                    uuid_selector::NIL => Some(Uuid::nil()),
                    uuid_selector::FOREIGN => Some(FOREIGN_UUID),
                    i => definitions::by_id(dst).and_then(|d| {
                        usize::try_from(i)
                            .ok()
                            .and_then(|i| d.uuids.get(i))
                            .copied()
                    }),
                };
                let Some(uuid) = uuid else {
                    return bad_argument(self);
                };
                let mut args = [0; WORDS2];
                args[0] = p[3];
                args[1] = p[4];
                let call = Interface::MsgSendDirectReq2 {
                    src_id: self.own_id,
                    dst_id: dst,
                    uuid,
                    args: DirectMsg2Args(args),
                };
                (serving(Pending::Forward { dst, req2: true }), encode(&call))
            }
            Command::Spoof => {
                let (Some(dst), Some(claimed)) = (endpoint(p[1]), endpoint(p[2])) else {
                    return bad_argument(self);
                };
                let call = Interface::MsgSendDirectReq {
                    src_id: claimed,
                    dst_id: dst,
                    args: DirectMsgArgs::Args32([Command::Echo as u32, 0, 0, 0, 0]),
                };
                (serving(Pending::Report), encode(&call))
            }
            Command::Yield => (
                serving(Pending::Yield),
                encode(&Interface::Yield { is_32bit: true }),
            ),
            Command::RunForward => {
                let Some(dst) = endpoint(p[1]) else {
                    return bad_argument(self);
                };
                let call = Interface::MsgSendDirectReq {
                    src_id: self.own_id,
                    dst_id: dst,
                    args: DirectMsgArgs::Args32([p[2] as u32, p[3] as u32, 0, 0, 0]),
                };
                let pending = Pending::RunForward {
                    dst,
                    yields: 0,
                    probe: p[4],
                    probe_status: CallStatus::NotCalled.word(),
                };
                (serving(pending), encode(&call))
            }
            Command::YieldTimes => {
                let n = p[1].min(crate::protocol::MAX_YIELDS) as u32;
                if n == 0 {
                    let words = [self.status(code::OK), 0, CallStatus::NotCalled.word()];
                    return self.respond(&req, &words);
                }
                let pending = Pending::YieldTimes {
                    left: n - 1,
                    successes: 0,
                };
                (
                    serving(pending),
                    encode(&Interface::Yield { is_32bit: true }),
                )
            }
            Command::RespondToWrong => {
                let Some(wrong) = endpoint(p[1]) else {
                    return bad_argument(self);
                };
                let call = self.response_to(&req, wrong, &[self.status(code::OK)]);
                (serving(Pending::Report), call)
            }
            Command::PartitionInfo => {
                let uuid =
                    UuidHelper::from_u32_regs([p[1] as u32, p[2] as u32, p[3] as u32, p[4] as u32]);
                let call = Interface::PartitionInfoGet {
                    uuid,
                    flags: PartitionInfoGetFlags { count_only: false },
                };
                (serving(Pending::InfoGet), encode(&call))
            }
            Command::Rxtx => {
                let pending = Pending::Rxtx {
                    step: RxtxStep::MapAgain,
                    results: [CallStatus::NotCalled.word(); 4],
                };
                (serving(pending), self.rxtx_map())
            }
            Command::MsgWaitWhileBusy => (serving(Pending::Report), self.wait().1),
            Command::BootInfo => {
                let seen = self.boot_info.map_or([0; 4], |b| {
                    [
                        b.blob,
                        b.manifest,
                        u64::from(b.size),
                        u64::from(ffa::version::to_u32(b.version)),
                    ]
                });
                let [blob, manifest, size, version] = seen;
                self.respond(
                    &req,
                    &[self.status(code::OK), blob, manifest, size, version],
                )
            }
            Command::Call => {
                let mut call = [0; 18];
                call[..4].copy_from_slice(&p[1..5]);
                (serving(Pending::Call), call)
            }
            Command::Lend => {
                let (kind, page, borrower) = (p[1], p[2], p[3]);
                if page >= crate::protocol::SHARE_PAGES
                    || borrower > 0xffff
                    || kind > crate::protocol::lend::DONATE
                {
                    return bad_argument(self);
                }
                let address = self.def.load_address + crate::protocol::SHARE_OFFSET + page * 0x1000;
                match self.lend(env, kind, address, borrower as u16) {
                    Some(call) => (serving(Pending::Lend), call),
                    None => self.respond(&req, &[self.status(code::MEMORY_FAULT)]),
                }
            }
            Command::Retrieve => {
                let handle = (p[2] & 0xffff_ffff) << 32 | (p[1] & 0xffff_ffff);
                let keep = p[3] & crate::protocol::RETRIEVE_KEEP != 0;
                let Ok(lender) = u16::try_from(p[3] & !crate::protocol::RETRIEVE_KEEP) else {
                    return bad_argument(self);
                };
                match self.retrieve_request(env, handle, lender) {
                    Some(call) => (serving(Pending::Retrieve { value: p[4], keep }), call),
                    None => self.respond(&req, &[self.status(code::MEMORY_FAULT)]),
                }
            }
            Command::Relinquish => {
                let handle = (p[2] & 0xffff_ffff) << 32 | (p[1] & 0xffff_ffff);
                match self.relinquish_call(env, handle) {
                    Some(call) => (serving(Pending::Report), call),
                    None => self.respond(&req, &[self.status(code::MEMORY_FAULT)]),
                }
            }
            Command::Flood => {
                let lines = p[1].min(crate::protocol::MAX_FLOOD_LINES) as u32;
                if lines == 0 {
                    return self.respond(&req, &[self.status(code::OK), 0]);
                }
                let pending = Pending::Flood {
                    left: lines - 1,
                    refused: 0,
                };
                (serving(pending), console_log(FLOOD_LINE))
            }
            Command::Probe => {
                let addr = (p[2] & 0xffff_ffff) << 32 | (p[1] & 0xffff_ffff);
                if !addr.is_multiple_of(8) {
                    return bad_argument(self);
                }
                let words = match env.probe(addr) {
                    Ok(value) => [probe::READ, value & 0xffff_ffff, value >> 32, 0],
                    Err(Fault { address, syndrome }) => [
                        probe::FAULTED,
                        address & 0xffff_ffff,
                        address >> 32,
                        syndrome & 0xffff_ffff,
                    ],
                };
                let [outcome, lo, hi, esr] = words;
                self.respond(&req, &[self.status(code::OK), outcome, lo, hi, esr])
            }
            Command::Send2
            | Command::Read2
            | Command::NotifyBind
            | Command::NotifyUnbind
            | Command::NotifySet
            | Command::NotifyGet
            | Command::Woken => self.serve_indirect(command, req, env),
            Command::Crash => {
                env.crash();
                // Only reached where the fault did not end the partition.
                self.respond(&req, &[self.status(code::CRASH_SURVIVED)])
            }
        }
    }

    /// The answer to a call made while serving `req` arrived.
    fn resume(
        &mut self,
        req: Request,
        pending: Pending,
        answer: &Regs,
        env: &mut dyn SpEnv,
    ) -> (State, Regs) {
        let p = req.payload;
        let serving = |pending| State::Serving {
            request: req,
            pending,
        };
        match pending {
            Pending::Forward { dst, req2 } => {
                let (code, reply, words) = self.forward_reply(dst, req2, answer);
                let status = self.status(code);
                self.respond(&req, &[status, reply.word(), words[1], words[2], words[3]])
            }
            Pending::Indirect(step) => self.resume_indirect(req, step, answer, env),
            Pending::Report => {
                let words = [self.status(code::OK), CallStatus::of(answer).word()];
                self.respond(&req, &words)
            }
            Pending::Lend => {
                let words = [
                    self.status(code::OK),
                    CallStatus::of(answer).word(),
                    answer[2] & 0xffff_ffff,
                    answer[3] & 0xffff_ffff,
                ];
                self.respond(&req, &words)
            }
            Pending::Retrieve { value, keep } => {
                if function_id(answer) != u32::from(FuncId::MemRetrieveResp) {
                    let words = [self.status(code::OK), CallStatus::of(answer).word()];
                    return self.respond(&req, &words);
                }
                let total = answer[1] & 0xffff_ffff;
                let fragment = answer[2] & 0xffff_ffff;
                let layout = Layout::for_version(self.def.ffa_version);
                let mut head = [0u8; 512];
                let Some(buf) = usize::try_from(fragment.min(512))
                    .ok()
                    .and_then(|n| head.get_mut(..n))
                else {
                    return self.respond(&req, &[self.status(code::MEMORY_FAULT)]);
                };
                if !env.read(self.def.rx_buffer(), buf) {
                    return self.respond(&req, &[self.status(code::MEMORY_FAULT)]);
                }
                let parsed = usize::try_from(total)
                    .ok()
                    .and_then(|total| DescriptorHead::parse(buf, total, layout).ok())
                    .and_then(|h| Some((h.handle, h.composite?.constituents_at)));
                let Some((handle, at)) = parsed else {
                    return self.respond(&req, &[self.status(code::MEMORY_FAULT)]);
                };
                let Some(first) = buf.get(at..at + 8) else {
                    return self.respond(&req, &[self.status(code::MEMORY_FAULT)]);
                };
                let mut word = [0u8; 8];
                word.copy_from_slice(first);
                let address = u64::from_le_bytes(word);
                // Value 0: retrieve only (its 600-range share, say), and
                // count the constituents of the whole response instead.
                let readback = if value == 0 {
                    0
                } else {
                    match env.poke(address, value) {
                        Ok(()) => env.probe(address).unwrap_or(u64::MAX),
                        Err(_) => u64::MAX,
                    }
                };
                let mut r = Retrieving {
                    handle,
                    address,
                    readback,
                    count: value == 0,
                    keep,
                    delivered: 0,
                    total,
                };
                if !self.read_fragment(env, &mut r, at as u64, fragment) {
                    return self.respond(&req, &[self.status(code::MEMORY_FAULT)]);
                }
                let release = encode(&Interface::RxRelease { vm_id: 0 });
                (serving(Pending::RetrieveRelease(r)), release)
            }
            Pending::RetrieveFragment(mut r) => {
                if function_id(answer) != u32::from(FuncId::MemFragTx)
                    || !self.read_fragment(env, &mut r, 0, answer[3] & 0xffff_ffff)
                {
                    return self.respond(&req, &[self.status(code::MEMORY_FAULT)]);
                }
                let release = encode(&Interface::RxRelease { vm_id: 0 });
                (serving(Pending::RetrieveRelease(r)), release)
            }
            Pending::RetrieveRelease(r) => {
                if r.delivered < r.total {
                    let mut next = [0u64; 18];
                    next[0] = u64::from(u32::from(FuncId::MemFragRx));
                    next[1] = r.handle & 0xffff_ffff;
                    next[2] = r.handle >> 32;
                    next[3] = r.delivered;
                    return (serving(Pending::RetrieveFragment(r)), next);
                }
                let Retrieving {
                    handle,
                    address,
                    readback,
                    keep,
                    ..
                } = r;
                if keep {
                    let words = [
                        self.status(code::OK),
                        CallStatus::Success.word(),
                        address & 0xffff_ffff,
                        readback & 0xffff_ffff,
                        CallStatus::NotCalled.word(),
                    ];
                    return self.respond(&req, &words);
                }
                match self.relinquish_call(env, handle) {
                    Some(call) => (serving(Pending::Relinquish { address, readback }), call),
                    None => self.respond(&req, &[self.status(code::MEMORY_FAULT)]),
                }
            }
            Pending::Relinquish { address, readback } => {
                let words = [
                    self.status(code::OK),
                    CallStatus::Success.word(),
                    address & 0xffff_ffff,
                    readback & 0xffff_ffff,
                    CallStatus::of(answer).word(),
                ];
                self.respond(&req, &words)
            }
            Pending::Flood { left, refused } => {
                let refused = refused + u32::from(!ffa::call::is_success(answer));
                if left == 0 {
                    return self.respond(&req, &[self.status(code::OK), u64::from(refused)]);
                }
                let pending = Pending::Flood {
                    left: left - 1,
                    refused,
                };
                (serving(pending), console_log(FLOOD_LINE))
            }
            Pending::RunForward {
                dst,
                yields,
                probe,
                probe_status,
            } => {
                let yielded = function_id(answer) == u32::from(FuncId::Yield32)
                    && (answer[1] >> 16) & 0xffff == u64::from(dst);
                if !yielded {
                    let (code, reply, words) = self.forward_reply(dst, false, answer);
                    let words = [
                        self.status(code),
                        reply.word(),
                        u64::from(yields),
                        words[1],
                        probe_status,
                    ];
                    return self.respond(&req, &words);
                }
                let yields = yields.saturating_add(1);
                let target = answer[1] as u32;
                let probe_call = match probe {
                    _ if yields > 1 => None,
                    crate::protocol::run_probe::REQUEST_CALLEE => {
                        Some(encode(&Interface::MsgSendDirectReq {
                            src_id: self.own_id,
                            dst_id: dst,
                            args: DirectMsgArgs::Args32([Command::Echo as u32, 0, 0, 0, 0]),
                        }))
                    }
                    crate::protocol::run_probe::RESPOND => {
                        Some(self.response_to(&req, req.src, &[self.status(code::OK)]))
                    }
                    crate::protocol::run_probe::MSG_WAIT => Some(self.wait().1),
                    crate::protocol::run_probe::YIELD_ITSELF => {
                        Some(encode(&Interface::Yield { is_32bit: true }))
                    }
                    _ => None,
                };
                let pending = Pending::RunForward {
                    dst,
                    yields,
                    probe,
                    probe_status,
                };
                match probe_call {
                    Some(call) => (serving(Pending::RunProbe { dst, target }), call),
                    None => (serving(pending), run_call(target)),
                }
            }
            Pending::RunProbe { dst, target } => {
                // The probe is made at the first FFA_YIELD only.
                let pending = Pending::RunForward {
                    dst,
                    yields: 1,
                    probe: crate::protocol::run_probe::NONE,
                    probe_status: CallStatus::of(answer).word(),
                };
                (serving(pending), run_call(target))
            }
            Pending::YieldTimes { left, successes } => {
                let successes = successes + u32::from(ffa::call::is_success(answer));
                if left == 0 {
                    let words = [
                        self.status(code::OK),
                        u64::from(successes),
                        CallStatus::of(answer).word(),
                    ];
                    return self.respond(&req, &words);
                }
                let pending = Pending::YieldTimes {
                    left: left - 1,
                    successes,
                };
                (
                    serving(pending),
                    encode(&Interface::Yield { is_32bit: true }),
                )
            }
            Pending::Yield => {
                let words = [
                    self.status(code::OK),
                    CallStatus::of(answer).word(),
                    p[1],
                    p[2],
                    p[3],
                ];
                self.respond(&req, &words)
            }
            Pending::InfoGet => {
                let info = CallStatus::of(answer);
                if info != CallStatus::Success {
                    let words = [
                        self.status(code::OK),
                        info.word(),
                        0,
                        0,
                        CallStatus::NotCalled.word(),
                    ];
                    return self.respond(&req, &words);
                }
                let count = answer[2] as u32;
                let size = answer[3] as u32;
                // Count and size are 16-bit enough for any real partition table.
                let count_size = u64::from(count & 0xffff) | u64::from(size & 0xffff) << 16;
                let mut id = [0u8; 2];
                let (code, first_id) = if count == 0 {
                    (code::OK, 0)
                } else if env.read(self.def.rx_buffer(), &mut id) {
                    (code::OK, u64::from(u16::from_le_bytes(id)))
                } else {
                    (code::MEMORY_FAULT, 0)
                };
                let pending = Pending::InfoRelease {
                    code,
                    info: info.word(),
                    count_size,
                    first_id,
                };
                (serving(pending), encode(&Interface::RxRelease { vm_id: 0 }))
            }
            Pending::InfoRelease {
                code,
                info,
                count_size,
                first_id,
            } => {
                let words = [
                    self.status(code),
                    info,
                    count_size,
                    first_id,
                    CallStatus::of(answer).word(),
                ];
                self.respond(&req, &words)
            }
            Pending::Rxtx { step, mut results } => {
                let status = CallStatus::of(answer).word();
                let (next, call) = match step {
                    RxtxStep::MapAgain => {
                        results[0] = status;
                        (RxtxStep::ReleaseUnowned, Interface::RxRelease { vm_id: 0 })
                    }
                    RxtxStep::ReleaseUnowned => {
                        results[1] = status;
                        (RxtxStep::Unmap, Interface::RxTxUnmap { id: 0 })
                    }
                    RxtxStep::Unmap => {
                        results[2] = status;
                        (RxtxStep::UnmapAgain, Interface::RxTxUnmap { id: 0 })
                    }
                    RxtxStep::UnmapAgain => {
                        results[3] = status;
                        let pending = Pending::Rxtx {
                            step: RxtxStep::Remap,
                            results,
                        };
                        return (serving(pending), self.rxtx_map());
                    }
                    RxtxStep::Remap => {
                        if !ffa::call::is_success(answer) {
                            self.faults |= fault::REMAP;
                        }
                        let [a, b, c, d] = results;
                        return self.respond(&req, &[self.status(code::OK), a, b, c, d]);
                    }
                };
                (
                    serving(Pending::Rxtx {
                        step: next,
                        results,
                    }),
                    encode(&call),
                )
            }
            Pending::Call => {
                let words = [
                    self.status(code::OK),
                    answer[0] & 0xffff_ffff,
                    answer[1] & 0xffff_ffff,
                    answer[2] & 0xffff_ffff,
                    answer[3] & 0xffff_ffff,
                ];
                self.respond(&req, &words)
            }
        }
    }

    /// What came back from a request forwarded to `dst`: a status code, the reply word and the
    /// response's first payload words (zero unless a direct response came back).
    fn forward_reply(&self, dst: u16, req2: bool, answer: &Regs) -> (u16, Reply, [u64; WORDS]) {
        let fid = function_id(answer);
        let response = match decode(answer, self.def.ffa_version) {
            Decoded::Call(Interface::MsgSendDirectResp {
                src_id,
                dst_id,
                args: DirectMsgArgs::Args32(w),
            }) => Some((src_id, dst_id, false, w.map(u64::from))),
            Decoded::Call(Interface::MsgSendDirectResp {
                src_id,
                dst_id,
                args: DirectMsgArgs::Args64(x),
            }) => Some((src_id, dst_id, false, first::<WORDS>(&x))),
            Decoded::Call(Interface::MsgSendDirectResp2 {
                src_id,
                dst_id,
                args,
            }) => Some((src_id, dst_id, true, first::<WORDS>(&args.0))),
            _ => None,
        };
        let Some((from, to, resp2, words)) = response else {
            let reply = match CallStatus::of(answer) {
                CallStatus::Error(e) => Reply::Error(e),
                _ => Reply::Other(fid),
            };
            return (code::OK, reply, [0; WORDS]);
        };
        let expected = from == dst && to == self.own_id && resp2 == req2;
        match Status::from_word(words[0]) {
            Some(status) if expected => (code::OK, Reply::Response(status), words),
            Some(status) => (code::UNEXPECTED_RESPONSE, Reply::Response(status), words),
            None => (code::UNEXPECTED_RESPONSE, Reply::Other(fid), words),
        }
    }

    /// Answers `req` with `words` (zero-padded, cut to what the transport carries).
    /// Writes a share (or lend) of the page at `address` to `borrower` into its TX buffer and
    /// returns the call that sends it; None if the buffer cannot be written.
    fn lend(&self, env: &mut dyn SpEnv, kind: u64, address: u64, borrower: u16) -> Option<Regs> {
        let share = kind == crate::protocol::lend::SHARE;
        let mut receivers = BoundedVec::new();
        receivers
            .push(Receiver {
                id: ffa::EndpointId(borrower),
                permissions: mem_permissions::DATA_RW | mem_permissions::INSTRUCTION_NX,
                ..Receiver::default()
            })
            .ok()?;
        let mut ranges = BoundedVec::new();
        ranges.push(AddressRange { address, pages: 1 }).ok()?;
        let txn = MemTransaction {
            sender: ffa::EndpointId(self.own_id),
            attributes: if share {
                mem_attributes::TYPE_NORMAL
                    | mem_attributes::WRITE_BACK
                    | mem_attributes::INNER_SHAREABLE
            } else {
                mem_attributes::TYPE_NOT_SPECIFIED
            },
            flags: 0,
            handle: 0,
            tag: 0,
            receivers,
            ranges,
        };
        let len = self.put_descriptor(env, &txn)?;
        let fid = match kind {
            crate::protocol::lend::SHARE => FuncId::MemShare32,
            crate::protocol::lend::LEND => FuncId::MemLend32,
            _ => FuncId::MemDonate32,
        };
        let mut call = [0; 18];
        call[0] = u64::from(u32::from(fid));
        call[1] = len;
        call[2] = len;
        Some(call)
    }

    /// Writes a retrieve request for `handle` (lent by `lender`, tag 0) into its TX buffer and
    /// returns FFA_MEM_RETRIEVE_REQ_32 for it.
    fn retrieve_request(&self, env: &mut dyn SpEnv, handle: u64, lender: u16) -> Option<Regs> {
        let mut receivers = BoundedVec::new();
        receivers
            .push(Receiver {
                id: ffa::EndpointId(self.own_id),
                permissions: mem_permissions::DATA_RW,
                ..Receiver::default()
            })
            .ok()?;
        let txn = MemTransaction {
            sender: ffa::EndpointId(lender),
            attributes: 0,
            flags: 0,
            handle,
            tag: 0,
            receivers,
            ranges: BoundedVec::new(),
        };
        let len = self.put_descriptor(env, &txn)?;
        let mut call = [0; 18];
        call[0] = u64::from(u32::from(FuncId::MemRetrieveReq32));
        call[1] = len;
        call[2] = len;
        Some(call)
    }

    /// Writes a relinquish descriptor for `handle` (itself as the one endpoint) into its TX
    /// buffer and returns FFA_MEM_RELINQUISH.
    /// Reads a retrieve response's fragment of `len` bytes from the RX buffer, counting its
    /// constituents (from byte `from` on) into `r`. False if it cannot be read or parsed.
    fn read_fragment(&self, env: &mut dyn SpEnv, r: &mut Retrieving, from: u64, len: u64) -> bool {
        let mut chunk = [0u8; 512];
        let mut at = from;
        while at < len {
            let n = (len - at).min(chunk.len() as u64);
            let Some(buf) = usize::try_from(n).ok().and_then(|n| chunk.get_mut(..n)) else {
                return false;
            };
            if !env.read(self.def.rx_buffer() + at, buf) {
                return false;
            }
            let Ok(list) = ffa::memory::constituents(buf) else {
                return false;
            };
            for range in list {
                if range.is_err() {
                    return false;
                }
                if r.count {
                    r.readback += 1;
                }
            }
            at += n;
        }
        r.delivered += len;
        len != 0 && r.delivered <= r.total
    }

    fn relinquish_call(&self, env: &mut dyn SpEnv, handle: u64) -> Option<Regs> {
        let mut d = [0u8; 18];
        d[..8].copy_from_slice(&handle.to_le_bytes());
        d[12..16].copy_from_slice(&1u32.to_le_bytes());
        d[16..18].copy_from_slice(&self.own_id.to_le_bytes());
        if !env.write(self.def.tx_buffer(), &d) {
            return None;
        }
        let mut call = [0; 18];
        call[0] = u64::from(u32::from(FuncId::MemRelinquish));
        Some(call)
    }

    /// Writes `txn` into its TX buffer in its version's layout; returns its length.
    fn put_descriptor(&self, env: &mut dyn SpEnv, txn: &MemTransaction) -> Option<u64> {
        let mut bytes = [0u8; ffa::memory::MAX_ENCODED_LEN];
        let layout = Layout::for_version(self.def.ffa_version);
        let len = txn.write(&mut bytes, layout).ok()?;
        env.write(self.def.tx_buffer(), bytes.get(..len)?)
            .then_some(len as u64)
    }

    fn respond(&self, req: &Request, words: &[u64]) -> (State, Regs) {
        (State::Waiting, self.response_to(req, req.src, words))
    }

    /// A response of the kind `req` needs, from us to `dst`.
    fn response_to(&self, req: &Request, dst: u16, words: &[u64]) -> Regs {
        let mut payload = [0u64; WORDS2];
        let n = words.len().min(req.transport.payload_words());
        payload[..n].copy_from_slice(&words[..n]);
        let call = match req.transport {
            Transport::Req32 => Interface::MsgSendDirectResp {
                src_id: self.own_id,
                dst_id: dst,
                args: DirectMsgArgs::Args32(first::<WORDS>(&payload).map(|w| w as u32)),
            },
            Transport::Req64 => {
                let mut args = [0u64; 15];
                args[..WORDS].copy_from_slice(&payload[..WORDS]);
                Interface::MsgSendDirectResp {
                    src_id: self.own_id,
                    dst_id: dst,
                    args: DirectMsgArgs::Args64(args),
                }
            }
            Transport::Req2 => Interface::MsgSendDirectResp2 {
                src_id: self.own_id,
                dst_id: dst,
                args: DirectMsg2Args(payload),
            },
        };
        encode(&call)
    }
}

/// FFA_RUN (SMC32) of the execution context `target` names (ID << 16 | index).
fn run_call(target: u32) -> Regs {
    let mut call = [0; 18];
    call[0] = u64::from(u32::from(FuncId::Run32));
    call[1] = u64::from(target);
    call
}

/// A payload word as an endpoint ID, if it is one.
fn endpoint(word: u64) -> Option<u16> {
    u16::try_from(word).ok()
}

/// The first `N` words of `words` (zero-padded).
fn first<const N: usize>(words: &[u64]) -> [u64; N] {
    let mut out = [0; N];
    for (o, w) in out.iter_mut().zip(words) {
        *o = *w;
    }
    out
}

mod indirect;

#[cfg(test)]
mod tests;
