//! Fast mode (opt-in: `--fast`, the editors' `fast` setting; never silently): links that trade
//! byte-identity with cargo's binary for time, never behaviour. What it changes, lever by lever
//! (each measured in docs/benchmarks.md):
//!
//! 1. **The wild linker** for the split links (`-Zlink-only`), when `wild` is installed
//!    (`SPLITLINK_WILD`, `PATH`, `$CARGO_HOME/bin`): rustc's self-contained rust-lld is turned off
//!    (`-Clinker-features=-lld -Clink-self-contained=-linker`) and the C compiler driver is
//!    pointed at a directory whose `ld` is wild (`-Clink-arg=-B<dir>`, wild's documented
//!    integration), under `<target-dir>/splitlink/wild/`. Compiles are unchanged: the objects are
//!    the exact mode's, so switching modes relinks and recompiles nothing.
//!
//! 2. **Dependencies with less debuginfo**, for the `dev` and `test` profiles: `debug =
//!    "line-tables-only"` for every non-workspace package (backtraces keep their file:line; a
//!    debugger sees dependencies' lines but not their locals; the workspace keeps cargo's full
//!    debuginfo). Given to cargo as `--config` for the capture
//!    ([`crate::Selection::cargo_config`]), so cargo computes other `-C metadata` for every unit:
//!    fast mode's units are other units, with their own records and files, and the exact
//!    mode's stay untouched (switching back rebuilds nothing).
//!
//!    Split DWARF for the workspace (`split-debuginfo = "unpacked"`) was tried and is not used:
//!    rustc names each `.dwo` with a part that changes on every compile and the objects point at
//!    that name, so every compile changed the objects (an end-of-line comment relinked: 0 link
//!    skips in the 30-edit differential test instead of the exact mode's) and old `.dwo` files
//!    piled up beside them.
//!
//! Invariant: the link fingerprint covers lever 1's arguments ([`crate::fingerprint::link_args_digest`]
//! gets them), so a binary linked in one mode is never taken as up to date in the other; lever
//! 2's units differ by key.

use crate::workspace::Selection;
use std::path::{Path, PathBuf};

/// How fast mode links, decided once per engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FastLink {
    /// The linker used: `wild 0.10.0 (/path/wild)`, or why the default one is (wild not found).
    pub linker: String,
    /// Extra arguments for every `-Zlink-only` step.
    pub args: Vec<String>,
}

/// `wild` from `SPLITLINK_WILD`, `PATH`, or cargo's install directory.
pub fn find_wild() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SPLITLINK_WILD").map(PathBuf::from) {
        return p.is_file().then_some(p);
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Some(h) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(h).join("bin"));
    }
    if let Some(h) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(h).join(".cargo").join("bin"));
    }
    dirs.into_iter().map(|d| d.join("wild")).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Fast mode's link for this target directory: wild when found (its `ld` link is made under
/// `<target-dir>/splitlink/wild/`), else the default linker, said so.
pub fn fast_link(target_dir: &Path) -> FastLink {
    let Some(wild) = find_wild() else {
        return FastLink {
            linker:
                "the default linker: `wild` was not found (install it: cargo install wild-linker@0.10.0 --locked; or set SPLITLINK_WILD)"
                    .into(),
            args: vec![],
        };
    };
    let dir = target_dir.join("splitlink").join("wild");
    let ld = dir.join("ld");
    let ok = std::fs::create_dir_all(&dir).is_ok() && {
        if std::fs::read_link(&ld).ok().as_deref() != Some(wild.as_path()) {
            let _ = std::fs::remove_file(&ld);
            std::os::unix::fs::symlink(&wild, &ld).is_ok()
        } else {
            true
        }
    };
    if !ok {
        return FastLink { linker: format!("the default linker: cannot create {}", ld.display()), args: vec![] };
    }
    // `Wild 0.10.0 non-git-build (compatible with GNU linkers)` → `wild 0.10.0`.
    let version = std::process::Command::new(&wild)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().nth(1).map(String::from))
        .unwrap_or_default();
    FastLink {
        linker: format!("wild {version} ({})", wild.display()).replace("wild  (", "wild ("),
        args: vec!["-Clinker-features=-lld".into(), "-Clink-self-contained=-linker".into(), format!("-Clink-arg=-B{}", dir.display())],
    }
}

/// Lever 2's cargo configuration for a selection (nothing for profiles other than `dev` and
/// `test`, which inherits `dev`: a release build's debuginfo is the user's choice).
pub fn debuginfo_config(sel: &Selection) -> Vec<String> {
    match sel.profile_name().as_str() {
        "dev" | "test" => vec![r#"profile.dev.package."*".debug="line-tables-only""#.to_string()],
        _ => vec![],
    }
}

/// The selection fast mode builds: `sel` with lever 2's configuration.
pub fn selection(sel: &Selection) -> Selection {
    let mut s = sel.clone();
    for c in debuginfo_config(sel) {
        if !s.cargo_config.contains(&c) {
            s.cargo_config.push(c);
        }
    }
    s
}

/// What fast mode does besides its linker, for `explain` and the summary.
pub fn debuginfo_note(sel: &Selection) -> Option<&'static str> {
    (!debuginfo_config(sel).is_empty()).then_some("dependencies built with line-tables-only debuginfo")
}
