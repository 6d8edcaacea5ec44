//! The hops a call takes through the stack (host → proxy → EL3 → SPMC → SP …).
//!
//! The last hops are always kept, so a failing scenario can show how it got there; with
//! `E2E_TRACE=1` in the environment every hop is also printed as it happens.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use ffa::Regs;

/// Hops kept for failure reports.
const KEPT: usize = 48;

/// One agent of the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agent {
    /// The normal-world client (a host OS or test program at NS-EL1).
    Host,
    /// The pKVM-style proxy at NS-EL2.
    Proxy,
    /// TF-A's BL31 with the SPMD.
    El3,
    /// The SPMC at S-EL2.
    Spmc,
    /// A secure partition, by endpoint ID and execution context.
    Partition(u16, u16),
}

impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Agent::Host => write!(f, "host"),
            Agent::Proxy => write!(f, "proxy"),
            Agent::El3 => write!(f, "EL3"),
            Agent::Spmc => write!(f, "SPMC"),
            Agent::Partition(id, vcpu) => write!(f, "SP {id:#06x}.{vcpu}"),
        }
    }
}

/// A shared recorder of hops; clones record into the same log.
#[derive(Clone)]
pub struct Trace {
    inner: Rc<RefCell<TraceInner>>,
}

struct TraceInner {
    print: bool,
    recent: VecDeque<String>,
}

impl Default for Trace {
    fn default() -> Self {
        Self::from_env()
    }
}

impl Trace {
    /// Prints hops when `E2E_TRACE` is set to something other than `0`.
    pub fn from_env() -> Self {
        let print = std::env::var("E2E_TRACE").is_ok_and(|v| !v.is_empty() && v != "0");
        Self::new(print)
    }

    /// A recorder that prints hops or not.
    pub fn new(print: bool) -> Self {
        Self {
            inner: Rc::new(RefCell::new(TraceInner {
                print,
                recent: VecDeque::with_capacity(KEPT),
            })),
        }
    }

    /// Records that `from` handed `regs` to `to` on `cpu`.
    pub fn hop(&self, cpu: u16, from: Agent, to: Agent, regs: &Regs) {
        self.note(format!("[cpu{cpu}] {from} -> {to}: {}", describe(regs)));
    }

    /// Records a free-form event.
    pub fn note(&self, line: String) {
        let mut inner = self.inner.borrow_mut();
        if inner.print {
            println!("  trace {line}");
        }
        if inner.recent.len() == KEPT {
            inner.recent.pop_front();
        }
        inner.recent.push_back(line);
    }

    /// The most recent hops, oldest first.
    pub fn recent(&self) -> Vec<String> {
        self.inner.borrow().recent.iter().cloned().collect()
    }

    /// Forgets the kept hops (between scenarios sharing a recorder).
    pub fn clear(&self) {
        self.inner.borrow_mut().recent.clear();
    }
}

/// `x0`'s name and the non-zero argument registers, for humans.
pub fn describe(regs: &Regs) -> String {
    let fid = ffa::call::function_id(regs);
    let mut out = match ffa::FuncId::try_from(fid) {
        Ok(func) => format!("{func:?}"),
        Err(_) => format!("{:#x}", regs[0]),
    };
    for (i, r) in regs.iter().enumerate().skip(1) {
        if *r != 0 {
            out.push_str(&format!(" x{i}={r:#x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_hops_in_order() {
        let t = Trace::new(false);
        let mut regs = [0u64; 18];
        regs[0] = 0x8400_0063;
        regs[1] = 0x1_0002;
        for cpu in 0..(KEPT as u16 + 2) {
            t.hop(cpu, Agent::Host, Agent::El3, &regs);
        }
        let recent = t.recent();
        assert_eq!(recent.len(), KEPT);
        assert_eq!(recent[0], "[cpu2] host -> EL3: Version x1=0x10002");
        t.clear();
        assert!(t.recent().is_empty());
    }

    #[test]
    fn names_unknown_ids_by_number() {
        let mut regs = [0u64; 18];
        regs[0] = 0x8400_0000;
        assert_eq!(describe(&regs), "0x84000000");
    }
}
