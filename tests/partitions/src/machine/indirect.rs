//! Indirect messages (FFA_MSG_SEND2) and notifications: the SEND2, READ2, NOTIFY_* and WOKEN
//! commands, and what a waiting context does with cycles given by FFA_RUN.
//!
//! The notification calls are built by hand from the scenario's words, so a scenario can make
//! any call the ABI can carry (bad flags, another sender or receiver) and see the SPMC's answer.

use ffa::call::function_id;
use ffa::hafnium::HfCall;
use ffa::{FuncId, Regs, Version};

use super::{Machine, Pending, Request, State};
use crate::protocol::message::{HEADER_V1_1, HEADER_V1_2, Header};
use crate::protocol::{CallStatus, Command, NPI_INTID, SEND2_TAG, code, send2};

/// FFA_NOTIFICATION_GET flags: the SPM and hypervisor framework bitmaps.
const GET_FRAMEWORK: u64 = (1 << 2) | (1 << 3);
/// FFA_NOTIFICATION_GET flags: the partition and normal-world bitmaps.
const GET_ENDPOINTS: u64 = (1 << 0) | (1 << 1);
/// Bytes of a page, the most an indirect message occupies.
const PAGE: u32 = 4096;

/// Where a READ2 or a wake-up is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum IndirectStep {
    /// READ2's FFA_NOTIFICATION_GET.
    ReadGet,
    /// READ2's FFA_RX_RELEASE, with the words read so far.
    ReadRelease([u64; 3]),
    /// NOTIFY_GET's call.
    NotifyGet,
}

/// Where a context given cycles by FFA_RUN is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WakeStep {
    /// Its HF_INTERRUPT_GET.
    InterruptGet,
    /// Its FFA_NOTIFICATION_GET after the NPI.
    NotifyGet,
}

/// What a context saw when given cycles (WOKEN).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Woken {
    runs: u64,
    intid: u64,
    sp_bits: u64,
    vm_bits: u64,
}

fn raw(fid: FuncId, args: [u64; 4]) -> Regs {
    let mut regs = [0; 18];
    regs[0] = u64::from(u32::from(fid));
    for (r, a) in regs[1..5].iter_mut().zip(args) {
        *r = a & 0xffff_ffff;
    }
    regs
}

impl Machine {
    /// Starts serving one of this module's commands.
    pub(super) fn serve_indirect(
        &mut self,
        command: Command,
        req: Request,
        env: &mut dyn crate::SpEnv,
    ) -> (State, Regs) {
        let p = req.payload;
        let serving = |pending| State::Serving {
            request: req,
            pending,
        };
        match command {
            Command::Send2 => match self.send2(env, &p) {
                Some(call) => (serving(Pending::Report), call),
                None => self.respond(&req, &[self.status(code::BAD_ARGUMENT), p[0]]),
            },
            Command::Read2 => {
                let w1 = u64::from(self.own_id) | u64::from(self.vcpu) << 16;
                let call = raw(FuncId::NotificationGet, [w1, GET_FRAMEWORK, 0, 0]);
                (serving(Pending::Indirect(IndirectStep::ReadGet)), call)
            }
            Command::NotifyBind => (
                serving(Pending::Report),
                raw(FuncId::NotificationBind, [p[1], p[2], p[3], p[4]]),
            ),
            Command::NotifyUnbind => (
                serving(Pending::Report),
                raw(FuncId::NotificationUnbind, [p[1], 0, p[2], p[3]]),
            ),
            Command::NotifySet => (
                serving(Pending::Report),
                raw(FuncId::NotificationSet, [p[1], p[2], p[3], p[4]]),
            ),
            Command::NotifyGet => (
                serving(Pending::Indirect(IndirectStep::NotifyGet)),
                raw(FuncId::NotificationGet, [p[1], p[2], 0, 0]),
            ),
            _ => {
                let w = core::mem::take(&mut self.woken);
                let words = [self.status(code::OK), w.runs, w.intid, w.sp_bits, w.vm_bits];
                self.respond(&req, &words)
            }
        }
    }

    /// Writes SEND2's message into the TX buffer; returns FFA_MSG_SEND2.
    fn send2(&self, env: &mut dyn crate::SpEnv, p: &[u64]) -> Option<Regs> {
        let receiver = u16::try_from(*p.get(1)?).ok()?;
        let (flags, choices, word) = (*p.get(2)?, *p.get(3)?, *p.get(4)? as u32);
        let v1_1 = self.def.ffa_version < Version(1, 2);
        let header_len = if v1_1 { HEADER_V1_1 } else { HEADER_V1_2 };
        let mut payload = [0u8; 12];
        for (chunk, w) in payload
            .chunks_mut(4)
            .zip([word, u32::from(self.own_id), SEND2_TAG])
        {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        let offset = if choices & send2::OFFSET_IN_HEADER != 0 {
            header_len as u32 - 4
        } else {
            header_len as u32
        };
        let header = Header {
            offset,
            receiver,
            sender: if choices & send2::WRONG_SENDER != 0 {
                self.own_id.wrapping_add(1)
            } else {
                self.own_id
            },
            size: if choices & send2::TOO_BIG != 0 {
                PAGE + 1 - offset
            } else {
                payload.len() as u32
            },
            uuid: if v1_1 {
                ffa::Uuid::nil()
            } else {
                *self.def.uuids.first()?
            },
        };
        let mut message = [0u8; HEADER_V1_2 + 12];
        message[..header_len].copy_from_slice(header.bytes().get(..header_len)?);
        message[header_len..header_len + 12].copy_from_slice(&payload);
        env.write(self.def.tx_buffer(), message.get(..header_len + 12)?)
            .then(|| raw(FuncId::MsgSend2, [0, flags, 0, 0]))
    }

    /// The answer to a call of this module's commands.
    pub(super) fn resume_indirect(
        &mut self,
        req: Request,
        step: IndirectStep,
        answer: &Regs,
        env: &mut dyn crate::SpEnv,
    ) -> (State, Regs) {
        let status = CallStatus::of(answer);
        match step {
            IndirectStep::NotifyGet => {
                let words = [
                    self.status(code::OK),
                    status.word(),
                    answer[2] & 0xffff_ffff,
                    answer[3] & 0xffff_ffff,
                    answer[4] & 0xffff_ffff,
                ];
                self.respond(&req, &words)
            }
            IndirectStep::ReadGet => {
                // Bits fit in 16; an error word (0xffff_ffxx) tells a failed GET apart.
                let framework = if status == CallStatus::Success {
                    (answer[6] & 0xff) | (answer[7] & 0xff) << 8
                } else {
                    status.word()
                };
                let mut bytes = [0u8; HEADER_V1_2];
                if !env.read(self.def.rx_buffer(), &mut bytes) {
                    return self.respond(&req, &[self.status(code::MEMORY_FAULT)]);
                }
                let h = Header::parse(&bytes);
                let mut first = [0u8; 4];
                let readable = h.offset.checked_add(4).is_some_and(|end| end <= PAGE)
                    && env.read(self.def.rx_buffer() + u64::from(h.offset), &mut first);
                let word = if readable {
                    u64::from(u32::from_le_bytes(first))
                } else {
                    0
                };
                let seen = [
                    framework,
                    u64::from(h.sender) << 16 | u64::from(h.size & 0xffff),
                    word,
                ];
                let pending = Pending::Indirect(IndirectStep::ReadRelease(seen));
                let state = State::Serving {
                    request: req,
                    pending,
                };
                (state, raw(FuncId::RxRelease, [0; 4]))
            }
            IndirectStep::ReadRelease([framework, from, word]) => {
                let words = [self.status(code::OK), framework, from, word, status.word()];
                self.respond(&req, &words)
            }
        }
    }

    /// FFA_RUN gave the waiting context cycles: ask for its pending virtual interrupt.
    pub(super) fn woken(&mut self) -> (State, Regs) {
        self.woken.runs += 1;
        self.woken.intid = 0;
        self.woken.sp_bits = 0;
        self.woken.vm_bits = 0;
        let mut call = [0; 18];
        call[0] = u64::from(HfCall::InterruptGet.fid());
        (State::Woken(WakeStep::InterruptGet), call)
    }

    /// The answer to a call made with FFA_RUN's cycles.
    pub(super) fn wake_step(&mut self, step: WakeStep, answer: &Regs) -> (State, Regs) {
        match step {
            WakeStep::InterruptGet => {
                self.woken.intid = answer[0] & 0xffff_ffff;
                if self.woken.intid != NPI_INTID {
                    return self.wait();
                }
                let w1 = u64::from(self.own_id) | u64::from(self.vcpu) << 16;
                let call = raw(FuncId::NotificationGet, [w1, GET_ENDPOINTS, 0, 0]);
                (State::Woken(WakeStep::NotifyGet), call)
            }
            WakeStep::NotifyGet => {
                if ffa::call::is_success(answer) && function_id(answer) != 0 {
                    self.woken.sp_bits = answer[2] & 0xffff_ffff;
                    self.woken.vm_bits = answer[4] & 0xffff_ffff;
                }
                self.wait()
            }
        }
    }
}
