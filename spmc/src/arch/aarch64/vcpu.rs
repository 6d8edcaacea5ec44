//! The machine state of an execution context, and of the normal world while partitions run.
//!
//! EL3 does not switch EL1 system registers or FP/SIMD registers between the worlds when the
//! SPMC is at S-EL2, so the SPMC saves the normal world's EL1 registers on a core's first
//! switch to a partition and puts them back before it returns to the SPMD. Each partition
//! context has its own set, loaded before it runs and saved when it leaves the core. FP/SIMD
//! state is switched lazily, apart (`super::fp`).

use aarch64_cpu::registers::{
    AFSR0_EL1, AFSR1_EL1, AMAIR_EL1, CNTKCTL_EL1, CNTP_CTL_EL0, CNTP_CVAL_EL0, CNTV_CTL_EL0,
    CNTV_CVAL_EL0, CONTEXTIDR_EL1, CPACR_EL1, CSSELR_EL1, ELR_EL1, ESR_EL1, FAR_EL1, ICH_VMCR_EL2,
    MAIR_EL1, PAR_EL1, Readable, SCTLR_EL1, SP_EL0, SP_EL1, SPSR_EL1, TCR_EL1, TPIDR_EL0,
    TPIDR_EL1, TPIDRRO_EL0, TTBR0_EL1, TTBR1_EL1, VBAR_EL1, Writeable,
};

use crate::exception::{ENTRY_PSTATE, ENTRY_SCTLR_EL1, Injection};

/// General registers and the exception state `spmc_vcpu_run` loads and saves (layout fixed
/// by the assembly: see `asm::OFF_*`).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct GuestRegs {
    /// x0..x30.
    pub x: [u64; 31],
    /// ELR_EL2: where it resumes.
    pub elr: u64,
    /// SPSR_EL2: the PSTATE it resumes with.
    pub spsr: u64,
    /// ESR_EL2 of its last exception.
    pub esr: u64,
    /// FAR_EL2 of its last exception.
    pub far: u64,
    /// HPFAR_EL2 of its last exception.
    pub hpfar: u64,
}

impl GuestRegs {
    /// All zero.
    pub const ZERO: Self = Self {
        x: [0; 31],
        elr: 0,
        spsr: 0,
        esr: 0,
        far: 0,
        hpfar: 0,
    };
}

/// Reads the registers of a `field: REGISTER` list into `$s`'s fields, two by two.
macro_rules! save_in_pairs {
    ($s:ident;) => {};
    ($s:ident; $field:ident: $register:ident) => {
        $s.$field = $register.get();
    };
    ($s:ident; $f1:ident: $r1:ident, $f2:ident: $r2:ident $(, $field:ident: $register:ident)*) => {
        let pair = ($r1.get(), $r2.get());
        $s.$f1 = pair.0;
        $s.$f2 = pair.1;
        save_in_pairs!($s; $($field: $register),*);
    };
}

/// Declares [`El1Regs`] from one table of `field: REGISTER` pairs: the struct, its zero value,
/// and the save and restore sequences, so no register can be saved and not restored.
macro_rules! el1_registers {
    ($($field:ident: $register:ident),* $(,)?) => {
        /// EL1 (and EL0) system registers of one world or context: everything a partition can
        /// write without a trap, switched between the worlds and between contexts.
        #[derive(Clone, Copy, Debug, Default)]
        #[repr(C)]
        pub struct El1Regs {
            $($field: u64,)*
        }

        impl El1Regs {
            /// All zero.
            pub const ZERO: Self = Self { $($field: 0,)* };

            /// Reads them from the core, two at a time (their stores go in pairs).
            pub fn save(&mut self) {
                save_in_pairs!(self; $($field: $register),*);
            }

            /// Writes them to the core, in table order (effective after the next ISB or
            /// exception return).
            pub fn restore(&self) {
                $($register.set(self.$field);)*
            }
        }
    };
}

el1_registers! {
    sctlr: SCTLR_EL1,
    ttbr0: TTBR0_EL1,
    ttbr1: TTBR1_EL1,
    tcr: TCR_EL1,
    mair: MAIR_EL1,
    amair: AMAIR_EL1,
    vbar: VBAR_EL1,
    contextidr: CONTEXTIDR_EL1,
    tpidr_el0: TPIDR_EL0,
    tpidr_el1: TPIDR_EL1,
    tpidrro_el0: TPIDRRO_EL0,
    cpacr: CPACR_EL1,
    esr: ESR_EL1,
    far: FAR_EL1,
    par: PAR_EL1,
    afsr0: AFSR0_EL1,
    afsr1: AFSR1_EL1,
    sp_el0: SP_EL0,
    sp_el1: SP_EL1,
    elr_el1: ELR_EL1,
    spsr_el1: SPSR_EL1,
    csselr: CSSELR_EL1,
    // Not MDSCR_EL1: MDCR_EL2.TDA traps a partition's accesses (`super::traps`), and EL3
    // disables debug exceptions in the secure state (TF-A sets MDCR_EL3.SDD), so the normal
    // world's value neither leaks to a partition nor acts on it.
    // The EL1 timers (CNTHCTL_EL2 lets partitions use them): the compare value before the
    // control, so a restored timer never fires on the other world's compare value.
    cntkctl: CNTKCTL_EL1,
    cntv_cval: CNTV_CVAL_EL0,
    cntv_ctl: CNTV_CTL_EL0,
    cntp_cval: CNTP_CVAL_EL0,
    cntp_ctl: CNTP_CTL_EL0,
    // What EL1 wrote to its virtual GIC CPU interface (HCR_EL2.IMO/FMO: its ICC_PMR_EL1 and
    // group enables land here), so one partition never sees another's.
    ich_vmcr: ICH_VMCR_EL2,
}

/// Everything of one partition execution context.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct VcpuState {
    /// General registers and exception state.
    pub regs: GuestRegs,
    /// EL1 system registers.
    pub el1: El1Regs,
    /// The abort injected last, to recognise a fault inside its handler.
    pub injected: Option<Injection>,
}

impl VcpuState {
    /// A context never run.
    pub const ZERO: Self = Self {
        regs: GuestRegs::ZERO,
        el1: El1Regs::ZERO,
        injected: None,
    };

    /// Resets it to start at `pc` with x0..x17 = `args`: EL1h, DAIF masked, MMU off.
    pub fn reset(&mut self, pc: u64, args: &[u64; 18]) {
        *self = Self::ZERO;
        self.regs.x[..18].copy_from_slice(args);
        self.regs.elr = pc;
        self.regs.spsr = ENTRY_PSTATE;
        self.el1.sctlr = ENTRY_SCTLR_EL1;
    }

    /// VBAR_EL1, ELR_EL1 and SPSR_EL1 as last saved.
    pub fn exception_regs(&self) -> (u64, u64, u64) {
        (self.el1.vbar, self.el1.elr_el1, self.el1.spsr_el1)
    }

    /// Applies an injected exception: the new EL1 exception registers, and where it resumes.
    pub fn apply(&mut self, i: &Injection) {
        self.el1.esr = i.esr_el1;
        self.el1.far = i.far_el1;
        self.el1.elr_el1 = i.elr_el1;
        self.el1.spsr_el1 = i.spsr_el1;
        self.regs.elr = i.pc;
        self.regs.spsr = i.pstate;
        self.injected = Some(*i);
    }
}

/// The normal world's EL1 state on one core, while partitions have the core.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct NormalWorldState {
    /// x0..x17 of the SMC to the SPMD: the answer or message the SPMC sends, then the call
    /// the SPMD enters it with (built and read in place).
    pub regs: [u64; 18],
    /// Whether `el1` holds the normal world's registers (a partition ran since the SPMD last
    /// entered the SPMC on this core).
    pub saved: bool,
    /// EL1 system registers.
    pub el1: El1Regs,
}

impl NormalWorldState {
    /// Nothing saved.
    pub const EMPTY: Self = Self {
        regs: [0; 18],
        saved: false,
        el1: El1Regs::ZERO,
    };
}
