//! The partition manifests in `sp-manifests/` say what `DEFINITIONS` says: the QEMU images and
//! the in-process harness must boot the same partitions.

use std::collections::BTreeMap;
use std::path::PathBuf;

use test_partitions::{DEFINITIONS, Definition};

fn manifests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sp-manifests")
}

/// The cells of `<...>` groups (hex or decimal), all groups of a property concatenated.
fn cells(value: &str) -> Vec<u64> {
    value
        .split(['<', '>', ',', ' ', '\t'])
        .filter(|t| !t.is_empty())
        .map(|t| match t.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
            None => t.parse().unwrap(),
        })
        .collect()
}

/// A multi-cell number (one or two cells).
fn number(c: &[u64]) -> u64 {
    c.iter().fold(0, |acc, cell| acc << 32 | cell)
}

/// The properties of the node named `node` (`"/"` for the root): name → value text.
fn properties(dts: &str, node: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut path: Vec<String> = Vec::new();
    for line in dts.lines() {
        let line = line.trim();
        if line.starts_with("/*") || line.starts_with('*') || line.starts_with("/dts-v1/") {
            continue;
        }
        if let Some(name) = line.strip_suffix('{') {
            path.push(name.trim().to_string());
            continue;
        }
        if line.starts_with("};") {
            path.pop();
            continue;
        }
        if path.last().map(String::as_str) != Some(node) {
            continue;
        }
        if let Some((key, value)) = line.trim_end_matches(';').split_once('=') {
            out.insert(key.trim().to_string(), value.trim().to_string());
        } else if let Some(flag) = line.strip_suffix(';') {
            // A property without a value (`notification-support;`).
            out.insert(flag.trim().to_string(), String::new());
        }
    }
    out
}

fn cells_of(props: &BTreeMap<String, String>, key: &str, name: &str) -> Vec<u64> {
    cells(props.get(key).unwrap_or_else(|| panic!("{name}: no {key}")))
}

fn check(def: &Definition, props: &BTreeMap<String, String>) {
    let name = def.name;
    assert_eq!(
        props.get("description").map(String::as_str),
        Some(&*format!("\"{name}\""))
    );
    assert_eq!(
        cells_of(props, "ffa-version", name),
        [u64::from(ffa::version::to_u32(def.ffa_version))],
        "{name}: ffa-version"
    );
    let uuid_cells: Vec<u64> = def
        .uuids
        .iter()
        .flat_map(|u| ffa::UuidHelper::to_u32_regs(*u))
        .map(u64::from)
        .collect();
    assert_eq!(cells_of(props, "uuid", name), uuid_cells, "{name}: uuid");
    let id = props.get("id").map(|v| number(&cells(v)));
    assert_eq!(id, def.id.map(u64::from), "{name}: id");
    assert_eq!(
        cells_of(props, "execution-ctx-count", name),
        [u64::from(def.exec_ctx_count)],
        "{name}: execution-ctx-count"
    );
    assert_eq!(
        cells_of(props, "exception-level", name),
        [2],
        "{name}: S-EL1"
    );
    assert_eq!(
        number(&cells_of(props, "load-address", name)),
        def.load_address,
        "{name}: load-address"
    );
    assert_eq!(
        number(&cells_of(props, "entrypoint-offset", name)),
        def.entrypoint_offset,
        "{name}: entrypoint-offset"
    );
    assert_eq!(
        cells_of(props, "boot-order", name),
        [u64::from(def.boot_order)],
        "{name}: boot-order"
    );
    assert_eq!(
        cells_of(props, "messaging-method", name),
        [u64::from(def.messaging)],
        "{name}: messaging-method"
    );
    assert_eq!(
        props.contains_key("notification-support"),
        def.notifications,
        "{name}: notification-support"
    );
    let gp = props.get("gp-register-num").map(|v| number(&cells(v)));
    assert_eq!(
        gp,
        def.boot_info_register.map(u64::from),
        "{name}: gp-register-num"
    );
}

#[test]
fn partition_manifests_match_the_definitions() {
    for def in DEFINITIONS {
        let path = manifests_dir().join(format!("{}.dts", def.name));
        let dts =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        check(def, &properties(&dts, "/"));
    }
}

#[test]
fn spmc_manifest_names_the_spmc_and_gives_each_partition_its_memory() {
    let dts = std::fs::read_to_string(manifests_dir().join("spmc_manifest.dts")).unwrap();
    let attribute = properties(&dts, "attribute");
    assert_eq!(
        cells_of(&attribute, "spmc_id", "SPMC"),
        [u64::from(test_partitions::SPMC_ID)]
    );
    for def in DEFINITIONS {
        // The vmN node whose debug_name is this partition.
        let node = (1..=8)
            .map(|i| (format!("vm{i}"), properties(&dts, &format!("vm{i}"))))
            .find(|(_, p)| p.get("debug_name") == Some(&format!("\"{}\"", def.name)))
            .unwrap_or_else(|| panic!("no vmN node for {}", def.name))
            .1;
        assert_eq!(
            number(&cells_of(&node, "load_address", def.name)),
            def.load_address
        );
        assert_eq!(
            number(&cells_of(&node, "mem_size", def.name)),
            def.memory_size
        );
        assert_eq!(
            cells_of(&node, "vcpu_count", def.name),
            [u64::from(def.exec_ctx_count)]
        );
    }
}
