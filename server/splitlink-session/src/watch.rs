//! What to watch, and watching it (used by `splitlink watch`, and by `splitlink lsp` when the
//! client cannot watch files itself).
//!
//! Invariants: nothing is watched recursively; `target/` (any directory holding a
//! `CACHEDIR.TAG`, and the selection's target dir) and `.git/` are never registered, so a build
//! costs the watcher nothing. The watch set is derived from the engine's list of files whose
//! change can change the build (dep-info sources, capture triggers, build scripts' inputs) plus
//! the packages' `src/`, `examples/`, `tests/` and `benches/` trees (so new modules and new
//! targets are seen), walked with `.gitignore`/`.ignore` honoured.

use notify_debouncer_full::notify::event::{AccessKind, AccessMode};
use notify_debouncer_full::notify::{EventKind, PollWatcher, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer, new_debouncer_opt, DebounceEventResult, Debouncer, RecommendedCache};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the debouncer holds an event (it merges an editor's write-to-temp-then-rename
/// into one event for the file).
pub const DEBOUNCE: Duration = Duration::from_millis(30);

/// Paths the file system reported as changed, after the debouncer.
#[derive(Debug, Default)]
pub struct FsBatch {
    pub paths: Vec<PathBuf>,
    /// The kernel dropped events (queue overflow): everything must be checked.
    pub rescan: bool,
    pub errors: Vec<String>,
}

/// How often `--poll` looks at the watched directories.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The kernel's events (inotify), or polling (`--poll`: file systems without events — WSL's
/// Windows drives, network mounts, some Docker bind mounts).
enum Backend {
    Native(Debouncer<RecommendedWatcher, RecommendedCache>),
    Poll(Debouncer<PollWatcher, RecommendedCache>),
}

impl Backend {
    fn watch(&mut self, p: &Path) -> notify_debouncer_full::notify::Result<()> {
        match self {
            Backend::Native(d) => d.watch(p, RecursiveMode::NonRecursive),
            Backend::Poll(d) => d.watch(p, RecursiveMode::NonRecursive),
        }
    }

    fn unwatch(&mut self, p: &Path) -> notify_debouncer_full::notify::Result<()> {
        match self {
            Backend::Native(d) => d.unwatch(p),
            Backend::Poll(d) => d.unwatch(p),
        }
    }
}

pub struct Watcher {
    debouncer: Backend,
    /// Registered directories, with since when (ns since the epoch) no event was lost there.
    registered: BTreeMap<PathBuf, i128>,
}

impl Watcher {
    /// A watcher that calls `on_batch` (on the debouncer's thread) with each batch of changes;
    /// with `poll`, by looking at the directories every [`POLL_INTERVAL`] instead of the
    /// kernel's events.
    pub fn new(on_batch: impl Fn(FsBatch) + Send + 'static, poll: bool) -> Result<Watcher, notify_debouncer_full::notify::Error> {
        let handler = move |r: DebounceEventResult| {
            let mut batch = FsBatch::default();
            match r {
                Ok(events) => {
                    for e in events {
                        if e.need_rescan() {
                            batch.rescan = true;
                        }
                        match e.kind {
                            // Opening or reading a file (rustc, our own hashing) changes nothing.
                            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {}
                            EventKind::Access(_) | EventKind::Other => continue,
                            _ => {}
                        }
                        batch.paths.extend(e.event.paths.iter().cloned());
                    }
                }
                Err(errs) => batch.errors.extend(errs.iter().map(|e| e.to_string())),
            }
            if !batch.paths.is_empty() || batch.rescan || !batch.errors.is_empty() {
                on_batch(batch);
            }
        };
        let debouncer = if poll {
            // Contents compared too: notify's poller keeps mtimes in whole seconds, so a second
            // save within the same second (same size) would go unseen.
            let config = notify_debouncer_full::notify::Config::default().with_poll_interval(POLL_INTERVAL).with_compare_contents(true);
            Backend::Poll(new_debouncer_opt(DEBOUNCE, None, handler, RecommendedCache::new(), config)?)
        } else {
            Backend::Native(new_debouncer(DEBOUNCE, None, handler)?)
        };
        Ok(Watcher { debouncer, registered: BTreeMap::new() })
    }

    /// Whether the watcher vouches for what it did not report (kernel events do; a poll may not
    /// have looked yet, so with `--poll` the engine checks every file itself).
    pub fn vouches(&self) -> bool {
        matches!(self.debouncer, Backend::Native(_))
    }

    /// Watch exactly `want` (each directory non-recursively). Returns what could not be watched.
    pub fn set(&mut self, want: &BTreeSet<PathBuf>) -> Vec<String> {
        let mut problems = Vec::new();
        let gone: Vec<PathBuf> = self.registered.keys().filter(|d| !want.contains(*d)).cloned().collect();
        for d in gone {
            let _ = self.debouncer.unwatch(&d);
            self.registered.remove(&d);
        }
        let new: Vec<PathBuf> = want.iter().filter(|d| !self.registered.contains_key(*d)).cloned().collect();
        for d in &new {
            match self.debouncer.watch(d) {
                Ok(()) => {
                    self.registered.insert(d.clone(), splitlink_engine::digest::now_ns());
                }
                Err(e) => problems.push(format!("cannot watch {}: {e}", d.display())),
            }
        }
        problems
    }

    /// A registered directory was deleted: the kernel dropped its watch.
    pub fn forget(&mut self, dir: &Path) -> bool {
        if self.registered.remove(dir).is_some() {
            let _ = self.debouncer.unwatch(dir);
            return true;
        }
        false
    }

    pub fn is_registered(&self, dir: &Path) -> bool {
        self.registered.contains_key(dir)
    }

    /// The registered directories, with since when no event was lost there.
    pub fn watched_since(&self) -> &BTreeMap<PathBuf, i128> {
        &self.registered
    }

    /// Events may have been lost (the kernel's queue overflowed, the watcher erred): nothing
    /// watched so far is known unchanged.
    pub fn lost_events(&mut self) {
        let now = splitlink_engine::digest::now_ns();
        for t in self.registered.values_mut() {
            *t = now;
        }
    }

    pub fn count(&self) -> usize {
        self.registered.len()
    }
}

/// The packages found in the workspace tree: their manifests and the directories of their
/// `src/` trees.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    pub manifests: BTreeSet<PathBuf>,
    pub src_dirs: BTreeSet<PathBuf>,
}

/// Never watched, never walked.
pub fn excluded(p: &Path, target_dir: &Path) -> bool {
    p.starts_with(target_dir) || p.components().any(|c| c.as_os_str() == ".git")
}

/// Walk the workspace (honouring `.gitignore`, `.ignore`, hidden files; skipping target
/// directories and `.git`) for package manifests and `src/` directories.
pub fn scan(root: &Path, target_dir: &Path) -> Scan {
    let td = target_dir.to_path_buf();
    let mut dirs = Vec::new();
    let mut manifests = BTreeSet::new();
    let walk = ignore::WalkBuilder::new(root)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |e| {
            let p = e.path();
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            !(excluded(p, &td) || (is_dir && p.join("CACHEDIR.TAG").exists()))
        })
        .build();
    for e in walk.flatten() {
        let is_dir = e.file_type().is_some_and(|t| t.is_dir());
        if is_dir {
            dirs.push(e.into_path());
        } else if e.file_name() == "Cargo.toml" {
            manifests.insert(e.into_path());
        }
    }
    // `src/` (modules, `src/bin/`) and the other directories cargo finds targets in.
    let srcs: Vec<PathBuf> =
        manifests.iter().filter_map(|m| m.parent()).flat_map(|d| ["src", "examples", "tests", "benches"].map(|s| d.join(s))).collect();
    let src_dirs = dirs.into_iter().filter(|d| srcs.iter().any(|s| d.starts_with(s))).collect();
    Scan { manifests, src_dirs }
}

/// What a change event is checked against, and the directories to register.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Files whose change can change the build.
    pub files: BTreeSet<PathBuf>,
    /// Directories where a new `.rs` file may become a module.
    pub src_dirs: BTreeSet<PathBuf>,
    /// Directories to watch (non-recursively).
    pub dirs: BTreeSet<PathBuf>,
    /// Directories that do not exist yet but would hold a watched file (`.cargo/` for a config):
    /// their creation is seen from the nearest existing ancestor.
    pub missing: BTreeSet<PathBuf>,
}

impl Plan {
    pub fn new(files: impl IntoIterator<Item = PathBuf>, scan: &Scan, target_dir: &Path) -> Plan {
        let mut p = Plan {
            files: files.into_iter().chain(scan.manifests.iter().cloned()).filter(|f| !excluded(f, target_dir)).collect(),
            src_dirs: scan.src_dirs.clone(),
            dirs: scan.src_dirs.clone(),
            missing: BTreeSet::new(),
        };
        // The directories targets are inferred from, whatever the (possibly older) scan saw:
        // one that does not exist yet is seen being created from the package directory; one
        // that appeared since the scan is watched now.
        for m in &scan.manifests {
            let Some(pkg) = m.parent() else { continue };
            for d in splitlink_engine::discover::TARGET_DIRS {
                let d = pkg.join(d);
                if excluded(&d, target_dir) {
                    continue;
                }
                if d.is_dir() {
                    p.dirs.insert(d.clone());
                } else {
                    p.missing.insert(d.clone());
                }
                p.src_dirs.insert(d);
            }
        }
        for f in &p.files {
            let Some(parent) = f.parent() else { continue };
            for a in parent.ancestors() {
                if a.is_dir() {
                    p.dirs.insert(a.to_path_buf());
                    break;
                }
                p.missing.insert(a.to_path_buf());
            }
        }
        p
    }

    /// Whether a change at `path` can matter: a watched file, a new source file in a `src/`
    /// tree, or a directory appearing on the way to a watched file or inside a `src/` tree.
    pub fn relevant(&self, path: &Path) -> Relevance {
        if self.files.contains(path) {
            return Relevance::File;
        }
        if self.missing.contains(path) || self.dirs.contains(path) {
            return Relevance::Dir;
        }
        let Some(parent) = path.parent() else { return Relevance::No };
        if self.src_dirs.contains(parent) {
            let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
            if name.starts_with('.') {
                return Relevance::No; // editor lock and swap files (`.#main.rs`)
            }
            if path.extension().is_some_and(|e| e == "rs") {
                return Relevance::File;
            }
            if path.is_dir() {
                return Relevance::Dir;
            }
        }
        Relevance::No
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relevance {
    No,
    /// A file to compare by content.
    File,
    /// A directory appeared or disappeared: the watch set must be derived again.
    Dir,
}
