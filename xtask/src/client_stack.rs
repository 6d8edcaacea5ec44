//! The client stack on QEMU: TF-A, our SPMC with OP-TEE OS and the test partitions, Debian's
//! U-Boot as BL33 and Debian's Linux with pKVM (or nVHE KVM, whose FF-A driver then talks to
//! the SPMC directly) with an initramfs holding the FF-A and OP-TEE drivers, tee-supplicant
//! and xtest. `cargo xtask run` boots it to a shell; `cargo xtask test` boots it for a smoke
//! run, and `--suite xtest` for xtest's whole regression suite.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::console::{self, Error, Result};
use crate::initramfs::Mode;
use crate::linux::{self, Prepared};
use crate::qemu::{self, Kernel, Machine, World};
use crate::{optee, stack, tfa, xtest_log};

/// The machine's CPUs (OP-TEE has 8 contexts, the SPMC manifest lists 4 cores).
const SMP: u32 = 4;
/// Linux's RAM: pKVM puts its FF-A mailbox at the top, which the SPMC manifest's ns-memory
/// (up to 3 GiB) covers.
pub const MEMORY_MIB: u32 = 2048;

/// How KVM runs at EL2.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvmMode {
    /// pKVM: its FF-A proxy sits between Linux's driver and the SPMC.
    Protected,
    /// nVHE KVM: Linux's FF-A driver talks to the SPMD and the SPMC directly.
    Nvhe,
}

impl KvmMode {
    /// `kvm-arm.mode=` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Protected => "protected",
            Self::Nvhe => "nvhe",
        }
    }
}

/// Everything a boot of the client stack needs: Debian's normal world (U-Boot first, TF-A's
/// BL33), our images, OP-TEE OS, TF-A, then the initramfs with OP-TEE's pkcs11 TA (Debian's
/// xtest package lacks it).
pub fn prepare(root: &Path) -> Result<(stack::Built, Prepared)> {
    console::header("normal world: Debian's Linux, U-Boot, busybox, tee-supplicant, xtest");
    let start = Instant::now();
    let world = linux::fetch(root)?;
    let fetched = start.elapsed();
    let mut built = stack::prepare_with(
        root,
        tfa::Profile::Debug,
        stack::Stack::Linux,
        false,
        Some(world.u_boot.clone()),
    )?;
    let start = Instant::now();
    let tas = optee::extra_tas(root)?;
    let prepared = linux::prepare(root, &tas)?;
    built
        .timings
        .push(("normal world", fetched + start.elapsed()));
    let k = &prepared.world.kernel;
    console::note(&format!(
        "Linux {} ({} from {}), initramfs {}",
        k.release,
        k.version,
        k.suite,
        prepared.initrd.display()
    ));
    Ok((built, prepared))
}

/// The kernel command line of a boot in `mode` with KVM in `kvm` (`xtest`: xtest's
/// arguments, none for the mode's default).
pub fn append(mode: Mode, kvm: KvmMode, xtest: &[&str]) -> String {
    linux::command_line(mode, xtest, Some(kvm.name()))
}

fn machine(root: &Path, bios: &Path, nw: &Prepared, mode: Mode, kvm: KvmMode) -> Machine {
    Machine {
        bios: bios.to_path_buf(),
        smp: SMP,
        selector: None,
        bench: false,
        sve: true,
        gdb: false,
        log_dir: qemu::log_dir(root, &format!("linux-{}-{}", mode.name(), kvm.name())),
        linux: Some(Kernel {
            image: nw.kernel.clone(),
            initrd: nw.initrd.clone(),
            append: append(mode, kvm, &[]),
            memory_mib: MEMORY_MIB,
        }),
        exec_log: None,
    }
}

/// A captured boot: its lines and timings.
pub struct Captured {
    /// What QEMU and the UARTs gave.
    pub boot: qemu::Boot,
    /// From QEMU's start to the init's first line.
    pub to_init: Option<Duration>,
    /// From QEMU's start to tee-supplicant's start, where the shell (or xtest) begins.
    pub to_ready: Option<Duration>,
    /// Whether a byte was typed on the secure console (`None`: the boot never got there).
    pub typed: Option<std::result::Result<(), String>>,
}

/// Boots the stack in `mode` (not Shell), streaming UART0 lines that match `show`, until it
/// powers off or `timeout` passes.
pub fn boot_captured(
    root: &Path,
    bios: &Path,
    nw: &Prepared,
    (mode, kvm): (Mode, KvmMode),
    timeout: Duration,
    show: &mut dyn FnMut(&str) -> bool,
) -> Result<Captured> {
    let machine = machine(root, bios, nw, mode, kvm);
    let socket = machine.secure_input();
    let start = Instant::now();
    let mut to_init = None;
    let mut to_ready = None;
    let mut typed = None;
    let boot = qemu::boot(&machine, Some(timeout), &mut |world, line| {
        if world == World::Normal {
            if to_init.is_none() && line.contains(INIT_MARK) {
                to_init = Some(start.elapsed());
            }
            // OP-TEE is up and the normal world idles in tee-supplicant's start: type on
            // the secure console, whose interrupt is OP-TEE's.
            if to_ready.is_none() && line.contains(TYPE_MARK) {
                to_ready = Some(start.elapsed());
            }
            if typed.is_none()
                && line.contains(TYPE_MARK)
                && let Some(socket) = &socket
            {
                typed = Some(type_on(socket, TYPED));
            }
            if show(line) {
                println!("    {}", console::shorten(line, 160));
            }
        }
    })?;
    Ok(Captured {
        boot,
        to_init,
        to_ready,
        typed,
    })
}

/// When to type on the secure console.
const TYPE_MARK: &str = "xtask-init: tee-supplicant";
/// What is typed.
pub const TYPED: u8 = b'x';

/// Writes `byte` into QEMU's socket for UART1's input.
fn type_on(socket: &Path, byte: u8) -> std::result::Result<(), String> {
    use std::io::Write as _;
    let mut stream = std::os::unix::net::UnixStream::connect(socket)
        .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
    stream
        .write_all(&[byte])
        .map_err(|e| format!("cannot write to {}: {e}", socket.display()))
}

/// The init's first line (initramfs/init).
pub const INIT_MARK: &str = "xtask-init: started";

/// Boots the stack to a shell on this terminal (UART0 on stdio, QEMU's monitor on Ctrl-A C;
/// UART1, the secure world's, to a log file).
pub fn boot_interactive(root: &Path, bios: &Path, nw: &Prepared, kvm: KvmMode) -> Result<()> {
    let m = machine(root, bios, nw, Mode::Shell, kvm);
    std::fs::create_dir_all(&m.log_dir)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", m.log_dir.display())))?;
    let secure = m.uart_log(World::Secure);
    let mut args = Vec::new();
    let mut serials = 0;
    for arg in m.args() {
        // Replace the runners' file consoles: UART0 on this terminal, UART1 to its log.
        if serials > 0 {
            serials -= 1;
            continue;
        }
        if arg == "-serial" || arg == "-chardev" {
            serials = 1;
            continue;
        }
        args.push(arg);
    }
    args.extend([
        "-serial".into(),
        "mon:stdio".into(),
        "-serial".into(),
        format!("file:{}", secure.display()),
    ]);
    console::note(&format!(
        "booting to a shell: Ctrl-A X quits QEMU, `poweroff -f` powers off; the secure world's \
         UART goes to {}",
        secure.display()
    ));
    let status = Command::new("qemu-system-aarch64")
        .args(&args)
        .status()
        .map_err(|e| Error::new(format!("cannot start qemu-system-aarch64: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(format!("QEMU ended with {status}")))
    }
}

/// What a smoke or xtest boot showed, checked.
#[derive(Debug)]
pub struct Findings {
    /// The FF-A firmware version the driver found.
    pub ffa: String,
    /// The OP-TEE revision the driver probed.
    pub optee: String,
    /// FF-A devices listed by the init: (partition ID, UUID).
    pub devices: Vec<(u16, String)>,
    /// xtest's summary.
    pub xtest: xtest_log::Summary,
    /// OP-TEE's console driver's line for the byte typed on the secure UART.
    pub console: String,
}

/// The partitions the client stack hosts, as Linux's FF-A bus lists them: (ID, UUID).
pub fn expected_devices() -> Vec<(u16, String)> {
    let mut all: Vec<(u16, String)> = test_partitions::DEFINITIONS
        .iter()
        .flat_map(|d| {
            d.uuids
                .iter()
                .map(move |u| (d.endpoint_id, u.hyphenated().to_string()))
        })
        .collect();
    all.push((
        scenarios::optee::OPTEE_ID,
        scenarios::optee::OPTEE_UUID.hyphenated().to_string(),
    ));
    all.sort();
    all
}

/// The device lines of the init (`xtask-init: ffa-device <id> <uuid>`).
pub fn devices(lines: &[String]) -> Vec<(u16, String)> {
    let mut found: Vec<(u16, String)> = lines
        .iter()
        .filter_map(|l| {
            let rest = l.split_once("xtask-init: ffa-device ")?.1;
            let mut words = rest.split_whitespace();
            let id = words.next()?;
            let id = u16::from_str_radix(id.trim_start_matches("0x"), 16).ok()?;
            let uuid = words.next()?.to_owned();
            // Linux's own host endpoint (ID 0, nil UUID) is not a partition.
            (id != 0).then_some((id, uuid))
        })
        .collect();
    found.sort();
    found
}

/// Checks a finished smoke or xtest boot: powered off without fault reports, the FF-A driver
/// found the firmware, every partition listed with its UUIDs and IDs, OP-TEE probed, and xtest
/// summarised.
pub fn check(captured: &Captured) -> Result<Findings> {
    let boot = &captured.boot;
    let lines = &boot.normal;
    if let Some(alarm) = boot.alarms().first() {
        return Err(Error::new(format!(
            "a fault report: `{}` (logs in {})",
            alarm.line,
            boot.log_dir.display()
        )));
    }
    let ffa = xtest_log::ffa_firmware(lines).ok_or_else(|| {
        Error::new(format!(
            "Linux's FF-A driver found no firmware (logs in {})",
            boot.log_dir.display()
        ))
    })?;
    let devices = devices(lines);
    let expected = expected_devices();
    if devices != expected {
        return Err(Error::new(format!(
            "the FF-A bus lists {devices:x?}, expected {expected:x?}"
        )));
    }
    let optee = xtest_log::optee_probed(lines)
        .ok_or_else(|| Error::new("the OP-TEE driver did not probe over FF-A"))?;
    let xtest = xtest_log::summary(lines).ok_or_else(|| {
        Error::new(format!(
            "xtest printed no summary ({:?}; logs in {})",
            boot.end,
            boot.log_dir.display()
        ))
    })?;
    match &captured.typed {
        Some(Ok(())) => {}
        Some(Err(e)) => return Err(Error::new(format!("typing on the secure UART: {e}"))),
        None => {
            return Err(Error::new(
                "the boot never got to typing on the secure UART",
            ));
        }
    }
    let wanted = format!("got {:#x}", TYPED);
    let console = boot
        .secure
        .iter()
        .find(|l| l.contains(&wanted))
        .cloned()
        .ok_or_else(|| {
            Error::new(format!(
                "OP-TEE's console driver never read the byte typed on the secure UART (no \
                 `{wanted}` line; logs in {})",
                boot.log_dir.display()
            ))
        })?;
    if !boot.powered_off {
        return Err(Error::new(format!(
            "the boot did not end in TF-A's power-off ({:?})",
            boot.end
        )));
    }
    Ok(Findings {
        ffa,
        optee,
        devices,
        xtest,
        console: console.trim().to_owned(),
    })
}

/// xtest cases that may fail, each with its reason (none today: Debian's xtest leaves out what
/// this stack does not offer, such as SDP and the ffa_spmc suite).
pub const SKIPPED_CASES: &[(&str, &str)] = &[];

/// Linux smoke runs for `cargo xtask test`: the client stack booted with pKVM and with nVHE
/// KVM, each checked ([`check`]) with one xtest case.
pub fn smoke(root: &Path) -> Result<String> {
    let (built, prepared) = prepare(root)?;
    let flash = stack::Flash::of(root, &built)?;
    let mut said = Vec::new();
    for kvm in [KvmMode::Protected, KvmMode::Nvhe] {
        console::header(&format!(
            "Linux ({} KVM) smoke run: FF-A devices, OP-TEE probe, xtest 1001",
            kvm.name()
        ));
        let captured = boot_captured(
            root,
            flash.path(),
            &prepared,
            (Mode::Smoke, kvm),
            SMOKE_TIMEOUT,
            &mut is_progress_line,
        )?;
        let found = check(&captured).map_err(|e| Error::new(format!("{} KVM: {e}", kvm.name())))?;
        if found.xtest.cases == 0 || found.xtest.cases_failed > 0 {
            return Err(Error::new(format!(
                "{} KVM: xtest's smoke case did not pass ({:?}; logs in {})",
                kvm.name(),
                found.xtest,
                captured.boot.log_dir.display()
            )));
        }
        let line = describe(&found, &captured);
        console::note(&line);
        said.push(format!("{}: {line}", kvm.name()));
    }
    Ok(said.join("; "))
}

/// `cargo xtask test --suite xtest`: xtest's whole default run (regression and pkcs11) with
/// pKVM and with nVHE KVM; every failed case not in [`SKIPPED_CASES`] fails the suite.
pub fn xtest_suite(root: &Path) -> Result<String> {
    let (built, prepared) = prepare(root)?;
    let flash = stack::Flash::of(root, &built)?;
    let mut said = Vec::new();
    for kvm in [KvmMode::Protected, KvmMode::Nvhe] {
        console::header(&format!("xtest ({} KVM), each case's result", kvm.name()));
        let start = Instant::now();
        let captured = boot_captured(
            root,
            flash.path(),
            &prepared,
            (Mode::Xtest, kvm),
            XTEST_TIMEOUT,
            &mut is_result_line,
        )?;
        let found = check(&captured).map_err(|e| Error::new(format!("{} KVM: {e}", kvm.name())))?;
        let unexpected: Vec<&String> = found
            .xtest
            .failed
            .iter()
            .filter(|c| !SKIPPED_CASES.iter().any(|(s, _)| s == c))
            .collect();
        let line = format!(
            "{} KVM: {} ({:.0} s wall)",
            kvm.name(),
            describe(&found, &captured),
            start.elapsed().as_secs_f64()
        );
        console::note(&line);
        if !unexpected.is_empty() || found.xtest.cases_failed as usize > found.xtest.failed.len() {
            return Err(Error::new(format!(
                "{} KVM: xtest cases failed: {unexpected:?} (logs in {})",
                kvm.name(),
                captured.boot.log_dir.display()
            )));
        }
        said.push(line);
    }
    Ok(said.join("; "))
}

/// A smoke boot takes about 30 s on two host cores.
const SMOKE_TIMEOUT: Duration = Duration::from_secs(300);
/// xtest's regression and pkcs11 suites take about 8 minutes on two host cores.
const XTEST_TIMEOUT: Duration = Duration::from_secs(3600);

/// The lines a smoke run shows: the drivers' and the init's.
fn is_progress_line(line: &str) -> bool {
    line.contains("xtask-init: ")
        || line.contains("ARM FF-A:")
        || line.contains("optee:")
        || line.contains("Protected")
        || line.contains("test cases of which")
}

/// The lines an xtest run shows: each case's result and the summary.
fn is_result_line(line: &str) -> bool {
    let t = line.trim();
    (t.starts_with("regression_") || t.starts_with("pkcs11_"))
        && (t.ends_with(" OK") || t.ends_with(" FAILED"))
        && !t.contains('.')
        || t.contains("subtests of which")
        || t.contains("test cases of which")
        || t.contains("were skipped")
        || line.contains("xtask-init: ")
}

/// One line on what a checked boot showed.
pub fn describe(found: &Findings, captured: &Captured) -> String {
    let x = &found.xtest;
    format!(
        "FF-A {} found; {} FF-A devices; OP-TEE {} probed; typed on the secure UART: `{}`; xtest: {} cases passed, {} failed, \
         {} skipped ({} subtests, {} failed); init reached {}, ready for the shell {}; {:.1} s \
         in all",
        found.ffa,
        found.devices.len(),
        found.optee,
        found.console,
        x.passed(),
        x.cases_failed,
        x.skipped,
        x.subtests,
        x.subtests_failed,
        after(captured.to_init),
        after(captured.to_ready),
        captured.boot.took.as_secs_f64()
    )
}

fn after(t: Option<Duration>) -> String {
    t.map_or("never".to_owned(), |t| {
        format!("after {:.1} s", t.as_secs_f64())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        assert_eq!(
            append(Mode::Smoke, KvmMode::Protected, &[]),
            "kvm-arm.mode=protected console=ttyAMA0 panic=-1 rdinit=/init xtask.mode=smoke"
        );
        let line = append(Mode::Xtest, KvmMode::Nvhe, &["-t", "regression"]);
        assert!(line.starts_with("kvm-arm.mode=nvhe "));
        assert!(line.ends_with("xtask.mode=xtest xtask.xtest=-t,regression"));
    }

    #[test]
    fn every_partition_uuid_is_expected_once() {
        let expected = expected_devices();
        // echo, relay (two UUIDs), legacy, hostile, OP-TEE.
        assert_eq!(expected.len(), 6);
        assert!(expected.contains(&(0x8005, "486178e0-e7f8-11e3-bc5e-0002a5d5c51b".into())));
    }

    #[test]
    fn device_lines_are_read_without_linuxs_own_endpoint() {
        let lines: Vec<String> = [
            "xtask-init: ffa-device 0x8005 486178e0-e7f8-11e3-bc5e-0002a5d5c51b",
            "xtask-init: ffa-device 0x0000 00000000-0000-0000-0000-000000000000",
            "[ 3.1] unrelated",
            "xtask-init: ffa-device 0x8001 2f6d6c1a-9b3e-4c4f-8e2a-5d7b1c0a9e31",
        ]
        .map(str::to_owned)
        .into();
        assert_eq!(
            devices(&lines),
            [
                (0x8001, "2f6d6c1a-9b3e-4c4f-8e2a-5d7b1c0a9e31".to_owned()),
                (0x8005, "486178e0-e7f8-11e3-bc5e-0002a5d5c51b".to_owned())
            ]
        );
    }
}
