//! Direct requests from the host to secure partitions (FFA_MSG_SEND_DIRECT_REQ, _REQ2).
//!
//! Forwarded as sent once the source is the host's own ID (no spoofing another endpoint) and
//! the destination is in the secure world; whatever comes back (a response, FFA_YIELD,
//! FFA_INTERRUPT, FFA_ERROR) goes to the host untouched. Nothing of the proxy's state is
//! involved, so the arch layer forwards them without holding the proxy
//! ([`crate::HostStep::Forward`]).

use ffa::id::EndpointId;
use ffa::{DirectMsgArgs, FfaError};

use crate::HOST_ID;

/// Checks a direct request's endpoints and payload kind.
pub(crate) fn check(src: u16, dst: u16, args: Option<&DirectMsgArgs>) -> Result<(), FfaError> {
    if EndpointId(src) != HOST_ID || !EndpointId(dst).is_secure() {
        return Err(FfaError::InvalidParameters);
    }
    // Framework messages come from the SPMD or the hypervisor (the proxy), never the host.
    if let Some(args) = args
        && !matches!(args, DirectMsgArgs::Args32(_) | DirectMsgArgs::Args64(_))
    {
        return Err(FfaError::InvalidParameters);
    }
    Ok(())
}
