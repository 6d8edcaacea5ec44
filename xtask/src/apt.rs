//! The machine's APT sources, read to find its Debian mirror, and the entries xtask writes from
//! it: a backports entry for the host tools and the deb-src entry of the private APT
//! configuration TF-A's source is fetched through. No mirror host is ever written here: every
//! URI comes from the machine's own sources.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One APT source entry, from either format (one-line `.list` or deb822 `.sources`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// `deb`, `deb-src`.
    pub types: Vec<String>,
    /// Archive roots.
    pub uris: Vec<String>,
    /// `bookworm`, `bookworm-updates`, ...
    pub suites: Vec<String>,
    /// `main`, `contrib`, ...
    pub components: Vec<String>,
    /// The `Signed-By` value as written (deb822 continuation lines kept, for embedded keys).
    pub signed_by: Option<String>,
    /// False for deb822 `Enabled: no`.
    pub enabled: bool,
}

/// Entries of one-line format text (`/etc/apt/sources.list`, `*.list`).
pub fn parse_one_line(text: &str) -> Vec<Source> {
    let mut sources = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (kind, rest) = match line.split_once(char::is_whitespace) {
            Some((kind, rest)) => (kind, rest.trim_start()),
            None => continue,
        };
        if kind != "deb" && kind != "deb-src" {
            continue;
        }
        let mut signed_by = None;
        let rest = if let Some(options) = rest.strip_prefix('[') {
            let Some((options, after)) = options.split_once(']') else {
                continue;
            };
            for option in options.split_whitespace() {
                if let Some(value) = option.strip_prefix("signed-by=") {
                    signed_by = Some(value.to_owned());
                }
            }
            after
        } else {
            rest
        };
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        sources.push(Source {
            types: vec![kind.to_owned()],
            uris: vec![uri.to_owned()],
            suites: vec![suite.to_owned()],
            components: words.map(str::to_owned).collect(),
            signed_by,
            enabled: true,
        });
    }
    sources
}

/// Entries of deb822 text (`*.sources`): paragraphs of `Field: value`, continuation lines
/// indented, `#` comments.
pub fn parse_deb822(text: &str) -> Vec<Source> {
    let mut sources = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let flush = |fields: &mut Vec<(String, String)>, sources: &mut Vec<Source>| {
        if let Some(source) = paragraph(fields) {
            sources.push(source);
        }
        fields.clear();
    };
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            flush(&mut fields, &mut sources);
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push('\n');
                value.push_str(line.trim_end());
            }
        } else if let Some((key, value)) = line.split_once(':') {
            fields.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    flush(&mut fields, &mut sources);
    sources
}

fn paragraph(fields: &[(String, String)]) -> Option<Source> {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let words = |name: &str| -> Vec<String> {
        get(name)
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let source = Source {
        types: words("types"),
        uris: words("uris"),
        suites: words("suites"),
        components: words("components"),
        signed_by: get("signed-by").map(str::to_owned),
        enabled: !matches!(
            get("enabled").map(str::to_ascii_lowercase).as_deref(),
            Some("no" | "false")
        ),
    };
    (!source.types.is_empty() && !source.uris.is_empty() && !source.suites.is_empty())
        .then_some(source)
}

/// Every entry under `etc_apt` (normally `/etc/apt`): `sources.list`, then
/// `sources.list.d/*.list` and `*.sources` in name order. Unreadable files are skipped.
pub fn read_sources(etc_apt: &Path) -> Vec<Source> {
    let mut sources = std::fs::read_to_string(etc_apt.join("sources.list"))
        .map(|text| parse_one_line(&text))
        .unwrap_or_default();
    let mut parts: Vec<PathBuf> = std::fs::read_dir(etc_apt.join("sources.list.d"))
        .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    parts.sort();
    for part in parts {
        let Ok(text) = std::fs::read_to_string(&part) else {
            continue;
        };
        match part.extension().and_then(|e| e.to_str()) {
            Some("list") => sources.extend(parse_one_line(&text)),
            Some("sources") => sources.extend(parse_deb822(&text)),
            _ => {}
        }
    }
    sources
}

/// The release codename (`bookworm`) from `/etc/os-release` text.
pub fn codename(os_release: &str) -> Option<String> {
    let value = |key: &str| {
        os_release.lines().find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
        })
    };
    if let Some(name) = value("VERSION_CODENAME").filter(|n| !n.is_empty()) {
        return Some(name);
    }
    // Older files: VERSION="12 (bookworm)".
    let version = value("VERSION")?;
    let inner = version.split_once('(')?.1.split_once(')')?.0;
    (!inner.is_empty()).then(|| inner.to_owned())
}

/// A Debian archive the machine already uses, and the key it is checked with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mirror {
    /// The archive root (as written in the machine's sources).
    pub uri: String,
    /// `Signed-By` of the entry it came from.
    pub signed_by: Option<String>,
}

/// The mirror of the machine's base suite `codename`: the first enabled entry listing that
/// suite itself, else one listing a `codename-*` suite other than `-security` (the security
/// archive is a different tree). CD-ROM entries do not count.
pub fn debian_mirror(sources: &[Source], codename: &str) -> Option<Mirror> {
    let usable = |s: &&Source| {
        s.enabled
            && s.types.iter().any(|t| t == "deb" || t == "deb-src")
            && s.uris.iter().any(|u| !u.starts_with("cdrom:"))
    };
    let related = |suite: &str| {
        suite
            .strip_prefix(codename)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|pocket| pocket != "security")
    };
    let chosen = sources
        .iter()
        .filter(usable)
        .find(|s| s.suites.iter().any(|suite| suite == codename))
        .or_else(|| {
            sources
                .iter()
                .filter(usable)
                .find(|s| s.suites.iter().any(|suite| related(suite)))
        })?;
    let uri = chosen.uris.iter().find(|u| !u.starts_with("cdrom:"))?;
    Some(Mirror {
        uri: uri.clone(),
        signed_by: chosen.signed_by.clone(),
    })
}

/// Whether an enabled entry of type `kind` lists `suite`.
pub fn has_suite(sources: &[Source], kind: &str, suite: &str) -> bool {
    sources.iter().any(|s| {
        s.enabled && s.types.iter().any(|t| t == kind) && s.suites.iter().any(|x| x == suite)
    })
}

impl Mirror {
    /// A deb822 paragraph of type `kind` for `suite` (component main) on this mirror.
    pub fn entry(&self, kind: &str, suite: &str) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "Types: {kind}");
        let _ = writeln!(text, "URIs: {}", self.uri);
        let _ = writeln!(text, "Suites: {suite}");
        let _ = writeln!(text, "Components: main");
        if let Some(key) = &self.signed_by {
            let _ = writeln!(text, "Signed-By: {key}");
        }
        text
    }
}

/// The private APT configuration of `dir` (`build/apt`): its own source list, package lists,
/// cache and (empty) dpkg status, so `apt-get update` and `apt-get source` run as any user and
/// leave the machine's APT state alone. The machine's `apt.conf.d` (proxies) still applies.
pub fn private_config(dir: &Path, as_root: bool) -> String {
    let path = |rel: &str| dir.join(rel).display().to_string();
    let mut text = String::new();
    let _ = writeln!(text, "Dir::Etc::SourceList \"{}\";", path("sources.list"));
    let _ = writeln!(
        text,
        "Dir::Etc::SourceParts \"{}\";",
        path("sources.list.d")
    );
    let _ = writeln!(text, "Dir::Etc::Preferences \"{}\";", path("preferences"));
    let _ = writeln!(
        text,
        "Dir::Etc::PreferencesParts \"{}\";",
        path("preferences.d")
    );
    let _ = writeln!(text, "Dir::State \"{}\";", path("state"));
    let _ = writeln!(text, "Dir::State::Lists \"{}\";", path("lists"));
    let _ = writeln!(text, "Dir::State::status \"{}\";", path("status"));
    let _ = writeln!(text, "Dir::Cache \"{}\";", path("cache"));
    if as_root {
        // The build tree is the caller's; apt's `_apt` download user may not write there.
        let _ = writeln!(text, "APT::Sandbox::User \"root\";");
    }
    text
}

/// The directories and empty files [`private_config`] names, relative to its `dir`.
pub const PRIVATE_DIRS: &[&str] = &[
    "sources.list.d",
    "preferences.d",
    "state",
    "lists/partial",
    "cache/archives/partial",
];

/// The lines that make a private configuration resolve and download binary packages of `arch`
/// only, whatever the machine's own architectures (`dpkg --add-architecture`) are.
pub fn architecture_config(arch: &str) -> String {
    format!("APT::Architecture \"{arch}\";\nAPT::Architectures {{ \"{arch}\"; }};\n")
}

/// The paragraphs of control-file text (`apt-cache show`): `(field, value)` pairs, field names
/// lower-cased, continuation lines joined with newlines.
pub fn control_paragraphs(text: &str) -> Vec<Vec<(String, String)>> {
    let mut paragraphs = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !fields.is_empty() {
                paragraphs.push(std::mem::take(&mut fields));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
        } else if let Some((key, value)) = line.split_once(':') {
            fields.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    if !fields.is_empty() {
        paragraphs.push(fields);
    }
    paragraphs
}

/// The value of `name` (lower case) in a paragraph of [`control_paragraphs`].
pub fn field<'a>(paragraph: &'a [(String, String)], name: &str) -> Option<&'a str> {
    paragraph
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The package names of a `Depends` value, one list of alternatives per comma-separated item
/// (version constraints, architecture qualifiers and restrictions dropped).
pub fn dependency_names(value: &str) -> Vec<Vec<String>> {
    value
        .split(',')
        .map(|item| {
            item.split('|')
                .filter_map(|alt| {
                    let name = alt.trim().split([' ', '(', ':', '[', '<']).next()?;
                    (!name.is_empty()).then(|| name.to_owned())
                })
                .collect::<Vec<_>>()
        })
        .filter(|alts| !alts.is_empty())
        .collect()
}

/// One line of `apt-cache madison`: `package | version | <archive> <suite>/<component> ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// The package.
    pub package: String,
    /// Its version there.
    pub version: String,
    /// The suite offering it (`sid`, `trixie-backports`).
    pub suite: String,
}

/// The binary-package lines of `apt-cache madison` output (source lines have no `Packages`).
pub fn parse_madison(text: &str) -> Vec<Offer> {
    text.lines()
        .filter_map(|line| {
            let mut cols = line.split('|').map(str::trim);
            let (package, version, from) = (cols.next()?, cols.next()?, cols.next()?);
            if !from.ends_with("Packages") {
                return None;
            }
            let suite = from.split_whitespace().nth(1)?.split('/').next()?;
            Some(Offer {
                package: package.to_owned(),
                version: version.to_owned(),
                suite: suite.to_owned(),
            })
        })
        .collect()
}

/// Debian version order (dpkg's: epoch, then upstream version, then revision, each compared by
/// runs of non-digits, where `~` sorts before everything, and runs of digits as numbers).
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let (ea, ua, ra) = split_version(a);
    let (eb, ub, rb) = split_version(b);
    ea.cmp(&eb)
        .then_with(|| compare_part(ua, ub))
        .then_with(|| compare_part(ra, rb))
}

/// Epoch, upstream version and revision of a Debian version.
fn split_version(version: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match version.split_once(':') {
        Some((e, rest)) if e.bytes().all(|b| b.is_ascii_digit()) => (e.parse().unwrap_or(0), rest),
        _ => (0, version),
    };
    let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, ""));
    (epoch, upstream, revision)
}

/// dpkg's `verrevcmp`.
fn compare_part(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    fn order(c: Option<u8>) -> i32 {
        match c {
            None => 0,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => i32::from(c),
            Some(b'~') => -1,
            Some(c) => i32::from(c) + 256,
        }
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architecture_lines() {
        assert_eq!(
            architecture_config("arm64"),
            "APT::Architecture \"arm64\";\nAPT::Architectures { \"arm64\"; };\n"
        );
    }

    #[test]
    fn debian_versions_order_as_dpkg_does() {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let cases = [
            ("7.2.13-1", "7.2.9-1", Greater),
            ("7.3.4-1~bpo13+1", "7.3.4-1", Less),
            ("7.3.4-1~bpo13+1", "7.2.13-1", Greater),
            ("1:1.38.0-3+b1", "1.39.0-1", Greater),
            ("1.0~rc1-1", "1.0-1", Less),
            ("1.0-1", "1.0-1+b1", Less),
            ("2.43-7", "2.43-7", Equal),
            ("1.001", "1.1", Equal),
            ("1.0a", "1.0", Greater),
            ("1.0+dfsg", "1.0.1", Less),
            (
                "1:1.3.dfsg+really1.3.2-4",
                "1:1.3.dfsg+really1.3.1-9",
                Greater,
            ),
            ("4.10.0-1", "4.9.0-3", Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn apt_cache_show_paragraphs_and_depends() {
        let text = "Package: libssl3t64\nVersion: 3.6.5-1\nDepends: libc6 (>= 2.38), \
                    libzstd1 (>= 1.5.5), zlib1g (>= 1:1.1.4), openssl-provider-legacy\n\
                    Description: x\n more\n\nPackage: linux-image-7.2.13+deb14-cloud-arm64\n\
                    Depends: dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, \
                    python3:any, foo [arm64] <!nocheck>\n";
        let paragraphs = control_paragraphs(text);
        assert_eq!(paragraphs.len(), 2);
        assert_eq!(field(&paragraphs[0], "version"), Some("3.6.5-1"));
        assert_eq!(field(&paragraphs[0], "description"), Some("x\nmore"));
        let deps = dependency_names(field(&paragraphs[0], "depends").unwrap_or(""));
        assert_eq!(
            deps,
            [
                vec!["libc6"],
                vec!["libzstd1"],
                vec!["zlib1g"],
                vec!["openssl-provider-legacy"]
            ]
        );
        let deps = dependency_names(field(&paragraphs[1], "depends").unwrap_or(""));
        assert_eq!(
            deps,
            [
                vec!["dracut", "initramfs-tools", "linux-initramfs-tool"],
                vec!["python3"],
                vec!["foo"]
            ]
        );
        assert_eq!(field(&paragraphs[1], "version"), None);
    }

    #[test]
    fn madison_lines_name_their_suite() {
        let text = "linux-image-cloud-arm64 | 7.3.4-1~bpo13+1 | http://m.example/debian \
                    trixie-backports/main arm64 Packages\n\
                    linux-image-cloud-arm64 |   7.2.13-1 | http://m.example/debian sid/main arm64 Packages\n\
                    linux-signed-arm64 | 7.2.13+1 | http://m.example/debian sid/main Sources\n";
        let offers = parse_madison(text);
        assert_eq!(offers.len(), 2);
        assert_eq!(offers[0].suite, "trixie-backports");
        assert_eq!(offers[1].version, "7.2.13-1");
        assert_eq!(offers[1].suite, "sid");
    }

    const DEB822: &str = "\
Types: deb
# a snapshot URI, commented
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no
";

    #[test]
    fn deb822_paragraphs_are_read() {
        let sources = parse_deb822(DEB822);
        assert_eq!(sources.len(), 3);
        assert_eq!(sources[0].types, ["deb"]);
        assert_eq!(sources[0].uris, ["http://mirror.example/debian"]);
        assert_eq!(sources[0].suites, ["bookworm", "bookworm-updates"]);
        assert_eq!(sources[0].components, ["main", "contrib"]);
        assert_eq!(
            sources[0].signed_by.as_deref(),
            Some("/usr/share/keyrings/debian-archive-keyring.gpg")
        );
        assert!(sources[0].enabled);
        assert!(!sources[2].enabled);
    }

    #[test]
    fn embedded_keys_keep_their_continuation_lines() {
        let text = "Types: deb\nURIs: http://m.example/debian\nSuites: trixie\n\
                    Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n \
                    -----END PGP PUBLIC KEY BLOCK-----\nComponents: main\n";
        let sources = parse_deb822(text);
        assert_eq!(sources.len(), 1);
        let key = sources[0].signed_by.as_deref().unwrap_or("");
        assert!(key.starts_with("\n -----BEGIN PGP"), "{key:?}");
        assert!(key.contains("\n .\n abc\n"));
        assert_eq!(sources[0].components, ["main"]);
        let mirror = debian_mirror(&sources, "trixie").expect("mirror");
        let entry = mirror.entry("deb-src", "trixie");
        assert!(entry.contains("Signed-By: \n -----BEGIN PGP"), "{entry}");
        // The rendered entry reads back as the same key.
        assert_eq!(
            parse_deb822(&entry)[0].signed_by.as_deref(),
            sources[0].signed_by.as_deref()
        );
    }

    #[test]
    fn one_line_entries_with_options_and_comments() {
        let text = "# comment\n\
                    deb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main non-free # tail\n\
                    deb-src http://m.example/debian bookworm main\n\
                    deb cdrom:[Debian 12]/ bookworm main\n\
                    rpm http://x.example/ foo\n\
                    deb [broken http://x.example bookworm main\n";
        let sources = parse_one_line(text);
        assert_eq!(sources.len(), 3);
        assert_eq!(sources[0].uris, ["http://m.example/debian"]);
        assert_eq!(sources[0].components, ["main", "non-free"]);
        assert_eq!(sources[0].signed_by.as_deref(), Some("/k.gpg"));
        assert_eq!(sources[1].types, ["deb-src"]);
        assert_eq!(sources[1].signed_by, None);
    }

    #[test]
    fn mirror_is_the_base_suite_entry_not_security_or_disabled() {
        let mut sources = parse_deb822(DEB822);
        sources.rotate_left(1); // security first: it must still not be chosen
        let mirror = debian_mirror(&sources, "bookworm").expect("a mirror");
        assert_eq!(mirror.uri, "http://mirror.example/debian");
        assert_eq!(
            mirror.signed_by.as_deref(),
            Some("/usr/share/keyrings/debian-archive-keyring.gpg")
        );
        // Only security and a disabled entry: no mirror.
        let rest: Vec<Source> = sources
            .into_iter()
            .filter(|s| !s.enabled || s.suites == ["bookworm-security"])
            .collect();
        assert_eq!(debian_mirror(&rest, "bookworm"), None);
    }

    #[test]
    fn mirror_falls_back_to_an_updates_suite_and_skips_cdroms() {
        let text = "deb cdrom:[Debian]/ bookworm main\n\
                    deb http://m.example/debian bookworm-updates main\n";
        let mirror = debian_mirror(&parse_one_line(text), "bookworm").expect("mirror");
        assert_eq!(mirror.uri, "http://m.example/debian");
        assert_eq!(debian_mirror(&parse_one_line(text), "trixie"), None);
    }

    #[test]
    fn deb_src_entry_for_trixie() {
        let mirror = debian_mirror(&parse_deb822(DEB822), "bookworm").expect("mirror");
        assert_eq!(
            mirror.entry("deb-src", "trixie"),
            "Types: deb-src\nURIs: http://mirror.example/debian\nSuites: trixie\n\
             Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        );
        let unsigned = Mirror {
            uri: "http://m.example/debian".into(),
            signed_by: None,
        };
        assert!(
            !unsigned
                .entry("deb", "bookworm-backports")
                .contains("Signed-By")
        );
    }

    #[test]
    fn suites_are_found_by_type() {
        let mut sources = parse_deb822(DEB822);
        assert!(!has_suite(&sources, "deb", "bookworm-backports"));
        sources.extend(parse_one_line(
            "deb-src http://m.example/debian bookworm-backports main\n",
        ));
        assert!(!has_suite(&sources, "deb", "bookworm-backports"));
        sources.extend(parse_one_line(
            "deb http://m.example/debian bookworm-backports main\n",
        ));
        assert!(has_suite(&sources, "deb", "bookworm-backports"));
    }

    #[test]
    fn codename_from_os_release() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\n\
                    VERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";
        assert_eq!(codename(text).as_deref(), Some("bookworm"));
        assert_eq!(
            codename("VERSION=\"13 (trixie)\"\n").as_deref(),
            Some("trixie")
        );
        assert_eq!(codename("ID=debian\n"), None);
    }

    #[test]
    fn private_config_points_every_state_dir_inside() {
        let text = private_config(Path::new("/b/apt"), false);
        for line in text.lines() {
            assert!(line.contains("\"/b/apt/"), "{line}");
        }
        assert!(text.contains("Dir::State::Lists \"/b/apt/lists\";"));
        assert!(text.contains("Dir::State::status \"/b/apt/status\";"));
        assert!(!text.contains("Sandbox"));
        assert!(private_config(Path::new("/b/apt"), true).contains("APT::Sandbox::User \"root\";"));
    }

    #[test]
    fn sources_are_read_from_both_formats_in_order() {
        let dir = std::env::temp_dir().join(format!("xtask-apt-{}", std::process::id()));
        let parts = dir.join("sources.list.d");
        std::fs::create_dir_all(&parts).expect("temp dir");
        std::fs::write(
            dir.join("sources.list"),
            "deb http://a.example/debian bookworm main\n",
        )
        .expect("write");
        std::fs::write(parts.join("b.sources"), DEB822).expect("write");
        std::fs::write(
            parts.join("c.list.disabled"),
            "deb http://c.example/ x main\n",
        )
        .expect("write");
        let sources = read_sources(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(sources.len(), 4);
        assert_eq!(sources[0].uris, ["http://a.example/debian"]);
        assert_eq!(sources[1].uris, ["http://mirror.example/debian"]);
    }
}
