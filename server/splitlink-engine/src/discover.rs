//! What cargo finds on the file system by itself: a package's targets (`src/main.rs`,
//! `src/bin/*.rs`, `examples/`, `tests/`, `benches/`, `build.rs`…) and a package's files (what
//! `cargo package --list` would list: nested packages, `include`/`exclude`, `.gitignore`).
//!
//! Both are compared by the build to what the last capture saw: a different target list means
//! cargo must decide the targets again; a package's file list (with contents) is what a build
//! script without `rerun-if-changed` depends on.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The directories whose entries cargo turns into targets, and the file each directory entry
/// needs (`name.rs` directly, or `name/main.rs`).
pub const TARGET_DIRS: [&str; 4] = ["src/bin", "examples", "tests", "benches"];

/// The files that make up a package's inferred targets, relative to the package directory,
/// sorted: `src/lib.rs`, `src/main.rs` and `build.rs` when they exist, and in each of
/// [`TARGET_DIRS`] every `*.rs` file and every `*/main.rs`. (A superset of what cargo infers
/// when `autobins`-style keys are off: those keys are in the manifest, itself a trigger.)
pub fn target_files(package_dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for f in ["src/lib.rs", "src/main.rs", "build.rs"] {
        if package_dir.join(f).is_file() {
            v.push(PathBuf::from(f));
        }
    }
    for d in TARGET_DIRS {
        let Ok(rd) = std::fs::read_dir(package_dir.join(d)) else { continue };
        for e in rd.flatten() {
            let name = e.file_name();
            let rel = Path::new(d).join(&name);
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir() || (t.is_symlink() && e.path().is_dir()));
            if is_dir {
                if e.path().join("main.rs").is_file() {
                    v.push(rel.join("main.rs"));
                }
            } else if rel.extension().is_some_and(|x| x == "rs") {
                v.push(rel);
            }
        }
    }
    v.sort();
    v
}

/// The `include` / `exclude` lists of a package's manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRules {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl PackageRules {
    /// Read from a `Cargo.toml` (missing keys or an unreadable file: no rules).
    pub fn of_manifest(manifest: &Path) -> PackageRules {
        let Ok(text) = std::fs::read_to_string(manifest) else { return PackageRules::default() };
        let Ok(t) = text.parse::<toml::Table>() else { return PackageRules::default() };
        let list = |k: &str| -> Vec<String> {
            t.get("package")
                .and_then(|p| p.get(k))
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
                .unwrap_or_default()
        };
        PackageRules { include: list("include"), exclude: list("exclude") }
    }
}

/// Every file under `dir`, recursively, sorted, without entering directories `skip` names
/// (symlinks are not followed).
pub fn walk_files(dir: &Path, skip: impl Fn(&std::ffi::OsStr) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if !skip(&e.file_name()) {
                    stack.push(e.path());
                }
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn in_git_repo(dir: &Path) -> bool {
    dir.ancestors().any(|a| a.join(".git").exists())
}

/// The files of the package at `root` as cargo lists them for packaging and for the
/// fingerprint of a build script that prints no `rerun-if-changed`: every file under `root`
/// except nested packages (directories with their own `Cargo.toml`) and `root/target`; with
/// `include`, only the matching files (and `Cargo.toml`); otherwise minus `exclude`, minus what
/// `.gitignore` ignores inside a git repository, and minus dot-files outside one. Sorted,
/// absolute. `also_skip` (the target directory) is never entered.
pub fn package_files(root: &Path, rules: &PackageRules, also_skip: &Path) -> Vec<PathBuf> {
    use ignore::gitignore::{Gitignore, GitignoreBuilder};
    let git = rules.include.is_empty() && in_git_repo(root);
    let build = |lines: &[String], dot: bool| -> Gitignore {
        let mut b = GitignoreBuilder::new(root);
        if dot {
            let _ = b.add_line(None, ".*");
        }
        for l in lines {
            let _ = b.add_line(None, l);
        }
        b.build().unwrap_or_else(|_| Gitignore::empty())
    };
    let exclude = build(&rules.exclude, rules.include.is_empty() && !git);
    let include = build(&rules.include, false);
    let keep = move |rel: &Path, is_dir: bool| -> bool {
        if rel == Path::new("Cargo.toml") || rel == Path::new("Cargo.lock") {
            return true;
        }
        if rules.include.is_empty() {
            !exclude.matched_path_or_any_parents(rel, is_dir).is_ignore()
        } else {
            is_dir || include.matched_path_or_any_parents(rel, false).is_ignore()
        }
    };
    let root_buf = root.to_path_buf();
    let skip = also_skip.to_path_buf();
    let walk = ignore::WalkBuilder::new(root)
        .hidden(false)
        .ignore(false)
        .parents(git)
        .git_ignore(git)
        .git_exclude(git)
        .git_global(git)
        .require_git(true)
        .follow_links(true)
        .filter_entry(move |e| {
            let p = e.path();
            if p == root_buf {
                return true;
            }
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            if is_dir && (p.join("Cargo.toml").exists() || p == root_buf.join("target") || p.starts_with(&skip) || e.file_name() == ".git")
            {
                return false;
            }
            true
        })
        .build();
    let mut out = Vec::new();
    for e in walk.flatten() {
        if e.file_type().is_some_and(|t| t.is_dir()) {
            continue;
        }
        let p = e.into_path();
        let Ok(rel) = p.strip_prefix(root) else { continue };
        if keep(rel, false) {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, files: &[&str]) {
        for f in files {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
    }

    fn rel(root: &Path, v: Vec<PathBuf>) -> Vec<String> {
        v.into_iter().map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn targets_as_cargo_infers_them() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(
            r,
            &[
                "src/lib.rs",
                "src/main.rs",
                "src/bin/a.rs",
                "src/bin/b/main.rs",
                "src/bin/b/helper.rs",
                "src/bin/c/other.rs",
                "examples/e.rs",
                "tests/t.rs",
                "tests/common/mod.rs",
                "src/util.rs",
                "build.rs",
            ],
        );
        assert_eq!(
            rel(r, target_files(r).into_iter().map(|p| r.join(p)).collect()),
            ["build.rs", "examples/e.rs", "src/bin/a.rs", "src/bin/b/main.rs", "src/lib.rs", "src/main.rs", "tests/t.rs"]
        );
    }

    #[test]
    fn package_files_skip_nested_packages_target_and_dotfiles() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(
            r,
            &[
                "Cargo.toml",
                "build.rs",
                "crates/core/main.rs",
                "crates/searcher/Cargo.toml",
                "crates/searcher/src/lib.rs",
                "target/debug/x",
                ".hidden",
                "docs/a.md",
                "gen/out.rs",
            ],
        );
        let files = rel(r, package_files(r, &PackageRules::default(), &r.join("target")));
        assert_eq!(files, ["Cargo.toml", "build.rs", "crates/core/main.rs", "docs/a.md", "gen/out.rs"]);
        let ex = PackageRules { include: vec![], exclude: vec!["docs/".into(), "/gen".into()] };
        assert_eq!(rel(r, package_files(r, &ex, &r.join("target"))), ["Cargo.toml", "build.rs", "crates/core/main.rs"]);
        let inc = PackageRules { include: vec!["crates/**/*.rs".into()], exclude: vec![] };
        assert_eq!(rel(r, package_files(r, &inc, &r.join("target"))), ["Cargo.toml", "crates/core/main.rs"]);
    }

    #[test]
    fn package_files_honour_gitignore_in_a_repository() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir(r.join(".git")).unwrap();
        write(r, &["Cargo.toml", "src/lib.rs", "notes.log", ".cargo/config.toml"]);
        std::fs::write(r.join(".gitignore"), "*.log\n").unwrap();
        assert_eq!(
            rel(r, package_files(r, &PackageRules::default(), &r.join("target"))),
            [".cargo/config.toml", ".gitignore", "Cargo.toml", "src/lib.rs"]
        );
    }
}
