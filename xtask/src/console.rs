//! Child processes shown to a person: a header per step, a spinner while a command runs, and the
//! command's output passed through line by line (above the spinner on a terminal, plainly in CI).

use std::fmt;
use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Why an xtask command failed, said in one sentence.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// The result of an xtask action.
pub type Result<T> = std::result::Result<T, Error>;

/// Prints a step header.
pub fn header(title: &str) {
    println!("\n==> {title}");
}

/// Prints a note under the current header.
pub fn note(text: &str) {
    println!("    {text}");
}

/// The stream a child wrote a line to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The child's standard output.
    Stdout,
    /// The child's standard error.
    Stderr,
}

/// What happened while a child ran.
pub enum Event<'a> {
    /// The child wrote a line.
    Line(Stream, &'a str),
    /// Time passed with no output (a chance to update a progress display).
    Tick,
}

/// A spinner on standard error; hidden, and free, when standard error is not a terminal.
pub fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Prints one line of a child's output without tearing the progress display.
pub fn pass_through(bar: &ProgressBar, stream: Stream, line: &str) {
    bar.suspend(|| match stream {
        Stream::Stdout => println!("{line}"),
        Stream::Stderr => eprintln!("{line}"),
    });
}

/// The shell-like spelling of a command, for headers and error messages.
pub fn describe(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Runs `cmd` to completion under `bar`, handing every output line and periodic ticks to
/// `on_event`. Standard input is closed: nothing here is interactive.
pub fn run_streamed(
    cmd: &mut Command,
    bar: &ProgressBar,
    mut on_event: impl FnMut(&ProgressBar, Event<'_>),
) -> Result<ExitStatus> {
    if std::io::stdout().is_terminal() {
        // Children see pipes; keep cargo's colours for a person watching.
        cmd.env("CARGO_TERM_COLOR", "always");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::new(format!("cannot start `{}`: {e}", describe(cmd))))?;
    let (tx, rx) = mpsc::channel::<(Stream, String)>();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(forward_lines(out, Stream::Stdout, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(forward_lines(err, Stream::Stderr, tx.clone()));
    }
    drop(tx);
    loop {
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok((stream, line)) => on_event(bar, Event::Line(stream, &line)),
            Err(mpsc::RecvTimeoutError::Timeout) => on_event(bar, Event::Tick),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    for reader in readers {
        let _ = reader.join();
    }
    child
        .wait()
        .map_err(|e| Error::new(format!("cannot wait for `{}`: {e}", describe(cmd))))
}

fn forward_lines(
    source: impl Read + Send + 'static,
    stream: Stream,
    tx: mpsc::Sender<(Stream, String)>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for chunk in BufReader::new(source).split(b'\n') {
            let Ok(bytes) = chunk else { break };
            let line = String::from_utf8_lossy(&bytes);
            if tx
                .send((stream, line.trim_end_matches('\r').to_owned()))
                .is_err()
            {
                break;
            }
        }
    })
}

/// Runs `cmd` with its output passed through and a spinner saying `what`; fails unless it exits 0.
pub fn run_checked(cmd: &mut Command, what: &str) -> Result<()> {
    note(&format!("$ {}", describe(cmd)));
    let bar = spinner(what);
    let status = run_streamed(cmd, &bar, |bar, event| {
        if let Event::Line(stream, line) = event {
            pass_through(bar, stream, line);
        }
    })?;
    bar.finish_and_clear();
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(format!("`{}` failed ({status})", describe(cmd))))
    }
}

/// Runs `cmd` quietly and says whether it exited 0 (a probe: missing programs count as failure).
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `cmd` quietly and returns its standard output if it exited 0.
pub fn output_of(cmd: &mut Command) -> Option<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// How many of a quiet command's last lines are shown when it fails.
const TAIL_LINES: usize = 40;

/// Runs `cmd` under a spinner saying `what` and the command's latest output line, without
/// printing its output; fails unless it exits 0, then showing its last lines.
pub fn run_quiet(cmd: &mut Command, what: &str) -> Result<()> {
    note(&format!("$ {}", describe(cmd)));
    let bar = spinner(what);
    let mut tail: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    let status = run_streamed(cmd, &bar, |bar, event| {
        if let Event::Line(_, line) = event {
            let shown = line.trim();
            if !shown.is_empty() {
                bar.set_message(format!("{what}: {}", shorten(shown, 60)));
            }
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.to_owned());
        }
    })?;
    bar.finish_and_clear();
    if status.success() {
        return Ok(());
    }
    for line in &tail {
        eprintln!("    | {line}");
    }
    Err(Error::new(format!("`{}` failed ({status})", describe(cmd))))
}

/// `text` cut to at most `max` characters.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `1.5 MiB`, `812 KiB`, `96 B`.
pub fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    if bytes >= KIB * KIB {
        format!("{:.1} MiB", bytes as f64 / (KIB * KIB) as f64)
    } else if bytes >= KIB {
        format!("{:.1} KiB", bytes as f64 / KIB as f64)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_shortening() {
        assert_eq!(size(96), "96 B");
        assert_eq!(size(2048), "2.0 KiB");
        assert_eq!(size(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert_eq!(shorten("abcdef", 10), "abcdef");
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}
