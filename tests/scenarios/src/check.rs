//! What a failed check reports, and the checks scenarios use to compare exact answers.

use core::fmt;

use ffa::call::{error_code, function_id, is_success};
use ffa::{FfaError, FuncId, Regs, Version};
use test_partitions::protocol::{CallStatus, Reply, Status};

/// Registers of an answer a failure keeps.
pub const ANSWER_REGS: usize = 5;

/// A value a check compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// A register, payload word or count.
    Word(u64),
    /// FFA_ERROR with this code.
    Error(FfaError),
    /// FFA_SUCCESS (either width).
    Success,
    /// An answer with this function ID in w0.
    Function(u32),
    /// A version, or NOT_SUPPORTED (`None`), as FFA_VERSION answers in w0.
    Version(Option<Version>),
    /// An answer, by its first registers (x0..x4; a failure stays small without a heap).
    Answer([u64; ANSWER_REGS]),
    /// How a partition's own call was answered, as it reported it.
    Call(CallStatus),
    /// How a request a partition forwarded was answered, as it reported it.
    Reply(Reply),
    /// A partition's response status.
    Status(Status),
}

/// A failed check: the scenario's message for it, what it expected and what it got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Which check failed, in the scenario's words.
    pub what: &'static str,
    /// The value the check wanted.
    pub expected: Value,
    /// The value it saw.
    pub got: Value,
}

impl Value {
    /// The registers of `regs` a failure keeps.
    pub fn answer(regs: &Regs) -> Self {
        let mut kept = [0; ANSWER_REGS];
        kept.copy_from_slice(&regs[..ANSWER_REGS]);
        Value::Answer(kept)
    }
}

impl Failure {
    /// A failure of `what`.
    pub const fn new(what: &'static str, expected: Value, got: Value) -> Self {
        Self {
            what,
            expected,
            got,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.what, self.expected, self.got
        )
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Word(w) => write!(f, "{w:#x}"),
            Value::Error(e) => write!(f, "FFA_ERROR({e:?})"),
            Value::Success => f.write_str("FFA_SUCCESS"),
            Value::Function(fid) => write!(f, "function {fid:#x}"),
            Value::Version(Some(v)) => write!(f, "version {v}"),
            Value::Version(None) => f.write_str("NOT_SUPPORTED"),
            Value::Answer(regs) => fmt_answer(f, regs),
            Value::Call(CallStatus::Success) => f.write_str("FFA_SUCCESS"),
            Value::Call(CallStatus::NotCalled) => f.write_str("no call made"),
            Value::Call(CallStatus::Error(code)) => fmt_error(f, *code),
            Value::Call(CallStatus::Other(fid)) => write!(f, "answer {fid:#x}"),
            Value::Reply(Reply::Response(status)) => {
                write!(f, "response, status {}", StatusDisplay(*status))
            }
            Value::Reply(Reply::Error(code)) => fmt_error(f, *code),
            Value::Reply(Reply::Other(fid)) => write!(f, "answer {fid:#x}"),
            Value::Status(status) => write!(f, "status {}", StatusDisplay(*status)),
        }
    }
}

fn fmt_error(f: &mut fmt::Formatter<'_>, code: i32) -> fmt::Result {
    match FfaError::try_from(code) {
        Ok(e) => write!(f, "FFA_ERROR({e:?})"),
        Err(_) => write!(f, "FFA_ERROR({code})"),
    }
}

/// An answer as a reader wants it: errors and successes by name, anything else by register.
fn fmt_answer(f: &mut fmt::Formatter<'_>, kept: &[u64; ANSWER_REGS]) -> fmt::Result {
    let mut regs = [0; 18];
    regs[..ANSWER_REGS].copy_from_slice(kept);
    let regs = &regs;
    let fid = function_id(regs);
    if let Some(e) = error_code(regs) {
        write!(f, "FFA_ERROR({e:?})")
    } else if fid == u32::from(FuncId::Error32) || fid == u32::from(FuncId::Error64) {
        fmt_error(f, regs[2] as u32 as i32)
    } else if is_success(regs) {
        write!(
            f,
            "FFA_SUCCESS(x1={:#x}, x2={:#x}, x3={:#x})",
            regs[1], regs[2], regs[3]
        )
    } else {
        write!(
            f,
            "x0={:#x} x1={:#x} x2={:#x} x3={:#x} x4={:#x}",
            regs[0], regs[1], regs[2], regs[3], regs[4]
        )
    }
}

/// Shows a partition's status by its fields.
struct StatusDisplay(Status);

impl fmt::Display for StatusDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "code {} faults {:#x}", self.0.code, self.0.faults)
    }
}

/// Checks that `answer` is FFA_ERROR with `code`.
pub fn expect_error(what: &'static str, answer: &Regs, code: FfaError) -> Result<(), Failure> {
    if error_code(answer) == Some(code) {
        Ok(())
    } else {
        Err(Failure::new(
            what,
            Value::Error(code),
            Value::answer(answer),
        ))
    }
}

/// Checks that `answer` is FFA_SUCCESS (either width).
pub fn expect_success(what: &'static str, answer: &Regs) -> Result<(), Failure> {
    if is_success(answer) {
        Ok(())
    } else {
        Err(Failure::new(what, Value::Success, Value::answer(answer)))
    }
}

/// Checks that `answer` is FFA_SUCCESS with `w2` in w2.
pub fn expect_success_w2(what: &'static str, answer: &Regs, w2: u32) -> Result<(), Failure> {
    expect_success(what, answer)?;
    expect_eq(what, u64::from(w2), answer[2] & 0xffff_ffff)
}

/// Checks that `answer`'s function ID (w0, SVE hint cleared) is `func`.
pub fn expect_function(what: &'static str, answer: &Regs, func: FuncId) -> Result<(), Failure> {
    if function_id(answer) == u32::from(func) {
        Ok(())
    } else {
        Err(Failure::new(
            what,
            Value::Function(u32::from(func)),
            Value::answer(answer),
        ))
    }
}

/// Checks two words for equality.
pub fn expect_eq(what: &'static str, expected: u64, got: u64) -> Result<(), Failure> {
    if expected == got {
        Ok(())
    } else {
        Err(Failure::new(what, Value::Word(expected), Value::Word(got)))
    }
}

/// Checks `got` word by word against `expected`.
pub fn expect_words(what: &'static str, expected: &[u64], got: &[u64]) -> Result<(), Failure> {
    expect_eq(what, expected.len() as u64, got.len() as u64)?;
    for (want, have) in expected.iter().zip(got) {
        expect_eq(what, *want, *have)?;
    }
    Ok(())
}

/// Checks an FFA_VERSION answer (w0): `Some(version)` or NOT_SUPPORTED.
pub fn expect_version(
    what: &'static str,
    answer: &Regs,
    expected: Option<Version>,
) -> Result<(), Failure> {
    let w0 = answer[0] as u32;
    let got = if w0 == u32::MAX {
        None
    } else {
        Some(Version((w0 >> 16) as u16, w0 as u16))
    };
    // Bit 31 set is never a version: compare the raw word then.
    if got == expected && (w0 >> 31 == 0 || got.is_none()) {
        Ok(())
    } else if w0 >> 31 != 0 && w0 != u32::MAX {
        Err(Failure::new(
            what,
            Value::Version(expected),
            Value::answer(answer),
        ))
    } else {
        Err(Failure::new(
            what,
            Value::Version(expected),
            Value::Version(got),
        ))
    }
}

/// Checks a partition's response status word.
pub fn expect_status(what: &'static str, word: u64, expected: Status) -> Result<(), Failure> {
    if word == expected.word() {
        return Ok(());
    }
    let got = match Status::from_word(word) {
        Some(s) => Value::Status(s),
        None => Value::Word(word),
    };
    Err(Failure::new(what, Value::Status(expected), got))
}

/// Checks a [`CallStatus`] word a partition reported.
pub fn expect_call(what: &'static str, word: u64, expected: CallStatus) -> Result<(), Failure> {
    let got = CallStatus::from_word(word);
    if got == expected && word >> 32 == 0 {
        Ok(())
    } else {
        Err(Failure::new(what, Value::Call(expected), Value::Call(got)))
    }
}

/// Checks a [`Reply`] word a partition reported.
pub fn expect_reply(what: &'static str, word: u64, expected: Reply) -> Result<(), Failure> {
    let got = Reply::from_word(word);
    if got == expected && word >> 32 == 0 {
        Ok(())
    } else {
        Err(Failure::new(
            what,
            Value::Reply(expected),
            Value::Reply(got),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn failures_read_well() {
        let f = Failure::new(
            "second PARTITION_INFO_GET",
            Value::Error(FfaError::Busy),
            Value::answer(&ffa::call::success32([4, 24, 0, 0, 0, 0])),
        );
        assert_eq!(
            format!("{f}"),
            "second PARTITION_INFO_GET: expected FFA_ERROR(Busy), got FFA_SUCCESS(x1=0x0, x2=0x4, x3=0x18)"
        );
        let v = Failure::new(
            "v",
            Value::Version(Some(Version(1, 2))),
            Value::Version(None),
        );
        assert_eq!(format!("{v}"), "v: expected version 1.2, got NOT_SUPPORTED");
        let c = Failure::new(
            "c",
            Value::Call(CallStatus::Error(-6)),
            Value::Call(CallStatus::Error(-42)),
        );
        assert_eq!(
            format!("{c}"),
            "c: expected FFA_ERROR(Denied), got FFA_ERROR(-42)"
        );
    }

    #[test]
    fn checks_accept_exact_answers_only() {
        let busy = ffa::call::error(FfaError::Busy);
        assert!(expect_error("e", &busy, FfaError::Busy).is_ok());
        assert!(expect_error("e", &busy, FfaError::Denied).is_err());
        assert!(expect_success("s", &busy).is_err());
        let ok = ffa::call::success32([0x8000, 0, 0, 0, 0, 0]);
        assert!(expect_success_w2("s", &ok, 0x8000).is_ok());
        assert!(expect_success_w2("s", &ok, 0x8001).is_err());
        let mut v = [0u64; 18];
        v[0] = 0x1_0002;
        assert!(expect_version("v", &v, Some(Version(1, 2))).is_ok());
        assert!(expect_version("v", &v, None).is_err());
        v[0] = u64::MAX;
        assert!(expect_version("v", &v, None).is_ok());
        v[0] = 0x8001_0002;
        assert!(expect_version("v", &v, Some(Version(0x8001, 2))).is_err());
        assert!(expect_call("c", 0xffff_fffa, CallStatus::Error(-6)).is_ok());
        assert!(expect_call("c", 0x1_ffff_fffa, CallStatus::Error(-6)).is_err());
        assert!(expect_status("s", 0, Status::OK).is_ok());
        assert!(expect_status("s", 0x1_0000, Status::OK).is_err());
    }
}
