//! The build loop: the sole owner of the salsa database and of the state on disk.
//!
//! One `build` call: decide whether cargo must be asked (capture) or the captured graph can be
//! replayed; set the db's inputs from what is on disk; then loop over one closed [`Event`] enum,
//! starting compiles and links as the db says they are ready and feeding their measured outputs
//! back as inputs, until nothing is left to do.

use crate::capture::{self, CaptureError};
use crate::db::{self, BuiltWith, Db, File, Graph, LinkDecision, Unit};
use crate::depinfo;
use crate::digest::{Digest, Stamp, StatCache};
use crate::events::{BuildEvent, BuildSummary, Sink, UnitInfo};
use crate::exec::{self, Cancel, CompiledObjects, RunOutput, Step};
use crate::objects;
use crate::state::{describe, Explanation, State, UnitKind, UnitSpec};
use crate::workspace::{self, Located, Selection};
use crate::LinkFailure;
use salsa::Setter;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Workspace(#[from] workspace::WorkspaceError),
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error("cannot lock {path}: {source}")]
    Lock { path: PathBuf, source: std::io::Error },
    #[error("no build recorded yet for these flags in {0}: run `splitlink build` first")]
    NothingToExplain(PathBuf),
}

#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub quiet: bool,
    pub jobs: usize,
    /// Go through cargo even if nothing says it is needed.
    pub force_capture: bool,
    /// The `splitlink` executable cargo runs as `RUSTC_WORKSPACE_WRAPPER` (default: this one).
    pub wrapper: Option<PathBuf>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            quiet: false,
            jobs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            force_capture: false,
            wrapper: None,
        }
    }
}

/// What the executor measured of a unit's outputs after a successful compile.
#[derive(Debug, Default)]
pub struct Measured {
    pub sources: Vec<PathBuf>,
    pub env: Vec<(String, Option<String>)>,
    pub interface: Option<Digest>,
    pub rlib_objects: Vec<Digest>,
    pub stamps: Vec<(PathBuf, Stamp)>,
}

/// Read a unit's dep-info and fingerprint its outputs (I/O: executor side only).
pub fn measure_outputs(spec: &UnitSpec, cache: &mut StatCache) -> Measured {
    let inv = &spec.invocation;
    let dep = inv
        .dep_info_path()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| depinfo::parse(&t, &inv.cwd))
        .unwrap_or_default();
    let interface = match spec.kind {
        UnitKind::Lib | UnitKind::ProcMacro => inv.interface_output().and_then(|p| cache.digest(&p).ok().flatten()),
        _ => None,
    };
    let rlib_objects = if spec.kind == UnitKind::Lib {
        inv.outputs()
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == "rlib"))
            .and_then(|p| objects::rlib_object_digests(p).ok())
            .unwrap_or_default()
    } else {
        vec![]
    };
    let stamps = inv.outputs().into_iter().filter_map(|p| Stamp::of(&p).map(|s| (p, s))).collect();
    Measured { sources: dep.files, env: dep.env, interface, rlib_objects, stamps }
}

pub fn transitive_dep_keys(key: &str, state: &State) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut stack: Vec<String> = state.units.get(key).map(|u| u.spec.deps.clone()).unwrap_or_default();
    while let Some(d) = stack.pop() {
        if out.contains(&d) {
            continue;
        }
        if let Some(u) = state.units.get(&d) {
            stack.extend(u.spec.deps.iter().cloned());
        }
        out.push(d);
    }
    out
}

fn unit_info(spec: &UnitSpec) -> UnitInfo {
    let kind = spec.target["kind"].as_array().and_then(|k| k.first()).and_then(|k| k.as_str()).unwrap_or("lib").to_string();
    let path = if spec.kind == UnitKind::Linkable {
        spec.uplifts.first().map(|(_, to)| to.clone()).or_else(|| spec.invocation.linked_output())
    } else {
        None
    };
    UnitInfo {
        package: spec.package_name.clone(),
        target: spec.name(),
        kind,
        path,
        package_id: spec.package_id.clone(),
        version: spec.package_id.rsplit(['#', '@']).next().unwrap_or("").to_string(),
        manifest_path: spec.manifest_path.clone(),
        target_json: spec.target.clone(),
    }
}

/// The value a compile would now observe for each environment variable it read.
fn env_now(spec: &UnitSpec, names: &[(String, Option<String>)]) -> Vec<(String, Option<String>)> {
    names
        .iter()
        .map(|(k, _)| (k.clone(), spec.invocation.env.get(k).cloned().or_else(|| std::env::var(k).ok())))
        .collect()
}

/// The single event type of the build loop.
enum Event {
    Compiled { key: String, out: RunOutput, objects: Option<CompiledObjects>, fallback: Option<String>, measured: Measured, ms: u64 },
    Linked { key: String, out: RunOutput, fallback: Option<String>, ms: u64 },
}

/// The salsa database and its inputs for one selection's graph, kept across builds of a
/// long-running session (rebuilt only after a capture changed the graph).
struct Warm {
    db: Db,
    graph: Graph,
    units: HashMap<String, Unit>,
    files: HashMap<PathBuf, File>,
    keys: Vec<String>,
}

struct Loop<'a> {
    w: &'a mut Warm,
    state: &'a mut State,
    cancel: Option<Cancel>,
    cache: StatCache,
    root: PathBuf,
    config_files: Vec<PathBuf>,
    running: BTreeSet<String>,
    failed: BTreeSet<String>,
    compiled: Vec<String>,
    linked: Vec<String>,
    link_skipped: Vec<String>,
    explanation: Explanation,
    snapshots: HashMap<String, BuiltWith>,
    pending_link: HashMap<String, db::LinkInputs>,
    rustc_ms: u64,
    link_ms: u64,
}

impl Loop<'_> {
    fn file(&mut self, p: &Path) -> File {
        file_input(self.w, &mut self.cache, p)
    }

    fn spec(&self, key: &str) -> &UnitSpec {
        &self.state.units[key].spec
    }

    fn key_of(&self, u: Unit) -> String {
        u.id(&self.w.db).clone()
    }

    fn link_failure(&self, key: &str) -> LinkFailure {
        let spec = self.spec(key);
        let mut sources: Vec<PathBuf> = Vec::new();
        let mut manifest_dirs = Vec::new();
        for k in std::iter::once(key.to_string()).chain(transitive_dep_keys(key, self.state)) {
            if let Some(u) = self.state.units.get(&k) {
                if let Some(w) = &u.built.with {
                    sources.extend(w.sources.iter().map(|(p, _)| p.clone()).filter(|p| p.extension().is_some_and(|e| e == "rs")));
                }
                if let Some(d) = u.spec.manifest_path.parent() {
                    if !manifest_dirs.contains(&d.to_path_buf()) {
                        manifest_dirs.push(d.to_path_buf());
                    }
                }
            }
        }
        LinkFailure {
            workspace_root: self.root.clone(),
            cwd: spec.invocation.cwd.clone(),
            sources,
            manifest_dirs,
            config_files: self.config_files.iter().filter(|p| p.exists()).cloned().collect(),
            root_source: spec.invocation.source().unwrap_or_default(),
        }
    }

    /// Report a job's rustc output; returns the compile diagnostics (for replay when fresh).
    fn emit_stderr(&self, key: &str, stderr: &[u8], link: bool, sink: &mut dyn Sink) -> Vec<serde_json::Value> {
        let spec = self.spec(key);
        let info = unit_info(spec);
        let mut kept = Vec::new();
        for line in String::from_utf8_lossy(stderr).lines() {
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(v) if v.get("$message_type").and_then(|t| t.as_str()) == Some("diagnostic") => {
                    let msg = v["message"].as_str().unwrap_or("");
                    let is_link = link && (msg.starts_with("linking with") || msg.starts_with("linker `") || msg.contains("linker"));
                    let lf = if is_link { Some(self.link_failure(key)) } else { None };
                    if !is_link {
                        kept.push(v.clone());
                    }
                    sink.event(BuildEvent::Diagnostic { unit: Some(info.clone()), message: v, link: lf });
                }
                Ok(_) => {}
                Err(_) if line.trim().is_empty() => {}
                Err(_) => sink.event(BuildEvent::Warning(line.to_string())),
            }
        }
        kept
    }
}

fn spawn_compile(tx: &mpsc::Sender<Event>, key: String, spec: UnitSpec, cancel: Option<Cancel>) {
    let tx = tx.clone();
    std::thread::spawn(move || {
        let run = |inv: &crate::invocation::Invocation, step| exec::run_with(exec::command(inv, step), cancel.as_ref());
        let t = Instant::now();
        let inv = &spec.invocation;
        let mut objects = None;
        let mut fallback = None;
        let out = if spec.kind == UnitKind::Linkable && spec.split {
            exec::remove_split_leftovers(inv);
            let out = run(inv, Step::NoLink);
            match out {
                Ok(o) => match exec::split_problem(&o) {
                    Some(reason) => {
                        fallback = Some(reason);
                        exec::remove_split_leftovers(inv);
                        run(inv, Step::Plain)
                    }
                    None => {
                        if o.success() {
                            match exec::fingerprint_objects(inv) {
                                Ok(c) => objects = Some(c),
                                Err(e) => {
                                    fallback = Some(format!("cannot fingerprint objects: {e}"));
                                }
                            }
                            if fallback.is_some() {
                                run(inv, Step::Plain)
                            } else {
                                Ok(o)
                            }
                        } else {
                            Ok(o)
                        }
                    }
                },
                Err(e) => Err(e),
            }
        } else {
            run(inv, Step::Plain)
        };
        let out = out.unwrap_or_else(|e| RunOutput {
            code: Some(127),
            stdout: vec![],
            stderr: format!("error: cannot run {}: {e}\n", inv.rustc.display()).into_bytes(),
        });
        let measured = if out.success() { measure_outputs(&spec, &mut StatCache::default()) } else { Measured::default() };
        let _ = tx.send(Event::Compiled { key, out, objects, fallback, measured, ms: t.elapsed().as_millis() as u64 });
    });
}

fn spawn_link(tx: &mpsc::Sender<Event>, key: String, spec: UnitSpec, cancel: Option<Cancel>) {
    let tx = tx.clone();
    std::thread::spawn(move || {
        let run = |inv: &crate::invocation::Invocation, step| exec::run_with(exec::command(inv, step), cancel.as_ref());
        let t = Instant::now();
        let inv = &spec.invocation;
        let mut fallback = None;
        let out = match run(inv, Step::LinkOnly) {
            Ok(o) => match exec::split_problem(&o) {
                Some(reason) => {
                    fallback = Some(reason);
                    exec::remove_split_leftovers(inv);
                    run(inv, Step::Plain)
                }
                None => Ok(o),
            },
            Err(e) => Err(e),
        };
        let out = out.unwrap_or_else(|e| RunOutput {
            code: Some(127),
            stdout: vec![],
            stderr: format!("error: cannot run {}: {e}\n", inv.rustc.display()).into_bytes(),
        });
        let _ = tx.send(Event::Linked { key, out, fallback, ms: t.elapsed().as_millis() as u64 });
    });
}

/// Hard-link the unit's outputs to where cargo puts them (`target/debug/app`), as cargo does.
fn uplift(spec: &UnitSpec) {
    use std::os::unix::fs::MetadataExt;
    for (from, to) in &spec.uplifts {
        let same = match (std::fs::metadata(from), std::fs::metadata(to)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        if same || !from.exists() {
            continue;
        }
        let _ = std::fs::remove_file(to);
        if std::fs::hard_link(from, to).is_err() {
            let _ = std::fs::copy(from, to);
        }
    }
}

fn lock(target_dir: &Path) -> Result<std::fs::File, BuildError> {
    let dir = target_dir.join("splitlink");
    let path = dir.join("lock");
    let err = |source| BuildError::Lock { path: path.clone(), source };
    std::fs::create_dir_all(&dir).map_err(err)?;
    let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(err)?;
    f.lock().map_err(err)?;
    Ok(f)
}

/// Why this selection has to go through cargo, or None when the captured graph can be replayed.
fn capture_reason(state: &mut State, sel_key: &str, opts: &BuildOptions) -> Option<String> {
    if opts.force_capture {
        return Some("requested".into());
    }
    let Some(s) = state.selections.get(sel_key) else {
        return Some("first build with these flags".into());
    };
    let s = s.clone();
    if let Some(p) = workspace::changed_trigger(&s.triggers, &mut state.cache) {
        return Some(format!("{} changed", p.strip_prefix(&s.workspace_root).unwrap_or(&p).display()));
    }
    let names: Vec<String> = s.env.iter().map(|(k, _)| k.clone()).collect();
    let now = workspace::relevant_env(&names);
    if now != s.env {
        let changed = now.iter().chain(s.env.iter()).find(|kv| !now.contains(kv) || !s.env.contains(kv)).map(|(k, _)| k.clone()).unwrap_or_default();
        return Some(format!("environment variable {changed} changed"));
    }
    for k in &s.units {
        let Some(u) = state.units.get(k) else { return Some("splitlink's state is incomplete".into()) };
        for (p, stamp) in &u.built.outputs {
            if u.spec.kind == UnitKind::Linkable && u.spec.invocation.linked_output().as_ref() == Some(p) {
                continue; // a missing or replaced binary is relinked, not a reason to ask cargo
            }
            if !Stamp::of(p).is_some_and(|s| s.same_output(stamp)) {
                return Some(format!("{} was changed outside splitlink", p.display()));
            }
        }
    }
    None
}

/// Build the selection once: replay if possible, through cargo otherwise.
pub fn build(sel: &Selection, opts: &BuildOptions, cwd: &Path, sink: &mut dyn Sink) -> Result<BuildSummary, BuildError> {
    Engine::open(sel.clone(), opts.clone(), cwd)?.build(sink, None)
}

/// A build session: the state and the salsa database stay in memory across builds (the
/// database is rebuilt only when a capture changed the graph or another process wrote the
/// state). `splitlink build` uses one build of it; `watch` and `lsp` keep it for their lifetime.
pub struct Engine {
    sel: Selection,
    opts: BuildOptions,
    loc: Located,
    sel_key: String,
    state: State,
    /// The state file as this engine last saw it: another process writing it means reload.
    state_stamp: Option<Stamp>,
    warm: Option<Warm>,
    generation: u64,
}

impl Engine {
    pub fn open(sel: Selection, opts: BuildOptions, cwd: &Path) -> Result<Engine, BuildError> {
        let loc = workspace::locate(&sel, cwd)?;
        let sel_key = sel.key(cwd);
        Ok(Engine { sel, opts, loc, sel_key, state: State::default(), state_stamp: None, warm: None, generation: 0 })
    }

    pub fn workspace_root(&self) -> &Path {
        self.state.selections.get(&self.sel_key).map(|s| s.workspace_root.as_path()).unwrap_or(&self.loc.root)
    }

    pub fn target_dir(&self) -> &Path {
        &self.loc.target_dir
    }

    pub fn selection(&self) -> &Selection {
        &self.sel
    }

    /// Builds done by this engine (the LSP's and watch's build generation).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn explanation(&self) -> Option<&Explanation> {
        self.state.explanations.get(&self.sel_key)
    }

    /// Files whose change can change the build: every source of the selection's units (from
    /// dep-info) and every capture trigger. A watcher watches their directories.
    pub fn watched_files(&self) -> Vec<PathBuf> {
        let mut v = Vec::new();
        if let Some(s) = self.state.selections.get(&self.sel_key) {
            v.extend(s.triggers.iter().map(|(p, _)| p.clone()));
            for k in &s.units {
                if let Some(w) = self.state.units.get(k).and_then(|u| u.built.with.as_ref()) {
                    v.extend(w.sources.iter().map(|(p, _)| p.clone()));
                }
            }
        }
        v.sort();
        v.dedup();
        v
    }

    /// The selection's binaries: (target name, path where cargo puts it).
    pub fn binaries(&self) -> Vec<(String, PathBuf)> {
        let Some(s) = self.state.selections.get(&self.sel_key) else { return vec![] };
        s.units
            .iter()
            .filter_map(|k| self.state.units.get(k))
            .filter(|u| u.spec.kind == UnitKind::Linkable && !u.spec.invocation.is_test() && u.spec.target["kind"][0] == "bin")
            .filter_map(|u| unit_info(&u.spec).path.map(|p| (u.spec.name(), p)))
            .collect()
    }

    /// Build now. With `cancel`, rustc and cargo run in their own process groups and
    /// `cancel.cancel()` stops the build (the summary then says `cancelled`).
    pub fn build(&mut self, sink: &mut dyn Sink, cancel: Option<&Cancel>) -> Result<BuildSummary, BuildError> {
        let t0 = Instant::now();
        let _lock = lock(&self.loc.target_dir)?;
        self.generation += 1;
        let on_disk = Stamp::of(&State::path(&self.loc.target_dir));
        if self.state_stamp.is_none() || !matches!((on_disk, self.state_stamp), (Some(a), Some(b)) if a.same_output(&b)) {
            self.state = State::load(&self.loc.target_dir);
            self.warm = None;
        }
        timing("loaded state", t0);
        let sel_key = self.sel_key.clone();
        let loc = self.loc.clone();
        let state = &mut self.state;

        let mut cargo_reason = capture_reason(state, &sel_key, &self.opts);
        timing("capture decision", t0);
        let mut cargo_compiled = Vec::new();
        let mut cargo_linked = Vec::new();
        let mut cargo_skipped = Vec::new();
        let mut success = true;
        if let Some(reason) = &cargo_reason {
            self.warm = None;
            sink.event(BuildEvent::Capture { reason: reason.clone() });
            let r = capture::capture(&loc, &self.sel, &sel_key, state, sink, &self.opts, cancel);
            let r = match r {
                Ok(r) => r,
                Err(e) => {
                    // Keep what is known; the next build asks cargo again.
                    state.selections.remove(&sel_key);
                    let _ = state.save(&loc.target_dir, true);
                    self.state_stamp = Stamp::of(&State::path(&loc.target_dir));
                    return Err(e.into());
                }
            };
            success = r.success;
            cargo_compiled = r.compiled;
            cargo_linked = r.linked;
            cargo_skipped = r.link_skipped;
        }

        let mut summary = if success {
            let warm = match self.warm.take() {
                Some(w) => w,
                None => new_warm(state, &sel_key),
            };
            let (mut summary, warm) = replay(&loc, &sel_key, state, warm, &self.opts, sink, &cargo_compiled, &cargo_linked, cargo_reason.take(), t0, cancel);
            summary.link_skipped.extend(cargo_skipped.iter().filter_map(|k| state.units.get(k)).map(|u| unit_info(&u.spec)));
            self.warm = Some(warm);
            summary
        } else {
            let mut ex = Explanation { cargo: cargo_reason.clone(), ..Default::default() };
            ex.failed.push(("cargo".into(), "cargo build failed".into()));
            state.explanations.insert(sel_key.clone(), ex);
            let infos = |keys: &[String]| keys.iter().filter_map(|k| state.units.get(k)).map(|u| unit_info(&u.spec)).collect::<Vec<_>>();
            BuildSummary {
                success: false,
                cancelled: cancel.is_some_and(|c| c.is_cancelled()),
                generation: 0,
                compiled: infos(&cargo_compiled),
                linked: infos(&cargo_linked),
                link_skipped: infos(&cargo_skipped),
                cargo_invoked: true,
                duration_ms: t0.elapsed().as_millis() as u64,
                profile: self.sel.profile_name(),
                profile_desc: String::new(),
                rustc_ms: 0,
                link_ms: 0,
                binaries: vec![],
            }
        };
        summary.generation = self.generation;
        timing("built", t0);
        // A build that compiled, linked, failed or went through cargo changed the units' state;
        // a no-op build changed at most the stat cache and the explanation.
        let units_changed = summary.cargo_invoked
            || !summary.success
            || !summary.compiled.is_empty()
            || !summary.linked.is_empty()
            || !summary.link_skipped.is_empty();
        self.state.save(&loc.target_dir, units_changed)?;
        timing("saved", t0);
        self.state_stamp = Stamp::of(&State::path(&loc.target_dir));
        sink.event(BuildEvent::Finished(summary.clone()));
        Ok(summary)
    }
}

fn timing(what: &str, t0: Instant) {
    if std::env::var_os("SPLITLINK_TIMINGS").is_some() {
        eprintln!("splitlink timing: {what}: {:.1} ms", t0.elapsed().as_secs_f64() * 1000.0);
    }
}

fn file_input(w: &mut Warm, cache: &mut StatCache, p: &Path) -> File {
    if let Some(f) = w.files.get(p) {
        return *f;
    }
    let d = cache.digest(p).ok().flatten();
    let f = File::new(&w.db, p.to_path_buf(), d);
    w.files.insert(p.to_path_buf(), f);
    f
}

fn objects_present(spec: &UnitSpec, built: &crate::state::UnitBuilt) -> bool {
    !built.object_files.is_empty() && built.object_files.iter().all(|f| f.exists()) && spec.invocation.rlink_path().is_some_and(|r| r.exists())
}

/// A database for the selection's graph, inputs from the state (file digests are set on first
/// use by `refresh`).
fn new_warm(state: &mut State, sel_key: &str) -> Warm {
    let sel_state = &state.selections[sel_key];
    let keys: Vec<String> = sel_state.units.iter().filter(|k| state.units[*k].spec.replayable()).cloned().collect();
    let rustc_version = sel_state.rustc_version.clone();
    let db = Db::default();
    let graph = Graph::new(&db, vec![]);
    let mut w = Warm { db, graph, units: HashMap::new(), files: HashMap::new(), keys: keys.clone() };
    let mut cache = std::mem::take(&mut state.cache);
    for k in &keys {
        let u = state.units[k].clone();
        let sources: Vec<File> = u.built.with.as_ref().map(|b| b.sources.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>()).unwrap_or_default().iter().map(|p| file_input(&mut w, &mut cache, p)).collect();
        let deps: Vec<Unit> = u.spec.deps.iter().filter_map(|d| w.units.get(d).copied()).collect();
        let linkable = u.spec.kind == UnitKind::Linkable && u.spec.split;
        let env_names = u.built.with.as_ref().map(|b| b.env.clone()).unwrap_or_default();
        let unit = Unit::new(
            &w.db,
            k.clone(),
            u.spec.spec_digest(),
            sources,
            deps,
            env_now(&u.spec, &env_names),
            linkable,
            u.built.with.clone(),
            u.built.interface,
            u.built.objects.clone(),
            u.built.rlink,
            u.spec.link_args_digest(&rustc_version),
            u.built.last_link.clone(),
            !linkable || binary_ok(&u.spec, &u.built.outputs),
            linkable && objects_present(&u.spec, &u.built),
        );
        w.units.insert(k.clone(), unit);
    }
    let all: Vec<Unit> = keys.iter().map(|k| w.units[k]).collect();
    w.graph = Graph::new(&w.db, all);
    state.cache = cache;
    w
}

/// Bring a warm database up to date with the disk: file digests (re-read only when their stat
/// changed), binaries present, objects present, environment. Inputs are set only when their
/// value changed, so unchanged parts keep their memoized results.
fn refresh(w: &mut Warm, state: &State, cache: &mut StatCache) {
    let files: Vec<(PathBuf, File)> = w.files.iter().map(|(p, f)| (p.clone(), *f)).collect();
    for (p, f) in files {
        let d = cache.digest(&p).ok().flatten();
        if f.digest(&w.db) != d {
            f.set_digest(&mut w.db).to(d);
        }
    }
    for k in w.keys.clone() {
        let u = w.units[&k];
        let st = &state.units[&k];
        let linkable = u.linkable(&w.db);
        let b = !linkable || binary_ok(&st.spec, &st.built.outputs);
        if u.binary_ok(&w.db) != b {
            u.set_binary_ok(&mut w.db).to(b);
        }
        let o = linkable && objects_present(&st.spec, &st.built);
        if u.objects_present(&w.db) != o {
            u.set_objects_present(&mut w.db).to(o);
        }
        let env_names = st.built.with.as_ref().map(|b| b.env.clone()).unwrap_or_default();
        let e = env_now(&st.spec, &env_names);
        if *u.env_now(&w.db) != e {
            u.set_env_now(&mut w.db).to(e);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn replay(
    loc: &Located,
    sel_key: &str,
    state: &mut State,
    mut warm: Warm,
    opts: &BuildOptions,
    sink: &mut dyn Sink,
    cargo_compiled: &[String],
    cargo_linked: &[String],
    cargo_reason: Option<String>,
    t0: Instant,
    cancel: Option<&Cancel>,
) -> (BuildSummary, Warm) {
    let sel_state = state.selections[sel_key].clone();
    let keys: Vec<String> = warm.keys.clone();
    let mut cache = std::mem::take(&mut state.cache);
    timing("db ready", t0);
    refresh(&mut warm, state, &mut cache);
    timing("inputs refreshed", t0);
    let mut lp = Loop {
        w: &mut warm,
        state,
        cancel: cancel.cloned(),
        cache,
        root: sel_state.workspace_root.clone(),
        config_files: workspace::config_candidates(&loc.cwd),
        running: BTreeSet::new(),
        failed: BTreeSet::new(),
        compiled: Vec::new(),
        linked: Vec::new(),
        link_skipped: Vec::new(),
        explanation: Explanation {
            cargo: cargo_reason.clone(),
            compiled: cargo_compiled.iter().map(|k| (k.clone(), "compiled by cargo".to_string())).collect(),
            ..Default::default()
        },
        snapshots: HashMap::new(),
        pending_link: HashMap::new(),
        rustc_ms: 0,
        link_ms: 0,
    };

    let (tx, rx) = mpsc::channel::<Event>();
    loop {
        // Start what is ready.
        let stopping = lp.cancel.as_ref().is_some_and(|c| c.is_cancelled());
        let ready: Vec<Unit> = if stopping { vec![] } else { db::ready_to_compile(&lp.w.db, lp.w.graph).clone() };
        for u in ready {
            let key = lp.key_of(u);
            if lp.running.len() >= opts.jobs.max(1) {
                break;
            }
            if lp.running.contains(&key) || lp.failed.contains(&key) {
                continue;
            }
            let reason = db::dirty(&lp.w.db, u).expect("ready units are dirty");
            lp.explanation.compiled.push((key.clone(), describe(&reason, &lp.root)));
            lp.snapshots.insert(key.clone(), db::current_inputs(&lp.w.db, u));
            let spec = lp.spec(&key).clone();
            sink.event(BuildEvent::Compiling(unit_info(&spec)));
            lp.running.insert(key.clone());
            spawn_compile(&tx, key, spec, lp.cancel.clone());
        }
        let links: Vec<Unit> = if stopping { vec![] } else { db::ready_to_link(&lp.w.db, lp.w.graph).clone() };
        for u in links {
            let key = lp.key_of(u);
            if lp.running.contains(&key) || lp.failed.contains(&key) || lp.running.len() >= opts.jobs.max(1) {
                continue;
            }
            let decision = db::link_decision(&lp.w.db, u);
            lp.explanation.links.push((key.clone(), decision));
            if let Some(inputs) = db::link_inputs(&lp.w.db, u) {
                lp.pending_link.insert(key.clone(), inputs);
            }
            let spec = lp.spec(&key).clone();
            sink.event(BuildEvent::Linking(unit_info(&spec)));
            lp.running.insert(key.clone());
            spawn_link(&tx, key, spec, lp.cancel.clone());
        }
        if lp.running.is_empty() {
            break;
        }
        let Ok(ev) = rx.recv() else { break };
        handle(&mut lp, ev, sink);
    }

    // Linkables compiled in this build whose objects did not change: skip, clean up.
    for k in &keys {
        let u = lp.w.units[k];
        if !u.linkable(&lp.w.db) || lp.failed.contains(k) {
            continue;
        }
        let compiled_now = lp.compiled.contains(k) && !lp.linked.contains(k);
        if db::dirty(&lp.w.db, u).is_none() && db::link_decision(&lp.w.db, u) == LinkDecision::UpToDate && u.objects_present(&lp.w.db) {
            let spec = lp.spec(k).clone();
            exec::remove_split_leftovers(&spec.invocation);
            u.set_objects_present(&mut lp.w.db).to(false);
            lp.state.units.get_mut(k).unwrap().built.object_files.clear();
            if compiled_now {
                lp.link_skipped.push(k.clone());
                lp.explanation.links.push((k.clone(), LinkDecision::UpToDate));
                sink.event(BuildEvent::LinkSkipped(unit_info(&spec)));
            }
        }
    }
    // Not-yet-built units blocked by a failure count as failed too.
    let blocked: Vec<String> = keys.iter().filter(|k| db::dirty(&lp.w.db, lp.w.units[*k]).is_some() && !lp.failed.contains(*k)).cloned().collect();
    for k in &blocked {
        lp.explanation.failed.push((k.clone(), "not built: a dependency failed".into()));
    }
    for k in &keys {
        uplift(lp.spec(k));
    }

    let success = lp.failed.is_empty() && blocked.is_empty();
    let mut compiled: Vec<String> = cargo_compiled.iter().filter(|k| keys.contains(k)).cloned().collect();
    compiled.extend(lp.compiled.iter().cloned());
    let mut linked: Vec<String> = cargo_linked.to_vec();
    linked.extend(lp.linked.iter().cloned());

    // Fresh units' diagnostics from their last compile, as cargo replays them.
    if cargo_reason.is_none() {
        for k in &keys {
            if lp.compiled.contains(k) || lp.failed.contains(k) {
                continue;
            }
            let st = &lp.state.units[k];
            for m in &st.built.messages {
                sink.event(BuildEvent::Diagnostic { unit: Some(unit_info(&st.spec)), message: m.clone(), link: None });
            }
        }
    }
    // cargo's JSON messages for a replayed build: dependencies fresh, workspace units as built.
    if cargo_reason.is_none() {
        for m in &sel_state.other_messages {
            sink.event(BuildEvent::CargoMessage(m.clone()));
        }
        for k in &keys {
            if lp.failed.contains(k) || blocked.contains(k) {
                continue;
            }
            let mut a = lp.spec(k).artifact.clone();
            a["fresh"] = serde_json::Value::Bool(!compiled.contains(k));
            sink.event(BuildEvent::CargoMessage(a));
        }
    }

    let binaries = keys
        .iter()
        .map(|k| lp.spec(k))
        .filter(|s| s.kind == UnitKind::Linkable && !s.invocation.is_test())
        .filter_map(|s| unit_info(s).path.map(|p| (s.name(), p)))
        .collect();
    let infos = |ks: &[String], st: &State| ks.iter().filter_map(|k| st.units.get(k)).map(|u| unit_info(&u.spec)).collect::<Vec<_>>();
    let cancelled = lp.cancel.as_ref().is_some_and(|c| c.is_cancelled());
    let summary = BuildSummary {
        success: success && !cancelled,
        cancelled,
        generation: 0,
        compiled: infos(&compiled, lp.state),
        linked: infos(&linked, lp.state),
        link_skipped: infos(&lp.link_skipped, lp.state),
        cargo_invoked: cargo_reason.is_some(),
        duration_ms: t0.elapsed().as_millis() as u64,
        profile: sel_state.profile.clone(),
        profile_desc: sel_state.profile_desc.clone(),
        rustc_ms: lp.rustc_ms,
        link_ms: lp.link_ms,
        binaries,
    };
    let explanation = std::mem::take(&mut lp.explanation);
    let cache = std::mem::take(&mut lp.cache);
    let state = lp.state;
    state.cache = cache;
    state.explanations.insert(sel_key.to_string(), explanation);
    (summary, warm)
}

pub(crate) fn binary_ok(spec: &UnitSpec, outputs: &[(PathBuf, Stamp)]) -> bool {
    let Some(bin) = spec.invocation.linked_output() else { return false };
    let recorded = outputs.iter().find(|(p, _)| *p == bin).map(|(_, s)| *s);
    matches!((Stamp::of(&bin), recorded), (Some(now), Some(rec)) if now.same_output(&rec))
}

fn handle(lp: &mut Loop<'_>, ev: Event, sink: &mut dyn Sink) {
    match ev {
        Event::Compiled { key, out, objects, fallback, measured, ms } => {
            lp.running.remove(&key);
            lp.rustc_ms += ms;
            let unit = lp.w.units[&key];
            if let Some(reason) = &fallback {
                let spec = lp.spec(&key).clone();
                sink.event(BuildEvent::Fallback { unit: unit_info(&spec), reason: reason.clone() });
                lp.explanation.fallbacks.push((key.clone(), reason.clone()));
                let s = &mut lp.state.units.get_mut(&key).unwrap().spec;
                s.split = false;
                s.fallback_reason = Some(reason.clone());
                s.digest = Some(s.compute_digest());
                unit.set_linkable(&mut lp.w.db).to(false);
            }
            let cancelled = lp.cancel.as_ref().is_some_and(|c| c.is_cancelled());
            if !cancelled {
                let messages = lp.emit_stderr(&key, &out.stderr, fallback.is_some(), sink);
                // A failed compile leaves the unit dirty and its outputs (and their messages) as
                // they were: if the source goes back, the last good compile's messages stand.
                if out.success() {
                    lp.state.units.get_mut(&key).unwrap().built.messages = messages;
                }
            }
            if !out.success() {
                lp.failed.insert(key.clone());
                return;
            }
            lp.compiled.push(key.clone());
            let unsplit_linkable = lp.spec(&key).kind == UnitKind::Linkable && !lp.spec(&key).split;
            if unsplit_linkable {
                // Built with the single original invocation: compiling it linked it.
                lp.linked.push(key.clone());
            }
            let snap = lp.snapshots.remove(&key).expect("snapshot taken at spawn");
            // Sources as read: digests from before the compile where known (an edit made while
            // rustc ran stays visible as a change), new files (a new module) hashed now.
            let mut sources = Vec::new();
            let mut files = Vec::new();
            for p in &measured.sources {
                let f = lp.file(p);
                files.push(f);
                let d = snap.sources.iter().find(|(sp, _)| sp == p).map(|(_, d)| *d).unwrap_or_else(|| f.digest(&lp.w.db));
                sources.push((p.clone(), d));
            }
            let spec = lp.spec(&key).clone();
            let built = BuiltWith { spec: spec.spec_digest(), sources, deps: snap.deps.clone(), env: measured.env.clone() };
            unit.set_sources(&mut lp.w.db).to(files);
            unit.set_env_now(&mut lp.w.db).to(env_now(&spec, &measured.env));
            unit.set_built(&mut lp.w.db).to(Some(built.clone()));
            unit.set_spec(&mut lp.w.db).to(spec.spec_digest());
            unit.set_interface(&mut lp.w.db).to(measured.interface);
            let st = &mut lp.state.units.get_mut(&key).unwrap().built;
            st.with = Some(built);
            st.interface = measured.interface;
            st.outputs = measured.stamps.clone();
            match objects {
                Some(c) if fallback.is_none() => {
                    unit.set_objects(&mut lp.w.db).to(c.digests.clone());
                    unit.set_rlink(&mut lp.w.db).to(Some(c.rlink));
                    unit.set_objects_present(&mut lp.w.db).to(true);
                    st.objects = c.digests;
                    st.rlink = Some(c.rlink);
                    st.object_files = c.files;
                }
                _ => {
                    if spec.kind == UnitKind::Lib {
                        unit.set_objects(&mut lp.w.db).to(measured.rlib_objects.clone());
                        st.objects = measured.rlib_objects;
                    }
                }
            }
        }
        Event::Linked { key, out, fallback, ms } => {
            lp.running.remove(&key);
            lp.link_ms += ms;
            let unit = lp.w.units[&key];
            let spec = lp.spec(&key).clone();
            if let Some(reason) = &fallback {
                sink.event(BuildEvent::Fallback { unit: unit_info(&spec), reason: reason.clone() });
                lp.explanation.fallbacks.push((key.clone(), reason.clone()));
                let s = &mut lp.state.units.get_mut(&key).unwrap().spec;
                s.split = false;
                s.fallback_reason = Some(reason.clone());
            }
            if !lp.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
                let _ = lp.emit_stderr(&key, &out.stderr, true, sink);
            }
            let inputs = lp.pending_link.remove(&key);
            if !out.success() {
                lp.failed.insert(key.clone());
                let present = spec.invocation.rlink_path().is_some_and(|r| r.exists());
                unit.set_objects_present(&mut lp.w.db).to(present);
                return;
            }
            lp.linked.push(key.clone());
            let stamps: Vec<(PathBuf, Stamp)> = spec.invocation.outputs().into_iter().filter_map(|p| Stamp::of(&p).map(|s| (p, s))).collect();
            exec::remove_split_leftovers(&spec.invocation);
            exec::keep_binary(&spec.invocation);
            unit.set_last_link(&mut lp.w.db).to(inputs.clone());
            unit.set_binary_ok(&mut lp.w.db).to(true);
            unit.set_objects_present(&mut lp.w.db).to(false);
            if fallback.is_some() {
                unit.set_linkable(&mut lp.w.db).to(false);
                let s = &mut lp.state.units.get_mut(&key).unwrap().spec;
                s.digest = Some(s.compute_digest());
            }
            let st = &mut lp.state.units.get_mut(&key).unwrap().built;
            st.last_link = inputs;
            st.outputs = stamps;
            st.object_files.clear();
            uplift(&spec);
        }
    }
}

/// The last build's explanation for this selection.
pub fn explain(sel: &Selection, cwd: &Path) -> Result<(Explanation, State, PathBuf), BuildError> {
    let loc = workspace::locate(sel, cwd)?;
    let state = State::load(&loc.target_dir);
    let key = sel.key(cwd);
    let ex = state.explanations.get(&key).cloned().ok_or_else(|| BuildError::NothingToExplain(loc.target_dir.clone()))?;
    let root = state.selections.get(&key).map(|s| s.workspace_root.clone()).unwrap_or(loc.root);
    Ok((ex, state, root))
}
