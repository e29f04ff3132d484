//! Rendering build events: cargo-style status lines and diagnostics on the terminal, or
//! cargo-compatible JSON messages on stdout.

use splitlink_engine::strip_ansi;
use splitlink_engine::{BuildEvent, BuildSummary, MessageCounts, Sink, UnitInfo};
use std::io::Write;

/// `eprintln!` as a single write, so that a line of a running child (`watch --run`) never lands
/// in the middle of one of ours.
macro_rules! eline {
    ($($t:tt)*) => {
        eprint!("{}", format!("{}\n", format_args!($($t)*)))
    };
}
pub(crate) use eline;

/// cargo's `--message-format`: what goes where, and in which form rustc renders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageFormat {
    /// JSON messages on stdout (`json*`).
    pub json: bool,
    /// rustc's short form (`short`, `json-diagnostic-short`).
    pub short: bool,
    /// JSON `rendered` fields keep their ANSI colours (`json-diagnostic-rendered-ansi`).
    pub ansi: bool,
    /// Compiler messages rendered on stderr instead of JSON (`json-render-diagnostics`).
    pub render_diagnostics: bool,
    /// `human` or `short` was given (they do not combine with the JSON ones).
    plain_kind: bool,
}

impl MessageFormat {
    /// One `--message-format` value; commas separate several.
    pub fn parse_one(s: &str) -> Result<MessageFormat, String> {
        let mut f = MessageFormat::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let one = match part.to_ascii_lowercase().as_str() {
                "human" => MessageFormat { plain_kind: true, ..Default::default() },
                "short" => MessageFormat { short: true, plain_kind: true, ..Default::default() },
                "json" => MessageFormat { json: true, ..Default::default() },
                "json-diagnostic-short" => MessageFormat { json: true, short: true, ..Default::default() },
                "json-diagnostic-rendered-ansi" => MessageFormat { json: true, ansi: true, ..Default::default() },
                "json-render-diagnostics" => MessageFormat { json: true, render_diagnostics: true, ..Default::default() },
                other => {
                    return Err(format!(
                        "invalid message format specifier: `{other}` (expected human, short, json, json-diagnostic-short, \
                         json-diagnostic-rendered-ansi or json-render-diagnostics)"
                    ))
                }
            };
            f = f.with(one)?;
        }
        Ok(f)
    }

    fn with(self, o: MessageFormat) -> Result<MessageFormat, String> {
        let any = |f: &MessageFormat| f.json || f.plain_kind;
        if any(&self) && any(&o) && (self.plain_kind || o.plain_kind) {
            return Err("cannot specify two kinds of `message-format` arguments".into());
        }
        Ok(MessageFormat {
            json: self.json || o.json,
            short: self.short || o.short,
            ansi: self.ansi || o.ansi,
            render_diagnostics: self.render_diagnostics || o.render_diagnostics,
            plain_kind: self.plain_kind || o.plain_kind,
        })
    }

    /// All the values given (none: human).
    pub fn combine(all: &[MessageFormat]) -> Result<MessageFormat, String> {
        all.iter().try_fold(MessageFormat::default(), |acc, f| acc.with(*f))
    }

    /// Compiler messages go to stdout as JSON (else they are rendered on stderr).
    fn json_diagnostics(&self) -> bool {
        self.json && !self.render_diagnostics
    }
}

pub struct Renderer {
    /// `splitlink clippy`'s lint flags: the fix hints name `cargo clippy --fix`.
    pub clippy: Option<Vec<String>>,
    format: MessageFormat,
    json: bool,
    verbose: bool,
    quiet: bool,
    color: bool,
    /// Packages a `Compiling` line was printed for in this build.
    compiling: std::collections::HashSet<String>,
    /// Diagnostics rendered in this build (cargo shows one twice only once, and counts the
    /// second as a duplicate) and the duplicates of each unit.
    seen: std::collections::HashSet<String>,
    duplicates: std::collections::HashMap<String, usize>,
}

impl Renderer {
    pub fn new(format: MessageFormat, verbose: bool, quiet: bool) -> Renderer {
        Renderer {
            clippy: None,
            format,
            json: format.json,
            verbose,
            quiet,
            color: crate::color::stderr(),
            compiling: Default::default(),
            seen: Default::default(),
            duplicates: Default::default(),
        }
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

    fn diagnostic(&mut self, unit: Option<&UnitInfo>, message: &serde_json::Value) {
        if self.format.json_diagnostics() {
            let mut message = message.clone();
            if !self.format.ansi {
                if let Some(r) = message.get("rendered").and_then(|r| r.as_str()) {
                    message["rendered"] = strip_ansi(r).into();
                }
            }
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
            self.rendered(unit, &r);
        }
    }

    /// A rendered diagnostic on stderr, once per build (a repeat counts as a duplicate of its
    /// unit, as cargo does).
    fn rendered(&mut self, unit: Option<&UnitInfo>, r: &str) {
        if !self.seen.insert(strip_ansi(r)) {
            if let Some(u) = unit {
                *self.duplicates.entry(unit_desc(u)).or_default() += 1;
            }
            return;
        }
        eprint!("{}", self.text(r));
    }

    /// cargo's line after a unit's messages: `warning: `app` (bin "app") generated 2 warnings`,
    /// `error: could not compile `app` (bin "app") due to 1 previous error; 2 warnings emitted`.
    fn unit_report(&self, u: &UnitInfo, c: &MessageCounts, generated: bool) {
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let desc = unit_desc(u);
        if c.warnings > 0 && generated {
            let mut line = format!("`{}` ({desc}) generated {}", u.package, plural(c.warnings, "warning"));
            let dups = self.duplicates.get(&desc).copied().unwrap_or(0);
            if dups > 0 {
                line.push_str(&format!(" ({})", plural(dups, "duplicate")));
            }
            if c.fixable > 0 && c.errors == 0 {
                let fix = match &self.clippy {
                    None => format!("cargo fix {}", fix_args(u)),
                    Some(lints) => format!("cargo clippy --fix {} -- {}", fix_args(u), lints.join(" ")),
                };
                line.push_str(&format!(" (run `{fix}` to apply {})", plural(c.fixable, "suggestion")));
            }
            self.level_line("warning", &line);
        }
        if c.errors > 0 {
            let mut line = format!("could not compile `{}` ({desc}) due to {}", u.package, plural(c.errors, "previous error"));
            if c.warnings > 0 {
                line.push_str(&format!("; {} emitted", plural(c.warnings, "warning")));
            }
            self.level_line("error", &line);
        }
    }

    fn level_line(&self, level: &str, rest: &str) {
        match (self.color, level) {
            (true, "error") => eline!("\x1b[1;31merror\x1b[0m\x1b[1m:\x1b[0m {rest}"),
            (true, _) => eline!("\x1b[1;33m{level}\x1b[0m\x1b[1m:\x1b[0m {rest}"),
            (false, _) => eline!("{level}: {rest}"),
        }
    }
}

/// How cargo names a unit in its summary lines: `lib`, `bin "app"`, `lib test`, `test "it"`,
/// `bin "app" test`, `example "demo"`, `build script`.
fn unit_desc(u: &UnitInfo) -> String {
    let named = |k: &str| format!("{k} \"{}\"", u.target);
    let base = match u.kind.as_str() {
        "bin" => named("bin"),
        "test" => named("test"),
        "bench" => named("bench"),
        "example" => named("example"),
        "custom-build" => "build script".to_string(),
        _ => "lib".to_string(),
    };
    if u.test && !matches!(u.kind.as_str(), "test" | "bench") {
        format!("{base} test")
    } else {
        base
    }
}

/// The arguments of the `cargo fix` cargo suggests for a unit's warnings.
fn fix_args(u: &UnitInfo) -> String {
    let target = match u.kind.as_str() {
        "bin" => format!("--bin \"{}\"", u.target),
        "test" => format!("--test \"{}\"", u.target),
        "bench" => format!("--bench \"{}\"", u.target),
        "example" => format!("--example \"{}\"", u.target),
        _ => "--lib".to_string(),
    };
    let tests = if u.test && !matches!(u.kind.as_str(), "test" | "bench") { " --tests" } else { "" };
    format!("{target} -p {}{tests}", u.package)
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
    fn wants_cargo_messages(&self) -> bool {
        self.json
    }

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
                    // clippy checks (metadata only), as `cargo clippy` says.
                    self.status(if self.clippy.is_some() { "Checking" } else { "Compiling" }, &label);
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
                    if self.format.json_diagnostics() {
                        self.diagnostic(unit.as_ref(), &splitlink_diag::render::to_rustc_json(d, &root));
                    } else if self.format.short {
                        self.rendered(unit.as_ref(), &splitlink_diag::render::short(d, &root));
                    } else {
                        self.rendered(unit.as_ref(), &splitlink_diag::render::human(d, self.verbose, &root));
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
            // With JSON diagnostics cargo still says `could not compile` (on stderr), not
            // `generated N warnings`.
            BuildEvent::UnitReport { unit, counts } => {
                self.unit_report(&unit, &counts, !self.format.json_diagnostics());
            }
            BuildEvent::Finished(s) => {
                self.compiling.clear();
                self.seen.clear();
                self.duplicates.clear();
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
                "rlibs_measured": s.rlibs_measured,
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
