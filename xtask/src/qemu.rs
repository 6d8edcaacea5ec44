//! One QEMU boot of the stack: the command line (docs: boot-chain.md §7), both UARTs captured
//! to files and followed live, a timeout, and the client's result lines.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::console::{Error, Result};
use crate::uart_log::{self, Alarm};

/// Where QEMU's generic loader writes the scenario selector (u32, little endian).
pub const SELECTOR_ADDR: u64 = 0x4700_0000;
/// The selector value that asks the proxy and the client for the benchmark instead of a
/// scenario (no scenario word has 0xBEEF as its home core: `scenarios::selector`).
pub const BENCH_SELECTOR: u32 = scenarios::bench::SELECTOR;
/// gdb's port with `-s`.
pub const GDB_PORT: u16 = 1234;

/// How long QEMU may take to power off after the client's verdict before it counts as hung.
const POWER_OFF_GRACE: Duration = Duration::from_secs(5);
/// How long a boot runs on after a fault report no scenario provokes (a panic, FATAL, a TF-A
/// error) before it is stopped: long enough for the lines around it, short enough that a
/// stack broken everywhere fails every run in seconds rather than at its timeout.
const FAULT_GRACE: Duration = Duration::from_secs(2);
/// How often the UART files are read.
const POLL: Duration = Duration::from_millis(20);

/// A UART, by the world that owns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum World {
    /// UART0 (0x0900_0000): TF-A's console, the proxy and the client.
    Normal,
    /// UART1 (0x0904_0000): the SPMC, the partitions and TF-A's crash dumps.
    Secure,
}

impl World {
    /// The prefix its lines are shown with.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Normal => "ns |",
            Self::Secure => "sec|",
        }
    }

    /// How a message names it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Normal => "the normal-world UART",
            Self::Secure => "the secure UART",
        }
    }

    fn log_name(self) -> &'static str {
        match self {
            Self::Normal => "uart0-ns.log",
            Self::Secure => "uart1-secure.log",
        }
    }
}

/// The virtual hardware of a boot with `smp` CPUs (`bench`: instruction-counted; `sve`: the
/// CPUs have SVE): machine, CPUs, memory and devices, without firmware or consoles.
fn hardware_args(smp: u32, bench: bool, sve: bool) -> Vec<String> {
    hardware_args_with_memory(smp, bench, sve, MEMORY_MIB)
}

/// The scenario machines' RAM (the client and the proxy use its first 1 GiB only).
const MEMORY_MIB: u32 = 1024;

fn hardware_args_with_memory(smp: u32, bench: bool, sve: bool, memory_mib: u32) -> Vec<String> {
    let mut machine = String::from("virt,secure=on,virtualization=on,gic-version=3,acpi=off");
    if bench {
        // A fixed device-tree seed, and MTE as the peers were measured with it.
        machine.push_str(",dtb-randomness=off,mte=on");
    }
    let cpu = if sve {
        "max,pauth-impdef=on,sve=on,sme=off"
    } else {
        "max,pauth-impdef=on,sve=off,sme=off"
    };
    let mut args: Vec<String> = vec![
        "-machine".into(),
        machine,
        "-cpu".into(),
        cpu.into(),
        "-smp".into(),
        smp.to_string(),
        "-m".into(),
        memory_mib.to_string(),
        // Nothing uses a network; the default NIC would need ROMs from ipxe-qemu.
        "-nic".into(),
        "none".into(),
    ];
    if bench {
        args.push("-icount".into());
        args.push("shift=0,sleep=off".into());
    }
    args
}

/// One machine to boot.
#[derive(Clone, Debug)]
pub struct Machine {
    /// The flash image (`qemu_fw.bios`).
    pub bios: PathBuf,
    /// CPUs.
    pub smp: u32,
    /// The selector value written at [`SELECTOR_ADDR`], if any.
    pub selector: Option<u32>,
    /// Instruction-counted timing (docs: performance.md §Method).
    pub bench: bool,
    /// The CPUs have SVE (scenario boots do, so the SPMC must keep the normal world's SVE
    /// state; the bench boots without it, as the peers were measured, and again with it).
    pub sve: bool,
    /// Wait for gdb on [`GDB_PORT`] before the first instruction.
    pub gdb: bool,
    /// Where the UART logs and QEMU's own output go.
    pub log_dir: PathBuf,
    /// A Linux kernel for BL33 (U-Boot) to boot, instead of the NS-EL1 client.
    pub linux: Option<Kernel>,
    /// Where QEMU writes its execution log (every translation block executed, its
    /// instructions when translated, every exception), instead of `qemu-d.log`: the bench's
    /// profile boot reads it through a FIFO.
    pub exec_log: Option<PathBuf>,
}

impl Machine {
    /// The Unix socket UART1's input comes from (its output still goes to its log file), for
    /// the Linux boots, which type on the secure console.
    pub fn secure_input(&self) -> Option<PathBuf> {
        self.linux
            .as_ref()
            .map(|_| self.log_dir.join("uart1-input.sock"))
    }
}

/// What QEMU hands U-Boot through fw_cfg (`-kernel`, `-initrd`, `-append`), and the RAM Linux
/// gets.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// The kernel image.
    pub image: PathBuf,
    /// The initramfs.
    pub initrd: PathBuf,
    /// The kernel command line.
    pub append: String,
    /// RAM in MiB.
    pub memory_mib: u32,
}

impl Machine {
    /// The log file of `world`'s UART.
    pub fn uart_log(&self, world: World) -> PathBuf {
        self.log_dir.join(world.log_name())
    }

    /// QEMU's arguments.
    pub fn args(&self) -> Vec<String> {
        let memory = self.linux.as_ref().map_or(MEMORY_MIB, |k| k.memory_mib);
        let mut args = hardware_args_with_memory(self.smp, self.bench, self.sve, memory);
        if let Some(kernel) = &self.linux {
            args.extend([
                // A kernel panic (panic=-1) reboots: end QEMU instead.
                "-no-reboot".into(),
                "-kernel".into(),
                kernel.image.display().to_string(),
                "-initrd".into(),
                kernel.initrd.display().to_string(),
                "-append".into(),
                kernel.append.clone(),
            ]);
        }
        args.extend([
            "-bios".into(),
            self.bios.display().to_string(),
            "-display".into(),
            "none".into(),
            "-monitor".into(),
            "none".into(),
            "-serial".into(),
            format!("file:{}", self.uart_log(World::Normal).display()),
        ]);
        let secure_log = self.uart_log(World::Secure).display().to_string();
        match self.secure_input() {
            Some(socket) => args.extend([
                "-chardev".into(),
                format!(
                    "socket,id=secure,path={},server=on,wait=off,logfile={secure_log}",
                    socket.display()
                ),
                "-serial".into(),
                "chardev:secure".into(),
            ]),
            None => args.extend(["-serial".into(), format!("file:{secure_log}")]),
        }
        match &self.exec_log {
            Some(path) => args.extend([
                "-d".into(),
                "unimp,guest_errors,exec,nochain,int,in_asm".into(),
                "-D".into(),
                path.display().to_string(),
            ]),
            None => args.extend([
                "-d".into(),
                "unimp,guest_errors".into(),
                "-D".into(),
                self.log_dir.join("qemu-d.log").display().to_string(),
            ]),
        }
        if let Some(value) = self.selector {
            args.push("-device".into());
            args.push(format!(
                "loader,addr={SELECTOR_ADDR:#x},data={value:#x},data-len=4"
            ));
        }
        if self.gdb {
            args.push("-s".into());
            args.push("-S".into());
        }
        args
    }
}

/// Longest a start-up check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// The Debian package a file QEMU failed to find comes from, for the ones known.
fn package_of_rom(file: &str) -> Option<&'static str> {
    (file.starts_with("efi-") || file.starts_with("pxe-")).then_some("ipxe-qemu")
}

/// The file of QEMU's `failed to find romfile "efi-virtio.rom"`.
fn missing_rom(stderr: &str) -> Option<&str> {
    let rest = stderr.split("romfile \"").nth(1)?;
    rest.split('"').next().filter(|f| !f.is_empty())
}

/// Why QEMU could not start, with the package to install where it is known.
fn start_failure(cmd: &str, status: &str, stderr: &str) -> String {
    let mut text = format!(
        "the installed QEMU cannot start the machine the runners boot: `{cmd}` {status}: {}",
        stderr.trim()
    );
    match missing_rom(stderr) {
        Some(file) => match package_of_rom(file) {
            Some(package) => text.push_str(&format!(
                "\n{file} comes from Debian's `{package}` package: apt-get install {package}"
            )),
            None => text.push_str(&format!(
                "\n{file} is missing: reinstall QEMU with the packages it recommends \
                 (apt-get install --install-recommends qemu-system-arm)"
            )),
        },
        None => text.push_str("\nQEMU's own message above says what it lacks"),
    }
    text
}

/// Creates the hardware of a boot with `smp` CPUs (`bench`: instruction-counted; `sve`) halted,
/// with no firmware, and quits through the monitor at once: proves the installed QEMU has every
/// ROM and device such a boot needs.
pub fn check_starts(smp: u32, bench: bool, sve: bool) -> Result<()> {
    let mut cmd = Command::new("qemu-system-aarch64");
    cmd.args(hardware_args(smp, bench, sve))
        .args([
            "-display", "none", "-serial", "none", "-monitor", "stdio", "-S",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let line = crate::console::describe(&cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::new(format!("cannot start qemu-system-aarch64: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // It may have exited already; its status says why.
        let _ = std::io::Write::write_all(&mut stdin, b"quit\n");
    }
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < CHECK_TIMEOUT => std::thread::sleep(POLL),
            Ok(None) => {
                stop(&mut child);
                return Err(Error::new(format!(
                    "`{line}` did not quit within {} s",
                    CHECK_TIMEOUT.as_secs()
                )));
            }
            Err(e) => return Err(Error::new(format!("cannot watch QEMU: {e}"))),
        }
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(start_failure(
            &line,
            &format!("exited with {status}"),
            &stderr,
        )))
    }
}

/// How a boot ended.
#[derive(Debug)]
pub enum End {
    /// QEMU exited by itself (SYSTEM_OFF, or an error).
    Exited(ExitStatus),
    /// It ran past the timeout and was killed.
    Timeout,
    /// The client gave its verdict but QEMU did not power off in time; it was killed.
    NoPowerOff,
    /// A fault report no scenario provokes came, and QEMU was stopped shortly after.
    Fault,
}

/// What one boot produced.
#[derive(Debug)]
pub struct Boot {
    /// How it ended.
    pub end: End,
    /// UART0's lines, without TF-A's power-off sequence (the log file has it).
    pub normal: Vec<String>,
    /// UART1's lines, likewise.
    pub secure: Vec<String>,
    /// Whether the lines ended in TF-A's power-off sequence.
    pub powered_off: bool,
    /// What QEMU itself printed (errors such as a missing flash image).
    pub qemu_output: String,
    /// How long it ran.
    pub took: Duration,
    /// Where its logs are.
    pub log_dir: PathBuf,
}

/// Boots `machine`, calling `on_line` with every UART line as it appears, until QEMU exits,
/// `timeout` passes (None: no limit) or the client's verdict is not followed by a power-off.
pub fn boot(
    machine: &Machine,
    timeout: Option<Duration>,
    on_line: &mut dyn FnMut(World, &str),
) -> Result<Boot> {
    let dir = &machine.log_dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
    for world in [World::Normal, World::Secure] {
        // A stale log must not be read as this boot's.
        let _ = std::fs::remove_file(machine.uart_log(world));
    }
    let out_path = dir.join("qemu.out");
    let out = File::create(&out_path)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", out_path.display())))?;
    let err = out
        .try_clone()
        .map_err(|e| Error::new(format!("cannot share {}: {e}", out_path.display())))?;
    let mut child = Command::new("qemu-system-aarch64")
        .args(machine.args())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| Error::new(format!("cannot start qemu-system-aarch64: {e}")))?;

    let start = Instant::now();
    let mut tails = [
        Tail::new(World::Normal, machine.uart_log(World::Normal)),
        Tail::new(World::Secure, machine.uart_log(World::Secure)),
    ];
    let mut normal = Vec::new();
    let mut secure = Vec::new();
    let mut watch = Watch::default();
    let mut collect = |world: World, line: &str, watch: &mut Watch| {
        on_line(world, line);
        watch.observe(world, line);
        match world {
            World::Normal => normal.push(line.to_owned()),
            World::Secure => secure.push(line.to_owned()),
        }
    };
    let end = loop {
        for tail in &mut tails {
            tail.poll(&mut |w, l| collect(w, l, &mut watch));
        }
        match child.try_wait() {
            Ok(Some(status)) => break End::Exited(status),
            Ok(None) => {}
            Err(e) => {
                let _ = child.kill();
                return Err(Error::new(format!("cannot watch QEMU: {e}")));
            }
        }
        if watch
            .verdict_at
            .is_some_and(|at| at.elapsed() > POWER_OFF_GRACE)
        {
            stop(&mut child);
            break End::NoPowerOff;
        }
        if watch.fault_at.is_some_and(|at| at.elapsed() > FAULT_GRACE) {
            stop(&mut child);
            break End::Fault;
        }
        if timeout.is_some_and(|limit| start.elapsed() > limit) {
            stop(&mut child);
            break End::Timeout;
        }
        std::thread::sleep(POLL);
    };
    for tail in &mut tails {
        tail.poll(&mut |w, l| collect(w, l, &mut watch));
        tail.finish(&mut |w, l| collect(w, l, &mut watch));
    }
    let (normal, secure, powered_off) = uart_log::without_power_off(&normal, &secure);
    Ok(Boot {
        end,
        normal,
        secure,
        powered_off,
        qemu_output: std::fs::read_to_string(&out_path).unwrap_or_default(),
        took: start.elapsed(),
        log_dir: dir.clone(),
    })
}

impl Boot {
    /// The fault reports on either UART.
    pub fn alarms(&self) -> Vec<Alarm> {
        uart_log::alarms(&self.normal, &self.secure)
    }

    /// Why the boot did not end as every boot must (QEMU exiting 0 after TF-A's power-off),
    /// if it did not.
    pub fn bad_end(&self) -> Option<String> {
        match &self.end {
            End::Exited(status) if !status.success() => Some(format!(
                "QEMU exited with {status}: {}",
                self.qemu_output.trim()
            )),
            End::Exited(_) if !self.powered_off => {
                Some("QEMU exited without TF-A's power-off sequence".into())
            }
            End::Exited(_) => None,
            End::Timeout => Some("timeout".into()),
            End::NoPowerOff => Some("no power-off after the verdict".into()),
            End::Fault => Some("stopped after a fault report".into()),
        }
    }
}

/// What a running boot has shown so far that decides when to stop it.
#[derive(Debug, Default)]
struct Watch {
    /// When the client's verdict came.
    verdict_at: Option<Instant>,
    /// When the first fault report no scenario provokes came.
    fault_at: Option<Instant>,
    /// Whether TF-A's power-off began (its ERROR line; the panic dump follows).
    powering_off: bool,
}

impl Watch {
    fn observe(&mut self, world: World, line: &str) {
        if world == World::Normal {
            if self.verdict_at.is_none() && matches!(parse_line(line), Some(Line::Verdict(_))) {
                self.verdict_at = Some(Instant::now());
            }
            if line.trim_end() == uart_log::POWER_OFF_LINE {
                self.powering_off = true;
                return;
            }
        }
        let fault = matches!(
            uart_log::classify(line),
            Some(report) if !matches!(report, uart_log::Report::Provoked(_))
        );
        // The power-off's own panic dump may be read before its ERROR line: QEMU exits
        // within the grace anyway, and the judge looks at the whole sequence.
        if fault && !self.powering_off && self.fault_at.is_none() {
            self.fault_at = Some(Instant::now());
        }
    }
}

fn stop(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Follows a file QEMU appends to, like `tail -f`, splitting it into lines.
struct Tail {
    world: World,
    path: PathBuf,
    file: Option<File>,
    partial: Vec<u8>,
}

impl Tail {
    fn new(world: World, path: PathBuf) -> Self {
        Self {
            world,
            path,
            file: None,
            partial: Vec::new(),
        }
    }

    fn poll(&mut self, each: &mut dyn FnMut(World, &str)) {
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
        }
        let Some(file) = &mut self.file else { return };
        let mut chunk = Vec::new();
        if file.read_to_end(&mut chunk).is_err() {
            return;
        }
        self.partial.extend_from_slice(&chunk);
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            each(self.world, &clean(&line));
        }
    }

    fn finish(&mut self, each: &mut dyn FnMut(World, &str)) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            each(self.world, &clean(&line));
        }
    }
}

/// A UART line as text: no line ending, no NULs.
fn clean(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches(['\n', '\r'])
        .replace(['\0', '\r'], "")
}

/// The client's final word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Everything it ran passed.
    Pass,
    /// Something failed.
    Fail,
    /// It ran nothing (no selector).
    None,
}

/// One measurement of the bench mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Median guest ticks (instructions with `-icount shift=0`).
    pub median: u64,
    /// Minimum.
    pub min: u64,
    /// How many calls were timed.
    pub iterations: u64,
}

/// A machine-readable line of the client (or of the proxy's bench mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// `scenario qemu <name>@cpu<k> PASS` / `scenario qemu <name>@cpu<k> FAIL <reason>`.
    Scenario {
        /// The run (`<name>@cpu<k>`).
        name: String,
        /// Ok, or the failure reason.
        result: std::result::Result<(), String>,
    },
    /// `verdict: PASS|FAIL|NONE`.
    Verdict(Verdict),
    /// `bench <name> median <n> min <n> iterations <n>` / `bench <name> FAIL <reason>`.
    Bench {
        /// What was measured.
        name: String,
        /// The numbers, or why there are none.
        result: std::result::Result<Sample, String>,
    },
}

/// Reads one UART line; None for anything that is not a result line.
pub fn parse_line(line: &str) -> Option<Line> {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("scenario qemu ") {
        let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        let result = match tail.split_once(' ').unwrap_or((tail, "")) {
            ("PASS", "") => Ok(()),
            ("FAIL", reason) => Err(if reason.is_empty() {
                "(no reason given)".to_owned()
            } else {
                reason.to_owned()
            }),
            _ => return None,
        };
        return (!name.is_empty()).then(|| Line::Scenario {
            name: name.to_owned(),
            result,
        });
    }
    if let Some(rest) = line.strip_prefix("verdict:") {
        return match rest.trim() {
            "PASS" => Some(Line::Verdict(Verdict::Pass)),
            "FAIL" => Some(Line::Verdict(Verdict::Fail)),
            "NONE" => Some(Line::Verdict(Verdict::None)),
            _ => None,
        };
    }
    if let Some(rest) = line.strip_prefix("bench ") {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let name = (*words.first()?).to_owned();
        if words.get(1) == Some(&"FAIL") {
            let reason = rest
                .split_once("FAIL")
                .map(|(_, r)| r.trim())
                .filter(|r| !r.is_empty())
                .unwrap_or("(no reason given)");
            return Some(Line::Bench {
                name,
                result: Err(reason.to_owned()),
            });
        }
        let number = |key: &str| -> Option<u64> {
            let at = words.iter().position(|w| *w == key)?;
            words.get(at + 1)?.parse().ok()
        };
        if words.len() != 7 {
            return None;
        }
        let sample = Sample {
            median: number("median")?,
            min: number("min")?,
            iterations: number("iterations")?,
        };
        return Some(Line::Bench {
            name,
            result: Ok(sample),
        });
    }
    None
}

/// The shell spelling of a QEMU run of `machine` (to rerun one by hand).
pub fn shell_line(machine: &Machine) -> String {
    let mut text = String::from("qemu-system-aarch64");
    for arg in machine.args() {
        text.push(' ');
        if arg.contains([' ', '"', '\'', '$']) {
            text.push_str(&format!("'{arg}'"));
        } else {
            text.push_str(&arg);
        }
    }
    text
}

/// How to attach gdb to a machine started with `--gdb`.
pub fn gdb_hint(elves: &[(String, PathBuf)]) -> String {
    let elf = |name: &str| {
        elves
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| name.to_owned(), |(_, p)| p.display().to_string())
    };
    format!(
        "QEMU waits for gdb on localhost:{GDB_PORT}. Attach with:\n  \
         gdb-multiarch {} -ex 'target remote localhost:{GDB_PORT}' \
         -ex 'add-symbol-file {}' -ex 'add-symbol-file {}'\n  \
         (the SPMC's symbols first; the proxy's and the client's added; BL1 starts at 0x0)",
        elf("spmc"),
        elf("proxy"),
        elf("ns-client")
    )
}

/// The last `n` lines of `lines`.
pub fn last_lines<T>(lines: &[T], n: usize) -> &[T] {
    &lines[lines.len().saturating_sub(n)..]
}

/// Path of a boot's log directory under `build/qemu/`.
pub fn log_dir(root: &Path, label: &str) -> PathBuf {
    root.join("build").join("qemu").join(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine {
            bios: "/b/qemu_fw.bios".into(),
            smp: 4,
            selector: Some(3),
            bench: false,
            sve: true,
            gdb: false,
            log_dir: "/b/qemu/x".into(),
            linux: None,
            exec_log: None,
        }
    }

    #[test]
    fn command_line_of_a_scenario_boot() {
        let line = machine().args().join(" ");
        assert_eq!(
            line,
            "-machine virt,secure=on,virtualization=on,gic-version=3,acpi=off \
             -cpu max,pauth-impdef=on,sve=on,sme=off -smp 4 -m 1024 -nic none -bios /b/qemu_fw.bios \
             -display none -monitor none -serial file:/b/qemu/x/uart0-ns.log \
             -serial file:/b/qemu/x/uart1-secure.log -d unimp,guest_errors -D /b/qemu/x/qemu-d.log \
             -device loader,addr=0x47000000,data=0x3,data-len=4"
        );
    }

    #[test]
    fn command_line_of_bench_and_gdb_boots() {
        let bench = Machine {
            smp: 1,
            selector: Some(BENCH_SELECTOR),
            bench: true,
            sve: false,
            ..machine()
        };
        let line = bench.args().join(" ");
        assert!(line.contains("sve=off"));
        assert!(line.contains(
            "-machine virt,secure=on,virtualization=on,gic-version=3,acpi=off,dtb-randomness=off,mte=on"
        ));
        assert!(line.contains("-smp 1 "));
        assert!(line.contains("data=0xbeef0001,data-len=4"));
        assert!(line.contains("-m 1024 -nic none -icount shift=0,sleep=off -bios "));
        assert!(!line.contains("-S"));
        let profile = Machine {
            exec_log: Some("/b/qemu/p/exec.fifo".into()),
            ..bench
        };
        let line = profile.args().join(" ");
        assert!(
            line.contains(" -d unimp,guest_errors,exec,nochain,int,in_asm -D /b/qemu/p/exec.fifo ")
        );
        assert!(!line.contains("qemu-d.log"));
        let gdb = Machine {
            gdb: true,
            selector: None,
            ..machine()
        };
        let line = gdb.args().join(" ");
        assert!(line.ends_with("-s -S"));
        assert!(!line.contains("loader"));
    }

    #[test]
    fn a_boot_is_stopped_soon_after_a_fault_no_scenario_provokes() {
        let mut watch = Watch::default();
        watch.observe(
            World::Normal,
            "[proxy] core 0: refused FF-A call 0x84000060: NotSupported",
        );
        watch.observe(
            World::Secure,
            "spmc: partition 0x8001/0 on core 0: data abort at 0xe304fd4 (address 0xe400000, \
             IPA 0xe400000, ESR 0x93c08006): injected at 0xe304a00",
        );
        watch.observe(World::Normal, "verdict: PASS");
        assert!(watch.verdict_at.is_some());
        assert_eq!(watch.fault_at, None, "ordinary and provoked lines");
        // TF-A's power-off is no fault.
        watch.observe(World::Normal, uart_log::POWER_OFF_LINE);
        watch.observe(World::Secure, "PANIC in EL3.");
        assert_eq!(watch.fault_at, None);
        let mut watch = Watch::default();
        watch.observe(
            World::Normal,
            "[proxy] FATAL: core 0: host exception (ESR 0x62300922)",
        );
        assert!(watch.fault_at.is_some());
        let mut watch = Watch::default();
        watch.observe(World::Secure, "PANIC in EL3.");
        assert!(
            watch.fault_at.is_some(),
            "a panic with no power-off before it"
        );
    }

    #[test]
    fn a_qemu_that_cannot_start_names_the_package() {
        let stderr = "qemu-system-aarch64: failed to find romfile \"efi-virtio.rom\"\n";
        assert_eq!(missing_rom(stderr), Some("efi-virtio.rom"));
        let text = start_failure("qemu-system-aarch64 -machine virt", "exited with 1", stderr);
        assert!(text.contains("`qemu-system-aarch64 -machine virt` exited with 1"));
        assert!(text.ends_with(
            "efi-virtio.rom comes from Debian's `ipxe-qemu` package: apt-get install ipxe-qemu"
        ));
        let other = start_failure(
            "q",
            "exited with 1",
            "failed to find romfile \"vgabios.bin\"",
        );
        assert!(other.contains("--install-recommends qemu-system-arm"));
        assert_eq!(
            missing_rom("qemu-system-aarch64: -smp 9: too many CPUs"),
            None
        );
        // The boots' hardware is what the check starts.
        assert!(
            hardware_args(4, false, true)
                .iter()
                .all(|a| machine().args().contains(a))
        );
    }

    #[test]
    fn scenario_and_verdict_lines() {
        assert_eq!(
            parse_line("scenario qemu direct_req32_echo@cpu0 PASS"),
            Some(Line::Scenario {
                name: "direct_req32_echo@cpu0".into(),
                result: Ok(())
            })
        );
        assert_eq!(
            parse_line("scenario qemu rxtx_unmap@cpu3 FAIL expected 0x84000061 / got 0x84000060\r"),
            Some(Line::Scenario {
                name: "rxtx_unmap@cpu3".into(),
                result: Err("expected 0x84000061 / got 0x84000060".into())
            })
        );
        assert_eq!(
            parse_line("scenario qemu x FAIL"),
            Some(Line::Scenario {
                name: "x".into(),
                result: Err("(no reason given)".into())
            })
        );
        assert_eq!(parse_line("scenario qemu x PASSED"), None);
        assert_eq!(parse_line("scenario qemu x PASS extra"), None);
        assert_eq!(parse_line("scenario proxied x PASS"), None);
        assert_eq!(
            parse_line("verdict: PASS"),
            Some(Line::Verdict(Verdict::Pass))
        );
        assert_eq!(
            parse_line("  verdict: FAIL "),
            Some(Line::Verdict(Verdict::Fail))
        );
        assert_eq!(
            parse_line("verdict: NONE"),
            Some(Line::Verdict(Verdict::None))
        );
        assert_eq!(parse_line("verdict: maybe"), None);
        assert_eq!(parse_line("NOTICE:  BL31: v2.12.1"), None);
    }

    #[test]
    fn bench_lines() {
        assert_eq!(
            parse_line("bench id_get_el3 median 296 min 292 iterations 1000"),
            Some(Line::Bench {
                name: "id_get_el3".into(),
                result: Ok(Sample {
                    median: 296,
                    min: 292,
                    iterations: 1000
                })
            })
        );
        assert_eq!(
            parse_line("bench direct_req_echo_el2 FAIL FFA_ERROR NOT_SUPPORTED"),
            Some(Line::Bench {
                name: "direct_req_echo_el2".into(),
                result: Err("FFA_ERROR NOT_SUPPORTED".into())
            })
        );
        assert_eq!(parse_line("bench x median 1 min 1"), None);
        assert_eq!(parse_line("bench x median one min 1 iterations 3"), None);
        assert_eq!(parse_line("bench x median 1 min 1 iterations 3 more"), None);
    }

    #[test]
    fn tail_follows_a_growing_file() {
        let dir = std::env::temp_dir().join(format!("xtask-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("uart");
        let mut tail = Tail::new(World::Secure, path.clone());
        let mut seen = Vec::new();
        tail.poll(&mut |w, l| seen.push((w, l.to_owned())));
        assert!(seen.is_empty(), "no file yet");
        std::fs::write(&path, b"one\r\ntw").expect("write");
        tail.poll(&mut |w, l| seen.push((w, l.to_owned())));
        assert_eq!(seen, [(World::Secure, "one".to_owned())]);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        std::io::Write::write_all(&mut file, b"o\nthree\0").expect("append");
        tail.poll(&mut |w, l| seen.push((w, l.to_owned())));
        tail.finish(&mut |w, l| seen.push((w, l.to_owned())));
        let _ = std::fs::remove_dir_all(&dir);
        let lines: Vec<&str> = seen.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(lines, ["one", "two", "three"]);
    }

    #[test]
    fn last_lines_of_short_and_long_logs() {
        let lines: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        assert_eq!(last_lines(&lines, 2), ["3", "4"]);
        assert_eq!(last_lines(&lines, 9).len(), 5);
    }
}
