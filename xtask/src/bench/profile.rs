//! The profile boot's split of each row by exception level, read from QEMU's execution log
//! (`-d exec,nochain,int,in_asm`), streamed line by line.
//!
//! What the log holds (QEMU 10, checked on real boots):
//! - `in_asm`: when a translation block (TB) is translated, `IN:` and one `0x<pc>:  <insn>`
//!   line per guest instruction, just before that TB's first `Trace` line;
//! - `exec`: `Trace <cpu>: <host pointer> [<cs_base>/<pc>/<flags>/<cflags>] ...` each time a TB
//!   starts (with `nochain`, every time: no TB jumps straight into the next). The host
//!   pointer names the TB until it is retranslated, which logs a new `IN:` block first;
//! - `Stopped execution of TB chain before <host pointer> ...`: that TB ran no instruction
//!   (the instruction budget of `-icount` ran out, or an interrupt is pending);
//! - `cpu_io_recompile: rewound execution of TB to <pc>`: a device access inside a TB; the
//!   instructions before `<pc>` ran, the rest run again in a new TB;
//! - `int`: `Taking exception <n> [<name>] on CPU <cpu>` then `...from EL<x> to EL<y>`,
//!   `...with ESR <ec>/<esr>`, `...with ELR <addr>` and `...to EL<y> PC <addr> PSTATE ...`;
//!   `Exception return from AArch64 EL<x> to AArch64 EL<y> PC <addr>`.
//!
//! Each TB's instructions go to the level the CPU is at. Exceptions move it: an exception
//! keeps the world unless it enters EL3; EL3's exception return enters the secure world when it
//! lands in the SPMC's image (the only secure code EL3 returns to at run time). A synchronous
//! exception inside a TB cuts it at ELR. QEMU counts a trapped SMC (taken to EL2) as executed,
//! as `-icount` does, and not the instruction a data abort or a trapped register access stops
//! at.
//!
//! A marked call (`smc #imm`, imm = [`smc_call::MARK_BASE`] + the row's mark) opens a window
//! that the exception return to the caller's level at the instruction after the SMC closes:
//! the instructions in it are the call's, less the 4 of the caller's counter bracket
//! (`isb; smc; isb; mrs`), which [`BRACKET`] adds back.

use std::collections::HashMap;
use std::io::BufRead;
use std::ops::Range;

/// The caller's instructions inside the counter bracket and outside the call's window.
pub const BRACKET: u64 = 4;

/// Where an instruction ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// EL3: TF-A's BL31 with the SPMD.
    El3,
    /// S-EL2: the SPMC.
    SecureEl2,
    /// S-EL1: the partitions.
    SecureEl1,
    /// S-EL0.
    SecureEl0,
    /// NS-EL2: the proxy.
    NsEl2,
    /// NS-EL1: the client.
    NsEl1,
    /// NS-EL0.
    NsEl0,
}

/// Every level, in the order of [`RowSplit::by_level`].
pub const LEVELS: [Level; 7] = [
    Level::El3,
    Level::SecureEl2,
    Level::SecureEl1,
    Level::SecureEl0,
    Level::NsEl2,
    Level::NsEl1,
    Level::NsEl0,
];

impl Level {
    /// The level at exception level `el` in the secure world or not (EL3 is EL3 either way).
    fn of(el: u8, secure: bool) -> Level {
        match (el, secure) {
            (3.., _) => Level::El3,
            (2, true) => Level::SecureEl2,
            (1, true) => Level::SecureEl1,
            (0, true) => Level::SecureEl0,
            (2, false) => Level::NsEl2,
            (1, false) => Level::NsEl1,
            (_, false) => Level::NsEl0,
        }
    }

    /// Its index in [`LEVELS`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Level::El3 => "EL3",
            Level::SecureEl2 => "S-EL2",
            Level::SecureEl1 => "S-EL1",
            Level::SecureEl0 => "S-EL0",
            Level::NsEl2 => "NS-EL2",
            Level::NsEl1 => "NS-EL1",
            Level::NsEl0 => "NS-EL0",
        }
    }
}

/// One row's marked calls: how many, and their instructions by level (the bracket included).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowSplit {
    /// Marked calls whose window closed.
    pub calls: u64,
    /// Instructions over all of them, by [`Level::index`].
    pub by_level: [u64; LEVELS.len()],
}

impl RowSplit {
    /// The instructions of all calls together.
    pub fn total(&self) -> u64 {
        self.by_level.iter().sum()
    }

    /// The average per call at `level`.
    pub fn average(&self, level: Level) -> f64 {
        if self.calls == 0 {
            return 0.0;
        }
        self.by_level[level.index()] as f64 / self.calls as f64
    }

    /// The average instructions of a call.
    pub fn average_total(&self) -> f64 {
        if self.calls == 0 {
            return 0.0;
        }
        self.total() as f64 / self.calls as f64
    }
}

/// What the accounting met, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes of log read.
    pub bytes: u64,
    /// `Trace` lines.
    pub blocks: u64,
    /// `Trace` lines of a TB never seen translated (counted as 0 instructions).
    pub unknown_blocks: u64,
    /// TBs that ran no instruction.
    pub stopped: u64,
    /// TBs cut by a device access.
    pub rewound: u64,
    /// TBs cut by a synchronous exception.
    pub cut: u64,
    /// Marked calls whose window never closed, or that came inside another's.
    pub unclosed: u64,
    /// Exceptions taken from another exception level than the tracking had.
    pub resynced: u64,
}

/// The result of reading one log.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    /// By mark.
    pub rows: Vec<RowSplit>,
    /// The detailed row's instructions by level and address (summed over its calls).
    pub addresses: HashMap<(Level, u64), u64>,
    /// What the accounting met.
    pub stats: Stats,
}

/// The last TB started.
#[derive(Clone, Copy, Debug)]
struct Block {
    pointer: u64,
    pc: u64,
    /// Instructions counted for it so far.
    counted: u32,
    level: Level,
    /// Whether they went to the open window.
    in_window: bool,
}

/// A marked call under way.
#[derive(Clone, Debug)]
struct Window {
    mark: usize,
    /// The caller's level, where the call returns.
    caller: Level,
    /// Where it returns.
    return_pc: u64,
    by_level: [u64; LEVELS.len()],
    addresses: Vec<(Level, u64, u32)>,
}

/// An exception being read (its lines come one by one).
#[derive(Clone, Debug, Default)]
struct Taking {
    name: String,
    from: Option<u8>,
    esr: Option<u32>,
    elr: Option<u64>,
}

/// The streaming reader.
pub struct Parser {
    /// Where EL3's exception returns enter the secure world.
    secure_code: Range<u64>,
    /// How many marks there are.
    marks: usize,
    /// The mark whose instructions are kept by address.
    detail: Option<usize>,
    sizes: HashMap<u64, u32>,
    /// The instructions of the TB being disassembled (between `IN:` and its `Trace`).
    pending: Option<u32>,
    el: u8,
    secure: bool,
    last: Option<Block>,
    taking: Option<Taking>,
    window: Option<Window>,
    profile: Profile,
}

/// ESR_ELx.EC of an SMC from AArch64.
const EC_SMC64: u32 = 0x17;

impl Parser {
    /// A reader for a boot whose SPMC occupies `secure_code`, with `marks` marks; `detail`: the
    /// mark whose instructions are also kept by address.
    pub fn new(secure_code: Range<u64>, marks: usize, detail: Option<usize>) -> Self {
        Self {
            secure_code,
            marks,
            detail,
            sizes: HashMap::new(),
            pending: None,
            // Reset: EL3.
            el: 3,
            secure: true,
            last: None,
            taking: None,
            window: None,
            profile: Profile {
                rows: vec![RowSplit::default(); marks],
                ..Profile::default()
            },
        }
    }

    /// Reads the whole log from `input`.
    pub fn read(mut self, input: impl BufRead) -> std::io::Result<Profile> {
        let mut input = input;
        let mut line = Vec::with_capacity(256);
        loop {
            line.clear();
            let read = input.read_until(b'\n', &mut line)?;
            if read == 0 {
                break;
            }
            self.profile.stats.bytes += read as u64;
            self.line(&line);
        }
        Ok(self.finish())
    }

    /// The counts so far; a window still open is dropped and counted as unclosed.
    pub fn finish(mut self) -> Profile {
        if self.window.take().is_some() {
            self.profile.stats.unclosed += 1;
        }
        self.profile
    }

    fn level(&self) -> Level {
        Level::of(self.el, self.secure)
    }

    /// One line of the log (its newline included or not).
    pub fn line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        if let Some(count) = self.pending.as_mut()
            && line.starts_with(b"0x")
        {
            *count += 1;
            return;
        }
        if line.starts_with(b"Trace ") {
            self.trace(line);
        } else if line.starts_with(b"IN:") {
            self.pending = Some(0);
        } else if let Some(rest) = line.strip_prefix(b"Stopped execution of TB chain before ") {
            let pointer = rest.split(|b| *b == b' ').next().and_then(hex);
            if let Some(block) = self.last
                && pointer == Some(block.pointer)
            {
                self.profile.stats.stopped += 1;
                self.retract(0);
            }
        } else if let Some(rest) =
            line.strip_prefix(b"cpu_io_recompile: rewound execution of TB to ")
        {
            if let (Some(pc), Some(block)) = (hex(rest), self.last)
                && let Some(ran) = ran_before(block, pc)
            {
                self.profile.stats.rewound += 1;
                self.retract(ran);
            }
        } else if let Some(rest) = line.strip_prefix(b"Taking exception ") {
            let name = rest
                .split(|b| *b == b'[')
                .nth(1)
                .and_then(|r| r.split(|b| *b == b']').next())
                .unwrap_or_default();
            self.taking = Some(Taking {
                name: String::from_utf8_lossy(name).into_owned(),
                ..Taking::default()
            });
        } else if let Some(rest) = line.strip_prefix(b"...") {
            self.exception_detail(rest);
        } else if let Some(rest) = line.strip_prefix(b"Exception return from AArch64 EL") {
            self.exception_return(rest);
        }
    }

    fn trace(&mut self, line: &[u8]) {
        let mut words = line.split(|b| *b == b' ').filter(|w| !w.is_empty());
        let pointer = words.nth(2).and_then(hex);
        let pc = words
            .next()
            .and_then(|w| w.split(|b| *b == b'/').nth(1))
            .and_then(hex);
        let (Some(pointer), Some(pc)) = (pointer, pc) else {
            return;
        };
        self.profile.stats.blocks += 1;
        if let Some(count) = self.pending.take() {
            self.sizes.insert(pointer, count);
        }
        let counted = match self.sizes.get(&pointer) {
            Some(n) => *n,
            None => {
                self.profile.stats.unknown_blocks += 1;
                0
            }
        };
        let level = self.level();
        let in_window = match self.window.as_mut() {
            Some(window) => {
                window.by_level[level.index()] += u64::from(counted);
                if self.detail == Some(window.mark) {
                    window.addresses.push((level, pc, counted));
                }
                true
            }
            None => false,
        };
        self.last = Some(Block {
            pointer,
            pc,
            counted,
            level,
            in_window,
        });
    }

    /// The last TB ran only its first `ran` instructions.
    fn retract(&mut self, ran: u32) {
        let Some(block) = self.last.as_mut() else {
            return;
        };
        let dropped = block.counted.saturating_sub(ran);
        block.counted = block.counted.min(ran);
        if block.in_window
            && let Some(window) = self.window.as_mut()
        {
            let slot = &mut window.by_level[block.level.index()];
            *slot = slot.saturating_sub(u64::from(dropped));
            if let Some(entry) = window.addresses.last_mut()
                && entry.1 == block.pc
            {
                entry.2 = block.counted;
            }
        }
    }

    fn exception_detail(&mut self, rest: &[u8]) {
        let Some(taking) = self.taking.as_mut() else {
            return;
        };
        let words: Vec<&[u8]> = rest
            .split(|b| *b == b' ')
            .filter(|w| !w.is_empty())
            .collect();
        match words.as_slice() {
            [b"from", from, b"to", _to] => taking.from = el_number(from),
            [b"with", b"ESR", esr] => {
                taking.esr = esr
                    .split(|b| *b == b'/')
                    .nth(1)
                    .and_then(hex)
                    .and_then(|v| u32::try_from(v).ok());
            }
            [b"with", b"ELR", elr] => taking.elr = hex(elr),
            [b"to", to, b"PC", ..] => {
                if let Some(to) = el_number(to) {
                    let taking = self.taking.take().unwrap_or_default();
                    self.exception_taken(&taking, to);
                }
            }
            _ => {}
        }
    }

    /// An exception from the current level to EL `to`, all its lines read.
    fn exception_taken(&mut self, taking: &Taking, to: u8) {
        if let Some(from) = taking.from
            && from != self.el
        {
            // The log knows better than the tracking: follow it, and say so.
            self.profile.stats.resynced += 1;
            self.el = from;
        }
        let asynchronous = ["IRQ", "FIQ", "SERR", "SError"]
            .iter()
            .any(|a| taking.name.contains(a));
        let ec = taking.esr.map(|esr| esr >> 26);
        if !asynchronous
            && let (Some(elr), Some(block)) = (taking.elr, self.last)
            && let Some(ran) = ran_before(block, elr)
        {
            // A trapped SMC counts as executed (QEMU raises the trap without unwinding
            // the TB); the instruction a fault or trap stops at does not.
            let ran = if ec == Some(EC_SMC64) { ran + 1 } else { ran };
            if ran < block.counted {
                self.profile.stats.cut += 1;
                self.retract(ran);
            }
        }
        let caller = self.level();
        if ec == Some(EC_SMC64)
            && let (Some(esr), Some(elr)) = (taking.esr, taking.elr)
        {
            let imm = u64::from(esr & 0xffff);
            let base = u64::from(smc_call::MARK_BASE);
            if (base..base + self.marks as u64).contains(&imm) {
                if self.window.is_some() {
                    self.profile.stats.unclosed += 1;
                }
                // EL3 takes an SMC with ELR after it; a trapped one has ELR at it.
                let return_pc = if to == 3 { elr } else { elr + 4 };
                self.window = Some(Window {
                    mark: (imm - base) as usize,
                    caller,
                    return_pc,
                    by_level: [0; LEVELS.len()],
                    addresses: Vec::new(),
                });
            }
        }
        // Only EL3 changes worlds.
        if to == 3 {
            self.secure = true;
        }
        self.el = to;
    }

    fn exception_return(&mut self, rest: &[u8]) {
        // `<x> to AArch64 EL<y> PC <addr>`
        let words: Vec<&[u8]> = rest
            .split(|b| *b == b' ')
            .filter(|w| !w.is_empty())
            .collect();
        let [from, b"to", b"AArch64", to, b"PC", pc, ..] = words.as_slice() else {
            return;
        };
        let (Some(from), Some(to), Some(pc)) = (
            std::str::from_utf8(from)
                .ok()
                .and_then(|f| f.parse::<u8>().ok()),
            el_number(to),
            hex(pc),
        ) else {
            return;
        };
        if from == 3 {
            self.secure = to == 3 || self.secure_code.contains(&pc);
        }
        self.el = to;
        let level = self.level();
        if let Some(window) = self.window.as_ref()
            && window.caller == level
            && window.return_pc == pc
            && let Some(window) = self.window.take()
        {
            let row = &mut self.profile.rows[window.mark];
            row.calls += 1;
            for (sum, add) in row.by_level.iter_mut().zip(window.by_level) {
                *sum += add;
            }
            row.by_level[window.caller.index()] += BRACKET;
            for (level, pc, count) in window.addresses {
                for i in 0..u64::from(count) {
                    *self
                        .profile
                        .addresses
                        .entry((level, pc + 4 * i))
                        .or_default() += 1;
                }
            }
        }
    }
}

/// How many of `block`'s instructions come before `pc`, if `pc` lies inside it.
fn ran_before(block: Block, pc: u64) -> Option<u32> {
    let offset = pc.checked_sub(block.pc)?;
    let index = u32::try_from(offset / 4).ok()?;
    (offset % 4 == 0 && index < block.counted).then_some(index)
}

/// `0x1f` or `1f` → 31.
fn hex(word: &[u8]) -> Option<u64> {
    let word = word.strip_prefix(b"0x").unwrap_or(word);
    let text = std::str::from_utf8(word).ok()?;
    u64::from_str_radix(text.trim(), 16).ok()
}

/// `EL2` → 2.
fn el_number(word: &[u8]) -> Option<u8> {
    std::str::from_utf8(word.strip_prefix(b"EL")?)
        .ok()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPMC: Range<u64> = 0xe100000..0xe140000;

    /// A profile boot's log in miniature, in QEMU 10's words: NS-EL2 makes a marked call
    /// (mark 1) that EL3 forwards to the SPMC and back, then an unmarked one.
    const LOG: &str = "\
Exception return from AArch64 EL3 to AArch64 EL2 PC 0x60001000
----------------
IN: 
0x60001000:  d5033fdf  isb      
0x60001004:  d4160023  smc      #0xb001

Trace 0: 0x7f0000000100 [00000000/0000000060001000/00000061/ff022200] 
Taking exception 13 [Secure Monitor Call] on CPU 0
...from EL2 to EL3
...with ESR 0x17/0x5e00b001
...with SPSR 0x3c9
...with ELR 0x60001008
...to EL3 PC 0xe0a0400 PSTATE 0x3cd
----------------
IN: 
0x0e0a0400:  d503201f  nop      
0x0e0a0404:  d503201f  nop      
0x0e0a0408:  d69f03e0  eret     

Trace 0: 0x7f0000000200 [00000000/000000000e0a0400/00000471/ff022200] 
Exception return from AArch64 EL3 to AArch64 EL2 PC 0xe100800
----------------
IN: 
0x0e100800:  d503201f  nop      
0x0e100804:  d4000003  smc      #0

Trace 0: 0x7f0000000300 [00000000/000000000e100800/00000061/ff022200] 
Taking exception 13 [Secure Monitor Call] on CPU 0
...from EL2 to EL3
...with ESR 0x17/0x5e000000
...with SPSR 0x3c9
...with ELR 0xe100808
...to EL3 PC 0xe0a0400 PSTATE 0x3cd
Trace 0: 0x7f0000000200 [00000000/000000000e0a0400/00000471/ff022200] 
Stopped execution of TB chain before 0x7f0000000200 [000000000e0a0400] 
Trace 0: 0x7f0000000200 [00000000/000000000e0a0400/00000471/ff022200] 
Exception return from AArch64 EL3 to AArch64 EL2 PC 0x60001008
----------------
IN: 
0x60001008:  d5033fdf  isb      
0x6000100c:  d53be041  mrs      x1, cntvct_el0

Trace 0: 0x7f0000000400 [00000000/0000000060001008/00000061/ff022200] 
Trace 0: 0x7f0000000100 [00000000/0000000060001000/00000061/ff022200] 
Taking exception 13 [Secure Monitor Call] on CPU 0
...from EL2 to EL3
...with ESR 0x17/0x5e000000
...with SPSR 0x3c9
...with ELR 0x60001008
...to EL3 PC 0xe0a0400 PSTATE 0x3cd
Trace 0: 0x7f0000000200 [00000000/000000000e0a0400/00000471/ff022200] 
Exception return from AArch64 EL3 to AArch64 EL2 PC 0x60001008
";

    fn parse(log: &str, detail: Option<usize>) -> Profile {
        Parser::new(SPMC, 4, detail)
            .read(log.as_bytes())
            .expect("in memory")
    }

    #[test]
    fn a_marked_call_is_split_by_level_and_unmarked_ones_are_not_counted() {
        let profile = parse(LOG, Some(1));
        let row = &profile.rows[1];
        assert_eq!(row.calls, 1);
        // EL3: 3 on the way in, 3 on the way out (the stopped TB ran nothing); the SPMC 2;
        // the bracket's 4 at the caller's level.
        assert_eq!(row.by_level[Level::El3.index()], 6);
        assert_eq!(row.by_level[Level::SecureEl2.index()], 2);
        assert_eq!(row.by_level[Level::NsEl2.index()], BRACKET);
        assert_eq!(row.total(), 12);
        assert_eq!(row.average(Level::El3), 6.0);
        assert!(
            profile
                .rows
                .iter()
                .enumerate()
                .all(|(i, r)| i == 1 || r.calls == 0)
        );
        assert_eq!(profile.stats.stopped, 1);
        assert_eq!(profile.stats.bytes, LOG.len() as u64);
        assert_eq!(profile.stats.unknown_blocks, 0);
        assert_eq!(profile.stats.unclosed, 0);
        assert_eq!(
            profile.addresses.get(&(Level::SecureEl2, 0xe100804)),
            Some(&1)
        );
        assert_eq!(profile.addresses.get(&(Level::El3, 0xe0a0408)), Some(&2));
        assert_eq!(
            profile
                .addresses
                .iter()
                .filter(|((l, _), _)| matches!(l, Level::NsEl2 | Level::NsEl1 | Level::NsEl0))
                .count(),
            0,
            "the caller's instructions lie outside the window"
        );
    }

    #[test]
    fn traps_cut_blocks_and_a_trapped_smc_counts() {
        // S-EL1 inside a marked call: a 3-instruction TB whose second instruction is an SMC
        // trapped to S-EL2 (ELR at the SMC), then one whose first is a trapped register
        // access (ELR at it: it did not run), then a device access rewinding a TB.
        let log = "\
Exception return from AArch64 EL3 to AArch64 EL2 PC 0x60001000
IN: 
0x60001000:  d4160020  smc      #0xb000

Trace 0: 0x7f0000000100 [00000000/0000000060001000/00000061/ff022200] 
Taking exception 13 [Secure Monitor Call] on CPU 0
...from EL2 to EL3
...with ESR 0x17/0x5e00b000
...with ELR 0x60001004
...to EL3 PC 0xe0a0400 PSTATE 0x3cd
IN: 
0x0e0a0400:  d69f03e0  eret     

Trace 0: 0x7f0000000200 [00000000/000000000e0a0400/00000471/ff022200] 
Exception return from AArch64 EL3 to AArch64 EL2 PC 0xe100800
IN: 
0x0e100800:  d69f03e0  eret     

Trace 0: 0x7f0000000300 [00000000/000000000e100800/00000061/ff022200] 
Exception return from AArch64 EL2 to AArch64 EL1 PC 0xe300000
IN: 
0x0e300000:  d503201f  nop      
0x0e300004:  d4000003  smc      #0
0x0e300008:  d503201f  nop      

Trace 0: 0x7f0000000400 [00000000/000000000e300000/00000021/ff022200] 
Taking exception 12 [Hypervisor Trap] on CPU 0
...from EL1 to EL2
...with ESR 0x17/0x5e000000
...with ELR 0xe300004
...to EL2 PC 0xe100c00 PSTATE 0x3c9
IN: 
0x0e100c00:  d503201f  nop      
0x0e100c04:  d69f03e0  eret     

Trace 0: 0x7f0000000500 [00000000/000000000e100c00/00000061/ff022200] 
Exception return from AArch64 EL2 to AArch64 EL1 PC 0xe300008
IN: 
0x0e300008:  d5380000  mrs      x0, midr_el1
0x0e30000c:  d503201f  nop      

Trace 0: 0x7f0000000600 [00000000/000000000e300008/00000021/ff022200] 
Taking exception 12 [Hypervisor Trap] on CPU 0
...from EL1 to EL2
...with ESR 0x18/0x62000000
...with ELR 0xe300008
...to EL2 PC 0xe100c00 PSTATE 0x3c9
IN: 
0x0e100c00:  d503201f  nop      
0x0e100c04:  f9400000  ldr      x0, [x0]
0x0e100c08:  d4000003  smc      #0

Trace 0: 0x7f0000000700 [00000000/000000000e100c00/00000061/ff022200] 
cpu_io_recompile: rewound execution of TB to 000000000e100c04
IN: 
0x0e100c04:  f9400000  ldr      x0, [x0]

Trace 0: 0x7f0000000800 [00000000/000000000e100c04/00000061/ff033201] 
IN: 
0x0e100c08:  d4000003  smc      #0

Trace 0: 0x7f0000000900 [00000000/000000000e100c08/00000061/ff022200] 
Taking exception 13 [Secure Monitor Call] on CPU 0
...from EL2 to EL3
...with ESR 0x17/0x5e000000
...with ELR 0xe100c0c
...to EL3 PC 0xe0a0400 PSTATE 0x3cd
Trace 0: 0x7f0000000200 [00000000/000000000e0a0400/00000471/ff022200] 
Exception return from AArch64 EL3 to AArch64 EL2 PC 0x60001004
";
        let profile = parse(log, None);
        let row = &profile.rows[0];
        assert_eq!(row.calls, 1);
        assert_eq!(row.by_level[Level::El3.index()], 2);
        // 1 + 2 + 1 (rewound) + 1 + 1.
        assert_eq!(row.by_level[Level::SecureEl2.index()], 6);
        // nop + the trapped smc; the trapped mrs did not run.
        assert_eq!(row.by_level[Level::SecureEl1.index()], 2);
        assert_eq!(row.by_level[Level::NsEl2.index()], BRACKET);
        assert_eq!(profile.stats.cut, 2);
        assert_eq!(profile.stats.rewound, 1);
        assert!(profile.addresses.is_empty(), "no detail asked for");
    }

    #[test]
    fn unknown_blocks_unclosed_windows_and_other_lines() {
        let log = "\
Trace 0: 0x7f0000000100 [00000000/0000000060001000/00000061/ff022200] 
IN: 
0x60001000:  d4160022  smc      #0xb002

Trace 0: 0x7f0000000200 [00000000/0000000060001000/00000061/ff022200] 
Taking exception 13 [Secure Monitor Call] on CPU 0
...from EL2 to EL3
...with ESR 0x17/0x5e00b002
...with ELR 0x60001004
...to EL3 PC 0xe0a0400 PSTATE 0x3cd
qemu-system-aarch64: some warning
";
        let profile = parse(log, None);
        assert_eq!(profile.stats.blocks, 2);
        assert_eq!(profile.stats.unknown_blocks, 1);
        assert_eq!(profile.stats.unclosed, 1);
        assert_eq!(profile.rows[2].calls, 0);
        assert_eq!(profile.rows[2].average_total(), 0.0);
    }

    #[test]
    fn levels() {
        assert_eq!(Level::of(3, false), Level::El3);
        assert_eq!(Level::of(2, true), Level::SecureEl2);
        assert_eq!(Level::of(0, false), Level::NsEl0);
        for (i, level) in LEVELS.iter().enumerate() {
            assert_eq!(level.index(), i);
        }
        assert_eq!(hex(b"0x5e00b001"), Some(0x5e00_b001));
        assert_eq!(hex(b"000000000e100c04"), Some(0xe10_0c04));
        assert_eq!(el_number(b"EL2"), Some(2));
    }
}
