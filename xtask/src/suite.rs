//! The scenarios on QEMU: one boot per scenario and home core (each run assumes a freshly
//! booted stack), judged from the client's lines, the fault reports on both UARTs and how the
//! boot ended; one after another with live output, or a few at a time under a progress bar with
//! a line per run; and the summary table (a row per scenario, a column per home core).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scenarios::{CPUS, Provoked, RunKey, Scenario};

use crate::console::{self, Result};
use crate::qemu::{self, Boot, End, Line, Machine, Verdict, World};
use crate::uart_log::{self, LiveFilter};

/// CPUs of a scenario boot.
pub const SMP: u32 = 4;
/// UART lines shown for a failed boot.
const FAILURE_TAIL: usize = 30;
/// Failed boots whose UART tails a parallel run shows (the rest only have their logs).
const TAILS_SHOWN: usize = 3;

/// How one scenario did on QEMU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its PASS line, `verdict: PASS`, and a power-off.
    Pass,
    /// A FAIL line or another wrong ending; the reason.
    Fail(String),
    /// QEMU ran too long; what was last seen.
    Timeout(String),
    /// A line the protocol requires never came.
    Missing(String),
}

impl Outcome {
    /// Whether it passed.
    pub fn passed(&self) -> bool {
        *self == Self::Pass
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pass => f.write_str("PASS"),
            Self::Fail(why) => write!(f, "FAIL {why}"),
            Self::Timeout(why) => write!(f, "timeout ({why})"),
            Self::Missing(why) => write!(f, "missing line: {why}"),
        }
    }
}

/// Judges the boot that ran `expected` (`<name>@cpu<k>`), whose scenario provokes
/// `provokes`, from its UART lines and how it ended.
pub fn judge(expected: &str, provokes: &[Provoked], boot: &Boot) -> Outcome {
    let mut result = None;
    let mut verdict = None;
    for line in &boot.normal {
        match qemu::parse_line(line) {
            Some(Line::Scenario { name, result: r }) => {
                if name != expected {
                    return Outcome::Fail(format!(
                        "a line for scenario `{name}` in the boot of `{expected}`"
                    ));
                }
                if result.is_some() {
                    return Outcome::Fail(format!("`{expected}` reported twice"));
                }
                result = Some(r);
            }
            Some(Line::Verdict(v)) => verdict = Some(v),
            Some(Line::Bench { .. }) | None => {}
        }
    }
    let alarms = boot.alarms();
    let unprovoked = uart_log::unprovoked(&alarms, provokes);
    if let Some(Err(reason)) = &result {
        return Outcome::Fail(match unprovoked {
            Some(why) => format!("{reason}; and {why}"),
            None => reason.clone(),
        });
    }
    if let Some(why) = unprovoked {
        return Outcome::Fail(why);
    }
    match &boot.end {
        End::Timeout => {
            return Outcome::Timeout(if result.is_some() {
                "after the PASS line".into()
            } else {
                "no result line".into()
            });
        }
        End::NoPowerOff => {
            return Outcome::Timeout("no power-off after the verdict".into());
        }
        End::Fault => return Outcome::Fail("stopped after a fault report".into()),
        End::Exited(status) if !status.success() => {
            return Outcome::Fail(format!("QEMU exited with {status}"));
        }
        End::Exited(_) => {}
    }
    match (result, verdict) {
        (None, _) => Outcome::Missing(format!("no `scenario qemu {expected} ...` line")),
        (Some(_), None) => Outcome::Missing("no `verdict:` line".into()),
        (Some(_), Some(Verdict::Fail)) => Outcome::Fail("PASS line but `verdict: FAIL`".into()),
        (Some(_), Some(Verdict::None)) => Outcome::Fail("`verdict: NONE` after a result".into()),
        (Some(_), Some(Verdict::Pass)) => {
            if let Some(why) = boot.bad_end() {
                Outcome::Fail(why)
            } else if let Some(why) = uart_log::never_reported(&alarms, provokes) {
                Outcome::Fail(why)
            } else {
                Outcome::Pass
            }
        }
    }
}

/// One scenario run's boot.
#[derive(Debug)]
pub struct Run {
    /// The scenario.
    pub name: &'static str,
    /// Its home core.
    pub home: u16,
    /// How it did.
    pub outcome: Outcome,
    /// How long the boot took.
    pub took: Duration,
    /// Its logs.
    pub log_dir: PathBuf,
}

impl Run {
    /// `<name>@cpu<home>`.
    pub fn key(&self) -> String {
        key(self.name, self.home)
    }
}

/// `<name>@cpu<home>`, as the result lines spell a run.
pub fn key(name: &str, home: u16) -> String {
    RunKey { name, home }.to_string()
}

/// The selector value that runs `scenario` from core `home` (`scenarios::selector`).
pub fn selector(scenario: &Scenario, home: u16) -> Option<u32> {
    scenarios::selector::of(scenario.name, home)
}

fn machine(root: &Path, bios: &Path, scenario: &Scenario, home: u16, gdb: bool) -> Machine {
    Machine {
        bios: bios.to_path_buf(),
        smp: SMP,
        selector: selector(scenario, home),
        bench: false,
        sve: true,
        gdb,
        log_dir: qemu::log_dir(root, &key(scenario.name, home)),
        linux: None,
        exec_log: None,
    }
}

/// Boots each (scenario, home core) run in turn, showing both UARTs live (TF-A's power-off
/// sequence as one line).
pub fn run_in_turn(
    root: &Path,
    bios: &Path,
    chosen: &[(&'static Scenario, u16)],
    timeout: Option<Duration>,
    gdb_hint: Option<&str>,
) -> Result<Vec<Run>> {
    let mut runs = Vec::new();
    for (index, &(scenario, home)) in chosen.iter().enumerate() {
        let machine = machine(root, bios, scenario, home, gdb_hint.is_some());
        let key = key(scenario.name, home);
        console::header(&format!(
            "[{}/{}] {key} on QEMU (selector {:#x})",
            index + 1,
            chosen.len(),
            machine.selector.unwrap_or(0)
        ));
        console::note(&format!("$ {}", qemu::shell_line(&machine)));
        if let Some(hint) = gdb_hint {
            println!("{hint}");
        }
        let mut filter = LiveFilter::default();
        let boot = qemu::boot(&machine, timeout, &mut |world, line| {
            if let Some(shown) = filter.line(world, line) {
                println!("{} {shown}", world.prefix());
            }
        })?;
        for (world, line) in filter.finish(boot.normal.len(), boot.secure.len(), boot.powered_off) {
            println!("{} {line}", world.prefix());
        }
        let outcome = judge(&key, scenario.provokes, &boot);
        println!(
            "==> {key}: {outcome} ({:.1} s; logs in {})",
            boot.took.as_secs_f64(),
            boot.log_dir.display()
        );
        if !outcome.passed() {
            for line in boot.qemu_output.lines().take(FAILURE_TAIL) {
                println!("    qemu: {line}");
            }
        }
        runs.push(Run {
            name: scenario.name,
            home,
            outcome,
            took: boot.took,
            log_dir: boot.log_dir,
        });
    }
    Ok(runs)
}

/// The SPMC's boot log in a boot's secure UART lines: up to the end of its cold boot.
pub fn spmc_boot_log(secure: &[String]) -> Option<&[String]> {
    let end = secure
        .iter()
        .position(|l| l.starts_with("spmc: cold boot done"))?;
    Some(&secure[..=end])
}

/// Boots every (scenario, home core) run, `jobs` QEMUs at a time, under a progress bar: the
/// SPMC's boot log once (from the first boot that has one), a line per finished run, and the
/// UART tails of the first few failed runs.
pub fn run_parallel(
    root: &Path,
    bios: &Path,
    chosen: &[(&'static Scenario, u16)],
    jobs: usize,
    timeout: Duration,
) -> Result<Vec<Run>> {
    let queue = Mutex::new(chosen.iter().copied().enumerate());
    let (tx, rx) = mpsc::channel::<(usize, Result<(Run, Boot)>)>();
    let bar =
        ProgressBar::with_draw_target(Some(chosen.len() as u64), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("[{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(250));
    let mut slots: Vec<Option<Run>> = chosen.iter().map(|_| None).collect();
    let mut first_error = None;
    let mut tails_shown = 0;
    let mut boot_log_shown = false;
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, chosen.len().max(1)) {
            let tx = tx.clone();
            let queue = &queue;
            scope.spawn(move || {
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.next());
                    let Some((index, (scenario, home))) = next else {
                        break;
                    };
                    let machine = machine(root, bios, scenario, home, false);
                    let result = qemu::boot(&machine, Some(timeout), &mut |_, _| {}).map(|boot| {
                        let run = Run {
                            name: scenario.name,
                            home,
                            outcome: judge(&key(scenario.name, home), scenario.provokes, &boot),
                            took: boot.took,
                            log_dir: boot.log_dir.clone(),
                        };
                        (run, boot)
                    });
                    if tx.send((index, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (index, result) in rx {
            bar.inc(1);
            match result {
                Ok((run, boot)) => {
                    bar.suspend(|| {
                        if !boot_log_shown && let Some(log) = spmc_boot_log(&boot.secure) {
                            boot_log_shown = true;
                            console::header(&format!("SPMC boot log (from {})", run.key()));
                            for line in log {
                                println!("{} {line}", World::Secure.prefix());
                            }
                            println!();
                        }
                        println!(
                            "scenario qemu {} {} ({:.1} s)",
                            run.key(),
                            run.outcome,
                            run.took.as_secs_f64()
                        );
                        if !run.outcome.passed() && tails_shown < TAILS_SHOWN {
                            tails_shown += 1;
                            print_tails(&boot);
                        }
                    });
                    bar.set_message(run.key());
                    if let Some(slot) = slots.get_mut(index) {
                        *slot = Some(run);
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    });
    bar.finish_and_clear();
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok(slots.into_iter().flatten().collect())
}

/// TF-A's listing of power domains at SYSTEM_OFF (debug builds): long, and no help in a tail.
fn is_power_domain_map(line: &str) -> bool {
    line.starts_with("INFO:    PSCI Power Domain Map:")
        || line.starts_with("INFO:      Domain Node :")
        || line.starts_with("INFO:      CPU Node :")
}

fn print_tails(boot: &Boot) {
    for (world, lines) in [(World::Normal, &boot.normal), (World::Secure, &boot.secure)] {
        let lines: Vec<&String> = lines.iter().filter(|l| !is_power_domain_map(l)).collect();
        println!(
            "    last {} lines of {}:",
            FAILURE_TAIL.min(lines.len()),
            world.prefix().trim_end_matches('|').trim()
        );
        for line in qemu::last_lines(&lines, FAILURE_TAIL) {
            println!("    {} {line}", world.prefix());
        }
        if world == World::Normal && boot.powered_off {
            println!("    {} {}", world.prefix(), uart_log::POWERED_OFF);
        }
    }
    for line in boot.qemu_output.lines().take(FAILURE_TAIL) {
        println!("    qemu: {line}");
    }
    println!("    logs: {}", boot.log_dir.display());
}

/// One run's entry in the summary table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The scenario.
    pub name: String,
    /// The home core.
    pub home: u16,
    /// Its in-process result (through the proxy), when it was run.
    pub in_process: Option<String>,
    /// Its QEMU result.
    pub qemu: String,
    /// The boot's duration.
    pub took: Option<Duration>,
}

/// The first word of a result (`PASS`, `FAIL`, `timeout`, `missing`): reasons are listed
/// under the table.
fn word(result: &str) -> &str {
    result
        .split_whitespace()
        .next()
        .unwrap_or("-")
        .trim_end_matches(':')
}

/// The summary table: a row per scenario (in the order of `rows`), a column per home core,
/// each cell the QEMU result word and boot time, after the in-process word when any row has
/// one (`PASS/PASS 0.5s`); `-` for a run that was not made.
pub fn table(rows: &[Row]) -> String {
    let with_in_process = rows.iter().any(|r| r.in_process.is_some());
    let mut names: Vec<&str> = Vec::new();
    for row in rows {
        if !names.contains(&row.name.as_str()) {
            names.push(&row.name);
        }
    }
    let cell = |name: &str, home: u16| -> String {
        let Some(row) = rows.iter().find(|r| r.name == name && r.home == home) else {
            return "-".into();
        };
        let mut text = String::new();
        if with_in_process {
            text.push_str(word(row.in_process.as_deref().unwrap_or("-")));
            text.push('/');
        }
        text.push_str(word(&row.qemu));
        if let Some(took) = row.took {
            text.push_str(&format!(" {:.1}s", took.as_secs_f64()));
        }
        text
    };
    let cells: Vec<Vec<String>> = names
        .iter()
        .map(|name| (0..CPUS).map(|home| cell(name, home)).collect())
        .collect();
    let name_width = names
        .iter()
        .map(|n| n.len())
        .chain(["scenario".len()])
        .max()
        .unwrap_or(8);
    let cell_width = cells
        .iter()
        .flatten()
        .map(|c| c.chars().count())
        .chain(["cpu0".len()])
        .max()
        .unwrap_or(4);
    let mut text = String::new();
    let mut push = |name: &str, columns: &[String]| {
        let mut line = format!("{name:<name_width$}");
        for column in columns {
            line.push_str(&format!("  {column:<cell_width$}"));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    };
    let headings: Vec<String> = (0..CPUS).map(|home| format!("cpu{home}")).collect();
    push("scenario", &headings);
    for (name, row) in names.iter().zip(&cells) {
        push(name, row);
    }
    text
}

/// The failures of `runs`, as one line each (for the error message).
pub fn failures(runs: &[Run]) -> Vec<String> {
    runs.iter()
        .filter(|r| !r.outcome.passed())
        .map(|r| {
            format!(
                "{}: {} (logs in {})",
                r.key(),
                r.outcome,
                r.log_dir.display()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    fn off() -> End {
        End::Exited(ExitStatus::from_raw(0))
    }

    /// A boot that ended as `end` with these UART lines (TF-A's power-off sequence taken out
    /// as `qemu::boot` does).
    fn boot_of(end: End, normal: &str, secure: &str) -> Boot {
        let (normal, secure, powered_off) =
            uart_log::without_power_off(&lines(normal), &lines(secure));
        Boot {
            end,
            normal,
            secure,
            powered_off,
            qemu_output: String::new(),
            took: Duration::ZERO,
            log_dir: "/l".into(),
        }
    }

    /// A boot that printed `normal` and powered off as TF-A does.
    fn powered_off(normal: &str, secure: &str) -> Boot {
        let normal = format!(
            "{normal}{}\nBACKTRACE: START: qemu_system_off\n0: EL3: 0xe0922ec\n",
            uart_log::POWER_OFF_LINE
        );
        let secure = format!("{secure}PANIC in EL3.\nx30            = 0x000000000e0986bc\nx0 ");
        boot_of(off(), &normal, &secure)
    }

    fn judged(expected: &str, boot: &Boot) -> Outcome {
        judge(expected, &[], boot)
    }

    const PASSED: &str = "scenario qemu rxtx_unmap@cpu1 PASS\nverdict: PASS\n";

    #[test]
    fn a_passing_boot() {
        let boot = powered_off(
            "NOTICE:  Booting Trusted Firmware\n[proxy] up\nscenario qemu rxtx_unmap@cpu1 PASS\nverdict: PASS\n",
            "spmc: cold boot done on core 0: FFA_MSG_WAIT to the SPMD\n",
        );
        assert!(boot.powered_off);
        assert_eq!(judged("rxtx_unmap@cpu1", &boot), Outcome::Pass);
    }

    #[test]
    fn failures_timeouts_and_missing_lines() {
        let fail = "scenario qemu rxtx_unmap@cpu1 FAIL got 0x84000060\nverdict: FAIL\n";
        assert_eq!(
            judged("rxtx_unmap@cpu1", &powered_off(fail, "")),
            Outcome::Fail("got 0x84000060".into())
        );
        // A fault report beside it is named too.
        assert_eq!(
            judged(
                "rxtx_unmap@cpu1",
                &powered_off(fail, "spmc: PANIC on core 0: x\n")
            ),
            Outcome::Fail(
                "got 0x84000060; and a panic on the secure UART: `spmc: PANIC on core 0: x`".into()
            )
        );
        // A FAIL line counts even when QEMU then hung.
        assert_eq!(
            judged("rxtx_unmap@cpu1", &boot_of(End::Timeout, fail, "")),
            Outcome::Fail("got 0x84000060".into())
        );
        assert!(matches!(
            judged("rxtx_unmap@cpu1", &boot_of(End::Timeout, "booting\n", "")),
            Outcome::Timeout(_)
        ));
        assert!(matches!(
            judged("rxtx_unmap@cpu1", &boot_of(End::NoPowerOff, PASSED, "")),
            Outcome::Timeout(_)
        ));
        assert!(matches!(
            judged("rxtx_unmap@cpu1", &powered_off("verdict: PASS\n", "")),
            Outcome::Missing(_)
        ));
        assert!(matches!(
            judged(
                "rxtx_unmap@cpu1",
                &powered_off("scenario qemu rxtx_unmap@cpu1 PASS\n", "")
            ),
            Outcome::Missing(_)
        ));
        assert!(matches!(
            judged(
                "rxtx_unmap@cpu1",
                &powered_off("scenario qemu rxtx_unmap@cpu1 PASS\nverdict: FAIL\n", "")
            ),
            Outcome::Fail(_)
        ));
        assert!(matches!(
            judged("rxtx_unmap@cpu1", &powered_off("verdict: NONE\n", "")),
            Outcome::Missing(_)
        ));
        assert!(matches!(
            judged(
                "rxtx_unmap@cpu1",
                &powered_off("scenario qemu other PASS\nverdict: PASS\n", "")
            ),
            Outcome::Fail(_)
        ));
        assert!(matches!(
            judged(
                "a",
                &powered_off(
                    "scenario qemu a PASS\nscenario qemu a PASS\nverdict: PASS\n",
                    ""
                )
            ),
            Outcome::Fail(_)
        ));
        assert!(matches!(
            judged(
                "a",
                &boot_of(
                    End::Exited(ExitStatus::from_raw(1 << 8)),
                    "scenario qemu a PASS\nverdict: PASS\n",
                    ""
                )
            ),
            Outcome::Fail(_)
        ));
    }

    #[test]
    fn a_boot_must_end_in_tf_as_power_off() {
        // QEMU exited 0, but not through TF-A's power-off.
        assert_eq!(
            judged("rxtx_unmap@cpu1", &boot_of(off(), PASSED, "")),
            Outcome::Fail("QEMU exited without TF-A's power-off sequence".into())
        );
    }

    #[test]
    fn fault_reports_fail_a_passing_run_with_the_line_quoted() {
        let boot = powered_off(PASSED, "[0x8001 0] FATAL: panic: index out of bounds\n");
        assert_eq!(
            judged("rxtx_unmap@cpu1", &boot),
            Outcome::Fail(
                "a fatal error on the secure UART: `[0x8001 0] FATAL: panic: index out of bounds`"
                    .into()
            )
        );
        // A real panic dump, with no power-off line before it.
        let boot = boot_of(
            off(),
            PASSED,
            "PANIC in EL3.\nx30            = 0x000000000e0986bc\n",
        );
        assert_eq!(
            judged("rxtx_unmap@cpu1", &boot),
            Outcome::Fail("a panic on the secure UART: `PANIC in EL3.`".into())
        );
        // A TF-A error, and one that the hang after it does not hide.
        let error = "ERROR:   SPMD: failed to initialise SPMC\n";
        assert_eq!(
            judged("rxtx_unmap@cpu1", &boot_of(End::Timeout, error, "")),
            Outcome::Fail(
                "a TF-A error on the normal-world UART: `ERROR:   SPMD: failed to initialise SPMC`"
                    .into()
            )
        );
    }

    #[test]
    fn provoked_faults_pass_only_where_provoked_and_must_come() {
        let injected = "spmc: partition 0x8001/0 on core 0: data abort at 0xe304fd4 (address \
                        0xe400000, IPA 0xe400000, ESR 0x93c08006): injected at 0xe304a00\n";
        let boot = powered_off(PASSED, injected);
        let provokes = [Provoked::InjectedAbort];
        assert_eq!(judge("rxtx_unmap@cpu1", &provokes, &boot), Outcome::Pass);
        assert!(matches!(
            judge("rxtx_unmap@cpu1", &[], &boot),
            Outcome::Fail(why) if why.starts_with("an injected partition abort on the secure UART")
        ));
        assert!(matches!(
            judge("rxtx_unmap@cpu1", &provokes, &powered_off(PASSED, "")),
            Outcome::Fail(why) if why.contains("reported none")
        ));
    }

    #[test]
    fn a_line_for_another_home_core_fails_the_boot() {
        assert!(matches!(
            judged(
                "rxtx_unmap@cpu1",
                &powered_off("scenario qemu rxtx_unmap@cpu2 PASS\nverdict: PASS\n", "")
            ),
            Outcome::Fail(_)
        ));
    }

    #[test]
    fn the_spmc_boot_log_ends_with_its_cold_boot() {
        let secure = lines(
            "spmc 0.1.0: S-EL2 SPMC\nspmc: 19 page-table pages used\n\
             spmc: cold boot done on core 0: FFA_MSG_WAIT to the SPMD\n[0x8002 2] relay ready\n",
        );
        assert_eq!(spmc_boot_log(&secure).map(<[String]>::len), Some(3));
        assert_eq!(spmc_boot_log(&secure[..2]), None);
    }

    #[test]
    fn selectors_carry_the_home_core() {
        assert_eq!(selector(&scenarios::ALL[0], 0), Some(1));
        assert_eq!(selector(&scenarios::ALL[0], 3), Some(0x3_0001));
        let last = scenarios::ALL.len();
        assert_eq!(
            selector(&scenarios::ALL[last - 1], 2),
            u32::try_from(last).ok().map(|l| 0x2_0000 | l)
        );
        assert_eq!(selector(&scenarios::ALL[0], CPUS), None);
        // Names are unique, so the selector finds the run again.
        for (i, s) in scenarios::ALL.iter().enumerate() {
            for home in 0..CPUS {
                let want = u32::try_from(i + 1).ok().map(|n| u32::from(home) << 16 | n);
                assert_eq!(selector(s, home), want, "{}", key(s.name, home));
                assert_ne!(selector(s, home), Some(qemu::BENCH_SELECTOR));
            }
        }
    }

    fn row(name: &str, home: u16, in_process: Option<&str>, qemu: &str, ms: u64) -> Row {
        Row {
            name: name.into(),
            home,
            in_process: in_process.map(str::to_owned),
            qemu: qemu.into(),
            took: (ms > 0).then(|| Duration::from_millis(ms)),
        }
    }

    #[test]
    fn summary_table_has_a_column_per_home_core() {
        let mut rows: Vec<Row> = (0..CPUS)
            .map(|home| row("version_negotiation", home, Some("PASS"), "PASS", 2345))
            .collect();
        rows.push(row(
            "rxtx_unmap",
            1,
            Some("PASS"),
            "timeout (no result line)",
            0,
        ));
        rows.push(row(
            "rxtx_unmap",
            3,
            Some("PASS"),
            "FAIL got 0x84000060",
            600,
        ));
        let text = table(&rows);
        let got: Vec<&str> = text.lines().collect();
        assert_eq!(
            got,
            [
                "scenario             cpu0            cpu1            cpu2            cpu3",
                "version_negotiation  PASS/PASS 2.3s  PASS/PASS 2.3s  PASS/PASS 2.3s  PASS/PASS 2.3s",
                "rxtx_unmap           -               PASS/timeout    -               PASS/FAIL 0.6s",
            ]
        );
        let no_in_process = table(&[row("x", 2, None, "PASS", 500)]);
        assert_eq!(
            no_in_process.lines().collect::<Vec<_>>(),
            [
                "scenario  cpu0       cpu1       cpu2       cpu3",
                "x         -          -          PASS 0.5s  -"
            ]
        );
    }

    #[test]
    fn failures_name_the_run() {
        let runs = [Run {
            name: "rxtx_unmap",
            home: 2,
            outcome: Outcome::Fail("got 1".into()),
            took: Duration::ZERO,
            log_dir: "/l".into(),
        }];
        assert_eq!(
            failures(&runs),
            ["rxtx_unmap@cpu2: FAIL got 1 (logs in /l)"]
        );
    }
}
