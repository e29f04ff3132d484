//! The replay: the loop that owns the salsa database for one build. It sets the db's inputs
//! from what is on disk, then loops over one closed [`Event`] enum, starting compiles and links
//! as the db says they are ready (on executor threads) and feeding their measured outputs back
//! as inputs, until nothing is left to do.
//!
//! Invariant: this loop is the only writer of the database's inputs.

use crate::db::{self, BuiltWith, Db, File, Graph, LinkFile, Unit};
use crate::digest::{Stamp, StatCache};
use crate::events::{BuildEvent, BuildSummary, MessageCounts, Sink, UnitInfo};
use crate::exec::{self, Cancel, CompiledObjects, RunOutput, Step};
use crate::fingerprint::{self, LinkDecision, LinkInputs};
use crate::measure::{measure_outputs, Measured};
use crate::state::{describe, describe_link, Explanation, State, UnitKind, UnitSpec};
use crate::unit::UnitKey;
use crate::workspace;
use crate::LinkFailure;
use salsa::Setter;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

pub fn unit_info(spec: &UnitSpec) -> UnitInfo {
    let path = if spec.kind == UnitKind::Linkable {
        spec.uplifts.first().map(|(_, to)| to.clone()).or_else(|| spec.invocation.linked_output())
    } else {
        None
    };
    UnitInfo {
        package: spec.key.package_name(),
        target: spec.key.name.clone(),
        kind: spec.key.kind.clone(),
        path,
        test: spec.key.is_test(),
        package_id: spec.key.package_id.clone(),
        version: spec.key.version(),
        manifest_path: spec.manifest_path.clone(),
        target_json: spec.target.get().clone(),
    }
}

/// The value a compile would now observe for each environment variable it read.
fn env_now(spec: &UnitSpec, names: &[(String, Option<String>)]) -> Vec<(String, Option<String>)> {
    names.iter().map(|(k, _)| (k.clone(), spec.invocation.env.get(k).cloned().or_else(|| std::env::var(k).ok()))).collect()
}

/// The single event type of the build loop.
enum Event {
    Compiled {
        key: UnitKey,
        out: RunOutput,
        split: Option<Box<SplitCompile>>,
        fallback: Option<String>,
        measured: Measured,
        ms: u64,
    },
    Linked {
        key: UnitKey,
        out: RunOutput,
        fallback: Option<String>,
        ms: u64,
    },
    /// A linked library measured on its own thread.
    Measured(crate::digest::Derived),
    /// A library being compiled wrote its `.rmeta` (rustc's artifact notification): dependents
    /// that read it as metadata may start (pipelining).
    Metadata {
        key: UnitKey,
    },
    /// A jobserver token for one more job ([`crate::jobs`]).
    Token(std::io::Result<crate::jobs::Token>),
}

/// What a `-Zno-link` compile left for its link.
struct SplitCompile {
    objects: CompiledObjects,
    /// The files the link will read (`None`: unknown, the link always runs).
    link_files: Option<Vec<PathBuf>>,
}

/// The salsa database and its inputs for one selection's graph, kept across builds of a
/// long-running session (rebuilt only after a capture changed the graph).
pub struct Warm {
    db: Db,
    graph: Graph,
    units: rustc_hash::FxHashMap<UnitKey, Unit>,
    files: crate::digest::PathMap<File>,
    link_files: crate::digest::PathMap<LinkFile>,
    /// Every output of the graph's units (their rlibs are linked files only splitlink's builds
    /// and captures write).
    own_outputs: rustc_hash::FxHashSet<PathBuf>,
    keys: Vec<UnitKey>,
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

/// A linked file's digest: the workspace's own outputs (which `decide` has checked are the files
/// splitlink or the capture left) from the cache, others as any file.
fn link_file_digest(w: &Warm, cache: &mut StatCache, p: &Path) -> Option<crate::digest::Digest> {
    if w.own_outputs.contains(p) {
        fingerprint::own_link_file_digest(p, cache)
    } else {
        fingerprint::link_file_digest(p, cache)
    }
}

fn link_file_input(w: &mut Warm, cache: &mut StatCache, p: &Path) -> LinkFile {
    if let Some(f) = w.link_files.get(p) {
        return *f;
    }
    let d = link_file_digest(w, cache, p);
    let f = LinkFile::new(&w.db, p.to_path_buf(), d);
    w.link_files.insert(p.to_path_buf(), f);
    f
}

fn objects_present(spec: &UnitSpec, built: &crate::state::UnitBuilt) -> bool {
    !built.object_files.is_empty()
        && built.object_files.iter().all(|f| f.exists())
        && spec.invocation.rlink_path().is_some_and(|r| r.exists())
}

pub(crate) fn binary_ok(spec: &UnitSpec, outputs: &[(PathBuf, Stamp)]) -> bool {
    spec.invocation.linked_output().is_some_and(|bin| fingerprint::is_our_binary(&bin, &bin, outputs))
}

/// A database for the selection's graph, inputs from the state.
pub fn new_warm(state: &mut State, sel_key: &str, link_extra: &[String]) -> Warm {
    let sel_state = &state.selections[sel_key];
    let keys: Vec<UnitKey> = sel_state.units.iter().filter(|k| state.units[*k].spec.replayable()).cloned().collect();
    let db = Db::default();
    let graph = Graph::new(&db, vec![]);
    let own_outputs = keys.iter().flat_map(|k| state.units[k].spec.invocation.outputs()).collect();
    let mut w = Warm {
        db,
        graph,
        units: Default::default(),
        files: Default::default(),
        link_files: Default::default(),
        own_outputs,
        keys: keys.clone(),
    };
    let mut cache = std::mem::take(&mut state.cache);
    // Which unit writes each `.rmeta` (argv parsed once per unit, not once per dependency edge).
    let rmeta_owner: crate::digest::PathMap<&UnitKey> = keys
        .iter()
        .flat_map(|k| {
            state.units[k]
                .spec
                .invocation
                .outputs()
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "rmeta"))
                .map(move |p| (p, k))
        })
        .collect();
    for k in &keys {
        // Borrowed, not cloned: a unit's spec (argv, cargo's artifact message) is large.
        let u = &state.units[k];
        let source_paths: Vec<PathBuf> =
            u.built.with.as_ref().map(|b| b.sources.iter().map(|(p, _)| p.clone()).collect()).unwrap_or_default();
        let sources: Vec<File> = source_paths.iter().map(|p| file_input(&mut w, &mut cache, p)).collect();
        let link_files = u.built.link_files.as_ref().map(|v| v.iter().map(|p| link_file_input(&mut w, &mut cache, p)).collect());
        let deps: Vec<Unit> = u.spec.deps.iter().filter_map(|d| w.units.get(d).copied()).collect();
        // Dependencies passed as `.rmeta` (`--extern x=…/libx-….rmeta`).
        let metadata_deps: Vec<Unit> = u
            .spec
            .invocation
            .externs()
            .into_iter()
            .filter_map(|(_, p)| rmeta_owner.get(&p))
            .filter(|d| u.spec.deps.contains(d))
            .filter_map(|d| w.units.get(*d).copied())
            .collect();
        let linkable = u.spec.split_linkable();
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
            link_files,
            u.built.rlink,
            fingerprint::link_args_digest(&u.spec.invocation, link_extra),
            u.built.last_link.clone(),
            !linkable || binary_ok(&u.spec, &u.built.outputs),
            linkable && objects_present(&u.spec, &u.built),
            metadata_deps,
            false,
        );
        w.units.insert(k.clone(), unit);
    }
    let all: Vec<Unit> = keys.iter().map(|k| w.units[k]).collect();
    w.graph = Graph::new(&w.db, all);
    state.cache = cache;
    w
}

/// Bring a warm database up to date with the disk: file digests and linked files' digests
/// (re-read only when their stat changed), binaries present, objects present, environment.
/// Inputs are set only when their value changed, so unchanged parts keep their memoized results.
fn refresh(w: &mut Warm, state: &State, cache: &mut StatCache, watched: Option<&crate::decide::Watched>) {
    let files: Vec<(PathBuf, File)> = w.files.iter().map(|(p, f)| (p.clone(), *f)).collect();
    for (p, f) in files {
        if watched.is_some_and(|wd| wd.unchanged(&p, cache.hashed_at(&p))) {
            continue;
        }
        let d = cache.digest(&p).ok().flatten();
        if f.digest(&w.db) != d {
            f.set_digest(&mut w.db).to(d);
        }
    }
    let link_files: Vec<(PathBuf, LinkFile)> = w.link_files.iter().map(|(p, f)| (p.clone(), *f)).collect();
    for (p, f) in link_files {
        let d = link_file_digest(w, cache, &p);
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

struct Loop<'a> {
    /// What each unit's rustc runs said, in the order units first spoke.
    reports: Vec<(UnitKey, MessageCounts)>,
    w: &'a mut Warm,
    state: &'a mut State,
    cancel: Option<Cancel>,
    cache: StatCache,
    root: PathBuf,
    config_files: Vec<PathBuf>,
    running: BTreeSet<UnitKey>,
    failed: BTreeSet<UnitKey>,
    compiled: Vec<UnitKey>,
    linked: Vec<UnitKey>,
    link_skipped: Vec<UnitKey>,
    explanation: Explanation,
    snapshots: HashMap<UnitKey, BuiltWith>,
    pending_link: HashMap<UnitKey, Option<LinkInputs>>,
    /// Linked files being measured on a thread.
    measuring: BTreeSet<PathBuf>,
    rustc_ms: u64,
    link_ms: u64,
    t0: Instant,
    /// The jobs' threads: joined before the build ends (after its event, a job may still be
    /// removing the files its uplift replaced).
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Loop<'_> {
    fn file(&mut self, p: &Path) -> File {
        file_input(self.w, &mut self.cache, p)
    }

    fn spec(&self, key: &UnitKey) -> &UnitSpec {
        self.state.spec(key)
    }

    fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.is_cancelled())
    }

    fn link_failure(&self, key: &UnitKey) -> LinkFailure {
        let spec = self.spec(key);
        let mut sources: Vec<PathBuf> = Vec::new();
        let mut manifest_dirs = Vec::new();
        for k in std::iter::once(key.clone()).chain(self.state.transitive_deps(key)) {
            if let Some(u) = self.state.units.get(&k) {
                // The sources as the database has them (this build's compiles included).
                if let Some(w) = self.w.units.get(&k).and_then(|du| du.built(&self.w.db).as_ref()) {
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
    fn emit_stderr(&mut self, key: &UnitKey, stderr: &[u8], link: bool, sink: &mut dyn Sink) -> Vec<serde_json::Value> {
        let info = unit_info(self.spec(key));
        let mut kept = Vec::new();
        for line in String::from_utf8_lossy(stderr).lines() {
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(v) if v.get("$message_type").and_then(|t| t.as_str()) == Some("diagnostic") => {
                    if crate::events::is_rustc_summary(&v) {
                        continue;
                    }
                    self.count(key, &v);
                    let msg = v["message"].as_str().unwrap_or("");
                    let is_link = link && (msg.starts_with("linking with") || msg.starts_with("linker `") || msg.contains("linker"));
                    let lf = if is_link { Some(self.link_failure(key)) } else { None };
                    if !is_link {
                        kept.push(v.clone());
                    }
                    let cwd = &self.spec(key).invocation.cwd;
                    sink.event(crate::events::diagnostic(Some(info.clone()), v, lf.as_ref(), cwd, &self.root));
                }
                Ok(_) => {}
                Err(_) if line.trim().is_empty() => {}
                Err(_) => sink.event(BuildEvent::Warning(line.to_string())),
            }
        }
        kept
    }

    /// Count a message of `key`'s for its [`BuildEvent::UnitReport`].
    fn count(&mut self, key: &UnitKey, message: &serde_json::Value) {
        match self.reports.iter_mut().find(|(k, _)| k == key) {
            Some((_, c)) => c.add(message),
            None => {
                let mut c = MessageCounts::default();
                c.add(message);
                self.reports.push((key.clone(), c));
            }
        }
    }

    /// A linked file changed on disk (a library this build just compiled): measure it again.
    /// An rlib (large: a library's objects) is measured on its own thread, off the critical
    /// path (dependents compile meanwhile); links that read it wait for [`Event::Measured`].
    fn remeasure_link_file(&mut self, p: &Path, tx: &mpsc::Sender<Event>) {
        let Some(f) = self.w.link_files.get(p).copied() else { return };
        if fingerprint::is_rlib(p) && self.cache.cached_derived(p, fingerprint::RLIB_OBJECTS).is_none() {
            self.measuring.insert(p.to_path_buf());
            let (tx, p, t0) = (tx.clone(), p.to_path_buf(), self.t0);
            std::thread::spawn(move || {
                let t = Instant::now();
                let d = crate::digest::derive(&p, fingerprint::rlib_objects_digest);
                crate::timing(&format!("measured {} in {} ms, at", p.display(), t.elapsed().as_millis()), t0);
                let _ = tx.send(Event::Measured(d));
            });
            return;
        }
        let d = fingerprint::link_file_digest(p, &mut self.cache);
        if f.digest(&self.w.db) != d {
            f.set_digest(&mut self.w.db).to(d);
        }
    }

    /// Whether a link of `u` must wait for a linked file being measured.
    fn waits_for_measure(&self, u: Unit) -> bool {
        !self.measuring.is_empty()
            && u.link_files(&self.w.db).as_ref().is_some_and(|v| v.iter().any(|f| self.measuring.contains(f.path(&self.w.db))))
    }
}

fn failed_to_run(inv: &crate::invocation::Invocation, e: std::io::Error) -> RunOutput {
    RunOutput { code: Some(127), stdout: vec![], stderr: format!("error: cannot run {}: {e}\n", inv.rustc.display()).into_bytes() }
}

fn spawn_compile(
    tx: &mpsc::Sender<Event>,
    key: UnitKey,
    spec: UnitSpec,
    cancel: Option<Cancel>,
    js: Option<crate::jobs::Client>,
) -> std::thread::JoinHandle<()> {
    let tx = tx.clone();
    std::thread::spawn(move || {
        let command = |step| {
            let mut cmd = exec::command(&spec.invocation, step);
            if let Some(c) = &js {
                c.configure(&mut cmd);
            }
            cmd
        };
        let run = |step| exec::run_with(command(step), cancel.as_ref());
        let t = Instant::now();
        let inv = &spec.invocation;
        let mut split = None;
        let mut fallback = None;
        let pipelined = spec.kind == UnitKind::Lib && !spec.split_linkable();
        let out = if pipelined {
            let (tx, key) = (tx.clone(), key.clone());
            let mut sent = false;
            exec::run_streaming(command(Step::Plain), cancel.as_ref(), |line| {
                if !sent && exec::is_metadata_artifact(line) {
                    sent = true;
                    let _ = tx.send(Event::Metadata { key: key.clone() });
                }
            })
        } else if spec.split_linkable() {
            exec::remove_split_leftovers(inv);
            match run(Step::NoLink) {
                Ok(o) => match exec::split_problem(&o) {
                    Some(reason) => {
                        fallback = Some(reason);
                        exec::remove_split_leftovers(inv);
                        run(Step::Plain)
                    }
                    None if o.success() => match exec::fingerprint_objects(inv) {
                        Ok(objects) => {
                            split = Some(Box::new(SplitCompile { objects, link_files: fingerprint::link_files(inv) }));
                            Ok(o)
                        }
                        Err(e) => {
                            fallback = Some(format!("cannot fingerprint objects: {e}"));
                            run(Step::Plain)
                        }
                    },
                    None => Ok(o),
                },
                Err(e) => Err(e),
            }
        } else {
            run(Step::Plain)
        };
        let out = out.unwrap_or_else(|e| failed_to_run(inv, e));
        // Outputs final now (all but a split compile's, which its link writes) are uplifted
        // before anything measures them: the hard link changes their ctime.
        let replaced = if out.success() && split.is_none() { uplift(&spec) } else { Vec::new() };
        let measured = if out.success() { measure_outputs(&spec, &mut StatCache::default()) } else { Measured::default() };
        let _ = tx.send(Event::Compiled { key, out, split, fallback, measured, ms: t.elapsed().as_millis() as u64 });
        remove_replaced(replaced);
    })
}

fn spawn_link(
    tx: &mpsc::Sender<Event>,
    key: UnitKey,
    spec: UnitSpec,
    cancel: Option<Cancel>,
    extra: Vec<String>,
    js: Option<crate::jobs::Client>,
) -> std::thread::JoinHandle<()> {
    let tx = tx.clone();
    std::thread::spawn(move || {
        let run = |step| {
            let mut cmd = exec::command(&spec.invocation, step);
            if step == Step::LinkOnly {
                cmd.args(&extra);
            }
            if let Some(c) = &js {
                c.configure(&mut cmd);
            }
            exec::run_with(cmd, cancel.as_ref())
        };
        let t = Instant::now();
        let inv = &spec.invocation;
        let mut fallback = None;
        let out = match run(Step::LinkOnly) {
            Ok(o) => match exec::split_problem(&o) {
                Some(reason) => {
                    fallback = Some(reason);
                    exec::remove_split_leftovers(inv);
                    run(Step::Plain)
                }
                None => Ok(o),
            },
            Err(e) => Err(e),
        };
        let out = out.unwrap_or_else(|e| failed_to_run(inv, e));
        // The binary's other names, before the loop measures it (a hard link changes its
        // ctime); what they replaced is removed after the event, while the loop goes on.
        let mut replaced = Vec::new();
        if out.success() {
            replaced = uplift(&spec);
            replaced.extend(exec::keep_binary(inv));
        }
        let _ = tx.send(Event::Linked { key, out, fallback, ms: t.elapsed().as_millis() as u64 });
        remove_replaced(replaced);
    })
}

/// Hard-link the unit's outputs to where cargo puts them (`target/debug/app`), as cargo does.
/// Returns the files the links replaced, renamed aside and not yet removed: the caller removes
/// them ([`remove_replaced`]) off the critical path (freeing a 400 MB rlib or binary takes a
/// disk's time, which dependents need not wait for).
fn uplift(spec: &UnitSpec) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut replaced = Vec::new();
    for (from, to) in &spec.uplifts {
        let same = match (std::fs::metadata(from), std::fs::metadata(to)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        if same || !from.exists() {
            continue;
        }
        replaced.extend(exec::hard_link_replacing(from, to));
    }
    replaced
}

/// Remove the files [`uplift`] renamed aside.
fn remove_replaced(files: Vec<PathBuf>) {
    for f in files {
        let _ = std::fs::remove_file(f);
    }
}

/// What the capture (if any) of this build did, for the summary and the explanation.
pub struct CargoPart {
    pub reason: Option<String>,
    pub compiled: Vec<UnitKey>,
    pub linked: Vec<UnitKey>,
    /// Linkable units the wrapper compiled but did not link (fingerprint set unchanged).
    pub link_skipped: Vec<UnitKey>,
    /// The wrapper's link decisions.
    pub decisions: Vec<(UnitKey, LinkDecision)>,
    /// Build scripts splitlink reran instead of going through cargo.
    pub scripts: Vec<(UnitKey, String)>,
}

/// How this replay runs.
pub struct Run<'a> {
    /// Where `splitlink` was started (cargo config is found from there).
    pub cwd: &'a Path,
    pub sel_key: &'a str,
    pub jobs: usize,
    pub t0: Instant,
    pub cancel: Option<&'a Cancel>,
    /// What a watcher says is unchanged (None: look at every file).
    pub watched: Option<&'a crate::decide::Watched>,
    /// Fast mode's arguments for every `-Zlink-only` step (empty in exact mode).
    pub link_extra: &'a [String],
    /// rustc renders diagnostics in the short form.
    pub short_diagnostics: bool,
}

/// Replay the selection's graph: compile and link what is stale.
pub fn replay(run: &Run<'_>, state: &mut State, mut warm: Warm, sink: &mut dyn Sink, cargo: CargoPart) -> (BuildSummary, Warm) {
    let Run { cwd, sel_key, jobs, t0, cancel, watched, link_extra, short_diagnostics } = *run;
    let sel_state = state.selections[sel_key].clone();
    let keys: Vec<UnitKey> = warm.keys.clone();
    let mut cache = std::mem::take(&mut state.cache);
    crate::timing("db ready", t0);
    refresh(&mut warm, state, &mut cache, watched);
    crate::timing("inputs refreshed", t0);
    let cargo_links =
        cargo.decisions.iter().map(|(k, d)| (k.clone(), d.clone(), format!("{} (decided under cargo)", describe_link(d, state)))).collect();
    let mut lp = Loop {
        w: &mut warm,
        state,
        cancel: cancel.cloned(),
        cache,
        root: sel_state.workspace_root.clone(),
        config_files: workspace::config_candidates(cwd),
        running: BTreeSet::new(),
        failed: BTreeSet::new(),
        compiled: Vec::new(),
        linked: Vec::new(),
        link_skipped: cargo.link_skipped.clone(),
        explanation: Explanation {
            cargo: cargo.reason.clone(),
            scripts: cargo.scripts.clone(),
            compiled: cargo.compiled.iter().map(|k| (k.clone(), "compiled by cargo".to_string())).collect(),
            links: cargo_links,
            ..Default::default()
        },
        snapshots: HashMap::new(),
        pending_link: HashMap::new(),
        measuring: BTreeSet::new(),
        rustc_ms: 0,
        link_ms: 0,
        reports: Vec::new(),
        t0,
        threads: Vec::new(),
    };

    let (tx, rx) = mpsc::channel::<Event>();
    let mut pool = {
        let tx = tx.clone();
        let make = crate::jobs::MakeJobserver::from_env().map(std::sync::Arc::new);
        if let Some(m) = &make {
            crate::timing(&format!("joined make's jobserver ({})", m.auth), t0);
        }
        crate::jobs::Jobs::new(jobs, make, move |t| {
            let _ = tx.send(Event::Token(t));
        })
    };
    loop {
        // Start what is ready, as far as the jobserver's tokens go.
        let stopping = lp.cancelled();
        let ready: Vec<Unit> = if stopping { vec![] } else { db::ready_to_compile(&lp.w.db, lp.w.graph).clone() };
        let links: Vec<Unit> = if stopping { vec![] } else { db::ready_to_link(&lp.w.db, lp.w.graph).clone() };
        // Only what could start now asks for a token: a link waiting for its inputs' objects to
        // be measured would take one and give it back on every turn of this loop, spinning and
        // keeping it from the running rustc's codegen threads.
        let startable = |u: &Unit| !lp.running.contains(u.key(&lp.w.db)) && !lp.failed.contains(u.key(&lp.w.db));
        let waiting =
            ready.iter().filter(|u| startable(u)).count() + links.iter().filter(|u| startable(u) && !lp.waits_for_measure(**u)).count();
        pool.want(lp.running.len() + waiting, jobs);
        let capacity = pool.capacity(jobs);
        for u in ready {
            let key = u.key(&lp.w.db).clone();
            if lp.running.len() >= capacity {
                break;
            }
            if lp.running.contains(&key) || lp.failed.contains(&key) {
                continue;
            }
            let reason = db::dirty(&lp.w.db, u).expect("ready units are dirty");
            let mut why = describe(&reason, &lp.root, lp.state);
            let on_metadata: Vec<String> = db::transitive_deps(&lp.w.db, u)
                .iter()
                .filter(|d| db::dirty(&lp.w.db, **d).is_some())
                .map(|d| d.key(&lp.w.db).to_string())
                .collect();
            if !on_metadata.is_empty() {
                why.push_str(&format!(" (pipelined: started on the metadata of {} while its codegen ran)", on_metadata.join(", ")));
            }
            lp.explanation.compiled.push((key.clone(), why));
            lp.snapshots.insert(key.clone(), db::current_inputs(&lp.w.db, u));
            let mut spec = lp.spec(&key).clone();
            sink.event(BuildEvent::Compiling(unit_info(&spec)));
            if short_diagnostics {
                spec.invocation = spec.invocation.with_diagnostic_short(true);
            }
            lp.running.insert(key.clone());
            if u.metadata_ready(&lp.w.db) {
                u.set_metadata_ready(&mut lp.w.db).to(false);
            }
            lp.threads.push(spawn_compile(&tx, key, spec, lp.cancel.clone(), pool.client()));
        }
        for u in links {
            let key = u.key(&lp.w.db).clone();
            if lp.running.contains(&key) || lp.failed.contains(&key) || lp.running.len() >= capacity || lp.waits_for_measure(u) {
                continue;
            }
            let decision = db::link_decision(&lp.w.db, u);
            let why = describe_link(&decision, lp.state);
            lp.explanation.links.push((key.clone(), decision, why));
            lp.pending_link.insert(key.clone(), db::link_inputs(&lp.w.db, u));
            let mut spec = lp.spec(&key).clone();
            sink.event(BuildEvent::Linking(unit_info(&spec)));
            if short_diagnostics {
                spec.invocation = spec.invocation.with_diagnostic_short(true);
            }
            lp.running.insert(key.clone());
            lp.threads.push(spawn_link(&tx, key, spec, lp.cancel.clone(), link_extra.to_vec(), pool.client()));
        }
        // Tokens no job uses now go back (a job that ends gives its token to the next ready one
        // above, before this).
        pool.settle(lp.running.len());
        if lp.running.is_empty() && lp.measuring.is_empty() {
            break;
        }
        let Ok(ev) = rx.recv() else { break };
        match ev {
            Event::Token(t) => pool.delivered(t),
            ev => handle(&mut lp, ev, sink, &tx),
        }
    }

    crate::timing("jobs ended", t0);
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
                let why = describe_link(&LinkDecision::UpToDate, lp.state);
                lp.explanation.links.push((k.clone(), LinkDecision::UpToDate, why));
                sink.event(BuildEvent::LinkSkipped(unit_info(&spec)));
            }
        }
    }
    // Not-yet-built units blocked by a failure count as failed too.
    let blocked: Vec<UnitKey> =
        keys.iter().filter(|k| db::dirty(&lp.w.db, lp.w.units[*k]).is_some() && !lp.failed.contains(*k)).cloned().collect();
    for k in &blocked {
        lp.explanation.failed.push((k.to_string(), "not built: a dependency failed".into()));
    }
    // Uplifts this build's jobs did not make (a deleted `target/debug/app`), then the jobs'
    // removals of what their uplifts replaced.
    for k in &keys {
        remove_replaced(uplift(lp.spec(k)));
    }
    for t in std::mem::take(&mut lp.threads) {
        let _ = t.join();
    }
    crate::timing("uplifted", t0);

    let success = lp.failed.is_empty() && blocked.is_empty();
    let mut compiled: Vec<UnitKey> = cargo.compiled.iter().filter(|k| keys.contains(k)).cloned().collect();
    compiled.extend(lp.compiled.iter().cloned());
    let mut linked: Vec<UnitKey> = cargo.linked.clone();
    linked.extend(lp.linked.iter().cloned());

    if cargo.reason.is_none() {
        // Fresh units' diagnostics from their last compile, as cargo replays them.
        for k in &keys {
            if lp.compiled.contains(k) || lp.failed.contains(k) {
                continue;
            }
            let st = &lp.state.units[k];
            let messages: Vec<serde_json::Value> =
                st.built.messages.iter().filter(|m| !crate::events::is_rustc_summary(m)).cloned().collect();
            let (info, cwd) = (unit_info(&st.spec), st.spec.invocation.cwd.clone());
            for m in messages {
                lp.count(k, &m);
                sink.event(crate::events::diagnostic(Some(info.clone()), m, None, &cwd, &sel_state.workspace_root));
            }
        }
        // cargo's JSON messages for a replayed build: dependencies fresh, workspace units as built.
        let wanted: &[UnitKey] = if sink.wants_cargo_messages() { &keys } else { &[] };
        let others: &[crate::state::LazyJson] = if wanted.is_empty() { &[] } else { &sel_state.other_messages };
        for m in others {
            sink.event(BuildEvent::CargoMessage(m.get().clone()));
        }
        for k in wanted {
            if lp.failed.contains(k) || blocked.contains(k) {
                continue;
            }
            let mut a = lp.spec(k).artifact.get().clone();
            a["fresh"] = serde_json::Value::Bool(!compiled.contains(k));
            sink.event(BuildEvent::CargoMessage(a));
        }
    }
    if !lp.cancelled() {
        for (k, counts) in std::mem::take(&mut lp.reports) {
            if !counts.is_empty() {
                sink.event(BuildEvent::UnitReport { unit: unit_info(lp.spec(&k)), counts });
            }
        }
    }

    let binaries = keys
        .iter()
        .map(|k| lp.spec(k))
        .filter(|s| s.kind == UnitKind::Linkable && !s.invocation.is_test())
        .filter_map(|s| unit_info(s).path.map(|p| (s.name().to_string(), p)))
        .collect();
    let infos = |ks: &[UnitKey], st: &State| ks.iter().filter_map(|k| st.units.get(k)).map(|u| unit_info(&u.spec)).collect::<Vec<_>>();
    let cancelled = lp.cancelled();
    let summary = BuildSummary {
        success: success && !cancelled,
        cancelled,
        generation: 0,
        compiled: infos(&compiled, lp.state),
        linked: infos(&linked, lp.state),
        link_skipped: infos(&lp.link_skipped, lp.state),
        cargo_invoked: cargo.reason.is_some(),
        duration_ms: t0.elapsed().as_millis() as u64,
        profile: sel_state.profile.clone(),
        profile_desc: sel_state.profile_desc.clone(),
        rustc_ms: lp.rustc_ms,
        link_ms: lp.link_ms,
        binaries,
        fast: None,
        rlibs_measured: 0,
    };
    let explanation = std::mem::take(&mut lp.explanation);
    let cache = std::mem::take(&mut lp.cache);
    persist(lp.w, lp.state);
    let state = lp.state;
    state.cache = cache;
    state.explanations.insert(sel_key.to_string(), explanation);
    (summary, warm)
}

/// Write the database's inputs back into the state: the state on disk is the db's inputs,
/// serialized (plus what only the executor keeps: output stamps, object files, messages).
fn persist(w: &Warm, state: &mut State) {
    for k in &w.keys {
        let u = w.units[k];
        let Some(st) = state.units.get_mut(k) else { continue };
        let b = &mut st.built;
        b.with = u.built(&w.db).clone();
        b.interface = u.interface(&w.db);
        b.objects = u.objects(&w.db).clone();
        b.rlink = u.rlink(&w.db);
        b.link_files = u.link_files(&w.db).as_ref().map(|v| v.iter().map(|f| f.path(&w.db).clone()).collect());
        b.last_link = u.last_link(&w.db).clone();
    }
}

fn handle(lp: &mut Loop<'_>, ev: Event, sink: &mut dyn Sink, tx: &mpsc::Sender<Event>) {
    match ev {
        // Taken by the loop (the pool is its own).
        Event::Token(_) => {}
        Event::Metadata { key } => {
            // Still compiling (a late notification after `Compiled` changes nothing).
            if !lp.running.contains(&key) {
                return;
            }
            let unit = lp.w.units[&key];
            let spec = lp.spec(&key);
            let Some(rmeta) = spec.invocation.interface_output().filter(|p| p.extension().is_some_and(|e| e == "rmeta")) else { return };
            // The interface dependents see, as `measure_outputs` takes it after the compile
            // (which sets it again; if it differs, what compiled against this one is dirty).
            let digest = crate::digest::hash_file(&rmeta).ok().flatten();
            if digest.is_none() {
                return;
            }
            if unit.interface(&lp.w.db) != digest {
                unit.set_interface(&mut lp.w.db).to(digest);
            }
            unit.set_metadata_ready(&mut lp.w.db).to(true);
        }
        Event::Measured(d) => {
            lp.measuring.remove(&d.path);
            let digest = d.digest;
            if let Some(f) = lp.w.link_files.get(&d.path).copied() {
                if f.digest(&lp.w.db) != digest {
                    f.set_digest(&mut lp.w.db).to(digest);
                }
            }
            lp.cache.record_derived(fingerprint::RLIB_OBJECTS, d);
        }
        Event::Compiled { key, out, split, fallback, measured, ms } => {
            crate::timing(&format!("compiled {key} in {ms} ms, at"), lp.t0);
            lp.running.remove(&key);
            lp.rustc_ms += ms;
            let unit = lp.w.units[&key];
            // Settled either way: what dependents may read is decided by `dirty` again (a
            // failed compile leaves it dirty, and a stale flag must not let them start on the
            // next build before it compiles again).
            if unit.metadata_ready(&lp.w.db) {
                unit.set_metadata_ready(&mut lp.w.db).to(false);
            }
            if let Some(reason) = &fallback {
                sink.event(BuildEvent::Fallback { unit: unit_info(lp.spec(&key)), reason: reason.clone() });
                lp.explanation.fallbacks.push((key.clone(), reason.clone()));
                let s = &mut lp.state.units.get_mut(&key).unwrap().spec;
                s.split = false;
                s.fallback_reason = Some(reason.clone());
                s.digest = Some(s.compute_digest());
                unit.set_linkable(&mut lp.w.db).to(false);
            }
            if !lp.cancelled() {
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
            let spec = lp.spec(&key).clone();
            if spec.kind == UnitKind::Linkable && !spec.split {
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
            let built = BuiltWith { spec: spec.spec_digest(), sources, deps: snap.deps.clone(), env: measured.env.clone() };
            unit.set_sources(&mut lp.w.db).to(files);
            unit.set_env_now(&mut lp.w.db).to(env_now(&spec, &measured.env));
            unit.set_built(&mut lp.w.db).to(Some(built.clone()));
            unit.set_spec(&mut lp.w.db).to(spec.spec_digest());
            unit.set_interface(&mut lp.w.db).to(measured.interface);
            // A library's rlib is a file its dependents link.
            for o in spec.invocation.outputs() {
                lp.remeasure_link_file(&o, tx);
            }
            let link_files = match split.as_deref() {
                Some(SplitCompile { link_files: Some(v), .. }) if fallback.is_none() => {
                    let mut inputs = Vec::new();
                    for p in v {
                        let f = link_file_input(lp.w, &mut lp.cache, p);
                        // An rlib this build just wrote was measured on its own thread: its
                        // digest stands while the file is the one measured (not hashed again).
                        let d = link_file_digest(lp.w, &mut lp.cache, p);
                        if f.digest(&lp.w.db) != d {
                            f.set_digest(&mut lp.w.db).to(d);
                        }
                        inputs.push(f);
                    }
                    Some(inputs)
                }
                _ => None,
            };
            // What only the executor keeps (the db holds the rest; `persist` writes it back).
            let st = &mut lp.state.units.get_mut(&key).unwrap().built;
            st.outputs = measured.stamps.clone();
            if let (Some(c), None) = (split.map(|c| *c), &fallback) {
                unit.set_objects(&mut lp.w.db).to(c.objects.digests.clone());
                unit.set_rlink(&mut lp.w.db).to(Some(c.objects.rlink));
                unit.set_link_files(&mut lp.w.db).to(link_files);
                unit.set_objects_present(&mut lp.w.db).to(true);
                st.object_files = c.objects.files;
            }
        }
        Event::Linked { key, out, fallback, ms } => {
            crate::timing(&format!("linked {key} in {ms} ms, at"), lp.t0);
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
            if !lp.cancelled() {
                let _ = lp.emit_stderr(&key, &out.stderr, true, sink);
            }
            let inputs = lp.pending_link.remove(&key).flatten();
            if !out.success() {
                lp.failed.insert(key.clone());
                let present = spec.invocation.rlink_path().is_some_and(|r| r.exists());
                unit.set_objects_present(&mut lp.w.db).to(present);
                return;
            }
            lp.linked.push(key.clone());
            let stamps: Vec<(PathBuf, Stamp)> =
                spec.invocation.outputs().into_iter().filter_map(|p| Stamp::of(&p).map(|s| (p, s))).collect();
            exec::remove_split_leftovers(&spec.invocation);
            unit.set_last_link(&mut lp.w.db).to(inputs.clone());
            unit.set_binary_ok(&mut lp.w.db).to(true);
            unit.set_objects_present(&mut lp.w.db).to(false);
            if fallback.is_some() {
                unit.set_linkable(&mut lp.w.db).to(false);
                let s = &mut lp.state.units.get_mut(&key).unwrap().spec;
                s.digest = Some(s.compute_digest());
            }
            let st = &mut lp.state.units.get_mut(&key).unwrap().built;
            st.outputs = stamps;
            st.object_files.clear();
        }
    }
}
