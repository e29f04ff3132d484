//! A build: decide whether cargo must be asked (capture) or the captured graph can be replayed
//! (rerunning build scripts whose inputs changed, see [`crate::script`]); then replay
//! ([`crate::replay`]). [`Engine`] keeps the state and the database between builds of a
//! long-running session.
//!
//! Invariant: one build at a time per target directory (a file lock), and the state on disk is
//! written only here.

use crate::capture::{self, CaptureError};
use crate::decide::{self, Watched};
use crate::digest::Stamp;
use crate::events::{BuildEvent, BuildSummary, Sink};
use crate::exec::Cancel;
use crate::replay::{self, CargoPart, Warm};
use crate::script::{self, Rerun};
use crate::state::{Explanation, State, UnitKind};
use crate::timing;
use crate::workspace::{self, Located, Selection};
use std::path::{Path, PathBuf};
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
    /// Fast mode ([`crate::fast`]): split links with wild when it is installed.
    pub fast: bool,
    /// Ask cargo for colour (`--color=always`) in what it prints; the front-end strips it when
    /// it shows output without colour.
    pub color: bool,
    /// rustc renders diagnostics in the short form (cargo's `--message-format short`,
    /// `json-diagnostic-short`).
    pub short_diagnostics: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            quiet: false,
            jobs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            force_capture: false,
            wrapper: None,
            fast: false,
            color: false,
            short_diagnostics: false,
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
    /// Fast mode's link ([`crate::fast`]), when on.
    fast: Option<crate::fast::FastLink>,
}

impl Engine {
    pub fn open(sel: Selection, opts: BuildOptions, cwd: &Path) -> Result<Engine, BuildError> {
        let loc = workspace::locate(&sel, cwd)?;
        // Fast mode builds other units (lever 2's debuginfo): its own selection.
        let sel = if opts.fast { crate::fast::selection(&sel) } else { sel };
        let sel_key = sel.key(cwd);
        let fast = opts.fast.then(|| crate::fast::fast_link(&loc.target_dir));
        Ok(Engine { sel, opts, loc, sel_key, state: State::default(), state_stamp: None, warm: None, generation: 0, fast })
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
    /// dep-info), every capture trigger, what build scripts read, and the files that make up
    /// the packages' targets. A watcher watches their directories.
    pub fn watched_files(&self) -> Vec<PathBuf> {
        let mut v = Vec::new();
        if let Some(s) = self.state.selections.get(&self.sel_key) {
            v.extend(s.triggers.iter().map(|t| t.path.clone()));
            for k in &s.units {
                if let Some(w) = self.state.units.get(k).and_then(|u| u.built.with.as_ref()) {
                    v.extend(w.sources.iter().map(|(p, _)| p.clone()));
                }
            }
            for r in &s.scripts {
                v.extend(r.inputs.files(&self.loc.target_dir));
            }
            for l in &s.targets {
                v.extend(l.files.iter().map(|f| l.package_dir.join(f)));
                // Its creation adds a target (a build script).
                v.push(l.package_dir.join("build.rs"));
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
            .filter(|u| u.spec.kind == UnitKind::Linkable && !u.spec.invocation.is_test() && u.spec.key.kind == "bin")
            .filter_map(|u| replay::unit_info(&u.spec).path.map(|p| (u.spec.name().to_string(), p)))
            .collect()
    }

    /// The selection's runnable targets of one kind (`bin`, `example`), as `cargo run` runs
    /// them (see [`crate::testplan::runnables`]).
    pub fn runnables(&self, kind: &str) -> Vec<crate::TestBinary> {
        crate::testplan::runnables(&self.state, &self.sel_key, kind)
    }

    /// What `splitlink test` runs after the last build (see [`crate::testplan`]).
    pub fn test_plan(&self) -> crate::TestPlan {
        crate::testplan::plan(&self.state, &self.sel_key)
    }

    /// Rerun the build scripts whose inputs changed; `Err(reason)` when one of them now
    /// produces something else (the build must go through cargo).
    fn rerun_scripts(
        &mut self,
        reruns: &[(usize, crate::digest::Digest)],
        cancel: Option<&Cancel>,
    ) -> Result<Vec<(crate::unit::UnitKey, String)>, String> {
        let scratch = self.loc.target_dir.join("splitlink").join("script-rerun");
        let mut done = Vec::new();
        for (i, digest) in reruns {
            let run = self.state.selections[&self.sel_key].scripts[*i].clone();
            let who = format!("the build script of {}", run.key.package_name());
            match script::rerun(&run, &scratch, cancel) {
                Rerun::Same => {
                    self.state.selections.get_mut(&self.sel_key).unwrap().scripts[*i].inputs_digest = Some(*digest);
                    done.push((run.key.clone(), "its inputs changed; splitlink ran it: same output, same OUT_DIR".to_string()));
                }
                Rerun::Differs(why) => return Err(format!("{who} ran again because its inputs changed: {why}")),
            }
        }
        Ok(done)
    }

    /// Build now. With `cancel`, rustc and cargo run in their own process groups and
    /// `cancel.cancel()` stops the build (the summary then says `cancelled`).
    pub fn build(&mut self, sink: &mut dyn Sink, cancel: Option<&Cancel>) -> Result<BuildSummary, BuildError> {
        self.build_with(sink, cancel, None)
    }

    /// [`Engine::build`], told by a front-end's watcher what changed ([`Watched`]).
    pub fn build_with(
        &mut self,
        sink: &mut dyn Sink,
        cancel: Option<&Cancel>,
        watched: Option<&Watched>,
    ) -> Result<BuildSummary, BuildError> {
        let t0 = Instant::now();
        let _lock = lock(&self.loc.target_dir)?;
        self.generation += 1;
        let on_disk = Stamp::of(&State::path(&self.loc.target_dir));
        if self.state_stamp.is_none() || !matches!((on_disk, self.state_stamp), (Some(a), Some(b)) if a.same_output(&b)) {
            self.state = State::load(&self.loc.target_dir);
            self.warm = None;
        }
        self.state.cache.derived_recorded = 0;
        timing("loaded state", t0);
        let sel_key = self.sel_key.clone();
        let loc = self.loc.clone();

        let mut scripts_reran = Vec::new();
        let mut scripts_changed_state = false;
        let mut cache = std::mem::take(&mut self.state.cache);
        let decision = decide::check(
            &self.state,
            &sel_key,
            self.opts.force_capture,
            &mut decide::Disk { cache: &mut cache, watched, target_dir: &loc.target_dir },
        );
        self.state.cache = cache;
        let mut cargo_reason = match decision {
            decide::Check::Capture(r) => Some(r),
            decide::Check::Replay { reruns } if reruns.is_empty() => None,
            decide::Check::Replay { reruns } => match self.rerun_scripts(&reruns, cancel) {
                Ok(done) => {
                    scripts_reran = done;
                    scripts_changed_state = true;
                    None
                }
                Err(why) => Some(why),
            },
        };
        timing("capture decision", t0);
        let state = &mut self.state;
        let mut cargo_compiled = Vec::new();
        let mut cargo_linked = Vec::new();
        let mut cargo_skipped = Vec::new();
        let mut cargo_decisions = Vec::new();
        let mut success = true;
        let mut not_replayable = None;
        if let Some(reason) = &cargo_reason {
            self.warm = None;
            sink.event(BuildEvent::Capture { reason: reason.clone() });
            let link_extra = self.fast.as_ref().map(|f| f.args.as_slice()).unwrap_or(&[]);
            let r = match capture::capture(&loc, &self.sel, &sel_key, state, sink, &self.opts, link_extra, cancel) {
                Ok(r) => r,
                Err(e) => {
                    // Keep what is known; the next build asks cargo again.
                    state.selections.remove(&sel_key);
                    let _ = state.save(&loc.target_dir, true);
                    self.state_stamp = Stamp::of(&State::path(&loc.target_dir));
                    return Err(e.into());
                }
            };
            // The capture recorded the graph again: whatever the state file held before is gone.
            state.duplicates.clear();
            success = r.success;
            cargo_compiled = r.compiled;
            cargo_linked = r.linked;
            cargo_skipped = r.link_skipped;
            cargo_decisions = r.decisions;
            not_replayable = r.not_replayable;
            if let Some(why) = &not_replayable {
                sink.event(BuildEvent::Warning(format!(
                    "warning: splitlink cannot tell cargo's units apart ({why}); this build is cargo's, and the next one goes through cargo again"
                )));
            }
        }

        let link_extra: &[String] = self.fast.as_ref().map(|f| f.args.as_slice()).unwrap_or(&[]);
        let mut summary = if success && not_replayable.is_none() {
            let fresh_db = self.warm.is_none();
            let warm = match self.warm.take() {
                Some(w) => w,
                None => replay::new_warm(state, &sel_key, link_extra),
            };
            let part = CargoPart {
                reason: cargo_reason.take(),
                compiled: cargo_compiled,
                linked: cargo_linked,
                link_skipped: cargo_skipped,
                decisions: cargo_decisions,
                scripts: scripts_reran,
            };
            // A database kept from this engine's last build: its file inputs hold what was hashed
            // then, so what the watcher says is unchanged need not be looked at again.
            let watched = if fresh_db { None } else { watched };
            let run = replay::Run {
                cwd: &loc.cwd,
                sel_key: &sel_key,
                jobs: self.opts.jobs,
                t0,
                cancel,
                watched,
                link_extra,
                short_diagnostics: self.opts.short_diagnostics,
            };
            let (summary, warm) = replay::replay(&run, state, warm, sink, part);
            self.warm = Some(warm);
            summary
        } else {
            let mut ex = Explanation { cargo: cargo_reason.clone(), ..Default::default() };
            match &not_replayable {
                Some(why) => ex.failed.push(("replay".into(), format!("not possible: {why}"))),
                None => ex.failed.push(("cargo".into(), "cargo build failed".into())),
            }
            state.explanations.insert(sel_key.clone(), ex);
            let infos = |keys: &[crate::unit::UnitKey]| {
                keys.iter().filter_map(|k| state.units.get(k)).map(|u| replay::unit_info(&u.spec)).collect::<Vec<_>>()
            };
            BuildSummary {
                success,
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
                fast: None,
                rlibs_measured: 0,
            }
        };
        summary.rlibs_measured = self.state.cache.derived_recorded;
        summary.generation = self.generation;
        summary.fast = self.fast.as_ref().map(|f| f.linker.clone());
        if let (Some(f), Some(ex)) = (&self.fast, self.state.explanations.get_mut(&sel_key)) {
            ex.fast = Some(match crate::fast::debuginfo_note(&self.sel) {
                Some(d) => format!("{}; {d}", f.linker),
                None => f.linker.clone(),
            });
        }
        if let Some(ex) = self.state.explanations.get(&sel_key).cloned() {
            self.state.explanations.insert(LAST_EXPLANATION.to_string(), ex);
        }
        timing("built", t0);
        // A build that compiled, linked, failed, reran a build script or went through cargo
        // changed the units' state; a no-op build changed at most the stat cache and the
        // explanation.
        let units_changed = summary.cargo_invoked
            || scripts_changed_state
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

/// Where the explanation of the last build of any selection is also kept.
const LAST_EXPLANATION: &str = "last";

/// The last build's explanation for this selection; without selection flags, of the last
/// build in the target directory (`splitlink test` and `run` build their own selections).
pub fn explain(sel: &Selection, cwd: &Path) -> Result<Explanation, BuildError> {
    let loc = workspace::locate(sel, cwd)?;
    let state = State::load(&loc.target_dir);
    let key = sel.key(cwd);
    // The same flags built in fast mode are another selection ([`crate::fast::selection`]).
    let fast_key = crate::fast::selection(sel).key(cwd);
    let unflagged = Selection { manifest_path: sel.manifest_path.clone(), target_dir: sel.target_dir.clone(), ..Default::default() };
    let found = if *sel == unflagged {
        state.explanations.get(LAST_EXPLANATION).or_else(|| state.explanations.get(&key))
    } else {
        state.explanations.get(&key).or_else(|| state.explanations.get(&fast_key))
    };
    found.cloned().ok_or_else(|| BuildError::NothingToExplain(loc.target_dir.clone()))
}
