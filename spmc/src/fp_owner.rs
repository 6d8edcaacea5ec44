//! Who holds each core's live FP/SIMD registers (V0..V31, FPCR, FPSR), so the arch layer can
//! switch them lazily: a partition runs with FP/SIMD trapped at EL2 unless its context owns the
//! core's registers, and its first access (the trap) moves them to it. These are the
//! decisions, host-tested; `arch::aarch64::fp` carries them out.
//!
//! The rules:
//! - The normal world owns the registers whenever it runs: the SPMC is entered with its values
//!   live and, if a partition took them since, puts them back before it returns to the SPMD
//!   ([`CoreFp::give_back`]).
//! - A context owns them from its trap until the core hands it over: a core call whose outcome
//!   runs anything else on this core saves the owner's registers first ([`CoreFp::hand_over`]).
//!   The arch layer makes that call under the core's lock, so a context's registers are in
//!   memory before the core can give it to another CPU (a UP partition's context migrates).
//!   So a context finds the registers live only where it ran last and nothing else ran since.
//! - The normal world's whole SVE state is saved before a partition takes the registers
//!   (their load zeroes every Z register above bit 127), unless the caller's SVE hint says
//!   nothing beyond FP/SIMD is live. A partition that never touches FP/SIMD runs with it
//!   trapped, which leaves the SVE registers alone.

use crate::EndpointId;

/// A partition execution context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    /// Its partition.
    pub partition: EndpointId,
    /// Its index in the partition.
    pub vcpu: u16,
}

/// Whose values a core's FP/SIMD registers hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The normal world's (the copy saved for it, if any, is stale).
    NormalWorld,
    /// This context's (its saved copy is stale).
    Context(Context),
    /// No one's: whatever they hold is saved where it belongs.
    Nobody,
}

/// A saved copy of FP/SIMD registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    /// The normal world's, per core.
    NormalWorld,
    /// A context's.
    Context(Context),
}

/// What to do at a context's FP/SIMD trap, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Take {
    /// Save the normal world's SVE state (Z, P, FFR, ZCR_EL2).
    pub save_normal_world_sve: bool,
    /// Save the live registers to this copy.
    pub save: Option<Saved>,
    /// Load this context's copy; it runs with FP/SIMD untrapped from then on.
    pub load: Context,
}

/// What to do before returning to the normal world, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GiveBack {
    /// Save the live registers to this context's copy (a core call that could not hand them
    /// over: the core was lost).
    pub save: Option<Context>,
    /// Load the normal world's FP/SIMD copy.
    pub load: bool,
    /// Then load its SVE state.
    pub load_sve: bool,
}

impl GiveBack {
    /// Nothing to do: the normal world's registers are live.
    pub const NOTHING: Self = Self {
        save: None,
        load: false,
        load_sve: false,
    };
}

/// One core's FP/SIMD bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreFp {
    owner: Owner,
    /// The call from the normal world that entered the SPMC had the SVE hint.
    sve_hint: bool,
    /// The normal world's SVE state is saved.
    sve_saved: bool,
}

impl CoreFp {
    /// A core entering the SPMC at boot: what the registers hold belongs to the normal world.
    pub const BOOT: Self = Self {
        owner: Owner::NormalWorld,
        sve_hint: false,
        sve_saved: false,
    };

    /// Whose values the registers hold.
    pub const fn owner(&self) -> Owner {
        self.owner
    }

    /// The normal world entered the SPMC (the SPMD's call), with or without the SVE hint.
    pub fn entered(&mut self, sve_hint: bool) {
        self.sve_hint = sve_hint;
    }

    /// Whether `context` owns the registers: it may run with FP/SIMD untrapped.
    pub fn owns(&self, context: Context) -> bool {
        self.owner == Owner::Context(context)
    }

    /// `context`, running on this core, trapped on FP/SIMD (`sve`: the CPU has SVE). None if
    /// it owns the registers already (no trap should have happened).
    pub fn take(&mut self, context: Context, sve: bool) -> Option<Take> {
        let save = match self.owner {
            Owner::Context(c) if c == context => return None,
            Owner::Context(c) => Some(Saved::Context(c)),
            Owner::NormalWorld => Some(Saved::NormalWorld),
            Owner::Nobody => None,
        };
        let save_normal_world_sve =
            save == Some(Saved::NormalWorld) && sve && !self.sve_hint && !self.sve_saved;
        self.sve_saved |= save_normal_world_sve;
        self.owner = Owner::Context(context);
        Some(Take {
            save_normal_world_sve,
            save,
            load: context,
        })
    }

    /// A core call on this core ended with `next` to run here (None: the normal world):
    /// the context whose registers must be saved now, before the core lock is released.
    pub fn hand_over(&mut self, next: Option<Context>) -> Option<Context> {
        match self.owner {
            Owner::Context(c) if next != Some(c) => {
                self.owner = Owner::Nobody;
                Some(c)
            }
            _ => None,
        }
    }

    /// `context` starts afresh here: its live values, if any, are dropped (its copy is reset).
    pub fn restart(&mut self, context: Context) {
        if self.owns(context) {
            self.owner = Owner::Nobody;
        }
    }

    /// The SPMC is about to return to the SPMD: what puts the normal world's registers back.
    pub fn give_back(&mut self) -> GiveBack {
        // Its SVE state is saved only when a partition takes the registers from it.
        if self.owner == Owner::NormalWorld {
            return GiveBack::NOTHING;
        }
        let back = match self.owner {
            Owner::NormalWorld => GiveBack::NOTHING,
            Owner::Context(c) => GiveBack {
                save: Some(c),
                load: true,
                load_sve: self.sve_saved,
            },
            Owner::Nobody => GiveBack {
                save: None,
                load: true,
                load_sve: self.sve_saved,
            },
        };
        self.owner = Owner::NormalWorld;
        self.sve_saved = false;
        back
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    const ECHO: Context = Context {
        partition: EndpointId(0x8001),
        vcpu: 0,
    };
    const RELAY: Context = Context {
        partition: EndpointId(0x8002),
        vcpu: 1,
    };

    #[test]
    fn a_partition_that_never_traps_costs_nothing() {
        let mut core = CoreFp::BOOT;
        core.entered(false);
        assert!(!core.owns(ECHO));
        assert_eq!(core.hand_over(Some(ECHO)), None);
        assert_eq!(core.hand_over(None), None);
        assert_eq!(core.give_back(), GiveBack::NOTHING);
    }

    #[test]
    fn the_first_trap_saves_the_normal_world_and_its_sve_state_without_the_hint() {
        let mut core = CoreFp::BOOT;
        core.entered(false);
        assert_eq!(
            core.take(ECHO, true),
            Some(Take {
                save_normal_world_sve: true,
                save: Some(Saved::NormalWorld),
                load: ECHO
            })
        );
        assert!(core.owns(ECHO));
        assert_eq!(core.take(ECHO, true), None);
        assert_eq!(core.hand_over(Some(ECHO)), None);
        assert_eq!(core.hand_over(None), Some(ECHO));
        assert_eq!(
            core.give_back(),
            GiveBack {
                save: None,
                load: true,
                load_sve: true
            }
        );
        assert_eq!(core.owner(), Owner::NormalWorld);
    }

    #[test]
    fn the_hint_or_a_cpu_without_sve_keeps_the_sve_state_unsaved() {
        for (hint, sve) in [(true, true), (false, false), (true, false)] {
            let mut core = CoreFp::BOOT;
            core.entered(hint);
            let take = core.take(ECHO, sve).unwrap();
            assert!(!take.save_normal_world_sve);
            core.hand_over(None);
            assert!(!core.give_back().load_sve);
        }
    }

    #[test]
    fn a_context_handed_over_is_saved_and_the_next_one_loads_over_nothing() {
        let mut core = CoreFp::BOOT;
        core.take(ECHO, false).unwrap();
        assert_eq!(core.hand_over(Some(RELAY)), Some(ECHO));
        assert_eq!(core.owner(), Owner::Nobody);
        let take = core.take(RELAY, false).unwrap();
        assert_eq!(take.save, None);
        assert_eq!(take.load, RELAY);
    }

    #[test]
    fn a_lost_hand_over_is_saved_on_the_way_back() {
        let mut core = CoreFp::BOOT;
        core.take(ECHO, false).unwrap();
        let back = core.give_back();
        assert_eq!(back.save, Some(ECHO));
        assert!(back.load);
    }

    #[test]
    fn a_restarted_owner_loses_its_live_values() {
        let mut core = CoreFp::BOOT;
        core.take(ECHO, false).unwrap();
        core.restart(RELAY);
        assert!(core.owns(ECHO));
        core.restart(ECHO);
        assert_eq!(core.owner(), Owner::Nobody);
        assert_eq!(core.take(ECHO, false).unwrap().save, None);
    }

    /// A model machine: each core's registers (the FP/SIMD part, and the rest of the SVE Z
    /// registers), every saved copy, and what each world or context last wrote.
    struct Model {
        cores: Vec<ModelCore>,
        /// Each context's saved copy and the value it last wrote.
        saved: Vec<u64>,
        wrote: Vec<u64>,
        /// Where each context is running now (the last core call of that core entered it).
        running_on: Vec<Option<usize>>,
        next_value: u64,
    }

    struct ModelCore {
        fp: CoreFp,
        /// Live FP/SIMD registers and the SVE bits above them.
        low: u64,
        high: u64,
        /// In the SPMC (else the normal world runs).
        secure: bool,
        hint: bool,
        current: Option<usize>,
        nw_low: u64,
        nw_high: u64,
        nw_saved_low: u64,
        nw_saved_high: u64,
    }

    const CONTEXTS: usize = 4;

    fn context(i: usize) -> Context {
        Context {
            partition: EndpointId(0x8001 + (i / 2) as u16),
            vcpu: (i % 2) as u16,
        }
    }

    fn index(c: Context) -> usize {
        usize::from(c.partition.0 - 0x8001) * 2 + usize::from(c.vcpu)
    }

    impl Model {
        fn new(cores: usize) -> Self {
            Self {
                cores: (0..cores)
                    .map(|_| ModelCore {
                        fp: CoreFp::BOOT,
                        low: 0,
                        high: 0,
                        secure: false,
                        hint: false,
                        current: None,
                        nw_low: 0,
                        nw_high: 0,
                        nw_saved_low: 0,
                        nw_saved_high: 0,
                    })
                    .collect(),
                saved: std::vec![0; CONTEXTS],
                wrote: std::vec![0; CONTEXTS],
                running_on: std::vec![None; CONTEXTS],
                next_value: 1,
            }
        }

        fn fresh(&mut self) -> u64 {
            self.next_value += 1;
            self.next_value
        }

        /// The normal world on `k` writes its registers and calls the SPMC.
        fn normal_world_calls(&mut self, k: usize, hint: bool) {
            let (low, high) = (self.fresh(), self.fresh());
            let core = &mut self.cores[k];
            core.nw_low = low;
            core.nw_high = high;
            core.low = low;
            core.high = high;
            core.secure = true;
            core.hint = hint;
            core.current = None;
            core.fp.entered(hint);
        }

        /// A core call on `k` ends: run `next` there (if no other core runs it), or return to
        /// the normal world, which checks its registers.
        fn core_call(&mut self, k: usize, next: Option<usize>, restart: bool) {
            if let Some(n) = next
                && self.running_on[n].is_some_and(|on| on != k)
            {
                return;
            }
            if let Some(c) = self.cores[k].current.take() {
                self.running_on[c] = None;
            }
            let fp = &mut self.cores[k].fp;
            if let Some(c) = fp.hand_over(next.map(context)) {
                self.saved[index(c)] = self.cores[k].low;
            }
            match next {
                Some(n) => {
                    self.cores[k].current = Some(n);
                    self.running_on[n] = Some(k);
                    if restart {
                        self.cores[k].fp.restart(context(n));
                        self.saved[n] = 0;
                        self.wrote[n] = 0;
                    }
                }
                None => self.return_to_normal_world(k),
            }
        }

        fn return_to_normal_world(&mut self, k: usize) {
            let core = &mut self.cores[k];
            let back = core.fp.give_back();
            if let Some(c) = back.save {
                self.saved[index(c)] = core.low;
            }
            if back.load {
                core.low = core.nw_saved_low;
                core.high = 0;
            }
            if back.load_sve {
                core.low = core.nw_saved_low;
                core.high = core.nw_saved_high;
            }
            core.secure = false;
            assert_eq!(core.low, core.nw_low, "normal world's FP/SIMD registers");
            if !core.hint {
                assert_eq!(core.high, core.nw_high, "normal world's SVE registers");
            }
        }

        /// The context running on `k` uses FP/SIMD: it must find what it wrote, then writes.
        fn context_uses_fp(&mut self, k: usize) {
            let Some(n) = self.cores[k].current else {
                return;
            };
            let value = self.fresh();
            let core = &mut self.cores[k];
            if !core.fp.owns(context(n)) {
                let take = core.fp.take(context(n), true).unwrap();
                if take.save_normal_world_sve {
                    core.nw_saved_high = core.high;
                    core.nw_saved_low = core.low;
                }
                match take.save {
                    Some(Saved::NormalWorld) => core.nw_saved_low = core.low,
                    Some(Saved::Context(c)) => self.saved[index(c)] = core.low,
                    None => {}
                }
                // Loading the FP/SIMD part zeroes the rest of each Z register.
                core.low = self.saved[index(take.load)];
                core.high = 0;
            }
            assert_eq!(core.low, self.wrote[n], "context {n}'s FP/SIMD registers");
            core.low = value;
            core.high = 0;
            self.wrote[n] = value;
        }
    }

    #[derive(Clone, Debug)]
    enum Step {
        NormalWorldCalls {
            core: usize,
            hint: bool,
        },
        Enter {
            core: usize,
            context: usize,
            restart: bool,
        },
        UsesFp {
            core: usize,
        },
        Return {
            core: usize,
        },
    }

    fn step(cores: usize) -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..cores, any::<bool>())
                .prop_map(|(core, hint)| Step::NormalWorldCalls { core, hint }),
            (0..cores, 0..CONTEXTS, prop::bool::weighted(0.1)).prop_map(
                |(core, context, restart)| Step::Enter {
                    core,
                    context,
                    restart
                }
            ),
            (0..cores).prop_map(|core| Step::UsesFp { core }),
            (0..cores).prop_map(|core| Step::Return { core }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Any interleaving of normal-world calls, core calls entering contexts (UP ones
        /// moving between cores), FP/SIMD use and returns on three cores: every context
        /// finds the FP/SIMD values it wrote last wherever it runs next, and the normal world
        /// finds its own (and its SVE state without the hint) whenever it runs again.
        #[test]
        fn every_owner_finds_its_own_registers(steps in prop::collection::vec(step(3), 1..80)) {
            let mut m = Model::new(3);
            for s in steps {
                match s {
                    Step::NormalWorldCalls { core, hint } if !m.cores[core].secure => {
                        m.normal_world_calls(core, hint);
                    }
                    Step::Enter { core, context, restart } if m.cores[core].secure => {
                        m.core_call(core, Some(context), restart);
                    }
                    Step::UsesFp { core } if m.cores[core].secure => m.context_uses_fp(core),
                    Step::Return { core } if m.cores[core].secure => m.core_call(core, None, false),
                    _ => {}
                }
            }
        }
    }
}
