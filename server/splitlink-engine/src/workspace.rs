//! Finding the workspace and target dir without running cargo, the selection flags, and the
//! files and variables whose change means "go through cargo again".

use crate::digest::{Hasher, StatCache};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which cargo command a selection stands for: what the capture runs and which units it builds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CargoCommand {
    /// `cargo build`.
    #[default]
    Build,
    /// `cargo test --no-run` (every test binary `cargo test` builds), and the doctests `cargo
    /// test` runs, recorded through `cargo test --doc` with splitlink as `RUSTDOC`.
    Test,
    /// `cargo check` with every workspace unit compiled by `clippy-driver` (what `cargo clippy`
    /// does), with the selection's `clippy_args` as `CLIPPY_ARGS`.
    Clippy,
}

/// cargo's target selection flags, with cargo's meaning (`--lib`, `--bins`, `--bin N`, …).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Targets {
    pub lib: bool,
    pub bins: bool,
    pub bin: Vec<String>,
    pub tests: bool,
    pub test: Vec<String>,
    pub examples: bool,
    pub example: Vec<String>,
    pub benches: bool,
    pub bench: Vec<String>,
    pub all_targets: bool,
    /// `cargo test --doc`: only the doctests.
    pub doc: bool,
}

impl Targets {
    /// No target flag at all: cargo's defaults for the command.
    pub fn is_default(&self) -> bool {
        *self == Targets::default()
    }

    fn args(&self) -> Vec<String> {
        let mut a = Vec::new();
        let flags = [
            (self.lib, "--lib"),
            (self.bins, "--bins"),
            (self.tests, "--tests"),
            (self.examples, "--examples"),
            (self.benches, "--benches"),
            (self.all_targets, "--all-targets"),
        ];
        a.extend(flags.iter().filter(|(on, _)| *on).map(|(_, f)| f.to_string()));
        for (names, flag) in [(&self.bin, "--bin"), (&self.test, "--test"), (&self.example, "--example"), (&self.bench, "--bench")] {
            for n in names {
                a.push(flag.into());
                a.push(n.clone());
            }
        }
        a
    }
}

/// cargo's selection flags that `splitlink build`, `test`, `run` and `watch` accept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    #[serde(default)]
    pub command: CargoCommand,
    pub manifest_path: Option<PathBuf>,
    pub packages: Vec<String>,
    #[serde(default)]
    pub workspace: bool,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub targets: Targets,
    pub release: bool,
    pub profile: Option<String>,
    pub features: Vec<String>,
    pub all_features: bool,
    pub no_default_features: bool,
    pub target_dir: Option<PathBuf>,
    /// `--target <triple>` (repeatable, as cargo's); none: the host, or `build.target` from
    /// `.cargo/config.toml`, which cargo applies itself.
    #[serde(default)]
    pub target: Vec<String>,
    /// For [`CargoCommand::Clippy`]: the lint flags after `--` (`-D warnings`, `-W clippy::pedantic`).
    #[serde(default)]
    pub clippy_args: Vec<String>,
    /// `--config KEY=VALUE` for every cargo command (fast mode's debuginfo, [`crate::fast`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cargo_config: Vec<String>,
}

impl Selection {
    /// What `cargo test` builds with this selection's packages, profile and features (its
    /// target flags dropped): the selection a front-end's test command builds.
    pub fn for_tests(&self) -> Selection {
        Selection { command: CargoCommand::Test, targets: Targets::default(), clippy_args: Vec::new(), ..self.clone() }
    }

    /// The package and feature flags, shared by every cargo command the capture runs.
    fn package_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(m) = &self.manifest_path {
            a.push("--manifest-path".into());
            a.push(m.to_string_lossy().into_owned());
        }
        for p in &self.packages {
            a.push("-p".into());
            a.push(p.clone());
        }
        if self.workspace {
            a.push("--workspace".into());
        }
        for p in &self.exclude {
            a.push("--exclude".into());
            a.push(p.clone());
        }
        if self.release {
            a.push("--release".into());
        }
        if let Some(p) = &self.profile {
            a.push("--profile".into());
            a.push(p.clone());
        }
        if !self.features.is_empty() {
            a.push("--features".into());
            a.push(self.features.join(","));
        }
        if self.all_features {
            a.push("--all-features".into());
        }
        if self.no_default_features {
            a.push("--no-default-features".into());
        }
        if let Some(t) = &self.target_dir {
            a.push("--target-dir".into());
            a.push(t.to_string_lossy().into_owned());
        }
        for t in &self.target {
            a.push("--target".into());
            a.push(t.clone());
        }
        for c in &self.cargo_config {
            a.push("--config".into());
            a.push(c.clone());
        }
        a
    }

    /// The cargo commands a capture runs for this selection (the message format and `-vv` are
    /// added by the capture): `build …`, or `test --no-run …` and, when doctests are selected,
    /// `test --doc …`.
    pub fn cargo_commands(&self) -> Vec<Vec<String>> {
        let mut v = Vec::new();
        match self.command {
            CargoCommand::Build => {
                let mut a = vec!["build".to_string()];
                a.extend(self.targets.args());
                a.extend(self.package_args());
                v.push(a);
            }
            CargoCommand::Clippy => {
                let mut a = vec!["check".to_string()];
                a.extend(self.targets.args());
                a.extend(self.package_args());
                v.push(a);
            }
            CargoCommand::Test => {
                if !self.targets.doc {
                    let mut a = vec!["test".to_string(), "--no-run".to_string()];
                    a.extend(self.targets.args());
                    a.extend(self.package_args());
                    v.push(a);
                }
                if self.has_doctests() {
                    let mut a = vec!["test".to_string(), "--doc".to_string()];
                    a.extend(self.package_args());
                    v.push(a);
                }
            }
        }
        v
    }

    /// Whether `cargo test` with these flags runs doctests: with `--doc`, or with no target
    /// flag at all.
    pub fn has_doctests(&self) -> bool {
        self.command == CargoCommand::Test && (self.targets.doc || self.targets.is_default())
    }

    pub fn key(&self, cwd: &Path) -> String {
        let mut h = Hasher::new("selection");
        h.str(&serde_json::to_string(self).unwrap_or_default());
        // cargo resolves `-p` and config relative to the working directory.
        h.str(&cwd.to_string_lossy());
        h.finish().short()
    }

    pub fn profile_name(&self) -> String {
        match (&self.profile, self.release, self.command) {
            (Some(p), _, _) => p.clone(),
            (None, true, _) => "release".into(),
            (None, false, CargoCommand::Build | CargoCommand::Clippy) => "dev".into(),
            (None, false, CargoCommand::Test) => "test".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("could not find `Cargo.toml` in `{0}` or any parent directory")]
    NoManifest(PathBuf),
    #[error("manifest path `{0}` does not exist")]
    MissingManifest(PathBuf),
}

/// The workspace as far as it can be known without cargo.
#[derive(Clone, Debug)]
pub struct Located {
    pub cwd: PathBuf,
    pub manifest: PathBuf,
    pub root: PathBuf,
    pub target_dir: PathBuf,
}

pub fn locate(sel: &Selection, cwd: &Path) -> Result<Located, WorkspaceError> {
    let manifest = match &sel.manifest_path {
        Some(m) => {
            let m = cwd.join(m);
            if !m.is_file() {
                return Err(WorkspaceError::MissingManifest(m));
            }
            m
        }
        None => cwd
            .ancestors()
            .map(|d| d.join("Cargo.toml"))
            .find(|p| p.is_file())
            .ok_or_else(|| WorkspaceError::NoManifest(cwd.to_path_buf()))?,
    };
    let pkg_dir = manifest.parent().unwrap_or(cwd).to_path_buf();
    let root = pkg_dir.ancestors().find(|d| has_workspace_table(&d.join("Cargo.toml"))).map(Path::to_path_buf).unwrap_or(pkg_dir);
    let target_dir = sel
        .target_dir
        .as_ref()
        .map(|t| cwd.join(t))
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(|t| cwd.join(t)))
        .or_else(|| std::env::var_os("CARGO_BUILD_TARGET_DIR").map(|t| cwd.join(t)))
        .or_else(|| config_target_dir(cwd))
        .unwrap_or_else(|| root.join("target"));
    Ok(Located { cwd: cwd.to_path_buf(), manifest, root, target_dir })
}

fn has_workspace_table(manifest: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(manifest) else { return false };
    match text.parse::<toml::Table>() {
        Ok(t) => t.contains_key("workspace"),
        Err(_) => text.lines().any(|l| l.trim() == "[workspace]"),
    }
}

/// cargo's config files as cargo discovers them from `cwd` (existing or not: creating one must
/// also send the build through cargo).
pub fn config_candidates(cwd: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for d in cwd.ancestors() {
        v.push(d.join(".cargo/config.toml"));
        v.push(d.join(".cargo/config"));
    }
    if let Some(home) = cargo_home() {
        v.push(home.join("config.toml"));
        v.push(home.join("config"));
    }
    v.dedup();
    v
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// `build.target-dir` from the nearest config that sets it (paths relative to the config's
/// parent directory, as cargo resolves them).
fn config_target_dir(cwd: &Path) -> Option<PathBuf> {
    for c in config_candidates(cwd) {
        let Ok(text) = std::fs::read_to_string(&c) else { continue };
        let Ok(t) = text.parse::<toml::Table>() else { continue };
        if let Some(td) = t.get("build").and_then(|b| b.get("target-dir")).and_then(|v| v.as_str()) {
            let base = c.parent().and_then(Path::parent).unwrap_or(cwd);
            return Some(base.join(td));
        }
    }
    None
}

/// Files near the workspace whose change sends the build through cargo.
pub fn toolchain_candidates(root: &Path, cwd: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for d in cwd.ancestors().chain(root.ancestors()) {
        for f in ["rust-toolchain", "rust-toolchain.toml"] {
            let p = d.join(f);
            if !v.contains(&p) {
                v.push(p);
            }
        }
    }
    v
}

/// Environment variables that change what cargo would run.
pub fn relevant_env(extra: &[String]) -> Vec<(String, Option<String>)> {
    let mut names: Vec<String> = [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTC_BOOTSTRAP",
        "CARGO_TARGET_DIR",
        "CARGO_INCREMENTAL",
        "CARGO_HOME",
        "RUSTUP_TOOLCHAIN",
        "CARGO_BUILD_JOBS",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (k, _) in std::env::vars() {
        if k.starts_with("CARGO_PROFILE_")
            || k.starts_with("CARGO_TARGET_")
            || k.starts_with("CARGO_BUILD_")
            || k.starts_with("CARGO_UNSTABLE_")
        {
            names.push(k);
        }
    }
    names.extend(extra.iter().cloned());
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|k| {
            let v = std::env::var(&k).ok();
            (k, v)
        })
        .collect()
}

/// The first trigger file whose content differs from what was recorded.
pub fn changed_trigger(triggers: &[(PathBuf, Option<crate::digest::Digest>)], cache: &mut StatCache) -> Option<PathBuf> {
    triggers.iter().find(|(p, d)| cache.digest(p).ok().flatten() != *d).map(|(p, _)| p.clone())
}
