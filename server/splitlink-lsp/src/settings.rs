//! Settings from `initializationOptions` and `workspace/didChangeConfiguration`.

use serde::Deserialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompilerDiagnostics {
    /// Compiler and linker diagnostics.
    #[default]
    All,
    /// Compiler errors (no warnings) and linker diagnostics.
    Errors,
    /// Only linker diagnostics (for users who keep rust-analyzer's check-on-save).
    Off,
}

/// Which targets a build on save compiles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetSet {
    /// Every target, as rust-analyzer checks them (`--all-targets`): unit tests, `tests/`,
    /// `examples/`, `benches/` — their errors appear on save.
    #[default]
    All,
    /// cargo's defaults for `cargo build` (libraries and binaries).
    Default,
}

/// What a save does to the workspace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    /// Build (compile and link): compiler and linker diagnostics, binaries to run.
    #[default]
    Build,
    /// Lint with clippy (`splitlink clippy`): rustc's and clippy's diagnostics, no binaries.
    Clippy,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// `build` (default) or `clippy`.
    pub check: Check,
    /// Lint flags for clippy (`["-W", "clippy::pedantic"]`), with `check = "clippy"`.
    pub clippy_args: Vec<String>,
    pub targets: TargetSet,
    /// After each successful build, run the test binaries that changed (as `splitlink test
    /// --changed`).
    pub test_on_save: bool,
    /// Arguments for the test binaries (the TESTNAME filter, libtest flags).
    pub test_args: Vec<String>,
    /// Kill a test binary that runs longer than this many seconds (it counts as failed).
    pub test_timeout: Option<u64>,
    /// Fast mode: link with wild when it is installed (the binary behaves as cargo's but is not
    /// byte-identical; `splitlink/buildFinished` says so).
    pub fast: bool,
    /// The binary `splitlink.run` starts (default: the only binary, or the first).
    pub bin: Option<String>,
    /// `dev` (default), `release` or a custom profile.
    pub profile: Option<String>,
    pub features: Vec<String>,
    pub all_features: bool,
    pub no_default_features: bool,
    pub compiler_diagnostics: CompilerDiagnostics,
    /// Restart the running binary (or start it) after each successful relink.
    pub run_on_link: bool,
    /// Arguments for the binary started by `splitlink.run`.
    pub run_args: Vec<String>,
}

impl Settings {
    /// Accepts `{ "splitlink": { … } }` or the settings object itself; unknown keys ignored,
    /// invalid values fall back to defaults (with the error returned for a log line).
    pub fn from_json(v: &serde_json::Value) -> (Settings, Option<String>) {
        let v = v.get("splitlink").unwrap_or(v);
        if v.is_null() {
            return (Settings::default(), None);
        }
        match serde_json::from_value::<Settings>(v.clone()) {
            Ok(s) => (s, None),
            Err(e) => (Settings::default(), Some(format!("invalid splitlink settings ({e}); using defaults"))),
        }
    }

    pub fn selection(&self) -> splitlink_engine::Selection {
        let mut sel = splitlink_engine::Selection::default();
        match self.profile.as_deref() {
            None | Some("dev") | Some("") => {}
            Some("release") => sel.release = true,
            Some(p) => sel.profile = Some(p.to_string()),
        }
        sel.features = self.features.clone();
        sel.all_features = self.all_features;
        sel.no_default_features = self.no_default_features;
        sel.targets.all_targets = self.targets == TargetSet::All;
        if self.check == Check::Clippy {
            sel.command = splitlink_engine::CargoCommand::Clippy;
            sel.clippy_args = self.clippy_args.clone();
        }
        sel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_and_flat_and_bad() {
        let (s, e) =
            Settings::from_json(&serde_json::json!({"splitlink": {"bin": "app", "compilerDiagnostics": "off", "runOnLink": true}}));
        assert_eq!(s.bin.as_deref(), Some("app"));
        assert_eq!(s.compiler_diagnostics, CompilerDiagnostics::Off);
        assert!(s.run_on_link && e.is_none());
        let (s, _) = Settings::from_json(&serde_json::json!({"profile": "release"}));
        assert!(s.selection().release);
        assert!(s.selection().targets.all_targets, "all targets by default");
        let (s, _) = Settings::from_json(&serde_json::json!({"targets": "default", "testOnSave": true}));
        assert!(!s.selection().targets.all_targets && s.test_on_save);
        let (s, _) = Settings::from_json(&serde_json::json!({"check": "clippy", "clippyArgs": ["-D", "warnings"]}));
        assert_eq!(s.selection().command, splitlink_engine::CargoCommand::Clippy);
        assert_eq!(s.selection().clippy_args, ["-D", "warnings"]);
        assert_eq!(s.selection().for_tests().command, splitlink_engine::CargoCommand::Test);
        let (s, e) = Settings::from_json(&serde_json::json!({"compilerDiagnostics": 3}));
        assert_eq!(s, Settings::default());
        assert!(e.is_some());
    }
}
