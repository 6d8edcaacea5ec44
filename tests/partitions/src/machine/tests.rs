//! The state machine driven by a scripted fake SPMC: each test plays the SPMC's answers and
//! checks every call the partition makes, register by register.

use std::vec;
use std::vec::Vec;

use ffa::{FfaError, SuccessArgs, TargetInfo};

use super::*;
use crate::definitions::{ECHO, LEGACY, RELAY};
use crate::protocol::{FpRegs, FpSeen, NOT_ON_THIS_CPU, fp_pattern, request};
use crate::{DEFINITIONS, ECHO_ID, LEGACY_ID, RELAY_ID, RELAY_UUID_A, RELAY_UUID_B};

const HOST: u16 = 0;

/// The partition's memory, as the harness would give it.
struct Memory {
    base: u64,
    bytes: Vec<u8>,
    /// CRASHes taken.
    crashes: u32,
    /// The FP/SIMD registers FP finds and leaves.
    fp: FpRegs,
}

impl Memory {
    fn of(def: &Definition) -> Self {
        Self {
            base: def.load_address,
            bytes: vec![0; def.memory_size as usize],
            crashes: 0,
            fp: FpRegs {
                v: [0; 32],
                fpcr: 0,
                fpsr: 0,
            },
        }
    }

    fn range(&self, addr: u64, len: usize) -> Option<core::ops::Range<usize>> {
        let start = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        let end = start.checked_add(len)?;
        (end <= self.bytes.len()).then_some(start..end)
    }
}

impl SpEnv for Memory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        match self.range(addr, buf.len()) {
            Some(r) => {
                buf.copy_from_slice(&self.bytes[r]);
                true
            }
            None => false,
        }
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> bool {
        match self.range(addr, data.len()) {
            Some(r) => {
                self.bytes[r].copy_from_slice(data);
                true
            }
            None => false,
        }
    }

    fn probe(&mut self, addr: u64) -> Result<u64, Fault> {
        let mut word = [0u8; 8];
        if self.read(addr, &mut word) {
            Ok(u64::from_le_bytes(word))
        } else {
            Err(Fault::unmapped_read(addr))
        }
    }

    fn poke(&mut self, addr: u64, value: u64) -> Result<(), Fault> {
        if self.write(addr, &value.to_le_bytes()) {
            Ok(())
        } else {
            Err(Fault::unmapped_read(addr))
        }
    }

    fn crash(&mut self) {
        self.crashes += 1;
    }

    fn fp_pattern(&mut self, last: u32, seed: u32) -> Option<FpSeen> {
        let seen = if last == 0 {
            FpSeen {
                vectors: 0,
                control: 0,
            }
        } else {
            FpSeen::compare(&self.fp, last)
        };
        self.fp = fp_pattern(seed);
        Some(seen)
    }
}

/// Memory that refuses every access.
struct NoMemory;

impl SpEnv for NoMemory {
    fn read(&self, _: u64, _: &mut [u8]) -> bool {
        false
    }
    fn write(&mut self, _: u64, _: &[u8]) -> bool {
        false
    }
    fn probe(&mut self, addr: u64) -> Result<u64, Fault> {
        Err(Fault::unmapped_read(addr))
    }
    fn poke(&mut self, addr: u64, _: u64) -> Result<(), Fault> {
        Err(Fault::unmapped_read(addr))
    }
    fn crash(&mut self) {}
}

fn regs(x: &[u64]) -> Regs {
    let mut r = [0; 18];
    r[..x.len()].copy_from_slice(x);
    r
}

fn success(w2: u32) -> Regs {
    encode(&Interface::Success {
        target_info: TargetInfo::default(),
        args: SuccessArgs::Args32([w2, 0, 0, 0, 0, 0]),
    })
}

fn error(code: FfaError) -> Regs {
    ffa::call::error(code)
}

const MSG_WAIT: u64 = 0x8400_006b;

/// A partition with the fake SPMC's answers played until its first FFA_MSG_WAIT.
struct Sp {
    machine: Machine,
    memory: Memory,
}

impl Sp {
    fn step(&mut self, entry: &Regs) -> Regs {
        self.machine.step(entry, &mut self.memory)
    }

    /// Boots context 0, checking each init call, with the given answers to them (the
    /// warm-boot entry's registration, if any, succeeds). Its package holds the boot
    /// information an SPMC would give it, and x0 points there.
    fn boot_with(def: &Definition, version: Regs, id: Regs, map: Regs) -> Self {
        let mut sp = Sp {
            machine: Machine::new(def, 0),
            memory: Memory::of(def),
        };
        package(&mut sp.memory, def, def.ffa_version, 0x180, 0x200);
        sp.machine.start(def.entry_point());
        let call = sp.step(&regs(&[def.load_address]));
        assert_eq!(
            call,
            regs(&[
                0x8400_0063,
                u64::from(ffa::version::to_u32(def.ffa_version))
            ])
        );
        assert_eq!(sp.step(&version), regs(&[0x8400_0069]));
        let call = sp.step(&id);
        assert_eq!(
            call,
            regs(&[0xc400_0066, def.tx_buffer(), def.rx_buffer(), 1]),
            "RXTX_MAP_64 with TX in x1, RX in x2, one page"
        );
        let mut answer = map;
        if let Some(warm) = def.secondary_entry_point() {
            let call = sp.step(&answer);
            assert_eq!(call, regs(&[0xc400_0087, warm]), "SECONDARY_EP_REGISTER_64");
            answer = success(0);
        }
        assert_eq!(sp.step(&answer), regs(&[MSG_WAIT]));
        assert!(sp.machine.is_waiting());
        sp
    }

    fn boot(def: &Definition) -> Self {
        Self::boot_with(
            def,
            regs(&[0x1_0002]),
            success(u32::from(def.endpoint_id)),
            success(0),
        )
    }
}

/// Writes a boot-information blob of `version` at the package start, naming a manifest of
/// `size` bytes whose device-tree header says `total`.
fn package(memory: &mut Memory, def: &Definition, version: Version, total: u32, size: u32) {
    let mut blob = [0u8; ffa::boot_info::MANIFEST_BLOB_SIZE];
    ffa::boot_info::write_manifest_blob(version, def.manifest_address(), size, &mut blob).unwrap();
    assert!(memory.write(def.load_address, &blob));
    let mut fdt = [0u8; 8];
    fdt[..4].copy_from_slice(&0xd00d_feed_u32.to_be_bytes());
    fdt[4..].copy_from_slice(&total.to_be_bytes());
    assert!(memory.write(def.manifest_address(), &fdt));
}

fn req32(src: u16, dst: u16, words: [u64; WORDS]) -> Regs {
    encode(&Interface::MsgSendDirectReq {
        src_id: src,
        dst_id: dst,
        args: DirectMsgArgs::Args32(words.map(|w| w as u32)),
    })
}

fn req2(src: u16, dst: u16, uuid: Uuid, words: &[u64]) -> Regs {
    encode(&Interface::MsgSendDirectReq2 {
        src_id: src,
        dst_id: dst,
        uuid,
        args: DirectMsg2Args(first::<WORDS2>(words)),
    })
}

/// Expects a DIRECT_RESP_32 from `src` to `dst` and returns its payload.
fn resp32(call: &Regs, src: u16, dst: u16) -> [u64; WORDS] {
    assert_eq!(call[0], 0x8400_0070, "DIRECT_RESP_32 expected: {call:x?}");
    assert_eq!(call[1], u64::from(src) << 16 | u64::from(dst));
    assert_eq!(call[2], 0, "w2 carries no framework flag");
    assert!(call[8..].iter().all(|&x| x == 0), "x8..x17 stay zero");
    first::<WORDS>(&call[3..8])
}

fn ok() -> u64 {
    Status::OK.word()
}

#[test]
fn init_calls_version_id_rxtx_then_waits() {
    for def in DEFINITIONS {
        let sp = Sp::boot(def);
        assert_eq!(sp.machine.faults(), 0, "{}", def.name);
    }
}

#[test]
fn init_failures_are_recorded_and_reported_in_every_response() {
    // The SPMC refuses the version, claims we are 0x8005, refuses the buffers.
    let mut sp = Sp::boot_with(
        &ECHO,
        regs(&[0xffff_ffff]),
        success(0x8005),
        error(FfaError::InvalidParameters),
    );
    let faults = fault::VERSION | fault::ID | fault::RXTX_MAP;
    assert_eq!(sp.machine.faults(), faults);
    let status = Status {
        code: code::OK,
        faults,
    }
    .word();
    // It answers as the ID the SPMC gave it.
    for _ in 0..2 {
        let call = sp.step(&req32(HOST, 0x8005, request(Command::Echo, &[7])));
        assert_eq!(resp32(&call, 0x8005, HOST), [status, 7, 0, 0, 0]);
    }
}

#[test]
fn version_answer_must_be_compatible() {
    // A newer minor is fine, an older one or another major is not.
    let newer = Sp::boot_with(&LEGACY, regs(&[0x1_0002]), success(0x8003), success(0));
    assert_eq!(newer.machine.faults(), 0);
    let older = Sp::boot_with(&ECHO, regs(&[0x1_0001]), success(0x8001), success(0));
    assert_eq!(older.machine.faults(), fault::VERSION);
    let major = Sp::boot_with(&ECHO, regs(&[0x2_0002]), success(0x8001), success(0));
    assert_eq!(major.machine.faults(), fault::VERSION);
    let failed_id = Sp::boot_with(
        &ECHO,
        regs(&[0x1_0002]),
        error(FfaError::Denied),
        success(0),
    );
    assert_eq!(failed_id.machine.faults(), fault::ID);
}

#[test]
fn the_boot_information_blob_is_read_and_reported() {
    let mut sp = Sp::boot(&LEGACY);
    assert_eq!(sp.machine.faults(), 0);
    let seen = sp.machine.boot_info().unwrap();
    assert_eq!(
        (seen.blob, seen.manifest, seen.size, seen.version),
        (
            LEGACY.load_address,
            LEGACY.manifest_address(),
            0x200,
            Version(1, 1)
        )
    );
    let call = sp.step(&req32(HOST, LEGACY_ID, request(Command::BootInfo, &[])));
    assert_eq!(
        resp32(&call, LEGACY_ID, HOST),
        [
            ok(),
            LEGACY.load_address,
            LEGACY.manifest_address(),
            0x200,
            0x1_0001
        ]
    );
    // A warm-started context got none and says so.
    let mut m = Machine::new(&RELAY, 1);
    m.start(RELAY.secondary_entry_point().unwrap());
    let mut mem = Memory::of(&RELAY);
    m.step(&regs(&[]), &mut mem);
    m.step(&success(u32::from(RELAY_ID)), &mut mem);
    let call = m.step(
        &req32(HOST, RELAY_ID, request(Command::BootInfo, &[])),
        &mut mem,
    );
    assert_eq!(resp32(&call, RELAY_ID, HOST), [ok(), 0, 0, 0, 0]);
    assert_eq!(m.faults(), 0);
}

#[test]
fn a_missing_or_wrong_blob_is_a_fault() {
    // (what the package holds, x0) → BOOT_INFO.
    type Setup = fn(&mut Memory);
    let cases: [(Setup, u64); 6] = [
        (|_| {}, ECHO.load_address),
        (|m| package(m, &ECHO, Version(1, 2), 0x180, 0x200), 0),
        (
            |m| package(m, &ECHO, Version(1, 1), 0x180, 0x200),
            ECHO.load_address,
        ),
        (
            |m| package(m, &ECHO, Version(1, 2), 0x201, 0x200),
            ECHO.load_address,
        ),
        (
            |m| {
                package(m, &ECHO, Version(1, 2), 0x180, 0x200);
                assert!(m.write(ECHO.manifest_address(), &[0; 4]));
            },
            ECHO.load_address,
        ),
        (
            |m| package(m, &ECHO, Version(1, 2), 0x180, 0x200),
            ECHO.manifest_address(),
        ),
    ];
    for (i, (setup, x0)) in cases.into_iter().enumerate() {
        let mut m = Machine::new(&ECHO, 0);
        let mut mem = Memory::of(&ECHO);
        setup(&mut mem);
        m.start(ECHO.entry_point());
        assert_eq!(m.step(&regs(&[x0]), &mut mem)[0], 0x8400_0063, "case {i}");
        assert_eq!(m.faults(), fault::BOOT_INFO, "case {i}");
    }
    // Memory it cannot read at all: the same fault, no panic.
    let mut m = Machine::new(&ECHO, 0);
    m.step(&regs(&[ECHO.load_address]), &mut NoMemory);
    assert_eq!(m.faults(), fault::BOOT_INFO);
}

#[test]
fn start_address_selects_cold_or_warm_boot() {
    let warm = RELAY.secondary_entry_point().unwrap();
    // (context, start address, first call, faults)
    let cases = [
        (0, RELAY.entry_point(), 0x8400_0063, 0),
        (0, warm, 0x8400_0069, 0),
        (1, warm, 0x8400_0069, 0),
        // relay registered a warm entry: its primary one is wrong for context 1.
        (1, RELAY.entry_point(), 0x8400_0069, fault::ENTRY),
        (2, RELAY.load_address, 0x8400_0069, fault::ENTRY),
    ];
    for (vcpu, pc, first, faults) in cases {
        let mut m = Machine::new(&RELAY, vcpu);
        m.start(pc);
        let mut mem = Memory::of(&RELAY);
        package(&mut mem, &RELAY, Version(1, 2), 0x100, 0x100);
        let entry = regs(&[RELAY.load_address]);
        assert_eq!(m.step(&entry, &mut mem)[0], first, "{vcpu} at {pc:#x}");
        assert_eq!(m.faults(), faults, "{vcpu} at {pc:#x}");
    }
    // echo registers no warm entry, so its primary entry is right for any warm start.
    let mut m = Machine::new(&ECHO, 1);
    m.start(ECHO.entry_point());
    assert_eq!(m.faults(), 0);
    m.start(ECHO.entry_point() + 4);
    assert_eq!(m.faults(), fault::ENTRY);
}

#[test]
fn a_restart_forgets_the_previous_run() {
    let mut sp = Sp::boot(&RELAY);
    // Busy with a yield when its CPU goes off; restarted, it initialises again as warm.
    let call = sp.step(&req32(HOST, RELAY_ID, request(Command::Yield, &[1])));
    assert_eq!(call[0], 0x8400_006c);
    sp.machine.start(RELAY.secondary_entry_point().unwrap());
    assert_eq!(sp.step(&regs(&[])), regs(&[0x8400_0069]));
    assert_eq!(sp.step(&success(u32::from(RELAY_ID))), regs(&[MSG_WAIT]));
    let call = sp.step(&req32(HOST, RELAY_ID, request(Command::WhoAmI, &[])));
    assert_eq!(resp32(&call, RELAY_ID, HOST)[0], ok());
}

#[test]
fn a_refused_warm_entry_registration_is_a_fault() {
    let mut m = Machine::new(&RELAY, 0);
    let mut mem = Memory::of(&RELAY);
    package(&mut mem, &RELAY, Version(1, 2), 0x100, 0x100);
    m.step(&regs(&[RELAY.load_address]), &mut mem);
    m.step(&regs(&[0x1_0002]), &mut mem);
    m.step(&success(u32::from(RELAY_ID)), &mut mem);
    let call = m.step(&success(0), &mut mem);
    assert_eq!(call[0], 0xc400_0087);
    let call = m.step(&error(FfaError::NotSupported), &mut mem);
    assert_eq!(call, regs(&[MSG_WAIT]));
    assert_eq!(m.faults(), fault::SECONDARY_EP);
}

#[test]
fn secondary_context_checks_its_id_and_waits() {
    let mut m = Machine::new(&RELAY, 1);
    let mut mem = Memory::of(&RELAY);
    assert_eq!(m.step(&regs(&[0]), &mut mem), regs(&[0x8400_0069]));
    assert_eq!(
        m.step(&success(u32::from(RELAY_ID)), &mut mem),
        regs(&[MSG_WAIT])
    );
    assert_eq!(m.faults(), 0);
    let call = m.step(
        &req32(HOST, RELAY_ID, request(Command::WhoAmI, &[])),
        &mut mem,
    );
    let words = resp32(&call, RELAY_ID, HOST);
    assert_eq!(words[1], u64::from(RELAY_ID) << 16 | 1, "ID and vCPU 1");
}

#[test]
fn echo_answers_each_transport_with_its_response() {
    let mut sp = Sp::boot(&ECHO);
    let call = sp.step(&req32(
        HOST,
        ECHO_ID,
        request(Command::Echo, &[1, 2, 3, 0xffff_ffff]),
    ));
    assert_eq!(resp32(&call, ECHO_ID, HOST), [ok(), 1, 2, 3, 0xffff_ffff]);

    // SMC64: x3..x7 come back; x8..x17 of the request are not echoed (reserved in v1.2).
    let mut req = regs(&[0xc400_006f, u64::from(HOST) << 16 | u64::from(ECHO_ID), 0]);
    req[3] = Command::Echo.code();
    req[4] = 0x1_2345_6789;
    req[7] = 9;
    req[8] = 0xdead;
    let call = sp.step(&req);
    assert_eq!(call[0], 0xc400_0070);
    assert_eq!(call[1], u64::from(ECHO_ID) << 16);
    assert_eq!(&call[3..8], &[ok(), 0x1_2345_6789, 0, 0, 9]);
    assert!(call[8..].iter().all(|&x| x == 0));

    let words: Vec<u64> = (0..14)
        .map(|i| {
            if i == 0 {
                Command::Echo.code()
            } else {
                100 + i
            }
        })
        .collect();
    let call = sp.step(&req2(HOST, ECHO_ID, ECHO.uuids[0], &words));
    assert_eq!(call[0], 0xc400_008e, "DIRECT_RESP2");
    assert_eq!(call[1], u64::from(ECHO_ID) << 16);
    assert_eq!((call[2], call[3]), (0, 0));
    assert_eq!(call[4], ok());
    assert_eq!(&call[5..], &words[1..]);
}

#[test]
fn who_am_i_names_the_uuid_a_request2_used() {
    let mut sp = Sp::boot(&RELAY);
    let cases = [
        (RELAY_UUID_A, 0),
        (RELAY_UUID_B, 1),
        (Uuid::nil(), uuid_index::NIL),
        (FOREIGN_UUID, uuid_index::FOREIGN),
    ];
    for (uuid, index) in cases {
        let call = sp.step(&req2(ECHO_ID, RELAY_ID, uuid, &[Command::WhoAmI.code()]));
        assert_eq!(call[0], 0xc400_008e);
        assert_eq!(call[1], u64::from(RELAY_ID) << 16 | u64::from(ECHO_ID));
        assert_eq!(
            &call[4..9],
            &[
                ok(),
                u64::from(RELAY_ID) << 16,
                Transport::Req2.word(),
                index,
                u64::from(ECHO_ID)
            ]
        );
    }
    let call = sp.step(&req32(HOST, RELAY_ID, request(Command::WhoAmI, &[])));
    assert_eq!(
        resp32(&call, RELAY_ID, HOST),
        [
            ok(),
            u64::from(RELAY_ID) << 16,
            Transport::Req32.word(),
            uuid_index::NONE,
            0
        ]
    );
}

#[test]
fn unknown_command_and_wrong_destination_are_answered_with_markers() {
    let mut sp = Sp::boot(&ECHO);
    let call = sp.step(&req32(HOST, ECHO_ID, [0x1234, 0, 0, 0, 0]));
    let unknown = Status {
        code: code::UNKNOWN_COMMAND,
        faults: 0,
    };
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [unknown.word(), 0x1234, 0, 0, 0]
    );
    let call = sp.step(&req32(HOST, RELAY_ID, request(Command::Echo, &[1])));
    let misdelivered = Status {
        code: code::MISDELIVERED,
        faults: 0,
    };
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [misdelivered.word(), u64::from(RELAY_ID), 0, 0, 0]
    );
}

#[test]
fn run_and_errors_while_waiting_wait_again() {
    let mut sp = Sp::boot(&ECHO);
    let run = encode(&Interface::Run {
        target_info: TargetInfo {
            endpoint_id: ECHO_ID,
            vcpu_id: 0,
        },
        is_32bit: true,
    });
    // Given cycles, it asks for its pending virtual interrupt; with none, it waits again.
    assert_eq!(sp.step(&run), regs(&[0xff04]));
    assert_eq!(sp.step(&regs(&[0xffff_ffff])), regs(&[MSG_WAIT]));
    assert_eq!(
        sp.step(&regs(&[0x8400_0062])),
        regs(&[MSG_WAIT]),
        "FFA_INTERRUPT"
    );
    assert_eq!(sp.machine.faults(), 0);
    assert_eq!(sp.step(&error(FfaError::Denied)), regs(&[MSG_WAIT]));
    assert_eq!(sp.machine.faults(), fault::WAIT_REJECTED);
    // A v1.1 partition ignores a DIRECT_REQ2 (not a function at its version).
    let mut legacy = Sp::boot(&LEGACY);
    let call = legacy.step(&req2(
        HOST,
        LEGACY_ID,
        LEGACY.uuids[0],
        &[Command::Echo.code()],
    ));
    assert_eq!(call, regs(&[MSG_WAIT]));
}

#[test]
fn psci_framework_message_is_acknowledged() {
    let mut sp = Sp::boot(&RELAY);
    let msg = regs(&[0x8400_006f, 0x8000_8002, 0x8000_0000, 0x8400_0002]);
    let call = sp.step(&msg);
    assert_eq!(call[0], 0x8400_0070);
    assert_eq!(call[1], u64::from(RELAY_ID) << 16 | 0x8000);
    assert_eq!((call[2], call[3]), (0x8000_0002, 0));
}

#[test]
fn forward_reports_the_inner_response_or_error() {
    let mut sp = Sp::boot(&ECHO);
    let outer = request(
        Command::Forward,
        &[u64::from(RELAY_ID), Command::Echo.code(), 5, 6],
    );
    let call = sp.step(&req32(HOST, ECHO_ID, outer));
    assert_eq!(
        call,
        req32(ECHO_ID, RELAY_ID, [Command::Echo.code(), 5, 6, 0, 0])
    );
    let inner = encode(&Interface::MsgSendDirectResp {
        src_id: RELAY_ID,
        dst_id: ECHO_ID,
        args: DirectMsgArgs::Args32([0, 5, 6, 0, 0]),
    });
    let call = sp.step(&inner);
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [ok(), Reply::Response(Status::OK).word(), 5, 6, 0]
    );

    // An error comes back as its code.
    sp.step(&req32(HOST, ECHO_ID, outer));
    let call = sp.step(&error(FfaError::Denied));
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [ok(), Reply::Error(-6).word(), 0, 0, 0]
    );

    // A response from someone else is flagged.
    sp.step(&req32(HOST, ECHO_ID, outer));
    let stray = encode(&Interface::MsgSendDirectResp {
        src_id: LEGACY_ID,
        dst_id: ECHO_ID,
        args: DirectMsgArgs::Args32([0, 1, 2, 3, 4]),
    });
    let call = sp.step(&stray);
    let unexpected = Status {
        code: code::UNEXPECTED_RESPONSE,
        faults: 0,
    };
    assert_eq!(resp32(&call, ECHO_ID, HOST)[..2], [unexpected.word(), 0]);

    // Anything else is reported by its function ID.
    sp.step(&req32(HOST, ECHO_ID, outer));
    let call = sp.step(&regs(&[0x8400_006c, u64::from(RELAY_ID) << 16]));
    assert_eq!(resp32(&call, ECHO_ID, HOST)[1], 0x8400_006c);

    // An ID that is not 16-bit is refused before any call.
    let call = sp.step(&req32(
        HOST,
        ECHO_ID,
        request(Command::Forward, &[0x1_0000]),
    ));
    let bad = Status {
        code: code::BAD_ARGUMENT,
        faults: 0,
    };
    assert_eq!(resp32(&call, ECHO_ID, HOST)[0], bad.word());
}

#[test]
fn forward2_names_the_selected_uuid() {
    let mut sp = Sp::boot(&ECHO);
    let outer = request(
        Command::Forward2,
        &[u64::from(RELAY_ID), 1, Command::WhoAmI.code(), 0],
    );
    let call = sp.step(&req32(HOST, ECHO_ID, outer));
    assert_eq!(
        call,
        req2(ECHO_ID, RELAY_ID, RELAY_UUID_B, &[Command::WhoAmI.code()])
    );
    let inner = encode(&Interface::MsgSendDirectResp2 {
        src_id: RELAY_ID,
        dst_id: ECHO_ID,
        args: DirectMsg2Args(first::<WORDS2>(&[
            ok(),
            u64::from(RELAY_ID) << 16,
            3,
            1,
            0x8001,
        ])),
    });
    let call = sp.step(&inner);
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [ok(), 0, u64::from(RELAY_ID) << 16, 3, 1]
    );
    // A DIRECT_RESP to a DIRECT_REQ2 is the wrong kind.
    sp.step(&req32(HOST, ECHO_ID, outer));
    let wrong_kind = encode(&Interface::MsgSendDirectResp {
        src_id: RELAY_ID,
        dst_id: ECHO_ID,
        args: DirectMsgArgs::Args32([0; 5]),
    });
    let call = sp.step(&wrong_kind);
    assert_eq!(
        resp32(&call, ECHO_ID, HOST)[0],
        u64::from(code::UNEXPECTED_RESPONSE)
    );

    let foreign = request(
        Command::Forward2,
        &[u64::from(RELAY_ID), uuid_selector::FOREIGN],
    );
    let call = sp.step(&req32(HOST, ECHO_ID, foreign));
    assert_eq!(call, req2(ECHO_ID, RELAY_ID, FOREIGN_UUID, &[0]));
    sp.step(&error(FfaError::InvalidParameters));

    let nil = request(
        Command::Forward2,
        &[u64::from(RELAY_ID), uuid_selector::NIL],
    );
    assert_eq!(
        sp.step(&req32(HOST, ECHO_ID, nil)),
        req2(ECHO_ID, RELAY_ID, Uuid::nil(), &[0])
    );
    sp.step(&error(FfaError::InvalidParameters));

    // relay has two UUIDs: index 2 does not exist, nor does an unknown partition's.
    for (dst, selector) in [(RELAY_ID, 2), (0x8009, 0)] {
        let call = sp.step(&req32(
            HOST,
            ECHO_ID,
            request(Command::Forward2, &[u64::from(dst), selector]),
        ));
        assert_eq!(
            resp32(&call, ECHO_ID, HOST)[0],
            u64::from(code::BAD_ARGUMENT)
        );
    }
}

#[test]
fn spoof_sends_as_the_claimed_source_and_reports_the_error() {
    let mut sp = Sp::boot(&ECHO);
    let outer = request(Command::Spoof, &[u64::from(RELAY_ID), u64::from(LEGACY_ID)]);
    let call = sp.step(&req32(HOST, ECHO_ID, outer));
    assert_eq!(
        call,
        req32(LEGACY_ID, RELAY_ID, [Command::Echo.code(), 0, 0, 0, 0])
    );
    let call = sp.step(&error(FfaError::InvalidParameters));
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [
            ok(),
            CallStatus::error(FfaError::InvalidParameters).word(),
            0,
            0,
            0
        ]
    );
}

#[test]
fn yield_answers_the_original_request_when_resumed() {
    let mut sp = Sp::boot(&ECHO);
    let call = sp.step(&req32(HOST, ECHO_ID, request(Command::Yield, &[1, 2, 3])));
    assert_eq!(call, regs(&[0x8400_006c]));
    let call = sp.step(&success(0));
    assert_eq!(resp32(&call, ECHO_ID, HOST), [ok(), 0, 1, 2, 3]);
}

#[test]
fn respond_to_wrong_then_respond_properly() {
    let mut sp = Sp::boot(&ECHO);
    let call = sp.step(&req32(
        HOST,
        ECHO_ID,
        request(Command::RespondToWrong, &[u64::from(RELAY_ID)]),
    ));
    assert_eq!(resp32(&call, ECHO_ID, RELAY_ID), [ok(), 0, 0, 0, 0]);
    let call = sp.step(&error(FfaError::Denied));
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [ok(), CallStatus::error(FfaError::Denied).word(), 0, 0, 0]
    );
}

#[test]
fn partition_info_reads_the_rx_buffer_and_releases_it() {
    let mut sp = Sp::boot(&ECHO);
    let words = UuidHelper::to_u32_regs(RELAY_UUID_A).map(u64::from);
    let call = sp.step(&req32(
        HOST,
        ECHO_ID,
        request(Command::PartitionInfo, &words),
    ));
    let mut expected = regs(&[0x8400_0068]);
    expected[1..5].copy_from_slice(&words);
    assert_eq!(call, expected);
    assert!(sp.memory.write(ECHO.rx_buffer(), &0x8002u16.to_le_bytes()));
    let call = sp.step(&success_count(1, 24));
    assert_eq!(call, regs(&[0x8400_0065]), "RX_RELEASE");
    let call = sp.step(&success(0));
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [ok(), 0, 1 | 24 << 16, 0x8002, 0]
    );

    // A refusal is reported, and the partition does not release what it does not own.
    sp.step(&req32(HOST, ECHO_ID, request(Command::PartitionInfo, &[])));
    let call = sp.step(&error(FfaError::Busy));
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [ok(), CallStatus::error(FfaError::Busy).word(), 0, 0, 1]
    );
}

fn success_count(count: u32, size: u32) -> Regs {
    encode(&Interface::Success {
        target_info: TargetInfo::default(),
        args: SuccessArgs::Args32([count, size, 0, 0, 0, 0]),
    })
}

#[test]
fn partition_info_reports_a_memory_fault() {
    let mut m = Machine::new(&ECHO, 0);
    for answer in [regs(&[0]), regs(&[0x1_0002]), success(0x8001), success(0)] {
        m.step(&answer, &mut NoMemory);
    }
    m.step(
        &req32(HOST, ECHO_ID, request(Command::PartitionInfo, &[])),
        &mut NoMemory,
    );
    assert_eq!(
        m.step(&success_count(4, 24), &mut NoMemory),
        regs(&[0x8400_0065])
    );
    let call = m.step(&success(0), &mut NoMemory);
    // No memory at all: no boot information either.
    let status = Status {
        code: code::MEMORY_FAULT,
        faults: fault::BOOT_INFO,
    };
    assert_eq!(resp32(&call, ECHO_ID, HOST)[0], status.word());
}

#[test]
fn rxtx_exercises_the_mailbox_and_maps_it_back() {
    let map = regs(&[0xc400_0066, ECHO.tx_buffer(), ECHO.rx_buffer(), 1]);
    let answers = [
        (map, error(FfaError::Denied)),
        (regs(&[0x8400_0065]), error(FfaError::Denied)),
        (regs(&[0x8400_0067]), success(0)),
        (regs(&[0x8400_0067]), error(FfaError::InvalidParameters)),
        (map, success(0)),
    ];
    let mut sp = Sp::boot(&ECHO);
    let mut call = sp.step(&req32(HOST, ECHO_ID, request(Command::Rxtx, &[])));
    for (expected, answer) in answers {
        assert_eq!(call, expected);
        call = sp.step(&answer);
    }
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [
            ok(),
            CallStatus::error(FfaError::Denied).word(),
            CallStatus::error(FfaError::Denied).word(),
            0,
            CallStatus::error(FfaError::InvalidParameters).word(),
        ]
    );

    // If the buffers cannot be mapped back, every later response says so.
    let mut call = sp.step(&req32(HOST, ECHO_ID, request(Command::Rxtx, &[])));
    for _ in 0..4 {
        call = sp.step(&success(0));
    }
    assert_eq!(call, map);
    let call = sp.step(&error(FfaError::NoMemory));
    let remap = Status {
        code: code::OK,
        faults: fault::REMAP,
    };
    assert_eq!(resp32(&call, ECHO_ID, HOST), [remap.word(), 0, 0, 0, 0]);
}

#[test]
fn msg_wait_while_busy_reports_then_answers() {
    let mut sp = Sp::boot(&ECHO);
    let call = sp.step(&req32(
        HOST,
        ECHO_ID,
        request(Command::MsgWaitWhileBusy, &[]),
    ));
    assert_eq!(call, regs(&[MSG_WAIT]));
    let call = sp.step(&error(FfaError::Denied));
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [ok(), CallStatus::error(FfaError::Denied).word(), 0, 0, 0]
    );
}

#[test]
fn fp_checks_the_pattern_it_left_and_a_restart_forgets_it() {
    let mut sp = Sp::boot(&ECHO);
    let fp = |sp: &mut Sp, seed: u64| {
        let call = sp.step(&req32(HOST, ECHO_ID, request(Command::Fp, &[seed])));
        resp32(&call, ECHO_ID, HOST)
    };
    let bad = Status {
        code: code::BAD_ARGUMENT,
        faults: 0,
    };
    assert_eq!(fp(&mut sp, 0)[..2], [bad.word(), Command::Fp.code()]);
    assert_eq!(fp(&mut sp, 7), [ok(), 0, 0, 0, 0]);
    assert_eq!(fp(&mut sp, 8), [ok(), 0, 0, 7, 0]);
    // Someone else's values in V3 and FPSR.
    sp.memory.fp.v[3] ^= 1 << 100;
    sp.memory.fp.fpsr = 0;
    assert_eq!(fp(&mut sp, 9), [ok(), 1 << 3, 0b10, 8, 0]);
    sp.memory.fp.fpcr = fp_pattern(8).fpcr;
    assert_eq!(fp(&mut sp, 10), [ok(), 0, 0b01, 9, 0]);
    sp.machine.start(ECHO.entry_point());
    assert_eq!(sp.machine.fp_seed, 0, "a restarted context left no pattern");
}

#[test]
fn fp_without_a_cpu_says_so() {
    let mut sp = Sp::boot(&ECHO);
    let call = sp.machine.step(
        &req32(HOST, ECHO_ID, request(Command::Fp, &[5])),
        &mut NoMemory,
    );
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [ok(), NOT_ON_THIS_CPU, NOT_ON_THIS_CPU, 0, 0]
    );
}

#[test]
fn fp_patterns_of_different_seeds_differ_in_every_register() {
    for (a, b) in [(1, 2), (3, 4), (7, 8), (8, 9), (1, 9)] {
        assert_eq!(
            FpSeen::compare(&fp_pattern(a), b),
            FpSeen {
                vectors: u32::MAX,
                control: 0b11
            },
            "{a} against {b}"
        );
        assert_eq!(
            FpSeen::compare(&fp_pattern(a), a),
            FpSeen {
                vectors: 0,
                control: 0
            }
        );
    }
}

#[test]
fn call_makes_a_raw_call_and_reports_its_answer() {
    let mut sp = Sp::boot(&LEGACY);
    let call = sp.step(&req32(
        HOST,
        LEGACY_ID,
        request(Command::Call, &[0x8400_0085, 1, 2, 3]),
    ));
    assert_eq!(call, regs(&[0x8400_0085, 1, 2, 3]));
    let call = sp.step(&success(0x8000));
    assert_eq!(
        resp32(&call, LEGACY_ID, HOST),
        [ok(), 0x8400_0061, 0, 0x8000, 0]
    );
}

/// xorshift64: deterministic noise for the robustness test.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn random_entries_never_panic_and_refusals_lead_back_to_waiting() {
    let fids: [u64; 12] = [
        0x8400_006f,
        0xc400_006f,
        0xc400_008d,
        0x8400_0070,
        0xc400_0070,
        0xc400_008e,
        0x8400_0060,
        0x8400_0061,
        0x8400_006d,
        0x8400_006b,
        0x8400_0063,
        0xdead_beef,
    ];
    let mut seed = 0x1234_5678_9abc_def1u64;
    for def in DEFINITIONS {
        for vcpu in 0..2 {
            let mut m = Machine::new(def, vcpu);
            let mut mem = Memory::of(def);
            for _ in 0..20_000 {
                let mut entry = [0u64; 18];
                for r in entry.iter_mut() {
                    *r = next(&mut seed);
                }
                entry[0] = fids[(next(&mut seed) % fids.len() as u64) as usize];
                // Often aim at the partition with a real command so the sub-calls run.
                if next(&mut seed).is_multiple_of(2) {
                    entry[1] = (entry[1] & 0xffff_0000) | u64::from(def.endpoint_id);
                    entry[2] = 0;
                    entry[3] = 0x5350_0001 + next(&mut seed) % 15;
                }
                m.step(&entry, &mut mem);
                // Whatever happened, refusals of its calls bring it back to waiting.
                if next(&mut seed).is_multiple_of(8) {
                    for _ in 0..5 {
                        if m.is_waiting() {
                            break;
                        }
                        m.step(&error(FfaError::Denied), &mut mem);
                    }
                    assert!(m.is_waiting(), "{} stuck in {:?}", def.name, m.state);
                }
            }
        }
    }
}

#[test]
fn probe_reports_the_word_or_the_fault_its_handler_took() {
    let mut sp = Sp::boot(&ECHO);
    let rx = ECHO.rx_buffer();
    assert!(sp.memory.write(rx, &0x1122_3344_5566_7788u64.to_le_bytes()));
    let call = sp.step(&req32(HOST, ECHO_ID, request(Command::Probe, &[rx])));
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [ok(), probe::READ, 0x5566_7788, 0x1122_3344, 0]
    );
    // Relay's memory: the load faults, the partition reports it and goes on.
    let call = sp.step(&req32(
        HOST,
        ECHO_ID,
        request(Command::Probe, &[RELAY.load_address]),
    ));
    let fault = Fault::unmapped_read(RELAY.load_address);
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [
            ok(),
            probe::FAULTED,
            RELAY.load_address,
            0,
            fault.syndrome & 0xffff_ffff
        ]
    );
    assert_eq!(fault.exception_class(), Fault::EC_DATA_ABORT_SAME_EL);
    assert!(!fault.is_write());
    // The high word of the address counts; an unaligned address is refused before any load.
    let call = sp.step(&req32(HOST, ECHO_ID, request(Command::Probe, &[rx, 1])));
    assert_eq!(resp32(&call, ECHO_ID, HOST)[1..4], [probe::FAULTED, rx, 1]);
    let call = sp.step(&req32(HOST, ECHO_ID, request(Command::Probe, &[rx + 4])));
    let status = Status {
        code: code::BAD_ARGUMENT,
        faults: 0,
    };
    assert_eq!(
        resp32(&call, ECHO_ID, HOST)[..2],
        [status.word(), Command::Probe.code()]
    );
    assert!(sp.machine.is_waiting());
    assert_eq!(sp.machine.faults(), 0);
}

#[test]
fn crash_takes_the_fault_and_says_so_if_it_survives() {
    let mut sp = Sp::boot(&LEGACY);
    let call = sp.step(&req32(HOST, LEGACY_ID, request(Command::Crash, &[])));
    assert_eq!(sp.memory.crashes, 1);
    let status = Status {
        code: code::CRASH_SURVIVED,
        faults: 0,
    };
    assert_eq!(resp32(&call, LEGACY_ID, HOST), [status.word(), 0, 0, 0, 0]);
    assert!(sp.machine.is_waiting());
}

#[test]
fn run_forward_runs_the_callee_each_time_it_yields() {
    let mut sp = Sp::boot(&RELAY);
    let outer = request(
        Command::RunForward,
        &[u64::from(ECHO_ID), Command::YieldTimes.code(), 2, 0],
    );
    let call = sp.step(&req32(HOST, RELAY_ID, outer));
    assert_eq!(
        call,
        req32(RELAY_ID, ECHO_ID, [Command::YieldTimes.code(), 2, 0, 0, 0])
    );
    let yielded = regs(&[0x8400_006c, u64::from(ECHO_ID) << 16, 5, 6]);
    for _ in 0..2 {
        let call = sp.step(&yielded);
        assert_eq!(call, regs(&[0x8400_006d, u64::from(ECHO_ID) << 16]));
    }
    let inner = encode(&Interface::MsgSendDirectResp {
        src_id: ECHO_ID,
        dst_id: RELAY_ID,
        args: DirectMsgArgs::Args32([0, 2, 0, 0, 0]),
    });
    let call = sp.step(&inner);
    assert_eq!(
        resp32(&call, RELAY_ID, HOST),
        [
            ok(),
            Reply::Response(Status::OK).word(),
            2,
            2,
            CallStatus::NotCalled.word()
        ]
    );
    // A refused FFA_RUN ends the loop with its error.
    sp.step(&req32(HOST, RELAY_ID, outer));
    sp.step(&yielded);
    let call = sp.step(&error(FfaError::Denied));
    assert_eq!(
        resp32(&call, RELAY_ID, HOST)[..3],
        [ok(), Reply::Error(-6).word(), 1]
    );
}

#[test]
fn run_forward_probes_at_the_first_yield() {
    use crate::protocol::run_probe;
    let mut sp = Sp::boot(&RELAY);
    let target = u64::from(ECHO_ID) << 16;
    let yielded = regs(&[0x8400_006c, target]);
    let expected_probes = [
        (
            run_probe::REQUEST_CALLEE,
            req32(RELAY_ID, ECHO_ID, [Command::Echo.code(), 0, 0, 0, 0]),
        ),
        (
            run_probe::RESPOND,
            req32(RELAY_ID, HOST, [ok(), 0, 0, 0, 0]),
        ),
        (run_probe::MSG_WAIT, regs(&[MSG_WAIT])),
        (run_probe::YIELD_ITSELF, regs(&[0x8400_006c])),
    ];
    for (probe, expected) in expected_probes {
        let outer = request(
            Command::RunForward,
            &[u64::from(ECHO_ID), Command::Yield.code(), 0, probe],
        );
        sp.step(&req32(HOST, RELAY_ID, outer));
        let call = sp.step(&yielded);
        if probe == run_probe::RESPOND {
            assert_eq!(resp32(&call, RELAY_ID, HOST), [ok(), 0, 0, 0, 0]);
        } else {
            assert_eq!(call, expected);
        }
        let call = sp.step(&error(FfaError::Denied));
        assert_eq!(call, regs(&[0x8400_006d, target]));
        // No probe at the second yield.
        assert_eq!(sp.step(&yielded), regs(&[0x8400_006d, target]));
        let call = sp.step(&error(FfaError::Aborted));
        assert_eq!(
            resp32(&call, RELAY_ID, HOST),
            [
                ok(),
                Reply::Error(-8).word(),
                2,
                0,
                CallStatus::error(FfaError::Denied).word()
            ]
        );
    }
}

#[test]
fn yield_times_counts_the_successful_resumptions() {
    let mut sp = Sp::boot(&ECHO);
    let call = sp.step(&req32(HOST, ECHO_ID, request(Command::YieldTimes, &[3])));
    assert_eq!(call, regs(&[0x8400_006c]));
    assert_eq!(sp.step(&success(0)), regs(&[0x8400_006c]));
    assert_eq!(sp.step(&error(FfaError::Denied)), regs(&[0x8400_006c]));
    let call = sp.step(&success(0));
    assert_eq!(resp32(&call, ECHO_ID, HOST)[..3], [ok(), 2, 0]);
    let call = sp.step(&req32(HOST, ECHO_ID, request(Command::YieldTimes, &[0])));
    assert_eq!(
        resp32(&call, ECHO_ID, HOST)[..3],
        [ok(), 0, CallStatus::NotCalled.word()]
    );
}

#[test]
fn run_with_the_npi_gets_notifications_and_woken_reports_them() {
    let mut sp = Sp::boot(&ECHO);
    let run = encode(&Interface::Run {
        target_info: TargetInfo {
            endpoint_id: ECHO_ID,
            vcpu_id: 0,
        },
        is_32bit: true,
    });
    assert_eq!(sp.step(&run), regs(&[0xff04]));
    // The NPI: it gets its partition and normal-world bitmaps on its own vCPU.
    let get = sp.step(&regs(&[crate::protocol::NPI_INTID]));
    assert_eq!(get, regs(&[0x8400_0082, u64::from(ECHO_ID), 0b11]));
    let mut bits = regs(&[0x8400_0061, 0, 0x10, 0, 0x3]);
    bits[6] = 0;
    assert_eq!(sp.step(&bits), regs(&[MSG_WAIT]));
    let call = sp.step(&req32(HOST, ECHO_ID, request(Command::Woken, &[])));
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [Status::OK.word(), 1, crate::protocol::NPI_INTID, 0x10, 0x3]
    );
    // Asking again: nothing since.
    let call = sp.step(&req32(HOST, ECHO_ID, request(Command::Woken, &[])));
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [Status::OK.word(), 0, 0, 0, 0]
    );
}

#[test]
fn send2_writes_a_v1_2_or_v1_1_header_and_read2_reads_it() {
    use crate::protocol::message::{HEADER_V1_1, HEADER_V1_2, Header};
    let mut sp = Sp::boot(&ECHO);
    let call = sp.step(&req32(
        HOST,
        ECHO_ID,
        request(Command::Send2, &[0, 0, 0, 0x77]),
    ));
    assert_eq!(call, regs(&[0x8400_0086]));
    let mut bytes = [0u8; HEADER_V1_2];
    assert!(sp.memory.read(ECHO.tx_buffer(), &mut bytes));
    let h = Header::parse(&bytes);
    assert_eq!(
        (h.offset, h.sender, h.receiver, h.size, h.uuid),
        (HEADER_V1_2 as u32, ECHO_ID, 0, 12, ECHO.uuids[0])
    );
    let call = sp.step(&ffa::call::success32([0; 6]));
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [Status::OK.word(), 0, 0, 0, 0]
    );
    let mut legacy = Sp::boot(&LEGACY);
    let call = legacy.step(&req32(
        HOST,
        LEGACY_ID,
        request(
            Command::Send2,
            &[ECHO_ID.into(), 0, crate::protocol::send2::WRONG_SENDER, 1],
        ),
    ));
    assert_eq!(call, regs(&[0x8400_0086]));
    assert!(legacy.memory.read(LEGACY.tx_buffer(), &mut bytes));
    let h = Header::parse(&bytes);
    assert_eq!(
        (h.offset, h.sender, h.receiver),
        (HEADER_V1_1 as u32, LEGACY_ID + 1, ECHO_ID)
    );
    // READ2: the framework bitmaps, then the message in its RX buffer, then the release.
    let msg = Header {
        offset: HEADER_V1_2 as u32,
        receiver: ECHO_ID,
        sender: 0,
        size: 12,
        uuid: ECHO.uuids[0],
    };
    assert!(sp.memory.write(ECHO.rx_buffer(), &msg.bytes()));
    assert!(sp.memory.write(
        ECHO.rx_buffer() + HEADER_V1_2 as u64,
        &0x1234u32.to_le_bytes()
    ));
    let call = sp.step(&req32(HOST, ECHO_ID, request(Command::Read2, &[])));
    assert_eq!(call, regs(&[0x8400_0082, u64::from(ECHO_ID), 0b1100]));
    let mut got = ffa::call::success32([0; 6]);
    got[7] = 1;
    assert_eq!(sp.step(&got), regs(&[0x8400_0065]));
    let call = sp.step(&ffa::call::success32([0; 6]));
    assert_eq!(
        resp32(&call, ECHO_ID, HOST),
        [Status::OK.word(), 0x100, 12, 0x1234, 0]
    );
}

#[test]
fn notify_commands_make_the_raw_calls_and_report_them() {
    let mut sp = Sp::boot(&RELAY);
    let w1 = u64::from(ECHO_ID) << 16 | u64::from(RELAY_ID);
    let cases = [
        (
            Command::NotifyBind,
            [w1, 1, 0x10, 0x2],
            [0x8400_007f, w1, 1, 0x10, 0x2],
        ),
        (
            Command::NotifyUnbind,
            [w1, 0x10, 0x2, 9],
            [0x8400_0080, w1, 0, 0x10, 0x2],
        ),
        (
            Command::NotifySet,
            [w1, 2, 0x10, 0],
            [0x8400_0081, w1, 2, 0x10, 0],
        ),
    ];
    for (command, args, call) in cases {
        assert_eq!(
            sp.step(&req32(HOST, RELAY_ID, request(command, &args))),
            regs(&call)
        );
        let answer = error(FfaError::Denied);
        assert_eq!(
            resp32(&sp.step(&answer), RELAY_ID, HOST),
            [
                Status::OK.word(),
                CallStatus::error(FfaError::Denied).word(),
                0,
                0,
                0
            ]
        );
    }
    let get = request(Command::NotifyGet, &[u64::from(RELAY_ID) | 2 << 16, 0b11]);
    assert_eq!(
        sp.step(&req32(HOST, RELAY_ID, get)),
        regs(&[0x8400_0082, u64::from(RELAY_ID) | 2 << 16, 0b11])
    );
    let bits = ffa::call::success32([0x10, 0x2, 0x4, 0, 0, 0]);
    assert_eq!(
        resp32(&sp.step(&bits), RELAY_ID, HOST),
        [Status::OK.word(), 0, 0x10, 0x2, 0x4]
    );
}
