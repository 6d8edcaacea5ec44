//! FFA_CONSOLE_LOG: partitions' characters, line-buffered per partition.
//!
//! Partitions often log one character per call; the SPMC keeps each partition's partial line
//! and queues finished lines for the arch layer to print whole (so lines from different
//! worlds never interleave). When the queue is full the oldest line is dropped and counted.

use ffa::{EndpointId, FfaError, FuncId, Version};
use heapless::{Deque, Vec};

use crate::manifest::MAX_PARTITIONS;
use crate::platform::Platform;
use crate::spmc::{Call, Endpoint, Outcome, Spmc};

/// Longest line kept; longer ones are split.
pub const LINE_LEN: usize = 128;
/// Finished lines waiting for the arch layer.
pub const QUEUE_LEN: usize = 16;

/// A finished line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleLine {
    /// The partition that logged it.
    pub partition: EndpointId,
    /// Its characters, without the newline.
    pub text: Vec<u8, LINE_LEN>,
}

/// Partial lines and the queue of finished ones.
#[derive(Clone, Debug, Default)]
pub struct Console {
    partial: Vec<(EndpointId, Vec<u8, LINE_LEN>), MAX_PARTITIONS>,
    done: Deque<ConsoleLine, QUEUE_LEN>,
    dropped: u32,
}

impl Console {
    /// Adds `chars` logged by `partition`. A newline ends a line; NUL and carriage returns are
    /// dropped.
    pub fn log(&mut self, partition: EndpointId, chars: &[u8]) {
        for &c in chars {
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
        let _ = self.done.push_back(ConsoleLine { partition, text });
    }

    /// The oldest finished line.
    pub fn take_line(&mut self) -> Option<ConsoleLine> {
        self.done.pop_front()
    }

    /// Lines dropped because the queue was full.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }
}

impl<P: Platform> Spmc<P> {
    /// FFA_CONSOLE_LOG (32: w2..w7, 64: x2..x17, or x2..x7 before v1.2 as Hafnium reads it):
    /// w1 = character count, 1..=the registers' capacity, else INVALID_PARAMETERS.
    pub(crate) fn console_log(&mut self, call: &Call) -> Outcome {
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
        let l = c.take_line().unwrap();
        assert_eq!((l.partition, &l.text[..]), (b, &b"x"[..]));
        let l = c.take_line().unwrap();
        assert_eq!((l.partition, &l.text[..]), (a, &b"hello"[..]));
        assert_eq!(c.take_line(), None);
    }

    #[test]
    fn long_lines_split_and_full_queue_drops_oldest() {
        let mut c = Console::default();
        let a = EndpointId(0x8001);
        c.log(a, &[b'a'; LINE_LEN + 1]);
        c.log(a, b"\n");
        assert_eq!(c.take_line().unwrap().text.len(), LINE_LEN);
        assert_eq!(&c.take_line().unwrap().text[..], b"a");
        for i in 0..(QUEUE_LEN + 2) {
            c.log(a, &[b'0' + (i % 10) as u8, b'\n']);
        }
        assert_eq!(c.dropped(), 2);
        assert_eq!(&c.take_line().unwrap().text[..], b"2");
    }
}
