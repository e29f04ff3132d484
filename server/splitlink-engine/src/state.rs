//! What splitlink remembers between runs, under `<target-dir>/splitlink/`: the captured units
//! (shared by every selection, keyed like cargo's units) and, per selection, which units make
//! up the build and what sends it back through cargo.

use crate::db::{BuiltWith, DirtyReason, LinkDecision, LinkInputs};
use crate::digest::{Digest, Hasher, Stamp, StatCache};
use crate::invocation::Invocation;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const STATE_VERSION: u32 = 2;

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
    pub key: String,
    pub package_id: String,
    pub package_name: String,
    pub manifest_path: PathBuf,
    /// cargo's `target` object (name, kind, crate_types, src_path...).
    pub target: serde_json::Value,
    pub kind: UnitKind,
    pub invocation: Invocation,
    /// Compiled with -Zno-link and linked separately; false after a fallback.
    pub split: bool,
    pub fallback_reason: Option<String>,
    /// Keys of the workspace units it depends on.
    pub deps: Vec<String>,
    /// cargo's `compiler-artifact` message for this unit.
    pub artifact: serde_json::Value,
    /// (file in the out-dir, copy cargo placed in the profile dir).
    pub uplifts: Vec<(PathBuf, PathBuf)>,
    /// `compute_digest()`, filled in once the spec is complete.
    #[serde(default)]
    pub digest: Option<Digest>,
}

impl UnitSpec {
    pub fn name(&self) -> String {
        self.target.get("name").and_then(|n| n.as_str()).unwrap_or(&self.package_name).to_string()
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

    pub fn link_args_digest(&self, rustc_version: &str) -> Digest {
        let mut h = Hasher::new("link-args");
        h.str(rustc_version);
        for a in self.invocation.link_relevant_args() {
            h.str(&a);
        }
        h.finish()
    }

    /// A unit cargo builds but splitlink never replays (build scripts: cargo runs them).
    pub fn replayable(&self) -> bool {
        self.kind != UnitKind::BuildScript
    }
}

/// What the executor last measured of a unit's outputs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct UnitBuilt {
    pub with: Option<BuiltWith>,
    pub interface: Option<Digest>,
    pub objects: Vec<Digest>,
    pub object_files: Vec<PathBuf>,
    pub rlink: Option<Digest>,
    pub last_link: Option<LinkInputs>,
    /// Stamps of the outputs as splitlink (or the capture) left them.
    pub outputs: Vec<(PathBuf, Stamp)>,
    /// The compiler's diagnostics (rustc JSON) from the last compile, replayed for builds in
    /// which the unit is fresh, as cargo does: warnings do not vanish because nothing changed.
    #[serde(default)]
    pub messages: Vec<serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnitState {
    pub spec: UnitSpec,
    pub built: UnitBuilt,
}

/// A selection (the flags of `splitlink build`) and what forces it back through cargo.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SelectionState {
    pub units: Vec<String>,
    /// Files whose change sends the build through cargo (manifests, lockfile, build scripts,
    /// config, toolchain files, the rustc binary, non-workspace path dependencies).
    pub triggers: Vec<(PathBuf, Option<Digest>)>,
    pub env: Vec<(String, Option<String>)>,
    /// cargo's messages for units splitlink does not replay (dependencies, build scripts).
    pub other_messages: Vec<serde_json::Value>,
    pub profile: String,
    pub profile_desc: String,
    pub rustc_version: String,
    pub workspace_root: PathBuf,
}

/// Why each unit was compiled and each binary linked or not, in the last build.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Explanation {
    pub cargo: Option<String>,
    pub compiled: Vec<(String, String)>,
    pub links: Vec<(String, LinkDecision)>,
    pub failed: Vec<(String, String)>,
    pub fallbacks: Vec<(String, String)>,
}

/// Everything splitlink remembers. On disk in three files, so that a build that changed
/// nothing but file stats or its explanation does not rewrite the (large) unit state:
/// `state.json` (units, selections), `cache.json` (the stat cache), `explain.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub units: BTreeMap<String, UnitState>,
    pub selections: BTreeMap<String, SelectionState>,
    #[serde(skip)]
    pub cache: StatCache,
    #[serde(skip)]
    pub explanations: BTreeMap<String, Explanation>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot write splitlink state {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl State {
    pub fn path(target_dir: &Path) -> PathBuf {
        target_dir.join("splitlink").join("state.json")
    }

    /// Load the state; anything unreadable or from another version is treated as absent (the
    /// build then goes through cargo).
    pub fn load(target_dir: &Path) -> State {
        let dir = target_dir.join("splitlink");
        let mut state = std::fs::read(Self::path(target_dir))
            .ok()
            .and_then(|b| serde_json::from_slice::<State>(&b).ok())
            .filter(|s| s.version == STATE_VERSION)
            .unwrap_or_else(|| State { version: STATE_VERSION, ..Default::default() });
        state.cache = std::fs::read(dir.join("cache.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        state.explanations = std::fs::read(dir.join("explain.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        state
    }

    /// Write the state: the units only when `units_changed`, the stat cache when it learnt
    /// something, the explanations always (small).
    pub fn save(&self, target_dir: &Path, units_changed: bool) -> Result<(), StateError> {
        let dir = target_dir.join("splitlink");
        std::fs::create_dir_all(&dir).map_err(|source| StateError::Write { path: dir.clone(), source })?;
        if units_changed {
            write_json(&Self::path(target_dir), self)?;
        }
        if units_changed || self.cache.hashed > 0 || !dir.join("cache.json").exists() {
            write_json(&dir.join("cache.json"), &self.cache)?;
        }
        write_json(&dir.join("explain.json"), &self.explanations)
    }
}

fn write_json<T: Serialize>(p: &Path, v: &T) -> Result<(), StateError> {
    let err = |source| StateError::Write { path: p.to_path_buf(), source };
    let tmp = p.with_extension("json.tmp");
    let bytes = serde_json::to_vec(v).map_err(|e| err(std::io::Error::other(e)))?;
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, p).map_err(err)
}

impl State {
}

/// A unit key (`<package id>#<kinds>:<target>`) as a person reads it: `util (lib)`.
pub fn short_key(key: &str) -> String {
    let Some((pkg, target)) = key.rsplit_once('#') else { return key.to_string() };
    let (kinds, name) = target.split_once(':').unwrap_or(("", target));
    let pkg_name = pkg.rsplit('#').next().and_then(|f| f.split_once('@').map(|(n, _)| n.to_string()));
    let pkg_name = pkg_name.unwrap_or_else(|| pkg.rsplit('/').next().unwrap_or(pkg).split('#').next().unwrap_or(pkg).to_string());
    let kinds = kinds.replace("custom-build", "build script");
    if pkg_name == name.trim_end_matches("(test)") {
        format!("{name} ({kinds})")
    } else {
        format!("{pkg_name}::{name} ({kinds})")
    }
}

/// Explanation text for a link decision.
pub fn describe_link(d: &LinkDecision) -> String {
    use crate::db::LinkReason;
    match d {
        LinkDecision::NotLinkable => "not linkable".into(),
        LinkDecision::UpToDate => "object fingerprint set unchanged".into(),
        LinkDecision::Link(LinkReason::ObjectsChanged { own, deps, args, rlink }) => {
            let mut parts = Vec::new();
            if *own {
                parts.push("its own objects changed".to_string());
            }
            for d in deps {
                parts.push(format!("objects of {} changed", short_key(d)));
            }
            if *args {
                parts.push("link arguments changed".into());
            }
            if *rlink {
                parts.push("link metadata (native libraries, symbols) changed".into());
            }
            if parts.is_empty() {
                parts.push("the set of linked crates changed".into());
            }
            parts.join(", ")
        }
        LinkDecision::Link(r) => r.to_string(),
    }
}

/// Explanation text for a dirty reason (kept here so `explain` and the build agree).
pub fn describe(reason: &DirtyReason, root: &Path) -> String {
    match reason {
        DirtyReason::DepChanged(k) => format!("the interface (.rmeta) of {} changed", short_key(k)),
        DirtyReason::ObjectsNeededForLink(r) => {
            format!("a link is needed ({}) and the objects of the last compile were consumed", describe_link(&LinkDecision::Link(r.clone())))
        }
        DirtyReason::SourceChanged(p) => format!("{} changed", p.strip_prefix(root).unwrap_or(p).display()),
        DirtyReason::SourceMissing(p) => format!("{} was deleted", p.strip_prefix(root).unwrap_or(p).display()),
        other => other.to_string(),
    }
}
