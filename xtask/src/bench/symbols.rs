//! Function symbols of an ELF image (the SPMC's, TF-A's BL31, the proxy's), for the flat
//! profile of a row, and the address range the image loads at.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionKind, SymbolKind};

use crate::console::{Error, Result};

/// The functions of one image, by address.
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    /// (start, end, demangled name), sorted by start.
    functions: Vec<(u64, u64, String)>,
    /// From the first loadable segment's start to the last one's end.
    image: Range<u64>,
}

impl Symbols {
    /// Reads the function symbols and segments of the ELF file at `path`.
    pub fn load(path: &Path) -> Result<Symbols> {
        let data = std::fs::read(path)
            .map_err(|e| Error::new(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&data).map_err(|e| Error::new(format!("{}: {e}", path.display())))
    }

    /// The same from the file's bytes.
    pub fn parse(data: &[u8]) -> std::result::Result<Symbols, String> {
        let file = object::File::parse(data).map_err(|e| format!("not an ELF file: {e}"))?;
        // Code symbols: functions with their size, and labels of assembly (size 0, typed or
        // not), which reach to the next symbol. Mapping symbols (`$x`, `$d`) name no code.
        let in_code = |s: &object::Symbol<'_, '_>| {
            s.section_index()
                .and_then(|i| file.section_by_index(i).ok())
                .is_some_and(|section| section.kind() == SectionKind::Text)
        };
        let starts: Vec<(u64, u64, String)> = file
            .symbols()
            .filter(|s| {
                s.kind() == SymbolKind::Text
                    || matches!(s.kind(), SymbolKind::Label | SymbolKind::Unknown) && in_code(s)
            })
            .filter_map(|s| {
                let name = s
                    .name()
                    .ok()
                    .filter(|n| !n.is_empty() && !n.starts_with('$'))?;
                Some((s.address(), s.size(), demangle(name)))
            })
            .collect();
        let segments = file
            .segments()
            .filter(|s| s.size() > 0)
            .map(|s| (s.address(), s.address() + s.size()));
        let (start, end) = segments
            .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
            .ok_or("no loadable segment")?;
        let image = start..end;
        let functions = functions(starts, image.end);
        Ok(Symbols { functions, image })
    }

    /// Where the image loads.
    pub fn image(&self) -> Range<u64> {
        self.image.clone()
    }

    /// The function `addr` lies in.
    pub fn function(&self, addr: u64) -> Option<&str> {
        let at = self
            .functions
            .partition_point(|f| f.0 <= addr)
            .checked_sub(1)?;
        let (start, end, name) = self.functions.get(at)?;
        (*start..*end).contains(&addr).then_some(name.as_str())
    }

    /// Instruction counts by address → by function, largest first; addresses in no function
    /// are summed under `None`.
    pub fn flat(&self, counts: impl Iterator<Item = (u64, u64)>) -> Vec<(Option<&str>, u64)> {
        let mut by: HashMap<Option<&str>, u64> = HashMap::new();
        for (addr, n) in counts {
            *by.entry(self.function(addr)).or_default() += n;
        }
        let mut flat: Vec<(Option<&str>, u64)> = by.into_iter().collect();
        flat.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        flat
    }
}

/// Code symbols (start, size, name) → functions (start, end, name), sorted: a sized symbol
/// ends at its size, a label (size 0) at the next symbol or `image_end`; a label inside a
/// sized function (a local branch target of assembly) is part of it, and of several symbols
/// at one address the sized one names it.
fn functions(mut starts: Vec<(u64, u64, String)>, image_end: u64) -> Vec<(u64, u64, String)> {
    starts.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    starts.dedup_by_key(|f| f.0);
    let mut sized_end = 0;
    starts.retain(|(start, size, _)| {
        let keep = *size > 0 || *start >= sized_end;
        if *size > 0 {
            sized_end = sized_end.max(start + size);
        }
        keep
    });
    starts
        .iter()
        .enumerate()
        .map(|(i, (start, size, name))| {
            let next = starts.get(i + 1).map_or(image_end, |f| f.0);
            let end = if *size > 0 { start + size } else { next };
            (*start, end, name.clone())
        })
        .collect()
}

/// A Rust symbol without its hash (`spmc::Spmc::handle`); C names as they are.
fn demangle(name: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_by_address_and_the_flat_profile() {
        let symbols = Symbols {
            functions: vec![
                (0x1000, 0x1010, "a".into()),
                (0x1010, 0x1040, "b".into()),
                (0x2000, 0x2004, "c".into()),
            ],
            image: 0x1000..0x3000,
        };
        assert_eq!(symbols.function(0x1000), Some("a"));
        assert_eq!(symbols.function(0x100c), Some("a"));
        assert_eq!(symbols.function(0x1010), Some("b"));
        assert_eq!(symbols.function(0x1040), None, "between functions");
        assert_eq!(symbols.function(0xfff), None);
        assert_eq!(symbols.function(0x2004), None);
        let flat = symbols.flat([(0x1000, 3), (0x1014, 5), (0x1018, 5), (0x1800, 2)].into_iter());
        assert_eq!(flat, vec![(Some("b"), 10), (Some("a"), 3), (None, 2)]);
        assert_eq!(symbols.image(), 0x1000..0x3000);
    }

    #[test]
    fn labels_reach_to_the_next_symbol_unless_inside_a_function() {
        let starts = vec![
            (0x100, 0, "vectors".to_owned()),
            (0x200, 0x40, "el3_exit".to_owned()),
            (0x210, 0, "end".to_owned()),
            (0x200, 0, "el3_exit_label".to_owned()),
            (0x300, 0, "copy".to_owned()),
            (0x308, 0, "copy_loop".to_owned()),
        ];
        assert_eq!(
            functions(starts, 0x400),
            vec![
                (0x100, 0x200, "vectors".to_owned()),
                (0x200, 0x240, "el3_exit".to_owned()),
                (0x300, 0x308, "copy".to_owned()),
                (0x308, 0x400, "copy_loop".to_owned()),
            ]
        );
    }

    #[test]
    fn rust_names_lose_their_hash() {
        assert_eq!(
            demangle("_ZN4spmc4Spmc6handle17h0123456789abcdefE"),
            "spmc::Spmc::handle"
        );
        assert_eq!(demangle("memcpy"), "memcpy");
    }

    #[test]
    fn a_real_elf_file_parses() {
        // The test binary itself: an ELF file on every host xtask runs on.
        let me = std::env::current_exe().expect("own path");
        let symbols = Symbols::load(&me).expect("parses");
        assert!(symbols.image().start < symbols.image().end);
        assert!(Symbols::parse(b"not an elf").is_err());
    }
}
