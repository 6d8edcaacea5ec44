//! `cargo xtask bench`: guest instruction counts of FF-A calls on the real stack (docs:
//! performance.md §Method): TF-A built with the peers' flag set, QEMU with `-icount shift=0`
//! and one CPU, the selector set to [`qemu::BENCH_SELECTOR`].
//!
//! Protocol with the images: with that selector the proxy (BL33, NS-EL2) times rows (a)–(c)
//! itself before it enters the client, because a client behind the proxy never reaches EL3
//! directly (the proxy answers FFA_ID_GET locally); the client (NS-EL1) then times row (d)
//! through the proxy, prints `verdict: PASS` (or FAIL) and powers off. Each row is one line
//! `bench <name> median <n> min <n> iterations <n>` (or `bench <name> FAIL <reason>`) on UART0.
//!
//! Two more boots have their own selector words, and in both the proxy times every row before
//! the client, which only prints the verdict: the concurrency boot (`-smp 4`: direct requests
//! to relay from one core, then from four at once, `bench-cores` lines with the ticks over all
//! cores, `bench-span` lines with each core's run) and the OP-TEE boot (the stack with OP-TEE
//! OS: row (j)).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::console::{self, Error, Result};
use crate::qemu::{self, Line, Machine, Sample, Verdict};
use crate::uart_log::{self, LiveFilter};
use crate::{stack, tfa};

/// Fewest timed calls per row.
pub const MIN_ITERATIONS: u64 = 1000;

/// One row of the table.
pub struct Row {
    /// The name in the `bench` line.
    pub name: &'static str,
    /// What is measured.
    pub operation: &'static str,
    /// Who times it, at which exception level.
    pub timed_by: &'static str,
}

/// The rows, in order; the first is the floor every ratio is taken to.
pub const ROWS: &[Row] = &[
    Row {
        name: "id_get_el3",
        operation: "(a) FFA_ID_GET, answered by the SPMD at EL3 (the floor)",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "features_spmc",
        operation: "(b) FFA_FEATURES(FFA_MSG_SEND_DIRECT_REQ_32), answered by the SPMC",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "direct_req_echo_el2",
        operation: "(c) FFA_MSG_SEND_DIRECT_REQ_32 to echo (S-EL1), round trip",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "direct_req_echo_el1",
        operation: "(d) the same from the NS-EL1 client through the proxy",
        timed_by: "client, NS-EL1",
    },
    Row {
        name: "sve:direct_req_echo_el2",
        operation: "(e) (c) on CPUs with SVE (`sve=on`), the normal world's SVE state live (no hint)",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "sve:direct_req_echo_el1",
        operation: "(f) (d) on CPUs with SVE, no hint",
        timed_by: "client, NS-EL1",
    },
    Row {
        name: "mem_share_1",
        operation: "(g) FFA_MEM_SHARE_32 of 1 page to echo (reclaimed after each, untimed)",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "mem_reclaim_1",
        operation: "(h) FFA_MEM_RECLAIM of that share (shared before each, untimed)",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "mem_share_16",
        operation: "(i) FFA_MEM_SHARE_32 of 16 scattered pages (one range each) to echo",
        timed_by: "proxy, NS-EL2",
    },
    Row {
        name: "direct_req_optee_el2",
        operation: "(j) FFA_MSG_SEND_DIRECT_REQ_32 to OP-TEE OS (S-EL1), GET_API_VERSION, round trip (OP-TEE boot)",
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
    /// Seconds the boot may take.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Show every UART line, not only the bench lines.
    #[arg(long)]
    pub verbose: bool,
}

/// `cargo xtask bench`: a boot on CPUs without SVE (as the peers were measured), then one on
/// CPUs with it, then the concurrency boot (4 CPUs) and the OP-TEE boot (the stack with OP-TEE
/// OS).
pub fn command(root: &Path, args: &BenchArgs) -> Result<()> {
    let built = stack::prepare(
        root,
        tfa::Profile::Bench,
        stack::Stack::Scenarios,
        args.no_build,
    )?;
    // The images are built by now: this adds OP-TEE OS and its TF-A build.
    let built_optee = stack::prepare(root, tfa::Profile::Bench, stack::Stack::Optee, true)?;
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
        let machine = Machine {
            bios: flash.path().to_path_buf(),
            smp: SMP,
            selector: Some(qemu::BENCH_SELECTOR),
            bench: true,
            sve,
            gdb: false,
            log_dir: qemu::log_dir(root, if sve { "bench-sve" } else { "bench" }),
            linux: None,
        };
        let (lines, failure) = boot_once(&machine, args)?;
        let prefix = if sve { SVE_PREFIX } else { "" };
        samples.extend(
            collect(&lines)
                .into_iter()
                .map(|(name, sample)| (format!("{prefix}{name}"), sample)),
        );
        failures.extend(failure);
    }

    console::header(&format!(
        "bench boot: -smp {CORES_SMP} -icount shift=0,sleep=off, relay from 1 core, then from {CORES_SMP} at once"
    ));
    let machine = Machine {
        bios: flash.path().to_path_buf(),
        smp: CORES_SMP,
        selector: Some(scenarios::bench::SELECTOR_CORES),
        bench: true,
        sve: false,
        gdb: false,
        log_dir: qemu::log_dir(root, "bench-cores"),
        linux: None,
    };
    let (lines, failure) = boot_once(&machine, args)?;
    samples.extend(collect(&lines));
    let throughputs = collect_cores(&lines);
    failures.extend(failure);

    console::header("bench boot: -smp 1 -icount shift=0,sleep=off, with OP-TEE OS");
    // Both copies would have the same name (this process's ID).
    drop(flash);
    let flash_optee = stack::Flash::of(root, &built_optee)?;
    let machine = Machine {
        bios: flash_optee.path().to_path_buf(),
        smp: SMP,
        selector: Some(scenarios::bench::SELECTOR_OPTEE),
        bench: true,
        sve: false,
        gdb: false,
        log_dir: qemu::log_dir(root, "bench-optee"),
        linux: None,
    };
    let (lines, failure) = boot_once(&machine, args)?;
    samples.extend(collect(&lines));
    failures.extend(failure);

    let table = table(&samples).and_then(|main| {
        Ok(format!(
            "{main}\n{}\n{}",
            cycle_table(&samples)?,
            cores_table(&samples, &throughputs)?
        ))
    });
    match &table {
        Ok(text) => {
            console::header("bench results (guest instructions)");
            print!("{text}");
            let out = root.join("build").join("bench.md");
            std::fs::write(&out, text)
                .map_err(|e| Error::new(format!("cannot write {}: {e}", out.display())))?;
            console::note(&format!("table saved to {}", out.display()));
        }
        Err(e) => console::note(&format!("no table: {e}")),
    }
    if !failures.is_empty() {
        return Err(Error::new(failures.join("; ")));
    }
    table.map(|_| ())
}

/// One bench boot: its UART0 lines, and why it failed if it did.
fn boot_once(machine: &Machine, args: &BenchArgs) -> Result<(Vec<String>, Option<String>)> {
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

/// The Markdown table of every row with its ratio to row (a); an error names each row that is
/// missing, failed, or timed too few calls.
pub fn table(samples: &[(String, std::result::Result<Sample, String>)]) -> Result<String> {
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
        "| operation | timed by | median | min | iterations | ratio to (a) |"
    );
    let _ = writeln!(text, "|---|---|---:|---:|---:|---:|");
    for (row, sample) in found {
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} | {:.2}× |",
            row.operation,
            row.timed_by,
            thousands(sample.median),
            thousands(sample.min),
            sample.iterations,
            sample.median as f64 / floor as f64
        );
    }
    Ok(text)
}

/// The Markdown table of the share + retrieve + relinquish + reclaim cycles (first boot's),
/// with the cost per page; an error names each cycle row missing, failed or timed too few
/// times.
pub fn cycle_table(samples: &[(String, std::result::Result<Sample, String>)]) -> Result<String> {
    let mut problems = Vec::new();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "| share + retrieve + relinquish + reclaim, from NS-EL2 to echo | pages | ranges | median | min | cycles | per page |"
    );
    let _ = writeln!(text, "|---|---:|---:|---:|---:|---:|---:|");
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
                let _ = writeln!(
                    text,
                    "| {name} ({layout}) | {pages} | {ranges} | {} | {} | {} | {} |",
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
        samples.extend(
            collect(&lines(sve))
                .into_iter()
                .map(|(name, sample)| (format!("{SVE_PREFIX}{name}"), sample)),
        );
        samples
    }

    #[test]
    fn table_of_a_complete_run() {
        let sve = SAMPLE
            .replace("median 3100 min 3096", "median 3400 min 3390")
            .replace("median 3700 min 3690", "median 4000 min 3990");
        let samples = both(SAMPLE, &sve);
        assert_eq!(samples.len(), 16);
        let text = table(&samples).expect("table");
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 12);
        assert!(rows[11].starts_with("| (j) "), "{}", rows[11]);
        assert!(
            rows[11].ends_with("| 5,960 | 5,950 | 1000 | 20.14× |"),
            "{}",
            rows[11]
        );
        assert!(rows[8].starts_with("| (g) "), "{}", rows[8]);
        assert!(
            rows[10].ends_with("| 5,920 | 5,920 | 1000 | 20.00× |"),
            "{}",
            rows[10]
        );
        assert!(rows[6].starts_with("| (e) "), "{}", rows[6]);
        assert!(
            rows[6].ends_with("| 3,400 | 3,390 | 1000 | 11.49× |"),
            "{}",
            rows[6]
        );
        assert!(
            rows[7].ends_with("| 4,000 | 3,990 | 1000 | 13.51× |"),
            "{}",
            rows[7]
        );
        assert_eq!(
            rows[2],
            "| (a) FFA_ID_GET, answered by the SPMD at EL3 (the floor) | proxy, NS-EL2 | 296 | 292 | 1000 | 1.00× |"
        );
        assert!(
            rows[3].ends_with("| 1,480 | 1,477 | 1000 | 5.00× |"),
            "{}",
            rows[3]
        );
        assert!(
            rows[4].ends_with("| 3,100 | 3,096 | 1000 | 10.47× |"),
            "{}",
            rows[4]
        );
        assert!(rows[5].contains("client, NS-EL1"));
        assert!(rows[5].ends_with("| 12.50× |"), "{}", rows[5]);
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
        let err = table(&collect(&lines(&text)))
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
        assert!(table(&collect(&lines(&zero))).is_err());
        let inverted = SAMPLE.replace("median 296 min 292", "median 296 min 300");
        assert!(table(&collect(&lines(&inverted))).is_err());
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
