//! The per-core call slots: how core 0 has another core make an SMC.
//!
//! One slot per core, in client memory, holding a state word and x0..x17. The client runs with
//! its MMU off (all memory is Device: no exclusives), so the protocol needs only plain loads and
//! stores, ordered by barriers in the [`SlotCell`] implementation:
//!
//! ```text
//! worker:  READY ─────────────────────────────► (waits for POSTED) ─ smc ─► DONE
//! caller:          regs, POSTED ─► (waits for DONE) ─► reads regs, READY
//! ```
//! A slot in zeroed memory reads OFFLINE: its core never came up. Each state has a distinctive
//! word, so a slot overwritten with anything else reads as corrupt rather than as a state.

use ffa::Regs;

/// A slot's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// The core has not announced itself (zeroed memory).
    Offline,
    /// The core waits for a call.
    Ready,
    /// A call is in the slot for the core to make.
    Posted,
    /// The core made the call; the answer is in the slot.
    Done,
}

impl SlotState {
    /// The state word in memory.
    pub const fn encode(self) -> u32 {
        match self {
            SlotState::Offline => 0,
            SlotState::Ready => 0x5244_5952,  // "RYDR"
            SlotState::Posted => 0x5453_4f50, // "POST"
            SlotState::Done => 0x454e_4f44,   // "DONE"
        }
    }

    /// The state a word holds, or `None` for a word that is no state.
    pub fn decode(word: u32) -> Option<Self> {
        [
            SlotState::Offline,
            SlotState::Ready,
            SlotState::Posted,
            SlotState::Done,
        ]
        .into_iter()
        .find(|s| s.encode() == word)
    }
}

/// Why a call through a slot could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotError {
    /// The core never came up.
    Offline,
    /// The slot already holds a call (the caller protocol was broken).
    Busy,
    /// The state word is no state.
    Corrupt(u32),
}

impl core::fmt::Display for SlotError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SlotError::Offline => f.write_str("not online"),
            SlotError::Busy => f.write_str("busy"),
            SlotError::Corrupt(word) => write!(f, "corrupt slot state {word:#x}"),
        }
    }
}

/// Memory of one slot, shared by two cores.
pub trait SlotCell {
    /// Reads the state word; reads of the registers after it see what was written before the
    /// matching [`SlotCell::set_state`].
    fn state(&self) -> u32;
    /// Writes the state word after every earlier register write is visible to the other core.
    fn set_state(&self, word: u32);
    /// Reads x0..x17.
    fn regs(&self) -> Regs;
    /// Writes x0..x17.
    fn set_regs(&self, regs: &Regs);
    /// Idles until the other core may have changed the state.
    fn wait(&self);
    /// Tells the other core the state changed.
    fn wake(&self);
}

fn set<S: SlotCell>(slot: &S, state: SlotState) {
    slot.set_state(state.encode());
    slot.wake();
}

/// Caller side: has the slot's core make the call `regs`, and returns its answer.
pub fn call<S: SlotCell>(slot: &S, regs: &Regs) -> Result<Regs, SlotError> {
    post(slot, regs)?;
    collect(slot)
}

/// Caller side: has the slot's core start the call `regs`; [`collect`] waits for its answer
/// (the caller may do its own work meanwhile).
pub fn post<S: SlotCell>(slot: &S, regs: &Regs) -> Result<(), SlotError> {
    match SlotState::decode(slot.state()) {
        Some(SlotState::Ready) => {}
        Some(SlotState::Offline) => return Err(SlotError::Offline),
        Some(SlotState::Posted | SlotState::Done) => return Err(SlotError::Busy),
        None => return Err(SlotError::Corrupt(slot.state())),
    }
    slot.set_regs(regs);
    set(slot, SlotState::Posted);
    Ok(())
}

/// Caller side: waits for the answer to the call [`post`] started, and returns it.
pub fn collect<S: SlotCell>(slot: &S) -> Result<Regs, SlotError> {
    loop {
        let word = slot.state();
        match SlotState::decode(word) {
            Some(SlotState::Done) => break,
            Some(SlotState::Posted) => slot.wait(),
            _ => return Err(SlotError::Corrupt(word)),
        }
    }
    let answer = slot.regs();
    set(slot, SlotState::Ready);
    Ok(answer)
}

/// Worker side: announces the core; calls then come through [`serve`].
pub fn announce<S: SlotCell>(slot: &S) {
    set(slot, SlotState::Ready);
}

/// Worker side: waits for one call, makes it with `smc` and posts the answer.
pub fn serve<S: SlotCell>(slot: &S, smc: impl FnOnce(&Regs) -> Regs) {
    while SlotState::decode(slot.state()) != Some(SlotState::Posted) {
        slot.wait();
    }
    let answer = smc(&slot.regs());
    slot.set_regs(&answer);
    set(slot, SlotState::Done);
}

/// Whether the slot's core has announced itself (it is not offline).
pub fn is_online<S: SlotCell>(slot: &S) -> bool {
    SlotState::decode(slot.state()).is_some_and(|s| s != SlotState::Offline)
}
