//! `cargo xtask fuzz`: runs the cargo-fuzz targets in `fuzz/` on the nightly toolchain.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::console::{self, Error, Event, Result};
use crate::toolchain;

/// The fuzz targets: one file per target in `fuzz/fuzz_targets/`, sorted by name.
pub fn targets(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("fuzz").join("fuzz_targets");
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| Error::new(format!("cannot list {}: {e}", dir.display())))?;
    let mut names: Vec<String> = entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            if path.extension()? != "rs" {
                return None;
            }
            Some(path.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    Ok(names)
}

/// What one fuzzing run found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Inputs executed, from libFuzzer's final statistics (or its last status line).
    pub executions: Option<u64>,
    /// The input libFuzzer saved for a crash, leak or timeout.
    pub artifact: Option<String>,
    /// libFuzzer's latest status line, for the progress display.
    pub status: Option<String>,
    /// Whether libFuzzer has started (the build is over).
    pub fuzzing: bool,
    final_stat: bool,
}

impl Report {
    /// Takes in one line of cargo-fuzz or libFuzzer output.
    pub fn observe(&mut self, line: &str) {
        let line = line.trim();
        if line.starts_with("INFO: Seed:") || line.starts_with("INFO: Running with") {
            self.fuzzing = true;
        }
        if let Some(n) = line
            .strip_prefix("stat::number_of_executed_units:")
            .and_then(|n| n.trim().parse().ok())
        {
            self.executions = Some(n);
            self.final_stat = true;
            return;
        }
        if self.final_stat {
            return;
        }
        if let Some(n) = line
            .strip_prefix("Done ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
        {
            self.executions = Some(n);
            return;
        }
        if let Some(n) = status_executions(line) {
            self.executions = Some(n);
            self.status = Some(line.split_whitespace().collect::<Vec<_>>().join(" "));
            self.fuzzing = true;
            return;
        }
        if let Some(path) = line.split("Test unit written to ").nth(1) {
            self.artifact = Some(path.trim().to_owned());
        }
    }
}

/// The execution count of a libFuzzer status line: `#1024\tpulse ...`, `#N\tDONE ...`, or in fork
/// mode `#N: cov: ...`.
fn status_executions(line: &str) -> Option<u64> {
    let rest = line.strip_prefix('#')?;
    let digits: &str = &rest[..rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len())];
    let after = &rest[digits.len()..];
    if digits.is_empty() || !(after.starts_with(char::is_whitespace) || after.starts_with(':')) {
        return None;
    }
    digits.parse().ok()
}

/// Lines libFuzzer prints for every new interesting input: shown in the progress line only.
fn is_per_input_line(line: &str) -> bool {
    status_executions(line).is_some()
        && ["NEW", "REDUCE", "RELOAD"]
            .iter()
            .any(|word| line.split_whitespace().nth(1) == Some(word))
}

/// Fuzzes `target` for `seconds` with `jobs` processes. Fails on a crash, pointing at the input.
pub fn run_target(root: &Path, target: &str, seconds: u64, jobs: u16) -> Result<Report> {
    let log_path = log_path(root, target);
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut log = File::create(&log_path)
        .map_err(|e| Error::new(format!("cannot write {}: {e}", log_path.display())))?;

    // New inputs go to the (ignored) corpus; committed seeds, if any, are read as well.
    let corpus = root.join("fuzz").join("corpus").join(target);
    std::fs::create_dir_all(&corpus)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", corpus.display())))?;
    let seeds = root.join("fuzz").join("seeds").join(target);

    let mut cmd = Command::new("cargo");
    cmd.current_dir(root)
        .arg(format!("+{}", toolchain::FUZZ_TOOLCHAIN))
        .args(["fuzz", "run", target])
        .arg(&corpus);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    if jobs > 1 {
        cmd.args(["--jobs", &jobs.to_string()]);
    }
    cmd.args([
        "--",
        &format!("-max_total_time={seconds}"),
        "-print_final_stats=1",
        // A call that takes this long is a hang: report it as one.
        "-timeout=10",
    ]);
    console::note(&format!("$ {}", console::describe(&cmd)));
    console::note(&format!("full output: {}", shown(root, &log_path)));

    let bar = ProgressBar::with_draw_target(Some(seconds), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} [{bar:24}] {pos}/{len}s {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(target.to_owned());
    bar.set_message("building");
    bar.enable_steady_tick(std::time::Duration::from_millis(120));

    let mut report = Report::default();
    let mut started: Option<Instant> = None;
    let status = console::run_streamed(&mut cmd, &bar, |bar, event| {
        if let Event::Line(stream, line) = event {
            let _ = writeln!(log, "{line}");
            report.observe(line);
            // libFuzzer's per-input lines only feed the progress line; the rest is shown.
            if !is_per_input_line(line) {
                console::pass_through(bar, stream, line);
            }
            if let Some(status) = &report.status {
                bar.set_message(status.clone());
            }
        }
        if report.fuzzing {
            let begun = *started.get_or_insert_with(Instant::now);
            bar.set_position(begun.elapsed().as_secs().min(seconds));
        }
    })?;
    bar.finish_and_clear();

    if status.success() {
        return Ok(report);
    }
    let mut message = format!("fuzz target {target} failed ({status})");
    if let Some(artifact) = &report.artifact {
        message.push_str(&format!(
            "; the input is {artifact}; reproduce with `cargo +{} fuzz run {target} {artifact}`",
            toolchain::FUZZ_TOOLCHAIN
        ));
    } else {
        message.push_str(&format!("; see {}", shown(root, &log_path)));
    }
    Err(Error::new(message))
}

fn log_path(root: &Path, target: &str) -> PathBuf {
    root.join("target")
        .join("xtask")
        .join(format!("fuzz-{target}.log"))
}

/// A path as a person in the workspace root would type it.
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Options of `cargo xtask fuzz`.
#[derive(clap::Args, Debug)]
pub struct FuzzArgs {
    /// The fuzz target (see --list).
    #[arg(required_unless_present = "list")]
    pub target: Option<String>,
    /// How long to fuzz, in seconds.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Fuzzing processes to run at once (libFuzzer fork mode when above 1).
    #[arg(long, default_value_t = 1)]
    pub jobs: u16,
    /// List the fuzz targets and exit.
    #[arg(long)]
    pub list: bool,
}

/// `cargo xtask fuzz`.
pub fn command(root: &Path, args: &FuzzArgs) -> Result<()> {
    let names = targets(root)?;
    if args.list {
        for name in &names {
            println!("{name}");
        }
        return Ok(());
    }
    let Some(target) = &args.target else {
        return Err(Error::new("name a fuzz target, or pass --list"));
    };
    if !names.contains(target) {
        return Err(Error::new(format!(
            "no fuzz target `{target}`; the targets are: {}",
            names.join(", ")
        )));
    }
    if args.seconds == 0 || args.jobs == 0 {
        return Err(Error::new("--seconds and --jobs must be at least 1"));
    }
    console::header(&format!("fuzzing {target} for {} s", args.seconds));
    toolchain::ensure_fuzz_tools()?;
    let report = run_target(root, target, args.seconds, args.jobs)?;
    match report.executions {
        Some(n) => println!("{target}: {n} executions in {} s, no failure", args.seconds),
        None => println!(
            "{target}: no failure in {} s (libFuzzer reported no execution count)",
            args.seconds
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observe_all(lines: &[&str]) -> Report {
        let mut report = Report::default();
        for line in lines {
            report.observe(line);
        }
        report
    }

    #[test]
    fn final_statistics_win_over_status_lines() {
        let report = observe_all(&[
            "INFO: Seed: 1234",
            "#2\tINITED cov: 10 ft: 10 corp: 1/1b exec/s: 0 rss: 30Mb",
            "#1048576\tpulse  cov: 90 ft: 200 corp: 40/2Kb lim: 4096 exec/s: 34952 rss: 60Mb",
            "#1234567\tDONE   cov: 95 ft: 210 corp: 41/2Kb lim: 4096 exec/s: 41152 rss: 61Mb",
            "Done 1234567 runs in 30 second(s)",
            "stat::number_of_executed_units: 1234568",
            "stat::average_exec_per_sec:     41152",
        ]);
        assert_eq!(report.executions, Some(1_234_568));
        assert!(report.fuzzing);
        assert_eq!(report.artifact, None);
    }

    #[test]
    fn done_line_counts_without_final_statistics() {
        let report = observe_all(&["#77\tDONE   cov: 1", "Done 77 runs in 1 second(s)"]);
        assert_eq!(report.executions, Some(77));
    }

    #[test]
    fn fork_mode_status_lines_count() {
        let report = observe_all(&[
            "INFO: -fork=2: fuzzing in separate process(s)",
            "#51234: cov: 300 ft: 700 corp: 80 exec/s: 25617 oom/timeout/crash: 0/0/0 time: 3s",
        ]);
        assert_eq!(report.executions, Some(51_234));
    }

    #[test]
    fn crash_artifact_is_found() {
        let report = observe_all(&[
            "==123== ERROR: libFuzzer: deadly signal",
            "artifact_prefix='fuzz/artifacts/ffa_decode/'; Test unit written to fuzz/artifacts/ffa_decode/crash-0a1b",
        ]);
        assert_eq!(
            report.artifact.as_deref(),
            Some("fuzz/artifacts/ffa_decode/crash-0a1b")
        );
    }

    #[test]
    fn build_output_is_not_a_status_line() {
        assert_eq!(status_executions("#[derive(Debug)]"), None);
        assert_eq!(status_executions("#12abc"), None);
        assert_eq!(status_executions("#12\tNEW cov: 3"), Some(12));
        assert!(is_per_input_line("#12\tNEW    cov: 3 ft: 4"));
        assert!(is_per_input_line("#4096\tREDUCE cov: 3"));
        assert!(!is_per_input_line("#4096\tpulse  cov: 3"));
        assert!(!is_per_input_line("   Compiling ffa v0.1.0"));
    }
}
