//! `cargo xtask bench`: guest instruction counts of FF-A calls on the real stack (docs:
//! performance.md §Method): TF-A built with the peers' flag set, QEMU with `-icount shift=0`
//! and one CPU, the selector set to [`qemu::BENCH_SELECTOR`].
//!
//! Protocol with the images: with that selector the proxy (BL33, NS-EL2) times its rows
//! itself before it enters the client, because a client behind the proxy never reaches EL3
//! directly (the proxy answers FFA_ID_GET locally); the client (NS-EL1) then times row (d)
//! through the proxy, prints `verdict: PASS` (or FAIL) and powers off. Each row is one line
//! `bench <name> median <n> min <n> iterations <n>` (or `bench <name> FAIL <reason>`) on UART0.
//!
//! Then the profile boots (the profile selector): the same rows with fewer calls, each timed
//! call marked in its SMC immediate, under QEMU's execution log, which [`profile`] reads through
//! a FIFO to split each row by exception level. The last run's numbers are kept in
//! `build/bench.json` ([`history`]) and shown beside the new ones; [`plot`] draws the table.
//!
//! Two more boots have their own selector words, and in both the proxy times every row before
//! the client, which only prints the verdict: the concurrency boot (`-smp 4`: direct requests
//! to relay from one core, then from four at once, `bench-cores` lines with the ticks over all
//! cores, `bench-span` lines with each core's run) and the OP-TEE boot (the stack with OP-TEE
//! OS: row (o)), which has its own profile boot too.

mod history;
mod plot;
mod profile;
mod symbols;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::BufReader;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::console::{self, Error, Result};
use crate::qemu::{self, Line, Machine, Sample, Verdict};
use crate::uart_log::{self, LiveFilter};
use crate::{stack, tfa};
use history::{Entry, Run};
use profile::{LEVELS, Level, Parser, Profile, RowSplit};
use symbols::Symbols;

/// Fewest timed calls per row.
pub const MIN_ITERATIONS: u64 = 1000;

/// One row of the table.
pub struct Row {
    /// The name in the `bench` line.
    pub name: &'static str,
    /// What is measured, after its letter.
    pub operation: &'static str,
    /// Who times it, at which exception level.
    pub timed_by: &'static str,
}

/// The rows, in order (their letters follow it); the first is the floor every ratio is taken
/// to.
pub const ROWS: &[Row] = &[
    Row {
        name: "id_get_el3",
        operation: "FFA_ID_GET, answered by the SPMD at EL3 (the floor)",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "features_spmc",
        operation: "FFA_FEATURES(FFA_MSG_SEND_DIRECT_REQ_32), answered by the SPMC",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "direct_req_echo_el2",
        operation: "FFA_MSG_SEND_DIRECT_REQ_32 to echo (S-EL1), round trip",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "direct_req_echo_el1",
        operation: "the same from the NS-EL1 client through the proxy",
        timed_by: "client, NS-EL1",
    },
    Row {
        name: "sve:direct_req_echo_el2",
        operation: "(c) on CPUs with SVE (`sve=on`), the normal world's SVE state live (no hint)",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "sve:direct_req_echo_el1",
        operation: "(d) on CPUs with SVE, no hint",
        timed_by: "client, NS-EL1",
    },
    Row {
        name: "mem_share_1",
        operation: "FFA_MEM_SHARE_32 of 1 page to echo (reclaimed after each, untimed)",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "mem_reclaim_1",
        operation: "FFA_MEM_RECLAIM of that share (shared before each, untimed)",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "mem_share_16",
        operation: "FFA_MEM_SHARE_32 of 16 scattered pages (one range each) to echo",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "version_spmc",
        operation: "FFA_VERSION(1.2), answered by the SPMC",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "partition_info_count",
        operation: "FFA_PARTITION_INFO_GET(nil UUID), count only",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "partition_info_full",
        operation: "FFA_PARTITION_INFO_GET(nil UUID), descriptors to the RX buffer (released after each, untimed)",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "rxtx_map",
        operation: "FFA_RXTX_MAP_64 of the proxy's pair (unmapped after each, untimed)",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "rxtx_unmap",
        operation: "FFA_RXTX_UNMAP of that pair (mapped before each, untimed)",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "direct_req_optee_el2",
        operation: "FFA_MSG_SEND_DIRECT_REQ_32 to OP-TEE OS (S-EL1), GET_API_VERSION, round trip (OP-TEE boot)",
        timed_by: "proxy, NS-EL2",
    },
];

/// The concurrency table's rows: name in the `bench-cores` line, cores.
pub const CORES_ROWS: &[(&str, u32)] = &[
    (scenarios::bench::RELAY_ONE_CORE, 1),
    (scenarios::bench::RELAY_ALL_CORES, CORES_SMP),
];

/// CPUs of the concurrency boot.
pub const CORES_SMP: u32 = scenarios::bench::CORES as u32;

/// The team's bound on the concurrency rows' ratio (4 cores to 1, per request).
pub const CORES_TARGET: f64 = 1.25;

impl Row {
    /// Its letter: (a) for the first row, and so on.
    pub fn letter(&self) -> char {
        let index = ROWS.iter().position(|r| r.name == self.name).unwrap_or(0);
        char::from(b'a' + index as u8)
    }

    /// `(x) operation`.
    pub fn title(&self) -> String {
        format!("({}) {}", self.letter(), self.operation)
    }
}

/// The row named `which`, by name or letter.
pub fn row(which: &str) -> Option<&'static Row> {
    ROWS.iter()
        .find(|r| r.name == which || which.len() == 1 && which.starts_with(r.letter()))
}

/// The cycle table's rows: name, pages, constituents.
pub const CYCLE_ROWS: &[(&str, u64, u64)] = &[
    ("cycle_1", 1, 1),
    ("cycle_16_contiguous", 16, 1),
    ("cycle_16_scattered", 16, 16),
    ("cycle_256_contiguous", 256, 1),
    ("cycle_256_scattered", 256, 256),
    ("cycle_4096_contiguous", 4096, 1),
    ("cycle_4096_scattered", 4096, 4096),
];

/// Fewest timed cycles per cycle row.
pub const MIN_CYCLES: u64 = 16;

/// A boot's bench lines: each row's name and its sample or why it failed.
type Samples = Vec<(String, std::result::Result<Sample, String>)>;

/// What the rows of the second boot (CPUs with SVE) are named in [`ROWS`].
const SVE_PREFIX: &str = "sve:";

/// CPUs of the bench boot: one, so nothing else runs between a call's counter reads.
pub const SMP: u32 = 1;

/// Options of `cargo xtask bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Use the images and flash image already built.
    #[arg(long)]
    pub no_build: bool,
    /// Seconds each boot may take.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Show every UART line, not only the bench lines.
    #[arg(long)]
    pub verbose: bool,
    /// Skip the profile boots (the split by exception level).
    #[arg(long, conflicts_with = "symbols")]
    pub no_profile: bool,
    /// Also print the flat profile by function of this row (its name or letter) at each
    /// exception level with symbols (EL3: BL31, S-EL2: the SPMC, S-EL1: echo, or OP-TEE OS
    /// for the OP-TEE row, NS: proxy and client), and save it to build/bench-symbols.md.
    #[arg(long, value_name = "ROW")]
    pub symbols: Option<String>,
}

/// The profile boots' results.
#[derive(Default)]
struct Profiles {
    /// Each row's split, by row name.
    splits: HashMap<String, RowSplit>,
    /// The profile boots' own bench lines (their medians are what the splits add up to).
    samples: Samples,
    /// Notes on the accounting (what was cut, rewound, unknown).
    notes: Vec<String>,
    /// The detailed row's instructions by level and address, and its calls.
    addresses: HashMap<(Level, u64), u64>,
}

/// A profile boot: the scenarios stack's, on CPUs without SVE or with it, or the OP-TEE
/// stack's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProfileBoot {
    Scenarios { sve: bool },
    Optee,
}

impl ProfileBoot {
    /// The boot that profiles the row called `name` in [`ROWS`].
    fn of(name: &str) -> ProfileBoot {
        if name.starts_with(SVE_PREFIX) {
            ProfileBoot::Scenarios { sve: true }
        } else if is_optee(name) {
            ProfileBoot::Optee
        } else {
            ProfileBoot::Scenarios { sve: false }
        }
    }

    /// Whether it times the marked row `name` (of `PROFILED`).
    fn times(self, name: &str) -> bool {
        is_optee(name) == (self == ProfileBoot::Optee)
    }

    /// Whether its CPUs have SVE (its rows are named with [`SVE_PREFIX`]).
    fn sve(self) -> bool {
        self == ProfileBoot::Scenarios { sve: true }
    }

    /// Its name in the accounting notes and its header.
    fn label(self) -> &'static str {
        match self {
            ProfileBoot::Scenarios { sve: false } => "sve=off",
            ProfileBoot::Scenarios { sve: true } => "sve=on",
            ProfileBoot::Optee => "OP-TEE",
        }
    }

    /// Its name in failures, after "profile boot".
    fn suffix(self) -> &'static str {
        match self {
            ProfileBoot::Scenarios { sve: false } => "",
            ProfileBoot::Scenarios { sve: true } => " (SVE)",
            ProfileBoot::Optee => " (OP-TEE)",
        }
    }
}

/// Whether row `name` is the OP-TEE boot's.
fn is_optee(name: &str) -> bool {
    name == scenarios::bench::DIRECT_REQ_OPTEE_EL2.name
}

/// `cargo xtask bench`: a boot on CPUs without SVE (as the peers were measured), then one on
/// CPUs with it, then the concurrency boot; the profile boots, the same two ways; then the
/// OP-TEE stack's boot and its profile boot.
pub fn command(root: &Path, args: &BenchArgs) -> Result<()> {
    let detail = match &args.symbols {
        Some(which) => Some(
            row(which)
                .ok_or_else(|| Error::new(format!("no row `{which}` (a name or a letter)")))?,
        ),
        None => None,
    };
    let built = stack::prepare(
        root,
        tfa::Profile::Bench,
        stack::Stack::Scenarios,
        args.no_build,
    )?;
    console::note(&format!(
        "TF-A {} built with {}",
        built.tfa_version,
        tfa::describe_flags(tfa::Profile::Bench)
    ));
    let flash = stack::Flash::of(root, &built)?;
    let mut samples = Vec::new();
    let mut failures = Vec::new();
    for sve in [false, true] {
        console::header(&format!(
            "bench boot: -smp 1 -icount shift=0,sleep=off (1 tick = 1 instruction), sve={}",
            if sve { "on" } else { "off" }
        ));
        let machine = bench_machine(root, &flash, sve, false);
        let (boot_samples, failure) = boot_once(&machine, args)?;
        samples.extend(prefixed(boot_samples, sve));
        failures.extend(failure);
    }

    console::header(&format!(
        "bench boot: -smp {CORES_SMP} -icount shift=0,sleep=off, relay from 1 core, then from {CORES_SMP} at once"
    ));
    let machine = Machine {
        smp: CORES_SMP,
        selector: Some(scenarios::bench::SELECTOR_CORES),
        log_dir: qemu::log_dir(root, "bench-cores"),
        ..bench_machine(root, &flash, false, false)
    };
    let (lines, failure) = boot_lines(&machine, args)?;
    samples.extend(collect(&lines));
    let throughputs = collect_cores(&lines);
    failures.extend(failure);

    let mut profiles = (!args.no_profile).then(Profiles::default);
    if let Some(profiles) = profiles.as_mut() {
        let spmc = Symbols::load(&Elves::of(&built, ProfileBoot::Scenarios { sve: false }).spmc)?;
        for sve in [false, true] {
            let machine = bench_machine(root, &flash, sve, true);
            let boot = ProfileBoot::Scenarios { sve };
            profile_boot(
                &machine,
                args,
                boot,
                detail,
                spmc.image(),
                profiles,
                &mut failures,
            )?;
        }
    }
    console::header("bench boot: -smp 1 -icount shift=0,sleep=off, with OP-TEE OS");
    // Both flash copies would have the same name (this process's ID): one at a time.
    drop(flash);
    // The images are built by now: this adds OP-TEE OS and its TF-A build.
    let built_optee = stack::prepare(root, tfa::Profile::Bench, stack::Stack::Optee, true)?;
    let flash_optee = stack::Flash::of(root, &built_optee)?;
    let (lines, failure) = boot_lines(&optee_machine(root, &flash_optee, false), args)?;
    samples.extend(collect(&lines));
    failures.extend(failure);
    if let Some(profiles) = profiles.as_mut() {
        let elves = Elves::of(&built_optee, ProfileBoot::Optee);
        let spmc = Symbols::load(&elves.spmc)?;
        let machine = optee_machine(root, &flash_optee, true);
        let boot = ProfileBoot::Optee;
        profile_boot(
            &machine,
            args,
            boot,
            detail,
            spmc.image(),
            profiles,
            &mut failures,
        )?;
    }
    drop(flash_optee);
    if let (Some(row), Some(profiles)) = (detail, &profiles) {
        let elves = match ProfileBoot::of(row.name) {
            ProfileBoot::Optee => Elves::of(&built_optee, ProfileBoot::Optee),
            boot => Elves::of(&built, boot),
        };
        let text = flat_profile(row, profiles, &elves);
        console::header(&format!("where ({}) goes, by function", row.letter()));
        print!("{text}");
        let out = root.join("build").join("bench-symbols.md");
        std::fs::write(&out, &text)
            .map_err(|e| Error::new(format!("cannot write {}: {e}", out.display())))?;
        console::note(&format!("flat profile saved to {}", out.display()));
    }

    let json = root.join("build").join("bench.json");
    let previous = Run::load(&json);
    let splits = profiles.as_ref().map(|p| &p.splits);
    let tables = table(&samples, splits, previous.as_ref()).and_then(|main| {
        let mut text = format!(
            "{main}\n{}\n{}",
            cycle_table(&samples, previous.as_ref())?,
            cores_table(&samples, &throughputs)?
        );
        if let Some(profiles) = &profiles {
            text.push('\n');
            match split_table(profiles, &samples) {
                Ok(split) => text.push_str(&split),
                // The bench boots' numbers stand without it; the run still fails.
                Err(e) => {
                    let _ = writeln!(text, "No split by exception level: {e}.");
                    failures.push(format!("no split by exception level: {e}"));
                }
            }
        }
        Ok(text)
    });
    match &tables {
        Ok(text) => {
            console::header("bench results (guest instructions)");
            print!("{text}");
            let out = root.join("build").join("bench.md");
            std::fs::write(&out, text)
                .map_err(|e| Error::new(format!("cannot write {}: {e}", out.display())))?;
            console::note(&format!("table saved to {}", out.display()));
            let run = this_run(root, &samples, splits);
            let svg = root.join("build").join("bench.svg");
            std::fs::write(
                &svg,
                plot::svg(&plot_title(&run), &bars(&run, previous.as_ref())),
            )
            .map_err(|e| Error::new(format!("cannot write {}: {e}", svg.display())))?;
            console::note(&format!("plot saved to {}", svg.display()));
            if failures.is_empty() {
                run.save(&json)?;
                console::note(&format!(
                    "numbers kept in {} for the next run to compare with",
                    json.display()
                ));
            }
        }
        Err(e) => console::note(&format!("no table: {e}")),
    }
    if !failures.is_empty() {
        return Err(Error::new(failures.join("; ")));
    }
    tables.map(|_| ())
}

/// The machine of a bench boot (`profile`: the profile boot, its execution log through a
/// FIFO in its log directory).
fn bench_machine(root: &Path, flash: &stack::Flash, sve: bool, profile: bool) -> Machine {
    let label = match (profile, sve) {
        (false, false) => "bench",
        (false, true) => "bench-sve",
        (true, false) => "bench-profile",
        (true, true) => "bench-profile-sve",
    };
    let log_dir = qemu::log_dir(root, label);
    Machine {
        bios: flash.path().to_path_buf(),
        smp: SMP,
        selector: Some(if profile {
            scenarios::bench::PROFILE_SELECTOR
        } else {
            qemu::BENCH_SELECTOR
        }),
        bench: true,
        sve,
        gdb: false,
        exec_log: profile.then(|| log_dir.join("exec.fifo")),
        log_dir,
        linux: None,
    }
}

/// The machine of the OP-TEE stack's boot (`profile`: its profile boot).
fn optee_machine(root: &Path, flash: &stack::Flash, profile: bool) -> Machine {
    let (label, selector) = if profile {
        (
            "bench-profile-optee",
            scenarios::bench::SELECTOR_OPTEE_PROFILE,
        )
    } else {
        ("bench-optee", scenarios::bench::SELECTOR_OPTEE)
    };
    let log_dir = qemu::log_dir(root, label);
    Machine {
        selector: Some(selector),
        exec_log: profile.then(|| log_dir.join("exec.fifo")),
        log_dir,
        ..bench_machine(root, flash, false, profile)
    }
}

/// Profile boot `boot` on `machine` (the SPMC's image at `secure_code`): its split and its
/// bench lines into `profiles`, the detailed row's addresses if it times that row.
fn profile_boot(
    machine: &Machine,
    args: &BenchArgs,
    boot: ProfileBoot,
    detail: Option<&Row>,
    secure_code: std::ops::Range<u64>,
    profiles: &mut Profiles,
    failures: &mut Vec<String>,
) -> Result<()> {
    console::header(&format!(
        "profile boot: QEMU's execution log, {} marked calls a row, {}",
        scenarios::bench::PROFILE_ITERATIONS,
        boot.label()
    ));
    let mark = detail
        .filter(|r| ProfileBoot::of(r.name) == boot)
        .and_then(|r| scenarios::bench::mark_of(r.name.trim_start_matches(SVE_PREFIX)));
    let parser = Parser::new(
        secure_code,
        scenarios::bench::PROFILED.len(),
        mark.map(usize::from),
    );
    let (samples, failure, profile) = profile_once(machine, args, parser)?;
    failures.extend(failure.map(|f| format!("profile boot{}: {f}", boot.suffix())));
    profiles.absorb(profile, &samples, boot, failures);
    profiles.samples.extend(prefixed(samples, boot.sve()));
    Ok(())
}

/// A boot's samples named as in [`ROWS`] (the SVE boot's with [`SVE_PREFIX`]).
fn prefixed(
    samples: Samples,
    sve: bool,
) -> impl Iterator<Item = (String, std::result::Result<Sample, String>)> {
    let prefix = if sve { SVE_PREFIX } else { "" };
    samples
        .into_iter()
        .map(move |(name, sample)| (format!("{prefix}{name}"), sample))
}

/// One bench boot: its bench lines, and why it failed if it did.
fn boot_once(machine: &Machine, args: &BenchArgs) -> Result<(Samples, Option<String>)> {
    let (lines, failure) = boot_lines(machine, args)?;
    Ok((collect(&lines), failure))
}

/// One bench boot: its UART0 lines, and why it failed if it did.
fn boot_lines(machine: &Machine, args: &BenchArgs) -> Result<(Vec<String>, Option<String>)> {
    let mut filter = LiveFilter::default();
    let boot = qemu::boot(
        machine,
        Some(Duration::from_secs(args.timeout)),
        &mut |world, line| {
            let wanted = matches!(
                qemu::parse_line(line),
                Some(Line::Bench { .. } | Line::Verdict(_))
            ) || parse_cores_line(line).is_some()
                || line.trim().starts_with("bench-span ");
            if let Some(shown) = filter.line(world, line)
                && (args.verbose || wanted)
            {
                println!("{} {shown}", world.prefix());
            }
        },
    )?;
    if args.verbose {
        for (world, line) in filter.finish(boot.normal.len(), boot.secure.len(), boot.powered_off) {
            println!("{} {line}", world.prefix());
        }
    }
    // A fault report says more than the hang or the exit that followed it.
    let ended = uart_log::unprovoked(&boot.alarms(), &[]).or_else(|| boot.bad_end());
    let verdict = boot
        .normal
        .iter()
        .rev()
        .find_map(|l| match qemu::parse_line(l) {
            Some(Line::Verdict(v)) => Some(v),
            _ => None,
        });
    let failure = match (ended, verdict) {
        (Some(why), _) => Some(format!(
            "the bench boot failed: {why} (logs in {})",
            boot.log_dir.display()
        )),
        (None, Some(Verdict::Pass)) => None,
        (None, other) => Some(format!(
            "the bench boot ended with verdict {other:?} (logs in {})",
            boot.log_dir.display()
        )),
    };
    Ok((boot.normal, failure))
}

/// One profile boot: QEMU writes its execution log into a FIFO that `parser` reads on another
/// thread as it comes (a whole log is hundreds of MB); its bench lines, why it failed if it
/// did, and the split.
fn profile_once(
    machine: &Machine,
    args: &BenchArgs,
    parser: Parser,
) -> Result<(Samples, Option<String>, Profile)> {
    let fifo = machine
        .exec_log
        .clone()
        .ok_or_else(|| Error::new("a profile boot needs an execution log"))?;
    std::fs::create_dir_all(&machine.log_dir)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", machine.log_dir.display())))?;
    let _ = std::fs::remove_file(&fifo);
    console::run_quiet(
        Command::new("mkfifo").arg(&fifo),
        "creating the execution log's FIFO",
    )?;
    let start = Instant::now();
    let reading = fifo.clone();
    let reader = std::thread::spawn(move || -> std::io::Result<Profile> {
        // Blocks until QEMU opens the FIFO for writing; ends when QEMU closes it.
        let file = File::open(&reading)?;
        parser.read(BufReader::with_capacity(1 << 20, file))
    });
    let booted = boot_once(machine, args);
    if !reader.is_finished() {
        // QEMU may have ended before opening the FIFO: open it once for writing, without
        // waiting, so the reader's open returns and it sees the end.
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo);
    }
    let read = reader
        .join()
        .map_err(|_| Error::new("the execution log's reader panicked"))?;
    let _ = std::fs::remove_file(&fifo);
    let (samples, failure) = booted?;
    let profile = read.map_err(|e| Error::new(format!("cannot read QEMU's execution log: {e}")))?;
    console::note(&format!(
        "execution log read as it came: {}, {} translation blocks run, in {:.1} s",
        console::size(profile.stats.bytes),
        profile.stats.blocks,
        start.elapsed().as_secs_f64()
    ));
    Ok((samples, failure, profile))
}

impl Profiles {
    /// Takes one profile boot's split: each marked row must have as many calls in the log as
    /// the boot says it timed.
    fn absorb(
        &mut self,
        profile: Profile,
        samples: &Samples,
        boot: ProfileBoot,
        failures: &mut Vec<String>,
    ) {
        let prefix = if boot.sve() { SVE_PREFIX } else { "" };
        let rows = scenarios::bench::PROFILED.iter().zip(profile.rows);
        for (name, split) in rows.filter(|(name, _)| boot.times(name)) {
            let timed = samples.iter().find_map(|(n, s)| match s {
                Ok(sample) if n == name => Some(sample.iterations),
                _ => None,
            });
            match timed {
                Some(timed) if timed != split.calls => failures.push(format!(
                    "profile boot{}: {name}: {} marked calls in QEMU's log, {timed} timed",
                    boot.suffix(),
                    split.calls
                )),
                Some(_) => {
                    self.splits.insert(format!("{prefix}{name}"), split);
                }
                None => failures.push(format!(
                    "profile boot{}: no successful `bench {name}` line",
                    boot.suffix()
                )),
            }
        }
        let stats = profile.stats;
        self.notes.push(format!(
            "{}: {} translation blocks run; {} stopped before their first instruction, {} \
             cut by a device access, {} cut by an exception; {} never seen translated; {} \
             marked calls unclosed; {} exceptions from another level than tracked",
            boot.label(),
            stats.blocks,
            stats.stopped,
            stats.rewound,
            stats.cut,
            stats.unknown_blocks,
            stats.unclosed,
            stats.resynced
        ));
        if !profile.addresses.is_empty() {
            self.addresses = profile.addresses;
        }
    }
}

/// The ELF files of the images, for symbols.
struct Elves {
    bl31: PathBuf,
    spmc: PathBuf,
    /// The partition the rows reach at S-EL1, and its name.
    secure_el1: Option<(&'static str, PathBuf)>,
    proxy: Option<PathBuf>,
    client: Option<PathBuf>,
}

impl Elves {
    /// Those of `built`, the stack of profile boot `boot`.
    fn of(built: &stack::Built, boot: ProfileBoot) -> Elves {
        let find = |name: &str| {
            built
                .images
                .elves
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, p)| p.clone())
        };
        Elves {
            // TF-A's build keeps BL31's ELF beside the flash image.
            bl31: built
                .bios
                .parent()
                .map_or_else(PathBuf::new, |d| d.join("bl31").join("bl31.elf")),
            spmc: find("spmc").unwrap_or_default(),
            secure_el1: match boot {
                ProfileBoot::Optee => find(crate::optee::ELF_NAME).map(|p| ("OP-TEE OS", p)),
                ProfileBoot::Scenarios { .. } => find("echo").map(|p| ("echo", p)),
            },
            proxy: find("proxy"),
            client: find("ns-client"),
        }
    }

    /// The image that runs at `level`, if one has symbols.
    fn at(&self, level: Level) -> Option<(&'static str, &Path)> {
        match level {
            Level::El3 => Some(("BL31", self.bl31.as_path())),
            Level::SecureEl2 => Some(("the SPMC", self.spmc.as_path())),
            Level::SecureEl1 => self.secure_el1.as_ref().map(|(n, p)| (*n, p.as_path())),
            Level::NsEl2 => self.proxy.as_deref().map(|p| ("the proxy", p)),
            Level::NsEl1 => self.client.as_deref().map(|p| ("the client", p)),
            Level::SecureEl0 | Level::NsEl0 => None,
        }
    }
}

/// Most functions listed per level.
const FLAT_LINES: usize = 25;

/// The flat profile of `row`: at each level it reached, its instructions per call by function.
fn flat_profile(row: &Row, profiles: &Profiles, elves: &Elves) -> String {
    let calls = profiles.splits.get(row.name).map_or(0, |s| s.calls).max(1);
    let mut text = format!(
        "# {} — instructions per call by function ({} marked calls of the profile boot)\n",
        row.title(),
        calls
    );
    for level in LEVELS {
        let counts: Vec<(u64, u64)> = profiles
            .addresses
            .iter()
            .filter(|((l, _), _)| *l == level)
            .map(|((_, addr), n)| (*addr, *n))
            .collect();
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        if total == 0 {
            continue;
        }
        let symbols = elves
            .at(level)
            .map(|(image, path)| (image, Symbols::load(path)));
        let _ = writeln!(
            text,
            "\n## {} ({}): {} instructions per call\n",
            level.name(),
            symbols.as_ref().map_or("no symbols", |(image, _)| image),
            per_call(total as f64 / calls as f64)
        );
        let _ = writeln!(text, "| function | per call | share |");
        let _ = writeln!(text, "|---|---:|---:|");
        let flat: Vec<(String, u64)> = match &symbols {
            Some((_, Ok(symbols))) => symbols
                .flat(counts.iter().copied())
                .into_iter()
                .map(|(name, n)| (name.unwrap_or("(outside every function)").to_owned(), n))
                .collect(),
            Some((_, Err(e))) => vec![(format!("(no symbols: {e})"), total)],
            None => vec![("(no symbols)".to_owned(), total)],
        };
        let shown = flat.len().min(FLAT_LINES);
        let rest: u64 = flat[shown..].iter().map(|(_, n)| n).sum();
        let lines = flat[..shown]
            .iter()
            .cloned()
            .chain((rest > 0).then(|| (format!("({} others)", flat.len() - shown), rest)));
        for (name, n) in lines {
            let _ = writeln!(
                text,
                "| `{}` | {} | {:.1} % |",
                name.replace('|', "\\|"),
                per_call(n as f64 / calls as f64),
                n as f64 * 100.0 / total as f64
            );
        }
    }
    text
}

/// An average per call: whole numbers as they are, others with one decimal.
fn per_call(value: f64) -> String {
    if (value - value.round()).abs() < 0.05 {
        thousands(value.round() as u64)
    } else {
        format!(
            "{}.{}",
            thousands(value.trunc() as u64),
            ((value.fract() * 10.0).round() as u64).min(9)
        )
    }
}

/// The four parts of the main table's split: EL3, S-EL2, S-EL1 (with S-EL0), the normal world.
fn parts(split: &RowSplit) -> [f64; 4] {
    let at = |level| split.average(level);
    [
        at(Level::El3),
        at(Level::SecureEl2),
        at(Level::SecureEl1) + at(Level::SecureEl0),
        at(Level::NsEl2) + at(Level::NsEl1) + at(Level::NsEl0),
    ]
}

/// The bench lines of a boot, by name, in order of appearance.
pub fn collect(lines: &[String]) -> Samples {
    lines
        .iter()
        .filter_map(|line| match qemu::parse_line(line) {
            Some(Line::Bench { name, result }) => Some((name, result)),
            _ => None,
        })
        .collect()
}

/// The Markdown table of every row with its ratio to row (a), the `previous` run's median and
/// the change, and the split by exception level where `splits` has the row; an error names
/// each row that is missing, failed, or timed too few calls.
pub fn table(
    samples: &[(String, std::result::Result<Sample, String>)],
    splits: Option<&HashMap<String, RowSplit>>,
    previous: Option<&Run>,
) -> Result<String> {
    let mut problems = Vec::new();
    let mut found: Vec<(&Row, &Sample)> = Vec::new();
    for row in ROWS {
        match samples.iter().rev().find(|(name, _)| name == row.name) {
            None => problems.push(format!("no `bench {}` line", row.name)),
            Some((_, Err(why))) => problems.push(format!("{} failed: {why}", row.name)),
            Some((_, Ok(sample))) if sample.iterations < MIN_ITERATIONS => problems.push(format!(
                "{} timed {} calls, fewer than {MIN_ITERATIONS}",
                row.name, sample.iterations
            )),
            Some((_, Ok(sample))) if sample.min > sample.median => problems.push(format!(
                "{}: min {} above median {}",
                row.name, sample.min, sample.median
            )),
            Some((_, Ok(sample))) => found.push((row, sample)),
        }
    }
    if !problems.is_empty() {
        return Err(Error::new(problems.join("; ")));
    }
    let floor = found.first().map_or(0, |(_, s)| s.median);
    if floor == 0 {
        return Err(Error::new(
            "row (a) has a median of 0: no ratio can be taken",
        ));
    }
    let mut text = String::new();
    let _ = writeln!(
        text,
        "| operation | timed by | median | min | iterations | ratio to (a) | previous | change | EL3 / S-EL2 / S-EL1 / NS |"
    );
    let _ = writeln!(text, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (row, sample) in found {
        let (before, change) = compared(previous, row.name, sample.median);
        let split = splits
            .and_then(|s| s.get(row.name))
            .map_or_else(|| "–".to_owned(), |s| parts(s).map(per_call).join(" / "));
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} | {:.2}× | {before} | {change} | {split} |",
            row.title(),
            row.timed_by,
            thousands(sample.median),
            thousands(sample.min),
            sample.iterations,
            sample.median as f64 / floor as f64
        );
    }
    Ok(text)
}

/// The previous run's median of `name` and the change to `now`, as table cells.
fn compared(previous: Option<&Run>, name: &str, now: u64) -> (String, String) {
    match previous.and_then(|p| p.get(name)) {
        Some(entry) => (thousands(entry.median), history::change(entry.median, now)),
        None => ("–".into(), "–".into()),
    }
}

/// The Markdown table of the share + retrieve + relinquish + reclaim cycles (first boot's),
/// with the cost per page and the `previous` run's median; an error names each cycle row
/// missing, failed or timed too few times.
pub fn cycle_table(
    samples: &[(String, std::result::Result<Sample, String>)],
    previous: Option<&Run>,
) -> Result<String> {
    let mut problems = Vec::new();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "| share + retrieve + relinquish + reclaim, from NS-EL2 to echo | pages | ranges | median | min | cycles | per page | previous | change |"
    );
    let _ = writeln!(text, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &(name, pages, ranges) in CYCLE_ROWS {
        match samples.iter().find(|(n, _)| n == name) {
            None => problems.push(format!("no `bench {name}` line")),
            Some((_, Err(why))) => problems.push(format!("{name} failed: {why}")),
            Some((_, Ok(sample))) if sample.iterations < MIN_CYCLES => problems.push(format!(
                "{name} timed {} cycles, fewer than {MIN_CYCLES}",
                sample.iterations
            )),
            Some((_, Ok(sample))) => {
                let layout = if ranges == 1 {
                    "contiguous"
                } else {
                    "scattered"
                };
                let (before, change) = compared(previous, name, sample.median);
                let _ = writeln!(
                    text,
                    "| {name} ({layout}) | {pages} | {ranges} | {} | {} | {} | {} | {before} | {change} |",
                    thousands(sample.median),
                    thousands(sample.min),
                    sample.iterations,
                    thousands(sample.median / pages)
                );
            }
        }
    }
    if problems.is_empty() {
        Ok(text)
    } else {
        Err(Error::new(problems.join("; ")))
    }
}

/// The Markdown table of each row's split by level from the profile boots, with the profile
/// boot's own median: the split must add up to it, and the difference says how far the
/// accounting is off. A note names the rows whose profile-boot median is not the bench boot's
/// (`bench`): the marks must not change what they mark.
fn split_table(
    profiles: &Profiles,
    bench: &[(String, std::result::Result<Sample, String>)],
) -> Result<String> {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "| where a call's instructions run (profile boot) | EL3 | S-EL2 | S-EL1/0 | NS-EL2 | NS-EL1/0 | sum | median | difference |"
    );
    let _ = writeln!(text, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut problems = Vec::new();
    for row in ROWS.iter().filter(|r| is_profiled(r.name)) {
        let Some(split) = profiles.splits.get(row.name) else {
            problems.push(format!("no split of {}", row.name));
            continue;
        };
        let median = profiles.samples.iter().find_map(|(n, s)| match s {
            Ok(sample) if n == row.name => Some(sample.median),
            _ => None,
        });
        let Some(median) = median else {
            problems.push(format!("no profile-boot median of {}", row.name));
            continue;
        };
        let at = |level| split.average(level);
        let sum = split.average_total();
        let difference = sum - median as f64;
        let _ = writeln!(
            text,
            "| ({}) {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.letter(),
            row.name,
            per_call(at(Level::El3)),
            per_call(at(Level::SecureEl2)),
            per_call(at(Level::SecureEl1) + at(Level::SecureEl0)),
            per_call(at(Level::NsEl2)),
            per_call(at(Level::NsEl1) + at(Level::NsEl0)),
            per_call(sum),
            thousands(median),
            if difference.abs() < 0.05 {
                "0".to_owned()
            } else {
                format!("{difference:+.1}")
            }
        );
    }
    if !problems.is_empty() {
        return Err(Error::new(problems.join("; ")));
    }
    let median_of = |samples: &[(String, std::result::Result<Sample, String>)], name: &str| {
        samples.iter().rev().find_map(|(n, s)| match s {
            Ok(sample) if n == name => Some(sample.median),
            _ => None,
        })
    };
    let moved: Vec<String> = ROWS
        .iter()
        .filter(|r| is_profiled(r.name))
        .filter_map(|row| {
            let (profiled, timed) = (
                median_of(&profiles.samples, row.name)?,
                median_of(bench, row.name)?,
            );
            (profiled != timed)
                .then(|| format!("({}) {} in the bench boot", row.letter(), thousands(timed)))
        })
        .collect();
    let _ = writeln!(
        text,
        "\nThe profile boot's medians {}.",
        if moved.is_empty() {
            "equal the bench boot's".to_owned()
        } else {
            format!("differ from the bench boot's: {}", moved.join(", "))
        }
    );
    let _ = writeln!(
        text,
        "Averages over the {} marked calls of each row; the caller's level includes the {} \
         instructions of its counter bracket. Accounting: {}",
        scenarios::bench::PROFILE_ITERATIONS,
        profile::BRACKET,
        profiles.notes.join("; ")
    );
    Ok(text)
}

/// This run's numbers, for `build/bench.json`.
fn this_run(
    root: &Path,
    samples: &[(String, std::result::Result<Sample, String>)],
    splits: Option<&HashMap<String, RowSplit>>,
) -> Run {
    let names = ROWS
        .iter()
        .map(|r| r.name)
        .chain(CYCLE_ROWS.iter().map(|c| c.0));
    let rows = names
        .filter_map(|name| {
            let sample = samples.iter().rev().find_map(|(n, s)| match s {
                Ok(sample) if n == name => Some(sample),
                _ => None,
            })?;
            let split = splits
                .and_then(|s| s.get(name))
                .map(|split| {
                    LEVELS
                        .iter()
                        .map(|l| (l.name().to_owned(), split.average(*l)))
                        .filter(|(_, v)| *v > 0.0)
                        .collect()
                })
                .unwrap_or_default();
            Some(Entry {
                name: name.to_owned(),
                median: sample.median,
                min: sample.min,
                iterations: sample.iterations,
                split,
            })
        })
        .collect();
    Run {
        commit: console::output_of(
            Command::new("git")
                .args(["describe", "--always", "--dirty"])
                .current_dir(root),
        )
        .map(|c| c.trim().to_owned()),
        rows,
    }
}

/// An entry's split in the plot's four parts.
fn entry_parts(entry: &Entry) -> Option<[f64; 4]> {
    if entry.split.is_empty() {
        return None;
    }
    let mut split = RowSplit {
        calls: 1,
        ..RowSplit::default()
    };
    for (name, value) in &entry.split {
        if let Some(level) = LEVELS.iter().find(|l| l.name() == name) {
            // Tenths: the plot needs no more.
            split.by_level[level.index()] = (value * 10.0).round() as u64;
        }
    }
    Some(parts(&split).map(|v| v / 10.0))
}

/// The plot's bars: the main table's rows, this run beside the previous one.
fn bars(run: &Run, previous: Option<&Run>) -> Vec<plot::Bar> {
    ROWS.iter()
        .filter_map(|row| {
            let now = run.get(row.name)?;
            Some(plot::Bar {
                label: format!("({}) {}", row.letter(), row.name),
                median: now.median,
                split: entry_parts(now),
                previous: previous
                    .and_then(|p| p.get(row.name))
                    .map(|e| (e.median, entry_parts(e))),
            })
        })
        .collect()
}

/// The plot's title.
fn plot_title(run: &Run) -> String {
    format!(
        "cargo xtask bench: guest instructions per call (median){}",
        run.commit
            .as_ref()
            .map_or_else(String::new, |c| format!(", {c}"))
    )
}

/// Whether the profile boots time row `name` (its SVE twin: without the prefix).
fn is_profiled(name: &str) -> bool {
    scenarios::bench::PROFILED.contains(&name.trim_start_matches(SVE_PREFIX))
}

/// One concurrency row's numbers (a `bench-cores` line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throughput {
    /// Cores that made requests.
    pub cores: u64,
    /// Requests, all cores together.
    pub requests: u64,
    /// Counter ticks from the start line to the last answer (every core's instructions).
    pub ticks: u64,
}

/// `bench-cores <name> cores <n> requests <n> ticks <n>`.
pub fn parse_cores_line(line: &str) -> Option<(String, Throughput)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words[..] {
        [
            "bench-cores",
            name,
            "cores",
            cores,
            "requests",
            requests,
            "ticks",
            ticks,
        ] => Some((
            name.to_owned(),
            Throughput {
                cores: cores.parse().ok()?,
                requests: requests.parse().ok()?,
                ticks: ticks.parse().ok()?,
            },
        )),
        _ => None,
    }
}

/// The `bench-cores` lines of a boot, by name.
pub fn collect_cores(lines: &[String]) -> Vec<(String, Throughput)> {
    lines.iter().filter_map(|l| parse_cores_line(l)).collect()
}

/// The Markdown table of the concurrency rows: cost per request over all cores (ticks / requests)
/// and its ratio to the one-core row; an error names each row missing, failed (its `bench
/// <name> FAIL` line is in `samples`) or with too few requests.
pub fn cores_table(
    samples: &[(String, std::result::Result<Sample, String>)],
    throughputs: &[(String, Throughput)],
) -> Result<String> {
    let mut problems = Vec::new();
    let mut found = Vec::new();
    for &(name, cores) in CORES_ROWS {
        let failed = samples.iter().find_map(|(n, s)| match s {
            Err(why) if n == name => Some(why),
            _ => None,
        });
        match (throughputs.iter().find(|(n, _)| n == name), failed) {
            (_, Some(why)) => problems.push(format!("{name} failed: {why}")),
            (None, None) => problems.push(format!("no `bench-cores {name}` line")),
            (Some((_, t)), None) if t.cores != u64::from(cores) => {
                problems.push(format!("{name} ran on {} cores, not {cores}", t.cores))
            }
            (Some((_, t)), None) if t.requests < MIN_ITERATIONS * t.cores => {
                problems.push(format!(
                    "{name} made {} requests, fewer than {MIN_ITERATIONS} a core",
                    t.requests
                ))
            }
            (Some((_, t)), None) => found.push((name, *t)),
        }
    }
    if !problems.is_empty() {
        return Err(Error::new(problems.join("; ")));
    }
    let per_request = |t: &Throughput| t.ticks as f64 / t.requests as f64;
    let one = found.first().map_or(0.0, |(_, t)| per_request(t));
    if one == 0.0 {
        return Err(Error::new(
            "the one-core row took no ticks: no ratio can be taken",
        ));
    }
    let mut text = String::new();
    let _ = writeln!(
        text,
        "| FFA_MSG_SEND_DIRECT_REQ_32 (ECHO) to relay from NS-EL2, cores at once | cores | requests | ticks, all cores | per request | ratio to 1 core (target ≤ {CORES_TARGET:.2}×) |"
    );
    let _ = writeln!(text, "|---|---:|---:|---:|---:|---:|");
    for (name, t) in found {
        let _ = writeln!(
            text,
            "| {name} | {} | {} | {} | {} | {:.2}× |",
            t.cores,
            t.requests,
            thousands(t.ticks),
            thousands(t.ticks / t.requests),
            per_request(&t) / one
        );
    }
    Ok(text)
}

/// `7830` → `7,830`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// UART0 of a bench boot as the protocol describes it (numbers invented for the test).
    const SAMPLE: &str = "\
NOTICE:  Booting Trusted Firmware
NOTICE:  BL31: v2.12.1(release):
proxy: bench mode
bench id_get_el3 median 296 min 292 iterations 1000
bench features_spmc median 1480 min 1477 iterations 1000
bench direct_req_echo_el2 median 3100 min 3096 iterations 1000
bench version_spmc median 1900 min 1900 iterations 1000
bench partition_info_count median 2000 min 2000 iterations 1000
bench rxtx_map median 2500 min 2500 iterations 1000
bench rxtx_unmap median 2100 min 2100 iterations 1000
bench partition_info_full median 3000 min 3000 iterations 1000
bench mem_share_1 median 2960 min 2960 iterations 1000
bench mem_reclaim_1 median 1480 min 1480 iterations 1000
bench mem_share_16 median 5920 min 5920 iterations 1000
bench direct_req_optee_el2 median 5960 min 5950 iterations 1000
client: bench mode
bench direct_req_echo_el1 median 3700 min 3690 iterations 1000
verdict: PASS
";

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    /// The samples of both boots: `text` without SVE, `sve` with it.
    fn both(text: &str, sve: &str) -> Samples {
        let mut samples = collect(&lines(text));
        samples.extend(prefixed(collect(&lines(sve)), true));
        samples
    }

    fn sve_sample() -> String {
        SAMPLE
            .replace("median 3100 min 3096", "median 3400 min 3390")
            .replace("median 3700 min 3690", "median 4000 min 3990")
    }

    #[test]
    fn table_of_a_complete_run() {
        let samples = both(SAMPLE, &sve_sample());
        // Both boots have every line; the table takes (o) from the first.
        assert_eq!(samples.len(), 26);
        let text = table(&samples, None, None).expect("table");
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 2 + ROWS.len());
        assert!(rows[8].starts_with("| (g) "), "{}", rows[8]);
        assert!(
            rows[10].ends_with("| 5,920 | 5,920 | 1000 | 20.00× | – | – | – |"),
            "{}",
            rows[10]
        );
        assert!(
            rows[6].starts_with("| (e) (c) on CPUs with SVE"),
            "{}",
            rows[6]
        );
        assert!(
            rows[6].ends_with("| 3,400 | 3,390 | 1000 | 11.49× | – | – | – |"),
            "{}",
            rows[6]
        );
        assert!(
            rows[7].contains("| 4,000 | 3,990 | 1000 | 13.51× |"),
            "{}",
            rows[7]
        );
        assert_eq!(
            rows[2],
            "| (a) FFA_ID_GET, answered by the SPMD at EL3 (the floor) | proxy, NS-EL2 | 296 | 292 | 1000 | 1.00× | – | – | – |"
        );
        assert!(
            rows[3].contains("| 1,480 | 1,477 | 1000 | 5.00× |"),
            "{}",
            rows[3]
        );
        assert!(
            rows[4].contains("| 3,100 | 3,096 | 1000 | 10.47× |"),
            "{}",
            rows[4]
        );
        assert!(rows[5].contains("client, NS-EL1"));
        assert!(rows[5].contains("| 12.50× |"), "{}", rows[5]);
        // The new rows follow the old ones, in the table's order, whatever the proxy's.
        assert!(
            rows[11].starts_with("| (j) FFA_VERSION(1.2)"),
            "{}",
            rows[11]
        );
        assert!(rows[12].starts_with("| (k) FFA_PARTITION_INFO_GET(nil UUID), count only"));
        assert!(
            rows[13].contains("| 3,000 | 3,000 | 1000 | 10.14× |"),
            "{}",
            rows[13]
        );
        assert!(
            rows[14].starts_with("| (m) FFA_RXTX_MAP_64"),
            "{}",
            rows[14]
        );
        assert!(rows[15].starts_with("| (n) FFA_RXTX_UNMAP"), "{}", rows[15]);
    }

    #[test]
    fn the_previous_run_and_the_split_stand_beside_each_row() {
        let samples = both(SAMPLE, &sve_sample());
        let previous = Run {
            commit: None,
            rows: vec![
                Entry {
                    name: "id_get_el3".into(),
                    median: 300,
                    min: 300,
                    iterations: 1000,
                    split: Default::default(),
                },
                Entry {
                    name: "features_spmc".into(),
                    median: 1480,
                    min: 1480,
                    iterations: 1000,
                    split: Default::default(),
                },
            ],
        };
        let mut splits = HashMap::new();
        let mut split = RowSplit {
            calls: 16,
            ..RowSplit::default()
        };
        split.by_level[Level::El3.index()] = 16 * 1300;
        split.by_level[Level::SecureEl2.index()] = 16 * 1700;
        split.by_level[Level::SecureEl1.index()] = 16 * 90;
        split.by_level[Level::SecureEl0.index()] = 16 * 10;
        split.by_level[Level::NsEl2.index()] = 16 * 4;
        splits.insert("direct_req_echo_el2".to_owned(), split);
        let mut optee = RowSplit {
            calls: 16,
            ..RowSplit::default()
        };
        optee.by_level[Level::El3.index()] = 16 * 1000;
        optee.by_level[Level::SecureEl2.index()] = 16 * 2000;
        optee.by_level[Level::SecureEl1.index()] = 16 * 2956;
        optee.by_level[Level::NsEl2.index()] = 16 * 4;
        splits.insert("direct_req_optee_el2".to_owned(), optee);
        let text = table(&samples, Some(&splits), Some(&previous)).expect("table");
        let rows: Vec<&str> = text.lines().collect();
        assert!(
            rows[16]
                .ends_with("| 5,960 | 5,950 | 1000 | 20.14× | – | – | 1,000 / 2,000 / 2,956 / 4 |"),
            "{}",
            rows[16]
        );
        assert!(
            rows[2].ends_with("| 1.00× | 300 | −4 (−1.3 %) | – |"),
            "{}",
            rows[2]
        );
        assert!(
            rows[3].ends_with("| 5.00× | 1,480 | = | – |"),
            "{}",
            rows[3]
        );
        assert!(
            rows[4].ends_with("| 10.47× | – | – | 1,300 / 1,700 / 100 / 4 |"),
            "{}",
            rows[4]
        );

        // The run kept for next time, and the plot's bars from it.
        let run = this_run(Path::new("/nonexistent"), &samples, Some(&splits));
        assert_eq!(run.rows.len(), ROWS.len(), "no cycle rows in the sample");
        let direct = run.get("direct_req_echo_el2").expect("row (c)");
        assert_eq!(direct.median, 3100);
        assert_eq!(
            direct.split,
            [
                ("EL3".to_owned(), 1300.0),
                ("S-EL2".to_owned(), 1700.0),
                ("S-EL1".to_owned(), 90.0),
                ("S-EL0".to_owned(), 10.0),
                ("NS-EL2".to_owned(), 4.0)
            ]
            .into()
        );
        let bars = bars(&run, Some(&previous));
        assert_eq!(bars.len(), ROWS.len());
        assert_eq!(bars[0].previous, Some((300, None)));
        assert_eq!(bars[2].split, Some([1300.0, 1700.0, 100.0, 4.0]));
        assert_eq!(bars[2].previous, None);
        assert_eq!(bars[13].label, "(n) rxtx_unmap");
        assert_eq!(bars[14].label, "(o) direct_req_optee_el2");
        assert_eq!(bars[14].split, Some([1000.0, 2000.0, 2956.0, 4.0]));
    }

    #[test]
    fn the_split_table_adds_up_to_the_profile_boots_median() {
        let mut profiles = Profiles {
            samples: both(
                &SAMPLE.replace("iterations 1000", "iterations 16"),
                &sve_sample().replace("iterations 1000", "iterations 16"),
            ),
            ..Profiles::default()
        };
        for row in ROWS {
            let mut split = RowSplit {
                calls: 2,
                ..RowSplit::default()
            };
            split.by_level[Level::El3.index()] = 2 * 292;
            split.by_level[Level::NsEl2.index()] = 2 * 4;
            profiles.splits.insert(row.name.to_owned(), split);
        }
        profiles
            .splits
            .get_mut("features_spmc")
            .expect("row")
            .by_level[Level::SecureEl2.index()] = 2 * 1184 + 1;
        // Row (o), from the OP-TEE stack's profile boot: OP-TEE OS at S-EL1.
        let optee = profiles
            .splits
            .get_mut("direct_req_optee_el2")
            .expect("row");
        optee.by_level[Level::SecureEl2.index()] = 2 * 2000;
        optee.by_level[Level::SecureEl1.index()] = 2 * 3664;
        profiles.notes.push("sve=off: fine".into());
        let bench = both(SAMPLE, &sve_sample());
        let text = split_table(&profiles, &bench).expect("table");
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 2 + ROWS.len() + 3, "{text}");
        assert_eq!(
            rows[2],
            "| (a) id_get_el3 | 292 | 0 | 0 | 4 | 0 | 296 | 296 | 0 |"
        );
        assert_eq!(
            rows[3],
            "| (b) features_spmc | 292 | 1,184.5 | 0 | 4 | 0 | 1,480.5 | 1,480 | +0.5 |"
        );
        assert_eq!(
            rows[16],
            "| (o) direct_req_optee_el2 | 292 | 2,000 | 3,664 | 4 | 0 | 5,960 | 5,960 | 0 |"
        );
        assert!(text.contains("Accounting: sve=off: fine"), "{text}");
        assert!(
            text.contains("The profile boot's medians equal the bench boot's."),
            "{text}"
        );
        let moved = both(
            &SAMPLE
                .replace("median 296 min 292", "median 300 min 300")
                .replace("median 5960 min 5950", "median 5961 min 5950"),
            &sve_sample(),
        );
        let text = split_table(&profiles, &moved).expect("table");
        assert!(
            text.contains("The profile boot's medians differ from the bench boot's: (a) 300 in the bench boot, (o) 5,961 in the bench boot."),
            "{text}"
        );
        // Without the OP-TEE profile boot's split, the table names its row.
        let mut without = Profiles {
            samples: profiles.samples.clone(),
            splits: profiles.splits.clone(),
            ..Profiles::default()
        };
        without.splits.remove("direct_req_optee_el2");
        assert!(
            split_table(&without, &bench)
                .expect_err("no split of (o)")
                .to_string()
                .contains("no split of direct_req_optee_el2")
        );
        profiles.splits.remove("rxtx_unmap");
        assert!(
            split_table(&profiles, &bench)
                .expect_err("a row without split")
                .to_string()
                .contains("no split of rxtx_unmap")
        );
    }

    #[test]
    fn a_profile_boot_must_show_every_timed_call() {
        let samples = collect(&lines(&SAMPLE.replace("iterations 1000", "iterations 16")));
        let mut profile = Profile {
            rows: vec![
                RowSplit {
                    calls: 16,
                    ..RowSplit::default()
                };
                scenarios::bench::PROFILED.len()
            ],
            ..Profile::default()
        };
        let scenarios_boot = ProfileBoot::Scenarios { sve: false };
        let mut profiles = Profiles::default();
        let mut failures = Vec::new();
        profiles.absorb(profile.clone(), &samples, scenarios_boot, &mut failures);
        assert_eq!(failures, Vec::<String>::new());
        // Every marked row but the OP-TEE boot's.
        assert_eq!(profiles.splits.len(), scenarios::bench::PROFILED.len() - 1);
        assert!(!profiles.splits.contains_key("direct_req_optee_el2"));
        // The OP-TEE profile boot: its row only, which its own lines must carry.
        let optee = collect(&lines(
            "proxy: profile mode (OP-TEE)\n\
             bench direct_req_optee_el2 median 3851 min 3851 iterations 16\n",
        ));
        profiles.absorb(profile.clone(), &optee, ProfileBoot::Optee, &mut failures);
        assert_eq!(failures, Vec::<String>::new());
        assert_eq!(profiles.splits.len(), scenarios::bench::PROFILED.len());
        assert_eq!(profiles.notes.len(), 2);
        assert!(
            profiles.notes[1].starts_with("OP-TEE: "),
            "{:?}",
            profiles.notes
        );
        Profiles::default().absorb(
            profile.clone(),
            &Vec::new(),
            ProfileBoot::Optee,
            &mut failures,
        );
        assert_eq!(
            failures,
            ["profile boot (OP-TEE): no successful `bench direct_req_optee_el2` line"]
        );
        profile.rows[1].calls = 15;
        let mut failures = Vec::new();
        let sve = ProfileBoot::Scenarios { sve: true };
        Profiles::default().absorb(profile, &samples, sve, &mut failures);
        assert_eq!(
            failures,
            ["profile boot (SVE): features_spmc: 15 marked calls in QEMU's log, 16 timed"]
        );
        // Every profiled row fits the SMC crate's marks.
        assert!(scenarios::bench::PROFILED.len() <= usize::from(smc_call::MARKS));
    }

    #[test]
    fn each_row_has_its_profile_boot() {
        let of = |letter| ProfileBoot::of(row(letter).expect("row").name);
        assert_eq!(of("c"), ProfileBoot::Scenarios { sve: false });
        assert_eq!(of("e"), ProfileBoot::Scenarios { sve: true });
        assert_eq!(of("o"), ProfileBoot::Optee);
        // Each marked row is timed by exactly one of the scenarios stack's boots (SVE or not:
        // the same rows) and the OP-TEE stack's.
        for name in scenarios::bench::PROFILED {
            assert_ne!(
                ProfileBoot::Scenarios { sve: false }.times(name),
                ProfileBoot::Optee.times(name),
                "{name}"
            );
            assert_eq!(
                ProfileBoot::Scenarios { sve: true }.times(name),
                ProfileBoot::Scenarios { sve: false }.times(name)
            );
        }
        assert!(ProfileBoot::Optee.times("direct_req_optee_el2"));
        assert!(is_profiled("direct_req_optee_el2"));
        assert_eq!(
            scenarios::bench::mark_of("direct_req_optee_el2"),
            Some(12),
            "the OP-TEE row's mark"
        );
    }

    #[test]
    fn rows_by_name_or_letter() {
        assert_eq!(row("c").map(|r| r.name), Some("direct_req_echo_el2"));
        assert_eq!(
            row("sve:direct_req_echo_el1").map(|r| r.letter()),
            Some('f')
        );
        assert_eq!(row("n").map(|r| r.name), Some("rxtx_unmap"));
        assert_eq!(row("o").map(|r| r.name), Some("direct_req_optee_el2"));
        assert!(row("p").is_none());
        assert!(row("nothing").is_none());
        assert_eq!(
            ROWS[0].title(),
            "(a) FFA_ID_GET, answered by the SPMD at EL3 (the floor)"
        );
        // Every row the images time is in the table.
        for name in scenarios::bench::PROFILED {
            assert!(row(name).is_some(), "{name}");
        }
        assert_eq!(per_call(1300.0), "1,300");
        assert_eq!(per_call(1184.5), "1,184.5");
        assert_eq!(per_call(2.96), "3");
    }

    #[test]
    fn missing_failed_and_short_rows_are_named() {
        let text = SAMPLE
            .replace(
                "bench features_spmc median 1480 min 1477 iterations 1000",
                "bench features_spmc FAIL FFA_ERROR(NOT_SUPPORTED)",
            )
            .replace(
                "bench direct_req_echo_el2 median 3100 min 3096 iterations 1000",
                "bench direct_req_echo_el2 median 3100 min 3096 iterations 999",
            )
            .replace(
                "bench direct_req_echo_el1 median 3700 min 3690 iterations 1000\n",
                "",
            );
        let err = table(&collect(&lines(&text)), None, None)
            .expect_err("incomplete")
            .to_string();
        assert!(
            err.contains("features_spmc failed: FFA_ERROR(NOT_SUPPORTED)"),
            "{err}"
        );
        assert!(err.contains("direct_req_echo_el2 timed 999 calls"), "{err}");
        assert!(err.contains("no `bench direct_req_echo_el1` line"), "{err}");
        assert!(!err.contains("id_get_el3"), "{err}");
    }

    #[test]
    fn a_zero_floor_or_inverted_numbers_are_refused() {
        let zero = SAMPLE.replace("median 296 min 292", "median 0 min 0");
        assert!(table(&collect(&lines(&zero)), None, None).is_err());
        let inverted = SAMPLE.replace("median 296 min 292", "median 296 min 300");
        assert!(table(&collect(&lines(&inverted)), None, None).is_err());
    }

    /// UART0 of a concurrency boot (numbers invented for the test).
    const CORES_SAMPLE: &str = "\
proxy: bench mode (cores)
bench-cores direct_req_relay_1core cores 1 requests 1000 ticks 8000400
bench-span core 0 from 0 to 8000100
bench-span core 1 from 8000200 to 16100300
bench-cores direct_req_relay_4cores cores 4 requests 4000 ticks 34000000
verdict: PASS
";

    #[test]
    fn cores_table_gives_the_cost_per_request_and_the_ratio() {
        let uart = lines(CORES_SAMPLE);
        let throughputs = collect_cores(&uart);
        assert_eq!(throughputs.len(), 2);
        assert_eq!(
            throughputs[1],
            (
                "direct_req_relay_4cores".to_owned(),
                Throughput {
                    cores: 4,
                    requests: 4000,
                    ticks: 34_000_000
                }
            )
        );
        let text = cores_table(&collect(&uart), &throughputs).expect("table");
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 4);
        assert!(rows[0].contains("target ≤ 1.25×"), "{}", rows[0]);
        assert_eq!(
            rows[2],
            "| direct_req_relay_1core | 1 | 1000 | 8,000,400 | 8,000 | 1.00× |"
        );
        assert_eq!(
            rows[3],
            "| direct_req_relay_4cores | 4 | 4000 | 34,000,000 | 8,500 | 1.06× |"
        );
    }

    #[test]
    fn cores_table_names_missing_failed_and_short_rows() {
        let failed = CORES_SAMPLE.replace(
            "bench-cores direct_req_relay_4cores cores 4 requests 4000 ticks 34000000",
            "bench direct_req_relay_4cores FAIL CPU_ON of core 1 answered -4",
        );
        let uart = lines(&failed);
        let err = cores_table(&collect(&uart), &collect_cores(&uart))
            .expect_err("failed row")
            .to_string();
        assert_eq!(
            err,
            "direct_req_relay_4cores failed: CPU_ON of core 1 answered -4"
        );
        let short = CORES_SAMPLE
            .replace("requests 4000", "requests 3999")
            .replace("cores 1 requests", "cores 2 requests");
        let uart = lines(&short);
        let err = cores_table(&collect(&uart), &collect_cores(&uart))
            .expect_err("short rows")
            .to_string();
        assert!(
            err.contains("direct_req_relay_1core ran on 2 cores, not 1"),
            "{err}"
        );
        assert!(
            err.contains("direct_req_relay_4cores made 3999 requests, fewer than 1000 a core"),
            "{err}"
        );
        let err = cores_table(&[], &[]).expect_err("nothing").to_string();
        assert!(
            err.contains("no `bench-cores direct_req_relay_1core` line"),
            "{err}"
        );
        assert_eq!(
            parse_cores_line("bench-cores x cores 4 requests 4000"),
            None
        );
        assert_eq!(
            parse_cores_line("bench-cores x cores 4 requests n ticks 1"),
            None
        );
        assert_eq!(
            qemu::parse_line("bench-cores x cores 4 requests 4000 ticks 1"),
            None,
            "not an ordinary bench line"
        );
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(7830), "7,830");
        assert_eq!(thousands(18_580_000), "18,580,000");
    }
}
