//! What a boot's UART lines say besides the client's result lines: TF-A's power-off sequence,
//! which is the normal end of every boot, and fault reports, which fail a run unless its
//! scenario provokes them.
//!
//! TF-A 2.12's QEMU `qemu_system_off` logs an ERROR line on UART0, toggles the secure GPIO
//! and calls `panic()` while QEMU shuts down: a backtrace follows on UART0 (debug builds) and
//! the panic report on UART1, a crash dump (`PANIC in EL3.` and registers) where crash
//! reporting is built in, else one `PANIC at PC : 0x…` line; each is cut wherever QEMU stopped.
//! Only that exact shape counts as the power-off; a panic or error anywhere else is a fault.

use scenarios::Provoked;

use crate::qemu::World;

/// TF-A's power-off line (UART0).
pub const POWER_OFF_LINE: &str = "ERROR:   QEMU System Power off: with GPIO.";
/// What a clean power-off is shown as.
pub const POWERED_OFF: &str = "powered off";
/// How every TF-A panic report starts (UART1).
const PANIC: &str = "PANIC";

/// What kind of fault a line reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// `PANIC`: TF-A's crash dump or panic, the SPMC's own panic.
    Panic,
    /// A TF-A `ERROR:` line or its `Unhandled Exception` dump.
    TfaError,
    /// `FATAL:` from the proxy, the client or a partition: it stopped.
    Fatal,
    /// The SPMC failed to start, refused a partition, or lost a partition's state.
    Spmc,
    /// A partition fault the SPMC reports, which a scenario may provoke.
    Provoked(Provoked),
}

impl Report {
    /// How a failure names it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Panic => "a panic",
            Self::TfaError => "a TF-A error",
            Self::Fatal => "a fatal error",
            Self::Spmc => "an SPMC failure",
            Self::Provoked(Provoked::InjectedAbort) => "an injected partition abort",
            Self::Provoked(Provoked::PartitionAborted) => "an aborted partition",
        }
    }
}

/// The fault a UART line reports, if any.
pub fn classify(line: &str) -> Option<Report> {
    let line = line.trim();
    if line.contains("PANIC") {
        return Some(Report::Panic);
    }
    if line.starts_with("ERROR:") || line.starts_with("Unhandled ") {
        return Some(Report::TfaError);
    }
    if line.contains("FATAL:") {
        return Some(Report::Fatal);
    }
    let spmc = line.strip_prefix("spmc: ")?;
    if spmc.contains(": injected at ") {
        Some(Report::Provoked(Provoked::InjectedAbort))
    } else if spmc.starts_with("partition ")
        && (spmc.ends_with(": aborted") || spmc.contains("\" aborted: "))
    {
        Some(Report::Provoked(Provoked::PartitionAborted))
    } else if spmc.starts_with("initialisation failed")
        || spmc.contains(" refused: ")
        || spmc.contains("no state for partition")
    {
        Some(Report::Spmc)
    } else {
        None
    }
}

/// A fault report seen in a boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alarm {
    /// The UART it came on.
    pub world: World,
    /// What it reports.
    pub report: Report,
    /// The line, as printed.
    pub line: String,
}

/// Every fault report in a boot's lines, in order, UART0's first.
pub fn alarms(normal: &[String], secure: &[String]) -> Vec<Alarm> {
    [(World::Normal, normal), (World::Secure, secure)]
        .into_iter()
        .flat_map(|(world, lines)| {
            lines.iter().filter_map(move |line| {
                classify(line).map(|report| Alarm {
                    world,
                    report,
                    line: line.trim().to_owned(),
                })
            })
        })
        .collect()
}

/// Where TF-A's power-off sequence starts: UART0's ERROR line, and UART1's crash dump when
/// it got that far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PowerOff {
    /// Index of the power-off line in UART0's lines.
    pub normal: usize,
    /// Index of the panic report's first line in UART1's lines.
    pub secure: Option<usize>,
}

/// The power-off sequence at the end of a boot's lines, if it is exactly TF-A's: the ERROR
/// line followed by nothing but its backtrace on UART0, and on UART1 nothing after it or a
/// crash dump that runs to the end.
pub fn power_off(normal: &[String], secure: &[String]) -> Option<PowerOff> {
    let start = normal
        .iter()
        .rposition(|l| l.trim_end() == POWER_OFF_LINE)?;
    if !tail_fits(&normal[start + 1..], &BACKTRACE) {
        return None;
    }
    let dump = secure.iter().rposition(|l| l.starts_with(PANIC));
    if let Some(at) = dump
        && !(fits(&secure[at], &PANIC_REPORT, at + 1 == secure.len())
            && tail_fits(&secure[at + 1..], &CRASH_DUMP_LINES))
    {
        return None;
    }
    Some(PowerOff {
        normal: start,
        secure: dump,
    })
}

/// A boot's lines without its power-off sequence, and whether it had one.
pub fn without_power_off(normal: &[String], secure: &[String]) -> (Vec<String>, Vec<String>, bool) {
    match power_off(normal, secure) {
        Some(off) => (
            normal[..off.normal].to_vec(),
            secure[..off.secure.unwrap_or(secure.len())].to_vec(),
            true,
        ),
        None => (normal.to_vec(), secure.to_vec(), false),
    }
}

/// A piece of a line shape.
#[derive(Clone, Copy)]
enum Piece {
    /// This text.
    Text(&'static str),
    /// One or more characters of the class.
    Run(fn(char) -> bool),
}

fn digit(c: char) -> bool {
    c.is_ascii_digit()
}

fn hex(c: char) -> bool {
    c.is_ascii_hexdigit()
}

fn register_name(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
}

fn space(c: char) -> bool {
    c == ' '
}

/// TF-A's `backtrace()` of `qemu_system_off` (UART0).
const BACKTRACE: [&[Piece]; 3] = [
    &[Piece::Text("BACKTRACE: START: qemu_system_off")],
    &[Piece::Run(digit), Piece::Text(": EL3: 0x"), Piece::Run(hex)],
    &[Piece::Text("BACKTRACE: END: qemu_system_off")],
];

/// The first line of TF-A's panic report (UART1): with crash reporting, and without.
const PANIC_REPORT: [&[Piece]; 2] = [
    &[Piece::Text("PANIC in EL3.")],
    &[Piece::Text("PANIC at PC : 0x"), Piece::Run(hex)],
];

/// The lines of TF-A's crash dump after its first (UART1): registers, then GIC state.
const CRASH_DUMP_LINES: [&[Piece]; 4] = [
    &[
        Piece::Run(register_name),
        Piece::Run(space),
        Piece::Text("= 0x"),
        Piece::Run(hex),
    ],
    &[Piece::Text("gicd_ispendr regs (Offsets 0x200-0x278)")],
    &[Piece::Text("Offset\t\t\tValue")],
    &[
        Piece::Text("0x"),
        Piece::Run(hex),
        Piece::Text(":\t\t 0x"),
        Piece::Run(hex),
    ],
];

/// How a line fits a shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fit {
    Whole,
    /// The line is a beginning of the shape (a line QEMU cut off).
    Start,
    No,
}

fn fit(line: &str, shape: &[Piece]) -> Fit {
    let mut rest = line;
    for piece in shape {
        if rest.is_empty() {
            return Fit::Start;
        }
        match piece {
            Piece::Text(text) => {
                if let Some(after) = rest.strip_prefix(text) {
                    rest = after;
                } else if text.starts_with(rest) {
                    return Fit::Start;
                } else {
                    return Fit::No;
                }
            }
            Piece::Run(class) => {
                let taken = rest.find(|c: char| !class(c)).unwrap_or(rest.len());
                if taken == 0 {
                    return Fit::No;
                }
                rest = &rest[taken..];
            }
        }
    }
    if rest.is_empty() { Fit::Whole } else { Fit::No }
}

/// Whether `line` fits one of `shapes` whole, or cut off when it is the `last` line.
fn fits(line: &str, shapes: &[&[Piece]], last: bool) -> bool {
    shapes
        .iter()
        .any(|shape| match fit(line.trim_end(), shape) {
            Fit::Whole => true,
            Fit::Start => last,
            Fit::No => false,
        })
}

/// Whether every line fits one of `shapes` whole, the last one possibly cut off.
fn tail_fits(lines: &[String], shapes: &[&[Piece]]) -> bool {
    lines
        .iter()
        .enumerate()
        .all(|(i, line)| fits(line, shapes, i + 1 == lines.len()))
}

/// The first fault report that the run's scenario does not provoke, described with its line.
pub fn unprovoked(alarms: &[Alarm], provokes: &[Provoked]) -> Option<String> {
    let alarm = alarms.iter().find(|a| match a.report {
        Report::Provoked(kind) => !provokes.contains(&kind),
        _ => true,
    })?;
    Some(format!(
        "{} on {}: `{}`",
        alarm.report.describe(),
        alarm.world.name(),
        alarm.line
    ))
}

/// The first fault the run's scenario provokes that the SPMC never reported (its report
/// changed, or the scenario no longer reaches the fault).
pub fn never_reported(alarms: &[Alarm], provokes: &[Provoked]) -> Option<String> {
    let kind = provokes
        .iter()
        .find(|kind| !alarms.iter().any(|a| a.report == Report::Provoked(**kind)))?;
    Some(format!(
        "the scenario provokes {} but the SPMC reported none",
        Report::Provoked(*kind).describe()
    ))
}

/// Holds back the lines of a live display that may be the start of the power-off sequence,
/// until the boot's end says whether they were: then they become one line, or are shown as
/// they are.
#[derive(Debug, Default)]
pub struct LiveFilter {
    held_normal: Vec<String>,
    held_secure: Vec<String>,
    seen_normal: usize,
    seen_secure: usize,
}

impl LiveFilter {
    /// Takes one line; returns it when it is to be shown now.
    pub fn line<'a>(&mut self, world: World, line: &'a str) -> Option<&'a str> {
        let (held, seen, trigger) = match world {
            World::Normal => (&mut self.held_normal, &mut self.seen_normal, POWER_OFF_LINE),
            World::Secure => (&mut self.held_secure, &mut self.seen_secure, PANIC),
        };
        *seen += 1;
        let starts = match world {
            World::Normal => line.trim_end() == trigger,
            World::Secure => line.starts_with(trigger),
        };
        if held.is_empty() && !starts {
            return Some(line);
        }
        held.push(line.to_owned());
        None
    }

    /// The lines held back, once the boot is over and [`without_power_off`] kept
    /// `kept_normal` and `kept_secure` of its lines: `powered off` when what it took out is
    /// exactly what was held, else every held line as it came.
    pub fn finish(
        self,
        kept_normal: usize,
        kept_secure: usize,
        powered_off: bool,
    ) -> Vec<(World, String)> {
        let held_is_the_sequence = kept_normal + self.held_normal.len() == self.seen_normal
            && kept_secure + self.held_secure.len() == self.seen_secure;
        if powered_off && held_is_the_sequence {
            return vec![(World::Normal, POWERED_OFF.to_owned())];
        }
        self.held_normal
            .into_iter()
            .map(|l| (World::Normal, l))
            .chain(self.held_secure.into_iter().map(|l| (World::Secure, l)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    /// UART0's end of a real boot (TF-A 2.12.1, debug).
    const NORMAL_END: &str = "scenario qemu version_negotiation@cpu0 PASS\n\
        verdict: PASS\n\
        INFO:      CPU Node : MPID 0xffffffffffffffff, parent_node 1, State OFF (0x2)\n\
        ERROR:   QEMU System Power off: with GPIO.\n\
        BACKTRACE: START: qemu_system_off\n\
        0: EL3: 0xe0922ec\n\
        1: EL3: 0xe0986b0\n\
        5: EL3: 0xe092150\n\
        BACKTRACE: END: qemu_system_off\n";

    /// UART1's end of a real boot, cut off where QEMU stopped.
    const SECURE_END: &str = "spmc: cold boot done on core 0: FFA_MSG_WAIT to the SPMD\n\
        [0x8002 1] relay 0x8002 ctx 1: ready, faults 0x00\n\
        PANIC in EL3.\n\
        x30            = 0x000000000e0986bc\n\
        x0             = 0x0000000009000000\n\
        contextidr_el1 = 0x0000000000000000\n\
        cntp";

    #[test]
    fn the_power_off_sequence_of_a_real_boot() {
        let (normal, secure) = (lines(NORMAL_END), lines(SECURE_END));
        assert_eq!(
            power_off(&normal, &secure),
            Some(PowerOff {
                normal: 3,
                secure: Some(2)
            })
        );
        let (n, s, off) = without_power_off(&normal, &secure);
        assert!(off);
        assert_eq!(n.last().map(String::as_str), Some(normal[2].as_str()));
        assert_eq!(s.len(), 2);
        assert!(alarms(&n, &s).is_empty());
        // Cut anywhere, it is still the power-off.
        for cut in 4..normal.len() {
            for end in 3..secure.len() {
                assert!(
                    power_off(&normal[..cut], &secure[..end]).is_some(),
                    "{cut} {end}"
                );
            }
        }
        // QEMU may stop before the dump begins, or mid-line in the backtrace.
        assert!(power_off(&normal, &secure[..2]).is_some());
        let mut cut = normal[..6].to_vec();
        cut.push("2: EL".into());
        assert!(power_off(&cut, &secure).is_some());
    }

    #[test]
    fn a_full_crash_dump_with_gic_state_fits() {
        let secure = lines(
            "PANIC in EL3.\nx30            = 0x000000000e0986bc\n\
             icc_ctlr_el3   = 0x0000000000000400\n\
             gicd_ispendr regs (Offsets 0x200-0x278)\nOffset\t\t\tValue\n\
             0x200:\t\t 0x0000000000000000\n0x208:\t\t 0x0000000000000000\n",
        );
        assert!(power_off(&lines(NORMAL_END), &secure).is_some());
    }

    #[test]
    fn a_release_build_reports_only_the_pc() {
        // DEBUG=0: no backtrace, no crash reporting.
        let normal = lines("verdict: PASS\nERROR:   QEMU System Power off: with GPIO.\n");
        for secure in [
            "PANIC at PC : 0x000000000e0973b4\n",
            "PANIC at PC : 0x00000",
        ] {
            let secure = lines(&format!("spmc: cold boot done\n{secure}"));
            assert_eq!(
                power_off(&normal, &secure),
                Some(PowerOff {
                    normal: 1,
                    secure: Some(1)
                }),
                "{secure:?}"
            );
        }
        let more = lines("PANIC at PC : 0x000000000e0973b4\nspmc: more\n");
        assert_eq!(power_off(&normal, &more), None);
    }

    #[test]
    fn anything_else_is_not_the_power_off() {
        let normal = lines(NORMAL_END);
        let secure = lines(SECURE_END);
        // No ERROR line: the dump is a real panic.
        assert_eq!(power_off(&normal[..3], &secure), None);
        // A line after the backtrace, on either UART.
        let mut more = normal.clone();
        more.push("[proxy] still running".into());
        assert_eq!(power_off(&more, &secure), None);
        let mut more = secure.clone();
        more.insert(4, "spmc: partition 0x8001 refused: X".into());
        assert_eq!(power_off(&normal, &more), None);
        // A cut-off line only at the very end.
        let mut cut = secure.clone();
        cut.insert(3, "x3".into());
        assert_eq!(power_off(&normal, &cut), None);
        let mut cut = secure[..2].to_vec();
        cut.push("PANIC in".into());
        assert!(power_off(&normal, &cut).is_some());
        cut.push("x30            = 0x000000000e0986bc".into());
        assert_eq!(power_off(&normal, &cut), None);
        // Another ERROR is an error.
        let mut other = normal.clone();
        other[3] = "ERROR:   QEMU System Reset: with GPIO.".into();
        assert_eq!(power_off(&other, &secure), None);
        let (n, s, off) = without_power_off(&other, &secure);
        assert!(!off);
        let found = alarms(&n, &s);
        assert_eq!(
            found
                .iter()
                .map(|a| (a.world, a.report))
                .collect::<Vec<_>>(),
            [
                (World::Normal, Report::TfaError),
                (World::Secure, Report::Panic)
            ]
        );
        assert_eq!(found[0].line, "ERROR:   QEMU System Reset: with GPIO.");
    }

    #[test]
    fn fault_reports_of_each_component() {
        let cases: &[(&str, Option<Report>)] = &[
            ("PANIC in EL3.", Some(Report::Panic)),
            ("PANIC at PC : 0x000000000e0922ec", Some(Report::Panic)),
            (
                "spmc: PANIC on core 1: index out of bounds; core parked",
                Some(Report::Panic),
            ),
            (
                "ERROR:   SPMC initialisation failed -22",
                Some(Report::TfaError),
            ),
            ("Unhandled Exception in EL3.", Some(Report::TfaError)),
            (
                "[proxy] FATAL: core 2: host data abort (ESR 0x92000006) at ELR 0x44001000, \
                 FAR 0x0, HPFAR 0x0: core stopped",
                Some(Report::Fatal),
            ),
            (
                "[client] FATAL: exception (vector 4): ESR 0x0",
                Some(Report::Fatal),
            ),
            (
                "[0x8001 0] FATAL: exception 0: esr 0x2000000 elr 0x0 far 0x0",
                Some(Report::Fatal),
            ),
            (
                "spmc: partition 0x8001/0 on core 0: data abort at 0xe304fd4 (address 0xe400000, \
                 IPA 0xe400000, ESR 0x93c08006): injected at 0xe304a00",
                Some(Report::Provoked(Provoked::InjectedAbort)),
            ),
            (
                "spmc: partition 0x8003/0 on core 1: data abort at 0xe504fd4 (address 0x0, IPA \
                 0x0, ESR 0x93c08006), no exception vector (VBAR_EL1 = 0): aborted",
                Some(Report::Provoked(Provoked::PartitionAborted)),
            ),
            (
                "spmc: partition 0x8003 \"legacy\" aborted: Fault",
                Some(Report::Provoked(Provoked::PartitionAborted)),
            ),
            (
                "spmc: initialisation failed: bad manifest",
                Some(Report::Spmc),
            ),
            (
                "spmc: partition 0x0001 refused: NotSecureId",
                Some(Report::Spmc),
            ),
            (
                "spmc: core 1: no state for partition 0x8001/3",
                Some(Report::Spmc),
            ),
            // Ordinary lines.
            (
                "spmc: partition 0x8001 \"echo\": FF-A v1.2, load 0xe300000",
                None,
            ),
            (
                "spmc: cold boot done on core 0: FFA_MSG_WAIT to the SPMD",
                None,
            ),
            ("[0x8001 0] echo 0x8001 ctx 0: ready, faults 0x00", None),
            (
                "[proxy] core 0: refused FF-A call 0x84000060: NotSupported",
                None,
            ),
            ("INFO:    SPM Core setup done.", None),
            ("WARNING: BL31: something", None),
            ("scenario qemu aborted_partition@cpu0 PASS", None),
        ];
        for (line, want) in cases {
            assert_eq!(classify(line), *want, "{line}");
        }
    }

    fn alarm(report: Report) -> Alarm {
        Alarm {
            world: World::Secure,
            report,
            line: "spmc: partition ...".into(),
        }
    }

    #[test]
    fn provoked_reports_are_allowed_and_required() {
        let injected = alarm(Report::Provoked(Provoked::InjectedAbort));
        let aborted = alarm(Report::Provoked(Provoked::PartitionAborted));
        let only_injected = [Provoked::InjectedAbort];
        assert_eq!(unprovoked(&[], &[]), None);
        assert_eq!(never_reported(&[], &[]), None);
        assert_eq!(
            unprovoked(std::slice::from_ref(&injected), &only_injected),
            None
        );
        assert_eq!(
            never_reported(std::slice::from_ref(&injected), &only_injected),
            None
        );
        assert_eq!(
            unprovoked(std::slice::from_ref(&injected), &[]).as_deref(),
            Some("an injected partition abort on the secure UART: `spmc: partition ...`")
        );
        assert!(
            unprovoked(&[injected.clone(), aborted], &only_injected)
                .is_some_and(|why| why.starts_with("an aborted partition"))
        );
        assert_eq!(
            never_reported(
                std::slice::from_ref(&injected),
                &[Provoked::PartitionAborted]
            )
            .as_deref(),
            Some("the scenario provokes an aborted partition but the SPMC reported none")
        );
        // A panic is never provoked.
        assert!(unprovoked(&[injected, alarm(Report::Panic)], &only_injected).is_some());
    }

    #[test]
    fn live_display_shows_a_clean_power_off_as_one_line() {
        let (normal, secure) = (lines(NORMAL_END), lines(SECURE_END));
        let mut filter = LiveFilter::default();
        let mut shown = Vec::new();
        for line in &normal {
            if let Some(l) = filter.line(World::Normal, line) {
                shown.push((World::Normal, l.to_owned()));
            }
        }
        for line in &secure {
            if let Some(l) = filter.line(World::Secure, line) {
                shown.push((World::Secure, l.to_owned()));
            }
        }
        let (n, s, off) = without_power_off(&normal, &secure);
        shown.extend(filter.finish(n.len(), s.len(), off));
        assert_eq!(shown.len(), 3 + 2 + 1);
        assert_eq!(shown[5], (World::Normal, POWERED_OFF.to_owned()));
        assert!(!shown.iter().any(|(_, l)| l.contains("PANIC")));
    }

    #[test]
    fn live_display_shows_a_real_panic_whole() {
        let normal = lines("verdict: PASS\n");
        let secure = lines(SECURE_END);
        let mut filter = LiveFilter::default();
        for line in &secure {
            let _ = filter.line(World::Secure, line);
        }
        let (n, s, off) = without_power_off(&normal, &secure);
        assert!(!off);
        let held = filter.finish(n.len(), s.len(), off);
        assert_eq!(held.len(), secure.len() - 2);
        assert_eq!(held[0], (World::Secure, "PANIC in EL3.".to_owned()));
    }
}
