//! Capture: the only place splitlink runs cargo. `cargo build` runs with splitlink as
//! `RUSTC_WORKSPACE_WRAPPER`; the wrapper records each workspace unit's invocation (and splits
//! linkable ones); cargo's JSON messages name the units. The result is merged into the state.

use crate::db::{BuiltWith, LinkInputs};
use crate::depinfo;
use crate::digest::{now_ns, Digest, Stamp, StatCache};
use crate::events::{BuildEvent, Sink};
use crate::invocation::Invocation;
use crate::objects::set_digest;
use crate::state::{SelectionState, State, UnitBuilt, UnitKind, UnitSpec, UnitState};
use crate::workspace::{self, Located, Selection};
use crate::wrapper::{Record, SplitOutcome};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot run cargo: {0} (is a Rust toolchain installed and `cargo` on PATH?)")]
    NoCargo(std::io::Error),
    #[error("cargo could not read the workspace:\n{0}")]
    Metadata(String),
    #[error("cannot read splitlink's capture records in {path}: {source}")]
    Records { path: PathBuf, source: std::io::Error },
    #[error("cargo considered {0} up to date but splitlink has no record of how it was compiled, even after `cargo clean -p`")]
    MissingRecords(String),
}

pub struct CaptureResult {
    pub success: bool,
    /// Unit keys compiled by cargo in this capture.
    pub compiled: Vec<String>,
    /// Unit keys linked by the wrapper.
    pub linked: Vec<String>,
    /// Linkable unit keys compiled whose binary on disk already matched their objects.
    pub link_skipped: Vec<String>,
}

struct Metadata {
    members: BTreeSet<String>,
    member_manifests: Vec<PathBuf>,
    root: PathBuf,
    target_dir: PathBuf,
}

fn cargo() -> PathBuf {
    std::env::var_os("CARGO").map(PathBuf::from).unwrap_or_else(|| "cargo".into())
}

fn metadata(loc: &Located, sel: &Selection) -> Result<Metadata, CaptureError> {
    let mut c = Command::new(cargo());
    c.args(["metadata", "--no-deps", "--format-version", "1"]).current_dir(&loc.cwd);
    c.arg("--manifest-path").arg(&loc.manifest);
    let out = c.stderr(Stdio::piped()).stdout(Stdio::piped()).output().map_err(CaptureError::NoCargo)?;
    if !out.status.success() {
        return Err(CaptureError::Metadata(String::from_utf8_lossy(&out.stderr).trim_end().to_string()));
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| CaptureError::Metadata(e.to_string()))?;
    let members: BTreeSet<String> =
        v["workspace_members"].as_array().into_iter().flatten().filter_map(|m| m.as_str().map(String::from)).collect();
    let member_manifests = v["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(id)))
        .filter_map(|p| p["manifest_path"].as_str().map(PathBuf::from))
        .collect();
    let target_dir = match &sel.target_dir {
        Some(t) => loc.cwd.join(t),
        None => PathBuf::from(v["target_directory"].as_str().unwrap_or_default()),
    };
    Ok(Metadata { members, member_manifests, root: PathBuf::from(v["workspace_root"].as_str().unwrap_or_default()), target_dir })
}

fn rustc_version(rustc: &Path) -> String {
    Command::new(rustc)
        .arg("-vV")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Stable key of a unit from cargo's artifact message.
fn artifact_key(a: &Value) -> String {
    let kinds: Vec<&str> = a["target"]["kind"].as_array().into_iter().flatten().filter_map(|k| k.as_str()).collect();
    format!(
        "{}#{}:{}{}",
        a["package_id"].as_str().unwrap_or(""),
        kinds.join(","),
        a["target"]["name"].as_str().unwrap_or(""),
        if a["profile"]["test"].as_bool() == Some(true) { "(test)" } else { "" }
    )
}

fn record_matches(a: &Value, inv: &Invocation) -> bool {
    let manifest_dir = a["manifest_path"].as_str().map(|m| Path::new(m).parent().unwrap_or(Path::new("")).to_path_buf());
    if manifest_dir.as_deref() != inv.env.get("CARGO_MANIFEST_DIR").map(Path::new) {
        return false;
    }
    let is_build_script = a["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "custom-build"));
    let name_ok = if is_build_script {
        inv.crate_name().is_some_and(|n| n.starts_with("build_script_"))
    } else {
        a["target"]["name"].as_str().map(|n| n.replace('-', "_")).as_deref() == inv.crate_name()
    };
    name_ok && (a["profile"]["test"].as_bool() == Some(true)) == inv.is_test()
}

fn kind_of(a: &Value, inv: &Invocation) -> UnitKind {
    if a["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "custom-build")) {
        UnitKind::BuildScript
    } else if inv.is_proc_macro() {
        UnitKind::ProcMacro
    } else if inv.is_linkable() {
        UnitKind::Linkable
    } else {
        UnitKind::Lib
    }
}

/// Capture through cargo and merge what was learnt into `state`.
pub fn capture(
    loc: &Located,
    sel: &Selection,
    sel_key: &str,
    state: &mut State,
    sink: &mut dyn Sink,
    opts: &crate::BuildOptions,
    cancel: Option<&crate::exec::Cancel>,
) -> Result<CaptureResult, CaptureError> {
    let exe = match &opts.wrapper {
        Some(w) => w.clone(),
        None => std::env::current_exe().map_err(CaptureError::NoCargo)?,
    };
    capture_inner(loc, sel, sel_key, state, sink, opts.quiet, true, cancel, &exe)
}

#[allow(clippy::too_many_arguments)]
fn capture_inner(
    loc: &Located,
    sel: &Selection,
    sel_key: &str,
    state: &mut State,
    sink: &mut dyn Sink,
    quiet: bool,
    may_clean: bool,
    cancel: Option<&crate::exec::Cancel>,
    exe: &Path,
) -> Result<CaptureResult, CaptureError> {
    let meta = metadata(loc, sel)?;
    let started_ns = now_ns();
    let capture_dir = meta.target_dir.join("splitlink").join(format!("capture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&capture_dir);
    std::fs::create_dir_all(&capture_dir).map_err(|source| CaptureError::Records { path: capture_dir.clone(), source })?;

    let mut cmd = Command::new(cargo());
    cmd.arg("build").arg("--message-format=json-diagnostic-rendered-ansi").args(sel.cargo_args());
    if sel.manifest_path.is_none() {
        cmd.arg("--manifest-path").arg(&loc.manifest);
    }
    if quiet {
        cmd.arg("--quiet");
    }
    {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            cmd.arg("--color=always");
        }
    }
    cmd.current_dir(&loc.cwd)
        .env("RUSTC_WORKSPACE_WRAPPER", exe)
        .env(crate::CAPTURE_DIR_ENV, &capture_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if cancel.is_some() {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(CaptureError::NoCargo)?;
    if let Some(c) = cancel {
        c.register(child.id());
    }
    let stdout = child.stdout.take().expect("piped");
    // cargo's status lines pass through; its `Finished` line is ours to print.
    let stderr = child.stderr.take().expect("piped");
    let errs = std::thread::spawn(move || {
        use std::io::Write;
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if crate::strip_ansi(&line).trim_start().starts_with("Finished ") {
                continue;
            }
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    });
    let mut artifacts: Vec<Value> = Vec::new();
    let mut compiler_messages: Vec<Value> = Vec::new();
    let mut script_runs: Vec<Value> = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
        match v["reason"].as_str() {
            Some("compiler-message") => {
                let msg = v["message"].clone();
                let m = msg["message"].as_str().unwrap_or("");
                if !(m.starts_with("linking with") || m.starts_with("linker `")) {
                    compiler_messages.push(v.clone());
                }
                let link = (m.starts_with("linking with") || m.starts_with("linker `")).then(|| {
                    let root = meta.root.clone();
                    crate::LinkFailure {
                        sources: walk_files(&root).into_iter().filter(|p| p.extension().is_some_and(|e| e == "rs")).collect(),
                        manifest_dirs: meta.member_manifests.iter().filter_map(|m| m.parent().map(Path::to_path_buf)).collect(),
                        config_files: workspace::config_candidates(&loc.cwd).into_iter().filter(|p| p.exists()).collect(),
                        root_source: v["target"]["src_path"].as_str().unwrap_or("").into(),
                        cwd: root.clone(),
                        workspace_root: root,
                    }
                });
                sink.event(BuildEvent::Diagnostic { unit: Some(crate::UnitInfo::from_cargo_message(&v)), message: msg, link })
            }
            Some("compiler-artifact") => {
                artifacts.push(v.clone());
                sink.event(BuildEvent::CargoMessage(v));
            }
            Some("build-script-executed") => {
                script_runs.push(v.clone());
                sink.event(BuildEvent::CargoMessage(v));
            }
            Some("build-finished") => {}
            _ => sink.event(BuildEvent::CargoMessage(v)),
        }
    }
    let status = child.wait().map_err(CaptureError::NoCargo)?;
    if let Some(c) = cancel {
        c.unregister(child.id());
    }
    let _ = errs.join();

    // What the wrapper recorded in this capture.
    let mut records: Vec<Record> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&capture_dir) {
        for e in rd.flatten() {
            if e.path().extension().is_some_and(|x| x == "json") {
                let bytes = std::fs::read(e.path()).map_err(|source| CaptureError::Records { path: e.path(), source })?;
                if let Ok(r) = serde_json::from_slice::<Record>(&bytes) {
                    records.push(r);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&capture_dir);

    let parent_env: BTreeMap<String, String> = std::env::vars().collect();
    let mut compiled = Vec::new();
    let mut linked = Vec::new();
    let mut link_skipped = Vec::new();
    let mut unit_keys = Vec::new();
    let mut missing = Vec::new();
    let mut other_messages = Vec::new();
    let mut nonmember_path_sources: Vec<PathBuf> = Vec::new();

    for a in &artifacts {
        let pkg = a["package_id"].as_str().unwrap_or("");
        if !meta.members.contains(pkg) {
            other_messages.push(a.clone());
            if pkg.starts_with("path+") {
                nonmember_path_sources.extend(nonmember_sources(a));
            }
            continue;
        }
        let key = artifact_key(a);
        let rec = records.iter().find(|r| record_matches(a, &r.invocation));
        match rec {
            Some(r) => {
                let mut inv = r.invocation.clone();
                // Keep only what cargo added to the environment.
                inv.env.retain(|k, v| parent_env.get(k) != Some(v));
                let kind = kind_of(a, &inv);
                let (split, fallback_reason) = match &r.outcome {
                    SplitOutcome::Fallback { reason } => (false, Some(reason.clone())),
                    SplitOutcome::Split { .. } | SplitOutcome::LinkSkipped { .. } => (true, None),
                    SplitOutcome::NotLinkable => (kind == UnitKind::Linkable, None),
                };
                let mut artifact = a.clone();
                artifact["fresh"] = Value::Bool(false);
                let spec = UnitSpec {
                    key: key.clone(),
                    package_id: pkg.to_string(),
                    package_name: package_name(pkg, a),
                    manifest_path: PathBuf::from(a["manifest_path"].as_str().unwrap_or("")),
                    target: a["target"].clone(),
                    kind,
                    invocation: inv,
                    split,
                    fallback_reason,
                    deps: vec![],
                    artifact,
                    uplifts: vec![],
                    digest: None,
                };
                let mut built = UnitBuilt {
                    messages: compiler_messages
                        .iter()
                        .filter(|m| m["package_id"] == a["package_id"] && m["target"] == a["target"])
                        .map(|m| m["message"].clone())
                        .collect(),
                    ..Default::default()
                };
                if r.exit_code == 0 {
                    match &r.outcome {
                        SplitOutcome::Split { objects, linked: true } => {
                            built.objects = objects.digests.clone();
                            built.rlink = Some(objects.rlink);
                            linked.push(key.clone());
                        }
                        SplitOutcome::LinkSkipped { objects } => {
                            built.objects = objects.digests.clone();
                            built.rlink = Some(objects.rlink);
                            link_skipped.push(key.clone());
                        }
                        _ => {}
                    }
                    compiled.push(key.clone());
                    built.with = Some(BuiltWith { spec: Digest([0; 32]), sources: vec![], deps: vec![], env: vec![] });
                }
                let old = state.units.remove(&key);
                let keep_link = old.map(|o| o.built.last_link).unwrap_or(None);
                built.last_link = keep_link;
                state.units.insert(key.clone(), UnitState { spec, built });
                unit_keys.push(key);
            }
            // Fresh for cargo: the invocation recorded when cargo last ran it still holds.
            None if state.units.contains_key(&key) => unit_keys.push(key),
            None => missing.push((key, package_name(pkg, a))),
        }
    }

    if status.success() && !missing.is_empty() {
        if may_clean {
            let pkgs: BTreeSet<String> = missing.iter().map(|(_, p)| p.clone()).collect();
            let mut clean = Command::new(cargo());
            clean.arg("clean").current_dir(&loc.cwd).arg("--manifest-path").arg(&loc.manifest);
            for p in &pkgs {
                clean.arg("-p").arg(p);
            }
            if sel.release {
                clean.arg("--release");
            }
            if let Some(p) = &sel.profile {
                clean.arg("--profile").arg(p);
            }
            if let Some(t) = &sel.target_dir {
                clean.arg("--target-dir").arg(t);
            }
            sink.event(BuildEvent::Warning(format!(
                "cargo considers {} up to date but splitlink has not seen it compiled; cleaning it so cargo compiles it again",
                pkgs.into_iter().collect::<Vec<_>>().join(", ")
            )));
            let _ = clean.stdout(Stdio::null()).stderr(Stdio::null()).status();
            return capture_inner(loc, sel, sel_key, state, sink, quiet, false, cancel, exe);
        }
        return Err(CaptureError::MissingRecords(missing.into_iter().map(|(k, _)| k).collect::<Vec<_>>().join(", ")));
    }

    // Dependencies between workspace units, by output path.
    let mut by_output: HashMap<PathBuf, String> = HashMap::new();
    for k in &unit_keys {
        for o in state.units[k].spec.invocation.outputs() {
            by_output.insert(o, k.clone());
        }
    }
    for k in &unit_keys {
        let spec = &state.units[k].spec;
        let deps: Vec<String> =
            spec.invocation.externs().iter().filter_map(|(_, p)| by_output.get(p).cloned()).filter(|d| d != k).collect();
        let uplifts = uplifts(&spec.artifact, &spec.invocation);
        let u = state.units.get_mut(k).unwrap();
        u.spec.deps = deps;
        u.spec.uplifts = uplifts;
        u.spec.digest = Some(u.spec.compute_digest());
    }

    let rustc = state.units.get(unit_keys.first().map(String::as_str).unwrap_or("")).map(|u| u.spec.invocation.rustc.clone());
    let version = rustc.as_deref().map(rustc_version).unwrap_or_default();

    // Measure what cargo just built, in dependency order (interfaces feed dependents).
    let mut cache = std::mem::take(&mut state.cache);
    let order = topo_order(&unit_keys, state);
    for k in &order {
        if !compiled.contains(k) {
            continue;
        }
        measure_after_cargo(k, state, &mut cache, started_ns, &version);
    }
    state.cache = cache;

    // Triggers: everything whose change means cargo must decide again.
    let mut triggers: Vec<PathBuf> = Vec::new();
    triggers.extend(meta.member_manifests.iter().cloned());
    triggers.push(meta.root.join("Cargo.toml"));
    triggers.push(meta.root.join("Cargo.lock"));
    triggers.extend(workspace::config_candidates(&loc.cwd));
    triggers.extend(workspace::toolchain_candidates(&meta.root, &loc.cwd));
    if let Some(r) = &rustc {
        triggers.push(r.clone());
    }
    triggers.extend(nonmember_path_sources);
    let mut env_extra: Vec<String> = Vec::new();
    for k in &unit_keys {
        let u = &state.units[k];
        if u.spec.kind == UnitKind::BuildScript {
            if let Some(w) = &u.built.with {
                triggers.extend(w.sources.iter().map(|(p, _)| p.clone()));
            }
        }
    }
    for run in &script_runs {
        let pkg = run["package_id"].as_str().unwrap_or("");
        if !meta.members.contains(pkg) {
            continue;
        }
        let Some(out_dir) = run["out_dir"].as_str() else { continue };
        let output = Path::new(out_dir).parent().map(|p| p.join("output")).unwrap_or_default();
        let pkg_dir = unit_keys
            .iter()
            .map(|k| &state.units[k].spec)
            .find(|s| s.package_id == pkg)
            .and_then(|s| s.manifest_path.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let text = std::fs::read_to_string(&output).unwrap_or_default();
        let mut any_rerun = false;
        for line in text.lines() {
            let l = line.strip_prefix("cargo::").or_else(|| line.strip_prefix("cargo:")).unwrap_or("");
            if let Some(p) = l.strip_prefix("rerun-if-changed=") {
                any_rerun = true;
                let p = pkg_dir.join(p);
                if p.is_dir() {
                    triggers.extend(walk_files(&p));
                } else {
                    triggers.push(p);
                }
            } else if let Some(v) = l.strip_prefix("rerun-if-env-changed=") {
                env_extra.push(v.to_string());
            }
        }
        if !any_rerun {
            // cargo's default: any file of the package reruns the build script.
            triggers.extend(walk_files(&pkg_dir).into_iter().filter(|p| !p.starts_with(&meta.target_dir)));
        }
    }
    triggers.sort();
    triggers.dedup();
    let mut cache = std::mem::take(&mut state.cache);
    let triggers = triggers
        .into_iter()
        .map(|p| {
            // A trigger edited while cargo ran may not be what cargo read: mark it unknown
            // (cargo itself writes Cargo.lock).
            let racy = p.file_name().is_none_or(|n| n != "Cargo.lock") && Stamp::of(&p).is_some_and(|s| s.mtime_ns >= started_ns);
            let d = if racy { Some(Digest([0; 32])) } else { cache.digest(&p).ok().flatten() };
            (p, d)
        })
        .collect();
    state.cache = cache;

    other_messages.extend(script_runs.into_iter().map(|mut v| {
        v["fresh"] = Value::Bool(true);
        v
    }));
    for m in &mut other_messages {
        m["fresh"] = Value::Bool(true);
    }
    let profile_desc = artifacts.first().map(|a| profile_desc(&a["profile"])).unwrap_or_default();
    if status.success() {
        state.selections.insert(
            sel_key.to_string(),
            SelectionState {
                units: order,
                triggers,
                env: workspace::relevant_env(&env_extra),
                other_messages,
                profile: sel.profile_name(),
                profile_desc,
                rustc_version: version,
                workspace_root: meta.root.clone(),
            },
        );
    } else {
        // A failed cargo build leaves the graph uncertain: the next build goes through cargo.
        state.selections.remove(sel_key);
    }
    Ok(CaptureResult { success: status.success(), compiled, linked, link_skipped })
}

fn package_name(pkg_id: &str, a: &Value) -> String {
    // Package ids look like `path+file:///ws/app#0.1.0` or `path+file:///ws/x#name@0.1.0`.
    let frag = pkg_id.rsplit('#').next().unwrap_or("");
    match frag.split_once('@') {
        Some((name, _)) => name.to_string(),
        None => Path::new(a["manifest_path"].as_str().unwrap_or(""))
            .parent()
            .and_then(|p| p.file_name())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

pub fn profile_desc(profile: &Value) -> String {
    let opt = profile["opt_level"].as_str().unwrap_or("0");
    let debug = match &profile["debuginfo"] {
        Value::Number(n) => n.as_u64().unwrap_or(0) > 0,
        Value::String(s) => s != "none" && s != "0",
        _ => false,
    };
    format!("[{}{}]", if opt == "0" { "unoptimized" } else { "optimized" }, if debug { " + debuginfo" } else { "" })
}

fn nonmember_sources(a: &Value) -> Vec<PathBuf> {
    let Some(f) = a["filenames"].as_array().and_then(|f| f.first()).and_then(|f| f.as_str()) else { return vec![] };
    let f = Path::new(f);
    let stem = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = stem.strip_prefix("lib").unwrap_or(&stem);
    let d = f.with_file_name(format!("{stem}.d"));
    std::fs::read_to_string(&d).map(|t| depinfo::parse(&t, Path::new("/")).files).unwrap_or_default()
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name();
            if name == "target" || name == ".git" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Files cargo copied (hard-linked) out of the deps dir, matched by inode.
fn uplifts(artifact: &Value, inv: &Invocation) -> Vec<(PathBuf, PathBuf)> {
    use std::os::unix::fs::MetadataExt;
    let outputs = inv.outputs();
    let mut files: Vec<PathBuf> =
        artifact["filenames"].as_array().into_iter().flatten().filter_map(|f| f.as_str().map(PathBuf::from)).collect();
    if let Some(e) = artifact["executable"].as_str() {
        files.push(PathBuf::from(e));
    }
    let mut v = Vec::new();
    for f in files {
        if outputs.contains(&f) {
            continue;
        }
        let Ok(m) = std::fs::metadata(&f) else { continue };
        if let Some(src) = outputs.iter().find(|o| std::fs::metadata(o).is_ok_and(|om| om.ino() == m.ino() && om.dev() == m.dev())) {
            if !v.iter().any(|(_, t)| t == &f) {
                v.push((src.clone(), f));
            }
        }
    }
    v
}

pub fn topo_order(keys: &[String], state: &State) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    fn visit(k: &str, keys: &[String], state: &State, out: &mut Vec<String>, seen: &mut BTreeSet<String>) {
        if !seen.insert(k.to_string()) {
            return;
        }
        if let Some(u) = state.units.get(k) {
            for d in &u.spec.deps {
                if keys.contains(d) {
                    visit(d, keys, state, out, seen);
                }
            }
        }
        out.push(k.to_string());
    }
    let mut seen = BTreeSet::new();
    for k in keys {
        visit(k, keys, state, &mut out, &mut seen);
    }
    out
}

/// Record what a unit cargo (through the wrapper) just compiled was built from.
fn measure_after_cargo(key: &str, state: &mut State, cache: &mut StatCache, started_ns: i128, rustc_version: &str) {
    let spec = state.units[key].spec.clone();
    let dep_interfaces: Vec<(String, Option<Digest>)> =
        spec.deps.iter().map(|d| (d.clone(), state.units.get(d).and_then(|u| u.built.interface))).collect();
    let mut built = state.units[key].built.clone();
    let outcome = crate::build::measure_outputs(&spec, cache);
    let sources = outcome
        .sources
        .iter()
        .map(|p| {
            // A file written while cargo ran may not be what rustc read: leave it unknown.
            let racy = Stamp::of(p).is_some_and(|s| s.mtime_ns >= started_ns);
            (p.clone(), if racy { None } else { cache.digest(p).ok().flatten() })
        })
        .collect();
    built.with = Some(BuiltWith { spec: spec.spec_digest(), sources, deps: dep_interfaces, env: outcome.env.clone() });
    built.interface = outcome.interface;
    if spec.kind != UnitKind::Linkable {
        built.objects = outcome.rlib_objects.clone();
    }
    built.outputs = outcome.stamps.clone();
    built.object_files = vec![];
    if spec.kind == UnitKind::Linkable && spec.split {
        // The wrapper linked: the binary on disk comes from these objects.
        let deps: Vec<(String, Digest)> = crate::build::transitive_dep_keys(key, state)
            .into_iter()
            .map(|d| {
                let objs = state.units.get(&d).map(|u| u.built.objects.clone()).unwrap_or_default();
                (d, set_digest("rlib-objects", &objs))
            })
            .collect();
        let mut deps = deps;
        deps.sort();
        if built.rlink.is_some() {
            built.last_link = Some(LinkInputs {
                own: set_digest("own-objects", &built.objects),
                deps,
                args: spec.link_args_digest(rustc_version),
                rlink: built.rlink,
            });
        }
    }
    state.units.get_mut(key).unwrap().built = built;
}
