//! Every scenario against a reference model of the stack: the rules the scenarios document,
//! written as plainly as possible, around the real test partitions.
//!
//! This checks the scenarios, the partitions and the protocol between them against each other
//! (a wrong payload index, a partition that answers the wrong kind, a scenario that expects
//! something its own documentation contradicts). It does not check the SPMC or the proxy: the
//! in-process harness runs the same scenarios against them.

use ffa::call::{decode, encode, function_id, is_ffa};
use ffa::partition_info::{PartitionInfo, pack_regs, write_descriptors};
use ffa::{
    Decoded, DirectMsgArgs, EndpointId, FfaError, FuncId, Interface, Regs, TargetInfo, Uuid,
    Version,
};
use scenarios::{ALL, CPUS, Client, OnCore, PSCI_VERSION, PSCI_VERSION_1_1, RunKey};
use test_partitions::definitions::{DIRECT_REQ2_RECV, INDIRECT_MSG, MAILBOX_PAGES};
use test_partitions::protocol::message::{HEADER_V1_1, HEADER_V1_2, Header};
use test_partitions::{DEFINITIONS, Definition, Fault, Instance, SPMC_ID, SpEnv, TestPartition};

const OURS: Version = Version(1, 2);
const NWD_BASE: u64 = 0x8800_0000;
const NWD_SIZE: usize = 0x4000;

fn regs(x: &[u64]) -> Regs {
    let mut r = [0; 18];
    r[..x.len()].copy_from_slice(x);
    r
}

fn error(code: FfaError) -> Regs {
    ffa::call::error(code)
}

fn success(w2: u32, w3: u32) -> Regs {
    ffa::call::success32([w2, w3, 0, 0, 0, 0])
}

fn fid(f: FuncId) -> u32 {
    u32::from(f)
}

/// Bytes of one memory region.
struct Mem {
    base: u64,
    bytes: Vec<u8>,
    /// The partition took a fault it cannot handle (CRASH).
    crashed: bool,
}

impl Mem {
    fn range(&self, addr: u64, len: usize) -> Option<std::ops::Range<usize>> {
        let start = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        let end = start.checked_add(len)?;
        (end <= self.bytes.len()).then_some(start..end)
    }
}

impl SpEnv for Mem {
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        self.range(addr, buf.len())
            .map(|r| buf.copy_from_slice(&self.bytes[r]))
            .is_some()
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> bool {
        self.range(addr, data.len())
            .map(|r| self.bytes[r].copy_from_slice(data))
            .is_some()
    }
    /// Stage 2 maps a partition its own memory only.
    fn probe(&mut self, addr: u64) -> Result<u64, Fault> {
        let mut word = [0u8; 8];
        if self.read(addr, &mut word) {
            Ok(u64::from_le_bytes(word))
        } else {
            Err(Fault::unmapped_read(addr))
        }
    }
    /// Nothing but its own memory: the model does not share memory (see `NOT_MODELLED`).
    fn poke(&mut self, addr: u64, value: u64) -> Result<(), Fault> {
        if self.write(addr, &value.to_le_bytes()) {
            Ok(())
        } else {
            Err(Fault::unmapped_read(addr))
        }
    }
    fn crash(&mut self) {
        self.crashed = true;
    }
}

/// Which ABI a request came through.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Req,
    Req2,
}

/// Who sent the request a context handles.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Origin {
    Nwd(u16),
    Sp(usize, usize, u16),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Booting,
    Waiting,
    Running,
    Blocked,
    Preempted,
    /// Dead after a fault it could not handle.
    Aborted,
}

struct Ctx {
    instance: Instance,
    state: State,
    /// The request being handled and its ABI.
    origin: Option<(Origin, Kind)>,
    /// x8..x17 of its latest call: a DIRECT_REQ or RESP (not REQ2/RESP2) gives them back.
    upper: [u64; 10],
    /// The core it last ran on (a call chain stays on its core).
    cpu: usize,
    /// The NPI is pending for it.
    npi: bool,
}

struct Sp {
    def: &'static Definition,
    ctxs: Vec<Ctx>,
    mem: Mem,
    version: Version,
    version_locked: bool,
    mapped: bool,
    rx_full: bool,
    /// The warm-boot entry it registered.
    warm_entry: Option<u64>,
    notif: Notif,
}

/// Bytes of the manifest each partition's package holds (a device-tree header saying so).
const MANIFEST_SIZE: u32 = 0x200;

impl Sp {
    /// Its package as the SPMC leaves it: the manifest (a device-tree header) and, over the
    /// package header, the boot-information blob naming it. Returns the blob's address.
    fn write_package(&mut self) -> u64 {
        let def = self.def;
        let mut fdt = [0u8; 8];
        fdt[..4].copy_from_slice(&0xd00d_feed_u32.to_be_bytes());
        fdt[4..].copy_from_slice(&MANIFEST_SIZE.to_be_bytes());
        assert!(self.mem.write(def.manifest_address(), &fdt));
        let mut blob = [0u8; ffa::boot_info::MANIFEST_BLOB_SIZE];
        ffa::boot_info::write_manifest_blob(
            def.ffa_version,
            def.manifest_address(),
            MANIFEST_SIZE,
            &mut blob,
        )
        .unwrap();
        assert!(self.mem.write(def.load_address, &blob));
        def.load_address
    }
}

/// Where control goes after a partition's call.
enum Next {
    /// Back to the same context with this answer.
    Answer(Regs),
    /// To another context, entered with these registers.
    Enter(usize, usize, Regs),
    /// Out to the normal world.
    Nwd(Regs),
}

struct Model {
    proxy: bool,
    nwd_version: Option<Version>,
    /// Proxy: the host negotiated. SPMC: the normal world made another call.
    nwd_locked: bool,
    nwd_mailbox: Option<(u64, u64, u32)>,
    nwd_rx_owned: bool,
    nwd_mem: Mem,
    sps: Vec<Sp>,
    /// The core the current call runs on (a chain stays on its core).
    cpu: usize,
    /// The normal world's notifications (enabled by BITMAP_CREATE).
    nwd_notif: Notif,
    /// The SRI pending on each core; one delayed until the normal world is back.
    sri: [bool; CPUS as usize],
    sri_delayed: bool,
}

impl Model {
    fn boot(proxy: bool) -> Self {
        let mut model = Model {
            proxy,
            nwd_version: None,
            nwd_locked: false,
            nwd_mailbox: None,
            nwd_rx_owned: false,
            nwd_mem: Mem {
                base: NWD_BASE,
                bytes: vec![0; NWD_SIZE],
                crashed: false,
            },
            sps: Vec::new(),
            cpu: 0,
            nwd_notif: Notif::new(false, usize::from(CPUS)),
            sri: [false; CPUS as usize],
            sri_delayed: false,
        };
        for def in DEFINITIONS {
            let ctxs = (0..def.exec_ctx_count)
                .map(|v| Ctx {
                    instance: Instance::for_execution_context(def, v),
                    state: State::Booting,
                    origin: None,
                    upper: [0; 10],
                    cpu: 0,
                    npi: false,
                })
                .collect();
            model.sps.push(Sp {
                def,
                ctxs,
                mem: Mem {
                    base: def.load_address,
                    bytes: vec![0; def.memory_size as usize],
                    crashed: false,
                },
                version: def.ffa_version,
                version_locked: false,
                mapped: false,
                rx_full: false,
                warm_entry: None,
                notif: Notif::new(def.notifications, usize::from(def.exec_ctx_count)),
            });
        }
        // Cold boot on CPU 0: context 0 of each partition at its entry point, with its
        // boot-information blob (over the package header) in the register its manifest
        // names, else its manifest address in x0.
        for sp in 0..model.sps.len() {
            let def = model.sps[sp].def;
            let entry = match def.boot_info_register {
                Some(reg) => {
                    let blob = model.sps[sp].write_package();
                    let mut entry = regs(&[]);
                    entry[usize::from(reg)] = blob;
                    entry
                }
                None => regs(&[def.manifest_address()]),
            };
            model.start(sp, 0, def.entry_point(), entry);
        }
        // Each secondary CPU powered on: the MP partitions' contexts for it, at the entry
        // they registered (else the primary one), with no registers.
        for cpu in 1..usize::from(CPUS) {
            model.cpu = cpu;
            for sp in 0..model.sps.len() {
                let s = &model.sps[sp];
                if s.ctxs.len() > 1 && cpu < s.ctxs.len() {
                    let pc = s.warm_entry.unwrap_or(s.def.entry_point());
                    model.start(sp, cpu, pc, regs(&[]));
                }
            }
        }
        model
    }

    /// Starts context (sp, vcpu) at `pc` and runs its initialisation.
    fn start(&mut self, sp: usize, vcpu: usize, pc: u64, entry: Regs) {
        self.sps[sp].ctxs[vcpu].instance.start(pc);
        self.run(sp, vcpu, entry);
        assert_eq!(self.sps[sp].ctxs[vcpu].state, State::Waiting);
    }

    fn sp_by_id(&self, id: u16) -> Option<usize> {
        self.sps.iter().position(|s| s.def.endpoint_id == id)
    }

    /// Runs partition contexts until control returns to the normal world.
    fn run(&mut self, mut sp: usize, mut vcpu: usize, mut entry: Regs) -> Regs {
        for _ in 0..1000 {
            let s = &mut self.sps[sp];
            s.ctxs[vcpu].cpu = self.cpu;
            let call = s.ctxs[vcpu].instance.step(&entry, &mut s.mem);
            s.ctxs[vcpu].upper.copy_from_slice(&call[8..]);
            let next = if std::mem::take(&mut s.mem.crashed) {
                self.abort(sp, vcpu)
            } else {
                self.sp_call(sp, vcpu, &call)
            };
            match next {
                Next::Answer(r) => entry = r,
                Next::Enter(s, v, r) => (sp, vcpu, entry) = (s, v, r),
                Next::Nwd(r) => return r,
            }
        }
        panic!("partitions never returned to the normal world");
    }

    /// Context (sp, vcpu) faulted with no vector: the partition dies, and whoever sent the
    /// request it handled gets ABORTED.
    fn abort(&mut self, sp: usize, vcpu: usize) -> Next {
        let origin = self.sps[sp].ctxs[vcpu].origin;
        for ctx in &mut self.sps[sp].ctxs {
            ctx.state = State::Aborted;
            ctx.origin = None;
        }
        match origin {
            Some((Origin::Sp(s, v, _), _)) => {
                self.sps[s].ctxs[v].state = State::Running;
                Next::Enter(s, v, error(FfaError::Aborted))
            }
            Some((Origin::Nwd(_), _)) | None => Next::Nwd(error(FfaError::Aborted)),
        }
    }

    /// `regs` as context (sp, vcpu) receives a message of `kind`: REQ/RESP carry x0..x7, and
    /// x8..x17 are what it last had.
    fn delivered(&self, sp: usize, vcpu: usize, kind: Kind, regs: &Regs) -> Regs {
        let mut out = *regs;
        if kind == Kind::Req {
            out[8..].copy_from_slice(&self.sps[sp].ctxs[vcpu].upper);
        }
        out
    }

    /// Whether context (sp, vcpu) precedes (from, fv) in its call chain.
    fn precedes(&self, sp: usize, vcpu: usize, from: usize, fv: usize) -> bool {
        let mut at = self.sps[from].ctxs[fv].origin;
        while let Some((Origin::Sp(s, v, _), _)) = at {
            if (s, v) == (sp, vcpu) {
                return true;
            }
            at = self.sps[s].ctxs[v].origin;
        }
        false
    }

    /// The context handling a request from (sp, vcpu) that yielded back to it, if any.
    fn yielded_callee(&self, sp: usize, vcpu: usize) -> Option<(usize, usize)> {
        self.callee(sp, vcpu)
            .filter(|&(s, v)| self.sps[s].ctxs[v].state == State::Preempted)
    }

    /// The context handling a request from (sp, vcpu), if any.
    fn callee(&self, sp: usize, vcpu: usize) -> Option<(usize, usize)> {
        self.sps.iter().enumerate().find_map(|(s, p)| {
            p.ctxs
                .iter()
                .position(|c| matches!(c.origin, Some((Origin::Sp(rs, rv, _), _)) if (rs, rv) == (sp, vcpu)))
                .map(|v| (s, v))
        })
    }

    /// FFA_RUN from context (sp, vcpu): only of its callee that yielded back to it.
    fn sp_run(&mut self, sp: usize, vcpu: usize, target: TargetInfo) -> Next {
        if !EndpointId(target.endpoint_id).is_secure() {
            return Next::Answer(error(FfaError::Denied));
        }
        let Some(t) = self.sp_by_id(target.endpoint_id) else {
            return Next::Answer(error(FfaError::InvalidParameters));
        };
        let tv = usize::from(target.vcpu_id);
        let mp = self.sps[t].ctxs.len() > 1;
        if tv >= self.sps[t].ctxs.len() || (mp && tv != self.cpu) {
            return Next::Answer(error(FfaError::InvalidParameters));
        }
        if self.sps[t].ctxs[tv].state == State::Aborted {
            return Next::Answer(error(FfaError::Aborted));
        }
        if self.yielded_callee(sp, vcpu) != Some((t, tv)) {
            return Next::Answer(error(FfaError::Denied));
        }
        self.sps[sp].ctxs[vcpu].state = State::Blocked;
        self.sps[t].ctxs[tv].state = State::Running;
        Next::Enter(t, tv, self.delivered(t, tv, Kind::Req, &success(0, 0)))
    }

    fn sp_call(&mut self, sp: usize, vcpu: usize, call: &Regs) -> Next {
        let def = self.sps[sp].def;
        let own = def.endpoint_id;
        let decoded = decode(call, self.sps[sp].version);
        let state = self.sps[sp].ctxs[vcpu].state;
        if !matches!(decoded, Decoded::Call(Interface::Version { .. })) {
            self.sps[sp].version_locked = true;
        }
        if function_id(call) == HF_INTERRUPT_GET {
            let mut out = *call;
            let ctx = &mut self.sps[sp].ctxs[vcpu];
            out[0] = if std::mem::take(&mut ctx.npi) {
                NPI
            } else {
                0xffff_ffff
            };
            return Next::Answer(out);
        }
        if let Some(answer) = self.notif_call(Caller::Sp(sp), call) {
            return Next::Answer(answer);
        }
        let answer = match decoded {
            // Not an FF-A call (PSCI, say): SMCCC's unknown function, the rest untouched.
            _ if !ffa::call::is_ffa(ffa::call::function_id(call)) => {
                let mut unknown = *call;
                unknown[0] = u64::MAX;
                unknown
            }
            Decoded::Call(Interface::Version { input_version, .. }) => {
                let s = &mut self.sps[sp];
                if input_version.0 != OURS.0
                    || input_version.1 > OURS.1
                    || (s.version_locked && input_version != s.version)
                {
                    regs(&[u64::from(u32::MAX)])
                } else {
                    s.version = input_version.min(OURS);
                    regs(&[u64::from(ffa::version::to_u32(OURS))])
                }
            }
            Decoded::Call(Interface::IdGet) => success(u32::from(own), 0),
            // Printed or, past the partition's allowance, dropped: answered SUCCESS either way.
            Decoded::Call(Interface::ConsoleLog { .. }) => success(0, 0),
            Decoded::Call(Interface::SecondaryEpRegister { entrypoint }) => {
                let entry = match entrypoint {
                    ffa::SecondaryEpRegisterAddr::Addr32(a) => u64::from(a),
                    ffa::SecondaryEpRegisterAddr::Addr64(a) => a,
                };
                if self.sps[sp].ctxs.len() < 2 {
                    error(FfaError::NotSupported)
                } else if state != State::Booting {
                    error(FfaError::Denied)
                } else if !def.contains(entry, 4) {
                    error(FfaError::InvalidParameters)
                } else {
                    self.sps[sp].warm_entry = Some(entry);
                    success(0, 0)
                }
            }
            Decoded::Call(Interface::SpmIdGet) => success(u32::from(SPMC_ID), 0),
            Decoded::Call(Interface::Features {
                feat_id: ffa::Feature::FuncId(_),
                ..
            }) => success(0, 0),
            Decoded::Call(Interface::RxTxMap { .. }) => {
                if self.sps[sp].mapped {
                    error(FfaError::Denied)
                } else {
                    self.sps[sp].mapped = true;
                    success(0, 0)
                }
            }
            Decoded::Call(Interface::RxTxUnmap { id }) => {
                if id != 0 || !self.sps[sp].mapped {
                    error(FfaError::InvalidParameters)
                } else {
                    self.sps[sp].mapped = false;
                    success(0, 0)
                }
            }
            Decoded::Call(Interface::RxRelease { .. }) => {
                if self.sps[sp].rx_full {
                    self.sps[sp].rx_full = false;
                    success(0, 0)
                } else {
                    error(FfaError::Denied)
                }
            }
            Decoded::Call(Interface::PartitionInfoGet { uuid, flags }) => {
                let version = self.sps[sp].version;
                let infos = partition_infos(uuid, version, true);
                let s = &mut self.sps[sp];
                if infos.is_empty() {
                    error(FfaError::InvalidParameters)
                } else if flags.count_only {
                    success(infos.len() as u32, 0)
                } else if !s.mapped || s.rx_full {
                    error(FfaError::Busy)
                } else {
                    let mut buf = vec![0u8; 4096];
                    let len = write_descriptors(version, &infos, &mut buf).unwrap();
                    assert!(s.mem.write(def.rx_buffer(), &buf[..len]));
                    s.rx_full = true;
                    success(infos.len() as u32, 24)
                }
            }
            Decoded::Call(Interface::MsgWait { .. }) => match state {
                State::Booting => {
                    self.sps[sp].ctxs[vcpu].state = State::Waiting;
                    return Next::Nwd(*call);
                }
                State::Running
                    if self.sps[sp].ctxs[vcpu].origin.is_none()
                        && self.yielded_callee(sp, vcpu).is_none() =>
                {
                    // Cycles given by FFA_RUN, now given back.
                    self.sps[sp].ctxs[vcpu].state = State::Waiting;
                    return Next::Nwd(regs(&[u64::from(fid(FuncId::MsgWait32))]));
                }
                _ => error(FfaError::Denied),
            },
            Decoded::Call(Interface::Yield { .. }) => {
                // Handling a request: the cycles go back to the requester, a partition (which
                // resumes this context with FFA_RUN) or the normal world.
                let ctx = &mut self.sps[sp].ctxs[vcpu];
                let target = u64::from(own) << 16 | vcpu as u64;
                let yielded = regs(&[
                    u64::from(fid(FuncId::Yield32)),
                    target,
                    call[2] & 0xffff_ffff,
                    call[3] & 0xffff_ffff,
                ]);
                match ctx.origin {
                    Some((Origin::Sp(s, v, _), _)) => {
                        ctx.state = State::Preempted;
                        self.sps[s].ctxs[v].state = State::Running;
                        return Next::Enter(s, v, self.delivered(s, v, Kind::Req, &yielded));
                    }
                    Some((Origin::Nwd(_), _)) => {
                        ctx.state = State::Preempted;
                        return Next::Nwd(yielded);
                    }
                    None => error(FfaError::Denied),
                }
            }
            Decoded::Call(Interface::Run { target_info, .. }) => {
                return self.sp_run(sp, vcpu, target_info);
            }
            Decoded::Call(Interface::MsgSendDirectReq {
                src_id,
                dst_id,
                args,
            }) => {
                // Framework messages are not a partition's to send.
                if !matches!(args, DirectMsgArgs::Args32(_) | DirectMsgArgs::Args64(_)) {
                    error(FfaError::InvalidParameters)
                } else {
                    return self.sp_request(sp, vcpu, call, src_id, dst_id, None);
                }
            }
            Decoded::Call(Interface::MsgSendDirectReq2 {
                src_id,
                dst_id,
                uuid,
                ..
            }) => {
                return self.sp_request(sp, vcpu, call, src_id, dst_id, Some(uuid));
            }
            Decoded::Call(Interface::MsgSendDirectResp { src_id, dst_id, .. }) => {
                return self.sp_response(sp, vcpu, call, src_id, dst_id, Kind::Req);
            }
            Decoded::Call(Interface::MsgSendDirectResp2 { src_id, dst_id, .. }) => {
                return self.sp_response(sp, vcpu, call, src_id, dst_id, Kind::Req2);
            }
            Decoded::Malformed(_, e) => error(e),
            _ => error(FfaError::NotSupported),
        };
        Next::Answer(answer)
    }

    fn sp_request(
        &mut self,
        sp: usize,
        vcpu: usize,
        call: &Regs,
        src: u16,
        dst: u16,
        uuid: Option<Uuid>,
    ) -> Next {
        let own = self.sps[sp].def.endpoint_id;
        let Some(t) = self.sp_by_id(dst) else {
            return Next::Answer(error(FfaError::InvalidParameters));
        };
        if src != own || dst == own {
            return Next::Answer(error(FfaError::InvalidParameters));
        }
        if let Some(code) = self.receive_check(t, uuid) {
            return Next::Answer(error(code));
        }
        // An MP target answers from its context pinned to this core (a UP caller's context
        // number says nothing about the core).
        let tv = if self.sps[t].ctxs.len() > 1 {
            self.cpu
        } else {
            0
        };
        if self.precedes(t, tv, sp, vcpu) || self.yielded_callee(sp, vcpu).is_some() {
            return Next::Answer(error(FfaError::Denied));
        }
        match self.sps[t].ctxs[tv].state {
            State::Waiting => {}
            State::Aborted => return Next::Answer(error(FfaError::Aborted)),
            _ => return Next::Answer(error(FfaError::Busy)),
        }
        self.sps[sp].ctxs[vcpu].state = State::Blocked;
        let kind = if uuid.is_some() {
            Kind::Req2
        } else {
            Kind::Req
        };
        let target = &mut self.sps[t].ctxs[tv];
        target.state = State::Running;
        target.origin = Some((Origin::Sp(sp, vcpu, own), kind));
        Next::Enter(t, tv, self.delivered(t, tv, kind, call))
    }

    /// Whether partition `t` takes a request naming `uuid` (None: DIRECT_REQ).
    fn receive_check(&self, t: usize, uuid: Option<Uuid>) -> Option<FfaError> {
        let def = self.sps[t].def;
        let uuid = uuid?;
        if !uuid.is_nil() && !def.uuids.contains(&uuid) {
            Some(FfaError::InvalidParameters)
        } else if def.messaging & DIRECT_REQ2_RECV == 0 {
            Some(FfaError::Denied)
        } else {
            None
        }
    }

    fn sp_response(
        &mut self,
        sp: usize,
        vcpu: usize,
        call: &Regs,
        src: u16,
        dst: u16,
        kind: Kind,
    ) -> Next {
        let own = self.sps[sp].def.endpoint_id;
        if src != own {
            return Next::Answer(error(FfaError::InvalidParameters));
        }
        let Some((origin, req_kind)) = self.sps[sp].ctxs[vcpu].origin else {
            return Next::Answer(error(FfaError::Denied));
        };
        let origin_id = match origin {
            Origin::Nwd(id) | Origin::Sp(_, _, id) => id,
        };
        if dst != origin_id || kind != req_kind || self.yielded_callee(sp, vcpu).is_some() {
            return Next::Answer(error(FfaError::Denied));
        }
        let ctx = &mut self.sps[sp].ctxs[vcpu];
        ctx.state = State::Waiting;
        ctx.origin = None;
        match origin {
            Origin::Nwd(_) => Next::Nwd(*call),
            Origin::Sp(s, v, _) => {
                self.sps[s].ctxs[v].state = State::Running;
                Next::Enter(s, v, self.delivered(s, v, kind, call))
            }
        }
    }

    /// A normal-world SMC, through the proxy or straight to EL3.
    fn nwd_call(&mut self, cpu: u16, call: &Regs) -> Regs {
        self.cpu = usize::from(cpu);
        let mut answer = self.nwd_answer(cpu, call);
        // Back in the normal world: a delayed SRI is pended now.
        if std::mem::take(&mut self.sri_delayed) {
            self.sri[self.cpu] = true;
        }
        // SMC32 calls keep their x8..x17 whoever answers.
        if is_ffa(function_id(call)) && call[0] & (1 << 30) == 0 {
            answer[8..].copy_from_slice(&call[8..]);
        }
        answer
    }

    fn nwd_answer(&mut self, cpu: u16, call: &Regs) -> Regs {
        let f = function_id(call);
        if f == PSCI_VERSION {
            let mut out = *call;
            out[0] = PSCI_VERSION_1_1;
            return out;
        }
        if f == fid(FuncId::Version) {
            return self.nwd_version(call[1] as u32);
        }
        if self.proxy && !self.nwd_locked {
            return error(FfaError::InvalidParameters);
        }
        let version = self.nwd_version.unwrap_or(Version(1, 0));
        let Ok(func) = FuncId::try_from(f) else {
            // EL3's dispatcher does not know it; the proxy refuses it as FF-A.
            return if self.proxy {
                error(FfaError::NotSupported)
            } else {
                regs(&[u64::MAX])
            };
        };
        let blocked = matches!(
            func,
            FuncId::MsgWait32
                | FuncId::Yield32
                | FuncId::SecondaryEpRegister64
                | FuncId::ConsoleLog32
                | FuncId::MsgSendDirectResp32
                | FuncId::MsgSendDirectResp64
                | FuncId::MsgSendDirectResp64_2
        ) || (self.proxy && func == FuncId::PartitionInfoGetRegs);
        if blocked {
            return error(FfaError::NotSupported);
        }
        match func {
            // Answered at EL3 (or by the proxy), which does not lock the SPMC's version.
            FuncId::IdGet => return success(0, 0),
            FuncId::SpmIdGet => return success(u32::from(SPMC_ID), 0),
            _ => self.nwd_locked = true,
        }
        if func == FuncId::Features && call[1] == 2 {
            // The SRI's feature ID: its INTID.
            return success(SRI, 0);
        }
        if let Some(answer) = self.notif_call(Caller::Nwd, call) {
            return answer;
        }
        let call_decoded = decode(call, version);
        match call_decoded {
            Decoded::Call(Interface::Features { feat_id, .. }) => match feat_id {
                ffa::Feature::FuncId(g) if g.minimum_ffa_version() <= version => {
                    if self.proxy && g == FuncId::PartitionInfoGetRegs {
                        error(FfaError::NotSupported)
                    } else {
                        success(0, 0)
                    }
                }
                _ => error(FfaError::NotSupported),
            },
            Decoded::Call(Interface::RxTxMap {
                addr: ffa::RxTxAddr::Addr64 { rx, tx },
                page_cnt,
            }) => {
                let aligned = tx % 4096 == 0 && rx % 4096 == 0;
                if !aligned || page_cnt == 0 || tx == rx {
                    error(FfaError::InvalidParameters)
                } else if self.nwd_mailbox.is_some() {
                    error(FfaError::Denied)
                } else {
                    self.nwd_mailbox = Some((tx, rx, page_cnt));
                    success(0, 0)
                }
            }
            Decoded::Call(Interface::RxTxUnmap { id }) => {
                if id != 0 || self.nwd_mailbox.is_none() {
                    error(FfaError::InvalidParameters)
                } else {
                    self.nwd_mailbox = None;
                    self.nwd_rx_owned = false;
                    success(0, 0)
                }
            }
            Decoded::Call(Interface::RxRelease { vm_id }) => {
                if vm_id != 0 {
                    error(FfaError::InvalidParameters)
                } else if !self.nwd_rx_owned {
                    error(FfaError::Denied)
                } else {
                    self.nwd_rx_owned = false;
                    success(0, 0)
                }
            }
            Decoded::Call(Interface::PartitionInfoGet { uuid, flags }) => {
                let infos = partition_infos(uuid, version, false);
                let Some((_, rx, _)) = self.nwd_mailbox else {
                    return error(FfaError::Busy);
                };
                if infos.is_empty() {
                    error(FfaError::InvalidParameters)
                } else if flags.count_only {
                    success(infos.len() as u32, 0)
                } else if self.nwd_rx_owned {
                    error(FfaError::Busy)
                } else {
                    let mut buf = vec![0u8; 4096];
                    let len = write_descriptors(version, &infos, &mut buf).unwrap();
                    assert!(self.nwd_mem.write(rx, &buf[..len]));
                    self.nwd_rx_owned = true;
                    let size = if version >= Version(1, 1) { 24 } else { 0 };
                    success(infos.len() as u32, size)
                }
            }
            Decoded::Call(Interface::PartitionInfoGetRegs {
                uuid,
                start_index,
                info_tag,
            }) => {
                let infos = partition_infos(uuid, version, false);
                if info_tag != 0 {
                    return error(FfaError::Retry);
                }
                match pack_regs(&infos, start_index, 0) {
                    Ok(packed) => {
                        let mut out = regs(&[u64::from(fid(FuncId::Success64))]);
                        out[2..].copy_from_slice(&packed);
                        out
                    }
                    Err(_) => error(FfaError::InvalidParameters),
                }
            }
            Decoded::Call(Interface::MsgSendDirectReq {
                src_id,
                dst_id,
                args,
            }) => {
                let framework =
                    !matches!(args, DirectMsgArgs::Args32(_) | DirectMsgArgs::Args64(_));
                if framework || call[2] != 0 {
                    return error(FfaError::InvalidParameters);
                }
                self.nwd_request(cpu, call, src_id, dst_id, None)
            }
            Decoded::Call(Interface::MsgSendDirectReq2 {
                src_id,
                dst_id,
                uuid,
                ..
            }) => self.nwd_request(cpu, call, src_id, dst_id, Some(uuid)),
            Decoded::Call(Interface::Run { target_info, .. }) => self.nwd_run(cpu, target_info),
            Decoded::Malformed(_, e) => error(e),
            _ => error(FfaError::NotSupported),
        }
    }

    fn nwd_version(&mut self, requested: u32) -> Regs {
        let not_supported = regs(&[u64::from(u32::MAX)]);
        if requested >> 31 != 0 || requested >> 16 != 1 {
            return not_supported;
        }
        let requested = Version(1, requested as u16);
        let version = |v: Version| regs(&[u64::from(ffa::version::to_u32(v))]);
        if self.proxy {
            match self.nwd_version {
                Some(v) if requested < v => not_supported,
                Some(v) => version(v),
                None => {
                    let v = requested.min(OURS);
                    self.nwd_version = Some(v);
                    self.nwd_locked = true;
                    version(v)
                }
            }
        } else if requested > OURS
            || (self.nwd_locked && Some(requested.min(OURS)) != self.nwd_version)
        {
            // A newer minor is incompatible at the SPMC (Hafnium's rule).
            not_supported
        } else {
            self.nwd_version = Some(requested.min(OURS));
            version(OURS)
        }
    }

    fn nwd_request(
        &mut self,
        cpu: u16,
        call: &Regs,
        src: u16,
        dst: u16,
        uuid: Option<Uuid>,
    ) -> Regs {
        if src != 0 && (self.proxy || EndpointId(src).is_secure()) {
            return error(FfaError::InvalidParameters);
        }
        let Some(t) = self.sp_by_id(dst) else {
            return error(FfaError::InvalidParameters);
        };
        if let Some(code) = self.receive_check(t, uuid) {
            return error(code);
        }
        let tv = if self.sps[t].ctxs.len() > 1 {
            usize::from(cpu)
        } else {
            0
        };
        let ctx = &mut self.sps[t].ctxs[tv];
        match ctx.state {
            State::Waiting => {}
            State::Aborted => return error(FfaError::Aborted),
            _ => return error(FfaError::Busy),
        }
        let kind = if uuid.is_some() {
            Kind::Req2
        } else {
            Kind::Req
        };
        ctx.state = State::Running;
        ctx.origin = Some((Origin::Nwd(src), kind));
        let entry = self.delivered(t, tv, kind, call);
        self.run(t, tv, entry)
    }

    fn nwd_run(&mut self, cpu: u16, target: TargetInfo) -> Regs {
        let Some(t) = self.sp_by_id(target.endpoint_id) else {
            return error(FfaError::InvalidParameters);
        };
        let vcpu = usize::from(target.vcpu_id);
        let mp = self.sps[t].ctxs.len() > 1;
        if vcpu >= self.sps[t].ctxs.len() || (mp && target.vcpu_id != cpu) {
            return error(FfaError::InvalidParameters);
        }
        // A chain stays on its core; a callee that yielded to its requester is the
        // requester's to run.
        let in_chain = self.callee(t, vcpu).is_some()
            || matches!(self.sps[t].ctxs[vcpu].origin, Some((Origin::Sp(..), _)));
        let ctx = &mut self.sps[t].ctxs[vcpu];
        match ctx.state {
            State::Preempted
                if matches!(ctx.origin, Some((Origin::Sp(..), _)))
                    || (in_chain && ctx.cpu != usize::from(cpu)) =>
            {
                error(FfaError::Denied)
            }
            State::Preempted => {
                ctx.state = State::Running;
                self.run(t, vcpu, success(0, 0))
            }
            State::Waiting => {
                ctx.state = State::Running;
                let npi = self.sps[t].notif.enabled && self.sps[t].notif.pending_for(vcpu);
                let ctx = &mut self.sps[t].ctxs[vcpu];
                ctx.npi |= npi;
                let run = encode(&Interface::Run {
                    target_info: target,
                    is_32bit: true,
                });
                self.run(t, vcpu, run)
            }
            State::Aborted => error(FfaError::Aborted),
            _ => error(FfaError::Busy),
        }
    }
}

/// What FFA_PARTITION_INFO_GET(`uuid`) describes to a caller at `version`.
fn partition_infos(uuid: Uuid, version: Version, secure: bool) -> Vec<PartitionInfo> {
    let mut out = Vec::new();
    for d in DEFINITIONS {
        for (i, u) in d.uuids.iter().enumerate() {
            let all = uuid.is_nil() && (i == 0 || version >= Version(1, 2));
            if all || *u == uuid {
                out.push(PartitionInfo {
                    id: EndpointId(d.endpoint_id),
                    exec_ctx_count: d.exec_ctx_count,
                    properties: d.properties(version, secure),
                    uuid: if uuid.is_nil() { *u } else { Uuid::nil() },
                });
            }
        }
    }
    out
}

struct ModelClient(Model);

impl Client for ModelClient {
    fn call_on(&mut self, cpu: u16, regs: &Regs) -> Regs {
        assert!(cpu < CPUS);
        self.0.nwd_call(cpu, regs)
    }
    fn tx_addr(&self) -> u64 {
        NWD_BASE
    }
    fn rx_addr(&self) -> u64 {
        NWD_BASE + 0x1000
    }
    fn mailbox_pages(&self) -> u32 {
        MAILBOX_PAGES
    }
    fn write(&mut self, addr: u64, data: &[u8]) {
        assert!(self.0.nwd_mem.write(addr, data));
    }
    fn read(&self, addr: u64, buf: &mut [u8]) {
        assert!(self.0.nwd_mem.read(addr, buf));
    }
    fn behind_proxy(&self) -> bool {
        self.0.proxy
    }
    fn take_interrupt(&mut self, cpu: u16) -> Option<u32> {
        let pending = self.0.sri.get_mut(usize::from(cpu))?;
        std::mem::take(pending).then_some(SRI)
    }
}

/// Scenarios of what this model leaves out, and why: they run on the real SPMC core
/// (in-process and on QEMU) only.
const NOT_MODELLED: &[(&str, &str)] = &[
    (
        "partitions_lend_and_share_memory",
        "memory sharing: the model keeps each partition's memory apart and has no ledger",
    ),
    (
        "normal_world_shares_memory",
        "memory sharing: the model has no ledger and no retrieve",
    ),
    (
        "normal_world_shares_memory_v1_1",
        "memory sharing: the model has no ledger and no retrieve",
    ),
    (
        "normal_world_shares_memory_v1_0",
        "memory sharing: the model has no ledger and no retrieve",
    ),
    (
        "memory_sharing_rejections",
        "memory sharing: the model has no ledger and no retrieve",
    ),
    (
        "normal_world_shares_600_ranges_in_fragments",
        "memory sharing: the model has no ledger and no fragments",
    ),
    (
        "normal_world_shares_600_ranges_in_fragments_v1_1",
        "memory sharing: the model has no ledger and no fragments",
    ),
    (
        "normal_world_shares_600_ranges_in_fragments_v1_0",
        "memory sharing: the model has no ledger and no fragments",
    ),
    (
        "partition_writes_normal_world_memory",
        "memory sharing: the model has no ledger and no retrieve",
    ),
    (
        "normal_world_lends_memory",
        "memory sharing: the model has no ledger and no retrieve",
    ),
    (
        "normal_world_lends_memory_v1_1",
        "memory sharing: the model has no ledger and no retrieve",
    ),
    (
        "normal_world_lends_memory_v1_0",
        "memory sharing: the model has no ledger and no retrieve",
    ),
    (
        "partition_donates_memory",
        "memory sharing: the model has no ledger and no retrieve",
    ),
];

#[test]
fn every_scenario_passes_against_the_reference_model() {
    for (name, _) in NOT_MODELLED {
        assert!(ALL.iter().any(|s| s.name == *name), "{name} is no scenario");
    }
    let mut failures = Vec::new();
    for proxy in [false, true] {
        for s in ALL
            .iter()
            .filter(|s| !NOT_MODELLED.iter().any(|(name, _)| *name == s.name))
            // The model hosts the test partitions; OP-TEE is a real OS, on QEMU only.
            .filter(|s| s.stack == scenarios::Stack::TestPartitions)
        {
            for home in 0..CPUS {
                let mut model = ModelClient(Model::boot(proxy));
                let mut client = OnCore {
                    inner: &mut model,
                    home,
                    cpus: CPUS,
                };
                if let Err(f) = (s.run)(&mut client) {
                    let key = RunKey { name: s.name, home };
                    failures.push(format!("{key} (proxy: {proxy}): {f}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_model_boots_every_partition_without_faults() {
    let model = Model::boot(false);
    for sp in &model.sps {
        assert!(sp.mapped, "{} mapped its buffers", sp.def.name);
        for ctx in &sp.ctxs {
            assert_eq!(ctx.instance.machine().faults(), 0, "{}", sp.def.name);
        }
    }
}

// ---- Indirect messages and notifications ----

/// The SRI's INTID and the NPI's.
const SRI: u32 = 8;
const NPI: u64 = 5;
/// Hafnium's HF_INTERRUPT_GET.
const HF_INTERRUPT_GET: u32 = 0xff04;

/// Who makes a call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Caller {
    Nwd,
    Sp(usize),
}

/// One receiver's notification state. Bindings, pending bits and INFO_GET's bookkeeping are
/// kept per sender kind (0: partitions, 1: the normal world), as GET reports them apart.
struct Notif {
    enabled: bool,
    vcpus: usize,
    bound: [[Option<(u16, bool)>; 64]; 2],
    global: [u64; 2],
    per_vcpu: [Vec<u64>; 2],
    /// Bit 0: SPM framework RX full; bit 32: hypervisor framework RX full.
    framework: u64,
    /// Pending, not yet reported by INFO_GET: global, per vCPU.
    unreported: bool,
    unreported_vcpu: Vec<bool>,
}

impl Notif {
    fn new(enabled: bool, vcpus: usize) -> Self {
        Notif {
            enabled,
            vcpus,
            bound: [[None; 64]; 2],
            global: [0; 2],
            per_vcpu: [vec![0; vcpus], vec![0; vcpus]],
            framework: 0,
            unreported: false,
            unreported_vcpu: vec![false; vcpus],
        }
    }

    fn pending_bits(&self, ns: usize, bits: u64) -> bool {
        self.global[ns] & bits != 0 || self.per_vcpu[ns].iter().any(|p| p & bits != 0)
    }

    fn any_pending(&self) -> bool {
        self.framework != 0 || self.pending_bits(0, !0) || self.pending_bits(1, !0)
    }

    /// Whether context `vcpu` has something to get (the NPI's condition).
    fn pending_for(&self, vcpu: usize) -> bool {
        self.framework != 0
            || self.global.iter().any(|g| *g != 0)
            || self
                .per_vcpu
                .iter()
                .any(|p| p.get(vcpu).is_some_and(|b| *b != 0))
    }

    fn bits(bits: u64) -> impl Iterator<Item = usize> {
        (0..64).filter(move |i| bits & (1 << i) != 0)
    }
}

fn is_vm(id: u16) -> bool {
    !EndpointId(id).is_secure()
}

impl Model {
    fn caller_id(&self, caller: Caller) -> u16 {
        match caller {
            Caller::Nwd => 0,
            Caller::Sp(i) => self.sps[i].def.endpoint_id,
        }
    }

    /// The notification state of endpoint `id`: the normal world's (0) or a partition's.
    fn notif_of(&mut self, id: u16) -> Option<&mut Notif> {
        if id == 0 {
            return Some(&mut self.nwd_notif);
        }
        let i = self.sp_by_id(id)?;
        Some(&mut self.sps[i].notif)
    }

    fn pend_sri(&mut self, delay: bool) {
        if delay {
            self.sri_delayed = true;
        } else {
            self.sri[self.cpu] = true;
        }
    }

    /// The notification ABIs and MSG_SEND2, from `caller`; None for any other call.
    fn notif_call(&mut self, caller: Caller, call: &Regs) -> Option<Regs> {
        let f = FuncId::try_from(function_id(call)).ok()?;
        let w = |i: usize| call[i] & 0xffff_ffff;
        let bits = w(3) | w(4) << 32;
        Some(match f {
            FuncId::NotificationBitmapCreate | FuncId::NotificationBitmapDestroy => {
                let vm = w(1);
                if caller != Caller::Nwd {
                    error(FfaError::NotSupported)
                } else if vm != 0 {
                    error(FfaError::InvalidParameters)
                } else if f == FuncId::NotificationBitmapCreate {
                    if self.nwd_notif.enabled {
                        error(FfaError::Denied)
                    } else {
                        self.nwd_notif = Notif::new(true, w(2).clamp(1, 64) as usize);
                        success(0, 0)
                    }
                } else if !self.nwd_notif.enabled || self.nwd_notif.any_pending() {
                    error(FfaError::Denied)
                } else {
                    self.nwd_notif = Notif::new(false, usize::from(CPUS));
                    success(0, 0)
                }
            }
            FuncId::NotificationBind | FuncId::NotificationUnbind => {
                let is_bind = f == FuncId::NotificationBind;
                self.update_bindings(caller, w(1), w(2), bits, is_bind)
            }
            FuncId::NotificationSet => self.notification_set(caller, w(1), w(2), bits),
            FuncId::NotificationGet => self.notification_get(caller, w(1), w(2)),
            FuncId::NotificationInfoGet32 | FuncId::NotificationInfoGet64 => {
                if caller != Caller::Nwd {
                    error(FfaError::NotSupported)
                } else {
                    self.info_get(f == FuncId::NotificationInfoGet64)
                }
            }
            FuncId::MsgSend2 => self.msg_send2(caller, w(2)),
            _ => return None,
        })
    }

    fn update_bindings(
        &mut self,
        caller: Caller,
        w1: u64,
        flags: u64,
        bits: u64,
        bind: bool,
    ) -> Regs {
        let (sender, receiver) = ((w1 >> 16) as u16, w1 as u16);
        let per_vcpu = flags & 1 != 0;
        let reserved = if bind { flags & !1 } else { flags };
        let own = self.caller_id(caller);
        let valid_ids = match caller {
            Caller::Sp(_) => receiver == own,
            Caller::Nwd => !is_vm(sender) && receiver == 0,
        };
        if reserved != 0 || sender == receiver || !valid_ids || bits == 0 {
            return error(FfaError::InvalidParameters);
        }
        let sender_exists = is_vm(sender) || self.sp_by_id(sender).is_some();
        let Some(n) = self.notif_of(receiver) else {
            return error(FfaError::InvalidParameters);
        };
        if !n.enabled {
            return error(FfaError::NotSupported);
        }
        if bind && !sender_exists {
            return error(FfaError::InvalidParameters);
        }
        let ns = usize::from(is_vm(sender));
        // BIND takes unbound bits only; UNBIND only this sender's.
        let wrong = Notif::bits(bits).any(|b| match n.bound[ns][b] {
            Some((s, _)) => bind || s != sender,
            None => !bind,
        });
        if wrong || n.pending_bits(ns, bits) {
            return error(FfaError::Denied);
        }
        for b in Notif::bits(bits) {
            n.bound[ns][b] = bind.then_some((sender, per_vcpu));
        }
        success(0, 0)
    }

    fn notification_set(&mut self, caller: Caller, w1: u64, flags: u64, bits: u64) -> Regs {
        let (sender, receiver) = ((w1 >> 16) as u16, w1 as u16);
        let per_vcpu = flags & 1 != 0;
        let delay = flags & 2 != 0;
        let vcpu = (flags >> 16) as usize;
        let own = self.caller_id(caller);
        let valid_ids = match caller {
            Caller::Sp(_) => sender == own,
            Caller::Nwd => is_vm(sender) && sender == 0 && !is_vm(receiver),
        };
        if flags & !0xffff_0003 != 0
            || (!per_vcpu && vcpu != 0)
            || sender == receiver
            || !valid_ids
            || bits == 0
            || (delay && is_vm(sender))
        {
            return error(FfaError::InvalidParameters);
        }
        let Some(n) = self.notif_of(receiver) else {
            return error(FfaError::InvalidParameters);
        };
        if !n.enabled {
            return error(FfaError::Denied);
        }
        let ns = usize::from(is_vm(sender));
        let bound_as = |pv: bool| Notif::bits(bits).all(|b| n.bound[ns][b] == Some((sender, pv)));
        if bound_as(!per_vcpu) {
            return error(FfaError::InvalidParameters);
        }
        if !bound_as(per_vcpu) {
            return error(FfaError::Denied);
        }
        if per_vcpu && vcpu >= n.vcpus {
            return error(FfaError::InvalidParameters);
        }
        if per_vcpu {
            n.per_vcpu[ns][vcpu] |= bits;
            n.unreported_vcpu[vcpu] = true;
        } else {
            n.global[ns] |= bits;
            n.unreported = true;
        }
        self.pend_sri(delay);
        success(0, 0)
    }

    fn notification_get(&mut self, caller: Caller, w1: u64, flags: u64) -> Regs {
        let (receiver, vcpu) = (w1 as u16, (w1 >> 16) as usize);
        let own = self.caller_id(caller);
        let valid = match caller {
            Caller::Sp(_) => receiver == own,
            Caller::Nwd => receiver == 0 && flags & 0b1010 == 0,
        };
        if flags & !0xf != 0 || !valid {
            return error(FfaError::InvalidParameters);
        }
        let Some(n) = self.notif_of(receiver) else {
            return error(FfaError::InvalidParameters);
        };
        if vcpu >= n.vcpus {
            return error(FfaError::InvalidParameters);
        }
        let mut take = |ns: usize| {
            let bits = n.global[ns] | n.per_vcpu[ns][vcpu];
            n.global[ns] = 0;
            n.per_vcpu[ns][vcpu] = 0;
            bits
        };
        let sp = if flags & 1 != 0 { take(0) } else { 0 };
        let vm = if flags & 2 != 0 { take(1) } else { 0 };
        let mut fw = 0;
        for (flag, mask) in [(4, 0xffff_ffff), (8, 0xffff_ffff << 32)] {
            if flags & flag != 0 {
                fw |= n.framework & mask;
                n.framework &= !mask;
            }
        }
        ffa::call::success32([
            sp as u32,
            (sp >> 32) as u32,
            vm as u32,
            (vm >> 32) as u32,
            fw as u32,
            (fw >> 32) as u32,
        ])
    }

    fn info_get(&mut self, wide: bool) -> Regs {
        let max = if wide { 20 } else { 10 };
        let mut ids: Vec<u16> = Vec::new();
        let mut sizes: Vec<u64> = Vec::new();
        for s in &mut self.sps {
            let n = &mut s.notif;
            if !n.enabled {
                continue;
            }
            let global = n.framework != 0 || n.global.iter().any(|g| *g != 0);
            if global && n.unreported {
                ids.push(s.def.endpoint_id);
                sizes.push(0);
                n.unreported = false;
            }
            let vcpus: Vec<u16> = (0..n.vcpus)
                .filter(|&v| n.unreported_vcpu[v] && (n.per_vcpu[0][v] | n.per_vcpu[1][v]) != 0)
                .map(|v| v as u16)
                .collect();
            for chunk in vcpus.chunks(3) {
                ids.push(s.def.endpoint_id);
                ids.extend_from_slice(chunk);
                sizes.push(chunk.len() as u64);
            }
            for v in vcpus {
                n.unreported_vcpu[usize::from(v)] = false;
            }
        }
        assert!(ids.len() <= max, "the model's scenarios fit one INFO_GET");
        if ids.is_empty() {
            return error(FfaError::NoData);
        }
        let func = if wide {
            FuncId::Success64
        } else {
            FuncId::Success32
        };
        let mut out = regs(&[u64::from(fid(func))]);
        out[2] = (sizes.len() as u64) << 7;
        for (i, size) in sizes.iter().enumerate() {
            out[2] |= size << (12 + 2 * i);
        }
        let per_reg = if wide { 4 } else { 2 };
        for (i, id) in ids.iter().enumerate() {
            out[3 + i / per_reg] |= u64::from(*id) << (16 * (i % per_reg));
        }
        out
    }

    fn msg_send2(&mut self, caller: Caller, flags: u64) -> Regs {
        let sender = self.caller_id(caller);
        let (tx, version, indirect) = match caller {
            Caller::Nwd => match self.nwd_mailbox {
                Some((tx, _, _)) => (tx, self.nwd_version.unwrap_or(Version(1, 0)), true),
                None => return error(FfaError::Denied),
            },
            Caller::Sp(i) => {
                let s = &self.sps[i];
                if !s.mapped {
                    return error(FfaError::Denied);
                }
                (
                    s.def.tx_buffer(),
                    s.version,
                    s.def.messaging & INDIRECT_MSG != 0,
                )
            }
        };
        let mut bytes = [0u8; HEADER_V1_2];
        let read = match caller {
            Caller::Nwd => self.nwd_mem.read(tx, &mut bytes),
            Caller::Sp(i) => self.sps[i].mem.read(tx, &mut bytes),
        };
        assert!(read);
        let h = Header::parse(&bytes);
        if h.sender != sender || h.receiver == sender || (is_vm(sender) && flags != 0) {
            return error(FfaError::InvalidParameters);
        }
        let target = if h.receiver == 0 {
            None
        } else {
            match self.sp_by_id(h.receiver) {
                Some(t) => Some(t),
                None => return error(FfaError::InvalidParameters),
            }
        };
        let receives = target.is_none_or(|t| self.sps[t].def.messaging & INDIRECT_MSG != 0);
        if !indirect || !receives {
            return error(FfaError::Denied);
        }
        let busy = match target {
            None => self.nwd_mailbox.is_none() || self.nwd_rx_owned,
            Some(t) => !self.sps[t].mapped || self.sps[t].rx_full,
        };
        if busy {
            return error(FfaError::Busy);
        }
        let min = if version < Version(1, 1) {
            // Hafnium: no indirect messaging below v1.1 (its support check).
            return error(FfaError::Denied);
        } else if version == Version(1, 1) {
            HEADER_V1_1 as u32
        } else {
            HEADER_V1_2 as u32
        };
        let total = h.offset.checked_add(h.size);
        if h.offset < min || total.is_none_or(|t| t > 4096) {
            return error(FfaError::InvalidParameters);
        }
        let mut message = vec![0u8; 4096];
        let len = total.unwrap_or(0) as usize;
        let read = match caller {
            Caller::Nwd => self.nwd_mem.read(tx, &mut message[..len]),
            Caller::Sp(i) => self.sps[i].mem.read(tx, &mut message[..len]),
        };
        assert!(read);
        let full = if is_vm(sender) { 1 << 32 } else { 1 };
        match target {
            None => {
                let (_, rx, _) = self.nwd_mailbox.unwrap();
                assert!(self.nwd_mem.write(rx, &message));
                self.nwd_rx_owned = true;
                self.nwd_notif.framework |= full;
            }
            Some(t) => {
                let s = &mut self.sps[t];
                assert!(s.mem.write(s.def.rx_buffer(), &message));
                s.rx_full = true;
                if s.notif.enabled {
                    s.notif.framework |= full;
                    s.notif.unreported = true;
                }
            }
        }
        self.pend_sri(flags & 2 != 0);
        success(0, 0)
    }
}
