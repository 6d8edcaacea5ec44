//! The selector word QEMU's loader writes at 0x4700_0000 before the machine starts: which run
//! the NS-EL1 client makes in this boot. xtask encodes it, the client decodes it.
//!
//! | word | run |
//! |------|-----|
//! | 0 | nothing (`verdict: NONE`) |
//! | [`crate::bench::SELECTOR`] | the benchmark |
//! | [`crate::bench::SELECTOR_CORES`], [`crate::bench::SELECTOR_OPTEE`], [`crate::bench::SELECTOR_OPTEE_PROFILE`] | the benchmark's concurrency and OP-TEE boots, and the latter's profile boot (decoded by `bench`, [`Selection::Invalid`] here) |
//! | [`crate::bench::PROFILE_SELECTOR`] | the benchmark's profile boot |
//! | `home << 16 \| (index + 1)` | `ALL[index]` with core `home` as its CPU 0 |
//!
//! A scenario word has a home below [`CPUS`] in its upper half, so none is the bench word
//! (upper half 0xBEEF) or 0 (the lower half is at least 1).

use crate::{ALL, CPUS, Scenario, bench};

/// What a selector word asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// No run.
    None,
    /// The benchmark.
    Bench,
    /// The benchmark's profile boot (marked calls, fewer of them).
    Profile,
    /// A scenario and its home core.
    Scenario {
        /// Its index in [`ALL`] (in range).
        index: usize,
        /// Its home core (below [`CPUS`]).
        home: u16,
    },
    /// A word that names nothing: no such scenario or home core.
    Invalid,
}

/// The word that asks for `ALL[index]` from home core `home`; None past the list or the cores.
pub fn encode(index: usize, home: u16) -> Option<u32> {
    if index >= ALL.len() || home >= CPUS {
        return None;
    }
    let low = u32::try_from(index).ok()?.checked_add(1)?;
    (low <= 0xffff).then_some(u32::from(home) << 16 | low)
}

/// The word that asks for the scenario called `name` from home core `home`.
pub fn of(name: &str, home: u16) -> Option<u32> {
    encode(ALL.iter().position(|s| s.name == name)?, home)
}

/// What `word` asks for.
pub fn decode(word: u32) -> Selection {
    if word == 0 {
        return Selection::None;
    }
    if word == bench::SELECTOR {
        return Selection::Bench;
    }
    if word == bench::PROFILE_SELECTOR {
        return Selection::Profile;
    }
    let (Ok(home), low) = (u16::try_from(word >> 16), word & 0xffff) else {
        return Selection::Invalid;
    };
    let index = low.checked_sub(1).and_then(|i| usize::try_from(i).ok());
    match index {
        Some(index) if index < ALL.len() && home < CPUS => Selection::Scenario { index, home },
        _ => Selection::Invalid,
    }
}

impl Selection {
    /// The scenario a [`Selection::Scenario`] names, with its home core.
    pub fn scenario(self) -> Option<(&'static Scenario, u16)> {
        match self {
            Selection::Scenario { index, home } => Some((ALL.get(index)?, home)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_has_its_own_word_and_decodes_back() {
        let mut seen = std::collections::BTreeSet::new();
        for (index, s) in ALL.iter().enumerate() {
            for home in 0..CPUS {
                let word = encode(index, home).expect("in range");
                assert!(seen.insert(word), "{word:#x} twice");
                assert_ne!(word, 0);
                assert_ne!(word, bench::SELECTOR);
                assert_ne!(word, bench::PROFILE_SELECTOR);
                assert_eq!(of(s.name, home), Some(word));
                let Some((scenario, h)) = decode(word).scenario() else {
                    panic!("{word:#x} does not decode to a scenario");
                };
                assert_eq!((scenario.name, h), (s.name, home));
            }
        }
        assert_eq!(
            encode(0, 0),
            Some(1),
            "home 0 keeps the old index + 1 words"
        );
        assert_eq!(encode(2, 3), Some(0x3_0003));
    }

    #[test]
    fn other_words() {
        assert_eq!(decode(0), Selection::None);
        assert_eq!(decode(bench::SELECTOR), Selection::Bench);
        assert_eq!(decode(bench::PROFILE_SELECTOR), Selection::Profile);
        assert_eq!(encode(ALL.len(), 0), None);
        assert_eq!(encode(0, CPUS), None);
        assert_eq!(of("no_such_scenario", 0), None);
        let past_list = u32::try_from(ALL.len()).expect("small") + 1;
        for word in [
            past_list,
            CPUS as u32 * 0x1_0000 + 1,
            0x1_0000,
            0xffff,
            u32::MAX,
            bench::PROFILE_SELECTOR + 1,
        ] {
            assert_eq!(decode(word), Selection::Invalid, "{word:#x}");
        }
    }
}
