//! What a Linux boot of the client stack printed on its console, read back: the FF-A driver's
//! and the OP-TEE driver's probe lines, and xtest's summary.

/// xtest's summary (`xtest` prints it last).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// `N subtests of which M failed`.
    pub subtests: u32,
    /// See `subtests`.
    pub subtests_failed: u32,
    /// `N test cases of which M failed`.
    pub cases: u32,
    /// See `cases`.
    pub cases_failed: u32,
    /// `N test cases were skipped` (not selected, or not built into Debian's xtest).
    pub skipped: u32,
    /// The cases listed as failed in the result list (`regression_1013 FAILED`).
    pub failed: Vec<String>,
}

impl Summary {
    /// Cases that passed.
    pub fn passed(&self) -> u32 {
        self.cases.saturating_sub(self.cases_failed)
    }
}

/// The count before `suffix` on a line ending with it (`624 subtests of which 0 failed`).
fn count_pair(line: &str, middle: &str) -> Option<(u32, u32)> {
    let (total, rest) = line.trim().split_once(middle)?;
    let failed = rest.trim().strip_suffix("failed")?.trim();
    Some((total.trim().parse().ok()?, failed.parse().ok()?))
}

/// xtest's summary in `lines`, if it printed one (it ends with `TEE test application done!`).
pub fn summary(lines: &[String]) -> Option<Summary> {
    let done = lines
        .iter()
        .rposition(|l| l.trim() == "TEE test application done!")?;
    let mut s = Summary::default();
    let mut seen_counts = false;
    let mut in_results = false;
    for line in &lines[..done] {
        let line = line.trim();
        if line.starts_with("Result of testsuite") {
            in_results = true;
            s.failed.clear();
            continue;
        }
        if line.starts_with("+---") {
            in_results = false;
            continue;
        }
        if in_results {
            if let Some(name) = line.strip_suffix(" FAILED") {
                s.failed.push(name.trim().to_owned());
            }
            continue;
        }
        if let Some((total, failed)) = count_pair(line, " subtests of which ") {
            (s.subtests, s.subtests_failed) = (total, failed);
            seen_counts = true;
        } else if let Some((total, failed)) = count_pair(line, " test cases of which ") {
            (s.cases, s.cases_failed) = (total, failed);
        } else if let Some(n) = line.strip_suffix(" test cases were skipped") {
            s.skipped = n.trim().parse().unwrap_or(0);
        }
    }
    seen_counts.then_some(s)
}

/// The OP-TEE driver's probe over FF-A: its `optee: revision X.Y` line, once it also said
/// `optee: initialized driver`.
pub fn optee_probed(lines: &[String]) -> Option<String> {
    let initialised = lines
        .iter()
        .any(|l| l.contains("optee: initialized driver"));
    let revision = lines.iter().find_map(|l| {
        let (_, rest) = l.split_once("optee: revision ")?;
        Some(rest.trim().to_owned())
    })?;
    initialised.then_some(revision)
}

/// The FF-A firmware version Linux's driver found (`ARM FF-A: Firmware version 1.2 found`).
pub fn ffa_firmware(lines: &[String]) -> Option<String> {
    lines.iter().find_map(|l| {
        let (_, rest) = l.split_once("ARM FF-A: Firmware version ")?;
        Some(rest.trim().trim_end_matches(" found").to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn a_passing_summary() {
        let log = lines(
            "* regression_1001 Core self tests\n  regression_1001 OK\n\
             +-----------------------------------------------------\n\
             Result of testsuite regression+pkcs11 filtered by \"1001\":\n\
             regression_1001 OK\npkcs11_1001 OK\n\
             +-----------------------------------------------------\n\
             624 subtests of which 0 failed\n2 test cases of which 0 failed\n\
             141 test cases were skipped\nTEE test application done!\n",
        );
        let s = summary(&log).unwrap();
        assert_eq!((s.subtests, s.subtests_failed), (624, 0));
        assert_eq!((s.cases, s.cases_failed, s.skipped), (2, 0, 141));
        assert_eq!(s.passed(), 2);
        assert!(s.failed.is_empty());
    }

    #[test]
    fn failures_are_named() {
        let log = lines(
            "Result of testsuite regression:\nregression_1001 OK\nregression_1013 FAILED\n\
             regression_4006_rsa FAILED\n+----\n\
             9000 subtests of which 3 failed\n90 test cases of which 2 failed\n\
             0 test cases were skipped\nTEE test application done!",
        );
        let s = summary(&log).unwrap();
        assert_eq!(s.failed, ["regression_1013", "regression_4006_rsa"]);
        assert_eq!((s.cases, s.cases_failed, s.passed()), (90, 2, 88));
    }

    #[test]
    fn no_summary_without_the_end_line() {
        let log = lines("624 subtests of which 0 failed\n2 test cases of which 0 failed\n");
        assert_eq!(summary(&log), None);
    }

    #[test]
    fn probe_lines() {
        let log = lines(
            "[    3.65] ARM FF-A: Firmware version 1.2 found\n\
             [    3.83] optee: revision 4.10 (6bee80e8)\n[    3.85] optee: initialized driver\n",
        );
        assert_eq!(ffa_firmware(&log).as_deref(), Some("1.2"));
        assert_eq!(optee_probed(&log).as_deref(), Some("4.10 (6bee80e8)"));
        assert_eq!(optee_probed(&log[..2]), None);
    }
}
