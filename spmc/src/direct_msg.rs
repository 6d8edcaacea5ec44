//! Direct messaging: FFA_MSG_SEND_DIRECT_REQ/RESP (32 and 64) and REQ2/RESP2 (v1.2).
//!
//! Error codes, as Hafnium's api.c and TF-A's EL3 SPMC give them:
//! - INVALID_PARAMETERS: w2 not zero in a (non-framework) REQ/RESP, a framework message from
//!   an endpoint, a source ID that is not the caller's (the normal world may use any
//!   non-secure ID), a destination that is the sender, in the normal world (partitions may
//!   not send requests there), or no partition; a REQ2 UUID the destination does not declare
//!   (the nil UUID means the partition itself); an MP destination without a context for
//!   this CPU.
//! - DENIED: the sender's manifest lacks the send bit or the receiver's the receive bit for
//!   that ABI (REQ2 also needs a v1.2 receiver); a destination already in the sender's call
//!   chain (a loop); a response from a context not handling a request, to anyone but the
//!   requester, or through the other ABI (RESP for REQ2, RESP2 for REQ) or width; a request
//!   or response from a context whose callee yielded back to it (it must FFA_RUN that callee
//!   to its response first, or the callee would lose its requester; Hafnium has no path for
//!   this and asserts the chain's next node is empty).
//! - BUSY: the destination's context is not Waiting; ABORTED: it is Aborted.
//!
//! Registers: only what the ABI carries crosses between endpoints. A REQ/REQ 64 enters the
//! receiver with x0..x7 as sent (SMC32: w1..w7 only) and x8..x17 as the receiver itself last
//! had them; RESP/RESP 64 likewise carry x0..x7 and give the requester its own x8..x17 back.
//! REQ2 carries x0..x17; RESP2 carries x4..x17 (x2, x3 zeroed).

use ffa::{DirectMsgArgs, EndpointId, FfaError, FuncId, Interface, Regs, Version};

use ffa::hafnium::MANAGED_EXIT_INTID;

use crate::call_chain;
use crate::manifest::MessagingMethod;
use crate::platform::Platform;
use crate::spmc::{Answer, Call, Endpoint, Next, Spmc};
use crate::vcpu::{
    ContextCell, CtxRef, PendingRequest, RequestKind, Requester, RuntimeModel, RuntimeState, Width,
};

/// A direct message's header, from the decoded call.
#[derive(Clone, Copy)]
pub(crate) struct Header {
    src: EndpointId,
    dst: EndpointId,
    kind: RequestKind,
    width: Width,
}

/// The header of a REQ/RESP (32/64) or REQ2/RESP2; framework messages and a nonzero w2 in
/// partition messages are INVALID_PARAMETERS.
fn header(msg: &Interface, regs: &Regs) -> Result<(Header, Option<ffa::Uuid>), FfaError> {
    let (src, dst, kind, width, uuid) = match msg {
        Interface::MsgSendDirectReq {
            src_id,
            dst_id,
            args,
        }
        | Interface::MsgSendDirectResp {
            src_id,
            dst_id,
            args,
        } => {
            let width = match args {
                DirectMsgArgs::Args32(_) => Width::W32,
                DirectMsgArgs::Args64(_) => Width::W64,
                _ => return Err(FfaError::InvalidParameters),
            };
            let w2 = match width {
                Width::W32 => regs[2] & 0xffff_ffff,
                Width::W64 => regs[2],
            };
            if w2 != 0 {
                return Err(FfaError::InvalidParameters);
            }
            (*src_id, *dst_id, RequestKind::Req, width, None)
        }
        Interface::MsgSendDirectReq2 {
            src_id,
            dst_id,
            uuid,
            ..
        } => (*src_id, *dst_id, RequestKind::Req2, Width::W64, Some(*uuid)),
        Interface::MsgSendDirectResp2 { src_id, dst_id, .. } => {
            (*src_id, *dst_id, RequestKind::Req2, Width::W64, None)
        }
        _ => return Err(FfaError::NotSupported),
    };
    let header = Header {
        src: EndpointId(src),
        dst: EndpointId(dst),
        kind,
        width,
    };
    Ok((header, uuid))
}

/// Whether a call is a request or a response.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    Request,
    Response,
}

/// The header of a direct message read from the registers alone.
#[derive(Clone, Copy)]
pub(crate) struct RegsHeader {
    pub(crate) header: Header,
    pub(crate) kind_of_call: CallKind,
}

/// The header of a REQ/RESP (32/64) that is not a framework message (w2 = 0), straight from
/// the registers, as the decoder would give it; `None` for anything else, which the decoder
/// handles.
#[inline(always)]
pub(crate) fn header_from_regs(func: FuncId, regs: &Regs) -> Option<RegsHeader> {
    let (kind_of_call, width) = match func {
        FuncId::MsgSendDirectReq32 => (CallKind::Request, Width::W32),
        FuncId::MsgSendDirectReq64 => (CallKind::Request, Width::W64),
        FuncId::MsgSendDirectResp32 => (CallKind::Response, Width::W32),
        FuncId::MsgSendDirectResp64 => (CallKind::Response, Width::W64),
        _ => return None,
    };
    let w2 = match width {
        Width::W32 => regs[2] & 0xffff_ffff,
        Width::W64 => regs[2],
    };
    if w2 != 0 {
        return None;
    }
    let (src, dst) = ffa::id::unpack_src_dst(regs[1] as u32);
    Some(RegsHeader {
        header: Header {
            src,
            dst,
            kind: RequestKind::Req,
            width,
        },
        kind_of_call,
    })
}

/// Writes x0..x7 of `regs` into `out` as the receiver sees them: the function ID without
/// the SVE hint, and for SMC32 only the low halves of x1..x7.
#[inline(always)]
fn put_sent(out: &mut Regs, regs: &Regs, width: Width) {
    let m = match width {
        Width::W32 => 0xffff_ffff,
        Width::W64 => u64::MAX,
    };
    let fid = u64::from(ffa::call::function_id(regs));
    let [_, x1, x2, x3, x4, x5, x6, x7, ..] = *regs;
    if let Some(low) = out.first_chunk_mut::<8>() {
        *low = [fid, x1 & m, x2 & m, x3 & m, x4 & m, x5 & m, x6 & m, x7 & m];
    }
}

/// With what access to the core a direct message is handled.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The core to itself: every case.
    Exclusive,
    /// The core shared with other CPUs' fast paths ([`Spmc::direct_message_shared`]): only
    /// a request from the normal world and a response to one.
    Shared,
}

/// Why a direct message was not carried out.
#[derive(Clone, Copy)]
pub(crate) enum Refused {
    /// The answer is this error.
    Error(FfaError),
    /// It needs the core to itself; nothing changed.
    Exclusive,
}

impl From<FfaError> for Refused {
    fn from(code: FfaError) -> Self {
        Self::Error(code)
    }
}

impl Access {
    /// A context's lock was held by another CPU's fast path: shared, the call goes to the
    /// exclusive path; exclusive (no fast path runs then, so the context does not exist),
    /// the answer is `code`.
    fn contended(self, code: FfaError) -> Refused {
        match self {
            Self::Shared => Refused::Exclusive,
            Self::Exclusive => Refused::Error(code),
        }
    }
}

/// What a successful response runs next.
enum Responded {
    Next(Next),
    /// The requester was aborted meanwhile: its own requester is answered ABORTED.
    Unwind(CtxRef),
}

impl<P: Platform> Spmc<P> {
    /// A REQ/RESP (32/64) from the normal world or from a partition handling one of its
    /// requests, with the core shared between CPUs: the call touches only this CPU's running
    /// slot and the one context it hands the CPU to or takes it from, each behind its own
    /// lock, so requests on different CPUs to different contexts never wait for each other.
    /// `None`, with nothing changed: it needs the core to itself (a partition's request, a
    /// response to a partition, a framework message, a first call before the version is
    /// fixed, a context another CPU is claiming, or what the exclusive path does around the
    /// call: a delayed schedule receiver interrupt to send, a managed exit to end, a
    /// notification pending interrupt to inject).
    pub(crate) fn direct_message_shared(
        &self,
        call: &Call,
        func: FuncId,
        out: &mut Answer,
    ) -> Option<Next> {
        let h = header_from_regs(func, call.regs)?;
        match call.from {
            Endpoint::NormalWorld if h.header.src == EndpointId::SPMD => return None,
            Endpoint::NormalWorld => {}
            Endpoint::Partition(ctx) => {
                let managed_exit = self
                    .partitions
                    .get(ctx.partition)?
                    .virtual_interrupts
                    .get(usize::from(ctx.vcpu))?
                    .is_pending(MANAGED_EXIT_INTID);
                if managed_exit {
                    return None;
                }
            }
        }
        let done = match h.kind_of_call {
            CallKind::Request => self.send_request(call, h.header, None, Access::Shared, out),
            CallKind::Response => match self.send_response(call, h.header, Access::Shared, out) {
                Ok(Responded::Next(next)) => Ok(next),
                Ok(Responded::Unwind(_)) | Err(Refused::Exclusive) => Err(Refused::Exclusive),
                Err(Refused::Error(code)) => Err(Refused::Error(code)),
            },
        };
        match done {
            Ok(next) => Some(next),
            Err(Refused::Exclusive) => None,
            Err(Refused::Error(code)) => {
                if let Some(low) = out.regs.first_chunk_mut() {
                    ffa::call::put_error(low, code);
                }
                out.count = 8;
                Some(self.replied(call))
            }
        }
    }

    pub(crate) fn direct_request(&mut self, call: &Call, msg: &Interface) -> Next {
        match header(msg, call.regs) {
            Ok((h, uuid)) => self.direct_request_with(call, h, uuid),
            Err(code) => self.fail(call, code),
        }
    }

    /// A request with its header `h` (and REQ2's UUID), with the core to itself.
    pub(crate) fn direct_request_with(
        &mut self,
        call: &Call,
        h: Header,
        uuid: Option<ffa::Uuid>,
    ) -> Next {
        let mut out = Answer::EMPTY;
        match self.send_request(call, h, uuid, Access::Exclusive, &mut out) {
            Ok(next) => self.answered(&out, next),
            Err(why) => self.fail(call, refusal_code(why)),
        }
    }

    fn send_request(
        &self,
        call: &Call,
        h: Header,
        uuid: Option<ffa::Uuid>,
        access: Access,
        out: &mut Answer,
    ) -> Result<Next, Refused> {
        let sender = match call.from {
            Endpoint::NormalWorld if !h.src.is_secure() => Requester::NormalWorld(h.src),
            Endpoint::Partition(ctx) if self.partitions.id_of(ctx) == Some(h.src) => {
                Requester::Partition(h.src, ctx)
            }
            _ => return Err(FfaError::InvalidParameters.into()),
        };
        // A partition's request grows its call chain: the exclusive path's alone.
        if access == Access::Shared && matches!(sender, Requester::Partition(..)) {
            return Err(Refused::Exclusive);
        }
        if h.dst == h.src || !h.dst.is_secure() {
            return Err(FfaError::InvalidParameters.into());
        }
        let index = self
            .partitions
            .find(h.dst)
            .ok_or(FfaError::InvalidParameters)?;
        let target = self
            .partitions
            .get(index)
            .ok_or(FfaError::InvalidParameters)?;
        if let Some(uuid) = uuid
            && !uuid.is_nil()
            && !target.config.uuids.contains(&uuid)
        {
            return Err(FfaError::InvalidParameters.into());
        }
        let (send_bit, receive_bit) = match h.kind {
            RequestKind::Req => (
                MessagingMethod::DIRECT_REQ_SEND,
                MessagingMethod::DIRECT_REQ_RECV,
            ),
            RequestKind::Req2 => (
                MessagingMethod::DIRECT_REQ2_SEND,
                MessagingMethod::DIRECT_REQ2_RECV,
            ),
        };
        if let Requester::Partition(_, ctx) = sender {
            let can_send = self
                .partitions
                .get(ctx.partition)
                .is_some_and(|p| p.config.messaging.has(send_bit));
            if !can_send {
                return Err(FfaError::Denied.into());
            }
        }
        if !target.config.messaging.has(receive_bit)
            || (h.kind == RequestKind::Req2 && target.version.version() < Version(1, 2))
        {
            return Err(FfaError::Denied.into());
        }
        let vcpu = target
            .context_for(call.cpu)
            .ok_or(FfaError::InvalidParameters)?;
        let target_ctx = CtxRef {
            partition: index,
            vcpu,
        };
        if let Requester::Partition(_, ctx) = sender
            && (call_chain::contains(&self.partitions, ctx, index)
                || call_chain::yielded_callee(&self.partitions, ctx).is_some())
        {
            return Err(FfaError::Denied.into());
        }
        // The exclusive path gives the receiver its notification pending interrupt on entry.
        if access == Access::Shared && self.global_notifications_pending(index) {
            return Err(Refused::Exclusive);
        }
        // Claimed under its lock: of two CPUs sending to one context, one finds it Waiting.
        let mut c = self
            .partitions
            .cell(target_ctx)
            .ok_or(FfaError::InvalidParameters)?
            .try_lock()
            .ok_or(access.contended(FfaError::Busy))?;
        match c.state {
            RuntimeState::Waiting => {}
            RuntimeState::Aborted => return Err(FfaError::Aborted.into()),
            _ => return Err(FfaError::Busy.into()),
        }

        // Checks done: block the sender (if a partition) and run the receiver.
        if let Requester::Partition(_, ctx) = sender {
            let mut s = self
                .partitions
                .cell(ctx)
                .and_then(ContextCell::try_lock)
                .ok_or(access.contended(FfaError::Denied))?;
            s.state = RuntimeState::Blocked;
            s.own_saved.copy_from_slice(&call.regs[8..]);
        }
        put_sent(&mut out.regs, call.regs, h.width);
        match h.kind {
            RequestKind::Req => out.regs[8..].copy_from_slice(&c.own_saved),
            RequestKind::Req2 => out.regs[8..].copy_from_slice(&call.regs[8..]),
        }
        out.count = 18;
        c.run(call.cpu, RuntimeModel::DirectRequest);
        c.request = Some(PendingRequest {
            from: sender,
            kind: h.kind,
            width: h.width,
        });
        if matches!(sender, Requester::NormalWorld(_)) {
            c.nwd_saved.copy_from_slice(&call.regs[8..]);
        }
        drop(c);
        self.set_running(call.cpu, Some(target_ctx));
        Ok(self.entered(target_ctx))
    }

    pub(crate) fn direct_response(&mut self, call: &Call, msg: &Interface) -> Next {
        // The normal world never handles requests from the secure world.
        if call.from == Endpoint::NormalWorld {
            return self.fail(call, FfaError::NotSupported);
        }
        match header(msg, call.regs) {
            Ok((h, _)) => self.direct_response_with(call, h),
            Err(code) => self.fail(call, code),
        }
    }

    /// A response with its header `h`, with the core to itself.
    pub(crate) fn direct_response_with(&mut self, call: &Call, h: Header) -> Next {
        let mut out = Answer::EMPTY;
        match self.send_response(call, h, Access::Exclusive, &mut out) {
            Ok(Responded::Next(next)) => self.answered(&out, next),
            Ok(Responded::Unwind(from)) => self.unwind(call.cpu, from),
            Err(why) => self.fail(call, refusal_code(why)),
        }
    }

    fn send_response(
        &self,
        call: &Call,
        h: Header,
        access: Access,
        out: &mut Answer,
    ) -> Result<Responded, Refused> {
        // The normal world never handles requests from the secure world.
        let Endpoint::Partition(ctx) = call.from else {
            return Err(FfaError::NotSupported.into());
        };
        if self.partitions.id_of(ctx) != Some(h.src) || h.dst == h.src {
            return Err(FfaError::InvalidParameters.into());
        }
        if h.dst.is_secure() && self.partitions.find(h.dst).is_none() {
            return Err(FfaError::InvalidParameters.into());
        }
        // With the core to itself, its callee that yielded back to it (this reads the
        // context, so before its lock is taken below). Shared, the hint alone says whether
        // there may be one, and the exclusive path sorts that out.
        if access == Access::Exclusive
            && call_chain::yielded_callee(&self.partitions, ctx).is_some()
        {
            return Err(FfaError::Denied.into());
        }
        // Held to the end: only this CPU changes its running context, but other CPUs' fast
        // paths may hold its lock a moment to find it busy.
        let mut c = self
            .partitions
            .cell(ctx)
            .and_then(ContextCell::try_lock)
            .ok_or(access.contended(FfaError::Denied))?;
        if access == Access::Shared && !crate::spmc::handles_request(&c) {
            return Err(Refused::Exclusive);
        }
        let request = match (c.model, c.request) {
            (Some(RuntimeModel::DirectRequest), Some(request)) => request,
            _ => return Err(FfaError::Denied.into()),
        };
        if request.kind != h.kind || request.width != h.width || request.from.id() != h.dst {
            return Err(FfaError::Denied.into());
        }
        // A callee that yielded back, or a partition requester: the call chain is the
        // exclusive path's alone.
        if access == Access::Shared
            && (c.yielded_callee.is_some() || matches!(request.from, Requester::Partition(..)))
        {
            return Err(Refused::Exclusive);
        }
        let mut requester_dead = false;
        if let Requester::Partition(_, from) = request.from {
            match self.partitions.with(from, |c| c.state) {
                Some(RuntimeState::Blocked) => {}
                // Aborted from another CPU while it waited: the response ends this request
                // and the dead requester's own requester is answered ABORTED.
                Some(RuntimeState::Aborted) => requester_dead = true,
                // The requester cannot take an answer; keep everything as it is.
                _ => return Err(FfaError::Denied.into()),
            }
        }
        put_sent(&mut out.regs, call.regs, h.width);
        match h.kind {
            RequestKind::Req => {}
            RequestKind::Req2 => {
                out.regs[2] = 0;
                out.regs[3] = 0;
                out.regs[8..].copy_from_slice(&call.regs[8..]);
            }
        }
        if h.kind == RequestKind::Req
            && let Requester::NormalWorld(_) = request.from
        {
            out.regs[8..].copy_from_slice(&c.nwd_saved);
        }
        out.count = 18;
        c.wait();
        c.own_saved.copy_from_slice(&call.regs[8..]);
        drop(c);
        match request.from {
            Requester::NormalWorld(_) => {
                self.set_running(call.cpu, None);
                Ok(Responded::Next(Next::ToSpmd))
            }
            Requester::Partition(_, from) if requester_dead => {
                self.set_running(call.cpu, None);
                Ok(Responded::Unwind(from))
            }
            Requester::Partition(_, from) => {
                let mut c = self
                    .partitions
                    .cell(from)
                    .and_then(ContextCell::try_lock)
                    .ok_or(access.contended(FfaError::InvalidParameters))?;
                c.state = RuntimeState::Running;
                c.cpu = Some(call.cpu);
                if h.kind == RequestKind::Req {
                    out.regs[8..].copy_from_slice(&c.own_saved);
                }
                drop(c);
                self.set_running(call.cpu, Some(from));
                Ok(Responded::Next(self.entered(from)))
            }
        }
    }
}

/// The error for a message refused with the core to itself ([`Refused::Exclusive`] cannot
/// happen then: no other CPU holds a context's lock).
fn refusal_code(why: Refused) -> FfaError {
    match why {
        Refused::Error(code) => code,
        Refused::Exclusive => FfaError::Busy,
    }
}
