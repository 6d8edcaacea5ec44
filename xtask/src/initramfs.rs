//! The normal world's initramfs, built from the unpacked Debian packages ([`crate::linux`]):
//! a merged-/usr tree (`/bin`, `/sbin`, `/lib` → `usr/…`, `/lib/ld-linux-aarch64.so.1`),
//! busybox with its applets as symlinks, the FF-A and OP-TEE modules decompressed, xtest, its
//! TAs, tee-supplicant and its plugin, the libraries their ELF `NEEDED` entries reach, and
//! `/init` (`xtask/initramfs/init`). Packed by a small newc writer here and compressed by
//! Debian's `gzip` (an Essential package); the modules are decompressed by `xz` (xz-utils, a
//! host prerequisite already), so no crate is added. Rebuilt only when its inputs change.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::console::{self, Error, Result};
use crate::linux::{self, NormalWorld};

/// `/init`.
pub const INIT: &str = include_str!("../initramfs/init");

/// Bumped when the layout changes, so older images are rebuilt.
const FORMAT: &str = "initramfs 2";

/// Where the multiarch libraries live (usr/lib/aarch64-linux-gnu).
const MULTIARCH: &str = "usr/lib/aarch64-linux-gnu";
/// The dynamic loader every binary names.
const LOADER: &str = "ld-linux-aarch64.so.1";

/// What the init does after the common set-up (`xtask.mode=` on the kernel command line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// An interactive busybox shell on the console, with job control.
    Shell,
    /// One xtest case (1001 unless given), a PASS/FAIL line, power off.
    Smoke,
    /// xtest's full run (or the arguments given), a PASS/FAIL line, power off.
    Xtest,
}

impl Mode {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Shell => "shell",
            Self::Smoke => "smoke",
            Self::Xtest => "xtest",
        }
    }
}

/// The kernel command-line words the init reads: `xtask.mode=<mode>`, and `xtask.xtest=` with
/// xtest's arguments joined by commas (the init splits them back; an argument holding a comma
/// or a space cannot be passed).
pub fn mode_args(mode: Mode, xtest: &[&str]) -> String {
    let mut text = format!("xtask.mode={}", mode.name());
    if !xtest.is_empty() {
        text.push_str(" xtask.xtest=");
        text.push_str(&xtest.join(","));
    }
    text
}

/// A line the init prints for the harness (`xtask-init: ...`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Marker {
    /// The init started in `mode` on kernel `release` (`started mode=<m> release=<r>`).
    Start {
        /// The mode as the command line said it.
        mode: String,
        /// `uname -r`.
        release: String,
    },
    /// `insmod` of a module.
    Module {
        /// The module.
        name: String,
        /// Whether it loaded.
        loaded: bool,
    },
    /// A device on the FF-A bus (`ffa-device <id> <uuid> <device>`).
    FfaDevice {
        /// The partition ID.
        id: u16,
        /// The partition's UUID.
        uuid: String,
        /// Its name on the bus (`arm-ffa-1`).
        device: String,
    },
    /// How many FF-A devices there are.
    FfaDevices(u32),
    /// The TEE devices (`/dev/tee0 /dev/teepriv0`), none without OP-TEE.
    TeeDevices(Vec<String>),
    /// Whether tee-supplicant started.
    Supplicant {
        /// It did.
        started: bool,
    },
    /// The shell starts.
    Shell,
    /// xtest's verdict in `smoke` or `xtest` mode.
    Result {
        /// The mode.
        mode: String,
        /// xtest exited 0.
        passed: bool,
        /// Its exit status.
        rc: i32,
    },
    /// The init failed (unknown mode).
    Error(String),
    /// The init powers the machine off.
    Poweroff,
}

impl Marker {
    /// The prefix of every marker line.
    pub const PREFIX: &'static str = "xtask-init: ";

    /// The marker on a console line, if any (kernel messages may precede it on the line).
    pub fn parse(line: &str) -> Option<Self> {
        let rest = &line[line.find(Self::PREFIX)? + Self::PREFIX.len()..];
        let rest = rest.trim_end();
        let (word, args) = rest.split_once(' ').unwrap_or((rest, ""));
        let value = |key: &str| {
            args.split_whitespace()
                .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        };
        Some(match word {
            "started" => Self::Start {
                mode: value("mode")?.to_owned(),
                release: value("release")?.to_owned(),
            },
            "module" => {
                let mut words = args.split_whitespace();
                let name = words.next()?.to_owned();
                Self::Module {
                    name,
                    loaded: words.next()? == "loaded",
                }
            }
            "ffa-device" => {
                let mut words = args.split_whitespace();
                let id = words.next()?;
                Self::FfaDevice {
                    id: u16::from_str_radix(id.strip_prefix("0x").unwrap_or(id), 16).ok()?,
                    uuid: words.next()?.to_owned(),
                    device: words.next().unwrap_or("").to_owned(),
                }
            }
            "ffa-devices" => Self::FfaDevices(args.trim().parse().ok()?),
            "tee-devices" => Self::TeeDevices(
                args.split_whitespace()
                    .filter(|d| *d != "none")
                    .map(str::to_owned)
                    .collect(),
            ),
            "tee-supplicant" => Self::Supplicant {
                started: args.starts_with("started"),
            },
            "shell" => Self::Shell,
            "result" => {
                let mut words = args.split_whitespace();
                let mode = words.next()?.to_owned();
                let passed = match words.next()? {
                    "PASS" => true,
                    "FAIL" => false,
                    _ => return None,
                };
                Self::Result {
                    mode,
                    passed,
                    rc: value("rc")?.parse().ok()?,
                }
            }
            "error" => Self::Error(args.to_owned()),
            "poweroff" => Self::Poweroff,
            _ => return None,
        })
    }
}

/// One entry of an initramfs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A directory with these permission bits.
    Dir(u32),
    /// A regular file.
    File {
        /// Permission bits.
        mode: u32,
        /// Contents.
        data: Vec<u8>,
    },
    /// A symbolic link to this target.
    Symlink(String),
    /// A character device.
    CharDev {
        /// Permission bits.
        mode: u32,
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
}

/// An initramfs' tree: paths relative to `/`, kept sorted so every directory precedes its
/// contents in the archive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    entries: BTreeMap<String, Entry>,
}

impl Tree {
    /// Adds `entry` at `path` (leading `/` optional) and any missing parent directory (0755);
    /// replaces what was there.
    pub fn insert(&mut self, path: &str, entry: Entry) {
        let path = path.trim_matches('/');
        let mut parent = String::new();
        for part in path
            .split('/')
            .take(path.split('/').count().saturating_sub(1))
        {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            self.entries
                .entry(parent.clone())
                .or_insert(Entry::Dir(0o755));
        }
        self.entries.insert(path.to_owned(), entry);
    }

    /// Whether `path` is in the tree.
    pub fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(path.trim_matches('/'))
    }

    /// The tree as a newc (`070701`) cpio archive: owner root, time 0, inodes numbered in
    /// order, then the `TRAILER!!!` entry.
    pub fn write_newc(&self, out: &mut impl Write) -> io::Result<()> {
        for (ino, (path, entry)) in (1u32..).zip(&self.entries) {
            let (mode, nlink, data, rdev): (u32, u32, &[u8], (u32, u32)) = match entry {
                Entry::Dir(mode) => (0o040_000 | mode, 2, &[], (0, 0)),
                Entry::File { mode, data } => (0o100_000 | mode, 1, data, (0, 0)),
                Entry::Symlink(target) => (0o120_777, 1, target.as_bytes(), (0, 0)),
                Entry::CharDev { mode, major, minor } => {
                    (0o020_000 | mode, 1, &[], (*major, *minor))
                }
            };
            newc_entry(out, ino, mode, nlink, rdev, path, data)?;
        }
        newc_entry(out, 0, 0, 1, (0, 0), "TRAILER!!!", &[])
    }
}

fn newc_entry(
    out: &mut impl Write,
    ino: u32,
    mode: u32,
    nlink: u32,
    rdev: (u32, u32),
    name: &str,
    data: &[u8],
) -> io::Result<()> {
    let size = u32::try_from(data.len())
        .map_err(|_| io::Error::other(format!("{name}: too large for cpio")))?;
    let name_size = name.len() + 1;
    // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
    let header = format!(
        "070701{ino:08X}{mode:08X}{:08X}{:08X}{nlink:08X}{:08X}{size:08X}{:08X}{:08X}{:08X}{:08X}\
         {name_size:08X}{:08X}",
        0, 0, 0, 0, 0, rdev.0, rdev.1, 0
    );
    out.write_all(header.as_bytes())?;
    out.write_all(name.as_bytes())?;
    out.write_all(&[0])?;
    out.write_all(&[0; 3][..pad4(header.len() + name_size)])?;
    out.write_all(data)?;
    out.write_all(&[0; 3][..pad4(data.len())])
}

/// Bytes to the next multiple of 4.
fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

/// The `DT_NEEDED` names of an ELF64 little-endian file, from its dynamic section (none for a
/// static binary).
pub fn elf_needed(bytes: &[u8]) -> std::result::Result<Vec<String>, String> {
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let usize_at = |at: usize| u64_at(at).and_then(|v| usize::try_from(v).ok());
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let truncated = || "truncated ELF file".to_owned();
    let shoff = usize_at(0x28).ok_or_else(truncated)?;
    let shentsize = usize::from(u16_at(0x3a).ok_or_else(truncated)?);
    let shnum = usize::from(u16_at(0x3c).ok_or_else(truncated)?);
    let section = |i: usize| -> Option<(u32, usize, usize, usize)> {
        let at = shoff.checked_add(i.checked_mul(shentsize)?)?;
        Some((
            u32_at(at + 4)?,
            usize_at(at + 0x18)?,
            usize_at(at + 0x20)?,
            usize::try_from(u32_at(at + 0x28)?).ok()?,
        ))
    };
    const SHT_DYNAMIC: u32 = 6;
    const DT_NEEDED: u64 = 1;
    let mut needed = Vec::new();
    for i in 0..shnum {
        let (kind, offset, size, link) = section(i).ok_or_else(truncated)?;
        if kind != SHT_DYNAMIC {
            continue;
        }
        let (_, strtab, strsize, _) = section(link).ok_or_else(truncated)?;
        let strings = bytes
            .get(strtab..strtab.saturating_add(strsize))
            .ok_or_else(truncated)?;
        for entry in (offset..offset.saturating_add(size)).step_by(16) {
            let tag = u64_at(entry).ok_or_else(truncated)?;
            if tag == 0 {
                break;
            }
            if tag == DT_NEEDED {
                let at = usize_at(entry + 8).ok_or_else(truncated)?;
                let name = strings.get(at..).ok_or_else(truncated)?;
                let end = name.iter().position(|b| *b == 0).ok_or_else(truncated)?;
                needed.push(String::from_utf8_lossy(&name[..end]).into_owned());
            }
        }
    }
    Ok(needed)
}

/// The applet names compiled into a busybox binary: its sorted, NUL-separated name table, which
/// starts `[`, `[[` and ends with an empty name.
pub fn busybox_applets(binary: &[u8]) -> Vec<String> {
    let start = b"[\0[[\0";
    let Some(at) = binary.windows(start.len()).position(|w| w == start) else {
        return Vec::new();
    };
    binary[at..]
        .split(|b| *b == 0)
        .map_while(|name| {
            let ok = !name.is_empty() && name.iter().all(|b| b.is_ascii_graphic());
            ok.then(|| String::from_utf8_lossy(name).into_owned())
        })
        .collect()
}

/// FNV-1a, 64 bits: the cache key (not a security boundary).
fn fnv(hash: &mut u64, bytes: &[u8]) {
    for b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
}

/// The cache key of an initramfs: the layout, the init, every package version and the extra
/// TAs' contents.
fn key(world: &NormalWorld, extra_tas: &[(String, Vec<u8>)]) -> String {
    let mut hash = 0xcbf2_9ce4_8422_2325;
    fnv(&mut hash, FORMAT.as_bytes());
    fnv(&mut hash, INIT.as_bytes());
    for p in &world.packages {
        fnv(&mut hash, p.name.as_bytes());
        fnv(&mut hash, p.version.as_bytes());
    }
    for (name, data) in extra_tas {
        fnv(&mut hash, name.as_bytes());
        fnv(&mut hash, data);
    }
    format!("{hash:016x}")
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::new(format!("cannot read {}: {e}", path.display())))
}

/// `path` inside `dir`, following symbolic links there (an absolute target is taken inside
/// `dir`, not on the host).
fn resolve_in(dir: &Path, path: &str) -> Option<PathBuf> {
    let mut rel = PathBuf::from(path.trim_start_matches('/'));
    for _ in 0..16 {
        let full = dir.join(&rel);
        let meta = std::fs::symlink_metadata(&full).ok()?;
        if !meta.file_type().is_symlink() {
            return meta.is_file().then_some(full);
        }
        let target = std::fs::read_link(&full).ok()?;
        rel = if target.is_absolute() {
            target.strip_prefix("/").ok()?.to_path_buf()
        } else {
            rel.parent()?.join(target)
        };
    }
    None
}

/// The packages' files, looked up by path.
struct Files<'a> {
    world: &'a NormalWorld,
}

impl Files<'_> {
    /// `path` of package `name`.
    fn get(&self, name: &str, path: &str) -> Result<(PathBuf, Vec<u8>)> {
        let package = self
            .world
            .package(name)
            .ok_or_else(|| Error::new(format!("`{name}` was not resolved for the initramfs")))?;
        let full = resolve_in(&package.dir, path).ok_or_else(|| {
            Error::new(format!(
                "`{name}` {} has no {path}: Debian's packaging changed",
                package.version
            ))
        })?;
        let data = read(&full)?;
        Ok((full, data))
    }

    /// The regular files of a directory of package `name`, by file name.
    fn dir(&self, name: &str, path: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let package = self
            .world
            .package(name)
            .ok_or_else(|| Error::new(format!("`{name}` was not resolved for the initramfs")))?;
        let dir = package.dir.join(path);
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            Error::new(format!(
                "`{name}` {} has no {path} ({e}): Debian's packaging changed",
                package.version
            ))
        })?;
        let mut files = Vec::new();
        for entry in entries.filter_map(|e| e.ok()) {
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(full) = resolve_in(&package.dir, &format!("{path}/{file}")) {
                files.push((file, read(&full)?));
            }
        }
        files.sort();
        Ok(files)
    }

    /// The shared library `soname` in any package's multiarch directory.
    fn library(&self, soname: &str) -> Option<Vec<u8>> {
        self.world.packages.iter().find_map(|p| {
            ["usr/lib/aarch64-linux-gnu", "lib/aarch64-linux-gnu"]
                .iter()
                .find_map(|d| resolve_in(&p.dir, &format!("{d}/{soname}")))
                .and_then(|full| std::fs::read(full).ok())
        })
    }
}

/// Adds every library `binaries` reach through `NEEDED`, under [`MULTIARCH`].
fn add_libraries(tree: &mut Tree, files: &Files<'_>, binaries: &[(String, Vec<u8>)]) -> Result<()> {
    let mut seen = BTreeSet::new();
    let mut pending: Vec<(String, Vec<u8>)> = binaries.to_vec();
    while let Some((who, bytes)) = pending.pop() {
        let needed = elf_needed(&bytes).map_err(|e| Error::new(format!("{who}: {e}")))?;
        for soname in needed {
            if !seen.insert(soname.clone()) {
                continue;
            }
            let data = files.library(&soname).ok_or_else(|| {
                Error::new(format!(
                    "{who} needs {soname}, which no resolved package holds (add its package \
                     to linux::USERLAND)"
                ))
            })?;
            tree.insert(
                &format!("{MULTIARCH}/{soname}"),
                Entry::File {
                    mode: 0o755,
                    data: data.clone(),
                },
            );
            pending.push((soname, data));
        }
    }
    Ok(())
}

/// The module `.ko.xz` at `path`, decompressed by `xz`.
fn unxz(path: &Path) -> Result<Vec<u8>> {
    let out = Command::new("xz")
        .arg("-dc")
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::new(format!("cannot start xz (package xz-utils): {e}")))?;
    if !out.status.success() {
        return Err(Error::new(format!(
            "xz -dc {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

/// The initramfs' tree.
fn tree(world: &NormalWorld, extra_tas: &[(String, Vec<u8>)]) -> Result<Tree> {
    let files = Files { world };
    let mut tree = Tree::default();
    let dir = |tree: &mut Tree, path: &str, mode: u32| tree.insert(path, Entry::Dir(mode));
    let file = |tree: &mut Tree, path: &str, mode: u32, data: Vec<u8>| {
        tree.insert(path, Entry::File { mode, data });
    };
    let link = |tree: &mut Tree, path: &str, target: &str| {
        tree.insert(path, Entry::Symlink(target.to_owned()));
    };
    // Merged /usr, as Debian lays it out.
    for d in [
        "usr/bin", "usr/sbin", "usr/lib", "proc", "sys", "dev", "run", "root", "etc",
    ] {
        dir(&mut tree, d, 0o755);
    }
    dir(&mut tree, "tmp", 0o1777);
    dir(&mut tree, "var/lib/optee-client", 0o700);
    link(&mut tree, "bin", "usr/bin");
    link(&mut tree, "sbin", "usr/sbin");
    link(&mut tree, "lib", "usr/lib");
    link(
        &mut tree,
        &format!("usr/lib/{LOADER}"),
        &format!("aarch64-linux-gnu/{LOADER}"),
    );
    // The kernel opens the console before /init runs, ahead of devtmpfs.
    tree.insert(
        "dev/console",
        Entry::CharDev {
            mode: 0o600,
            major: 5,
            minor: 1,
        },
    );
    file(&mut tree, "init", 0o755, INIT.as_bytes().to_vec());
    file(
        &mut tree,
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\n".to_vec(),
    );
    file(&mut tree, "etc/group", 0o644, b"root:x:0:\n".to_vec());

    let (_, busybox) = files.get("busybox-static", "usr/bin/busybox")?;
    let applets = busybox_applets(&busybox);
    if !applets.iter().any(|a| a == "sh") {
        return Err(Error::new(
            "busybox-static's busybox has no applet table with `sh`: Debian's build changed",
        ));
    }
    file(&mut tree, "usr/bin/busybox", 0o755, busybox);
    for applet in &applets {
        // The table names `busybox` itself too; a link must not replace the binary.
        let path = format!("usr/bin/{applet}");
        if !tree.contains(&path) {
            link(&mut tree, &path, "busybox");
        }
    }

    let kernel = &world.kernel;
    let modules_dir = format!("usr/lib/modules/{}", kernel.release);
    for (name, path) in linux::MODULES.iter().zip(&kernel.modules) {
        file(
            &mut tree,
            &format!("{modules_dir}/{name}.ko"),
            0o644,
            unxz(path)?,
        );
    }
    let order: String = linux::MODULES.iter().map(|m| format!("{m}\n")).collect();
    file(
        &mut tree,
        &format!("{modules_dir}/load-order"),
        0o644,
        order.into_bytes(),
    );

    let mut binaries = Vec::new();
    let (_, xtest) = files.get("optee-test-qemu", "usr/bin/xtest")?;
    file(&mut tree, "usr/bin/xtest", 0o755, xtest.clone());
    binaries.push(("xtest".to_owned(), xtest));
    let (_, supplicant) = files.get("tee-supplicant", "usr/sbin/tee-supplicant")?;
    file(
        &mut tree,
        "usr/sbin/tee-supplicant",
        0o755,
        supplicant.clone(),
    );
    binaries.push(("tee-supplicant".to_owned(), supplicant));
    for (name, data) in files.dir("optee-test-qemu", "usr/lib/tee-supplicant/plugins")? {
        file(
            &mut tree,
            &format!("usr/lib/tee-supplicant/plugins/{name}"),
            0o755,
            data.clone(),
        );
        binaries.push((name, data));
    }
    for (name, data) in files.dir("optee-test-qemu", "usr/lib/optee_armtz")? {
        file(
            &mut tree,
            &format!("usr/lib/optee_armtz/{name}"),
            0o444,
            data,
        );
    }
    for (name, data) in extra_tas {
        file(
            &mut tree,
            &format!("usr/lib/optee_armtz/{name}"),
            0o444,
            data.clone(),
        );
    }
    add_libraries(&mut tree, &files, &binaries)?;
    if !tree.contains(&format!("{MULTIARCH}/{LOADER}")) {
        return Err(Error::new(format!(
            "no binary needs {LOADER}: Debian's build changed"
        )));
    }
    Ok(tree)
}

/// Builds `build/linux/initrd.cpio.gz` from `world` and `extra_tas` (files copied into
/// `/usr/lib/optee_armtz` under their own names), unless the one there was built from the same
/// inputs; returns its path.
pub fn build(root: &Path, world: &NormalWorld, extra_tas: &[PathBuf]) -> Result<PathBuf> {
    let dir = linux::linux_dir(root);
    let output = dir.join("initrd.cpio.gz");
    let key_file = dir.join("initrd.key");
    let mut tas = Vec::new();
    for path in extra_tas {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::new(format!("{}: not a file", path.display())))?;
        tas.push((name, read(path)?));
    }
    let key = key(world, &tas);
    if output.is_file() && std::fs::read_to_string(&key_file).is_ok_and(|k| k.trim() == key) {
        return Ok(output);
    }
    console::header("Normal world: initramfs");
    let started = std::time::Instant::now();
    let tree = tree(world, &tas)?;
    let mut cpio = Vec::new();
    tree.write_newc(&mut cpio)
        .map_err(|e| Error::new(format!("cannot pack the initramfs: {e}")))?;
    let partial = dir.join("initrd.cpio.gz.partial");
    gzip(&cpio, &partial)?;
    std::fs::rename(&partial, &output)
        .map_err(|e| Error::new(format!("cannot write {}: {e}", output.display())))?;
    std::fs::write(&key_file, format!("{key}\n"))
        .map_err(|e| Error::new(format!("cannot write {}: {e}", key_file.display())))?;
    let packed = std::fs::metadata(&output).map_or(0, |m| m.len());
    console::note(&format!(
        "{}: {} entries, {} (cpio {}), {:.1} s",
        output.display(),
        tree.entries.len(),
        console::size(packed),
        console::size(cpio.len() as u64),
        started.elapsed().as_secs_f64()
    ));
    Ok(output)
}

/// `data` compressed by `gzip -n` (no name or time: the same inputs give the same bytes) into
/// `path`.
fn gzip(data: &[u8], path: &Path) -> Result<()> {
    let out = std::fs::File::create(path)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", path.display())))?;
    let mut child = Command::new("gzip")
        .args(["-n", "-6"])
        .stdin(Stdio::piped())
        .stdout(out)
        .spawn()
        .map_err(|e| Error::new(format!("cannot start gzip: {e}")))?;
    let written = child.stdin.take().map(|mut stdin| stdin.write_all(data));
    let status = child
        .wait()
        .map_err(|e| Error::new(format!("cannot wait for gzip: {e}")))?;
    match written {
        Some(Ok(())) if status.success() => Ok(()),
        Some(Err(e)) => Err(Error::new(format!("cannot feed gzip: {e}"))),
        _ => Err(Error::new(format!("gzip failed ({status})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One archive entry read back: (name, mode, nlink, rdev, data).
    type Read = (String, u32, u32, (u32, u32), Vec<u8>);

    /// The newc entries of an archive.
    fn read_newc(mut bytes: &[u8]) -> Vec<Read> {
        let mut entries = Vec::new();
        let start = bytes.len();
        loop {
            let offset = start - bytes.len();
            assert_eq!(offset % 4, 0, "entries start 4-aligned");
            assert_eq!(&bytes[..6], b"070701");
            let field = |i: usize| {
                u32::from_str_radix(
                    std::str::from_utf8(&bytes[6 + 8 * i..14 + 8 * i]).unwrap(),
                    16,
                )
                .unwrap()
            };
            let (mode, nlink, size, namesize) = (field(1), field(4), field(6), field(11));
            assert_eq!((field(2), field(3), field(5)), (0, 0, 0), "root, time 0");
            let rdev = (field(9), field(10));
            let name_end = 110 + namesize as usize;
            let name = std::str::from_utf8(&bytes[110..name_end - 1])
                .unwrap()
                .to_owned();
            assert_eq!(bytes[name_end - 1], 0);
            let data_start = name_end + pad4(name_end);
            let data = bytes[data_start..data_start + size as usize].to_vec();
            bytes = &bytes[data_start + size as usize + pad4(size as usize)..];
            if name == "TRAILER!!!" {
                assert!(bytes.is_empty());
                return entries;
            }
            entries.push((name, mode, nlink, rdev, data));
        }
    }

    #[test]
    fn newc_layout_parents_first_aligned_and_typed() {
        let mut tree = Tree::default();
        tree.insert(
            "/usr/bin/busybox",
            Entry::File {
                mode: 0o755,
                data: b"abcde".to_vec(),
            },
        );
        tree.insert("bin", Entry::Symlink("usr/bin".into()));
        tree.insert("usr/bin-x", Entry::Dir(0o700));
        tree.insert(
            "dev/console",
            Entry::CharDev {
                mode: 0o600,
                major: 5,
                minor: 1,
            },
        );
        tree.insert("tmp", Entry::Dir(0o1777));
        let mut out = Vec::new();
        tree.write_newc(&mut out).expect("in memory");
        let entries = read_newc(&out);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "bin",
                "dev",
                "dev/console",
                "tmp",
                "usr",
                "usr/bin",
                "usr/bin-x",
                "usr/bin/busybox"
            ]
        );
        // Byte order: a directory always precedes what is inside it.
        for (i, name) in names.iter().enumerate() {
            if let Some((parent, _)) = name.rsplit_once('/') {
                assert!(names[..i].contains(&parent), "{name} before {parent}");
            }
        }
        let by = |name: &str| entries.iter().find(|e| e.0 == name).unwrap();
        assert_eq!(by("bin").1, 0o120_777);
        assert_eq!(by("bin").4, b"usr/bin");
        assert_eq!((by("dev").1, by("dev").2), (0o040_755, 2));
        assert_eq!(
            (by("dev/console").1, by("dev/console").3),
            (0o020_600, (5, 1))
        );
        assert_eq!(by("tmp").1, 0o041_777);
        assert_eq!(by("usr/bin/busybox").1, 0o100_755);
        assert_eq!(by("usr/bin/busybox").4, b"abcde");
        // The same tree gives the same bytes.
        let mut again = Vec::new();
        tree.write_newc(&mut again).expect("in memory");
        assert_eq!(out, again);
    }

    #[test]
    fn needed_of_this_test_binary() {
        let me = std::fs::read("/proc/self/exe").expect("own binary");
        let needed = elf_needed(&me).expect("an ELF file");
        assert!(
            needed.iter().any(|n| n.starts_with("libc.so")),
            "{needed:?}"
        );
        assert!(elf_needed(b"#!/bin/sh\n").is_err());
        assert!(elf_needed(b"\x7fELF\x02\x01\x01").is_err());
    }

    #[test]
    fn applet_table_is_read_up_to_its_end() {
        let mut binary = b"\x00junk\x00".to_vec();
        binary.extend(b"[\0[[\0ash\0insmod\0sh\0\0/var/log/wtmp\0");
        assert_eq!(busybox_applets(&binary), ["[", "[[", "ash", "insmod", "sh"]);
        assert!(busybox_applets(b"no table").is_empty());
    }

    #[test]
    fn markers_parse() {
        assert_eq!(
            Marker::parse(
                "xtask-init: started mode=smoke release=7.2.13+deb14-cloud-arm64 uptime=3.1"
            ),
            Some(Marker::Start {
                mode: "smoke".into(),
                release: "7.2.13+deb14-cloud-arm64".into()
            })
        );
        assert_eq!(
            Marker::parse("[    3.2] xtask-init: module ffa-module failed 1"),
            Some(Marker::Module {
                name: "ffa-module".into(),
                loaded: false
            })
        );
        assert_eq!(
            Marker::parse(
                "xtask-init: ffa-device 0x8001 486178e0-e7f8-11e3-bc5e-0002a5d5c51b arm-ffa-1"
            ),
            Some(Marker::FfaDevice {
                device: "arm-ffa-1".into(),
                id: 0x8001,
                uuid: "486178e0-e7f8-11e3-bc5e-0002a5d5c51b".into()
            })
        );
        assert_eq!(
            Marker::parse("xtask-init: ffa-devices 0"),
            Some(Marker::FfaDevices(0))
        );
        assert_eq!(
            Marker::parse("xtask-init: tee-devices none"),
            Some(Marker::TeeDevices(vec![]))
        );
        assert_eq!(
            Marker::parse("xtask-init: tee-devices /dev/tee0 /dev/teepriv0"),
            Some(Marker::TeeDevices(vec![
                "/dev/tee0".into(),
                "/dev/teepriv0".into()
            ]))
        );
        assert_eq!(
            Marker::parse("xtask-init: tee-supplicant failed 255"),
            Some(Marker::Supplicant { started: false })
        );
        assert_eq!(
            Marker::parse("xtask-init: result smoke FAIL rc=1"),
            Some(Marker::Result {
                mode: "smoke".into(),
                passed: false,
                rc: 1
            })
        );
        assert_eq!(
            Marker::parse("xtask-init: result xtest PASS rc=0"),
            Some(Marker::Result {
                mode: "xtest".into(),
                passed: true,
                rc: 0
            })
        );
        assert_eq!(
            Marker::parse("xtask-init: poweroff"),
            Some(Marker::Poweroff)
        );
        assert_eq!(Marker::parse("xtask-init: result smoke MAYBE rc=0"), None);
        assert_eq!(Marker::parse("no marker here"), None);
    }

    #[test]
    fn the_init_prints_every_marker_and_knows_every_mode() {
        for word in [
            "started mode=",
            "module $m loaded",
            "module $m failed",
            "ffa-device ",
            "ffa-devices ",
            "tee-devices ",
            "tee-supplicant started",
            "tee-supplicant failed",
            "\"shell\"",
            "result $1 PASS rc=0",
            "result $1 FAIL rc=",
            "error ",
            "poweroff",
        ] {
            assert!(
                INIT.contains(&format!("say {word}")) || INIT.contains(&format!("say \"{word}")),
                "the init does not print {word:?}"
            );
        }
        for mode in [Mode::Shell, Mode::Smoke, Mode::Xtest] {
            assert!(INIT.contains(&format!("\n{})\n", mode.name())), "{mode:?}");
        }
        assert!(INIT.starts_with("#!/bin/sh\n"));
        assert_eq!(
            mode_args(Mode::Xtest, &["-t", "regression"]),
            "xtask.mode=xtest xtask.xtest=-t,regression"
        );
        assert_eq!(mode_args(Mode::Shell, &[]), "xtask.mode=shell");
    }
}
