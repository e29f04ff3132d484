//! Capture: the only place splitlink runs cargo. `cargo build -vv` runs with splitlink as
//! `RUSTC_WORKSPACE_WRAPPER`; the wrapper records each workspace unit's invocation (and splits
//! linkable ones); cargo's JSON messages name the units; its `-vv` output gives the environment
//! of each build script it ran. The result is merged into the state.
//!
//! Invariant: a record is matched to exactly one of cargo's units and a unit to exactly one
//! record; anything else is [`CaptureError::Ambiguous`] (the build's outputs are cargo's, but the
//! selection is not saved, so the next build goes through cargo again).

use crate::db::BuiltWith;
use crate::depinfo;
use crate::digest::{now_ns, Digest, Stamp, StatCache};
use crate::discover::{self, PackageRules};
use crate::events::{BuildEvent, Sink};
use crate::fingerprint::LinkDecision;
use crate::invocation::Invocation;
use crate::measure::measure_outputs;
use crate::script::{self, Line, ScriptInputs, ScriptRun, Shown, VerboseReader};
use crate::state::{Doctest, SelectionState, State, TargetListing, Trigger, TriggerKind, UnitBuilt, UnitKind, UnitSpec, UnitState};
use crate::unit::{Mode, UnitKey};
use crate::workspace::{self, Located, Selection};
use crate::wrapper::{Record, SplitOutcome};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot run cargo: {0} (no `cargo` on PATH, in $CARGO_HOME/bin or ~/.cargo/bin: install Rust with rustup, https://rustup.rs, or set CARGO to cargo's path in the environment splitlink runs in — for an editor, the one it starts `splitlink lsp` with)")]
    NoCargo(std::io::Error),
    #[error("cargo could not read the workspace:\n{0}")]
    Metadata(String),
    #[error("cannot read splitlink's capture records in {path}: {source}")]
    Records { path: PathBuf, source: std::io::Error },
    #[error("cargo considered {0} up to date but splitlink has no record of how it was compiled, even after `cargo clean -p`")]
    MissingRecords(String),
    #[error("{0}")]
    NoClippy(String),
}

pub struct CaptureResult {
    pub success: bool,
    /// Units compiled by cargo in this capture.
    pub compiled: Vec<UnitKey>,
    /// Units linked by the wrapper.
    pub linked: Vec<UnitKey>,
    /// The wrapper's link decisions (linked or skipped), for the explanation.
    pub decisions: Vec<(UnitKey, LinkDecision)>,
    /// Linkable units compiled whose binary on disk already matched their objects.
    pub link_skipped: Vec<UnitKey>,
    /// Why splitlink cannot replay this selection even though cargo built it (two records
    /// claim one unit): the build is cargo's, and the next one goes through cargo again.
    pub not_replayable: Option<String>,
}

struct Metadata {
    /// Member package ids and their manifests.
    members: BTreeMap<String, PathBuf>,
    member_manifests: Vec<PathBuf>,
    root: PathBuf,
    target_dir: PathBuf,
}

/// The cargo to run: `CARGO`, else `cargo` on `PATH`, else where rustup installs it —
/// `$CARGO_HOME/bin`, `~/.cargo/bin` — which editors started from a desktop often lack on their
/// `PATH` (as rust-analyzer looks; its proxy then honours `rust-toolchain.toml`).
pub fn cargo() -> PathBuf {
    if let Some(c) = std::env::var_os("CARGO") {
        return PathBuf::from(c);
    }
    let path: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if path.iter().any(|d| is_executable(&d.join("cargo"))) {
        return "cargo".into();
    }
    let homes = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    homes.map(|h| h.join("bin").join("cargo")).find(|c| is_executable(c)).unwrap_or_else(|| "cargo".into())
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
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
    let ids: BTreeSet<&str> = v["workspace_members"].as_array().into_iter().flatten().filter_map(|m| m.as_str()).collect();
    let members: BTreeMap<String, PathBuf> = v["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["id"].as_str()?, PathBuf::from(p["manifest_path"].as_str()?))))
        .filter(|(id, _)| ids.contains(id))
        .map(|(id, m)| (id.to_string(), m))
        .collect();
    let member_manifests = members.values().cloned().collect();
    let target_dir = match &sel.target_dir {
        Some(t) => loc.cwd.join(t),
        None => PathBuf::from(v["target_directory"].as_str().unwrap_or_default()),
    };
    Ok(Metadata { members, member_manifests, root: PathBuf::from(v["workspace_root"].as_str().unwrap_or_default()), target_dir })
}

/// `a/./b/../c` → `a/c`, without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// The `--target` triple a unit was built for, from where cargo put its artifact
/// (`<target-dir>/<triple>/<profile>/…`); `None` for `<target-dir>/<profile>/…`.
fn artifact_triple(a: &Value, target_dir: &Path, profile_dir: &str) -> Option<String> {
    let f = a["filenames"].as_array()?.first()?.as_str()?;
    let rel = Path::new(f).strip_prefix(target_dir).ok()?;
    let first = rel.components().next()?.as_os_str().to_string_lossy().into_owned();
    (first != profile_dir).then_some(first)
}

fn profile_dir(profile: &str) -> &str {
    match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        p => p,
    }
}

/// Whether a wrapper record is a compile of the unit cargo's artifact message describes.
fn record_matches(a: &Value, key: &UnitKey, inv: &Invocation) -> bool {
    let manifest_dir = a["manifest_path"].as_str().map(|m| Path::new(m).parent().unwrap_or(Path::new("")).to_path_buf());
    if manifest_dir.as_deref() != inv.env.get("CARGO_MANIFEST_DIR").map(Path::new) {
        return false;
    }
    let src = a["target"]["src_path"].as_str().map(|s| normalize(Path::new(s)));
    if src.is_none() || src != inv.source().map(|s| normalize(&s)) {
        return false;
    }
    if key.is_test() != inv.is_test() {
        return false;
    }
    if !key.is_test() {
        let mut types = inv.crate_types();
        types.sort();
        if types != key.crate_types {
            return false;
        }
    }
    inv.features() == key.features
}

/// Among several matching records, the one whose outputs are the artifact's files (the
/// `-C extra-filename` hash is in them; an uplifted binary is a hard link to the unit's).
fn same_outputs(a: &Value, inv: &Invocation) -> bool {
    use std::os::unix::fs::MetadataExt;
    let outputs = inv.outputs();
    let mut files: Vec<PathBuf> = a["filenames"].as_array().into_iter().flatten().filter_map(|f| f.as_str().map(PathBuf::from)).collect();
    files.extend(a["executable"].as_str().map(PathBuf::from));
    files.iter().any(|f| {
        outputs.contains(f)
            || std::fs::metadata(f)
                .is_ok_and(|m| outputs.iter().any(|o| std::fs::metadata(o).is_ok_and(|om| om.ino() == m.ino() && om.dev() == m.dev())))
    })
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

/// What cargo printed, in order, from its two streams.
enum Out {
    Stdout(String),
    Stderr(String),
}

/// Capture through cargo and merge what was learnt into `state`.
#[allow(clippy::too_many_arguments)]
pub fn capture(
    loc: &Located,
    sel: &Selection,
    sel_key: &str,
    state: &mut State,
    sink: &mut dyn Sink,
    opts: &crate::BuildOptions,
    link_extra: &[String],
    cancel: Option<&crate::exec::Cancel>,
) -> Result<CaptureResult, CaptureError> {
    let exe = match &opts.wrapper {
        Some(w) => w.clone(),
        None => std::env::current_exe().map_err(CaptureError::NoCargo)?,
    };
    // Fast mode: the wrapper's links (under cargo) use the same linker arguments as the
    // replay's, so the first build does not link twice.
    let w = WrapperCmd { exe, link_extra: link_extra.to_vec(), color: opts.color, short: opts.short_diagnostics };
    capture_inner(loc, sel, sel_key, state, sink, opts.quiet, true, cancel, &w)
}

/// How cargo runs splitlink as its workspace wrapper.
struct WrapperCmd {
    exe: PathBuf,
    /// [`crate::wrapper::LINK_EXTRA_ENV`]: fast mode's linker arguments.
    link_extra: Vec<String>,
    /// `--color=always` for cargo.
    color: bool,
    /// rustc's diagnostics rendered in the short form (`json-diagnostic-short`).
    short: bool,
}

/// Run one cargo command (`build …`, `test --no-run …`; `test --doc …` with splitlink as the
/// rustdoc that records doctests into `doc_record`) under the wrapper; returns its success, its
/// JSON messages and the commands it showed with `-vv`.
#[allow(clippy::too_many_arguments)]
fn run_cargo(
    loc: &Located,
    meta: &Metadata,
    sel: &Selection,
    args: &[String],
    doc_record: Option<&Path>,
    capture_dir: &Path,
    sink: &mut dyn Sink,
    quiet: bool,
    cancel: Option<&crate::exec::Cancel>,
    w: &WrapperCmd,
) -> Result<(bool, Vec<Value>, Vec<Shown>), CaptureError> {
    let exe = &w.exe;
    let mut cmd = Command::new(cargo());
    // `-vv` makes cargo show each build script's environment (splitlink reruns scripts with
    // it); its extra lines are filtered out below.
    let format = if w.short { "json-diagnostic-rendered-ansi,json-diagnostic-short" } else { "json-diagnostic-rendered-ansi" };
    cmd.args(args).arg(format!("--message-format={format}")).arg("-vv");
    if sel.manifest_path.is_none() {
        cmd.arg("--manifest-path").arg(&loc.manifest);
    }
    if w.color {
        cmd.arg("--color=always");
    }
    if sel.command == crate::CargoCommand::Clippy {
        let rustc = std::env::var_os("RUSTC").map(PathBuf::from).unwrap_or_else(|| "rustc".into());
        let driver = crate::exec::clippy_driver(&rustc, &loc.cwd).map_err(CaptureError::NoClippy)?;
        // As `cargo clippy` passes the flags after `--` to its driver.
        let args: String = sel.clippy_args.iter().map(|a| format!("{a}__CLIPPY_HACKERY__")).collect();
        cmd.env(crate::exec::CLIPPY_DRIVER_ENV, driver).env("CLIPPY_ARGS", args);
    }
    cmd.current_dir(&loc.cwd)
        .env("RUSTC_WORKSPACE_WRAPPER", exe)
        .env(crate::wrapper::LINK_EXTRA_ENV, w.link_extra.join("\n"))
        .env(crate::CAPTURE_DIR_ENV, capture_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = doc_record {
        let real = std::env::var_os("RUSTDOC").unwrap_or_else(|| "rustdoc".into());
        cmd.env("RUSTDOC", exe).env(crate::wrapper::RUSTDOC_RECORD_ENV, dir).env(crate::wrapper::REAL_RUSTDOC_ENV, real);
    }
    if cancel.is_some() {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(CaptureError::NoCargo)?;
    if let Some(c) = cancel {
        c.register(child.id());
    }
    let (tx, rx) = std::sync::mpsc::channel::<Out>();
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let t1 = {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(Out::Stdout(line)).is_err() {
                    break;
                }
            }
        })
    };
    let t2 = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(Out::Stderr(line)).is_err() {
                break;
            }
        }
    });
    let mut messages = Vec::new();
    let mut shown = Vec::new();
    let mut verbose = VerboseReader::default();
    let mut no_library = false;
    let mut held: Vec<String> = Vec::new();
    let mut closing: Vec<String> = Vec::new();
    let mut counts: Vec<(String, crate::UnitInfo, crate::MessageCounts)> = Vec::new();
    for out in rx {
        if !held.is_empty()
            && matches!(&out, Out::Stderr(l) if !l.trim().is_empty() && crate::strip_ansi(l).trim() != "Caused by:" && !is_failed_rustc_line(l))
        {
            for l in held.drain(..) {
                sink.event(BuildEvent::CargoOutput(l));
            }
        }
        match out {
            Out::Stdout(line) => {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if v["reason"] == "compiler-message" {
                        emit_compiler_message(&v, meta, loc, sink);
                        let id = format!("{}\0{}\0{}", v["package_id"], v["target"]["name"], v["target"]["kind"]);
                        match counts.iter_mut().find(|(i, _, _)| *i == id) {
                            Some((_, _, c)) => c.add(&v["message"]),
                            None => {
                                let mut c = crate::MessageCounts::default();
                                c.add(&v["message"]);
                                counts.push((id, crate::UnitInfo::from_cargo_message(&v), c));
                            }
                        }
                    }
                    messages.push(v);
                }
            }
            // `-vv` adds, after a failed compile's `could not compile` line, a blank line,
            // `Caused by:` and the rustc command line: not what cargo shows (a build script's
            // failure, which cargo always explains that way, still shows).
            Out::Stderr(line) if line.trim().is_empty() || crate::strip_ansi(&line).trim() == "Caused by:" => held.push(line),
            Out::Stderr(line) if !held.is_empty() && is_failed_rustc_line(&line) => held.clear(),
            Out::Stderr(line) => match verbose.line(&line) {
                Line::Command(c) => shown.push(c),
                Line::None => {}
                // cargo's status lines pass through (not in quiet mode); its `Finished` line is
                // ours to print.
                Line::Show(l) => {
                    let plain = crate::strip_ansi(&l);
                    let status = is_status_line(&plain);
                    // The doctests are recorded here, not run: cargo's `Doc-tests` lines would say
                    // otherwise.
                    let doc = doc_record.is_some() && plain.trim_start().starts_with("Doc-tests ");
                    // `Blocking waiting for file lock …` always reaches the front-end: another cargo
                    // (rust-analyzer's check) holds the lock, and the user must know why nothing moves.
                    let blocking = plain.trim_start().starts_with("Blocking ");
                    if status && !blocking && (quiet || doc || plain.trim_start().starts_with("Finished ")) {
                        continue;
                    }
                    // `cargo test --doc` on packages none of which has a library: no doctests
                    // (what `cargo test` does silently).
                    if doc_record.is_some() && plain.starts_with("error: no library targets found in package") {
                        no_library = true;
                        continue;
                    }
                    // A unit's closing line comes after its diagnostics, which arrive on the
                    // other pipe: shown once both pipes are read.
                    if plain.starts_with("error: could not compile `") || (plain.starts_with("warning: `") && plain.contains(" generated "))
                    {
                        closing.push(l);
                        continue;
                    }
                    sink.event(BuildEvent::CargoOutput(l));
                }
            },
        }
    }
    // cargo prints `generated N warnings` only in its human formats: said here as it would,
    // before its `could not compile` lines (which count the warnings themselves).
    for (_, unit, c) in counts {
        if c.warnings > 0 && !quiet {
            let counts = crate::MessageCounts { errors: 0, fixable: if c.errors > 0 { 0 } else { c.fixable }, ..c };
            sink.event(BuildEvent::UnitReport { unit, counts });
        }
    }
    for l in held.into_iter().filter(|l| !l.trim().is_empty()).chain(closing) {
        sink.event(BuildEvent::CargoOutput(l));
    }
    let _ = t1.join();
    let _ = t2.join();
    let status = child.wait().map_err(CaptureError::NoCargo)?;
    if let Some(c) = cancel {
        c.unregister(child.id());
    }
    Ok((status.success() || no_library, messages, shown))
}

/// A `compiler-message` of cargo's, to the sink as it arrives (before cargo's `could not
/// compile` line, as cargo shows it); a failed link is mapped to the sources.
fn emit_compiler_message(v: &Value, meta: &Metadata, loc: &Located, sink: &mut dyn Sink) {
    let msg = v["message"].clone();
    let m = msg["message"].as_str().unwrap_or("");
    let is_link = m.starts_with("linking with") || m.starts_with("linker `");
    let link = is_link.then(|| {
        let root = meta.root.clone();
        crate::LinkFailure {
            sources: discover::walk_files(&root, |n| n == "target" || n == ".git")
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "rs"))
                .collect(),
            manifest_dirs: meta.member_manifests.iter().filter_map(|m| m.parent().map(Path::to_path_buf)).collect(),
            config_files: workspace::config_candidates(&loc.cwd).into_iter().filter(|p| p.exists()).collect(),
            root_source: v["target"]["src_path"].as_str().unwrap_or("").into(),
            cwd: root.clone(),
            workspace_root: root,
        }
    });
    sink.event(crate::events::diagnostic(Some(crate::UnitInfo::from_cargo_message(v)), msg, link.as_ref(), &meta.root, &meta.root))
}

/// `  process didn't exit successfully: `… rustc … --crate-name …` (exit status: 1)`: the rustc
/// command line `-vv` shows after a failed compile.
fn is_failed_rustc_line(line: &str) -> bool {
    let plain = crate::strip_ansi(line);
    plain.trim_start().starts_with("process didn't exit successfully: `")
        && plain.contains(" --crate-name ")
        && !plain.contains("build-script-build`")
}

/// What tells two of cargo's artifact messages apart (all but freshness).
fn artifact_id(v: &Value) -> String {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("fresh");
    }
    v.to_string()
}

/// cargo's status lines: a capitalised verb right-aligned in 12 columns, then a space.
fn is_status_line(line: &str) -> bool {
    let Some(head) = line.get(..12) else { return false };
    let verb = head.trim_start();
    !verb.is_empty() && verb.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && !verb.contains(' ') && line[12..].starts_with(' ')
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
    exe: &WrapperCmd,
) -> Result<CaptureResult, CaptureError> {
    let meta = metadata(loc, sel)?;
    let started_ns = now_ns();
    let capture_dir = meta.target_dir.join("splitlink").join(format!("capture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&capture_dir);
    std::fs::create_dir_all(&capture_dir).map_err(|source| CaptureError::Records { path: capture_dir.clone(), source })?;
    let doc_dir = capture_dir.join("doctests");
    let mut success = true;
    let mut messages = Vec::new();
    let mut shown = Vec::new();
    for (i, args) in sel.cargo_commands().iter().enumerate() {
        if !success {
            break;
        }
        let doc = args.iter().any(|a| a == "--doc").then_some(doc_dir.as_path());
        let (ok, mut m, mut sh) = run_cargo(loc, &meta, sel, args, doc, &capture_dir, sink, quiet, cancel, exe)?;
        if i > 0 {
            // A unit both commands built is reported by the second as fresh: keep the first.
            let seen: BTreeSet<String> = messages.iter().filter(|v: &&Value| v["reason"] == "compiler-artifact").map(artifact_id).collect();
            m.retain(|v| v["reason"] != "compiler-artifact" || !seen.contains(&artifact_id(v)));
        }
        success = ok;
        messages.append(&mut m);
        shown.append(&mut sh);
    }

    let mut artifacts: Vec<Value> = Vec::new();
    let mut compiler_messages: Vec<Value> = Vec::new();
    let mut script_runs: Vec<Value> = Vec::new();
    for v in messages {
        match v["reason"].as_str() {
            // Shown as cargo printed it (in [`run_cargo`]); kept for the units' records.
            Some("compiler-message") => {
                let m = v["message"]["message"].as_str().unwrap_or("");
                if !(m.starts_with("linking with") || m.starts_with("linker `")) {
                    compiler_messages.push(v.clone());
                }
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
    let mut doc_records: Vec<crate::wrapper::RustdocRecord> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&doc_dir) {
        let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
        paths.sort();
        for p in paths {
            let bytes = std::fs::read(&p).map_err(|source| CaptureError::Records { path: p.clone(), source })?;
            if let Ok(r) = serde_json::from_slice(&bytes) {
                doc_records.push(r);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&capture_dir);
    // What the wrapper hashed (linked libraries) need not be hashed again.
    for r in &mut records {
        for (kind, d) in r.measured.drain(..) {
            state.cache.record_derived(&kind, d);
        }
    }

    let profile = sel.profile_name();
    // Units are keyed by the profile's output directory (with the digest of cargo's profile
    // object and `-C metadata`), not by the profile the command names: `cargo build
    // --all-targets` and `cargo test --no-run` build the same test units (same metadata, same
    // files), and a library that `cargo test` builds against other dependency features
    // (dev-dependencies) has another metadata, hence another key.
    let key_profile = profile_dir(&profile).to_string();
    let parent_env: BTreeMap<String, String> = std::env::vars().collect();
    let mut compiled = Vec::new();
    let mut linked = Vec::new();
    let mut link_skipped = Vec::new();
    let mut decisions = Vec::new();
    let mut unit_keys: Vec<UnitKey> = Vec::new();
    let mut missing = Vec::new();
    let mut other_messages = Vec::new();
    let mut nonmember_path_sources: Vec<PathBuf> = Vec::new();
    let mut ambiguous: Vec<String> = Vec::new();
    let mut claimed: HashMap<usize, UnitKey> = HashMap::new();

    for a in &artifacts {
        let pkg = a["package_id"].as_str().unwrap_or("");
        if !meta.members.contains_key(pkg) {
            other_messages.push(a.clone());
            if pkg.starts_with("path+") {
                nonmember_path_sources.extend(nonmember_sources(a));
            }
            continue;
        }
        let triple = artifact_triple(a, &meta.target_dir, profile_dir(&profile));
        // cargo's message has no `-C metadata`: the key is completed from the matched record,
        // or, for a unit cargo found fresh, from the one stored record of this target whose
        // files are the artifact's.
        let base = UnitKey::from_cargo_message(a, &key_profile, triple.as_deref());
        let mut cands: Vec<usize> = (0..records.len()).filter(|i| record_matches(a, &base, &records[*i].invocation)).collect();
        if cands.len() > 1 {
            cands.retain(|i| same_outputs(a, &records[*i].invocation));
        }
        let (key, rec) = match cands.as_slice() {
            [] => {
                let stored: Vec<&UnitKey> = state
                    .units
                    .iter()
                    .filter(|(k, u)| k.same_target(&base) && same_outputs(a, &u.spec.invocation))
                    .map(|(k, _)| k)
                    .collect();
                match stored.as_slice() {
                    [k] => ((*k).clone(), None),
                    [] => (base, None),
                    _ => {
                        ambiguous.push(format!("{} stored records match {base}", stored.len()));
                        continue;
                    }
                }
            }
            [i] => {
                let key = base.with_metadata(records[*i].invocation.metadata());
                if let Some(other) = claimed.insert(*i, key.clone()) {
                    ambiguous.push(format!("one rustc invocation matches both {other} and {key}"));
                }
                (key, Some(&records[*i]))
            }
            _ => {
                ambiguous.push(format!("{} rustc invocations match {base}", cands.len()));
                continue;
            }
        };
        if unit_keys.contains(&key) {
            ambiguous.push(format!("cargo reported two units as {key}"));
            continue;
        }
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
                    manifest_path: PathBuf::from(a["manifest_path"].as_str().unwrap_or("")),
                    target: a["target"].clone().into(),
                    kind,
                    invocation: inv,
                    split,
                    fallback_reason,
                    deps: vec![],
                    artifact: artifact.into(),
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
                        SplitOutcome::Split { objects, linked: true, link, decision } => {
                            decisions.push((key.clone(), decision.clone()));
                            built.objects = objects.digests.clone();
                            built.rlink = Some(objects.rlink);
                            built.link_files = link.as_ref().map(|l| l.files.iter().map(|(p, _)| p.clone()).collect());
                            built.last_link = link.clone();
                            linked.push(key.clone());
                        }
                        SplitOutcome::LinkSkipped { objects, link } => {
                            built.objects = objects.digests.clone();
                            built.rlink = Some(objects.rlink);
                            built.link_files = Some(link.files.iter().map(|(p, _)| p.clone()).collect());
                            built.last_link = Some(link.clone());
                            decisions.push((key.clone(), LinkDecision::UpToDate));
                            link_skipped.push(key.clone());
                        }
                        _ => {}
                    }
                    compiled.push(key.clone());
                    built.with = Some(BuiltWith { spec: Digest([0; 32]), sources: vec![], deps: vec![], env: vec![] });
                }
                state.units.insert(key.clone(), UnitState { spec, built });
                unit_keys.push(key);
            }
            // Fresh for cargo: the invocation recorded when cargo last ran it still holds.
            None if state.units.contains_key(&key) => unit_keys.push(key),
            None => missing.push((key.clone(), key.package_name())),
        }
    }

    if success && !missing.is_empty() && ambiguous.is_empty() {
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
        return Err(CaptureError::MissingRecords(missing.into_iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>().join(", ")));
    }

    // Dependencies between workspace units, by output path.
    let mut by_output: HashMap<PathBuf, UnitKey> = HashMap::new();
    for k in &unit_keys {
        for o in state.units[k].spec.invocation.outputs() {
            by_output.insert(o, k.clone());
        }
    }
    for k in &unit_keys {
        let spec = &state.units[k].spec;
        let deps: Vec<UnitKey> =
            spec.invocation.externs().iter().filter_map(|(_, p)| by_output.get(p).cloned()).filter(|d| d != k).collect();
        let uplifts = uplifts(spec.artifact.get(), &spec.invocation);
        let u = state.units.get_mut(k).unwrap();
        u.spec.deps = deps;
        u.spec.uplifts = uplifts;
        u.spec.digest = Some(u.spec.compute_digest());
    }

    // Measure what cargo just built, in dependency order (interfaces feed dependents).
    let mut cache = std::mem::take(&mut state.cache);
    let order = topo_order(&unit_keys, state);
    for k in &order {
        if compiled.contains(k) {
            measure_after_cargo(k, state, &mut cache, started_ns, &meta.target_dir);
        }
    }

    // Triggers: everything whose change means cargo must decide again.
    let mut triggers: Vec<(PathBuf, TriggerKind)> = Vec::new();
    let graph = meta.member_manifests.iter().cloned().chain([meta.root.join("Cargo.toml"), meta.root.join("Cargo.lock")]);
    triggers.extend(graph.map(|p| (p, TriggerKind::Graph)));
    triggers.extend(workspace::config_candidates(&loc.cwd).into_iter().map(|p| (p, TriggerKind::Graph)));
    triggers.extend(workspace::toolchain_candidates(&meta.root, &loc.cwd).into_iter().map(|p| (p, TriggerKind::Graph)));
    if let Some(u) = unit_keys.first().and_then(|k| state.units.get(k)) {
        triggers.push((u.spec.invocation.rustc.clone(), TriggerKind::Graph));
    }
    triggers.extend(nonmember_path_sources.into_iter().map(|p| (p, TriggerKind::OutsideSource)));
    for k in &unit_keys {
        let u = &state.units[k];
        if u.spec.kind == UnitKind::BuildScript {
            if let Some(w) = &u.built.with {
                triggers.extend(w.sources.iter().map(|(p, _)| (p.clone(), TriggerKind::ScriptSource)));
            }
        }
    }
    triggers.sort_by(|a, b| a.0.cmp(&b.0));
    triggers.dedup_by(|a, b| a.0 == b.0);
    let triggers = triggers
        .into_iter()
        .map(|(path, kind)| {
            // A trigger edited while cargo ran may not be what cargo read: mark it unknown
            // (cargo itself writes Cargo.lock).
            let racy = path.file_name().is_none_or(|n| n != "Cargo.lock") && Stamp::of(&path).is_some_and(|s| s.mtime_ns >= started_ns);
            let digest = if racy { Some(Digest([0; 32])) } else { cache.digest(&path).ok().flatten() };
            Trigger { path, digest, kind }
        })
        .collect();

    // The members' inferred targets.
    let targets = meta
        .member_manifests
        .iter()
        .filter_map(|m| m.parent())
        .map(|d| TargetListing { package_dir: d.to_path_buf(), files: discover::target_files(d) })
        .collect();

    // Build scripts: what they read, and how cargo ran them (for reruns without cargo).
    let envs: HashMap<PathBuf, &Shown> = shown
        .iter()
        .filter(|c| c.program.file_name().is_some_and(|n| n.to_string_lossy().starts_with("build-script-")))
        .filter_map(|c| c.env.get("OUT_DIR").map(|o| (PathBuf::from(o), c)))
        .collect();
    let previous: Vec<ScriptRun> = state.selections.get(sel_key).map(|s| s.scripts.clone()).unwrap_or_default();
    let mut env_extra: Vec<String> = Vec::new();
    let mut scripts = Vec::new();
    for run in &script_runs {
        let pkg = run["package_id"].as_str().unwrap_or("");
        let Some(manifest) = meta.members.get(pkg) else { continue };
        let Some(out_dir) = run["out_dir"].as_str().map(PathBuf::from) else { continue };
        let output = out_dir.parent().map(|p| p.join("output")).unwrap_or_default();
        let pkg_dir = manifest.parent().unwrap_or(Path::new("/")).to_path_buf();
        let text = std::fs::read_to_string(&output).unwrap_or_default();
        let mut files = Vec::new();
        let mut any_rerun = false;
        for line in text.lines() {
            let l = line.strip_prefix("cargo::").or_else(|| line.strip_prefix("cargo:")).unwrap_or("");
            if let Some(p) = l.strip_prefix("rerun-if-changed=") {
                any_rerun = true;
                files.push(pkg_dir.join(p));
            } else if let Some(v) = l.strip_prefix("rerun-if-env-changed=") {
                env_extra.push(v.to_string());
            }
        }
        let inputs = if any_rerun {
            ScriptInputs::Files(files)
        } else {
            // cargo's default: any file of the package reruns the build script.
            ScriptInputs::Package { root: pkg_dir.clone(), rules: PackageRules::of_manifest(manifest) }
        };
        // Inputs written while cargo ran may not be what the script saw: unknown (rerun).
        // (cargo itself writes Cargo.lock.)
        let racy = inputs
            .files(&meta.target_dir)
            .iter()
            .any(|p| p.file_name().is_none_or(|n| n != "Cargo.lock") && Stamp::of(p).is_some_and(|s| s.mtime_ns >= started_ns));
        let inputs_digest = (!racy).then(|| inputs.digest(&meta.target_dir, &mut cache));
        let (program, env) = match envs.get(&out_dir) {
            Some(c) => (Some(c.program.clone()), c.env.clone()),
            // Not run in this capture: how cargo last ran it still holds (same OUT_DIR).
            None => match previous.iter().find(|p| p.out_dir == out_dir) {
                Some(p) => (p.program.clone(), p.env.clone()),
                None => (None, BTreeMap::new()),
            },
        };
        scripts.push(ScriptRun {
            key: UnitKey {
                package_id: pkg.to_string(),
                kind: "custom-build".into(),
                name: "build-script-build".into(),
                crate_types: vec![],
                mode: Mode::RunCustomBuild,
                profile: key_profile.clone(),
                features: vec![],
                target: None,
                // cargo's hash of the run unit names its OUT_DIR (`build/pkg-HASH/out`).
                metadata: out_dir.parent().and_then(|d| d.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            },
            package_dir: pkg_dir,
            out_dir: out_dir.clone(),
            program,
            env,
            inputs,
            inputs_digest,
            out_dir_digest: Some(script::dir_digest(&out_dir)),
        });
    }
    state.cache = cache;

    other_messages.extend(script_runs.into_iter().map(|mut v| {
        v["fresh"] = Value::Bool(true);
        v
    }));
    for m in &mut other_messages {
        m["fresh"] = Value::Bool(true);
    }
    // Doctests: how cargo would run rustdoc for each library (`cargo test --doc`).
    let rustdoc = unit_keys
        .first()
        .and_then(|k| state.units.get(k))
        .map(|u| u.spec.invocation.rustc.with_file_name("rustdoc"))
        .unwrap_or_else(|| "rustdoc".into());
    let doctests = doc_records
        .into_iter()
        .map(|mut r| {
            r.env.retain(|k, v| parent_env.get(k) != Some(v));
            let crate_name = r.args.iter().skip_while(|a| *a != "--crate-name").nth(1).cloned().unwrap_or_default();
            let lib_path = r.args.iter().filter_map(|a| a.strip_prefix(&format!("{crate_name}="))).next().map(PathBuf::from);
            let lib = lib_path.and_then(|p| by_output.get(&p).cloned());
            let package_id = lib.as_ref().map(|k| k.package_id.clone()).unwrap_or_default();
            Doctest { package_id, crate_name, rustdoc: rustdoc.clone(), args: r.args, env: r.env, cwd: r.cwd, lib }
        })
        .collect();
    // The profile of the selection's own targets (build scripts and proc-macros have their own).
    let own = |a: &&Value| {
        meta.members.contains_key(a["package_id"].as_str().unwrap_or(""))
            && a["target"]["kind"][0] != "custom-build"
            && a["target"]["kind"][0] != "proc-macro"
    };
    let profile_desc = artifacts.iter().find(own).or(artifacts.first()).map(|a| profile_desc(&a["profile"])).unwrap_or_default();
    let not_replayable = (!ambiguous.is_empty()).then(|| ambiguous.join("; "));
    if success && not_replayable.is_none() {
        state.selections.insert(
            sel_key.to_string(),
            SelectionState {
                units: order,
                triggers,
                targets,
                scripts,
                env: workspace::relevant_env(&env_extra),
                other_messages: other_messages.into_iter().map(Into::into).collect(),
                profile,
                profile_desc,
                workspace_root: meta.root.clone(),
                doctests,
            },
        );
    } else {
        // A failed cargo build leaves the graph uncertain: the next build goes through cargo.
        state.selections.remove(sel_key);
    }
    Ok(CaptureResult { success, compiled, linked, link_skipped, decisions, not_replayable })
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

pub fn topo_order(keys: &[UnitKey], state: &State) -> Vec<UnitKey> {
    let mut out: Vec<UnitKey> = Vec::new();
    fn visit(k: &UnitKey, keys: &[UnitKey], state: &State, out: &mut Vec<UnitKey>, seen: &mut BTreeSet<UnitKey>) {
        if !seen.insert(k.clone()) {
            return;
        }
        if let Some(u) = state.units.get(k) {
            for d in &u.spec.deps {
                if keys.contains(d) {
                    visit(d, keys, state, out, seen);
                }
            }
        }
        out.push(k.clone());
    }
    let mut seen = BTreeSet::new();
    for k in keys {
        visit(k, keys, state, &mut out, &mut seen);
    }
    out
}

/// Record what a unit cargo (through the wrapper) just compiled was built from. A linkable
/// unit's link inputs are what the wrapper measured when it linked (or skipped the link).
fn measure_after_cargo(key: &UnitKey, state: &mut State, cache: &mut StatCache, started_ns: i128, target_dir: &Path) {
    let spec = state.units[key].spec.clone();
    let dep_interfaces: Vec<(UnitKey, Option<Digest>)> =
        spec.deps.iter().map(|d| (d.clone(), state.units.get(d).and_then(|u| u.built.interface))).collect();
    let mut built = state.units[key].built.clone();
    let outcome = measure_outputs(&spec, cache);
    let sources = outcome
        .sources
        .iter()
        .map(|p| {
            // A file written while cargo ran may not be what rustc read: leave it unknown. (Files
            // in the target directory — a build script's generated code — are written by the
            // build itself, before the compiles that read them.)
            let racy = !p.starts_with(target_dir) && Stamp::of(p).is_some_and(|s| s.mtime_ns >= started_ns);
            (p.clone(), if racy { None } else { cache.digest(p).ok().flatten() })
        })
        .collect();
    built.with = Some(BuiltWith { spec: spec.spec_digest(), sources, deps: dep_interfaces, env: outcome.env.clone() });
    built.interface = outcome.interface;
    built.outputs = outcome.stamps.clone();
    built.object_files = vec![];
    state.units.get_mut(key).unwrap().built = built;
}
