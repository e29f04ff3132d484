//! What a unit is: cargo's `Unit`, one rustc invocation. One typed key, used by the state, the
//! database, the capture's matching of wrapper records to cargo's messages, and explanations.
//!
//! Invariant: two different units never share a key. A package's lib and bin may share a target
//! name (`src/lib.rs` + `src/main.rs`), so the key holds the target kind and crate types; a
//! library compiled twice (for a build script and for the target, with other features or
//! profile settings) differs in features, profile or target triple; and one target compiled by
//! two selections against differently built dependencies (`-p app` vs the whole workspace, whose
//! feature unification turns on more features of a dependency) differs in cargo's `-C metadata`,
//! which hashes the unit together with its dependencies (and names its files).

use crate::digest::Hasher;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How cargo compiles a target (`CompileMode` in cargo).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Mode {
    /// `cargo build`: the target as a crate.
    Build,
    /// `--test`: the target built with the libtest harness.
    Test,
    /// `cargo check`: metadata only.
    Check,
    /// A documentation test.
    Doctest,
    /// Running a build script (not a rustc invocation; cargo does it).
    RunCustomBuild,
}

/// The identity of a unit, as cargo's `Unit` has it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UnitKey {
    /// cargo's package id (`path+file:///ws/app#0.1.0`).
    pub package_id: String,
    /// The target's kind as cargo names it: `lib`, `bin`, `proc-macro`, `custom-build`,
    /// `example`, `test`, `bench`, `cdylib`…
    pub kind: String,
    pub name: String,
    pub crate_types: Vec<String>,
    pub mode: Mode,
    /// Short digest of cargo's profile object for the unit (opt-level, debuginfo, …) and the
    /// profile's output directory (`debug` for `dev` and `test`, `release`, a custom profile's name).
    pub profile: String,
    /// Activated features, sorted.
    pub features: Vec<String>,
    /// The `--target` triple, `None` when compiled for the host without one.
    pub target: Option<String>,
    /// cargo's `-C metadata` for the unit (empty until the capture matched it to its rustc
    /// invocation; cargo's JSON messages do not carry it).
    pub metadata: String,
}

impl UnitKey {
    /// From a cargo JSON message (`compiler-artifact`, `compiler-message`) and the name of the
    /// profile the selection builds with.
    pub fn from_cargo_message(v: &serde_json::Value, profile_name: &str, target: Option<&str>) -> UnitKey {
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect()
        };
        let kinds = strings(&v["target"]["kind"]);
        let mut crate_types = strings(&v["target"]["crate_types"]);
        crate_types.sort();
        let mut features = strings(&v["features"]);
        features.sort();
        let mode = if v["profile"]["test"].as_bool() == Some(true) { Mode::Test } else { Mode::Build };
        let mut h = Hasher::new("profile");
        h.str(profile_name).str(&v["profile"].to_string());
        UnitKey {
            package_id: v["package_id"].as_str().unwrap_or("").to_string(),
            kind: kinds.first().cloned().unwrap_or_default(),
            name: v["target"]["name"].as_str().unwrap_or("").to_string(),
            crate_types,
            mode,
            profile: format!("{profile_name}#{}", h.finish().short()),
            features,
            target: target.map(String::from),
            metadata: String::new(),
        }
    }

    /// This key with cargo's `-C metadata` of the unit's invocation.
    pub fn with_metadata(&self, metadata: Option<&str>) -> UnitKey {
        UnitKey { metadata: metadata.unwrap_or("").to_string(), ..self.clone() }
    }

    /// Whether `other` is this unit up to `-C metadata` (the same target, mode, profile,
    /// features and triple, maybe built against other dependencies).
    pub fn same_target(&self, other: &UnitKey) -> bool {
        self.with_metadata(None) == other.with_metadata(None)
    }

    /// The package's name, from its id (`…#name@1.0.0`, or `…/name#1.0.0`).
    pub fn package_name(&self) -> String {
        package_name_of(&self.package_id)
    }

    pub fn version(&self) -> String {
        let frag = self.package_id.rsplit('#').next().unwrap_or("");
        frag.rsplit('@').next().unwrap_or(frag).to_string()
    }

    pub fn is_build_script(&self) -> bool {
        self.kind == "custom-build"
    }

    pub fn is_test(&self) -> bool {
        self.mode == Mode::Test
    }
}

/// A package name from a cargo package id: `path+file:///ws/x#name@0.1.0` → `name`,
/// `path+file:///ws/app#0.1.0` → `app`, `registry+…#serde@1.0.0` → `serde`.
pub fn package_name_of(package_id: &str) -> String {
    let (base, frag) = package_id.rsplit_once('#').unwrap_or((package_id, ""));
    match frag.split_once('@') {
        Some((name, _)) => name.to_string(),
        None => base.rsplit('/').next().unwrap_or(base).to_string(),
    }
}

/// As a person reads it: `util (lib)`, `app (bin)`, `app::tool (bin)`, `app (lib test)`,
/// `app (build script)`.
impl fmt::Display for UnitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pkg = self.package_name();
        let kind = match self.kind.as_str() {
            "custom-build" => "build script",
            k => k,
        };
        let mode = match self.mode {
            Mode::Build => "",
            Mode::Test => " test",
            Mode::Check => " check",
            Mode::Doctest => " doctest",
            Mode::RunCustomBuild => " run",
        };
        if self.is_build_script() || pkg == self.name || pkg.replace('-', "_") == self.name {
            write!(f, "{pkg} ({kind}{mode})")
        } else {
            write!(f, "{pkg}::{} ({kind}{mode})", self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: &str, name: &str, test: bool) -> serde_json::Value {
        serde_json::json!({
            "package_id": "path+file:///ws/app#0.1.0",
            "target": {"kind": [kind], "crate_types": [kind], "name": name},
            "profile": {"opt_level": "0", "test": test},
            "features": [],
        })
    }

    #[test]
    fn a_lib_and_a_bin_of_one_name_are_two_units() {
        let lib = UnitKey::from_cargo_message(&msg("lib", "app", false), "dev", None);
        let bin = UnitKey::from_cargo_message(&msg("bin", "app", false), "dev", None);
        let lib_test = UnitKey::from_cargo_message(&msg("lib", "app", true), "dev", None);
        assert_ne!(lib, bin);
        assert_ne!(lib, lib_test);
        assert_eq!(lib.to_string(), "app (lib)");
        assert_eq!(bin.to_string(), "app (bin)");
        assert_eq!(lib_test.to_string(), "app (lib test)");
        let tool = UnitKey::from_cargo_message(&msg("bin", "tool", false), "dev", None);
        assert_eq!(tool.to_string(), "app::tool (bin)");
    }

    #[test]
    fn one_target_built_against_other_dependencies_is_another_unit() {
        let base = UnitKey::from_cargo_message(&msg("lib", "util", false), "dev", None);
        let a = base.with_metadata(Some("1f"));
        let b = base.with_metadata(Some("2e"));
        assert_ne!(a, b);
        assert!(a.same_target(&b));
        assert_eq!(a.to_string(), b.to_string());
    }

    #[test]
    fn package_names_from_ids() {
        assert_eq!(package_name_of("path+file:///ws/x#name@0.1.0"), "name");
        assert_eq!(package_name_of("path+file:///ws/app#0.1.0"), "app");
        assert_eq!(package_name_of("registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0"), "serde");
    }
}
