//! `splitlink test --nextest`: the test binaries splitlink built, run by cargo-nextest through
//! its reuse-build inputs (`--binaries-metadata`, `--cargo-metadata`), so nextest builds
//! nothing and users keep its runner and output.
//!
//! The binaries metadata is nextest's `cargo nextest list --list-type binaries-only` format
//! (`rust-build-meta` + `rust-binaries`), written from splitlink's test plan into
//! `<target-dir>/splitlink/nextest/`, with each package's build-script `OUT_DIR` (nextest sets it
//! for the tests, as cargo does). Linked native paths (`cargo:rustc-link-search`) are not passed.

use anyhow::Context;
use splitlink_engine::{Engine, TestPlan};
use std::path::Path;
use std::process::{Command, ExitCode};

fn binary_id(package: &str, kind: &str, name: &str) -> String {
    match kind {
        "lib" | "rlib" | "dylib" | "cdylib" | "staticlib" | "proc-macro" => package.to_string(),
        "test" => format!("{package}::{name}"),
        k => format!("{package}::{k}/{name}"),
    }
}

pub fn run(engine: &Engine, plan: &TestPlan, test_args: &[String], cwd: &Path) -> anyhow::Result<ExitCode> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let probe = Command::new(&cargo).args(["nextest", "--version"]).output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        anyhow::bail!("--nextest needs cargo-nextest: install it with `cargo install cargo-nextest --locked`");
    }
    let target_dir = engine.target_dir();
    let dir = target_dir.join("splitlink").join("nextest");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;

    let mut binaries = serde_json::Map::new();
    let mut base_dirs = std::collections::BTreeSet::new();
    let mut out_dirs = serde_json::Map::new();
    for b in &plan.binaries {
        if let Some((_, out)) = b.env.iter().find(|(k, _)| k == "OUT_DIR") {
            if let Ok(rel) = Path::new(out).strip_prefix(target_dir) {
                out_dirs.insert(b.unit.package_id.clone(), rel.to_string_lossy().into_owned().into());
            }
        }
        let package = b.unit.package_name();
        let id = binary_id(&package, &b.unit.kind, &b.unit.name);
        let kind = match b.unit.kind.as_str() {
            "rlib" | "dylib" | "cdylib" | "staticlib" => "lib",
            k => k,
        };
        if let Some(base) = b.path.parent().and_then(Path::parent).and_then(|p| p.strip_prefix(target_dir).ok()) {
            base_dirs.insert(base.to_string_lossy().into_owned());
        }
        binaries.insert(
            id.clone(),
            serde_json::json!({
                "binary-id": id,
                "binary-name": b.unit.name,
                "package-id": b.unit.package_id,
                "kind": kind,
                "binary-path": b.path,
                "build-platform": "target",
            }),
        );
    }
    let mut non_test: serde_json::Map<String, serde_json::Value> = serde_json::Map::new();
    for b in engine.runnables("bin") {
        let Ok(rel) = b.path.strip_prefix(target_dir) else { continue };
        let entry = non_test.entry(b.unit.package_id.clone()).or_insert_with(|| serde_json::json!([]));
        if let Some(a) = entry.as_array_mut() {
            a.push(serde_json::json!({"name": b.unit.name, "kind": "bin-exe", "path": rel, "build-platform": "target"}));
        }
    }
    let host = rustc_host().unwrap_or_else(|| "x86_64-unknown-linux-gnu".into());
    let meta = serde_json::json!({
        "rust-build-meta": {
            "target-directory": target_dir,
            "build-directory": target_dir,
            "base-output-directories": base_dirs.into_iter().collect::<Vec<_>>(),
            "non-test-binaries": non_test,
            "build-script-out-dirs": out_dirs,
            "build-script-info": {},
            "linked-paths": [],
            "platforms": {
                "host": {"platform": {"triple": host, "target-features": "unknown"}, "libdir": {"status": "unavailable", "reason": "not-in-archive"}},
                "targets": [],
            },
            "target-platforms": [{"triple": host, "target-features": "unknown"}],
            "target-platform": null,
        },
        "rust-binaries": binaries,
    });
    let meta_path = dir.join("binaries-metadata.json");
    std::fs::write(&meta_path, serde_json::to_vec(&meta)?).with_context(|| format!("cannot write {}", meta_path.display()))?;

    let manifest = engine.workspace_root().join("Cargo.toml");
    let out = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .current_dir(cwd)
        .output()
        .context("cannot run `cargo metadata`")?;
    if !out.status.success() {
        anyhow::bail!("cargo metadata failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    let cargo_meta = dir.join("cargo-metadata.json");
    std::fs::write(&cargo_meta, &out.stdout).with_context(|| format!("cannot write {}", cargo_meta.display()))?;

    let mut cmd = Command::new(&cargo);
    cmd.args(["nextest", "run"]);
    cmd.arg("--binaries-metadata").arg(&meta_path).arg("--cargo-metadata").arg(&cargo_meta);
    // The TESTNAME filter is nextest's filter; the rest goes to the test binaries.
    let (filter, rest) = match test_args.split_first() {
        Some((f, rest)) if !f.starts_with('-') => (Some(f.clone()), rest.to_vec()),
        _ => (None, test_args.to_vec()),
    };
    cmd.args(filter);
    if !rest.is_empty() {
        cmd.arg("--").args(rest);
    }
    let status = cmd.current_dir(cwd).status().context("cannot run cargo nextest")?;
    Ok(ExitCode::from(status.code().unwrap_or(101).clamp(0, 255) as u8))
}

fn rustc_host() -> Option<String> {
    let out = Command::new("rustc").arg("-vV").output().ok()?;
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| l.strip_prefix("host: ").map(String::from))
}
