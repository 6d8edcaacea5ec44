//! Random call sequences from the SPMD and partitions, with CPUs powered on and off and
//! running contexts aborted among them: the SPMC never panics, and its outcomes agree with
//! its state (what it enters is Running there; nothing else runs).

mod core_support;

use core_support::*;
use ffa::EndpointId;
use proptest::prelude::*;
use spmc::vcpu::RuntimeState;
use spmc::{Caller, CpuId, Outcome};

const CPUS: u16 = 2;
const IDS: [EndpointId; 4] = [SP1, SP2, SP3, EndpointId(0x8009)];

const FIDS: [u64; 31] = [
    fid::ERROR,
    fid::SUCCESS32,
    fid::VERSION,
    fid::FEATURES,
    fid::RX_RELEASE,
    fid::RXTX_MAP32,
    fid::RXTX_MAP64,
    fid::RXTX_UNMAP,
    fid::PARTITION_INFO_GET,
    fid::ID_GET,
    fid::MSG_WAIT,
    fid::YIELD,
    fid::RUN,
    fid::REQ32,
    fid::REQ64,
    fid::RESP32,
    fid::RESP64,
    fid::RX_ACQUIRE,
    fid::SPM_ID_GET,
    fid::SEC_EP64,
    fid::CONSOLE32,
    fid::CONSOLE64,
    fid::GET_REGS,
    fid::REQ2,
    fid::RESP2,
    fid::MEM_SHARE32,
    fid::MSG_SEND2,
    // FFA_MEM_LEND_64, FFA_MEM_RECLAIM, FFA_MEM_RETRIEVE_REQ_32, FFA_MEM_RELINQUISH.
    0xc400_0072,
    0x8400_0077,
    0x8400_0074,
    0x8400_0076,
];

#[derive(Clone, Debug)]
struct Step {
    cpu: u16,
    /// Call as the context the last outcome on this CPU entered (else as `other`).
    as_entered: bool,
    other: Option<usize>,
    fid: usize,
    /// Endpoint IDs for w1 (source, destination) from a small set, or raw.
    ids: (usize, usize),
    raw_w1: Option<u64>,
    args: [u64; 6],
    upper: u64,
    /// Instead of a call: 12 = a non-secure interrupt ends the run on `cpu`, 13 = abort
    /// what runs on `cpu`, 14 = CPU_ON of `cpu`, 15 = the SPMD's CPU_OFF message for it.
    power: u8,
}

const INTERRUPT: u8 = 12;
const ABORT: u8 = 13;
const POWER_ON: u8 = 14;
const POWER_OFF: u8 = 15;

fn interesting() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(0x1_0000),
        Just(0x1_0001),
        Just(0x1_0002),
        Just(0x8000_0000),
        Just(SP1_LOAD + 0x8000),
        Just(SP1_LOAD + 0x9000),
        Just(SP2_LOAD + 0x8000),
        Just(SP2_LOAD + 0x9000),
        Just(NWD_TX),
        Just(NWD_RX),
        any::<u64>(),
        0u64..8,
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (
        0..CPUS,
        any::<bool>(),
        proptest::option::of(0..IDS.len()),
        0..FIDS.len(),
        (0..6usize, 0..6usize),
        proptest::option::weighted(0.1, any::<u64>()),
        proptest::array::uniform6(interesting()),
        any::<u64>(),
        0u8..16,
    )
        .prop_map(
            |(cpu, as_entered, other, fid, ids, raw_w1, args, upper, power)| Step {
                cpu,
                as_entered,
                other,
                fid,
                ids,
                raw_w1,
                args,
                upper,
                power,
            },
        )
}

/// Indirect messages waiting in TX buffers where the steps may map them: the normal world's
/// to SP2, SP2's to the normal world, SP1's to SP2 (SP1 may not send them).
fn seed_messages(s: &mut TestSpmc) {
    use spmc::platform::{Platform, Space};
    for (space, tx, sender, receiver) in [
        (Space::NonSecure, NWD_TX, 0u16, 0x8002u16),
        (Space::Secure, SP2_LOAD + 0x8000, 0x8002, 0),
        (Space::Secure, SP1_LOAD + 0x8000, 0x8001, 0x8002),
    ] {
        let mut m = [0u8; 56];
        m[8..12].copy_from_slice(&40u32.to_le_bytes());
        m[12..16].copy_from_slice(&((u32::from(sender) << 16) | u32::from(receiver)).to_le_bytes());
        m[16..20].copy_from_slice(&16u32.to_le_bytes());
        s.platform_mut().write(space, tx, &m).unwrap();
    }
}

fn id_for(i: usize) -> u16 {
    [0, 0x8001, 0x8002, 0x8003, 0xffff, 0x8000][i]
}

fn states(s: &TestSpmc) -> Vec<Option<RuntimeState>> {
    IDS.iter()
        .flat_map(|&id| (0..2).map(move |v| (id, v)))
        .map(|(id, v)| s.context_state(id, v))
        .collect()
}

fn check_consistency(s: &TestSpmc) -> Result<(), TestCaseError> {
    for &id in &IDS {
        for v in 0..2 {
            if s.context_state(id, v) == Some(RuntimeState::Running) {
                let on_some_cpu = (0..CPUS).any(|c| s.running_on(CpuId(c)) == Some((id, v)));
                prop_assert!(on_some_cpu, "{id:x?}/{v} Running but on no CPU");
            }
        }
    }
    // A CPU runs a Running context, or one aborted from another CPU that unwinds at its next
    // call; never the same context as another CPU.
    for c in 0..CPUS {
        if let Some((id, v)) = s.running_on(CpuId(c)) {
            let state = s.context_state(id, v);
            prop_assert!(
                matches!(state, Some(RuntimeState::Running | RuntimeState::Aborted)),
                "CPU {c} runs {id:x?}/{v} in state {state:?}"
            );
            for other in (c + 1)..CPUS {
                prop_assert_ne!(s.running_on(CpuId(other)), Some((id, v)));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn random_calls_keep_state_consistent(steps in proptest::collection::vec(step(), 1..48)) {
        let mut s = new_spmc(config(), CPUS);
        seed_messages(&mut s);
        let first = s.boot(CpuId(0));
        let entered_first = matches!(first, Outcome::Enter { .. });
        prop_assert!(entered_first);
        for st in steps {
            let cpu = CpuId(st.cpu);
            if st.power == POWER_ON {
                let before = states(&s);
                match s.cpu_on(cpu) {
                    Outcome::ToSpmd(answer) if answer[0] == fid::ERROR => {
                        prop_assert_eq!(states(&s), before);
                    }
                    Outcome::ToSpmd(_) => prop_assert_eq!(s.running_on(cpu), None),
                    Outcome::Enter { partition, vcpu, start, .. } => {
                        prop_assert!(start.is_some(), "CPU_ON resumed a context");
                        prop_assert_eq!(s.running_on(cpu), Some((partition, vcpu)));
                    }
                    Outcome::Resume { .. } => {
                        return Err(TestCaseError::fail("CPU_ON resumed an interrupted context"));
                    }
                }
                check_consistency(&s)?;
                continue;
            }
            if st.power == INTERRUPT {
                let before = states(&s);
                let was_running = s.running_on(cpu);
                match s.ns_interrupt(cpu) {
                    Outcome::ToSpmd(answer) => {
                        prop_assert_eq!(s.running_on(cpu), None);
                        if answer[0] == fid::ERROR {
                            prop_assert_eq!(states(&s), before);
                        } else if answer[0] == fid::INTERRUPT {
                            let (id, v) = was_running.expect("interrupted nothing");
                            prop_assert_eq!(answer[1], w1(id.0, v));
                            prop_assert_eq!(
                                s.context_state(id, v),
                                Some(RuntimeState::Preempted)
                            );
                        }
                    }
                    Outcome::Resume { partition, vcpu, .. } => {
                        prop_assert_eq!(was_running, Some((partition, vcpu)));
                        prop_assert_eq!(states(&s), before);
                    }
                    Outcome::Enter { partition, vcpu, .. } => {
                        // An aborted context unwinding to its requester.
                        prop_assert_eq!(s.running_on(cpu), Some((partition, vcpu)));
                    }
                }
                check_consistency(&s)?;
                continue;
            }
            if st.power == ABORT {
                let before = states(&s);
                let was_running = s.running_on(cpu);
                match s.abort_running(cpu) {
                    Outcome::ToSpmd(answer) => {
                        prop_assert_eq!(s.running_on(cpu), None);
                        if was_running.is_none() {
                            prop_assert_eq!(answer[0], fid::ERROR);
                            prop_assert_eq!(states(&s), before);
                        }
                    }
                    Outcome::Enter { partition, vcpu, .. } => {
                        prop_assert_eq!(s.running_on(cpu), Some((partition, vcpu)));
                        prop_assert_eq!(
                            s.context_state(partition, vcpu),
                            Some(RuntimeState::Running)
                        );
                    }
                    Outcome::Resume { .. } => {
                        return Err(TestCaseError::fail("an abort resumed an interrupted context"));
                    }
                }
                if let Some((id, v)) = was_running {
                    prop_assert_eq!(s.context_state(id, v), Some(RuntimeState::Aborted));
                }
                check_consistency(&s)?;
                continue;
            }
            let caller = match (st.as_entered, s.running_on(cpu), st.other) {
                (true, Some((id, _)), _) => Caller::Partition(id),
                (_, _, Some(i)) => Caller::Partition(IDS[i]),
                _ => Caller::Spmd,
            };
            let mut r = regs(&[FIDS[st.fid]]);
            r[1] = st.raw_w1.unwrap_or(w1(id_for(st.ids.0), id_for(st.ids.1)));
            r[2..8].copy_from_slice(&st.args);
            r[8..].copy_from_slice(&tagged(st.upper));
            if st.power == POWER_OFF {
                r = regs(&[fid::REQ32, 0xffff_8000, 0x8000_0000, 0x8400_0002]);
            }
            let legit = match caller {
                Caller::Spmd => s.running_on(cpu).is_none(),
                Caller::Partition(id) => s.running_on(cpu).map(|r| r.0) == Some(id),
            };
            let before = states(&s);
            let outcome = s.handle(cpu, caller, &r);
            if !legit {
                let Outcome::ToSpmd(answer) = outcome else {
                    return Err(TestCaseError::fail("bogus caller entered a partition"));
                };
                prop_assert_eq!(answer[0], fid::ERROR);
                prop_assert_eq!(states(&s), before);
                continue;
            }
            match outcome {
                Outcome::Enter { partition, vcpu, .. } => {
                    prop_assert_eq!(s.context_state(partition, vcpu), Some(RuntimeState::Running));
                    prop_assert_eq!(s.running_on(cpu), Some((partition, vcpu)));
                }
                Outcome::Resume { partition, vcpu, .. } => {
                    // Only FFA_RUN of a context an interrupt preempted resumes it.
                    prop_assert_eq!(r[0] & 0xffff_ffff, fid::RUN & 0xffff_ffff);
                    prop_assert_eq!(s.context_state(partition, vcpu), Some(RuntimeState::Running));
                    prop_assert_eq!(s.running_on(cpu), Some((partition, vcpu)));
                }
                Outcome::ToSpmd(_) => prop_assert_eq!(s.running_on(cpu), None),
            }
            check_consistency(&s)?;
        }
    }
}
