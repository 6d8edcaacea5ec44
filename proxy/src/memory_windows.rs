//! The physical ranges a [`crate::HostMemory`] implementation may copy: host RAM and the
//! proxy's own RX/TX buffers, nothing else (not the proxy's image, not devices).

use crate::ProxyConfig;

/// A half-open physical range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    start: u64,
    end: u64,
}

impl Window {
    fn holds(&self, addr: u64, len: u64) -> bool {
        match addr.checked_add(len) {
            Some(last) => addr >= self.start && last <= self.end,
            None => false,
        }
    }
}

/// The ranges copies may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryWindows {
    windows: [Window; 3],
}

impl MemoryWindows {
    /// Host RAM and the two mailbox buffers of `config` (a buffer whose size overflows is left
    /// out: nothing can be copied there).
    pub fn new(config: &ProxyConfig) -> Self {
        let bytes = u64::from(config.pages).checked_mul(ffa::PAGE_SIZE as u64);
        let buffer = |start: u64| match bytes.and_then(|b| start.checked_add(b)) {
            Some(end) => Window { start, end },
            None => Window { start, end: start },
        };
        let (start, end) = config.host_ram;
        Self {
            windows: [Window { start, end }, buffer(config.tx), buffer(config.rx)],
        }
    }

    /// Whether `len` bytes at `addr` lie wholly inside one window (a copy never spans two:
    /// they are separate objects even where they touch).
    pub fn allows(&self, addr: u64, len: u64) -> bool {
        self.windows.iter().any(|w| w.holds(addr, len))
    }
}
