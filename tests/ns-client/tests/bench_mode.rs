//! The bench mode's requests and checks over the in-process stack (the same proxy and SPMC
//! cores and test partitions the images run): the proxy's rows from the proxy's place (its own
//! SMCs to the SPMD model), the client's row through the proxy core. Ticks are invented here;
//! what is tested is that every real answer passes the checks and the lines come out right.

use e2e::client::ProxiedClient;
use e2e::memory::Space;
use e2e::stack::{PRIMARY_CPU, Stack};
use e2e::trace::{Agent, Trace};
use ffa::Regs;
use ns_client::bench::{self, Call, Failure, Line, MailboxState, Operation, Setup, Summary};
use ns_client::run::{Verdict, run_bench};
use scenarios::Client;

/// The proxy's TX buffer (its RX follows).
const PROXY_TX: u64 = 0x6100_0000;

/// Ticks that repeat 300, 301, 302, …: summaries are predictable.
fn ticker() -> impl FnMut() -> u64 {
    let mut n = 0u64;
    move || {
        let t = 300 + n % 3;
        n += 1;
        t
    }
}

#[test]
fn proxy_rows_pass_against_the_spmd_spmc_and_echo() {
    let mut stack = Stack::standard(Trace::new(false)).expect("stack boots");
    // The proxy's init: FF-A v1.2 with EL3 before anything else.
    let version = stack
        .nwd_call(PRIMARY_CPU, Agent::Proxy, &bench::version_request())
        .expect("version");
    assert_eq!(bench::check_version(&version), Ok(()));
    // The rows in the proxy's order, its pair mapped and unmapped as the image does it.
    let pair = bench::Mailbox {
        tx: PROXY_TX,
        rx: PROXY_TX + 0x1000,
        pages: 1,
    };
    let mut mapped = false;
    let mut tick = ticker();
    for proxy_row in bench::PROXY_ROWS {
        let row = proxy_row.row;
        let wanted = match row.operation.mailbox() {
            MailboxState::Any => mapped,
            MailboxState::Mapped => true,
            MailboxState::Unmapped => false,
        };
        if wanted != mapped {
            let mut regs = [0u64; 18];
            if wanted {
                regs[..4].copy_from_slice(&[0xc400_0066, pair.tx, pair.rx, 1]);
            } else {
                regs[0] = 0x8400_0067;
            }
            let answer = stack
                .nwd_call(PRIMARY_CPU, Agent::Proxy, &regs)
                .expect("RXTX_MAP/UNMAP");
            assert_eq!(answer[0], 0x8400_0061, "{answer:x?}");
            mapped = wanted;
        }
        let mut share_len = 0;
        if proxy_row.pages > 0 {
            let mut buf = [0u8; ffa::memory::MAX_ENCODED_LEN];
            let len = bench::share_descriptor(proxy_row.pages, &mut buf).expect("descriptor");
            stack
                .memory()
                .write(Space::NonSecure, PROXY_TX, &buf[..len])
                .unwrap();
            share_len = len as u32;
        }
        let memory = stack.memory().clone();
        let mut read_rx = |buf: &mut [u8]| memory.read(Space::NonSecure, pair.rx, buf).is_ok();
        let mut setup = Setup {
            share_len,
            mailbox: pair,
            read_rx: Some(&mut read_rx),
        };
        let mut ticks = [0u64; 30];
        let mut kinds = Vec::new();
        let result = bench::measure_with(
            row.operation,
            &mut setup,
            &mut ticks,
            |regs: &Regs, kind: Call| {
                kinds.push(kind);
                let answer = stack
                    .nwd_call(PRIMARY_CPU, Agent::Proxy, regs)
                    .expect("call reaches the stack");
                (answer, tick())
            },
        );
        let summary = result.unwrap_or_else(|e| panic!("{}: {e}", row.name));
        assert_eq!(summary.iterations, 30, "{}", row.name);
        assert_eq!(summary.min, 300, "{}", row.name);
        let timed = kinds.iter().filter(|k| **k == Call::Timed).count();
        assert_eq!(timed, 30, "{}", row.name);
    }
    assert!(mapped, "the memory rows come last");
    // The cycle table: every share (in fragments past 4 KiB), echo's retrieve (its response
    // in fragments too), relinquish and reclaim answered as the checks want; the ticks of a
    // cycle add up over its calls.
    let memory = stack.memory().clone();
    for cycle in bench::CYCLES {
        let mut ticks = [0u64; bench::CYCLE_ITERATIONS];
        let mut write_tx = |offset: usize, bytes: &[u8]| {
            memory
                .write(Space::NonSecure, PROXY_TX + offset as u64, bytes)
                .is_ok()
        };
        let mut calls = 0u64;
        let result = bench::measure_cycle(cycle, 0x1000, &mut write_tx, &mut ticks, |regs| {
            calls += 1;
            let answer = stack
                .nwd_call(PRIMARY_CPU, Agent::Proxy, regs)
                .expect("call reaches the stack");
            (answer, 100)
        });
        let summary = result.unwrap_or_else(|e| panic!("{}: {e}", cycle.name));
        let per_cycle = calls / (bench::CYCLE_ITERATIONS as u64 + 2);
        assert_eq!(summary.median, 100 * per_cycle, "{}", cycle.name);
        // Share (+ fragments), the direct request, the reclaim.
        let fragments = (cycle.ranges() as u64 * 16 + 96).div_ceil(0x1000);
        assert_eq!(per_cycle, fragments + 2, "{}", cycle.name);
    }
    assert_eq!(stack.spmd().core().memory_transactions().count(), 0);
}

#[test]
fn client_row_passes_through_the_proxy_core() {
    let stack = Stack::standard(Trace::new(false)).expect("stack boots");
    let mut client = ProxiedClient::new(stack).expect("proxy starts");
    let mut tick = ticker();
    let mut ticks = [0u64; 1000];
    let mut out = String::new();
    let verdict = run_bench(
        0,
        &mut ticks,
        |regs: &Regs, _| (client.call_on(0, regs), tick()),
        &mut out,
    );
    // The version call takes tick 0, 8 warm-up calls ticks 1..=8; the 1000 timed calls get
    // 300 + (9 + i) % 3: 334 of 300, 333 of 301, 333 of 302, so the middle two are 301.
    assert_eq!(
        out,
        "bench direct_req_echo_el1 median 301 min 300 iterations 1000\nverdict: PASS\n"
    );
    assert_eq!(verdict, Verdict::Pass);
    assert_eq!(
        client.proxy().negotiated_version(),
        Some(ffa::Version(1, 2))
    );
}

#[test]
fn the_client_row_fails_without_v1_2_or_after_a_failed_proxy_row() {
    // A host that asked for v1.1 first is locked there: its bench negotiation fails.
    let stack = Stack::standard(Trace::new(false)).expect("stack boots");
    let mut client = ProxiedClient::new(stack).expect("proxy starts");
    let mut v1_1 = bench::version_request();
    v1_1[1] = 0x1_0001;
    assert_eq!(client.call_on(0, &v1_1)[0], 0x1_0001);
    let mut out = String::new();
    let verdict = run_bench(
        0,
        &mut [0u64; 10],
        |regs: &Regs, _| (client.call_on(0, regs), 1),
        &mut out,
    );
    assert_eq!(verdict, Verdict::Fail);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "bench direct_req_echo_el1 FAIL FFA_VERSION(1.2) answered 0x10001",
            "verdict: FAIL"
        ]
    );

    // Its own row fine, but the proxy reported a failed row before the client started.
    let stack = Stack::standard(Trace::new(false)).expect("stack boots");
    let mut client = ProxiedClient::new(stack).expect("proxy starts");
    let mut out = String::new();
    let verdict = run_bench(
        1,
        &mut [0u64; 10],
        |regs: &Regs, _| (client.call_on(0, regs), 7),
        &mut out,
    );
    assert_eq!(verdict, Verdict::Fail);
    assert!(
        out.starts_with("bench direct_req_echo_el1 median 7 min 7 iterations 10\n"),
        "{out}"
    );
    assert!(out.ends_with("verdict: FAIL\n"), "{out}");
}

#[test]
fn a_direct_request_to_an_absent_partition_is_a_failed_row() {
    // The same request to an ID no partition has: the SPMC refuses it, the row says so.
    let stack = Stack::standard(Trace::new(false)).expect("stack boots");
    let mut client = ProxiedClient::new(stack).expect("proxy starts");
    client.call_on(0, &bench::version_request());
    let result = bench::measure(
        Operation::DirectReqEcho,
        0,
        &mut [0u64; 5],
        |regs: &Regs| {
            let mut wrong = *regs;
            wrong[1] = 0x80ff;
            (client.call_on(0, &wrong), 1)
        },
    );
    let failure = result.expect_err("no such partition");
    assert!(
        matches!(failure, Failure::Answer { call: 0, .. }),
        "{failure:?}"
    );
    let line = Line {
        name: "direct_req_echo_el1",
        result: &Err::<Summary, _>(failure),
    }
    .to_string();
    assert!(
        line.starts_with("bench direct_req_echo_el1 FAIL call 0: FFA_ERROR "),
        "{line}"
    );
}

#[test]
fn concurrency_requests_pass_on_every_core_against_relay() {
    let mut stack = Stack::standard(Trace::new(false)).expect("stack boots");
    let version = stack
        .nwd_call(PRIMARY_CPU, Agent::Proxy, &bench::version_request())
        .expect("version");
    assert_eq!(bench::check_version(&version), Ok(()));
    // Each core's warm-up and timed requests, as the proxy makes them, in turn on its core:
    // relay answers each from that core's execution context.
    for core in 0..bench::CORES {
        let first = bench::first_call(core);
        let result = bench::run_requests(
            bench::CORES_OPERATION,
            first,
            bench::WARM_UP + 20,
            |regs: &Regs| {
                stack
                    .nwd_call(core as u16, Agent::Proxy, regs)
                    .expect("call reaches the stack")
            },
        );
        assert_eq!(result, Ok(()), "core {core}");
    }
    // Echo is not relay: the same requests to echo's ID fail the check at the first call.
    let result = bench::run_requests(bench::CORES_OPERATION, 0, 1, |regs: &Regs| {
        let mut to_echo = *regs;
        to_echo[1] = u64::from(bench::ECHO_ID);
        stack
            .nwd_call(PRIMARY_CPU, Agent::Proxy, &to_echo)
            .expect("call reaches the stack")
    });
    assert!(
        matches!(result, Err(Failure::Answer { call: 0, .. })),
        "{result:?}"
    );
}

#[test]
fn the_client_reports_the_proxy_only_boots() {
    let mut out = String::new();
    assert_eq!(
        ns_client::run::report_proxy_bench(0, &mut out),
        Verdict::Pass
    );
    assert_eq!(out, "verdict: PASS\n");
    let mut out = String::new();
    assert_eq!(
        ns_client::run::report_proxy_bench(2, &mut out),
        Verdict::Fail
    );
    assert_eq!(
        out,
        "[client] 2 of the proxy's bench rows failed\nverdict: FAIL\n"
    );
}
