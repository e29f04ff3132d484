//! What splitlink remembers between runs, under `<target-dir>/splitlink/`: the captured units
//! (shared by every selection, keyed by [`UnitKey`]) and, per selection, which units make up the
//! build and what sends it back through cargo.
//!
//! Invariant: one record per unit key. A state file holding two records for one key is
//! inconsistent ([`State::duplicates`]) and sends the next build through cargo.

use crate::db::DirtyReason;
use crate::digest::{Digest, Hasher, Stamp, StatCache};
use crate::fingerprint::{LinkDecision, LinkInputs, LinkReason};
use crate::invocation::Invocation;
use crate::script::ScriptRun;
use crate::unit::UnitKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const STATE_VERSION: u32 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnitKind {
    Lib,
    ProcMacro,
    Linkable,
    BuildScript,
}

/// A workspace unit as captured through cargo.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnitSpec {
    pub key: UnitKey,
    pub manifest_path: PathBuf,
    /// cargo's `target` object (name, kind, crate_types, src_path...).
    pub target: LazyJson,
    pub kind: UnitKind,
    pub invocation: Invocation,
    /// Compiled with -Zno-link and linked separately; false after a fallback.
    pub split: bool,
    pub fallback_reason: Option<String>,
    /// The workspace units it depends on (`--extern`).
    pub deps: Vec<UnitKey>,
    /// cargo's `compiler-artifact` message for this unit.
    pub artifact: LazyJson,
    /// (file in the out-dir, copy cargo placed in the profile dir).
    pub uplifts: Vec<(PathBuf, PathBuf)>,
    /// `compute_digest()`, filled in once the spec is complete.
    #[serde(default)]
    pub digest: Option<Digest>,
}

impl UnitSpec {
    pub fn name(&self) -> &str {
        &self.key.name
    }

    /// Digest of the invocation and kind (computed at capture, kept in `digest`).
    pub fn spec_digest(&self) -> Digest {
        self.digest.unwrap_or_else(|| self.compute_digest())
    }

    pub fn compute_digest(&self) -> Digest {
        let mut h = Hasher::new("unit-spec");
        h.str(&serde_json::to_string(&self.invocation).unwrap_or_default());
        h.str(&format!("{:?}{}", self.kind, self.split));
        h.finish()
    }

    /// A unit cargo builds but splitlink never replays (build scripts: cargo compiles them and
    /// runs them; splitlink only reruns them, see [`crate::script`]).
    pub fn replayable(&self) -> bool {
        self.kind != UnitKind::BuildScript
    }

    /// Linked separately with `-Zlink-only` (false for libraries and unsplit fallbacks).
    pub fn split_linkable(&self) -> bool {
        self.kind == UnitKind::Linkable && self.split
    }
}

/// What the executor last measured of a unit's outputs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct UnitBuilt {
    pub with: Option<crate::db::BuiltWith>,
    pub interface: Option<Digest>,
    /// A linkable unit's own objects (sorted content digests).
    pub objects: Vec<Digest>,
    pub object_files: Vec<PathBuf>,
    pub rlink: Option<Digest>,
    /// The files its link reads besides its own objects (see [`crate::fingerprint`]); `None`
    /// when unknown (the link then always runs).
    pub link_files: Option<Vec<PathBuf>>,
    pub last_link: Option<LinkInputs>,
    /// Stamps of the outputs as splitlink (or the capture) left them.
    pub outputs: Vec<(PathBuf, Stamp)>,
    /// The compiler's diagnostics (rustc JSON) from the last compile, replayed for builds in
    /// which the unit is fresh, as cargo does: warnings do not vanish because nothing changed.
    #[serde(default, with = "json_texts")]
    pub messages: Vec<serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnitState {
    pub spec: UnitSpec,
    pub built: UnitBuilt,
}

/// Why a trigger sends the build through cargo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TriggerKind {
    /// A manifest, the lockfile, cargo config, toolchain file, the rustc binary.
    Graph,
    /// A source of a workspace build script (cargo must compile it again).
    ScriptSource,
    /// A source of a path dependency outside the workspace (splitlink does not replay those).
    OutsideSource,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Trigger {
    pub path: PathBuf,
    pub digest: Option<Digest>,
    pub kind: TriggerKind,
}

/// A package's target list as cargo infers it from the file system (see
/// [`crate::discover::target_files`]): when it changes, cargo must decide the targets again.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetListing {
    pub package_dir: PathBuf,
    pub files: Vec<PathBuf>,
}

/// A selection (the flags of `splitlink build`) and what forces it back through cargo.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SelectionState {
    pub units: Vec<UnitKey>,
    /// Files whose change sends the build through cargo.
    pub triggers: Vec<Trigger>,
    /// The members' inferred targets.
    pub targets: Vec<TargetListing>,
    /// The workspace build scripts cargo ran, with what they read: a change of their inputs
    /// reruns them (splitlink runs them itself and goes through cargo only if their output
    /// changed).
    pub scripts: Vec<ScriptRun>,
    pub env: Vec<(String, Option<String>)>,
    /// cargo's messages for units splitlink does not replay (dependencies, build scripts).
    pub other_messages: Vec<LazyJson>,
    pub profile: String,
    pub profile_desc: String,
    pub workspace_root: PathBuf,
    /// `splitlink test`: the doctests `cargo test` runs, as cargo runs rustdoc for them.
    #[serde(default)]
    pub doctests: Vec<Doctest>,
}

/// A library's doctests as `cargo test --doc` runs them: `rustdoc --test …` with cargo's
/// arguments, environment and working directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Doctest {
    pub package_id: String,
    pub crate_name: String,
    /// The toolchain's rustdoc (beside the rustc the units are compiled with).
    pub rustdoc: PathBuf,
    pub args: Vec<String>,
    /// What cargo added to the environment.
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    /// The library unit whose rlib the doctests link (`--extern <crate>=…`).
    pub lib: Option<UnitKey>,
}

/// Why each unit was compiled and each binary linked or not, in the last build.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Explanation {
    pub cargo: Option<String>,
    /// Build scripts splitlink reran itself, and what it found.
    #[serde(default)]
    pub scripts: Vec<(UnitKey, String)>,
    pub compiled: Vec<(UnitKey, String)>,
    /// Link decisions, with the decision described (names resolved at build time).
    pub links: Vec<(UnitKey, LinkDecision, String)>,
    pub failed: Vec<(String, String)>,
    pub fallbacks: Vec<(UnitKey, String)>,
    /// Fast mode: how its links were made.
    #[serde(default)]
    pub fast: Option<String>,
}

impl Explanation {
    /// The text `splitlink explain` prints (and the editors show).
    pub fn render(&self) -> String {
        let mut s = String::new();
        match &self.cargo {
            Some(r) => s.push_str(&format!("cargo: invoked ({r})\n")),
            None => s.push_str("cargo: not invoked (replayed the captured rustc invocations)\n"),
        }
        for (k, what) in &self.scripts {
            s.push_str(&format!("reran {k}: {what}\n"));
        }
        if self.compiled.is_empty() {
            s.push_str("compiled: nothing (every unit's sources, dependencies and flags unchanged)\n");
        }
        for (k, why) in &self.compiled {
            s.push_str(&format!("compiled {k}: {why}\n"));
        }
        for (k, d, why) in &self.links {
            match d {
                LinkDecision::UpToDate => s.push_str(&format!("link skipped {k}: {why}\n")),
                LinkDecision::Link(_) => s.push_str(&format!("linked {k}: {why}\n")),
                LinkDecision::NotLinkable => {}
            }
        }
        for (k, why) in &self.fallbacks {
            s.push_str(&format!("fallback {k}: {why}\n"));
        }
        if let Some(f) = &self.fast {
            s.push_str(&format!("fast mode: links made with {f} (the binary behaves as cargo's but is not byte-identical)\n"));
        }
        for (k, why) in &self.failed {
            s.push_str(&format!("failed {k}: {why}\n"));
        }
        s
    }
}

/// Everything splitlink remembers. On disk in three files, so that a build that changed
/// nothing but file stats or its explanation does not rewrite the (large) unit state:
/// `state.bin` (units, selections), `cache.bin` (the stat cache), `explain.json`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct State {
    pub version: u32,
    /// One record per unit, stored as a list (keys are structured).
    #[serde(serialize_with = "unit_list::serialize")]
    pub units: BTreeMap<UnitKey, UnitState>,
    pub selections: BTreeMap<String, SelectionState>,
    #[serde(skip)]
    pub cache: StatCache,
    #[serde(skip)]
    pub explanations: BTreeMap<String, Explanation>,
    /// Keys that more than one record of the file claimed (the file is then not trusted).
    #[serde(skip)]
    pub duplicates: Vec<UnitKey>,
}

/// cargo's JSON kept as it came, parsed when first used: JSON text in the binary state (whose
/// format cannot hold a self-describing value; most builds never look at most of it), the value
/// itself in human-readable formats.
#[derive(Clone, Debug, Default)]
pub struct LazyJson {
    text: Option<String>,
    value: std::sync::OnceLock<serde_json::Value>,
}

impl LazyJson {
    pub fn get(&self) -> &serde_json::Value {
        self.value.get_or_init(|| self.text.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default())
    }
}

impl From<serde_json::Value> for LazyJson {
    fn from(v: serde_json::Value) -> LazyJson {
        LazyJson { text: None, value: v.into() }
    }
}

impl Serialize for LazyJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (&self.text, s.is_human_readable()) {
            (Some(t), false) if self.value.get().is_none() => s.serialize_str(t),
            (_, false) => s.serialize_str(&self.get().to_string()),
            (_, true) => self.get().serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for LazyJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            return serde_json::Value::deserialize(d).map(LazyJson::from);
        }
        Ok(LazyJson { text: Some(String::deserialize(d)?), value: std::sync::OnceLock::new() })
    }
}

mod json_texts {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[serde_json::Value], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            v.serialize(s)
        } else {
            v.iter().map(|m| m.to_string()).collect::<Vec<String>>().serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<serde_json::Value>, D::Error> {
        if d.is_human_readable() {
            return Vec::<serde_json::Value>::deserialize(d);
        }
        let texts = Vec::<String>::deserialize(d)?;
        texts.iter().map(|t| serde_json::from_str(t).map_err(serde::de::Error::custom)).collect()
    }
}

mod unit_list {
    use super::{UnitKey, UnitState};
    use serde::{Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(m: &BTreeMap<UnitKey, UnitState>, s: S) -> Result<S::Ok, S::Error> {
        let v: Vec<&UnitState> = m.values().collect();
        v.serialize(s)
    }
}

/// The state file as stored: the units as a list, so that two records claiming one key are
/// seen.
#[derive(Serialize, Deserialize)]
pub struct StateFile {
    pub version: u32,
    pub units: Vec<UnitState>,
    pub selections: BTreeMap<String, SelectionState>,
}

impl StateFile {
    /// The records as stored under `target_dir` (None: absent, unreadable, another version).
    pub fn read(target_dir: &Path) -> Option<StateFile> {
        let bytes = std::fs::read(State::path(target_dir)).ok()?;
        postcard::from_bytes::<StateFile>(&bytes).ok().filter(|f| f.version == STATE_VERSION)
    }

    /// Write records as they are (for tests that make a state inconsistent on purpose).
    pub fn write(&self, target_dir: &Path) -> Result<(), StateError> {
        write_bin(&State::path(target_dir), self)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot write splitlink state {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl State {
    pub fn path(target_dir: &Path) -> PathBuf {
        target_dir.join("splitlink").join("state.bin")
    }

    /// Load the state; anything unreadable or from another version is treated as absent (the
    /// build then goes through cargo). Two records for one unit key make the whole file
    /// untrusted: the units are kept for reference, the selections dropped, `duplicates` set.
    pub fn load(target_dir: &Path) -> State {
        let dir = target_dir.join("splitlink");
        let file = StateFile::read(target_dir);
        let mut state = State { version: STATE_VERSION, ..Default::default() };
        if let Some(f) = file {
            for u in f.units {
                let key = u.spec.key.clone();
                if state.units.insert(key.clone(), u).is_some() {
                    state.duplicates.push(key);
                }
            }
            state.selections = f.selections;
            if !state.duplicates.is_empty() {
                // Which record is right cannot be told: forget them all, cargo decides again.
                state.units.clear();
                state.selections.clear();
            }
        }
        state.cache = std::fs::read(dir.join("cache.bin")).ok().and_then(|b| postcard::from_bytes(&b).ok()).unwrap_or_default();
        state.explanations = std::fs::read(dir.join("explain.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        state
    }

    /// Write the state: the units only when `units_changed`, the stat cache when it learnt
    /// something, the explanations always (small).
    pub fn save(&self, target_dir: &Path, units_changed: bool) -> Result<(), StateError> {
        let dir = target_dir.join("splitlink");
        std::fs::create_dir_all(&dir).map_err(|source| StateError::Write { path: dir.clone(), source })?;
        if units_changed {
            write_bin(&Self::path(target_dir), self)?;
        }
        if units_changed || self.cache.hashed > 0 || !dir.join("cache.bin").exists() {
            write_bin(&dir.join("cache.bin"), &self.cache)?;
        }
        write_json(&dir.join("explain.json"), &self.explanations)
    }

    pub fn spec(&self, key: &UnitKey) -> &UnitSpec {
        &self.units[key].spec
    }

    /// Every workspace unit `key` depends on, directly or not, each once.
    pub fn transitive_deps(&self, key: &UnitKey) -> Vec<UnitKey> {
        let mut out: Vec<UnitKey> = Vec::new();
        let mut stack: Vec<UnitKey> = self.units.get(key).map(|u| u.spec.deps.clone()).unwrap_or_default();
        while let Some(d) = stack.pop() {
            if out.contains(&d) {
                continue;
            }
            if let Some(u) = self.units.get(&d) {
                stack.extend(u.spec.deps.iter().cloned());
            }
            out.push(d);
        }
        out
    }

    /// The workspace unit whose output is `path` (an rlib, rmeta or shared object).
    pub fn unit_with_output(&self, path: &Path) -> Option<&UnitKey> {
        self.units.values().find(|u| u.spec.invocation.outputs().iter().any(|o| o == path)).map(|u| &u.spec.key)
    }
}

/// The unit state and the stat cache: postcard (a compact binary serde format: loading the
/// state of 300 units is most of a no-op build, and JSON took ~4× longer to read).
fn write_bin<T: Serialize>(p: &Path, v: &T) -> Result<(), StateError> {
    write_atomic(p, postcard::to_stdvec(v).map_err(std::io::Error::other))
}

fn write_json<T: Serialize>(p: &Path, v: &T) -> Result<(), StateError> {
    write_atomic(p, serde_json::to_vec(v).map_err(std::io::Error::other))
}

/// Writes the serialized bytes beside `p` and renames them over it (a reader never sees half a file).
fn write_atomic(p: &Path, bytes: std::io::Result<Vec<u8>>) -> Result<(), StateError> {
    let err = |source| StateError::Write { path: p.to_path_buf(), source };
    let mut tmp = p.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes.map_err(err)?).map_err(err)?;
    std::fs::rename(&tmp, p).map_err(err)
}

/// A linked file as a person reads it: the workspace unit that produced it (`util (lib)`), or
/// the crate named by an rlib's file name (`outside`), or the path.
pub fn describe_file(p: &Path, state: &State) -> String {
    if let Some(k) = state.unit_with_output(p) {
        return k.to_string();
    }
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if let Some(stem) = name.strip_suffix(".rlib").and_then(|s| s.strip_prefix("lib")) {
        let krate = stem.rsplit_once('-').map(|(c, _)| c).unwrap_or(stem);
        return format!("{krate} (dependency)");
    }
    p.display().to_string()
}

/// Explanation text for a link decision.
pub fn describe_link(d: &LinkDecision, state: &State) -> String {
    match d {
        LinkDecision::NotLinkable => "not linkable".into(),
        LinkDecision::UpToDate => "object fingerprint set unchanged".into(),
        LinkDecision::Link(LinkReason::ObjectsChanged { own, files, args, rlink }) => {
            let mut parts = Vec::new();
            if *own {
                parts.push("its own objects changed".to_string());
            }
            for f in files {
                parts.push(format!("objects of {} changed", describe_file(f, state)));
            }
            if *args {
                parts.push("link arguments changed".into());
            }
            if *rlink {
                parts.push("link metadata (native libraries, symbols) changed".into());
            }
            if parts.is_empty() {
                parts.push("the set of linked files changed".into());
            }
            parts.join(", ")
        }
        LinkDecision::Link(LinkReason::NeverLinked) => "never linked by splitlink".into(),
        LinkDecision::Link(LinkReason::BinaryMissingOrReplaced) => "the binary is missing or is not the one splitlink linked".into(),
        LinkDecision::Link(LinkReason::InputsUnknown) => "the files it links could not be determined from its .rlink".into(),
    }
}

/// Explanation text for a dirty reason (kept here so `explain` and the build agree).
pub fn describe(reason: &DirtyReason, root: &Path, state: &State) -> String {
    match reason {
        DirtyReason::NeverBuilt => "not built by splitlink yet".into(),
        DirtyReason::InvocationChanged => "its rustc invocation changed".into(),
        DirtyReason::DepChanged(k) => format!("the interface (.rmeta) of {k} changed"),
        DirtyReason::EnvChanged(v) => format!("environment variable {v} changed"),
        DirtyReason::ObjectsNeededForLink(r) => {
            format!(
                "a link is needed ({}) and the objects of the last compile were consumed",
                describe_link(&LinkDecision::Link(r.clone()), state)
            )
        }
        DirtyReason::SourceChanged(p) => format!("{} changed", p.strip_prefix(root).unwrap_or(p).display()),
        DirtyReason::SourceMissing(p) => format!("{} was deleted", p.strip_prefix(root).unwrap_or(p).display()),
    }
}
