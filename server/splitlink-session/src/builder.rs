//! The build actor: the only owner of the [`Engine`] (and so of the salsa database) for the
//! whole session. It runs one build per request on its own thread, posts the build's events and
//! reports the outcome with the engine's view after it (what to watch, the binaries, the
//! explanation).
//!
//! It owns a second engine, opened on first use, for what the front-end's test command builds
//! (the selection's [`Selection::for_tests`]) when the session's own selection is not that
//! one (the LSP builds all targets on save; its test command builds what `cargo test` builds).
//! Both engines share the target directory's state: a unit both selections build is one record
//! (same key, `-C metadata` included), so the test build after a save finds it fresh.
//!
//! Invariants: one build at a time (requests are served in order by one thread); a build is
//! cancelled through its [`Cancel`] from any thread; a panic in the engine is reported as a
//! failed build and the engine is reopened, never left half-updated. Nobody else touches the
//! engines: a front-end's message loop never waits for a build.

use crate::{SessionError, SessionEvent};
use splitlink_engine::{BuildEvent, BuildOptions, BuildSummary, Cancel, Engine, Selection, Watched};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};

/// Which selection a build request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The session's selection (what is built on save).
    Main,
    /// What the test command runs: the session's selection as `cargo test` builds it.
    Tests,
}

/// The outcome of one build, with the engine's view after it.
#[derive(Clone, Debug)]
pub struct BuildDone {
    pub purpose: Purpose,
    /// `Err`: the build could not run (broken manifest, missing toolchain...); the message.
    pub result: Result<BuildSummary, String>,
    /// Files whose change can change the build (empty when the engine knows no graph).
    pub watched: Vec<PathBuf>,
    /// The selection's binaries: (name, path).
    pub binaries: Vec<(String, PathBuf)>,
    /// What `splitlink test` would run after this build (empty unless the selection is a test
    /// selection).
    pub tests: splitlink_engine::TestPlan,
    /// `splitlink explain` for this build (None before any build that recorded one).
    pub explanation: Option<String>,
    /// The engine's build counter.
    pub generation: u64,
}

impl BuildDone {
    /// Succeeded, and not cancelled.
    pub fn ok(&self) -> bool {
        matches!(&self.result, Ok(s) if s.success && !s.cancelled)
    }

    pub fn cancelled(&self) -> bool {
        matches!(&self.result, Ok(s) if s.cancelled)
    }
}

/// The handle of the build actor.
pub struct Builder {
    requests: Sender<(Cancel, Option<Watched>, Purpose)>,
}

impl Builder {
    /// Open the engine and start its thread; also returns the workspace root and target dir.
    pub fn spawn(
        sel: Selection,
        opts: BuildOptions,
        cwd: &Path,
        post: impl Fn(SessionEvent) + Send + 'static,
    ) -> Result<(Builder, PathBuf, PathBuf), SessionError> {
        let engine = Engine::open(sel.clone(), opts.clone(), cwd)?;
        let root = engine.workspace_root().to_path_buf();
        let target_dir = engine.target_dir().to_path_buf();
        let (tx, rx) = mpsc::channel::<(Cancel, Option<Watched>, Purpose)>();
        let cwd = cwd.to_path_buf();
        std::thread::Builder::new()
            .name("build".into())
            .spawn(move || actor(engine, sel, opts, cwd, rx, post))
            .map_err(SessionError::Thread)?;
        Ok((Builder { requests: tx }, root, target_dir))
    }

    /// Start a build; `cancel` stops it; `watched`: what the session's watcher saw since the
    /// last build (None: the engine looks at every file). False when the build thread is gone.
    pub fn build(&self, cancel: Cancel, watched: Option<Watched>) -> bool {
        self.requests.send((cancel, watched, Purpose::Main)).is_ok()
    }

    /// Build what the test command runs (the engine looks at every file).
    pub fn build_tests(&self, cancel: Cancel) -> bool {
        self.requests.send((cancel, None, Purpose::Tests)).is_ok()
    }
}

fn actor(
    engine: Engine,
    sel: Selection,
    opts: BuildOptions,
    cwd: PathBuf,
    rx: Receiver<(Cancel, Option<Watched>, Purpose)>,
    post: impl Fn(SessionEvent),
) {
    let test_sel = sel.for_tests();
    // The main engine builds for tests too when its selection is already `cargo test`'s.
    let separate_tests = test_sel != sel;
    let mut engines: [Option<Engine>; 2] = [Some(engine), None];
    for (cancel, watched, purpose) in rx {
        let (slot, sel) = match purpose {
            Purpose::Tests if separate_tests => (1, &test_sel),
            _ => (0, &sel),
        };
        let engine = match &mut engines[slot] {
            Some(e) => e,
            None => match Engine::open(sel.clone(), opts.clone(), &cwd) {
                Ok(e) => engines[slot].insert(e),
                Err(e) => {
                    post(SessionEvent::BuildDone(Box::new(failed(purpose, e.to_string()))));
                    continue;
                }
            },
        };
        let mut sink = |ev: BuildEvent| post(SessionEvent::Build(Box::new(ev)));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.build_with(&mut sink, Some(&cancel), watched.as_ref())));
        let result = match r {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(e.to_string()),
            Err(p) => {
                let msg =
                    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
                engines[slot] = None;
                match Engine::open(sel.clone(), opts.clone(), &cwd) {
                    Ok(e) => engines[slot] = Some(e),
                    Err(e) if slot == 0 => {
                        post(SessionEvent::BuildDone(Box::new(failed(purpose, e.to_string()))));
                        return;
                    }
                    // The test engine is opened again on the next request.
                    Err(_) => {}
                }
                Err(format!("internal error in the build engine (panic: {msg}); the next build starts afresh"))
            }
        };
        let done = match &engines[slot] {
            Some(engine) => BuildDone {
                purpose,
                result,
                watched: engine.watched_files(),
                binaries: engine.binaries(),
                tests: engine.test_plan(),
                explanation: engine.explanation().map(|e| e.render()),
                generation: engine.generation(),
            },
            None => BuildDone { result, ..failed(purpose, String::new()) },
        };
        post(SessionEvent::BuildDone(Box::new(done)));
    }
}

fn failed(purpose: Purpose, error: String) -> BuildDone {
    BuildDone {
        purpose,
        result: Err(error),
        watched: vec![],
        binaries: vec![],
        tests: Default::default(),
        explanation: None,
        generation: 0,
    }
}
