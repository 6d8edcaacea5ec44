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

use crate::call_chain;
use crate::manifest::MessagingMethod;
use crate::platform::Platform;
use crate::spmc::{Call, Endpoint, Next, Spmc};
use crate::vcpu::{
    CtxRef, PendingRequest, RequestKind, Requester, RuntimeModel, RuntimeState, Width,
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

impl<P: Platform> Spmc<P> {
    pub(crate) fn direct_request(&mut self, call: &Call, msg: &Interface) -> Next {
        match header(msg, call.regs) {
            Ok((h, uuid)) => self.direct_request_with(call, h, uuid),
            Err(code) => self.fail(call, code),
        }
    }

    /// A request with its header `h` (and REQ2's UUID).
    pub(crate) fn direct_request_with(
        &mut self,
        call: &Call,
        h: Header,
        uuid: Option<ffa::Uuid>,
    ) -> Next {
        match self.send_request(call, h, uuid) {
            Ok(next) => next,
            Err(code) => self.fail(call, code),
        }
    }

    fn send_request(
        &mut self,
        call: &Call,
        h: Header,
        uuid: Option<ffa::Uuid>,
    ) -> Result<Next, FfaError> {
        let sender = match call.from {
            Endpoint::NormalWorld if !h.src.is_secure() => Requester::NormalWorld(h.src),
            Endpoint::Partition(ctx) if self.partitions.id_of(ctx) == Some(h.src) => {
                Requester::Partition(h.src, ctx)
            }
            _ => return Err(FfaError::InvalidParameters),
        };
        if h.dst == h.src || !h.dst.is_secure() {
            return Err(FfaError::InvalidParameters);
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
            return Err(FfaError::InvalidParameters);
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
                return Err(FfaError::Denied);
            }
        }
        if !target.config.messaging.has(receive_bit)
            || (h.kind == RequestKind::Req2 && target.version.version() < Version(1, 2))
        {
            return Err(FfaError::Denied);
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
            return Err(FfaError::Denied);
        }
        match self.partitions.ctx(target_ctx).map(|c| c.state) {
            Some(RuntimeState::Waiting) => {}
            Some(RuntimeState::Aborted) => return Err(FfaError::Aborted),
            _ => return Err(FfaError::Busy),
        }

        // Checks done: block the sender (if a partition) and run the receiver.
        if let Requester::Partition(_, ctx) = sender
            && let Some(c) = self.partitions.ctx_mut(ctx)
        {
            c.state = RuntimeState::Blocked;
            c.own_saved.copy_from_slice(&call.regs[8..]);
        }
        let c = self
            .partitions
            .ctx_mut(target_ctx)
            .ok_or(FfaError::InvalidParameters)?;
        put_sent(&mut self.out, call.regs, h.width);
        match h.kind {
            RequestKind::Req => self.out[8..].copy_from_slice(&c.own_saved),
            RequestKind::Req2 => self.out[8..].copy_from_slice(&call.regs[8..]),
        }
        c.run(call.cpu, RuntimeModel::DirectRequest);
        c.request = Some(PendingRequest {
            from: sender,
            kind: h.kind,
            width: h.width,
        });
        if matches!(sender, Requester::NormalWorld(_)) {
            c.nwd_saved.copy_from_slice(&call.regs[8..]);
        }
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

    /// A response with its header `h`.
    pub(crate) fn direct_response_with(&mut self, call: &Call, h: Header) -> Next {
        match self.send_response(call, h) {
            Ok(next) => next,
            Err(code) => self.fail(call, code),
        }
    }

    fn send_response(&mut self, call: &Call, h: Header) -> Result<Next, FfaError> {
        // The normal world never handles requests from the secure world.
        let Endpoint::Partition(ctx) = call.from else {
            return Err(FfaError::NotSupported);
        };
        if self.partitions.id_of(ctx) != Some(h.src) || h.dst == h.src {
            return Err(FfaError::InvalidParameters);
        }
        if h.dst.is_secure() && self.partitions.find(h.dst).is_none() {
            return Err(FfaError::InvalidParameters);
        }
        let responder = self.partitions.ctx(ctx).ok_or(FfaError::Denied)?;
        let request = match (responder.model, responder.request) {
            (Some(RuntimeModel::DirectRequest), Some(request)) => request,
            _ => return Err(FfaError::Denied),
        };
        if request.kind != h.kind
            || request.width != h.width
            || request.from.id() != h.dst
            || call_chain::yielded_callee(&self.partitions, ctx).is_some()
        {
            return Err(FfaError::Denied);
        }
        let mut requester_dead = false;
        if let Requester::Partition(_, from) = request.from {
            match self.partitions.ctx(from).map(|c| c.state) {
                Some(RuntimeState::Blocked) => {}
                // Aborted from another CPU while it waited: the response ends this request
                // and the dead requester's own requester is answered ABORTED.
                Some(RuntimeState::Aborted) => requester_dead = true,
                // The requester cannot take an answer; keep everything as it is.
                _ => return Err(FfaError::Denied),
            }
        }

        put_sent(&mut self.out, call.regs, h.width);
        match h.kind {
            RequestKind::Req => {}
            RequestKind::Req2 => {
                self.out[2] = 0;
                self.out[3] = 0;
                self.out[8..].copy_from_slice(&call.regs[8..]);
            }
        }
        if h.kind == RequestKind::Req
            && let Requester::NormalWorld(_) = request.from
        {
            self.out[8..].copy_from_slice(&responder.nwd_saved);
        }
        if let Some(c) = self.partitions.ctx_mut(ctx) {
            c.wait();
            c.own_saved.copy_from_slice(&call.regs[8..]);
        }
        match request.from {
            Requester::NormalWorld(_) => {
                self.set_running(call.cpu, None);
                Ok(Next::ToSpmd)
            }
            Requester::Partition(_, from) if requester_dead => {
                self.set_running(call.cpu, None);
                Ok(self.unwind(call.cpu, from))
            }
            Requester::Partition(_, from) => {
                let c = self
                    .partitions
                    .ctx_mut(from)
                    .ok_or(FfaError::InvalidParameters)?;
                c.state = RuntimeState::Running;
                c.cpu = Some(call.cpu);
                if h.kind == RequestKind::Req {
                    self.out[8..].copy_from_slice(&c.own_saved);
                }
                self.set_running(call.cpu, Some(from));
                Ok(self.entered(from))
            }
        }
    }
}
