//! The real-code workspaces, assembled from crates.io sources in the layouts their repositories
//! use (no fetched source is committed):
//!
//! - **ripgrep**: the `ripgrep` package at the root (its bin `rg` is `crates/core/main.rs`, part of
//!   the root package; its build script prints no `rerun-if-changed`), its own crates as members
//!   nested under `crates/` (`crates/searcher`, `crates/cli`, …) as in BurntSushi/ripgrep. The
//!   root manifest gains a `[workspace]` listing them and `[patch.crates-io]` entries sending every
//!   dependency on them to those paths; everything else stays pinned by ripgrep's published
//!   `Cargo.lock`. The tree is committed to a fresh git repository (ripgrep's build script embeds
//!   `git rev-parse`; cargo lists a package's files by git).
//! - **cargo**: the `cargo` package (lib `cargo` at `src/cargo/lib.rs`, bin `cargo` at
//!   `src/bin/cargo/main.rs`: one name, two units) with its published `Cargo.lock`.
//!
//! A throwaway manifest that depends on the package is fetched with `cargo fetch`; the sources are
//! copied from `$CARGO_HOME/registry/src/*/NAME-VERSION`.

use crate::edits::Targets;
use crate::measure::clean_env;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// ripgrep's crates and where its repository keeps them (`grep-pcre2`, an optional dependency
/// ripgrep does not enable by default, is left out).
pub const RIPGREP_MEMBERS: [(&str, &str); 8] = [
    ("globset", "crates/globset"),
    ("grep", "crates/grep"),
    ("grep-cli", "crates/cli"),
    ("grep-matcher", "crates/matcher"),
    ("grep-printer", "crates/printer"),
    ("grep-regex", "crates/regex"),
    ("grep-searcher", "crates/searcher"),
    ("ignore", "crates/ignore"),
];

pub struct Real {
    pub template: PathBuf,
    /// name-version of each package.
    pub versions: Vec<String>,
}

/// What the benchmark scenarios edit in ripgrep: `rg`'s main file (root package), and
/// `grep-cli`, a library ripgrep uses through the `grep` facade (editing it recompiles
/// `grep-cli`, `grep` and `ripgrep`).
pub fn ripgrep_targets() -> Targets {
    Targets {
        bin_file: "crates/core/main.rs".into(),
        bin_eol_anchor: "fn run(result: crate::flags::ParseResult<HiArgs>) -> anyhow::Result<ExitCode> {".into(),
        bin_body_anchor: "fn main() -> ExitCode {".into(),
        lib_file: "crates/cli/src/lib.rs".into(),
        lib_eol_anchor: "pub fn is_tty_stdout() -> bool {".into(),
        lib_body_anchor: "pub fn is_readable_stdin() -> bool {".into(),
    }
}

/// What the scenarios edit in cargo: the bin's `main`, and the library's version formatting
/// (what `cargo -V` prints).
pub fn cargo_targets() -> Targets {
    Targets {
        bin_file: "src/bin/cargo/main.rs".into(),
        bin_eol_anchor: "fn setup_logger() -> Option<ChromeFlushGuard> {".into(),
        bin_body_anchor: "fn main() {".into(),
        lib_file: "src/cargo/version.rs".into(),
        lib_eol_anchor: "pub fn version() -> VersionInfo {".into(),
        lib_body_anchor: "fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {".into(),
    }
}

fn cargo(args: &[&str], cwd: &Path) -> Result<()> {
    let mut cmd = Command::new("cargo");
    cmd.args(args).current_dir(cwd);
    clean_env(&mut cmd);
    let o = cmd.output().with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        let tail: Vec<&str> = err.lines().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect();
        bail!("`cargo {}` failed in {}:\n{}", args.join(" "), cwd.display(), tail.join("\n"));
    }
    Ok(())
}

/// `name = "…"` / `version = "…"` pairs of a Cargo.lock.
pub fn lock_versions(lock: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut name: Option<String> = None;
    for line in lock.lines() {
        let line = line.trim();
        if line == "[[package]]" {
            name = None;
        } else if let Some(v) = line.strip_prefix("name = ") {
            name = Some(v.trim_matches('"').to_string());
        } else if let Some(v) = line.strip_prefix("version = ") {
            if let Some(n) = name.take() {
                out.push((n, v.trim_matches('"').to_string()));
            }
        }
    }
    out
}

fn cargo_home() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os("CARGO_HOME") {
        return Ok(PathBuf::from(h));
    }
    let home = std::env::var_os("HOME").context("neither CARGO_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cargo"))
}

/// Copies a directory tree (files made writable: registry sources may be read-only).
pub fn copy_dir(from: &Path, to: &Path, skip: &[&str]) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for e in std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let e = e?;
        let name = e.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let ty = e.file_type()?;
        let dst = to.join(&name);
        if ty.is_dir() {
            copy_dir(&e.path(), &dst, &[])?;
        } else if ty.is_file() {
            std::fs::copy(e.path(), &dst).with_context(|| format!("cannot copy {}", e.path().display()))?;
            let mut perm = std::fs::metadata(&dst)?.permissions();
            if perm.readonly() {
                #[allow(clippy::permissions_set_readonly_false)]
                perm.set_readonly(false);
                std::fs::set_permissions(&dst, perm)?;
            }
        } else if ty.is_symlink() {
            let target = std::fs::read_link(e.path())?;
            std::os::unix::fs::symlink(target, &dst)?;
        }
    }
    Ok(())
}

/// `cargo fetch` of a throwaway manifest depending on `dep = "=version"` in `dir/fetch`; returns
/// the resolved (name, version) pairs and the registry's source directory.
fn fetch(dir: &Path, dep: &str, version: &str) -> Result<(Vec<(String, String)>, PathBuf)> {
    let fetch = dir.join("fetch");
    let _ = std::fs::remove_dir_all(&fetch);
    std::fs::create_dir_all(fetch.join("src"))?;
    std::fs::write(
        fetch.join("Cargo.toml"),
        format!("[package]\nname = \"splitlink-bench-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\n{dep} = \"={version}\"\n\n[workspace]\n"),
    )?;
    std::fs::write(fetch.join("src/lib.rs"), "")?;
    cargo(&["fetch"], &fetch).with_context(|| format!("fetching {dep} {version} from crates.io"))?;
    let lock = std::fs::read_to_string(fetch.join("Cargo.lock"))?;
    Ok((lock_versions(&lock), cargo_home()?.join("registry/src")))
}

/// The unpacked sources of `name-version` in the registry.
fn registry_source(registry: &Path, dirname: &str) -> Result<PathBuf> {
    std::fs::read_dir(registry)
        .with_context(|| format!("cannot read {}", registry.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join(dirname))
        .find(|p| p.join("Cargo.toml").is_file())
        .with_context(|| format!("{dirname} is not in {} after cargo fetch", registry.display()))
}

fn fresh_dir(p: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(p);
    std::fs::create_dir_all(p).with_context(|| format!("cannot create {}", p.display()))
}

/// Commit the tree to a new git repository (as a checkout of the project would be).
fn git_commit(dir: &Path) -> Result<()> {
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &["-c", "user.name=splitlink-bench", "-c", "user.email=bench@splitlink.invalid", "commit", "-q", "-m", "assembled from crates.io"],
    ] {
        let st = Command::new("git").args(args).current_dir(dir).status().context("cannot run git")?;
        if !st.success() {
            bail!("git {} failed in {}", args.join(" "), dir.display());
        }
    }
    Ok(())
}

/// Fetches and assembles ripgrep in its repository's layout under `dir` (`dir/template`).
pub fn assemble_ripgrep(dir: &Path, version: &str) -> Result<Real> {
    let (versions, registry) = fetch(dir, "ripgrep", version)?;
    let template = dir.join("template");
    fresh_dir(&template)?;
    let mut found = vec![format!("ripgrep-{version}")];
    copy_dir(&registry_source(&registry, &format!("ripgrep-{version}"))?, &template, &["target"])?;
    for (m, place) in RIPGREP_MEMBERS {
        let Some((_, v)) = versions.iter().find(|(n, _)| n == m) else {
            bail!("ripgrep {version} does not depend on {m}: the list of members needs updating");
        };
        let dirname = format!("{m}-{v}");
        copy_dir(&registry_source(&registry, &dirname)?, &template.join(place), &["target"])?;
        found.push(dirname);
    }
    let mut manifest = std::fs::read_to_string(template.join("Cargo.toml"))?;
    manifest.push_str("\n# Added by splitlink-bench: the repository's workspace, members from their crates.io sources.\n[workspace]\nresolver = \"2\"\nmembers = [\n");
    for (_, place) in RIPGREP_MEMBERS {
        manifest.push_str(&format!("    \"{place}\",\n"));
    }
    manifest.push_str("]\n\n[patch.crates-io]\n");
    for (m, place) in RIPGREP_MEMBERS {
        manifest.push_str(&format!("{m} = {{ path = \"{place}\" }}\n"));
    }
    std::fs::write(template.join("Cargo.toml"), manifest)?;
    cargo(&["fetch"], &template).context("resolving the assembled workspace")?;
    // Every member must resolve to its path, not to crates.io.
    let lock = std::fs::read_to_string(template.join("Cargo.lock"))?;
    let mut registry_members = Vec::new();
    let mut cur: Option<String> = None;
    for line in lock.lines() {
        if let Some(v) = line.strip_prefix("name = ") {
            cur = Some(v.trim_matches('"').to_string());
        } else if line.starts_with("source = ") {
            if let Some(n) = cur.take() {
                if RIPGREP_MEMBERS.iter().any(|(m, _)| *m == n) {
                    registry_members.push(n);
                }
            }
        }
    }
    if !registry_members.is_empty() {
        bail!("the assembled workspace still takes {} from crates.io", registry_members.join(", "));
    }
    check_targets(&template, &ripgrep_targets(), &format!("ripgrep {version}"))?;
    git_commit(&template)?;
    Ok(Real { template, versions: found })
}

/// Fetches and assembles the `cargo` package under `dir` (`dir/template`).
pub fn assemble_cargo(dir: &Path, version: &str) -> Result<Real> {
    let (_, registry) = fetch(dir, "cargo", version)?;
    let template = dir.join("template");
    fresh_dir(&template)?;
    copy_dir(&registry_source(&registry, &format!("cargo-{version}"))?, &template, &["target"])?;
    // Its own workspace (as in its repository), not part of whatever directory holds it.
    let mut manifest = std::fs::read_to_string(template.join("Cargo.toml"))?;
    manifest.push_str("\n# Added by splitlink-bench: the package is its own workspace, as in its repository.\n[workspace]\n");
    std::fs::write(template.join("Cargo.toml"), manifest)?;
    cargo(&["fetch"], &template).context("resolving cargo's published lockfile")?;
    check_targets(&template, &cargo_targets(), &format!("cargo {version}"))?;
    git_commit(&template)?;
    Ok(Real { template, versions: vec![format!("cargo-{version}")] })
}

fn check_targets(template: &Path, t: &Targets, what: &str) -> Result<()> {
    let bin = std::fs::read_to_string(template.join(&t.bin_file))?;
    let lib = std::fs::read_to_string(template.join(&t.lib_file))?;
    t.check(&bin, &lib).with_context(|| format!("{what}'s sources do not have the lines the scenarios edit"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lock_versions() {
        let lock = "version = 4\n\n[[package]]\nname = \"grep\"\nversion = \"0.4.1\"\nsource = \"registry+x\"\n\n[[package]]\nname = \"ignore\"\nversion = \"0.4.34\"\n";
        assert_eq!(lock_versions(lock), vec![("grep".into(), "0.4.1".into()), ("ignore".into(), "0.4.34".into())]);
    }
}
