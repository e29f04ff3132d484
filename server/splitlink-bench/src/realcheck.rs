//! `--real-check`: the slow real-code check (not in CI: the `cargo` crate alone takes minutes to
//! build). On ripgrep in its repository layout and on the `cargo` crate, both assembled from
//! crates.io ([`crate::real`]), it applies edits people make — visible function-body edits of
//! the binary and of a library, end-of-line comments — to two identical copies, builds one with
//! splitlink and one with plain cargo (alternating which goes first), and checks after every
//! edit that:
//! - splitlink succeeded and did not go through cargo (ripgrep's root build script is rerun by
//!   splitlink, not by cargo);
//! - a body edit relinked and a comment edit did not;
//! - the two binaries behave the same (stdout, stderr, exit status of a real command, with the
//!   edits' output switched on by `SPLITLINK_REAL_CHECK=1`).
//!
//! It prints (and with `--write-docs` writes into `docs/real-code.md`) the wall times of both
//! sides and what `splitlink explain` said after each kind of edit. Any failed check makes it
//! exit non-zero.

use crate::edits::append_to_line;
use crate::measure::{self, Sample};
use crate::real::{self, Real};
use crate::report::{median, Finished};
use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One kind of edit: `suffix(i)` is appended to the line that starts with `anchor`.
struct Edit {
    name: &'static str,
    what: &'static str,
    file: &'static str,
    anchor: &'static str,
    suffix: fn(usize) -> String,
    /// A body edit must relink; a comment must not.
    relink: bool,
}

struct Workspace {
    name: &'static str,
    title: String,
    real: Real,
    binary: &'static str,
    /// The command whose behaviour both sides' binaries must share (run in the copy's root).
    check: Vec<&'static str>,
    edits: Vec<Edit>,
}

fn eol(i: usize) -> String {
    format!(" // splitlink real-check comment {}", if i % 2 == 1 { "one" } else { "number two" })
}

fn ripgrep(dir: &Path, version: &str) -> Result<Workspace> {
    Ok(Workspace {
        name: "ripgrep",
        title: format!("ripgrep {version} in its repository layout"),
        real: real::assemble_ripgrep(dir, version)?,
        binary: "rg",
        check: vec!["--count-matches", "fn", "crates/cli/src", "--sort", "path"],
        edits: vec![
            Edit {
                name: "bin-body",
                what: "a statement in `main` of `crates/core/main.rs` (the root package's bin)",
                file: "crates/core/main.rs",
                anchor: "fn main() -> ExitCode {",
                suffix: |i| format!(" if std::env::var_os(\"SPLITLINK_REAL_CHECK\").is_some() {{ println!(\"rg main, edit {i}\"); }}"),
                relink: true,
            },
            Edit {
                name: "lib-body",
                what: "a statement in `SearcherBuilder::build` of `crates/searcher` (a nested member)",
                file: "crates/searcher/src/searcher/mod.rs",
                anchor: "pub fn build(&self) -> Searcher {",
                suffix: |i| format!(" if std::env::var_os(\"SPLITLINK_REAL_CHECK\").is_some() {{ eprintln!(\"searcher, edit {i}\"); }}"),
                relink: true,
            },
            Edit {
                name: "bin-eol",
                what: "an end-of-line comment in `crates/core/main.rs`",
                file: "crates/core/main.rs",
                anchor: "fn run(result: crate::flags::ParseResult<HiArgs>) -> anyhow::Result<ExitCode> {",
                suffix: eol,
                relink: false,
            },
            Edit {
                name: "lib-eol",
                what: "an end-of-line comment in `crates/searcher`",
                file: "crates/searcher/src/searcher/mod.rs",
                anchor: "pub fn new() -> SearcherBuilder {",
                suffix: eol,
                relink: false,
            },
        ],
    })
}

fn cargo_crate(dir: &Path, version: &str) -> Result<Workspace> {
    Ok(Workspace {
        name: "cargo",
        title: format!("the cargo {version} package (lib and bin both named `cargo`)"),
        real: real::assemble_cargo(dir, version)?,
        binary: "cargo",
        check: vec!["-V"],
        edits: vec![
            Edit {
                name: "bin-body",
                what: "a statement in `main` of `src/bin/cargo/main.rs`",
                file: "src/bin/cargo/main.rs",
                anchor: "fn main() {",
                suffix: |i| format!(" if std::env::var_os(\"SPLITLINK_REAL_CHECK\").is_some() {{ println!(\"cargo main, edit {i}\"); }}"),
                relink: true,
            },
            Edit {
                name: "lib-body",
                what: "the format of `cargo -V` (`VersionInfo`'s `Display` in the library)",
                file: "src/cargo/version.rs",
                anchor: "fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {",
                suffix: |i| format!(" write!(f, \"[edit {i}] \")?;"),
                relink: true,
            },
            Edit {
                name: "bin-eol",
                what: "an end-of-line comment in the bin",
                file: "src/bin/cargo/main.rs",
                anchor: "fn setup_logger() -> Option<ChromeFlushGuard> {",
                suffix: eol,
                relink: false,
            },
            Edit {
                name: "lib-eol",
                what: "an end-of-line comment in the library",
                file: "src/cargo/version.rs",
                anchor: "pub fn version() -> VersionInfo {",
                suffix: eol,
                relink: false,
            },
        ],
    })
}

struct Row {
    edit: &'static str,
    what: &'static str,
    sl: Vec<f64>,
    cargo: Vec<f64>,
    briefs: Vec<String>,
    explain: String,
}

struct Outcome {
    title: String,
    versions: Vec<String>,
    first: (f64, f64),
    rows: Vec<Row>,
    failures: Vec<String>,
}

fn behaviour(bin: &Path, args: &[&str], cwd: &Path) -> Result<(Option<i32>, String, String)> {
    let o = Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .env("SPLITLINK_REAL_CHECK", "1")
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    Ok((o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned()))
}

fn check_workspace(splitlink: &Path, dir: &Path, ws: &Workspace, repeats: usize) -> Result<Outcome> {
    let sl_side = dir.join("splitlink");
    let cargo_side = dir.join("cargo");
    let logs = dir.join("logs");
    for d in [&sl_side, &cargo_side] {
        if d.exists() {
            std::fs::remove_dir_all(d)?;
        }
        real::copy_dir(&ws.real.template, d, &["target"])?;
    }
    let sl_argv: Vec<OsString> = vec![splitlink.into(), "build".into(), "--message-format".into(), "json".into()];
    let cargo_argv: Vec<OsString> = vec!["cargo".into(), "build".into()];
    let sl_build = |logs: &Path| -> Result<(Sample, Option<Finished>)> {
        let s = measure::run(&sl_argv, &sl_side, &logs.join("splitlink"))?;
        let f = Finished::from_output(&s.stdout);
        Ok((s, f))
    };
    let cargo_build = |logs: &Path| measure::run(&cargo_argv, &cargo_side, &logs.join("cargo"));
    eprintln!("== {}: first builds (cargo, then splitlink through cargo)", ws.title);
    let c = cargo_build(&logs)?;
    if !c.success {
        bail!("the first cargo build failed:\n{}", c.stderr);
    }
    let (s, _) = sl_build(&logs)?;
    if !s.success {
        bail!("the first splitlink build failed:\n{}", s.stderr);
    }
    eprintln!("   cargo {:.1} s, splitlink {:.1} s", c.wall_ms / 1000.0, s.wall_ms / 1000.0);
    let mut out = Outcome {
        title: ws.title.clone(),
        versions: ws.real.versions.clone(),
        first: (s.wall_ms, c.wall_ms),
        rows: vec![],
        failures: vec![],
    };
    let bin = |side: &Path| side.join("target/debug").join(ws.binary);
    for e in &ws.edits {
        let mut row = Row { edit: e.name, what: e.what, sl: vec![], cargo: vec![], briefs: vec![], explain: String::new() };
        for i in 1..=repeats {
            for side in if i % 2 == 1 { [0, 1] } else { [1, 0] } {
                let root = if side == 0 { &sl_side } else { &cargo_side };
                let p = root.join(e.file);
                let text = std::fs::read_to_string(&p)?;
                std::fs::write(&p, append_to_line(&text, e.anchor, &(e.suffix)(i))?)?;
                if side == 0 {
                    let (s, f) = sl_build(&logs)?;
                    let f = f.unwrap_or_default();
                    let ctx = format!("{} {} run {i}", ws.name, e.name);
                    if !s.success || !f.success {
                        out.failures.push(format!(
                            "{ctx}: splitlink build failed: {}",
                            s.stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
                        ));
                    }
                    if f.cargo_invoked {
                        out.failures.push(format!("{ctx}: went through cargo"));
                    }
                    if e.relink && f.linked.is_empty() {
                        out.failures.push(format!("{ctx}: a body edit did not relink"));
                    }
                    if !e.relink && (!f.linked.is_empty() || f.link_skipped.is_empty()) {
                        out.failures.push(format!("{ctx}: a comment edit relinked or skipped nothing ({})", f.brief()));
                    }
                    if i == 1 {
                        let ex = Command::new(splitlink).arg("explain").current_dir(&sl_side).output()?;
                        row.explain = String::from_utf8_lossy(&ex.stdout).into_owned();
                    }
                    eprintln!("   {:<9} {i}/{repeats}: splitlink {:>9.1} ms ({})", e.name, s.wall_ms, f.brief());
                    row.briefs.push(f.brief());
                    row.sl.push(s.wall_ms);
                } else {
                    let c = cargo_build(&logs)?;
                    if !c.success {
                        out.failures.push(format!("{} {} run {i}: cargo build failed", ws.name, e.name));
                    }
                    eprintln!("   {:<9} {i}/{repeats}: cargo     {:>9.1} ms", e.name, c.wall_ms);
                    row.cargo.push(c.wall_ms);
                }
            }
            let a = behaviour(&bin(&sl_side), &ws.check, &sl_side)?;
            let b = behaviour(&bin(&cargo_side), &ws.check, &cargo_side)?;
            if a != b {
                out.failures.push(format!(
                    "{} {} run {i}: the binaries behave differently:\n  splitlink: {a:?}\n  cargo:     {b:?}",
                    ws.name, e.name
                ));
            } else if e.relink && !(a.1.contains(&format!("edit {i}")) || a.2.contains(&format!("edit {i}"))) {
                out.failures.push(format!(
                    "{} {} run {i}: the edit is not visible in `{} {}`: {a:?}",
                    ws.name,
                    e.name,
                    ws.binary,
                    ws.check.join(" ")
                ));
            }
        }
        out.rows.push(row);
    }
    Ok(out)
}

fn render(outcomes: &[Outcome], skipped: &[String], cmdline: &str, total_s: f64) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Real code: splitlink and cargo on ripgrep's and cargo's own layouts\n");
    let _ = writeln!(
        s,
        "Produced by `cargo run --release -p splitlink-bench -- {cmdline}` in {:.1} min (2-core machine). Each edit is applied to two identical copies; one is built with `splitlink build`, the other with `cargo build`, alternating which goes first; after every edit both binaries run the same command and must behave the same. Times are wall-clock medians.\n",
        total_s / 60.0,
    );
    for o in outcomes {
        let _ = writeln!(s, "## {}\n", o.title);
        let _ = writeln!(s, "Packages: {}.\n", o.versions.join(", "));
        let _ = writeln!(s, "First build: splitlink (through cargo) {:.1} s, cargo {:.1} s.\n", o.first.0 / 1000.0, o.first.1 / 1000.0);
        let _ = writeln!(s, "| edit | splitlink | cargo | ratio | splitlink did |\n|---|---:|---:|---:|---|");
        for r in &o.rows {
            let (a, b) = (median(&r.sl), median(&r.cargo));
            let _ = writeln!(
                s,
                "| {} — {} | {:.2} s | {:.2} s | {:.2}× | {} |",
                r.edit,
                r.what,
                a / 1000.0,
                b / 1000.0,
                a / b,
                r.briefs.first().cloned().unwrap_or_default()
            );
        }
        let _ = writeln!(s);
        for r in &o.rows {
            let _ = writeln!(s, "`splitlink explain` after the first {}:\n\n```\n{}```\n", r.edit, r.explain);
        }
        if o.failures.is_empty() {
            let _ = writeln!(s, "Checks: all passed (no cargo, relinks and skips as expected, same behaviour).\n");
        } else {
            let _ = writeln!(s, "**Checks failed:**\n");
            for f in &o.failures {
                let _ = writeln!(s, "- {f}");
            }
            let _ = writeln!(s);
        }
    }
    for k in skipped {
        let _ = writeln!(s, "**Not run:** {k}\n");
    }
    s
}

/// Runs the check on the selected workspaces; returns the report and whether every check passed.
pub fn run(
    splitlink: &Path,
    bench_dir: &Path,
    which: &[String],
    ripgrep_version: &str,
    cargo_version: &str,
    repeats: usize,
    cmdline: &str,
) -> Result<(String, bool)> {
    let t0 = std::time::Instant::now();
    let mut outcomes = Vec::new();
    let mut skipped = Vec::new();
    for w in which {
        let dir: PathBuf = bench_dir.join(format!("check-{w}"));
        let ws = match w.as_str() {
            "ripgrep" => ripgrep(&dir, ripgrep_version),
            "cargo" => cargo_crate(&dir, cargo_version),
            other => bail!("unknown real-code workspace `{other}` (ripgrep, cargo)"),
        };
        match ws.and_then(|ws| check_workspace(splitlink, &dir, &ws, repeats)) {
            Ok(o) => {
                for f in &o.failures {
                    eprintln!("!! {f}");
                }
                outcomes.push(o)
            }
            Err(e) => skipped.push(format!("{w}: {e:#}")),
        }
    }
    let ok = skipped.is_empty() && outcomes.iter().all(|o| o.failures.is_empty());
    Ok((render(&outcomes, &skipped, cmdline, t0.elapsed().as_secs_f64()), ok))
}
