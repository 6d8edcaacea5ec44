//! The per-core call slots between two real threads, and their state words.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::thread;

use ns_client::slot::{self, SlotCell, SlotError, SlotState};

/// A slot in host memory: the state word orders the registers (release/acquire), as the DSBs
/// do on the target.
#[derive(Default)]
struct HostSlot {
    state: AtomicU32,
    regs: [AtomicU64; 18],
}

impl SlotCell for HostSlot {
    fn state(&self) -> u32 {
        self.state.load(Ordering::Acquire)
    }
    fn set_state(&self, word: u32) {
        self.state.store(word, Ordering::Release);
    }
    fn regs(&self) -> [u64; 18] {
        std::array::from_fn(|i| self.regs[i].load(Ordering::Relaxed))
    }
    fn set_regs(&self, regs: &[u64; 18]) {
        for (cell, value) in self.regs.iter().zip(regs) {
            cell.store(*value, Ordering::Relaxed);
        }
    }
    fn wait(&self) {
        thread::yield_now();
    }
    fn wake(&self) {}
}

/// What the worker's "SMC" does: an answer that depends on every register.
fn fake_smc(regs: &[u64; 18]) -> [u64; 18] {
    let sum = regs.iter().fold(0u64, |a, r| a.wrapping_add(*r));
    std::array::from_fn(|i| regs[i].wrapping_mul(3) ^ sum.rotate_left(i as u32))
}

#[test]
fn calls_reach_the_other_core_and_answers_come_back() {
    let slot = Arc::new(HostSlot::default());
    const CALLS: u64 = 2000;
    let worker = {
        let slot = Arc::clone(&slot);
        thread::spawn(move || {
            slot::announce(&*slot);
            for _ in 0..CALLS {
                slot::serve(&*slot, fake_smc);
            }
        })
    };
    while !slot::is_online(&*slot) {
        thread::yield_now();
    }
    for n in 0..CALLS {
        let regs: [u64; 18] = std::array::from_fn(|i| n << 8 | i as u64);
        assert_eq!(slot::call(&*slot, &regs), Ok(fake_smc(&regs)), "call {n}");
    }
    worker.join().unwrap();
    assert_eq!(SlotState::decode(slot.state()), Some(SlotState::Ready));
}

#[test]
fn a_core_that_never_came_up_is_offline() {
    let slot = HostSlot::default();
    assert!(!slot::is_online(&slot));
    assert_eq!(slot::call(&slot, &[0; 18]), Err(SlotError::Offline));
    assert_eq!(slot.regs(), [0; 18], "nothing posted");
}

#[test]
fn a_slot_that_already_holds_a_call_is_busy() {
    for state in [SlotState::Posted, SlotState::Done] {
        let slot = HostSlot::default();
        slot.set_state(state.encode());
        assert_eq!(slot::call(&slot, &[1; 18]), Err(SlotError::Busy));
        assert_eq!(slot.regs(), [0; 18]);
    }
}

#[test]
fn a_garbage_state_word_is_corrupt_not_a_state() {
    let slot = HostSlot::default();
    slot.set_state(0x1234_5678);
    assert_eq!(
        slot::call(&slot, &[1; 18]),
        Err(SlotError::Corrupt(0x1234_5678))
    );
    assert!(!slot::is_online(&slot), "a corrupt slot is no online core");
}

#[test]
fn state_words_round_trip_and_are_distinct() {
    let states = [
        SlotState::Offline,
        SlotState::Ready,
        SlotState::Posted,
        SlotState::Done,
    ];
    for s in states {
        assert_eq!(SlotState::decode(s.encode()), Some(s));
    }
    assert_eq!(SlotState::Offline.encode(), 0, "zeroed memory is offline");
    for (i, a) in states.iter().enumerate() {
        for b in &states[i + 1..] {
            assert_ne!(a.encode(), b.encode());
        }
    }
    for word in [1u32, u32::MAX, 0x5244_5953] {
        assert_eq!(SlotState::decode(word), None);
    }
}
