//! Direct requests from several cores at the same moment: the work each core does
//! ([`run`]), what it reports ([`Tally`]), and how the answers travel back in registers (a
//! client runs a core's share there and hands the tally over in x0..x2).

use ffa::{FfaError, FuncId, Regs};
use test_partitions::{ECHO_ID, RELAY_ID};

use crate::bench::{self, Operation};

/// How one core's requests went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Answered by the partition, the answer checked word by word.
    pub answered: u32,
    /// Refused BUSY: the partition's context was handling another core's request.
    pub busy: u32,
    /// Answered with anything else.
    pub wrong: u32,
}

impl Tally {
    /// The tally in x0..x2, as a core hands it back.
    pub fn to_regs(self) -> Regs {
        let mut regs = [0; 18];
        regs[0] = u64::from(self.answered);
        regs[1] = u64::from(self.busy);
        regs[2] = u64::from(self.wrong);
        regs
    }

    /// The tally in x0..x2 (counts past 32 bits are wrong answers of a broken client).
    pub fn from_regs(regs: &Regs) -> Self {
        let count = |r: u64| u32::try_from(r).unwrap_or(u32::MAX);
        Self {
            answered: count(regs[0]),
            busy: count(regs[1]),
            wrong: count(regs[2]),
        }
    }
}

/// The bench operation that sends ECHO to `target` (echo or relay), if it is one of them.
fn operation(target: u16) -> Option<Operation> {
    match target {
        ECHO_ID => Some(Operation::DirectReqEcho),
        RELAY_ID => Some(Operation::DirectReqRelayEcho),
        _ => None,
    }
}

/// First call number of these requests on a core: past the bench's, so each core's payloads
/// differ from every other core's and from anything else it sent.
const FIRST_CALL: u32 = 0x8_0000;

/// Core `core`'s share: `count` DIRECT_REQ_32 ECHO requests to `target` (echo or relay), each
/// with payloads of its own, made through `smc`, each answer checked.
pub fn run(core: u16, target: u16, count: u32, mut smc: impl FnMut(&Regs) -> Regs) -> Tally {
    let mut tally = Tally::default();
    let Some(operation) = operation(target) else {
        tally.wrong = count;
        return tally;
    };
    let first = bench::first_call(usize::from(core)).wrapping_add(FIRST_CALL);
    for n in first..first.wrapping_add(count) {
        let request = operation.request(n);
        let answer = smc(&request);
        if ffa::call::error_code(&answer) == Some(FfaError::Busy)
            && answer[0] == u64::from(u32::from(FuncId::Error32))
        {
            tally.busy += 1;
        } else if operation.check(&request, &answer).is_ok() {
            tally.answered += 1;
        } else {
            tally.wrong += 1;
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_survives_the_registers() {
        let tally = Tally {
            answered: 7,
            busy: 3,
            wrong: 1,
        };
        assert_eq!(Tally::from_regs(&tally.to_regs()), tally);
        let mut broken = [u64::MAX; 18];
        broken[2] = 0;
        assert_eq!(
            Tally::from_regs(&broken),
            Tally {
                answered: u32::MAX,
                busy: u32::MAX,
                wrong: 0
            }
        );
    }

    #[test]
    fn answers_are_sorted_into_the_tally() {
        // Every request answered BUSY.
        let mut error = [0; 18];
        error[0] = u64::from(u32::from(FuncId::Error32));
        error[2] = u64::from(i32::from(FfaError::Busy) as u32);
        assert_eq!(
            run(1, ECHO_ID, 5, |_| error),
            Tally {
                answered: 0,
                busy: 5,
                wrong: 0
            }
        );
        // Anything else is wrong; an unknown target sends nothing.
        assert_eq!(run(1, RELAY_ID, 4, |_| [0; 18]).wrong, 4);
        assert_eq!(
            run(1, 0x8009, 4, |_| panic!("no request for an unknown target")).wrong,
            4
        );
    }
}
