//! The scenarios on QEMU: one boot per scenario (each assumes a freshly booted stack), judged
//! from the client's lines, one after another with live output or a few at a time quietly, and
//! the summary table.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scenarios::Scenario;

use crate::console::{self, Result};
use crate::qemu::{self, Boot, End, Line, Machine, Verdict, World};

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

/// Judges the boot that ran scenario `expected` from how it ended and its UART0 lines.
pub fn judge(expected: &str, end: &End, normal: &[String]) -> Outcome {
    let mut result = None;
    let mut verdict = None;
    for line in normal {
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
    if let Some(Err(reason)) = &result {
        return Outcome::Fail(reason.clone());
    }
    match end {
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
        (Some(_), Some(Verdict::Pass)) => Outcome::Pass,
    }
}

/// One scenario's boot.
#[derive(Debug)]
pub struct Run {
    /// The scenario.
    pub name: &'static str,
    /// How it did.
    pub outcome: Outcome,
    /// How long the boot took.
    pub took: Duration,
    /// Its logs.
    pub log_dir: PathBuf,
}

/// The selector value that runs `scenario` (its index in `scenarios::ALL`, plus one).
pub fn selector(scenario: &Scenario) -> Option<u32> {
    let index = scenarios::ALL
        .iter()
        .position(|s| s.name == scenario.name)?;
    u32::try_from(index).ok()?.checked_add(1)
}

fn machine(root: &Path, bios: &Path, scenario: &Scenario, gdb: bool) -> Machine {
    Machine {
        bios: bios.to_path_buf(),
        smp: SMP,
        selector: selector(scenario),
        bench: false,
        gdb,
        log_dir: qemu::log_dir(root, scenario.name),
    }
}

/// What `run` shows of each boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    /// Every UART line, prefixed by its world.
    Live,
    /// Only the client's result lines.
    Results,
}

/// Boots each scenario in turn, showing its output live.
pub fn run_in_turn(
    root: &Path,
    bios: &Path,
    chosen: &[&'static Scenario],
    timeout: Option<Duration>,
    show: Show,
    gdb_hint: Option<&str>,
) -> Result<Vec<Run>> {
    let mut runs = Vec::new();
    for (index, scenario) in chosen.iter().enumerate() {
        let machine = machine(root, bios, scenario, gdb_hint.is_some());
        console::header(&format!(
            "[{}/{}] {} on QEMU (selector {})",
            index + 1,
            chosen.len(),
            scenario.name,
            machine.selector.unwrap_or(0)
        ));
        console::note(&format!("$ {}", qemu::shell_line(&machine)));
        if let Some(hint) = gdb_hint {
            println!("{hint}");
        }
        let boot = qemu::boot(&machine, timeout, &mut |world, line| {
            if show == Show::Live || (world == World::Normal && qemu::parse_line(line).is_some()) {
                println!("{} {line}", world.prefix());
            }
        })?;
        let outcome = judge(scenario.name, &boot.end, &boot.normal);
        println!(
            "==> {}: {outcome} ({:.1} s; logs in {})",
            scenario.name,
            boot.took.as_secs_f64(),
            boot.log_dir.display()
        );
        if !outcome.passed() {
            if show == Show::Results {
                print_tails(&boot);
            } else {
                for line in boot.qemu_output.lines().take(FAILURE_TAIL) {
                    println!("    qemu: {line}");
                }
            }
        }
        runs.push(Run {
            name: scenario.name,
            outcome,
            took: boot.took,
            log_dir: boot.log_dir,
        });
    }
    Ok(runs)
}

/// Boots every scenario, `jobs` QEMUs at a time, printing each result as it comes.
pub fn run_parallel(
    root: &Path,
    bios: &Path,
    chosen: &[&'static Scenario],
    jobs: usize,
    timeout: Duration,
) -> Result<Vec<Run>> {
    let queue = Mutex::new(chosen.iter().copied().enumerate());
    let (tx, rx) = mpsc::channel::<(usize, Result<(Run, Option<Boot>)>)>();
    let bar =
        ProgressBar::with_draw_target(Some(chosen.len() as u64), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("[{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(250));
    let mut slots: Vec<Option<Run>> = chosen.iter().map(|_| None).collect();
    let mut first_error = None;
    let mut tails_shown = 0;
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, chosen.len().max(1)) {
            let tx = tx.clone();
            let queue = &queue;
            scope.spawn(move || {
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.next());
                    let Some((index, scenario)) = next else { break };
                    let machine = machine(root, bios, scenario, false);
                    let result = qemu::boot(&machine, Some(timeout), &mut |_, _| {}).map(|boot| {
                        let outcome = judge(scenario.name, &boot.end, &boot.normal);
                        let failed = !outcome.passed();
                        let run = Run {
                            name: scenario.name,
                            outcome,
                            took: boot.took,
                            log_dir: boot.log_dir.clone(),
                        };
                        (run, failed.then_some(boot))
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
                Ok((run, failed_boot)) => {
                    bar.suspend(|| {
                        println!(
                            "scenario qemu {} {} ({:.1} s)",
                            run.name,
                            run.outcome,
                            run.took.as_secs_f64()
                        );
                        if let Some(boot) = &failed_boot
                            && tails_shown < TAILS_SHOWN
                        {
                            tails_shown += 1;
                            print_tails(boot);
                        }
                    });
                    bar.set_message(run.name);
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

fn print_tails(boot: &Boot) {
    for (world, lines) in [(World::Normal, &boot.normal), (World::Secure, &boot.secure)] {
        println!(
            "    last {} lines of {}:",
            FAILURE_TAIL.min(lines.len()),
            world.prefix().trim_end_matches('|').trim()
        );
        for line in qemu::last_lines(lines, FAILURE_TAIL) {
            println!("    {} {line}", world.prefix());
        }
    }
    for line in boot.qemu_output.lines().take(FAILURE_TAIL) {
        println!("    qemu: {line}");
    }
    println!("    logs: {}", boot.log_dir.display());
}

/// One row of the summary table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The scenario.
    pub name: String,
    /// Its in-process result (through the proxy), when it was run.
    pub in_process: Option<String>,
    /// Its QEMU result.
    pub qemu: String,
    /// The boot's duration.
    pub took: Option<Duration>,
}

/// The summary table: scenario, in-process result (when any row has one), QEMU result, time.
pub fn table(rows: &[Row]) -> String {
    const RESULT_WIDTH: usize = 48;
    let name_width = rows
        .iter()
        .map(|r| r.name.len())
        .chain(["scenario".len()])
        .max()
        .unwrap_or(8);
    let with_in_process = rows.iter().any(|r| r.in_process.is_some());
    let mut text = String::new();
    let mut push = |name: &str, in_process: &str, qemu: &str, took: &str| {
        let mut line = format!("{name:<name_width$}  ");
        if with_in_process {
            line.push_str(&format!("{in_process:<12}"));
        }
        line.push_str(&format!(
            "{:<width$}  {took:>7}",
            console::shorten(qemu, RESULT_WIDTH),
            width = RESULT_WIDTH
        ));
        text.push_str(line.trim_end());
        text.push('\n');
    };
    push("scenario", "in-process", "qemu", "time");
    for row in rows {
        let took = row
            .took
            .map(|t| format!("{:.1}s", t.as_secs_f64()))
            .unwrap_or_default();
        push(
            &row.name,
            row.in_process.as_deref().unwrap_or("-"),
            &row.qemu,
            &took,
        );
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
                r.name,
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

    #[test]
    fn a_passing_boot() {
        let uart = lines(
            "NOTICE:  Booting Trusted Firmware\nproxy: up\nscenario qemu rxtx_unmap PASS\nverdict: PASS\n",
        );
        assert_eq!(judge("rxtx_unmap", &off(), &uart), Outcome::Pass);
    }

    #[test]
    fn failures_timeouts_and_missing_lines() {
        let fail = lines("scenario qemu rxtx_unmap FAIL got 0x84000060\nverdict: FAIL\n");
        assert_eq!(
            judge("rxtx_unmap", &off(), &fail),
            Outcome::Fail("got 0x84000060".into())
        );
        // A FAIL line counts even when QEMU then hung.
        assert_eq!(
            judge("rxtx_unmap", &End::Timeout, &fail),
            Outcome::Fail("got 0x84000060".into())
        );
        assert!(matches!(
            judge("rxtx_unmap", &End::Timeout, &lines("booting\n")),
            Outcome::Timeout(_)
        ));
        assert!(matches!(
            judge(
                "rxtx_unmap",
                &End::NoPowerOff,
                &lines("scenario qemu rxtx_unmap PASS\nverdict: PASS\n")
            ),
            Outcome::Timeout(_)
        ));
        assert!(matches!(
            judge("rxtx_unmap", &off(), &lines("verdict: PASS\n")),
            Outcome::Missing(_)
        ));
        assert!(matches!(
            judge(
                "rxtx_unmap",
                &off(),
                &lines("scenario qemu rxtx_unmap PASS\n")
            ),
            Outcome::Missing(_)
        ));
        assert!(matches!(
            judge(
                "rxtx_unmap",
                &off(),
                &lines("scenario qemu rxtx_unmap PASS\nverdict: FAIL\n")
            ),
            Outcome::Fail(_)
        ));
        assert!(matches!(
            judge("rxtx_unmap", &off(), &lines("verdict: NONE\n")),
            Outcome::Missing(_)
        ));
        assert!(matches!(
            judge(
                "rxtx_unmap",
                &off(),
                &lines("scenario qemu other PASS\nverdict: PASS\n")
            ),
            Outcome::Fail(_)
        ));
        assert!(matches!(
            judge(
                "a",
                &off(),
                &lines("scenario qemu a PASS\nscenario qemu a PASS\nverdict: PASS\n")
            ),
            Outcome::Fail(_)
        ));
        assert!(matches!(
            judge(
                "a",
                &End::Exited(ExitStatus::from_raw(1 << 8)),
                &lines("scenario qemu a PASS\nverdict: PASS\n")
            ),
            Outcome::Fail(_)
        ));
    }

    #[test]
    fn selectors_are_index_plus_one() {
        assert_eq!(selector(&scenarios::ALL[0]), Some(1));
        let last = scenarios::ALL.len();
        assert_eq!(
            selector(&scenarios::ALL[last - 1]),
            u32::try_from(last).ok()
        );
        // Names are unique, so the selector finds the scenario again.
        for (i, s) in scenarios::ALL.iter().enumerate() {
            assert_eq!(selector(s), u32::try_from(i + 1).ok(), "{}", s.name);
        }
    }

    #[test]
    fn summary_table_lines_up() {
        let rows = vec![
            Row {
                name: "version_negotiation".into(),
                in_process: Some("PASS".into()),
                qemu: "PASS".into(),
                took: Some(Duration::from_millis(2345)),
            },
            Row {
                name: "rxtx_unmap".into(),
                in_process: Some("PASS".into()),
                qemu: "timeout (no result line)".into(),
                took: None,
            },
        ];
        let text = table(&rows);
        let got: Vec<&str> = text.lines().collect();
        assert_eq!(got.len(), 3);
        assert!(got[0].starts_with("scenario             in-process  qemu"));
        assert!(got[1].starts_with("version_negotiation  PASS        PASS"));
        assert!(got[1].ends_with("2.3s"));
        assert_eq!(
            got[2],
            "rxtx_unmap           PASS        timeout (no result line)"
        );
        let no_in_process = table(&[Row {
            in_process: None,
            ..rows[0].clone()
        }]);
        assert!(!no_in_process.contains("in-process"));
    }

    #[test]
    fn long_reasons_are_cut_in_the_table() {
        let text = table(&[Row {
            name: "x".into(),
            in_process: None,
            qemu: format!("FAIL {}", "y".repeat(100)),
            took: None,
        }]);
        assert!(text.lines().nth(1).is_some_and(|l| l.ends_with('…')));
    }
}
