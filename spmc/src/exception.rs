//! What a partition's trap to S-EL2 means, and the synchronous abort the SPMC injects into a
//! partition for a stage-2 fault (Arm ARM D1.10 "Exception entry"; Hafnium injects the same
//! way: the ISS kept, the exception class rewritten for the partition's own level).

/// ESR_ELx.EC values this module knows.
pub mod ec {
    /// Unknown reason (an undefined instruction, among others).
    pub const UNKNOWN: u8 = 0x00;
    /// WFI or WFE trapped (HCR_EL2.TWI, TWE).
    pub const WFX: u8 = 0x01;
    /// FP/SIMD access trapped (CPTR_EL2.TFP).
    pub const FP: u8 = 0x07;
    /// HVC from AArch64.
    pub const HVC64: u8 = 0x16;
    /// SMC from AArch64 (trapped by HCR_EL2.TSC).
    pub const SMC64: u8 = 0x17;
    /// MSR, MRS or SYS instruction trapped (HCR_EL2.TACR, MDCR_EL2.TPM, ...).
    pub const SYSREG: u8 = 0x18;
    /// SVE access trapped (CPTR_EL2.TZ).
    pub const SVE: u8 = 0x19;
    /// Instruction abort from a lower exception level.
    pub const IABT_LOWER: u8 = 0x20;
    /// Instruction abort taken without a change of level.
    pub const IABT_SAME: u8 = 0x21;
    /// Data abort from a lower exception level.
    pub const DABT_LOWER: u8 = 0x24;
    /// Data abort taken without a change of level.
    pub const DABT_SAME: u8 = 0x25;
}

/// ESR_ELx.IL: the trapped instruction was 32 bits.
const IL: u64 = 1 << 25;
const ISS_MASK: u64 = (1 << 25) - 1;

/// PSTATE/SPSR: D, A, I, F masked.
pub const DAIF: u64 = 0xf << 6;
/// SPSR.M for EL1 with SP_EL1.
pub const MODE_EL1H: u64 = 0b0101;
/// SPSR.M for EL1 with SP_EL0.
pub const MODE_EL1T: u64 = 0b0100;
/// SPSR.M for EL0.
pub const MODE_EL0T: u64 = 0b0000;
/// The PSTATE a partition starts in and an injected exception runs in: EL1h, DAIF masked.
pub const ENTRY_PSTATE: u64 = DAIF | MODE_EL1H;
/// SCTLR_EL1 a context starts with: MMU and caches off, RES1 bits set (Hafnium's value).
pub const ENTRY_SCTLR_EL1: u64 = 0x30d0_0800;

/// A trap from a partition, by ESR_EL2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trap {
    /// An SMC (ELR points at it: resume past it).
    Smc,
    /// An HVC (ELR points past it already).
    Hvc,
    /// A stage-2 abort, instruction or data.
    Abort {
        /// Instruction fetch (else data access).
        instruction: bool,
    },
    /// A system-register access or system instruction the SPMC traps (MSR/MRS/SYS).
    SystemRegister,
    /// WFI or WFE (ELR points at it): a hint the SPMC completes at once, so a partition
    /// cannot idle a CPU the normal world lent it.
    Wait,
    /// An FP/SIMD access while the context does not own the core's FP/SIMD registers (ELR
    /// points at it): the SPMC gives it them and resumes it there.
    FpAccess,
    /// Anything else: the partition cannot go on.
    Other(u8),
}

/// The exception class of an ESR value.
pub const fn class(esr: u64) -> u8 {
    ((esr >> 26) & 0x3f) as u8
}

/// What a lower-level synchronous exception taken to EL2 is.
pub const fn classify(esr: u64) -> Trap {
    match class(esr) {
        ec::SMC64 => Trap::Smc,
        ec::HVC64 => Trap::Hvc,
        ec::IABT_LOWER => Trap::Abort { instruction: true },
        ec::DABT_LOWER => Trap::Abort { instruction: false },
        ec::SYSREG => Trap::SystemRegister,
        ec::WFX => Trap::Wait,
        ec::FP => Trap::FpAccess,
        other => Trap::Other(other),
    }
}

/// A short name for an exception class, for the log.
pub const fn class_name(ec: u8) -> &'static str {
    match ec {
        ec::UNKNOWN => "unknown/undefined instruction",
        ec::WFX => "WFI/WFE",
        ec::FP => "FP/SIMD access",
        0x09 => "pointer authentication",
        0x0e => "illegal execution state",
        0x15 => "SVC",
        ec::HVC64 => "HVC",
        ec::SMC64 => "SMC",
        ec::SYSREG => "system register access",
        ec::SVE => "SVE access",
        ec::IABT_LOWER | ec::IABT_SAME => "instruction abort",
        0x22 => "PC alignment",
        ec::DABT_LOWER | ec::DABT_SAME => "data abort",
        0x26 => "SP alignment",
        0x2f => "SError",
        0x3c => "BRK",
        _ => "other",
    }
}

/// The partition's EL1 state at a stage-2 fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultState {
    /// ESR_EL2 of the fault.
    pub esr: u64,
    /// FAR_EL2 (the faulting virtual address).
    pub far: u64,
    /// ELR_EL2: the faulting instruction.
    pub pc: u64,
    /// SPSR_EL2: PSTATE at the fault.
    pub pstate: u64,
    /// VBAR_EL1.
    pub vbar: u64,
    /// ELR_EL1 and SPSR_EL1 as the partition left them.
    pub elr_el1: u64,
    /// SPSR_EL1.
    pub spsr_el1: u64,
}

/// The exception to inject: the new EL1 registers and where the partition resumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Injection {
    /// ESR_EL1.
    pub esr_el1: u64,
    /// FAR_EL1.
    pub far_el1: u64,
    /// ELR_EL1: the faulting instruction.
    pub elr_el1: u64,
    /// SPSR_EL1: PSTATE at the fault.
    pub spsr_el1: u64,
    /// Where it resumes: its vector.
    pub pc: u64,
    /// PSTATE it resumes with.
    pub pstate: u64,
}

/// Why a fault cannot be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uninjectable {
    /// VBAR_EL1 is 0: no vector table.
    NoVector,
    /// It faulted again before leaving the exception injected last (or its vector faults).
    InsideHandler,
    /// It ran in AArch32 or at an EL/stack the SPMC does not inject to.
    BadState(u64),
    /// The trap is not one the SPMC hands to the partition.
    NotInjectable,
}

/// The exception to inject for the trap `f`: for a stage-2 fault, the abort (its ISS and
/// address kept); for a trapped system-register access, an Unknown-reason exception, as if
/// the register did not exist (no address: FAR_EL1 is 0). `last` is the injection made last
/// into this context, if any: a trap while the context still has exactly that exception state
/// (its ELR_EL1 and SPSR_EL1 unchanged and PSTATE still the injected one) means its handler
/// could not take it, and repeating would loop.
pub fn inject(f: &FaultState, last: Option<&Injection>) -> Result<Injection, Uninjectable> {
    let abort = match classify(f.esr) {
        Trap::Abort { instruction } => Some(instruction),
        Trap::SystemRegister => None,
        _ => return Err(Uninjectable::NotInjectable),
    };
    if f.vbar == 0 {
        return Err(Uninjectable::NoVector);
    }
    if let Some(last) = last
        && f.elr_el1 == last.elr_el1
        && f.spsr_el1 == last.spsr_el1
        && f.pstate == last.pstate
    {
        return Err(Uninjectable::InsideHandler);
    }
    // AArch32 (M[4]) is not supported; the vector offset follows where it was.
    if f.pstate & 0x10 != 0 {
        return Err(Uninjectable::BadState(f.pstate));
    }
    let (offset, same_level) = match f.pstate & 0xf {
        MODE_EL1H => (0x200, true),
        MODE_EL1T => (0x000, true),
        MODE_EL0T => (0x400, false),
        _ => return Err(Uninjectable::BadState(f.pstate)),
    };
    let (esr_el1, far_el1) = match abort {
        Some(instruction) => {
            let class = match (instruction, same_level) {
                (true, true) => ec::IABT_SAME,
                (true, false) => ec::IABT_LOWER,
                (false, true) => ec::DABT_SAME,
                (false, false) => ec::DABT_LOWER,
            };
            ((u64::from(class) << 26) | (f.esr & (IL | ISS_MASK)), f.far)
        }
        None => ((u64::from(ec::UNKNOWN) << 26) | (f.esr & IL), 0),
    };
    let pc = f.vbar.checked_add(offset).ok_or(Uninjectable::NoVector)?;
    Ok(Injection {
        esr_el1,
        far_el1,
        elr_el1: f.pc,
        spsr_el1: f.pstate,
        pc,
        pstate: ENTRY_PSTATE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data abort from EL1h: translation fault level 3, write, 32-bit instruction.
    const DABT: u64 = (0x24 << 26) | IL | (1 << 6) | 0b000111;

    fn fault() -> FaultState {
        FaultState {
            esr: DABT,
            far: 0x0e40_0010,
            pc: 0x0e30_5000,
            pstate: ENTRY_PSTATE,
            vbar: 0x0e30_8000,
            elr_el1: 0,
            spsr_el1: 0,
        }
    }

    #[test]
    fn traps_are_classified() {
        assert_eq!(classify(0x5e00_0000), Trap::Smc);
        assert_eq!(classify(0x5a00_0000), Trap::Hvc);
        assert_eq!(classify(DABT), Trap::Abort { instruction: false });
        assert_eq!(classify(0x8200_000f), Trap::Abort { instruction: true });
        assert_eq!(classify(0x0200_0000), Trap::Other(0));
        // FP/SIMD (EC 0x07, COND field valid) and SVE (EC 0x19) accesses.
        assert_eq!(classify(0x1fe0_0000), Trap::FpAccess);
        assert_eq!(classify(0x6600_0000), Trap::Other(ec::SVE));
        assert_eq!(classify(0x6232_3c02), Trap::SystemRegister);
        // WFI (TI = 0) and WFE (TI = 1), 32-bit instructions.
        assert_eq!(classify(0x0600_0000), Trap::Wait);
        assert_eq!(classify(0x0600_0001), Trap::Wait);
        assert_eq!(class_name(class(0x1fe0_0000)), "FP/SIMD access");
    }

    #[test]
    fn data_abort_at_el1h_goes_to_the_current_el_spx_vector() {
        let i = inject(&fault(), None).unwrap();
        assert_eq!(i.pc, 0x0e30_8200);
        assert_eq!(i.pstate, 0x3c5);
        assert_eq!(i.elr_el1, 0x0e30_5000);
        assert_eq!(i.spsr_el1, 0x3c5);
        assert_eq!(i.far_el1, 0x0e40_0010);
        // EC rewritten to "same level", IL and ISS (WnR, DFSC) kept.
        assert_eq!(i.esr_el1, (0x25 << 26) | IL | (1 << 6) | 0b000111);
    }

    #[test]
    fn vector_offset_and_class_follow_the_interrupted_state() {
        let mut f = fault();
        f.esr = (0x20 << 26) | IL | 0b001111;
        f.pstate = MODE_EL1T;
        let i = inject(&f, None).unwrap();
        assert_eq!((i.pc, class(i.esr_el1)), (0x0e30_8000, ec::IABT_SAME));
        f.pstate = MODE_EL0T;
        let i = inject(&f, None).unwrap();
        assert_eq!((i.pc, class(i.esr_el1)), (0x0e30_8400, ec::IABT_LOWER));
        assert_eq!(i.spsr_el1, MODE_EL0T);
        for bad in [0x10 | MODE_EL1H, 0b1001, 0b1000] {
            f.pstate = bad;
            assert_eq!(inject(&f, None), Err(Uninjectable::BadState(bad)));
        }
    }

    #[test]
    fn no_vector_or_a_fault_inside_the_handler_cannot_be_injected() {
        let mut f = fault();
        f.vbar = 0;
        assert_eq!(inject(&f, None), Err(Uninjectable::NoVector));
        let first = inject(&fault(), None).unwrap();
        // Its handler faults before touching ELR_EL1/SPSR_EL1.
        let mut again = fault();
        again.pc = first.pc + 8;
        again.elr_el1 = first.elr_el1;
        again.spsr_el1 = first.spsr_el1;
        again.pstate = first.pstate;
        assert_eq!(
            inject(&again, Some(&first)),
            Err(Uninjectable::InsideHandler)
        );
        // The vector itself is unmapped: same thing.
        again.pc = first.pc;
        again.esr = (0x20 << 26) | IL | 0b000111;
        assert_eq!(
            inject(&again, Some(&first)),
            Err(Uninjectable::InsideHandler)
        );
        // After the handler moved ELR_EL1 on (it returned past the fault), a new fault is
        // injected again.
        again.elr_el1 = first.elr_el1 + 4;
        assert!(inject(&again, Some(&first)).is_ok());
        let mut smc = fault();
        smc.esr = 0x5e00_0000;
        assert_eq!(inject(&smc, None), Err(Uninjectable::NotInjectable));
        let mut wrap = fault();
        wrap.vbar = u64::MAX - 0x100;
        assert_eq!(inject(&wrap, None), Err(Uninjectable::NoVector));
    }

    #[test]
    fn a_trapped_system_register_access_is_an_unknown_exception_without_an_address() {
        // MRS x2, PMCR_EL0 trapped by MDCR_EL2.TPMCR, from EL1h and from EL0.
        let mut f = fault();
        f.esr = (0x18 << 26) | IL | 0x32_3c42;
        let i = inject(&f, None).expect("injected");
        assert_eq!(i.esr_el1, IL, "EC 0 (Unknown reason), no ISS");
        assert_eq!(i.far_el1, 0, "nothing of the SPMC's FAR");
        assert_eq!((i.elr_el1, i.spsr_el1), (f.pc, f.pstate));
        assert_eq!((i.pc, i.pstate), (f.vbar + 0x200, ENTRY_PSTATE));
        f.pstate = MODE_EL0T;
        assert_eq!(inject(&f, None).map(|i| i.pc), Ok(f.vbar + 0x400));
        // No vector, or a trap inside its own handler: the partition is aborted.
        f.vbar = 0;
        assert_eq!(inject(&f, None), Err(Uninjectable::NoVector));
    }
}
