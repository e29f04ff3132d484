//! The screen of a watch session: the build's events rendered as `splitlink build` renders them,
//! a one-line progress indication on a terminal (plain lines otherwise), and a status line per
//! build (`compiled util, app · link skipped (objects unchanged) · 0.41 s`).
//!
//! Invariant: only the main loop writes to the screen (the build thread forwards its events),
//! so the progress line is always cleared before anything else is printed.

use crate::render::{eline, Renderer};
use splitlink_engine::{BuildEvent, BuildSummary, UnitInfo};
use splitlink_session::BuildDone;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct Screen {
    r: Renderer,
    json: bool,
    quiet: bool,
    /// stderr is a terminal: colours, the progress line, `--clear`.
    tty: bool,
    /// Colour for its own lines (`--color`, `CARGO_TERM_COLOR`, `NO_COLOR`).
    color: bool,
    root: PathBuf,
    cwd: PathBuf,
    build: Notes,
    progress_drawn: bool,
    last_draw: Option<Instant>,
}

/// What the running build reported so far.
#[derive(Default)]
struct Notes {
    started: Option<Instant>,
    capture: Option<String>,
    units: Vec<String>,
    linking: Vec<String>,
    errors: usize,
    warnings: usize,
}

impl Screen {
    pub fn new(format: crate::render::MessageFormat, verbose: bool, quiet: bool, root: PathBuf, cwd: PathBuf) -> Screen {
        Screen {
            r: Renderer::new(format, verbose, quiet),
            json: format.json,
            quiet,
            tty: std::io::stderr().is_terminal(),
            color: crate::color::stderr(),
            root,
            cwd,
            build: Notes::default(),
            progress_drawn: false,
            last_draw: None,
        }
    }

    /// `watch --clippy`: say `Checking` and name `cargo clippy --fix`, as `splitlink clippy`.
    pub fn set_clippy(&mut self, lint_args: Vec<String>) {
        self.r.clippy = Some(lint_args);
    }

    fn progress_enabled(&self) -> bool {
        self.tty && !self.json && !self.quiet
    }

    fn rel<'a>(&self, p: &'a Path) -> std::borrow::Cow<'a, str> {
        p.strip_prefix(&self.root).unwrap_or(p).to_string_lossy()
    }

    fn clear_progress(&mut self) {
        if self.progress_drawn {
            eprint!("\r\x1b[2K");
            self.progress_drawn = false;
        }
    }

    fn line(&mut self, verb: &str, colour: &str, rest: &str) {
        self.clear_progress();
        if self.color {
            eline!("\x1b[1;{colour}m{verb:>12}\x1b[0m {rest}");
        } else {
            eline!("{verb:>12} {rest}");
        }
    }

    /// An informational line (hidden with `-q`).
    pub fn note(&mut self, verb: &str, rest: &str) {
        if !self.quiet {
            self.line(verb, "32", rest);
        }
    }

    /// A problem the user should see even with `-q`.
    pub fn warn(&mut self, verb: &str, rest: &str) {
        self.line(verb, "33", rest);
    }

    pub fn error(&mut self, msg: &str) {
        self.clear_progress();
        if self.color {
            eline!("\x1b[1;31merror\x1b[0m: {msg}");
        } else {
            eline!("error: {msg}");
        }
    }

    /// What the test run (`--test`) reports: cargo's `Running` lines and libtest's output;
    /// binaries skipped as unchanged are counted, not listed.
    pub fn test_event(&mut self, ev: splitlink_session::testrun::TestEvent) {
        use splitlink_session::testrun::TestEvent;
        match ev {
            TestEvent::Started { label, path, doctest: false } => {
                let p = crate::test_cmd::shown(&path, &self.cwd);
                self.note("Running", &format!("{label} ({p})"))
            }
            TestEvent::Started { label, doctest: true, .. } => self.note("Doc-tests", &label),
            TestEvent::Unchanged { .. } => {}
            TestEvent::Output(line) => {
                self.clear_progress();
                if self.json {
                    eline!("{line}");
                } else {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{line}");
                }
            }
            TestEvent::Finished(b) => {
                if self.json {
                    self.r.json_message(&crate::test_cmd::test_json(&b));
                }
            }
        }
    }

    /// The test run's one-line summary.
    pub fn tests_done(&mut self, r: &splitlink_session::testrun::Report) {
        let ran = r.ran();
        let unchanged = r.binaries.len() - ran;
        let passed: u64 = r.binaries.iter().map(|b| b.passed).sum();
        use splitlink_session::testrun::Ended;
        let failed: Vec<String> = r
            .failed()
            .iter()
            .map(|b| match &b.ended {
                Ended::TimedOut(s) => format!("{} (timed out after {s} s)", b.rerun),
                Ended::Signal(s) => format!("{} (signal {s})", b.rerun),
                _ => b.rerun.clone(),
            })
            .collect();
        let mut words = vec![format!("ran {ran} test binar{}", if ran == 1 { "y" } else { "ies" })];
        if unchanged > 0 {
            words.push(format!("{unchanged} unchanged (binary identical, last run passed)"));
        }
        words.push(format!("{passed} passed"));
        if r.stopped_early && failed.is_empty() {
            words.push("stopped by a new build".into());
        }
        if failed.is_empty() {
            self.note("Tested", &words.join(" · "));
        } else {
            words.push(format!("failed: {}", failed.join(", ")));
            self.warn("Tested", &words.join(" · "));
        }
    }

    /// One of watch's own JSON messages (only with `--message-format json`).
    pub fn json(&mut self, v: serde_json::Value) {
        if self.json {
            self.r.json_message(&v);
        }
    }

    pub fn build_started(&mut self, paths: &[PathBuf], why: bool, clear: bool) {
        if clear && self.tty {
            eprint!("\x1b[2J\x1b[3J\x1b[H");
            let _ = std::io::stderr().flush();
            self.progress_drawn = false;
        }
        self.json(serde_json::json!({"reason": "watch-trigger", "paths": paths}));
        if why && !self.json && !paths.is_empty() {
            let list: Vec<String> = paths.iter().map(|p| self.rel(p).into_owned()).collect();
            self.note("Changed", &list.join(", "));
        }
        self.build = Notes { started: Some(Instant::now()), ..Default::default() };
        self.draw_progress();
    }

    fn draw_progress(&mut self) {
        if !self.progress_enabled() {
            return;
        }
        let Some(t0) = self.build.started else { return };
        let secs = t0.elapsed().as_secs_f64();
        let what = if self.build.capture.is_some() && self.build.units.is_empty() {
            "through cargo".to_string()
        } else if let Some(l) = self.build.linking.last() {
            format!("linking {l}")
        } else if self.build.units.is_empty() {
            "checking".to_string()
        } else {
            let n = self.build.units.len();
            let last: Vec<&str> = self.build.units.iter().rev().take(3).rev().map(String::as_str).collect();
            format!("compiling {}{}", if n > 3 { "…, " } else { "" }, last.join(", "))
        };
        let line = format!("\r\x1b[2K\x1b[1;36m{:>12}\x1b[0m {what} · {secs:.1} s", "Building");
        eprint!("{line}"); // one write
        let _ = std::io::stderr().flush();
        self.progress_drawn = true;
        self.last_draw = Some(Instant::now());
    }

    /// Redraw the progress line (the elapsed time) while a build runs.
    pub fn tick(&mut self) {
        if self.build.started.is_some() && self.last_draw.is_none_or(|t| t.elapsed() >= Duration::from_millis(250)) {
            self.draw_progress();
        }
    }

    /// How often `tick` wants to run (None: no progress line).
    pub fn tick_every(&self) -> Option<Duration> {
        (self.progress_enabled() && self.build.started.is_some()).then_some(Duration::from_millis(250))
    }

    pub fn event(&mut self, ev: BuildEvent) {
        use splitlink_engine::Sink;
        let progress = self.progress_enabled();
        match ev {
            BuildEvent::Capture { reason } => {
                self.build.capture = Some(reason.clone());
                self.clear_progress();
                self.r.event(BuildEvent::Capture { reason });
                self.draw_progress();
            }
            BuildEvent::Compiling(u) if progress => {
                self.build.units.push(u.target.clone());
                self.draw_progress();
            }
            BuildEvent::Linking(u) if progress => {
                self.build.linking.push(u.target.clone());
                self.draw_progress();
            }
            BuildEvent::LinkSkipped(_) if progress => {}
            BuildEvent::Finished(s) => {
                if self.json {
                    self.r.finished_json(&s);
                }
            }
            BuildEvent::Diagnostic { unit, message, mapped, root } => {
                match message.get("level").and_then(|l| l.as_str()) {
                    Some("error") if !message["message"].as_str().is_some_and(|m| m.starts_with("aborting due to")) => {
                        self.build.errors += 1
                    }
                    Some("warning")
                        if !message["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("warning emitted") || m.contains("warnings emitted")) =>
                    {
                        self.build.warnings += 1
                    }
                    _ => {}
                }
                self.clear_progress();
                self.r.event(BuildEvent::Diagnostic { unit, message, mapped, root });
                self.draw_progress();
            }
            other => {
                if let BuildEvent::Compiling(u) = &other {
                    self.build.units.push(u.target.clone());
                }
                self.clear_progress();
                self.r.event(other);
                self.draw_progress();
            }
        }
    }

    /// The status line of a finished build; `run` says what happened to the running binary.
    pub fn build_done(&mut self, d: &BuildDone, run: &[String]) {
        let notes = std::mem::take(&mut self.build);
        self.clear_progress();
        match &d.result {
            Err(msg) => {
                self.r.fatal(msg);
                let mut parts = vec!["the build could not run (see the error above); fix it and save".to_string()];
                parts.extend(run.iter().cloned());
                self.line("Failed", "31", &parts.join(" · "));
            }
            Ok(s) if s.cancelled => {
                let mut parts = vec!["newer changes: cancelled".to_string()];
                parts.extend(run.iter().cloned());
                parts.push(secs(s));
                if !self.quiet {
                    self.line("Cancelled", "33", &parts.join(" · "));
                }
            }
            Ok(s) => {
                let mut parts = Vec::new();
                if !s.success {
                    parts.push(match notes.errors {
                        0 => "build failed".to_string(),
                        1 => "1 error".to_string(),
                        n => format!("{n} errors"),
                    });
                }
                if let Some(reason) = &notes.capture {
                    parts.push(format!("through cargo ({reason})"));
                }
                if s.compiled.is_empty() {
                    if s.success {
                        parts.push("nothing to compile".into());
                    }
                } else {
                    parts.push(format!("compiled {}", names(&s.compiled)));
                }
                if !s.linked.is_empty() {
                    parts.push(format!("linked {}", names(&s.linked)));
                }
                if !s.link_skipped.is_empty() {
                    parts.push(if s.linked.is_empty() {
                        "link skipped (objects unchanged)".to_string()
                    } else {
                        format!("link skipped {} (objects unchanged)", names(&s.link_skipped))
                    });
                }
                match notes.warnings {
                    0 => {}
                    1 => parts.push("1 warning".into()),
                    n => parts.push(format!("{n} warnings")),
                }
                parts.extend(run.iter().cloned());
                parts.push(secs(s));
                if s.success {
                    if !self.quiet {
                        self.line("Ready", "32", &parts.join(" · "));
                    }
                } else {
                    self.line("Failed", "31", &parts.join(" · "));
                }
            }
        }
    }

    /// `target/debug/app` relative to the working directory, as cargo prints it.
    pub fn command_line(&self, path: &Path, args: &[String]) -> String {
        let p = path.strip_prefix(&self.cwd).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf());
        let mut s = p.display().to_string();
        for a in args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }
}

fn secs(s: &BuildSummary) -> String {
    format!("{:.2} s", s.duration_ms as f64 / 1000.0)
}

fn names(us: &[UnitInfo]) -> String {
    let mut v: Vec<&str> = Vec::new();
    for u in us {
        if !v.contains(&u.target.as_str()) {
            v.push(&u.target);
        }
    }
    v.join(", ")
}
