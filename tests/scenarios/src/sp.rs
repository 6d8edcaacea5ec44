//! Commands to the test partitions (see `test_partitions::protocol`) and the checks of their
//! responses.

use ffa::{FuncId, Regs, Uuid};
use test_partitions::protocol::{Command, Status, WORDS, WORDS2, request};

use crate::Client;
use crate::calls::{HOST_ID, direct_req2, direct_req32_on, direct_req64};
use crate::check::{Failure, expect_eq, expect_function, expect_status};

/// Checks that `answer` is a DIRECT_RESP of `func` from `from` to the host, and returns its
/// payload words (w3..w7 / x3..x7, or x4..x17 for DIRECT_RESP2).
fn response<const N: usize>(
    what: &'static str,
    answer: &Regs,
    func: FuncId,
    from: u16,
) -> Result<[u64; N], Failure> {
    expect_function(what, answer, func)?;
    expect_eq(
        what,
        u64::from(from) << 16 | u64::from(HOST_ID),
        answer[1] & 0xffff_ffff,
    )?;
    let first = if func == FuncId::MsgSendDirectResp64_2 {
        4
    } else {
        3
    };
    let mut words = [0; N];
    for (w, r) in words.iter_mut().zip(&answer[first..]) {
        *w = if func == FuncId::MsgSendDirectResp32 {
            r & 0xffff_ffff
        } else {
            *r
        };
    }
    Ok(words)
}

/// Checks that `answer` is a DIRECT_RESP_32 from `from` to the host; returns w3..w7.
pub fn response32(what: &'static str, answer: &Regs, from: u16) -> Result<[u64; WORDS], Failure> {
    response(what, answer, FuncId::MsgSendDirectResp32, from)
}

/// Checks that `answer` is a DIRECT_RESP_64 from `from` to the host; returns x3..x7.
pub fn response64(what: &'static str, answer: &Regs, from: u16) -> Result<[u64; WORDS], Failure> {
    response(what, answer, FuncId::MsgSendDirectResp64, from)
}

/// Sends `command` with `args` to `dst` by DIRECT_REQ (SMC32) on `cpu`; returns the response's
/// words after checking it came from `dst` with an OK status.
pub fn command32_on(
    c: &mut dyn Client,
    cpu: u16,
    what: &'static str,
    dst: u16,
    command: Command,
    args: &[u64],
) -> Result<[u64; WORDS], Failure> {
    let answer = direct_req32_on(c, cpu, HOST_ID, dst, request(command, args));
    let words = response32(what, &answer, dst)?;
    expect_status(what, words[0], Status::OK)?;
    Ok(words)
}

/// [`command32_on`] on CPU 0.
pub fn command32(
    c: &mut dyn Client,
    what: &'static str,
    dst: u16,
    command: Command,
    args: &[u64],
) -> Result<[u64; WORDS], Failure> {
    command32_on(c, 0, what, dst, command, args)
}

/// Sends `command` to `dst` by DIRECT_REQ (SMC64); returns x3..x7 of the OK response.
pub fn command64(
    c: &mut dyn Client,
    what: &'static str,
    dst: u16,
    command: Command,
    args: &[u64],
) -> Result<[u64; WORDS], Failure> {
    let answer = direct_req64(c, HOST_ID, dst, request(command, args));
    let words = response64(what, &answer, dst)?;
    expect_status(what, words[0], Status::OK)?;
    Ok(words)
}

/// Sends payload `words` (command first) to `dst`'s `uuid` by DIRECT_REQ2; returns x4..x17 of
/// the OK response.
pub fn command2(
    c: &mut dyn Client,
    what: &'static str,
    dst: u16,
    uuid: Uuid,
    words: &[u64],
) -> Result<[u64; WORDS2], Failure> {
    let answer = direct_req2(c, HOST_ID, dst, uuid, words);
    let out = response(what, &answer, FuncId::MsgSendDirectResp64_2, dst)?;
    expect_status(what, out[0], Status::OK)?;
    Ok(out)
}
