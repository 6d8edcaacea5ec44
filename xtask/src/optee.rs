//! OP-TEE OS as a secure partition: Debian's `optee-os` source package (the newest in sid),
//! fetched through the private APT configuration TF-A's source uses, built as an S-EL1
//! partition for an S-EL2 SPMC with OP-TEE/build's QEMU flags (Hafnium's interrupt calls on,
//! its default), and cached by its inputs. TF-A packages `tee-raw.bin` with our manifest
//! (`sp-manifests/clients/optee.dts`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::console::{self, Error, Result};
use crate::files::write;
use crate::tfa;

/// The Debian source package.
pub const SOURCE_PACKAGE: &str = "optee-os";
/// The suite it is taken from: the newest OP-TEE.
pub const SOURCE_SUITE: &str = "sid";
/// The oldest upstream version the stack is written against (its FF-A ABI use, checked in
/// docs: real-clients.md).
pub const OLDEST: (u32, u32) = (4, 10);

/// Where OP-TEE's partition lives in secure RAM: its package's load address, and the partition
/// manifest's `mem-size` (from there to the end of QEMU's 16 MiB of secure RAM).
pub const LOAD_ADDRESS: u64 = 0x0e70_0000;
/// See [`LOAD_ADDRESS`].
pub const MEM_SIZE: u64 = 0x90_0000;
/// The image's offset in its package (the manifest's `entrypoint-offset`, sptool's default).
const IMAGE_OFFSET: u64 = 0x4000;

/// `build/optee`.
fn optee_dir(root: &Path) -> PathBuf {
    root.join("build").join("optee")
}

/// The OP-TEE OS source, fetched and unpacked on first use.
pub fn source(root: &Path) -> Result<tfa::Source> {
    tfa::debian_source(
        root,
        &tfa::Wanted {
            title: "OP-TEE OS",
            package: SOURCE_PACKAGE,
            suite: SOURCE_SUITE,
            src: optee_dir(root).join("src"),
            check: check_version,
        },
    )
}

/// `(major, minor)` of a Debian version's upstream part (`4.10.0-2` → (4, 10)).
fn major_minor(debian: &str) -> Option<(u32, u32)> {
    let mut parts = tfa::upstream_version(debian).split(['.', '+', '~']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn check_version(debian: &str) -> Result<()> {
    match major_minor(debian) {
        Some(found) if found >= OLDEST => Ok(()),
        _ => Err(Error::new(format!(
            "{SOURCE_PACKAGE} {debian} from {SOURCE_SUITE}: the stack needs {}.{} or newer",
            OLDEST.0, OLDEST.1
        ))),
    }
}

/// OP-TEE/build's flags for an S-EL1 partition under an S-EL2 SPMC (`qemu_v8.mk`,
/// `SPMC_AT_EL=2`), with its secure RAM where our layout puts it, and its version string the
/// Debian version `version` (OP-TEE would otherwise take this repository's git commit).
pub fn make_flags(version: &str) -> Vec<String> {
    let mut flags: Vec<String> = [
        "PLATFORM=vexpress-qemu_armv8a",
        "CFG_ARM64_core=y",
        "CFG_USER_TA_TARGETS=ta_arm64",
        "CROSS_COMPILE=aarch64-linux-gnu-",
        "CROSS_COMPILE64=aarch64-linux-gnu-",
        "CROSS_COMPILE_core=aarch64-linux-gnu-",
        "CROSS_COMPILE_ta_arm64=aarch64-linux-gnu-",
        "CFG_CORE_SEL2_SPMC=y",
        "CFG_ARM_GICV3=n",
        "CFG_CORE_HAFNIUM_INTC=y",
        "CFG_CORE_WORKAROUND_NSITR_CACHE_PRIME=n",
        "CFG_TEE_CORE_LOG_LEVEL=3",
        "DEBUG=0",
    ]
    .map(str::to_owned)
    .into();
    flags.push(format!("TEE_IMPL_VERSION={version}"));
    flags.push("CFG_OS_REV_REPORTS_GIT_SHA1=n".to_owned());
    flags.push(format!(
        "CFG_TZDRAM_START={:#x}",
        LOAD_ADDRESS + IMAGE_OFFSET
    ));
    flags.push(format!("CFG_TZDRAM_SIZE={:#x}", MEM_SIZE - IMAGE_OFFSET));
    flags
}

/// A finished build.
pub struct Built {
    /// The partition image (`core/tee-raw.bin`).
    pub image: PathBuf,
    /// The core's ELF file with symbols (`core/tee.elf`), if the build left one.
    pub elf: Option<PathBuf>,
    /// The Debian version built.
    pub version: String,
}

const KEY_FILE: &str = "xtask-inputs";

/// The core's ELF file in the build's `core/`, and its name among the stack's ELF files.
pub const ELF_NAME: &str = "tee.elf";

/// Builds (or reuses) OP-TEE OS from `source`.
pub fn build(root: &Path, source: &tfa::Source) -> Result<Built> {
    let out = optee_dir(root).join("out");
    let flags = make_flags(&source.version);
    let key = format!("{}\n{}\n", source.version, flags.join("\n"));
    let image = out.join("core").join("tee-raw.bin");
    let key_path = optee_dir(root).join(KEY_FILE);
    let elf = out.join("core").join(ELF_NAME);
    let built = || Built {
        image: image.clone(),
        elf: elf.is_file().then(|| elf.clone()),
        version: source.version.clone(),
    };
    if image.is_file() && std::fs::read_to_string(&key_path).is_ok_and(|k| k == key) {
        console::note(&format!(
            "OP-TEE OS {} up to date: {}",
            source.version,
            image.display()
        ));
        return Ok(built());
    }
    if out.exists() {
        std::fs::remove_dir_all(&out)
            .map_err(|e| Error::new(format!("cannot clear {}: {e}", out.display())))?;
    }
    let _ = std::fs::remove_file(&key_path);
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut make = Command::new("make");
    make.current_dir(&source.dir)
        .arg(format!("-j{jobs}"))
        .arg(format!("O={}", out.display()))
        .args(&flags);
    // Debian's python3 has pyelftools and cryptography; a pyenv or venv python may not.
    let path = std::env::var("PATH").unwrap_or_default();
    make.env("PATH", format!("/usr/bin:{path}"));
    console::run_quiet(&mut make, "OP-TEE OS: building the core and in-tree TAs")?;
    if !image.is_file() {
        return Err(Error::new(format!(
            "OP-TEE's make succeeded but left no {}",
            image.display()
        )));
    }
    write(&key_path, &key)?;
    Ok(built())
}

/// OP-TEE's own TAs the normal world needs beside Debian's xtest package: pkcs11 (xtest's
/// pkcs11 suite), from the last build.
pub fn extra_tas(root: &Path) -> Result<Vec<PathBuf>> {
    let dir = optee_dir(root).join("out").join("ta").join("pkcs11");
    let tas: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::new(format!("cannot list {}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ta"))
        .collect();
    if tas.is_empty() {
        return Err(Error::new(format!(
            "OP-TEE's build left no pkcs11 TA in {}",
            dir.display()
        )));
    }
    Ok(tas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_4_10_on_are_taken() {
        assert_eq!(major_minor("4.10.0-2"), Some((4, 10)));
        assert_eq!(major_minor("1:4.11.0+dfsg-1"), Some((4, 11)));
        assert!(check_version("4.10.0-2").is_ok());
        assert!(check_version("5.0.0-1").is_ok());
        assert!(check_version("4.5.0-2").is_err());
        assert!(check_version("garbage").is_err());
    }

    #[test]
    fn flags_are_op_tee_builds_for_an_sel2_spmc_in_our_layout() {
        let flags = make_flags("4.10.0-2");
        for wanted in [
            "CFG_CORE_SEL2_SPMC=y",
            "CFG_CORE_HAFNIUM_INTC=y",
            "PLATFORM=vexpress-qemu_armv8a",
            "CFG_TZDRAM_START=0xe704000",
            "CFG_TZDRAM_SIZE=0x8fc000",
            "TEE_IMPL_VERSION=4.10.0-2",
            "CFG_OS_REV_REPORTS_GIT_SHA1=n",
        ] {
            assert!(flags.iter().any(|f| f == wanted), "{wanted} missing");
        }
        assert_eq!(
            LOAD_ADDRESS + MEM_SIZE,
            0x0f00_0000,
            "secure RAM ends there"
        );
    }
}
