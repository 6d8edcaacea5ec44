//! BL31's runtime services other than the SPMD, as far as a test can see them: the SMCCC
//! architecture calls and PSCI answer their version, everything else is unknown.
//!
//! TF-A v2.12 answers with `SMC_RET1`: x0 is written, x1..x17 keep the caller's values.

use ffa::Regs;

/// SMCCC_VERSION (Arm architecture service).
pub const SMCCC_VERSION: u32 = 0x8000_0000;
/// PSCI_VERSION.
pub const PSCI_VERSION: u32 = 0x8400_0000;

/// TF-A v2.12's SMCCC version (`SMCCC_MAJOR_VERSION`.`SMCCC_MINOR_VERSION` = 1.5).
pub const SMCCC_VERSION_VALUE: u64 = 0x1_0005;
/// TF-A v2.12's PSCI version (1.1).
pub const PSCI_VERSION_VALUE: u64 = 0x1_0001;
/// `SMC_UNK` (-1) as x0 holds it.
pub const SMC_UNKNOWN: u64 = u64::MAX;

/// The answer to a non-FF-A SMC whose function ID (bit 16 already cleared) is `fid`.
pub fn answer(fid: u32, regs: &Regs) -> Regs {
    let mut out = *regs;
    out[0] = match fid {
        SMCCC_VERSION => SMCCC_VERSION_VALUE,
        PSCI_VERSION => PSCI_VERSION_VALUE,
        _ => SMC_UNKNOWN,
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_unknown() {
        let mut regs = [7u64; 18];
        regs[0] = u64::from(PSCI_VERSION);
        let out = answer(PSCI_VERSION, &regs);
        assert_eq!(out[0], 0x1_0001);
        assert_eq!(&out[1..], &regs[1..], "SMC_RET1 keeps x1..x17");
        assert_eq!(answer(SMCCC_VERSION, &regs)[0], 0x1_0005);
        assert_eq!(
            answer(0xc400_0003, &regs)[0],
            u64::MAX,
            "CPU_ON is not modelled"
        );
        assert_eq!(answer(0x8200_0001, &regs)[0], u64::MAX, "no SiP service");
    }
}
