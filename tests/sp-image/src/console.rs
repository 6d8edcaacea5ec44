//! Console lines through FFA_CONSOLE_LOG_32: up to 24 characters per call in w2..w7, the count
//! in w1. The SPMC buffers a partition's characters until a newline and prints the line with
//! the partition's ID.

use core::fmt;

use ffa::{FuncId, Regs};

/// Characters one FFA_CONSOLE_LOG_32 call carries.
pub const CHARS_PER_CALL: usize = 24;
/// Longest line kept (the SPMC splits longer ones anyway).
pub const LINE_LEN: usize = 120;

/// A line being written; what does not fit is cut.
pub struct Line {
    buf: [u8; LINE_LEN],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl Line {
    /// An empty line.
    pub const fn new() -> Self {
        Self {
            buf: [0; LINE_LEN],
            len: 0,
        }
    }

    /// Its characters so far.
    pub fn text(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// The FFA_CONSOLE_LOG_32 calls that print it, newline included.
    pub fn calls(&self) -> impl Iterator<Item = Regs> + '_ {
        self.text()
            .chunks(CHARS_PER_CALL)
            .chain(core::iter::once(&b"\n"[..]))
            .map(log_call)
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            let Some(slot) = self.buf.get_mut(self.len) else {
                break;
            };
            *slot = b;
            self.len += 1;
        }
        Ok(())
    }
}

/// FFA_CONSOLE_LOG_32 with `chars` (at most [`CHARS_PER_CALL`]) packed little-endian into
/// w2..w7.
fn log_call(chars: &[u8]) -> Regs {
    let mut regs = [0u64; 18];
    regs[0] = u64::from(u32::from(FuncId::ConsoleLog32));
    regs[1] = chars.len().min(CHARS_PER_CALL) as u64;
    for (reg, word) in regs[2..8].iter_mut().zip(chars.chunks(4)) {
        let mut bytes = [0u8; 4];
        for (b, c) in bytes.iter_mut().zip(word) {
            *b = *c;
        }
        *reg = u64::from(u32::from_le_bytes(bytes));
    }
    regs
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;
    use std::vec::Vec;

    /// What the SPMC reads back from the calls (w1 characters of w2..w7).
    fn chars_of(calls: impl Iterator<Item = Regs>) -> Vec<u8> {
        let mut out = Vec::new();
        for regs in calls {
            assert_eq!(regs[0], 0x8400_008a);
            let n = regs[1] as usize;
            assert!((1..=CHARS_PER_CALL).contains(&n));
            let bytes: Vec<u8> = regs[2..8]
                .iter()
                .flat_map(|r| (*r as u32).to_le_bytes())
                .collect();
            out.extend_from_slice(&bytes[..n]);
            assert!(regs[8..].iter().all(|&r| r == 0));
        }
        out
    }

    #[test]
    fn a_line_is_cut_into_calls_and_ends_with_a_newline() {
        let mut line = Line::new();
        write!(
            line,
            "relay 0x{:04x} ctx {}: ready, faults 0x{:02x}",
            0x8002, 3, 0
        )
        .unwrap();
        let calls: Vec<Regs> = line.calls().collect();
        assert_eq!(calls.len(), 3, "40 characters, then the newline");
        assert_eq!(
            chars_of(calls.into_iter()),
            b"relay 0x8002 ctx 3: ready, faults 0x00\n"
        );
    }

    #[test]
    fn long_lines_are_cut_and_empty_ones_still_end() {
        let mut line = Line::new();
        for _ in 0..20 {
            line.write_str("0123456789").unwrap();
        }
        assert_eq!(line.text().len(), LINE_LEN);
        let printed = chars_of(line.calls());
        assert_eq!(printed.len(), LINE_LEN + 1);
        assert_eq!(chars_of(Line::new().calls()), b"\n");
    }
}
