//! splitlink's session layer: what every long-running front-end (`splitlink watch`,
//! `splitlink lsp`, and later the test loop) shares. A front-end owns one message loop over its
//! own closed event enum; it wraps [`SessionEvent`]s into it and calls the [`Session`] of each
//! workspace it serves. The session decides when to build and what changed; the front-end only
//! renders.
//!
//! ```text
//!  notify watcher ─┐ Fs(batch)                      client notifications (lsp)
//!                  ▼                                      │ on_changed(paths)
//!   Session: watch plan (which paths matter) ─► vfs: content-diffed pending changes
//!            quiet period (40 ms) with a cap (1 s) ─► poll(): start a build (queue or restart)
//!                  │ Cancel                              ▲ Build(event), BuildDone
//!                  ▼                                      │
//!   build actor (thread, sole owner of the Engine) ───────┘
//!   jobs: process-group supervisor (run / exec), RunPolicy: restart only after a relink
//! ```
//!
//! Invariants (what is absent):
//! - No front-end touches an [`splitlink_engine::Engine`]: the build actor owns it; no front-end
//!   waits for a build (builds report through [`SessionEvent`]s).
//! - No second debounce or content filter: a path starts a build only if the [`vfs::Changes`]
//!   of its session say its content differs from what the last build saw.
//! - No second job killer: every job runs under [`job::Job`] (its own process group, SIGTERM,
//!   SIGCONT, SIGKILL after the grace period, reaped before `stop` returns).
//! - No second test runner: `splitlink test`, `watch --test` and the LSP run tests through
//!   [`testrun::run`] (cargo's order and environment, libtest's output parsed once).
//! - Nothing here knows the terminal or LSP types.

pub mod builder;
pub mod job;
pub mod testrun;
pub mod vfs;
pub mod watch;

pub use builder::{BuildDone, Builder, Purpose};
pub use job::{Exited, Job, Output};

use splitlink_engine::digest::Stamp;
use splitlink_engine::{BuildError, BuildEvent, BuildOptions, Cancel, Selection, Watched};
use std::path::{Path, PathBuf};
use std::time::Instant;
use vfs::Changes;
use watch::{FsBatch, Plan, Relevance, Scan, Watcher};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Engine(#[from] BuildError),
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    #[error("cannot start the file watcher: {0}")]
    Watcher(#[from] notify_debouncer_full::notify::Error),
}

/// What the session's helpers (the watcher, the build actor) report to the front-end's loop.
#[derive(Debug)]
pub enum SessionEvent {
    /// The file system reported changes (debounced), from the session's own watcher.
    Fs(FsBatch),
    /// The running build reported progress.
    Build(Box<BuildEvent>),
    /// The running build ended.
    BuildDone(Box<BuildDone>),
}

/// What a change during a build does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnBusy {
    /// Let the running build finish, then build again.
    Queue,
    /// Cancel the running build (killing rustc/cargo) and start again.
    Restart,
}

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub on_busy: OnBusy,
    /// Watch the file system with the session's own watcher (`watch`; `lsp` when the client
    /// cannot watch files).
    pub watch_files: bool,
    /// Poll the watched directories instead of the kernel's events (`watch --poll`).
    pub poll: bool,
}

/// One workspace's session: its build actor, what is watched, what changed.
pub struct Session {
    builder: Builder,
    changes: Changes,
    watcher: Option<Watcher>,
    scan: Scan,
    plan: Plan,
    root: PathBuf,
    target_dir: PathBuf,
    /// The engine's last non-empty list of files that matter (kept while the graph is unknown,
    /// e.g. while Cargo.toml is broken).
    engine_files: Vec<PathBuf>,
    building: Option<Cancel>,
    on_busy: OnBusy,
    /// A build was asked for, whatever changed.
    requested: bool,
    /// A build of what the test command runs was asked for (started when no main build is due).
    tests_requested: bool,
    /// The running build is the test build.
    building_tests: bool,
    /// When the running (or last) build started (ns since the epoch).
    build_started_ns: i128,
    /// Problems to tell the user (a directory that cannot be watched, watcher errors).
    warnings: Vec<String>,
    /// The last build could not run at all (no cargo, an unreadable workspace): the next
    /// relevant change builds even if its content is what that attempt saw (the user fixed
    /// the environment, not the file, and saves to retry).
    could_not_build: bool,
}

impl Session {
    /// Open the workspace at `cwd` and start its build actor (and watcher). `post` delivers the
    /// session's events to the front-end's loop (from other threads).
    pub fn open(
        sel: Selection,
        opts: BuildOptions,
        cwd: &Path,
        config: Config,
        post: impl Fn(SessionEvent) + Send + Sync + Clone + 'static,
    ) -> Result<Session, SessionError> {
        let (builder, root, target_dir) = Builder::spawn(sel, opts, cwd, post.clone())?;
        let watcher = if config.watch_files { Some(Watcher::new(move |b| post(SessionEvent::Fs(b)), config.poll)?) } else { None };
        let mut s = Session {
            builder,
            changes: Changes::default(),
            watcher,
            scan: Scan::default(),
            plan: Plan::default(),
            root,
            target_dir,
            engine_files: Vec::new(),
            building: None,
            on_busy: config.on_busy,
            requested: false,
            tests_requested: false,
            building_tests: false,
            build_started_ns: 0,
            warnings: Vec::new(),
            could_not_build: false,
        };
        s.rewatch(true, false);
        let files = s.files_to_baseline();
        s.changes.baseline(files.iter());
        Ok(s)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn target_dir(&self) -> &Path {
        &self.target_dir
    }

    /// Directories the session's own watcher watches.
    pub fn watched_dirs(&self) -> usize {
        self.watcher.as_ref().map(|w| w.count()).unwrap_or(0)
    }

    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    pub fn is_building(&self) -> bool {
        self.building.is_some()
    }

    /// Cancel the running build (rustc and cargo are killed; its `BuildDone` says cancelled).
    pub fn cancel(&self) {
        if let Some(c) = &self.building {
            c.cancel();
        }
    }

    /// The running build's cancel handle (for a client's cancel button).
    pub fn cancel_handle(&self) -> Option<Cancel> {
        self.building.clone()
    }

    /// Build as soon as possible, whatever changed.
    pub fn request_build(&mut self) {
        self.requested = true;
    }

    /// Build what the test command runs ([`splitlink_engine::Selection::for_tests`]) as soon as
    /// no build of the session's own selection is due; its [`BuildDone`] has
    /// [`Purpose::Tests`] and the test plan.
    pub fn request_tests(&mut self) {
        self.tests_requested = true;
    }

    /// Whether the running build is the test build.
    pub fn is_building_tests(&self) -> bool {
        self.building.is_some() && self.building_tests
    }

    /// When [`Session::poll`] should be called next (None: nothing to build, or a build runs).
    pub fn due(&self) -> Option<Instant> {
        if self.building.is_some() {
            return None;
        }
        if self.requested {
            return Some(Instant::now());
        }
        match self.changes.due() {
            None if self.tests_requested => Some(Instant::now()),
            d => d,
        }
    }

    /// Start a build if one is due and none runs. Returns the changed paths that started it
    /// (empty for a requested build or a test build), or None when no build started.
    pub fn poll(&mut self) -> Option<Vec<PathBuf>> {
        if self.due().is_none_or(|d| d > Instant::now()) {
            return None;
        }
        let paths = self.changes.take();
        if paths.is_empty() && !self.requested {
            if !self.tests_requested {
                return None;
            }
            // Nothing changed since the last main build: the test build now.
            self.tests_requested = false;
            let cancel = Cancel::new();
            if !self.builder.build_tests(cancel.clone()) {
                self.warnings.push("internal error: the build thread ended".into());
                return None;
            }
            self.building = Some(cancel);
            self.building_tests = true;
            return Some(paths);
        }
        self.building_tests = false;
        self.requested = false;
        let cancel = Cancel::new();
        // With its own watcher, the session tells the engine what changed (the engine then
        // looks again only at those files and at what nobody watches).
        let watched = self
            .watcher
            .as_ref()
            .filter(|w| w.vouches())
            .map(|w| Watched { changed: paths.clone(), dirs: w.watched_since().iter().map(|(d, t)| (d.clone(), *t)).collect() });
        if !self.builder.build(cancel.clone(), watched) {
            self.warnings.push("internal error: the build thread ended".into());
            return None;
        }
        self.building = Some(cancel);
        self.build_started_ns = splitlink_engine::digest::now_ns();
        Some(paths)
    }

    /// Paths the file system reported changed (the session's own watcher).
    pub fn on_fs(&mut self, batch: FsBatch) {
        for e in &batch.errors {
            self.warnings.push(format!("file watcher: {e}"));
        }
        let mut dirs_changed = false;
        if batch.rescan || !batch.errors.is_empty() {
            if let Some(w) = self.watcher.as_mut() {
                w.lost_events();
            }
        }
        if batch.rescan {
            // Events were lost: check every file against its last known content.
            dirs_changed = true;
            for f in self.files_to_baseline() {
                self.changes.observe(&f);
            }
        }
        dirs_changed |= self.observe(&batch.paths);
        if dirs_changed {
            self.rewatch(true, true);
        }
        self.restart_if_busy();
    }

    /// Paths a client says changed (a save, a watched-file notification): compared by content
    /// with what the last build saw.
    pub fn on_changed(&mut self, paths: &[PathBuf]) {
        if self.observe(paths) {
            self.rewatch(true, true);
        }
        self.restart_if_busy();
    }

    /// Whether `path` can matter to this workspace's build.
    pub fn relevant(&self, path: &Path) -> bool {
        !watch::excluded(path, &self.target_dir) && self.plan.relevant(path) != Relevance::No
    }

    /// Observe changed paths; returns whether directories appeared or went.
    fn observe(&mut self, paths: &[PathBuf]) -> bool {
        let mut dirs_changed = false;
        for p in paths {
            if watch::excluded(p, &self.target_dir) {
                continue;
            }
            match self.plan.relevant(p) {
                Relevance::No => {}
                Relevance::File => {
                    self.changes.observe(p);
                    if self.could_not_build {
                        self.requested = true;
                    }
                }
                Relevance::Dir => {
                    dirs_changed = true;
                    if !p.is_dir() {
                        if let Some(w) = self.watcher.as_mut() {
                            w.forget(p);
                        }
                        // Files that were in it are gone: their own events may not come.
                        let inside: Vec<PathBuf> = self.changes.known_files().into_iter().filter(|f| f.starts_with(p)).collect();
                        for f in inside {
                            self.changes.observe(&f);
                        }
                    }
                }
            }
        }
        dirs_changed
    }

    fn restart_if_busy(&mut self) {
        if self.on_busy == OnBusy::Restart && self.changes.has_pending() {
            if let Some(c) = &self.building {
                if !c.is_cancelled() {
                    c.cancel();
                }
            }
        }
    }

    /// The running build ended: watch what it says matters now, and take its view of the files
    /// as the baseline for the next changes.
    pub fn on_build_done(&mut self, d: &BuildDone) {
        self.building = None;
        if d.purpose == Purpose::Tests {
            // The main build's view of the files stays the baseline.
            return;
        }
        if !d.watched.is_empty() {
            self.engine_files = d.watched.clone();
        }
        self.could_not_build = d.result.is_err();
        let rescan = match &d.result {
            Err(_) => true,
            Ok(s) => s.cargo_invoked,
        };
        self.rewatch(rescan, false);
        // What the build read is what it saw. A file it did not read (a source in a `src/`,
        // `examples/`… directory no target uses yet) written since it started may be a change
        // it did not see (a new target created during the build): check it, do not take it as
        // seen.
        let files = self.files_to_baseline();
        let (seen, unseen): (Vec<PathBuf>, Vec<PathBuf>) = files.into_iter().partition(|f| {
            self.plan.files.contains(f)
                || Stamp::of(f).is_none_or(|s| s.mtime_ns < self.build_started_ns && s.ctime_ns < self.build_started_ns)
        });
        self.changes.baseline(seen.iter());
        for f in &unseen {
            if !self.changes.is_known(f) {
                self.changes.observe(f);
            }
        }
    }

    /// Derive the watch plan again and register its directories. With `rescan`, walk the
    /// workspace again (new packages, new `src/` directories). With `observe_new`, files in
    /// newly registered directories are checked for changes (they may have been written before
    /// the directory was watched).
    fn rewatch(&mut self, rescan: bool, observe_new: bool) {
        if rescan {
            self.scan = watch::scan(&self.root, &self.target_dir);
        }
        let plan = Plan::new(self.engine_files.iter().cloned(), &self.scan, &self.target_dir);
        let registered = |d: &PathBuf| self.watcher.as_ref().is_some_and(|w| w.is_registered(d));
        let new_dirs: Vec<PathBuf> = plan.dirs.iter().filter(|d| !registered(d)).cloned().collect();
        if let Some(w) = self.watcher.as_mut() {
            self.warnings.extend(w.set(&plan.dirs));
        }
        self.plan = plan;
        if observe_new {
            for d in new_dirs {
                let files: Vec<PathBuf> = self.plan.files.iter().filter(|f| f.parent() == Some(d.as_path())).cloned().collect();
                for f in files.iter().chain(self.rs_files_in(&d).iter()) {
                    self.changes.observe(f);
                }
            }
        }
    }

    fn rs_files_in(&self, dir: &Path) -> Vec<PathBuf> {
        if !self.plan.src_dirs.contains(dir) {
            return vec![];
        }
        let Ok(rd) = std::fs::read_dir(dir) else { return vec![] };
        rd.flatten().map(|e| e.path()).filter(|p| self.plan.relevant(p) == Relevance::File).collect()
    }

    fn files_to_baseline(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.plan.files.iter().cloned().collect();
        for d in &self.plan.src_dirs {
            v.extend(self.rs_files_in(d));
        }
        v
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// When to (re)start the binary a front-end runs: only after a successful build whose binary
/// file is not the one already started (a relink). A skipped link, a failed or a cancelled
/// build keep what runs.
#[derive(Default)]
pub struct RunPolicy {
    /// The binary file (identity and size) last started.
    started: Option<Stamp>,
}

/// What a front-end does with its running binary after a build.
#[derive(Debug, PartialEq, Eq)]
pub enum RunAction {
    /// (Re)start it: the build succeeded and the binary is new.
    Start,
    /// The build succeeded but the binary is the one running (link skipped).
    KeepRunning,
    /// The build failed; the last good binary runs on.
    KeepLastGood,
    /// Nothing runs and nothing to start.
    Nothing,
}

impl RunPolicy {
    /// `bin`: the binary to run after this build; `alive`: whether one runs now; `start_new`:
    /// whether to start it when none runs.
    pub fn decide(&self, d: &BuildDone, bin: Option<&Path>, alive: bool, start_new: bool) -> RunAction {
        let Some(bin) = bin else { return RunAction::Nothing };
        if !d.ok() {
            return if alive && !d.cancelled() { RunAction::KeepLastGood } else { RunAction::Nothing };
        }
        let relinked = match (Stamp::of(bin), self.started) {
            (Some(now), Some(s)) => !now.same_output(&s),
            _ => true,
        };
        match (relinked, alive) {
            (true, true) => RunAction::Start,
            (true, false) if start_new => RunAction::Start,
            (false, true) => RunAction::KeepRunning,
            _ => RunAction::Nothing,
        }
    }

    /// The binary at `path` was just started.
    pub fn started(&mut self, path: &Path) {
        self.started = Stamp::of(path);
    }
}
