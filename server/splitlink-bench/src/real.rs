//! The real-code workspace: ripgrep and its own crates, as published on crates.io, assembled into
//! one workspace. A throwaway manifest that depends on `ripgrep = "=VERSION"` is fetched with
//! `cargo fetch`; the versions its lockfile resolved for the nine crates below are copied from
//! `$CARGO_HOME/registry/src/*/NAME-VERSION` into `NAME/` of a workspace whose root manifest lists
//! them as members and sends every dependency on them to those paths (`[patch.crates-io]`). Their
//! other dependencies stay crates.io dependencies, pinned by ripgrep's published `Cargo.lock`.

use crate::edits::Targets;
use crate::measure::clean_env;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The crates that become workspace members (ripgrep's own crates; `grep-pcre2` is left out: it is
/// an optional dependency ripgrep does not enable by default).
pub const MEMBERS: [&str; 9] = ["globset", "grep", "grep-cli", "grep-matcher", "grep-printer", "grep-regex", "grep-searcher", "ignore", "ripgrep"];

pub struct Real {
    pub template: PathBuf,
    /// name-version of each member.
    pub versions: Vec<String>,
}

/// What the scenarios edit: `rg`'s main file, and `grep-cli`, a library ripgrep uses through
/// the `grep` facade (editing it recompiles `grep-cli`, `grep` and `ripgrep`).
pub fn targets() -> Targets {
    Targets {
        bin_file: "ripgrep/crates/core/main.rs".into(),
        bin_eol_anchor: "fn run(result: crate::flags::ParseResult<HiArgs>) -> anyhow::Result<ExitCode> {".into(),
        bin_body_anchor: "fn main() -> ExitCode {".into(),
        lib_file: "grep-cli/src/lib.rs".into(),
        lib_eol_anchor: "pub fn is_tty_stdout() -> bool {".into(),
        lib_body_anchor: "pub fn is_readable_stdin() -> bool {".into(),
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

/// Fetches and assembles the workspace under `dir` (`dir/fetch`, `dir/template`).
pub fn assemble(dir: &Path, version: &str) -> Result<Real> {
    let fetch = dir.join("fetch");
    let _ = std::fs::remove_dir_all(&fetch);
    std::fs::create_dir_all(fetch.join("src"))?;
    std::fs::write(
        fetch.join("Cargo.toml"),
        format!("[package]\nname = \"splitlink-bench-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\nripgrep = \"={version}\"\n\n[workspace]\n"),
    )?;
    std::fs::write(fetch.join("src/lib.rs"), "")?;
    cargo(&["fetch"], &fetch).context("fetching ripgrep's sources from crates.io")?;
    let lock = std::fs::read_to_string(fetch.join("Cargo.lock"))?;
    let versions = lock_versions(&lock);
    let registry = cargo_home()?.join("registry/src");
    let template = dir.join("template");
    let _ = std::fs::remove_dir_all(&template);
    std::fs::create_dir_all(&template)?;
    let mut found = Vec::new();
    for m in MEMBERS {
        let Some((_, v)) = versions.iter().find(|(n, _)| n == m) else {
            bail!("ripgrep {version} does not depend on {m}: the list of members needs updating");
        };
        let dirname = format!("{m}-{v}");
        let src = std::fs::read_dir(&registry)
            .with_context(|| format!("cannot read {}", registry.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join(&dirname))
            .find(|p| p.join("Cargo.toml").is_file())
            .with_context(|| format!("{dirname} is not in {} after cargo fetch", registry.display()))?;
        // `.cargo/` holds ripgrep's own (Windows and musl) build config; it would apply only to a
        // build started inside that directory. Leave it out so the package is plain sources.
        copy_dir(&src, &template.join(m), &[".cargo", "target"])?;
        found.push(dirname);
    }
    // ripgrep's published lockfile pins its crates.io dependencies; cargo rewrites the entries of
    // the members to path packages.
    let rg_lock = template.join("ripgrep/Cargo.lock");
    if rg_lock.is_file() {
        std::fs::copy(&rg_lock, template.join("Cargo.lock"))?;
    }
    let mut manifest = String::from("# Assembled by splitlink-bench from the crates.io sources of ripgrep and its crates.\n[workspace]\nresolver = \"2\"\nmembers = [\n");
    for m in MEMBERS {
        manifest.push_str(&format!("    \"{m}\",\n"));
    }
    manifest.push_str("]\n\n[patch.crates-io]\n");
    for m in MEMBERS.iter().filter(|m| **m != "ripgrep") {
        manifest.push_str(&format!("{m} = {{ path = \"{m}\" }}\n"));
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
                if MEMBERS.contains(&n.as_str()) && !n.starts_with("grep-pcre2") {
                    registry_members.push(n);
                }
            }
        }
    }
    if !registry_members.is_empty() {
        bail!("the assembled workspace still takes {} from crates.io", registry_members.join(", "));
    }
    let t = targets();
    let bin = std::fs::read_to_string(template.join(&t.bin_file))?;
    let lib = std::fs::read_to_string(template.join(&t.lib_file))?;
    t.check(&bin, &lib).with_context(|| format!("ripgrep {version}'s sources do not have the lines the scenarios edit"))?;
    Ok(Real { template, versions: found })
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
