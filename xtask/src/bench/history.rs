//! The last run's numbers, kept machine-readable in `build/bench.json` so the next run shows
//! them beside its own.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::console::{Error, Result};

/// One run of `cargo xtask bench`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// `git describe --always --dirty` of the tree measured, if git could tell.
    pub commit: Option<String>,
    /// The rows of the main table and of the cycle table, in order.
    pub rows: Vec<Entry>,
}

/// One row's numbers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The name in the `bench` line.
    pub name: String,
    /// Median guest instructions.
    pub median: u64,
    /// Minimum.
    pub min: u64,
    /// Timed calls.
    pub iterations: u64,
    /// Average instructions per call by level (EL3, S-EL2, ...: `profile::Level::name`), from
    /// the profile boot; empty without one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub split: BTreeMap<String, f64>,
}

impl Run {
    /// The entry called `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.rows.iter().find(|e| e.name == name)
    }

    /// Reads `path`; None when there is no file or it does not parse (an older format).
    pub fn load(path: &Path) -> Option<Run> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes it to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::new(format!("cannot encode the bench results: {e}")))?;
        std::fs::write(path, text + "\n")
            .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))
    }
}

/// The change from `before` to `now`: `+12 (+0.4 %)`, `−326 (−4.0 %)`, or `=`.
pub fn change(before: u64, now: u64) -> String {
    if before == now {
        return "=".into();
    }
    let diff = now as i128 - before as i128;
    let sign = if diff > 0 { "+" } else { "−" };
    let percent = if before == 0 {
        String::new()
    } else {
        format!(
            " ({sign}{:.1} %)",
            diff.unsigned_abs() as f64 * 100.0 / before as f64
        )
    };
    format!(
        "{sign}{}{percent}",
        super::thousands(diff.unsigned_abs() as u64)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_round_trips_through_json() {
        let run = Run {
            commit: Some("abc1234-dirty".into()),
            rows: vec![
                Entry {
                    name: "id_get_el3".into(),
                    median: 296,
                    min: 296,
                    iterations: 1000,
                    split: [("EL3".into(), 292.0), ("NS-EL2".into(), 4.0)].into(),
                },
                Entry {
                    name: "cycle_1".into(),
                    median: 41_692,
                    min: 41_692,
                    iterations: 16,
                    split: BTreeMap::new(),
                },
            ],
        };
        let dir = std::env::temp_dir().join(format!("xtask-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("bench.json");
        run.save(&path).expect("saved");
        let text = std::fs::read_to_string(&path).expect("written");
        assert!(text.contains("\"name\": \"id_get_el3\""), "{text}");
        assert!(
            !text.contains("\"split\": {}"),
            "empty splits are left out: {text}"
        );
        assert_eq!(Run::load(&path), Some(run.clone()));
        assert_eq!(run.get("cycle_1").map(|e| e.median), Some(41_692));
        assert!(run.get("nothing").is_none());
        std::fs::write(&path, "| an old table |").expect("written");
        assert_eq!(Run::load(&path), None);
        assert_eq!(Run::load(&dir.join("absent.json")), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn changes_read_as_signed_differences() {
        assert_eq!(change(296, 296), "=");
        assert_eq!(change(8218, 7892), "−326 (−4.0 %)");
        assert_eq!(change(2706, 2718), "+12 (+0.4 %)");
        assert_eq!(change(0, 5), "+5");
    }
}
