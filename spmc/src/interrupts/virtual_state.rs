//! One vCPU's virtual interrupts, as Hafnium keeps them: which INTIDs it enabled (and whether
//! each is signalled as vIRQ or vFIQ), and the pending ones in arrival order, each once.
//! HF_INTERRUPT_GET takes the oldest pending one that is enabled; pending disabled ones wait.

use ffa::hafnium::{InterruptType, MANAGED_EXIT_INTID};
use heapless::Vec;

use super::declared::MAX_INTERRUPTS;
use crate::manifest::NsInterruptsAction;

/// Most virtual INTIDs one vCPU tracks: its partition's declared interrupts and Hafnium's
/// maintenance interrupts (virtual timer, managed exit, notification pending, IPI).
pub const MAX_VIRTUAL: usize = MAX_INTERRUPTS + 4;

/// Which virtual interrupt lines a vCPU has asserted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VirtualLines {
    /// A pending, enabled interrupt signalled as vIRQ.
    pub irq: bool,
    /// A pending, enabled interrupt signalled as vFIQ.
    pub fiq: bool,
}

/// One vCPU's virtual interrupt state.
#[derive(Clone, Debug, Default)]
pub struct VirtualInterrupts {
    enabled: Vec<(u32, InterruptType), MAX_VIRTUAL>,
    /// Oldest first.
    pending: Vec<u32, MAX_VIRTUAL>,
}

impl VirtualInterrupts {
    /// Nothing enabled, nothing pending.
    pub const fn new() -> Self {
        Self {
            enabled: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// A vCPU of a partition whose non-secure interrupt action is `action`: Hafnium's managed
    /// exit interrupt enabled from the start for managed exit, as its signal.
    pub fn for_action(action: NsInterruptsAction) -> Self {
        let mut v = Self::new();
        if let NsInterruptsAction::ManagedExit { virq } = action {
            let kind = if virq {
                InterruptType::Irq
            } else {
                InterruptType::Fiq
            };
            v.set_enabled(MANAGED_EXIT_INTID, true, kind);
        }
        v
    }

    /// Takes `intid` back if it is pending (a managed exit the partition has answered).
    pub fn withdraw(&mut self, intid: u32) {
        self.pending.retain(|id| *id != intid);
    }

    /// Enables (signalled as `kind`) or disables `intid`. False if the table is full (the
    /// caller validated `intid`, so this cannot happen for a declared or maintenance INTID).
    pub fn set_enabled(&mut self, intid: u32, enable: bool, kind: InterruptType) -> bool {
        let at = self.enabled.iter().position(|(id, _)| *id == intid);
        match (enable, at) {
            (true, Some(i)) => {
                if let Some(slot) = self.enabled.get_mut(i) {
                    slot.1 = kind;
                }
                true
            }
            (true, None) => self.enabled.push((intid, kind)).is_ok(),
            (false, Some(i)) => {
                self.enabled.swap_remove(i);
                true
            }
            (false, None) => true,
        }
    }

    /// How `intid` is signalled, if enabled.
    pub fn enabled(&self, intid: u32) -> Option<InterruptType> {
        self.enabled
            .iter()
            .find(|(id, _)| *id == intid)
            .map(|(_, kind)| *kind)
    }

    /// Makes `intid` pending (once: an interrupt already pending stays where it is).
    pub fn inject(&mut self, intid: u32) {
        if !self.is_pending(intid) {
            // Never full: INTIDs are validated, each pending once.
            let _ = self.pending.push(intid);
        }
    }

    /// Whether `intid` is pending.
    pub fn is_pending(&self, intid: u32) -> bool {
        self.pending.contains(&intid)
    }

    /// The oldest pending interrupt that is enabled, without taking it.
    pub fn peek(&self) -> Option<u32> {
        self.pending
            .iter()
            .copied()
            .find(|id| self.enabled(*id).is_some())
    }

    /// Takes the oldest pending interrupt that is enabled (HF_INTERRUPT_GET).
    pub fn take(&mut self) -> Option<u32> {
        let intid = self.peek()?;
        self.pending.retain(|id| *id != intid);
        Some(intid)
    }

    /// The lines its pending, enabled interrupts assert.
    pub fn lines(&self) -> VirtualLines {
        let mut lines = VirtualLines::default();
        for kind in self.pending.iter().filter_map(|id| self.enabled(*id)) {
            match kind {
                InterruptType::Irq => lines.irq = true,
                InterruptType::Fiq => lines.fiq = true,
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_takes_the_oldest_enabled_pending_one_and_disabled_ones_wait() {
        let mut v = VirtualInterrupts::new();
        assert_eq!(v.take(), None);
        v.inject(40);
        v.inject(41);
        v.inject(40);
        // Nothing enabled: pending, but no line and nothing to take.
        assert_eq!(v.lines(), VirtualLines::default());
        assert_eq!(v.take(), None);
        assert!(v.set_enabled(41, true, InterruptType::Irq));
        assert_eq!(
            v.lines(),
            VirtualLines {
                irq: true,
                fiq: false
            }
        );
        assert_eq!(v.take(), Some(41));
        assert_eq!(v.lines(), VirtualLines::default());
        assert!(v.set_enabled(40, true, InterruptType::Fiq));
        assert!(v.lines().fiq);
        assert_eq!(v.take(), Some(40));
        assert_eq!(v.take(), None);
        assert!(!v.is_pending(40));
        assert!(v.set_enabled(40, false, InterruptType::Irq));
        assert_eq!(v.enabled(40), None);
        assert_eq!(v.enabled(41), Some(InterruptType::Irq));
    }

    #[test]
    fn the_tables_hold_every_declared_and_maintenance_intid() {
        let mut v = VirtualInterrupts::new();
        for id in 0..MAX_VIRTUAL as u32 {
            assert!(v.set_enabled(id, true, InterruptType::Irq));
            v.inject(id);
        }
        for id in 0..MAX_VIRTUAL as u32 {
            assert_eq!(v.take(), Some(id));
        }
    }
}
