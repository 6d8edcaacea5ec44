//! Every conformance scenario, each on a freshly booted stack, under both clients. Prints one
//! `scenario <client> <name> PASS|FAIL <reason>` line per scenario (run with `--nocapture`,
//! or see the failure message), then a summary; fails with the list of failures.

use e2e::client::ClientKind;
use e2e::runner::{Report, run_all_with};

fn run(kind: ClientKind) {
    let report: Report = run_all_with(kind, |result| {
        println!("{}", result.line());
        if !result.passed() {
            for hop in &result.recent_hops {
                println!("    | {hop}");
            }
        }
    });
    println!("{}", report.summary());
    let failures: Vec<String> = report.failures().iter().map(|r| r.line()).collect();
    assert!(
        report.all_passed(),
        "{}\n{}",
        report.summary(),
        failures.join("\n")
    );
}

#[test]
fn scenarios_through_the_proxy() {
    run(ClientKind::Proxied);
}

#[test]
fn scenarios_direct_to_el3() {
    run(ClientKind::Direct);
}
