//! The build thread: the only owner of the [`Engine`] (and so of the salsa database) for the
//! whole session. It runs one build per request, forwards the build's events to the main loop
//! and reports the outcome with what to watch next.
//!
//! Invariants: one build at a time (requests are served in order by one thread); the main loop
//! sends a request only when no build is running; a panic in the engine is reported as a failed
//! build and the engine is reopened, never left half-updated.

use super::Event;
use splitlink_engine::{BuildEvent, BuildOptions, BuildSummary, Cancel, Engine, Selection};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};

/// The outcome of one build, with the engine's view after it.
#[derive(Debug)]
pub struct BuildDone {
    /// `Err`: the build could not run (broken manifest, missing toolchain...); the message.
    pub result: Result<BuildSummary, String>,
    /// Files whose change can change the build (empty when the engine knows no graph).
    pub watched: Vec<PathBuf>,
    /// The selection's binaries: (name, path).
    pub binaries: Vec<(String, PathBuf)>,
}

pub struct Builder {
    requests: Sender<Cancel>,
}

impl Builder {
    /// Open the engine and start its thread; also returns the workspace root and target dir.
    pub fn spawn(sel: Selection, opts: BuildOptions, cwd: &Path, events: Sender<Event>) -> anyhow::Result<(Builder, PathBuf, PathBuf)> {
        let engine = Engine::open(sel.clone(), opts.clone(), cwd)?;
        let root = engine.workspace_root().to_path_buf();
        let target_dir = engine.target_dir().to_path_buf();
        let (tx, rx) = mpsc::channel::<Cancel>();
        let cwd = cwd.to_path_buf();
        std::thread::Builder::new().name("build".into()).spawn(move || actor(engine, sel, opts, cwd, rx, events))?;
        Ok((Builder { requests: tx }, root, target_dir))
    }

    /// Start a build; `cancel` stops it. False when the build thread is gone.
    pub fn build(&self, cancel: Cancel) -> bool {
        self.requests.send(cancel).is_ok()
    }
}

fn actor(mut engine: Engine, sel: Selection, opts: BuildOptions, cwd: PathBuf, rx: Receiver<Cancel>, events: Sender<Event>) {
    for cancel in rx {
        let tx = events.clone();
        let mut sink = move |ev: BuildEvent| {
            let _ = tx.send(Event::Build(ev));
        };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.build(&mut sink, Some(&cancel))));
        let result = match r {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(e.to_string()),
            Err(p) => {
                let msg =
                    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
                match Engine::open(sel.clone(), opts.clone(), &cwd) {
                    Ok(e) => engine = e,
                    Err(e) => {
                        let _ = events.send(Event::BuildDone(BuildDone { result: Err(e.to_string()), watched: vec![], binaries: vec![] }));
                        return;
                    }
                }
                Err(format!("internal error in the build engine (panic: {msg}); the next build starts afresh"))
            }
        };
        let done = BuildDone { result, watched: engine.watched_files(), binaries: engine.binaries() };
        if events.send(Event::BuildDone(done)).is_err() {
            return;
        }
    }
}
