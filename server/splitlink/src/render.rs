//! Rendering build events: cargo-style status lines and diagnostics on the terminal, or
//! cargo-compatible JSON messages on stdout.

use splitlink_engine::strip_ansi;
use splitlink_engine::{BuildEvent, BuildSummary, Sink, UnitInfo};
use std::io::Write;

/// `eprintln!` as a single write, so that a line of a running child (`watch --run`) never lands
/// in the middle of one of ours.
macro_rules! eline {
    ($($t:tt)*) => {
        eprint!("{}", format!("{}\n", format_args!($($t)*)))
    };
}
pub(crate) use eline;

pub struct Renderer {
    json: bool,
    verbose: bool,
    quiet: bool,
    color: bool,
    /// Packages a `Compiling` line was printed for in this build.
    compiling: std::collections::HashSet<String>,
}

impl Renderer {
    pub fn new(json: bool, verbose: bool, quiet: bool) -> Renderer {
        Renderer { json, verbose, quiet, color: crate::color::stderr(), compiling: Default::default() }
    }

    fn status(&self, verb: &str, rest: &str) {
        if self.quiet {
            return;
        }
        if self.color {
            eline!("\x1b[1;32m{verb:>12}\x1b[0m {rest}");
        } else {
            eline!("{verb:>12} {rest}");
        }
    }

    fn stdout_json(&self, v: &serde_json::Value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{v}");
    }

    pub fn fatal(&self, msg: &str) {
        if self.json {
            self.stdout_json(&serde_json::json!({"reason": "build-finished", "success": false, "splitlink": {"error": msg}}));
        }
        if self.color {
            eline!("\x1b[1;31merror\x1b[0m: {msg}");
        } else {
            eline!("error: {msg}");
        }
    }

    fn text(&self, s: &str) -> String {
        if self.color {
            s.to_string()
        } else {
            strip_ansi(s)
        }
    }

    fn diagnostic(&self, unit: Option<&UnitInfo>, message: &serde_json::Value) {
        if self.json {
            let mut env = serde_json::json!({"reason": "compiler-message", "message": message});
            if let Some(u) = unit {
                env["package_id"] = u.package_id.clone().into();
                env["manifest_path"] = u.manifest_path.to_string_lossy().into_owned().into();
                env["target"] = u.target_json.clone();
            }
            self.stdout_json(&env);
            return;
        }
        if let Some(r) = message.get("rendered").and_then(|r| r.as_str()) {
            let r = if self.verbose { r.to_string() } else { shorten_link_command(r) };
            eprint!("{}", self.text(&r));
        }
    }
}

/// rustc prints the whole linker command line (hundreds of arguments) in a failed link's
/// note; keep it only with `-v`.
fn shorten_link_command(rendered: &str) -> String {
    let mut out = String::new();
    for line in rendered.split_inclusive('\n') {
        let plain = strip_ansi(line);
        if plain.trim_start().starts_with("= note: \"") || plain.trim_start().starts_with("= note:  \"") || plain.contains("\" \"-m64\"") {
            out.push_str("  = note: (linker command line omitted; use -v to see it)\n");
            continue;
        }
        out.push_str(line);
    }
    out
}

fn unit_label(u: &UnitInfo) -> String {
    let dir = u.manifest_path.parent().map(|p| p.display().to_string()).unwrap_or_default();
    format!("{} v{} ({})", u.package, u.version, dir)
}

/// `app`, or for a test harness build `app (lib test)`; `why` is appended in the parentheses.
fn link_label(u: &UnitInfo, why: &str) -> String {
    let mode = match (u.test, u.kind.as_str()) {
        (false, _) => String::new(),
        (true, "test") => "test".to_string(),
        (true, k) => format!("{k} test"),
    };
    match (mode.is_empty(), why.is_empty()) {
        (true, true) => u.target.clone(),
        (true, false) => format!("{} ({why})", u.target),
        (false, true) => format!("{} ({mode})", u.target),
        (false, false) => format!("{} ({mode}, {why})", u.target),
    }
}

fn names(us: &[UnitInfo]) -> String {
    let mut v: Vec<String> = us.iter().map(|u| u.target.clone()).collect();
    v.dedup();
    v.join(", ")
}

impl Sink for Renderer {
    fn event(&mut self, ev: BuildEvent) {
        match ev {
            BuildEvent::Capture { reason } => {
                if self.verbose {
                    self.status("Cargo", &format!("building through cargo ({reason})"));
                }
            }
            // Once per package and build, as cargo does.
            BuildEvent::Compiling(u) => {
                let label = unit_label(&u);
                if !self.compiling.contains(&label) {
                    self.status("Compiling", &label);
                    self.compiling.insert(label);
                }
            }
            BuildEvent::Linking(u) => self.status("Linking", &link_label(&u, "")),
            BuildEvent::LinkSkipped(u) => self.status("Link skipped", &link_label(&u, "objects unchanged")),
            BuildEvent::Fallback { unit, reason } => {
                eline!("warning: splitlink: {reason}; building `{}` without the split compile/link", unit.target)
            }
            // A failed link is shown as its source-located diagnostics (one per linker error);
            // everything else as rustc rendered it.
            BuildEvent::Diagnostic { unit, message, mapped, root }
                if splitlink_diag::linker::is_link_error(&message) && !mapped.is_empty() =>
            {
                for d in &mapped {
                    if self.json {
                        self.diagnostic(unit.as_ref(), &splitlink_diag::render::to_rustc_json(d, &root));
                    } else {
                        eprint!("{}", self.text(&splitlink_diag::render::human(d, self.verbose, &root)));
                    }
                }
            }
            BuildEvent::Diagnostic { unit, message, .. } => self.diagnostic(unit.as_ref(), &message),
            BuildEvent::CargoMessage(v) => {
                if self.json {
                    self.stdout_json(&v)
                }
            }
            BuildEvent::Warning(w) => eline!("{}", self.text(&w)),
            BuildEvent::CargoOutput(line) => eline!("{}", self.text(&line)),
            BuildEvent::Finished(s) => {
                self.compiling.clear();
                self.finished(&s)
            }
        }
    }
}

impl Renderer {
    fn finished(&self, s: &BuildSummary) {
        if self.json {
            self.finished_json(s);
        }
        self.finished_human(s);
    }

    /// Print one JSON message on stdout (for `watch`'s own messages).
    pub fn json_message(&self, v: &serde_json::Value) {
        self.stdout_json(v);
    }

    /// The `build-finished` JSON message.
    pub fn finished_json(&self, s: &BuildSummary) {
        let v = serde_json::json!({
            "reason": "build-finished",
            "success": s.success,
            "splitlink": {
                "generation": s.generation,
                "cancelled": s.cancelled,
                "compiled": s.compiled,
                "linked": s.linked,
                "link_skipped": s.link_skipped,
                "cargo_invoked": s.cargo_invoked,
                "duration_ms": s.duration_ms,
                "rustc_ms": s.rustc_ms,
                "link_ms": s.link_ms,
                "fast": s.fast.as_ref().map(|l| serde_json::json!({"linker": l})),
            }
        });
        self.stdout_json(&v);
    }

    fn finished_human(&self, s: &BuildSummary) {
        let secs = s.duration_ms as f64 / 1000.0;
        if s.success {
            if self.verbose && !s.compiled.is_empty() {
                self.status(
                    "Summary",
                    &format!("compiled {} · linked {} · link skipped {}", names(&s.compiled), names(&s.linked), names(&s.link_skipped)),
                );
            }
            let fast = if s.fast.is_some() { " (fast mode)" } else { "" };
            self.status("Finished", &format!("`{}` profile {} target(s) in {secs:.2}s{fast}", s.profile, s.profile_desc));
        } else if !self.quiet || self.json {
            if self.color {
                eline!("\x1b[1;31merror\x1b[0m: build failed after {secs:.2}s");
            } else {
                eline!("error: build failed after {secs:.2}s");
            }
        }
    }
}
