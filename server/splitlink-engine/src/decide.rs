//! The capture decision: before anything runs, whether this build can replay the captured graph
//! (and which build scripts to rerun first) or must go through cargo — the first table of
//! docs/freshness.md. It reads the outside world only through a [`System`]: [`Disk`] in the
//! engine, memory in the tests below.

use crate::digest::{Digest, Stamp, StatCache};
use crate::discover;
use crate::script::ScriptInputs;
use crate::state::{State, TriggerKind, UnitKind};
use crate::workspace;
use std::path::{Path, PathBuf};

/// What the capture decision reads of the world.
pub trait System {
    /// A file's content digest (None: missing).
    fn digest(&mut self, p: &Path) -> Option<Digest>;
    fn stamp(&self, p: &Path) -> Option<Stamp>;
    /// The files making up a package's inferred targets ([`discover::target_files`]).
    fn target_files(&self, package_dir: &Path) -> Vec<PathBuf>;
    /// The variables that change what cargo would run, plus `extra` ([`workspace::relevant_env`]).
    fn env(&self, extra: &[String]) -> Vec<(String, Option<String>)>;
    /// The digest of a build script's inputs ([`ScriptInputs::digest`]).
    fn script_inputs(&mut self, inputs: &ScriptInputs) -> Digest;
}

/// The real world: files through the stat cache (and what a watcher says is unchanged).
pub struct Disk<'a> {
    pub cache: &'a mut StatCache,
    pub watched: Option<&'a Watched>,
    pub target_dir: &'a Path,
}

impl System for Disk<'_> {
    fn digest(&mut self, p: &Path) -> Option<Digest> {
        match self.watched {
            Some(w) if w.unchanged(p, self.cache.hashed_at(p)) => self.cache.remembered(p),
            _ => self.cache.digest(p).ok().flatten(),
        }
    }

    fn stamp(&self, p: &Path) -> Option<Stamp> {
        Stamp::of(p)
    }

    fn target_files(&self, package_dir: &Path) -> Vec<PathBuf> {
        discover::target_files(package_dir)
    }

    fn env(&self, extra: &[String]) -> Vec<(String, Option<String>)> {
        workspace::relevant_env(extra)
    }

    fn script_inputs(&mut self, inputs: &ScriptInputs) -> Digest {
        inputs.digest(self.target_dir, self.cache)
    }
}

/// What a front-end's own file watcher saw since the last build — salsa's lazy-input idea:
/// inputs are set from events, and only what nobody watches is stat-swept. A file is taken as
/// unchanged without a `stat` when its directory has been watched (with no lost event) since
/// before its content was last hashed and no event named it. An edit whose event is still on
/// its way when a build starts is built by the next build, which that event starts.
#[derive(Clone, Debug, Default)]
pub struct Watched {
    /// Files reported changed (read again).
    pub changed: Vec<PathBuf>,
    /// Directories watched without a lost event, with since when (ns since the epoch).
    pub dirs: std::collections::HashMap<PathBuf, i128>,
}

impl Watched {
    /// Whether `p` is known unchanged since it was hashed at `hashed_at`.
    pub fn unchanged(&self, p: &Path, hashed_at: Option<i128>) -> bool {
        let Some(hashed_at) = hashed_at else { return false };
        !self.changed.iter().any(|c| c == p) && p.parent().and_then(|d| self.dirs.get(d)).is_some_and(|since| *since < hashed_at)
    }
}

/// What the captured graph says about this build before anything runs.
pub enum Check {
    /// Go through cargo, for this reason.
    Capture(String),
    /// Replay; first rerun these build scripts (index in the selection's scripts, with the
    /// digest their inputs have now).
    Replay { reruns: Vec<(usize, Digest)> },
}

fn rel(p: &Path, root: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// Why this selection has to go through cargo, or which build scripts to rerun before replaying.
pub fn check(state: &State, sel_key: &str, force: bool, sys: &mut dyn System) -> Check {
    if force {
        return Check::Capture("requested".into());
    }
    if let Some(k) = state.duplicates.first() {
        return Check::Capture(format!("splitlink's state held two records for {k}"));
    }
    let Some(s) = state.selections.get(sel_key) else {
        return Check::Capture("first build with these flags".into());
    };
    let s = s.clone();
    for t in &s.triggers {
        if sys.digest(&t.path) != t.digest {
            let what = match t.kind {
                TriggerKind::Graph => "",
                TriggerKind::ScriptSource => " (a build script's source)",
                TriggerKind::OutsideSource => " (a path dependency outside the workspace)",
            };
            return Check::Capture(format!("{} changed{what}", rel(&t.path, &s.workspace_root)));
        }
    }
    for l in &s.targets {
        let now = sys.target_files(&l.package_dir);
        if now != l.files {
            let added =
                now.iter().find(|f| !l.files.contains(f)).map(|f| format!("{} added", rel(&l.package_dir.join(f), &s.workspace_root)));
            let removed =
                l.files.iter().find(|f| !now.contains(f)).map(|f| format!("{} removed", rel(&l.package_dir.join(f), &s.workspace_root)));
            return Check::Capture(format!("the targets cargo infers changed: {}", added.or(removed).unwrap_or_default()));
        }
    }
    let names: Vec<String> = s.env.iter().map(|(k, _)| k.clone()).collect();
    let now = sys.env(&names);
    if now != s.env {
        let changed =
            now.iter().chain(s.env.iter()).find(|kv| !now.contains(kv) || !s.env.contains(kv)).map(|(k, _)| k.clone()).unwrap_or_default();
        return Check::Capture(format!("environment variable {changed} changed"));
    }
    for k in &s.units {
        let Some(u) = state.units.get(k) else { return Check::Capture("splitlink's state is incomplete".into()) };
        for (p, stamp) in &u.built.outputs {
            if u.spec.kind == UnitKind::Linkable && u.spec.invocation.linked_output().as_ref() == Some(p) {
                continue; // a missing or replaced binary is relinked, not a reason to ask cargo
            }
            if !sys.stamp(p).is_some_and(|s| s.same_output(stamp)) {
                return Check::Capture(format!("{} was changed outside splitlink", p.display()));
            }
        }
    }
    let mut reruns = Vec::new();
    for (i, run) in s.scripts.iter().enumerate() {
        let now = sys.script_inputs(&run.inputs);
        if run.inputs_digest != Some(now) {
            reruns.push((i, now));
        }
    }
    Check::Replay { reruns }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invocation::Invocation;
    use crate::script::ScriptRun;
    use crate::state::{SelectionState, TargetListing, Trigger, UnitBuilt, UnitSpec, UnitState};
    use crate::unit::{Mode, UnitKey};
    use std::collections::HashMap;

    #[test]
    fn a_file_is_taken_as_unchanged_only_if_watched_since_before_it_was_hashed_and_not_reported() {
        let w = Watched { changed: vec!["/ws/src/b.rs".into()], dirs: [("/ws/src".into(), 100)].into_iter().collect() };
        assert!(w.unchanged(Path::new("/ws/src/a.rs"), Some(150)));
        assert!(!w.unchanged(Path::new("/ws/src/a.rs"), Some(50)), "hashed before its directory was watched");
        assert!(!w.unchanged(Path::new("/ws/src/a.rs"), None), "never hashed");
        assert!(!w.unchanged(Path::new("/ws/src/b.rs"), Some(150)), "reported changed");
        assert!(!w.unchanged(Path::new("/ws/other/c.rs"), Some(150)), "in a directory nobody watches");
    }

    /// The world in memory: file contents, stats, inferred targets, environment, script inputs.
    #[derive(Clone)]
    struct Memory {
        files: HashMap<PathBuf, String>,
        stamps: HashMap<PathBuf, Stamp>,
        targets: HashMap<PathBuf, Vec<PathBuf>>,
        env: Vec<(String, Option<String>)>,
        inputs: Digest,
    }

    impl System for Memory {
        fn digest(&mut self, p: &Path) -> Option<Digest> {
            self.files.get(p).map(|t| Digest::of(t.as_bytes()))
        }
        fn stamp(&self, p: &Path) -> Option<Stamp> {
            self.stamps.get(p).copied()
        }
        fn target_files(&self, d: &Path) -> Vec<PathBuf> {
            self.targets.get(d).cloned().unwrap_or_default()
        }
        fn env(&self, _: &[String]) -> Vec<(String, Option<String>)> {
            self.env.clone()
        }
        fn script_inputs(&mut self, _: &ScriptInputs) -> Digest {
            self.inputs
        }
    }

    fn key(kind: &str) -> UnitKey {
        UnitKey {
            package_id: "path+file:///ws#app@0.1.0".into(),
            kind: kind.into(),
            name: "app".into(),
            crate_types: vec![kind.into()],
            mode: Mode::Build,
            profile: "dev".into(),
            features: vec![],
            target: None,
            metadata: String::new(),
        }
    }

    fn stamp(n: u64) -> Stamp {
        Stamp { len: n, mtime_ns: n as i128, ctime_ns: 0, ino: n }
    }

    /// A captured selection: a lib (its rlib is an output) and a build script whose inputs
    /// are the package's files; the world as the capture left it.
    fn captured() -> (State, Memory) {
        let mut m = Memory { files: HashMap::new(), stamps: HashMap::new(), targets: HashMap::new(), env: vec![], inputs: Digest::of(b"") };
        m.files.insert("/ws/Cargo.toml".into(), "[package]".into());
        m.stamps.insert("/ws/target/debug/deps/libapp.rlib".into(), stamp(1));
        m.targets.insert("/ws".into(), vec!["src/lib.rs".into(), "src/main.rs".into()]);
        m.env = vec![("RUSTFLAGS".into(), None)];
        m.inputs = Digest::of(b"inputs");
        let inv = Invocation { rustc: "rustc".into(), args: vec![], env: Default::default(), cwd: "/ws".into() };
        let spec = UnitSpec {
            key: key("lib"),
            manifest_path: "/ws/Cargo.toml".into(),
            target: serde_json::Value::Null.into(),
            kind: UnitKind::Lib,
            invocation: inv,
            split: false,
            fallback_reason: None,
            deps: vec![],
            artifact: serde_json::Value::Null.into(),
            uplifts: vec![],
            digest: None,
        };
        let built = UnitBuilt { outputs: vec![("/ws/target/debug/deps/libapp.rlib".into(), stamp(1))], ..Default::default() };
        let mut state = State::default();
        state.units.insert(key("lib"), UnitState { spec, built });
        let run_key = UnitKey { mode: Mode::RunCustomBuild, kind: "custom-build".into(), ..key("lib") };
        state.selections.insert(
            "sel".into(),
            SelectionState {
                units: vec![key("lib")],
                triggers: vec![Trigger { path: "/ws/Cargo.toml".into(), digest: Some(Digest::of(b"[package]")), kind: TriggerKind::Graph }],
                targets: vec![TargetListing { package_dir: "/ws".into(), files: vec!["src/lib.rs".into(), "src/main.rs".into()] }],
                scripts: vec![ScriptRun {
                    key: run_key,
                    package_dir: "/ws".into(),
                    out_dir: "/ws/target/debug/build/app-1/out".into(),
                    program: None,
                    env: Default::default(),
                    inputs: ScriptInputs::Files(vec![]),
                    inputs_digest: Some(Digest::of(b"inputs")),
                    out_dir_digest: None,
                }],
                env: vec![("RUSTFLAGS".into(), None)],
                other_messages: vec![],
                profile: "dev".into(),
                profile_desc: String::new(),
                doctests: vec![],
                workspace_root: "/ws".into(),
            },
        );
        (state, m)
    }

    fn capture_reason(c: Check) -> Option<String> {
        match c {
            Check::Capture(r) => Some(r),
            Check::Replay { .. } => None,
        }
    }

    #[test]
    fn nothing_changed_replays_without_reruns() {
        let (state, mut m) = captured();
        assert!(matches!(check(&state, "sel", false, &mut m), Check::Replay { reruns } if reruns.is_empty()));
        assert_eq!(capture_reason(check(&state, "other", false, &mut m)).as_deref(), Some("first build with these flags"));
        assert_eq!(capture_reason(check(&state, "sel", true, &mut m)).as_deref(), Some("requested"));
    }

    #[test]
    fn each_row_of_the_capture_table_goes_through_cargo() {
        let (state, m) = captured();
        let reason = |f: &dyn Fn(&mut Memory)| {
            let mut m = m.clone();
            f(&mut m);
            capture_reason(check(&state, "sel", false, &mut m)).unwrap_or_else(|| "replay".into())
        };
        assert_eq!(
            reason(&|m| {
                m.files.insert("/ws/Cargo.toml".into(), "[package]\nname".into());
            }),
            "Cargo.toml changed"
        );
        assert_eq!(
            reason(&|m| {
                m.files.remove(Path::new("/ws/Cargo.toml"));
            }),
            "Cargo.toml changed"
        );
        assert_eq!(
            reason(&|m| m.targets.get_mut(Path::new("/ws")).unwrap().push("src/bin/new.rs".into())),
            "the targets cargo infers changed: src/bin/new.rs added"
        );
        assert_eq!(
            reason(&|m| drop(m.targets.insert("/ws".into(), vec!["src/lib.rs".into()]))),
            "the targets cargo infers changed: src/main.rs removed"
        );
        assert_eq!(reason(&|m| m.env = vec![("RUSTFLAGS".into(), Some("-Copt-level=1".into()))]), "environment variable RUSTFLAGS changed");
        assert_eq!(
            reason(&|m| {
                m.stamps.insert("/ws/target/debug/deps/libapp.rlib".into(), stamp(2));
            }),
            "/ws/target/debug/deps/libapp.rlib was changed outside splitlink"
        );
        let mut dup = state.clone();
        dup.duplicates.push(key("lib"));
        assert_eq!(
            capture_reason(check(&dup, "sel", false, &mut m.clone())).as_deref(),
            Some("splitlink's state held two records for app (lib)")
        );
    }

    #[test]
    fn changed_script_inputs_rerun_the_script_instead_of_cargo() {
        let (state, mut m) = captured();
        m.inputs = Digest::of(b"other inputs");
        match check(&state, "sel", false, &mut m) {
            Check::Replay { reruns } => assert_eq!(reruns, vec![(0, Digest::of(b"other inputs"))]),
            Check::Capture(r) => panic!("went through cargo: {r}"),
        }
    }
}
