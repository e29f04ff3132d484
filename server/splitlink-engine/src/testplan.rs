//! What `splitlink test` runs after a build of a test selection, as `cargo test` would run it:
//! every test-mode unit's binary (in cargo's order, from the package directory, with the
//! environment cargo gives test processes) and the doctests cargo runs through rustdoc.
//!
//! Invariant: only units of the selection's last build are listed; running them is the
//! caller's job (the session's test runner): this module spawns nothing.

use crate::state::{Doctest, State, UnitKind, UnitState};
use crate::unit::{Mode, UnitKey};
use std::path::{Path, PathBuf};

/// One test binary, as `cargo test` runs it.
#[derive(Clone, Debug)]
pub struct TestBinary {
    pub unit: UnitKey,
    /// What cargo's `Running` line names: `unittests src/lib.rs`, `tests/it.rs`.
    pub label: String,
    pub path: PathBuf,
    /// The package directory (cargo runs test binaries there).
    pub cwd: PathBuf,
    /// rustc's working directory for the unit (relative panic locations start there).
    pub source_root: PathBuf,
    /// What cargo adds to the environment of a test process.
    pub env: Vec<(String, String)>,
    /// cargo's flags selecting just this binary (`-p app --lib`, `--test it`).
    pub rerun: String,
}

/// A library's doctests: `rustdoc --test` as cargo runs it.
#[derive(Clone, Debug)]
pub struct DoctestRun {
    pub package: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// The compiled libraries the doctests link (`--extern` files).
    pub inputs: Vec<PathBuf>,
    pub rerun: String,
}

#[derive(Clone, Debug, Default)]
pub struct TestPlan {
    pub binaries: Vec<TestBinary>,
    pub doctests: Vec<DoctestRun>,
}

/// cargo's order of target kinds (`TargetKind` in cargo: lib, bin, test, bench, example).
fn kind_rank(kind: &str) -> u8 {
    match kind {
        "lib" | "rlib" | "dylib" | "cdylib" | "staticlib" | "proc-macro" => 0,
        "bin" => 1,
        "test" => 2,
        "bench" => 3,
        "example" => 4,
        _ => 5,
    }
}

fn rerun_flag(key: &UnitKey) -> String {
    match kind_rank(&key.kind) {
        0 => "--lib".into(),
        1 => format!("--bin {}", key.name),
        2 => format!("--test {}", key.name),
        3 => format!("--bench {}", key.name),
        _ => format!("--example {}", key.name),
    }
}

/// The environment cargo gives a test process (`Compilation::fill_env`): the package's
/// `CARGO_*` variables, `CARGO_BIN_EXE_*`, and the library path with the target and toolchain
/// directories in front.
fn test_env(u: &UnitState, extra_lib_dirs: &[PathBuf]) -> Vec<(String, String)> {
    let inv = &u.spec.invocation;
    let mut env: Vec<(String, String)> = inv
        .env
        .iter()
        .filter(|(k, _)| {
            // `OUT_DIR` too: cargo sets it for the test and run processes of a package with a
            // build script (checked against `cargo test`).
            matches!(k.as_str(), "CARGO" | "CARGO_MANIFEST_DIR" | "CARGO_MANIFEST_PATH" | "OUT_DIR")
                || k.starts_with("CARGO_PKG_")
                || k.starts_with("CARGO_BIN_EXE_")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut dirs: Vec<PathBuf> = extra_lib_dirs.to_vec();
    if let Some(sysroot) = inv.rustc.parent().and_then(Path::parent) {
        if let Ok(rd) = std::fs::read_dir(sysroot.join("lib/rustlib")) {
            let mut triples: Vec<PathBuf> = rd.flatten().map(|e| e.path().join("lib")).filter(|p| p.is_dir()).collect();
            triples.sort();
            dirs.extend(triples);
        }
        dirs.push(sysroot.join("lib"));
    }
    let mut value = std::env::join_paths(&dirs).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if let Ok(old) = std::env::var("LD_LIBRARY_PATH") {
        if !old.is_empty() {
            value = format!("{value}:{old}");
        }
    }
    env.push(("LD_LIBRARY_PATH".into(), value));
    env
}

/// The binaries of kind `kind` (`bin`, `example`) of a selection's last build, as `cargo run`
/// runs them (the environment cargo gives the process; `cwd` is the package directory, which
/// `cargo run` does not use).
pub fn runnables(state: &State, sel_key: &str, kind: &str) -> Vec<TestBinary> {
    let Some(s) = state.selections.get(sel_key) else { return vec![] };
    s.units
        .iter()
        .filter_map(|k| state.units.get(k))
        .filter(|u| u.spec.kind == UnitKind::Linkable && u.spec.key.mode == Mode::Build && u.spec.key.kind == kind)
        .filter_map(|u| {
            let info = crate::replay::unit_info(&u.spec);
            let path = info.path?;
            let out = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let deps = u.spec.invocation.linked_output().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_default();
            Some(TestBinary {
                unit: u.spec.key.clone(),
                label: u.spec.key.name.clone(),
                path,
                cwd: u.spec.manifest_path.parent()?.to_path_buf(),
                source_root: u.spec.invocation.cwd.clone(),
                env: test_env(u, &[out, deps]),
                rerun: rerun_flag(&u.spec.key),
            })
        })
        .collect()
}

/// The `default-run` key of the package whose manifest is in `package_dir` (what `cargo run`
/// runs when the package has several binaries).
pub fn default_run(package_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(package_dir.join("Cargo.toml")).ok()?;
    let v: toml::Value = toml::from_str(&text).ok()?;
    v.get("package")?.get("default-run")?.as_str().map(String::from)
}

/// The test binaries and doctests of a selection's last build, in cargo's order.
pub fn plan(state: &State, sel_key: &str) -> TestPlan {
    let Some(s) = state.selections.get(sel_key) else { return TestPlan::default() };
    let several_packages = s.targets.len() > 1;
    let pkg_flag = |package: &str| if several_packages { format!("-p {package} ") } else { String::new() };
    let mut units: Vec<&UnitState> = s
        .units
        .iter()
        .filter_map(|k| state.units.get(k))
        .filter(|u| u.spec.kind == UnitKind::Linkable && u.spec.key.mode == Mode::Test)
        .collect();
    units.sort_by_key(|u| (u.spec.key.package_name(), u.spec.key.version(), kind_rank(&u.spec.key.kind), u.spec.key.name.clone()));
    let binaries = units
        .into_iter()
        .filter_map(|u| {
            let path = u.spec.invocation.linked_output()?;
            let cwd = u.spec.manifest_path.parent()?.to_path_buf();
            let src = u.spec.invocation.source().unwrap_or_default();
            let rel = src.strip_prefix(&cwd).unwrap_or(&src).display().to_string();
            let label = if kind_rank(&u.spec.key.kind) <= 1 { format!("unittests {rel}") } else { rel };
            let deps = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let out = deps.parent().map(Path::to_path_buf).unwrap_or_default();
            Some(TestBinary {
                unit: u.spec.key.clone(),
                label,
                cwd,
                source_root: u.spec.invocation.cwd.clone(),
                env: test_env(u, &[out, deps]),
                rerun: format!("{}{}", pkg_flag(&u.spec.key.package_name()), rerun_flag(&u.spec.key)),
                path,
            })
        })
        .collect();
    let mut doctests: Vec<&Doctest> = s.doctests.iter().collect();
    doctests.sort_by_key(|d| (crate::unit::package_name_of(&d.package_id), d.crate_name.clone()));
    let doctests = doctests
        .into_iter()
        .map(|d| {
            let package = crate::unit::package_name_of(&d.package_id);
            let inputs = d
                .args
                .iter()
                .zip(d.args.iter().skip(1))
                .filter(|(f, _)| *f == "--extern")
                .filter_map(|(_, v)| v.split_once('=').map(|(_, p)| d.cwd.join(p)))
                .collect();
            DoctestRun {
                rerun: format!("{}--doc", pkg_flag(&package)),
                package,
                program: d.rustdoc.clone(),
                args: d.args.clone(),
                env: d.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                cwd: d.cwd.clone(),
                inputs,
            }
        })
        .collect();
    TestPlan { binaries, doctests }
}
