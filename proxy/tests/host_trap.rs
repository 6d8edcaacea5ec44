//! ESR_EL2 decoding of the host's traps and where the host resumes.

use proxy::trap::HostTrap;

fn esr(ec: u64, iss: u64) -> u64 {
    ec << 26 | 1 << 25 | iss
}

#[test]
fn smc_and_hvc_with_their_immediates() {
    assert_eq!(HostTrap::decode(esr(0x17, 0)), HostTrap::Smc64 { imm: 0 });
    assert_eq!(
        HostTrap::decode(esr(0x17, 0x1234)),
        HostTrap::Smc64 { imm: 0x1234 }
    );
    assert_eq!(
        HostTrap::decode(esr(0x16, 0xffff)),
        HostTrap::Hvc64 { imm: 0xffff }
    );
    // ESR_EL2 bits above ISS2 and EC do not change the class.
    assert_eq!(
        HostTrap::decode(esr(0x17, 0) | 0xffff_ffff << 32),
        HostTrap::Smc64 { imm: 0 }
    );
}

#[test]
fn only_a_trapped_smc_steps_over_its_instruction() {
    assert_eq!(HostTrap::Smc64 { imm: 0 }.return_step(), 4);
    assert_eq!(HostTrap::Hvc64 { imm: 0 }.return_step(), 0);
    assert_eq!(HostTrap::DataAbort { iss: 0 }.return_step(), 0);
}

#[test]
fn aborts_and_the_rest() {
    assert_eq!(
        HostTrap::decode(esr(0x24, 0x47)),
        HostTrap::DataAbort { iss: 0x47 }
    );
    assert_eq!(
        HostTrap::decode(esr(0x20, 0x0f)),
        HostTrap::InstructionAbort { iss: 0x0f }
    );
    // SMC32/HVC32 (AArch32 hosts are not run), WFx, system registers, unknown.
    for ec in [0x13u8, 0x12, 0x01, 0x18, 0x00, 0x3f] {
        assert_eq!(
            HostTrap::decode(esr(u64::from(ec), 0x1ff_ffff)),
            HostTrap::Other {
                ec,
                iss: 0x1ff_ffff
            }
        );
    }
}
