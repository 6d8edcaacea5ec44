//! FFA_CONSOLE_LOG (FF-A v1.2): partitions' characters, line-buffered per partition.
//!
//! Partitions often log one character per call; the SPMC keeps each partition's partial line
//! and queues finished lines for the arch layer to print whole (so lines from different
//! worlds never interleave), after it has released the core. When the queue is full the
//! oldest line is dropped and counted. What reaches the terminal is printable ASCII only (a
//! partition must not drive the terminal with escape sequences), and each partition prints at
//! most [`BURST_LINES`] lines at once and [`LINES_PER_SECOND`] after that: a flood is dropped
//! and counted instead of keeping the UART busy for everyone.

use ffa::{EndpointId, FfaError, FuncId, Version};
use heapless::{Deque, Vec};

use crate::manifest::MAX_PARTITIONS;
use crate::platform::Platform;
use crate::spmc::{Call, Endpoint, Next, Spmc};

/// Longest line kept; longer ones are split.
pub const LINE_LEN: usize = 128;
/// Finished lines waiting for the arch layer.
pub const QUEUE_LEN: usize = 16;
/// Lines a partition may print at once (a trusted OS's boot log fits).
pub const BURST_LINES: u32 = 256;
/// Lines a partition may print per second once its burst is spent.
pub const LINES_PER_SECOND: u32 = 64;

/// A finished line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleLine {
    /// The partition that logged it.
    pub partition: EndpointId,
    /// Its characters, without the newline: printable ASCII only.
    pub text: Vec<u8, LINE_LEN>,
    /// Lines of the same partition dropped just before it, over its rate.
    pub dropped_before: u32,
}

/// A partition's print allowance: a token bucket of lines.
#[derive(Clone, Copy, Debug)]
struct Allowance {
    partition: EndpointId,
    lines: u32,
    /// When `lines` was last topped up (milliseconds of the arch layer's clock).
    since_ms: u64,
    dropped: u32,
}

impl Allowance {
    fn top_up(&mut self, now_ms: u64) {
        let earned = now_ms.saturating_sub(self.since_ms) * u64::from(LINES_PER_SECOND) / 1000;
        let room = u64::from(BURST_LINES - self.lines.min(BURST_LINES));
        if earned >= room {
            self.lines = BURST_LINES;
            self.since_ms = now_ms;
        } else if earned > 0 {
            // `earned` < BURST_LINES here. Keep the fraction of a line not yet earned.
            self.lines += earned as u32;
            self.since_ms += earned * 1000 / u64::from(LINES_PER_SECOND);
        }
    }
}

/// Partial lines, the queue of finished ones and each partition's allowance.
#[derive(Clone, Debug, Default)]
pub struct Console {
    partial: Vec<(EndpointId, Vec<u8, LINE_LEN>), MAX_PARTITIONS>,
    done: Deque<ConsoleLine, QUEUE_LEN>,
    dropped: u32,
    allowances: Vec<Allowance, MAX_PARTITIONS>,
}

impl Console {
    /// Adds `chars` logged by `partition`. A newline ends a line; NUL and carriage returns are
    /// dropped, a tab becomes a space, any other byte that is not printable ASCII a `?`.
    pub fn log(&mut self, partition: EndpointId, chars: &[u8]) {
        for &c in chars {
            let c = match c {
                b'\t' => b' ',
                0x20..=0x7e | b'\n' | 0 | b'\r' => c,
                _ => b'?',
            };
            match c {
                b'\n' => self.flush(partition),
                0 | b'\r' => {}
                _ => {
                    let Some(line) = self.partial_mut(partition) else {
                        return;
                    };
                    if line.push(c).is_err() {
                        self.flush(partition);
                        if let Some(line) = self.partial_mut(partition) {
                            let _ = line.push(c);
                        }
                    }
                }
            }
        }
    }

    fn partial_mut(&mut self, partition: EndpointId) -> Option<&mut Vec<u8, LINE_LEN>> {
        let index = match self.partial.iter().position(|(id, _)| *id == partition) {
            Some(i) => i,
            None => {
                self.partial.push((partition, Vec::new())).ok()?;
                self.partial.len() - 1
            }
        };
        self.partial.get_mut(index).map(|(_, line)| line)
    }

    fn flush(&mut self, partition: EndpointId) {
        let text = match self.partial_mut(partition) {
            Some(line) => core::mem::take(line),
            None => Vec::new(),
        };
        if self.done.is_full() {
            let _ = self.done.pop_front();
            self.dropped = self.dropped.saturating_add(1);
        }
        let _ = self.done.push_back(ConsoleLine {
            partition,
            text,
            dropped_before: 0,
        });
    }

    /// Whether finished lines wait (the arch layer reads its clock only then).
    pub fn has_lines(&self) -> bool {
        !self.done.is_empty()
    }

    /// The oldest finished line its partition may print at `now_ms` (a millisecond clock
    /// that does not go backwards); lines over a partition's allowance are dropped and
    /// counted in its next printed line.
    pub fn take_line(&mut self, now_ms: u64) -> Option<ConsoleLine> {
        while let Some(mut line) = self.done.pop_front() {
            let Some(allowance) = self.allowance_mut(line.partition, now_ms) else {
                continue;
            };
            allowance.top_up(now_ms);
            if allowance.lines == 0 {
                allowance.dropped = allowance.dropped.saturating_add(1);
                continue;
            }
            allowance.lines -= 1;
            line.dropped_before = core::mem::take(&mut allowance.dropped);
            return Some(line);
        }
        None
    }

    fn allowance_mut(&mut self, partition: EndpointId, now_ms: u64) -> Option<&mut Allowance> {
        let index = match self
            .allowances
            .iter()
            .position(|a| a.partition == partition)
        {
            Some(i) => i,
            None => {
                let fresh = Allowance {
                    partition,
                    lines: BURST_LINES,
                    since_ms: now_ms,
                    dropped: 0,
                };
                self.allowances.push(fresh).ok()?;
                self.allowances.len() - 1
            }
        };
        self.allowances.get_mut(index)
    }

    /// Lines dropped because the queue was full.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }
}

impl<P: Platform> Spmc<P> {
    /// FFA_CONSOLE_LOG (32: w2..w7, 64: x2..x17, or x2..x7 before v1.2 as Hafnium reads it):
    /// w1 = character count, 1..=the registers' capacity, else INVALID_PARAMETERS.
    pub(crate) fn console_log(&mut self, call: &Call) -> Next {
        let Endpoint::Partition(ctx) = call.from else {
            return self.fail(call, FfaError::NotSupported);
        };
        let is_32 = ffa::call::function_id(call.regs) == u32::from(FuncId::ConsoleLog32);
        let mut bytes = [0u8; 128];
        let capacity = if is_32 {
            for (chunk, r) in bytes.chunks_exact_mut(4).zip(&call.regs[2..8]) {
                chunk.copy_from_slice(&(*r as u32).to_le_bytes());
            }
            24
        } else {
            for (chunk, r) in bytes.chunks_exact_mut(8).zip(&call.regs[2..18]) {
                chunk.copy_from_slice(&r.to_le_bytes());
            }
            if self.version_of(call.from) >= Version(1, 2) {
                128
            } else {
                48
            }
        };
        let count = call.regs[1] & if is_32 { 0xffff_ffff } else { u64::MAX };
        let Some(chars) = usize::try_from(count)
            .ok()
            .filter(|&n| n >= 1 && n <= capacity)
            .and_then(|n| bytes.get(..n))
        else {
            return self.fail(call, FfaError::InvalidParameters);
        };
        let id = self.partitions.id_of(ctx).unwrap_or(EndpointId::SPMD);
        self.console.log(id, chars);
        self.succeed(call, [0; 6])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_per_partition() {
        let mut c = Console::default();
        let (a, b) = (EndpointId(0x8001), EndpointId(0x8002));
        c.log(a, b"hel");
        c.log(b, b"x\r\n");
        c.log(a, b"lo\0\n");
        let l = c.take_line(0).unwrap();
        assert_eq!((l.partition, &l.text[..]), (b, &b"x"[..]));
        let l = c.take_line(0).unwrap();
        assert_eq!((l.partition, &l.text[..]), (a, &b"hello"[..]));
        assert_eq!(c.take_line(0), None);
    }

    #[test]
    fn only_printable_ascii_reaches_the_terminal() {
        let mut c = Console::default();
        let a = EndpointId(0x8001);
        c.log(a, b"\x1b[2J\tok\x07\x7f\xc3\xa9\x9b\n");
        let line = c.take_line(0).unwrap();
        assert_eq!(&line.text[..], b"?[2J ok?????");
    }

    #[test]
    fn a_flood_is_dropped_over_the_allowance_and_counted() {
        let mut c = Console::default();
        let (a, b) = (EndpointId(0x8001), EndpointId(0x8002));
        let mut printed = 0;
        // The burst, then nothing more at the same instant.
        for _ in 0..BURST_LINES + 10 {
            c.log(a, b"x\n");
            while c.take_line(1_000).is_some() {
                printed += 1;
            }
        }
        assert_eq!(printed, BURST_LINES);
        // Another partition is not held back by it.
        c.log(b, b"y\n");
        let line = c.take_line(1_000).unwrap();
        assert_eq!((line.partition, line.dropped_before), (b, 0));
        // A quarter of a second earns LINES_PER_SECOND / 4 lines; the first says how many
        // were dropped before it.
        let mut got: Vec<u32, 64> = Vec::new();
        for _ in 0..LINES_PER_SECOND {
            c.log(a, b"x\n");
            if let Some(line) = c.take_line(1_250) {
                got.push(line.dropped_before).unwrap();
            }
        }
        assert_eq!(got.len(), (LINES_PER_SECOND / 4) as usize);
        assert_eq!(got[0], 10);
        assert!(got[1..].iter().all(|&d| d == 0));
        // A clock that goes backwards earns nothing.
        c.log(a, b"x\n");
        assert_eq!(c.take_line(0), None);
    }

    #[test]
    fn long_lines_split_and_full_queue_drops_oldest() {
        let mut c = Console::default();
        let a = EndpointId(0x8001);
        c.log(a, &[b'a'; LINE_LEN + 1]);
        c.log(a, b"\n");
        assert_eq!(c.take_line(0).unwrap().text.len(), LINE_LEN);
        assert_eq!(&c.take_line(0).unwrap().text[..], b"a");
        for i in 0..(QUEUE_LEN + 2) {
            c.log(a, &[b'0' + (i % 10) as u8, b'\n']);
        }
        assert_eq!(c.dropped(), 2);
        assert_eq!(&c.take_line(0).unwrap().text[..], b"2");
    }
}
