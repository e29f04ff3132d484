//! What a build reports, in order, to whoever renders it (terminal, JSON, watch, LSP). Types,
//! and the one place a rustc diagnostic is mapped to source ([`diagnostic`]).

use serde::Serialize;
use std::path::PathBuf;

/// A unit as cargo names it in its JSON messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnitInfo {
    pub package: String,
    pub target: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Built with the test harness (`--test`: unit tests of a lib or bin, an integration test).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub test: bool,
    #[serde(skip)]
    pub package_id: String,
    #[serde(skip)]
    pub version: String,
    #[serde(skip)]
    pub manifest_path: PathBuf,
    #[serde(skip)]
    pub target_json: serde_json::Value,
}

impl UnitInfo {
    /// From the `package_id`, `manifest_path` and `target` of a cargo JSON message.
    pub fn from_cargo_message(v: &serde_json::Value) -> UnitInfo {
        let pkg = v["package_id"].as_str().unwrap_or("").to_string();
        let frag = pkg.rsplit('#').next().unwrap_or("");
        let version = frag.rsplit('@').next().unwrap_or(frag).to_string();
        UnitInfo {
            package: crate::unit::package_name_of(&pkg),
            target: v["target"]["name"].as_str().unwrap_or("").to_string(),
            kind: v["target"]["kind"][0].as_str().unwrap_or("").to_string(),
            path: None,
            test: v["profile"]["test"].as_bool() == Some(true),
            package_id: pkg,
            version,
            manifest_path: v["manifest_path"].as_str().unwrap_or("").into(),
            target_json: v["target"].clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BuildSummary {
    pub success: bool,
    /// The build was cancelled (a newer change, a client request): not a failure of the code.
    pub cancelled: bool,
    /// The engine's build counter (1 for the first build of a session).
    pub generation: u64,
    pub compiled: Vec<UnitInfo>,
    pub linked: Vec<UnitInfo>,
    pub link_skipped: Vec<UnitInfo>,
    pub cargo_invoked: bool,
    pub duration_ms: u64,
    #[serde(skip)]
    pub profile: String,
    #[serde(skip)]
    pub profile_desc: String,
    /// Time spent inside rustc compiles and links (wall, summed over jobs).
    #[serde(skip)]
    pub rustc_ms: u64,
    #[serde(skip)]
    pub link_ms: u64,
    /// Binaries of the selection: (name, path).
    #[serde(skip)]
    pub binaries: Vec<(String, PathBuf)>,
    /// Fast mode: the linker its links use (None: exact mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fast: Option<String>,
    /// Linked libraries (rlibs) whose objects this build read and hashed: those a compile
    /// rewrote, or whose stat changed. One that only this build's own uplift touched is not.
    pub rlibs_measured: usize,
}

#[derive(Clone, Debug)]
pub enum BuildEvent {
    /// The build goes through cargo, and why.
    Capture {
        reason: String,
    },
    Compiling(UnitInfo),
    Linking(UnitInfo),
    LinkSkipped(UnitInfo),
    /// The split compile/link did not work for this unit; it is built the normal way.
    Fallback {
        unit: UnitInfo,
        reason: String,
    },
    /// A rustc diagnostic, for a unit when known: rustc's JSON as cargo passes it on
    /// (`message`), and the same mapped once to source-located diagnostics (`mapped`: a failed
    /// link becomes one diagnostic per linker error, at the source line it concerns; paths are
    /// shown relative to `root`).
    Diagnostic {
        unit: Option<UnitInfo>,
        message: serde_json::Value,
        mapped: Vec<splitlink_diag::model::Diagnostic>,
        root: PathBuf,
    },
    /// A cargo JSON message to pass through as is in JSON mode (artifacts, build scripts).
    CargoMessage(serde_json::Value),
    /// A line cargo printed on its standard error during a capture (its status lines, build
    /// scripts' warnings), for the terminal.
    CargoOutput(String),
    /// Something the user should know that is not a rustc diagnostic.
    Warning(String),
    /// What one unit's compile and link said, once they are over (units that said nothing are
    /// left out): cargo's `generated N warnings` and `could not compile` lines. Under cargo (a
    /// capture) only the warnings: cargo prints its `could not compile` lines itself.
    UnitReport {
        unit: UnitInfo,
        counts: MessageCounts,
    },
    Finished(BuildSummary),
}

/// The warnings and errors of one unit's rustc runs, counted as cargo counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageCounts {
    pub warnings: usize,
    pub errors: usize,
    /// Warnings with a machine-applicable suggestion (what `cargo fix` would apply).
    pub fixable: usize,
}

impl MessageCounts {
    pub fn add(&mut self, message: &serde_json::Value) {
        match message["level"].as_str().unwrap_or("") {
            "warning" => {
                self.warnings += 1;
                let applicable = |spans: &serde_json::Value| {
                    spans.as_array().is_some_and(|v| v.iter().any(|s| s["suggestion_applicability"] == "MachineApplicable"))
                };
                let children = message["children"].as_array().map(Vec::as_slice).unwrap_or_default();
                if applicable(&message["spans"]) || children.iter().any(|c| applicable(&c["spans"])) {
                    self.fixable += 1;
                }
            }
            l if l.starts_with("error") => self.errors += 1,
            _ => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.warnings == 0 && self.errors == 0
    }
}

/// rustc's own closing lines (`aborting due to 2 previous errors`, `3 warnings emitted`): cargo
/// drops them and says it per unit instead ([`BuildEvent::UnitReport`]).
pub fn is_rustc_summary(message: &serde_json::Value) -> bool {
    let m = message["message"].as_str().unwrap_or("");
    let spanless = message["spans"].as_array().is_none_or(Vec::is_empty);
    spanless && (m.starts_with("aborting due to") || m.ends_with(" warning emitted") || m.ends_with(" warnings emitted"))
}

pub trait Sink {
    fn event(&mut self, ev: BuildEvent);

    /// Whether it shows cargo's JSON messages ([`BuildEvent::CargoMessage`]); when not, a
    /// replay does not make them (one per unit of the selection, each build).
    fn wants_cargo_messages(&self) -> bool {
        true
    }
}

impl<F: FnMut(BuildEvent)> Sink for F {
    fn event(&mut self, ev: BuildEvent) {
        self(ev)
    }
}

/// The event for a rustc diagnostic: mapped to source here, once, for every sink. `link`: where
/// to look for the source of a failed link; `cwd`: rustc's working directory (its paths are
/// relative to it); `root`: the workspace root.
pub fn diagnostic(
    unit: Option<UnitInfo>,
    message: serde_json::Value,
    link: Option<&crate::LinkFailure>,
    cwd: &std::path::Path,
    root: &std::path::Path,
) -> BuildEvent {
    let mapped = splitlink_diag::from_rustc_message(&message, link, cwd);
    BuildEvent::Diagnostic { unit, message, mapped, root: root.to_path_buf() }
}
